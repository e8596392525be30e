//! Learning-rate schedules (`keras.optimizers.schedules`): `ExponentialDecay`,
//! `PiecewiseConstantDecay`, `CosineDecay`, evaluated at the optimizer's iteration count in
//! f32 exactly as Keras's ops do. An optimizer takes a schedule in place of a number.
//!
//! ```
//! use rkeras::training::schedules::LearningRateSchedule;
//! let s = LearningRateSchedule::exponential_decay(0.1, 10, 0.5, false).unwrap();
//! assert!((s.at(10) - 0.05).abs() < 1e-7);
//! ```

use crate::config::keras_object;
use crate::error::{KerasError, Result};
use serde_json::{json, Value};

/// A learning-rate schedule: the learning rate as a function of the step (the optimizer's
/// `iterations` before the update).
#[derive(Debug, Clone, PartialEq)]
pub enum LearningRateSchedule {
    /// `initial_learning_rate · decay_rate^(step / decay_steps)` (`⌊·⌋` with `staircase`).
    ExponentialDecay {
        /// Start value.
        initial_learning_rate: f64,
        /// Steps per decay.
        decay_steps: u64,
        /// Factor per `decay_steps`.
        decay_rate: f64,
        /// Decay in whole intervals.
        staircase: bool,
    },
    /// `values[i]` while `boundaries[i-1] < step ≤ boundaries[i]`.
    PiecewiseConstantDecay {
        /// Step boundaries, increasing.
        boundaries: Vec<i64>,
        /// One more value than boundaries.
        values: Vec<f64>,
    },
    /// Cosine decay from `initial_learning_rate` to `alpha·initial_learning_rate` over
    /// `decay_steps`, after an optional linear warm-up to `warmup_target`.
    CosineDecay {
        /// Start value.
        initial_learning_rate: f64,
        /// Steps of the decay.
        decay_steps: u64,
        /// Final fraction.
        alpha: f64,
        /// Warm-up end value (`None`: no warm-up).
        warmup_target: Option<f64>,
        /// Warm-up length.
        warmup_steps: u64,
    },
}

impl LearningRateSchedule {
    /// `ExponentialDecay(initial_learning_rate, decay_steps, decay_rate, staircase)`.
    pub fn exponential_decay(
        initial_learning_rate: f64,
        decay_steps: u64,
        decay_rate: f64,
        staircase: bool,
    ) -> Result<LearningRateSchedule> {
        if decay_steps == 0 {
            return Err(bad("ExponentialDecay", "decay_steps", "> 0", 0));
        }
        Ok(LearningRateSchedule::ExponentialDecay {
            initial_learning_rate,
            decay_steps,
            decay_rate,
            staircase,
        })
    }

    /// `PiecewiseConstantDecay(boundaries, values)`.
    pub fn piecewise_constant_decay(boundaries: &[i64], values: &[f64]) -> Result<LearningRateSchedule> {
        if boundaries.len() + 1 != values.len() || boundaries.is_empty() {
            return Err(KerasError::Invalid(format!(
                "PiecewiseConstantDecay: the length of boundaries should be 1 less than the length of values. \
                 Received: boundaries={boundaries:?} of length {}, and values={values:?} of length {}.",
                boundaries.len(),
                values.len()
            )));
        }
        Ok(LearningRateSchedule::PiecewiseConstantDecay {
            boundaries: boundaries.to_vec(),
            values: values.to_vec(),
        })
    }

    /// `CosineDecay(initial_learning_rate, decay_steps, alpha=0)`, no warm-up.
    pub fn cosine_decay(initial_learning_rate: f64, decay_steps: u64, alpha: f64) -> Result<LearningRateSchedule> {
        if decay_steps == 0 {
            return Err(bad("CosineDecay", "decay_steps", "> 0", 0));
        }
        Ok(LearningRateSchedule::CosineDecay {
            initial_learning_rate,
            decay_steps,
            alpha,
            warmup_target: None,
            warmup_steps: 0,
        })
    }

