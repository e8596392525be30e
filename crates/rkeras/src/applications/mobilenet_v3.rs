//! MobileNetV3Small and MobileNetV3Large (Howard et al., 2019), as Keras 3's
//! `mobilenet_v3.py`: `rescaling` (1/127.5 − 1, `include_preprocessing`), `conv` 3×3/2,
//! `conv_bn`, then inverted residual blocks (`expanded_conv_…`: `expand` 1×1, `depthwise_pad`
//! on strided blocks, `depthwise` k×k, squeeze-and-excite `squeeze_excite_avg_pool`
//! (`keepdims=True`) / `_conv` / `_relu` / `_conv_1` / hard sigmoid / `_mul`, `project`,
//! `add`), `conv_1` (6× the last width), and the top: global pooling, `conv_2` (1024 or
//! 1280 channels), dropout, `logits` (1×1 conv), `flatten`, `predictions` (an activation).
//! Hard sigmoid is `ReLU(6)(x + 3) · (1/6)` (two operations around a `ReLU`), hard swish an
//! `Activation("hard_swish")`; `minimalistic` uses ReLU, 3×3 kernels and no SE.
//!
//! With `keras2_names`, tf-keras 2's graph: `Conv`, `Conv/BatchNorm`, `expanded_conv/…/`
//! names, hard swish as `Multiply([x, hard_sigmoid(x)])`, model `MobilenetV3small`.
//!
//! Input `(None, None, 3)` unless given (at least 32×32); output `(None, classes)`.

use super::mobilenet_v2::make_divisible;
use super::{
    check_input_tensor_agrees, correct_pad, finish, image_input, imagenet, py_shape, top_args, AppOptions, Pooling,
};
use crate::error::{arg_error, KerasError, Result};
use crate::layers::{
    Activation, Add, BatchNormalization, Conv2D, DepthwiseConv2D, Dropout, Flatten, GlobalAveragePooling2D,
    GlobalMaxPooling2D, Multiply, ReLU, Rescaling, ZeroPadding2D,
};
use crate::model::ops::TensorOp;
use crate::model::{Call, KerasTensor, Model};
use tensor::ops::elementwise::BinaryOp;

/// Keras's `_depth(v)`: the nearest multiple of 8, never 10% below.
fn depth(v: f64) -> usize {
    make_divisible(v, 8)
}

/// Which activation a block uses.
#[derive(Clone, Copy, PartialEq)]
enum Act {
    Relu,
    HardSwish,
}

/// Builds with Keras 3's or tf-keras's names.
struct Net {
    k2: bool,
    /// tf-keras counts its operations (`tf.__operators__.add`, `tf.math.multiply`) apart
    /// from its layers (`multiply`): with its names, these are named here.
    counts: std::cell::RefCell<std::collections::HashMap<&'static str, usize>>,
}

impl Net {
    /// The next tf-keras-style name for `stem` (`stem`, `stem_1`, …).
    fn next(&self, stem: &'static str) -> String {
        let mut c = self.counts.borrow_mut();
        let n = c.entry(stem).or_insert(0);
        let name = if *n == 0 {
            stem.to_string()
        } else {
            format!("{stem}_{n}")
        };
        *n += 1;
        name
    }

    /// `name` in Keras 3 spelling, or its tf-keras 2 spelling.
    fn n(&self, k3: &str, k2: &str) -> String {
        if self.k2 { k2 } else { k3 }.to_string()
    }

    fn bn(&self, x: &KerasTensor, name: String) -> Result<KerasTensor> {
        BatchNormalization::new()
            .axis(-1)
            .epsilon(1e-3)
            .momentum(0.999)
            .name(name)
            .call(x)
    }

    fn hard_sigmoid(&self, x: &KerasTensor) -> Result<KerasTensor> {
        if self.k2 {
            let y = TensorOp::scalar(BinaryOp::Add, 3.0, self.next("tf_add")).call(x)?;
            let y = ReLU::new().max_value(6.0).call(&y)?;
            return TensorOp::scalar(BinaryOp::Mul, 1.0 / 6.0, self.next("tf_multiply")).call(&y);
        }
        let y = (x + 3.0)?;
        let y = ReLU::new().max_value(6.0).call(&y)?;
        &y * (1.0 / 6.0)
    }

    fn act(&self, x: &KerasTensor, a: Act) -> Result<KerasTensor> {
        match a {
            Act::Relu => ReLU::new().call(x),
            Act::HardSwish if self.k2 => {
                let h = self.hard_sigmoid(x)?;
                Multiply::new().name(self.next("multiply")).call_many(&[x, &h])
            }
            Act::HardSwish => Activation::new("hard_swish").call(x),
        }
    }

