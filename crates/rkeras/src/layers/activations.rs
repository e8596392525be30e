//! Activation layers with arguments: `ReLU(max_value, negative_slope, threshold)`,
//! `LeakyReLU(negative_slope=0.3)`, `Softmax(axis=-1)`, `ELU(alpha=1)`. No weights; the output
//! shape is the input shape.
//!
//! ```
//! use rkeras::prelude::*;
//! clear_session();
//! let x = Input(&[5, 5, 3]).unwrap();
//! let y = ReLU::new().max_value(6.0).call(&x).unwrap();
//! assert_eq!(y.shape(), x.shape());
//! ```

use super::common::{config_name, layer_core, opt_setters, resolve_axis, setters, single, LayerCore};
use super::{CallCtx, Layer, LayerConfig};
use crate::config::ConfigReader;
use crate::error::{arg_error, in_layer, shape_error, Result};
use crate::kshape::{format_shape, Shape};
use crate::model::plan::{InferenceOp, PlanAct};
use serde_json::{json, Value};
use tensor::kernels::act::ActSpec;
use tensor::{Rng, Var};

/// Which activation an [`ActivationLayer`] computes, with its arguments.
#[derive(Debug, Clone, PartialEq)]
pub enum ActivationOp {
    /// `ReLU(max_value, negative_slope, threshold)`.
    ReLU {
        /// Upper clip (`None`: unbounded).
        max_value: Option<f64>,
        /// Slope below the threshold.
        negative_slope: f64,
        /// Values above it pass.
        threshold: f64,
    },
    /// `LeakyReLU(negative_slope)`.
    LeakyReLU {
        /// Slope for negative inputs.
        negative_slope: f64,
    },
    /// `Softmax(axis)`.
    Softmax {
        /// The normalized axis (negative counts from the end).
        axis: isize,
    },
    /// `ELU(alpha)`.
    ELU {
        /// Scale of the negative part.
        alpha: f64,
    },
}

impl ActivationOp {
    fn class_name(&self) -> &'static str {
        match self {
            ActivationOp::ReLU { .. } => "ReLU",
            ActivationOp::LeakyReLU { .. } => "LeakyReLU",
            ActivationOp::Softmax { .. } => "Softmax",
            ActivationOp::ELU { .. } => "ELU",
        }
    }

    /// Keras's `__init__` checks (ReLU's and LeakyReLU's messages).
    fn validate(&self, layer: &str) -> Result<()> {
        let non_negative = |arg: &str, v: f64| {
            if v.is_nan() || v < 0.0 {
                Err(arg_error(layer, arg, "a non-negative number", v))
            } else {
                Ok(())
            }
        };
        match *self {
            ActivationOp::ReLU {
                max_value,
                negative_slope,
                threshold,
            } => {
                if let Some(m) = max_value {
                    if m.is_nan() || m < 0.0 {
                        return Err(arg_error(layer, "max_value", "a non-negative number or None", m));
                    }
                }
                non_negative("negative_slope", negative_slope)?;
                non_negative("threshold", threshold)
            }
            ActivationOp::LeakyReLU { negative_slope } => non_negative("negative_slope", negative_slope),
            ActivationOp::ELU { alpha } if !alpha.is_finite() => {
                Err(arg_error(layer, "alpha", "a finite number", alpha))
            }
            _ => Ok(()),
        }
    }

    /// The keys after Keras's base config, in Keras 3's order.
    fn config_entries(&self) -> Vec<(&'static str, Value)> {
        match *self {
            ActivationOp::ReLU {
                max_value,
                negative_slope,
                threshold,
            } => {
                vec![
                    ("max_value", json!(max_value)),
                    ("negative_slope", json!(negative_slope)),
                    ("threshold", json!(threshold)),
                ]
            }
            ActivationOp::LeakyReLU { negative_slope } => vec![("negative_slope", json!(negative_slope))],
            ActivationOp::Softmax { axis } => vec![("axis", json!(axis))],
            ActivationOp::ELU { alpha } => vec![("alpha", json!(alpha))],
        }
    }
}

/// The config of `ReLU`, `LeakyReLU`, `Softmax` and `ELU`.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivationLayerConfig {
    /// Name; automatic (`re_lu`, `leaky_re_lu`, `softmax`, `elu`, …) when `None`.
    pub name: Option<String>,
    /// Keras's flag (no weights, so it changes nothing).
    pub trainable: bool,
    /// The function and its arguments.
    pub op: ActivationOp,
}

