//! Symbolic shapes: Keras's `(None, 26, 26, 32)`, batch first, `None` for unknown sizes.

use crate::error::{shape_error, Result};

/// A symbolic shape; `None` is an unknown dimension (always the batch, sometimes H/W).
pub type Shape = Vec<Option<usize>>;

/// `(None, 26, 26, 32)` as Keras prints it; a one-element shape keeps its comma: `(None,)`.
pub fn format_shape(s: &[Option<usize>]) -> String {
    let parts: Vec<String> = s
        .iter()
        .map(|d| d.map_or("None".to_string(), |v| v.to_string()))
        .collect();
    if parts.len() == 1 {
        format!("({},)", parts[0])
    } else {
        format!("({})", parts.join(", "))
    }
}

/// A shape with a batch `None` in front of known sizes.
pub fn batched(dims: &[usize]) -> Shape {
    std::iter::once(None).chain(dims.iter().map(|&d| Some(d))).collect()
}

/// The known size of dimension `axis`, or an error naming the layer and what it needs.
pub fn known(layer: &str, shape: &[Option<usize>], axis: usize, what: &str) -> Result<usize> {
    match shape.get(axis) {
        Some(Some(v)) => Ok(*v),
        Some(None) => Err(shape_error(
            layer,
            format!(
                "the {what} (axis {axis}) of the input must be known, received input shape {}",
                format_shape(shape)
            ),
        )),
        None => Err(shape_error(
            layer,
            format!(
                "expected an input with at least {} dimensions, received input shape {}",
                axis + 1,
                format_shape(shape)
            ),
        )),
    }
}

/// Checks the rank of an input shape.
pub fn expect_rank(layer: &str, shape: &[Option<usize>], rank: usize) -> Result<()> {
    if shape.len() != rank {
        return Err(shape_error(
            layer,
            format!(
                "expected an input of rank {rank} (including the batch), received input shape {} of rank {}",
                format_shape(shape),
                shape.len()
            ),
        ));
    }
    Ok(())
}

/// Concrete shape of a tensor with the batch replaced by `None`.
pub fn symbolic(dims: &[usize]) -> Shape {
    let mut s: Shape = dims.iter().map(|&d| Some(d)).collect();
    if let Some(first) = s.first_mut() {
        *first = None;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_python_tuples() {
        assert_eq!(
            format_shape(&[None, Some(26), Some(26), Some(32)]),
            "(None, 26, 26, 32)"
        );
        assert_eq!(format_shape(&[None]), "(None,)");
        assert_eq!(format_shape(&batched(&[10])), "(None, 10)");
    }
}
