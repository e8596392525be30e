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

use super::common::{config_name, layer_core, opt_setters, setters, single, LayerCore};
use super::{CallCtx, Layer, LayerConfig};
use crate::config::ConfigReader;
use crate::error::{arg_error, in_layer, shape_error, Result};
use crate::kshape::{format_shape, Shape};
use serde_json::{json, Value};
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
            let rank = input.len() as isize;
            if axis >= rank || axis < -rank {
                return Err(arg_error(
                    name,
                    "axis",
                    format!(
                        "an axis in [{}, {}) for input shape {}",
                        -rank,
                        rank,
                        format_shape(input)
                    ),
                    axis,
                ));
            }
        }
        Ok(Box::new(ActivationLayer {
            core: LayerCore::new(name, self.trainable, Vec::new()),
            op: self.op.clone(),
        }))
    }
}

impl Layer for ActivationLayer {
    layer_core!();
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
mod tests {
    use super::*;
    use crate::kshape::batched;
    use crate::layers::test_util::{build, err, grad_check, run};
    use tensor::Tensor;

    fn apply(cfg: &ActivationLayerConfig, x: &[f32]) -> Vec<f32> {
        let l = build(cfg, "l", batched(&[x.len()])).unwrap();
        run(l.as_ref(), &[Tensor::new(&[1, x.len()], x.to_vec()).unwrap()], false)
            .unwrap()
            .out[0]
            .data()
            .to_vec()
    }

    #[test]
    fn relu_arguments_like_keras_examples() {
        // Keras's docstring: on [-10, -5, 0, 5, 10].
        let x = [-10.0, -5.0, 0.0, 5.0, 10.0];
        assert_eq!(apply(&ReLU::new(), &x), vec![0.0, 0.0, 0.0, 5.0, 10.0]);
        assert_eq!(
            apply(&ReLU::new().negative_slope(0.5), &x),
            vec![-5.0, -2.5, 0.0, 5.0, 10.0]
        );
        assert_eq!(apply(&ReLU::new().max_value(5.0), &x), vec![0.0, 0.0, 0.0, 5.0, 5.0]);
        assert_eq!(apply(&ReLU::new().threshold(5.0), &x), vec![0.0, 0.0, 0.0, 0.0, 10.0]);
        assert_eq!(
            apply(&ReLU::new().max_value(6.0), &[-1.0, 3.0, 7.0]),
            vec![0.0, 3.0, 6.0]
        );
        assert_eq!(apply(&LeakyReLU::new(), &[-1.0, 2.0]), vec![-0.3, 2.0]);
        assert_eq!(apply(&ELU::new().alpha(2.0), &[0.0, 1.0]), vec![0.0, 1.0]);
        let s = apply(&Softmax::new(), &[0.0, 0.0]);
        assert!((s[0] - 0.5).abs() < 1e-7 && (s[1] - 0.5).abs() < 1e-7);
    }

    #[test]
    fn invalid_arguments_name_layer_and_argument() {
        let e = err(build(&ReLU::new().max_value(-1.0), "re_lu_2", batched(&[3])));
        assert_eq!(
            e,
            "re_lu_2: argument `max_value`: expected a non-negative number or None. Received: max_value=-1"
        );
        let e = err(build(&ReLU::new().negative_slope(-0.1), "re_lu", batched(&[3])));
        assert!(e.contains("`negative_slope`") && e.contains("-0.1"), "{e}");
        let e = err(build(&ReLU::new().threshold(-2.0), "re_lu", batched(&[3])));
        assert!(e.contains("`threshold`"), "{e}");
        let e = err(build(
            &LeakyReLU::new().negative_slope(-1.0),
            "leaky_re_lu",
            batched(&[3]),
        ));
        assert!(e.starts_with("leaky_re_lu: argument `negative_slope`"), "{e}");
        let e = err(build(&Softmax::new().axis(3), "softmax", batched(&[3, 4])));
        assert!(
            e.starts_with("softmax: argument `axis`") && e.contains("(None, 3, 4)") && e.ends_with("axis=3"),
            "{e}"
        );
    }

    #[test]
    fn json_keras3_and_keras2() {
        // k_relu6.k2.json / .k3.json.
        let k2 = json!({"name": "re_lu", "trainable": true, "dtype": "float32", "max_value": 6.0, "negative_slope": 0.0, "threshold": 0.0});
        let c = ActivationLayerConfig::from_keras(&ConfigReader::new("ReLU", &k2).unwrap()).unwrap();
        let l = build(&c, "re_lu", batched(&[5, 5, 3])).unwrap();
        let j = l.config();
        assert_eq!(j["max_value"], json!(6.0));
        assert_eq!(j["dtype"]["config"]["name"], json!("float32"));
        for (class, cfg) in [
            ("ReLU", ReLU::new()),
            ("LeakyReLU", LeakyReLU::new().negative_slope(0.1)),
            ("Softmax", Softmax::new().axis(1)),
            ("ELU", ELU::new()),
        ] {
            let j = build(&cfg, "x", batched(&[3, 2])).unwrap().config();
            let back = ActivationLayerConfig::from_keras(&ConfigReader::new(class, &j).unwrap()).unwrap();
            assert_eq!(back.op, cfg.op, "{class}");
        }
        assert!(build(&ReLU::new(), "x", batched(&[2])).unwrap().config()["max_value"].is_null());
        // tf-keras 2 writes LeakyReLU's slope as `alpha`.
        let k2 = json!({"name": "leaky_re_lu", "trainable": true, "dtype": "float32", "alpha": 0.1});
        let c = ActivationLayerConfig::from_keras(&ConfigReader::new("LeakyReLU", &k2).unwrap()).unwrap();
        assert_eq!(c.op, ActivationOp::LeakyReLU { negative_slope: 0.1 });
        let c =
            ActivationLayerConfig::from_keras(&ConfigReader::new("Softmax", &json!({"axis": [1]})).unwrap()).unwrap();
        assert_eq!(c.op, ActivationOp::Softmax { axis: 1 });
        let e = ActivationLayerConfig::from_keras(
            &ConfigReader::new("Softmax", &json!({"name": "sm", "axis": [1, 2]})).unwrap(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("sm: argument `axis`"), "{e}");
    }

    #[test]
    fn gradients() {
        let x = Tensor::new(&[2, 3], vec![-2.1, -0.4, 0.6, 1.3, 7.2, 3.1]).unwrap();
        for cfg in [
            ReLU::new().max_value(6.0).negative_slope(0.1).threshold(0.2),
            LeakyReLU::new(),
            Softmax::new().axis(0),
            ELU::new(),
        ] {
            let l = build(&cfg, "l", batched(&[3])).unwrap();
            grad_check(l.as_ref(), std::slice::from_ref(&x), true);
        }
    }
}
