//! Keras initializers with Keras's names, arguments and formulas. Each accepts a seed; the
//! same seed gives the same values (rkeras's generator, not TensorFlow's, so values differ
//! from Keras's while their distributions match).
//!
//! Fans follow Keras: for a kernel `(…receptive, in, out)`, `fan_in = in·∏receptive`,
//! `fan_out = out·∏receptive`.

use crate::config::{keras_object, short};
use crate::error::{KerasError, Result};
use serde_json::{json, Value};
use tensor::{Rng, Tensor};

/// `mode` of VarianceScaling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FanMode {
    /// Divide by fan_in.
    FanIn,
    /// Divide by fan_out.
    FanOut,
    /// Divide by (fan_in + fan_out)/2.
    FanAvg,
}

/// `distribution` of VarianceScaling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Distribution {
    /// Truncated normal (±2σ), σ corrected by 0.8796…
    TruncatedNormal,
    /// Plain normal.
    UntruncatedNormal,
    /// Uniform in ±√(3·scale).
    Uniform,
}

/// A Keras initializer (fields are Keras's arguments).
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq)]
pub enum Initializer {
    /// `zeros`.
    Zeros,
    /// `ones`.
    Ones,
    /// `Constant(value)`.
    Constant(f64),
    /// `RandomNormal(mean=0, stddev=0.05)`.
    RandomNormal { mean: f64, stddev: f64, seed: Option<u64> },
    /// `RandomUniform(minval=-0.05, maxval=0.05)`.
    RandomUniform {
        minval: f64,
        maxval: f64,
        seed: Option<u64>,
    },
    /// `TruncatedNormal(mean=0, stddev=0.05)`.
    TruncatedNormal { mean: f64, stddev: f64, seed: Option<u64> },
    /// `VarianceScaling` and its named presets (glorot/he/lecun), kept by name for JSON.
    VarianceScaling {
        class_name: &'static str,
        scale: f64,
        mode: FanMode,
        distribution: Distribution,
        seed: Option<u64>,
    },
    /// `Orthogonal(gain=1)`.
    Orthogonal { gain: f64, seed: Option<u64> },
    /// `Identity(gain=1)` (2-D only).
    Identity { gain: f64 },
}

const PRESETS: [(&str, &str, f64, FanMode, Distribution); 6] = [
    (
        "GlorotUniform",
        "glorot_uniform",
        1.0,
        FanMode::FanAvg,
        Distribution::Uniform,
    ),
    (
        "GlorotNormal",
        "glorot_normal",
        1.0,
        FanMode::FanAvg,
        Distribution::TruncatedNormal,
    ),
    ("HeUniform", "he_uniform", 2.0, FanMode::FanIn, Distribution::Uniform),
    (
        "HeNormal",
        "he_normal",
        2.0,
        FanMode::FanIn,
        Distribution::TruncatedNormal,
    ),
    (
        "LecunUniform",
        "lecun_uniform",
        1.0,
        FanMode::FanIn,
        Distribution::Uniform,
    ),
    (
        "LecunNormal",
        "lecun_normal",
        1.0,
        FanMode::FanIn,
        Distribution::TruncatedNormal,
    ),
];

/// The names `Initializer::from_name` accepts, for error messages.
pub const NAMES: &str = "zeros, ones, constant, random_normal, random_uniform, truncated_normal, glorot_uniform, glorot_normal, he_uniform, he_normal, lecun_uniform, lecun_normal, orthogonal, identity, variance_scaling";

fn snake(name: &str) -> String {
    crate::layers::snake_case(name)
}

impl Initializer {
    /// Keras's default kernel initializer.
    pub fn glorot_uniform() -> Initializer {
        Initializer::from_name("glorot_uniform").unwrap_or(Initializer::Zeros)
    }

    /// An initializer from its Keras name (`he_normal`, `HeNormal`, `zeros`, …) with defaults.
    pub fn from_name(name: &str) -> Option<Initializer> {
        let key = snake(name);
        for (class, snake_name, scale, mode, distribution) in PRESETS {
            if key == snake_name {
                return Some(Initializer::VarianceScaling {
                    class_name: class,
                    scale,
                    mode,
                    distribution,
                    seed: None,
                });
            }
        }
        Some(match key.as_str() {
            "zeros" | "zero" => Initializer::Zeros,
            "ones" | "one" => Initializer::Ones,
            "constant" => Initializer::Constant(0.0),
            "random_normal" => Initializer::RandomNormal {
                mean: 0.0,
                stddev: 0.05,
                seed: None,
            },
            "random_uniform" => Initializer::RandomUniform {
                minval: -0.05,
                maxval: 0.05,
                seed: None,
            },
            "truncated_normal" => Initializer::TruncatedNormal {
                mean: 0.0,
                stddev: 0.05,
                seed: None,
            },
            "variance_scaling" => Initializer::VarianceScaling {
                class_name: "VarianceScaling",
                scale: 1.0,
                mode: FanMode::FanIn,
                distribution: Distribution::TruncatedNormal,
                seed: None,
            },
            "orthogonal" => Initializer::Orthogonal { gain: 1.0, seed: None },
            "identity" => Initializer::Identity { gain: 1.0 },
            _ => return None,
        })
    }

