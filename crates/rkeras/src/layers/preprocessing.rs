//! `Rescaling(scale, offset=0.0)`: `x·scale + offset` (`Rescaling(1/255)` maps pixels to
//! `[0, 1]`). `scale` and `offset` are numbers, or lists broadcast over the last axis (one
//! value per channel). No weights; shape unchanged.
//!
//! ```
//! use rkeras::prelude::*;
//! clear_session();
//! let x = Input(&[28, 28, 1]).unwrap();
//! let y = Rescaling::new(1.0 / 255.0).call(&x).unwrap();
//! assert_eq!(y.shape(), x.shape());
//! ```

use super::common::{config_name, layer_core, opt_setters, setters, single, LayerCore};
use super::{CallCtx, Layer, LayerConfig};
use crate::config::{short, ConfigReader};
use crate::error::{arg_error, in_layer, Result};
use crate::kshape::{format_shape, Shape};
use crate::model::plan::InferenceOp;
use serde_json::{json, Value};
use tensor::{Rng, Tensor, Var};

/// A `scale` or `offset`: one number, or one per channel (last axis).
#[derive(Debug, Clone, PartialEq)]
pub enum Factor {
    /// The same value everywhere.
    Scalar(f64),
    /// One value per position of the last axis (broadcast over the others).
    PerChannel(Vec<f64>),
}

impl From<f64> for Factor {
    fn from(v: f64) -> Factor {
        Factor::Scalar(v)
    }
}

impl From<Vec<f64>> for Factor {
    fn from(v: Vec<f64>) -> Factor {
        Factor::PerChannel(v)
    }
}

impl From<&[f64]> for Factor {
    fn from(v: &[f64]) -> Factor {
        Factor::PerChannel(v.to_vec())
    }
}

impl Factor {
    fn to_json(&self) -> Value {
        match self {
            Factor::Scalar(v) => json!(v),
            Factor::PerChannel(v) => json!(v),
        }
    }

    /// A number, a list of numbers, or Keras 3's serialized NumPy array
    /// (`{"class_name": "__numpy__", "config": {"value": […]}}`).
    fn from_json(layer: &str, arg: &str, v: &Value) -> Result<Factor> {
        let bad = || arg_error(layer, arg, "a number or a list of numbers", short(v));
        match v {
            Value::Number(n) => n.as_f64().map(Factor::Scalar).ok_or_else(bad),
            Value::Array(a) => a
                .iter()
                .map(|x| x.as_f64().ok_or_else(bad))
                .collect::<Result<Vec<_>>>()
                .map(Factor::PerChannel),
            Value::Object(o) => match o.get("config").and_then(|c| c.get("value")) {
                Some(inner @ (Value::Number(_) | Value::Array(_))) => Factor::from_json(layer, arg, inner),
                _ => Err(bad()),
            },
            _ => Err(bad()),
        }
    }

    fn show(&self) -> String {
        match self {
            Factor::Scalar(v) => format!("{v}"),
            Factor::PerChannel(v) => format!("{v:?}"),
        }
    }
}

/// `Rescaling(scale, offset=0.0)`.
#[derive(Debug, Clone, PartialEq)]
pub struct RescalingConfig {
    /// Name; automatic (`rescaling`, …) when `None`.
    pub name: Option<String>,
    /// Keras's flag (no weights).
    pub trainable: bool,
    /// Multiplier.
    pub scale: Factor,
    /// Added after scaling.
    pub offset: Factor,
}

/// A built `Rescaling` layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Rescaling {
    core: LayerCore,
    config: RescalingConfig,
}

impl Rescaling {
    /// `Rescaling(scale)`.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(scale: impl Into<Factor>) -> RescalingConfig {
        RescalingConfig {
            name: None,
            trainable: true,
            scale: scale.into(),
            offset: Factor::Scalar(0.0),
        }
    }
}

