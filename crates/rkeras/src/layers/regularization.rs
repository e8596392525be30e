//! `Dropout(rate, noise_shape, seed)`: the identity at inference; in training, inverted
//! dropout (each value kept with probability `1 − rate` and scaled by `1/(1 − rate)`) with the
//! engine's dropout op. `noise_shape` draws a smaller mask broadcast over the input (its
//! `None` entries take the input's sizes). Randomness comes from the call's generator, or
//! from the layer's own `seed` (a new mask each call, the same sequence every run).
//! Shape unchanged.
//!
//! ```
//! use rkeras::prelude::*;
//! clear_session();
//! let x = Input(&[64]).unwrap();
//! let y = Dropout::new(0.5).call(&x).unwrap();
//! assert_eq!(y.shape(), x.shape());
//! ```

use super::common::{config_name, layer_core, opt_setters, setters, single, LayerCore};
use super::{CallCtx, Layer, LayerConfig};
use crate::config::ConfigReader;
use crate::error::{arg_error, in_layer, Result};
use crate::kshape::{format_shape, Shape};
use crate::model::plan::InferenceOp;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tensor::{Rng, Var};

/// `Dropout(rate, noise_shape=None, seed=None)`.
#[derive(Debug, Clone, PartialEq)]
pub struct DropoutConfig {
    /// Name; automatic (`dropout`, `dropout_1`, …) when `None`.
    pub name: Option<String>,
    /// Keras's flag (no weights).
    pub trainable: bool,
    /// Fraction of the values dropped, in `[0, 1]`.
    pub rate: f64,
    /// Shape of the mask (batch included); `None` entries take the input's size.
    pub noise_shape: Option<Vec<Option<usize>>>,
    /// The layer's own seed.
    pub seed: Option<u64>,
}

/// A built `Dropout` layer.
#[derive(Debug, Clone)]
pub struct Dropout {
    core: LayerCore,
    config: DropoutConfig,
    /// Calls made with the layer's own seed, so each draws a new mask (Keras's
    /// `SeedGenerator` state); shared by clones of the layer.
    calls: Arc<AtomicU64>,
}

impl Dropout {
    /// `Dropout(rate)`.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(rate: f64) -> DropoutConfig {
        DropoutConfig {
            name: None,
            trainable: true,
            rate,
            noise_shape: None,
            seed: None,
        }
    }
}

impl DropoutConfig {
    setters!(trainable: bool);
    opt_setters!(name: String);

    /// The layer's own seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The mask's shape (`[None, 1, 1, None]` drops whole channels of an NHWC input).
    pub fn noise_shape(mut self, shape: &[Option<usize>]) -> Self {
        self.noise_shape = Some(shape.to_vec());
        self
    }

    /// Keras's `__init__` checks.
    pub fn validate(&self, layer: &str) -> Result<()> {
        if !(0.0..=1.0).contains(&self.rate) {
            return Err(arg_error(layer, "rate", "a float value between 0 and 1", self.rate));
        }
        if let Some(ns) = &self.noise_shape {
            if ns.contains(&Some(0)) {
                return Err(arg_error(
                    layer,
                    "noise_shape",
                    "positive integers or None",
                    format_shape(ns),
                ));
            }
        }
        Ok(())
    }

    /// Reads a Keras 3 or tf-keras 2 `Dropout` config.
    pub fn from_keras(r: &ConfigReader) -> Result<DropoutConfig> {
        r.check_dtype()?;
        let rate = r.f64("rate")?.ok_or_else(|| r.missing("rate"))?;
        let c = DropoutConfig {
            name: r.name(),
            trainable: r.trainable()?,
            rate,
            noise_shape: r.dims("noise_shape")?,
            seed: r.usize("seed")?.map(|s| s as u64),
        };
        c.validate(&r.layer)?;
        Ok(c)
    }
}

/// Checks `noise_shape` against an input shape: same rank, each known entry 1 or the input's
/// size.
fn check_noise_shape(layer: &str, noise: &[Option<usize>], input: &[Option<usize>]) -> Result<()> {
    let fits = noise.len() == input.len()
        && noise.iter().zip(input).all(|(n, d)| match (n, d) {
            (Some(n), Some(d)) => *n == 1 || n == d,
            _ => true,
        });
    if !fits {
        return Err(arg_error(
            layer,
            "noise_shape",
            format!(
                "a shape of rank {} whose entries are 1, None or the input's size (input shape {})",
                input.len(),
                format_shape(input)
            ),
            format_shape(noise),
        ));
    }
    Ok(())
}

