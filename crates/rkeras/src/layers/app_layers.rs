//! The small layers Keras defines inside its application modules, registered so that the
//! applications' JSON and files load:
//!
//! - `CustomScaleLayer(scale)` (InceptionResNetV2): two inputs, `x₀ + x₁·scale`; no weights.
//! - `LayerScale(init_values, projection_dim)` (ConvNeXt): `x·γ` with a trainable `γ` of
//!   `projection_dim` values (last axis), initialized to `init_values`.
//! - `StochasticDepth(drop_path_rate)` (ConvNeXt): the identity at inference; in training
//!   each sample's whole residual branch is dropped with probability `drop_path_rate` and
//!   the kept ones scaled by `1/(1 − rate)` (a dropout whose mask has shape `(n, 1, …, 1)`).
//!
//! Shapes are unchanged (CustomScaleLayer: its inputs' shape).
//!
//! ```
//! use rkeras::prelude::*;
//! use rkeras::layers::app_layers::LayerScale;
//! clear_session();
//! let x = Input(&[7, 7, 96]).unwrap();
//! let y = LayerScale::new(1e-6, 96).call(&x).unwrap();
//! assert_eq!(y.shape(), x.shape());
//! ```

use super::common::{config_name, layer_core, opt_setters, single, LayerCore};
use super::{CallCtx, Layer, LayerConfig, Weight};
use crate::config::ConfigReader;
use crate::error::{arg_error, in_layer, shape_error, Result};
use crate::kshape::{format_shape, Shape};
use crate::model::ops::broadcast_symbolic;
use serde_json::{json, Value};
use tensor::{Rng, Tensor, Var};

/// The Python module Keras names for an application layer class (Keras 3 JSON `module`).
pub fn keras_module(class: &str) -> Option<&'static str> {
    match class {
        "CustomScaleLayer" => Some("keras.src.applications.inception_resnet_v2"),
        "LayerScale" | "StochasticDepth" => Some("keras.src.applications.convnext"),
        _ => None,
    }
}

/// `CustomScaleLayer(scale)`.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomScaleLayerConfig {
    /// Name; automatic (`custom_scale_layer`, …) when `None`.
    pub name: Option<String>,
    /// Keras's flag (no weights).
    pub trainable: bool,
    /// Multiplier of the second input.
    pub scale: f64,
}

/// A built `CustomScaleLayer`.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomScaleLayer {
    core: LayerCore,
    config: CustomScaleLayerConfig,
}

impl CustomScaleLayer {
    /// `CustomScaleLayer(scale)`.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(scale: f64) -> CustomScaleLayerConfig {
        CustomScaleLayerConfig {
            name: None,
            trainable: true,
            scale,
        }
    }
}

impl CustomScaleLayerConfig {
    opt_setters!(name: String);

    /// Reads a Keras 3 or tf-keras 2 config.
    pub fn from_keras(r: &ConfigReader) -> Result<CustomScaleLayerConfig> {
        r.check_dtype()?;
        Ok(CustomScaleLayerConfig {
            name: r.name(),
            trainable: r.trainable()?,
            scale: r.f64("scale")?.ok_or_else(|| r.missing("scale"))?,
        })
    }
}

fn two_shapes(layer: &str, inputs: &[Shape]) -> Result<Shape> {
    match inputs {
        [a, b] => broadcast_symbolic(layer, a, b),
        _ => Err(shape_error(
            layer,
            format!("expected 2 inputs [x, branch], received {}", inputs.len()),
        )),
    }
}

impl LayerConfig for CustomScaleLayerConfig {
    config_name!("CustomScaleLayer");
    fn build(&self, name: &str, inputs: &[Shape], _rng: &mut Rng) -> Result<Box<dyn Layer>> {
        if !self.scale.is_finite() {
            return Err(arg_error(name, "scale", "a finite number", self.scale));
        }
        two_shapes(name, inputs)?;
        Ok(Box::new(CustomScaleLayer {
            core: LayerCore::new(name, self.trainable, Vec::new()),
            config: CustomScaleLayerConfig {
                name: Some(name.to_string()),
                ..self.clone()
            },
        }))
    }
}

impl Layer for CustomScaleLayer {
    layer_core!("CustomScaleLayer");
    fn compute_output_shape(&self, inputs: &[Shape]) -> Result<Vec<Shape>> {
        Ok(vec![two_shapes(&self.core.name, inputs)?])
    }
    fn call(&self, ctx: &mut CallCtx, inputs: &[Var], _weights: &[Var]) -> Result<Vec<Var>> {
        let err = in_layer(&self.core.name);
        let [a, b] = inputs else {
            return Err(shape_error(
                &self.core.name,
                format!("expected 2 inputs, received {}", inputs.len()),
            ));
        };
        let s = ctx.tape.scale(*b, self.config.scale as f32).map_err(&err)?;
        Ok(vec![ctx.tape.add(*a, s).map_err(&err)?])
    }
    fn config(&self) -> Value {
        Value::Object(self.core.config_with(None, [("scale", json!(self.config.scale))]))
    }
    fn explain(&self, _inputs: &[Shape]) -> Vec<String> {
        vec![format!("no parameters; y = x₀ + x₁·{}", self.config.scale)]
    }
}

