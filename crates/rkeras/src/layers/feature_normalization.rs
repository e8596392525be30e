//! `Normalization(axis=-1, mean=None, variance=None, invert=False)`, Keras's preprocessing
//! layer: `(x − mean) / max(√variance, 1e-7)` with one mean and variance per position of the
//! kept `axis` (the other axes, batch included, are reduced), or `mean + x·max(√variance,
//! 1e-7)` with `invert`. Shape unchanged.
//!
//! Two ways to get the statistics, as in Keras: given as `mean`/`variance` arguments (kept in
//! the config, no weights), or learned by `adapt` from an array, from batches or from a dataset
//! (`adapt_batches`, `adapt_dataset`: streamed, labels ignored; see [`adapt`]). Then,
//! as Keras stores them, the layer has three non-trainable weights `mean`, `variance`
//! (shape = the kept axes' sizes) and `count` (a scalar Keras keeps for old files).
//!
//! ```
//! use rkeras::prelude::*;
//! use rkeras::layers::feature_normalization::Normalization;
//! clear_session();
//! let data = rkeras::prelude::Tensor::new(&[2, 2], vec![1.0, 10.0, 3.0, 30.0]).unwrap();
//! let mut norm = Normalization::new();
//! norm.adapt(&data).unwrap();
//! assert_eq!(norm.adapted.as_ref().unwrap().0, vec![2.0, 20.0]);
//! let x = Input(&[2]).unwrap();
//! let y = norm.call(&x).unwrap();
//! assert_eq!(y.shape(), x.shape());
//! ```

use super::common::{config_name, layer_core, opt_setters, single, LayerCore};
use super::{CallCtx, Layer, LayerConfig, Weight};
use crate::config::{short, ConfigReader};
use crate::error::{arg_error, in_layer, shape_error, KerasError, Result};
use crate::kshape::{format_shape, Shape};
use serde_json::{json, Value};
use tensor::{Rng, Tensor, Var};

/// Keras's `backend.epsilon()`, the smallest standard deviation divided by.
const EPSILON: f32 = 1e-7;

/// `mean` or `variance` given as an argument: its values (row-major) and NumPy shape
/// (`[]` for a number).
#[derive(Debug, Clone, PartialEq)]
pub struct Stat {
    /// The values.
    pub values: Vec<f64>,
    /// The array's shape (`[]` for a scalar).
    pub shape: Vec<usize>,
}

impl Stat {
    fn to_json(&self) -> Value {
        fn nest(v: &[f64], shape: &[usize]) -> Value {
            match shape.split_first() {
                None => json!(v.first().copied().unwrap_or(0.0)),
                Some((&n, rest)) => {
                    let step = rest.iter().product::<usize>().max(1);
                    Value::Array((0..n).map(|i| nest(&v[i * step..(i + 1) * step], rest)).collect())
                }
            }
        }
        nest(&self.values, &self.shape)
    }

    /// A number or (nested) list of numbers, or Keras 3's serialized NumPy array.
    fn from_json(layer: &str, arg: &str, v: &Value) -> Result<Stat> {
        let bad = || arg_error(layer, arg, "a number or a (nested) list of numbers", short(v));
        fn walk(v: &Value, depth: usize, shape: &mut Vec<usize>, out: &mut Vec<f64>) -> Option<()> {
            match v {
                Value::Number(n) => {
                    if depth != shape.len() {
                        return None;
                    }
                    out.push(n.as_f64()?);
                    Some(())
                }
                Value::Array(a) => {
                    if depth == shape.len() {
                        if !out.is_empty() {
                            return None;
                        }
                        shape.push(a.len());
                    } else if shape.get(depth) != Some(&a.len()) {
                        return None;
                    }
                    a.iter().try_for_each(|x| walk(x, depth + 1, shape, out))
                }
                _ => None,
            }
        }
        let v = match v {
            Value::Object(o) => o.get("config").and_then(|c| c.get("value")).ok_or_else(bad)?,
            other => other,
        };
        let (mut shape, mut values) = (Vec::new(), Vec::new());
        walk(v, 0, &mut shape, &mut values).ok_or_else(bad)?;
        Ok(Stat { values, shape })
    }
}

