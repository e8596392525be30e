//! Layers that move values without weights: `ZeroPadding2D`, `Cropping2D`, `Flatten`,
//! `Reshape` (one `-1` allowed) and `Permute` (1-based `dims`, as Keras).
//!
//! Shapes: `ZeroPadding2D`: `(n, h, w, c)` → `(n, t + h + b, l + w + r, c)`; `Cropping2D`:
//! `(n, h − t − b, w − l − r, c)`; `Flatten`: `(n, ∏rest)` (a `channels_first` input is made
//! channels-last first, as Keras does); `Reshape(target)`: `(n, *target)`; `Permute(dims)`:
//! axis `i` of the output is input axis `dims[i]` (batch excluded). Unknown sizes stay `None`.
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

use super::conv_args::*;
use super::pooling::no_weights;
use super::{CallCtx, Layer, LayerConfig, Weight};
use crate::config::{dtype_policy, short, ConfigReader};
use crate::error::{arg_error, shape_error, Result};
use crate::kshape::{format_shape, Shape};
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
        let bad = || arg_error(&r.layer, key, "an int, a tuple of 2 ints or a tuple of 2 tuples of 2 ints", r.get(key).map_or("None".into(), short));
        let num = |v: &Value| v.as_u64().map(|x| x as usize).ok_or_else(bad);
        let pair = |v: &Value| match v.as_array().map(Vec::as_slice) {
            Some([a, b]) => Ok((num(a)?, num(b)?)),
            _ => Err(bad()),
        };
        match r.get(key) {
            None => Ok(None),
            Some(v @ Value::Number(_)) => Ok(Some(Sides::from(num(v)?))),
            Some(Value::Array(a)) if a.len() == 2 && a.iter().all(Value::is_number) => Ok(Some(Sides::from((num(&a[0])?, num(&a[1])?)))),
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
        Border2DConfig { kind: BorderKind::Pad, name: None, trainable: true, sides: padding.into(), data_format: "channels_last".into() }
    }
}

impl Cropping2D {
    /// `Cropping2D(cropping)` (Keras's default is 0).
    #[allow(clippy::new_ret_no_self)]
    pub fn new(cropping: impl Into<Sides>) -> Border2DConfig {
        Border2DConfig { kind: BorderKind::Crop, name: None, trainable: true, sides: cropping.into(), data_format: "channels_last".into() }
    }
}

impl Border2DConfig {
    setters!(data_format: String);
    plain_setters!(trainable: bool);
    opt_setters!(name: String);

    fn key(&self) -> &'static str {
        if self.kind == BorderKind::Pad { "padding" } else { "cropping" }
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
    name: String,
    kind: BorderKind,
    sides: Sides,
    data_format: DataFormat,
    trainable: bool,
}

impl Border2D {
    fn axis(&self, size: Option<usize>, (a, b): (usize, usize), label: &str) -> Result<Option<usize>> {
        match (size, self.kind) {
            (None, _) => Ok(None),
            (Some(n), BorderKind::Pad) => Ok(Some(a + n + b)),
            (Some(n), BorderKind::Crop) if a + b < n => Ok(Some(n - a - b)),
            (Some(n), BorderKind::Crop) => Err(shape_error(
                &self.name,
                format!("cropping {a} + {b} from {label} {n} leaves nothing: `cropping` must be smaller than the input's {label}"),
            )),
        }
    }

    fn output(&self, input: &[Option<usize>]) -> Result<Shape> {
        let [n, h, w, c] = self.data_format.split(&self.name, input)?;
        let oh = self.axis(h, self.sides.0, "height")?;
        let ow = self.axis(w, self.sides.1, "width")?;
        Ok(self.data_format.join([n, oh, ow, c]))
    }
}

impl LayerConfig for Border2DConfig {
    fn class_name(&self) -> &'static str {
        if self.kind == BorderKind::Pad { "ZeroPadding2D" } else { "Cropping2D" }
    }
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    fn set_name(&mut self, name: String) {
        self.name = Some(name);
    }
    fn build(&self, name: &str, inputs: &[Shape], _rng: &mut Rng) -> Result<Box<dyn Layer>> {
        let data_format = DataFormat::parse(name, &self.data_format)?;
        let layer = Border2D { name: name.to_string(), kind: self.kind, sides: self.sides, data_format, trainable: self.trainable };
        layer.output(single(name, inputs)?)?;
        Ok(Box::new(layer))
    }
}

