//! The epilogue every inference kernel ends with: `y = act(acc + bias + residual)`.
//!
//! Clamp-type activations (linear, relu, relu6, `ReLU(max_value)`, leaky relu with a slope in
//! `[0, 1]`) run in the microkernels' registers as `min(max(max(x, slope·x), lo), hi)`, which is
//! bit-equal to Keras's formulas; any other element-wise activation runs as a scalar pass over
//! the tile just written, while it is still in L1, with the engine's own scalar function (the
//! same arithmetic as the tape's forward).

use crate::ops::activation::Activation;

/// What follows the accumulation: bias, clamp, and an optional scalar function.
#[derive(Clone, Copy)]
pub struct Epilogue<'a> {
    /// One value per output channel, added first.
    pub bias: Option<&'a [f32]>,
    /// Lower clamp (`-inf` for none).
    pub lo: f32,
    /// Upper clamp (`+inf` for none).
    pub hi: f32,
    /// Leaky slope in `[0, 1]`: `x ← max(x, slope·x)` before the clamp (`None`: skipped).
    pub slope: Option<f32>,
    /// A scalar function applied after the clamp (sigmoid, swish, gelu, …).
    pub post: Option<fn(f32) -> f32>,
}

impl std::fmt::Debug for Epilogue<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Epilogue(bias: {}, lo: {}, hi: {}, slope: {:?}, post: {})",
            self.bias.is_some(),
            self.lo,
            self.hi,
            self.slope,
            self.post.is_some()
        )
    }
}

impl Default for Epilogue<'_> {
    fn default() -> Self {
        Epilogue::linear()
    }
}

/// An activation as the kernels apply it (no bias).
#[derive(Debug, Clone, Copy)]
pub struct ActSpec {
    /// Lower clamp.
    pub lo: f32,
    /// Upper clamp.
    pub hi: f32,
    /// Leaky slope.
    pub slope: Option<f32>,
    /// Scalar function after the clamp.
    pub post: Option<fn(f32) -> f32>,
}

impl ActSpec {
    /// No activation.
    pub const LINEAR: ActSpec = ActSpec {
        lo: f32::NEG_INFINITY,
        hi: f32::INFINITY,
        slope: None,
        post: None,
    };

    /// A Keras activation function; `None` for softmax / log-softmax (row-wise, not element-wise).
    pub fn from_activation(a: Activation) -> Option<ActSpec> {
        let clamp = |lo: f32, hi: f32, slope: Option<f32>| ActSpec {
            lo,
            hi,
            slope,
            post: None,
        };
        Some(match a {
            Activation::Linear => ActSpec::LINEAR,
            Activation::Relu => clamp(0.0, f32::INFINITY, None),
            Activation::Relu6 => clamp(0.0, 6.0, None),
            Activation::LeakyRelu => clamp(f32::NEG_INFINITY, f32::INFINITY, Some(0.2)),
            other => ActSpec {
                post: Some(other.scalar_fn()?),
                ..ActSpec::LINEAR
            },
        })
    }

    /// Keras's general `ReLU(negative_slope, max_value, threshold)`, when it is clamp-type
    /// (threshold 0, slope in `[0, 1]`); `None` otherwise.
    pub fn relu_general(negative_slope: f32, max_value: Option<f32>, threshold: f32) -> Option<ActSpec> {
        if threshold != 0.0 || !(0.0..=1.0).contains(&negative_slope) {
            return None;
        }
        // Keras clips the positive part only; max(x, s·x) then min(·, m) is the same for x ≥ 0
        // and for x < 0 (s·x ≤ 0 ≤ m), so the clamp form holds with a slope and a maximum.
        Some(ActSpec {
            lo: if negative_slope > 0.0 { f32::NEG_INFINITY } else { 0.0 },
            hi: max_value.unwrap_or(f32::INFINITY),
            slope: (negative_slope > 0.0).then_some(negative_slope),
            post: None,
        })
    }

    /// Whether it does nothing.
    pub fn is_linear(&self) -> bool {
        self.post.is_none() && self.slope.is_none() && self.lo == f32::NEG_INFINITY && self.hi == f32::INFINITY
    }

    /// This activation after a bias.
    pub fn with_bias(self, bias: Option<&[f32]>) -> Epilogue<'_> {
        Epilogue {
            bias,
            lo: self.lo,
            hi: self.hi,
            slope: self.slope,
            post: self.post,
        }
    }

    /// Applies it to one value (the reference the vector code is tested against).
    #[inline]
    pub fn apply(&self, mut x: f32) -> f32 {
        if let Some(s) = self.slope {
            x = x.max(s * x);
        }
        x = x.max(self.lo).min(self.hi);
        match self.post {
            Some(f) => f(x),
            None => x,
        }
    }
}

impl<'a> Epilogue<'a> {
    /// No bias, no activation.
    pub fn linear() -> Epilogue<'a> {
        ActSpec::LINEAR.with_bias(None)
    }

    /// The activation part.
    pub fn act(&self) -> ActSpec {
        ActSpec {
            lo: self.lo,
            hi: self.hi,
            slope: self.slope,
            post: self.post,
        }
    }
}

/// Applies the activation part of an epilogue (not the bias) to values in place.
pub fn apply_act(act: &ActSpec, values: &mut [f32]) {
    if act.is_linear() {
        return;
    }
    for v in values {
        *v = act.apply(*v);
    }
}
