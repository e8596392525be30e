//! Losses with Keras 3's formulas (`keras/src/losses/losses.py`, TensorFlow backend's
//! `nn.py`): sparse categorical, categorical and binary cross-entropy (`from_logits`,
//! `label_smoothing`, probabilities clipped to `[1e-7, 1 − 1e-7]`), mean squared and absolute
//! error, Huber. Each loss gives per-sample values (the last axis reduced; `y_pred (N, C)` →
//! `(N,)`) and their gradient in closed form, so the fit loop records the whole loss as one
//! tape op. Reduction is Keras's `sum_over_batch_size`: `Σ wᵢ·lossᵢ / n` with `n` the number
//! of per-sample values (sample weights do not change the divisor).
//!
//! ```
//! use rkeras::training::losses::Loss;
//! use tensor::Tensor;
//! let y_true = Tensor::new(&[2], vec![0.0, 1.0]).unwrap();
//! let y_pred = Tensor::new(&[2, 2], vec![0.9, 0.1, 0.2, 0.8]).unwrap();
//! let l = Loss::get("sparse_categorical_crossentropy").unwrap();
//! let v = l.value(&y_true, &y_pred, None).unwrap();
//! assert!((v - (-(0.9f32.ln() + 0.8f32.ln()) / 2.0)).abs() < 1e-6);
//! ```

use crate::error::{KerasError, Result};
use tensor::{Tape, Tensor, Var};

/// Keras's `backend.epsilon()`.
pub const EPSILON: f32 = 1e-7;

/// A loss function and its arguments.
#[derive(Debug, Clone, PartialEq)]
pub enum Loss {
    /// Integer labels `(N,)` or `(N, 1)` against class scores `(N, C)`.
    SparseCategoricalCrossentropy {
        /// Scores are logits, not probabilities.
        from_logits: bool,
    },
    /// One-hot (or soft) labels `(N, C)`.
    CategoricalCrossentropy {
        /// Scores are logits.
        from_logits: bool,
        /// Labels become `y·(1 − s) + s/C`.
        label_smoothing: f64,
    },
    /// Labels in `[0, 1]` against probabilities (or logits) of the same shape.
    BinaryCrossentropy {
        /// Scores are logits.
        from_logits: bool,
        /// Labels become `y·(1 − s) + s/2`.
        label_smoothing: f64,
    },
    /// `mean((y − p)², axis=-1)`.
    MeanSquaredError,
    /// `mean(|y − p|, axis=-1)`.
    MeanAbsoluteError,
    /// `½e²` where `|e| ≤ δ`, else `δ|e| − ½δ²`, averaged over the last axis.
    Huber {
        /// `delta` (Keras default 1.0).
        delta: f64,
    },
}

impl Loss {
    /// `keras.losses.SparseCategoricalCrossentropy()`.
    pub fn sparse_categorical_crossentropy() -> Loss {
        Loss::SparseCategoricalCrossentropy { from_logits: false }
    }

    /// `keras.losses.CategoricalCrossentropy()`.
    pub fn categorical_crossentropy() -> Loss {
        Loss::CategoricalCrossentropy {
            from_logits: false,
            label_smoothing: 0.0,
        }
    }

    /// `keras.losses.BinaryCrossentropy()`.
    pub fn binary_crossentropy() -> Loss {
        Loss::BinaryCrossentropy {
            from_logits: false,
            label_smoothing: 0.0,
        }
    }

    /// `from_logits=value` (cross-entropies; an error later for other losses).
    pub fn from_logits(mut self, value: bool) -> Loss {
        match &mut self {
            Loss::SparseCategoricalCrossentropy { from_logits }
            | Loss::CategoricalCrossentropy { from_logits, .. }
            | Loss::BinaryCrossentropy { from_logits, .. } => *from_logits = value,
            _ => {}
        }
        self
    }

