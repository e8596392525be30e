//! `SeparableConv2D`: a depthwise convolution (`depth_multiplier` filters per input channel)
//! followed by a 1×1 pointwise convolution into `filters` channels.
//!
//! Shapes: `(n, h, w, c)` → `(n, oh, ow, filters)`; `depthwise_kernel` `(kh, kw, c, dm)`,
//! `pointwise_kernel` `(1, 1, c·dm, filters)`, bias `(filters,)`. `channels_first` inputs are
//! transposed to NHWC around the engine ops. Declared inside [`super`] (`depthwise.rs`),
//! whose readers and helpers it shares.

use super::{check_multiplier, depthwise_params, input_channels, read_depthwise_args};
use crate::activations::{to_keras, ActivationKind};
use crate::config::ConfigReader;
use crate::constraints::Constraint;
use crate::error::{arg_error, Result};
use crate::explain::params_line;
use crate::initializers::Initializer;
use crate::kshape::Shape;
use crate::layers::common::{
    activate, config_name, kernels_and_bias, layer_core, opt_setters, plain_setters, read_args, setters, weight_args,
    LayerCore,
};
use crate::layers::conv_args::*;
use crate::layers::{CallCtx, Layer, LayerConfig};
use crate::model::plan::{InferenceOp, PlanAct};
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
    core: LayerCore,
    config: SeparableConv2DConfig,
    window: Window,
    activation: ActivationKind,
    /// Depthwise, pointwise and bias initializers.
    inits: [Initializer; 3],
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
        let (window, activation) = conv_window!(self, layer)?;
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
        let mut c = read_depthwise_args(r, |k| SeparableConv2D::new(0, k))?;
        c.filters = r.usize_req("filters")?;
        read_conv_args!(r, c);
        c.depth_multiplier = r.usize("depth_multiplier")?.unwrap_or(1);
        read_args!(r, c; init depthwise_initializer, pointwise_initializer, bias_initializer;
            reg depthwise_regularizer, pointwise_regularizer, bias_regularizer, activity_regularizer;
            constraint depthwise_constraint, pointwise_constraint, bias_constraint);
        c.validate(&r.layer)?;
        Ok(c)
    }
}

impl LayerConfig for SeparableConv2DConfig {
    config_name!("SeparableConv2D");
    fn build(&self, name: &str, inputs: &[Shape], rng: &mut Rng) -> Result<Box<dyn Layer>> {
        let (window, activation, [di, pi, bi]) = self.validate(name)?;
        let c = input_channels(name, &window, inputs)?;
        let ((kh, kw), dm, f) = (window.kernel, self.depth_multiplier, self.filters);
        let kernels = [
            ("depthwise_kernel", &di, &[kh, kw, c, dm][..]),
            ("pointwise_kernel", &pi, &[1, 1, c * dm, f][..]),
        ];
        let weights = kernels_and_bias(name, rng, &kernels, self.use_bias.then_some((&bi, f)))?;
        Ok(Box::new(SeparableConv2D {
            core: LayerCore::new(name, self.trainable, weights),
            config: SeparableConv2DConfig {
                name: Some(name.to_string()),
                ..self.clone()
            },
            window,
            activation,
            inits: [di, pi, bi],
        }))
    }
}

impl Layer for SeparableConv2D {
    layer_core!("SeparableConv2D");
    fn inference_op(&self) -> Option<InferenceOp> {
        (self.window.data_format == DataFormat::ChannelsLast).then(|| InferenceOp::Separable {
            params: depthwise_params(&self.window),
            depthwise: self.core.weights[0].value.clone(),
            pointwise: self.core.weights[1].value.clone(),
            bias: self.core.weights.get(2).map(|b| b.value.clone()),
            act: PlanAct::of(self.activation),
        })
    }
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
        let p = depthwise_params(&self.window);
        let pointwise = Conv2dParams::new((1, 1), Padding::Valid);
        let y = self
            .window
            .data_format
            .run_nhwc(ctx.tape, &self.core.name, x, |t, xs| {
                let d = t.depthwise_conv2d(xs, weights[0], None, &p)?;
                t.conv2d(d, weights[1], weights.get(2).copied(), &pointwise)
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
        let head = [
            ("depth_multiplier", json!(c.depth_multiplier)),
            ("filters", json!(c.filters)),
        ];
        let mut m = self.core.config_with(c.activity_regularizer.as_ref(), head);
        self.window.write_config(&mut m, None);
        m.insert("activation".into(), to_keras(self.activation));
        m.insert("use_bias".into(), json!(c.use_bias));
        let [di, pi, bi] = &self.inits;
        let args = [
            ("depthwise", di, c.depthwise_regularizer, &c.depthwise_constraint),
            ("pointwise", pi, c.pointwise_regularizer, &c.pointwise_constraint),
            ("bias", bi, c.bias_regularizer, &c.bias_constraint),
        ];
        weight_args(&mut m, &args, Some(c.activity_regularizer));
        Value::Object(m)
    }
    fn explain(&self, inputs: &[Shape]) -> Vec<String> {
        let s = self.core.weights[0].value.shape();
        let (kh, kw, c, dm, f) = (s[0], s[1], s[2], s[3], self.config.filters);
        let bias = if self.config.use_bias {
            format!(" + {f}")
        } else {
            String::new()
        };
        let formula = format!("{kh}·{kw}·{c}·{dm} (depthwise) + {c}·{dm}·{f} (pointwise){bias}");
        let mut lines = vec![params_line(&formula, self.count_params())];
        lines.extend(self.window.explain_inputs(&self.core.name, inputs));
        lines
    }
    fn regularization(&self, tape: &mut Tape, weights: &[Var]) -> Result<Option<Var>> {
        let c = &self.config;
        let regs = [c.depthwise_regularizer, c.pointwise_regularizer, c.bias_regularizer];
        self.core.regularization(tape, weights, &regs)
    }
    fn apply_constraints(&mut self) {
        let c = &self.config;
        let constraints = [&c.depthwise_constraint, &c.pointwise_constraint, &c.bias_constraint];
        self.core.apply_constraints(&constraints);
    }
}
