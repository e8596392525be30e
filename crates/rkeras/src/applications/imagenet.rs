//! `weights="imagenet"`: Keras's checks before building (classes, input shape, MobileNet's
//! widths and sizes), and the pretrained file each application loads — the same file name,
//! address and hash Keras passes to `get_file`, so a file Keras already cached in
//! `~/.keras/models/` (or `$KERAS_HOME/models/`) is used as it is, and one rkeras downloads
//! is the file Keras would use.
//!
//! The files are tf-keras 2 weight files (legacy `.h5`), loaded in layer order as Keras's
//! `model.load_weights(weights_path)` does.

use super::{py_shape, AppOptions};
use crate::error::{KerasError, Result};
use crate::utils::get_file::GetFile;

/// Where Keras keeps the application files.
const BASE: &str = "https://storage.googleapis.com/tensorflow/keras-applications/";

/// Per application: folder, file stem, md5 of the file with the top, md5 without it
/// (empty: Keras checks no hash). MobileNet's names depend on alpha and rows (below).
const FILES: &[(&str, &str, &str, &str, &str)] = &[
    (
        "VGG16",
        "vgg16",
        "vgg16",
        "64373286793e3c8b2b4e3219cbf3544b",
        "6d6bbae143d832006294945121d1f1fc",
    ),
    (
        "VGG19",
        "vgg19",
        "vgg19",
        "cbe5617147190e668d6c5d5026f83318",
        "253f8cb515780f3b799900260a226db6",
    ),
    (
        "ResNet50",
        "resnet",
        "resnet50",
        "2cb95161c43110f7111970584f804107",
        "4d473c1dd8becc155b73f8504c6f6626",
    ),
    (
        "ResNet101",
        "resnet",
        "resnet101",
        "f1aeb4b969a6efcfb50fad2f0c20cfc5",
        "88cf7a10940856eca736dc7b7e228a21",
    ),
    (
        "ResNet152",
        "resnet",
        "resnet152",
        "100835be76be38e30d865e96f2aaae62",
        "ee4c566cf9a93f14d82f913c2dc6dd0c",
    ),
    (
        "ResNet50V2",
        "resnet",
        "resnet50v2",
        "3ef43a0b657b3be2300d5770ece849e0",
        "fac2f116257151a9d068a22e544a4917",
    ),
    (
        "ResNet101V2",
        "resnet",
        "resnet101v2",
        "6343647c601c52e1368623803854d971",
        "c0ed64b8031c3730f411d2eb4eea35b5",
    ),
    (
        "ResNet152V2",
        "resnet",
        "resnet152v2",
        "a49b44d1979771252814e80f8ec446f9",
        "ed17cf2e0169df9d443503ef94b23b33",
    ),
    (
        "InceptionV3",
        "inception_v3",
        "inception_v3",
        "9a0d58056eeedaa3f26cb7ebd46da564",
        "bcbd6486424b2319ff4ef7d526e38f63",
    ),
    (
        "Xception",
        "xception",
        "xception",
        "0a58e3b7378bc2990ea3b43d5981f1f6",
        "b0042744bf5b25fce3cb969f33bebb97",
    ),
    (
        "DenseNet121",
        "densenet",
        "densenet121",
        "9d60b8095a5708f2dcce2bca79d332c7",
        "30ee3e1110167f948a6b9946edeeb738",
    ),
    (
        "DenseNet169",
        "densenet",
        "densenet169",
        "d699b8f76981ab1b30698df4c175e90b",
        "b8c4d4c20dd625c148057b9ff1c1176b",
    ),
    (
        "DenseNet201",
        "densenet",
        "densenet201",
        "1ceb130c1ea1b78c3bf6114dbdfd8807",
        "c13680b51ded0fb44dff2d8f86ac8bb1",
    ),
];

