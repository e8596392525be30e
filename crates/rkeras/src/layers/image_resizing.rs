//! `Resizing(height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
//! pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, antialias=False)` and
//! `CenterCrop(height, width)`: `(N, H, W, C)` → `(N, height, width, C)`, in training and
//! inference alike, as Keras 3 on TensorFlow (`tf.image.resize` with `bilinear`, `nearest`,
//! `bicubic`, `area`, `lanczos3` or `lanczos5`, the methods Keras's TensorFlow backend
//! accepts; CenterCrop resizes with Keras's `smart_resize` when the input is smaller).
//! Differentiable (the shared ops of [`crate::preprocessing::pixel_map`] and
//! [`crate::preprocessing::tf_resize`]). No weights.
//!
//! ```
//! use rkeras::prelude::*;
//! clear_session();
//! let x = Input(&[32, 40, 3]).unwrap();
//! let y = Resizing::new(24, 24).call(&x).unwrap();
//! assert_eq!(y.shape(), &vec![None, Some(24), Some(24), Some(3)]);
//! ```

use super::common::{config_name, layer_core, setters, single, LayerCore};
use super::{CallCtx, Layer, LayerConfig};
use crate::config::ConfigReader;
use crate::error::{arg_error, in_layer, shape_error, Result};
use crate::kshape::Shape;
use crate::preprocessing::pixel_map::PixelMap;
use crate::preprocessing::tf_image::TfMethod;
use crate::preprocessing::tf_resize::Separable;
use serde_json::{json, Value};
use tensor::{Rng, Var};

/// `Resizing` or `CenterCrop` arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct ResizingConfig {
    /// Name; automatic when `None`.
    pub name: Option<String>,
    /// Keras's flag (no weights).
    pub trainable: bool,
    /// Output height.
    pub height: usize,
    /// Output width.
    pub width: usize,
    /// `"bilinear"` (default), `"nearest"`, `"bicubic"`, `"area"`, `"lanczos3"` or
    /// `"lanczos5"` (Resizing only).
    pub interpolation: String,
    /// `tf.image.resize`'s antialias: the kernel stretched when shrinking (Resizing only;
    /// no effect with `nearest` and `area`).
    pub antialias: bool,
    /// Crop the centre to the target aspect ratio first (Resizing only).
    pub crop_to_aspect_ratio: bool,
    /// Pad to the target aspect ratio first (Resizing only).
    pub pad_to_aspect_ratio: bool,
    /// Value of the padding (Resizing only).
    pub fill_value: f64,
    /// `true` for `CenterCrop`.
    pub center_crop: bool,
}

/// `keras.layers.Resizing`.
pub struct Resizing;
/// `keras.layers.CenterCrop`.
pub struct CenterCrop;

fn base(height: usize, width: usize, center_crop: bool) -> ResizingConfig {
    ResizingConfig {
        name: None,
        trainable: true,
        height,
        width,
        interpolation: "bilinear".into(),
        antialias: false,
        crop_to_aspect_ratio: false,
        pad_to_aspect_ratio: false,
        fill_value: 0.0,
        center_crop,
    }
}

impl Resizing {
    /// `Resizing(height, width)`.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(height: usize, width: usize) -> ResizingConfig {
        base(height, width, false)
    }
}

impl CenterCrop {
    /// `CenterCrop(height, width)`.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(height: usize, width: usize) -> ResizingConfig {
        base(height, width, true)
    }
}

impl ResizingConfig {
    setters!(interpolation: String, antialias: bool, crop_to_aspect_ratio: bool, pad_to_aspect_ratio: bool, fill_value: f64, trainable: bool);

