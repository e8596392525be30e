//! EfficientNetB0–B7 (Tan & Le, 2019), as Keras's `efficientnet.py`: the stem
//! (`rescaling` 1/255, `normalization` per channel, with ImageNet weights a second
//! `rescaling` by 1/√σ; `stem_conv_pad`, `stem_conv` 3×3/2, `stem_bn`, `stem_activation`),
//! seven stages of MBConv blocks (`block1a_…` … `block7a_…`: expand 1×1, depthwise k×k,
//! squeeze-and-excite with `se_squeeze`/`se_reshape`/`se_reduce`/`se_expand`/`se_excite`,
//! project 1×1, `drop` with `noise_shape=(None, 1, 1, 1)` and `add` on identity blocks),
//! then `top_conv` (1×1, 1280·width), `top_bn`, `top_activation`.
//!
//! Top: `avg_pool`, `top_dropout`, `predictions`. Widths are scaled by the width
//! coefficient and rounded to multiples of 8, repeats by the depth coefficient (rounded up).
//! Model `efficientnetb0` … `efficientnetb7`. Input `(S, S, 3)` by default (S = 224, 240,
//! 260, 300, 380, 456, 528, 600), at least 32×32; output `(None, classes)`.

use super::{
    correct_pad, finish, image_input, imagenet, model_name, obtain_input_shape, top_args, AppOptions, Pooling,
};
use crate::error::Result;
use crate::initializers::{Distribution, FanMode, Initializer};
use crate::layers::feature_normalization::Normalization;
use crate::layers::{
    Activation, Add, BatchNormalization, Conv2D, Dense, DepthwiseConv2D, Dropout, GlobalAveragePooling2D,
    GlobalMaxPooling2D, Multiply, Rescaling, Reshape, ZeroPadding2D,
};
use crate::model::{Call, KerasTensor, Model};

/// `CONV_KERNEL_INITIALIZER`: VarianceScaling(2.0, fan_out, truncated_normal).
pub(crate) fn conv_init() -> Initializer {
    Initializer::VarianceScaling {
        class_name: "VarianceScaling",
        scale: 2.0,
        mode: FanMode::FanOut,
        distribution: Distribution::TruncatedNormal,
        seed: None,
    }
}

/// `DENSE_KERNEL_INITIALIZER`: VarianceScaling(1/3, fan_out, uniform).
pub(crate) fn dense_init() -> Initializer {
    Initializer::VarianceScaling {
        class_name: "VarianceScaling",
        scale: 1.0 / 3.0,
        mode: FanMode::FanOut,
        distribution: Distribution::Uniform,
        seed: None,
    }
}

/// ImageNet's RGB standard deviations, as Keras's `IMAGENET_STDDEV_RGB`.
pub(crate) const IMAGENET_STDDEV_RGB: [f64; 3] = [0.229, 0.224, 0.225];

/// One stage of `DEFAULT_BLOCKS_ARGS`: kernel, repeats, filters in, filters out, expansion,
/// stride (all with `se_ratio=0.25`, `id_skip=True`).
const BLOCKS: [(usize, usize, usize, usize, usize, usize); 7] = [
    (3, 1, 32, 16, 1, 1),
    (3, 2, 16, 24, 6, 2),
    (5, 2, 24, 40, 6, 2),
    (3, 3, 40, 80, 6, 2),
    (5, 3, 80, 112, 6, 1),
    (5, 4, 112, 192, 6, 2),
    (3, 1, 192, 320, 6, 1),
];

/// Keras's `round_filters`: `filters·width` to a multiple of `divisor`, never 10% below.
pub(crate) fn round_filters(filters: usize, width: f64, divisor: usize) -> usize {
    let f = filters as f64 * width;
    let d = divisor as f64;
    let mut new = (((f + d / 2.0) as usize) / divisor * divisor).max(divisor);
    if (new as f64) < 0.9 * f {
        new += divisor;
    }
    new
}

/// Keras's `round_repeats`: `⌈depth·repeats⌉`.
pub(crate) fn round_repeats(repeats: usize, depth: f64) -> usize {
    (depth * repeats as f64).ceil() as usize
}

fn bn(x: &KerasTensor, name: String) -> Result<KerasTensor> {
    BatchNormalization::new().axis(3).name(name).call(x)
}

fn act(x: &KerasTensor, name: String) -> Result<KerasTensor> {
    Activation::new("swish").name(name).call(x)
}

