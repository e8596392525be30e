//! Keras's `keras.applications`: the classic image-classification architectures, built layer
//! by layer with the Functional API exactly as Keras 3 builds them (same layer names, same
//! automatic names, same order), with seeded random weights (Keras's `weights=None`).
//!
//! Every builder takes [`AppOptions`] (Keras's `include_top`, `input_shape`, `pooling`,
//! `classes`, `classifier_activation`, plus `alpha`/`depth_multiplier` for the MobileNets)
//! and returns a [`Model`]; [`by_name`] finds a builder by its Keras name, case-insensitively.
//! Input shapes are `(H, W, C)`; a model without its top and without `input_shape` takes
//! `(None, None, 3)` images, as Keras's `obtain_input_shape` decides.
//! `input_tensor` builds the model on a tensor the caller made (`Input(&[64, 64, 3])` with
//! its name, or layers on one), as Keras's `input_tensor=`: the model's inputs are the
//! `Input`s it comes from.
//!
//! ```
//! use rkeras::applications::{by_name, AppOptions, Pooling};
//! rkeras::clear_session();
//! let opts = AppOptions { include_top: false, input_shape: Some((64, 64, 3)), pooling: Some(Pooling::Max), ..AppOptions::default() };
//! let model = by_name("vgg16", &opts).unwrap();
//! assert_eq!(model.name(), "vgg16");
//! assert_eq!(model.count_params(), 14_714_688);
//! assert_eq!(model.output_shapes(), vec![vec![None, Some(512)]]);
//! ```

