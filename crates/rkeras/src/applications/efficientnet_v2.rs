//! EfficientNetV2B0–B3, S, M, L (Tan & Le, 2021), as Keras's `efficientnet_v2.py`: the
//! preprocessing (`include_preprocessing`: the B variants `rescaling` 1/255 and a
//! `normalization` with ImageNet's mean and variance as arguments; S, M, L `rescaling`
//! 1/128 − 1), `stem_conv` (3×3/2 `same`), `stem_bn`, `stem_activation`, stages of fused
//! MBConv blocks (`expand_conv` k×k, `project_conv`, `project_activation` when not
//! expanded) and MBConv blocks (`expand_conv` 1×1, `dwconv2`, squeeze-and-excite,
//! `project_conv`), `drop` + `add` on identity blocks, then `top_conv`, `top_bn`,
//! `top_activation`. Batch-norm momentum 0.9.
//!
//! Top: `avg_pool`, `top_dropout` (0.2), `predictions`. Model `efficientnetv2-b0` …
//! `efficientnetv2-l`. Input `(S, S, 3)` by default (224, 240, 260, 300, 384, 480, 480), at
//! least 32×32; output `(None, classes)`.

use super::efficientnet::{conv_init, drop_add, efficientnet_top, round_repeats, squeeze_excite};
use super::{finish, image_input, model_name, obtain_input_shape, top_args, AppOptions};
use crate::error::Result;
use crate::layers::feature_normalization::Normalization;
use crate::layers::{Activation, BatchNormalization, Conv2D, DepthwiseConv2D, Rescaling};
use crate::model::{Call, KerasTensor, Model};

/// One stage: kernel, repeats, filters in, filters out, expansion, se_ratio, stride, fused.
type Stage = (usize, usize, usize, usize, usize, f64, usize, bool);

const B: [Stage; 6] = [
    (3, 1, 32, 16, 1, 0.0, 1, true),
    (3, 2, 16, 32, 4, 0.0, 2, true),
    (3, 2, 32, 48, 4, 0.0, 2, true),
    (3, 3, 48, 96, 4, 0.25, 2, false),
    (3, 5, 96, 112, 6, 0.25, 1, false),
    (3, 8, 112, 192, 6, 0.25, 2, false),
];
const S: [Stage; 6] = [
    (3, 2, 24, 24, 1, 0.0, 1, true),
    (3, 4, 24, 48, 4, 0.0, 2, true),
    (3, 4, 48, 64, 4, 0.0, 2, true),
    (3, 6, 64, 128, 4, 0.25, 2, false),
    (3, 9, 128, 160, 6, 0.25, 1, false),
    (3, 15, 160, 256, 6, 0.25, 2, false),
];
const M: [Stage; 7] = [
    (3, 3, 24, 24, 1, 0.0, 1, true),
    (3, 5, 24, 48, 4, 0.0, 2, true),
    (3, 5, 48, 80, 4, 0.0, 2, true),
    (3, 7, 80, 160, 4, 0.25, 2, false),
    (3, 14, 160, 176, 6, 0.25, 1, false),
    (3, 18, 176, 304, 6, 0.25, 2, false),
    (3, 5, 304, 512, 6, 0.25, 1, false),
];
const L: [Stage; 7] = [
    (3, 4, 32, 32, 1, 0.0, 1, true),
    (3, 7, 32, 64, 4, 0.0, 2, true),
    (3, 7, 64, 96, 4, 0.0, 2, true),
    (3, 10, 96, 192, 4, 0.25, 2, false),
    (3, 19, 192, 224, 6, 0.25, 1, false),
    (3, 25, 224, 384, 6, 0.25, 2, false),
    (3, 7, 384, 640, 6, 0.25, 1, false),
];

/// Keras's EfficientNetV2 `round_filters` (min_depth 8, divisor 8; no 10% rule).
fn round_filters(filters: usize, width: f64) -> usize {
    let f = filters as f64 * width;
    (((f + 4.0) as usize) / 8 * 8).max(8)
}

fn bn(x: &KerasTensor, name: String) -> Result<KerasTensor> {
    BatchNormalization::new().axis(3).momentum(0.9).name(name).call(x)
}

fn act(x: &KerasTensor, name: String) -> Result<KerasTensor> {
    Activation::new("swish").name(name).call(x)
}

fn conv(x: &KerasTensor, filters: usize, kernel: usize, strides: usize, name: String) -> Result<KerasTensor> {
    Conv2D::new(filters, kernel)
        .strides(strides)
        .padding("same")
        .use_bias(false)
        .kernel_initializer(conv_init())
        .name(name)
        .call(x)
}

