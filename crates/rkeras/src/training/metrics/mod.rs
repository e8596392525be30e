//! Metrics as Keras 3 computes them (`keras/src/metrics/`): running means over batches
//! (`Mean`: `total += Σ wᵢ·vᵢ`, `count += Σ wᵢ`, in f32) of accuracy functions or of any loss;
//! confusion-matrix metrics `Precision`, `Recall` and `AUC` (200 thresholds, the trapezoid or
//! Keras's PR interpolation). The string `"accuracy"` is resolved against the first batch's
//! shapes as Keras does (binary when `y_pred` has one column, sparse when `y_true` has one
//! axis less or a last axis of 1, categorical otherwise).
//!
//! ```
//! use rkeras::training::metrics::{Metric, MetricFn, MeanMetric};
//! use tensor::Tensor;
//! let mut acc = MeanMetric::new("accuracy", MetricFn::SparseCategoricalAccuracy);
//! let y_true = Tensor::new(&[2], vec![1.0, 0.0]).unwrap();
//! let y_pred = Tensor::new(&[2, 2], vec![0.3, 0.7, 0.4, 0.6]).unwrap();
//! acc.update_state(&y_true, &y_pred, None).unwrap();
//! assert_eq!(acc.result(), 0.5);
//! ```

use super::losses::Loss;
use crate::error::{KerasError, Result};
use tensor::Tensor;

/// A metric: state updated batch by batch, a result, a reset (Keras's `Metric`).
pub trait Metric: Send + Sync + std::fmt::Debug {
    /// The name in logs (`accuracy`, `val_` is prefixed by `fit`).
    fn name(&self) -> &str;
    /// Renames (Keras names a string-given metric by the string).
    fn set_name(&mut self, name: &str);
    /// Accumulates one batch.
    fn update_state(&mut self, y_true: &Tensor, y_pred: &Tensor, sample_weight: Option<&Tensor>) -> Result<()>;
    /// Accumulates one batch whose predictions are `op(logits)` (`op` is `"softmax"` or
    /// `"sigmoid"`): cross-entropy metrics then start from the logits, as Keras's do.
    fn update_state_with_logits(
        &mut self,
        y_true: &Tensor,
        y_pred: &Tensor,
        logits: Option<(&Tensor, &'static str)>,
        sample_weight: Option<&Tensor>,
    ) -> Result<()> {
        let _ = logits;
        self.update_state(y_true, y_pred, sample_weight)
    }
    /// The current value.
    fn result(&self) -> f32;
    /// Clears the state.
    fn reset_state(&mut self);
    /// A boxed copy.
    fn clone_box(&self) -> Box<dyn Metric>;
}

impl Clone for Box<dyn Metric> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

/// Keras's `Mean`: a weighted running mean of per-sample values.
#[derive(Debug, Clone, PartialEq)]
pub struct Mean {
    /// Name.
    pub name: String,
    total: f32,
    count: f32,
}

impl Mean {
    /// An empty mean.
    pub fn new(name: &str) -> Mean {
        Mean {
            name: name.to_string(),
            total: 0.0,
            count: 0.0,
        }
    }

    /// Adds per-sample values (`(N, …)` reduced to `(N,)` by the mean first) with optional
    /// per-sample weights.
    pub fn update(&mut self, values: &[f32], samples: usize, sample_weight: Option<&[f32]>) {
        let samples = samples.max(1);
        let per = values.len() / samples;
        let v = |i: usize| -> f32 {
            if per <= 1 {
                values.get(i).copied().unwrap_or(0.0)
            } else {
                values[i * per..(i + 1) * per].iter().sum::<f32>() / per as f32
            }
        };
        match sample_weight {
            Some(w) => {
                self.total += (0..samples).map(|i| v(i) * w[i]).sum::<f32>();
                self.count += w.iter().sum::<f32>();
            }
            None => {
                self.total += (0..samples).map(v).sum::<f32>();
                self.count += samples as f32;
            }
        }
    }

    /// Adds one value with a weight (the loss tracker: the batch loss weighted by batch size).
    pub fn update_value(&mut self, value: f32, weight: f32) {
        self.total += value * weight;
        self.count += weight;
    }

    /// `total / count` (0 when empty).
    pub fn result(&self) -> f32 {
        if self.count == 0.0 {
            0.0
        } else {
            self.total / self.count
        }
    }