/// One public builder per variant of a family (`efficientnet_b0 = 0;` →
/// `pub fn efficientnet_b0(opts) -> Result<Model> { family(opts, 0) }`).
macro_rules! variants {
    ($family:ident: $($(#[$doc:meta])* $f:ident = $i:expr;)*) => {
        $(
            $(#[$doc])*
            pub fn $f(opts: &AppOptions) -> Result<Model> {
                $family(opts, $i)
            }
        )*
    };
}

mod convnext;
mod densenet;
mod efficientnet;
mod efficientnet_v2;
pub mod imagenet;
mod imagenet_files;
pub mod imagenet_utils;
mod inception_resnet_v2;
mod inception_v3;
mod lenet;
mod mobilenet;
mod mobilenet_v2;
mod mobilenet_v3;
mod nasnet;
mod resnet;
mod vgg;
mod xception;

pub use convnext::{convnext_base, convnext_large, convnext_small, convnext_tiny, convnext_xlarge};
pub use densenet::{densenet121, densenet169, densenet201};
pub use efficientnet::{
    efficientnet_b0, efficientnet_b1, efficientnet_b2, efficientnet_b3, efficientnet_b4, efficientnet_b5,
    efficientnet_b6, efficientnet_b7,
};
pub use efficientnet_v2::{
    efficientnet_v2_b0, efficientnet_v2_b1, efficientnet_v2_b2, efficientnet_v2_b3, efficientnet_v2_l,
    efficientnet_v2_m, efficientnet_v2_s,
};
pub use imagenet_utils::{decode_predictions, preprocess_input};
pub use inception_resnet_v2::inception_resnet_v2;
pub use inception_v3::inception_v3;
pub use lenet::lenet5;
pub use mobilenet::mobilenet;
pub use mobilenet_v2::mobilenet_v2;
pub use mobilenet_v3::{mobilenet_v3_large, mobilenet_v3_small};
pub use nasnet::{nasnet_large, nasnet_mobile};
pub use resnet::{resnet101, resnet101_v2, resnet152, resnet152_v2, resnet50, resnet50_v2};
pub use vgg::{vgg16, vgg19};
pub use xception::xception;

use crate::error::{arg_error, KerasError, Result};
use crate::layers::input::InputLayer;
use crate::layers::{Dense, GlobalAveragePooling2D, GlobalMaxPooling2D};
use crate::model::{Call, KerasTensor, Model};

/// Global pooling after the convolutional base when `include_top` is false (Keras's
/// `pooling="avg"` / `"max"`; `None` keeps the 4-D feature map).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// `GlobalAveragePooling2D`.
    Avg,
    /// `GlobalMaxPooling2D`.
    Max,
}

impl Pooling {
    /// Keras's spelling: `"avg"`, `"max"`, or `"none"` (also empty) for no pooling.
    pub fn parse(s: &str) -> Result<Option<Pooling>> {
        match s.to_ascii_lowercase().as_str() {
            "avg" => Ok(Some(Pooling::Avg)),
            "max" => Ok(Some(Pooling::Max)),
            "none" | "" => Ok(None),
            _ => Err(arg_error("applications", "pooling", "one of \"avg\", \"max\", None", s)),
        }
    }
}

/// The arguments Keras's application constructors share (`weights`: `None` for random
/// initialization from the session's seed, or a weights file to load).
#[derive(Debug, Clone, PartialEq)]
pub struct AppOptions {
    /// Keep the classifier on top (default true). Without it the model ends at the last
    /// convolutional block (then `pooling` applies).
    pub include_top: bool,
    /// `(H, W, C)`; default the application's size (224×224×3, 299×299×3 for InceptionV3
    /// and Xception; 28×28×1 for LeNet5), or `(None, None, 3)` without the top.
    pub input_shape: Option<(usize, usize, usize)>,
    /// Global pooling when `include_top` is false.
    pub pooling: Option<Pooling>,
    /// Number of classes; default 1000 (10 for LeNet5).
    pub classes: Option<usize>,
    /// Activation of the classifier (default `"softmax"`); `None` or `"linear"` gives logits.
    pub classifier_activation: Option<String>,
    /// MobileNet/MobileNetV2 width multiplier (default 1.0).
    pub alpha: f64,
    /// MobileNet's depthwise depth multiplier (default 1).
    pub depth_multiplier: usize,
    /// MobileNet's dropout rate before the classifier (default 0.001).
    pub dropout: f64,
    /// The model's name; default the application's (`vgg16`, `mobilenet_1.00_224`, …).
    pub name: Option<String>,
    /// Use tf-keras 2's layer names where they differ from Keras 3's (DenseNet's
    /// `conv1/conv`, `conv1/bn`, `conv1/relu`); default false (Keras 3's names).
    pub keras2_names: bool,
    /// EfficientNetV2, MobileNetV3 and ConvNeXt: put the model's own input preprocessing
    /// (`Rescaling` / `Normalization`) in front (default true).
    pub include_preprocessing: bool,
    /// MobileNetV3's `minimalistic` (no squeeze-and-excite, no hard-swish, 3×3 kernels).
    pub minimalistic: bool,
    /// MobileNetV3's `dropout_rate` before the classifier (default 0.2); `None` keeps the
    /// family's default.
    pub dropout_rate: Option<f64>,
    /// Keras's `weights`: `None` (random initialization from the session's seed), the path
    /// of a weights file to load after building (`.keras`, `.weights.h5`, legacy `.h5`), or
    /// `"imagenet"`: Keras's pretrained file, from Keras's cache (`$KERAS_HOME/models` or
    /// `~/.keras/models`) or downloaded there from Keras's address and hash-checked
    /// ([`imagenet::weights_file`]).
    pub weights: Option<String>,
    /// Keras's `input_tensor`: a symbolic tensor (`Input(&[64, 64, 3])`, or a layer's output
    /// on one) to use as the image input instead of a new `Input`. The model's inputs are
    /// then the `Input`s it comes from (Keras's `get_source_inputs`), with their names;
    /// `input_shape` still decides the defaults Keras takes from it, and MobileNetV2/V3
    /// check that the two agree as Keras does.
    pub input_tensor: Option<KerasTensor>,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            include_top: true,
            input_shape: None,
            pooling: None,
            classes: None,
            classifier_activation: Some("softmax".into()),
            alpha: 1.0,
            depth_multiplier: 1,
            dropout: 1e-3,
            name: None,
            keras2_names: false,
            include_preprocessing: true,
            minimalistic: false,
            dropout_rate: None,
            weights: None,
            input_tensor: None,
        }
    }
}

