//! safetensors export and import of a model's weights, for the Rust ML ecosystem (candle,
//! burn) and Python's `safetensors`.
//!
//! Tensors are named `layer/weight` (`conv2d/kernel`, `batch_normalization/moving_mean`);
//! a nested model adds its name in front (`outer/inner/kernel`). Shapes are Keras's layout
//! (`(kh, kw, in, out)` kernels, `(in, out)` dense kernels). rkeras writes F32; it reads F32,
//! F64, F16 and BF16. A variable shared by several layers (a nested model used twice) is
//! stored once, under its first name.
//!
//! ```
//! use rkeras::prelude::*;
//! use rkeras::io::safetensors::{safetensors_bytes, load_safetensors_bytes};
//! clear_session();
//! let model = Sequential::new().add(InputLayer::new(&[4])).add(Dense::new(2)).build().unwrap();
//! let bytes = safetensors_bytes(&model).unwrap();
//! let mut other = model.clone();
//! load_safetensors_bytes(&mut other, "w.safetensors", &bytes).unwrap();
//! ```
//!
//! Loading is strict: every weight of the model must be in the file with the same shape,
//! and every tensor of the file must name a weight. Errors name the file, the tensor and
//! both shapes.

use crate::error::{KerasError, Result};
use crate::layers::{Layer, Weight};
use crate::model::Model;
use safetensors::{Dtype, SafeTensors};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use tensor::Tensor;

fn bad(path: &str, what: impl std::fmt::Display) -> KerasError {
    KerasError::Invalid(format!("{path}: {what}"))
}

/// The model's weights with their safetensors names, in Keras's weight order, each variable
/// once. Two weights of one layer with the same short name (a custom layer's sub-layers)
/// get `_1`, `_2`, … after the later ones.
pub fn named_weights(model: &Model) -> Vec<(String, &Weight)> {
    let mut out = Vec::new();
    let mut seen_ids = HashSet::new();
    let mut seen_names = HashSet::new();
    collect(model, "", &mut out, &mut seen_ids, &mut seen_names);
    out
}

fn collect<'a>(
    model: &'a Model,
    prefix: &str,
    out: &mut Vec<(String, &'a Weight)>,
    ids: &mut HashSet<u64>,
    names: &mut HashSet<String>,
) {
    for layer in model.all_layers() {
        if let Some(inner) = layer.as_model() {
            collect(inner, &format!("{prefix}{}/", inner.name()), out, ids, names);
            continue;
        }
        for w in layer.weights() {
            if !ids.insert(w.id) {
                continue;
            }
            let base = format!("{prefix}{}/{}", layer.name(), w.name);
            let mut name = base.clone();
            let mut k = 0;
            while !names.insert(name.clone()) {
                k += 1;
                name = format!("{base}_{k}");
            }
            out.push((name, w));
        }
    }
}

/// True when `path` names a `.safetensors` file (`save_weights`/`load_weights` dispatch on it).
pub fn is_safetensors(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("safetensors"))
}

