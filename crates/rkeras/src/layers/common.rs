//! What every layer family shares, so a layer file holds only what is its own:
//!
//! - [`LayerCore`], a built layer's name, `trainable` flag and weights, with the macros
//!   `layer_core!` (the trivial `Layer` methods over it) and `config_name!` (a config's
//!   `class_name`, `name` and `set_name`);
//! - the end of a layer's call, [`activate`]: the activation, then the activity regularizer's
//!   penalty divided by the batch size, as Keras 3.14+ and tf-keras 2 do;
//! - weight regularizers and constraints over a layer's weight list (none when frozen, as
//!   Keras regularizes and constrains trainable weights only);
//! - Keras 3 config writing: the base head ([`LayerCore::config_with`]) and the weights'
//!   initializer, regularizer and constraint arguments in Keras's order ([`weight_args`]);
//! - reading config arguments (`read_args!`) and checking a single input; the builder-method
//!   macros (`setters!`, `opt_setters!`, `plain_setters!`, in `builders.rs`) are re-exported.

use super::{CallCtx, Weight};
use crate::activations::{activation_from_keras, ActivationKind};
use crate::config::{dtype_policy, ConfigReader};
use crate::constraints::Constraint;
use crate::error::{arg_error, in_layer, shape_error, KerasError, Result};
use crate::initializers::Initializer;
use crate::kshape::{format_shape, Shape};
use crate::regularizers::Regularizer;
use serde_json::{json, Map, Value};
use tensor::{Rng, Tape, TensorError, Var};

/// A built layer's name, `trainable` flag and weights (in Keras's `get_weights()` order).
#[derive(Debug, Clone, PartialEq)]
pub struct LayerCore {
    /// The layer's name (`conv2d_1`).
    pub name: String,
    /// Keras's `trainable` flag.
    pub trainable: bool,
    /// The weights; empty for layers without any.
    pub weights: Vec<Weight>,
}

impl LayerCore {
    /// A core for a layer named `name`.
    pub fn new(name: &str, trainable: bool, weights: Vec<Weight>) -> LayerCore {
        LayerCore {
            name: name.to_string(),
            trainable,
            weights,
        }
    }

    /// The one input of a single-input layer's call, with the weight count checked.
    pub fn input(&self, inputs: &[Var], weights: &[Var]) -> Result<Var> {
        single_var(&self.name, inputs, weights, self.weights.len())
    }

    /// The layer's Keras 3 config: Keras's base head (`name`, `trainable`, `dtype`, and
    /// `activity_regularizer` when one is set, as `Layer.get_config` writes it), then `entries`.
    /// A later insert of a head key keeps its place, as Python's `dict.update` does.
    pub fn config_with<'a>(
        &self,
        activity: Option<&Regularizer>,
        entries: impl IntoIterator<Item = (&'a str, Value)>,
    ) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("name".into(), json!(self.name));
        m.insert("trainable".into(), json!(self.trainable));
        m.insert("dtype".into(), dtype_policy());
        if let Some(r) = activity {
            m.insert("activity_regularizer".into(), r.to_keras());
        }
        insert_all(&mut m, entries);
        m
    }

    /// The sum of the penalties `regs[i]` puts on weight `i` (`vars`: the weights on the tape);
    /// `None` when no weight has one, or when the layer is frozen (Keras regularizes its
    /// `trainable_weights` only).
    pub fn regularization(&self, tape: &mut Tape, vars: &[Var], regs: &[Option<Regularizer>]) -> Result<Option<Var>> {
        if !self.trainable {
            return Ok(None);
        }
        let mut total = None;
        for (reg, var) in regs.iter().zip(vars) {
            if let Some(r) = reg {
                let p = r.penalty(tape, *var)?;
                add_penalty(tape, &mut total, p)?;
            }
        }
        Ok(total)
    }

    /// Applies `constraints[i]` to weight `i` after an optimizer update; nothing when the layer
    /// is frozen (its weights are not updated).
    pub fn apply_constraints(&mut self, constraints: &[&Option<Constraint>]) {
        if !self.trainable {
            return;
        }
        for (c, w) in constraints.iter().zip(&mut self.weights) {
            if let Some(c) = c {
                c.apply(&mut w.value);
            }
        }
    }
}