    fn se_block(&self, inputs: &KerasTensor, filters: usize, se_ratio: f64, prefix: &str) -> Result<KerasTensor> {
        let sep = if self.k2 { "squeeze_excite/" } else { "squeeze_excite_" };
        let part = |k3: &str, k2: &str| format!("{prefix}{sep}{}", if self.k2 { k2 } else { k3 });
        let x = GlobalAveragePooling2D::new()
            .keepdims(true)
            .name(part("avg_pool", "AvgPool"))
            .call(inputs)?;
        let x = Conv2D::new(depth(filters as f64 * se_ratio), 1)
            .padding("same")
            .name(part("conv", "Conv"))
            .call(&x)?;
        let x = ReLU::new().name(part("relu", "Relu")).call(&x)?;
        let x = Conv2D::new(filters, 1)
            .padding("same")
            .name(part("conv_1", "Conv_1"))
            .call(&x)?;
        let x = self.hard_sigmoid(&x)?;
        Multiply::new().name(part("mul", "Mul")).call_many(&[inputs, &x])
    }

    /// Keras's `_inverted_res_block`.
    #[allow(clippy::too_many_arguments)]
    fn block(
        &self,
        x: &KerasTensor,
        expansion: f64,
        filters: usize,
        kernel: usize,
        stride: usize,
        se_ratio: Option<f64>,
        activation: Act,
        block_id: usize,
    ) -> Result<KerasTensor> {
        let shortcut = x.clone();
        let infilters = x.shape().last().copied().flatten().unwrap_or(0);
        let (mut prefix, sep) = if self.k2 {
            ("expanded_conv/".to_string(), "/")
        } else {
            ("expanded_conv_".to_string(), "_")
        };
        let mut x = x.clone();
        if block_id > 0 {
            prefix = if self.k2 {
                format!("expanded_conv_{block_id}/")
            } else {
                format!("expanded_conv_{block_id}_")
            };
            x = Conv2D::new(depth(infilters as f64 * expansion), 1)
                .padding("same")
                .use_bias(false)
                .name(format!("{prefix}expand"))
                .call(&x)?;
            x = self.bn(&x, format!("{prefix}expand{sep}{}", self.n("bn", "BatchNorm")))?;
            x = self.act(&x, activation)?;
        }
        if stride == 2 {
            x = ZeroPadding2D::new(correct_pad(&x, kernel))
                .name(format!("{prefix}depthwise{sep}pad"))
                .call(&x)?;
        }
        x = DepthwiseConv2D::new(kernel)
            .strides(stride)
            .padding(if stride == 1 { "same" } else { "valid" })
            .use_bias(false)
            .name(format!("{prefix}depthwise"))
            .call(&x)?;
        x = self.bn(&x, format!("{prefix}depthwise{sep}{}", self.n("bn", "BatchNorm")))?;
        x = self.act(&x, activation)?;
        if let Some(r) = se_ratio {
            x = self.se_block(&x, depth(infilters as f64 * expansion), r, &prefix)?;
        }
        x = Conv2D::new(filters, 1)
            .padding("same")
            .use_bias(false)
            .name(format!("{prefix}project"))
            .call(&x)?;
        x = self.bn(&x, format!("{prefix}project{sep}{}", self.n("bn", "BatchNorm")))?;
        if stride == 1 && infilters == filters {
            x = Add::new()
                .name(format!("{prefix}{}", self.n("add", "Add")))
                .call_many(&[&shortcut, &x])?;
        }
        Ok(x)
    }
}

/// (expansion, filters, kernel (0 = the model's), stride, squeeze-excite, hard swish) per
/// block; `true` in the last two means "the model's `se_ratio`" / "the model's activation".
type Spec = (f64, usize, usize, usize, bool, bool);

const SMALL: [Spec; 11] = [
    (1.0, 16, 3, 2, true, false),
    (72.0 / 16.0, 24, 3, 2, false, false),
    (88.0 / 24.0, 24, 3, 1, false, false),
    (4.0, 40, 0, 2, true, true),
    (6.0, 40, 0, 1, true, true),
    (6.0, 40, 0, 1, true, true),
    (3.0, 48, 0, 1, true, true),
    (3.0, 48, 0, 1, true, true),
    (6.0, 96, 0, 2, true, true),
    (6.0, 96, 0, 1, true, true),
    (6.0, 96, 0, 1, true, true),
];

const LARGE: [Spec; 15] = [
    (1.0, 16, 3, 1, false, false),
    (4.0, 24, 3, 2, false, false),
    (3.0, 24, 3, 1, false, false),
    (3.0, 40, 0, 2, true, false),
    (3.0, 40, 0, 1, true, false),
    (3.0, 40, 0, 1, true, false),
    (6.0, 80, 3, 2, false, true),
    (2.5, 80, 3, 1, false, true),
    (2.3, 80, 3, 1, false, true),
    (2.3, 80, 3, 1, false, true),
    (6.0, 112, 3, 1, true, true),
    (6.0, 112, 3, 1, true, true),
    (6.0, 160, 0, 2, true, true),
    (6.0, 160, 0, 1, true, true),
    (6.0, 160, 0, 1, true, true),
];

fn input_shape(app: &str, opts: &AppOptions) -> Result<[Option<usize>; 3]> {
    let Some((h, w, c)) = opts.input_shape else {
        return Ok([None, None, Some(3)]);
    };
    let given = py_shape(&[Some(h), Some(w), Some(c)]);
    if h < 32 || w < 32 {
        return Err(arg_error(
            app,
            "input_shape",
            "height and width of at least 32 (Input size must be at least 32x32)",
            given,
        ));
    }
    if c == 0 {
        return Err(arg_error(app, "input_shape", "a positive number of channels", given));
    }
    Ok([Some(h), Some(w), Some(c)])
}