fn conv1x1(x: &KerasTensor, filters: usize, name: String) -> Result<KerasTensor> {
    Conv2D::new(filters, 1)
        .padding("same")
        .use_bias(false)
        .kernel_initializer(conv_init())
        .name(name)
        .call(x)
}

/// The squeeze-and-excite phase: `se_squeeze`, `se_reshape`, `se_reduce`, `se_expand`,
/// `se_excite` (EfficientNet and EfficientNetV2 share it).
pub(crate) fn squeeze_excite(
    x: &KerasTensor,
    filters: usize,
    filters_se: usize,
    activation: &str,
    name: &str,
) -> Result<KerasTensor> {
    let se = GlobalAveragePooling2D::new()
        .name(format!("{name}se_squeeze"))
        .call(x)?;
    let se = Reshape::new(&[1, 1, filters as i64])
        .name(format!("{name}se_reshape"))
        .call(&se)?;
    let se = Conv2D::new(filters_se, 1)
        .padding("same")
        .activation(activation)
        .kernel_initializer(conv_init())
        .name(format!("{name}se_reduce"))
        .call(&se)?;
    let se = Conv2D::new(filters, 1)
        .padding("same")
        .activation("sigmoid")
        .kernel_initializer(conv_init())
        .name(format!("{name}se_expand"))
        .call(&se)?;
    Multiply::new().name(format!("{name}se_excite")).call_many(&[x, &se])
}

/// The identity branch's `drop` (Dropout with `noise_shape=(None, 1, 1, 1)`) and `add`.
pub(crate) fn drop_add(x: KerasTensor, inputs: &KerasTensor, drop_rate: f64, name: &str) -> Result<KerasTensor> {
    let x = if drop_rate > 0.0 {
        Dropout::new(drop_rate)
            .noise_shape(&[None, Some(1), Some(1), Some(1)])
            .name(format!("{name}drop"))
            .call(&x)?
    } else {
        x
    };
    Add::new().name(format!("{name}add")).call_many(&[&x, inputs])
}

/// Keras's `block`: one MBConv block.
#[allow(clippy::too_many_arguments)]
fn block(
    inputs: &KerasTensor,
    drop_rate: f64,
    name: &str,
    filters_in: usize,
    filters_out: usize,
    kernel: usize,
    strides: usize,
    expand_ratio: usize,
) -> Result<KerasTensor> {
    let filters = filters_in * expand_ratio;
    let mut x = inputs.clone();
    if expand_ratio != 1 {
        x = conv1x1(&x, filters, format!("{name}expand_conv"))?;
        x = bn(&x, format!("{name}expand_bn"))?;
        x = act(&x, format!("{name}expand_activation"))?;
    }
    let pad = if strides == 2 {
        x = ZeroPadding2D::new(correct_pad(&x, kernel))
            .name(format!("{name}dwconv_pad"))
            .call(&x)?;
        "valid"
    } else {
        "same"
    };
    x = DepthwiseConv2D::new(kernel)
        .strides(strides)
        .padding(pad)
        .use_bias(false)
        .depthwise_initializer(conv_init())
        .name(format!("{name}dwconv"))
        .call(&x)?;
    x = bn(&x, format!("{name}bn"))?;
    x = act(&x, format!("{name}activation"))?;
    let filters_se = ((filters_in as f64 * 0.25) as usize).max(1);
    x = squeeze_excite(&x, filters, filters_se, "swish", name)?;
    x = conv1x1(&x, filters_out, format!("{name}project_conv"))?;
    x = bn(&x, format!("{name}project_bn"))?;
    if strides == 1 && filters_in == filters_out {
        x = drop_add(x, inputs, drop_rate, name)?;
    }
    Ok(x)
}

/// Top or pooling after the base, as EfficientNet and EfficientNetV2 end.
pub(crate) fn efficientnet_top(
    x: KerasTensor,
    opts: &AppOptions,
    classes: usize,
    activation: String,
    dropout_rate: f64,
) -> Result<KerasTensor> {
    if opts.include_top {
        let mut x = GlobalAveragePooling2D::new().name("avg_pool").call(&x)?;
        if dropout_rate > 0.0 {
            x = Dropout::new(dropout_rate).name("top_dropout").call(&x)?;
        }
        Dense::new(classes)
            .activation(activation)
            .kernel_initializer(dense_init())
            .name("predictions")
            .call(&x)
    } else {
        match opts.pooling {
            Some(Pooling::Avg) => GlobalAveragePooling2D::new().name("avg_pool").call(&x),
            Some(Pooling::Max) => GlobalMaxPooling2D::new().name("max_pool").call(&x),
            None => Ok(x),
        }
    }
}