/// The bytes of a `.safetensors` file holding the model's weights (F32).
pub fn safetensors_bytes(model: &Model) -> Result<Vec<u8>> {
    let named = named_weights(model);
    let raw: Vec<(String, Vec<u8>, Vec<usize>)> = named
        .iter()
        .map(|(n, w)| {
            let mut b = Vec::with_capacity(4 * w.value.len());
            for v in w.value.data() {
                b.extend_from_slice(&v.to_le_bytes());
            }
            (n.clone(), b, w.value.shape().to_vec())
        })
        .collect();
    let views = raw
        .iter()
        .map(|(n, b, s)| {
            safetensors::tensor::TensorView::new(Dtype::F32, s.clone(), b)
                .map(|v| (n.clone(), v))
                .map_err(|e| KerasError::Invalid(format!("model {}: weight {n}: {e}", model.name())))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(views, None)
        .map_err(|e| KerasError::Invalid(format!("model {}: safetensors: {e}", model.name())))
}

/// `model.save_weights("x.safetensors")`: writes the model's weights as safetensors.
pub fn save_safetensors(model: &Model, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let bytes = safetensors_bytes(model)?;
    std::fs::write(path, bytes).map_err(|source| KerasError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Every tensor of safetensors bytes, converted to f32, in file order. `path` names the
/// file in errors. Nothing is allocated beyond what the bytes hold.
pub fn read_safetensors_bytes(path: &str, bytes: &[u8]) -> Result<Vec<(String, Tensor)>> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| bad(path, format!("not a valid safetensors file: {e}")))?;
    let mut entries: Vec<(String, safetensors::tensor::TensorView)> = st.tensors();
    // File order (by data offset), so errors and listings are stable.
    entries.sort_by_key(|(_, v)| v.data().as_ptr() as usize);
    entries
        .into_iter()
        .map(|(name, view)| {
            let t = to_tensor(path, &name, &view)?;
            Ok((name, t))
        })
        .collect()
}

fn to_tensor(path: &str, name: &str, view: &safetensors::tensor::TensorView) -> Result<Tensor> {
    let data = view.data();
    let values: Vec<f32> = match view.dtype() {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Dtype::F64 => data
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32)
            .collect(),
        Dtype::F16 => data
            .chunks_exact(2)
            .map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]])))
            .collect(),
        Dtype::BF16 => data
            .chunks_exact(2)
            .map(|b| f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16))
            .collect(),
        other => {
            return Err(bad(
                path,
                format!("tensor {name}: dtype {other} is not supported (expected F32, F64, F16 or BF16)"),
            ))
        }
    };
    Tensor::new(view.shape(), values).map_err(|e| bad(path, format!("tensor {name}: {e}")))
}

/// IEEE half to single precision.
fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match exp {
        0 if frac == 0 => sign,
        0 => {
            // Subnormal: value = frac · 2^-24.
            let v = frac as f32 * f32::from_bits(0x3380_0000);
            return if sign != 0 { -v } else { v };
        }
        0x1f => sign | 0x7f80_0000 | (frac << 13),
        _ => sign | ((exp + 127 - 15) << 23) | (frac << 13),
    };
    f32::from_bits(bits)
}

/// `model.load_weights("x.safetensors")`: every weight of the model must be in the file,
/// with the same shape, and the file must hold nothing else.
pub fn load_safetensors(model: &mut Model, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let label = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| KerasError::Io {
        path: label.clone(),
        source,
    })?;
    load_safetensors_bytes(model, &label, &bytes)
}

/// [`load_safetensors`] from bytes; `path` names the file in errors.
pub fn load_safetensors_bytes(model: &mut Model, path: &str, bytes: &[u8]) -> Result<()> {
    let tensors = read_safetensors_bytes(path, bytes)?;
    let mut by_name: HashMap<&str, &Tensor> = HashMap::new();
    for (n, t) in &tensors {
        by_name.insert(n.as_str(), t);
    }
    let named = named_weights(model);
    let mut values = HashMap::new();
    let mut missing = Vec::new();
    for (name, w) in &named {
        match by_name.remove(name.as_str()) {
            Some(t) if t.shape() == w.value.shape() => {
                values.insert(w.id, (*t).clone());
            }
            Some(t) => {
                return Err(bad(
                    path,
                    format!(
                        "tensor {name} has shape {:?}, the weight {name} of model {} has shape {:?}",
                        t.shape(),
                        model.name(),
                        w.value.shape()
                    ),
                ))
            }
            None => missing.push(format!("{name} {:?}", w.value.shape())),
        }
    }
    if !missing.is_empty() {
        return Err(bad(
            path,
            format!(
                "no tensor for {} weight(s) of model {}: {}",
                missing.len(),
                model.name(),
                missing.join(", ")
            ),
        ));
    }
    if !by_name.is_empty() {
        // In file order.
        let extra: Vec<String> = tensors
            .iter()
            .filter(|(n, _)| by_name.contains_key(n.as_str()))
            .map(|(n, t)| format!("{n} {:?}", t.shape()))
            .collect();
        return Err(bad(
            path,
            format!(
                "{} tensor(s) match no weight of model {}: {}",
                extra.len(),
                model.name(),
                extra.join(", ")
            ),
        ));
    }
    Layer::set_weights_by_id(model, &values);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_values() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert!(f16_to_f32(0x7c00).is_infinite());
    }
}
