//! Keras activations by name (`"relu"`, `"softmax"`, `"gelu"`, …): parsing from a layer's
//! `activation` argument or JSON, writing back Keras 3's name, and applying one on the tape.
//! Every layer with an `activation` argument (Dense, Conv2D, …) and the `Activation` layer
//! share this table, so names, aliases and error messages are the same everywhere.
//!
//! Elementwise activations keep the input's shape; `softmax` and `log_softmax` normalize over
//! the last axis, as `keras.activations.softmax(x, axis=-1)` does.
//!
//! ```
//! use rkeras::activations::{activation_from_keras, ActivationKind};
//! let a = activation_from_keras("dense", &serde_json::json!("swish")).unwrap();
//! assert_eq!(a, ActivationKind::Silu);
//! assert_eq!(a.to_keras(), serde_json::json!("silu"));
//! ```

use crate::config::short;
use crate::error::{arg_error, Result};
use serde_json::Value;
use tensor::{Tape, Tensor, Var};

/// A Keras activation function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActivationKind {
    /// `linear` (identity; also `None`).
    Linear,
    /// `relu`: `max(x, 0)`.
    Relu,
    /// `relu6`: `min(max(x, 0), 6)`.
    Relu6,
    /// `leaky_relu` with Keras's default `negative_slope=0.2`.
    LeakyRelu,
    /// `elu` with `alpha=1`.
    Elu,
    /// `selu`: `scale·elu(x, alpha)` with Keras's constants.
    Selu,
    /// `softplus`: `log(1 + eˣ)`.
    Softplus,
    /// `softsign`: `x / (1 + |x|)`.
    Softsign,
    /// `silu` (alias `swish`): `x·σ(x)`.
    Silu,
    /// `gelu` (exact, `approximate=False` as Keras's default): `x·Φ(x)`.
    Gelu,
    /// `tanh`.
    Tanh,
    /// `sigmoid`: `1 / (1 + e⁻ˣ)`.
    Sigmoid,
    /// `exponential`: `eˣ`.
    Exponential,
    /// `hard_sigmoid` as Keras 3 defines it: `relu6(x + 3)/6`.
    HardSigmoid,
    /// `hard_silu` (alias `hard_swish`): `x·hard_sigmoid(x)`.
    HardSilu,
    /// `hard_tanh`: `clip(x, −1, 1)`.
    HardTanh,
    /// `mish`: `x·tanh(softplus(x))`.
    Mish,
    /// `log_sigmoid`: `−softplus(−x)`.
    LogSigmoid,
    /// `tanh_shrink`: `x − tanh(x)`.
    TanhShrink,
    /// `softmax` over the last axis.
    Softmax,
    /// `log_softmax` over the last axis.
    LogSoftmax,
}

/// Every activation with its Keras 3 name; aliases are listed in [`ActivationKind::from_name`].
const TABLE: [(ActivationKind, &str); 21] = [
    (ActivationKind::Linear, "linear"),
    (ActivationKind::Relu, "relu"),
    (ActivationKind::Relu6, "relu6"),
    (ActivationKind::LeakyRelu, "leaky_relu"),
    (ActivationKind::Elu, "elu"),
    (ActivationKind::Selu, "selu"),
    (ActivationKind::Softplus, "softplus"),
    (ActivationKind::Softsign, "softsign"),
    (ActivationKind::Silu, "silu"),
    (ActivationKind::Gelu, "gelu"),
    (ActivationKind::Tanh, "tanh"),
    (ActivationKind::Sigmoid, "sigmoid"),
    (ActivationKind::Exponential, "exponential"),
    (ActivationKind::HardSigmoid, "hard_sigmoid"),
    (ActivationKind::HardSilu, "hard_silu"),
    (ActivationKind::HardTanh, "hard_tanh"),
    (ActivationKind::Mish, "mish"),
    (ActivationKind::LogSigmoid, "log_sigmoid"),
    (ActivationKind::TanhShrink, "tanh_shrink"),
    (ActivationKind::Softmax, "softmax"),
    (ActivationKind::LogSoftmax, "log_softmax"),
];