/// `MBConvBlock` (fused = false) or `FusedMBConvBlock` (fused = true).
#[allow(clippy::too_many_arguments)]
fn block(
    inputs: &KerasTensor,
    fused: bool,
    f_in: usize,
    f_out: usize,
    expand: usize,
    kernel: usize,
    strides: usize,
    se_ratio: f64,
    drop_rate: f64,
    name: &str,
) -> Result<KerasTensor> {
    let filters = f_in * expand;
    let mut x = inputs.clone();
    if expand != 1 {
        let (k, s) = if fused { (kernel, strides) } else { (1, 1) };
        x = conv(&x, filters, k, s, format!("{name}expand_conv"))?;
        x = bn(&x, format!("{name}expand_bn"))?;
        x = act(&x, format!("{name}expand_activation"))?;
    }
    if !fused {
        x = DepthwiseConv2D::new(kernel)
            .strides(strides)
            .padding("same")
            .use_bias(false)
            .depthwise_initializer(conv_init())
            .name(format!("{name}dwconv2"))
            .call(&x)?;
        x = bn(&x, format!("{name}bn"))?;
        x = act(&x, format!("{name}activation"))?;
    }
    if se_ratio > 0.0 && se_ratio <= 1.0 {
        let filters_se = ((f_in as f64 * se_ratio) as usize).max(1);
        x = squeeze_excite(&x, filters, filters_se, "swish", name)?;
    }
    let (k, s) = if fused && expand == 1 {
        (kernel, strides)
    } else {
        (1, 1)
    };
    x = conv(&x, f_out, k, s, format!("{name}project_conv"))?;
    x = bn(&x, format!("{name}project_bn"))?;
    if fused && expand == 1 {
        x = act(&x, format!("{name}project_activation"))?;
    }
    if strides == 1 && f_in == f_out {
        x = drop_add(x, inputs, drop_rate, name)?;
    }
    Ok(x)
}

fn efficientnet_v2(opts: &AppOptions, variant: usize) -> Result<Model> {
    let (app, default_name, width, depth, size, stages): (&str, &str, f64, f64, usize, &[Stage]) = [
        ("EfficientNetV2B0", "efficientnetv2-b0", 1.0, 1.0, 224, &B[..]),
        ("EfficientNetV2B1", "efficientnetv2-b1", 1.0, 1.1, 240, &B[..]),
        ("EfficientNetV2B2", "efficientnetv2-b2", 1.1, 1.2, 260, &B[..]),
        ("EfficientNetV2B3", "efficientnetv2-b3", 1.2, 1.4, 300, &B[..]),
        ("EfficientNetV2S", "efficientnetv2-s", 1.0, 1.0, 384, &S[..]),
        ("EfficientNetV2M", "efficientnetv2-m", 1.0, 1.0, 480, &M[..]),
        ("EfficientNetV2L", "efficientnetv2-l", 1.0, 1.0, 480, &L[..]),
    ][variant];
    let (classes, activation) = top_args(app, opts, 1000)?;
    let shape = obtain_input_shape(app, opts, size, 32)?;
    let name = model_name(opts, default_name);
    let input = image_input(shape, opts)?;
    let mut x = input.clone();
    if opts.include_preprocessing {
        // Keras decides by the model's name: `…-b*` with 3 channels normalizes.
        let b_variant = name.rsplit('-').next().is_some_and(|s| s.starts_with('b'));
        if b_variant && shape[2] == Some(3) {
            x = Rescaling::new(1.0 / 255.0).call(&x)?;
            x = Normalization::new()
                .axis(&[3])
                .mean_variance(&[0.485, 0.456, 0.406], &[0.229 * 0.229, 0.224 * 0.224, 0.225 * 0.225])
                .call(&x)?;
        } else {
            x = Rescaling::new(1.0 / 128.0).offset(-1.0).call(&x)?;
        }
    }
    x = conv(&x, round_filters(stages[0].2, width), 3, 2, "stem_conv".into())?;
    x = bn(&x, "stem_bn".into())?;
    x = act(&x, "stem_activation".into())?;
    let total: usize = stages.iter().map(|s| s.1).sum();
    let mut b = 0usize;
    for (i, &(kernel, repeats, f_in, f_out, expand, se, stride, fused)) in stages.iter().enumerate() {
        let (mut f_in, f_out) = (round_filters(f_in, width), round_filters(f_out, width));
        let mut stride = stride;
        for j in 0..round_repeats(repeats, depth) {
            if j > 0 {
                stride = 1;
                f_in = f_out;
            }
            let bname = format!("block{}{}_", i + 1, (b'a' + j as u8) as char);
            let rate = 0.2 * b as f64 / total as f64;
            x = block(&x, fused, f_in, f_out, expand, kernel, stride, se, rate, &bname)?;
            b += 1;
        }
    }
    x = conv(&x, round_filters(1280, width), 1, 1, "top_conv".into())?;
    x = bn(&x, "top_bn".into())?;
    x = act(&x, "top_activation".into())?;
    x = efficientnet_top(x, opts, classes, activation, 0.2)?;
    finish(app, &input, &x, opts, &name)
}

variants! {
    efficientnet_v2:
    /// Keras's `EfficientNetV2B0(...)` (224×224).
    efficientnet_v2_b0 = 0;
    /// Keras's `EfficientNetV2B1(...)` (240×240).
    efficientnet_v2_b1 = 1;
    /// Keras's `EfficientNetV2B2(...)` (260×260).
    efficientnet_v2_b2 = 2;
    /// Keras's `EfficientNetV2B3(...)` (300×300).
    efficientnet_v2_b3 = 3;
    /// Keras's `EfficientNetV2S(...)` (384×384).
    efficientnet_v2_s = 4;
    /// Keras's `EfficientNetV2M(...)` (480×480).
    efficientnet_v2_m = 5;
    /// Keras's `EfficientNetV2L(...)` (480×480).
    efficientnet_v2_l = 6;
}
