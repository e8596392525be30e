//! ConvNeXtTiny, Small, Base, Large and XLarge (Liu et al., 2022), as Keras's `convnext.py`:
//! the pre-stem `…_prestem_normalization` (ImageNet mean and variance as arguments,
//! `include_preprocessing` with 3 channels), the stem (a nested Sequential
//! `…_stem`: 4×4/4 conv + LayerNormalization), four stages of ConvNeXt blocks
//! (`…_stage_i_block_j_`: 7×7 depthwise conv as a grouped Conv2D, `layernorm`,
//! `pointwise_conv_1` (Dense 4·d), `gelu`, `pointwise_conv_2`, `layer_scale` (1e-6),
//! `identity` (drop-path rate 0), added to the block's input by an operation), with nested
//! Sequential downsampling blocks (`…_downsampling_block_i`: LayerNormalization + 2×2/2
//! conv) between stages.
//!
//! Top: `…_head_gap`, `…_head_layernorm`, `…_head_dense`; without it, optional pooling and a
//! LayerNormalization. Model `convnext_tiny` … `convnext_xlarge`. Input `(224, 224, 3)` by
//! default (at least 32×32); output `(None, classes)`.

use super::{finish, image_input, model_name, obtain_input_shape, top_args, AppOptions, Pooling};
use crate::error::Result;
use crate::layers::app_layers::LayerScale;
use crate::layers::feature_normalization::Normalization;
use crate::layers::input::InputLayer;
use crate::layers::layer_normalization::LayerNormalization;
use crate::layers::{Activation, Conv2D, Dense, GlobalAveragePooling2D, GlobalMaxPooling2D};
use crate::model::{Call, KerasTensor, Model, Sequential};

/// (application, model name, depths, projection dims).
const VARIANTS: [(&str, &str, [usize; 4], [usize; 4]); 5] = [
    ("ConvNeXtTiny", "convnext_tiny", [3, 3, 9, 3], [96, 192, 384, 768]),
    ("ConvNeXtSmall", "convnext_small", [3, 3, 27, 3], [96, 192, 384, 768]),
    ("ConvNeXtBase", "convnext_base", [3, 3, 27, 3], [128, 256, 512, 1024]),
    ("ConvNeXtLarge", "convnext_large", [3, 3, 27, 3], [192, 384, 768, 1536]),
    (
        "ConvNeXtXLarge",
        "convnext_xlarge",
        [3, 3, 27, 3],
        [256, 512, 1024, 2048],
    ),
];

fn ln(name: String) -> crate::layers::LayerNormalizationConfig {
    LayerNormalization::new().epsilon(1e-6).name(name)
}

/// A nested Sequential called on `x` (built for its shape, which may have unknown sizes).
fn nested(x: &KerasTensor, seq: Sequential) -> Result<KerasTensor> {
    let dims: Vec<Option<usize>> = x.shape()[1..].to_vec();
    seq.build_on(InputLayer::with_dims(&dims))?.call(x)
}

/// Keras's `ConvNeXtBlock`.
fn block(inputs: &KerasTensor, dim: usize, name: &str) -> Result<KerasTensor> {
    let x = Conv2D::new(dim, 7)
        .padding("same")
        .groups(dim)
        .name(format!("{name}_depthwise_conv"))
        .call(inputs)?;
    let x = ln(format!("{name}_layernorm")).call(&x)?;
    let x = Dense::new(4 * dim).name(format!("{name}_pointwise_conv_1")).call(&x)?;
    let x = Activation::new("gelu").name(format!("{name}_gelu")).call(&x)?;
    let x = Dense::new(dim).name(format!("{name}_pointwise_conv_2")).call(&x)?;
    let x = LayerScale::new(1e-6, dim)
        .name(format!("{name}_layer_scale"))
        .call(&x)?;
    let x = Activation::new("linear").name(format!("{name}_identity")).call(&x)?;
    inputs + &x
}

fn convnext(opts: &AppOptions, variant: usize) -> Result<Model> {
    let (app, default_name, depths, dims) = VARIANTS[variant];
    let (classes, activation) = top_args(app, opts, 1000)?;
    let shape = obtain_input_shape(app, opts, 224, 32)?;
    let name = model_name(opts, default_name);
    let input = image_input(shape, opts)?;
    let mut x = input.clone();
    if opts.include_preprocessing && shape[2] == Some(3) {
        let mean = [0.485 * 255.0, 0.456 * 255.0, 0.406 * 255.0];
        let var = [
            (0.229f64 * 255.0).powi(2),
            (0.224f64 * 255.0).powi(2),
            (0.225f64 * 255.0).powi(2),
        ];
        x = Normalization::new()
            .mean_variance(&mean, &var)
            .name(format!("{name}_prestem_normalization"))
            .call(&x)?;
    }
    for (i, (&depth, &dim)) in depths.iter().zip(&dims).enumerate() {
        let seq = if i == 0 {
            Sequential::named(&format!("{name}_stem"))
                .add(Conv2D::new(dim, 4).strides(4).name(format!("{name}_stem_conv")))
                .add(ln(format!("{name}_stem_layernorm")))
        } else {
            let j = i - 1;
            Sequential::named(&format!("{name}_downsampling_block_{j}"))
                .add(ln(format!("{name}_downsampling_layernorm_{j}")))
                .add(
                    Conv2D::new(dim, 2)
                        .strides(2)
                        .name(format!("{name}_downsampling_conv_{j}")),
                )
        };
        x = nested(&x, seq)?;
        for j in 0..depth {
            x = block(&x, dim, &format!("{name}_stage_{i}_block_{j}"))?;
        }
    }
    if opts.include_top {
        x = GlobalAveragePooling2D::new()
            .name(format!("{name}_head_gap"))
            .call(&x)?;
        x = ln(format!("{name}_head_layernorm")).call(&x)?;
        x = Dense::new(classes)
            .activation(activation)
            .name(format!("{name}_head_dense"))
            .call(&x)?;
    } else {
        x = match opts.pooling {
            Some(Pooling::Avg) => GlobalAveragePooling2D::new().call(&x)?,
            Some(Pooling::Max) => GlobalMaxPooling2D::new().call(&x)?,
            None => x,
        };
        x = LayerNormalization::new().epsilon(1e-6).call(&x)?;
    }
    finish(app, &input, &x, opts, &name)
}

macro_rules! variants {
    ($($(#[$doc:meta])* $f:ident = $i:expr;)*) => {
        $(
            $(#[$doc])*
            pub fn $f(opts: &AppOptions) -> Result<Model> {
                convnext(opts, $i)
            }
        )*
    };
}

variants! {
    /// Keras's `ConvNeXtTiny(...)` (28.6M parameters).
    convnext_tiny = 0;
    /// Keras's `ConvNeXtSmall(...)`.
    convnext_small = 1;
    /// Keras's `ConvNeXtBase(...)`.
    convnext_base = 2;
    /// Keras's `ConvNeXtLarge(...)`.
    convnext_large = 3;
    /// Keras's `ConvNeXtXLarge(...)` (350M parameters).
    convnext_xlarge = 4;
}
