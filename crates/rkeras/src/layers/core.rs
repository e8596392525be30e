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

use super::common::{
    activate, config_name, kernels_and_bias, layer_core, opt_setters, read_args, setters, single, weight_args,
    LayerCore,
};
use super::{CallCtx, InitializerArg, Layer, LayerConfig};
use crate::activations::{activation_from_keras, parse_activation, to_keras, ActivationKind};
use crate::config::ConfigReader;
use crate::constraints::Constraint;
use crate::error::{arg_error, in_layer, shape_error, Result};
use crate::explain::params_line;
use crate::initializers::Initializer;
use crate::kshape::{format_shape, Shape};
use crate::model::plan::{InferenceOp, PlanAct};
use crate::regularizers::Regularizer;
use serde_json::{json, Value};
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
    core: LayerCore,
    config: DenseConfig,
    activation: ActivationKind,
    /// Kernel and bias initializers.
    inits: [Initializer; 2],
    input_shape: Shape,
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
        read_args!(r, c; init kernel_initializer, bias_initializer;
            reg kernel_regularizer, bias_regularizer, activity_regularizer; constraint kernel_constraint, bias_constraint);
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
    config_name!("Dense");
    fn build(&self, name: &str, inputs: &[Shape], rng: &mut Rng) -> Result<Box<dyn Layer>> {
        let (activation, ki, bi) = self.validate(name)?;
        let input = single(name, inputs)?;
        let fan_in = dense_input_dim(name, input)?;
        let kernel = [fan_in, self.units];
        let weights = kernels_and_bias(
            name,
            rng,
            &[("kernel", &ki, &kernel)],
            self.use_bias.then_some((&bi, self.units)),
        )?;
        Ok(Box::new(Dense {
            core: LayerCore::new(name, self.trainable, weights),
            config: DenseConfig {
                name: Some(name.to_string()),
                ..self.clone()
            },
            activation,
            inits: [ki, bi],
            input_shape: input.clone(),
        }))
    }
}

impl Layer for Dense {
    layer_core!("Dense");
    fn inference_op(&self) -> Option<InferenceOp> {
        Some(InferenceOp::Dense {
            kernel: self.core.weights[0].value.clone(),
            bias: self.core.weights.get(1).map(|b| b.value.clone()),
            act: PlanAct::of(self.activation),
        })
    }
    fn compute_output_shape(&self, inputs: &[Shape]) -> Result<Vec<Shape>> {
        let input = single(&self.core.name, inputs)?;
        let fan_in = self.core.weights[0].value.shape()[0];
        if input.len() < 2 || input[input.len() - 1].is_some_and(|d| d != fan_in) {
            return Err(shape_error(
                &self.core.name,
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
        let x = self.core.input(inputs, weights)?;
        let y = ctx
            .tape
            .linear(x, weights[0], weights.get(1).copied())
            .map_err(in_layer(&self.core.name))?;
        Ok(vec![activate(
            ctx,
            &self.core.name,
            y,
            self.activation,
            self.config.activity_regularizer,
        )?])
    }
    fn config(&self) -> Value {
        let c = &self.config;
        let entries = [
            ("units", json!(c.units)),
            ("activation", to_keras(self.activation)),
            ("use_bias", json!(c.use_bias)),
        ];
        let mut m = self.core.config_with(c.activity_regularizer.as_ref(), entries);
        let [ki, bi] = &self.inits;
        let args = [
            ("kernel", ki, c.kernel_regularizer, &c.kernel_constraint),
            ("bias", bi, c.bias_regularizer, &c.bias_constraint),
        ];
        weight_args(&mut m, &args, None);
        m.insert("quantization_config".into(), Value::Null);
        Value::Object(m)
    }
    fn explain(&self, inputs: &[Shape]) -> Vec<String> {
        let fan_in = self.core.weights[0].value.shape()[0];
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
        let c = &self.config;
        self.core
            .regularization(tape, weights, &[c.kernel_regularizer, c.bias_regularizer])
    }
    fn apply_constraints(&mut self) {
        let c = &self.config;
        self.core.apply_constraints(&[&c.kernel_constraint, &c.bias_constraint]);
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
    core: LayerCore,
    kind: ActivationKind,
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
    config_name!("Activation");
    fn build(&self, name: &str, inputs: &[Shape], _rng: &mut Rng) -> Result<Box<dyn Layer>> {
        let kind = parse_activation(name, "activation", &self.activation)?;
        single(name, inputs)?;
        Ok(Box::new(Activation {
            core: LayerCore::new(name, self.trainable, Vec::new()),
            kind,
        }))
    }
}

impl Layer for Activation {
    layer_core!("Activation");
    fn inference_op(&self) -> Option<InferenceOp> {
        Some(InferenceOp::Activation(PlanAct::of(self.kind)))
    }
    fn compute_output_shape(&self, inputs: &[Shape]) -> Result<Vec<Shape>> {
        Ok(vec![single(&self.core.name, inputs)?.clone()])
    }
    fn call(&self, ctx: &mut CallCtx, inputs: &[Var], weights: &[Var]) -> Result<Vec<Var>> {
        let x = self.core.input(inputs, weights)?;
        Ok(vec![self.kind.apply(ctx.tape, x).map_err(in_layer(&self.core.name))?])
    }
    fn config(&self) -> Value {
        Value::Object(self.core.config_with(None, [("activation", to_keras(self.kind))]))
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
mod tests;
