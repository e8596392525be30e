//! InceptionResNetV2 (Szegedy et al., 2016), as Keras's `inception_resnet_v2.py`: the stem
//! (`conv2d_bn` = Conv2D without bias + BatchNormalization(`scale=False`) + ReLU, all
//! automatically named), `mixed_5b`, 10 × `block35` (scale 0.17), `mixed_6a`, 20 ×
//! `block17` (0.1), `mixed_7a`, 9 × `block8` (0.2) and a last `block8_10` (scale 1, no
//! activation), then `conv_7b` (1×1, 1536). Each block concatenates its branches
//! (`…_mixed`), projects them back with a biased 1×1 conv (`…_conv`), adds them to its input
//! through a `CustomScaleLayer` (`x + r·scale`) and applies `…_ac`.
//!
//! Top: `avg_pool` + `predictions`. Model `inception_resnet_v2`. Input `(299, 299, 3)` by
//! default (at least 75×75); output `(None, classes)`.

use super::{avg_pool_top, finish, image_input, model_name, obtain_input_shape, top_args, AppOptions};
use crate::error::Result;
use crate::layers::app_layers::CustomScaleLayer;
use crate::layers::{Activation, AveragePooling2D, BatchNormalization, Concatenate, Conv2D, MaxPooling2D, Pair};
use crate::model::{Call, KerasTensor, Model};

/// Keras's `conv2d_bn(x, filters, kernel_size, strides, padding, activation, use_bias, name)`.
fn conv_bn(
    x: &KerasTensor,
    filters: usize,
    kernel: impl Into<Pair>,
    strides: usize,
    padding: &str,
    activation: bool,
    name: Option<&str>,
) -> Result<KerasTensor> {
    let use_bias = name.is_some_and(|n| n.ends_with("_conv") && n.starts_with("block"));
    let mut conv = Conv2D::new(filters, kernel)
        .strides(strides)
        .padding(padding)
        .use_bias(use_bias);
    if let Some(n) = name {
        conv = conv.name(n);
    }
    let mut y = conv.call(x)?;
    if !use_bias {
        let mut bn = BatchNormalization::new().axis(3).scale(false);
        if let Some(n) = name {
            bn = bn.name(format!("{n}_bn"));
        }
        y = bn.call(&y)?;
    }
    if activation {
        let mut a = Activation::new("relu");
        if let Some(n) = name {
            a = a.name(format!("{n}_ac"));
        }
        y = a.call(&y)?;
    }
    Ok(y)
}

/// `conv2d_bn(x, filters, k)` with `same` padding, stride 1, ReLU, automatic names.
fn cb(x: &KerasTensor, filters: usize, kernel: impl Into<Pair>) -> Result<KerasTensor> {
    conv_bn(x, filters, kernel, 1, "same", true, None)
}

/// `conv2d_bn(x, filters, 3, strides=2, padding="valid")`.
fn cb_down(x: &KerasTensor, filters: usize) -> Result<KerasTensor> {
    conv_bn(x, filters, 3, 2, "valid", true, None)
}

/// Keras's `inception_resnet_block(x, scale, block_type, block_idx, activation)`.
fn block(x: &KerasTensor, scale: f64, kind: &str, idx: usize, activate: bool) -> Result<KerasTensor> {
    let branches = match kind {
        "block35" => {
            let b0 = cb(x, 32, 1)?;
            let b1 = cb(&cb(x, 32, 1)?, 32, 3)?;
            let b2 = cb(&cb(&cb(x, 32, 1)?, 48, 3)?, 64, 3)?;
            vec![b0, b1, b2]
        }
        "block17" => {
            let b0 = cb(x, 192, 1)?;
            let b1 = cb(&cb(&cb(x, 128, 1)?, 160, (1, 7))?, 192, (7, 1))?;
            vec![b0, b1]
        }
        _ => {
            let b0 = cb(x, 192, 1)?;
            let b1 = cb(&cb(&cb(x, 192, 1)?, 224, (1, 3))?, 256, (3, 1))?;
            vec![b0, b1]
        }
    };
    let name = format!("{kind}_{idx}");
    let refs: Vec<&KerasTensor> = branches.iter().collect();
    let mixed = Concatenate::new(3).name(format!("{name}_mixed")).call_many(&refs)?;
    let channels = x.shape().last().copied().flatten().unwrap_or(0);
    let up = conv_bn(&mixed, channels, 1, 1, "same", false, Some(&format!("{name}_conv")))?;
    let y = CustomScaleLayer::new(scale).call_many(&[x, &up])?;
    if activate {
        Activation::new("relu").name(format!("{name}_ac")).call(&y)
    } else {
        Ok(y)
    }
}

/// Keras's `InceptionResNetV2(...)`.
pub fn inception_resnet_v2(opts: &AppOptions) -> Result<Model> {
    let app = "InceptionResNetV2";
    let (classes, activation) = top_args(app, opts, 1000)?;
    let shape = obtain_input_shape(app, opts, 299, 75)?;
    let input = image_input(shape, opts)?;
    let mut x = cb_down(&input, 32)?;
    x = conv_bn(&x, 32, 3, 1, "valid", true, None)?;
    x = cb(&x, 64, 3)?;
    x = MaxPooling2D::new(3).strides(2).call(&x)?;
    x = conv_bn(&x, 80, 1, 1, "valid", true, None)?;
    x = conv_bn(&x, 192, 3, 1, "valid", true, None)?;
    x = MaxPooling2D::new(3).strides(2).call(&x)?;
    let b0 = cb(&x, 96, 1)?;
    let b1 = cb(&cb(&x, 48, 1)?, 64, 5)?;
    let b2 = cb(&cb(&cb(&x, 64, 1)?, 96, 3)?, 96, 3)?;
    let bp = AveragePooling2D::new(3).strides(1).padding("same").call(&x)?;
    let bp = cb(&bp, 64, 1)?;
    x = Concatenate::new(3).name("mixed_5b").call_many(&[&b0, &b1, &b2, &bp])?;
    for i in 1..=10 {
        x = block(&x, 0.17, "block35", i, true)?;
    }
    let b0 = cb_down(&x, 384)?;
    let b1 = cb_down(&cb(&cb(&x, 256, 1)?, 256, 3)?, 384)?;
    let bp = MaxPooling2D::new(3).strides(2).padding("valid").call(&x)?;
    x = Concatenate::new(3).name("mixed_6a").call_many(&[&b0, &b1, &bp])?;
    for i in 1..=20 {
        x = block(&x, 0.1, "block17", i, true)?;
    }
    let b0 = cb_down(&cb(&x, 256, 1)?, 384)?;
    let b1 = cb_down(&cb(&x, 256, 1)?, 288)?;
    let b2 = cb_down(&cb(&cb(&x, 256, 1)?, 288, 3)?, 320)?;
    let bp = MaxPooling2D::new(3).strides(2).padding("valid").call(&x)?;
    x = Concatenate::new(3).name("mixed_7a").call_many(&[&b0, &b1, &b2, &bp])?;
    for i in 1..=9 {
        x = block(&x, 0.2, "block8", i, true)?;
    }
    x = block(&x, 1.0, "block8", 10, false)?;
    x = conv_bn(&x, 1536, 1, 1, "same", true, Some("conv_7b"))?;
    x = avg_pool_top(x, opts, classes, &activation, (None, None))?;
    finish(app, &input, &x, opts, &model_name(opts, "inception_resnet_v2"))
}