/// MobileNet's alphas and square sizes with published weights.
const MOBILENET_ALPHAS: [f64; 4] = [0.25, 0.5, 0.75, 1.0];
const MOBILENET_ROWS: [usize; 4] = [128, 160, 192, 224];
const MOBILENET_V2_ALPHAS: [f64; 6] = [0.35, 0.5, 0.75, 1.0, 1.3, 1.4];
const MOBILENET_V2_ROWS: [usize; 5] = [96, 128, 160, 192, 224];

/// Whether the options ask for ImageNet weights.
pub(crate) fn wanted(opts: &AppOptions) -> bool {
    opts.weights.as_deref() == Some("imagenet")
}

/// Keras's checks that come before the model is built: an application with published
/// weights, `classes=1000` with the top, MobileNet's `depth_multiplier` and `alpha`.
pub(crate) fn check_args(app: &str, opts: &AppOptions, classes: usize) -> Result<()> {
    if !wanted(opts) {
        return Ok(());
    }
    if !has_weights(app) {
        return Err(KerasError::Invalid(format!(
            "{app}: no ImageNet weights exist for this model in Keras. Received: weights='imagenet'; \
             use None (random initialization) or the path of a weights file"
        )));
    }
    if opts.include_top && classes != 1000 {
        return Err(KerasError::Invalid(format!(
            "{app}: If using `weights='imagenet'` with `include_top=True`, `classes` should be 1000.  \
             Received classes={classes}"
        )));
    }
    match app {
        "MobileNet" if opts.depth_multiplier != 1 => Err(KerasError::Invalid(format!(
            "{app}: If imagenet weights are being loaded, depth multiplier must be 1.  Received depth_multiplier={}",
            opts.depth_multiplier
        ))),
        "MobileNet" if !MOBILENET_ALPHAS.contains(&opts.alpha) => Err(KerasError::Invalid(format!(
            "{app}: If imagenet weights are being loaded, alpha can be one of`0.25`, `0.50`, `0.75` or `1.0` only.  \
             Received alpha={}",
            opts.alpha
        ))),
        "MobileNetV2" if !MOBILENET_V2_ALPHAS.contains(&opts.alpha) => Err(KerasError::Invalid(format!(
            "{app}: If imagenet weights are being loaded, alpha must be one of `0.35`, `0.50`, `0.75`, `1.0`, \
             `1.3` or `1.4` only; Received `alpha={}`",
            opts.alpha
        ))),
        _ => Ok(()),
    }
}

fn has_weights(app: &str) -> bool {
    app == "MobileNet" || app == "MobileNetV2" || FILES.iter().any(|f| f.0 == app) || super::imagenet_files::knows(app)
}

/// `obtain_input_shape`'s ImageNet rules: with the top the shape must be the default one
/// (MobileNet's default follows a square published size), and the input has 3 channels.
pub(crate) fn check_input_shape(app: &str, opts: &AppOptions, default_size: usize) -> Result<()> {
    let Some((h, w, c)) = opts.input_shape.filter(|_| wanted(opts)) else {
        return Ok(());
    };
    let default = match app {
        "MobileNet" if h == w && MOBILENET_ROWS.contains(&h) => h,
        "MobileNetV2" if h == w && MOBILENET_V2_ROWS.contains(&h) => h,
        _ => default_size,
    };
    let given = py_shape(&[Some(h), Some(w), Some(c)]);
    if opts.include_top && (h, w, c) != (default, default, 3) {
        return Err(KerasError::Invalid(format!(
            "{app}: When setting `include_top=True` and loading `imagenet` weights, `input_shape` should be \
             {}.  Received: input_shape={given}",
            py_shape(&[Some(default), Some(default), Some(3)])
        )));
    }
    if c != 3 {
        return Err(KerasError::Invalid(format!(
            "{app}: The input must have 3 channels; Received `input_shape={given}`"
        )));
    }
    Ok(())
}

