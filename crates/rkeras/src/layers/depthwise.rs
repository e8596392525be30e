//! `DepthwiseConv2D` (each input channel convolved with its own `depth_multiplier` filters)
//! and `SeparableConv2D` (a depthwise convolution followed by a 1×1 pointwise one).
//!
//! Shapes: `DepthwiseConv2D`: `(n, h, w, c)` → `(n, oh, ow, c·dm)`, kernel `(kh, kw, c, dm)`
//! named `kernel` (Keras 3; tf-keras 2 called it `depthwise_kernel`), bias `(c·dm,)`.
//! `SeparableConv2D`: `(n, h, w, c)` → `(n, oh, ow, filters)`, `depthwise_kernel`
//! `(kh, kw, c, dm)`, `pointwise_kernel` `(1, 1, c·dm, filters)`, bias `(filters,)`.
//! Output channel `c·dm + m` is input channel `c` through multiplier `m` (TensorFlow's order).
//! `SeparableConv2D` lives in the child module `separable.rs` and is re-exported here.
//!
//! ```
//! use rkeras::prelude::*;
//! clear_session();
//! let x = Input(&[8, 8, 3]).unwrap();
//! let y = DepthwiseConv2D::new(3).depth_multiplier(2).call(&x).unwrap();
//! assert_eq!(y.shape(), &vec![None, Some(6), Some(6), Some(6)]);
//! let z = SeparableConv2D::new(8, 3).padding("same").call(&x).unwrap();
//! assert_eq!(z.shape(), &vec![None, Some(8), Some(8), Some(8)]);
//! ```

use super::conv_args::*;
use super::core::activate;
use super::{CallCtx, Layer, LayerConfig, Weight};
use crate::activations::{parse_activation, to_keras, ActivationKind};
use crate::config::{dtype_policy, ConfigReader};
use crate::constraints::Constraint;
use crate::error::{arg_error, Result};
use crate::explain::params_line;
use crate::initializers::Initializer;
use crate::kshape::{known, Shape};
use crate::regularizers::Regularizer;
use serde_json::{json, Value};
use tensor::ops::depthwise::DepthwiseParams;
use tensor::{Rng, Tape, Var};

/// `DepthwiseConv2D(kernel_size, …)` with Keras 3's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct DepthwiseConv2DConfig {
    /// Name; automatic (`depthwise_conv2d`, …) when `None`.
    pub name: Option<String>,
    /// Whether the weights train.
    pub trainable: bool,
    /// Output channels per input channel (default 1).
    pub depth_multiplier: usize,
    /// `(kh, kw)`.
    pub kernel_size: Pair,
    /// Default 1.
    pub strides: Pair,
    /// `"valid"` (default) or `"same"`.
    pub padding: String,
    /// `"channels_last"` (default) or `"channels_first"`.
    pub data_format: String,
    /// Default 1.
    pub dilation_rate: Pair,
    /// Activation name (default `"linear"`).
    pub activation: String,
    /// Default true.
    pub use_bias: bool,
    /// Default `glorot_uniform`.
    pub depthwise_initializer: InitializerArg,
    /// Default `zeros`.
    pub bias_initializer: InitializerArg,
    /// Penalty on the kernel.
    pub depthwise_regularizer: Option<Regularizer>,
    /// Penalty on the bias.
    pub bias_regularizer: Option<Regularizer>,
    /// Penalty on the output.
    pub activity_regularizer: Option<Regularizer>,
    /// Applied to the kernel after each update.
    pub depthwise_constraint: Option<Constraint>,
    /// Applied to the bias after each update.
    pub bias_constraint: Option<Constraint>,
}

/// A built `DepthwiseConv2D` layer.
#[derive(Debug, Clone)]
pub struct DepthwiseConv2D {
    name: String,
    config: DepthwiseConv2DConfig,
    window: Window,
    activation: ActivationKind,
    inits: [Initializer; 2],
    weights: Vec<Weight>,
    trainable: bool,
}

impl DepthwiseConv2D {
    /// `DepthwiseConv2D(kernel_size)`; the rest by builder methods.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(kernel_size: impl Into<Pair>) -> DepthwiseConv2DConfig {
        DepthwiseConv2DConfig {
            name: None,
            trainable: true,
            depth_multiplier: 1,
            kernel_size: kernel_size.into(),
            strides: Pair(1, 1),
            padding: "valid".into(),
            data_format: "channels_last".into(),
            dilation_rate: Pair(1, 1),
            activation: "linear".into(),
            use_bias: true,
            depthwise_initializer: "glorot_uniform".into(),
            bias_initializer: "zeros".into(),
            depthwise_regularizer: None,
            bias_regularizer: None,
            activity_regularizer: None,
            depthwise_constraint: None,
            bias_constraint: None,
        }
    }
}