/// Keras's `EfficientNet(width_coefficient, depth_coefficient, default_size, dropout_rate)`.
fn efficientnet(opts: &AppOptions, variant: usize) -> Result<Model> {
    let (width, depth, size, dropout) = [
        (1.0, 1.0, 224, 0.2),
        (1.0, 1.1, 240, 0.2),
        (1.1, 1.2, 260, 0.3),
        (1.2, 1.4, 300, 0.3),
        (1.4, 1.8, 380, 0.4),
        (1.6, 2.2, 456, 0.4),
        (1.8, 2.6, 528, 0.5),
        (2.0, 3.1, 600, 0.5),
    ][variant];
    let app = APPS[variant];
    let (classes, activation) = top_args(app, opts, 1000)?;
    let shape = obtain_input_shape(app, opts, size, 32)?;
    let input = image_input(shape, opts)?;
    let mut x = Rescaling::new(1.0 / 255.0).call(&input)?;
    x = Normalization::new().axis(&[3]).call(&x)?;
    if imagenet::wanted(opts) {
        let inv: Vec<f64> = IMAGENET_STDDEV_RGB.iter().map(|s| 1.0 / s.sqrt()).collect();
        x = Rescaling::new(inv).call(&x)?;
    }
    x = ZeroPadding2D::new(correct_pad(&x, 3)).name("stem_conv_pad").call(&x)?;
    x = Conv2D::new(round_filters(32, width, 8), 3)
        .strides(2)
        .padding("valid")
        .use_bias(false)
        .kernel_initializer(conv_init())
        .name("stem_conv")
        .call(&x)?;
    x = bn(&x, "stem_bn".into())?;
    x = act(&x, "stem_activation".into())?;
    let total: usize = BLOCKS.iter().map(|b| round_repeats(b.1, depth)).sum();
    let mut b = 0usize;
    for (i, &(kernel, repeats, f_in, f_out, expand, stride)) in BLOCKS.iter().enumerate() {
        let (mut f_in, f_out) = (round_filters(f_in, width, 8), round_filters(f_out, width, 8));
        let mut stride = stride;
        for j in 0..round_repeats(repeats, depth) {
            if j > 0 {
                stride = 1;
                f_in = f_out;
            }
            let name = format!("block{}{}_", i + 1, (b'a' + j as u8) as char);
            x = block(
                &x,
                0.2 * b as f64 / total as f64,
                &name,
                f_in,
                f_out,
                kernel,
                stride,
                expand,
            )?;
            b += 1;
        }
    }
    x = conv1x1(&x, round_filters(1280, width, 8), "top_conv".into())?;
    x = bn(&x, "top_bn".into())?;
    x = act(&x, "top_activation".into())?;
    x = efficientnet_top(x, opts, classes, activation, dropout)?;
    finish(
        app,
        &input,
        &x,
        opts,
        &model_name(opts, &format!("efficientnetb{variant}")),
    )
}

/// Keras's application names of the eight variants.
const APPS: [&str; 8] = [
    "EfficientNetB0",
    "EfficientNetB1",
    "EfficientNetB2",
    "EfficientNetB3",
    "EfficientNetB4",
    "EfficientNetB5",
    "EfficientNetB6",
    "EfficientNetB7",
];

variants! {
    efficientnet:
    /// Keras's `EfficientNetB0(...)` (224×224, 5.3M parameters).
    efficientnet_b0 = 0;
    /// Keras's `EfficientNetB1(...)` (240×240).
    efficientnet_b1 = 1;
    /// Keras's `EfficientNetB2(...)` (260×260).
    efficientnet_b2 = 2;
    /// Keras's `EfficientNetB3(...)` (300×300).
    efficientnet_b3 = 3;
    /// Keras's `EfficientNetB4(...)` (380×380).
    efficientnet_b4 = 4;
    /// Keras's `EfficientNetB5(...)` (456×456).
    efficientnet_b5 = 5;
    /// Keras's `EfficientNetB6(...)` (528×528).
    efficientnet_b6 = 6;
    /// Keras's `EfficientNetB7(...)` (600×600, 66.7M parameters).
    efficientnet_b7 = 7;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_matches_keras() {
        assert_eq!(round_filters(32, 1.1, 8), 32);
        assert_eq!(round_filters(1280, 2.0, 8), 2560);
        assert_eq!(round_filters(40, 1.4, 8), 56);
        assert_eq!(round_repeats(3, 3.1), 10);
        assert_eq!(round_repeats(1, 1.1), 2);
    }
}
