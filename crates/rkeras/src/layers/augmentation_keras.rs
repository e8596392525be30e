//! Keras 3 configs of the augmentation layers ([`super`]): reading them (`factor` as a number
//! `f` → `(−|f|, |f|)` or a sorted pair, `value_range`, `seed`, the geometric layers'
//! `fill_mode` / `interpolation` / `fill_value`), the registry's one reader per class, and
//! writing them back key for key in Keras's order (a read `factor` / `value_range` unchanged,
//! ints staying ints).

use super::{Augment, AugmentConfig};
use crate::config::ConfigReader;
use crate::error::{arg_error, Result};
use crate::layers::common::LayerCore;
use serde_json::{json, Value};

/// A whole number as the int Keras's defaults write (`0`, `255`), others as floats.
fn num(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        json!(v as i64)
    } else {
        json!(v)
    }
}

/// A factor as Keras reads it: a number `f` → `(−|f|, |f|)`, a pair → sorted.
pub(super) fn range(layer: &str, arg: &str, v: &Value) -> Result<(f64, f64)> {
    let bad = || arg_error(layer, arg, "a number or a list of two numbers", v);
    match v {
        Value::Number(n) => n.as_f64().map(|f| (-f.abs(), f.abs())).ok_or_else(bad),
        Value::Array(a) if a.len() == 2 => {
            let (x, y) = (a[0].as_f64().ok_or_else(bad)?, a[1].as_f64().ok_or_else(bad)?);
            Ok((x.min(y), x.max(y)))
        }
        _ => Err(bad()),
    }
}

fn pair(r: &ConfigReader, key: &str) -> Result<Option<(f64, f64)>> {
    r.get(key)
        .map(|v| range(&r.layer, key, v).map(|(a, b)| if b < 0.0 { (b, a) } else { (a, b) }))
        .transpose()
}

impl AugmentConfig {
    /// Reads a Keras 3 config of class `class`.
    pub fn from_keras_as(r: &ConfigReader, class: &str) -> Result<AugmentConfig> {
        r.check_dtype()?;
        let req = |k: &str| r.get(k).cloned().ok_or_else(|| r.missing(k));
        let vr = pair(r, "value_range")?.map(|(a, b)| (a.min(b), a.max(b)));
        let kind = match class {
            "RandomFlip" => Augment::Flip(r.string("mode")?.unwrap_or_else(|| "horizontal_and_vertical".into())),
            "RandomRotation" => Augment::Rotation(range(&r.layer, "factor", &req("factor")?)?),
            "RandomZoom" => Augment::Zoom(
                req("height_factor")?,
                r.get("width_factor").filter(|v| !v.is_null()).cloned(),
            ),
            "RandomTranslation" => Augment::Translation(req("height_factor")?, req("width_factor")?),
            "RandomContrast" => {
                let f = req("factor")?;
                let (a, b) = match &f {
                    Value::Number(_) => (0.0, range(&r.layer, "factor", &f)?.1),
                    _ => range(&r.layer, "factor", &f)?,
                };
                Augment::Contrast((a, b), vr.unwrap_or((0.0, 255.0)))
            }
            "RandomBrightness" => Augment::Brightness(req("factor")?, vr.unwrap_or((0.0, 255.0))),
            _ => Augment::Crop(r.usize_req("height")?, r.usize_req("width")?),
        };
        let c = AugmentConfig {
            name: r.name(),
            trainable: r.trainable()?,
            kind,
            seed: r.get("seed").and_then(Value::as_u64),
            fill_mode: r.string("fill_mode")?.unwrap_or_else(|| "reflect".into()),
            interpolation: r.string("interpolation")?.unwrap_or_else(|| "bilinear".into()),
            fill_value: r.f64("fill_value")?.unwrap_or(0.0),
            raw: ["factor", "value_range"]
                .iter()
                .filter_map(|k| r.get(k).map(|v| (k.to_string(), v.clone())))
                .collect(),
        };
        c.validate(&r.layer)?;
        Ok(c)
    }
}

/// The registry's readers (one per Keras class; each builds an [`AugmentConfig`]).
macro_rules! reader {
    ($t:ident, $class:literal) => {
        #[doc = concat!("The registry's reader of `", $class, "` configs.")]
        pub struct $t;
        impl $t {
            #[doc = concat!("Reads a Keras 3 `", $class, "` config.")]
            pub fn from_keras(r: &ConfigReader) -> Result<AugmentConfig> {
                AugmentConfig::from_keras_as(r, $class)
            }
        }
    };
}
reader!(RandomFlipConfig, "RandomFlip");
reader!(RandomRotationConfig, "RandomRotation");
reader!(RandomZoomConfig, "RandomZoom");
reader!(RandomTranslationConfig, "RandomTranslation");
reader!(RandomContrastConfig, "RandomContrast");
reader!(RandomBrightnessConfig, "RandomBrightness");
reader!(RandomCropConfig, "RandomCrop");

/// The layer's Keras 3 config, keys in Keras's order; `factor` / `value_range` as read.
pub(super) fn write_config(core: &LayerCore, c: &AugmentConfig) -> Value {
    let seed = json!(c.seed);
    let df = ("data_format", json!("channels_last"));
    let geo = |e: &mut Vec<(&str, Value)>| {
        e.extend([
            ("fill_mode", json!(c.fill_mode)),
            ("interpolation", json!(c.interpolation)),
            ("seed", seed.clone()),
            ("fill_value", json!(c.fill_value)),
        ])
    };
    let mut e: Vec<(&str, Value)> = vec![df];
    match &c.kind {
        Augment::Flip(m) => e.extend([("seed", seed.clone()), ("mode", json!(m))]),
        Augment::Rotation((a, b)) => e.extend([
            ("factor", json!([a, b])),
            ("fill_mode", json!(c.fill_mode)),
            ("fill_value", json!(c.fill_value)),
            ("interpolation", json!(c.interpolation)),
            ("seed", seed.clone()),
        ]),
        Augment::Zoom(hv, wv) => {
            e.extend([
                ("height_factor", hv.clone()),
                ("width_factor", wv.clone().unwrap_or(Value::Null)),
            ]);
            geo(&mut e);
        }
        Augment::Translation(hv, wv) => {
            e.extend([("height_factor", hv.clone()), ("width_factor", wv.clone())]);
            geo(&mut e);
        }
        Augment::Contrast((a, b), vr) => e.extend([
            ("factor", json!([num(*a), num(*b)])),
            ("value_range", json!([num(vr.0), num(vr.1)])),
            ("seed", seed.clone()),
        ]),
        Augment::Brightness(f, vr) => e.extend([
            ("factor", f.clone()),
            ("value_range", json!([num(vr.0), num(vr.1)])),
            ("seed", seed.clone()),
        ]),
        Augment::Crop(h, w) => e.extend([("height", json!(h)), ("width", json!(w)), ("seed", seed.clone())]),
    }
    for (k, v) in &c.raw {
        if let Some(slot) = e.iter_mut().find(|(key, _)| key == k) {
            slot.1 = v.clone();
        }
    }
    Value::Object(core.config_with(None, e))
}
