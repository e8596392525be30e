//! A tiny reader for NumPy `.npy` files (format versions 1, 2 and 3), enough for the float32
//! fixtures made with real Keras: little-endian `<f4` data in C order.

use std::path::Path;

use tensor::Tensor;

/// Reads a `.npy` file of little-endian float32 values in C order.
pub fn load(path: impl AsRef<Path>) -> Tensor {
    let path = path.as_ref();
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Parses the bytes of a `.npy` file.
pub fn parse(bytes: &[u8]) -> Result<Tensor, String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("not an .npy file (magic \\x93NUMPY missing)".into());
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let header = bytes.get(start..start + header_len).ok_or("truncated header")?;
    let header = std::str::from_utf8(header).map_err(|e| format!("header is not text: {e}"))?;
    let field = |key: &str| -> Result<&str, String> {
        let at = header
            .find(&format!("'{key}'"))
            .ok_or(format!("header has no '{key}': {header}"))?;
        let rest = &header[at + key.len() + 2..];
        Ok(rest.trim_start().trim_start_matches(':').trim_start())
    };
    if !field("descr")?.starts_with("'<f4'") {
        return Err(format!("expected descr '<f4', header: {header}"));
    }
    if !field("fortran_order")?.starts_with("False") {
        return Err(format!("expected C order, header: {header}"));
    }
    let shape_text = field("shape")?;
    let close = shape_text.find(')').ok_or("shape has no closing parenthesis")?;
    let shape: Vec<usize> = shape_text[1..close]
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|e| format!("bad dimension {s:?}: {e}")))
        .collect::<Result<_, _>>()?;
    let data: Vec<f32> = bytes[start + header_len..]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Tensor::new(&shape, data).map_err(|e| e.to_string())
}
