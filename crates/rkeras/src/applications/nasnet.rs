//! NASNetMobile and NASNetLarge (Zoph et al., 2018), as Keras's `nasnet.py`: `stem_conv1`
//! (3×3/2 `valid`), `stem_bn1`, two stem reduction cells, then three groups of normal cells
//! separated by reduction cells. A cell first adjusts the previous cell's output `p` to its
//! own size (`adjust_*`: two strided 1×1 paths concatenated, or a 1×1 projection), then sums
//! pairs of branches (separable-conv blocks `separable_conv_{1,2}_…`, pools) into
//! `normal_add_*` / `reduction_add*` and concatenates them (`normal_concat_*`,
//! `reduction_concat_*`). Batch norms use momentum 0.9997.
//!
//! Top: `relu`, `global_average_pooling2d`, `predictions`. Model `nasnet_mobile` (224×224,
//! penultimate 1056 filters, 4 blocks) or `nasnet_large` (331×331, 4032, 6 blocks, skipping
//! the reduction outputs); without the top and `input_shape`, the default size is used.

use super::{correct_pad, finish, image_input, model_name, obtain_input_shape, pool, top_args, AppOptions};
use crate::error::{KerasError, Result};
use crate::layers::{
    Activation, Add, AveragePooling2D, BatchNormalization, Concatenate, Conv2D, Cropping2D, Dense,
    GlobalAveragePooling2D, MaxPooling2D, SeparableConv2D, ZeroPadding2D,
};
use crate::model::{Call, KerasTensor, Model};

fn bn(x: &KerasTensor, name: String) -> Result<KerasTensor> {
    BatchNormalization::new()
        .axis(-1)
        .momentum(0.9997)
        .epsilon(1e-3)
        .name(name)
        .call(x)
}

fn relu(x: &KerasTensor) -> Result<KerasTensor> {
    Activation::new("relu").call(x)
}

fn conv1x1(x: &KerasTensor, filters: usize, name: String) -> Result<KerasTensor> {
    Conv2D::new(filters, 1)
        .padding("same")
        .use_bias(false)
        .kernel_initializer("he_normal")
        .name(name)
        .call(x)
}

fn add2(a: &KerasTensor, b: &KerasTensor, name: Option<String>) -> Result<KerasTensor> {
    match name {
        Some(n) => Add::new().name(n).call_many(&[a, b]),
        None => Add::new().call_many(&[a, b]),
    }
}

fn avg(x: &KerasTensor, k: usize, s: usize, pad: &str, name: String) -> Result<KerasTensor> {
    AveragePooling2D::new(k).strides(s).padding(pad).name(name).call(x)
}

/// Keras's `_separable_conv_block`.
fn sep_block(ip: &KerasTensor, filters: usize, kernel: usize, strides: usize, id: &str) -> Result<KerasTensor> {
    let mut x = relu(ip)?;
    let pad = if strides == 2 {
        x = ZeroPadding2D::new(correct_pad(&x, kernel))
            .name(format!("separable_conv_1_pad_{id}"))
            .call(&x)?;
        "valid"
    } else {
        "same"
    };
    x = SeparableConv2D::new(filters, kernel)
        .strides(strides)
        .padding(pad)
        .use_bias(false)
        .name(format!("separable_conv_1_{id}"))
        .call(&x)?;
    x = bn(&x, format!("separable_conv_1_bn_{id}"))?;
    x = relu(&x)?;
    x = SeparableConv2D::new(filters, kernel)
        .padding("same")
        .use_bias(false)
        .name(format!("separable_conv_2_{id}"))
        .call(&x)?;
    bn(&x, format!("separable_conv_2_bn_{id}"))
}

