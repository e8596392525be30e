//! TensorBoard event files, written by hand: TFRecord framing (`u64` length, masked CRC-32C
//! of the length, the record, masked CRC-32C of the record) around `Event` protocol buffers
//! (`tensorflow/core/util/event.proto`): the `file_version` event `brain.Event:2` first, then
//! `Summary` values — scalars as `simple_value`, weight histograms as `HistogramProto`, text
//! as a string `TensorProto` with its plugin's metadata. Only the fields written here are
//! encoded; the encoder is a few varint/length-delimited helpers.

use crate::error::{KerasError, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// CRC-32C (Castagnoli), as TFRecord uses.
pub fn crc32c(data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, e) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 { 0x82F6_3B78 ^ (c >> 1) } else { c >> 1 };
            }
            *e = c;
        }
        t
    });
    let mut crc = !0u32;
    for &b in data {
        crc = table[((crc ^ b as u32) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

/// TFRecord's masked CRC.
pub fn masked_crc(data: &[u8]) -> u32 {
    let c = crc32c(data);
    (c.rotate_right(15)).wrapping_add(0xa282_ead8)
}

/// One TFRecord frame around `record`.
pub fn tfrecord(record: &[u8]) -> Vec<u8> {
    let len = (record.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(record.len() + 16);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc(&len).to_le_bytes());
    out.extend_from_slice(record);
    out.extend_from_slice(&masked_crc(record).to_le_bytes());
    out
}

/// A protocol-buffer message being encoded.
#[derive(Default)]
pub struct Msg(pub Vec<u8>);

impl Msg {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
    fn key(&mut self, field: u32, wire: u32) {
        self.varint(((field << 3) | wire) as u64);
    }
    /// A varint field (int64, enum, bool).
    pub fn int(mut self, field: u32, v: i64) -> Msg {
        self.key(field, 0);
        self.varint(v as u64);
        self
    }
    /// A `double` field.
    pub fn double(mut self, field: u32, v: f64) -> Msg {
        self.key(field, 1);
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// A `float` field.
    pub fn float(mut self, field: u32, v: f32) -> Msg {
        self.key(field, 5);
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// A `bytes` / `string` / message field.
    pub fn bytes(mut self, field: u32, v: &[u8]) -> Msg {
        self.key(field, 2);
        self.varint(v.len() as u64);
        self.0.extend_from_slice(v);
        self
    }
    /// A packed `repeated double` field.
    pub fn packed_doubles(self, field: u32, v: &[f64]) -> Msg {
        let raw: Vec<u8> = v.iter().flat_map(|d| d.to_le_bytes()).collect();
        self.bytes(field, &raw)
    }
}

/// A `HistogramProto` of `values` with `buckets` equal-width buckets (as TF 2's
/// `tf.summary.histogram`, 30 by default); one bucket when all values are equal.
pub fn histogram(values: &[f32], buckets: usize) -> Msg {
    let n = values.len();
    let (mut lo, mut hi, mut sum, mut sq) = (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0.0);
    for &v in values {
        let v = v as f64;
        lo = lo.min(v);
        hi = hi.max(v);
        sum += v;
        sq += v * v;
    }
    if n == 0 {
        (lo, hi) = (0.0, 0.0);
    }
    let k = if hi > lo { buckets.max(1) } else { 1 };
    let width = if k > 1 { (hi - lo) / k as f64 } else { 0.0 };
    let limits: Vec<f64> = (1..=k)
        .map(|i| if i == k { hi } else { lo + width * i as f64 })
        .collect();
    let mut counts = vec![0f64; k];
    for &v in values {
        let i = if width > 0.0 {
            (((v as f64 - lo) / width) as usize).min(k - 1)
        } else {
            0
        };
        counts[i] += 1.0;
    }
    Msg::default()
        .double(1, lo)
        .double(2, hi)
        .double(3, n as f64)
        .double(4, sum)
        .double(5, sq)
        .packed_doubles(6, &limits)
        .packed_doubles(7, &counts)
}

/// What one `Summary.Value` holds.
pub enum Value<'a> {
    /// A scalar (`simple_value`).
    Scalar(f32),
    /// A histogram (`histo`).
    Histogram(&'a [f32]),
    /// Text (a string tensor), shown by `plugin` (`text`, or `graph_keras_model` for a model's
    /// JSON config).
    Text {
        /// The string.
        text: &'a str,
        /// The plugin that shows it.
        plugin: &'a str,
        /// The plugin's metadata content.
        content: &'a [u8],
    },
}

/// An `Event` with one `Summary.Value`.
pub fn summary_event(wall_time: f64, step: i64, tag: &str, value: Value) -> Vec<u8> {
    let v = Msg::default().bytes(1, tag.as_bytes());
    let v = match value {
        Value::Scalar(x) => v.float(2, x),
        Value::Histogram(xs) => v.bytes(5, &histogram(xs, 30).0),
        Value::Text { text, plugin, content } => {
            let plugin_data = Msg::default().bytes(1, plugin.as_bytes()).bytes(2, content);
            let metadata = Msg::default().bytes(1, &plugin_data.0);
            // TensorProto: dtype DT_STRING (7), an empty (scalar) shape, string_val.
            let tensor = Msg::default().int(1, 7).bytes(2, &[]).bytes(8, text.as_bytes());
            v.bytes(9, &metadata.0).bytes(8, &tensor.0)
        }
    };
    let summary = Msg::default().bytes(1, &v.0);
    Msg::default().double(1, wall_time).int(2, step).bytes(5, &summary.0).0
}

/// Seconds since the Unix epoch.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// An open event file: `dir/events.out.tfevents.<seconds>.<host>.<pid>.<n>.v2`, as
/// TensorFlow names them.
pub struct EventWriter {
    path: PathBuf,
    file: std::io::BufWriter<std::fs::File>,
}

impl EventWriter {
    /// Creates `dir` and a new event file in it, starting with the `file_version` event.
    pub fn create(dir: &Path) -> Result<EventWriter> {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let io = |p: &Path| {
            let p = p.display().to_string();
            move |source| KerasError::Io {
                path: p.clone(),
                source,
            }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let t = now();
        let name = format!(
            "events.out.tfevents.{}.{}.{}.{}.v2",
            t as u64,
            hostname(),
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let path = dir.join(name);
        let file = std::fs::File::create(&path).map_err(io(&path))?;
        let mut w = EventWriter {
            path,
            file: std::io::BufWriter::new(file),
        };
        w.write_event(&Msg::default().double(1, t).bytes(3, b"brain.Event:2").0)?;
        w.flush()?;
        Ok(w)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one serialized `Event`.
    pub fn write_event(&mut self, event: &[u8]) -> Result<()> {
        let p = self.path.display().to_string();
        self.file
            .write_all(&tfrecord(event))
            .map_err(|source| KerasError::Io { path: p, source })
    }

    /// Appends a summary value at `step`.
    pub fn write(&mut self, step: i64, tag: &str, value: Value) -> Result<()> {
        self.write_event(&summary_event(now(), step, tag, value))
    }

    /// Flushes to disk, so TensorBoard sees what was written.
    pub fn flush(&mut self) -> Result<()> {
        let p = self.path.display().to_string();
        self.file.flush().map_err(|source| KerasError::Io { path: p, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_check_values() {
        // RFC 3720's test vector and TFRecord's masking of the empty string.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(masked_crc(b""), 0xa282_ead8);
    }

    #[test]
    fn histogram_buckets_count_every_value() {
        let h = histogram(&[0.0, 1.0, 2.0, 3.0], 3);
        let ev = super::super::reader::decode_histogram(&h.0).unwrap();
        assert_eq!(
            (ev.min, ev.max, ev.num, ev.sum, ev.sum_squares),
            (0.0, 3.0, 4.0, 6.0, 14.0)
        );
        assert_eq!(ev.bucket_limit, [1.0, 2.0, 3.0]);
        assert_eq!(ev.bucket, [1.0, 1.0, 2.0]);
        let flat = super::super::reader::decode_histogram(&histogram(&[5.0; 3], 30).0).unwrap();
        assert_eq!((flat.bucket_limit, flat.bucket), (vec![5.0], vec![3.0]));
    }
}
