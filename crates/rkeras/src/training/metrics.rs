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

fn mismatch(name: &str, y_true: &Tensor, y_pred: &Tensor) -> KerasError {
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
        MeanMetric { mean: Mean::new(name), f }
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
            if let Some(on_logits) = super::step::loss_on_logits(l, op) {
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

/// Which confusion-matrix quantity a [`ConfusionMetric`] reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ConfusionKind {
    /// `TP / (TP + FP)`.
    Precision,
    /// `TP / (TP + FN)`.
    Recall,
    /// Area under the ROC curve (trapezoid between thresholds).
    AucRoc,
    /// Area under the precision-recall curve (Keras's interpolation).
    AucPr,
}

/// `Precision`, `Recall` or `AUC`: true/false positive/negative counts per threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfusionMetric {
    name: String,
    kind: ConfusionKind,
    thresholds: Vec<f32>,
    /// AUC's evenly spaced thresholds use Keras's bucket arithmetic.
    evenly: bool,
    /// Only the `k` highest scores of a row count as predictions (`top_k`).
    pub top_k: Option<usize>,
    /// Only this column is scored (`class_id`).
    pub class_id: Option<usize>,
    tp: Vec<f32>,
    fp: Vec<f32>,
    tn: Vec<f32>,
    fn_: Vec<f32>,
}

impl ConfusionMetric {
    fn with(name: &str, kind: ConfusionKind, thresholds: Vec<f32>, evenly: bool) -> ConfusionMetric {
        let n = thresholds.len();
        ConfusionMetric {
            name: name.to_string(),
            kind,
            thresholds,
            evenly,
            top_k: None,
            class_id: None,
            tp: vec![0.0; n],
            fp: vec![0.0; n],
            tn: vec![0.0; n],
            fn_: vec![0.0; n],
        }
    }

    /// `keras.metrics.Precision()` (threshold 0.5).
    pub fn precision() -> ConfusionMetric {
        ConfusionMetric::with("precision", ConfusionKind::Precision, vec![0.5], false)
    }

    /// `keras.metrics.Recall()` (threshold 0.5).
    pub fn recall() -> ConfusionMetric {
        ConfusionMetric::with("recall", ConfusionKind::Recall, vec![0.5], false)
    }

    /// `keras.metrics.AUC(num_thresholds=200, curve="ROC")`; `curve_pr` for `curve="PR"`.
    pub fn auc(num_thresholds: usize, curve_pr: bool) -> Result<ConfusionMetric> {
        if num_thresholds <= 1 {
            return Err(KerasError::Invalid(format!(
                "AUC: argument `num_thresholds` must be an integer > 1. Received: num_thresholds={num_thresholds}"
            )));
        }
        let n = num_thresholds;
        let mut t = vec![0.0 - super::losses::EPSILON];
        t.extend((0..n - 2).map(|i| ((i + 1) as f64 / (n - 1) as f64) as f32));
        t.push(1.0 + super::losses::EPSILON);
        let kind = if curve_pr {
            ConfusionKind::AucPr
        } else {
            ConfusionKind::AucRoc
        };
        Ok(ConfusionMetric::with("auc", kind, t, true))
    }

    /// `thresholds=…` for Precision / Recall (values in `[0, 1]`).
    pub fn thresholds(self, thresholds: &[f32]) -> Result<ConfusionMetric> {
        if thresholds.is_empty() || thresholds.iter().any(|t| !(0.0..=1.0).contains(t)) {
            return Err(KerasError::Invalid(format!(
                "{}: threshold values must be in [0, 1]. Received: {thresholds:?}",
                self.name
            )));
        }
        Ok(ConfusionMetric {
            top_k: self.top_k,
            class_id: self.class_id,
            ..ConfusionMetric::with(&self.name, self.kind, thresholds.to_vec(), false)
        })
    }

