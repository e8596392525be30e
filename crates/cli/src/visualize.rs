//! `rkeras visualize MODEL --image x.png --layer NAME (--feature-maps | --filters |
//! --grad-cam [CLASS]) -o out.png`: the pictures of the Keras tutorials that look inside a
//! CNN. The image is read and preprocessed as `rkeras predict --image` does (resized to the
//! model's input, the application's `preprocess_input`, `--preprocess`, then `--rescale`);
//! the arrays come from `rkeras::insight::visualize` and the pictures from
//! `rkeras::insight::pictures`:
//!
//! - `--feature-maps`: the layer's channels for the image, a grid of viridis tiles;
//! - `--filters`: the layer's kernels (default the first convolution), RGB tiles for 3 input
//!   channels, grey tiles otherwise (no image needed);
//! - `--grad-cam [CLASS]`: the keras.io Grad-CAM heatmap of CLASS (default the top class) at
//!   the layer (default the last layer with a 4-D output), jet-coloured and overlaid on the
//!   image at its own size (`--zoom` enlarges it first).

use crate::{app_args, modelfile, predict_image};
use clap::Args;
use rkeras::applications::imagenet_utils::{preprocess_with, Mode};
use rkeras::insight::pictures::{auto_zoom, enlarge, feature_grid, filter_tiles, grad_cam_overlay};
use rkeras::insight::visualize::{
    feature_maps, filters, first_kernel_layer, grad_cam_with, last_4d_layer, list_4d_layers, GradCamOptions,
};
use rkeras::prelude::Tensor;
use rkeras::utils::{img_to_array, load_img, save_img, ArrayToImgOptions, LoadImgOptions};
use rkeras::{KerasError, Model, Result};

/// Arguments of `rkeras visualize`.
#[derive(Args)]
#[command(group(clap::ArgGroup::new("picture").required(true).args(["feature_maps", "filters", "grad_cam"])))]
pub struct VisualizeArgs {
    /// An application name (VGG16, LeNet5, …) or a model file (.keras, .h5, .json with
    /// --weights).
    pub model: String,
    /// The image (png, jpeg, bmp, gif, webp); needed by --feature-maps and --grad-cam.
    #[arg(long, value_name = "FILE")]
    pub image: Option<String>,
    /// The layer: needed by --feature-maps; --filters defaults to the first convolution,
    /// --grad-cam to the last layer with a 4-D output.
    #[arg(long, value_name = "NAME")]
    pub layer: Option<String>,
    /// Draw the layer's activation channels for the image.
    #[arg(long)]
    pub feature_maps: bool,
    /// Draw the layer's convolution kernels.
    #[arg(long)]
    pub filters: bool,
    /// Draw the Grad-CAM heatmap of CLASS (default: the top class) over the image.
    #[arg(long, value_name = "CLASS", num_args = 0..=1)]
    pub grad_cam: Option<Option<usize>>,
    /// The picture to write (.png, .jpg, .bmp, .gif, .webp).
    #[arg(short, long)]
    pub output: String,
    /// Draw at most this many channels (feature maps) or filters and input channels (filters).
    #[arg(long, value_name = "N")]
    pub max_channels: Option<usize>,
    /// Enlarge each tile (or, with --grad-cam, the image) this many times; default: tiles of
    /// about 96 pixels (48 for filters), the image at its own size.
    #[arg(long, value_name = "N")]
    pub zoom: Option<usize>,
    /// Grad-CAM: the heatmap's weight in the overlay (keras.io: 0.4).
    #[arg(long, default_value_t = 0.4)]
    pub cam_alpha: f32,
    /// Grad-CAM: explain the class probability (after the softmax) instead of its logit, which
    /// the keras.io example uses (`model.layers[-1].activation = None`).
    #[arg(long)]
    pub softmax: bool,
    /// The image's preprocessing: caffe, tf, torch or none; default the application's (from its
    /// name, or from the model's name for a file), none for other models.
    #[arg(long, value_name = "MODE")]
    pub preprocess: Option<String>,
    /// Multiply the pixels (after --preprocess) by this factor, e.g. `1/255` for a model trained
    /// on [0, 1] images (as `rkeras train` does).
    #[arg(long, value_name = "FACTOR", value_parser = parse_factor)]
    pub rescale: Option<f32>,
    /// Weights to load first (`.weights.h5`, `.h5`, `.safetensors`; `imagenet` for an
    /// application).
    #[arg(long, value_name = "FILE")]
    pub weights: Option<String>,
    #[command(flatten)]
    pub app: app_args::AppArgs,
}

