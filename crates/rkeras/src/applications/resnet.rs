//! ResNet50/101/152 (He et al., 2015) and their V2 forms (pre-activation, He et al., 2016),
//! as Keras's `resnet.py` / `resnet_v2.py`.
//!
//! Stem: `conv1_pad` (3 px), `conv1_conv` (7×7/2, 64), [V1: `conv1_bn`, `conv1_relu`],
//! `pool1_pad`, `pool1_pool` (3×3/2 max). Then four stacks `conv2`…`conv5` of bottleneck
//! blocks (`conv2_block1_1_conv`, …, `conv2_block1_add`/`_out`), 64·4 … 512·4 channels;
//! V2 ends with `post_bn`, `post_relu`. Top: `avg_pool` + `predictions`.
//!
//! V1 downsamples in the first block of a stack (stride on `_1_conv` and `_0_conv`), V2 in
//! the last block (stride on `_2_conv`, the shortcut an automatically named 1×1 max pool).
//! Input `(224, 224, 3)` by default (at least 32×32); output `(None, classes)`, without the
//! top `(None, H/32, W/32, 2048)`.

use super::{avg_pool_top, finish, image_input, model_name, obtain_input_shape, top_args, AppOptions};
use crate::error::Result;
use crate::layers::{Activation, Add, BatchNormalization, Conv2D, MaxPooling2D, ZeroPadding2D};
use crate::model::{Call, KerasTensor, Model};

const EPS: f64 = 1.001e-5;

fn bn(name: String) -> crate::layers::BatchNormalizationConfig {
    BatchNormalization::new().axis(3).epsilon(EPS).name(name)
}

/// Keras's `ResNet50(...)`: stacks of 3, 4, 6, 3 blocks, model `resnet50`.
pub fn resnet50(opts: &AppOptions) -> Result<Model> {
    resnet("ResNet50", "resnet50", false, [3, 4, 6, 3], opts)
}

/// Keras's `ResNet101(...)`: stacks of 3, 4, 23, 3 blocks, model `resnet101`.
pub fn resnet101(opts: &AppOptions) -> Result<Model> {
    resnet("ResNet101", "resnet101", false, [3, 4, 23, 3], opts)
}

/// Keras's `ResNet152(...)`: stacks of 3, 8, 36, 3 blocks, model `resnet152`.
pub fn resnet152(opts: &AppOptions) -> Result<Model> {
    resnet("ResNet152", "resnet152", false, [3, 8, 36, 3], opts)
}

/// Keras's `ResNet50V2(...)`: stacks of 3, 4, 6, 3 blocks, model `resnet50v2`.
pub fn resnet50_v2(opts: &AppOptions) -> Result<Model> {
    resnet("ResNet50V2", "resnet50v2", true, [3, 4, 6, 3], opts)
}

/// Keras's `ResNet101V2(...)`: stacks of 3, 4, 23, 3 blocks, model `resnet101v2`.
pub fn resnet101_v2(opts: &AppOptions) -> Result<Model> {
    resnet("ResNet101V2", "resnet101v2", true, [3, 4, 23, 3], opts)
}

/// Keras's `ResNet152V2(...)`: stacks of 3, 8, 36, 3 blocks, model `resnet152v2`.
pub fn resnet152_v2(opts: &AppOptions) -> Result<Model> {
    resnet("ResNet152V2", "resnet152v2", true, [3, 8, 36, 3], opts)
}

/// Keras's `ResNet(stack_fn, preact, use_bias=True, ...)`.
fn resnet(app: &str, default_name: &str, preact: bool, blocks: [usize; 4], opts: &AppOptions) -> Result<Model> {
    let (classes, activation) = top_args(app, opts, 1000)?;
    let input = image_input(obtain_input_shape(app, opts, 224, 32)?, opts)?;
    let mut x = ZeroPadding2D::new(((3, 3), (3, 3))).name("conv1_pad").call(&input)?;
    x = Conv2D::new(64, 7)
        .strides(2)
        .use_bias(true)
        .name("conv1_conv")
        .call(&x)?;
    if !preact {
        x = bn("conv1_bn".into()).call(&x)?;
        x = Activation::new("relu").name("conv1_relu").call(&x)?;
    }
    x = ZeroPadding2D::new(((1, 1), (1, 1))).name("pool1_pad").call(&x)?;
    x = MaxPooling2D::new(3).strides(2).name("pool1_pool").call(&x)?;
    for (i, (&n, filters)) in blocks.iter().zip([64, 128, 256, 512]).enumerate() {
        let name = format!("conv{}", i + 2);
        x = if preact {
            // V2 downsamples at the end of every stack but the last.
            stack_v2(x, filters, n, if i == 3 { 1 } else { 2 }, &name)?
        } else {
            stack_v1(x, filters, n, if i == 0 { 1 } else { 2 }, &name)?
        };
    }
    if preact {
        x = bn("post_bn".into()).call(&x)?;
        x = Activation::new("relu").name("post_relu").call(&x)?;
    }
    x = avg_pool_top(x, opts, classes, &activation, (Some("avg_pool"), Some("max_pool")))?;
    finish(app, &input, &x, opts, &model_name(opts, default_name))
}