    /// From a Keras config value: a name or `{"class_name", "config"}` (Keras 2 or 3).
    pub fn from_keras(layer: &str, arg: &str, v: &Value) -> Result<Initializer> {
        let bad = |what: String| KerasError::Argument {
            layer: layer.to_string(),
            arg: arg.to_string(),
            expected: format!("one of {NAMES}"),
            received: what,
        };
        let (class, cfg) = match v {
            Value::String(s) => return Initializer::from_name(s).ok_or_else(|| bad(s.clone())),
            Value::Object(o) => (
                o.get("class_name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad(short(v)))?,
                o.get("config").cloned().unwrap_or(json!({})),
            ),
            _ => return Err(bad(short(v))),
        };
        let mut init = Initializer::from_name(class).ok_or_else(|| bad(class.to_string()))?;
        let num = |k: &str, d: f64| cfg.get(k).and_then(Value::as_f64).unwrap_or(d);
        let seed = cfg.get("seed").and_then(Value::as_u64);
        match &mut init {
            Initializer::Constant(c) => *c = num("value", 0.0),
            Initializer::RandomNormal { mean, stddev, seed: s }
            | Initializer::TruncatedNormal { mean, stddev, seed: s } => {
                *mean = num("mean", *mean);
                *stddev = num("stddev", *stddev);
                *s = seed;
            }
            Initializer::RandomUniform {
                minval,
                maxval,
                seed: s,
            } => {
                *minval = num("minval", *minval);
                *maxval = num("maxval", *maxval);
                *s = seed;
            }
            Initializer::VarianceScaling {
                class_name,
                scale,
                mode,
                distribution,
                seed: s,
            } => {
                *s = seed;
                if *class_name == "VarianceScaling" {
                    *scale = num("scale", 1.0);
                    *mode = match cfg.get("mode").and_then(Value::as_str).unwrap_or("fan_in") {
                        "fan_in" => FanMode::FanIn,
                        "fan_out" => FanMode::FanOut,
                        "fan_avg" => FanMode::FanAvg,
                        other => return Err(bad(format!("VarianceScaling(mode={other})"))),
                    };
                    *distribution = match cfg
                        .get("distribution")
                        .and_then(Value::as_str)
                        .unwrap_or("truncated_normal")
                    {
                        "truncated_normal" => Distribution::TruncatedNormal,
                        "untruncated_normal" | "normal" => Distribution::UntruncatedNormal,
                        "uniform" => Distribution::Uniform,
                        other => return Err(bad(format!("VarianceScaling(distribution={other})"))),
                    };
                }
            }
            Initializer::Orthogonal { gain, seed: s } => {
                *gain = num("gain", 1.0);
                *s = seed;
            }
            Initializer::Identity { gain } => *gain = num("gain", 1.0),
            Initializer::Zeros | Initializer::Ones => {}
        }
        Ok(init)
    }

    /// Keras 3 JSON of this initializer.
    pub fn to_keras(&self) -> Value {
        let seed = |s: &Option<u64>| s.map_or(Value::Null, |v| json!(v));
        let (class, cfg) = match self {
            Initializer::Zeros => ("Zeros", json!({})),
            Initializer::Ones => ("Ones", json!({})),
            Initializer::Constant(v) => ("Constant", json!({ "value": v })),
            Initializer::RandomNormal { mean, stddev, seed: s } => {
                ("RandomNormal", json!({"seed": seed(s), "mean": mean, "stddev": stddev}))
            }
            Initializer::RandomUniform {
                minval,
                maxval,
                seed: s,
            } => (
                "RandomUniform",
                json!({"seed": seed(s), "minval": minval, "maxval": maxval}),
            ),
            Initializer::TruncatedNormal { mean, stddev, seed: s } => (
                "TruncatedNormal",
                json!({"seed": seed(s), "mean": mean, "stddev": stddev}),
            ),
            Initializer::VarianceScaling {
                class_name,
                scale,
                mode,
                distribution,
                seed: s,
            } => {
                if *class_name == "VarianceScaling" {
                    let m = match mode {
                        FanMode::FanIn => "fan_in",
                        FanMode::FanOut => "fan_out",
                        FanMode::FanAvg => "fan_avg",
                    };
                    let d = match distribution {
                        Distribution::TruncatedNormal => "truncated_normal",
                        Distribution::UntruncatedNormal => "untruncated_normal",
                        Distribution::Uniform => "uniform",
                    };
                    (
                        "VarianceScaling",
                        json!({"seed": seed(s), "scale": scale, "mode": m, "distribution": d, "input_axes": null, "output_axes": null}),
                    )
                } else {
                    (
                        *class_name,
                        json!({ "seed": seed(s), "input_axes": null, "output_axes": null }),
                    )
                }
            }
            Initializer::Orthogonal { gain, seed: s } => ("Orthogonal", json!({"seed": seed(s), "gain": gain})),
            Initializer::Identity { gain } => ("Identity", json!({ "gain": gain })),
        };
        keras_object("keras.initializers", class, cfg)
    }

    /// Values for a weight of `shape`. `rng` is used when the initializer has no seed of its own.
    pub fn generate(&self, layer: &str, shape: &[usize], rng: &mut Rng) -> Result<Tensor> {
        let n = weight_elements(layer, shape)?;
        let mut own;
        let seeded = |s: &Option<u64>, own: &mut Option<Rng>| {
            if let Some(seed) = s {
                *own = Some(Rng::new(*seed));
            }
        };
        own = None;
        let (fan_in, fan_out) = fans(shape);
        let data: Vec<f32> = match self {
            Initializer::Zeros => vec![0.0; n],
            Initializer::Ones => vec![1.0; n],
            Initializer::Constant(v) => vec![*v as f32; n],
            Initializer::RandomNormal { mean, stddev, seed } => {
                seeded(seed, &mut own);
                let r = own.as_mut().unwrap_or(rng);
                (0..n).map(|_| (mean + stddev * r.normal()) as f32).collect()
            }
            Initializer::TruncatedNormal { mean, stddev, seed } => {
                seeded(seed, &mut own);
                let r = own.as_mut().unwrap_or(rng);
                (0..n).map(|_| (mean + stddev * r.truncated_normal()) as f32).collect()
            }
            Initializer::RandomUniform { minval, maxval, seed } => {
                seeded(seed, &mut own);
                let r = own.as_mut().unwrap_or(rng);
                (0..n).map(|_| r.uniform_range(*minval, *maxval) as f32).collect()
            }
            Initializer::VarianceScaling {
                scale,
                mode,
                distribution,
                seed,
                ..
            } => {
                seeded(seed, &mut own);
                let r = own.as_mut().unwrap_or(rng);
                let fan = match mode {
                    FanMode::FanIn => fan_in,
                    FanMode::FanOut => fan_out,
                    FanMode::FanAvg => (fan_in + fan_out) / 2.0,
                };
                let s = scale / fan.max(1.0);
                match distribution {
                    Distribution::TruncatedNormal => {
                        let sd = s.sqrt() / 0.879_625_661_034_239_8;
                        (0..n).map(|_| (sd * r.truncated_normal()) as f32).collect()
                    }
                    Distribution::UntruncatedNormal => (0..n).map(|_| (s.sqrt() * r.normal()) as f32).collect(),
                    Distribution::Uniform => {
                        let limit = (3.0 * s).sqrt();
                        (0..n).map(|_| r.uniform_range(-limit, limit) as f32).collect()
                    }
                }
            }
            Initializer::Orthogonal { gain, seed } => {
                seeded(seed, &mut own);
                let r = own.as_mut().unwrap_or(rng);
                orthogonal(shape, *gain, r)
            }
            Initializer::Identity { gain } => {
                if shape.len() != 2 {
                    return Err(crate::error::arg_error(
                        layer,
                        "kernel_initializer",
                        "Identity only for 2-D weights",
                        format!("a weight of shape {shape:?}"),
                    ));
                }
                let mut d = vec![0.0; n];
                for i in 0..shape[0].min(shape[1]) {
                    d[i * shape[1] + i] = *gain as f32;
                }
                d
            }
        };
        Ok(Tensor::new(shape, data)?)
    }
}

/// The most elements one weight may have: 2³¹ floats (8 GiB), far above any real layer
/// (VGG19's largest kernel has 1.03·10⁸) and below what a config or file can make rkeras
/// try to allocate.
pub const MAX_WEIGHT_ELEMENTS: usize = 1 << 31;

/// Element count of a weight shape, refused (naming the layer) when it overflows or exceeds
/// [`MAX_WEIGHT_ELEMENTS`], before anything is allocated.
pub fn weight_elements(layer: &str, shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&n| n <= MAX_WEIGHT_ELEMENTS)
        .ok_or_else(|| {
            crate::error::arg_error(
                layer,
                "weight shape",
                format!("at most {MAX_WEIGHT_ELEMENTS} elements in one weight"),
                format!("{shape:?}"),
            )
        })
}