    /// Clears.
    pub fn reset(&mut self) {
        self.total = 0.0;
        self.count = 0.0;
    }
}

/// A per-sample metric function.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricFn {
    /// `y_pred > threshold` equals `y_true`, per element.
    BinaryAccuracy {
        /// Default 0.5.
        threshold: f32,
    },
    /// `argmax(y_true) == argmax(y_pred)`.
    CategoricalAccuracy,
    /// `y_true == argmax(y_pred)`.
    SparseCategoricalAccuracy,
    /// `argmax(y_true)` among the `k` highest scores (ties count as in).
    TopKCategoricalAccuracy {
        /// Default 5.
        k: usize,
    },
    /// Integer label among the `k` highest scores.
    SparseTopKCategoricalAccuracy {
        /// Default 5.
        k: usize,
    },
    /// A loss's per-sample values (`metrics=["binary_crossentropy"]`).
    Loss(Loss),
}

impl MetricFn {
    /// Keras's default metric name.
    pub fn default_name(&self) -> String {
        match self {
            MetricFn::BinaryAccuracy { .. } => "binary_accuracy".into(),
            MetricFn::CategoricalAccuracy => "categorical_accuracy".into(),
            MetricFn::SparseCategoricalAccuracy => "sparse_categorical_accuracy".into(),
            MetricFn::TopKCategoricalAccuracy { .. } => "top_k_categorical_accuracy".into(),
            MetricFn::SparseTopKCategoricalAccuracy { .. } => "sparse_top_k_categorical_accuracy".into(),
            MetricFn::Loss(l) => l.name().into(),
        }
    }

    /// Per-sample values, `(N, …)` flattened, with N the batch size.
    pub fn values(&self, y_true: &Tensor, y_pred: &Tensor) -> Result<Vec<f32>> {
        let ps = y_pred.shape();
        let c = ps.last().copied().unwrap_or(1).max(1);
        let rows = y_pred.len() / c;
        let (t, p) = (y_true.data(), y_pred.data());
        match self {
            MetricFn::BinaryAccuracy { threshold } => {
                if t.len() != p.len() {
                    return Err(mismatch("binary_accuracy", y_true, y_pred));
                }
                Ok(t.iter()
                    .zip(p)
                    .map(|(&y, &q)| f32::from(y == if q > *threshold { 1.0 } else { 0.0 }))
                    .collect())
            }
            MetricFn::CategoricalAccuracy | MetricFn::TopKCategoricalAccuracy { .. } => {
                if t.len() != p.len() {
                    return Err(mismatch(&self.default_name(), y_true, y_pred));
                }
                Ok((0..rows)
                    .map(|r| {
                        let label = argmax(&t[r * c..(r + 1) * c]);
                        let row = &p[r * c..(r + 1) * c];
                        match self {
                            MetricFn::TopKCategoricalAccuracy { k } => f32::from(in_top_k(row, label, *k)),
                            _ => f32::from(argmax(row) == label),
                        }
                    })
                    .collect())
            }
            MetricFn::SparseCategoricalAccuracy | MetricFn::SparseTopKCategoricalAccuracy { .. } => {
                if t.len() != rows {
                    return Err(mismatch(&self.default_name(), y_true, y_pred));
                }
                Ok((0..rows)
                    .map(|r| {
                        let row = &p[r * c..(r + 1) * c];
                        let y = t[r];
                        match self {
                            MetricFn::SparseTopKCategoricalAccuracy { k } => {
                                f32::from(y >= 0.0 && (y as usize) < c && in_top_k(row, y as usize, *k))
                            }
                            _ => f32::from(argmax(row) as f32 == y),
                        }
                    })
                    .collect())
            }
            MetricFn::Loss(l) => Ok(l.per_sample(y_true, y_pred)?.into_data()),
        }
    }
}

pub(crate) fn mismatch(name: &str, y_true: &Tensor, y_pred: &Tensor) -> KerasError {
    KerasError::Invalid(format!(
        "{name}: y_true has shape {:?}, which does not match y_pred's shape {:?}",
        y_true.shape(),
        y_pred.shape()
    ))
}

/// First index of the largest value (TensorFlow's `argmax`).
pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

/// TensorFlow's `in_top_k`: fewer than `k` scores are strictly greater than the target's.
fn in_top_k(row: &[f32], target: usize, k: usize) -> bool {
    let t = row[target];
    t.is_finite() && row.iter().filter(|&&v| v > t).count() < k
}

/// Keras's `MeanMetricWrapper`: the running mean of a [`MetricFn`].
#[derive(Debug, Clone, PartialEq)]
pub struct MeanMetric {
    mean: Mean,
    /// The function.
    pub f: MetricFn,
}

impl MeanMetric {
    /// A named running mean of `f`.
    pub fn new(name: &str, f: MetricFn) -> MeanMetric {
        MeanMetric {
            mean: Mean::new(name),
            f,
        }
    }
}

