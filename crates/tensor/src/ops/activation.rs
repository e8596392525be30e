//! Keras's activations, elementwise, with their exact Keras formulas and gradients: `relu`
//! (and the `ReLU` layer's general form), `relu6`, `leaky_relu`, `elu`, `selu`, `sigmoid`,
//! `hard_sigmoid` (Keras 3: `relu6(x + 3) / 6`) and `hard_sigmoid_legacy` (tf-keras 2:
//! `clip(0.2·x + 0.5, 0, 1)`), `hard_silu`/`hard_swish`, `tanh`, `softplus`, `softsign`,
//! `silu`/`swish`, `gelu` (exact with `erf`, or the tanh approximation), `exponential`,
//! `mish`. `softmax` and `log_softmax` live in `ops::softmax`. [`Activation`] names them as
//! Keras's `activation="…"` strings do. Shapes are unchanged.
//!
//! Each is a pub fn on tensors (inference) and a `Tape` method (training). Gradients at the
//! kinks follow TensorFlow: `relu′(0) = 0`, `relu6′` is 1 only on `(0, 6)`, clips pass the
//! gradient on their closed interval.

use crate::autograd::{Tape, Var};
use crate::error::{arg_err, Result};
use crate::ops::elementwise::map_tensor;
use crate::tensor::Tensor;

/// Keras's SELU `alpha`.
pub const SELU_ALPHA: f64 = 1.673_263_242_354_377_284_817_042_991_671_7;
/// Keras's SELU `scale`.
pub const SELU_SCALE: f64 = 1.050_700_987_355_480_493_419_334_985_294_6;
const FRAC_2_SQRT_PI: f64 = std::f64::consts::FRAC_2_SQRT_PI;
/// `√(2/π)`, the tanh-GELU's constant.
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;

/// The error function in f64, accurate to about 1e-15: a positive series
/// `erf(x) = 2/√π·e^{−x²}·Σ 2ⁿx^{2n+1}/(1·3·…·(2n+1))` (no cancellation) below 2.5, and
/// `1 − erfc(x)` from the continued fraction above.
pub fn erf(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let a = x.abs();
    let r = if a < 2.5 { erf_series(a) } else { 1.0 - erfc_fraction(a) };
    r.copysign(x)
}

/// The complementary error function `1 − erf(x)` in f64, accurate in relative terms for
/// large positive `x` (where `1 − erf` would lose every digit).
pub fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        x
    } else if x < 0.0 {
        1.0 + erf(-x)
    } else if x < 2.5 {
        1.0 - erf_series(x)
    } else {
        erfc_fraction(x)
    }
}

fn erf_series(x: f64) -> f64 {
    let x2 = x * x;
    let (mut term, mut sum) = (x, x);
    for n in 1..400 {
        term *= 2.0 * x2 / (2 * n + 1) as f64;
        sum += term;
        if term <= sum * 1e-17 {
            break;
        }
    }
    FRAC_2_SQRT_PI * (-x2).exp() * sum
}

/// `erfc(x) = e^{−x²}/√π · 1/(x + ½/(x + 1/(x + (3/2)/(x + 2/(x + …)))))`, for `x ≥ 2.5`,
/// evaluated from the tail (enough terms for full f64 precision at 2.5).
fn erfc_fraction(x: f64) -> f64 {
    if x > 27.0 {
        return 0.0;
    }
    let mut t = x;
    for k in (1..=160).rev() {
        t = x + (k as f64 * 0.5) / t;
    }
    (-x * x).exp() / (t * std::f64::consts::PI.sqrt())
}