/// `Normalization(axis=-1, mean=None, variance=None, invert=False)`.
#[derive(Debug, Clone, PartialEq)]
pub struct NormalizationConfig {
    /// Name; automatic (`normalization`, …) when `None`.
    pub name: Option<String>,
    /// Keras's flag (its weights are never trainable).
    pub trainable: bool,
    /// The kept axes (one mean and variance per position); empty (`axis=None`) for a single
    /// mean and variance.
    pub axis: Vec<isize>,
    /// The mean, when given as an argument (then `variance` is given too).
    pub mean: Option<Stat>,
    /// The variance, when given as an argument.
    pub variance: Option<Stat>,
    /// Undo the normalization instead: `mean + x·√variance`.
    pub invert: bool,
    /// Statistics learned by [`NormalizationConfig::adapt`] (mean, variance, over the kept
    /// axes' shape): the built layer's weights start from them. Not part of the config, as
    /// in Keras, where they are weights.
    pub adapted: Option<(Vec<f32>, Vec<f32>, Vec<usize>)>,
}

/// A built `Normalization` layer.
#[derive(Debug, Clone)]
pub struct Normalization {
    core: LayerCore,
    config: NormalizationConfig,
    /// Kept axes counted from the front, sorted.
    keep: Vec<usize>,
    input_shape: Shape,
}

impl Normalization {
    /// `Normalization()`: the last axis kept, statistics to adapt.
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> NormalizationConfig {
        NormalizationConfig {
            name: None,
            trainable: true,
            axis: vec![-1],
            mean: None,
            variance: None,
            invert: false,
            adapted: None,
        }
    }

    /// The mean and variance the layer normalizes with, over the kept axes' shape.
    pub fn statistics(&self) -> (Vec<f32>, Vec<f32>) {
        match (&self.config.mean, &self.config.variance) {
            (Some(m), Some(v)) => (
                m.values.iter().map(|&x| x as f32).collect(),
                v.values.iter().map(|&x| x as f32).collect(),
            ),
            _ => (
                self.core.weights[0].value.data().to_vec(),
                self.core.weights[1].value.data().to_vec(),
            ),
        }
    }
}

/// Kept axes counted from the front for a rank, sorted, checked as Keras's `build`.
pub(crate) fn keep_axes(layer: &str, axis: &[isize], input: &[Option<usize>]) -> Result<Vec<usize>> {
    let rank = input.len() as isize;
    let mut keep = Vec::with_capacity(axis.len());
    for &a in axis {
        if a < -rank || a >= rank {
            return Err(arg_error(
                layer,
                "axis",
                format!(
                    "axes in the range [-ndim, ndim) (All `axis` values must be in the range [-ndim, ndim); inputs have ndim={rank})"
                ),
                format!("{axis:?}"),
            ));
        }
        let d = if a < 0 { a + rank } else { a } as usize;
        if input[d].is_none() {
            return Err(arg_error(
                layer,
                "axis",
                format!(
                    "axes to be kept with a known size (inputs.shape={}, unknown axis at index {d})",
                    format_shape(input)
                ),
                format!("{axis:?}"),
            ));
        }
        keep.push(d);
    }
    keep.sort_unstable();
    keep.dedup();
    Ok(keep)
}

impl NormalizationConfig {
    opt_setters!(name: String);

    /// The kept axes (`&[]` for Keras's `axis=None`).
    pub fn axis(mut self, axis: &[isize]) -> Self {
        self.axis = axis.to_vec();
        self
    }

    /// `invert=True`.
    pub fn invert(mut self, invert: bool) -> Self {
        self.invert = invert;
        self
    }

    /// `mean=…, variance=…` given as numbers per kept position (1-D lists; one value each for
    /// a scalar).
    pub fn mean_variance(mut self, mean: &[f64], variance: &[f64]) -> Self {
        let stat = |v: &[f64]| Stat {
            values: v.to_vec(),
            shape: if v.len() == 1 { vec![] } else { vec![v.len()] },
        };
        self.mean = Some(stat(mean));
        self.variance = Some(stat(variance));
        self
    }