impl Layer for Border2D {
    no_weights!();
    fn class_name(&self) -> &str {
        if self.kind == BorderKind::Pad { "ZeroPadding2D" } else { "Cropping2D" }
    }
    fn compute_output_shape(&self, inputs: &[Shape]) -> Result<Vec<Shape>> {
        Ok(vec![self.output(single(&self.name, inputs)?)?])
    }
    fn call(&self, ctx: &mut CallCtx, inputs: &[Var], weights: &[Var]) -> Result<Vec<Var>> {
        let x = single_var(&self.name, inputs, weights, 0)?;
        let ((t, b), (l, r)) = (self.sides.0, self.sides.1);
        let err = engine_err(&self.name);
        let y = match (self.kind, self.data_format) {
            (BorderKind::Pad, DataFormat::ChannelsLast) => ctx.tape.zero_pad2d(x, t, b, l, r),
            (BorderKind::Pad, DataFormat::ChannelsFirst) => ctx.tape.pad(x, &[(0, 0), (0, 0), (t, b), (l, r)], 0.0),
            (BorderKind::Crop, DataFormat::ChannelsLast) => ctx.tape.crop2d(x, t, b, l, r),
            (BorderKind::Crop, DataFormat::ChannelsFirst) => {
                let s = ctx.tape.try_value(x).map_err(&err)?.shape().to_vec();
                if s.len() != 4 || t + b >= s[2] || l + r >= s[3] {
                    return Err(shape_error(&self.name, format!("cannot crop {:?} from input of shape {s:?}", self.sides)));
                }
                ctx.tape.slice(x, &[0, 0, t, l], &[s[0], s[1], s[2] - b, s[3] - r])
            }
        };
        Ok(vec![y.map_err(&err)?])
    }
    fn config(&self) -> Value {
        let key = if self.kind == BorderKind::Pad { "padding" } else { "cropping" };
        let mut v = json!({ "name": self.name, "trainable": self.trainable, "dtype": dtype_policy() });
        v[key] = self.sides.to_json();
        v["data_format"] = json!(self.data_format.name());
        v
    }
    fn explain(&self, inputs: &[Shape]) -> Vec<String> {
        let Some(Ok([_, h, w, _])) = inputs.first().map(|x| self.data_format.split(&self.name, x)) else { return Vec::new() };
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

/// What a `Flatten`, `Reshape` or `Permute` does.
#[derive(Debug, Clone, PartialEq)]
pub enum ShapeOp {
    /// `Flatten(data_format)`.
    Flatten(String),
    /// `Reshape(target_shape)`, at most one `-1`.
    Reshape(Vec<i64>),
    /// `Permute(dims)`, 1-based.
    Permute(Vec<usize>),
}

/// `Flatten` / `Reshape` / `Permute` arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapeOpConfig {
    /// The operation and its argument.
    pub op: ShapeOp,
    /// Name; automatic (`flatten`, `reshape`, `permute`, …) when `None`.
    pub name: Option<String>,
    /// Keras's `trainable` flag (no weights).
    pub trainable: bool,
}

/// Keras's `Flatten`: its constructor.
pub struct Flatten;
/// Keras's `Reshape`: its constructor.
pub struct Reshape;
/// Keras's `Permute`: its constructor.
pub struct Permute;

impl Flatten {
    /// `Flatten()`.
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> ShapeOpConfig {
        ShapeOpConfig { op: ShapeOp::Flatten("channels_last".into()), name: None, trainable: true }
    }
}

impl Reshape {
    /// `Reshape(target_shape)`, without the batch; one entry may be `-1`.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(target_shape: &[i64]) -> ShapeOpConfig {
        ShapeOpConfig { op: ShapeOp::Reshape(target_shape.to_vec()), name: None, trainable: true }
    }
}

impl Permute {
    /// `Permute(dims)`: 1-based axes, the batch excluded (`Permute(&[2, 1])` swaps two axes).
    #[allow(clippy::new_ret_no_self)]
    pub fn new(dims: &[usize]) -> ShapeOpConfig {
        ShapeOpConfig { op: ShapeOp::Permute(dims.to_vec()), name: None, trainable: true }
    }
}

