//! `BatchNormalization`: `γ·(x − μ)/√(σ² + ε) + β` per channel of one axis (`axis=-1`, or 1
//! for channels_first). Inference uses the moving statistics; training (when the layer is
//! trainable, as in Keras: a frozen layer runs in inference mode) uses the batch statistics and
//! reports Keras's moving-average updates `moving·momentum + batch·(1 − momentum)` in
//! `ctx.updates`. Weights, in Keras's order: `gamma` (if `scale`), `beta` (if `center`),
//! `moving_mean`, `moving_variance`, each `(c,)`, the last two non-trainable. Shape unchanged.
//!
//! ```
//! use rkeras::prelude::*;
//! clear_session();
//! let x = Input(&[5, 5, 3]).unwrap();
//! let y = BatchNormalization::new().call(&x).unwrap();
//! assert_eq!(y.shape(), x.shape());
//! ```

use super::common::{
    config_name, constraint_json, layer_core, opt_setters, read_args, reg_json, resolve_axis, setters, single,
    LayerCore,
};
use super::{CallCtx, InitializerArg, Layer, LayerConfig, Weight};
use crate::config::{short, ConfigReader};
use crate::constraints::Constraint;
use crate::error::{arg_error, in_layer, shape_error, Result};
use crate::explain::{params_line, thousands};
use crate::initializers::Initializer;
use crate::kshape::{format_shape, known, Shape};
use crate::model::plan::InferenceOp;
use crate::regularizers::Regularizer;
use serde_json::{json, Value};
use tensor::ops::batchnorm::{update_moving_statistic, FusedRelu};
use tensor::{Rng, Tape, Var};

/// `BatchNormalization(axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, …)`.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchNormalizationConfig {
    /// Name; automatic (`batch_normalization`, …) when `None`.
    pub name: Option<String>,
    /// Whether γ and β train; a frozen layer also normalizes with its moving statistics.
    pub trainable: bool,
    /// The channel axis (negative counts from the end).
    pub axis: isize,
    /// Moving-average momentum.
    pub momentum: f64,
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
    /// Default `zeros`.
    pub moving_mean_initializer: InitializerArg,
    /// Default `ones`.
    pub moving_variance_initializer: InitializerArg,
    /// Penalty on β.
    pub beta_regularizer: Option<Regularizer>,
    /// Penalty on γ.
    pub gamma_regularizer: Option<Regularizer>,
    /// Applied to β after each update.
    pub beta_constraint: Option<Constraint>,
    /// Applied to γ after each update.
    pub gamma_constraint: Option<Constraint>,
    /// Keras's cross-device flag; one device here, so it changes nothing.
    pub synchronized: bool,
    /// Keras 3's `renorm_momentum`, kept for the config (batch renormalization itself is
    /// refused).
    pub renorm_momentum: f64,
}

/// A built `BatchNormalization` layer.
#[derive(Debug, Clone)]
pub struct BatchNormalization {
    core: LayerCore,
    config: BatchNormalizationConfig,
    inits: [Initializer; 4],
    /// The axis counted from the front, for the input rank it was built for.
    axis: usize,
    input_shape: Shape,
}

impl BatchNormalization {
    /// `BatchNormalization()` with Keras's defaults.
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> BatchNormalizationConfig {
        BatchNormalizationConfig {
            name: None,
            trainable: true,
            axis: -1,
            momentum: 0.99,
            epsilon: 1e-3,
            center: true,
            scale: true,
            beta_initializer: "zeros".into(),
            gamma_initializer: "ones".into(),
            moving_mean_initializer: "zeros".into(),
            moving_variance_initializer: "ones".into(),
            beta_regularizer: None,
            gamma_regularizer: None,
            beta_constraint: None,
            gamma_constraint: None,
            synchronized: false,
            renorm_momentum: 0.99,
        }
    }

    /// Positions of γ, β, moving mean and moving variance in [`Layer::weights`].
    pub fn weight_indices(&self) -> (Option<usize>, Option<usize>, usize, usize) {
        indices(&self.config)
    }
}