/// The names accepted, for error messages: `"linear", "relu", …`.
pub fn valid_names() -> String {
    let mut names: Vec<String> = TABLE.iter().map(|(_, n)| format!("\"{n}\"")).collect();
    names.extend(["\"swish\"", "\"hard_swish\""].map(str::to_string));
    names.join(", ")
}

impl ActivationKind {
    /// The activation for a Keras name or alias (`swish` → `silu`, `hard_swish` →
    /// `hard_silu`, `None`/empty → `linear`).
    pub fn from_name(name: &str) -> Option<ActivationKind> {
        match name {
            "swish" => return Some(ActivationKind::Silu),
            "hard_swish" => return Some(ActivationKind::HardSilu),
            "" | "None" | "none" => return Some(ActivationKind::Linear),
            _ => {}
        }
        TABLE.iter().find(|(_, n)| *n == name).map(|(k, _)| *k)
    }

    /// Keras 3's name (what `activations.serialize` writes).
    pub fn name(self) -> &'static str {
        TABLE.iter().find(|(k, _)| *k == self).map_or("linear", |(_, n)| n)
    }

    /// Keras 3 JSON: the name as a string.
    pub fn to_keras(self) -> Value {
        Value::String(self.name().to_string())
    }

    /// True for the identity.
    pub fn is_linear(self) -> bool {
        self == ActivationKind::Linear
    }

    /// Applies the activation to `x` on the tape (softmax family over the last axis).
    pub fn apply(self, tape: &mut Tape, x: Var) -> tensor::Result<Var> {
        use ActivationKind as A;
        const SELU_ALPHA: f32 = 1.673_263_2;
        const SELU_SCALE: f32 = 1.050_701;
        match self {
            A::Linear => Ok(x),
            // TensorFlow's relu gradient is 0 at x = 0.
            A::Relu => tape.unary_map(x, |v| v.max(0.0), |x, _| if x > 0.0 { 1.0 } else { 0.0 }),
            A::Relu6 => tape.unary_map(x, |v| v.clamp(0.0, 6.0), |x, _| if x > 0.0 && x < 6.0 { 1.0 } else { 0.0 }),
            A::LeakyRelu => leaky_relu(tape, x, 0.2),
            A::Elu => tape.unary_map(x, |v| if v > 0.0 { v } else { v.exp_m1() }, |x, y| if x > 0.0 { 1.0 } else { y + 1.0 }),
            A::Selu => tape.unary_map(
                x,
                |v| SELU_SCALE * if v > 0.0 { v } else { SELU_ALPHA * v.exp_m1() },
                |x, _| if x > 0.0 { SELU_SCALE } else { SELU_SCALE * SELU_ALPHA * x.exp() },
            ),
            A::Softplus => tape.unary_map(x, softplus, |x, _| sigmoid(x)),
            A::Softsign => tape.unary_map(x, |v| v / (1.0 + v.abs()), |x, _| 1.0 / (1.0 + x.abs()).powi(2)),
            A::Silu => tape.unary_map(x, |v| v * sigmoid(v), |x, _| {
                let s = sigmoid(x);
                s + x * s * (1.0 - s)
            }),
            A::Gelu => tape.unary_map(
                x,
                |v| 0.5 * v * (1.0 + erf(v / std::f32::consts::SQRT_2)),
                |x, _| {
                    let cdf = 0.5 * (1.0 + erf(x / std::f32::consts::SQRT_2));
                    let pdf = (-0.5 * x * x).exp() / (2.0 * std::f32::consts::PI).sqrt();
                    cdf + x * pdf
                },
            ),
            A::Tanh => tape.unary_map(x, f32::tanh, |_, y| 1.0 - y * y),
            A::Sigmoid => tape.unary_map(x, sigmoid, |_, y| y * (1.0 - y)),
            A::Exponential => tape.unary_map(x, f32::exp, |_, y| y),
            A::HardSigmoid => tape.unary_map(x, hard_sigmoid, |x, _| if x > -3.0 && x < 3.0 { 1.0 / 6.0 } else { 0.0 }),
            A::HardSilu => tape.unary_map(x, |v| v * hard_sigmoid(v), |x, _| {
                hard_sigmoid(x) + if x > -3.0 && x < 3.0 { x / 6.0 } else { 0.0 }
            }),
            A::HardTanh => tape.unary_map(x, |v| v.clamp(-1.0, 1.0), |x, _| if x > -1.0 && x < 1.0 { 1.0 } else { 0.0 }),
            A::Mish => tape.unary_map(x, |v| v * softplus(v).tanh(), |x, _| {
                let t = softplus(x).tanh();
                t + x * (1.0 - t * t) * sigmoid(x)
            }),
            A::LogSigmoid => tape.unary_map(x, |v| -softplus(-v), |x, _| sigmoid(-x)),
            A::TanhShrink => tape.unary_map(x, |v| v - v.tanh(), |x, _| x.tanh().powi(2)),
            A::Softmax => softmax(tape, x, -1, false),
            A::LogSoftmax => softmax(tape, x, -1, true),
        }
    }
}