/// `0.5`, `1/255` or `1./255` as a positive finite factor.
fn parse_factor(s: &str) -> std::result::Result<f32, String> {
    let bad = || format!("expected a positive number or fraction (e.g. 1/255), received {s:?}");
    let num = |t: &str| t.trim().parse::<f64>().map_err(|_| bad());
    let v = match s.split_once('/') {
        Some((a, b)) => num(a)? / num(b)?,
        None => num(s)?,
    };
    if v.is_finite() && v > 0.0 {
        Ok(v as f32)
    } else {
        Err(bad())
    }
}

/// Writes the picture.
pub fn run(a: VisualizeArgs) -> Result<()> {
    if !(a.cam_alpha.is_finite() && a.cam_alpha >= 0.0) {
        return Err(KerasError::Invalid(format!(
            "--cam-alpha: expected a non-negative number, received {}",
            a.cam_alpha
        )));
    }
    let model = modelfile::load_or_build(&a.model, &a.app, a.weights.as_deref(), true)?;
    let picture = if a.filters {
        let layer = match &a.layer {
            Some(l) => l.clone(),
            None => first_kernel_layer(&model)?,
        };
        let f = filters(&model, &layer)?;
        let t = filter_tiles(
            &f,
            a.max_channels,
            a.zoom.unwrap_or_else(|| auto_zoom(f.shape()[0], 48)),
        )?;
        println!("{}: filters of {layer}, kernel {:?}", a.output, f.shape());
        t
    } else if a.feature_maps {
        let Some(layer) = &a.layer else {
            return Err(KerasError::Invalid(format!(
                "--feature-maps needs --layer NAME; layers with 4-D outputs: {}",
                list_4d_layers(&model)
            )));
        };
        let x = input(&a, &model, "--feature-maps")?;
        let maps = feature_maps(&model, &x, layer)?;
        let first = rkeras::model::slice_batch(&maps, 0, 1)?;
        let zoom = a
            .zoom
            .unwrap_or_else(|| auto_zoom(maps.shape()[1].max(maps.shape()[2]), 96));
        let t = feature_grid(&first, a.max_channels, zoom)?;
        println!("{}: feature maps of {layer}, {:?}", a.output, &maps.shape()[1..]);
        t
    } else {
        let x = input(&a, &model, "--grad-cam")?;
        let layer = match &a.layer {
            Some(l) => l.clone(),
            None => last_4d_layer(&model)?,
        };
        let opts = GradCamOptions {
            class_index: a.grad_cam.flatten(),
            logits: !a.softmax,
        };
        let cam = grad_cam_with(&model, &x, &layer, &opts)?;
        let path = a.image.as_deref().unwrap_or_default();
        let original = img_to_array(&load_img(path, &LoadImgOptions::default())?);
        let original = enlarge(&original, a.zoom.unwrap_or(1))?;
        let t = grad_cam_overlay(&original, &cam.heatmap, a.cam_alpha)?;
        println!(
            "{}: Grad-CAM of class {} at {layer} ({}×{} heatmap{})",
            a.output,
            cam.class_index,
            cam.heatmap.shape()[0],
            cam.heatmap.shape()[1],
            if cam.max > 0.0 {
                ""
            } else {
                "; no location raises the score: the heatmap is all zero"
            }
        );
        t
    };
    let opts = ArrayToImgOptions {
        scale: false,
        ..ArrayToImgOptions::default()
    };
    save_img(&a.output, &picture, None, &opts)
}

/// The image as the model's input batch of one, preprocessed.
fn input(a: &VisualizeArgs, model: &Model, what: &str) -> Result<Tensor> {
    let Some(path) = &a.image else {
        return Err(KerasError::Invalid(format!("{what} needs --image FILE")));
    };
    let mode = match predict_image::preprocess_mode(&a.model, model, a.preprocess.as_deref()) {
        Ok(m) => m,
        Err(_) if a.preprocess.is_none() => Mode::PassThrough,
        Err(e) => return Err(e),
    };
    let x = predict_image::load_batch(&a.model, model, std::slice::from_ref(path), None)?;
    let x = if mode == Mode::PassThrough {
        x
    } else {
        preprocess_with(mode, &x)?
    };
    Ok(match a.rescale {
        Some(f) => x.map(|v| v * f),
        None => x,
    })
}
