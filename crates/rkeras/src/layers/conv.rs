//! `Conv2D`: a 2-D convolution with Keras's arguments (strides, `valid`/`same` padding,
//! `channels_last`/`channels_first`, dilation, groups, activation, bias, initializers,
//! regularizers, constraints).
//!
//! Shapes: `(n, h, w, c)` → `(n, oh, ow, filters)` (`channels_first`: `(n, c, h, w)` →
//! `(n, filters, oh, ow)`), kernel `(kh, kw, c/groups, filters)`, bias `(filters,)`.
//!
//! ```
//! use rkeras::prelude::*;
//! clear_session();
//! let x = Input(&[28, 28, 1]).unwrap();
//! let y = Conv2D::new(32, 3).strides(2).padding("same").activation("relu").call(&x).unwrap();
//! assert_eq!(y.shape(), &vec![None, Some(14), Some(14), Some(32)]);
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
use tensor::ops::conv::Conv2dParams;
use tensor::{Rng, Tape, Var};

/// `Conv2D(filters, kernel_size, …)` with Keras 3's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Conv2DConfig {
    /// Name; automatic (`conv2d`, `conv2d_1`, …) when `None`.
    pub name: Option<String>,
    /// Whether the weights train.
    pub trainable: bool,
    /// Number of output channels.
    pub filters: usize,
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
    /// Channel groups (default 1); divides the input channels and `filters`.
    pub groups: usize,
    /// Activation name (default `"linear"`).
    pub activation: String,
    /// Default true.
    pub use_bias: bool,
    /// Default `glorot_uniform`.
    pub kernel_initializer: InitializerArg,
    /// Default `zeros`.
    pub bias_initializer: InitializerArg,
    /// Penalty on the kernel.
    pub kernel_regularizer: Option<Regularizer>,
    /// Penalty on the bias.
    pub bias_regularizer: Option<Regularizer>,
    /// Penalty on the output.
    pub activity_regularizer: Option<Regularizer>,
    /// Applied to the kernel after each update.
    pub kernel_constraint: Option<Constraint>,
    /// Applied to the bias after each update.
    pub bias_constraint: Option<Constraint>,
}

/// A built `Conv2D` layer.
#[derive(Debug, Clone)]
pub struct Conv2D {
    name: String,
    config: Conv2DConfig,
    window: Window,
    activation: ActivationKind,
    kernel_initializer: Initializer,
    bias_initializer: Initializer,
    weights: Vec<Weight>,
    trainable: bool,
}

impl Conv2D {
    /// `Conv2D(filters, kernel_size)`; the rest by builder methods.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(filters: usize, kernel_size: impl Into<Pair>) -> Conv2DConfig {
        Conv2DConfig {
            name: None,
            trainable: true,
            filters,
            kernel_size: kernel_size.into(),
            strides: Pair(1, 1),
            padding: "valid".into(),
            data_format: "channels_last".into(),
            dilation_rate: Pair(1, 1),
            groups: 1,
            activation: "linear".into(),
            use_bias: true,
            kernel_initializer: "glorot_uniform".into(),
            bias_initializer: "zeros".into(),
            kernel_regularizer: None,
            bias_regularizer: None,
            activity_regularizer: None,
            kernel_constraint: None,
            bias_constraint: None,
        }
    }

    /// The checked window arguments.
    pub fn window(&self) -> &Window {
        &self.window
    }
}

impl Conv2DConfig {
    setters!(strides: Pair, padding: String, data_format: String, dilation_rate: Pair, activation: String);
    plain_setters!(groups: usize, use_bias: bool, trainable: bool);
    setters!(kernel_initializer: InitializerArg, bias_initializer: InitializerArg);
    opt_setters!(name: String, kernel_regularizer: Regularizer, bias_regularizer: Regularizer, activity_regularizer: Regularizer);
    opt_setters!(kernel_constraint: Constraint, bias_constraint: Constraint);

    /// Checks the arguments that do not depend on the input (Keras's `__init__` checks).
    #[allow(clippy::manual_is_multiple_of)] // `is_multiple_of` is newer than the MSRV (1.80)
    pub fn validate(&self, layer: &str) -> Result<(Window, ActivationKind, Initializer, Initializer)> {
        if self.filters == 0 {
            return Err(arg_error(layer, "filters", "a strictly positive value", 0));
        }
        if self.groups == 0 {
            return Err(arg_error(layer, "groups", "a positive integer", 0));
        }
        if self.filters % self.groups != 0 {
            return Err(arg_error(
                layer,
                "groups",
                format!("a divisor of filters ({})", self.filters),
                self.groups,
            ));
        }
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
        let ki = self.kernel_initializer.resolve(layer, "kernel_initializer")?;
        let bi = self.bias_initializer.resolve(layer, "bias_initializer")?;
        Ok((window, activation, ki, bi))
    }

    /// Reads a Keras 3 or tf-keras 2 `Conv2D` config.
    pub fn from_keras(r: &ConfigReader) -> Result<Conv2DConfig> {
        r.check_dtype()?;
        let filters = r.usize_req("filters")?;
        let kernel_size = r.pair("kernel_size")?.ok_or_else(|| r.missing("kernel_size"))?;
        let mut c = Conv2D::new(filters, kernel_size);
        c.name = r.name();
        c.trainable = r.trainable()?;
        c.strides = r.pair("strides")?.map_or(c.strides, Pair::from);
        c.padding = read_padding(r)?;
        c.data_format = read_data_format(r)?;
        c.dilation_rate = r.pair("dilation_rate")?.map_or(c.dilation_rate, Pair::from);
        c.groups = r.usize("groups")?.unwrap_or(1);
        c.activation = read_activation(r)?;
        c.use_bias = r.bool("use_bias")?.unwrap_or(true);
        c.kernel_initializer = read_init(r, "kernel_initializer")?.unwrap_or(c.kernel_initializer);
        c.bias_initializer = read_init(r, "bias_initializer")?.unwrap_or(c.bias_initializer);
        c.kernel_regularizer = read_reg(r, "kernel_regularizer")?;
        c.bias_regularizer = read_reg(r, "bias_regularizer")?;
        c.activity_regularizer = read_reg(r, "activity_regularizer")?;
        c.kernel_constraint = read_constraint(r, "kernel_constraint")?;
        c.bias_constraint = read_constraint(r, "bias_constraint")?;
        c.validate(&r.layer)?;
        Ok(c)
    }
}

