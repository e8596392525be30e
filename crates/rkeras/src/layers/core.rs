//! `Dense` (a fully connected layer: `activation(x·kernel + bias)`) and `Activation` (an
//! activation by name as a layer).
//!
//! Shapes: Dense maps `(n, …, in)` → `(n, …, units)`, multiplying the last axis only (Keras:
//! `(None, 8, 8, 32)` → `(None, 8, 8, units)`), kernel `(in, units)`, bias `(units,)`.
//! Activation keeps the shape.
//!
//! ```
//! use rkeras::prelude::*;
//! clear_session();
//! let x = Input(&[784]).unwrap();
//! let y = Dense::new(64).activation("relu").call(&x).unwrap();
//! assert_eq!(y.shape(), &vec![None, Some(64)]);
//! ```

use super::conv_args::{
    constrain, constraint_json, opt_setters, penalties, read_constraint, read_init, read_reg, reg_json, setters,
    single, single_var, InitializerArg,
};
use super::{CallCtx, Layer, LayerConfig, Weight};
use crate::activations::{activation_from_keras, parse_activation, to_keras, ActivationKind};
use crate::config::{dtype_policy, ConfigReader};
use crate::constraints::Constraint;
use crate::error::{arg_error, in_layer, shape_error, Result};
use crate::explain::params_line;
use crate::initializers::Initializer;
use crate::kshape::{format_shape, Shape};
use crate::regularizers::Regularizer;
use serde_json::{json, Map, Value};
use tensor::{Rng, Tape, Var};

/// `Dense(units, …)` with Keras 3's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct DenseConfig {
    /// Name; automatic (`dense`, `dense_1`, …) when `None`.
    pub name: Option<String>,
    /// Whether the weights train.
    pub trainable: bool,
    /// Output size (the last axis).
    pub units: usize,
    /// Activation name (default `"linear"`).
    pub activation: String,
    /// Default true.
    pub use_bias: bool,
    /// Default `glorot_uniform`.
    pub kernel_initializer: InitializerArg,
    /// Default `zeros`.
    pub bias_initializer: InitializerArg,
    /// Penalty on the kernel.
    pub kernel_regularizer: Option<Regularizer>,
    /// Penalty on the bias.
    pub bias_regularizer: Option<Regularizer>,
    /// Penalty on the output (divided by the batch size, as Keras 3.14+ and tf-keras 2 do).
    pub activity_regularizer: Option<Regularizer>,
    /// Applied to the kernel after each update.
    pub kernel_constraint: Option<Constraint>,
    /// Applied to the bias after each update.
    pub bias_constraint: Option<Constraint>,
}

/// A built `Dense` layer.
#[derive(Debug, Clone)]
pub struct Dense {
    name: String,
    config: DenseConfig,
    activation: ActivationKind,
    kernel_initializer: Initializer,
    bias_initializer: Initializer,
    weights: Vec<Weight>,
    input_shape: Shape,
    trainable: bool,
}

impl Dense {
    /// `Dense(units)`; the rest by builder methods.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(units: usize) -> DenseConfig {
        DenseConfig {
            name: None,
            trainable: true,
            units,
            activation: "linear".into(),
            use_bias: true,
            kernel_initializer: "glorot_uniform".into(),
            bias_initializer: "zeros".into(),
            kernel_regularizer: None,
            bias_regularizer: None,
            activity_regularizer: None,
            kernel_constraint: None,
            bias_constraint: None,
        }
    }

    /// The input shape the layer was built for.
    pub fn input_shape(&self) -> &Shape {
        &self.input_shape
    }
}

impl DenseConfig {
    setters!(activation: String, use_bias: bool, kernel_initializer: InitializerArg, bias_initializer: InitializerArg, trainable: bool);
    opt_setters!(name: String, kernel_regularizer: Regularizer, bias_regularizer: Regularizer, activity_regularizer: Regularizer);
    opt_setters!(kernel_constraint: Constraint, bias_constraint: Constraint);

    /// Keras's `__init__` checks: `units` positive, names known.
    pub fn validate(&self, layer: &str) -> Result<(ActivationKind, Initializer, Initializer)> {
        if self.units == 0 {
            return Err(arg_error(layer, "units", "a positive integer", 0));
        }
        let activation = parse_activation(layer, "activation", &self.activation)?;
        Ok((
            activation,
            self.kernel_initializer.resolve(layer, "kernel_initializer")?,
            self.bias_initializer.resolve(layer, "bias_initializer")?,
        ))
    }