impl RescalingConfig {
    setters!(offset: Factor, trainable: bool);
    opt_setters!(name: String);

    /// Reads a Keras 3 or tf-keras 2 `Rescaling` config.
    pub fn from_keras(r: &ConfigReader) -> Result<RescalingConfig> {
        r.check_dtype()?;
        let scale = Factor::from_json(&r.layer, "scale", r.get("scale").ok_or_else(|| r.missing("scale"))?)?;
        let offset = match r.get("offset") {
            Some(v) => Factor::from_json(&r.layer, "offset", v)?,
            None => Factor::Scalar(0.0),
        };
        Ok(RescalingConfig {
            name: r.name(),
            trainable: r.trainable()?,
            scale,
            offset,
        })
    }
}

/// Checks a per-channel factor against the input's last axis.
fn check_factor(layer: &str, arg: &str, f: &Factor, input: &[Option<usize>]) -> Result<()> {
    if let Factor::PerChannel(v) = f {
        let last = input.last().copied().flatten();
        if v.is_empty() || (v.len() != 1 && last.is_some_and(|c| c != v.len())) {
            let want = last.map_or("a non-empty list".to_string(), |c| {
                format!(
                    "a number or a list of 1 or {c} values (the last axis of input shape {})",
                    format_shape(input)
                )
            });
            return Err(arg_error(layer, arg, want, format!("a list of {} values", v.len())));
        }
    }
    Ok(())
}

impl LayerConfig for RescalingConfig {
    config_name!("Rescaling");
    fn build(&self, name: &str, inputs: &[Shape], _rng: &mut Rng) -> Result<Box<dyn Layer>> {
        let input = single(name, inputs)?;
        check_factor(name, "scale", &self.scale, input)?;
        check_factor(name, "offset", &self.offset, input)?;
        Ok(Box::new(Rescaling {
            core: LayerCore::new(name, self.trainable, Vec::new()),
            config: RescalingConfig {
                name: Some(name.to_string()),
                ..self.clone()
            },
        }))
    }
}