fn indices(c: &BatchNormalizationConfig) -> (Option<usize>, Option<usize>, usize, usize) {
    let g = c.scale.then_some(0);
    let b = c.center.then_some(usize::from(c.scale));
    let m = usize::from(c.scale) + usize::from(c.center);
    (g, b, m, m + 1)
}

impl BatchNormalizationConfig {
    /// The channel axis (`1` for channels_first).
    pub fn axis(mut self, axis: isize) -> Self {
        self.axis = axis;
        self
    }

    setters!(momentum: f64, epsilon: f64, center: bool, scale: bool, synchronized: bool, trainable: bool);
    setters!(beta_initializer: InitializerArg, gamma_initializer: InitializerArg, moving_mean_initializer: InitializerArg, moving_variance_initializer: InitializerArg);
    opt_setters!(name: String, beta_regularizer: Regularizer, gamma_regularizer: Regularizer, beta_constraint: Constraint, gamma_constraint: Constraint);

    /// Checks the arguments and resolves the initializers (γ, β, moving mean, moving variance).
    pub fn validate(&self, layer: &str) -> Result<[Initializer; 4]> {
        if !self.momentum.is_finite() {
            return Err(arg_error(layer, "momentum", "a finite number", self.momentum));
        }
        if !self.epsilon.is_finite() || self.epsilon < 0.0 {
            return Err(arg_error(layer, "epsilon", "a non-negative number", self.epsilon));
        }
        Ok([
            self.gamma_initializer.resolve(layer, "gamma_initializer")?,
            self.beta_initializer.resolve(layer, "beta_initializer")?,
            self.moving_mean_initializer.resolve(layer, "moving_mean_initializer")?,
            self.moving_variance_initializer
                .resolve(layer, "moving_variance_initializer")?,
        ])
    }

    /// Reads a Keras 3 or tf-keras 2 config (tf-keras 2 writes `axis` as a list: `[3]`).
    pub fn from_keras(r: &ConfigReader) -> Result<BatchNormalizationConfig> {
        r.check_dtype()?;
        let mut c = BatchNormalization::new();
        c.name = r.name();
        c.trainable = r.trainable()?;
        c.axis = match r.get("axis") {
            None => -1,
            Some(Value::Array(a)) if a.len() == 1 => {
                a[0].as_i64()
                    .ok_or_else(|| arg_error(&r.layer, "axis", "an integer", short(&a[0])))? as isize
            }
            Some(Value::Array(a)) => {
                return Err(arg_error(&r.layer, "axis", "one axis", short(&Value::Array(a.clone()))))
            }
            Some(_) => r.isize("axis")?.unwrap_or(-1),
        };
        c.momentum = r.f64("momentum")?.unwrap_or(0.99);
        c.epsilon = r.f64("epsilon")?.unwrap_or(1e-3);
        c.center = r.bool("center")?.unwrap_or(true);
        c.scale = r.bool("scale")?.unwrap_or(true);
        read_args!(r, c; init beta_initializer, gamma_initializer, moving_mean_initializer, moving_variance_initializer;
            reg beta_regularizer, gamma_regularizer; constraint beta_constraint, gamma_constraint);
        c.synchronized = r.bool("synchronized")?.unwrap_or(false);
        c.renorm_momentum = r.f64("renorm_momentum")?.unwrap_or(0.99);
        if r.bool("renorm")?.unwrap_or(false) {
            return Err(arg_error(
                &r.layer,
                "renorm",
                "False (rkeras has no batch renormalization)",
                "True",
            ));
        }
        if r.get("virtual_batch_size").is_some() || r.get("adjustment").is_some() {
            return Err(arg_error(
                &r.layer,
                "virtual_batch_size",
                "None (rkeras has no ghost batch normalization)",
                short(r.get("virtual_batch_size").unwrap_or(&Value::Null)),
            ));
        }
        c.validate(&r.layer)?;
        Ok(c)
    }
}

