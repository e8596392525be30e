//! Merge layers: `Add`, `Subtract` (exactly 2 inputs), `Multiply`, `Average`, `Maximum`,
//! `Minimum` (elementwise over 2 or more inputs) and `Concatenate(axis=-1)`, with Keras's
//! functional forms `add`, `subtract`, `multiply`, `average`, `maximum`, `minimum`,
//! `concatenate`.
//!
//! Elementwise shapes follow Keras's rule: the dimensions after the batch broadcast aligned on
//! the right (a 1 stretches, an unknown size gives an unknown size), and a lower-rank input is
//! expanded at axis 1 until the ranks match. Concatenate needs equal ranks and equal sizes on
//! every axis but `axis`, whose sizes add up. The shape rules live in the child module
//! `merge_shapes.rs`, re-exported here.
//!
//! ```
//! use rkeras::prelude::*;
//! clear_session();
//! let a = Input(&[8, 8, 16]).unwrap();
//! let b = Input(&[8, 8, 16]).unwrap();
//! assert_eq!(add(&[&a, &b]).unwrap().shape(), &vec![None, Some(8), Some(8), Some(16)]);
//! assert_eq!(concatenate(&[&a, &b], -1).unwrap().shape(), &vec![None, Some(8), Some(8), Some(32)]);
//! ```

use super::common::{config_name, layer_core, opt_setters, setters, LayerCore};
use super::{CallCtx, Layer, LayerConfig};
use crate::config::ConfigReader;
use crate::error::{arg_error, in_layer, KerasError, Result};
use crate::kshape::{format_shape, Shape};
use crate::model::plan::{InferenceOp, MergeKind};
use crate::model::{Call, KerasTensor};
use serde_json::{json, Value};
use tensor::ops::elementwise::BinaryOp;
use tensor::{Rng, Var};

/// What a merge layer computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeOp {
    /// `Add`: the sum.
    Add,
    /// `Subtract`: the first minus the second.
    Subtract,
    /// `Multiply`: the product.
    Multiply,
    /// `Average`: the mean.
    Average,
    /// `Maximum`: the elementwise maximum.
    Maximum,
    /// `Minimum`: the elementwise minimum.
    Minimum,
    /// `Concatenate(axis)`.
    Concatenate(isize),
}

impl MergeOp {
    /// Keras's class name.
    pub fn class_name(self) -> &'static str {
        match self {
            MergeOp::Add => "Add",
            MergeOp::Subtract => "Subtract",
            MergeOp::Multiply => "Multiply",
            MergeOp::Average => "Average",
            MergeOp::Maximum => "Maximum",
            MergeOp::Minimum => "Minimum",
            MergeOp::Concatenate(_) => "Concatenate",
        }
    }
}

/// The config of every merge layer.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeConfig {
    /// Name; automatic (`add`, `concatenate_1`, …) when `None`.
    pub name: Option<String>,
    /// Keras's flag (no weights).
    pub trainable: bool,
    /// The operation.
    pub op: MergeOp,
}

/// A built merge layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Merge {
    core: LayerCore,
    op: MergeOp,
}

macro_rules! merge_class {
    ($(#[$doc:meta] $class:ident => $op:expr, $fn_name:ident;)*) => {
        $(
            #[$doc]
            pub struct $class;

            impl $class {
                #[doc = concat!("`", stringify!($class), "()`.")]
                #[allow(clippy::new_ret_no_self)]
                pub fn new() -> MergeConfig {
                    MergeConfig { name: None, trainable: true, op: $op }
                }
            }

            #[doc = concat!("Keras's `", stringify!($fn_name), "(inputs)`: a new `", stringify!($class), "` layer called on `inputs`.")]
            pub fn $fn_name(inputs: &[&KerasTensor]) -> Result<KerasTensor> {
                $class::new().call_many(inputs)
            }
        )*
    };
}

merge_class! {
    /// `keras.layers.Add`.
    Add => MergeOp::Add, add;
    /// `keras.layers.Subtract`.
    Subtract => MergeOp::Subtract, subtract;
    /// `keras.layers.Multiply`.
    Multiply => MergeOp::Multiply, multiply;
    /// `keras.layers.Average`.
    Average => MergeOp::Average, average;
    /// `keras.layers.Maximum`.
    Maximum => MergeOp::Maximum, maximum;
    /// `keras.layers.Minimum`.
    Minimum => MergeOp::Minimum, minimum;
}

/// `keras.layers.Concatenate`.
pub struct Concatenate;

impl Concatenate {
    /// `Concatenate(axis)` (Keras's default axis is -1).
    #[allow(clippy::new_ret_no_self)]
    pub fn new(axis: isize) -> MergeConfig {
        MergeConfig {
            name: None,
            trainable: true,
            op: MergeOp::Concatenate(axis),
        }
    }
}

/// Keras's `concatenate(inputs, axis)`.
pub fn concatenate(inputs: &[&KerasTensor], axis: isize) -> Result<KerasTensor> {
    Concatenate::new(axis).call_many(inputs)
}

impl MergeConfig {
    setters!(trainable: bool);
    opt_setters!(name: String);

    /// Reads a Keras 3 or tf-keras 2 config of any merge class (the class comes from the
    /// reader).
    pub fn from_keras(r: &ConfigReader) -> Result<MergeConfig> {
        r.check_dtype()?;
        let op = match r.class_name {
            "Add" => MergeOp::Add,
            "Subtract" => MergeOp::Subtract,
            "Multiply" => MergeOp::Multiply,
            "Average" => MergeOp::Average,
            "Maximum" => MergeOp::Maximum,
            "Minimum" => MergeOp::Minimum,
            "Concatenate" => MergeOp::Concatenate(r.isize("axis")?.unwrap_or(-1)),
            other => {
                return Err(arg_error(
                    &r.layer,
                    "class_name",
                    "a merge layer (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate)",
                    other,
                ))
            }
        };
        Ok(MergeConfig {
            name: r.name(),
            trainable: r.trainable()?,
            op,
        })
    }
}

#[path = "merge_shapes.rs"]
mod shapes;
pub use shapes::merge_output_shape;

impl LayerConfig for MergeConfig {
    fn class_name(&self) -> &'static str {
        self.op.class_name()
    }
    config_name!();
    fn build(&self, name: &str, inputs: &[Shape], _rng: &mut Rng) -> Result<Box<dyn Layer>> {
        merge_output_shape(name, self.op, inputs)?;
        Ok(Box::new(Merge {
            core: LayerCore::new(name, self.trainable, Vec::new()),
            op: self.op,
        }))
    }
}