fn mobilenet_v3(opts: &AppOptions, large: bool) -> Result<Model> {
    let app = if large { "MobileNetV3Large" } else { "MobileNetV3Small" };
    let (classes, classifier) = top_args(app, opts, 1000)?;
    let alpha = opts.alpha;
    if !(alpha.is_finite() && alpha > 0.0) {
        return Err(arg_error(app, "alpha", "a positive number", alpha));
    }
    let published = alpha == 1.0 || (alpha == 0.75 && !opts.minimalistic);
    if imagenet::wanted(opts) && !published {
        return Err(KerasError::Invalid(format!(
            "{app}: If imagenet weights are being loaded, alpha can be one of `0.75`, `1.0` for non minimalistic or `1.0` for minimalistic only. Received alpha={alpha}"
        )));
    }
    let dropout = opts.dropout_rate.unwrap_or(0.2);
    if !(0.0..1.0).contains(&dropout) {
        return Err(arg_error(app, "dropout_rate", "a rate in [0, 1)", dropout));
    }
    check_input_tensor_agrees(app, opts, |tensor, given| {
        format!("input_shape[1] must equal input_tensor.shape[2].  Received input_shape={given}, input_tensor.shape={tensor}")
    })?;
    let shape = input_shape(app, opts)?;
    let net = Net {
        k2: opts.keras2_names,
        counts: Default::default(),
    };
    let (kernel, activation, se_ratio) = if opts.minimalistic {
        (3, Act::Relu, None)
    } else {
        (5, Act::HardSwish, Some(0.25))
    };
    let input = image_input(shape, opts)?;
    let mut x = input.clone();
    if opts.include_preprocessing {
        x = Rescaling::new(1.0 / 127.5).offset(-1.0).call(&x)?;
    }
    x = Conv2D::new(16, 3)
        .strides(2)
        .padding("same")
        .use_bias(false)
        .name(net.n("conv", "Conv"))
        .call(&x)?;
    x = net.bn(&x, net.n("conv_bn", "Conv/BatchNorm"))?;
    x = net.act(&x, activation)?;
    let specs: &[Spec] = if large { &LARGE } else { &SMALL };
    for (id, &(expansion, filters, k, stride, se, hs)) in specs.iter().enumerate() {
        let k = if k == 0 { kernel } else { k };
        let a = if hs { activation } else { Act::Relu };
        let s = if se { se_ratio } else { None };
        x = net.block(&x, expansion, depth(filters as f64 * alpha), k, stride, s, a, id)?;
    }
    let channels = x.shape().last().copied().flatten().unwrap_or(0);
    let last_conv = depth(channels as f64 * 6.0);
    let mut last_point = if large { 1280 } else { 1024 };
    if alpha > 1.0 {
        last_point = depth(last_point as f64 * alpha);
    }
    x = Conv2D::new(last_conv, 1)
        .padding("same")
        .use_bias(false)
        .name(net.n("conv_1", "Conv_1"))
        .call(&x)?;
    x = net.bn(&x, net.n("conv_1_bn", "Conv_1/BatchNorm"))?;
    x = net.act(&x, activation)?;
    if opts.include_top {
        x = GlobalAveragePooling2D::new().keepdims(true).call(&x)?;
        x = Conv2D::new(last_point, 1)
            .padding("same")
            .name(net.n("conv_2", "Conv_2"))
            .call(&x)?;
        x = net.act(&x, activation)?;
        if dropout > 0.0 {
            x = Dropout::new(dropout).call(&x)?;
        }
        x = Conv2D::new(classes, 1)
            .padding("same")
            .name(net.n("logits", "Logits"))
            .call(&x)?;
        x = Flatten::new().call(&x)?;
        x = Activation::new(&classifier)
            .name(net.n("predictions", "Predictions"))
            .call(&x)?;
    } else {
        x = match opts.pooling {
            Some(Pooling::Avg) => GlobalAveragePooling2D::new().name("avg_pool").call(&x)?,
            Some(Pooling::Max) => GlobalMaxPooling2D::new().name("max_pool").call(&x)?,
            None => x,
        };
    }
    let default = match (net.k2, large) {
        (false, true) => "MobileNetV3Large",
        (false, false) => "MobileNetV3Small",
        (true, true) => "MobilenetV3large",
        (true, false) => "MobilenetV3small",
    };
    finish(
        app,
        &input,
        &x,
        opts,
        &opts.name.clone().unwrap_or_else(|| default.into()),
    )
}

/// Keras's `MobileNetV3Small(...)`.
pub fn mobilenet_v3_small(opts: &AppOptions) -> Result<Model> {
    mobilenet_v3(opts, false)
}

/// Keras's `MobileNetV3Large(...)`.
pub fn mobilenet_v3_large(opts: &AppOptions) -> Result<Model> {
    mobilenet_v3(opts, true)
}
