//! LeNet-5 as the Keras tutorials write it (not a `keras.applications` model): a
//! `Sequential` of `Conv2D(6, 5, same, relu)`, `MaxPooling2D(2)`, `Conv2D(16, 5, relu)`,
//! `MaxPooling2D(2)`, `Flatten`, `Dense(120, relu)`, `Dense(84, relu)`, `Dense(10, softmax)`
//! with automatic names (`conv2d`, `max_pooling2d`, …, model `sequential`).
//!
//! Input `(28, 28, 1)` by default; output `(None, classes)`. Without the top the model ends
//! after the second pooling, `(None, 5, 5, 16)` for 28×28 (then `pooling` applies).

use super::{top_args, AppOptions, Pooling};
use crate::error::Result;
use crate::layers::input::InputLayer;
use crate::layers::{Conv2D, Dense, Flatten, GlobalAveragePooling2D, GlobalMaxPooling2D, MaxPooling2D};
use crate::model::{Model, Sequential};

/// The tutorials' LeNet-5 (classes default 10, softmax).
pub fn lenet5(opts: &AppOptions) -> Result<Model> {
    let (classes, activation) = top_args("LeNet5", opts, 10)?;
    let (h, w, c) = opts.input_shape.unwrap_or((28, 28, 1));
    let seq = match &opts.name {
        Some(n) => Sequential::named(n),
        None => Sequential::new(),
    };
    let mut seq = seq
        .add(InputLayer::new(&[h, w, c]))
        .add(Conv2D::new(6, 5).padding("same").activation("relu"))
        .add(MaxPooling2D::new(2))
        .add(Conv2D::new(16, 5).activation("relu"))
        .add(MaxPooling2D::new(2));
    if opts.include_top {
        seq = seq
            .add(Flatten::new())
            .add(Dense::new(120).activation("relu"))
            .add(Dense::new(84).activation("relu"))
            .add(Dense::new(classes).activation(activation));
    } else {
        match opts.pooling {
            Some(Pooling::Avg) => seq = seq.add(GlobalAveragePooling2D::new()),
            Some(Pooling::Max) => seq = seq.add(GlobalMaxPooling2D::new()),
            None => {}
        }
    }
    super::load_weights_option(seq.build()?, opts, "LeNet5")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenet5_is_the_tutorial_model() {
        crate::clear_session();
        let m = lenet5(&AppOptions::default()).unwrap();
        assert_eq!(m.name(), "sequential");
        let names: Vec<&str> = m.layers().iter().map(|l| l.name()).collect();
        assert_eq!(
            names,
            [
                "conv2d",
                "max_pooling2d",
                "conv2d_1",
                "max_pooling2d_1",
                "flatten",
                "dense",
                "dense_1",
                "dense_2"
            ]
        );
        assert_eq!(m.count_params(), 61_706);
        assert_eq!(m.output_shapes(), vec![vec![None, Some(10)]]);
    }

    #[test]
    fn lenet5_too_small_input_names_the_layer() {
        crate::clear_session();
        let opts = AppOptions {
            input_shape: Some((8, 8, 1)),
            ..AppOptions::default()
        };
        let e = lenet5(&opts).unwrap_err().to_string();
        assert!(e.starts_with("conv2d_1: "), "{e}");
    }
}
