//! Reads TensorBoard event files back (rkeras's own or TensorFlow's): checks each TFRecord's
//! masked CRC-32C and decodes the `Event` fields the writer uses — wall time, step, file
//! version, and per summary value its tag with a scalar (`simple_value`, or a float
//! `TensorProto` as TF 2 writes scalars), a histogram, or a string tensor and its plugin.
//! Unknown fields are skipped; a malformed file is an error naming the file and offset.

use super::events::masked_crc;
use crate::error::{KerasError, Result};
use std::path::Path;

/// A decoded `HistogramProto`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Number of values.
    pub num: f64,
    /// Sum of values.
    pub sum: f64,
    /// Sum of squares.
    pub sum_squares: f64,
    /// Right edges of the buckets.
    pub bucket_limit: Vec<f64>,
    /// Counts per bucket.
    pub bucket: Vec<f64>,
}

/// What a summary value holds.
#[derive(Debug, Clone, PartialEq)]
pub enum SummaryValue {
    /// A scalar.
    Scalar(f64),
    /// A histogram.
    Histogram(Histogram),
    /// A string tensor (text, a model config), with the plugin that shows it.
    Text {
        /// The text.
        text: String,
        /// The plugin name from the value's metadata.
        plugin: String,
    },
    /// Anything else (images, audio, other tensors).
    Other,
}

/// One event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Seconds since the Unix epoch.
    pub wall_time: f64,
    /// The step (the epoch, for epoch summaries).
    pub step: i64,
    /// `brain.Event:2` for the first event of a file.
    pub file_version: Option<String>,
    /// `(tag, value)` of each summary value.
    pub values: Vec<(String, SummaryValue)>,
}

fn bad(what: impl std::fmt::Display) -> KerasError {
    KerasError::Invalid(format!("not a valid event protobuf: {what}"))
}

struct Fields<'a> {
    b: &'a [u8],
    pos: usize,
}

enum Wire<'a> {
    Varint(u64),
    Fixed64([u8; 8]),
    Fixed32([u8; 4]),
    Bytes(&'a [u8]),
}

impl<'a> Fields<'a> {
    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.b.get(self.pos).ok_or_else(|| bad("truncated varint"))?;
            self.pos += 1;
            v |= ((byte & 0x7f) as u64) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(bad("varint too long"))
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| bad("truncated field"))?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn next(&mut self) -> Result<Option<(u32, Wire<'a>)>> {
        if self.pos >= self.b.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = (key >> 3) as u32;
        let w = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => {
                let s = self.take(8)?;
                Wire::Fixed64([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]])
            }
            2 => {
                let n = usize::try_from(self.varint()?).map_err(|_| bad("length overflows"))?;
                Wire::Bytes(self.take(n)?)
            }
            5 => {
                let s = self.take(4)?;
                Wire::Fixed32([s[0], s[1], s[2], s[3]])
            }
            t => return Err(bad(format!("unsupported wire type {t}"))),
        };
        Ok(Some((field, w)))
    }
}

fn fields(b: &[u8]) -> Fields<'_> {
    Fields { b, pos: 0 }
}

fn doubles(raw: &[u8]) -> Vec<f64> {
    raw.chunks_exact(8)
        .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
        .collect()
}

/// Decodes a `HistogramProto`.
pub fn decode_histogram(b: &[u8]) -> Result<Histogram> {
    let mut h = Histogram::default();
    let mut f = fields(b);
    while let Some((n, w)) = f.next()? {
        match (n, w) {
            (1..=5, Wire::Fixed64(x)) => {
                let v = f64::from_le_bytes(x);
                match n {
                    1 => h.min = v,
                    2 => h.max = v,
                    3 => h.num = v,
                    4 => h.sum = v,
                    _ => h.sum_squares = v,
                }
            }
            (6, Wire::Bytes(raw)) => h.bucket_limit.extend(doubles(raw)),
            (7, Wire::Bytes(raw)) => h.bucket.extend(doubles(raw)),
            (6, Wire::Fixed64(x)) => h.bucket_limit.push(f64::from_le_bytes(x)),
            (7, Wire::Fixed64(x)) => h.bucket.push(f64::from_le_bytes(x)),
            _ => {}
        }
    }
    Ok(h)
}

