//! DenseNet121/169/201 (Huang et al., 2017), as Keras's `densenet.py`: a 7×7/2 stem
//! (`conv1_conv`, `conv1_bn`, `conv1_relu`, with automatically named `zero_padding2d`s),
//! `pool1`, then four dense blocks (`conv2_block1_0_bn` … `conv2_block1_concat`, growth 32)
//! separated by transitions `pool2` … `pool4` (BN, ReLU, 1×1 halving the channels, 2×2
//! average pool), and `bn`, `relu`. Top: `avg_pool` + `predictions`.
//!
//! tf-keras 2 names the stem `conv1/conv`, `conv1/bn`, `conv1/relu`: set
//! [`AppOptions::keras2_names`] for those. Input `(224, 224, 3)` by default (at least
//! 32×32); output `(None, classes)`, without the top `(None, H/32, W/32, 1024 | 1664 | 1920)`.

use super::{avg_pool_top, finish, image_input, model_name, obtain_input_shape, top_args, AppOptions};
use crate::error::Result;
use crate::layers::{
    Activation, AveragePooling2D, BatchNormalization, Concatenate, Conv2D, MaxPooling2D, ZeroPadding2D,
};
use crate::model::{Call, KerasTensor, Model};

fn bn(x: &KerasTensor, name: String) -> Result<KerasTensor> {
    BatchNormalization::new().axis(3).epsilon(1.001e-5).name(name).call(x)
}

fn relu(x: &KerasTensor, name: String) -> Result<KerasTensor> {
    Activation::new("relu").name(name).call(x)
}

/// Keras's `conv_block(x, growth_rate, name)`: BN-ReLU-1×1(4·growth)-BN-ReLU-3×3(growth),
/// concatenated onto the input.
fn conv_block(x: &KerasTensor, growth_rate: usize, name: &str) -> Result<KerasTensor> {
    let mut y = bn(x, format!("{name}_0_bn"))?;
    y = relu(&y, format!("{name}_0_relu"))?;
    y = Conv2D::new(4 * growth_rate, 1)
        .use_bias(false)
        .name(format!("{name}_1_conv"))
        .call(&y)?;
    y = bn(&y, format!("{name}_1_bn"))?;
    y = relu(&y, format!("{name}_1_relu"))?;
    y = Conv2D::new(growth_rate, 3)
        .padding("same")
        .use_bias(false)
        .name(format!("{name}_2_conv"))
        .call(&y)?;
    Concatenate::new(3).name(format!("{name}_concat")).call_many(&[x, &y])
}

/// Keras's `transition_block(x, reduction, name)`.
fn transition_block(x: &KerasTensor, reduction: f64, name: &str) -> Result<KerasTensor> {
    let mut y = bn(x, format!("{name}_bn"))?;
    y = relu(&y, format!("{name}_relu"))?;
    let channels = y.shape().get(3).copied().flatten().unwrap_or(0);
    y = Conv2D::new((channels as f64 * reduction) as usize, 1)
        .use_bias(false)
        .name(format!("{name}_conv"))
        .call(&y)?;
    AveragePooling2D::new(2)
        .strides(2)
        .name(format!("{name}_pool"))
        .call(&y)
}

/// Keras's `DenseNet121(...)`: dense blocks of 6, 12, 24, 16, model `densenet121`.
pub fn densenet121(opts: &AppOptions) -> Result<Model> {
    densenet("DenseNet121", "densenet121", [6, 12, 24, 16], opts)
}

/// Keras's `DenseNet169(...)`: dense blocks of 6, 12, 32, 32, model `densenet169`.
pub fn densenet169(opts: &AppOptions) -> Result<Model> {
    densenet("DenseNet169", "densenet169", [6, 12, 32, 32], opts)
}

/// Keras's `DenseNet201(...)`: dense blocks of 6, 12, 48, 32, model `densenet201`.
pub fn densenet201(opts: &AppOptions) -> Result<Model> {
    densenet("DenseNet201", "densenet201", [6, 12, 48, 32], opts)
}

/// Keras's `DenseNet(blocks, ...)`.
fn densenet(app: &str, default_name: &str, blocks: [usize; 4], opts: &AppOptions) -> Result<Model> {
    let (classes, activation) = top_args(app, opts, 1000)?;
    let input = image_input(obtain_input_shape(app, opts, 224, 32)?, opts)?;
    let stem = |part: &str| {
        if opts.keras2_names {
            format!("conv1/{part}")
        } else {
            format!("conv1_{part}")
        }
    };
    let mut x = ZeroPadding2D::new(((3, 3), (3, 3))).call(&input)?;
    x = Conv2D::new(64, 7)
        .strides(2)
        .use_bias(false)
        .name(stem("conv"))
        .call(&x)?;
    x = bn(&x, stem("bn"))?;
    x = relu(&x, stem("relu"))?;
    x = ZeroPadding2D::new(((1, 1), (1, 1))).call(&x)?;
    x = MaxPooling2D::new(3).strides(2).name("pool1").call(&x)?;
    for (i, &n) in blocks.iter().enumerate() {
        for b in 1..=n {
            x = conv_block(&x, 32, &format!("conv{}_block{b}", i + 2))?;
        }
        if i < 3 {
            x = transition_block(&x, 0.5, &format!("pool{}", i + 2))?;
        }
    }
    x = bn(&x, "bn".into())?;
    x = relu(&x, "relu".into())?;
    x = avg_pool_top(x, opts, classes, &activation, (Some("avg_pool"), Some("max_pool")))?;
    finish(app, &input, &x, opts, &model_name(opts, default_name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn densenet121_without_top_and_keras2_names() {
        crate::clear_session();
        let opts = AppOptions {
            include_top: false,
            input_shape: Some((32, 32, 3)),
            keras2_names: true,
            ..AppOptions::default()
        };
        let m = densenet121(&opts).unwrap();
        assert_eq!(m.count_params(), 7_037_504);
        assert_eq!(m.output_shapes(), vec![vec![None, Some(1), Some(1), Some(1024)]]);
        let first: Vec<&str> = m.layers().iter().take(5).map(|l| l.name()).collect();
        assert_eq!(
            first,
            ["input_layer", "zero_padding2d", "conv1/conv", "conv1/bn", "conv1/relu"]
        );
    }
}
