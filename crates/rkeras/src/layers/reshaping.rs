//! Layers that move values without weights: `ZeroPadding2D`, `Cropping2D`, `Flatten`,
//! `Reshape` (one `-1` allowed) and `Permute` (1-based `dims`, as Keras).
//!
//! Shapes: `ZeroPadding2D`: `(n, h, w, c)` → `(n, t + h + b, l + w + r, c)`; `Cropping2D`:
//! `(n, h − t − b, w − l − r, c)`; `Flatten`: `(n, ∏rest)` (a `channels_first` input is made
//! channels-last first, as Keras does); `Reshape(target)`: `(n, *target)`; `Permute(dims)`:
//! axis `i` of the output is input axis `dims[i]` (batch excluded). Unknown sizes stay `None`.
//! `Flatten`, `Reshape` and `Permute` live in the child module `reshape.rs`, re-exported here.
//!
//! ```
//! use rkeras::prelude::*;
//! clear_session();
//! let x = Input(&[4, 4, 3]).unwrap();
//! let p = ZeroPadding2D::new(((1, 2), (0, 1))).call(&x).unwrap();
//! assert_eq!(p.shape(), &vec![None, Some(7), Some(5), Some(3)]);
//! let r = Reshape::new(&[-1, 3]).call(&x).unwrap();
//! assert_eq!(r.shape(), &vec![None, Some(16), Some(3)]);
//! assert_eq!(Flatten::new().call(&x).unwrap().shape(), &vec![None, Some(48)]);
//! ```

use super::common::{config_name, layer_core, opt_setters, plain_setters, setters, LayerCore};
use super::conv_args::*;
use super::{CallCtx, Layer, LayerConfig};
use crate::config::{short, ConfigReader};
use crate::error::{arg_error, shape_error, Result};
use crate::kshape::Shape;
use crate::model::plan::InferenceOp;
use serde_json::{json, Value};
use tensor::{Rng, Var};

/// Padding or cropping of the two spatial axes: `((top, bottom), (left, right))`. From an int
/// (all four), a pair `(h, w)` (symmetric per axis) or the full nesting, as Keras takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sides(pub (usize, usize), pub (usize, usize));

impl From<usize> for Sides {
    fn from(v: usize) -> Sides {
        Sides((v, v), (v, v))
    }
}

impl From<(usize, usize)> for Sides {
    fn from((h, w): (usize, usize)) -> Sides {
        Sides((h, h), (w, w))
    }
}

impl From<((usize, usize), (usize, usize))> for Sides {
    fn from((a, b): ((usize, usize), (usize, usize))) -> Sides {
        Sides(a, b)
    }
}

impl Sides {
    fn to_json(self) -> Value {
        json!([[self.0 .0, self.0 .1], [self.1 .0, self.1 .1]])
    }

    fn read(r: &ConfigReader, key: &str) -> Result<Option<Sides>> {
        let bad = || {
            arg_error(
                &r.layer,
                key,
                "an int, a tuple of 2 ints or a tuple of 2 tuples of 2 ints",
                r.get(key).map_or("None".into(), short),
            )
        };
        let num = |v: &Value| v.as_u64().map(|x| x as usize).ok_or_else(bad);
        let pair = |v: &Value| match v.as_array().map(Vec::as_slice) {
            Some([a, b]) => Ok((num(a)?, num(b)?)),
            _ => Err(bad()),
        };
        match r.get(key) {
            None => Ok(None),
            Some(v @ Value::Number(_)) => Ok(Some(Sides::from(num(v)?))),
            Some(Value::Array(a)) if a.len() == 2 && a.iter().all(Value::is_number) => {
                Ok(Some(Sides::from((num(&a[0])?, num(&a[1])?))))
            }
            Some(Value::Array(a)) if a.len() == 2 => Ok(Some(Sides(pair(&a[0])?, pair(&a[1])?))),
            Some(_) => Err(bad()),
        }
    }
}

