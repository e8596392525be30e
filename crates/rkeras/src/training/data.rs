//! Arrays for `fit` / `evaluate`: one array or several (`&x`, `&[a, b]`), checked against
//! the model (count, shapes, equal lengths, labels), split for `validation_split` (the last
//! fraction, as Keras), `class_weight` turned into sample weights, and batches gathered by
//! index (shuffled per epoch when asked).

use crate::error::{KerasError, Result};
use crate::kshape::format_shape;
use crate::model::Model;
use std::collections::HashMap;
use tensor::Tensor;

/// One array or a list of arrays: what `fit(x, y)` accepts (`&x`, `&[a, b]`, `&vec`).
pub trait Arrays {
    /// The arrays (cheap clones: values are shared).
    fn arrays(&self) -> Vec<Tensor>;
}

impl Arrays for Tensor {
    fn arrays(&self) -> Vec<Tensor> {
        vec![self.clone()]
    }
}

impl Arrays for [Tensor] {
    fn arrays(&self) -> Vec<Tensor> {
        self.to_vec()
    }
}

impl<const N: usize> Arrays for [Tensor; N] {
    fn arrays(&self) -> Vec<Tensor> {
        self.to_vec()
    }
}

impl Arrays for Vec<Tensor> {
    fn arrays(&self) -> Vec<Tensor> {
        self.clone()
    }
}

/// Inputs, targets and optional sample weights of equal length.
#[derive(Debug, Clone)]
pub(crate) struct Dataset {
    pub x: Vec<Tensor>,
    pub y: Tensor,
    pub sample_weight: Option<Tensor>,
}

impl Dataset {
    /// Checks arrays against the model: input count and shapes, one target array, equal
    /// lengths, a sample weight per sample.
    pub fn new(model: &Model, what: &str, x: Vec<Tensor>, y: Vec<Tensor>, sw: Option<Tensor>) -> Result<Dataset> {
        let name = model.name();
        let shapes = model.input_shapes();
        if x.len() != shapes.len() {
            return Err(KerasError::Invalid(format!(
                "{what}: model {name} expects {} input array(s), received {}",
                shapes.len(),
                x.len()
            )));
        }
        for (k, (t, s)) in x.iter().zip(&shapes).enumerate() {
            let fits = t.rank() == s.len() && t.shape().iter().zip(s).skip(1).all(|(d, e)| e.is_none_or(|e| e == *d));
            if !fits {
                return Err(KerasError::Invalid(format!(
                    "{what}: model {name}: input {k}: expected arrays of shape {}, received {}",
                    format_shape(s),
                    format_shape(&t.shape().iter().map(|&d| Some(d)).collect::<Vec<_>>())
                )));
            }
        }
        let outputs = model.output_shapes().len();
        if y.len() != 1 || outputs != 1 {
            return Err(KerasError::Invalid(format!(
                "{what}: model {name} has {outputs} output(s) and {} target array(s) were given; \
                 training is supported for single-output models with one target array",
                y.len()
            )));
        }
        let y = y.into_iter().next().unwrap_or_else(|| Tensor::zeros(&[0]));
        let n = x.first().map_or(0, |t| t.shape().first().copied().unwrap_or(0));
        for (k, t) in x.iter().enumerate() {
            if t.shape()[0] != n {
                return Err(KerasError::Invalid(format!(
                    "{what}: input arrays have different lengths: input 0 has {n} samples, input {k} has {}",
                    t.shape()[0]
                )));
            }
        }
        if y.rank() == 0 || y.shape()[0] != n {
            return Err(KerasError::Invalid(format!(
                "{what}: x and y have different lengths: x has {n} samples, y has {} (shape {:?})",
                y.shape().first().copied().unwrap_or(0),
                y.shape()
            )));
        }
        if y.data().iter().any(|v| !v.is_finite()) {
            return Err(KerasError::Invalid(format!(
                "{what}: y contains NaN or infinite values"
            )));
        }
        if let Some(w) = &sw {
            let ok = w.shape() == [n] || w.shape() == [n, 1];
            if !ok {
                return Err(KerasError::Invalid(format!(
                    "{what}: sample_weight must have shape ({n},) (one weight per sample), received {:?}",
                    w.shape()
                )));
            }
        }
        if n == 0 {
            return Err(KerasError::Invalid(format!("{what}: the arrays hold no sample")));
        }
        Ok(Dataset {
            x,
            y,
            sample_weight: sw.map(|w| w.reshape(&[n]).unwrap_or(w)),
        })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.y.shape()[0]
    }

