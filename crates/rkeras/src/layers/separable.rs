//! `SeparableConv2D`: a depthwise convolution (`depth_multiplier` filters per input channel)
//! followed by a 1×1 pointwise convolution into `filters` channels.
//!
//! Shapes: `(n, h, w, c)` → `(n, oh, ow, filters)`; `depthwise_kernel` `(kh, kw, c, dm)`,
//! `pointwise_kernel` `(1, 1, c·dm, filters)`, bias `(filters,)`. `channels_first` inputs are
//! transposed to NHWC around the engine ops. Declared inside [`super`] (`depthwise.rs`),
//! whose readers and helpers it shares.

use super::{check_multiplier, depthwise_params, input_channels, read_window_args};
use crate::activations::{parse_activation, to_keras, ActivationKind};
use crate::config::{dtype_policy, ConfigReader};
use crate::constraints::Constraint;
use crate::error::{arg_error, Result};
use crate::explain::params_line;
use crate::initializers::Initializer;
use crate::kshape::Shape;
use crate::layers::conv_args::*;
use crate::layers::core::activate;
use crate::layers::{CallCtx, Layer, LayerConfig, Weight};
use crate::regularizers::Regularizer;
use serde_json::{json, Value};
use tensor::ops::conv::Conv2dParams;
use tensor::shape::Padding;
use tensor::{Rng, Tape, Var};

/// `SeparableConv2D(filters, kernel_size, …)` with Keras 3's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct SeparableConv2DConfig {
    /// Name; automatic (`separable_conv2d`, …) when `None`.
    pub name: Option<String>,
    /// Whether the weights train.
    pub trainable: bool,
    /// Depthwise output channels per input channel (default 1).
    pub depth_multiplier: usize,
    /// Number of output channels.
    pub filters: usize,
    /// `(kh, kw)` of the depthwise step.
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
    /// Default `glorot_uniform`.
    pub pointwise_initializer: InitializerArg,
    /// Default `zeros`.
    pub bias_initializer: InitializerArg,
    /// Penalty on the depthwise kernel.
    pub depthwise_regularizer: Option<Regularizer>,
    /// Penalty on the pointwise kernel.
    pub pointwise_regularizer: Option<Regularizer>,
    /// Penalty on the bias.
    pub bias_regularizer: Option<Regularizer>,
    /// Penalty on the output.
    pub activity_regularizer: Option<Regularizer>,
    /// Applied to the depthwise kernel after each update.
    pub depthwise_constraint: Option<Constraint>,
    /// Applied to the pointwise kernel after each update.
    pub pointwise_constraint: Option<Constraint>,
    /// Applied to the bias after each update.
    pub bias_constraint: Option<Constraint>,
}

/// A built `SeparableConv2D` layer.
#[derive(Debug, Clone)]
pub struct SeparableConv2D {
    name: String,
    config: SeparableConv2DConfig,
    window: Window,
    activation: ActivationKind,
    inits: [Initializer; 3],
    weights: Vec<Weight>,
    trainable: bool,
}

impl SeparableConv2D {
    /// `SeparableConv2D(filters, kernel_size)`; the rest by builder methods.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(filters: usize, kernel_size: impl Into<Pair>) -> SeparableConv2DConfig {
        SeparableConv2DConfig {
            name: None,
            trainable: true,
            depth_multiplier: 1,
            filters,
            kernel_size: kernel_size.into(),
            strides: Pair(1, 1),
            padding: "valid".into(),
            data_format: "channels_last".into(),
            dilation_rate: Pair(1, 1),
            activation: "linear".into(),
            use_bias: true,
            depthwise_initializer: "glorot_uniform".into(),
            pointwise_initializer: "glorot_uniform".into(),
            bias_initializer: "zeros".into(),
            depthwise_regularizer: None,
            pointwise_regularizer: None,
            bias_regularizer: None,
            activity_regularizer: None,
            depthwise_constraint: None,
            pointwise_constraint: None,
            bias_constraint: None,
        }
    }
}

impl SeparableConv2DConfig {
    setters!(strides: Pair, padding: String, data_format: String, dilation_rate: Pair, activation: String);
    setters!(depthwise_initializer: InitializerArg, pointwise_initializer: InitializerArg, bias_initializer: InitializerArg);
    plain_setters!(depth_multiplier: usize, use_bias: bool, trainable: bool);
    opt_setters!(name: String, depthwise_regularizer: Regularizer, pointwise_regularizer: Regularizer, bias_regularizer: Regularizer);
    opt_setters!(activity_regularizer: Regularizer, depthwise_constraint: Constraint, pointwise_constraint: Constraint, bias_constraint: Constraint);