impl ShapeOpConfig {
    opt_setters!(name: String);

    /// `Flatten`'s `data_format`.
    pub fn data_format(mut self, data_format: &str) -> Self {
        if let ShapeOp::Flatten(d) = &mut self.op {
            *d = data_format.to_string();
        }
        self
    }

    /// Reads a Keras 3 or tf-keras 2 config; the class name picks the operation.
    pub fn from_keras(r: &ConfigReader) -> Result<ShapeOpConfig> {
        r.check_dtype()?;
        let op = match r.class_name {
            "Reshape" => ShapeOp::Reshape(r.ints("target_shape")?.ok_or_else(|| r.missing("target_shape"))?),
            "Permute" => {
                let dims = r.ints("dims")?.ok_or_else(|| r.missing("dims"))?;
                ShapeOp::Permute(dims.iter().map(|&d| d.max(0) as usize).collect())
            }
            _ => ShapeOp::Flatten(read_data_format(r)?),
        };
        let c = ShapeOpConfig { op, name: r.name(), trainable: r.trainable()? };
        c.check(&r.layer)?;
        Ok(c)
    }

    fn check(&self, layer: &str) -> Result<()> {
        match &self.op {
            ShapeOp::Flatten(d) => DataFormat::parse(layer, d).map(|_| ()),
            ShapeOp::Reshape(t) => {
                if t.iter().filter(|&&d| d == -1).count() > 1 || t.iter().any(|&d| d < -1) {
                    return Err(arg_error(layer, "target_shape", "non-negative sizes with at most one -1", format!("{t:?}")));
                }
                Ok(())
            }
            ShapeOp::Permute(dims) => {
                let mut sorted = dims.clone();
                sorted.sort_unstable();
                if sorted != (1..=dims.len()).collect::<Vec<_>>() {
                    return Err(arg_error(layer, "dims", format!("a permutation of 1..={} (consecutive, starting from 1)", dims.len()), format!("{dims:?}")));
                }
                Ok(())
            }
        }
    }
}

/// A built `Flatten`, `Reshape` or `Permute`.
#[derive(Debug, Clone)]
pub struct ShapeOpLayer {
    name: String,
    op: ShapeOp,
    trainable: bool,
}

impl ShapeOpLayer {
    fn output(&self, input: &[Option<usize>]) -> Result<Shape> {
        let Some((&n, rest)) = input.split_first() else {
            return Err(shape_error(&self.name, "expected an input with a batch axis, received a scalar shape ()"));
        };
        let count = rest.iter().try_fold(1usize, |acc, d| d.map(|d| acc * d));
        match &self.op {
            ShapeOp::Flatten(_) => Ok(vec![n, count]),
            ShapeOp::Reshape(target) => {
                let known: usize = target.iter().filter(|&&d| d >= 0).map(|&d| d as usize).product();
                let has_unknown = target.contains(&-1);
                let resolved = match count {
                    Some(total) if has_unknown && (known == 0 || total % known != 0) => None,
                    Some(total) if !has_unknown && total != known => None,
                    Some(total) => Some(total / known.max(1)),
                    None => Some(0),
                };
                let Some(fill) = resolved else {
                    return Err(shape_error(
                        &self.name,
                        format!("the total size must be unchanged: input shape {} cannot be reshaped to target_shape {target:?}", format_shape(input)),
                    ));
                };
                let dims = target.iter().map(|&d| if d == -1 { count.map(|_| fill) } else { Some(d as usize) });
                Ok(std::iter::once(n).chain(dims).collect())
            }
            ShapeOp::Permute(dims) => {
                if rest.len() != dims.len() {
                    return Err(shape_error(
                        &self.name,
                        format!("dims {dims:?} permute {} axes, the input shape {} has {}", dims.len(), format_shape(input), rest.len()),
                    ));
                }
                Ok(std::iter::once(n).chain(dims.iter().map(|&d| input[d])).collect())
            }
        }
    }
}