    /// `label_smoothing=value` (categorical and binary cross-entropy).
    pub fn label_smoothing(mut self, value: f64) -> Loss {
        match &mut self {
            Loss::CategoricalCrossentropy { label_smoothing, .. }
            | Loss::BinaryCrossentropy { label_smoothing, .. } => *label_smoothing = value,
            _ => {}
        }
        self
    }

    /// A loss by Keras's identifier: function names (`sparse_categorical_crossentropy`,
    /// `mean_squared_error`, `huber`), class names (`SparseCategoricalCrossentropy`, `MSE`
    /// spelled `MeanSquaredError`) and aliases (`mse`, `mae`, `bce`, and upper case).
    pub fn get(identifier: &str) -> Result<Loss> {
        Ok(match identifier {
            "sparse_categorical_crossentropy" | "SparseCategoricalCrossentropy" => {
                Loss::sparse_categorical_crossentropy()
            }
            "categorical_crossentropy" | "CategoricalCrossentropy" => Loss::categorical_crossentropy(),
            "binary_crossentropy" | "BinaryCrossentropy" | "bce" | "BCE" => Loss::binary_crossentropy(),
            "mean_squared_error" | "MeanSquaredError" | "mse" | "MSE" => Loss::MeanSquaredError,
            "mean_absolute_error" | "MeanAbsoluteError" | "mae" | "MAE" => Loss::MeanAbsoluteError,
            "huber" | "Huber" | "huber_loss" => Loss::Huber { delta: 1.0 },
            _ => {
                return Err(KerasError::Invalid(format!(
                    "Could not interpret loss identifier: {identifier}. Expected one of \
                     sparse_categorical_crossentropy, categorical_crossentropy, binary_crossentropy, \
                     mean_squared_error (mse), mean_absolute_error (mae), huber"
                )))
            }
        })
    }