    /// Reads a Keras `Resizing` (or, with `center_crop`, `CenterCrop`) config.
    pub fn from_keras_as(r: &ConfigReader, center_crop: bool) -> Result<ResizingConfig> {
        r.check_dtype()?;
        if let Some(f) = r.string("data_format")? {
            if f != "channels_last" {
                return Err(arg_error(&r.layer, "data_format", "\"channels_last\"", f));
            }
        }
        let mut c = base(r.usize_req("height")?, r.usize_req("width")?, center_crop);
        c.name = r.name();
        c.trainable = r.trainable()?;
        if !center_crop {
            c.interpolation = r.string("interpolation")?.unwrap_or(c.interpolation);
            c.crop_to_aspect_ratio = r.bool("crop_to_aspect_ratio")?.unwrap_or(false);
            c.pad_to_aspect_ratio = r.bool("pad_to_aspect_ratio")?.unwrap_or(false);
            c.fill_value = r.f64("fill_value")?.unwrap_or(0.0);
            c.antialias = r.bool("antialias")?.unwrap_or(false);
            if let Some(m) = r.string("fill_mode")?.filter(|m| m != "constant") {
                return Err(arg_error(&r.layer, "fill_mode", "\"constant\"", m));
            }
        }
        Ok(c)
    }

    /// Reads a Keras 3 `Resizing` config.
    pub fn from_keras(r: &ConfigReader) -> Result<ResizingConfig> {
        Self::from_keras_as(r, false)
    }

    fn validate(&self, name: &str) -> Result<TfMethod> {
        if self.height == 0 || self.width == 0 {
            return Err(arg_error(
                name,
                "height",
                "positive height and width",
                format!("({}, {})", self.height, self.width),
            ));
        }
        if self.crop_to_aspect_ratio && self.pad_to_aspect_ratio {
            return Err(arg_error(
                name,
                "pad_to_aspect_ratio",
                "only one of crop_to_aspect_ratio and pad_to_aspect_ratio",
                true,
            ));
        }
        // Keras's TensorFlow backend (`RESIZE_INTERPOLATIONS`) takes fewer methods than
        // tf.image.resize and image_dataset_from_directory.
        const KERAS: [&str; 6] = ["bilinear", "nearest", "lanczos3", "lanczos5", "bicubic", "area"];
        if !KERAS.contains(&self.interpolation.as_str()) {
            return Err(arg_error(
                name,
                "interpolation",
                format!("one of {KERAS:?}"),
                format!("interpolation={}", self.interpolation),
            ));
        }
        TfMethod::parse(name, &self.interpolation)
    }
}

/// The registry's reader of `CenterCrop` configs (the config itself is a [`ResizingConfig`]).
pub struct CenterCropConfig;

impl CenterCropConfig {
    /// Reads a Keras 3 `CenterCrop` config.
    pub fn from_keras(r: &ConfigReader) -> Result<ResizingConfig> {
        ResizingConfig::from_keras_as(r, true)
    }
}

/// A built `Resizing` or `CenterCrop`.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageResize {
    core: LayerCore,
    config: ResizingConfig,
    method: TfMethod,
}

impl LayerConfig for ResizingConfig {
    fn class_name(&self) -> &'static str {
        if self.center_crop {
            "CenterCrop"
        } else {
            "Resizing"
        }
    }
    config_name!();
    fn build(&self, name: &str, inputs: &[Shape], _rng: &mut Rng) -> Result<Box<dyn Layer>> {
        let method = self.validate(name)?;
        let l = ImageResize {
            core: LayerCore::new(name, self.trainable, Vec::new()),
            config: ResizingConfig {
                name: Some(name.to_string()),
                ..self.clone()
            },
            method,
        };
        l.compute_output_shape(inputs)?;
        Ok(Box::new(l))
    }
}

/// The crop window Keras's `smart_resize` takes (float arithmetic, as Keras's static branch).
fn aspect_crop(h: usize, w: usize, th: usize, tw: usize) -> (usize, usize, usize, usize) {
    let ch = (((w * th) as f64 / tw as f64) as usize).min(h).max(1);
    let cw = (((h * tw) as f64 / th as f64) as usize).min(w).max(1);
    (
        ((h - ch) as f64 / 2.0) as usize,
        ((w - cw) as f64 / 2.0) as usize,
        ch,
        cw,
    )
}