/// Adds a penalty to a running total (`None` before the first).
pub fn add_penalty(tape: &mut Tape, total: &mut Option<Var>, p: Var) -> Result<()> {
    *total = Some(match *total {
        Some(t) => tape.add(t, p)?,
        None => p,
    });
    Ok(())
}

/// Inserts `(key, value)` entries in order.
pub fn insert_all<'a>(m: &mut Map<String, Value>, entries: impl IntoIterator<Item = (&'a str, Value)>) {
    for (k, v) in entries {
        m.insert(k.to_string(), v);
    }
}

/// Makes the trainable weights `kernels` (name, initializer, shape), then a `bias` of `units`
/// values when given: the weights of Dense and the convolutions, in Keras's order.
pub fn kernels_and_bias(
    layer: &str,
    rng: &mut Rng,
    kernels: &[(&str, &Initializer, &[usize])],
    bias: Option<(&Initializer, usize)>,
) -> Result<Vec<Weight>> {
    let mut weights = Vec::with_capacity(kernels.len() + 1);
    for (name, init, shape) in kernels {
        weights.push(Weight::trainable(name, init.generate(layer, shape, rng)?));
    }
    if let Some((init, units)) = bias {
        weights.push(Weight::trainable("bias", init.generate(layer, &[units], rng)?));
    }
    Ok(weights)
}

/// One weight's arguments in a config: its Keras prefix (`kernel`, `bias`, `depthwise`), its
/// initializer, regularizer and constraint.
pub type WeightArg<'a> = (
    &'static str,
    &'a Initializer,
    Option<Regularizer>,
    &'a Option<Constraint>,
);

/// Writes the weights' `…_initializer`s, then their `…_regularizer`s (then
/// `activity_regularizer`, for layers that write it there themselves, the convolutions), then
/// their `…_constraint`s: the order Keras 3 writes them in.
pub fn weight_args(m: &mut Map<String, Value>, args: &[WeightArg], activity: Option<Option<Regularizer>>) {
    for (p, init, _, _) in args {
        m.insert(format!("{p}_initializer"), init.to_keras());
    }
    for (p, _, reg, _) in args {
        m.insert(format!("{p}_regularizer"), reg_json(reg));
    }
    if let Some(a) = activity {
        m.insert("activity_regularizer".into(), reg_json(&a));
    }
    for (p, _, _, c) in args {
        m.insert(format!("{p}_constraint"), constraint_json(c));
    }
}

/// The activity regularizer's penalty on a layer output, divided by the batch size as Keras 3
/// (since 3.14: `divide_no_nan(loss, shape[0])`) and tf-keras 2 do, pushed onto the call's
/// losses.
pub fn activity_penalty(ctx: &mut CallCtx, layer: &str, out: Var, reg: Option<Regularizer>) -> Result<()> {
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
pub fn activate(
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

/// An engine error as the layer's error: argument errors keep their argument.
pub fn engine_err(layer: &str) -> impl Fn(TensorError) -> KerasError + '_ {
    move |e| match e {
        TensorError::Argument {
            arg,
            expected,
            received,
            ..
        } => arg_error(layer, arg, expected, received),
        TensorError::Shape { detail, .. } => shape_error(layer, detail),
        other => shape_error(layer, other.to_string()),
    }
}

/// A layer's `axis` argument counted from the front for an input shape (negative counts from
/// the end), checked as Keras does: BatchNormalization's channel axis, Softmax's axis.
pub fn resolve_axis(layer: &str, axis: isize, input: &[Option<usize>]) -> Result<usize> {
    let rank = input.len() as isize;
    let a = if axis < 0 { axis + rank } else { axis };
    if a < 0 || a >= rank {
        return Err(arg_error(
            layer,
            "axis",
            format!(
                "an axis in [{}, {}) for input shape {}",
                -rank,
                rank,
                format_shape(input)
            ),
            axis,
        ));
    }
    Ok(a as usize)
}

/// The one input of a single-input layer.
pub fn single<'a>(layer: &str, inputs: &'a [Shape]) -> Result<&'a Shape> {
    match inputs {
        [one] => Ok(one),
        _ => Err(shape_error(
            layer,
            format!("expected 1 input, received {}", inputs.len()),
        )),
    }
}