    /// Keras's function name, used as a metric's name (`binary_crossentropy`).
    pub fn name(&self) -> &'static str {
        match self {
            Loss::SparseCategoricalCrossentropy { .. } => "sparse_categorical_crossentropy",
            Loss::CategoricalCrossentropy { .. } => "categorical_crossentropy",
            Loss::BinaryCrossentropy { .. } => "binary_crossentropy",
            Loss::MeanSquaredError => "mean_squared_error",
            Loss::MeanAbsoluteError => "mean_absolute_error",
            Loss::Huber { .. } => "huber_loss",
        }
    }

    /// Keras class name.
    pub fn class_name(&self) -> &'static str {
        match self {
            Loss::SparseCategoricalCrossentropy { .. } => "SparseCategoricalCrossentropy",
            Loss::CategoricalCrossentropy { .. } => "CategoricalCrossentropy",
            Loss::BinaryCrossentropy { .. } => "BinaryCrossentropy",
            Loss::MeanSquaredError => "MeanSquaredError",
            Loss::MeanAbsoluteError => "MeanAbsoluteError",
            Loss::Huber { .. } => "Huber",
        }
    }

    /// True for the loss that takes integer labels.
    pub fn is_sparse(&self) -> bool {
        matches!(self, Loss::SparseCategoricalCrossentropy { .. })
    }

    /// Per-sample values: `y_pred`'s shape without its last axis (`(N,)` for `(N, C)`).
    pub fn per_sample(&self, y_true: &Tensor, y_pred: &Tensor) -> Result<Tensor> {
        let g = self.geometry(y_true, y_pred)?;
        let mut out = vec![0.0f32; g.rows];
        self.kernel(&g, y_true.data(), y_pred.data(), &mut out, None)?;
        Ok(Tensor::new(&g.out_shape, out)?)
    }

    /// The reduced loss `Σ wᵢ·lossᵢ / n` (`sum_over_batch_size`).
    pub fn value(&self, y_true: &Tensor, y_pred: &Tensor, sample_weight: Option<&Tensor>) -> Result<f32> {
        let per = self.per_sample(y_true, y_pred)?;
        let w = sample_weights(sample_weight, per.shape())?;
        Ok(reduce(per.data(), w.as_deref()))
    }

    /// The reduced loss recorded on the tape as one op with a closed-form gradient.
    /// `y_true` and `sample_weight` are constants.
    pub fn record(&self, tape: &mut Tape, y_true: &Tensor, y_pred: Var, sample_weight: Option<&Tensor>) -> Result<Var> {
        let pred = tape.try_value(y_pred)?.clone();
        let g = self.geometry(y_true, &pred)?;
        let mut per = vec![0.0f32; g.rows];
        self.kernel(&g, y_true.data(), pred.data(), &mut per, None)?;
        let w = sample_weights(sample_weight, &g.out_shape)?;
        let value = reduce(&per, w.as_deref());
        let (loss, y_true, n) = (self.clone(), y_true.clone(), g.rows);
        let backward: tensor::BackwardFn = Box::new(move |grad, inputs, _out| {
            let seed = grad.data()[0] / n.max(1) as f32;
            let upstream: Vec<f32> = match &w {
                Some(w) => w.iter().map(|wi| wi * seed).collect(),
                None => vec![seed; n],
            };
            let pred = inputs[0];
            let geo = loss
                .geometry(&y_true, pred)
                .map_err(|e| tensor::TensorError::Autograd(e.to_string()))?;
            let mut dpred = vec![0.0f32; pred.len()];
            let mut scratch = vec![0.0f32; geo.rows];
            loss.kernel(
                &geo,
                y_true.data(),
                pred.data(),
                &mut scratch,
                Some((&upstream, &mut dpred)),
            )
            .map_err(|e| tensor::TensorError::Autograd(e.to_string()))?;
            Ok(vec![Some(Tensor::new(pred.shape(), dpred)?)])
        });
        Ok(tape.record(Tensor::scalar(value), &[y_pred], backward)?)
    }

    /// Aligns shapes as Keras's `squeeze_or_expand_to_same_rank` and checks them.
    fn geometry(&self, y_true: &Tensor, y_pred: &Tensor) -> Result<Geometry> {
        let ps = y_pred.shape();
        if ps.is_empty() {
            return Err(KerasError::Invalid(format!(
                "{}: y_pred must have a batch axis, received a scalar",
                self.name()
            )));
        }
        let ts = y_true.shape();
        // (N,) predictions are one value per sample: treat them as (N, 1).
        let pshape: Vec<usize> = if ps.len() == 1 { vec![ps[0], 1] } else { ps.to_vec() };
        let classes = pshape[pshape.len() - 1];
        let lead = &pshape[..pshape.len() - 1];
        let rows: usize = lead.iter().product();
        let out_shape = if ps.len() == 1 { vec![ps[0]] } else { lead.to_vec() };
        if self.is_sparse() {
            let tshape: &[usize] = if ts.len() == pshape.len() && ts.last() == Some(&1) {
                &ts[..ts.len() - 1]
            } else {
                ts
            };
            if tshape != lead {
                return Err(KerasError::Invalid(format!(
                    "{}: labels and predictions do not match: y_true has shape {ts:?}, y_pred has shape {ps:?} \
                     (integer labels must have shape {lead:?} or {lead:?} + [1])",
                    self.name()
                )));
            }
            return Ok(Geometry {
                rows,
                classes,
                out_shape,
            });
        }
        let tn: usize = ts.iter().product();
        let same = ts == pshape.as_slice()
            || (ts.len() + 1 == pshape.len() && classes == 1 && ts == lead)
            || (ts.len() == pshape.len() + 1 && ts.last() == Some(&1) && ts[..ts.len() - 1] == *pshape.as_slice())
            || (ps.len() == 1 && ts == ps);
        if !same || tn != rows * classes {
            let hint = if ts.len() + 1 == pshape.len() && classes > 1 {
                " (integer labels need sparse_categorical_crossentropy)"
            } else {
                ""
            };
            return Err(KerasError::Invalid(format!(
                "{}: arguments `target` and `output` must have the same shape. Received: y_true.shape={ts:?}, \
                 y_pred.shape={ps:?}{hint}",
                self.name()
            )));
        }
        Ok(Geometry {
            rows,
            classes,
            out_shape,
        })
    }

    /// Per-row loss into `out`; with `grad = (upstream, dpred)` also `dpred = upstream·∂loss/∂pred`.
    fn kernel(
        &self,
        g: &Geometry,
        t: &[f32],
        p: &[f32],
        out: &mut [f32],
        grad: Option<(&[f32], &mut [f32])>,
    ) -> Result<()> {
        let c = g.classes;
        let (upstream, mut dp) = match grad {
            Some((u, d)) => (Some(u), Some(d)),
            None => (None, None),
        };
        for r in 0..g.rows {
            let pr = &p[r * c..(r + 1) * c];
            let d = dp.as_deref_mut().map(|d| &mut d[r * c..(r + 1) * c]);
            let up = upstream.map_or(0.0, |u| u[r]);
            out[r] = match *self {
                Loss::SparseCategoricalCrossentropy { from_logits } => {
                    let label = t[r];
                    if !(label >= 0.0 && label.fract() == 0.0 && (label as usize) < c) {
                        return Err(KerasError::Invalid(format!(
                            "sparse_categorical_crossentropy: received a label value of {label} (sample {r}), \
                             which is outside the valid range of [0, {c}); labels must be integers"
                        )));
                    }
                    sparse_ce(pr, label as usize, from_logits, d, up)
                }
                Loss::CategoricalCrossentropy {
                    from_logits,
                    label_smoothing,
                } => {
                    let tr = smooth(&t[r * c..(r + 1) * c], label_smoothing as f32, c as f32);
                    categorical_ce(pr, &tr, from_logits, d, up)
                }
                Loss::BinaryCrossentropy {
                    from_logits,
                    label_smoothing,
                } => {
                    let tr = smooth(&t[r * c..(r + 1) * c], label_smoothing as f32, 2.0);
                    binary_ce(pr, &tr, from_logits, d, up)
                }
                Loss::MeanSquaredError | Loss::MeanAbsoluteError | Loss::Huber { .. } => {
                    regression(self, pr, &t[r * c..(r + 1) * c], d, up)
                }
            };
        }
        Ok(())
    }
}

