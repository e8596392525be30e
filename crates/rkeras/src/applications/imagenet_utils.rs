//! Keras's `keras.applications.<family>.preprocess_input` and `decode_predictions`.
//!
//! `preprocess_input` is Keras's NumPy path (`imagenet_utils._preprocess_numpy_input`) on
//! float32 NHWC (RGB) images, in the same float32 operations and order:
//!
//! - `caffe` (VGG16, VGG19, ResNet50/101/152): RGB → BGR, then minus ImageNet's BGR mean
//!   `[103.939, 116.779, 123.68]`;
//! - `tf` (ResNetV2, InceptionV3, InceptionResNetV2, Xception, MobileNet, MobileNetV2,
//!   NASNet): `x / 127.5 − 1`;
//! - `torch` (DenseNet): `(x / 255 − mean) / std` with ImageNet's RGB mean and std;
//! - pass-through (EfficientNet, EfficientNetV2, ConvNeXt, MobileNetV3): the models
//!   contain their own preprocessing.
//!
//! `decode_predictions(preds, top)` gives, per sample, the `top` classes as `(wnid,
//! class_name, score)`, best first, from Keras's `imagenet_class_index.json`, embedded
//! (see `data/README.md` for its source).
//!
//! ```
//! use rkeras::applications::imagenet_utils::{decode_predictions, preprocess_input};
//! let x = rkeras::prelude::Tensor::new(&[1, 1, 1, 3], vec![255.0, 0.0, 127.5]).unwrap();
//! let y = preprocess_input("MobileNetV2", &x).unwrap();
//! assert_eq!(y.data(), &[1.0, -1.0, 0.0]);
//! let mut scores = vec![0.0; 1000];
//! scores[386] = 0.9;
//! let top = decode_predictions(&rkeras::prelude::Tensor::new(&[1, 1000], scores).unwrap(), 1).unwrap();
//! assert_eq!(top[0][0].1, "African_elephant");
//! ```

use crate::error::{KerasError, Result};
use std::sync::OnceLock;
use tensor::Tensor;

/// How a family preprocesses its input (Keras's `mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// RGB → BGR, minus the ImageNet mean (no scaling).
    Caffe,
    /// To `[-1, 1]`.
    Tf,
    /// To `[0, 1]`, then ImageNet mean and std per channel.
    Torch,
    /// Unchanged: the model normalizes its input itself.
    PassThrough,
}

/// The `preprocess_input` of an application (by Keras's name, case-insensitive).
pub fn mode_for(app: &str) -> Result<Mode> {
    let a = app.to_ascii_lowercase().replace(['_', '-'], "");
    let mode = if a.starts_with("vgg") || (a.starts_with("resnet") && !a.ends_with("v2")) {
        Mode::Caffe
    } else if a.starts_with("densenet") {
        Mode::Torch
    } else if a.starts_with("efficientnet") || a.starts_with("convnext") || a.starts_with("mobilenetv3") {
        Mode::PassThrough
    } else if a.starts_with("resnet")
        || a.starts_with("inception")
        || a == "xception"
        || a == "mobilenet"
        || a == "mobilenetv2"
        || a.starts_with("nasnet")
    {
        Mode::Tf
    } else {
        return Err(KerasError::Invalid(format!(
            "preprocess_input: no Keras preprocessing for application {app:?} (Keras's families: VGG, ResNet, ResNetV2, \
             InceptionV3, InceptionResNetV2, Xception, MobileNet, MobileNetV2, MobileNetV3, DenseNet, NASNet, \
             EfficientNet, EfficientNetV2, ConvNeXt)"
        )));
    };
    Ok(mode)
}

/// The preprocessing of a model by its name (Keras's default model names: `resnet50`,
/// `mobilenet_1.00_224`, `mobilenetv2_1.00_224`, `efficientnetv2-b0`, `convnext_tiny`,
/// `nasnet_mobile`, `NASNet`, …), for a model loaded from a file.
pub fn mode_for_model_name(name: &str) -> Result<Mode> {
    let n = name.to_ascii_lowercase();
    if n.starts_with("mobilenet_") || n.starts_with("mobilenetv2_") {
        return Ok(Mode::Tf);
    }
    mode_for(&n).map_err(|_| {
        KerasError::Invalid(format!(
            "model {name:?}: not a Keras application's name, so its preprocessing is unknown; choose it with --preprocess caffe|tf|torch|none"
        ))
    })
}

/// A mode by Keras's name (`"caffe"`, `"tf"`, `"torch"`, or `"none"` for pass-through).
pub fn parse_mode(s: &str) -> Result<Mode> {
    match s.to_ascii_lowercase().as_str() {
        "caffe" => Ok(Mode::Caffe),
        "tf" => Ok(Mode::Tf),
        "torch" => Ok(Mode::Torch),
        "none" | "passthrough" => Ok(Mode::PassThrough),
        _ => Err(KerasError::Invalid(format!(
            "preprocess mode: expected one of caffe, tf, torch, none; received {s:?}"
        ))),
    }
}

/// `keras.applications.<family>.preprocess_input(x)` for application `app` on a float32
/// batch of RGB images `(n, h, w, 3)` (any rank with 3 channels last).
pub fn preprocess_input(app: &str, x: &Tensor) -> Result<Tensor> {
    preprocess_with(mode_for(app)?, x)
}