/// A builder: options in, model out.
pub type Builder = fn(&AppOptions) -> Result<Model>;

/// Every application by its Keras name.
pub static APPLICATIONS: &[(&str, Builder)] = &[
    ("VGG16", vgg16),
    ("VGG19", vgg19),
    ("ResNet50", resnet50),
    ("ResNet101", resnet101),
    ("ResNet152", resnet152),
    ("ResNet50V2", resnet50_v2),
    ("ResNet101V2", resnet101_v2),
    ("ResNet152V2", resnet152_v2),
    ("InceptionV3", inception_v3),
    ("MobileNet", mobilenet),
    ("MobileNetV2", mobilenet_v2),
    ("Xception", xception),
    ("DenseNet121", densenet121),
    ("DenseNet169", densenet169),
    ("DenseNet201", densenet201),
    ("EfficientNetB0", efficientnet_b0),
    ("EfficientNetB1", efficientnet_b1),
    ("EfficientNetB2", efficientnet_b2),
    ("EfficientNetB3", efficientnet_b3),
    ("EfficientNetB4", efficientnet_b4),
    ("EfficientNetB5", efficientnet_b5),
    ("EfficientNetB6", efficientnet_b6),
    ("EfficientNetB7", efficientnet_b7),
    ("EfficientNetV2B0", efficientnet_v2_b0),
    ("EfficientNetV2B1", efficientnet_v2_b1),
    ("EfficientNetV2B2", efficientnet_v2_b2),
    ("EfficientNetV2B3", efficientnet_v2_b3),
    ("EfficientNetV2S", efficientnet_v2_s),
    ("EfficientNetV2M", efficientnet_v2_m),
    ("EfficientNetV2L", efficientnet_v2_l),
    ("MobileNetV3Small", mobilenet_v3_small),
    ("MobileNetV3Large", mobilenet_v3_large),
    ("NASNetMobile", nasnet_mobile),
    ("NASNetLarge", nasnet_large),
    ("InceptionResNetV2", inception_resnet_v2),
    ("ConvNeXtTiny", convnext_tiny),
    ("ConvNeXtSmall", convnext_small),
    ("ConvNeXtBase", convnext_base),
    ("ConvNeXtLarge", convnext_large),
    ("ConvNeXtXLarge", convnext_xlarge),
    ("LeNet5", lenet5),
];

/// The application names as Keras spells them.
pub fn names() -> Vec<&'static str> {
    APPLICATIONS.iter().map(|(n, _)| *n).collect()
}

/// Builds an application by name (`"ResNet50"`, `"resnet50"`, `"MobileNetV2"`, …;
/// case-insensitive, `-` and `_` ignored).
pub fn by_name(name: &str, opts: &AppOptions) -> Result<Model> {
    let norm = |s: &str| {
        s.chars()
            .filter(|c| *c != '_' && *c != '-')
            .collect::<String>()
            .to_ascii_lowercase()
    };
    let wanted = norm(name);
    match APPLICATIONS.iter().find(|(n, _)| norm(n) == wanted) {
        Some((_, build)) => build(opts),
        None => Err(KerasError::Invalid(format!(
            "unknown application {name:?}; known: {}",
            names().join(", ")
        ))),
    }
}

/// The model name an application has by default (`efficientnetb0`, `convnext_tiny`,
/// `efficientnetv2-s`): the name Keras's pretrained files of those families carry.
pub(crate) fn by_name_default_model_name(app: &str) -> String {
    if let Some(i) = app.strip_prefix("EfficientNetB") {
        return format!("efficientnetb{i}");
    }
    if let Some(v) = app.strip_prefix("EfficientNetV2") {
        return format!("efficientnetv2-{}", v.to_ascii_lowercase());
    }
    if let Some(v) = app.strip_prefix("ConvNeXt") {
        return format!("convnext_{}", v.to_ascii_lowercase());
    }
    app.to_ascii_lowercase()
}

