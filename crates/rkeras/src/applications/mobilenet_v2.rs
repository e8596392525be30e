//! MobileNetV2 (Sandler et al., 2018), as Keras's `mobilenet_v2.py`: `Conv1` (3×3/2), 17
//! inverted residual blocks (`expanded_conv_*` for block 0, then `block_1_expand`,
//! `block_1_pad`, `block_1_depthwise`, `block_1_project`, `block_2_add`, …), `Conv_1` (1×1,
//! 1280) and `out_relu`. Widths are `alpha`-scaled and rounded to multiples of 8
//! (`_make_divisible`); strided blocks pad as `imagenet_utils.correct_pad`.
//!
//! Top: `global_average_pooling2d` + `predictions`. Model `mobilenetv2_{alpha:.2}_{rows}`.
//! Input `(224, 224, 3)` by default (at least 32×32); output `(None, classes)`.

use super::mobilenet::check_alpha;
use super::{
    check_input_tensor_agrees, finish, image_input, model_name, obtain_input_shape, pool, top_args, AppOptions,
};
use crate::error::Result;
use crate::layers::{
    Add, BatchNormalization, Conv2D, Dense, DepthwiseConv2D, GlobalAveragePooling2D, ReLU, ZeroPadding2D,
};
use crate::model::{Call, KerasTensor, Model};

/// Keras's `_make_divisible(v, divisor)`: the nearest multiple of `divisor` (at least
/// `divisor`), rounded up when rounding would lose more than 10%.
pub(crate) fn make_divisible(v: f64, divisor: usize) -> usize {
    let d = divisor as f64;
    let mut new_v = (((v + d / 2.0) as usize) / divisor * divisor).max(divisor);
    if (new_v as f64) < 0.9 * v {
        new_v += divisor;
    }
    new_v
}

/// Keras's `imagenet_utils.correct_pad(x, 3)`: pad so a 3×3 stride-2 `valid` convolution
/// sees what TensorFlow's `same` would, `((top, bottom), (left, right))`.
fn correct_pad(x: &KerasTensor) -> ((usize, usize), (usize, usize)) {
    let s = x.shape();
    let adjust = match (s.get(1).copied().flatten(), s.get(2).copied().flatten()) {
        (Some(h), Some(w)) => (1 - h % 2, 1 - w % 2),
        _ => (1, 1),
    };
    ((1 - adjust.0, 1), (1 - adjust.1, 1))
}

fn bn(x: &KerasTensor, name: String) -> Result<KerasTensor> {
    BatchNormalization::new()
        .axis(-1)
        .epsilon(1e-3)
        .momentum(0.999)
        .name(name)
        .call(x)
}

fn relu6(x: &KerasTensor, name: String) -> Result<KerasTensor> {
    ReLU::new().max_value(6.0).name(name).call(x)
}

/// Keras's `_inverted_res_block`.
fn inverted_res_block(
    inputs: &KerasTensor,
    expansion: usize,
    stride: usize,
    alpha: f64,
    filters: usize,
    block_id: usize,
) -> Result<KerasTensor> {
    let in_channels = inputs.shape().last().copied().flatten().unwrap_or(0);
    let pointwise_filters = make_divisible((filters as f64 * alpha) as usize as f64, 8);
    let mut x = inputs.clone();
    let mut prefix = format!("block_{block_id}_");
    if block_id > 0 {
        x = Conv2D::new(expansion * in_channels, 1)
            .padding("same")
            .use_bias(false)
            .name(format!("{prefix}expand"))
            .call(&x)?;
        x = bn(&x, format!("{prefix}expand_BN"))?;
        x = relu6(&x, format!("{prefix}expand_relu"))?;
    } else {
        prefix = "expanded_conv_".into();
    }
    if stride == 2 {
        x = ZeroPadding2D::new(correct_pad(&x))
            .name(format!("{prefix}pad"))
            .call(&x)?;
    }
    x = DepthwiseConv2D::new(3)
        .strides(stride)
        .use_bias(false)
        .padding(if stride == 1 { "same" } else { "valid" })
        .name(format!("{prefix}depthwise"))
        .call(&x)?;
    x = bn(&x, format!("{prefix}depthwise_BN"))?;
    x = relu6(&x, format!("{prefix}depthwise_relu"))?;
    x = Conv2D::new(pointwise_filters, 1)
        .padding("same")
        .use_bias(false)
        .name(format!("{prefix}project"))
        .call(&x)?;
    x = bn(&x, format!("{prefix}project_BN"))?;
    if in_channels == pointwise_filters && stride == 1 {
        return Add::new().name(format!("{prefix}add")).call_many(&[inputs, &x]);
    }
    Ok(x)
}

