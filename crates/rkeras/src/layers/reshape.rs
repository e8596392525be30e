//! `Flatten`, `Reshape` and `Permute`: the same values in another shape or axis order.
//!
//! Shapes: `Flatten`: `(n, d1, d2, …)` → `(n, d1·d2·…)` (a `channels_first` input is made
//! channels-last first, as Keras does); `Reshape(target)`: `(n, *target)`, one `-1` inferred;
//! `Permute(dims)`: output axis `i` is input axis `dims[i]` (1-based, batch excluded).
//! Unknown sizes stay `None`. Declared inside [`super`] (`reshaping.rs`).

use crate::config::ConfigReader;
use crate::error::{arg_error, shape_error, Result};
use crate::kshape::{format_shape, Shape};
use crate::layers::common::{config_name, layer_core, opt_setters, single, LayerCore};
use crate::layers::conv_args::*;
use crate::layers::{CallCtx, Layer, LayerConfig};
use crate::model::plan::InferenceOp;
use serde_json::{json, Value};
use tensor::{Rng, Var};

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
        ShapeOpConfig {
            op: ShapeOp::Flatten("channels_last".into()),
            name: None,
            trainable: true,
        }
    }
}

impl Reshape {
    /// `Reshape(target_shape)`, without the batch; one entry may be `-1`.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(target_shape: &[i64]) -> ShapeOpConfig {
        ShapeOpConfig {
            op: ShapeOp::Reshape(target_shape.to_vec()),
            name: None,
            trainable: true,
        }
    }
}

impl Permute {
    /// `Permute(dims)`: 1-based axes, the batch excluded (`Permute(&[2, 1])` swaps two axes).
    #[allow(clippy::new_ret_no_self)]
    pub fn new(dims: &[usize]) -> ShapeOpConfig {
        ShapeOpConfig {
            op: ShapeOp::Permute(dims.to_vec()),
            name: None,
            trainable: true,
        }
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
        let c = ShapeOpConfig {
            op,
            name: r.name(),
            trainable: r.trainable()?,
        };
        c.check(&r.layer)?;
        Ok(c)
    }

    fn check(&self, layer: &str) -> Result<()> {
        match &self.op {
            ShapeOp::Flatten(d) => DataFormat::parse(layer, d).map(|_| ()),
            ShapeOp::Reshape(t) => {
                if t.iter().filter(|&&d| d == -1).count() > 1 || t.iter().any(|&d| d < -1) {
                    return Err(arg_error(
                        layer,
                        "target_shape",
                        "non-negative sizes with at most one -1",
                        format!("{t:?}"),
                    ));
                }
                Ok(())
            }
            ShapeOp::Permute(dims) => {
                let mut sorted = dims.clone();
                sorted.sort_unstable();
                if sorted != (1..=dims.len()).collect::<Vec<_>>() {
                    return Err(arg_error(
                        layer,
                        "dims",
                        format!("a permutation of 1..={} (consecutive, starting from 1)", dims.len()),
                        format!("{dims:?}"),
                    ));
                }
                Ok(())
            }
        }
    }
}

/// A built `Flatten`, `Reshape` or `Permute`.
#[derive(Debug, Clone)]
pub struct ShapeOpLayer {
    core: LayerCore,
    op: ShapeOp,
}

impl ShapeOpLayer {
    fn output(&self, input: &[Option<usize>]) -> Result<Shape> {
        let Some((&n, rest)) = input.split_first() else {
            return Err(shape_error(
                &self.core.name,
                "expected an input with a batch axis, received a scalar shape ()",
            ));
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
                        &self.core.name,
                        format!("the total size must be unchanged: input shape {} cannot be reshaped to target_shape {target:?}", format_shape(input)),
                    ));
                };
                let dims = target
                    .iter()
                    .map(|&d| if d == -1 { count.map(|_| fill) } else { Some(d as usize) });
                Ok(std::iter::once(n).chain(dims).collect())
            }
            ShapeOp::Permute(dims) => {
                if rest.len() != dims.len() {
                    return Err(shape_error(
                        &self.core.name,
                        format!(
                            "dims {dims:?} permute {} axes, the input shape {} has {}",
                            dims.len(),
                            format_shape(input),
                            rest.len()
                        ),
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
    config_name!();
    fn build(&self, name: &str, inputs: &[Shape], _rng: &mut Rng) -> Result<Box<dyn Layer>> {
        self.check(name)?;
        let mut op = self.op.clone();
        if let ShapeOp::Flatten(d) = &mut op {
            *d = DataFormat::parse(name, d)?.name().to_string();
        }
        let layer = ShapeOpLayer {
            core: LayerCore::new(name, self.trainable, Vec::new()),
            op,
        };
        layer.output(single(name, inputs)?)?;
        Ok(Box::new(layer))
    }
}

impl Layer for ShapeOpLayer {
    layer_core!();
    fn inference_op(&self) -> Option<InferenceOp> {
        match &self.op {
            ShapeOp::Flatten(d) if d != "channels_first" => Some(InferenceOp::Alias),
            ShapeOp::Reshape(_) => Some(InferenceOp::Alias),
            _ => None,
        }
    }
    fn class_name(&self) -> &str {
        match self.op {
            ShapeOp::Flatten(_) => "Flatten",
            ShapeOp::Reshape(_) => "Reshape",
            ShapeOp::Permute(_) => "Permute",
        }
    }
    fn compute_output_shape(&self, inputs: &[Shape]) -> Result<Vec<Shape>> {
        Ok(vec![self.output(single(&self.core.name, inputs)?)?])
    }
    fn call(&self, ctx: &mut CallCtx, inputs: &[Var], weights: &[Var]) -> Result<Vec<Var>> {
        let x = self.core.input(inputs, weights)?;
        let err = engine_err(&self.core.name);
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
                let full: Vec<usize> = std::iter::once(shape.first().copied().unwrap_or(1))
                    .chain(dims)
                    .collect();
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
        let entry = match &self.op {
            ShapeOp::Flatten(d) => ("data_format", json!(d)),
            ShapeOp::Reshape(t) => ("target_shape", json!(t)),
            ShapeOp::Permute(d) => ("dims", json!(d)),
        };
        Value::Object(self.core.config_with(None, [entry]))
    }
    fn explain(&self, inputs: &[Shape]) -> Vec<String> {
        let Some(input) = inputs.first() else { return Vec::new() };
        let dims: Option<Vec<usize>> = input.iter().skip(1).copied().collect();
        match (&self.op, dims, self.output(input)) {
            (ShapeOp::Flatten(_), Some(d), _) if d.len() > 1 => {
                let parts: Vec<String> = d.iter().map(usize::to_string).collect();
                vec![format!(
                    "{} = {}",
                    parts.join("·"),
                    crate::explain::thousands(d.iter().product::<usize>() as u64)
                )]
            }
            (ShapeOp::Reshape(t), Some(d), Ok(out)) if t.contains(&-1) => {
                let total: usize = d.iter().product();
                let known: Vec<String> = t.iter().filter(|&&v| v >= 0).map(|v| v.to_string()).collect();
                let i = t.iter().position(|&v| v == -1).unwrap_or(0);
                let fill = out.get(i + 1).copied().flatten().unwrap_or(0);
                vec![format!(
                    "-1 = {total}/({}) = {fill}",
                    if known.is_empty() {
                        "1".to_string()
                    } else {
                        known.join("·")
                    }
                )]
            }
            _ => Vec::new(),
        }
    }
}