/// Keras's `_adjust_block`.
fn adjust(p: Option<&KerasTensor>, ip: &KerasTensor, filters: usize, id: &str) -> Result<KerasTensor> {
    let Some(p) = p else {
        return Ok(ip.clone());
    };
    let width = |t: &KerasTensor| t.shape().get(2).copied().flatten();
    let channels = |t: &KerasTensor| t.shape().last().copied().flatten();
    if width(p) != width(ip) {
        let p = Activation::new("relu").name(format!("adjust_relu_1_{id}")).call(p)?;
        let p1 = avg(&p, 1, 2, "valid", format!("adjust_avg_pool_1_{id}"))?;
        let p1 = conv1x1(&p1, filters / 2, format!("adjust_conv_1_{id}"))?;
        let p2 = ZeroPadding2D::new(((0, 1), (0, 1))).call(&p)?;
        let p2 = Cropping2D::new(((1, 0), (1, 0))).call(&p2)?;
        let p2 = avg(&p2, 1, 2, "valid", format!("adjust_avg_pool_2_{id}"))?;
        let p2 = conv1x1(&p2, filters / 2, format!("adjust_conv_2_{id}"))?;
        let p = Concatenate::new(-1).call_many(&[&p1, &p2])?;
        bn(&p, format!("adjust_bn_{id}"))
    } else if channels(p) != Some(filters) {
        let p = relu(p)?;
        let p = conv1x1(&p, filters, format!("adjust_conv_projection_{id}"))?;
        bn(&p, format!("adjust_bn_{id}"))
    } else {
        Ok(p.clone())
    }
}

/// Keras's `_normal_a_cell`: returns `(x, ip)`.
fn normal_cell(ip: &KerasTensor, p: Option<&KerasTensor>, f: usize, id: &str) -> Result<(KerasTensor, KerasTensor)> {
    let p = adjust(p, ip, f, id)?;
    let h = relu(ip)?;
    let h = conv1x1(&h, f, format!("normal_conv_1_{id}"))?;
    let h = bn(&h, format!("normal_bn_1_{id}"))?;
    let x1_1 = sep_block(&h, f, 5, 1, &format!("normal_left1_{id}"))?;
    let x1_2 = sep_block(&p, f, 3, 1, &format!("normal_right1_{id}"))?;
    let x1 = add2(&x1_1, &x1_2, Some(format!("normal_add_1_{id}")))?;
    let x2_1 = sep_block(&p, f, 5, 1, &format!("normal_left2_{id}"))?;
    let x2_2 = sep_block(&p, f, 3, 1, &format!("normal_right2_{id}"))?;
    let x2 = add2(&x2_1, &x2_2, Some(format!("normal_add_2_{id}")))?;
    let x3 = avg(&h, 3, 1, "same", format!("normal_left3_{id}"))?;
    let x3 = add2(&x3, &p, Some(format!("normal_add_3_{id}")))?;
    let x4_1 = avg(&p, 3, 1, "same", format!("normal_left4_{id}"))?;
    let x4_2 = avg(&p, 3, 1, "same", format!("normal_right4_{id}"))?;
    let x4 = add2(&x4_1, &x4_2, Some(format!("normal_add_4_{id}")))?;
    let x5 = sep_block(&h, f, 3, 1, &format!("normal_left5_{id}"))?;
    let x5 = add2(&x5, &h, Some(format!("normal_add_5_{id}")))?;
    let x = Concatenate::new(-1)
        .name(format!("normal_concat_{id}"))
        .call_many(&[&p, &x1, &x2, &x3, &x4, &x5])?;
    Ok((x, ip.clone()))
}

/// Keras's `_reduction_a_cell`: returns `(x, ip)`.
fn reduction_cell(ip: &KerasTensor, p: Option<&KerasTensor>, f: usize, id: &str) -> Result<(KerasTensor, KerasTensor)> {
    let p = adjust(p, ip, f, id)?;
    let h = relu(ip)?;
    let h = conv1x1(&h, f, format!("reduction_conv_1_{id}"))?;
    let h = bn(&h, format!("reduction_bn_1_{id}"))?;
    let h3 = ZeroPadding2D::new(correct_pad(&h, 3))
        .name(format!("reduction_pad_1_{id}"))
        .call(&h)?;
    let x1_1 = sep_block(&h, f, 5, 2, &format!("reduction_left1_{id}"))?;
    let x1_2 = sep_block(&p, f, 7, 2, &format!("reduction_right1_{id}"))?;
    let x1 = add2(&x1_1, &x1_2, Some(format!("reduction_add_1_{id}")))?;
    let x2_1 = MaxPooling2D::new(3)
        .strides(2)
        .padding("valid")
        .name(format!("reduction_left2_{id}"))
        .call(&h3)?;
    let x2_2 = sep_block(&p, f, 7, 2, &format!("reduction_right2_{id}"))?;
    let x2 = add2(&x2_1, &x2_2, Some(format!("reduction_add_2_{id}")))?;
    let x3_1 = avg(&h3, 3, 2, "valid", format!("reduction_left3_{id}"))?;
    let x3_2 = sep_block(&p, f, 5, 2, &format!("reduction_right3_{id}"))?;
    let x3 = add2(&x3_1, &x3_2, Some(format!("reduction_add3_{id}")))?;
    let x4 = avg(&x1, 3, 1, "same", format!("reduction_left4_{id}"))?;
    let x4 = add2(&x2, &x4, None)?;
    let x5_1 = sep_block(&x1, f, 3, 1, &format!("reduction_left4_{id}"))?;
    let x5_2 = MaxPooling2D::new(3)
        .strides(2)
        .padding("valid")
        .name(format!("reduction_right5_{id}"))
        .call(&h3)?;
    let x5 = add2(&x5_1, &x5_2, Some(format!("reduction_add4_{id}")))?;
    let x = Concatenate::new(-1)
        .name(format!("reduction_concat_{id}"))
        .call_many(&[&x2, &x3, &x4, &x5])?;
    Ok((x, ip.clone()))
}