impl LayerConfig for DropoutConfig {
    config_name!("Dropout");
    fn build(&self, name: &str, inputs: &[Shape], _rng: &mut Rng) -> Result<Box<dyn Layer>> {
        self.validate(name)?;
        let input = single(name, inputs)?;
        if let Some(ns) = &self.noise_shape {
            check_noise_shape(name, ns, input)?;
        }
        Ok(Box::new(Dropout {
            core: LayerCore::new(name, self.trainable, Vec::new()),
            config: DropoutConfig {
                name: Some(name.to_string()),
                ..self.clone()
            },
            calls: Arc::new(AtomicU64::new(0)),
        }))
    }
}

impl Layer for Dropout {
    layer_core!("Dropout");
    fn inference_op(&self) -> Option<InferenceOp> {
        Some(InferenceOp::Alias)
    }
    fn compute_output_shape(&self, inputs: &[Shape]) -> Result<Vec<Shape>> {
        let input = single(&self.core.name, inputs)?;
        if let Some(ns) = &self.config.noise_shape {
            check_noise_shape(&self.core.name, ns, input)?;
        }
        Ok(vec![input.clone()])
    }
    fn call(&self, ctx: &mut CallCtx, inputs: &[Var], weights: &[Var]) -> Result<Vec<Var>> {
        let x = self.core.input(inputs, weights)?;
        let rate = self.config.rate;
        if !ctx.training || rate == 0.0 {
            return Ok(vec![x]);
        }
        let err = in_layer(&self.core.name);
        let shape = ctx.tape.try_value(x).map_err(&err)?.shape().to_vec();
        let noise: Option<Vec<usize>> = match &self.config.noise_shape {
            None => None,
            Some(ns) => {
                let concrete: Vec<Option<usize>> = shape.iter().map(|&d| Some(d)).collect();
                check_noise_shape(&self.core.name, ns, &concrete)?;
                Some(ns.iter().zip(&shape).map(|(n, d)| n.unwrap_or(*d)).collect())
            }
        };
        let y = match self.config.seed {
            Some(seed) => {
                let step = self.calls.fetch_add(1, Ordering::Relaxed);
                let mut rng = Rng::new(seed ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15));
                ctx.tape.dropout(x, rate as f32, noise.as_deref(), &mut rng, true)
            }
            None => ctx.tape.dropout(x, rate as f32, noise.as_deref(), ctx.rng, true),
        }
        .map_err(|e| match e {
            tensor::TensorError::Argument {
                arg,
                expected,
                received,
                ..
            } => arg_error(&self.core.name, arg, expected, received),
            other => err(other),
        })?;
        Ok(vec![y])
    }
    fn config(&self) -> Value {
        let c = &self.config;
        let entries = [
            ("rate", json!(c.rate)),
            ("seed", json!(c.seed)),
            ("noise_shape", json!(c.noise_shape)),
        ];
        Value::Object(self.core.config_with(None, entries))
    }
    fn explain(&self, _inputs: &[Shape]) -> Vec<String> {
        let r = self.config.rate;
        let mut lines = vec!["no parameters; inference: the identity".to_string()];
        if r > 0.0 && r < 1.0 {
            lines.push(format!(
                "training: keeps each value with probability 1 − {r} = {} and scales it by 1/(1 − {r}) = {}",
                1.0 - r,
                (1.0 / (1.0 - r) * 1e4).round() / 1e4
            ));
        }
        if let Some(ns) = &self.config.noise_shape {
            lines.push(format!("mask shape {} broadcast over the input", format_shape(ns)));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kshape::batched;
    use crate::layers::test_util::{build, err, grad_check, run};
    use tensor::Tensor;

    #[test]
    fn identity_at_inference_and_shape() {
        let l = build(&Dropout::new(0.5), "dropout", batched(&[8])).unwrap();
        assert_eq!(l.compute_output_shape(&[batched(&[8])]).unwrap(), vec![batched(&[8])]);
        assert_eq!(l.count_params(), 0);
        let x = Tensor::arange(&[2, 8]);
        assert_eq!(run(l.as_ref(), std::slice::from_ref(&x), false).unwrap().out[0], x);
    }

    #[test]
    fn inverted_dropout_in_training() {
        let l = build(&Dropout::new(0.25), "dropout", batched(&[1000])).unwrap();
        let x = Tensor::ones(&[4, 1000]);
        let y = run(l.as_ref(), &[x], true).unwrap().out.remove(0);
        let kept = y.data().iter().filter(|v| **v != 0.0).count();
        assert!(y.data().iter().all(|v| *v == 0.0 || (*v - 1.0 / 0.75).abs() < 1e-6));
        assert!((kept as f64 / 4000.0 - 0.75).abs() < 0.03, "{kept}");
        // Channel dropout: a mask (None, 1, None) keeps or drops whole columns of axis 1.
        let l = build(
            &Dropout::new(0.5).noise_shape(&[None, Some(1), None]),
            "dropout",
            batched(&[6, 5]),
        )
        .unwrap();
        let y = run(l.as_ref(), &[Tensor::ones(&[3, 6, 5])], true)
            .unwrap()
            .out
            .remove(0);
        let d = y.data();
        for n in 0..3 {
            for c in 0..5 {
                let col: Vec<f32> = (0..6).map(|h| d[(n * 6 + h) * 5 + c]).collect();
                assert!(col.iter().all(|v| *v == col[0]), "{col:?}");
            }
        }
    }

    #[test]
    fn layer_seed_gives_a_fixed_sequence_of_masks() {
        let cfg = Dropout::new(0.5).seed(42);
        let a = build(&cfg, "dropout", batched(&[64])).unwrap();
        let b = build(&cfg, "dropout", batched(&[64])).unwrap();
        let x = Tensor::ones(&[1, 64]);
        let a1 = run(a.as_ref(), std::slice::from_ref(&x), true).unwrap().out.remove(0);
        let a2 = run(a.as_ref(), std::slice::from_ref(&x), true).unwrap().out.remove(0);
        let b1 = run(b.as_ref(), std::slice::from_ref(&x), true).unwrap().out.remove(0);
        assert_eq!(a1, b1, "same seed, same first mask");
        assert_ne!(a1, a2, "a new mask on each call");
    }

    #[test]
    fn errors_and_json() {
        let e = err(build(&Dropout::new(1.5), "dropout_2", batched(&[3])));
        assert_eq!(
            e,
            "dropout_2: argument `rate`: expected a float value between 0 and 1. Received: rate=1.5"
        );
        let e = err(build(
            &Dropout::new(0.5).noise_shape(&[None, Some(2)]),
            "dropout",
            batched(&[3]),
        ));
        assert!(
            e.starts_with("dropout: argument `noise_shape`")
                && e.contains("(None, 3)")
                && e.ends_with("noise_shape=(None, 2)"),
            "{e}"
        );
        let l = build(&Dropout::new(1.0), "dropout_1", batched(&[3])).unwrap();
        let e = run(l.as_ref(), &[Tensor::ones(&[1, 3])], true)
            .err()
            .unwrap()
            .to_string();
        assert!(e.starts_with("dropout_1: argument `rate`"), "{e}");
        // k_dropout.k2.json and a Keras 3 round trip.
        let k2 = json!({"name": "dropout", "trainable": true, "dtype": "float32", "rate": 0.5, "noise_shape": null, "seed": null});
        let c = DropoutConfig::from_keras(&ConfigReader::new("Dropout", &k2).unwrap()).unwrap();
        assert_eq!((c.rate, c.seed, c.noise_shape.clone()), (0.5, None, None));
        let cfg = Dropout::new(0.3).seed(7).noise_shape(&[None, Some(1), Some(4)]);
        let j = build(&cfg, "dropout", batched(&[2, 4])).unwrap().config();
        assert_eq!(j["noise_shape"], json!([null, 1, 4]));
        let back = DropoutConfig::from_keras(&ConfigReader::new("Dropout", &j).unwrap()).unwrap();
        assert_eq!(
            back,
            DropoutConfig {
                name: Some("dropout".into()),
                ..cfg
            }
        );
    }

    #[test]
    fn gradient_is_the_mask() {
        let l = build(&Dropout::new(0.4).seed(3), "dropout", batched(&[6])).unwrap();
        // The seeded layer draws a new mask per call; the check needs one mask, so use rate 0
        // in training (the identity) and the op's own gradient tests for the masked case.
        let l0 = build(&Dropout::new(0.0), "dropout", batched(&[6])).unwrap();
        grad_check(l0.as_ref(), &[Tensor::arange(&[2, 6])], true);
        let mut tape = tensor::Tape::new();
        let mut rng = Rng::new(0);
        let mut ctx = CallCtx::new(&mut tape, &mut rng, true);
        let x = ctx.tape.param(Tensor::ones(&[2, 6]));
        let y = l.call(&mut ctx, &[x], &[]).unwrap()[0];
        let s = tape.sum_all(y).unwrap();
        let g = tape.backward(s).unwrap();
        let (gx, yv) = (g.get(x).unwrap().data().to_vec(), tape.value(y).data().to_vec());
        assert_eq!(gx, yv, "d(Σ mask·x)/dx = mask = y for x = 1");
    }
}
