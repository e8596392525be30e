//! InceptionV3 (Szegedy et al., 2015), as Keras's `inception_v3.py`.
//!
//! Every convolution is Keras's `conv2d_bn`: `Conv2D` without bias, `BatchNormalization`
//! without scale, ReLU `Activation`, all automatically named (`conv2d_12`,
//! `batch_normalization_12`, `activation_12`), so they must be made in Keras's order. The
//! blocks end in concatenations `mixed0` … `mixed10` (`mixed9_0`, `mixed9_1` and two unnamed
//! `concatenate`s inside the last two). Top: `avg_pool` + `predictions`.
//!
//! Input `(299, 299, 3)` by default (at least 75×75); output `(None, classes)`, without the
//! top `(None, 8, 8, 2048)` for 299×299.

use super::{avg_pool_top, finish, image_input, model_name, obtain_input_shape, top_args, AppOptions};
use crate::error::Result;
use crate::layers::{Activation, AveragePooling2D, BatchNormalization, Concatenate, Conv2D, MaxPooling2D};
use crate::model::{Call, KerasTensor, Model};

/// Keras's `conv2d_bn(x, filters, num_row, num_col, padding, strides)` (always unnamed here).
fn conv_bn(
    x: &KerasTensor,
    filters: usize,
    rows: usize,
    cols: usize,
    padding: &str,
    strides: usize,
) -> Result<KerasTensor> {
    let y = Conv2D::new(filters, (rows, cols))
        .strides(strides)
        .padding(padding)
        .use_bias(false)
        .call(x)?;
    let y = BatchNormalization::new().axis(3).scale(false).call(&y)?;
    Activation::new("relu").call(&y)
}

/// `conv2d_bn` with `same` padding and stride 1.
fn cb(x: &KerasTensor, filters: usize, rows: usize, cols: usize) -> Result<KerasTensor> {
    conv_bn(x, filters, rows, cols, "same", 1)
}

fn avg_pool_same(x: &KerasTensor) -> Result<KerasTensor> {
    AveragePooling2D::new(3).strides(1).padding("same").call(x)
}

fn concat(parts: &[&KerasTensor], name: Option<String>) -> Result<KerasTensor> {
    let c = Concatenate::new(3);
    match name {
        Some(n) => c.name(n).call_many(parts),
        None => c.call_many(parts),
    }
}