    /// Adds a linear warm-up (`CosineDecay` only).
    pub fn with_warmup(self, warmup_target: f64, warmup_steps: u64) -> Result<LearningRateSchedule> {
        match self {
            LearningRateSchedule::CosineDecay {
                initial_learning_rate,
                decay_steps,
                alpha,
                ..
            } => Ok(LearningRateSchedule::CosineDecay {
                initial_learning_rate,
                decay_steps,
                alpha,
                warmup_target: Some(warmup_target),
                warmup_steps,
            }),
            other => Err(KerasError::Invalid(format!(
                "{}: warm-up is an argument of CosineDecay only",
                other.class_name()
            ))),
        }
    }

    /// Keras class name.
    pub fn class_name(&self) -> &'static str {
        match self {
            LearningRateSchedule::ExponentialDecay { .. } => "ExponentialDecay",
            LearningRateSchedule::PiecewiseConstantDecay { .. } => "PiecewiseConstantDecay",
            LearningRateSchedule::CosineDecay { .. } => "CosineDecay",
        }
    }

    /// The learning rate at `step`, computed in f32 as Keras's ops.
    pub fn at(&self, step: i64) -> f32 {
        match self {
            LearningRateSchedule::ExponentialDecay {
                initial_learning_rate,
                decay_steps,
                decay_rate,
                staircase,
            } => {
                let mut p = step as f32 / *decay_steps as f32;
                if *staircase {
                    p = p.floor();
                }
                *initial_learning_rate as f32 * (*decay_rate as f32).powf(p)
            }
            LearningRateSchedule::PiecewiseConstantDecay { boundaries, values } => {
                let (first, last) = (boundaries[0], boundaries[boundaries.len() - 1]);
                if step <= first {
                    return values[0] as f32;
                }
                if step > last {
                    return values[values.len() - 1] as f32;
                }
                for (i, w) in boundaries.windows(2).enumerate() {
                    if step > w[0] && step <= w[1] {
                        return values[i + 1] as f32;
                    }
                }
                0.0
            }
            LearningRateSchedule::CosineDecay {
                initial_learning_rate,
                decay_steps,
                alpha,
                warmup_target,
                warmup_steps,
            } => {
                let init = *initial_learning_rate as f32;
                let decay_steps = *decay_steps as f32;
                let decay = |step: f32, from: f32| {
                    let fraction = step / decay_steps;
                    let cosine = 0.5 * (1.0 + (std::f32::consts::PI * fraction).cos());
                    let decayed = (1.0 - *alpha as f32) * cosine + *alpha as f32;
                    from * decayed
                };
                let step = step as f32;
                match warmup_target {
                    None => decay(step.min(decay_steps), init),
                    Some(target) => {
                        let target = *target as f32;
                        let warmup = *warmup_steps as f32;
                        let step = step.min(decay_steps + warmup);
                        if step < warmup {
                            (target - init) * (step / warmup) + init
                        } else {
                            decay(step - warmup, target)
                        }
                    }
                }
            }
        }
    }

    /// Keras's serialized form (`{"module": "keras.optimizers.schedules", "class_name", "config"}`).
    pub fn to_keras(&self) -> Value {
        let config = match self {
            LearningRateSchedule::ExponentialDecay {
                initial_learning_rate,
                decay_steps,
                decay_rate,
                staircase,
            } => json!({
                "initial_learning_rate": initial_learning_rate, "decay_steps": decay_steps,
                "decay_rate": decay_rate, "staircase": staircase, "name": "ExponentialDecay"
            }),
            LearningRateSchedule::PiecewiseConstantDecay { boundaries, values } => {
                json!({"boundaries": boundaries, "values": values, "name": "PiecewiseConstant"})
            }
            LearningRateSchedule::CosineDecay {
                initial_learning_rate,
                decay_steps,
                alpha,
                warmup_target,
                warmup_steps,
            } => json!({
                "initial_learning_rate": initial_learning_rate, "decay_steps": decay_steps, "alpha": alpha,
                "name": "CosineDecay", "warmup_target": warmup_target, "warmup_steps": warmup_steps
            }),
        };
        keras_object("keras.optimizers.schedules", self.class_name(), config)
    }

    /// From Keras's serialized form.
    pub fn from_keras(v: &Value) -> Result<LearningRateSchedule> {
        let class = v.get("class_name").and_then(Value::as_str).unwrap_or("");
        let cfg = v.get("config").cloned().unwrap_or(json!({}));
        let num = |k: &str| cfg.get(k).and_then(Value::as_f64);
        let int = |k: &str| cfg.get(k).and_then(Value::as_u64);
        let need = |k: &str, x: Option<f64>| {
            x.ok_or_else(|| KerasError::Config(format!("{class}: missing or non-numeric `{k}`")))
        };
        match class {
            "ExponentialDecay" => LearningRateSchedule::exponential_decay(
                need("initial_learning_rate", num("initial_learning_rate"))?,
                need("decay_steps", num("decay_steps"))? as u64,
                need("decay_rate", num("decay_rate"))?,
                cfg.get("staircase").and_then(Value::as_bool).unwrap_or(false),
            ),
            "PiecewiseConstantDecay" => {
                let list = |k: &str| -> Result<Vec<f64>> {
                    cfg.get(k)
                        .and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(Value::as_f64).collect())
                        .ok_or_else(|| KerasError::Config(format!("{class}: missing `{k}` list")))
                };
                let b: Vec<i64> = list("boundaries")?.iter().map(|&x| x as i64).collect();
                LearningRateSchedule::piecewise_constant_decay(&b, &list("values")?)
            }
            "CosineDecay" => {
                let s = LearningRateSchedule::cosine_decay(
                    need("initial_learning_rate", num("initial_learning_rate"))?,
                    need("decay_steps", num("decay_steps"))? as u64,
                    num("alpha").unwrap_or(0.0),
                )?;
                match num("warmup_target") {
                    Some(t) => s.with_warmup(t, int("warmup_steps").unwrap_or(0)),
                    None => Ok(s),
                }
            }
            other => Err(KerasError::Config(format!(
                "unknown learning-rate schedule `{other}`: expected ExponentialDecay, PiecewiseConstantDecay or CosineDecay"
            ))),
        }
    }
}

