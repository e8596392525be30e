//! `Conv2DTranspose`: the transposed convolution (the input gradient of a `Conv2D`), with
//! Keras's arguments including `output_padding` and dilation.
//!
//! Shapes: `(n, h, w, c)` → `(n, oh, ow, filters)` with Keras's `deconv_output_length`
//! (`valid`: `h·s + max(k − s, 0)`, `same`: `h·s`; with `output_padding` p: `(h − 1)·s + k + p`
//! or `(h − 1)·s + k − 2·⌊k/2⌋ + p`), kernel `(kh, kw, filters, c)`, bias `(filters,)`.
//! `channels_first` inputs are transposed to NHWC around the engine op.
//!
//! ```
//! use rkeras::prelude::*;
//! clear_session();
//! let x = Input(&[7, 7, 3]).unwrap();
//! let y = Conv2DTranspose::new(4, 3).strides(2).call(&x).unwrap();
//! assert_eq!(y.shape(), &vec![None, Some(15), Some(15), Some(4)]);
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
use crate::regularizers::Regularizer;
use serde_json::{json, Value};
use tensor::ops::conv_transpose::Conv2dTransposeParams;
use tensor::shape::{transpose_axis, Padding};
use tensor::{Rng, Tape, Var};

/// `Conv2DTranspose(filters, kernel_size, …)` with Keras 3's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Conv2DTransposeConfig {
    /// Name; automatic (`conv2d_transpose`, …) when `None`.
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
    /// Extra rows/columns at the end of the output, each < the stride; `None` infers.
    pub output_padding: Option<Pair>,
    /// `"channels_last"` (default) or `"channels_first"`.
    pub data_format: String,
    /// Default 1.
    pub dilation_rate: Pair,
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

/// A built `Conv2DTranspose` layer.
#[derive(Debug, Clone)]
pub struct Conv2DTranspose {
    core: LayerCore,
    config: Conv2DTransposeConfig,
    window: Window,
    activation: ActivationKind,
    /// Kernel and bias initializers.
    inits: [Initializer; 2],
}

impl Conv2DTranspose {
    /// `Conv2DTranspose(filters, kernel_size)`; the rest by builder methods.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(filters: usize, kernel_size: impl Into<Pair>) -> Conv2DTransposeConfig {
        Conv2DTransposeConfig {
            name: None,
            trainable: true,
            filters,
            kernel_size: kernel_size.into(),
            strides: Pair(1, 1),
            padding: "valid".into(),
            output_padding: None,
            data_format: "channels_last".into(),
            dilation_rate: Pair(1, 1),
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

    fn axis(&self, which: usize, input: Option<usize>) -> Result<Option<usize>> {
        transpose_out(&self.core.name, &self.window, self.config.output_padding, which, input)
    }
}

/// Output size of one axis (`None` where the input size is unknown).
fn transpose_out(
    layer: &str,
    w: &Window,
    op: Option<Pair>,
    which: usize,
    input: Option<usize>,
) -> Result<Option<usize>> {
    let Some(n) = input else { return Ok(None) };
    let pick = |p: (usize, usize)| if which == 0 { p.0 } else { p.1 };
    let op = op.map(|p| pick(p.tuple()));
    let (out, _) = transpose_axis(
        "conv2d_transpose",
        n,
        pick(w.kernel),
        pick(w.strides),
        pick(w.dilation),
        w.padding,
        op,
    )
    .map_err(engine_err(layer))?;
    Ok(Some(out))
}

impl Conv2DTransposeConfig {
    setters!(strides: Pair, padding: String, data_format: String, dilation_rate: Pair, activation: String);
    plain_setters!(use_bias: bool, trainable: bool);
    setters!(kernel_initializer: InitializerArg, bias_initializer: InitializerArg);
    opt_setters!(name: String, output_padding: Pair, kernel_regularizer: Regularizer, bias_regularizer: Regularizer);
    opt_setters!(activity_regularizer: Regularizer, kernel_constraint: Constraint, bias_constraint: Constraint);

    /// Checks the arguments that do not depend on the input.
    pub fn validate(&self, layer: &str) -> Result<(Window, ActivationKind, Initializer, Initializer)> {
        if self.filters == 0 {
            return Err(arg_error(layer, "filters", "a strictly positive value", 0));
        }
        let (window, activation) = conv_window!(self, layer)?;
        if let Some(p) = self.output_padding {
            if p.0 >= self.strides.0 || p.1 >= self.strides.1 {
                return Err(arg_error(
                    layer,
                    "output_padding",
                    format!("values smaller than strides ({}, {})", self.strides.0, self.strides.1),
                    format!("({}, {})", p.0, p.1),
                ));
            }
        }
        let ki = self.kernel_initializer.resolve(layer, "kernel_initializer")?;
        let bi = self.bias_initializer.resolve(layer, "bias_initializer")?;
        Ok((window, activation, ki, bi))
    }