fn decode_tensor(b: &[u8]) -> Result<SummaryValue> {
    let (mut dtype, mut text, mut floats) = (0, None, Vec::new());
    let mut f = fields(b);
    while let Some((n, w)) = f.next()? {
        match (n, w) {
            (1, Wire::Varint(d)) => dtype = d,
            (8, Wire::Bytes(s)) => text = Some(String::from_utf8_lossy(s).into_owned()),
            (5, Wire::Bytes(raw)) => floats.extend(
                raw.chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            ),
            (5, Wire::Fixed32(x)) => floats.push(f32::from_le_bytes(x)),
            (4, Wire::Bytes(raw)) if dtype == 1 && raw.len() == 4 => {
                floats.push(f32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]))
            }
            _ => {}
        }
    }
    Ok(match (dtype, text, floats.first()) {
        (7, Some(t), _) => SummaryValue::Text {
            text: t,
            plugin: String::new(),
        },
        (1, _, Some(&x)) => SummaryValue::Scalar(x as f64),
        _ => SummaryValue::Other,
    })
}

fn decode_value(b: &[u8]) -> Result<(String, SummaryValue)> {
    let (mut tag, mut value, mut plugin) = (String::new(), SummaryValue::Other, String::new());
    let mut f = fields(b);
    while let Some((n, w)) = f.next()? {
        match (n, w) {
            (1, Wire::Bytes(s)) => tag = String::from_utf8_lossy(s).into_owned(),
            (2, Wire::Fixed32(x)) => value = SummaryValue::Scalar(f32::from_le_bytes(x) as f64),
            (5, Wire::Bytes(h)) => value = SummaryValue::Histogram(decode_histogram(h)?),
            (8, Wire::Bytes(t)) => value = decode_tensor(t)?,
            (9, Wire::Bytes(meta)) => {
                let mut m = fields(meta);
                while let Some((k, w)) = m.next()? {
                    if let (1, Wire::Bytes(pd)) = (k, w) {
                        let mut p = fields(pd);
                        while let Some((j, w)) = p.next()? {
                            if let (1, Wire::Bytes(name)) = (j, w) {
                                plugin = String::from_utf8_lossy(name).into_owned();
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if let SummaryValue::Text { plugin: p, .. } = &mut value {
        *p = plugin;
    }
    Ok((tag, value))
}

/// Decodes one serialized `Event`.
pub fn decode_event(b: &[u8]) -> Result<Event> {
    let mut ev = Event {
        wall_time: 0.0,
        step: 0,
        file_version: None,
        values: Vec::new(),
    };
    let mut f = fields(b);
    while let Some((n, w)) = f.next()? {
        match (n, w) {
            (1, Wire::Fixed64(x)) => ev.wall_time = f64::from_le_bytes(x),
            (2, Wire::Varint(s)) => ev.step = s as i64,
            (3, Wire::Bytes(s)) => ev.file_version = Some(String::from_utf8_lossy(s).into_owned()),
            (5, Wire::Bytes(summary)) => {
                let mut s = fields(summary);
                while let Some((k, w)) = s.next()? {
                    if let (1, Wire::Bytes(v)) = (k, w) {
                        ev.values.push(decode_value(v)?);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(ev)
}

/// Reads every event of a file, checking the CRCs.
pub fn read_events(path: &Path) -> Result<Vec<Event>> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| KerasError::Io {
        path: name.clone(),
        source,
    })?;
    read_events_bytes(&name, &bytes)
}

/// [`read_events`] on bytes; `name` labels errors.
pub fn read_events_bytes(name: &str, bytes: &[u8]) -> Result<Vec<Event>> {
    let err = |at: usize, what: &str| KerasError::Invalid(format!("{name}: record at byte {at}: {what}"));
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let head = bytes.get(pos..pos + 12).ok_or_else(|| err(pos, "truncated header"))?;
        let len_bytes = &head[..8];
        let crc = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
        if masked_crc(len_bytes) != crc {
            return Err(err(pos, "length CRC mismatch"));
        }
        let len = u64::from_le_bytes([head[0], head[1], head[2], head[3], head[4], head[5], head[6], head[7]]);
        let len = usize::try_from(len).map_err(|_| err(pos, "length overflows"))?;
        let start = pos + 12;
        let end = start
            .checked_add(len)
            .filter(|&e| e + 4 <= bytes.len())
            .ok_or_else(|| err(pos, "truncated record"))?;
        let data = &bytes[start..end];
        let crc = u32::from_le_bytes([bytes[end], bytes[end + 1], bytes[end + 2], bytes[end + 3]]);
        if masked_crc(data) != crc {
            return Err(err(pos, "data CRC mismatch"));
        }
        out.push(decode_event(data).map_err(|e| err(pos, &e.to_string()))?);
        pos = end + 4;
    }
    Ok(out)
}

/// The scalar series `tag` → `[(step, value)]` over `events`.
pub fn scalars(events: &[Event], tag: &str) -> Vec<(i64, f64)> {
    events
        .iter()
        .flat_map(|e| {
            e.values.iter().filter_map(move |(t, v)| match v {
                SummaryValue::Scalar(x) if t == tag => Some((e.step, *x)),
                _ => None,
            })
        })
        .collect()
}