/// Python's spelling of a shape tuple, for error messages: `(16, 16, 3)`, `(None, None, 3)`.
pub(crate) fn py_shape(s: &[Option<usize>]) -> String {
    let parts: Vec<String> = s.iter().map(|d| d.map_or("None".into(), |v| v.to_string())).collect();
    format!("({})", parts.join(", "))
}

/// Keras's `imagenet_utils.obtain_input_shape` for `channels_last` and `weights=None`:
/// the given shape checked against `min_size`, else the default size with the top (it
/// flattens) or `(None, None, 3)` without it.
pub(crate) fn obtain_input_shape(
    app: &str,
    opts: &AppOptions,
    default_size: usize,
    min_size: usize,
) -> Result<[Option<usize>; 3]> {
    imagenet::check_input_shape(app, opts, default_size)?;
    match opts.input_shape {
        Some((h, w, c)) => {
            let given = py_shape(&[Some(h), Some(w), Some(c)]);
            if c == 0 {
                return Err(arg_error(app, "input_shape", "a positive number of channels", given));
            }
            if h < min_size || w < min_size {
                return Err(arg_error(
                    app,
                    "input_shape",
                    format!(
                        "height and width of at least {min_size} (Input size must be at least {min_size}x{min_size})"
                    ),
                    given,
                ));
            }
            Ok([Some(h), Some(w), Some(c)])
        }
        None if opts.include_top => Ok([Some(default_size), Some(default_size), Some(3)]),
        None => Ok([None, None, Some(3)]),
    }
}

/// Keras's `imagenet_utils.correct_pad(x, kernel_size)`: the `((top, bottom), (left,
/// right))` padding that makes a strided `valid` convolution see what TensorFlow's `same`
/// would (unknown sizes count as even).
pub(crate) fn correct_pad(x: &KerasTensor, kernel: usize) -> ((usize, usize), (usize, usize)) {
    let s = x.shape();
    let adjust = match (s.get(1).copied().flatten(), s.get(2).copied().flatten()) {
        (Some(h), Some(w)) => (1 - h % 2, 1 - w % 2),
        _ => (1, 1),
    };
    let c = kernel / 2;
    ((c - adjust.0, c), (c - adjust.1, c))
}

/// The image input: `input_tensor` when given, else `Input(shape=input_shape)`
/// (auto-named `input_layer`).
pub(crate) fn image_input(shape: [Option<usize>; 3], opts: &AppOptions) -> Result<KerasTensor> {
    match &opts.input_tensor {
        Some(t) => {
            if t.shape().len() != 4 {
                return Err(arg_error(
                    "applications",
                    "input_tensor",
                    "an image tensor of shape (batch, height, width, channels)",
                    py_shape(t.shape()),
                ));
            }
            Ok(t.clone())
        }
        None => InputLayer::with_dims(&shape).tensor(),
    }
}

/// MobileNetV2/V3's check that `input_shape` and `input_tensor` agree when both are given
/// (Keras compares the tensor's width, `shape[2]`, with `input_shape[1]`): `message` gets
/// the tensor's and the given shape, in Python's spelling.
pub(crate) fn check_input_tensor_agrees(app: &str, opts: &AppOptions, message: fn(&str, &str) -> String) -> Result<()> {
    if let (Some(t), Some((h, w, c))) = (&opts.input_tensor, opts.input_shape) {
        if t.shape().get(2).copied().flatten() != Some(w) {
            let given = py_shape(&[Some(h), Some(w), Some(c)]);
            return Err(KerasError::Invalid(format!(
                "{app}: {}",
                message(&py_shape(t.shape()), &given)
            )));
        }
    }
    Ok(())
}