#[inline]
fn sigmoid_scalar(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

#[inline]
fn softplus_scalar(x: f32) -> f32 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

#[inline]
fn step(cond: bool) -> f32 {
    if cond {
        1.0
    } else {
        0.0
    }
}

/// An activation with no parameter: the tensor function and the `Tape` method.
macro_rules! pointwise {
    ($(#[$doc:meta])* $name:ident, $scalar:ident: $f:expr, $df:expr) => {
        $(#[$doc])*
        pub fn $name(x: &Tensor) -> Tensor {
            map_tensor(x, $f)
        }

        /// The same function on one value (the kernels' epilogues apply it in place).
        #[inline]
        pub(crate) fn $scalar(x: f32) -> f32 {
            ($f)(x)
        }

        impl Tape {
            $(#[$doc])*
            pub fn $name(&mut self, x: Var) -> Result<Var> {
                self.unary_map(x, $f, $df)
            }
        }
    };
}

pointwise!(
    /// ReLU: `max(x, 0)`.
    relu, relu_s: |x: f32| if x > 0.0 { x } else { 0.0 }, |x: f32, _| step(x > 0.0)
);
pointwise!(
    /// ReLU6: `min(max(x, 0), 6)`; gradient 1 on `(0, 6)`.
    relu6, relu6_s: |x: f32| x.clamp(0.0, 6.0), |x: f32, _| step(x > 0.0 && x < 6.0)
);
pointwise!(
    /// SELU: `scale·x` for `x > 0`, `scale·alpha·(eˣ − 1)` otherwise, Keras's constants.
    selu, selu_s: |x: f32| if x > 0.0 { (SELU_SCALE as f32) * x } else { ((SELU_SCALE * SELU_ALPHA) as f32) * x.exp_m1() },
    |x: f32, _| if x > 0.0 { SELU_SCALE as f32 } else { ((SELU_SCALE * SELU_ALPHA) as f32) * x.exp() }
);
pointwise!(
    /// Sigmoid `1 / (1 + e⁻ˣ)`, evaluated without overflow.
    sigmoid, sigmoid_s: sigmoid_scalar, |_, y: f32| y * (1.0 - y)
);
pointwise!(
    /// Keras 3's hard sigmoid: `relu6(x + 3) / 6`.
    hard_sigmoid, hard_sigmoid_s: |x: f32| (x + 3.0).clamp(0.0, 6.0) / 6.0, |x: f32, _| if x > -3.0 && x < 3.0 { 1.0 / 6.0 } else { 0.0 }
);
pointwise!(
    /// tf-keras 2's hard sigmoid: `clip(0.2·x + 0.5, 0, 1)`.
    hard_sigmoid_legacy, hard_sigmoid_legacy_s: |x: f32| (0.2 * x + 0.5).clamp(0.0, 1.0), |x: f32, _| {
        let v = 0.2 * x + 0.5;
        if (0.0..=1.0).contains(&v) { 0.2 } else { 0.0 }
    }
);
pointwise!(
    /// Hard SiLU (hard swish): `x · relu6(x + 3) / 6`.
    hard_silu, hard_silu_s: |x: f32| x * (x + 3.0).clamp(0.0, 6.0) / 6.0,
    |x: f32, _| if x <= -3.0 { 0.0 } else if x >= 3.0 { 1.0 } else { (2.0 * x + 3.0) / 6.0 }
);
pointwise!(
    /// Hyperbolic tangent.
    tanh, tanh_s: f32::tanh, |_, y: f32| 1.0 - y * y
);
pointwise!(
    /// Softplus `ln(1 + eˣ)`, as `max(x, 0) + ln(1 + e^{−|x|})` so it never overflows.
    softplus, softplus_s: softplus_scalar, |x: f32, _| sigmoid_scalar(x)
);
pointwise!(
    /// Softsign `x / (1 + |x|)`.
    softsign, softsign_s: |x: f32| x / (1.0 + x.abs()), |x: f32, _| {
        let d = 1.0 + x.abs();
        1.0 / (d * d)
    }
);
pointwise!(
    /// SiLU (swish): `x · σ(x)`.
    silu, silu_s: |x: f32| x * sigmoid_scalar(x), |x: f32, _| {
        let s = sigmoid_scalar(x);
        s * (1.0 + x * (1.0 - s))
    }
);
pointwise!(
    /// `eˣ` (Keras's `exponential`).
    exponential, exponential_s: f32::exp, |_, y: f32| y
);
pointwise!(
    /// Mish: `x · tanh(softplus(x))`.
    mish, mish_s: |x: f32| x * softplus_scalar(x).tanh(), |x: f32, _| {
        let t = softplus_scalar(x).tanh();
        t + x * (1.0 - t * t) * sigmoid_scalar(x)
    }
);

/// Hard swish, Keras's other name for [`hard_silu`].
pub fn hard_swish(x: &Tensor) -> Tensor {
    hard_silu(x)
}

/// Swish, Keras's other name for [`silu`].
pub fn swish(x: &Tensor) -> Tensor {
    silu(x)
}

/// Keras's `relu(x, negative_slope, max_value, threshold)` (the `ReLU` layer):
/// `x` above `threshold` (clipped to `[0, max_value]` when given), and
/// `negative_slope·(x − threshold)` below it. Computed as Keras composes it.
#[inline]
fn relu_general_scalar(x: f32, slope: f32, max_value: Option<f32>, threshold: f32) -> f32 {
    if slope != 0.0 && max_value.is_none() && threshold == 0.0 {
        return if x > 0.0 { x } else { slope * x };
    }
    let mut y = if threshold != 0.0 {
        x * step(x > threshold)
    } else {
        x.max(0.0)
    };
    if let Some(m) = max_value {
        y = y.clamp(0.0, m);
    }
    if slope != 0.0 {
        y -= slope * (threshold - x).max(0.0);
    }
    y
}

#[inline]
fn relu_general_grad(x: f32, slope: f32, max_value: Option<f32>, threshold: f32) -> f32 {
    if slope != 0.0 && max_value.is_none() && threshold == 0.0 {
        return if x > 0.0 { 1.0 } else { slope };
    }
    let (pass, y) = if threshold != 0.0 {
        (x > threshold, x * step(x > threshold))
    } else {
        (x > 0.0, x.max(0.0))
    };
    let clip_pass = match max_value {
        // Keras uses TF's relu6 op for max_value 6 without threshold: gradient only on (0, 6).
        Some(m) if m == 6.0 && threshold == 0.0 => x < 6.0,
        Some(m) => (0.0..=m).contains(&y),
        None => true,
    };
    step(pass && clip_pass) + if slope != 0.0 && x < threshold { slope } else { 0.0 }
}

fn check_relu_args(op: &'static str, negative_slope: f32, max_value: Option<f32>, threshold: f32) -> Result<()> {
    if !negative_slope.is_finite() {
        return arg_err(op, "negative_slope", "a finite number", negative_slope);
    }
    if let Some(m) = max_value {
        if m.is_nan() || m < 0.0 {
            return arg_err(op, "max_value", "a number ≥ 0 or None", m);
        }
    }
    if !threshold.is_finite() {
        return arg_err(op, "threshold", "a finite number", threshold);
    }
    Ok(())
}

/// Keras's general ReLU (`keras.activations.relu` with all its arguments, the `ReLU`
/// layer). Keras's examples: on `[-10, -5, 0, 5, 10]`, `negative_slope = 0.5` gives
/// `[-5, -2.5, 0, 5, 10]`, `max_value = 5` gives `[0, 0, 0, 5, 5]`, `threshold = 5` gives
/// `[0, 0, 0, 0, 10]`.
pub fn relu_general(x: &Tensor, negative_slope: f32, max_value: Option<f32>, threshold: f32) -> Result<Tensor> {
    check_relu_args("relu", negative_slope, max_value, threshold)?;
    Ok(map_tensor(x, |v| {
        relu_general_scalar(v, negative_slope, max_value, threshold)
    }))
}

/// Leaky ReLU: `x` for `x > 0`, `negative_slope·x` otherwise (Keras 3's `LeakyReLU` layer
/// defaults to 0.3, the `leaky_relu` activation function to 0.2).
pub fn leaky_relu(x: &Tensor, negative_slope: f32) -> Result<Tensor> {
    check_relu_args("leaky_relu", negative_slope, None, 0.0)?;
    Ok(map_tensor(x, |v| if v > 0.0 { v } else { negative_slope * v }))
}

/// ELU: `x` for `x > 0`, `alpha·(eˣ − 1)` otherwise.
pub fn elu(x: &Tensor, alpha: f32) -> Result<Tensor> {
    check_alpha(alpha)?;
    Ok(map_tensor(x, |v| if v > 0.0 { v } else { alpha * v.exp_m1() }))
}

fn check_alpha(alpha: f32) -> Result<()> {
    if !alpha.is_finite() {
        return arg_err("elu", "alpha", "a finite number", alpha);
    }
    Ok(())
}

#[inline]
fn gelu_exact_scalar(x: f32) -> f32 {
    let x = f64::from(x);
    (0.5 * x * erfc(-x * std::f64::consts::FRAC_1_SQRT_2)) as f32
}

#[inline]
fn gelu_exact_grad(x: f32) -> f32 {
    let x = f64::from(x);
    let cdf = 0.5 * erfc(-x * std::f64::consts::FRAC_1_SQRT_2);
    let pdf = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
    (cdf + x * pdf) as f32
}

#[inline]
fn gelu_tanh_scalar(x: f32) -> f32 {
    let c = SQRT_2_OVER_PI as f32;
    0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
}

#[inline]
fn gelu_tanh_grad(x: f32) -> f32 {
    let c = SQRT_2_OVER_PI as f32;
    let t = (c * (x + 0.044715 * x * x * x)).tanh();
    0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * c * (1.0 + 3.0 * 0.044715 * x * x)
}

/// GELU: `x·Φ(x) = 0.5·x·(1 + erf(x/√2))` (computed in f64 with `erfc`, as TensorFlow does,
/// so the far negative tail stays accurate), or with `approximate` the tanh form
/// `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`. Keras's `activation="gelu"` is exact.
pub fn gelu(x: &Tensor, approximate: bool) -> Tensor {
    if approximate {
        map_tensor(x, gelu_tanh_scalar)
    } else {
        map_tensor(x, gelu_exact_scalar)
    }
}

impl Tape {
    /// Keras's general ReLU; see [`relu_general`].
    pub fn relu_general(&mut self, x: Var, negative_slope: f32, max_value: Option<f32>, threshold: f32) -> Result<Var> {
        check_relu_args("relu", negative_slope, max_value, threshold)?;
        self.unary_map(
            x,
            move |v| relu_general_scalar(v, negative_slope, max_value, threshold),
            move |v, _| relu_general_grad(v, negative_slope, max_value, threshold),
        )
    }

    /// Leaky ReLU; see [`leaky_relu`].
    pub fn leaky_relu(&mut self, x: Var, negative_slope: f32) -> Result<Var> {
        check_relu_args("leaky_relu", negative_slope, None, 0.0)?;
        self.unary_map(
            x,
            move |v| if v > 0.0 { v } else { negative_slope * v },
            move |v, _| if v > 0.0 { 1.0 } else { negative_slope },
        )
    }

    /// ELU; see [`elu`].
    pub fn elu(&mut self, x: Var, alpha: f32) -> Result<Var> {
        check_alpha(alpha)?;
        self.unary_map(
            x,
            move |v| if v > 0.0 { v } else { alpha * v.exp_m1() },
            move |v, _| if v > 0.0 { 1.0 } else { alpha * v.exp() },
        )
    }

    /// GELU; see [`gelu`].
    pub fn gelu(&mut self, x: Var, approximate: bool) -> Result<Var> {
        if approximate {
            self.unary_map(x, gelu_tanh_scalar, |v, _| gelu_tanh_grad(v))
        } else {
            self.unary_map(x, gelu_exact_scalar, |v, _| gelu_exact_grad(v))
        }
    }

    /// Hard swish, Keras's other name for [`Tape::hard_silu`].
    pub fn hard_swish(&mut self, x: Var) -> Result<Var> {
        self.hard_silu(x)
    }

    /// Swish, Keras's other name for [`Tape::silu`].
    pub fn swish(&mut self, x: Var) -> Result<Var> {
        self.silu(x)
    }
}

/// The activations Keras accepts by name (`Dense(10, activation="relu")`), with Keras's
/// defaults for their parameters (`leaky_relu`: slope 0.2, `elu`: alpha 1, `gelu`: exact,
/// `softmax`/`log_softmax`: last axis).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Activation {
    /// `linear`: the identity.
    Linear,
    /// `relu`
    Relu,
    /// `relu6`
    Relu6,
    /// `leaky_relu` (negative slope 0.2)
    LeakyRelu,
    /// `elu` (alpha 1)
    Elu,
    /// `selu`
    Selu,
    /// `sigmoid`
    Sigmoid,
    /// `hard_sigmoid`, Keras 3's `relu6(x + 3) / 6`.
    HardSigmoid,
    /// tf-keras 2's `hard_sigmoid` (`clip(0.2·x + 0.5, 0, 1)`); its name is also
    /// `hard_sigmoid`, so [`Activation::from_name`] never returns it: a tf-keras 2 importer
    /// picks it explicitly.
    HardSigmoidLegacy,
    /// `hard_silu`
    HardSilu,
    /// `hard_swish` (same function as `hard_silu`)
    HardSwish,
    /// `tanh`
    Tanh,
    /// `softmax` over the last axis
    Softmax,
    /// `log_softmax` over the last axis
    LogSoftmax,
    /// `softplus`
    Softplus,
    /// `softsign`
    Softsign,
    /// `silu`
    Silu,
    /// `swish` (same function as `silu`)
    Swish,
    /// `gelu` (exact, with erf)
    Gelu,
    /// `exponential`
    Exponential,
    /// `mish`
    Mish,
}

impl Activation {
    /// Every activation [`Activation::from_name`] knows.
    pub const ALL: [Activation; 20] = [
        Activation::Linear,
        Activation::Relu,
        Activation::Relu6,
        Activation::LeakyRelu,
        Activation::Elu,
        Activation::Selu,
        Activation::Sigmoid,
        Activation::HardSigmoid,
        Activation::HardSilu,
        Activation::HardSwish,
        Activation::Tanh,
        Activation::Softmax,
        Activation::LogSoftmax,
        Activation::Softplus,
        Activation::Softsign,
        Activation::Silu,
        Activation::Swish,
        Activation::Gelu,
        Activation::Exponential,
        Activation::Mish,
    ];

    /// Keras's name.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Linear => "linear",
            Activation::Relu => "relu",
            Activation::Relu6 => "relu6",
            Activation::LeakyRelu => "leaky_relu",
            Activation::Elu => "elu",
            Activation::Selu => "selu",
            Activation::Sigmoid => "sigmoid",
            Activation::HardSigmoid | Activation::HardSigmoidLegacy => "hard_sigmoid",
            Activation::HardSilu => "hard_silu",
            Activation::HardSwish => "hard_swish",
            Activation::Tanh => "tanh",
            Activation::Softmax => "softmax",
            Activation::LogSoftmax => "log_softmax",
            Activation::Softplus => "softplus",
            Activation::Softsign => "softsign",
            Activation::Silu => "silu",
            Activation::Swish => "swish",
            Activation::Gelu => "gelu",
            Activation::Exponential => "exponential",
            Activation::Mish => "mish",
        }
    }

    /// The activation Keras means by `name` (Keras 3's meaning for `hard_sigmoid`).
    pub fn from_name(name: &str) -> Option<Activation> {
        Activation::ALL.into_iter().find(|a| a.name() == name)
    }

    /// On the tape.
    pub fn apply(self, tape: &mut Tape, x: Var) -> Result<Var> {
        match self {
            Activation::Linear => Ok(x),
            Activation::Relu => tape.relu(x),
            Activation::Relu6 => tape.relu6(x),
            Activation::LeakyRelu => tape.leaky_relu(x, 0.2),
            Activation::Elu => tape.elu(x, 1.0),
            Activation::Selu => tape.selu(x),
            Activation::Sigmoid => {
                let y = tape.sigmoid(x)?;
                tape.mark_logits(y, x, "sigmoid");
                Ok(y)
            }
            Activation::HardSigmoid => tape.hard_sigmoid(x),
            Activation::HardSigmoidLegacy => tape.hard_sigmoid_legacy(x),
            Activation::HardSilu | Activation::HardSwish => tape.hard_silu(x),
            Activation::Tanh => tape.tanh(x),
            Activation::Softmax => tape.softmax(x, -1),
            Activation::LogSoftmax => tape.log_softmax(x, -1),
            Activation::Softplus => tape.softplus(x),
            Activation::Softsign => tape.softsign(x),
            Activation::Silu | Activation::Swish => tape.silu(x),
            Activation::Gelu => tape.gelu(x, false),
            Activation::Exponential => tape.exponential(x),
            Activation::Mish => tape.mish(x),
        }
    }

    /// Forward only (inference).
    pub fn apply_tensor(self, x: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Activation::Linear => x.clone(),
            Activation::Relu => relu(x),
            Activation::Relu6 => relu6(x),
            Activation::LeakyRelu => leaky_relu(x, 0.2)?,
            Activation::Elu => elu(x, 1.0)?,
            Activation::Selu => selu(x),
            Activation::Sigmoid => sigmoid(x),
            Activation::HardSigmoid => hard_sigmoid(x),
            Activation::HardSigmoidLegacy => hard_sigmoid_legacy(x),
            Activation::HardSilu | Activation::HardSwish => hard_silu(x),
            Activation::Tanh => tanh(x),
            Activation::Softmax => crate::ops::softmax::softmax(x, -1)?,
            Activation::LogSoftmax => crate::ops::softmax::log_softmax(x, -1)?,
            Activation::Softplus => softplus(x),
            Activation::Softsign => softsign(x),
            Activation::Silu | Activation::Swish => silu(x),
            Activation::Gelu => gelu(x, false),
            Activation::Exponential => exponential(x),
            Activation::Mish => mish(x),
        })
    }
}