    /// Reads a Keras 3 or tf-keras 2 `Dense` config.
    pub fn from_keras(r: &ConfigReader) -> Result<DenseConfig> {
        r.check_dtype()?;
        let mut c = Dense::new(r.usize_req("units")?);
        c.name = r.name();
        c.trainable = r.trainable()?;
        if let Some(v) = r.get("activation") {
            c.activation = activation_from_keras(&r.layer, v)?.name().to_string();
        }
        c.use_bias = r.bool("use_bias")?.unwrap_or(true);
        c.kernel_initializer = read_init(r, "kernel_initializer")?.unwrap_or(c.kernel_initializer);
        c.bias_initializer = read_init(r, "bias_initializer")?.unwrap_or(c.bias_initializer);
        c.kernel_regularizer = read_reg(r, "kernel_regularizer")?;
        c.bias_regularizer = read_reg(r, "bias_regularizer")?;
        c.activity_regularizer = read_reg(r, "activity_regularizer")?;
        c.kernel_constraint = read_constraint(r, "kernel_constraint")?;
        c.bias_constraint = read_constraint(r, "bias_constraint")?;
        if r.get("lora_rank").is_some() {
            return Err(arg_error(
                &r.layer,
                "lora_rank",
                "None (rkeras has no LoRA)",
                crate::config::short(r.get("lora_rank").unwrap_or(&Value::Null)),
            ));
        }
        c.validate(&r.layer)?;
        Ok(c)
    }
}

/// The size of the last axis of a Dense input, checked: rank ≥ 2 and the size known.
fn dense_input_dim(layer: &str, input: &[Option<usize>]) -> Result<usize> {
    if input.len() < 2 {
        return Err(shape_error(
            layer,
            format!(
                "expected an input of rank ≥ 2 (batch, …, features), received input shape {} of rank {}",
                format_shape(input),
                input.len()
            ),
        ));
    }
    input[input.len() - 1].ok_or_else(|| {
        shape_error(
            layer,
            format!(
                "the last dimension of the input must be known (it sets the kernel's size), received input shape {}",
                format_shape(input)
            ),
        )
    })
}

impl LayerConfig for DenseConfig {
    fn class_name(&self) -> &'static str {
        "Dense"
    }
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    fn set_name(&mut self, name: String) {
        self.name = Some(name);
    }
    fn build(&self, name: &str, inputs: &[Shape], rng: &mut Rng) -> Result<Box<dyn Layer>> {
        let (activation, ki, bi) = self.validate(name)?;
        let input = single(name, inputs)?;
        let fan_in = dense_input_dim(name, input)?;
        let mut weights = vec![Weight::trainable(
            "kernel",
            ki.generate(name, &[fan_in, self.units], rng)?,
        )];
        if self.use_bias {
            weights.push(Weight::trainable("bias", bi.generate(name, &[self.units], rng)?));
        }
        Ok(Box::new(Dense {
            name: name.to_string(),
            config: DenseConfig {
                name: Some(name.to_string()),
                ..self.clone()
            },
            activation,
            kernel_initializer: ki,
            bias_initializer: bi,
            weights,
            input_shape: input.clone(),
            trainable: self.trainable,
        }))
    }
}

/// The activity regularizer's penalty on a layer output, divided by the batch size as Keras
/// 3 (since 3.14) and tf-keras 2 do, pushed onto the call's losses.
pub(crate) fn activity_penalty(ctx: &mut CallCtx, layer: &str, out: Var, reg: Option<Regularizer>) -> Result<()> {
    if let Some(r) = reg {
        let batch = ctx
            .tape
            .try_value(out)
            .map_err(in_layer(layer))?
            .shape()
            .first()
            .copied()
            .unwrap_or(1);
        let p = r.penalty(ctx.tape, out)?;
        let p = if batch > 0 {
            ctx.tape.scale(p, 1.0 / batch as f32).map_err(in_layer(layer))?
        } else {
            p
        };
        ctx.losses.push(p);
    }
    Ok(())
}