fn bad(class: &str, arg: &str, expected: &str, received: impl std::fmt::Display) -> KerasError {
    crate::error::arg_error(class, arg, expected, received)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_decay_matches_formula() {
        let s = LearningRateSchedule::exponential_decay(0.1, 10, 0.5, false).unwrap();
        assert!((s.at(0) - 0.1).abs() < 1e-8);
        assert!((s.at(5) - 0.1 * 0.5f32.powf(0.5)).abs() < 1e-7);
        let st = LearningRateSchedule::exponential_decay(0.1, 10, 0.5, true).unwrap();
        assert_eq!(st.at(9), 0.1);
        assert!((st.at(10) - 0.05).abs() < 1e-8);
    }

    #[test]
    fn piecewise_constant_uses_half_open_intervals() {
        let s = LearningRateSchedule::piecewise_constant_decay(&[10, 20], &[1.0, 0.5, 0.1]).unwrap();
        assert_eq!(
            [s.at(0), s.at(10), s.at(11), s.at(20), s.at(21)],
            [1.0, 1.0, 0.5, 0.5, 0.1f32]
        );
        assert!(LearningRateSchedule::piecewise_constant_decay(&[10], &[1.0]).is_err());
    }

    #[test]
    fn cosine_decay_ends_at_alpha() {
        let s = LearningRateSchedule::cosine_decay(1.0, 100, 0.1).unwrap();
        assert_eq!(s.at(0), 1.0);
        assert!((s.at(50) - 0.55).abs() < 1e-6);
        assert!((s.at(1000) - 0.1).abs() < 1e-6);
        let w = s.with_warmup(2.0, 10).unwrap();
        assert!((w.at(5) - 1.5).abs() < 1e-6);
        assert!((w.at(10) - 2.0).abs() < 1e-6);
    }

    #[test]
    fn keras_json_round_trip() {
        for s in [
            LearningRateSchedule::exponential_decay(0.1, 10, 0.5, true).unwrap(),
            LearningRateSchedule::piecewise_constant_decay(&[10, 20], &[1.0, 0.5, 0.1]).unwrap(),
            LearningRateSchedule::cosine_decay(1.0, 100, 0.1)
                .unwrap()
                .with_warmup(2.0, 10)
                .unwrap(),
        ] {
            assert_eq!(LearningRateSchedule::from_keras(&s.to_keras()).unwrap(), s);
        }
    }
}
