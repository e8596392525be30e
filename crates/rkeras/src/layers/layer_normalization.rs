//! `LayerNormalization(axis=-1, epsilon=1e-3, center=True, scale=True, …)`: each sample is
//! normalized over `axis` (its own mean and variance, no moving statistics),
//! `γ·(x − μ)/√(σ² + ε) + β`, composed from the tape's primitives (mean, subtract, square,
//! sqrt, divide) so its gradient comes from theirs. Weights `gamma` (if `scale`), `beta` (if
//! `center`), shaped as the normalized axes. Shape unchanged.
//!
//! ```
//! use rkeras::prelude::*;
//! use rkeras::layers::layer_normalization::LayerNormalization;
//! clear_session();
//! let x = Input(&[7, 7, 96]).unwrap();
//! let y = LayerNormalization::new().epsilon(1e-6).call(&x).unwrap();
//! assert_eq!(y.shape(), x.shape());
//! ```

use super::common::{
    config_name, constraint_json, layer_core, opt_setters, read_args, reg_json, setters, single, LayerCore,
};
use super::{CallCtx, InitializerArg, Layer, LayerConfig, Weight};
use crate::config::{short, ConfigReader};
use crate::constraints::Constraint;
use crate::error::{arg_error, in_layer, shape_error, Result};
use crate::initializers::Initializer;
use crate::kshape::{format_shape, Shape};
use crate::regularizers::Regularizer;
use serde_json::{json, Value};
use tensor::{Rng, Tape, Var};

/// `LayerNormalization(axis=-1, epsilon=1e-3, center=True, scale=True, …)`.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerNormalizationConfig {
    /// Name; automatic (`layer_normalization`, …) when `None`.
    pub name: Option<String>,
    /// Whether γ and β train.
    pub trainable: bool,
    /// The normalized axes (negative counts from the end).
    pub axis: Vec<isize>,
    /// Added to the variance.
    pub epsilon: f64,
    /// Learn β.
    pub center: bool,
    /// Learn γ.
    pub scale: bool,
    /// Default `zeros`.
    pub beta_initializer: InitializerArg,
    /// Default `ones`.
    pub gamma_initializer: InitializerArg,
    /// Penalty on β.
    pub beta_regularizer: Option<Regularizer>,
    /// Penalty on γ.
    pub gamma_regularizer: Option<Regularizer>,
    /// Applied to β after each update.
    pub beta_constraint: Option<Constraint>,
    /// Applied to γ after each update.
    pub gamma_constraint: Option<Constraint>,
}

/// A built `LayerNormalization` layer.
#[derive(Debug, Clone)]
pub struct LayerNormalization {
    core: LayerCore,
    config: LayerNormalizationConfig,
    inits: [Initializer; 2],
    /// Normalized axes counted from the front, sorted.
    axes: Vec<usize>,
    input_shape: Shape,
}

impl LayerNormalization {
    /// `LayerNormalization()` with Keras's defaults.
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> LayerNormalizationConfig {
        LayerNormalizationConfig {
            name: None,
            trainable: true,
            axis: vec![-1],
            epsilon: 1e-3,
            center: true,
            scale: true,
            beta_initializer: "zeros".into(),
            gamma_initializer: "ones".into(),
            beta_regularizer: None,
            gamma_regularizer: None,
            beta_constraint: None,
            gamma_constraint: None,
        }
    }
}

impl LayerNormalizationConfig {
    /// The normalized axes.
    pub fn axis(mut self, axis: &[isize]) -> Self {
        self.axis = axis.to_vec();
        self
    }

    setters!(epsilon: f64, center: bool, scale: bool, trainable: bool);
    setters!(beta_initializer: InitializerArg, gamma_initializer: InitializerArg);
    opt_setters!(name: String, beta_regularizer: Regularizer, gamma_regularizer: Regularizer, beta_constraint: Constraint, gamma_constraint: Constraint);