/// `activation(y)`, then the activity regularizer's penalty on it ([`activity_penalty`]): the
/// end of every layer with `activation` and `activity_regularizer` arguments.
pub(crate) fn activate(
    ctx: &mut CallCtx,
    layer: &str,
    y: Var,
    activation: ActivationKind,
    activity: Option<Regularizer>,
) -> Result<Var> {
    let out = activation.apply(ctx.tape, y).map_err(in_layer(layer))?;
    activity_penalty(ctx, layer, out, activity)?;
    Ok(out)
}

/// The Keras 3 config head every layer writes: name, trainable, dtype, and the activity
/// regularizer when one is set (Keras's base `Layer.get_config`).
pub(crate) fn base_config(name: &str, trainable: bool, activity: Option<&Regularizer>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("name".into(), json!(name));
    m.insert("trainable".into(), json!(trainable));
    m.insert("dtype".into(), dtype_policy());
    if let Some(r) = activity {
        m.insert("activity_regularizer".into(), r.to_keras());
    }
    m
}

impl Layer for Dense {
    fn name(&self) -> &str {
        &self.name
    }
    fn class_name(&self) -> &str {
        "Dense"
    }
    fn trainable(&self) -> bool {
        self.trainable
    }
    fn set_trainable(&mut self, trainable: bool) {
        self.trainable = trainable;
    }
    fn weights(&self) -> Vec<&Weight> {
        self.weights.iter().collect()
    }
    fn weights_mut(&mut self) -> Vec<&mut Weight> {
        self.weights.iter_mut().collect()
    }
    fn compute_output_shape(&self, inputs: &[Shape]) -> Result<Vec<Shape>> {
        let input = single(&self.name, inputs)?;
        let fan_in = self.weights[0].value.shape()[0];
        if input.len() < 2 || input[input.len() - 1].is_some_and(|d| d != fan_in) {
            return Err(shape_error(
                &self.name,
                format!("expected axis -1 of the input to have size {fan_in} (the layer was built for {}), received input shape {}", format_shape(&self.input_shape), format_shape(input)),
            ));
        }
        let mut out = input.clone();
        if let Some(last) = out.last_mut() {
            *last = Some(self.config.units);
        }
        Ok(vec![out])
    }
    fn call(&self, ctx: &mut CallCtx, inputs: &[Var], weights: &[Var]) -> Result<Vec<Var>> {
        let x = single_var(&self.name, inputs, weights, self.weights.len())?;
        let y = ctx
            .tape
            .linear(x, weights[0], weights.get(1).copied())
            .map_err(in_layer(&self.name))?;
        Ok(vec![activate(
            ctx,
            &self.name,
            y,
            self.activation,
            self.config.activity_regularizer,
        )?])
    }
    fn config(&self) -> Value {
        let c = &self.config;
        let mut m = base_config(&self.name, self.trainable, c.activity_regularizer.as_ref());
        m.insert("units".into(), json!(c.units));
        m.insert("activation".into(), to_keras(self.activation));
        m.insert("use_bias".into(), json!(c.use_bias));
        m.insert("kernel_initializer".into(), self.kernel_initializer.to_keras());
        m.insert("bias_initializer".into(), self.bias_initializer.to_keras());
        m.insert("kernel_regularizer".into(), reg_json(&c.kernel_regularizer));
        m.insert("bias_regularizer".into(), reg_json(&c.bias_regularizer));
        m.insert("kernel_constraint".into(), constraint_json(&c.kernel_constraint));
        m.insert("bias_constraint".into(), constraint_json(&c.bias_constraint));
        m.insert("quantization_config".into(), Value::Null);
        Value::Object(m)
    }
    fn explain(&self, inputs: &[Shape]) -> Vec<String> {
        let fan_in = self.weights[0].value.shape()[0];
        let units = self.config.units;
        let formula = if self.config.use_bias {
            format!("({fan_in} + 1)·{units}")
        } else {
            format!("{fan_in}·{units}")
        };
        let mut line = params_line(&formula, self.count_params());
        if inputs.first().is_some_and(|s| s.len() > 2) {
            line.push_str(", applied to the last axis");
        }
        let mut lines = vec![line];
        if let Some(x) = inputs.first() {
            if let Ok(out) = self.compute_output_shape(inputs) {
                lines.push(format!(
                    "output: {} → {}: the kernel ({fan_in}, {units}) multiplies the last axis",
                    format_shape(x),
                    format_shape(&out[0])
                ));
            }
        }
        lines
    }
    fn regularization(&self, tape: &mut Tape, weights: &[Var]) -> Result<Option<Var>> {
        if !self.trainable {
            return Ok(None);
        }
        let c = &self.config;
        penalties(
            tape,
            &[
                (c.kernel_regularizer, weights.first().copied()),
                (c.bias_regularizer, weights.get(1).copied()),
            ],
        )
    }
    fn apply_constraints(&mut self) {
        if !self.trainable {
            return;
        }
        let (kc, bc) = (
            self.config.kernel_constraint.clone(),
            self.config.bias_constraint.clone(),
        );
        let mut it = self.weights.iter_mut();
        constrain(&kc, it.next());
        constrain(&bc, it.next());
    }
}