impl Layer for Merge {
    layer_core!();
    fn inference_op(&self) -> Option<InferenceOp> {
        Some(match self.op {
            MergeOp::Add => InferenceOp::Merge(MergeKind::Add),
            MergeOp::Subtract => InferenceOp::Merge(MergeKind::Subtract),
            MergeOp::Multiply => InferenceOp::Merge(MergeKind::Multiply),
            MergeOp::Average => InferenceOp::Merge(MergeKind::Average),
            MergeOp::Maximum => InferenceOp::Merge(MergeKind::Maximum),
            MergeOp::Minimum => InferenceOp::Merge(MergeKind::Minimum),
            MergeOp::Concatenate(axis) => InferenceOp::Concat(axis),
        })
    }
    fn class_name(&self) -> &str {
        self.op.class_name()
    }
    fn compute_output_shape(&self, inputs: &[Shape]) -> Result<Vec<Shape>> {
        Ok(vec![merge_output_shape(&self.core.name, self.op, inputs)?])
    }
    fn call(&self, ctx: &mut CallCtx, inputs: &[Var], weights: &[Var]) -> Result<Vec<Var>> {
        if !weights.is_empty() {
            return Err(KerasError::Invalid(format!(
                "{}: expected no weight variables, received {}",
                self.core.name,
                weights.len()
            )));
        }
        let err = in_layer(&self.core.name);
        let shapes: Vec<Shape> = inputs
            .iter()
            .map(|v| {
                ctx.tape
                    .try_value(*v)
                    .map(|t| t.shape().iter().map(|&d| Some(d)).collect())
            })
            .collect::<tensor::Result<_>>()
            .map_err(&err)?;
        merge_output_shape(&self.core.name, self.op, &shapes)?;
        if let MergeOp::Concatenate(axis) = self.op {
            return Ok(vec![ctx.tape.concat(inputs, axis).map_err(&err)?]);
        }
        // Keras expands lower-rank inputs at axis 1 so the batch axes line up.
        let rank = shapes.iter().map(Vec::len).max().unwrap_or(0);
        let mut xs = Vec::with_capacity(inputs.len());
        for (v, s) in inputs.iter().zip(&shapes) {
            let mut x = *v;
            for _ in s.len()..rank {
                x = ctx.tape.expand_dims(x, 1).map_err(&err)?;
            }
            xs.push(x);
        }
        let bin = match self.op {
            MergeOp::Add | MergeOp::Average => BinaryOp::Add,
            MergeOp::Subtract => BinaryOp::Sub,
            MergeOp::Multiply => BinaryOp::Mul,
            MergeOp::Maximum => BinaryOp::Maximum,
            MergeOp::Minimum => BinaryOp::Minimum,
            MergeOp::Concatenate(_) => unreachable!("handled above"),
        };
        let mut y = xs[0];
        for x in &xs[1..] {
            y = ctx.tape.binary(bin, y, *x).map_err(&err)?;
        }
        if self.op == MergeOp::Average {
            // Divided, not scaled by 1/n, so the values are Keras's to the last bit.
            let n = xs.len() as f32;
            y = ctx
                .tape
                .unary_map(y, move |v| v / n, move |_, _| 1.0 / n)
                .map_err(&err)?;
        }
        Ok(vec![y])
    }
    fn config(&self) -> Value {
        let axis = match self.op {
            MergeOp::Concatenate(axis) => Some(("axis", json!(axis))),
            _ => None,
        };
        Value::Object(self.core.config_with(None, axis))
    }
    fn explain(&self, inputs: &[Shape]) -> Vec<String> {
        let out = match merge_output_shape(&self.core.name, self.op, inputs) {
            Ok(s) => s,
            Err(e) => return vec![e.to_string()],
        };
        let line = match self.op {
            MergeOp::Concatenate(axis) => {
                let r = out.len() as isize;
                let ax = (if axis < 0 { axis + r } else { axis }) as usize;
                let parts: Vec<String> = inputs
                    .iter()
                    .map(|s| s[ax].map_or("None".into(), |d| d.to_string()))
                    .collect();
                let total = out[ax].map_or("None".into(), |d| d.to_string());
                format!("axis {ax}: {} = {total}", parts.join(" + "))
            }
            op => format!(
                "elementwise {} of {} inputs",
                op.class_name().to_lowercase(),
                inputs.len()
            ),
        };
        vec![format!("no parameters; {line}; output {}", format_shape(&out))]
    }
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;
