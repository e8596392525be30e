//! Keras weight regularizers `l1`, `l2`, `l1_l2` (Keras 3 defaults 0.01). Their penalty is a
//! tape value, so the fit loop adds it to the loss and its gradient flows.

use crate::config::{keras_object, short};
use crate::error::{KerasError, Result};
use serde_json::{json, Value};
use tensor::{Tape, Var};

/// A weight regularizer: `l1·Σ|w| + l2·Σw²`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Regularizer {
    /// L1 factor.
    pub l1: f64,
    /// L2 factor.
    pub l2: f64,
}

impl Regularizer {
    /// `L1(l1)`.
    pub fn l1(l1: f64) -> Regularizer {
        Regularizer { l1, l2: 0.0 }
    }

    /// `L2(l2)`.
    pub fn l2(l2: f64) -> Regularizer {
        Regularizer { l1: 0.0, l2 }
    }

    /// `L1L2(l1, l2)`.
    pub fn l1_l2(l1: f64, l2: f64) -> Regularizer {
        Regularizer { l1, l2 }
    }

    /// From Keras JSON: `"l2"` or `{"class_name": "L2", "config": {"l2": 0.001}}`.
    pub fn from_keras(layer: &str, arg: &str, v: &Value) -> Result<Regularizer> {
        let bad = |what: String| KerasError::Argument {
            layer: layer.to_string(),
            arg: arg.to_string(),
            expected: "one of l1, l2, l1_l2 (or L1, L2, L1L2 objects)".into(),
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
            "l1" | "L1" => Ok(Regularizer::l1(num("l1", 0.01))),
            "l2" | "L2" => Ok(Regularizer::l2(num("l2", 0.01))),
            "l1_l2" | "L1L2" => Ok(Regularizer::l1_l2(num("l1", 0.01), num("l2", 0.01))),
            other => Err(bad(other.to_string())),
        }
    }

    /// Keras 3 JSON.
    pub fn to_keras(&self) -> Value {
        if self.l1 == 0.0 {
            keras_object("keras.regularizers", "L2", json!({ "l2": self.l2 }))
        } else if self.l2 == 0.0 {
            keras_object("keras.regularizers", "L1", json!({ "l1": self.l1 }))
        } else {
            keras_object("keras.regularizers", "L1L2", json!({ "l1": self.l1, "l2": self.l2 }))
        }
    }

    /// The penalty of one weight on the tape.
    pub fn penalty(&self, tape: &mut Tape, w: Var) -> Result<Var> {
        let mut terms = Vec::new();
        if self.l1 != 0.0 {
            let a = tape.abs(w)?;
            let s = tape.sum_all(a)?;
            terms.push(tape.scale(s, self.l1 as f32)?);
        }
        if self.l2 != 0.0 {
            let q = tape.square(w)?;
            let s = tape.sum_all(q)?;
            terms.push(tape.scale(s, self.l2 as f32)?);
        }
        let mut total = match terms.pop() {
            Some(t) => t,
            None => tape.constant(tensor::Tensor::scalar(0.0)),
        };
        for t in terms {
            total = tape.add(total, t)?;
        }
        Ok(total)
    }

    /// The penalty of plain values (for reports and tests).
    pub fn value(&self, w: &[f32]) -> f64 {
        w.iter()
            .map(|&x| self.l1 * (x as f64).abs() + self.l2 * (x as f64).powi(2))
            .sum()
    }
}