/// Keras's `operation_utils.get_source_inputs(tensor)`: the `Input` tensors `tensor` is
/// computed from, in Keras's order (depth first over each call's inputs, first seen first).
pub(crate) fn source_inputs(tensor: &KerasTensor) -> Vec<KerasTensor> {
    crate::model::session::with_session(|s| {
        let mut found: Vec<KerasTensor> = Vec::new();
        let mut expanded = std::collections::HashSet::new();
        let mut stack = vec![(tensor.node, tensor.index)];
        while let Some((node, index)) = stack.pop() {
            let Some(n) = s.nodes.get(node) else { continue };
            if n.inputs.is_empty() {
                if !found.iter().any(|t| t.node == node && t.index == index) {
                    found.push(KerasTensor {
                        node,
                        index,
                        shape: n.output_shapes.get(index).cloned().unwrap_or_default(),
                        epoch: s.epoch,
                    });
                }
            } else if expanded.insert(node) {
                // A node seen before adds no new sources (they are already found).
                stack.extend(n.inputs.iter().rev().copied());
            }
        }
        found
    })
}

/// The classifier's `classes` (default `default`) and activation (`None` → `"linear"`, as
/// Keras's `activations.get(None)`), checked before any layer is built so that a bad value
/// fails at once rather than after the base's weights are made.
pub(crate) fn top_args(app: &str, opts: &AppOptions, default: usize) -> Result<(usize, String)> {
    let classes = match opts.classes {
        Some(0) => return Err(arg_error(app, "classes", "a positive number of classes", 0)),
        Some(n) => n,
        None => default,
    };
    imagenet::check_args(app, opts, classes)?;
    let activation = opts.classifier_activation.clone().unwrap_or_else(|| "linear".into());
    crate::activations::parse_activation(app, "classifier_activation", &activation)?;
    Ok((classes, activation))
}

/// The model's name: the user's, or the application's default.
pub(crate) fn model_name(opts: &AppOptions, default: &str) -> String {
    opts.name.clone().unwrap_or_else(|| default.to_string())
}

/// `pooling="avg"/"max"` after the base when there is no top, with Keras's layer names
/// (`None`: automatic `global_average_pooling2d` / `global_max_pooling2d`).
pub(crate) fn pool(
    x: KerasTensor,
    opts: &AppOptions,
    avg_name: Option<&str>,
    max_name: Option<&str>,
) -> Result<KerasTensor> {
    match opts.pooling {
        None => Ok(x),
        Some(Pooling::Avg) => {
            let p = GlobalAveragePooling2D::new();
            match avg_name {
                Some(n) => p.name(n).call(&x),
                None => p.call(&x),
            }
        }
        Some(Pooling::Max) => {
            let p = GlobalMaxPooling2D::new();
            match max_name {
                Some(n) => p.name(n).call(&x),
                None => p.call(&x),
            }
        }
    }
}

/// The top most families share: `avg_pool` (`GlobalAveragePooling2D`) and `predictions`
/// (`Dense(classes, activation)`) with `include_top`, else `pooling` under `pool_names`
/// (average, max; `None`: automatic names).
pub(crate) fn avg_pool_top(
    x: KerasTensor,
    opts: &AppOptions,
    classes: usize,
    activation: &str,
    pool_names: (Option<&str>, Option<&str>),
) -> Result<KerasTensor> {
    if !opts.include_top {
        return pool(x, opts, pool_names.0, pool_names.1);
    }
    let x = GlobalAveragePooling2D::new().name("avg_pool").call(&x)?;
    Dense::new(classes).activation(activation).name("predictions").call(&x)
}

/// `Functional(inputs, x, name=name)` (the inputs: `get_source_inputs(input_tensor)` when
/// given), then the `weights` option.
pub(crate) fn finish(
    app: &str,
    input: &KerasTensor,
    output: &KerasTensor,
    opts: &AppOptions,
    name: &str,
) -> Result<Model> {
    let model = match &opts.input_tensor {
        Some(t) => {
            let sources = source_inputs(t);
            let refs: Vec<&KerasTensor> = sources.iter().collect();
            Model::new(&refs, &[output], Some(name))?
        }
        None => Model::new(&[input], &[output], Some(name))?,
    };
    load_weights_option(model, opts, app)
}

