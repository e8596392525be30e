//! NumPy `.npy` and `.npz` files: read (little-endian f4, f8, i4, i8, u1 — converted to f32)
//! and write (f4). Headers are parsed strictly; a file that claims more data than it holds
//! is an error before anything is allocated.

use crate::error::{KerasError, Result};
use std::io::{Read, Write};
use tensor::Tensor;

fn bad(path: &str, what: impl std::fmt::Display) -> KerasError {
    KerasError::Invalid(format!("{path}: not a valid .npy array: {what}"))
}

/// Parses `.npy` bytes; `path` names the file in errors.
pub fn read_npy_bytes(path: &str, bytes: &[u8]) -> Result<Tensor> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad(path, "missing the \\x93NUMPY magic"));
    }
    let major = bytes[6];
    let (header_len, start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(bad(path, "truncated header"));
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        v => return Err(bad(path, format!("unsupported format version {v}"))),
    };
    let header = bytes
        .get(start..start + header_len)
        .ok_or_else(|| bad(path, "truncated header"))?;
    let header = std::str::from_utf8(header).map_err(|_| bad(path, "header is not text"))?;
    let field = |key: &str| -> Option<&str> {
        let at = header.find(&format!("'{key}'"))?;
        let rest = &header[at + key.len() + 2..];
        let rest = rest.trim_start().strip_prefix(':')?.trim_start();
        Some(rest)
    };
    let descr = field("descr")
        .and_then(|r| r.strip_prefix('\''))
        .and_then(|r| r.split('\'').next())
        .ok_or_else(|| bad(path, "no descr"))?;
    let fortran = field("fortran_order").ok_or_else(|| bad(path, "no fortran_order"))?;
    if fortran.starts_with("True") {
        return Err(bad(
            path,
            "Fortran-ordered arrays are not supported; save with np.ascontiguousarray",
        ));
    }
    let shape_txt = field("shape")
        .and_then(|r| r.strip_prefix('('))
        .and_then(|r| r.split(')').next())
        .ok_or_else(|| bad(path, "no shape"))?;
    let shape: Vec<usize> = shape_txt
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| bad(path, format!("bad dimension {s:?}")))
        })
        .collect::<Result<_>>()?;
    let count = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| bad(path, "shape overflows"))?;
    let data = &bytes[start + header_len..];
    let (size, conv): (usize, fn(&[u8]) -> f32) = match descr {
        "<f4" => (4, |b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        "<f8" => (8, |b| {
            f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32
        }),
        "<i4" => (4, |b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32),
        "<i8" => (8, |b| {
            i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32
        }),
        "|u1" | "<u1" => (1, |b| b[0] as f32),
        "|b1" => (1, |b| b[0] as f32),
        other => {
            return Err(bad(
                path,
                format!("unsupported dtype {other:?} (expected float32, float64, int32, int64 or uint8)"),
            ))
        }
    };
    let need = count.checked_mul(size).ok_or_else(|| bad(path, "shape overflows"))?;
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

/// Reads a `.npy` file.
pub fn read_npy(path: &str) -> Result<Tensor> {
    let bytes = std::fs::read(path).map_err(|source| KerasError::Io {
        path: path.to_string(),
        source,
    })?;
    read_npy_bytes(path, &bytes)
}

/// `.npy` bytes (version 1.0, little-endian float32).
pub fn npy_bytes(t: &Tensor) -> Vec<u8> {
    let dims: Vec<String> = t.shape().iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + 4 * t.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in t.data() {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Writes a `.npy` file.
pub fn write_npy(path: &str, t: &Tensor) -> Result<()> {
    std::fs::write(path, npy_bytes(t)).map_err(|source| KerasError::Io {
        path: path.to_string(),
        source,
    })
}

/// Deflate expands at most about 1032:1; an archive whose members claim more in total than
/// that times its size overlaps its members (a zip bomb) and is refused before reading.
pub const MAX_DEFLATE_RATIO: u64 = 1032;

/// Reads every array of a `.npz` file, in archive order, with their names (without `.npy`).
pub fn read_npz(path: &str) -> Result<Vec<(String, Tensor)>> {
    let file = std::fs::File::open(path).map_err(|source| KerasError::Io {
        path: path.to_string(),
        source,
    })?;
    let len = file
        .metadata()
        .map_err(|source| KerasError::Io {
            path: path.to_string(),
            source,
        })?
        .len();
    read_npz_from(path, file, len)
}

/// [`read_npz`] from the bytes of an archive; `path` names it in errors.
pub fn read_npz_bytes(path: &str, bytes: &[u8]) -> Result<Vec<(String, Tensor)>> {
    read_npz_from(path, std::io::Cursor::new(bytes), bytes.len() as u64)
}

fn read_npz_from<R: Read + std::io::Seek>(path: &str, reader: R, file_len: u64) -> Result<Vec<(String, Tensor)>> {
    let mut zip = zip::ZipArchive::new(reader)
        .map_err(|e| KerasError::Invalid(format!("{path}: not a valid .npz (zip) file: {e}")))?;
    let mut out = Vec::new();
    let mut total = 0u64;
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| KerasError::Invalid(format!("{path}: member {i}: {e}")))?;
        let name = entry
            .name()
            .map_err(|e| KerasError::Invalid(format!("{path}: member {i}: {e}")))?
            .trim_end_matches(".npy")
            .to_string();
        let size = entry.size();
        total = total.saturating_add(size);
        if total > MAX_DEFLATE_RATIO.saturating_mul(file_len) {
            return Err(KerasError::Invalid(format!(
                "{path}: member {name}: the archive's members claim {total} bytes uncompressed from a \
                 {file_len}-byte file, more than deflate can expand to (a zip bomb)"
            )));
        }
        // Bounded by the size the archive declares, checked above.
        let mut bytes = Vec::new();
        (&mut entry)
            .take(size)
            .read_to_end(&mut bytes)
            .map_err(|e| KerasError::Invalid(format!("{path}: member {name}: {e}")))?;
        if bytes.len() as u64 != size {
            return Err(KerasError::Invalid(format!(
                "{path}: member {name}: declares {size} bytes, holds {}",
                bytes.len()
            )));
        }
        out.push((name.clone(), read_npy_bytes(&format!("{path}:{name}"), &bytes)?));
    }
    Ok(out)
}

/// Writes arrays to a `.npz` file (stored, as `np.savez`).
pub fn write_npz(path: &str, arrays: &[(String, Tensor)]) -> Result<()> {
    let io = |source| KerasError::Io {
        path: path.to_string(),
        source,
    };
    let file = std::fs::File::create(path).map_err(io)?;
    let mut zip = zip::ZipWriter::new(file);
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, t) in arrays {
        zip.start_file(format!("{name}.npy"), opts)
            .map_err(|e| KerasError::Invalid(format!("{path}: {e}")))?;
        zip.write_all(&npy_bytes(t)).map_err(io)?;
    }
    zip.finish().map_err(|e| KerasError::Invalid(format!("{path}: {e}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_truncation() {
        let t = Tensor::arange(&[2, 3]);
        let b = npy_bytes(&t);
        assert_eq!(b.len() % 64, 24, "header is padded to 64 bytes");
        assert_eq!(read_npy_bytes("x", &b).unwrap(), t);
        let e = read_npy_bytes("x.npy", &b[..b.len() - 4]).unwrap_err().to_string();
        assert!(e.contains("x.npy") && e.contains("needs 24 bytes"), "{e}");
        assert!(read_npy_bytes("x", b"hello world").is_err());
    }

    #[test]
    fn huge_claimed_shape_is_refused_without_allocating() {
        let mut b = npy_bytes(&Tensor::arange(&[2]));
        let h = String::from_utf8_lossy(&b).replace("(2,)", "(9999999999999,)");
        b = h.into_bytes();
        assert!(read_npy_bytes("big.npy", &b).is_err());
    }
}