    /// Keras's `train_validation_split`: the first `⌊n·(1 − split)⌋` samples train, the rest
    /// validate.
    pub fn split(self, validation_split: f64) -> Result<(Dataset, Dataset)> {
        if !(0.0..1.0).contains(&validation_split) {
            return Err(KerasError::Invalid(format!(
                "`validation_split` must be in [0, 1). Received: validation_split={validation_split}"
            )));
        }
        let n = self.len();
        let at = (n as f64 * (1.0 - validation_split)).floor() as usize;
        if at == 0 || at == n {
            return Err(KerasError::Invalid(format!(
                "Training data contains {n} samples, which is not sufficient to split it into a validation and \
                 training set as specified by `validation_split={validation_split}`. Either provide more data, or \
                 a different value for the `validation_split` argument."
            )));
        }
        let part = |a: usize, b: usize| -> Result<Dataset> {
            let idx: Vec<usize> = (a..b).collect();
            self.gather(&idx)
        };
        Ok((part(0, at)?, part(at, n)?))
    }

    /// The samples at `idx`, in that order.
    pub fn gather(&self, idx: &[usize]) -> Result<Dataset> {
        Ok(Dataset {
            x: self.x.iter().map(|t| gather_rows(t, idx)).collect::<Result<_>>()?,
            y: gather_rows(&self.y, idx)?,
            sample_weight: self.sample_weight.as_ref().map(|w| gather_rows(w, idx)).transpose()?,
        })
    }

    /// Sample weights from `class_weight` (Keras's `class_weight_to_sample_weights`: the class
    /// of a one-hot row is its argmax, of a scalar label its rounded value; unknown classes
    /// weigh 1).
    pub fn apply_class_weight(&mut self, class_weight: &HashMap<usize, f32>) -> Result<()> {
        if self.sample_weight.is_some() {
            return Err(KerasError::Invalid(
                "You cannot specify both `class_weight` and `sample_weight` at the same time.".into(),
            ));
        }
        let n = self.len();
        let c = if self.y.rank() > 1 { self.y.len() / n } else { 1 };
        let w: Vec<f32> = (0..n)
            .map(|i| {
                let row = &self.y.data()[i * c..(i + 1) * c];
                let class = if c > 1 {
                    super::metrics::argmax(row) as i64
                } else {
                    row[0].round() as i64
                };
                usize::try_from(class)
                    .ok()
                    .and_then(|k| class_weight.get(&k).copied())
                    .unwrap_or(1.0)
            })
            .collect();
        self.sample_weight = Some(Tensor::new(&[n], w)?);
        Ok(())
    }
}

/// Rows `idx` of the first axis, copied into a new array.
pub(crate) fn gather_rows(t: &Tensor, idx: &[usize]) -> Result<Tensor> {
    let n = t.shape()[0];
    let row: usize = t.shape()[1..].iter().product();
    let mut shape = t.shape().to_vec();
    if idx.len() == n && idx.iter().enumerate().all(|(i, &j)| i == j) {
        return Ok(t.clone());
    }
    shape[0] = idx.len();
    let src = t.data();
    let mut out = Vec::with_capacity(idx.len() * row);
    // Consecutive indices (unshuffled batches) copy as one block.
    if idx.windows(2).all(|w| w[1] == w[0] + 1) && !idx.is_empty() {
        out.extend_from_slice(&src[idx[0] * row..(idx[idx.len() - 1] + 1) * row]);
    } else {
        for &i in idx {
            out.extend_from_slice(&src[i * row..(i + 1) * row]);
        }
    }
    Ok(Tensor::new(&shape, out)?)
}

/// Batches of `batch_size` indices over `n` samples; the last one may be smaller.
pub(crate) fn batches(order: &[usize], batch_size: usize) -> impl Iterator<Item = &[usize]> {
    order.chunks(batch_size.max(1))
}