impl Activation {
    /// The function on one value, for the element-wise activations (`None` for softmax and
    /// log-softmax, which work on whole rows). The same arithmetic as [`Activation::apply_tensor`].
    pub fn scalar_fn(self) -> Option<fn(f32) -> f32> {
        Some(match self {
            Activation::Linear => |x| x,
            Activation::Relu => relu_s,
            Activation::Relu6 => relu6_s,
            Activation::LeakyRelu => |x| if x > 0.0 { x } else { 0.2 * x },
            Activation::Elu => |x| if x > 0.0 { x } else { x.exp_m1() },
            Activation::Selu => selu_s,
            Activation::Sigmoid => sigmoid_s,
            Activation::HardSigmoid => hard_sigmoid_s,
            Activation::HardSigmoidLegacy => hard_sigmoid_legacy_s,
            Activation::HardSilu | Activation::HardSwish => hard_silu_s,
            Activation::Tanh => tanh_s,
            Activation::Softplus => softplus_s,
            Activation::Softsign => softsign_s,
            Activation::Silu | Activation::Swish => silu_s,
            Activation::Gelu => gelu_exact_scalar,
            Activation::Exponential => exponential_s,
            Activation::Mish => mish_s,
            Activation::Softmax | Activation::LogSoftmax => return None,
        })
    }
}

/// The activation Keras means by `name` (`"relu"`, `"softmax"`, …), or `None`.
pub fn activation_by_name(name: &str) -> Option<Activation> {
    Activation::from_name(name)
}

#[cfg(test)]
#[path = "activation_tests.rs"]
mod tests;