/// Keras's `compute_fans`.
pub fn fans(shape: &[usize]) -> (f64, f64) {
    match shape.len() {
        0 => (1.0, 1.0),
        1 => (shape[0] as f64, shape[0] as f64),
        2 => (shape[0] as f64, shape[1] as f64),
        r => {
            let receptive: usize = shape[..r - 2].iter().product();
            ((shape[r - 2] * receptive) as f64, (shape[r - 1] * receptive) as f64)
        }
    }
}

/// Orthogonal matrix of `rows = ∏shape[..-1]`, `cols = shape[-1]` by Gram–Schmidt on a normal
/// draw (Keras uses QR; the sign convention makes both Haar-distributed).
fn orthogonal(shape: &[usize], gain: f64, rng: &mut Rng) -> Vec<f32> {
    let cols = *shape.last().unwrap_or(&1);
    let rows: usize = shape.iter().product::<usize>() / cols.max(1);
    let (m, k) = if rows < cols { (cols, rows) } else { (rows, cols) };
    // k orthonormal vectors of length m.
    let mut q: Vec<Vec<f64>> = Vec::with_capacity(k);
    while q.len() < k {
        let mut v: Vec<f64> = (0..m).map(|_| rng.normal()).collect();
        for u in &q {
            let d: f64 = v.iter().zip(u).map(|(a, b)| a * b).sum();
            for (a, b) in v.iter_mut().zip(u) {
                *a -= d * b;
            }
        }
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        if norm > 1e-6 {
            q.push(v.into_iter().map(|a| a / norm).collect());
        }
    }
    let mut out = vec![0.0f32; rows * cols];
    for i in 0..rows {
        for j in 0..cols {
            let v = if rows < cols { q[i][j] } else { q[j][i] };
            out[i * cols + j] = (gain * v) as f32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_json_round_trip() {
        for name in NAMES.split(", ") {
            let i = Initializer::from_name(name).unwrap_or_else(|| panic!("{name}"));
            let j = i.to_keras();
            assert_eq!(
                Initializer::from_keras("l", "kernel_initializer", &j).unwrap(),
                i,
                "{name}"
            );
        }
        let e = Initializer::from_keras("dense", "kernel_initializer", &json!("glorot_unifrom"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("dense") && e.contains("glorot_unifrom") && e.contains("kernel_initializer"),
            "{e}"
        );
    }

    #[test]
    fn glorot_uniform_limit_and_seed() {
        let i =
            Initializer::from_keras("l", "k", &json!({"class_name": "GlorotUniform", "config": {"seed": 3}})).unwrap();
        let mut rng = Rng::new(0);
        let a = i.generate("l", &[3, 3, 32, 64], &mut rng).unwrap();
        let b = i.generate("l", &[3, 3, 32, 64], &mut Rng::new(99)).unwrap();
        assert_eq!(a, b, "a seeded initializer ignores the model's generator");
        let limit = (6.0f64 / (9.0 * 32.0 + 9.0 * 64.0)).sqrt() as f32;
        assert!(a.data().iter().all(|v| v.abs() <= limit));
        assert!(a.data().iter().any(|v| v.abs() > 0.9 * limit));
    }

    #[test]
    fn he_normal_std_and_orthogonal() {
        let i = Initializer::from_name("he_normal").unwrap();
        let t = i.generate("l", &[100, 400], &mut Rng::new(1)).unwrap();
        let var = t.data().iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / t.len() as f64;
        assert!((var - 2.0 / 100.0).abs() < 0.002, "{var}");
        let o = Initializer::from_name("orthogonal")
            .unwrap()
            .generate("l", &[6, 4], &mut Rng::new(2))
            .unwrap();
        let d = o.data();
        for a in 0..4 {
            for b in 0..4 {
                let dot: f32 = (0..6).map(|r| d[r * 4 + a] * d[r * 4 + b]).sum();
                assert!((dot - if a == b { 1.0 } else { 0.0 }).abs() < 1e-5);
            }
        }
    }
}
