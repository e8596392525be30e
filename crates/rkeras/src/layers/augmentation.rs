//! Keras 3's random image augmentation layers: `RandomFlip(mode)`, `RandomRotation(factor)`,
//! `RandomZoom(height_factor, width_factor)`, `RandomTranslation(height_factor,
//! width_factor)` (all with `fill_mode` reflect / wrap / constant / nearest, `interpolation`
//! bilinear / nearest, `fill_value`), `RandomContrast(factor, value_range)`,
//! `RandomBrightness(factor, value_range)` and `RandomCrop(height, width)`. They act only in
//! training (one draw per sample; RandomCrop one window per batch) and are the identity at
//! inference, except RandomCrop, which at inference takes the centred window of the target's
//! aspect ratio and resizes it to `(height, width)` as Keras documents (Keras 3.15's code
//! returns the input unchanged there, whose shape then disagrees with its own
//! `compute_output_shape`; rkeras's inference plan needs the declared shape). Seeded (`seed`) layers repeat their draws call by call. Shapes: `(N, H, W, C)`
//! in and out (RandomCrop: `(N, height, width, C)` in training). No weights.
//!
//! ```
//! use rkeras::prelude::*;
//! clear_session();
//! let x = Input(&[32, 32, 3]).unwrap();
//! let y = RandomRotation::new(0.1).seed(7).call(&RandomFlip::new("horizontal").call(&x).unwrap()).unwrap();
//! assert_eq!(y.shape(), x.shape());
//! ```

use super::common::{config_name, layer_core, single, LayerCore};
use super::{CallCtx, Layer, LayerConfig};
use crate::error::{arg_error, in_layer, shape_error, Result};
use crate::kshape::Shape;
use crate::preprocessing::pixel_map::{affine_clip, FillMode, PixelMap};
use crate::preprocessing::transforms;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tensor::{Rng, Var};

/// Which augmentation, with its typed arguments.
#[derive(Debug, Clone, PartialEq)]
pub enum Augment {
    /// `RandomFlip(mode)`: `"horizontal"`, `"vertical"` or `"horizontal_and_vertical"`.
    Flip(String),
    /// `RandomRotation(factor)`: angle `uniform(lo, hi)·2π`.
    Rotation((f64, f64)),
    /// `RandomZoom(height_factor, width_factor)`: zoom `1 + uniform(lo, hi)` (out for > 0);
    /// width follows height when `None`.
    Zoom(Value, Option<Value>),
    /// `RandomTranslation(height_factor, width_factor)`: shift `uniform(lo, hi)·size`.
    Translation(Value, Value),
    /// `RandomContrast(factor, value_range)`: `(x − mean)·uniform(1 − lo, 1 + hi) + mean`.
    Contrast((f64, f64), (f64, f64)),
    /// `RandomBrightness(factor, value_range)`: `x + uniform(lo, hi)·(range width)`.
    Brightness(Value, (f64, f64)),
    /// `RandomCrop(height, width)`.
    Crop(usize, usize),
}

/// An augmentation layer's arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct AugmentConfig {
    /// Name; automatic when `None`.
    pub name: Option<String>,
    /// Keras's flag (no weights).
    pub trainable: bool,
    /// The augmentation.
    pub kind: Augment,
    /// Seed of the draws (`None`: the session's generator).
    pub seed: Option<u64>,
    /// `fill_mode` (`"reflect"` default; RandomZoom/Translation/Rotation).
    pub fill_mode: String,
    /// `interpolation` (`"bilinear"` default).
    pub interpolation: String,
    /// `fill_value` (0.0).
    pub fill_value: f64,
    /// `factor` and `value_range` exactly as the Keras config wrote them (ints stay ints), so
    /// a read config is written back unchanged.
    pub raw: Vec<(String, Value)>,
}

fn cfg(kind: Augment) -> AugmentConfig {
    AugmentConfig {
        name: None,
        trainable: true,
        kind,
        seed: None,
        fill_mode: "reflect".into(),
        interpolation: "bilinear".into(),
        fill_value: 0.0,
        raw: Vec::new(),
    }
}

macro_rules! augment_class {
    ($t:ident, $doc:literal) => {
        #[doc = $doc]
        pub struct $t;
    };
}
augment_class!(RandomFlip, "`keras.layers.RandomFlip`.");
augment_class!(RandomRotation, "`keras.layers.RandomRotation`.");
augment_class!(RandomZoom, "`keras.layers.RandomZoom`.");
augment_class!(RandomTranslation, "`keras.layers.RandomTranslation`.");
augment_class!(RandomContrast, "`keras.layers.RandomContrast`.");
augment_class!(RandomBrightness, "`keras.layers.RandomBrightness`.");
augment_class!(RandomCrop, "`keras.layers.RandomCrop`.");

