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

use super::common::{
    activate, activity_penalty, config_name, kernels_and_bias, layer_core, opt_setters, plain_setters, read_args,
    setters, weight_args, LayerCore,
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
use tensor::ops::batchnorm::FusedRelu;
use tensor::ops::conv::Conv2dParams;
use tensor::{Padding, Rng, Tape, Var};

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
    core: LayerCore,
    config: Conv2DConfig,
    window: Window,
    activation: ActivationKind,
    /// Kernel and bias initializers.
    inits: [Initializer; 2],
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
        let (window, activation) = conv_window!(self, layer)?;
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
        read_conv_args!(r, c);
        c.groups = r.usize("groups")?.unwrap_or(1);
        read_args!(r, c; init kernel_initializer, bias_initializer;
            reg kernel_regularizer, bias_regularizer, activity_regularizer; constraint kernel_constraint, bias_constraint);
        c.validate(&r.layer)?;
        Ok(c)
    }
}

impl LayerConfig for Conv2DConfig {
    config_name!("Conv2D");
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
        let kernel = [kh, kw, c / self.groups, self.filters];
        let weights = kernels_and_bias(
            name,
            rng,
            &[("kernel", &ki, &kernel)],
            self.use_bias.then_some((&bi, self.filters)),
        )?;
        Ok(Box::new(Conv2D {
            core: LayerCore::new(name, self.trainable, weights),
            config: Conv2DConfig {
                name: Some(name.to_string()),
                ..self.clone()
            },
            window,
            activation,
            inits: [ki, bi],
        }))
    }
}

impl Conv2D {
    /// The convolution with the paddings `(rows, cols)`, then the activation: a ReLU or ReLU6
    /// (the layer's own, or `relu`, the activation layer after it) inside the convolution
    /// ([`Tape::conv2d_relu`]), any other activation after it.
    fn run(
        &self,
        ctx: &mut CallCtx,
        x: Var,
        weights: &[Var],
        padding: (Padding, Padding),
        relu: Option<FusedRelu>,
    ) -> Result<Vec<Var>> {
        let w = &self.window;
        let p = Conv2dParams {
            padding,
            ..Conv2dParams::new(w.strides, w.padding)
                .with_dilation(w.dilation)
                .with_groups(self.config.groups)
        };
        let relu = relu.or(FusedRelu::of(self.activation));
        let (kernel, bias) = (weights[0], weights.get(1).copied());
        let y = w
            .data_format
            .run_nhwc(ctx.tape, &self.core.name, x, |t, xs| match relu {
                Some(r) => t.conv2d_relu(xs, kernel, bias, &p, r),
                None => t.conv2d(xs, kernel, bias, &p),
            })?;
        if relu.is_some() {
            activity_penalty(ctx, &self.core.name, y, self.config.activity_regularizer)?;
            return Ok(vec![y]);
        }
        Ok(vec![activate(
            ctx,
            &self.core.name,
            y,
            self.activation,
            self.config.activity_regularizer,
        )?])
    }
}

impl Layer for Conv2D {
    layer_core!("Conv2D");
    fn compute_output_shape(&self, inputs: &[Shape]) -> Result<Vec<Shape>> {
        let ([n, oh, ow, _], _) = self.window.output(&self.core.name, single(&self.core.name, inputs)?)?;
        Ok(vec![self.window.data_format.join([
            n,
            oh,
            ow,
            Some(self.config.filters),
        ])])
    }
    fn call(&self, ctx: &mut CallCtx, inputs: &[Var], weights: &[Var]) -> Result<Vec<Var>> {
        let x = self.core.input(inputs, weights)?;
        self.run(ctx, x, weights, (self.window.padding, self.window.padding), None)
    }
    fn call_with_relu(
        &self,
        ctx: &mut CallCtx,
        inputs: &[Var],
        weights: &[Var],
        relu: FusedRelu,
    ) -> Option<Result<Vec<Var>>> {
        // The activation layer's ReLU applies to this layer's activated output.
        if self.activation != ActivationKind::Linear || self.config.activity_regularizer.is_some() {
            return None;
        }
        let x = self.core.input(inputs, weights).ok()?;
        Some(self.run(ctx, x, weights, (self.window.padding, self.window.padding), Some(relu)))
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
        Some(self.run(ctx, x, weights, padding, None))
    }
    fn config(&self) -> Value {
        let c = &self.config;
        let mut m = self
            .core
            .config_with(c.activity_regularizer.as_ref(), [("filters", json!(c.filters))]);
        self.window.write_config(&mut m, None);
        m.insert("groups".into(), json!(c.groups));
        m.insert("activation".into(), to_keras(self.activation));
        m.insert("use_bias".into(), json!(c.use_bias));
        let [ki, bi] = &self.inits;
        let args = [
            ("kernel", ki, c.kernel_regularizer, &c.kernel_constraint),
            ("bias", bi, c.bias_regularizer, &c.bias_constraint),
        ];
        weight_args(&mut m, &args, Some(c.activity_regularizer));
        Value::Object(m)
    }
    fn explain(&self, inputs: &[Shape]) -> Vec<String> {
        let (kh, kw) = self.window.kernel;
        let s = &self.core.weights[0].value.shape().to_vec();
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
        lines.extend(self.window.explain_inputs(&self.core.name, inputs));
        lines
    }
    fn inference_op(&self) -> Option<InferenceOp> {
        let w = &self.window;
        (w.data_format == DataFormat::ChannelsLast).then(|| InferenceOp::Conv {
            params: Conv2dParams::new(w.strides, w.padding)
                .with_dilation(w.dilation)
                .with_groups(self.config.groups),
            kernel: self.core.weights[0].value.clone(),
            bias: self.core.weights.get(1).map(|b| b.value.clone()),
            act: PlanAct::of(self.activation),
        })
    }
    fn regularization(&self, tape: &mut Tape, weights: &[Var]) -> Result<Option<Var>> {
        let c = &self.config;
        self.core
            .regularization(tape, weights, &[c.kernel_regularizer, c.bias_regularizer])
    }
    fn apply_constraints(&mut self) {
        let c = &self.config;
        self.core.apply_constraints(&[&c.kernel_constraint, &c.bias_constraint]);
    }
}

#[cfg(test)]
#[path = "conv_tests.rs"]
mod tests;