impl LayerConfig for ShapeOpConfig {
    fn class_name(&self) -> &'static str {
        match self.op {
            ShapeOp::Flatten(_) => "Flatten",
            ShapeOp::Reshape(_) => "Reshape",
            ShapeOp::Permute(_) => "Permute",
        }
    }
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    fn set_name(&mut self, name: String) {
        self.name = Some(name);
    }
    fn build(&self, name: &str, inputs: &[Shape], _rng: &mut Rng) -> Result<Box<dyn Layer>> {
        self.check(name)?;
        let mut op = self.op.clone();
        if let ShapeOp::Flatten(d) = &mut op {
            *d = DataFormat::parse(name, d)?.name().to_string();
        }
        let layer = ShapeOpLayer { name: name.to_string(), op, trainable: self.trainable };
        layer.output(single(name, inputs)?)?;
        Ok(Box::new(layer))
    }
}

impl Layer for ShapeOpLayer {
    no_weights!();
    fn class_name(&self) -> &str {
        match self.op {
            ShapeOp::Flatten(_) => "Flatten",
            ShapeOp::Reshape(_) => "Reshape",
            ShapeOp::Permute(_) => "Permute",
        }
    }
    fn compute_output_shape(&self, inputs: &[Shape]) -> Result<Vec<Shape>> {
        Ok(vec![self.output(single(&self.name, inputs)?)?])
    }
    fn call(&self, ctx: &mut CallCtx, inputs: &[Var], weights: &[Var]) -> Result<Vec<Var>> {
        let x = single_var(&self.name, inputs, weights, 0)?;
        let err = engine_err(&self.name);
        let shape = ctx.tape.try_value(x).map_err(&err)?.shape().to_vec();
        let rank = shape.len();
        let y = match &self.op {
            ShapeOp::Flatten(d) => {
                // Keras moves the channels last before flattening a channels_first input.
                let x = if d == "channels_first" && rank > 2 {
                    let perm: Vec<usize> = std::iter::once(0).chain(2..rank).chain(std::iter::once(1)).collect();
                    ctx.tape.transpose(x, &perm).map_err(&err)?
                } else {
                    x
                };
                ctx.tape.flatten(x)
            }
            ShapeOp::Reshape(target) => {
                let t: Vec<isize> = target.iter().map(|&d| d as isize).collect();
                let per: usize = shape.iter().skip(1).product();
                let dims = tensor::ops::shape_ops::resolve_shape("reshape", per, &t).map_err(&err)?;
                let full: Vec<usize> = std::iter::once(shape.first().copied().unwrap_or(1)).chain(dims).collect();
                ctx.tape.reshape(x, &full)
            }
            ShapeOp::Permute(dims) => {
                let perm: Vec<usize> = std::iter::once(0).chain(dims.iter().copied()).collect();
                ctx.tape.transpose(x, &perm)
            }
        };
        Ok(vec![y.map_err(&err)?])
    }
    fn config(&self) -> Value {
        let mut v = json!({ "name": self.name, "trainable": self.trainable, "dtype": dtype_policy() });
        match &self.op {
            ShapeOp::Flatten(d) => v["data_format"] = json!(d),
            ShapeOp::Reshape(t) => v["target_shape"] = json!(t),
            ShapeOp::Permute(d) => v["dims"] = json!(d),
        }
        v
    }
    fn explain(&self, inputs: &[Shape]) -> Vec<String> {
        let Some(input) = inputs.first() else { return Vec::new() };
        let dims: Option<Vec<usize>> = input.iter().skip(1).copied().collect();
        match (&self.op, dims, self.output(input)) {
            (ShapeOp::Flatten(_), Some(d), _) if d.len() > 1 => {
                let parts: Vec<String> = d.iter().map(usize::to_string).collect();
                vec![format!("{} = {}", parts.join("·"), crate::explain::thousands(d.iter().product::<usize>() as u64))]
            }
            (ShapeOp::Reshape(t), Some(d), Ok(out)) if t.contains(&-1) => {
                let total: usize = d.iter().product();
                let known: Vec<String> = t.iter().filter(|&&v| v >= 0).map(|v| v.to_string()).collect();
                let i = t.iter().position(|&v| v == -1).unwrap_or(0);
                let fill = out.get(i + 1).copied().flatten().unwrap_or(0);
                vec![format!("-1 = {total}/({}) = {fill}", if known.is_empty() { "1".to_string() } else { known.join("·") })]
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
#[path = "reshaping_tests.rs"]
mod tests;