/// An activation named by a layer argument (`Dense::new(8).activation("relu")`), checked
/// with an error naming the layer and the argument and listing the valid names.
pub fn parse_activation(layer: &str, arg: &str, name: &str) -> Result<ActivationKind> {
    ActivationKind::from_name(name).ok_or_else(|| arg_error(layer, arg, format!("one of {}", valid_names()), name))
}

/// The `activation` argument of a Keras layer config: a name (`"relu"`), `null` (linear), or
/// a serialized function object (`{"class_name": "function", "config": "relu", …}`).
pub fn activation_from_keras(layer: &str, value: &Value) -> Result<ActivationKind> {
    match value {
        Value::Null => Ok(ActivationKind::Linear),
        Value::String(s) => parse_activation(layer, "activation", s),
        Value::Object(o) => {
            let name = match o.get("config") {
                Some(Value::String(s)) => Some(s.as_str()),
                Some(Value::Object(c)) => c.get("name").and_then(Value::as_str),
                _ => None,
            }
            .or_else(|| o.get("class_name").and_then(Value::as_str).filter(|c| *c != "function"));
            match name {
                Some(n) => parse_activation(layer, "activation", n),
                None => Err(arg_error(layer, "activation", format!("one of {}", valid_names()), short(value))),
            }
        }
        other => Err(arg_error(layer, "activation", format!("one of {}", valid_names()), short(other))),
    }
}

/// Keras 3 JSON of an activation (its name).
pub fn to_keras(kind: ActivationKind) -> Value {
    kind.to_keras()
}

/// `x` if `x ≥ 0`, else `slope·x` (Keras's LeakyReLU; TensorFlow's gradient is 1 at 0).
pub fn leaky_relu(tape: &mut Tape, x: Var, slope: f32) -> tensor::Result<Var> {
    tape.unary_map(x, move |v| if v >= 0.0 { v } else { slope * v }, move |x, _| if x >= 0.0 { 1.0 } else { slope })
}

/// Softmax (or log-softmax) over `axis` as one tape op: `y = e^(x − max)/Σe^(x − max)`,
/// backward `dx = y·(g − Σg·y)` (log: `dx = g − softmax·Σg`).
pub fn softmax(tape: &mut Tape, x: Var, axis: isize, log: bool) -> tensor::Result<Var> {
    let value = tape.try_value(x)?;
    let (outer, c, inner) = axis_layout(value.shape(), axis)?;
    let y = softmax_forward(value, outer, c, inner, log)?;
    tape.record(
        y,
        &[x],
        Box::new(move |g, _ins, out| {
            let (gd, yd) = (g.data(), out.data());
            let mut dx = vec![0.0f32; gd.len()];
            for o in 0..outer {
                for i in 0..inner {
                    let at = |k: usize| (o * c + k) * inner + i;
                    if log {
                        let s: f32 = (0..c).map(|k| gd[at(k)]).sum();
                        for k in 0..c {
                            dx[at(k)] = gd[at(k)] - yd[at(k)].exp() * s;
                        }
                    } else {
                        let s: f32 = (0..c).map(|k| gd[at(k)] * yd[at(k)]).sum();
                        for k in 0..c {
                            dx[at(k)] = yd[at(k)] * (gd[at(k)] - s);
                        }
                    }
                }
            }
            Ok(vec![Some(Tensor::new(g.shape(), dx)?)])
        }),
    )
}