    /// Reads a Keras 3 or tf-keras 2 `Conv2DTranspose` config.
    pub fn from_keras(r: &ConfigReader) -> Result<Conv2DTransposeConfig> {
        r.check_dtype()?;
        let filters = r.usize_req("filters")?;
        let kernel_size = r.pair("kernel_size")?.ok_or_else(|| r.missing("kernel_size"))?;
        let mut c = Conv2DTranspose::new(filters, kernel_size);
        read_conv_args!(r, c);
        c.output_padding = r.pair("output_padding")?.map(Pair::from);
        check_no_groups(r, "Conv2DTranspose has no groups")?;
        read_args!(r, c; init kernel_initializer, bias_initializer;
            reg kernel_regularizer, bias_regularizer, activity_regularizer; constraint kernel_constraint, bias_constraint);
        c.validate(&r.layer)?;
        Ok(c)
    }
}

impl LayerConfig for Conv2DTransposeConfig {
    config_name!("Conv2DTranspose");
    fn build(&self, name: &str, inputs: &[Shape], rng: &mut Rng) -> Result<Box<dyn Layer>> {
        let (window, activation, ki, bi) = self.validate(name)?;
        let input = single(name, inputs)?;
        let [_, h, w, _] = window.data_format.split(name, input)?;
        let c = known(name, input, window.data_format.channel_axis(), "channel dimension")?;
        transpose_out(name, &window, self.output_padding, 0, h)?;
        transpose_out(name, &window, self.output_padding, 1, w)?;
        let (kh, kw) = window.kernel;
        let kernel = [kh, kw, self.filters, c];
        let weights = kernels_and_bias(
            name,
            rng,
            &[("kernel", &ki, &kernel)],
            self.use_bias.then_some((&bi, self.filters)),
        )?;
        Ok(Box::new(Conv2DTranspose {
            core: LayerCore::new(name, self.trainable, weights),
            config: Conv2DTransposeConfig {
                name: Some(name.to_string()),
                ..self.clone()
            },
            window,
            activation,
            inits: [ki, bi],
        }))
    }
}

impl Layer for Conv2DTranspose {
    layer_core!("Conv2DTranspose");
    fn compute_output_shape(&self, inputs: &[Shape]) -> Result<Vec<Shape>> {
        let [n, h, w, _] = self
            .window
            .data_format
            .split(&self.core.name, single(&self.core.name, inputs)?)?;
        let (oh, ow) = (self.axis(0, h)?, self.axis(1, w)?);
        Ok(vec![self.window.data_format.join([
            n,
            oh,
            ow,
            Some(self.config.filters),
        ])])
    }
    fn call(&self, ctx: &mut CallCtx, inputs: &[Var], weights: &[Var]) -> Result<Vec<Var>> {
        let x = self.core.input(inputs, weights)?;
        let w = &self.window;
        let mut p = Conv2dTransposeParams::new(w.strides, w.padding).with_dilation(w.dilation);
        p.output_padding = self.config.output_padding.map(Pair::tuple);
        let y = w.data_format.run_nhwc(ctx.tape, &self.core.name, x, |t, xs| {
            t.conv2d_transpose(xs, weights[0], weights.get(1).copied(), &p)
        })?;
        Ok(vec![activate(
            ctx,
            &self.core.name,
            y,
            self.activation,
            self.config.activity_regularizer,
        )?])
    }
    fn config(&self) -> Value {
        let c = &self.config;
        let mut m = self
            .core
            .config_with(c.activity_regularizer.as_ref(), [("filters", json!(c.filters))]);
        let output_padding = c.output_padding.map_or(Value::Null, Pair::to_json);
        self.window
            .write_config(&mut m, Some(("output_padding", output_padding)));
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
        let (f, cin) = (self.config.filters, self.core.weights[0].value.shape()[3]);
        let formula = if self.config.use_bias {
            format!("({kh}·{kw}·{cin} + 1)·{f}")
        } else {
            format!("{kh}·{kw}·{cin}·{f}")
        };
        let mut lines = vec![params_line(&formula, self.count_params())];
        let Some(Ok([_, h, w, _])) = inputs
            .first()
            .map(|x| self.window.data_format.split(&self.core.name, x))
        else {
            return lines;
        };
        for (which, label, input) in [(0, "H", h), (1, "W", w)] {
            let (Some(n), Ok(Some(out))) = (input, self.axis(which, input)) else {
                continue;
            };
            let pick = |p: (usize, usize)| if which == 0 { p.0 } else { p.1 };
            let (s, d) = (pick(self.window.strides), pick(self.window.dilation));
            let k = (pick(self.window.kernel) - 1) * d + 1;
            let op = self.config.output_padding.map(|p| pick(p.tuple()));
            lines.push(match (self.window.padding, op) {
                (Padding::Same, None) => format!("{label}: same: {n}·{s} = {out}"),
                (Padding::Same, Some(p)) => format!("{label}: same: ({n} − 1)·{s} + {k} − 2·⌊{k}/2⌋ + {p} = {out}"),
                (_, Some(p)) => format!("{label}: ({n} − 1)·{s} + {k} + {p} = {out}"),
                _ => format!("{label}: {n}·{s} + max({k} − {s}, 0) = {out}"),
            });
        }
        lines
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
#[path = "conv_transpose_tests.rs"]
mod tests;
