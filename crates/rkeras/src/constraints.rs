//! Keras weight constraints, applied to a weight after each optimizer update:
//! `max_norm`, `non_neg`, `unit_norm`, `min_max_norm`. Norms are taken over `axis`
//! (Keras default 0; for a conv kernel `(kh, kw, in, out)` Keras users pass `[0, 1, 2]`).

use crate::config::{keras_object, short};
use crate::error::{KerasError, Result};
use serde_json::{json, Value};
use tensor::Tensor;

/// A weight constraint (fields are Keras's arguments).
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq)]
pub enum Constraint {
    /// `MaxNorm(max_value=2, axis=0)`.
    MaxNorm { max_value: f64, axis: Vec<isize> },
    /// `NonNeg()`.
    NonNeg,
    /// `UnitNorm(axis=0)`.
    UnitNorm { axis: Vec<isize> },
    /// `MinMaxNorm(min_value=0, max_value=1, rate=1, axis=0)`.
    MinMaxNorm {
        min_value: f64,
        max_value: f64,
        rate: f64,
        axis: Vec<isize>,
    },
}

fn axes(cfg: &Value) -> Vec<isize> {
    match cfg.get("axis") {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_i64).map(|v| v as isize).collect(),
        Some(v) => v.as_i64().map_or(vec![0], |x| vec![x as isize]),
        None => vec![0],
    }
}