/// `(outer, size, inner)` of a tensor around `axis` (negative counts from the end).
fn axis_layout(shape: &[usize], axis: isize) -> tensor::Result<(usize, usize, usize)> {
    let rank = shape.len() as isize;
    let a = if axis < 0 { axis + rank } else { axis };
    if rank == 0 || a < 0 || a >= rank {
        return Err(tensor::TensorError::Shape {
            op: "softmax",
            detail: format!("axis {axis} is out of range for a tensor of shape {shape:?} (rank {rank})"),
        });
    }
    let a = a as usize;
    Ok((shape[..a].iter().product(), shape[a], shape[a + 1..].iter().product()))
}

fn softmax_forward(x: &Tensor, outer: usize, c: usize, inner: usize, log: bool) -> tensor::Result<Tensor> {
    let xd = x.data();
    let mut y = vec![0.0f32; xd.len()];
    for o in 0..outer {
        for i in 0..inner {
            let at = |k: usize| (o * c + k) * inner + i;
            let m = (0..c).map(|k| xd[at(k)]).fold(f32::NEG_INFINITY, f32::max);
            let s: f32 = (0..c).map(|k| (xd[at(k)] - m).exp()).sum();
            for k in 0..c {
                let z = xd[at(k)] - m;
                y[at(k)] = if log { z - s.ln() } else { z.exp() / s };
            }
        }
    }
    Tensor::new(x.shape(), y)
}

fn sigmoid(v: f32) -> f32 {
    if v >= 0.0 {
        1.0 / (1.0 + (-v).exp())
    } else {
        let e = v.exp();
        e / (1.0 + e)
    }
}

fn softplus(v: f32) -> f32 {
    v.max(0.0) + (-v.abs()).exp().ln_1p()
}

fn hard_sigmoid(v: f32) -> f32 {
    (v / 6.0 + 0.5).clamp(0.0, 1.0)
}

