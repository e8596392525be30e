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
    name: String,
    config: Conv2DTransposeConfig,
    window: Window,
    activation: ActivationKind,
    kernel_initializer: Initializer,
    bias_initializer: Initializer,
    weights: Vec<Weight>,
    trainable: bool,
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
        transpose_out(&self.name, &self.window, self.config.output_padding, which, input)
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
        let window = Window::new(
            layer,
            "kernel_size",
            self.kernel_size,
            self.strides,
            self.dilation_rate,
            &self.padding,
            &self.data_format,
        )?;
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
        let activation = parse_activation(layer, "activation", &self.activation)?;
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
        c.name = r.name();
        c.trainable = r.trainable()?;
        c.strides = r.pair("strides")?.map_or(c.strides, Pair::from);
        c.padding = read_padding(r)?;
        c.output_padding = r.pair("output_padding")?.map(Pair::from);
        c.data_format = read_data_format(r)?;
        c.dilation_rate = r.pair("dilation_rate")?.map_or(c.dilation_rate, Pair::from);
        // tf-keras 2 writes `groups: 1`; other values were never supported.
        if let Some(g) = r.usize("groups")? {
            if g != 1 {
                return Err(arg_error(&r.layer, "groups", "1 (Conv2DTranspose has no groups)", g));
            }
        }
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