    /// Checks `mean` and `variance` as Keras's constructor does.
    pub fn validate(&self, layer: &str) -> Result<()> {
        match (&self.mean, &self.variance) {
            (None, None) => Ok(()),
            (Some(m), Some(v)) if m.shape != v.shape => Err(arg_error(
                layer,
                "variance",
                format!(
                    "the shape of `mean` (When setting values directly, `mean` and `variance` must have the same shape; mean shape {:?})",
                    m.shape
                ),
                format!("variance shape {:?}", v.shape),
            )),
            (Some(m), Some(_)) if m.shape.len() > self.axis.len() => Err(arg_error(
                layer,
                "mean",
                format!(
                    "a rank less than or equal to the number of axes ({}) for axis {:?}",
                    self.axis.len(),
                    self.axis
                ),
                format!("mean shape {:?}", m.shape),
            )),
            (Some(_), Some(v)) if v.values.iter().any(|x| *x < 0.0 || !x.is_finite()) => Err(arg_error(
                layer,
                "variance",
                "non-negative finite values",
                format!("{:?}", v.values),
            )),
            (Some(_), Some(_)) => Ok(()),
            (m, _) => Err(KerasError::Invalid(format!(
                "{layer}: When setting values directly, both `mean` and `variance` must be set. Received: mean={} and variance={}",
                if m.is_some() { "[…]" } else { "None" },
                if m.is_some() { "None" } else { "[…]" }
            ))),
        }
    }

    /// Reads a Keras 3 or tf-keras 2 `Normalization` config (`axis`: an int, a list, or null).
    pub fn from_keras(r: &ConfigReader) -> Result<NormalizationConfig> {
        r.check_dtype()?;
        let mut c = Normalization::new();
        c.name = r.name();
        c.trainable = r.trainable()?;
        c.axis = match r.get("axis") {
            None => vec![-1],
            Some(Value::Null) => vec![],
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_i64()
                        .map(|x| x as isize)
                        .ok_or_else(|| arg_error(&r.layer, "axis", "integers", short(v)))
                })
                .collect::<Result<_>>()?,
            Some(_) => vec![r.isize("axis")?.unwrap_or(-1)],
        };
        c.invert = r.bool("invert")?.unwrap_or(false);
        let stat = |key: &str| match r.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => Stat::from_json(&r.layer, key, v).map(Some),
        };
        c.mean = stat("mean")?;
        c.variance = stat("variance")?;
        c.validate(&r.layer)?;
        Ok(c)
    }
}

impl LayerConfig for NormalizationConfig {
    config_name!("Normalization");
    fn build(&self, name: &str, inputs: &[Shape], _rng: &mut Rng) -> Result<Box<dyn Layer>> {
        self.validate(name)?;
        let input = single(name, inputs)?;
        let keep = keep_axes(name, &self.axis, input)?;
        let shape: Vec<usize> = keep.iter().filter_map(|&a| input[a]).collect();
        let count: usize = shape.iter().product();
        if let Some(m) = &self.mean {
            // Keras broadcasts the given values onto the kept axes from the right.
            let fits = m
                .shape
                .iter()
                .rev()
                .zip(shape.iter().rev())
                .all(|(a, b)| a == b || *a == 1);
            if !fits {
                return Err(arg_error(
                    name,
                    "mean",
                    format!("values broadcastable to the kept axes' shape {shape:?}"),
                    format!("mean shape {:?}", m.shape),
                ));
            }
        }
        let weights = if self.mean.is_some() {
            Vec::new()
        } else {
            let (mean, var) = match &self.adapted {
                Some((m, v, s)) if *s == shape => (m.clone(), v.clone()),
                Some((_, _, s)) => {
                    return Err(shape_error(
                        name,
                        format!(
                            "adapted on data whose kept axes have shape {s:?}, but built for input shape {} (kept axes {shape:?})",
                            format_shape(input)
                        ),
                    ))
                }
                None => (vec![0.0; count], vec![1.0; count]),
            };
            let err = in_layer(name);
            vec![
                Weight::non_trainable("mean", Tensor::new(&shape, mean).map_err(&err)?),
                Weight::non_trainable("variance", Tensor::new(&shape, var).map_err(&err)?),
                Weight::int64_counter("count", Tensor::scalar(0.0)),
            ]
        };
        Ok(Box::new(Normalization {
            core: LayerCore::new(name, self.trainable, weights),
            config: NormalizationConfig {
                name: Some(name.to_string()),
                adapted: None,
                ..self.clone()
            },
            keep,
            input_shape: input.clone(),
        }))
    }
}