/// Keras's `NASNet(...)`.
fn nasnet(opts: &AppOptions, large: bool) -> Result<Model> {
    let (app, default_size, penultimate, blocks, stem, skip, default_name) = if large {
        ("NASNetLarge", 331, 4032, 6, 96, true, "nasnet_large")
    } else {
        ("NASNetMobile", 224, 1056, 4, 32, false, "nasnet_mobile")
    };
    let mult = 2;
    let (classes, activation) = top_args(app, opts, 1000)?;
    let mut o = opts.clone();
    // Keras 3 gives a model without its top the default size; tf-keras leaves it open.
    if !opts.include_top && opts.input_shape.is_none() && !opts.keras2_names {
        o.input_shape = Some((default_size, default_size, 3));
    }
    let shape = obtain_input_shape(app, &o, default_size, 32)?;
    if penultimate % (24 * mult * mult) != 0 {
        return Err(KerasError::Invalid(format!(
            "{app}: For NASNet-A models, the `penultimate_filters` must be a multiple of 24 * (`filter_multiplier` ** 2). Current value: {penultimate}"
        )));
    }
    let filters = penultimate / 24;
    let input = image_input(shape, opts)?;
    let x = Conv2D::new(stem, 3)
        .strides(2)
        .padding("valid")
        .use_bias(false)
        .kernel_initializer("he_normal")
        .name("stem_conv1")
        .call(&input)?;
    let x = bn(&x, "stem_bn1".into())?;
    let (x, p) = reduction_cell(&x, None, filters / (mult * mult), "stem_1")?;
    let (mut x, mut p) = reduction_cell(&x, Some(&p), filters / mult, "stem_2")?;
    for i in 0..blocks {
        (x, p) = normal_cell(&x, Some(&p), filters, &i.to_string())?;
    }
    for stage in 1..=2 {
        let f = filters * mult.pow(stage as u32);
        let (nx, p0) = reduction_cell(&x, Some(&p), f, &format!("reduce_{}", stage * blocks))?;
        x = nx;
        if !skip {
            p = p0;
        }
        for i in 0..blocks {
            (x, p) = normal_cell(&x, Some(&p), f, &(stage * blocks + i + 1).to_string())?;
        }
    }
    let mut x = relu(&x)?;
    if opts.include_top {
        x = GlobalAveragePooling2D::new().call(&x)?;
        x = Dense::new(classes)
            .activation(activation)
            .name("predictions")
            .call(&x)?;
    } else {
        x = pool(x, opts, None, None)?;
    }
    // tf-keras names both models `NASNet`.
    let default_name = if opts.keras2_names { "NASNet" } else { default_name };
    finish(app, &input, &x, opts, &model_name(opts, default_name))
}

/// Keras's `NASNetMobile(...)`.
pub fn nasnet_mobile(opts: &AppOptions) -> Result<Model> {
    nasnet(opts, false)
}

/// Keras's `NASNetLarge(...)`.
pub fn nasnet_large(opts: &AppOptions) -> Result<Model> {
    nasnet(opts, true)
}