    fn values(&self) -> Vec<f32> {
        let div = |a: f32, b: f32| if b == 0.0 { 0.0 } else { a / b };
        match self.kind {
            ConfusionKind::Precision => (0..self.tp.len()).map(|i| div(self.tp[i], self.tp[i] + self.fp[i])).collect(),
            ConfusionKind::Recall => (0..self.tp.len()).map(|i| div(self.tp[i], self.tp[i] + self.fn_[i])).collect(),
            ConfusionKind::AucRoc => {
                let n = self.tp.len();
                let recall: Vec<f32> = (0..n).map(|i| div(self.tp[i], self.tp[i] + self.fn_[i])).collect();
                let fpr: Vec<f32> = (0..n).map(|i| div(self.fp[i], self.fp[i] + self.tn[i])).collect();
                vec![(0..n - 1)
                    .map(|i| (fpr[i] - fpr[i + 1]) * ((recall[i] + recall[i + 1]) / 2.0))
                    .sum()]
            }
            ConfusionKind::AucPr => {
                let n = self.tp.len();
                let p: Vec<f32> = (0..n).map(|i| self.tp[i] + self.fp[i]).collect();
                let mut sum = 0.0f32;
                for i in 0..n - 1 {
                    let dtp = self.tp[i] - self.tp[i + 1];
                    let dp = p[i] - p[i + 1];
                    let slope = div(dtp, dp.max(0.0));
                    let intercept = self.tp[i + 1] - slope * p[i + 1];
                    let ratio = if p[i] > 0.0 && p[i + 1] > 0.0 {
                        div(p[i], p[i + 1].max(0.0))
                    } else {
                        1.0
                    };
                    sum += div(slope * (dtp + intercept * ratio.ln()), (self.tp[i + 1] + self.fn_[i + 1]).max(0.0));
                }
                vec![sum]
            }
        }
    }
}

impl Metric for ConfusionMetric {
    fn name(&self) -> &str {
        &self.name
    }
    fn set_name(&mut self, name: &str) {
        self.name = name.to_string();
    }
    fn update_state(&mut self, y_true: &Tensor, y_pred: &Tensor, sample_weight: Option<&Tensor>) -> Result<()> {
        if y_true.len() != y_pred.len() {
            return Err(mismatch(&self.name, y_true, y_pred));
        }
        let c = if y_pred.rank() >= 2 {
            y_pred.shape()[y_pred.rank() - 1]
        } else {
            1
        };
        let n = y_pred.shape().first().copied().unwrap_or(1).max(1);
        let per_sample = y_pred.len() / n;
        let mut pred = y_pred.data().to_vec();
        if let Some(k) = self.top_k {
            for row in pred.chunks_mut(c.max(1)) {
                let mut idx: Vec<usize> = (0..row.len()).collect();
                idx.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
                for &i in idx.iter().skip(k) {
                    row[i] = f32::NEG_INFINITY;
                }
            }
        }
        let weight = |i: usize| sample_weight.map_or(1.0, |w| w.data()[(i / per_sample).min(w.len() - 1)]);
        let nt = self.thresholds.len();
        for (i, (&y, &p)) in y_true.data().iter().zip(&pred).enumerate() {
            if let Some(cls) = self.class_id {
                if i % c != cls {
                    continue;
                }
            }
            let w = weight(i);
            let label = y != 0.0;
            if self.evenly {
                // Keras's bucket arithmetic: counted at thresholds 0..=ceil(p·(n−1))−1.
                let pc = p.clamp(0.0, 1.0);
                let bucket = ((pc * (nt as f32 - 1.0)).ceil() - 1.0).max(0.0) as usize;
                for t in 0..nt {
                    let pos = t <= bucket;
                    tally(self, t, label, pos, w);
                }
            } else {
                for t in 0..nt {
                    let pos = p > self.thresholds[t];
                    tally(self, t, label, pos, w);
                }
            }
        }
        Ok(())
    }
    fn result(&self) -> f32 {
        self.values()[0]
    }
    fn reset_state(&mut self) {
        for v in [&mut self.tp, &mut self.fp, &mut self.tn, &mut self.fn_] {
            v.iter_mut().for_each(|x| *x = 0.0);
        }
    }
    fn clone_box(&self) -> Box<dyn Metric> {
        Box::new(self.clone())
    }
}