/// [`weights_file`] for a model named `model` (EfficientNet, EfficientNetV2 and ConvNeXt
/// files are named after the model) with MobileNetV3's `minimalistic`.
pub fn weights_file_for(
    app: &str,
    model: &str,
    include_top: bool,
    alpha: f64,
    minimalistic: bool,
    rows: Option<usize>,
    cols: Option<usize>,
) -> Result<GetFile> {
    if !super::imagenet_files::knows(app) {
        return weights_file(app, include_top, alpha, rows, cols);
    }
    let (origin, fname, hash) = super::imagenet_files::file(app, model, include_top, alpha, minimalistic)
        .ok_or_else(|| {
            KerasError::Invalid(format!(
                "{app}: no ImageNet weights for alpha={alpha}, minimalistic={minimalistic} (Keras has alpha 0.75 or 1.0, and 1.0 for minimalistic)"
            ))
        })?;
    if app.starts_with("MobileNetV3") && (rows != cols || rows != Some(224)) {
        eprintln!(
            "UserWarning: `input_shape` is undefined or non-square, or `rows` is not 224. Weights for input shape (224, 224) will be loaded as the default."
        );
    }
    let mut g = GetFile::new(origin).fname(fname).cache_subdir("models");
    g.file_hash = Some(hash);
    Ok(g)
}