/// A built activation layer.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivationLayer {
    core: LayerCore,
    op: ActivationOp,
}

/// `keras.layers.ReLU`.
pub struct ReLU;
/// `keras.layers.LeakyReLU`.
pub struct LeakyReLU;
/// `keras.layers.Softmax`.
pub struct Softmax;
/// `keras.layers.ELU`.
pub struct ELU;

fn config(op: ActivationOp) -> ActivationLayerConfig {
    ActivationLayerConfig {
        name: None,
        trainable: true,
        op,
    }
}

impl ReLU {
    /// `ReLU()`: `max(x, 0)`; see [`ActivationLayerConfig::max_value`] and friends.
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> ActivationLayerConfig {
        config(ActivationOp::ReLU {
            max_value: None,
            negative_slope: 0.0,
            threshold: 0.0,
        })
    }
}

impl LeakyReLU {
    /// `LeakyReLU(negative_slope=0.3)`.
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> ActivationLayerConfig {
        config(ActivationOp::LeakyReLU { negative_slope: 0.3 })
    }
}

impl Softmax {
    /// `Softmax(axis=-1)`.
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> ActivationLayerConfig {
        config(ActivationOp::Softmax { axis: -1 })
    }
}

impl ELU {
    /// `ELU(alpha=1.0)`.
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> ActivationLayerConfig {
        config(ActivationOp::ELU { alpha: 1.0 })
    }
}

impl ActivationLayerConfig {
    setters!(trainable: bool);
    opt_setters!(name: String);

    /// ReLU's upper clip (`ReLU(max_value=6)` is ReLU6).
    pub fn max_value(mut self, v: f64) -> Self {
        if let ActivationOp::ReLU { max_value, .. } = &mut self.op {
            *max_value = Some(v);
        }
        self
    }

    /// The slope below zero (ReLU below its threshold), for ReLU and LeakyReLU.
    pub fn negative_slope(mut self, v: f64) -> Self {
        if let ActivationOp::ReLU { negative_slope, .. } | ActivationOp::LeakyReLU { negative_slope } = &mut self.op {
            *negative_slope = v;
        }
        self
    }

    /// ReLU's threshold: values at or below it are not passed.
    pub fn threshold(mut self, v: f64) -> Self {
        if let ActivationOp::ReLU { threshold, .. } = &mut self.op {
            *threshold = v;
        }
        self
    }

    /// Softmax's axis.
    pub fn axis(mut self, v: isize) -> Self {
        if let ActivationOp::Softmax { axis } = &mut self.op {
            *axis = v;
        }
        self
    }

    /// ELU's alpha.
    pub fn alpha(mut self, v: f64) -> Self {
        if let ActivationOp::ELU { alpha } = &mut self.op {
            *alpha = v;
        }
        self
    }

    /// Reads a Keras 3 or tf-keras 2 config of `ReLU`, `LeakyReLU` (tf-keras 2 calls its slope
    /// `alpha`), `Softmax` or `ELU`; the class comes from the reader.
    pub fn from_keras(r: &ConfigReader) -> Result<ActivationLayerConfig> {
        r.check_dtype()?;
        let op = match r.class_name {
            "ReLU" => ActivationOp::ReLU {
                max_value: r.f64("max_value")?,
                negative_slope: r.f64("negative_slope")?.unwrap_or(0.0),
                threshold: r.f64("threshold")?.unwrap_or(0.0),
            },
            "LeakyReLU" => ActivationOp::LeakyReLU {
                negative_slope: r.f64("negative_slope")?.or(r.f64("alpha")?).unwrap_or(0.3),
            },
            "Softmax" => ActivationOp::Softmax { axis: read_axis(r)? },
            "ELU" => ActivationOp::ELU {
                alpha: r.f64("alpha")?.unwrap_or(1.0),
            },
            other => {
                return Err(arg_error(
                    &r.layer,
                    "class_name",
                    "one of ReLU, LeakyReLU, Softmax, ELU",
                    other,
                ))
            }
        };
        op.validate(&r.layer)?;
        Ok(ActivationLayerConfig {
            name: r.name(),
            trainable: r.trainable()?,
            op,
        })
    }
}