impl LayerConfig for BatchNormalizationConfig {
    config_name!("BatchNormalization");
    fn build(&self, name: &str, inputs: &[Shape], rng: &mut Rng) -> Result<Box<dyn Layer>> {
        let inits = self.validate(name)?;
        let input = single(name, inputs)?;
        let axis = resolve_axis(name, self.axis, input)?;
        let c = known(name, input, axis, "normalized (channel) dimension")?;
        let mut weights = Vec::with_capacity(4);
        if self.scale {
            weights.push(Weight::trainable("gamma", inits[0].generate(name, &[c], rng)?));
        }
        if self.center {
            weights.push(Weight::trainable("beta", inits[1].generate(name, &[c], rng)?));
        }
        weights.push(Weight::non_trainable(
            "moving_mean",
            inits[2].generate(name, &[c], rng)?,
        ));
        weights.push(Weight::non_trainable(
            "moving_variance",
            inits[3].generate(name, &[c], rng)?,
        ));
        Ok(Box::new(BatchNormalization {
            core: LayerCore::new(name, self.trainable, weights),
            config: BatchNormalizationConfig {
                name: Some(name.to_string()),
                ..self.clone()
            },
            inits,
            axis,
            input_shape: input.clone(),
        }))
    }
}

impl BatchNormalization {
    /// The layer's call, followed by `relu` fused into the training op when given (the
    /// caller checked it applies: training, trainable, channels last).
    fn call_maybe_relu(
        &self,
        ctx: &mut CallCtx,
        inputs: &[Var],
        weights: &[Var],
        relu: Option<FusedRelu>,
    ) -> Result<Vec<Var>> {
        let x = self.core.input(inputs, weights)?;
        let (gi, bi, mi, vi) = indices(&self.config);
        let (gamma, beta) = (gi.map(|i| weights[i]), bi.map(|i| weights[i]));
        let err = in_layer(&self.core.name);
        let (axis, eps) = (self.axis as isize, self.config.epsilon as f32);
        let mut mean = ctx.tape.try_value(weights[mi]).map_err(&err)?.clone();
        let mut var = ctx.tape.try_value(weights[vi]).map_err(&err)?.clone();
        if ctx.training && self.core.trainable {
            let (y, stats) = ctx
                .tape
                .batch_norm_relu_training(x, gamma, beta, axis, eps, relu)
                .map_err(&err)?;
            let momentum = self.config.momentum as f32;
            update_moving_statistic(&mut mean, &stats.mean, momentum).map_err(&err)?;
            update_moving_statistic(&mut var, &stats.variance, momentum).map_err(&err)?;
            ctx.updates.push((mi, mean));
            ctx.updates.push((vi, var));
            Ok(vec![y])
        } else {
            Ok(vec![ctx
                .tape
                .batch_norm_inference(x, &mean, &var, gamma, beta, axis, eps)
                .map_err(&err)?])
        }
    }
}