#[allow(clippy::new_ret_no_self)]
impl RandomFlip {
    /// `RandomFlip(mode)`.
    pub fn new(mode: &str) -> AugmentConfig {
        cfg(Augment::Flip(mode.into()))
    }
}
#[allow(clippy::new_ret_no_self)]
impl RandomRotation {
    /// `RandomRotation(factor)`: a fraction of 2π, `(-f, f)`.
    pub fn new(factor: f64) -> AugmentConfig {
        cfg(Augment::Rotation((-factor.abs(), factor.abs())))
    }
}
#[allow(clippy::new_ret_no_self)]
impl RandomZoom {
    /// `RandomZoom(height_factor)`.
    pub fn new(height_factor: f64) -> AugmentConfig {
        cfg(Augment::Zoom(json!(height_factor), None))
    }
}
#[allow(clippy::new_ret_no_self)]
impl RandomTranslation {
    /// `RandomTranslation(height_factor, width_factor)`.
    pub fn new(height_factor: f64, width_factor: f64) -> AugmentConfig {
        cfg(Augment::Translation(json!(height_factor), json!(width_factor)))
    }
}
#[allow(clippy::new_ret_no_self)]
impl RandomContrast {
    /// `RandomContrast(factor)`, `value_range=(0, 255)`.
    pub fn new(factor: f64) -> AugmentConfig {
        cfg(Augment::Contrast((0.0, factor.abs()), (0.0, 255.0)))
    }
}
#[allow(clippy::new_ret_no_self)]
impl RandomBrightness {
    /// `RandomBrightness(factor)`, `value_range=(0, 255)`.
    pub fn new(factor: f64) -> AugmentConfig {
        cfg(Augment::Brightness(json!(factor), (0.0, 255.0)))
    }
}
#[allow(clippy::new_ret_no_self)]
impl RandomCrop {
    /// `RandomCrop(height, width)`.
    pub fn new(height: usize, width: usize) -> AugmentConfig {
        cfg(Augment::Crop(height, width))
    }
}

impl AugmentConfig {
    /// `seed`.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }
    /// `fill_mode`.
    pub fn fill_mode(mut self, m: &str) -> Self {
        self.fill_mode = m.into();
        self
    }
    /// `interpolation`.
    pub fn interpolation(mut self, m: &str) -> Self {
        self.interpolation = m.into();
        self
    }

    fn class(&self) -> &'static str {
        match self.kind {
            Augment::Flip(_) => "RandomFlip",
            Augment::Rotation(_) => "RandomRotation",
            Augment::Zoom(..) => "RandomZoom",
            Augment::Translation(..) => "RandomTranslation",
            Augment::Contrast(..) => "RandomContrast",
            Augment::Brightness(..) => "RandomBrightness",
            Augment::Crop(..) => "RandomCrop",
        }
    }

    fn validate(&self, name: &str) -> Result<(FillMode, bool)> {
        let fill = FillMode::parse(&self.fill_mode).ok_or_else(|| {
            arg_error(
                name,
                "fill_mode",
                "one of \"reflect\", \"wrap\", \"constant\", \"nearest\"",
                &self.fill_mode,
            )
        })?;
        let bilinear = match self.interpolation.as_str() {
            "bilinear" => true,
            "nearest" => false,
            i => return Err(arg_error(name, "interpolation", "\"bilinear\" or \"nearest\"", i)),
        };
        match &self.kind {
            Augment::Flip(m) if !matches!(m.as_str(), "horizontal" | "vertical" | "horizontal_and_vertical") => {
                return Err(arg_error(
                    name,
                    "mode",
                    "\"horizontal\", \"vertical\" or \"horizontal_and_vertical\"",
                    m,
                ))
            }
            Augment::Zoom(h, w) => {
                range(name, "height_factor", h)?;
                w.as_ref().map(|w| range(name, "width_factor", w)).transpose()?;
            }
            Augment::Translation(h, w) => {
                range(name, "height_factor", h)?;
                range(name, "width_factor", w)?;
            }
            Augment::Brightness(f, _) => {
                range(name, "factor", f)?;
            }
            Augment::Crop(h, w) if *h == 0 || *w == 0 => {
                return Err(arg_error(
                    name,
                    "height",
                    "positive height and width",
                    format!("({h}, {w})"),
                ))
            }
            _ => {}
        }
        Ok((fill, bilinear))
    }
}

/// A built augmentation layer.
#[derive(Debug)]
pub struct Augmentation {
    core: LayerCore,
    config: AugmentConfig,
    fill: FillMode,
    bilinear: bool,
    calls: Arc<AtomicU64>,
}