/// The error function, from its Taylor series near 0 and a continued fraction for the tail
/// (computed in f64: error far below f32's precision).
pub fn erf(x: f32) -> f32 {
    let x = x as f64;
    let a = x.abs();
    let r = if a < 2.5 {
        // erf(x) = 2/√π Σ (−1)ⁿ x^(2n+1) / (n!(2n+1))
        let mut term = a;
        let mut sum = a;
        let mut n = 0.0;
        while term.abs() > 1e-17 * sum.abs() {
            n += 1.0;
            term *= -a * a / n;
            sum += term / (2.0 * n + 1.0);
            if n > 200.0 {
                break;
            }
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    } else {
        // erfc(x) = e^(−x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + …)))) by Lentz-free backward recursion.
        let mut f = 0.0;
        for k in (1..=60).rev() {
            f = (k as f64 / 2.0) / (a + f);
        }
        1.0 - (-a * a).exp() / std::f64::consts::PI.sqrt() / (a + f)
    };
    (if x < 0.0 { -r } else { r }) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tensor::gradcheck::check_gradients;

    fn run(kind: ActivationKind, x: &[f32]) -> Vec<f32> {
        let mut tape = Tape::new();
        let v = tape.constant(Tensor::new(&[x.len()], x.to_vec()).unwrap());
        let y = kind.apply(&mut tape, v).unwrap();
        tape.value(y).data().to_vec()
    }

    #[test]
    fn names_round_trip_and_aliases() {
        for (k, n) in TABLE {
            assert_eq!(ActivationKind::from_name(n), Some(k));
            assert_eq!(activation_from_keras("l", &k.to_keras()).unwrap(), k);
        }
        assert_eq!(ActivationKind::from_name("swish"), Some(ActivationKind::Silu));
        assert_eq!(ActivationKind::from_name("hard_swish"), Some(ActivationKind::HardSilu));
        assert_eq!(activation_from_keras("l", &Value::Null).unwrap(), ActivationKind::Linear);
        let obj = json!({"module": "keras.activations", "class_name": "function", "config": "relu", "registered_name": "function"});
        assert_eq!(activation_from_keras("l", &obj).unwrap(), ActivationKind::Relu);
    }

    #[test]
    fn unknown_name_names_layer_argument_and_choices() {
        let e = activation_from_keras("dense_3", &json!("relu2")).unwrap_err().to_string();
        assert!(e.starts_with("dense_3: argument `activation`: expected one of \"linear\", \"relu\""), "{e}");
        assert!(e.contains("Received: activation=relu2") && e.contains("\"softmax\""), "{e}");
        let e = parse_activation("conv2d", "activation", "Relu").unwrap_err().to_string();
        assert!(e.contains("conv2d") && e.contains("Received: activation=Relu"), "{e}");
    }

    #[test]
    fn hand_checked_values() {
        assert_eq!(run(ActivationKind::Relu, &[-1.0, 0.0, 2.0]), vec![0.0, 0.0, 2.0]);
        assert_eq!(run(ActivationKind::Relu6, &[-1.0, 3.0, 7.0]), vec![0.0, 3.0, 6.0]);
        assert_eq!(run(ActivationKind::LeakyRelu, &[-1.0, 2.0]), vec![-0.2, 2.0]);
        assert_eq!(run(ActivationKind::HardSigmoid, &[-4.0, 0.0, 1.5, 4.0]), vec![0.0, 0.5, 0.75, 1.0]);
        let s = run(ActivationKind::Sigmoid, &[0.0, 100.0, -100.0]);
        assert!(s[0] == 0.5 && s[1] == 1.0 && (0.0..1e-40).contains(&s[2]), "{s:?}");
        // x·Φ(x) from the normal CDF tables: Φ(−1) = 0.1586553, Φ(0.5) = 0.6914625, Φ(2) = 0.9772499.
        let g = run(ActivationKind::Gelu, &[-1.0, 0.5, 2.0]);
        for (a, b) in g.iter().zip([-0.158_655_26, 0.345_731_14, 1.954_499_7]) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        let sp = run(ActivationKind::Softplus, &[0.0, 30.0, -30.0]);
        assert!((sp[0] - std::f32::consts::LN_2).abs() < 1e-7 && (sp[1] - 30.0).abs() < 1e-6 && sp[2] > 0.0);
        let sm = run(ActivationKind::Softmax, &[1.0, 2.0, 3.0]);
        let e: Vec<f32> = [1.0f32, 2.0, 3.0].iter().map(|v| v.exp()).collect();
        let t: f32 = e.iter().sum();
        for (a, b) in sm.iter().zip(&e) {
            assert!((a - b / t).abs() < 1e-7);
        }
        let ls = run(ActivationKind::LogSoftmax, &[1.0, 2.0, 3.0]);
        for (a, b) in ls.iter().zip(&sm) {
            assert!((a - b.ln()).abs() < 1e-6);
        }
        assert!((erf(1.0) - 0.842_700_8).abs() < 1e-7 && (erf(3.0) - 0.999_977_9).abs() < 1e-7 && erf(-0.5) < 0.0);
    }

    #[test]
    fn softmax_over_a_middle_axis() {
        let mut tape = Tape::new();
        let x = tape.constant(Tensor::arange(&[2, 3, 2]));
        let y = softmax(&mut tape, x, 1, false).unwrap();
        let d = tape.value(y).data();
        // Columns (o, ·, i) sum to one.
        for o in 0..2 {
            for i in 0..2 {
                let s: f32 = (0..3).map(|k| d[(o * 3 + k) * 2 + i]).sum();
                assert!((s - 1.0).abs() < 1e-6);
            }
        }
        assert!(softmax(&mut tape, x, 3, false).is_err());
    }

    #[test]
    fn gradients_match_finite_differences() {
        // Inputs away from every kink (0, ±1, ±3, 6).
        let x = Tensor::new(&[2, 4], vec![-2.3, -0.6, 0.4, 1.7, 2.2, -1.4, 0.8, -0.3]).unwrap();
        for (k, _) in TABLE {
            check_gradients(&[x.clone()], |t, v| k.apply(t, v[0]), 1e-2, 2e-2).unwrap_or_else(|e| panic!("{k:?}: {e}"));
        }
        check_gradients(&[x.clone()], |t, v| softmax(t, v[0], 0, true), 1e-2, 2e-2).unwrap();
    }
}