impl LayerConfig for Conv2DConfig {
    fn class_name(&self) -> &'static str {
        "Conv2D"
    }
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    fn set_name(&mut self, name: String) {
        self.name = Some(name);
    }
    #[allow(clippy::manual_is_multiple_of)] // `is_multiple_of` is newer than the MSRV (1.80)
    fn build(&self, name: &str, inputs: &[Shape], rng: &mut Rng) -> Result<Box<dyn Layer>> {
        let (window, activation, ki, bi) = self.validate(name)?;
        let input = single(name, inputs)?;
        window.output(name, input)?;
        let c = known(name, input, window.data_format.channel_axis(), "channel dimension")?;
        if c % self.groups != 0 {
            return Err(arg_error(
                name,
                "groups",
                format!(
                    "a divisor of the input channels ({c}; input shape {})",
                    crate::kshape::format_shape(input)
                ),
                self.groups,
            ));
        }
        let (kh, kw) = window.kernel;
        let mut weights = vec![Weight::trainable(
            "kernel",
            ki.generate(name, &[kh, kw, c / self.groups, self.filters], rng)?,
        )];
        if self.use_bias {
            weights.push(Weight::trainable("bias", bi.generate(name, &[self.filters], rng)?));
        }
        Ok(Box::new(Conv2D {
            name: name.to_string(),
            config: Conv2DConfig {
                name: Some(name.to_string()),
                ..self.clone()
            },
            window,
            activation,
            kernel_initializer: ki,
            bias_initializer: bi,
            weights,
            trainable: self.trainable,
        }))
    }
}

impl Layer for Conv2D {
    fn name(&self) -> &str {
        &self.name
    }
    fn class_name(&self) -> &str {
        "Conv2D"
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
    fn compute_output_shape(&self, inputs: &[Shape]) -> Result<Vec<Shape>> {
        let ([n, oh, ow, _], _) = self.window.output(&self.name, single(&self.name, inputs)?)?;
        Ok(vec![self.window.data_format.join([
            n,
            oh,
            ow,
            Some(self.config.filters),
        ])])
    }
    fn call(&self, ctx: &mut CallCtx, inputs: &[Var], weights: &[Var]) -> Result<Vec<Var>> {
        let x = single_var(&self.name, inputs, weights, self.weights.len())?;
        let w = &self.window;
        let p = Conv2dParams::new(w.strides, w.padding)
            .with_dilation(w.dilation)
            .with_groups(self.config.groups);
        let err = engine_err(&self.name);
        let xs = w.data_format.to_nhwc(ctx.tape, x).map_err(&err)?;
        let y = ctx
            .tape
            .conv2d(xs, weights[0], weights.get(1).copied(), &p)
            .map_err(&err)?;
        let y = w.data_format.from_nhwc(ctx.tape, y).map_err(&err)?;
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
            "filters": c.filters,
            "kernel_size": c.kernel_size.to_json(),
            "strides": c.strides.to_json(),
            "padding": padding_name(self.window.padding),
            "data_format": self.window.data_format.name(),
            "dilation_rate": c.dilation_rate.to_json(),
            "groups": c.groups,
            "activation": to_keras(self.activation),
            "use_bias": c.use_bias,
            "kernel_initializer": self.kernel_initializer.to_keras(),
            "bias_initializer": self.bias_initializer.to_keras(),
            "kernel_regularizer": reg_json(&c.kernel_regularizer),
            "bias_regularizer": reg_json(&c.bias_regularizer),
            "activity_regularizer": reg_json(&c.activity_regularizer),
            "kernel_constraint": constraint_json(&c.kernel_constraint),
            "bias_constraint": constraint_json(&c.bias_constraint),
        })
    }
    fn explain(&self, inputs: &[Shape]) -> Vec<String> {
        let (kh, kw) = self.window.kernel;
        let s = &self.weights[0].value.shape().to_vec();
        let (cin, f, g) = (s[2] * self.config.groups, self.config.filters, self.config.groups);
        let per = if g > 1 {
            format!("{kh}·{kw}·{cin}/{g}")
        } else {
            format!("{kh}·{kw}·{cin}")
        };
        let formula = if self.config.use_bias {
            format!("({per} + 1)·{f}")
        } else {
            format!("{per}·{f}")
        };
        let mut lines = vec![params_line(&formula, self.count_params())];
        if let Some(x) = inputs.first() {
            lines.extend(self.window.explain(&self.name, x));
        }
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
                (c.kernel_regularizer, weights.first().copied()),
                (c.bias_regularizer, weights.get(1).copied()),
            ],
        )
    }
    fn apply_constraints(&mut self) {
        if !self.trainable {
            return;
        }
        let (kc, bc) = (
            self.config.kernel_constraint.clone(),
            self.config.bias_constraint.clone(),
        );
        let mut it = self.weights.iter_mut();
        constrain(&kc, it.next());
        constrain(&bc, it.next());
    }
}

#[cfg(test)]
#[path = "conv_tests.rs"]
mod tests;