/// `LayerScale(init_values, projection_dim)`.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerScaleConfig {
    /// Name; automatic (`layer_scale`, …) when `None`.
    pub name: Option<String>,
    /// Whether γ trains.
    pub trainable: bool,
    /// γ's initial value.
    pub init_values: f64,
    /// Number of γ values (the input's last axis).
    pub projection_dim: usize,
}

/// A built `LayerScale`.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerScale {
    core: LayerCore,
    config: LayerScaleConfig,
}

impl LayerScale {
    /// `LayerScale(init_values, projection_dim)`.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(init_values: f64, projection_dim: usize) -> LayerScaleConfig {
        LayerScaleConfig {
            name: None,
            trainable: true,
            init_values,
            projection_dim,
        }
    }
}

impl LayerScaleConfig {
    opt_setters!(name: String);

    /// Reads a Keras 3 or tf-keras 2 config.
    pub fn from_keras(r: &ConfigReader) -> Result<LayerScaleConfig> {
        r.check_dtype()?;
        Ok(LayerScaleConfig {
            name: r.name(),
            trainable: r.trainable()?,
            init_values: r.f64("init_values")?.ok_or_else(|| r.missing("init_values"))?,
            projection_dim: r.usize_req("projection_dim")?,
        })
    }
}

impl LayerConfig for LayerScaleConfig {
    config_name!("LayerScale");
    fn build(&self, name: &str, inputs: &[Shape], _rng: &mut Rng) -> Result<Box<dyn Layer>> {
        let input = single(name, inputs)?;
        if self.projection_dim == 0 {
            return Err(arg_error(name, "projection_dim", "a positive integer", 0));
        }
        if let Some(c) = input
            .last()
            .copied()
            .flatten()
            .filter(|&c| c != self.projection_dim && c != 1)
        {
            return Err(arg_error(
                name,
                "projection_dim",
                format!("the last axis of input shape {} ({c})", format_shape(input)),
                self.projection_dim,
            ));
        }
        let gamma = Tensor::full(&[self.projection_dim], self.init_values as f32);
        Ok(Box::new(LayerScale {
            core: LayerCore::new(name, self.trainable, vec![Weight::trainable("gamma", gamma)]),
            config: LayerScaleConfig {
                name: Some(name.to_string()),
                ..self.clone()
            },
        }))
    }
}

impl Layer for LayerScale {
    layer_core!("LayerScale");
    fn compute_output_shape(&self, inputs: &[Shape]) -> Result<Vec<Shape>> {
        let input = single(&self.core.name, inputs)?;
        let g = vec![Some(self.config.projection_dim)];
        Ok(vec![broadcast_symbolic(&self.core.name, input, &g)?])
    }
    fn call(&self, ctx: &mut CallCtx, inputs: &[Var], weights: &[Var]) -> Result<Vec<Var>> {
        let x = self.core.input(inputs, weights)?;
        Ok(vec![ctx.tape.mul(x, weights[0]).map_err(in_layer(&self.core.name))?])
    }
    fn config(&self) -> Value {
        let c = &self.config;
        let entries = [
            ("init_values", json!(c.init_values)),
            ("projection_dim", json!(c.projection_dim)),
        ];
        Value::Object(self.core.config_with(None, entries))
    }
    fn explain(&self, _inputs: &[Shape]) -> Vec<String> {
        vec![format!(
            "params: {} (γ per channel, initialized to {}); y = x·γ",
            self.config.projection_dim, self.config.init_values
        )]
    }
}

/// `StochasticDepth(drop_path_rate)`.
#[derive(Debug, Clone, PartialEq)]
pub struct StochasticDepthConfig {
    /// Name; automatic (`stochastic_depth`, …) when `None`.
    pub name: Option<String>,
    /// Keras's flag (no weights).
    pub trainable: bool,
    /// Probability of dropping a sample's branch, in `[0, 1)`.
    pub drop_path_rate: f64,
}

/// A built `StochasticDepth`.
#[derive(Debug, Clone, PartialEq)]
pub struct StochasticDepth {
    core: LayerCore,
    config: StochasticDepthConfig,
}

impl StochasticDepth {
    /// `StochasticDepth(drop_path_rate)`.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(drop_path_rate: f64) -> StochasticDepthConfig {
        StochasticDepthConfig {
            name: None,
            trainable: true,
            drop_path_rate,
        }
    }
}

impl StochasticDepthConfig {
    opt_setters!(name: String);

    /// Reads a Keras 3 or tf-keras 2 config.
    pub fn from_keras(r: &ConfigReader) -> Result<StochasticDepthConfig> {
        r.check_dtype()?;
        Ok(StochasticDepthConfig {
            name: r.name(),
            trainable: r.trainable()?,
            drop_path_rate: r.f64("drop_path_rate")?.ok_or_else(|| r.missing("drop_path_rate"))?,
        })
    }
}