fn check_multiplier(layer: &str, dm: usize) -> Result<()> {
    if dm == 0 {
        return Err(arg_error(layer, "depth_multiplier", "a strictly positive value", 0));
    }
    Ok(())
}

/// Window arguments shared by both readers.
fn read_window_args(r: &ConfigReader) -> Result<(Pair, Pair, String, String, Pair, String, bool)> {
    let kernel_size = r.pair("kernel_size")?.ok_or_else(|| r.missing("kernel_size"))?;
    if let Some(g) = r.usize("groups")? {
        if g != 1 {
            return Err(arg_error(
                &r.layer,
                "groups",
                "1 (depthwise convolutions have no groups)",
                g,
            ));
        }
    }
    Ok((
        kernel_size.into(),
        r.pair("strides")?.map_or(Pair(1, 1), Pair::from),
        read_padding(r)?,
        read_data_format(r)?,
        r.pair("dilation_rate")?.map_or(Pair(1, 1), Pair::from),
        read_activation(r)?,
        r.bool("use_bias")?.unwrap_or(true),
    ))
}

impl DepthwiseConv2DConfig {
    setters!(strides: Pair, padding: String, data_format: String, dilation_rate: Pair, activation: String);
    setters!(depthwise_initializer: InitializerArg, bias_initializer: InitializerArg);
    plain_setters!(depth_multiplier: usize, use_bias: bool, trainable: bool);
    opt_setters!(name: String, depthwise_regularizer: Regularizer, bias_regularizer: Regularizer, activity_regularizer: Regularizer);
    opt_setters!(depthwise_constraint: Constraint, bias_constraint: Constraint);

    /// Checks the arguments that do not depend on the input.
    pub fn validate(&self, layer: &str) -> Result<(Window, ActivationKind, [Initializer; 2])> {
        check_multiplier(layer, self.depth_multiplier)?;
        let window = Window::new(
            layer,
            "kernel_size",
            self.kernel_size,
            self.strides,
            self.dilation_rate,
            &self.padding,
            &self.data_format,
        )?;
        let activation = parse_activation(layer, "activation", &self.activation)?;
        let inits = [
            self.depthwise_initializer.resolve(layer, "depthwise_initializer")?,
            self.bias_initializer.resolve(layer, "bias_initializer")?,
        ];
        Ok((window, activation, inits))
    }

    /// Reads a Keras 3 or tf-keras 2 `DepthwiseConv2D` config.
    pub fn from_keras(r: &ConfigReader) -> Result<DepthwiseConv2DConfig> {
        r.check_dtype()?;
        let (kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias) = read_window_args(r)?;
        let mut c = DepthwiseConv2D::new(kernel_size);
        (
            c.strides,
            c.padding,
            c.data_format,
            c.dilation_rate,
            c.activation,
            c.use_bias,
        ) = (strides, padding, data_format, dilation_rate, activation, use_bias);
        c.name = r.name();
        c.trainable = r.trainable()?;
        c.depth_multiplier = r.usize("depth_multiplier")?.unwrap_or(1);
        c.depthwise_initializer = read_init(r, "depthwise_initializer")?.unwrap_or(c.depthwise_initializer);
        c.bias_initializer = read_init(r, "bias_initializer")?.unwrap_or(c.bias_initializer);
        c.depthwise_regularizer = read_reg(r, "depthwise_regularizer")?;
        c.bias_regularizer = read_reg(r, "bias_regularizer")?;
        c.activity_regularizer = read_reg(r, "activity_regularizer")?;
        c.depthwise_constraint = read_constraint(r, "depthwise_constraint")?;
        c.bias_constraint = read_constraint(r, "bias_constraint")?;
        c.validate(&r.layer)?;
        Ok(c)
    }
}

/// Checks the input and returns its channel count.
fn input_channels(layer: &str, window: &Window, inputs: &[Shape]) -> Result<usize> {
    let input = single(layer, inputs)?;
    window.output(layer, input)?;
    known(layer, input, window.data_format.channel_axis(), "channel dimension")
}

impl LayerConfig for DepthwiseConv2DConfig {
    fn class_name(&self) -> &'static str {
        "DepthwiseConv2D"
    }
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    fn set_name(&mut self, name: String) {
        self.name = Some(name);
    }
    fn build(&self, name: &str, inputs: &[Shape], rng: &mut Rng) -> Result<Box<dyn Layer>> {
        let (window, activation, inits) = self.validate(name)?;
        let c = input_channels(name, &window, inputs)?;
        let (kh, kw) = window.kernel;
        let dm = self.depth_multiplier;
        let mut weights = vec![Weight::trainable(
            "kernel",
            inits[0].generate(name, &[kh, kw, c, dm], rng)?,
        )];
        if self.use_bias {
            weights.push(Weight::trainable("bias", inits[1].generate(name, &[c * dm], rng)?));
        }
        let config = DepthwiseConv2DConfig {
            name: Some(name.to_string()),
            ..self.clone()
        };
        Ok(Box::new(DepthwiseConv2D {
            name: name.to_string(),
            config,
            window,
            activation,
            inits,
            weights,
            trainable: self.trainable,
        }))
    }
}