impl Layer for Rescaling {
    layer_core!("Rescaling");
    fn inference_op(&self) -> Option<InferenceOp> {
        match (&self.config.scale, &self.config.offset) {
            (Factor::Scalar(s), Factor::Scalar(o)) => Some(InferenceOp::Rescale {
                scale: *s as f32,
                offset: *o as f32,
            }),
            _ => None,
        }
    }
    fn compute_output_shape(&self, inputs: &[Shape]) -> Result<Vec<Shape>> {
        let input = single(&self.core.name, inputs)?;
        check_factor(&self.core.name, "scale", &self.config.scale, input)?;
        check_factor(&self.core.name, "offset", &self.config.offset, input)?;
        Ok(vec![input.clone()])
    }
    fn call(&self, ctx: &mut CallCtx, inputs: &[Var], weights: &[Var]) -> Result<Vec<Var>> {
        let x = self.core.input(inputs, weights)?;
        let err = in_layer(&self.core.name);
        let y = match &self.config.scale {
            Factor::Scalar(s) if *s == 1.0 => x,
            Factor::Scalar(s) => ctx.tape.scale(x, *s as f32).map_err(&err)?,
            Factor::PerChannel(v) => {
                let c = ctx
                    .tape
                    .constant(Tensor::new(&[v.len()], v.iter().map(|&s| s as f32).collect()).map_err(&err)?);
                ctx.tape.mul(x, c).map_err(&err)?
            }
        };
        let y = match &self.config.offset {
            Factor::Scalar(o) if *o == 0.0 => y,
            Factor::Scalar(o) => ctx.tape.add_scalar(y, *o as f32).map_err(&err)?,
            Factor::PerChannel(v) => {
                let c = ctx
                    .tape
                    .constant(Tensor::new(&[v.len()], v.iter().map(|&o| o as f32).collect()).map_err(&err)?);
                ctx.tape.add(y, c).map_err(&err)?
            }
        };
        Ok(vec![y])
    }
    fn config(&self) -> Value {
        let entries = [
            ("scale", self.config.scale.to_json()),
            ("offset", self.config.offset.to_json()),
        ];
        Value::Object(self.core.config_with(None, entries))
    }
    fn explain(&self, _inputs: &[Shape]) -> Vec<String> {
        vec![format!(
            "no parameters; y = x·{} + {}; output shape = input shape",
            self.config.scale.show(),
            self.config.offset.show()
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kshape::batched;
    use crate::layers::test_util::{build, err, grad_check, run};

    #[test]
    fn scales_and_offsets() {
        let l = build(&Rescaling::new(1.0 / 255.0), "rescaling", batched(&[2, 2, 1])).unwrap();
        assert_eq!(
            l.compute_output_shape(&[batched(&[2, 2, 1])]).unwrap(),
            vec![batched(&[2, 2, 1])]
        );
        let x = Tensor::new(&[1, 2, 2, 1], vec![0.0, 51.0, 127.5, 255.0]).unwrap();
        let y = run(l.as_ref(), std::slice::from_ref(&x), false).unwrap().out.remove(0);
        for (a, b) in y.data().iter().zip([0.0, 0.2, 0.5, 1.0]) {
            assert!((a - b).abs() < 1e-6);
        }
        let l = build(
            &Rescaling::new(1.0 / 127.5).offset(-1.0),
            "rescaling",
            batched(&[2, 2, 1]),
        )
        .unwrap();
        let y = run(l.as_ref(), &[x], false).unwrap().out.remove(0);
        for (a, b) in y.data().iter().zip([-1.0, -0.6, 0.0, 1.0]) {
            assert!((a - b).abs() < 1e-6);
        }
        let l = build(
            &Rescaling::new(vec![1.0, 10.0]).offset(vec![0.5, 0.0]),
            "rescaling",
            batched(&[2]),
        )
        .unwrap();
        let y = run(l.as_ref(), &[Tensor::ones(&[2, 2])], false).unwrap().out.remove(0);
        assert_eq!(y.data(), &[1.5, 10.0, 1.5, 10.0]);
        grad_check(l.as_ref(), &[Tensor::arange(&[2, 2])], true);
    }

    #[test]
    fn errors_and_json() {
        let e = err(build(
            &Rescaling::new(vec![1.0, 2.0, 3.0]),
            "rescaling_1",
            batched(&[4, 4, 2]),
        ));
        assert!(
            e.starts_with("rescaling_1: argument `scale`")
                && e.contains("(None, 4, 4, 2)")
                && e.ends_with("Received: scale=a list of 3 values"),
            "{e}"
        );
        let l = build(&Rescaling::new(0.5).offset(2.0), "rescaling", batched(&[3])).unwrap();
        let j = l.config();
        assert_eq!((j["scale"].clone(), j["offset"].clone()), (json!(0.5), json!(2.0)));
        let back = RescalingConfig::from_keras(&ConfigReader::new("Rescaling", &j).unwrap()).unwrap();
        assert_eq!((back.scale, back.offset), (Factor::Scalar(0.5), Factor::Scalar(2.0)));
        let k3_numpy = json!({"name": "r", "scale": {"class_name": "__numpy__", "config": {"value": [0.5, 0.25], "dtype": "float32"}}, "offset": 0.0});
        let c = RescalingConfig::from_keras(&ConfigReader::new("Rescaling", &k3_numpy).unwrap()).unwrap();
        assert_eq!(c.scale, Factor::PerChannel(vec![0.5, 0.25]));
        let e =
            RescalingConfig::from_keras(&ConfigReader::new("Rescaling", &json!({"name": "r", "scale": "x"})).unwrap())
                .unwrap_err()
                .to_string();
        assert!(e.starts_with("r: argument `scale`"), "{e}");
    }
}