/// The one input variable of a single-input layer, and checks the weight count.
pub fn single_var(layer: &str, inputs: &[Var], weights: &[Var], n_weights: usize) -> Result<Var> {
    if inputs.len() != 1 {
        return Err(shape_error(
            layer,
            format!("expected 1 input, received {}", inputs.len()),
        ));
    }
    if weights.len() != n_weights {
        return Err(KerasError::Invalid(format!(
            "{layer}: expected {n_weights} weight variables, received {}",
            weights.len()
        )));
    }
    Ok(inputs[0])
}

/// `activation` of a config (a name, `null` or a serialized function), as the name the
/// config stores; absent means `"linear"`.
pub fn read_activation(r: &ConfigReader) -> Result<String> {
    Ok(r.get("activation")
        .map(|v| activation_from_keras(&r.layer, v))
        .transpose()?
        .map_or_else(|| "linear".to_string(), |a| a.name().to_string()))
}

/// An initializer argument of a config, if given.
pub fn read_init(r: &ConfigReader, key: &str) -> Result<Option<super::InitializerArg>> {
    r.get(key)
        .map(|v| Initializer::from_keras(&r.layer, key, v).map(super::InitializerArg::Value))
        .transpose()
}

/// A regularizer argument of a config, if given.
pub fn read_reg(r: &ConfigReader, key: &str) -> Result<Option<Regularizer>> {
    r.get(key)
        .map(|v| Regularizer::from_keras(&r.layer, key, v))
        .transpose()
}

/// A constraint argument of a config, if given.
pub fn read_constraint(r: &ConfigReader, key: &str) -> Result<Option<Constraint>> {
    r.get(key).map(|v| Constraint::from_keras(&r.layer, key, v)).transpose()
}

/// Keras 3 JSON of an optional regularizer.
pub fn reg_json(r: &Option<Regularizer>) -> Value {
    r.as_ref().map_or(Value::Null, Regularizer::to_keras)
}

/// Keras 3 JSON of an optional constraint.
pub fn constraint_json(c: &Option<Constraint>) -> Value {
    c.as_ref().map_or(Value::Null, Constraint::to_keras)
}

/// Reads config arguments into the config fields of the same names (Keras's argument names
/// are the fields'): `read_args!(r, c; init kernel_initializer; reg kernel_regularizer;
/// constraint kernel_constraint)`. An absent initializer keeps the default; an absent
/// regularizer or constraint is `None`.
macro_rules! read_args {
    ($r:expr, $c:ident; init $($i:ident),*; reg $($g:ident),*; constraint $($k:ident),* $(;)?) => {
        $(
            if let Some(v) = $crate::layers::common::read_init($r, stringify!($i))? {
                $c.$i = v;
            }
        )*
        $( $c.$g = $crate::layers::common::read_reg($r, stringify!($g))?; )*
        $( $c.$k = $crate::layers::common::read_constraint($r, stringify!($k))?; )*
    };
}

/// The `Layer` methods over a `core: LayerCore` field (`name`, `trainable`, `set_trainable`,
/// `weights`, `weights_mut`), and `class_name` when given a literal.
macro_rules! layer_core {
    () => {
        fn name(&self) -> &str {
            &self.core.name
        }
        fn trainable(&self) -> bool {
            self.core.trainable
        }
        fn set_trainable(&mut self, trainable: bool) {
            self.core.trainable = trainable;
        }
        fn weights(&self) -> Vec<&$crate::layers::Weight> {
            self.core.weights.iter().collect()
        }
        fn weights_mut(&mut self) -> Vec<&mut $crate::layers::Weight> {
            self.core.weights.iter_mut().collect()
        }
    };
    ($class:literal) => {
        fn class_name(&self) -> &str {
            $class
        }
        $crate::layers::common::layer_core!();
    };
}

/// A config's `LayerConfig::name` and `set_name` over its `name: Option<String>` field, and
/// `class_name` when given a literal.
macro_rules! config_name {
    () => {
        fn name(&self) -> Option<&str> {
            self.name.as_deref()
        }
        fn set_name(&mut self, name: String) {
            self.name = Some(name);
        }
    };
    ($class:literal) => {
        fn class_name(&self) -> &'static str {
            $class
        }
        $crate::layers::common::config_name!();
    };
}

pub(crate) use config_name;
pub(crate) use layer_core;
pub(crate) use read_args;
// The builder-method macros, under the path every layer file imports them from.
pub(crate) use super::builders::{opt_setters, plain_setters, setters};
