//! `Tensor`: a contiguous row-major f32 array with a shape. Activations are NHWC and
//! kernels `(kh, kw, in/groups, filters)`, exactly Keras's layout, so nothing is transposed
//! on import.

use crate::error::{Result, TensorError};
use std::sync::Arc;

/// A dense, contiguous, row-major f32 tensor. Clones share the values (copy on write), so
/// putting a model's weights on a tape costs nothing.
#[derive(Clone, PartialEq)]
pub struct Tensor {
    shape: Vec<usize>,
    data: Arc<Vec<f32>>,
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.data.len().min(8);
        write!(f, "Tensor{:?} {:?}", self.shape, &self.data[..n])?;
        if self.data.len() > n {
            write!(f, "…")?;
        }
        Ok(())
    }
}

/// Number of elements of a shape.
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

impl Tensor {
    /// A tensor from a shape and its values in row-major order.
    pub fn new(shape: &[usize], data: Vec<f32>) -> Result<Tensor> {
        let expected = numel(shape);
        if expected != data.len() {
            return Err(TensorError::DataLength {
                shape: shape.to_vec(),
                expected,
                received: data.len(),
            });
        }
        Ok(Tensor {
            shape: shape.to_vec(),
            data: Arc::new(data),
        })
    }

    /// A tensor filled with one value.
    pub fn full(shape: &[usize], value: f32) -> Tensor {
        Tensor {
            shape: shape.to_vec(),
            data: Arc::new(vec![value; numel(shape)]),
        }
    }

    /// Zeros.
    pub fn zeros(shape: &[usize]) -> Tensor {
        Tensor::full(shape, 0.0)
    }

    /// Ones.
    pub fn ones(shape: &[usize]) -> Tensor {
        Tensor::full(shape, 1.0)
    }

    /// A scalar (shape `[]`).
    pub fn scalar(value: f32) -> Tensor {
        Tensor {
            shape: Vec::new(),
            data: Arc::new(vec![value]),
        }
    }

    /// `0, 1, 2, …` reshaped to `shape`: hand-checkable test inputs.
    pub fn arange(shape: &[usize]) -> Tensor {
        Tensor {
            shape: shape.to_vec(),
            data: Arc::new((0..numel(shape)).map(|i| i as f32).collect()),
        }
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when the tensor holds no element.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The values, row-major.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// The values, mutable.
    pub fn data_mut(&mut self) -> &mut [f32] {
        Arc::make_mut(&mut self.data).as_mut_slice()
    }

    /// Takes the values out.
    pub fn into_data(self) -> Vec<f32> {
        Arc::try_unwrap(self.data).unwrap_or_else(|shared| (*shared).clone())
    }

    /// True when two tensors share the same value buffer (a clone not yet written to).
    pub fn shares_data(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.data, &other.data)
    }

    /// The single value of a one-element tensor.
    pub fn item(&self) -> Result<f32> {
        if self.data.len() != 1 {
            return crate::error::shape_err("item", format!("expected one element, received shape {:?}", self.shape));
        }
        Ok(self.data[0])
    }

    /// Same values, another shape with the same element count.
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        if numel(shape) != self.data.len() {
            return crate::error::shape_err(
                "reshape",
                format!(
                    "cannot reshape {:?} ({} values) to {:?} ({} values)",
                    self.shape,
                    self.data.len(),
                    shape,
                    numel(shape)
                ),
            );
        }
        Ok(Tensor {
            shape: shape.to_vec(),
            data: self.data.clone(),
        })
    }

    /// Reshape in place (no copy).
    pub fn into_reshape(mut self, shape: &[usize]) -> Result<Tensor> {
        if numel(shape) != self.data.len() {
            return crate::error::shape_err(
                "reshape",
                format!(
                    "cannot reshape {:?} ({} values) to {:?} ({} values)",
                    self.shape,
                    self.data.len(),
                    shape,
                    numel(shape)
                ),
            );
        }
        self.shape = shape.to_vec();
        Ok(self)
    }

    /// Row-major strides of the shape, in elements.
    pub fn strides(&self) -> Vec<usize> {
        strides_of(&self.shape)
    }

    /// Applies `f` to every value.
    pub fn map(&self, f: impl Fn(f32) -> f32) -> Tensor {
        Tensor {
            shape: self.shape.clone(),
            data: Arc::new(self.data.iter().map(|&v| f(v)).collect()),
        }
    }

    /// Largest absolute difference to another tensor of the same shape.
    pub fn max_abs_diff(&self, other: &Tensor) -> Result<f32> {
        if self.shape != other.shape {
            return crate::error::shape_err(
                "max_abs_diff",
                format!("shapes differ: {:?} vs {:?}", self.shape, other.shape),
            );
        }
        Ok(self
            .data
            .iter()
            .zip(other.data.iter())
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs())))
    }

    /// True when every value is within `atol + rtol·|other|` of `other`.
    pub fn allclose(&self, other: &Tensor, atol: f32, rtol: f32) -> bool {
        self.shape == other.shape
            && self
                .data
                .iter()
                .zip(other.data.iter())
                .all(|(a, b)| (a - b).abs() <= atol + rtol * b.abs())
    }
}

/// Row-major strides of a shape.
pub fn strides_of(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}
