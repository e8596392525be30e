//! Confusion-matrix metrics as Keras 3 computes them: `Precision` and `Recall` (threshold
//! 0.5, `top_k`, `class_id`) and `AUC` (200 evenly spaced thresholds with Keras's bucket
//! arithmetic; ROC by the trapezoid, PR by Keras's interpolation).

use super::{mismatch, Metric};
use crate::error::{KerasError, Result};
use tensor::Tensor;

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
        let mut t = vec![0.0 - crate::training::losses::EPSILON];
        t.extend((0..n - 2).map(|i| ((i + 1) as f64 / (n - 1) as f64) as f32));
        t.push(1.0 + crate::training::losses::EPSILON);
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
            ConfusionKind::Precision => (0..self.tp.len())
                .map(|i| div(self.tp[i], self.tp[i] + self.fp[i]))
                .collect(),
            ConfusionKind::Recall => (0..self.tp.len())
                .map(|i| div(self.tp[i], self.tp[i] + self.fn_[i]))
                .collect(),
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
                    sum += div(
                        slope * (dtp + intercept * ratio.ln()),
                        (self.tp[i + 1] + self.fn_[i + 1]).max(0.0),
                    );
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