struct Geometry {
    rows: usize,
    classes: usize,
    out_shape: Vec<usize>,
}

/// Sample weights broadcast over the per-sample values (`(N,)` over `(N, …)`).
fn sample_weights(sw: Option<&Tensor>, per_shape: &[usize]) -> Result<Option<Vec<f32>>> {
    let Some(sw) = sw else { return Ok(None) };
    let n: usize = per_shape.iter().product();
    let lead = per_shape.first().copied().unwrap_or(1);
    let s: usize = sw.len();
    if s == n {
        return Ok(Some(sw.data().to_vec()));
    }
    if s == lead && lead > 0 {
        let inner = n / lead;
        return Ok(Some(
            sw.data().iter().flat_map(|&w| std::iter::repeat_n(w, inner)).collect(),
        ));
    }
    Err(KerasError::Invalid(format!(
        "sample_weight has shape {:?}, expected one weight per sample ({lead},)",
        sw.shape()
    )))
}

fn reduce(per: &[f32], w: Option<&[f32]>) -> f32 {
    if per.is_empty() {
        return 0.0;
    }
    let sum: f32 = match w {
        Some(w) => per.iter().zip(w).map(|(l, w)| l * w).sum(),
        None => per.iter().sum(),
    };
    sum / per.len() as f32
}

mod kernels;
use kernels::{binary_ce, categorical_ce, regression, smooth, sparse_ce};
#[cfg(test)]
mod tests;