impl Layer for Normalization {
    layer_core!("Normalization");
    fn compute_output_shape(&self, inputs: &[Shape]) -> Result<Vec<Shape>> {
        let input = single(&self.core.name, inputs)?;
        let same = input.len() == self.input_shape.len()
            && self
                .keep
                .iter()
                .all(|&a| input[a].is_none() || input[a] == self.input_shape[a]);
        if !same {
            return Err(shape_error(
                &self.core.name,
                format!(
                    "built for input shape {}, received input shape {}",
                    format_shape(&self.input_shape),
                    format_shape(input)
                ),
            ));
        }
        Ok(vec![input.clone()])
    }
    fn call(&self, ctx: &mut CallCtx, inputs: &[Var], weights: &[Var]) -> Result<Vec<Var>> {
        let x = self.core.input(inputs, weights)?;
        let err = in_layer(&self.core.name);
        let (mean, var) = match (&self.config.mean, &self.config.variance) {
            (Some(m), Some(v)) => (
                m.values.iter().map(|&x| x as f32).collect::<Vec<_>>(),
                v.values.iter().map(|&x| x as f32).collect::<Vec<_>>(),
            ),
            _ => (
                ctx.tape.try_value(weights[0]).map_err(&err)?.data().to_vec(),
                ctx.tape.try_value(weights[1]).map_err(&err)?.data().to_vec(),
            ),
        };
        // Broadcast shape: the kept axes' sizes, 1 elsewhere (the given values align with
        // the kept axes from the right, as Keras reshapes them).
        let rank = self.input_shape.len();
        let mut bshape = vec![1usize; rank];
        let given = self.config.mean.as_ref().map(|m| m.shape.clone());
        match &given {
            Some(s) => {
                for (i, d) in s.iter().rev().enumerate() {
                    bshape[self.keep[self.keep.len() - 1 - i]] = *d;
                }
            }
            None => {
                for &a in &self.keep {
                    bshape[a] = self.input_shape[a].unwrap_or(1);
                }
            }
        }
        let std: Vec<f32> = var.iter().map(|v| v.sqrt().max(EPSILON)).collect();
        let mean_t = ctx.tape.constant(Tensor::new(&bshape, mean).map_err(&err)?);
        let std_t = ctx.tape.constant(Tensor::new(&bshape, std).map_err(&err)?);
        let y = if self.config.invert {
            let xs = ctx.tape.mul(x, std_t).map_err(&err)?;
            ctx.tape.add(mean_t, xs).map_err(&err)?
        } else {
            let d = ctx.tape.sub(x, mean_t).map_err(&err)?;
            ctx.tape.div(d, std_t).map_err(&err)?
        };
        Ok(vec![y])
    }
    fn config(&self) -> Value {
        let c = &self.config;
        let stat = |s: &Option<Stat>| s.as_ref().map_or(Value::Null, Stat::to_json);
        let entries = [
            ("axis", json!(c.axis)),
            ("invert", json!(c.invert)),
            ("mean", stat(&c.mean)),
            ("variance", stat(&c.variance)),
        ];
        Value::Object(self.core.config_with(None, entries))
    }
    fn explain(&self, _inputs: &[Shape]) -> Vec<String> {
        let n: usize = self.keep.iter().filter_map(|&a| self.input_shape[a]).product();
        let op = if self.config.invert {
            "y = mean + x·max(√variance, 1e-7)"
        } else {
            "y = (x − mean)/max(√variance, 1e-7)"
        };
        let params = if self.core.weights.is_empty() {
            "no parameters (mean and variance given as arguments)".to_string()
        } else {
            format!("{n} + {n} + 1 = {} non-trainable (mean, variance, count)", 2 * n + 1)
        };
        vec![params, format!("{op} per position of axes {:?}", self.keep)]
    }
}

#[path = "feature_normalization_adapt.rs"]
pub mod adapt;
pub use adapt::AdaptBatch;

#[cfg(test)]
#[path = "feature_normalization_tests.rs"]
mod tests;