/// The common `Layer` methods of both (identical but for the names).
macro_rules! layer_basics {
    ($class:literal) => {
        fn name(&self) -> &str {
            &self.name
        }
        fn class_name(&self) -> &str {
            $class
        }
        fn trainable(&self) -> bool {
            self.trainable
        }
        fn set_trainable(&mut self, trainable: bool) {
            self.trainable = trainable;
        }
        fn weights(&self) -> Vec<&Weight> {
            self.weights.iter().collect()
        }
        fn weights_mut(&mut self) -> Vec<&mut Weight> {
            self.weights.iter_mut().collect()
        }
    };
}

fn depthwise_params(w: &Window) -> DepthwiseParams {
    DepthwiseParams::new(w.strides, w.padding).with_dilation(w.dilation)
}

impl Layer for DepthwiseConv2D {
    layer_basics!("DepthwiseConv2D");
    fn compute_output_shape(&self, inputs: &[Shape]) -> Result<Vec<Shape>> {
        let ([n, oh, ow, c], _) = self.window.output(&self.name, single(&self.name, inputs)?)?;
        Ok(vec![self.window.data_format.join([
            n,
            oh,
            ow,
            c.map(|c| c * self.config.depth_multiplier),
        ])])
    }
    fn call(&self, ctx: &mut CallCtx, inputs: &[Var], weights: &[Var]) -> Result<Vec<Var>> {
        let x = single_var(&self.name, inputs, weights, self.weights.len())?;
        let (err, df) = (engine_err(&self.name), self.window.data_format);
        let xs = df.to_nhwc(ctx.tape, x).map_err(&err)?;
        let y = ctx
            .tape
            .depthwise_conv2d(xs, weights[0], weights.get(1).copied(), &depthwise_params(&self.window))
            .map_err(&err)?;
        let y = df.from_nhwc(ctx.tape, y).map_err(&err)?;
        Ok(vec![activate(
            ctx,
            &self.name,
            y,
            self.activation,
            self.config.activity_regularizer,
        )?])
    }
    fn config(&self) -> Value {
        let c = &self.config;
        json!({
            "name": self.name,
            "trainable": self.trainable,
            "dtype": dtype_policy(),
            "depth_multiplier": c.depth_multiplier,
            "kernel_size": c.kernel_size.to_json(),
            "strides": c.strides.to_json(),
            "padding": padding_name(self.window.padding),
            "data_format": self.window.data_format.name(),
            "dilation_rate": c.dilation_rate.to_json(),
            "activation": to_keras(self.activation),
            "use_bias": c.use_bias,
            "depthwise_initializer": self.inits[0].to_keras(),
            "bias_initializer": self.inits[1].to_keras(),
            "depthwise_regularizer": reg_json(&c.depthwise_regularizer),
            "bias_regularizer": reg_json(&c.bias_regularizer),
            "activity_regularizer": reg_json(&c.activity_regularizer),
            "depthwise_constraint": constraint_json(&c.depthwise_constraint),
            "bias_constraint": constraint_json(&c.bias_constraint),
        })
    }
    fn explain(&self, inputs: &[Shape]) -> Vec<String> {
        let s = self.weights[0].value.shape();
        let (kh, kw, c, dm) = (s[0], s[1], s[2], s[3]);
        let formula = if self.config.use_bias {
            format!("({kh}·{kw} + 1)·{c}·{dm}")
        } else {
            format!("{kh}·{kw}·{c}·{dm}")
        };
        let mut lines = vec![params_line(&formula, self.count_params())];
        lines.extend(
            inputs
                .first()
                .map(|x| self.window.explain(&self.name, x))
                .unwrap_or_default(),
        );
        lines
    }
    fn regularization(&self, tape: &mut Tape, weights: &[Var]) -> Result<Option<Var>> {
        if !self.trainable {
            return Ok(None);
        }
        let c = &self.config;
        penalties(
            tape,
            &[
                (c.depthwise_regularizer, weights.first().copied()),
                (c.bias_regularizer, weights.get(1).copied()),
            ],
        )
    }
    fn apply_constraints(&mut self) {
        if !self.trainable {
            return;
        }
        let (kc, bc) = (
            self.config.depthwise_constraint.clone(),
            self.config.bias_constraint.clone(),
        );
        let mut it = self.weights.iter_mut();
        constrain(&kc, it.next());
        constrain(&bc, it.next());
    }
}

#[path = "separable.rs"]
mod separable;
pub use separable::{SeparableConv2D, SeparableConv2DConfig};

#[cfg(test)]
#[path = "depthwise_tests.rs"]
mod tests;