/// Softmax's `axis`: an integer, or a list of one (Keras accepts a tuple of axes; rkeras
/// normalizes over one axis only).
fn read_axis(r: &ConfigReader) -> Result<isize> {
    match r.get("axis") {
        None => Ok(-1),
        Some(Value::Array(a)) if a.len() == 1 => a[0]
            .as_i64()
            .map(|v| v as isize)
            .ok_or_else(|| arg_error(&r.layer, "axis", "an integer", crate::config::short(&a[0]))),
        Some(Value::Array(a)) => Err(arg_error(
            &r.layer,
            "axis",
            "one axis (rkeras's Softmax normalizes over a single axis)",
            crate::config::short(&Value::Array(a.clone())),
        )),
        Some(_) => Ok(r.isize("axis")?.unwrap_or(-1)),
    }
}

impl LayerConfig for ActivationLayerConfig {
    fn class_name(&self) -> &'static str {
        self.op.class_name()
    }
    config_name!();
    fn build(&self, name: &str, inputs: &[Shape], _rng: &mut Rng) -> Result<Box<dyn Layer>> {
        self.op.validate(name)?;
        let input = single(name, inputs)?;
        if let ActivationOp::Softmax { axis } = self.op {
            resolve_axis(name, axis, input)?;
        }
        Ok(Box::new(ActivationLayer {
            core: LayerCore::new(name, self.trainable, Vec::new()),
            op: self.op.clone(),
        }))
    }
}

impl Layer for ActivationLayer {
    layer_core!();
    fn inference_op(&self) -> Option<InferenceOp> {
        let act = match self.op {
            ActivationOp::ReLU {
                max_value,
                negative_slope,
                threshold,
            } => PlanAct::Elementwise(ActSpec::relu_general(
                negative_slope as f32,
                max_value.map(|m| m as f32),
                threshold as f32,
            )?),
            ActivationOp::LeakyReLU { negative_slope } => {
                PlanAct::Elementwise(ActSpec::relu_general(negative_slope as f32, None, 0.0)?)
            }
            ActivationOp::Softmax { axis: -1 } => PlanAct::Softmax,
            ActivationOp::Softmax { .. } | ActivationOp::ELU { .. } => return None,
        };
        Some(InferenceOp::Activation(act))
    }
    fn class_name(&self) -> &str {
        self.op.class_name()
    }
    fn compute_output_shape(&self, inputs: &[Shape]) -> Result<Vec<Shape>> {
        let input = single(&self.core.name, inputs)?;
        if let ActivationOp::Softmax { axis } = self.op {
            let rank = input.len() as isize;
            if axis >= rank || axis < -rank {
                return Err(shape_error(
                    &self.core.name,
                    format!("axis {axis} is out of bounds for input shape {}", format_shape(input)),
                ));
            }
        }
        Ok(vec![input.clone()])
    }
    fn call(&self, ctx: &mut CallCtx, inputs: &[Var], weights: &[Var]) -> Result<Vec<Var>> {
        let x = self.core.input(inputs, weights)?;
        let err = in_layer(&self.core.name);
        let y = match self.op {
            ActivationOp::ReLU {
                max_value,
                negative_slope,
                threshold,
            } => ctx
                .tape
                .relu_general(x, negative_slope as f32, max_value.map(|m| m as f32), threshold as f32),
            ActivationOp::LeakyReLU { negative_slope } => ctx.tape.leaky_relu(x, negative_slope as f32),
            ActivationOp::Softmax { axis } => ctx.tape.softmax(x, axis),
            ActivationOp::ELU { alpha } => ctx.tape.elu(x, alpha as f32),
        }
        .map_err(err)?;
        Ok(vec![y])
    }
    fn config(&self) -> Value {
        Value::Object(self.core.config_with(None, self.op.config_entries()))
    }
    fn explain(&self, _inputs: &[Shape]) -> Vec<String> {
        let what = match self.op {
            ActivationOp::ReLU {
                max_value,
                negative_slope,
                threshold,
            } => {
                let top = max_value.map_or("x".to_string(), |m| format!("min(x, {m})"));
                format!("f(x) = {top} for x > {threshold}, else {negative_slope}·(x − {threshold})")
            }
            ActivationOp::LeakyReLU { negative_slope } => format!("f(x) = x for x > 0, else {negative_slope}·x"),
            ActivationOp::Softmax { axis } => format!("softmax over axis {axis}"),
            ActivationOp::ELU { alpha } => format!("f(x) = x for x > 0, else {alpha}·(eˣ − 1)"),
        };
        vec![format!("no parameters; {what}; output shape = input shape")]
    }
}

#[cfg(test)]
#[path = "activations_tests.rs"]
mod tests;