/// Keras's `weights` argument after the model is built: `None` keeps the random weights, a
/// path is loaded with `load_weights` (`.keras`, `.weights.h5` or legacy `.h5`), and
/// `"imagenet"` is Keras's file for `app` (cached or downloaded), loaded in layer order.
pub(crate) fn load_weights_option(mut model: Model, opts: &AppOptions, app: &str) -> Result<Model> {
    match opts.weights.as_deref() {
        None => Ok(model),
        Some("imagenet") => {
            let shape = model.input_shapes().into_iter().next().unwrap_or_default();
            let dim = |i: usize| shape.get(i).copied().flatten();
            let path = imagenet::weights_file_for(
                app,
                model.name(),
                opts.include_top,
                opts.alpha,
                opts.minimalistic,
                dim(1),
                dim(2),
            )?
            .get()?;
            model
                .load_weights(&path)
                .map_err(|e| KerasError::Invalid(format!("{app}: ImageNet weights {}: {e}", path.display())))?;
            Ok(model)
        }
        Some(path) if !std::path::Path::new(path).exists() => Err(arg_error(
            model.name(),
            "weights",
            "None (random initialization), 'imagenet' (pre-training on ImageNet), or the path to the weights file to be loaded",
            path,
        )),
        Some(path) => {
            model.load_weights(path)?;
            Ok(model)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_is_case_insensitive_and_unknown_names_list_the_known() {
        crate::clear_session();
        let m = by_name("lenet5", &AppOptions::default()).unwrap();
        assert_eq!(m.count_params(), 61_706);
        let e = by_name("VGG17", &AppOptions::default()).unwrap_err().to_string();
        assert!(
            e.contains("unknown application \"VGG17\"") && e.contains("ResNet50V2"),
            "{e}"
        );
    }

    #[test]
    fn input_shape_rules_follow_obtain_input_shape() {
        let top = AppOptions::default();
        assert_eq!(
            obtain_input_shape("A", &top, 299, 75).unwrap(),
            [Some(299), Some(299), Some(3)]
        );
        let notop = AppOptions {
            include_top: false,
            ..AppOptions::default()
        };
        assert_eq!(obtain_input_shape("A", &notop, 224, 32).unwrap(), [None, None, Some(3)]);
        let small = AppOptions {
            input_shape: Some((74, 80, 3)),
            ..AppOptions::default()
        };
        let e = obtain_input_shape("InceptionV3", &small, 299, 75)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "InceptionV3: argument `input_shape`: expected height and width of at least 75 (Input size must be at least 75x75). Received: input_shape=(74, 80, 3)"
        );
        let zero = AppOptions {
            input_shape: Some((80, 80, 0)),
            ..AppOptions::default()
        };
        assert!(obtain_input_shape("A", &zero, 224, 32).is_err());
        assert_eq!(Pooling::parse("AVG").unwrap(), Some(Pooling::Avg));
        assert!(Pooling::parse("mean")
            .unwrap_err()
            .to_string()
            .contains("Received: pooling=mean"));
    }

    #[test]
    fn bad_options_are_errors_not_panics() {
        for (name, _) in APPLICATIONS {
            crate::clear_session();
            let opts = AppOptions {
                classes: Some(0),
                ..AppOptions::default()
            };
            assert!(by_name(name, &opts).is_err(), "{name} accepted classes=0");
            let opts = AppOptions {
                input_shape: Some((8, 8, 3)),
                ..AppOptions::default()
            };
            assert!(by_name(name, &opts).is_err(), "{name} accepted an 8×8 input");
            let opts = AppOptions {
                classifier_activation: Some("sofmax".into()),
                ..AppOptions::default()
            };
            assert!(
                by_name(name, &opts).is_err(),
                "{name} accepted classifier_activation=sofmax"
            );
        }
    }
}