    /// Checks the arguments that do not depend on the input.
    pub fn validate(&self, layer: &str) -> Result<(Window, ActivationKind, [Initializer; 3])> {
        if self.filters == 0 {
            return Err(arg_error(layer, "filters", "a strictly positive value", 0));
        }
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
            self.pointwise_initializer.resolve(layer, "pointwise_initializer")?,
            self.bias_initializer.resolve(layer, "bias_initializer")?,
        ];
        Ok((window, activation, inits))
    }

    /// Reads a Keras 3 or tf-keras 2 `SeparableConv2D` config (tf-keras 2's unused
    /// `kernel_*` arguments are ignored).
    pub fn from_keras(r: &ConfigReader) -> Result<SeparableConv2DConfig> {
        r.check_dtype()?;
        let (kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias) = read_window_args(r)?;
        let mut c = SeparableConv2D::new(r.usize_req("filters")?, kernel_size);
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
        c.pointwise_initializer = read_init(r, "pointwise_initializer")?.unwrap_or(c.pointwise_initializer);
        c.bias_initializer = read_init(r, "bias_initializer")?.unwrap_or(c.bias_initializer);
        c.depthwise_regularizer = read_reg(r, "depthwise_regularizer")?;
        c.pointwise_regularizer = read_reg(r, "pointwise_regularizer")?;
        c.bias_regularizer = read_reg(r, "bias_regularizer")?;
        c.activity_regularizer = read_reg(r, "activity_regularizer")?;
        c.depthwise_constraint = read_constraint(r, "depthwise_constraint")?;
        c.pointwise_constraint = read_constraint(r, "pointwise_constraint")?;
        c.bias_constraint = read_constraint(r, "bias_constraint")?;
        c.validate(&r.layer)?;
        Ok(c)
    }
}

impl LayerConfig for SeparableConv2DConfig {
    fn class_name(&self) -> &'static str {
        "SeparableConv2D"
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
        let mut weights = vec![
            Weight::trainable("depthwise_kernel", inits[0].generate(name, &[kh, kw, c, dm], rng)?),
            Weight::trainable(
                "pointwise_kernel",
                inits[1].generate(name, &[1, 1, c * dm, self.filters], rng)?,
            ),
        ];
        if self.use_bias {
            weights.push(Weight::trainable(
                "bias",
                inits[2].generate(name, &[self.filters], rng)?,
            ));
        }
        let config = SeparableConv2DConfig {
            name: Some(name.to_string()),
            ..self.clone()
        };
        Ok(Box::new(SeparableConv2D {
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

impl Layer for SeparableConv2D {
    layer_basics!("SeparableConv2D");
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
        let (err, df) = (engine_err(&self.name), self.window.data_format);
        let xs = df.to_nhwc(ctx.tape, x).map_err(&err)?;
        let d = ctx
            .tape
            .depthwise_conv2d(xs, weights[0], None, &depthwise_params(&self.window))
            .map_err(&err)?;
        let y = ctx
            .tape
            .conv2d(
                d,
                weights[1],
                weights.get(2).copied(),
                &Conv2dParams::new((1, 1), Padding::Valid),
            )
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
            "filters": c.filters,
            "kernel_size": c.kernel_size.to_json(),
            "strides": c.strides.to_json(),
            "padding": padding_name(self.window.padding),
            "data_format": self.window.data_format.name(),
            "dilation_rate": c.dilation_rate.to_json(),
            "activation": to_keras(self.activation),
            "use_bias": c.use_bias,
            "depthwise_initializer": self.inits[0].to_keras(),
            "pointwise_initializer": self.inits[1].to_keras(),
            "bias_initializer": self.inits[2].to_keras(),
            "depthwise_regularizer": reg_json(&c.depthwise_regularizer),
            "pointwise_regularizer": reg_json(&c.pointwise_regularizer),
            "bias_regularizer": reg_json(&c.bias_regularizer),
            "activity_regularizer": reg_json(&c.activity_regularizer),
            "depthwise_constraint": constraint_json(&c.depthwise_constraint),
            "pointwise_constraint": constraint_json(&c.pointwise_constraint),
            "bias_constraint": constraint_json(&c.bias_constraint),
        })
    }
    fn explain(&self, inputs: &[Shape]) -> Vec<String> {
        let s = self.weights[0].value.shape();
        let (kh, kw, c, dm, f) = (s[0], s[1], s[2], s[3], self.config.filters);
        let bias = if self.config.use_bias {
            format!(" + {f}")
        } else {
            String::new()
        };
        let formula = format!("{kh}·{kw}·{c}·{dm} (depthwise) + {c}·{dm}·{f} (pointwise){bias}");
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
                (c.pointwise_regularizer, weights.get(1).copied()),
                (c.bias_regularizer, weights.get(2).copied()),
            ],
        )
    }
    fn apply_constraints(&mut self) {
        if !self.trainable {
            return;
        }
        let c = self.config.clone();
        let mut it = self.weights.iter_mut();
        constrain(&c.depthwise_constraint, it.next());
        constrain(&c.pointwise_constraint, it.next());
        constrain(&c.bias_constraint, it.next());
    }
}