/// Whether a layer pads or crops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BorderKind {
    /// `ZeroPadding2D`.
    Pad,
    /// `Cropping2D`.
    Crop,
}

/// `ZeroPadding2D(padding)` / `Cropping2D(cropping)` arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct Border2DConfig {
    /// Pad or crop.
    pub kind: BorderKind,
    /// Name; automatic (`zero_padding2d`, `cropping2d`, …) when `None`.
    pub name: Option<String>,
    /// Keras's `trainable` flag (no weights).
    pub trainable: bool,
    /// `padding` / `cropping`.
    pub sides: Sides,
    /// `"channels_last"` (default) or `"channels_first"`.
    pub data_format: String,
}

/// Keras's `ZeroPadding2D`: its constructor.
pub struct ZeroPadding2D;

/// Keras's `Cropping2D`: its constructor.
pub struct Cropping2D;

impl ZeroPadding2D {
    /// `ZeroPadding2D(padding)` (Keras's default is 1).
    #[allow(clippy::new_ret_no_self)]
    pub fn new(padding: impl Into<Sides>) -> Border2DConfig {
        Border2DConfig {
            kind: BorderKind::Pad,
            name: None,
            trainable: true,
            sides: padding.into(),
            data_format: "channels_last".into(),
        }
    }
}

impl Cropping2D {
    /// `Cropping2D(cropping)` (Keras's default is 0).
    #[allow(clippy::new_ret_no_self)]
    pub fn new(cropping: impl Into<Sides>) -> Border2DConfig {
        Border2DConfig {
            kind: BorderKind::Crop,
            name: None,
            trainable: true,
            sides: cropping.into(),
            data_format: "channels_last".into(),
        }
    }
}

impl Border2DConfig {
    setters!(data_format: String);
    plain_setters!(trainable: bool);
    opt_setters!(name: String);

    fn key(&self) -> &'static str {
        if self.kind == BorderKind::Pad {
            "padding"
        } else {
            "cropping"
        }
    }

    /// Reads a Keras 3 or tf-keras 2 config; the class name picks padding or cropping.
    pub fn from_keras(r: &ConfigReader) -> Result<Border2DConfig> {
        r.check_dtype()?;
        let pad = r.class_name == "ZeroPadding2D";
        let mut c = if pad { ZeroPadding2D::new(1) } else { Cropping2D::new(0) };
        c.sides = Sides::read(r, c.key())?.unwrap_or(c.sides);
        c.name = r.name();
        c.trainable = r.trainable()?;
        c.data_format = read_data_format(r)?;
        Ok(c)
    }
}

/// A built `ZeroPadding2D` or `Cropping2D`.
#[derive(Debug, Clone)]
pub struct Border2D {
    core: LayerCore,
    kind: BorderKind,
    sides: Sides,
    data_format: DataFormat,
}

impl Border2D {
    fn axis(&self, size: Option<usize>, (a, b): (usize, usize), label: &str) -> Result<Option<usize>> {
        match (size, self.kind) {
            (None, _) => Ok(None),
            (Some(n), BorderKind::Pad) => Ok(Some(a + n + b)),
            (Some(n), BorderKind::Crop) if a + b < n => Ok(Some(n - a - b)),
            (Some(n), BorderKind::Crop) => Err(shape_error(
                &self.core.name,
                format!("cropping {a} + {b} from {label} {n} leaves nothing: `cropping` must be smaller than the input's {label}"),
            )),
        }
    }

    fn output(&self, input: &[Option<usize>]) -> Result<Shape> {
        let [n, h, w, c] = self.data_format.split(&self.core.name, input)?;
        let oh = self.axis(h, self.sides.0, "height")?;
        let ow = self.axis(w, self.sides.1, "width")?;
        Ok(self.data_format.join([n, oh, ow, c]))
    }
}