/// `Activation(activation)`: applies an activation by name; shape unchanged.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivationConfig {
    /// Name; automatic (`activation`, `activation_1`, …) when `None`.
    pub name: Option<String>,
    /// Keras's flag (no weights, so it changes nothing).
    pub trainable: bool,
    /// The activation's Keras name.
    pub activation: String,
}

/// A built `Activation` layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Activation {
    name: String,
    kind: ActivationKind,
    trainable: bool,
}

impl Activation {
    /// `Activation("relu")`.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(activation: &str) -> ActivationConfig {
        ActivationConfig {
            name: None,
            trainable: true,
            activation: activation.to_string(),
        }
    }

    /// The activation function.
    pub fn kind(&self) -> ActivationKind {
        self.kind
    }
}

impl ActivationConfig {
    opt_setters!(name: String);

    /// Reads a Keras 3 or tf-keras 2 `Activation` config.
    pub fn from_keras(r: &ConfigReader) -> Result<ActivationConfig> {
        r.check_dtype()?;
        let v = r.get("activation").ok_or_else(|| r.missing("activation"))?;
        let kind = activation_from_keras(&r.layer, v)?;
        Ok(ActivationConfig {
            name: r.name(),
            trainable: r.trainable()?,
            activation: kind.name().to_string(),
        })
    }
}

impl LayerConfig for ActivationConfig {
    fn class_name(&self) -> &'static str {
        "Activation"
    }
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    fn set_name(&mut self, name: String) {
        self.name = Some(name);
    }
    fn build(&self, name: &str, inputs: &[Shape], _rng: &mut Rng) -> Result<Box<dyn Layer>> {
        let kind = parse_activation(name, "activation", &self.activation)?;
        single(name, inputs)?;
        Ok(Box::new(Activation {
            name: name.to_string(),
            kind,
            trainable: self.trainable,
        }))
    }
}

impl Layer for Activation {
    fn name(&self) -> &str {
        &self.name
    }
    fn class_name(&self) -> &str {
        "Activation"
    }
    fn trainable(&self) -> bool {
        self.trainable
    }
    fn set_trainable(&mut self, trainable: bool) {
        self.trainable = trainable;
    }
    fn weights(&self) -> Vec<&Weight> {
        Vec::new()
    }
    fn weights_mut(&mut self) -> Vec<&mut Weight> {
        Vec::new()
    }
    fn compute_output_shape(&self, inputs: &[Shape]) -> Result<Vec<Shape>> {
        Ok(vec![single(&self.name, inputs)?.clone()])
    }
    fn call(&self, ctx: &mut CallCtx, inputs: &[Var], weights: &[Var]) -> Result<Vec<Var>> {
        let x = single_var(&self.name, inputs, weights, 0)?;
        Ok(vec![self.kind.apply(ctx.tape, x).map_err(in_layer(&self.name))?])
    }
    fn config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable, None);
        m.insert("activation".into(), to_keras(self.kind));
        Value::Object(m)
    }
    fn explain(&self, _inputs: &[Shape]) -> Vec<String> {
        let how = if matches!(self.kind, ActivationKind::Softmax | ActivationKind::LogSoftmax) {
            "over the last axis"
        } else {
            "elementwise"
        };
        vec![format!(
            "no parameters; applies {} {how}; output shape = input shape",
            self.kind.name()
        )]
    }
}

#[cfg(test)]
#[path = "core_tests.rs"]
pub(crate) mod tests;