impl Constraint {
    /// From Keras JSON: a name or `{"class_name", "config"}`.
    pub fn from_keras(layer: &str, arg: &str, v: &Value) -> Result<Constraint> {
        let bad = |what: String| KerasError::Argument {
            layer: layer.to_string(),
            arg: arg.to_string(),
            expected: "one of max_norm, non_neg, unit_norm, min_max_norm".into(),
            received: what,
        };
        let (class, cfg) = match v {
            Value::String(s) => (s.as_str(), json!({})),
            Value::Object(o) => (
                o.get("class_name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad(short(v)))?,
                o.get("config").cloned().unwrap_or(json!({})),
            ),
            _ => return Err(bad(short(v))),
        };
        let num = |k: &str, d: f64| cfg.get(k).and_then(Value::as_f64).unwrap_or(d);
        match class {
            "max_norm" | "MaxNorm" => Ok(Constraint::MaxNorm {
                max_value: num("max_value", 2.0),
                axis: axes(&cfg),
            }),
            "non_neg" | "NonNeg" => Ok(Constraint::NonNeg),
            "unit_norm" | "UnitNorm" => Ok(Constraint::UnitNorm { axis: axes(&cfg) }),
            "min_max_norm" | "MinMaxNorm" => Ok(Constraint::MinMaxNorm {
                min_value: num("min_value", 0.0),
                max_value: num("max_value", 1.0),
                rate: num("rate", 1.0),
                axis: axes(&cfg),
            }),
            other => Err(bad(other.to_string())),
        }
    }

    /// Keras 3 JSON.
    pub fn to_keras(&self) -> Value {
        match self {
            Constraint::MaxNorm { max_value, axis } => keras_object(
                "keras.constraints",
                "MaxNorm",
                json!({"max_value": max_value, "axis": axis_json(axis)}),
            ),
            Constraint::NonNeg => keras_object("keras.constraints", "NonNeg", json!({})),
            Constraint::UnitNorm { axis } => {
                keras_object("keras.constraints", "UnitNorm", json!({"axis": axis_json(axis)}))
            }
            Constraint::MinMaxNorm {
                min_value,
                max_value,
                rate,
                axis,
            } => keras_object(
                "keras.constraints",
                "MinMaxNorm",
                json!({"min_value": min_value, "max_value": max_value, "rate": rate, "axis": axis_json(axis)}),
            ),
        }
    }

    /// Applies the constraint to a weight in place.
    pub fn apply(&self, w: &mut Tensor) {
        let axis = match self {
            Constraint::NonNeg => {
                for v in w.data_mut() {
                    if *v < 0.0 {
                        *v = 0.0;
                    }
                }
                return;
            }
            Constraint::MaxNorm { axis, .. } | Constraint::UnitNorm { axis } | Constraint::MinMaxNorm { axis, .. } => {
                axis
            }
        };
        let shape = w.shape().to_vec();
        let rank = shape.len() as isize;
        let reduce: Vec<bool> = (0..shape.len())
            .map(|d| axis.iter().any(|&a| (if a < 0 { a + rank } else { a }) == d as isize))
            .collect();
        // Group elements by their coordinates on the kept axes; norm over the reduced ones.
        let strides = tensor::tensor::strides_of(&shape);
        let key_of = |i: usize| -> usize {
            let mut key = 0;
            for d in 0..shape.len() {
                if !reduce[d] {
                    key = key * shape[d] + (i / strides[d]) % shape[d];
                }
            }
            key
        };
        let groups: usize = (0..shape.len()).filter(|&d| !reduce[d]).map(|d| shape[d]).product();
        let mut sq = vec![0.0f64; groups.max(1)];
        for (i, v) in w.data().iter().enumerate() {
            sq[key_of(i)] += (*v as f64).powi(2);
        }
        let eps = 1e-7;
        let factor: Vec<f64> = sq
            .iter()
            .map(|s| {
                let norm = s.sqrt();
                match self {
                    Constraint::MaxNorm { max_value, .. } => norm.clamp(0.0, *max_value) / (eps + norm),
                    Constraint::UnitNorm { .. } => 1.0 / (eps + norm),
                    Constraint::MinMaxNorm {
                        min_value,
                        max_value,
                        rate,
                        ..
                    } => {
                        let desired = rate * norm.clamp(*min_value, *max_value) + (1.0 - rate) * norm;
                        desired / (eps + norm)
                    }
                    Constraint::NonNeg => 1.0,
                }
            })
            .collect();
        for i in 0..w.len() {
            let f = factor[key_of(i)];
            let d = w.data_mut();
            d[i] = (d[i] as f64 * f) as f32;
        }
    }
}

fn axis_json(axis: &[isize]) -> Value {
    if axis.len() == 1 {
        json!(axis[0])
    } else {
        json!(axis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_norm_scales_columns_over_limit() {
        // Columns (axis 0 reduced): [3, 4] has norm 5 → scaled to 2; [0.3, 0.4] kept.
        let mut w = Tensor::new(&[2, 2], vec![3.0, 0.3, 4.0, 0.4]).unwrap();
        Constraint::MaxNorm {
            max_value: 2.0,
            axis: vec![0],
        }
        .apply(&mut w);
        assert!((w.data()[0] - 1.2).abs() < 1e-5 && (w.data()[2] - 1.6).abs() < 1e-5);
        assert!((w.data()[1] - 0.3).abs() < 1e-5);
    }

    #[test]
    fn non_neg_and_unit_norm() {
        let mut w = Tensor::new(&[3], vec![-1.0, 2.0, 0.0]).unwrap();
        Constraint::NonNeg.apply(&mut w);
        assert_eq!(w.data(), &[0.0, 2.0, 0.0]);
        let mut u = Tensor::new(&[2, 1], vec![3.0, 4.0]).unwrap();
        Constraint::UnitNorm { axis: vec![0] }.apply(&mut u);
        assert!((u.data()[0] - 0.6).abs() < 1e-5);
    }

    #[test]
    fn json_round_trip() {
        for c in [
            Constraint::MaxNorm {
                max_value: 3.0,
                axis: vec![0, 1, 2],
            },
            Constraint::NonNeg,
            Constraint::UnitNorm { axis: vec![0] },
            Constraint::MinMaxNorm {
                min_value: 0.5,
                max_value: 1.5,
                rate: 1.0,
                axis: vec![0],
            },
        ] {
            assert_eq!(
                Constraint::from_keras("l", "kernel_constraint", &c.to_keras()).unwrap(),
                c
            );
        }
    }
}
