//! Tensor arithmetic on symbolic tensors, as Keras's `d1 + d2`: `(&d1 + &d2)?`, `&x * 2.0`,
//! `2.0 - &x`. Each expression is an operation node of the graph (Keras 3 shows it as its own
//! row, `add (Add)`, and saves it as a `keras.src.ops.numpy` operation whose arguments keep
//! the constant in place; tf-keras shows `tf.__operators__.add (TFOpLambda)`), with NumPy
//! broadcasting.

use super::functional::Call;
use super::session::KerasTensor;
use crate::error::{shape_error, Result};
use crate::kshape::{format_shape, Shape};
use crate::layers::{CallCtx, Layer, LayerConfig, Weight};
use serde_json::{json, Value};
use tensor::ops::elementwise::BinaryOp;
use tensor::{Rng, Tensor, Var};

/// The other operand of an expression: a second tensor, or a constant on the right
/// (`x * 2.0`) or on the left (`2.0 - x`).
#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Tensor,
    Scalar(f32),
    ScalarLeft(f32),
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

    /// The operation Keras 3 saved as `{"module": "keras.src.ops.numpy", "class_name":
    /// class, ...}` called with `args` (tensors as `__keras_tensor__` objects, constants as
    /// numbers, in call order).
    pub fn from_keras(class: &str, args: &[Value]) -> Result<TensorOp> {
        let op = match class {
            "Add" => BinaryOp::Add,
            "Subtract" => BinaryOp::Sub,
            "Multiply" => BinaryOp::Mul,
            "TrueDivide" | "Divide" => BinaryOp::Div,
            "Maximum" => BinaryOp::Maximum,
            "Minimum" => BinaryOp::Minimum,
            _ => {
                return Err(crate::error::KerasError::Config(format!(
                    "operation {class} (keras.src.ops): not supported; rkeras reads Add, Subtract, Multiply, \
                     TrueDivide, Divide, Maximum and Minimum"
                )))
            }
        };
        let rhs = match args {
            [a, b] if a.is_object() && b.is_object() => Operand::Tensor,
            [a, b] if a.is_object() && b.is_number() => Operand::Scalar(b.as_f64().unwrap_or(0.0) as f32),
            [a, b] if a.is_number() && b.is_object() => Operand::ScalarLeft(a.as_f64().unwrap_or(0.0) as f32),
            _ => {
                return Err(crate::error::KerasError::Config(format!(
                    "operation {class}: expected two arguments, tensors or a tensor and a number; received {}",
                    Value::Array(args.to_vec())
                )))
            }
        };
        Ok(TensorOp { op, rhs, name: None })
    }

    /// tf-keras 2's `TFOpLambda` function for a Keras 3 operation class (`Multiply` →
    /// `math.multiply`), and back (`function_class`).
    pub const TF_FUNCTIONS: &'static [(&'static str, &'static str)] = &[
        ("Add", "__operators__.add"),
        ("Add", "math.add"),
        ("Subtract", "math.subtract"),
        ("Multiply", "math.multiply"),
        ("TrueDivide", "math.truediv"),
        ("TrueDivide", "math.divide"),
        ("Maximum", "math.maximum"),
        ("Minimum", "math.minimum"),
    ];

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
            (Operand::Scalar(_) | Operand::ScalarLeft(_), [a]) => Ok(vec![a.clone()]),
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
        let (lhs, rhs) = match (&self.rhs, inputs) {
            (Operand::Tensor, [a, b]) => (*a, *b),
            (Operand::Scalar(v), [a]) => (*a, ctx.tape.constant(Tensor::scalar(*v))),
            (Operand::ScalarLeft(v), [b]) => (ctx.tape.constant(Tensor::scalar(*v)), *b),
            _ => {
                return Err(shape_error(
                    Layer::name(self),
                    format!("received {} inputs", inputs.len()),
                ))
            }
        };
        Ok(vec![ctx.tape.binary(self.op, lhs, rhs)?])
    }
    fn config(&self) -> Value {
        json!({ "name": Layer::name(self) })
    }
    fn keras2_display(&self) -> Option<(&'static str, &'static str)> {
        Some(("TFOpLambda", self.keras2_stem()))
    }
    fn keras_op_args(&self, tensors: Vec<Value>) -> Option<Vec<Value>> {
        let mut t = tensors.into_iter();
        Some(match self.rhs {
            Operand::Tensor => t.collect(),
            Operand::Scalar(v) => t.next().into_iter().chain([json!(v as f64)]).collect(),
            Operand::ScalarLeft(v) => std::iter::once(json!(v as f64)).chain(t.next()).collect(),
        })
    }
}

impl TensorOp {
    /// `x <op> value` as a named operation (an expression names itself automatically;
    /// applications built with tf-keras 2's names give their operations names of their own).
    pub fn scalar(op: BinaryOp, value: f32, name: impl Into<String>) -> TensorOp {
        TensorOp {
            op,
            rhs: Operand::Scalar(value),
            name: Some(name.into()),
        }
    }
}

fn apply(op: BinaryOp, a: &KerasTensor, b: Option<&KerasTensor>, rhs: Operand) -> Result<KerasTensor> {
    let op = TensorOp { op, rhs, name: None };
    match b {
        Some(b) => op.call_many(&[a, b]),
        None => Call::call(&op, a),
    }
}

macro_rules! arith {
    ($trait:ident, $method:ident, $op:expr) => {
        impl std::ops::$trait<&KerasTensor> for &KerasTensor {
            type Output = Result<KerasTensor>;
            fn $method(self, rhs: &KerasTensor) -> Result<KerasTensor> {
                apply($op, self, Some(rhs), Operand::Tensor)
            }
        }
        impl std::ops::$trait<f32> for &KerasTensor {
            type Output = Result<KerasTensor>;
            fn $method(self, rhs: f32) -> Result<KerasTensor> {
                apply($op, self, None, Operand::Scalar(rhs))
            }
        }
        impl std::ops::$trait<&KerasTensor> for f32 {
            type Output = Result<KerasTensor>;
            fn $method(self, rhs: &KerasTensor) -> Result<KerasTensor> {
                apply($op, rhs, None, Operand::ScalarLeft(self))
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
