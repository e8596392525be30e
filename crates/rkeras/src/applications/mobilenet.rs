//! MobileNet (Howard et al., 2017), as Keras's `mobilenet.py`: `conv1` (3×3/2), then 13
//! depthwise-separable blocks (`conv_dw_1` + `conv_pw_1`, …; strided ones preceded by
//! `conv_pad_N`), ReLU6 after every batch normalization. Widths scale by `alpha`
//! (`int(filters · alpha)`), the depthwise convolutions by `depth_multiplier`.
//!
//! Top: `global_average_pooling2d` (keepdims), `dropout`, `conv_preds` (1×1, `classes`),
//! `reshape_2`, `predictions` (an `Activation`). Model `mobilenet_{alpha:.2}_{rows}`
//! (`mobilenet_1.00_224`, `mobilenet_1.00_None` without the top and without input shape).
//! Input `(224, 224, 3)` by default (at least 32×32); output `(None, classes)`.

use super::{finish, image_input, model_name, obtain_input_shape, pool, top_args, AppOptions};
use crate::error::{arg_error, Result};
use crate::layers::{
    Activation, BatchNormalization, Conv2D, DepthwiseConv2D, Dropout, GlobalAveragePooling2D, ReLU, Reshape,
    ZeroPadding2D,
};
use crate::model::{Call, KerasTensor, Model};

/// Python's `int(filters * alpha)`.
pub(crate) fn scaled(filters: usize, alpha: f64) -> usize {
    (filters as f64 * alpha) as usize
}

/// Checks `alpha`: Keras accepts any value with random weights, but it must give widths.
pub(crate) fn check_alpha(app: &str, alpha: f64) -> Result<()> {
    if !(alpha.is_finite() && alpha > 0.0) {
        return Err(arg_error(
            app,
            "alpha",
            "a positive width multiplier (e.g. 0.25, 0.5, 0.75, 1.0)",
            alpha,
        ));
    }
    Ok(())
}

fn bn_relu6(x: &KerasTensor, bn: String, relu: String) -> Result<KerasTensor> {
    let y = BatchNormalization::new().axis(-1).name(bn).call(x)?;
    ReLU::new().max_value(6.0).name(relu).call(&y)
}

/// Keras's `_depthwise_conv_block`.
fn dw_block(x: &KerasTensor, filters: usize, opts: &AppOptions, stride: usize, id: usize) -> Result<KerasTensor> {
    let pw = scaled(filters, opts.alpha);
    let mut y = x.clone();
    if stride != 1 {
        y = ZeroPadding2D::new(((0, 1), (0, 1)))
            .name(format!("conv_pad_{id}"))
            .call(&y)?;
    }
    y = DepthwiseConv2D::new(3)
        .padding(if stride == 1 { "same" } else { "valid" })
        .depth_multiplier(opts.depth_multiplier)
        .strides(stride)
        .use_bias(false)
        .name(format!("conv_dw_{id}"))
        .call(&y)?;
    y = bn_relu6(&y, format!("conv_dw_{id}_bn"), format!("conv_dw_{id}_relu"))?;
    y = Conv2D::new(pw, 1)
        .padding("same")
        .use_bias(false)
        .strides(1)
        .name(format!("conv_pw_{id}"))
        .call(&y)?;
    bn_relu6(&y, format!("conv_pw_{id}_bn"), format!("conv_pw_{id}_relu"))
}

/// Keras's `MobileNet(...)`.
pub fn mobilenet(opts: &AppOptions) -> Result<Model> {
    let app = "MobileNet";
    check_alpha(app, opts.alpha)?;
    if opts.depth_multiplier == 0 {
        return Err(arg_error(app, "depth_multiplier", "a positive integer", 0));
    }
    if !(0.0..1.0).contains(&opts.dropout) {
        return Err(arg_error(app, "dropout", "a rate in [0, 1)", opts.dropout));
    }
    let (classes, activation) = top_args(app, opts, 1000)?;
    let shape = obtain_input_shape(app, opts, 224, 32)?;
    let input = image_input(shape, opts)?;
    let mut x = Conv2D::new(scaled(32, opts.alpha), 3)
        .padding("same")
        .use_bias(false)
        .strides(2)
        .name("conv1")
        .call(&input)?;
    x = bn_relu6(&x, "conv1_bn".into(), "conv1_relu".into())?;
    let blocks: [(usize, usize); 13] = [
        (64, 1),
        (128, 2),
        (128, 1),
        (256, 2),
        (256, 1),
        (512, 2),
        (512, 1),
        (512, 1),
        (512, 1),
        (512, 1),
        (512, 1),
        (1024, 2),
        (1024, 1),
    ];
    for (i, (filters, stride)) in blocks.into_iter().enumerate() {
        x = dw_block(&x, filters, opts, stride, i + 1)?;
    }
    if opts.include_top {
        x = GlobalAveragePooling2D::new().keepdims(true).call(&x)?;
        x = Dropout::new(opts.dropout).name("dropout").call(&x)?;
        x = Conv2D::new(classes, 1).padding("same").name("conv_preds").call(&x)?;
        x = Reshape::new(&[classes as i64]).name("reshape_2").call(&x)?;
        x = Activation::new(&activation).name("predictions").call(&x)?;
    } else {
        x = pool(x, opts, None, None)?;
    }
    let rows = shape[0].map_or("None".to_string(), |r| r.to_string());
    finish(
        app,
        &input,
        &x,
        opts,
        &model_name(opts, &format!("mobilenet_{:.2}_{rows}", opts.alpha)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobilenet_names_follow_alpha_and_rows() {
        crate::clear_session();
        let opts = AppOptions {
            alpha: 0.25,
            include_top: false,
            ..AppOptions::default()
        };
        let m = mobilenet(&opts).unwrap();
        assert_eq!(m.name(), "mobilenet_0.25_None");
        assert_eq!(m.get_layer("conv_pw_13").unwrap().count_params(), 256 * 256);
        crate::clear_session();
        let opts = AppOptions {
            alpha: 0.5,
            depth_multiplier: 2,
            input_shape: Some((128, 128, 3)),
            ..AppOptions::default()
        };
        let m = mobilenet(&opts).unwrap();
        assert_eq!(m.name(), "mobilenet_0.50_128");
        assert_eq!(m.count_params(), 2_159_672);
    }

    #[test]
    fn mobilenet_refuses_bad_widths() {
        for alpha in [0.0, -1.0, f64::NAN] {
            let e = mobilenet(&AppOptions {
                alpha,
                ..AppOptions::default()
            })
            .unwrap_err()
            .to_string();
            assert!(e.starts_with("MobileNet: argument `alpha`"), "{e}");
        }
        crate::clear_session();
        // int(32 · 0.01) = 0 filters: the layer refuses it.
        assert!(mobilenet(&AppOptions {
            alpha: 0.01,
            ..AppOptions::default()
        })
        .is_err());
        let e = mobilenet(&AppOptions {
            depth_multiplier: 0,
            ..AppOptions::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("depth_multiplier"), "{e}");
    }
}