impl Metric for MeanMetric {
    fn name(&self) -> &str {
        &self.mean.name
    }
    fn set_name(&mut self, name: &str) {
        self.mean.name = name.to_string();
    }
    fn update_state(&mut self, y_true: &Tensor, y_pred: &Tensor, sample_weight: Option<&Tensor>) -> Result<()> {
        let values = self.f.values(y_true, y_pred)?;
        let n = y_pred.shape().first().copied().unwrap_or(1);
        if let Some(w) = sample_weight {
            if w.len() != n {
                return Err(KerasError::Invalid(format!(
                    "{}: sample_weight has {} values for a batch of {n}",
                    self.name(),
                    w.len()
                )));
            }
        }
        self.mean.update(&values, n, sample_weight.map(|w| w.data()));
        Ok(())
    }
    fn update_state_with_logits(
        &mut self,
        y_true: &Tensor,
        y_pred: &Tensor,
        logits: Option<(&Tensor, &'static str)>,
        sample_weight: Option<&Tensor>,
    ) -> Result<()> {
        if let (MetricFn::Loss(l), Some((z, op))) = (&self.f, logits) {
            if let Some(on_logits) = crate::training::step::loss_on_logits(l, op) {
                let saved = std::mem::replace(&mut self.f, MetricFn::Loss(on_logits));
                let r = self.update_state(y_true, z, sample_weight);
                self.f = saved;
                return r;
            }
        }
        self.update_state(y_true, y_pred, sample_weight)
    }
    fn result(&self) -> f32 {
        self.mean.result()
    }
    fn reset_state(&mut self) {
        self.mean.reset()
    }
    fn clone_box(&self) -> Box<dyn Metric> {
        Box::new(self.clone())
    }
}

/// A metric by Keras's string identifier (not `"accuracy"`, which depends on shapes: see
/// [`resolve_accuracy`]). The metric is named by the identifier, as Keras names it.
pub fn get(identifier: &str) -> Result<Box<dyn Metric>> {
    let f = match identifier {
        "binary_accuracy" | "BinaryAccuracy" => MetricFn::BinaryAccuracy { threshold: 0.5 },
        "categorical_accuracy" | "CategoricalAccuracy" => MetricFn::CategoricalAccuracy,
        "sparse_categorical_accuracy" | "SparseCategoricalAccuracy" => MetricFn::SparseCategoricalAccuracy,
        "top_k_categorical_accuracy" | "TopKCategoricalAccuracy" => MetricFn::TopKCategoricalAccuracy { k: 5 },
        "sparse_top_k_categorical_accuracy" | "SparseTopKCategoricalAccuracy" => {
            MetricFn::SparseTopKCategoricalAccuracy { k: 5 }
        }
        "precision" | "Precision" => return Ok(named(ConfusionMetric::precision(), identifier)),
        "recall" | "Recall" => return Ok(named(ConfusionMetric::recall(), identifier)),
        "auc" | "AUC" => return Ok(named(ConfusionMetric::auc(200, false)?, identifier)),
        other => match Loss::get(other) {
            Ok(l) => MetricFn::Loss(l),
            Err(_) => {
                return Err(KerasError::Invalid(format!(
                    "Could not interpret metric identifier: {identifier}. Expected accuracy, acc, binary_accuracy, \
                     categorical_accuracy, sparse_categorical_accuracy, top_k_categorical_accuracy, \
                     sparse_top_k_categorical_accuracy, precision, recall, auc, or a loss name"
                )))
            }
        },
    };
    Ok(Box::new(MeanMetric::new(identifier, f)))
}

fn named(mut m: ConfusionMetric, name: &str) -> Box<dyn Metric> {
    m.set_name(name);
    Box::new(m)
}

/// Keras 3's `"accuracy"` choice from shapes: binary when `y_pred`'s last axis is 1, sparse
/// when `y_true` has fewer axes or a last axis of 1 (and `y_pred`'s is larger), otherwise
/// categorical.
pub fn resolve_accuracy(name: &str, y_true: &[usize], y_pred: &[usize]) -> MeanMetric {
    let p_last = y_pred.last().copied().unwrap_or(1);
    let t_last = y_true.last().copied().unwrap_or(1);
    let f = if p_last == 1 || y_pred.len() == 1 {
        MetricFn::BinaryAccuracy { threshold: 0.5 }
    } else if y_true.len() < y_pred.len() || (t_last == 1 && p_last > 1) {
        MetricFn::SparseCategoricalAccuracy
    } else {
        MetricFn::CategoricalAccuracy
    };
    MeanMetric::new(name, f)
}

mod confusion;
pub use confusion::{ConfusionKind, ConfusionMetric};
#[cfg(test)]
mod tests;