impl LayerConfig for Conv2DTransposeConfig {
    fn class_name(&self) -> &'static str {
        "Conv2DTranspose"
    }
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    fn set_name(&mut self, name: String) {
        self.name = Some(name);
    }
    fn build(&self, name: &str, inputs: &[Shape], rng: &mut Rng) -> Result<Box<dyn Layer>> {
        let (window, activation, ki, bi) = self.validate(name)?;
        let input = single(name, inputs)?;
        let [_, h, w, _] = window.data_format.split(name, input)?;
        let c = known(name, input, window.data_format.channel_axis(), "channel dimension")?;
        transpose_out(name, &window, self.output_padding, 0, h)?;
        transpose_out(name, &window, self.output_padding, 1, w)?;
        let (kh, kw) = window.kernel;
        let mut weights = vec![Weight::trainable(
            "kernel",
            ki.generate(name, &[kh, kw, self.filters, c], rng)?,
        )];
        if self.use_bias {
            weights.push(Weight::trainable("bias", bi.generate(name, &[self.filters], rng)?));
        }
        Ok(Box::new(Conv2DTranspose {
            name: name.to_string(),
            config: Conv2DTransposeConfig {
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

impl Layer for Conv2DTranspose {
    fn name(&self) -> &str {
        &self.name
    }
    fn class_name(&self) -> &str {
        "Conv2DTranspose"
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
        let [n, h, w, _] = self.window.data_format.split(&self.name, single(&self.name, inputs)?)?;
        let (oh, ow) = (self.axis(0, h)?, self.axis(1, w)?);
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
        let mut p = Conv2dTransposeParams::new(w.strides, w.padding).with_dilation(w.dilation);
        p.output_padding = self.config.output_padding.map(Pair::tuple);
        let err = engine_err(&self.name);
        let xs = w.data_format.to_nhwc(ctx.tape, x).map_err(&err)?;
        let y = ctx
            .tape
            .conv2d_transpose(xs, weights[0], weights.get(1).copied(), &p)
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
            "output_padding": c.output_padding.map_or(Value::Null, Pair::to_json),
            "data_format": self.window.data_format.name(),
            "dilation_rate": c.dilation_rate.to_json(),
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
        let (f, cin) = (self.config.filters, self.weights[0].value.shape()[3]);
        let formula = if self.config.use_bias {
            format!("({kh}·{kw}·{cin} + 1)·{f}")
        } else {
            format!("{kh}·{kw}·{cin}·{f}")
        };
        let mut lines = vec![params_line(&formula, self.count_params())];
        let Some(Ok([_, h, w, _])) = inputs.first().map(|x| self.window.data_format.split(&self.name, x)) else {
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
mod tests {
    use super::*;
    use crate::layers::CallCtx;
    use serde_json::json;
    use tensor::Tensor;

    fn img(h: usize, w: usize, c: usize) -> Vec<Shape> {
        vec![crate::kshape::batched(&[h, w, c])]
    }

    fn out(cfg: &Conv2DTransposeConfig, input: Vec<Shape>) -> (Shape, u64) {
        let l = cfg.build("t", &input, &mut Rng::new(0)).unwrap();
        (l.compute_output_shape(&input).unwrap().remove(0), l.count_params())
    }

    #[test]
    fn shapes_and_params_match_keras() {
        // Keras seed cases k_conv_transpose_{s1, valid_s2, same_s2}: 5×5×3 → 4 filters, 3×3.
        assert_eq!(
            out(&Conv2DTranspose::new(4, 3), img(5, 5, 3)),
            (crate::kshape::batched(&[7, 7, 4]), 112)
        );
        assert_eq!(
            out(&Conv2DTranspose::new(4, 3).strides(2), img(5, 5, 3)).0,
            crate::kshape::batched(&[11, 11, 4])
        );
        assert_eq!(
            out(&Conv2DTranspose::new(4, 3).strides(2).padding("same"), img(5, 5, 3)).0,
            crate::kshape::batched(&[10, 10, 4])
        );
        // output_padding: (5 − 1)·2 + 3 + 1 = 12.
        let c = Conv2DTranspose::new(2, 3).strides(2).output_padding(1);
        assert_eq!(out(&c, img(5, 5, 3)).0, crate::kshape::batched(&[12, 12, 2]));
        // dilation 2: extent 5, 5 + 5 − 1 = 9.
        assert_eq!(
            out(&Conv2DTranspose::new(2, 3).dilation_rate(2), img(5, 5, 1)).0,
            crate::kshape::batched(&[9, 9, 2])
        );
        // channels_first and unknown sizes.
        let cf = Conv2DTranspose::new(4, 3).strides(2).data_format("channels_first");
        assert_eq!(
            out(&cf, vec![vec![None, Some(3), None, Some(5)]]).0,
            vec![None, Some(4), None, Some(11)]
        );
        assert_eq!(out(&Conv2DTranspose::new(4, 3).use_bias(false), img(5, 5, 3)).1, 108);
    }

    #[test]
    fn errors_name_layer_and_argument() {
        let e = Conv2DTranspose::new(4, 3).strides(2).output_padding(2).build(
            "conv2d_transpose_1",
            &img(5, 5, 3),
            &mut Rng::new(0),
        );
        let e = e.err().unwrap().to_string();
        assert!(
            e.contains("conv2d_transpose_1: argument `output_padding`") && e.contains("(2, 2)"),
            "{e}"
        );
        let e = Conv2DTranspose::new(0, 3)
            .build("t", &img(5, 5, 3), &mut Rng::new(0))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("filters") && e.contains("Received: filters=0"), "{e}");
        let e = Conv2DTranspose::new(4, 3)
            .build("t", &[vec![None, Some(5), Some(5), None]], &mut Rng::new(0))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("channel dimension"), "{e}");
    }

    #[test]
    fn forward_stamps_the_kernel_and_gradients_check() {
        // One pixel of value 2, kernel of ones 2×2, stride 2: a 2×2 block of 2s, plus bias 1.
        let l = Conv2DTranspose::new(1, 2)
            .strides(2)
            .bias_initializer("ones")
            .kernel_initializer("ones")
            .build("t", &img(1, 1, 1), &mut Rng::new(0))
            .unwrap();
        let mut tape = Tape::new();
        let mut rng = Rng::new(0);
        let mut ctx = CallCtx::new(&mut tape, &mut rng, false);
        let x = ctx.tape.constant(Tensor::full(&[1, 1, 1, 1], 2.0));
        let ws: Vec<Var> = l.weights().iter().map(|w| ctx.tape.constant(w.value.clone())).collect();
        let y = l.call(&mut ctx, &[x], &ws).unwrap()[0];
        assert_eq!(tape.value(y).data(), &[3.0, 3.0, 3.0, 3.0]);

        let l = Conv2DTranspose::new(2, 3)
            .strides(2)
            .padding("same")
            .activation("tanh")
            .build("t", &img(3, 2, 2), &mut Rng::new(1))
            .unwrap();
        let mut inputs = vec![Tensor::arange(&[1, 3, 2, 2]).map(|v| v / 12.0 - 0.3)];
        inputs.extend(l.weights().iter().map(|w| w.value.clone()));
        tensor::gradcheck::check_gradients(
            &inputs,
            |tape, v| {
                let mut rng = Rng::new(0);
                let mut ctx = CallCtx::new(tape, &mut rng, true);
                l.call(&mut ctx, &v[..1], &v[1..])
                    .map(|o| o[0])
                    .map_err(|e| tensor::TensorError::Autograd(e.to_string()))
            },
            1e-2,
            2e-2,
        )
        .unwrap();
    }

    #[test]
    fn json_round_trip_keras2_and_explain() {
        let l = Conv2DTranspose::new(4, 3)
            .strides(2)
            .padding("same")
            .output_padding(1)
            .build("ct", &img(5, 5, 3), &mut Rng::new(0))
            .unwrap();
        let j = l.config();
        let c = Conv2DTransposeConfig::from_keras(&ConfigReader::new("Conv2DTranspose", &j).unwrap()).unwrap();
        assert_eq!(c.build("ct", &img(5, 5, 3), &mut Rng::new(0)).unwrap().config(), j);
        assert_eq!(j["output_padding"], json!([1, 1]));
        let k2 = json!({"name": "conv2d_transpose", "trainable": true, "dtype": "float32", "filters": 4, "kernel_size": [3, 3],
            "strides": [2, 2], "padding": "valid", "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1,
            "activation": "linear", "use_bias": true, "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": null}},
            "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": null, "bias_regularizer": null,
            "activity_regularizer": null, "kernel_constraint": null, "bias_constraint": null, "output_padding": null});
        let c = Conv2DTransposeConfig::from_keras(&ConfigReader::new("Conv2DTranspose", &k2).unwrap()).unwrap();
        assert_eq!((c.strides, c.output_padding), (Pair(2, 2), None));
        let lines = l.explain(&img(5, 5, 3));
        assert_eq!(lines[0], "params: (3·3·3 + 1)·4 = 112");
        assert_eq!(lines[1], "H: same: (5 − 1)·2 + 3 − 2·⌊3/2⌋ + 1 = 10");
    }
}