impl LayerConfig for StochasticDepthConfig {
    config_name!("StochasticDepth");
    fn build(&self, name: &str, inputs: &[Shape], _rng: &mut Rng) -> Result<Box<dyn Layer>> {
        single(name, inputs)?;
        if !(0.0..1.0).contains(&self.drop_path_rate) {
            return Err(arg_error(
                name,
                "drop_path_rate",
                "a rate in [0, 1)",
                self.drop_path_rate,
            ));
        }
        Ok(Box::new(StochasticDepth {
            core: LayerCore::new(name, self.trainable, Vec::new()),
            config: StochasticDepthConfig {
                name: Some(name.to_string()),
                ..self.clone()
            },
        }))
    }
}

impl Layer for StochasticDepth {
    layer_core!("StochasticDepth");
    fn compute_output_shape(&self, inputs: &[Shape]) -> Result<Vec<Shape>> {
        Ok(vec![single(&self.core.name, inputs)?.clone()])
    }
    fn call(&self, ctx: &mut CallCtx, inputs: &[Var], weights: &[Var]) -> Result<Vec<Var>> {
        let x = self.core.input(inputs, weights)?;
        let rate = self.config.drop_path_rate;
        if !ctx.training || rate == 0.0 {
            return Ok(vec![x]);
        }
        let err = in_layer(&self.core.name);
        let shape = ctx.tape.try_value(x).map_err(&err)?.shape().to_vec();
        let mut noise = vec![1; shape.len()];
        if let Some(n) = shape.first() {
            noise[0] = *n;
        }
        let y = ctx
            .tape
            .dropout(x, rate as f32, Some(&noise), ctx.rng, true)
            .map_err(&err)?;
        Ok(vec![y])
    }
    fn config(&self) -> Value {
        Value::Object(
            self.core
                .config_with(None, [("drop_path_rate", json!(self.config.drop_path_rate))]),
        )
    }
    fn explain(&self, _inputs: &[Shape]) -> Vec<String> {
        vec![format!(
            "no parameters; training: each sample's branch dropped with p = {}, kept ones ×1/(1 − p)",
            self.config.drop_path_rate
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kshape::batched;
    use crate::layers::test_util::{err, grad_check, run};

    #[test]
    fn custom_scale_layer_adds_the_scaled_branch() {
        let mut rng = Rng::new(1);
        let shapes = vec![batched(&[2]), batched(&[2])];
        let l = CustomScaleLayer::new(0.17)
            .build("block35_1", &shapes, &mut rng)
            .unwrap();
        let a = Tensor::new(&[1, 2], vec![1.0, 2.0]).unwrap();
        let b = Tensor::new(&[1, 2], vec![10.0, 100.0]).unwrap();
        let y = run(l.as_ref(), &[a.clone(), b.clone()], false).unwrap().out.remove(0);
        assert!((y.data()[0] - 2.7).abs() < 1e-6 && (y.data()[1] - 19.0).abs() < 1e-5);
        grad_check(l.as_ref(), &[a, b], false);
        assert_eq!(l.config()["scale"], json!(0.17));
        let e = err(CustomScaleLayer::new(1.0).build("c", &shapes[..1], &mut rng));
        assert!(e.contains("expected 2 inputs"), "{e}");
    }

    #[test]
    fn layer_scale_and_stochastic_depth() {
        let mut rng = Rng::new(1);
        let l = LayerScale::new(0.5, 3)
            .build("ls", &[batched(&[2, 3])], &mut rng)
            .unwrap();
        assert_eq!((l.count_params(), l.weights()[0].trainable), (3, true));
        let y = run(l.as_ref(), &[Tensor::ones(&[1, 2, 3])], false)
            .unwrap()
            .out
            .remove(0);
        assert_eq!(y.data(), &[0.5; 6]);
        grad_check(l.as_ref(), &[Tensor::arange(&[1, 2, 3])], true);
        let e = err(LayerScale::new(0.5, 4).build("ls_1", &[batched(&[2, 3])], &mut rng));
        assert!(e.starts_with("ls_1: argument `projection_dim`"), "{e}");
        let s = StochasticDepth::new(0.5)
            .build("sd", &[batched(&[4])], &mut rng)
            .unwrap();
        let x = Tensor::ones(&[64, 4]);
        assert_eq!(run(s.as_ref(), std::slice::from_ref(&x), false).unwrap().out[0], x);
        let y = run(s.as_ref(), &[x], true).unwrap().out.remove(0);
        // Whole rows are dropped or doubled.
        for row in y.data().chunks(4) {
            assert!(row == [0.0; 4] || row == [2.0; 4], "{row:?}");
        }
        let kept = y.data().chunks(4).filter(|r| r[0] == 2.0).count();
        assert!((16..=48).contains(&kept), "{kept}");
        assert!(err(StochasticDepth::new(1.0).build("sd", &[batched(&[4])], &mut rng)).contains("drop_path_rate"));
    }
}