    /// Reads a Keras 3 or tf-keras 2 config (`axis` an int or a list).
    pub fn from_keras(r: &ConfigReader) -> Result<LayerNormalizationConfig> {
        r.check_dtype()?;
        let mut c = LayerNormalization::new();
        c.name = r.name();
        c.trainable = r.trainable()?;
        c.axis = match r.get("axis") {
            None => vec![-1],
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
        c.epsilon = r.f64("epsilon")?.unwrap_or(1e-3);
        c.center = r.bool("center")?.unwrap_or(true);
        c.scale = r.bool("scale")?.unwrap_or(true);
        if r.bool("rms_scaling")?.unwrap_or(false) {
            return Err(arg_error(
                &r.layer,
                "rms_scaling",
                "False (deprecated in Keras; use RMSNormalization)",
                "True",
            ));
        }
        read_args!(r, c; init beta_initializer, gamma_initializer; reg beta_regularizer, gamma_regularizer;
            constraint beta_constraint, gamma_constraint);
        Ok(c)
    }

    fn axes(&self, layer: &str, input: &[Option<usize>]) -> Result<Vec<usize>> {
        let rank = input.len() as isize;
        let mut out = Vec::new();
        for &a in &self.axis {
            if a < -rank || a >= rank {
                return Err(arg_error(
                    layer,
                    "axis",
                    format!("axes in bounds for input shape {}", format_shape(input)),
                    format!("{:?}", self.axis),
                ));
            }
            out.push(if a < 0 { a + rank } else { a } as usize);
        }
        out.sort_unstable();
        out.dedup();
        if out.is_empty() || out.contains(&0) {
            return Err(arg_error(
                layer,
                "axis",
                "one or more non-batch axes",
                format!("{:?}", self.axis),
            ));
        }
        Ok(out)
    }
}

impl LayerConfig for LayerNormalizationConfig {
    config_name!("LayerNormalization");
    fn build(&self, name: &str, inputs: &[Shape], rng: &mut Rng) -> Result<Box<dyn Layer>> {
        if !self.epsilon.is_finite() || self.epsilon < 0.0 {
            return Err(arg_error(name, "epsilon", "a non-negative number", self.epsilon));
        }
        let inits = [
            self.gamma_initializer.resolve(name, "gamma_initializer")?,
            self.beta_initializer.resolve(name, "beta_initializer")?,
        ];
        let input = single(name, inputs)?;
        let axes = self.axes(name, input)?;
        let mut shape = Vec::new();
        for &a in &axes {
            shape.push(input[a].ok_or_else(|| {
                shape_error(
                    name,
                    format!(
                        "normalized axis {a} of input shape {} must be known",
                        format_shape(input)
                    ),
                )
            })?);
        }
        let mut weights = Vec::new();
        if self.scale {
            weights.push(Weight::trainable("gamma", inits[0].generate(name, &shape, rng)?));
        }
        if self.center {
            weights.push(Weight::trainable("beta", inits[1].generate(name, &shape, rng)?));
        }
        Ok(Box::new(LayerNormalization {
            core: LayerCore::new(name, self.trainable, weights),
            config: LayerNormalizationConfig {
                name: Some(name.to_string()),
                ..self.clone()
            },
            inits,
            axes,
            input_shape: input.clone(),
        }))
    }
}

impl Layer for LayerNormalization {
    layer_core!("LayerNormalization");
    fn compute_output_shape(&self, inputs: &[Shape]) -> Result<Vec<Shape>> {
        let input = single(&self.core.name, inputs)?;
        if input.len() != self.input_shape.len() || self.axes.iter().any(|&a| input[a] != self.input_shape[a]) {
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
        let axes: Vec<isize> = self.axes.iter().map(|&a| a as isize).collect();
        let t = &mut *ctx.tape;
        let mean = t.mean(x, &axes, true).map_err(&err)?;
        let d = t.sub(x, mean).map_err(&err)?;
        let sq = t.square(d).map_err(&err)?;
        let var = t.mean(sq, &axes, true).map_err(&err)?;
        let ve = t.add_scalar(var, self.config.epsilon as f32).map_err(&err)?;
        let sd = t.sqrt(ve).map_err(&err)?;
        let mut y = t.div(d, sd).map_err(&err)?;
        // γ and β broadcast from the right: shape them as the input with 1 off the axes.
        let rank = self.input_shape.len();
        let bshape: Vec<usize> = (0..rank)
            .map(|i| {
                if self.axes.contains(&i) {
                    self.input_shape[i].unwrap_or(1)
                } else {
                    1
                }
            })
            .collect();
        let mut wi = 0;
        if self.config.scale {
            let g = t.reshape(weights[wi], &bshape).map_err(&err)?;
            y = t.mul(y, g).map_err(&err)?;
            wi += 1;
        }
        if self.config.center {
            let b = t.reshape(weights[wi], &bshape).map_err(&err)?;
            y = t.add(y, b).map_err(&err)?;
        }
        Ok(vec![y])
    }
    fn config(&self) -> Value {
        let c = &self.config;
        let entries = [
            ("axis", json!(c.axis)),
            ("epsilon", json!(c.epsilon)),
            ("center", json!(c.center)),
            ("scale", json!(c.scale)),
            ("rms_scaling", json!(false)),
            ("beta_initializer", self.inits[1].to_keras()),
            ("gamma_initializer", self.inits[0].to_keras()),
            ("beta_regularizer", reg_json(&c.beta_regularizer)),
            ("gamma_regularizer", reg_json(&c.gamma_regularizer)),
            ("beta_constraint", constraint_json(&c.beta_constraint)),
            ("gamma_constraint", constraint_json(&c.gamma_constraint)),
        ];
        Value::Object(self.core.config_with(None, entries))
    }
    fn explain(&self, _inputs: &[Shape]) -> Vec<String> {
        let n: usize = self.axes.iter().filter_map(|&a| self.input_shape[a]).product();
        let k = usize::from(self.config.scale) + usize::from(self.config.center);
        vec![
            format!("params: {k}·{n} = {} (gamma, beta per normalized position)", k * n),
            format!(
                "per sample over axes {:?}: γ·(x − μ)/√(σ² + {}) + β",
                self.axes, self.config.epsilon
            ),
        ]
    }
    fn regularization(&self, tape: &mut Tape, weights: &[Var]) -> Result<Option<Var>> {
        let c = &self.config;
        let regs: Vec<Option<Regularizer>> = [(c.scale, c.gamma_regularizer), (c.center, c.beta_regularizer)]
            .into_iter()
            .filter_map(|(on, r)| on.then_some(r))
            .collect();
        self.core.regularization(tape, weights, &regs)
    }
    fn apply_constraints(&mut self) {
        let c = &self.config;
        let cons: Vec<&Option<Constraint>> = [(c.scale, &c.gamma_constraint), (c.center, &c.beta_constraint)]
            .into_iter()
            .filter_map(|(on, r)| on.then_some(r))
            .collect();
        self.core.apply_constraints(&cons);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kshape::batched;
    use crate::layers::test_util::{build, err, grad_check, run};
    use tensor::Tensor;

    #[test]
    fn normalizes_each_sample_and_has_gamma_beta() {
        let l = build(
            &LayerNormalization::new().epsilon(0.0),
            "layer_normalization",
            batched(&[4]),
        )
        .unwrap();
        let names: Vec<&str> = l.weights().iter().map(|w| w.name.as_str()).collect();
        assert_eq!((names, l.count_params()), (vec!["gamma", "beta"], 8));
        let x = Tensor::new(&[2, 4], vec![1.0, 2.0, 3.0, 4.0, 2.0, 2.0, 2.0, 6.0]).unwrap();
        let y = run(l.as_ref(), std::slice::from_ref(&x), false).unwrap().out.remove(0);
        let s = 1.25f32.sqrt();
        let want = [
            -1.5 / s,
            -0.5 / s,
            0.5 / s,
            1.5 / s,
            -1.0 / 3f32.sqrt(),
            -1.0 / 3f32.sqrt(),
        ];
        for (a, b) in y.data().iter().zip(want) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
        let l = build(&LayerNormalization::new(), "ln", batched(&[2, 3])).unwrap();
        grad_check(l.as_ref(), &[Tensor::arange(&[2, 2, 3])], true);
        let j = l.config();
        assert_eq!((j["axis"].clone(), j["epsilon"].clone()), (json!([-1]), json!(1e-3)));
        let back = LayerNormalizationConfig::from_keras(&ConfigReader::new("LayerNormalization", &j).unwrap()).unwrap();
        assert_eq!(back.axis, vec![-1]);
        let multi = build(
            &LayerNormalization::new().axis(&[1, 2]).center(false),
            "ln",
            batched(&[2, 3]),
        )
        .unwrap();
        assert_eq!(multi.weights()[0].value.shape(), &[2, 3]);
        grad_check(multi.as_ref(), &[Tensor::arange(&[2, 2, 3])], true);
        let e = err(build(&LayerNormalization::new().axis(&[3]), "ln_1", batched(&[4])));
        assert!(
            e.starts_with("ln_1: argument `axis`") && e.contains("Received: axis=[3]"),
            "{e}"
        );
    }
}