/// Keras's `residual_block_v1`: 1×1 (stride), 3×3 `same`, 1×1 ×4, added to the shortcut.
fn block_v1(x: KerasTensor, filters: usize, stride: usize, conv_shortcut: bool, name: &str) -> Result<KerasTensor> {
    let shortcut = if conv_shortcut {
        let s = Conv2D::new(4 * filters, 1)
            .strides(stride)
            .name(format!("{name}_0_conv"))
            .call(&x)?;
        bn(format!("{name}_0_bn")).call(&s)?
    } else {
        x.clone()
    };
    let mut y = Conv2D::new(filters, 1)
        .strides(stride)
        .name(format!("{name}_1_conv"))
        .call(&x)?;
    y = bn(format!("{name}_1_bn")).call(&y)?;
    y = Activation::new("relu").name(format!("{name}_1_relu")).call(&y)?;
    y = Conv2D::new(filters, 3)
        .padding("same")
        .name(format!("{name}_2_conv"))
        .call(&y)?;
    y = bn(format!("{name}_2_bn")).call(&y)?;
    y = Activation::new("relu").name(format!("{name}_2_relu")).call(&y)?;
    y = Conv2D::new(4 * filters, 1).name(format!("{name}_3_conv")).call(&y)?;
    y = bn(format!("{name}_3_bn")).call(&y)?;
    y = Add::new().name(format!("{name}_add")).call_many(&[&shortcut, &y])?;
    Activation::new("relu").name(format!("{name}_out")).call(&y)
}

/// Keras's `stack_residual_blocks_v1`.
fn stack_v1(mut x: KerasTensor, filters: usize, blocks: usize, stride1: usize, name: &str) -> Result<KerasTensor> {
    x = block_v1(x, filters, stride1, true, &format!("{name}_block1"))?;
    for i in 2..=blocks {
        x = block_v1(x, filters, 1, false, &format!("{name}_block{i}"))?;
    }
    Ok(x)
}

/// Keras's `residual_block_v2`: pre-activation, then 1×1, padded 3×3 (stride), 1×1 ×4.
fn block_v2(x: KerasTensor, filters: usize, stride: usize, conv_shortcut: bool, name: &str) -> Result<KerasTensor> {
    let mut preact = bn(format!("{name}_preact_bn")).call(&x)?;
    preact = Activation::new("relu")
        .name(format!("{name}_preact_relu"))
        .call(&preact)?;
    let shortcut = if conv_shortcut {
        Conv2D::new(4 * filters, 1)
            .strides(stride)
            .name(format!("{name}_0_conv"))
            .call(&preact)?
    } else if stride > 1 {
        MaxPooling2D::new(1).strides(stride).call(&x)?
    } else {
        x.clone()
    };
    let mut y = Conv2D::new(filters, 1)
        .strides(1)
        .use_bias(false)
        .name(format!("{name}_1_conv"))
        .call(&preact)?;
    y = bn(format!("{name}_1_bn")).call(&y)?;
    y = Activation::new("relu").name(format!("{name}_1_relu")).call(&y)?;
    y = ZeroPadding2D::new(((1, 1), (1, 1)))
        .name(format!("{name}_2_pad"))
        .call(&y)?;
    y = Conv2D::new(filters, 3)
        .strides(stride)
        .use_bias(false)
        .name(format!("{name}_2_conv"))
        .call(&y)?;
    y = bn(format!("{name}_2_bn")).call(&y)?;
    y = Activation::new("relu").name(format!("{name}_2_relu")).call(&y)?;
    y = Conv2D::new(4 * filters, 1).name(format!("{name}_3_conv")).call(&y)?;
    Add::new().name(format!("{name}_out")).call_many(&[&shortcut, &y])
}

/// Keras's `stack_residual_blocks_v2`: the stride goes on the last block.
fn stack_v2(mut x: KerasTensor, filters: usize, blocks: usize, stride1: usize, name: &str) -> Result<KerasTensor> {
    x = block_v2(x, filters, 1, true, &format!("{name}_block1"))?;
    for i in 2..blocks {
        x = block_v2(x, filters, 1, false, &format!("{name}_block{i}"))?;
    }
    block_v2(x, filters, stride1, false, &format!("{name}_block{blocks}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resnet50_classes_and_shapes() {
        crate::clear_session();
        let opts = AppOptions {
            classes: Some(10),
            ..AppOptions::default()
        };
        let m = resnet50(&opts).unwrap();
        assert_eq!(m.count_params(), 23_608_202);
        assert_eq!(m.output_shapes(), vec![vec![None, Some(10)]]);
        assert_eq!(
            m.get_layer("conv5_block3_out")
                .map(|l| l.class_name().to_string())
                .unwrap(),
            "Activation"
        );
    }

    #[test]
    fn resnet50_v2_shortcut_pools_are_auto_named() {
        crate::clear_session();
        let opts = AppOptions {
            include_top: false,
            input_shape: Some((64, 64, 3)),
            ..AppOptions::default()
        };
        let m = resnet50_v2(&opts).unwrap();
        // conv2, conv3 and conv4 end with a strided block whose shortcut is a 1×1 max pool.
        for n in ["max_pooling2d", "max_pooling2d_1", "max_pooling2d_2"] {
            assert_eq!(m.get_layer(n).unwrap().class_name(), "MaxPooling2D");
        }
        assert!(m.get_layer("max_pooling2d_3").is_err());
        assert_eq!(m.output_shapes(), vec![vec![None, Some(2), Some(2), Some(2048)]]);
    }
}
