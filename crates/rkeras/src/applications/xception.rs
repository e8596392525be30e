//! Xception (Chollet, 2017), as Keras's `xception.py`: an entry flow (`block1` … `block4`,
//! with automatically named 1×1 strided `conv2d` + `batch_normalization` residual branches
//! and `add` merges), eight middle-flow blocks `block5` … `block12` of three separable
//! convolutions, and an exit flow (`block13`, `block14`). Top: `avg_pool` + `predictions`.
//!
//! Input `(299, 299, 3)` by default (at least 71×71); output `(None, classes)`, without the
//! top `(None, 10, 10, 2048)` for 299×299.

use super::{avg_pool_top, finish, image_input, model_name, obtain_input_shape, top_args, AppOptions};
use crate::error::Result;
use crate::layers::{Activation, Add, BatchNormalization, Conv2D, MaxPooling2D, SeparableConv2D};
use crate::model::{Call, KerasTensor, Model};

fn bn(x: &KerasTensor, name: Option<String>) -> Result<KerasTensor> {
    let b = BatchNormalization::new().axis(-1);
    match name {
        Some(n) => b.name(n).call(x),
        None => b.call(x),
    }
}

fn relu(x: &KerasTensor, name: String) -> Result<KerasTensor> {
    Activation::new("relu").name(name).call(x)
}

fn sep(x: &KerasTensor, filters: usize, name: String) -> Result<KerasTensor> {
    SeparableConv2D::new(filters, 3)
        .padding("same")
        .use_bias(false)
        .name(name)
        .call(x)
}

/// The unnamed residual branch: 1×1 stride-2 convolution and batch normalization.
fn residual(x: &KerasTensor, filters: usize) -> Result<KerasTensor> {
    let r = Conv2D::new(filters, 1)
        .strides(2)
        .padding("same")
        .use_bias(false)
        .call(x)?;
    bn(&r, None)
}

fn add(a: &KerasTensor, b: &KerasTensor) -> Result<KerasTensor> {
    Add::new().call_many(&[a, b])
}

/// Keras's `Xception(...)`, model `xception`.
pub fn xception(opts: &AppOptions) -> Result<Model> {
    let app = "Xception";
    let (classes, activation) = top_args(app, opts, 1000)?;
    let input = image_input(obtain_input_shape(app, opts, 299, 71)?, opts)?;
    let mut x = Conv2D::new(32, 3)
        .strides(2)
        .use_bias(false)
        .name("block1_conv1")
        .call(&input)?;
    x = bn(&x, Some("block1_conv1_bn".into()))?;
    x = relu(&x, "block1_conv1_act".into())?;
    x = Conv2D::new(64, 3).use_bias(false).name("block1_conv2").call(&x)?;
    x = bn(&x, Some("block1_conv2_bn".into()))?;
    x = relu(&x, "block1_conv2_act".into())?;

    // block2 has no activation before its first separable convolution.
    let r = residual(&x, 128)?;
    x = sep(&x, 128, "block2_sepconv1".into())?;
    x = bn(&x, Some("block2_sepconv1_bn".into()))?;
    x = relu(&x, "block2_sepconv2_act".into())?;
    x = sep(&x, 128, "block2_sepconv2".into())?;
    x = bn(&x, Some("block2_sepconv2_bn".into()))?;
    x = MaxPooling2D::new(3)
        .strides(2)
        .padding("same")
        .name("block2_pool")
        .call(&x)?;
    x = add(&x, &r)?;

    for (b, filters) in [(3, 256), (4, 728)] {
        let r = residual(&x, filters)?;
        for k in 1..=2 {
            x = relu(&x, format!("block{b}_sepconv{k}_act"))?;
            x = sep(&x, filters, format!("block{b}_sepconv{k}"))?;
            x = bn(&x, Some(format!("block{b}_sepconv{k}_bn")))?;
        }
        x = MaxPooling2D::new(3)
            .strides(2)
            .padding("same")
            .name(format!("block{b}_pool"))
            .call(&x)?;
        x = add(&x, &r)?;
    }

    for b in 5..13 {
        let r = x.clone();
        for k in 1..=3 {
            x = relu(&x, format!("block{b}_sepconv{k}_act"))?;
            x = sep(&x, 728, format!("block{b}_sepconv{k}"))?;
            x = bn(&x, Some(format!("block{b}_sepconv{k}_bn")))?;
        }
        x = add(&x, &r)?;
    }

    let r = residual(&x, 1024)?;
    for (k, filters) in [(1, 728), (2, 1024)] {
        x = relu(&x, format!("block13_sepconv{k}_act"))?;
        x = sep(&x, filters, format!("block13_sepconv{k}"))?;
        x = bn(&x, Some(format!("block13_sepconv{k}_bn")))?;
    }
    x = MaxPooling2D::new(3)
        .strides(2)
        .padding("same")
        .name("block13_pool")
        .call(&x)?;
    x = add(&x, &r)?;

    for (k, filters) in [(1, 1536), (2, 2048)] {
        x = sep(&x, filters, format!("block14_sepconv{k}"))?;
        x = bn(&x, Some(format!("block14_sepconv{k}_bn")))?;
        x = relu(&x, format!("block14_sepconv{k}_act"))?;
    }

    x = avg_pool_top(x, opts, classes, &activation, (None, None))?;
    finish(app, &input, &x, opts, &model_name(opts, "xception"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xception_logits_and_minimum_size() {
        crate::clear_session();
        let opts = AppOptions {
            classes: Some(5),
            classifier_activation: None,
            include_top: true,
            ..AppOptions::default()
        };
        let m = xception(&opts).unwrap();
        assert_eq!(m.count_params(), 20_871_725);
        assert_eq!(m.get_layer("add_11").unwrap().class_name(), "Add");
        assert_eq!(
            m.get_layer("batch_normalization_3").unwrap().class_name(),
            "BatchNormalization"
        );
        let e = xception(&AppOptions {
            input_shape: Some((70, 70, 3)),
            ..AppOptions::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("at least 71x71"), "{e}");
    }
}