impl Layer for ImageResize {
    fn class_name(&self) -> &str {
        self.config.class_name()
    }
    layer_core!();
    fn compute_output_shape(&self, inputs: &[Shape]) -> Result<Vec<Shape>> {
        let s = single(&self.core.name, inputs)?;
        if s.len() != 4 {
            return Err(shape_error(
                &self.core.name,
                format!(
                    "expects (batch, height, width, channels) images, received rank {}",
                    s.len()
                ),
            ));
        }
        Ok(vec![vec![
            s[0],
            Some(self.config.height),
            Some(self.config.width),
            s[3],
        ]])
    }
    fn call(&self, ctx: &mut CallCtx, inputs: &[Var], weights: &[Var]) -> Result<Vec<Var>> {
        let x = self.core.input(inputs, weights)?;
        let err = in_layer(&self.core.name);
        let shape = ctx.tape.try_value(x).map_err(&err)?.shape().to_vec();
        if shape.len() != 4 {
            return Err(shape_error(
                &self.core.name,
                format!("expects 4-D images, received shape {shape:?}"),
            ));
        }
        let (h, w, c) = (shape[1], shape[2], self.config.clone());
        if h == 0 || w == 0 {
            return Err(shape_error(
                &self.core.name,
                format!("cannot resize images without pixels, received shape {shape:?}"),
            ));
        }
        let (th, tw) = (c.height, c.width);
        let mut x = x;
        let (mut h, mut w) = (h, w);
        if c.center_crop && h >= th && w >= tw {
            {
                let map = PixelMap::crop((h, w), (h - th) / 2, (w - tw) / 2, th, tw);
                return Ok(vec![map.record(ctx.tape, x).map_err(&err)?]);
            }
        }
        if c.center_crop || c.crop_to_aspect_ratio {
            let (hs, ws, ch, cw) = aspect_crop(h, w, th, tw);
            x = PixelMap::crop((h, w), hs, ws, ch, cw)
                .record(ctx.tape, x)
                .map_err(&err)?;
            (h, w) = (ch, cw);
        } else if c.pad_to_aspect_ratio {
            // Keras's TensorFlow backend: pad both sides by the same start offset.
            let ph = h.max(((w * th) as f32 / tw as f32) as usize);
            let pw = w.max(((h * tw) as f32 / th as f32) as usize);
            let (hs, ws) = (((ph - h) as f32 / 2.0) as usize, ((pw - w) as f32 / 2.0) as usize);
            x = PixelMap::pad((h, w), hs, ws, c.fill_value as f32)
                .record(ctx.tape, x)
                .map_err(&err)?;
            (h, w) = (h + 2 * hs, w + 2 * ws);
        }
        let y = match Separable::new(self.method, c.antialias, (h, w), (th, tw)) {
            Some(s) => s.record(ctx.tape, x),
            None => PixelMap::resize((h, w), (th, tw), self.method == TfMethod::Nearest).record(ctx.tape, x),
        }
        .map_err(&err)?;
        Ok(vec![y])
    }
    fn config(&self) -> Value {
        let c = &self.config;
        let mut e = vec![
            ("data_format", json!("channels_last")),
            ("height", json!(c.height)),
            ("width", json!(c.width)),
        ];
        if !c.center_crop {
            e.extend([
                ("interpolation", json!(c.interpolation)),
                ("crop_to_aspect_ratio", json!(c.crop_to_aspect_ratio)),
                ("pad_to_aspect_ratio", json!(c.pad_to_aspect_ratio)),
                ("fill_mode", json!("constant")),
                ("fill_value", json!(c.fill_value)),
                ("antialias", json!(c.antialias)),
            ]);
        }
        Value::Object(self.core.config_with(None, e))
    }
    fn explain(&self, _inputs: &[Shape]) -> Vec<String> {
        vec![format!(
            "no parameters; images to {}×{} ({})",
            self.config.height, self.config.width, self.config.interpolation
        )]
    }
}