fn tally(m: &mut ConfusionMetric, t: usize, label: bool, pos: bool, w: f32) {
    match (label, pos) {
        (true, true) => m.tp[t] += w,
        (false, true) => m.fp[t] += w,
        (true, false) => m.fn_[t] += w,
        (false, false) => m.tn[t] += w,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn t(shape: &[usize], v: &[f32]) -> Tensor {
        Tensor::new(shape, v.to_vec()).unwrap()
    }

    #[test]
    fn accuracy_choice_follows_shapes() {
        assert_eq!(
            resolve_accuracy("accuracy", &[32], &[32, 10]).f,
            MetricFn::SparseCategoricalAccuracy
        );
        assert_eq!(
            resolve_accuracy("accuracy", &[32, 1], &[32, 10]).f,
            MetricFn::SparseCategoricalAccuracy
        );
        assert_eq!(
            resolve_accuracy("accuracy", &[32, 10], &[32, 10]).f,
            MetricFn::CategoricalAccuracy
        );
        assert_eq!(
            resolve_accuracy("accuracy", &[32, 1], &[32, 1]).f,
            MetricFn::BinaryAccuracy { threshold: 0.5 }
        );
    }

    #[test]
    fn running_mean_weighs_batches_by_size() {
        let mut m = MeanMetric::new("acc", MetricFn::SparseCategoricalAccuracy);
        let p = t(&[3, 2], &[0.9, 0.1, 0.2, 0.8, 0.6, 0.4]);
        m.update_state(&t(&[3], &[0.0, 1.0, 1.0]), &p, None).unwrap(); // 2/3
        m.update_state(&t(&[1], &[1.0]), &t(&[1, 2], &[0.0, 1.0]), None).unwrap(); // 1/1
        assert!((m.result() - 0.75).abs() < 1e-7);
        m.reset_state();
        let sw = t(&[3], &[1.0, 0.0, 2.0]);
        m.update_state(&t(&[3], &[0.0, 1.0, 1.0]), &p, Some(&sw)).unwrap();
        assert!((m.result() - 1.0 / 3.0).abs() < 1e-7);
    }

    #[test]
    fn top_k_counts_ties_in() {
        let f = MetricFn::SparseTopKCategoricalAccuracy { k: 1 };
        let v = f.values(&t(&[2], &[1.0, 2.0]), &t(&[2, 3], &[0.5, 0.5, 0.0, 0.1, 0.2, 0.3])).unwrap();
        assert_eq!(v, vec![1.0, 1.0]);
        let f = MetricFn::TopKCategoricalAccuracy { k: 2 };
        let v = f
            .values(&t(&[1, 3], &[1.0, 0.0, 0.0]), &t(&[1, 3], &[0.1, 0.5, 0.4]))
            .unwrap();
        assert_eq!(v, vec![0.0]);
    }

    #[test]
    fn precision_recall_auc() {
        let y = t(&[4, 1], &[1.0, 0.0, 1.0, 1.0]);
        let p = t(&[4, 1], &[0.9, 0.8, 0.3, 0.7]);
        let mut pr = ConfusionMetric::precision();
        pr.update_state(&y, &p, None).unwrap();
        assert!((pr.result() - 2.0 / 3.0).abs() < 1e-6);
        let mut re = ConfusionMetric::recall();
        re.update_state(&y, &p, None).unwrap();
        assert!((re.result() - 2.0 / 3.0).abs() < 1e-6);
        // Perfect ranking → AUC 1; the negative ranked above two of three positives → 1/3.
        let mut auc = ConfusionMetric::auc(200, false).unwrap();
        auc.update_state(&y, &t(&[4, 1], &[0.9, 0.1, 0.8, 0.7]), None).unwrap();
        assert!((auc.result() - 1.0).abs() < 1e-5, "{}", auc.result());
        auc.reset_state();
        auc.update_state(&y, &p, None).unwrap();
        assert!((auc.result() - 1.0 / 3.0).abs() < 1e-2, "{}", auc.result());
    }

    #[test]
    fn metric_names_and_errors() {
        assert_eq!(get("mse").unwrap().name(), "mse");
        assert_eq!(get("binary_crossentropy").unwrap().name(), "binary_crossentropy");
        assert_eq!(get("AUC").unwrap().name(), "AUC");
        assert!(get("f7").is_err());
        let mut m = get("categorical_accuracy").unwrap();
        assert!(m.update_state(&t(&[2], &[0.0, 1.0]), &t(&[2, 2], &[0.0; 4]), None).is_err());
    }
}