/// Keras's `InceptionV3(...)`, model `inception_v3`.
pub fn inception_v3(opts: &AppOptions) -> Result<Model> {
    let app = "InceptionV3";
    let (classes, activation) = top_args(app, opts, 1000)?;
    let input = image_input(obtain_input_shape(app, opts, 299, 75)?, opts)?;
    let mut x = conv_bn(&input, 32, 3, 3, "valid", 2)?;
    x = conv_bn(&x, 32, 3, 3, "valid", 1)?;
    x = cb(&x, 64, 3, 3)?;
    x = MaxPooling2D::new(3).strides(2).call(&x)?;
    x = conv_bn(&x, 80, 1, 1, "valid", 1)?;
    x = conv_bn(&x, 192, 3, 3, "valid", 1)?;
    x = MaxPooling2D::new(3).strides(2).call(&x)?;

    // mixed0, mixed1, mixed2: 35×35 blocks; the pool branch has 32, then 64 filters.
    for (i, pool_filters) in [32, 64, 64].into_iter().enumerate() {
        let b1 = cb(&x, 64, 1, 1)?;
        let b5 = cb(&x, 48, 1, 1)?;
        let b5 = cb(&b5, 64, 5, 5)?;
        let b3 = cb(&x, 64, 1, 1)?;
        let b3 = cb(&b3, 96, 3, 3)?;
        let b3 = cb(&b3, 96, 3, 3)?;
        let bp = avg_pool_same(&x)?;
        let bp = cb(&bp, pool_filters, 1, 1)?;
        x = concat(&[&b1, &b5, &b3, &bp], Some(format!("mixed{i}")))?;
    }

    // mixed3: down to 17×17.
    let b3 = conv_bn(&x, 384, 3, 3, "valid", 2)?;
    let bd = cb(&x, 64, 1, 1)?;
    let bd = cb(&bd, 96, 3, 3)?;
    let bd = conv_bn(&bd, 96, 3, 3, "valid", 2)?;
    let bp = MaxPooling2D::new(3).strides(2).call(&x)?;
    x = concat(&[&b3, &bd, &bp], Some("mixed3".into()))?;

    // mixed4 … mixed7: factorized 7×7 blocks with 128, 160, 160, 192 inner filters.
    for (i, f) in [128, 160, 160, 192].into_iter().enumerate() {
        let b1 = cb(&x, 192, 1, 1)?;
        let b7 = cb(&x, f, 1, 1)?;
        let b7 = cb(&b7, f, 1, 7)?;
        let b7 = cb(&b7, 192, 7, 1)?;
        let bd = cb(&x, f, 1, 1)?;
        let bd = cb(&bd, f, 7, 1)?;
        let bd = cb(&bd, f, 1, 7)?;
        let bd = cb(&bd, f, 7, 1)?;
        let bd = cb(&bd, 192, 1, 7)?;
        let bp = avg_pool_same(&x)?;
        let bp = cb(&bp, 192, 1, 1)?;
        x = concat(&[&b1, &b7, &bd, &bp], Some(format!("mixed{}", 4 + i)))?;
    }

    // mixed8: down to 8×8.
    let b3 = cb(&x, 192, 1, 1)?;
    let b3 = conv_bn(&b3, 320, 3, 3, "valid", 2)?;
    let b7 = cb(&x, 192, 1, 1)?;
    let b7 = cb(&b7, 192, 1, 7)?;
    let b7 = cb(&b7, 192, 7, 1)?;
    let b7 = conv_bn(&b7, 192, 3, 3, "valid", 2)?;
    let bp = MaxPooling2D::new(3).strides(2).call(&x)?;
    x = concat(&[&b3, &b7, &bp], Some("mixed8".into()))?;

    // mixed9, mixed10: expanded filter banks.
    for i in 0..2 {
        let b1 = cb(&x, 320, 1, 1)?;
        let b3 = cb(&x, 384, 1, 1)?;
        let b3_1 = cb(&b3, 384, 1, 3)?;
        let b3_2 = cb(&b3, 384, 3, 1)?;
        let b3 = concat(&[&b3_1, &b3_2], Some(format!("mixed9_{i}")))?;
        let bd = cb(&x, 448, 1, 1)?;
        let bd = cb(&bd, 384, 3, 3)?;
        let bd_1 = cb(&bd, 384, 1, 3)?;
        let bd_2 = cb(&bd, 384, 3, 1)?;
        let bd = concat(&[&bd_1, &bd_2], None)?;
        let bp = avg_pool_same(&x)?;
        let bp = cb(&bp, 192, 1, 1)?;
        x = concat(&[&b1, &b3, &bd, &bp], Some(format!("mixed{}", 9 + i)))?;
    }

    x = avg_pool_top(x, opts, classes, &activation, (None, None))?;
    finish(app, &input, &x, opts, &model_name(opts, "inception_v3"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inception_v3_smallest_input_and_auto_names() {
        crate::clear_session();
        let opts = AppOptions {
            include_top: false,
            input_shape: Some((75, 75, 3)),
            ..AppOptions::default()
        };
        let m = inception_v3(&opts).unwrap();
        assert_eq!(m.output_shapes(), vec![vec![None, Some(1), Some(1), Some(2048)]]);
        assert_eq!(m.count_params(), 21_802_784);
        assert_eq!(m.get_layer("conv2d_93").unwrap().class_name(), "Conv2D");
        assert_eq!(m.get_layer("concatenate_1").unwrap().class_name(), "Concatenate");
        let e = inception_v3(&AppOptions {
            input_shape: Some((74, 75, 3)),
            ..AppOptions::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("at least 75x75"), "{e}");
    }
}
