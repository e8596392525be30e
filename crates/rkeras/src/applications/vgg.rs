//! VGG16 and VGG19 (Simonyan & Zisserman, 2015), as Keras's `vgg16.py` / `vgg19.py`: five
//! blocks of 3×3 `same` ReLU convolutions (`block1_conv1` …) each closed by a 2×2 max pool
//! (`block1_pool` …), then `flatten`, `fc1`, `fc2` (4096 ReLU units) and `predictions`.
//!
//! Input `(224, 224, 3)` by default (at least 32×32); output `(None, classes)`, or without the
//! top `(None, H/32, W/32, 512)` (pooled: `(None, 512)`).

use super::{finish, image_input, model_name, obtain_input_shape, pool, top_args, AppOptions};
use crate::error::Result;
use crate::layers::{Conv2D, Dense, Flatten, MaxPooling2D};
use crate::model::{Call, Model};

/// Keras's `VGG16(...)`: 13 convolutions (blocks of 2, 2, 3, 3, 3), model `vgg16`.
pub fn vgg16(opts: &AppOptions) -> Result<Model> {
    vgg("VGG16", "vgg16", &[2, 2, 3, 3, 3], opts)
}

/// Keras's `VGG19(...)`: 16 convolutions (blocks of 2, 2, 4, 4, 4), model `vgg19`.
pub fn vgg19(opts: &AppOptions) -> Result<Model> {
    vgg("VGG19", "vgg19", &[2, 2, 4, 4, 4], opts)
}

fn vgg(app: &str, default_name: &str, convs: &[usize; 5], opts: &AppOptions) -> Result<Model> {
    let (classes, activation) = top_args(app, opts, 1000)?;
    let input = image_input(obtain_input_shape(app, opts, 224, 32)?, opts)?;
    let mut x = input.clone();
    for (b, (&n, filters)) in convs.iter().zip([64, 128, 256, 512, 512]).enumerate() {
        let block = b + 1;
        for c in 1..=n {
            x = Conv2D::new(filters, 3)
                .activation("relu")
                .padding("same")
                .name(format!("block{block}_conv{c}"))
                .call(&x)?;
        }
        x = MaxPooling2D::new(2)
            .strides(2)
            .name(format!("block{block}_pool"))
            .call(&x)?;
    }
    if opts.include_top {
        x = Flatten::new().name("flatten").call(&x)?;
        x = Dense::new(4096).activation("relu").name("fc1").call(&x)?;
        x = Dense::new(4096).activation("relu").name("fc2").call(&x)?;
        x = Dense::new(classes)
            .activation(activation)
            .name("predictions")
            .call(&x)?;
    } else {
        x = pool(x, opts, None, None)?;
    }
    finish(app, &input, &x, opts, &model_name(opts, default_name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vgg16_without_top_on_small_images() {
        crate::clear_session();
        let opts = AppOptions {
            include_top: false,
            input_shape: Some((64, 64, 3)),
            ..AppOptions::default()
        };
        let m = vgg16(&opts).unwrap();
        assert_eq!(m.output_shapes(), vec![vec![None, Some(2), Some(2), Some(512)]]);
        assert_eq!(m.layers().len(), 19);
        assert_eq!(m.layers()[18].name(), "block5_pool");
    }

    #[test]
    fn vgg19_refuses_images_smaller_than_32() {
        crate::clear_session();
        let opts = AppOptions {
            include_top: false,
            input_shape: Some((31, 64, 3)),
            ..AppOptions::default()
        };
        let e = vgg19(&opts).unwrap_err().to_string();
        assert!(
            e.starts_with("VGG19: argument `input_shape`") && e.contains("at least 32x32") && e.contains("(31, 64, 3)"),
            "{e}"
        );
    }
}
