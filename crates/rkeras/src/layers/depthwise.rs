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

use super::common::{
    activate, config_name, kernels_and_bias, layer_core, opt_setters, plain_setters, read_args, setters, weight_args,
    LayerCore,
};
use super::conv_args::*;
use super::{CallCtx, Layer, LayerConfig};
use crate::activations::{to_keras, ActivationKind};
use crate::config::ConfigReader;
use crate::constraints::Constraint;
use crate::error::{arg_error, Result};
use crate::explain::params_line;
use crate::initializers::Initializer;
use crate::kshape::{known, Shape};
use crate::model::plan::{InferenceOp, PlanAct};
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
    core: LayerCore,
    config: DepthwiseConv2DConfig,
    window: Window,
    activation: ActivationKind,
    /// Depthwise kernel and bias initializers.
    inits: [Initializer; 2],
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

/// The start of both readers: the arguments every convolution has, and no `groups`.
fn read_depthwise_args<C>(r: &ConfigReader, new: impl FnOnce(Pair) -> C) -> Result<C> {
    r.check_dtype()?;
    let kernel_size = r.pair("kernel_size")?.ok_or_else(|| r.missing("kernel_size"))?;
    check_no_groups(r, "depthwise convolutions have no groups")?;
    Ok(new(kernel_size.into()))
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
        let (window, activation) = conv_window!(self, layer)?;
        let inits = [
            self.depthwise_initializer.resolve(layer, "depthwise_initializer")?,
            self.bias_initializer.resolve(layer, "bias_initializer")?,
        ];
        Ok((window, activation, inits))
    }

    /// Reads a Keras 3 or tf-keras 2 `DepthwiseConv2D` config.
    pub fn from_keras(r: &ConfigReader) -> Result<DepthwiseConv2DConfig> {
        let mut c = read_depthwise_args(r, DepthwiseConv2D::new)?;
        read_conv_args!(r, c);
        c.depth_multiplier = r.usize("depth_multiplier")?.unwrap_or(1);
        read_args!(r, c; init depthwise_initializer, bias_initializer;
            reg depthwise_regularizer, bias_regularizer, activity_regularizer; constraint depthwise_constraint, bias_constraint);
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
    config_name!("DepthwiseConv2D");
    fn build(&self, name: &str, inputs: &[Shape], rng: &mut Rng) -> Result<Box<dyn Layer>> {
        let (window, activation, [ki, bi]) = self.validate(name)?;
        let c = input_channels(name, &window, inputs)?;
        let ((kh, kw), dm) = (window.kernel, self.depth_multiplier);
        let weights = kernels_and_bias(
            name,
            rng,
            &[("kernel", &ki, &[kh, kw, c, dm])],
            self.use_bias.then_some((&bi, c * dm)),
        )?;
        Ok(Box::new(DepthwiseConv2D {
            core: LayerCore::new(name, self.trainable, weights),
            config: DepthwiseConv2DConfig {
                name: Some(name.to_string()),
                ..self.clone()
            },
            window,
            activation,
            inits: [ki, bi],
        }))
    }
}

fn depthwise_params(w: &Window) -> DepthwiseParams {
    DepthwiseParams::new(w.strides, w.padding).with_dilation(w.dilation)
}

impl DepthwiseConv2D {
    /// The depthwise convolution with the arguments `p`, then the activation.
    fn run(&self, ctx: &mut CallCtx, x: Var, weights: &[Var], p: DepthwiseParams) -> Result<Vec<Var>> {
        let y = self
            .window
            .data_format
            .run_nhwc(ctx.tape, &self.core.name, x, |t, xs| {
                t.depthwise_conv2d(xs, weights[0], weights.get(1).copied(), &p)
            })?;
        Ok(vec![activate(
            ctx,
            &self.core.name,
            y,
            self.activation,
            self.config.activity_regularizer,
        )?])
    }
}

impl Layer for DepthwiseConv2D {
    layer_core!("DepthwiseConv2D");
    fn compute_output_shape(&self, inputs: &[Shape]) -> Result<Vec<Shape>> {
        let ([n, oh, ow, c], _) = self.window.output(&self.core.name, single(&self.core.name, inputs)?)?;
        let dm = self.config.depth_multiplier;
        Ok(vec![self.window.data_format.join([n, oh, ow, c.map(|c| c * dm)])])
    }
    fn call(&self, ctx: &mut CallCtx, inputs: &[Var], weights: &[Var]) -> Result<Vec<Var>> {
        let x = self.core.input(inputs, weights)?;
        self.run(ctx, x, weights, depthwise_params(&self.window))
    }
    fn call_padded(
        &self,
        ctx: &mut CallCtx,
        inputs: &[Var],
        weights: &[Var],
        zeros: ((usize, usize), (usize, usize)),
    ) -> Option<Result<Vec<Var>>> {
        let (x, padding) = self
            .window
            .absorbing(ctx.tape, self.core.input(inputs, weights).ok()?, zeros)?;
        let p = DepthwiseParams {
            padding,
            ..depthwise_params(&self.window)
        };
        Some(self.run(ctx, x, weights, p))
    }
    fn inference_op(&self) -> Option<InferenceOp> {
        (self.window.data_format == DataFormat::ChannelsLast).then(|| InferenceOp::Depthwise {
            params: depthwise_params(&self.window),
            kernel: self.core.weights[0].value.clone(),
            bias: self.core.weights.get(1).map(|b| b.value.clone()),
            act: PlanAct::of(self.activation),
        })
    }
    fn config(&self) -> Value {
        let c = &self.config;
        let head = [("depth_multiplier", json!(c.depth_multiplier))];
        let mut m = self.core.config_with(c.activity_regularizer.as_ref(), head);
        self.window.write_config(&mut m, None);
        m.insert("activation".into(), to_keras(self.activation));
        m.insert("use_bias".into(), json!(c.use_bias));
        let [di, bi] = &self.inits;
        let args = [
            ("depthwise", di, c.depthwise_regularizer, &c.depthwise_constraint),
            ("bias", bi, c.bias_regularizer, &c.bias_constraint),
        ];
        weight_args(&mut m, &args, Some(c.activity_regularizer));
        Value::Object(m)
    }
    fn explain(&self, inputs: &[Shape]) -> Vec<String> {
        let s = self.core.weights[0].value.shape();
        let (kh, kw, c, dm) = (s[0], s[1], s[2], s[3]);
        let formula = if self.config.use_bias {
            format!("({kh}·{kw} + 1)·{c}·{dm}")
        } else {
            format!("{kh}·{kw}·{c}·{dm}")
        };
        let mut lines = vec![params_line(&formula, self.count_params())];
        lines.extend(self.window.explain_inputs(&self.core.name, inputs));
        lines
    }
    fn regularization(&self, tape: &mut Tape, weights: &[Var]) -> Result<Option<Var>> {
        let c = &self.config;
        self.core
            .regularization(tape, weights, &[c.depthwise_regularizer, c.bias_regularizer])
    }
    fn apply_constraints(&mut self) {
        let c = &self.config;
        self.core
            .apply_constraints(&[&c.depthwise_constraint, &c.bias_constraint]);
    }
}

#[path = "separable.rs"]
mod separable;
pub use separable::{SeparableConv2D, SeparableConv2DConfig};

#[cfg(test)]
#[path = "depthwise_tests.rs"]
mod tests;
