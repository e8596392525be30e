//! Tensor arithmetic on symbolic tensors, as Keras's `d1 + d2`: `(&d1 + &d2)?`, `&x * 2.0`.
//! Each expression is an operation node of the graph (Keras 3 shows it as its own row,
//! `add (Add)`; tf-keras as `tf.__operators__.add (TFOpLambda)`), with NumPy broadcasting.

use super::functional::Call;
use super::session::KerasTensor;
use crate::error::{shape_error, Result};
use crate::kshape::{format_shape, Shape};
use crate::layers::{CallCtx, Layer, LayerConfig, Weight};
use serde_json::{json, Value};
use tensor::ops::elementwise::BinaryOp;
use tensor::{Rng, Tensor, Var};

/// The right-hand side of an expression: another tensor or a constant.
#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Tensor,
    Scalar(f32),
}

/// One arithmetic operation (config and built layer at once: it has no weights).
#[derive(Debug, Clone, PartialEq)]
pub struct TensorOp {
    op: BinaryOp,
    rhs: Operand,
    name: Option<String>,
}

impl TensorOp {
    fn class(&self) -> &'static str {
        match self.op {
            BinaryOp::Add => "Add",
            BinaryOp::Sub => "Subtract",
            BinaryOp::Mul => "Multiply",
            BinaryOp::Div => "TrueDivide",
            BinaryOp::Maximum => "Maximum",
            BinaryOp::Minimum => "Minimum",
        }
    }

    /// tf-keras 2's name stem for the same expression.
    pub fn keras2_stem(&self) -> &'static str {
        match self.op {
            BinaryOp::Add => "tf.__operators__.add",
            BinaryOp::Sub => "tf.math.subtract",
            BinaryOp::Mul => "tf.math.multiply",
            BinaryOp::Div => "tf.math.truediv",
            BinaryOp::Maximum => "tf.math.maximum",
            BinaryOp::Minimum => "tf.math.minimum",
        }
    }
}

/// Broadcast of two symbolic shapes (unknown dimensions broadcast with anything).
pub fn broadcast_symbolic(layer: &str, a: &Shape, b: &Shape) -> Result<Shape> {
    let n = a.len().max(b.len());
    let mut out = vec![None; n];
    for i in 0..n {
        let da = if i + a.len() >= n { a[i + a.len() - n] } else { Some(1) };
        let db = if i + b.len() >= n { b[i + b.len() - n] } else { Some(1) };
        out[i] = match (da, db) {
            (Some(1), d) | (d, Some(1)) => d,
            (Some(x), Some(y)) if x == y => Some(x),
            (Some(x), Some(y)) => {
                return Err(shape_error(
                    layer,
                    format!(
                        "cannot broadcast shapes {} and {}: dimension {i} is {x} vs {y}",
                        format_shape(a),
                        format_shape(b)
                    ),
                ))
            }
            (None, d) | (d, None) => d.filter(|&v| v != 1),
        };
    }
    Ok(out)
}

impl LayerConfig for TensorOp {
    fn class_name(&self) -> &str {
        self.class()
    }
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    fn set_name(&mut self, name: String) {
        self.name = Some(name);
    }
    fn build(&self, name: &str, inputs: &[Shape], _rng: &mut Rng) -> Result<Box<dyn Layer>> {
        let built = TensorOp {
            name: Some(name.to_string()),
            ..self.clone()
        };
        built.compute_output_shape(inputs)?;
        Ok(Box::new(built))
    }
}

impl Layer for TensorOp {
    fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("op")
    }
    fn class_name(&self) -> &str {
        self.class()
    }
    fn trainable(&self) -> bool {
        true
    }
    fn set_trainable(&mut self, _trainable: bool) {}
    fn weights(&self) -> Vec<&Weight> {
        Vec::new()
    }
    fn weights_mut(&mut self) -> Vec<&mut Weight> {
        Vec::new()
    }
    fn compute_output_shape(&self, inputs: &[Shape]) -> Result<Vec<Shape>> {
        let name = Layer::name(self);
        match (&self.rhs, inputs) {
            (Operand::Tensor, [a, b]) => Ok(vec![broadcast_symbolic(name, a, b)?]),
            (Operand::Scalar(_), [a]) => Ok(vec![a.clone()]),
            _ => Err(shape_error(
                name,
                format!(
                    "expected {} input(s), received {}",
                    if self.rhs == Operand::Tensor { 2 } else { 1 },
                    inputs.len()
                ),
            )),
        }
    }
    fn call(&self, ctx: &mut CallCtx, inputs: &[Var], _weights: &[Var]) -> Result<Vec<Var>> {
        let rhs = match (&self.rhs, inputs) {
            (Operand::Tensor, [_, b]) => *b,
            (Operand::Scalar(v), [_]) => ctx.tape.constant(Tensor::scalar(*v)),
            _ => {
                return Err(shape_error(
                    Layer::name(self),
                    format!("received {} inputs", inputs.len()),
                ))
            }
        };
        Ok(vec![ctx.tape.binary(self.op, inputs[0], rhs)?])
    }
    fn config(&self) -> Value {
        json!({ "name": Layer::name(self) })
    }
    fn keras2_display(&self) -> Option<(&'static str, &'static str)> {
        Some(("TFOpLambda", self.keras2_stem()))
    }
}

fn apply(op: BinaryOp, a: &KerasTensor, b: Option<&KerasTensor>, scalar: f32) -> Result<KerasTensor> {
    match b {
        Some(b) => TensorOp {
            op,
            rhs: Operand::Tensor,
            name: None,
        }
        .call_many(&[a, b]),
        None => Call::call(
            &TensorOp {
                op,
                rhs: Operand::Scalar(scalar),
                name: None,
            },
            a,
        ),
    }
}

macro_rules! arith {
    ($trait:ident, $method:ident, $op:expr) => {
        impl std::ops::$trait<&KerasTensor> for &KerasTensor {
            type Output = Result<KerasTensor>;
            fn $method(self, rhs: &KerasTensor) -> Result<KerasTensor> {
                apply($op, self, Some(rhs), 0.0)
            }
        }
        impl std::ops::$trait<f32> for &KerasTensor {
            type Output = Result<KerasTensor>;
            fn $method(self, rhs: f32) -> Result<KerasTensor> {
                apply($op, self, None, rhs)
            }
        }
    };
}

arith!(Add, add, BinaryOp::Add);
arith!(Sub, sub, BinaryOp::Sub);
arith!(Mul, mul, BinaryOp::Mul);
arith!(Div, div, BinaryOp::Div);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbolic_broadcasting() {
        let a = vec![None, Some(4), Some(1)];
        let b = vec![Some(3)];
        assert_eq!(broadcast_symbolic("add", &a, &b).unwrap(), vec![None, Some(4), Some(3)]);
        let e = broadcast_symbolic("add", &vec![None, Some(4)], &vec![None, Some(5)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("add") && e.contains("4 vs 5"), "{e}");
    }
}