/// Keras's `MobileNetV2(...)`.
pub fn mobilenet_v2(opts: &AppOptions) -> Result<Model> {
    let app = "MobileNetV2";
    check_alpha(app, opts.alpha)?;
    let alpha = opts.alpha;
    let (classes, activation) = top_args(app, opts, 1000)?;
    check_input_tensor_agrees(app, opts, |tensor, given| {
        format!("input_tensor.shape[2] must equal input_shape[1]; Received `input_tensor.shape={tensor}`, `input_shape={given}`")
    })?;
    // Keras takes the default size from `input_tensor` when `input_shape` is not given.
    let default_size = match (&opts.input_tensor, opts.input_shape) {
        (Some(t), None) => match (t.shape().get(1).copied().flatten(), t.shape().get(2).copied().flatten()) {
            (Some(r), Some(c)) if r == c && [96, 128, 160, 192, 224].contains(&r) => r,
            _ => 224,
        },
        _ => 224,
    };
    let shape = obtain_input_shape(app, opts, default_size, 32)?;
    let input = image_input(shape, opts)?;
    let first = make_divisible(32.0 * alpha, 8);
    let mut x = Conv2D::new(first, 3)
        .strides(2)
        .padding("same")
        .use_bias(false)
        .name("Conv1")
        .call(&input)?;
    x = bn(&x, "bn_Conv1".into())?;
    x = relu6(&x, "Conv1_relu".into())?;
    // (filters, stride, expansion) per block.
    let blocks: [(usize, usize, usize); 17] = [
        (16, 1, 1),
        (24, 2, 6),
        (24, 1, 6),
        (32, 2, 6),
        (32, 1, 6),
        (32, 1, 6),
        (64, 2, 6),
        (64, 1, 6),
        (64, 1, 6),
        (64, 1, 6),
        (96, 1, 6),
        (96, 1, 6),
        (96, 1, 6),
        (160, 2, 6),
        (160, 1, 6),
        (160, 1, 6),
        (320, 1, 6),
    ];
    for (id, (filters, stride, expansion)) in blocks.into_iter().enumerate() {
        x = inverted_res_block(&x, expansion, stride, alpha, filters, id)?;
    }
    let last = if alpha > 1.0 {
        make_divisible(1280.0 * alpha, 8)
    } else {
        1280
    };
    x = Conv2D::new(last, 1).use_bias(false).name("Conv_1").call(&x)?;
    x = bn(&x, "Conv_1_bn".into())?;
    x = relu6(&x, "out_relu".into())?;
    if opts.include_top {
        x = GlobalAveragePooling2D::new().call(&x)?;
        x = Dense::new(classes)
            .activation(activation)
            .name("predictions")
            .call(&x)?;
    } else {
        x = pool(x, opts, None, None)?;
    }
    let rows = shape[0].map_or("None".to_string(), |r| r.to_string());
    finish(
        app,
        &input,
        &x,
        opts,
        &model_name(opts, &format!("mobilenetv2_{alpha:.2}_{rows}")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn make_divisible_matches_keras() {
        assert_eq!(make_divisible(32.0, 8), 32);
        assert_eq!(make_divisible(32.0 * 0.35, 8), 16);
        assert_eq!(make_divisible(5.0, 8), 8);
        assert_eq!(make_divisible(1280.0 * 1.3, 8), 1664);
        assert_eq!(make_divisible(22.0, 8), 24);
        assert_eq!(make_divisible(19.0, 8), 24); // 16 < 0.9 · 19 → 24
    }

    #[test]
    fn mobilenet_v2_small_alpha() {
        crate::clear_session();
        let opts = AppOptions {
            alpha: 0.35,
            input_shape: Some((96, 96, 3)),
            ..AppOptions::default()
        };
        let m = mobilenet_v2(&opts).unwrap();
        assert_eq!(m.name(), "mobilenetv2_0.35_96");
        assert_eq!(m.count_params(), 1_691_208);
        assert_eq!(m.get_layer("block_1_pad").unwrap().class_name(), "ZeroPadding2D");
    }
}