/// The `get_file` call Keras makes for `app`'s ImageNet weights, for a model whose image
/// input is `rows × cols` (`None` when not fixed).
pub fn weights_file(
    app: &str,
    include_top: bool,
    alpha: f64,
    rows: Option<usize>,
    cols: Option<usize>,
) -> Result<GetFile> {
    let (folder, fname, hash) = match app {
        "MobileNet" | "MobileNetV2" => {
            let sizes: &[usize] = if app == "MobileNet" {
                &MOBILENET_ROWS
            } else {
                &MOBILENET_V2_ROWS
            };
            let rows = match rows {
                Some(r) if rows == cols && sizes.contains(&r) => r,
                _ => {
                    eprintln!(
                        "UserWarning: `input_shape` is undefined or non-square, or `rows` is not in {sizes:?}. \
                         Weights for input shape (224, 224) will be loaded as the default."
                    );
                    224
                }
            };
            let fname = if app == "MobileNet" {
                let alpha_text = if alpha == 1.0 {
                    "1_0"
                } else if alpha == 0.75 {
                    "7_5"
                } else if alpha == 0.5 {
                    "5_0"
                } else {
                    "2_5"
                };
                format!(
                    "mobilenet_{alpha_text}_{rows}_tf{}.h5",
                    if include_top { "" } else { "_no_top" }
                )
            } else {
                // Python's `float(alpha)`: 0.35, 1.0, 1.3 (Rust's `{:?}` writes the same).
                format!(
                    "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{alpha:?}_{rows}{}.h5",
                    if include_top { "" } else { "_no_top" }
                )
            };
            let folder = if app == "MobileNet" {
                "mobilenet"
            } else {
                "mobilenet_v2"
            };
            (folder, fname, None)
        }
        _ if super::imagenet_files::knows(app) => {
            let model = super::by_name_default_model_name(app);
            return weights_file_for(app, &model, include_top, alpha, false, rows, cols);
        }
        _ => {
            let Some(&(_, folder, stem, top, notop)) = FILES.iter().find(|f| f.0 == app) else {
                return Err(KerasError::Invalid(format!(
                    "{app}: no ImageNet weights exist for this model in Keras"
                )));
            };
            let suffix = if include_top { "" } else { "_notop" };
            (
                folder,
                format!("{stem}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"),
                Some(if include_top { top } else { notop }),
            )
        }
    };
    let mut g = GetFile::new(format!("{BASE}{folder}/{fname}"))
        .fname(fname)
        .cache_subdir("models");
    g.file_hash = hash.map(str::to_string);
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_and_url(app: &str, top: bool, alpha: f64, rows: Option<usize>) -> (String, String, Option<String>) {
        let g = weights_file(app, top, alpha, rows, rows).unwrap();
        (g.fname.clone().unwrap(), g.origin.clone(), g.file_hash.clone())
    }

    #[test]
    fn file_names_addresses_and_hashes_are_keras_s() {
        let (f, u, h) = name_and_url("VGG16", true, 1.0, Some(224));
        assert_eq!(f, "vgg16_weights_tf_dim_ordering_tf_kernels.h5");
        assert_eq!(
            u,
            "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels.h5"
        );
        assert_eq!(h.as_deref(), Some("64373286793e3c8b2b4e3219cbf3544b"));
        let (f, u, h) = name_and_url("ResNet50V2", false, 1.0, None);
        assert_eq!(f, "resnet50v2_weights_tf_dim_ordering_tf_kernels_notop.h5");
        assert!(u.ends_with("/keras-applications/resnet/resnet50v2_weights_tf_dim_ordering_tf_kernels_notop.h5"));
        assert_eq!(h.as_deref(), Some("fac2f116257151a9d068a22e544a4917"));
        let (f, u, h) = name_and_url("MobileNet", true, 0.5, Some(160));
        assert_eq!(f, "mobilenet_5_0_160_tf.h5");
        assert!(u.ends_with("/keras-applications/mobilenet/mobilenet_5_0_160_tf.h5") && h.is_none());
        assert_eq!(
            name_and_url("MobileNet", false, 0.25, Some(100)).0,
            "mobilenet_2_5_224_tf_no_top.h5"
        );
        let (f, u, _) = name_and_url("MobileNetV2", false, 0.35, Some(96));
        assert_eq!(f, "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5");
        assert!(u.ends_with(
            "/keras-applications/mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5"
        ));
        assert_eq!(
            name_and_url("MobileNetV2", true, 1.0, None).0,
            "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5"
        );
        assert_eq!(
            name_and_url("DenseNet169", false, 1.0, None).2.as_deref(),
            Some("b8c4d4c20dd625c148057b9ff1c1176b")
        );
        let g = weights_file("Xception", true, 1.0, None, None).unwrap();
        assert_eq!(g.cache_subdir, "models");
        assert!(weights_file("LeNet5", true, 1.0, None, None).is_err());
    }

    #[test]
    fn keras_checks_come_before_building() {
        let imagenet = AppOptions {
            weights: Some("imagenet".into()),
            ..AppOptions::default()
        };
        let e = check_args("VGG16", &imagenet, 10).unwrap_err().to_string();
        assert!(e.contains("`classes` should be 1000.  Received classes=10"), "{e}");
        let notop = AppOptions {
            include_top: false,
            ..imagenet.clone()
        };
        check_args("VGG16", &notop, 10).unwrap();
        let e = check_args("LeNet5", &imagenet, 1000).unwrap_err().to_string();
        assert!(e.contains("no ImageNet weights"), "{e}");
        let e = check_args(
            "MobileNet",
            &AppOptions {
                alpha: 0.35,
                ..imagenet.clone()
            },
            1000,
        )
        .unwrap_err();
        assert!(e.to_string().contains("Received alpha=0.35"), "{e}");
        let e = check_args(
            "MobileNet",
            &AppOptions {
                depth_multiplier: 2,
                ..imagenet.clone()
            },
            1000,
        )
        .unwrap_err();
        assert!(e.to_string().contains("depth multiplier must be 1"), "{e}");
        check_args(
            "MobileNetV2",
            &AppOptions {
                alpha: 0.35,
                ..imagenet.clone()
            },
            1000,
        )
        .unwrap();
        let shaped = |s| AppOptions {
            input_shape: Some(s),
            ..imagenet.clone()
        };
        let e = check_input_shape("ResNet50", &shaped((200, 200, 3)), 224)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`input_shape` should be (224, 224, 3).  Received: input_shape=(200, 200, 3)"),
            "{e}"
        );
        check_input_shape("MobileNetV2", &shaped((96, 96, 3)), 224).unwrap();
        let e = check_input_shape(
            "VGG16",
            &AppOptions {
                include_top: false,
                ..shaped((64, 64, 1))
            },
            224,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("The input must have 3 channels"), "{e}");
    }
}