impl Clone for Augmentation {
    fn clone(&self) -> Self {
        Augmentation {
            core: self.core.clone(),
            config: self.config.clone(),
            fill: self.fill,
            bilinear: self.bilinear,
            calls: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl LayerConfig for AugmentConfig {
    fn class_name(&self) -> &'static str {
        self.class()
    }
    config_name!();
    fn build(&self, name: &str, inputs: &[Shape], _rng: &mut Rng) -> Result<Box<dyn Layer>> {
        let (fill, bilinear) = self.validate(name)?;
        let l = Augmentation {
            core: LayerCore::new(name, self.trainable, Vec::new()),
            config: AugmentConfig {
                name: Some(name.to_string()),
                ..self.clone()
            },
            fill,
            bilinear,
            calls: Arc::new(AtomicU64::new(0)),
        };
        l.compute_output_shape(inputs)?;
        Ok(Box::new(l))
    }
}

impl Layer for Augmentation {
    fn class_name(&self) -> &str {
        self.config.class()
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
        Ok(vec![match self.config.kind {
            Augment::Crop(h, w) => vec![s[0], Some(h), Some(w), s[3]],
            _ => s.clone(),
        }])
    }
    fn call(&self, ctx: &mut CallCtx, inputs: &[Var], weights: &[Var]) -> Result<Vec<Var>> {
        let x = self.core.input(inputs, weights)?;
        let crop = matches!(self.config.kind, Augment::Crop(..));
        if !ctx.training && !crop {
            return Ok(vec![x]);
        }
        let err = in_layer(&self.core.name);
        let shape = ctx.tape.try_value(x).map_err(&err)?.shape().to_vec();
        let (n, h, w) = (shape[0], shape[1], shape[2]);
        let mut own;
        let rng: &mut Rng = match self.config.seed {
            Some(s) => {
                let step = self.calls.fetch_add(1, Ordering::Relaxed);
                own = Rng::new(s ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15));
                &mut own
            }
            None => ctx.rng,
        };
        let mut u = |(lo, hi): (f64, f64)| rng.uniform_range(lo, hi) as f32;
        let name = &self.core.name;
        let per_sample: Vec<[f32; 8]> = match &self.config.kind {
            Augment::Flip(mode) => transforms::flip(mode, n, (h, w), &mut u),
            Augment::Rotation(r) => transforms::rotation(*r, n, (h, w), &mut u),
            Augment::Zoom(hv, wv) => {
                let (hr, wr) = (
                    range(name, "height_factor", hv)?,
                    wv.as_ref().map(|v| range(name, "width_factor", v)).transpose()?,
                );
                transforms::zoom(hr, wr, n, (h, w), &mut u)
            }
            Augment::Translation(hv, wv) => {
                let (hr, wr) = (range(name, "height_factor", hv)?, range(name, "width_factor", wv)?);
                transforms::translation(hr, wr, n, (h, w), &mut u)
            }
            Augment::Contrast((lo, hi), vr) => {
                let f: Vec<f32> = (0..n).map(|_| u((1.0 - lo, 1.0 + hi))).collect();
                let y = affine_clip(ctx.tape, x, f, vec![0.0; n], true, (vr.0 as f32, vr.1 as f32)).map_err(&err)?;
                return Ok(vec![y]);
            }
            Augment::Brightness(fv, vr) => {
                let r = range(name, "factor", fv)?;
                let d: Vec<f32> = (0..n).map(|_| u(r) * (vr.1 - vr.0) as f32).collect();
                let y = affine_clip(ctx.tape, x, vec![1.0; n], d, false, (vr.0 as f32, vr.1 as f32)).map_err(&err)?;
                return Ok(vec![y]);
            }
            Augment::Crop(ch, cw) => {
                let (ch, cw) = (*ch, *cw);
                let y = if ctx.training && h > ch && w > cw {
                    let top = u((0.0, (h - ch + 1) as f64)) as usize;
                    let left = u((0.0, (w - cw + 1) as f64)) as usize;
                    PixelMap::crop((h, w), top.min(h - ch), left.min(w - cw), ch, cw).record(ctx.tape, x)
                } else {
                    let (t, l, ch0, cw0) = transforms::centre_aspect_window((h, w), (ch, cw));
                    let c = PixelMap::crop((h, w), t, l, ch0, cw0)
                        .record(ctx.tape, x)
                        .map_err(&err)?;
                    PixelMap::resize((ch0, cw0), (ch, cw), false).record(ctx.tape, c)
                };
                return Ok(vec![y.map_err(&err)?]);
            }
        };
        let bilinear = self.bilinear && !matches!(self.config.kind, Augment::Flip(_));
        let map = PixelMap::projective((h, w), &per_sample, bilinear, self.fill, self.config.fill_value as f32);
        Ok(vec![map.record(ctx.tape, x).map_err(&err)?])
    }
    fn config(&self) -> Value {
        keras::write_config(&self.core, &self.config)
    }
    fn explain(&self, _inputs: &[Shape]) -> Vec<String> {
        vec!["no parameters; random in training, identity at inference".into()]
    }
}

#[path = "augmentation_keras.rs"]
mod keras;
use keras::range;
pub use keras::{
    RandomBrightnessConfig, RandomContrastConfig, RandomCropConfig, RandomFlipConfig, RandomRotationConfig,
    RandomTranslationConfig, RandomZoomConfig,
};