impl LayerConfig for Border2DConfig {
    fn class_name(&self) -> &'static str {
        if self.kind == BorderKind::Pad {
            "ZeroPadding2D"
        } else {
            "Cropping2D"
        }
    }
    config_name!();
    fn build(&self, name: &str, inputs: &[Shape], _rng: &mut Rng) -> Result<Box<dyn Layer>> {
        let data_format = DataFormat::parse(name, &self.data_format)?;
        let layer = Border2D {
            core: LayerCore::new(name, self.trainable, Vec::new()),
            kind: self.kind,
            sides: self.sides,
            data_format,
        };
        layer.output(single(name, inputs)?)?;
        Ok(Box::new(layer))
    }
}

impl Layer for Border2D {
    layer_core!();
    fn inference_op(&self) -> Option<InferenceOp> {
        (self.kind == BorderKind::Pad && self.data_format == DataFormat::ChannelsLast)
            .then_some(InferenceOp::ZeroPad(self.sides.0, self.sides.1))
    }
    fn class_name(&self) -> &str {
        if self.kind == BorderKind::Pad {
            "ZeroPadding2D"
        } else {
            "Cropping2D"
        }
    }
    fn compute_output_shape(&self, inputs: &[Shape]) -> Result<Vec<Shape>> {
        Ok(vec![self.output(single(&self.core.name, inputs)?)?])
    }
    fn call(&self, ctx: &mut CallCtx, inputs: &[Var], weights: &[Var]) -> Result<Vec<Var>> {
        let x = self.core.input(inputs, weights)?;
        let ((t, b), (l, r)) = (self.sides.0, self.sides.1);
        let err = engine_err(&self.core.name);
        let y = match (self.kind, self.data_format) {
            (BorderKind::Pad, DataFormat::ChannelsLast) => ctx.tape.zero_pad2d(x, t, b, l, r),
            (BorderKind::Pad, DataFormat::ChannelsFirst) => ctx.tape.pad(x, &[(0, 0), (0, 0), (t, b), (l, r)], 0.0),
            (BorderKind::Crop, DataFormat::ChannelsLast) => ctx.tape.crop2d(x, t, b, l, r),
            (BorderKind::Crop, DataFormat::ChannelsFirst) => {
                let s = ctx.tape.try_value(x).map_err(&err)?.shape().to_vec();
                if s.len() != 4 || t + b >= s[2] || l + r >= s[3] {
                    return Err(shape_error(
                        &self.core.name,
                        format!("cannot crop {:?} from input of shape {s:?}", self.sides),
                    ));
                }
                ctx.tape.slice(x, &[0, 0, t, l], &[s[0], s[1], s[2] - b, s[3] - r])
            }
        };
        Ok(vec![y.map_err(&err)?])
    }
    fn config(&self) -> Value {
        let key = if self.kind == BorderKind::Pad {
            "padding"
        } else {
            "cropping"
        };
        let entries = [
            (key, self.sides.to_json()),
            ("data_format", json!(self.data_format.name())),
        ];
        Value::Object(self.core.config_with(None, entries))
    }
    fn explain(&self, inputs: &[Shape]) -> Vec<String> {
        let Some(Ok([_, h, w, _])) = inputs.first().map(|x| self.data_format.split(&self.core.name, x)) else {
            return Vec::new();
        };
        let mut lines = Vec::new();
        for (label, size, (a, b)) in [("H", h, self.sides.0), ("W", w, self.sides.1)] {
            if let (Some(n), Ok(Some(o))) = (size, self.axis(size, (a, b), label)) {
                lines.push(match self.kind {
                    BorderKind::Pad => format!("{label}: {a} + {n} + {b} = {o}"),
                    BorderKind::Crop => format!("{label}: {n} − {a} − {b} = {o}"),
                });
            }
        }
        lines
    }
}

#[path = "reshape.rs"]
mod reshape;
pub use reshape::{Flatten, Permute, Reshape, ShapeOp, ShapeOpConfig, ShapeOpLayer};

#[cfg(test)]
#[path = "reshaping_tests.rs"]
mod tests;