impl Layer for BatchNormalization {
    layer_core!("BatchNormalization");
    fn inference_op(&self) -> Option<InferenceOp> {
        if self.axis + 1 != self.input_shape.len() {
            return None;
        }
        let (gi, bi, mi, vi) = indices(&self.config);
        let w = &self.core.weights;
        Some(InferenceOp::BatchNorm {
            gamma: gi.map(|i| w[i].value.clone()),
            beta: bi.map(|i| w[i].value.clone()),
            mean: w[mi].value.clone(),
            variance: w[vi].value.clone(),
            epsilon: self.config.epsilon as f32,
        })
    }
    fn compute_output_shape(&self, inputs: &[Shape]) -> Result<Vec<Shape>> {
        let input = single(&self.core.name, inputs)?;
        let c = self.core.weights[self.core.weights.len() - 1].value.len();
        if input.len() != self.input_shape.len() || input[self.axis].is_some_and(|d| d != c) {
            return Err(shape_error(
                &self.core.name,
                format!(
                    "expected an input of rank {} with {c} channels on axis {} (built for {}), received input shape {}",
                    self.input_shape.len(),
                    self.config.axis,
                    format_shape(&self.input_shape),
                    format_shape(input)
                ),
            ));
        }
        Ok(vec![input.clone()])
    }
    fn call(&self, ctx: &mut CallCtx, inputs: &[Var], weights: &[Var]) -> Result<Vec<Var>> {
        self.call_maybe_relu(ctx, inputs, weights, None)
    }
    fn call_with_relu(
        &self,
        ctx: &mut CallCtx,
        inputs: &[Var],
        weights: &[Var],
        relu: FusedRelu,
    ) -> Option<Result<Vec<Var>>> {
        // The fused form is training's, channels-last (the plan fuses inference its own way).
        let fuses = ctx.training && self.core.trainable && self.axis + 1 == self.input_shape.len();
        fuses.then(|| self.call_maybe_relu(ctx, inputs, weights, Some(relu)))
    }
    fn config(&self) -> Value {
        let c = &self.config;
        let entries = [
            ("axis", json!(c.axis)),
            ("momentum", json!(c.momentum)),
            ("epsilon", json!(c.epsilon)),
            ("center", json!(c.center)),
            ("scale", json!(c.scale)),
            ("beta_initializer", self.inits[1].to_keras()),
            ("gamma_initializer", self.inits[0].to_keras()),
            ("moving_mean_initializer", self.inits[2].to_keras()),
            ("moving_variance_initializer", self.inits[3].to_keras()),
            ("beta_regularizer", reg_json(&c.beta_regularizer)),
            ("gamma_regularizer", reg_json(&c.gamma_regularizer)),
            ("beta_constraint", constraint_json(&c.beta_constraint)),
            ("gamma_constraint", constraint_json(&c.gamma_constraint)),
            ("synchronized", json!(c.synchronized)),
            ("renorm", json!(false)),
            ("renorm_clipping", Value::Null),
            ("renorm_momentum", json!(c.renorm_momentum)),
        ];
        Value::Object(self.core.config_with(None, entries))
    }
    fn explain(&self, _inputs: &[Shape]) -> Vec<String> {
        let c = self.core.weights[self.core.weights.len() - 1].value.len() as u64;
        let learned: Vec<&str> = self
            .core
            .weights
            .iter()
            .filter(|w| w.trainable)
            .map(|w| w.name.as_str())
            .collect();
        let n = self.core.weights.len() as u64;
        let t = learned.len() as u64 * c;
        let state = if self.core.trainable {
            "trainable"
        } else {
            "frozen, non-trainable"
        };
        let split = if learned.is_empty() {
            format!("moving_mean, moving_variance non-trainable: {}", thousands(2 * c))
        } else {
            format!(
                "{} {state}: {}; moving_mean, moving_variance non-trainable: {}",
                learned.join(", "),
                thousands(t),
                thousands(2 * c)
            )
        };
        let mut lines = vec![format!("{} ({split})", params_line(&format!("{n}·{c}"), n * c))];
        lines.push(format!(
            "normalizes axis {} ({c} channels): γ·(x − μ)/√(σ² + {}) + β; training: batch μ, σ², moving ← moving·{} + batch·(1 − {})",
            self.axis, self.config.epsilon, self.config.momentum, self.config.momentum
        ));
        lines
    }
    fn regularization(&self, tape: &mut Tape, weights: &[Var]) -> Result<Option<Var>> {
        let c = &self.config;
        self.core
            .regularization(tape, weights, &self.learned(c.gamma_regularizer, c.beta_regularizer))
    }
    fn apply_constraints(&mut self) {
        let c = &self.config;
        let constraints = self.learned(&c.gamma_constraint, &c.beta_constraint);
        self.core.apply_constraints(&constraints);
    }
}

impl BatchNormalization {
    /// The γ and β entries of a per-weight list, for those the layer has (weights 0 and 1).
    fn learned<T>(&self, gamma: T, beta: T) -> Vec<T> {
        let c = &self.config;
        [(c.scale, gamma), (c.center, beta)]
            .into_iter()
            .filter_map(|(on, v)| on.then_some(v))
            .collect()
    }
}

#[cfg(test)]
#[path = "normalization_tests.rs"]
mod tests;