/// `imagenet_utils.preprocess_input(x, mode=…)` (channels last).
pub fn preprocess_with(mode: Mode, x: &Tensor) -> Result<Tensor> {
    if mode != Mode::Tf && mode != Mode::PassThrough && x.shape().last() != Some(&3) {
        return Err(KerasError::Invalid(format!(
            "preprocess_input: expected RGB images with 3 channels last, received shape {:?}",
            x.shape()
        )));
    }
    let mut y = x.clone();
    let d = y.data_mut();
    match mode {
        Mode::PassThrough => {}
        Mode::Tf => {
            for v in d.iter_mut() {
                *v = *v / 127.5 - 1.0;
            }
        }
        Mode::Torch => {
            const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
            const STD: [f32; 3] = [0.229, 0.224, 0.225];
            for px in d.chunks_mut(3) {
                for c in 0..3 {
                    px[c] = (px[c] / 255.0 - MEAN[c]) / STD[c];
                }
            }
        }
        Mode::Caffe => {
            const MEAN_BGR: [f32; 3] = [103.939, 116.779, 123.68];
            for px in d.chunks_mut(3) {
                px.swap(0, 2);
                for c in 0..3 {
                    px[c] -= MEAN_BGR[c];
                }
            }
        }
    }
    Ok(y)
}

/// The embedded class index: `(wnid, class_name)` for each of the 1,000 classes.
pub fn class_index() -> &'static [(String, String)] {
    static INDEX: OnceLock<Vec<(String, String)>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let text = include_str!("../../data/imagenet_class_index.json");
        let v: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
        (0..1000)
            .map(|i| {
                let e = &v[i.to_string()];
                (
                    e[0].as_str().unwrap_or_default().to_string(),
                    e[1].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    })
}

/// One decoded prediction: `(wnid, class_name, score)`.
pub type Decoded = (String, String, f32);

/// Keras's `decode_predictions(preds, top=5)`: for each row of `preds` `(n, 1000)`, the
/// `top` best classes, best first.
pub fn decode_predictions(preds: &Tensor, top: usize) -> Result<Vec<Vec<Decoded>>> {
    if preds.rank() != 2 || preds.shape()[1] != 1000 {
        return Err(KerasError::Invalid(format!(
            "decode_predictions expects a batch of predictions (i.e. a 2D array of shape (samples, 1000)). \
             Received array with shape: {:?}",
            preds.shape()
        )));
    }
    let classes = class_index();
    Ok(preds
        .data()
        .chunks(1000)
        .map(|row| {
            // NumPy's `argsort()[-top:][::-1]`, then a sort by score (best first).
            let mut idx: Vec<usize> = (0..1000).collect();
            idx.sort_by(|&a, &b| row[a].total_cmp(&row[b]).then(a.cmp(&b)));
            idx.iter()
                .rev()
                .take(top.min(1000))
                .map(|&i| (classes[i].0.clone(), classes[i].1.clone(), row[i]))
                .collect()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_and_modes() {
        assert_eq!(mode_for("ResNet50").unwrap(), Mode::Caffe);
        assert_eq!(mode_for("resnet50v2").unwrap(), Mode::Tf);
        assert_eq!(mode_for("DenseNet121").unwrap(), Mode::Torch);
        assert_eq!(mode_for("EfficientNetV2S").unwrap(), Mode::PassThrough);
        assert_eq!(mode_for("InceptionResNetV2").unwrap(), Mode::Tf);
        assert!(mode_for("LeNet5").is_err());
        for (name, mode) in [
            ("mobilenet_1.00_224", Mode::Tf),
            ("mobilenetv2_0.35_96", Mode::Tf),
            ("MobileNetV3Small", Mode::PassThrough),
            ("efficientnetv2-b0", Mode::PassThrough),
            ("convnext_tiny", Mode::PassThrough),
            ("inception_resnet_v2", Mode::Tf),
            ("NASNet", Mode::Tf),
            ("resnet50v2", Mode::Tf),
            ("resnet50", Mode::Caffe),
            ("densenet121", Mode::Torch),
        ] {
            assert_eq!(mode_for_model_name(name).unwrap(), mode, "{name}");
        }
        assert!(mode_for_model_name("sequential").is_err());
        assert_eq!(parse_mode("NONE").unwrap(), Mode::PassThrough);
        let x = Tensor::new(&[1, 3], vec![10.0, 20.0, 30.0]).unwrap();
        let y = preprocess_with(Mode::Caffe, &x).unwrap();
        assert_eq!(y.data(), &[30.0 - 103.939, 20.0 - 116.779, 10.0 - 123.68]);
        assert!(preprocess_with(Mode::Caffe, &Tensor::ones(&[1, 4])).is_err());
    }

    #[test]
    fn class_index_is_keras_s() {
        let c = class_index();
        assert_eq!(c.len(), 1000);
        assert_eq!((c[0].0.as_str(), c[0].1.as_str()), ("n01440764", "tench"));
        assert_eq!(c[386].1, "African_elephant");
        assert_eq!((c[134].1.as_str(), c[517].1.as_str()), ("crane", "crane"));
        assert_eq!(c[999].1, "toilet_tissue");
        let e = decode_predictions(&Tensor::ones(&[2, 10]), 5).unwrap_err().to_string();
        assert!(e.contains("Received array with shape: [2, 10]"), "{e}");
    }
}
