//! Keras's shape rules for the merge layers: elementwise merges broadcast the dimensions after
//! the batch, aligned on the right (a 1 stretches, an unknown size gives an unknown size; a
//! lower-rank input is expanded at axis 1), `Subtract` takes exactly 2 inputs, and
//! `Concatenate` needs equal ranks and equal sizes on every axis but `axis`, whose sizes add
//! up. Errors name both inputs and the axis. Declared inside [`super`] (`merge.rs`).

use super::MergeOp;
use crate::error::{arg_error, shape_error, Result};
use crate::kshape::{format_shape, Shape};

fn shapes_list(inputs: &[Shape]) -> String {
    inputs.iter().map(|s| format_shape(s)).collect::<Vec<_>>().join(", ")
}

/// The output shape of a merge of `inputs` (the one shape function of this family).
pub fn merge_output_shape(layer: &str, op: MergeOp, inputs: &[Shape]) -> Result<Shape> {
    let class = op.class_name();
    if op == MergeOp::Subtract && inputs.len() != 2 {
        return Err(shape_error(
            layer,
            format!(
                "a `Subtract` layer should be called on exactly 2 inputs, received {}: {}",
                inputs.len(),
                shapes_list(inputs)
            ),
        ));
    }
    if inputs.len() < 2 {
        return Err(shape_error(
            layer,
            format!(
                "a `{class}` layer should be called on a list of at least 2 inputs, received {}",
                inputs.len()
            ),
        ));
    }
    if let Some(s) = inputs.iter().find(|s| s.is_empty()) {
        return Err(shape_error(
            layer,
            format!(
                "every input needs a batch dimension, received input shape {}",
                format_shape(s)
            ),
        ));
    }
    let batches: Vec<usize> = inputs.iter().filter_map(|s| s[0]).collect();
    if batches.windows(2).any(|w| w[0] != w[1]) {
        return Err(shape_error(
            layer,
            format!(
                "cannot merge tensors with different batch sizes: received input shapes {}",
                shapes_list(inputs)
            ),
        ));
    }
    let batch = batches.first().copied();
    if let MergeOp::Concatenate(axis) = op {
        return concat_shape(layer, axis, inputs);
    }
    // Dimensions after the batch, aligned on the right.
    let rank = inputs.iter().map(|s| s.len() - 1).max().unwrap_or(0);
    let mut out: Vec<Option<usize>> = vec![Some(1); rank];
    for (k, s) in inputs.iter().enumerate() {
        let dims = &s[1..];
        for (j, d) in dims.iter().enumerate() {
            let o = rank - dims.len() + j;
            out[o] = match (out[o], *d) {
                (None, _) | (_, None) => None,
                (Some(1), d) | (d, Some(1)) => d,
                (Some(a), Some(b)) if a == b => Some(a),
                (Some(a), Some(b)) => {
                    // Name the earlier input that set this size.
                    let first = inputs[..k].iter().position(|p| {
                        let pd = &p[1..];
                        o + pd.len() >= rank && pd[o + pd.len() - rank] == Some(a)
                    });
                    let other = first.map_or(String::new(), |i| {
                        format!("input {i} {} and ", format_shape(&inputs[i]))
                    });
                    return Err(shape_error(
                        layer,
                        format!("inputs have incompatible shapes: {other}input {k} {} differ on axis {} ({a} vs {b}; sizes must be equal or 1)", format_shape(s), o + 1),
                    ));
                }
            };
        }
    }
    Ok(std::iter::once(batch).chain(out).collect())
}

fn concat_shape(layer: &str, axis: isize, inputs: &[Shape]) -> Result<Shape> {
    let rank = inputs[0].len();
    if let Some((k, s)) = inputs.iter().enumerate().find(|(_, s)| s.len() != rank) {
        return Err(shape_error(
            layer,
            format!("a `Concatenate` layer requires inputs of the same rank: input 0 {} has rank {rank}, input {k} {} has rank {}", format_shape(&inputs[0]), format_shape(s), s.len()),
        ));
    }
    let r = rank as isize;
    if axis >= r || axis < -r {
        return Err(arg_error(
            layer,
            "axis",
            format!(
                "an axis in [{}, {}) for inputs of shapes {}",
                -r,
                r,
                shapes_list(inputs)
            ),
            axis,
        ));
    }
    let ax = if axis < 0 { axis + r } else { axis } as usize;
    let mut out = inputs[0].clone();
    for (k, s) in inputs.iter().enumerate().skip(1) {
        for d in 0..rank {
            if d == ax {
                out[d] = match (out[d], s[d]) {
                    (Some(a), Some(b)) => Some(a + b),
                    _ => None,
                };
            } else if let (Some(a), Some(b)) = (out[d], s[d]) {
                if a != b {
                    return Err(shape_error(
                        layer,
                        format!(
                            "a `Concatenate` layer requires inputs with matching shapes except for the concatenation axis (axis={axis}): input 0 {} and input {k} {} differ on axis {d} ({a} vs {b})",
                            format_shape(&inputs[0]),
                            format_shape(s)
                        ),
                    ));
                }
            } else if out[d].is_none() {
                out[d] = s[d];
            }
        }
    }
    Ok(out)
}
