//! IDX files (LeCun's MNIST format, also Fashion-MNIST's), plain or gzip-compressed: a
//! 4-byte magic `00 00 TYPE NDIM`, `NDIM` big-endian `u32` dimensions, then the values
//! big-endian. Read into a [`Tensor`] of the values (as `f32`: `uint8` pixels stay 0..255,
//! as Keras returns them); written as `uint8` (gzip or not) for the embedded subset and tests.
//!
//! A file that claims more data than it holds is an error before anything is allocated.

use crate::error::{KerasError, Result};
use std::io::{Read, Write};
use tensor::Tensor;

fn bad(path: &str, what: impl std::fmt::Display) -> KerasError {
    KerasError::Invalid(format!("{path}: not a valid IDX file: {what}"))
}

/// The bytes of `bytes`, gunzipped when they start with gzip's magic `1f 8b`; at most
/// `limit` bytes are produced (a bomb is refused, not allocated).
pub fn maybe_gunzip(path: &str, bytes: Vec<u8>, limit: usize) -> Result<Vec<u8>> {
    if bytes.len() < 2 || bytes[0] != 0x1f || bytes[1] != 0x8b {
        return Ok(bytes);
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(&bytes[..])
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| KerasError::Invalid(format!("{path}: broken gzip data: {e}")))?;
    if out.len() > limit {
        return Err(KerasError::Invalid(format!(
            "{path}: gzip data expands past {limit} bytes; refusing it"
        )));
    }
    Ok(out)
}

/// Largest decompressed IDX file accepted (full MNIST train images are 47 MB).
pub const MAX_IDX_BYTES: usize = 1 << 31;

/// Parses IDX bytes (already gunzipped); `path` names the file in errors.
pub fn read_idx_bytes(path: &str, bytes: &[u8]) -> Result<Tensor> {
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(bad(path, "missing the 00 00 magic"));
    }
    let (ty, ndim) = (bytes[2], bytes[3] as usize);
    if ndim == 0 {
        return Err(bad(path, "zero dimensions"));
    }
    let head = 4 + 4 * ndim;
    let dims = bytes.get(4..head).ok_or_else(|| bad(path, "truncated header"))?;
    let shape: Vec<usize> = dims
        .chunks_exact(4)
        .map(|d| u32::from_be_bytes([d[0], d[1], d[2], d[3]]) as usize)
        .collect();
    let count = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| bad(path, "shape overflows"))?;
    let (size, conv): (usize, fn(&[u8]) -> f32) = match ty {
        0x08 => (1, |b| b[0] as f32),
        0x09 => (1, |b| b[0] as i8 as f32),
        0x0B => (2, |b| i16::from_be_bytes([b[0], b[1]]) as f32),
        0x0C => (4, |b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]) as f32),
        0x0D => (4, |b| f32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        0x0E => (8, |b| {
            f64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32
        }),
        other => {
            return Err(bad(
                path,
                format!("unknown type code 0x{other:02X} (expected 0x08 ubyte, 0x09, 0x0B, 0x0C, 0x0D or 0x0E)"),
            ))
        }
    };
    let need = count.checked_mul(size).ok_or_else(|| bad(path, "shape overflows"))?;
    let data = &bytes[head..];
    if data.len() < need {
        return Err(bad(
            path,
            format!(
                "shape {shape:?} needs {need} bytes of data, the file holds {}",
                data.len()
            ),
        ));
    }
    let values: Vec<f32> = data[..need].chunks_exact(size).map(conv).collect();
    Ok(Tensor::new(&shape, values)?)
}

/// Reads an IDX file, gzip-compressed or not.
pub fn read_idx(path: &std::path::Path) -> Result<Tensor> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| KerasError::Io {
        path: name.clone(),
        source,
    })?;
    let bytes = maybe_gunzip(&name, bytes, MAX_IDX_BYTES)?;
    read_idx_bytes(&name, &bytes)
}

/// IDX bytes of `uint8` values (type 0x08); values are rounded and clamped to 0..=255.
pub fn idx_u8_bytes(t: &Tensor) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, t.rank() as u8];
    for &d in t.shape() {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend(t.data().iter().map(|&v| v.round().clamp(0.0, 255.0) as u8));
    out
}

/// Gzip-compresses `bytes` at the best level.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_plain_and_gzip() {
        let t = Tensor::arange(&[2, 3, 4]);
        let raw = idx_u8_bytes(&t);
        assert_eq!(&raw[..4], &[0, 0, 8, 3]);
        assert_eq!(read_idx_bytes("x", &raw).unwrap(), t);
        let gz = maybe_gunzip("x.gz", gzip(&raw), MAX_IDX_BYTES).unwrap();
        assert_eq!(read_idx_bytes("x", &gz).unwrap(), t);
    }

    #[test]
    fn truncated_and_bad_files_are_errors() {
        let raw = idx_u8_bytes(&Tensor::arange(&[5, 2]));
        let e = read_idx_bytes("y.idx", &raw[..raw.len() - 1]).unwrap_err().to_string();
        assert!(e.contains("y.idx") && e.contains("needs 10 bytes"), "{e}");
        assert!(read_idx_bytes("z", b"PK\x03\x04").is_err());
        assert!(read_idx_bytes("z", &[0, 0, 0x42, 1, 0, 0, 0, 1, 7]).is_err());
        let mut huge = vec![0, 0, 8, 3];
        for _ in 0..3 {
            huge.extend_from_slice(&u32::MAX.to_be_bytes());
        }
        assert!(read_idx_bytes("h", &huge).is_err());
        assert!(maybe_gunzip("g", gzip(&[0u8; 100]), 50).is_err());
        assert!(maybe_gunzip("g", vec![0x1f, 0x8b, 1, 2, 3], 50).is_err());
    }
}
