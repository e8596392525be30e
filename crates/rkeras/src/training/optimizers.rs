//! Optimizers with Keras 3's arguments, defaults and update formulas (`keras/src/optimizers/
//! {sgd,adam,adamw,rmsprop,adagrad}.py`, TensorFlow backend): `SGD` (momentum, nesterov),
//! `Adam` (amsgrad), `AdamW`, `RMSprop` (momentum, centered), `Adagrad`; a learning rate that
//! is a number or a [`LearningRateSchedule`]; `clipnorm`, `clipvalue`, `global_clipnorm`;
//! `weight_decay`. Every update runs in f32 in Keras's operation order. The state (`iteration`,
//! `learning_rate`, slots) is [`Optimizer::variables`] in Keras's `optimizer.variables` order
//! and names, for saving.
//!
//! ```
//! use rkeras::training::optimizers::{Optimizer, Param};
//! use tensor::Tensor;
//! let mut sgd = Optimizer::sgd().learning_rate(0.1).momentum(0.9);
//! let mut p = [Param::new(1, "w", Tensor::new(&[2], vec![1.0, 2.0]).unwrap(), Tensor::ones(&[2]))];
//! sgd.apply(&mut p).unwrap();
//! assert_eq!(p[0].value.data(), &[0.9, 1.9]);
//! ```

use super::schedules::LearningRateSchedule;
use crate::error::{KerasError, Result};
use serde_json::{json, Value};
use std::collections::HashMap;
use tensor::Tensor;

/// A learning rate: a number (a float32 variable in Keras) or a schedule.
#[derive(Debug, Clone, PartialEq)]
pub enum LearningRate {
    /// A fixed value (settable, e.g. by `ReduceLROnPlateau`).
    Constant(f32),
    /// A function of the iteration count.
    Schedule(LearningRateSchedule),
}

impl From<f32> for LearningRate {
    fn from(v: f32) -> LearningRate {
        LearningRate::Constant(v)
    }
}

impl From<f64> for LearningRate {
    fn from(v: f64) -> LearningRate {
        LearningRate::Constant(v as f32)
    }
}

impl From<LearningRateSchedule> for LearningRate {
    fn from(s: LearningRateSchedule) -> LearningRate {
        LearningRate::Schedule(s)
    }
}

/// The algorithm and its own hyperparameters (Python floats, as Keras keeps them).
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq)]
pub enum OptimizerKind {
    /// `SGD(learning_rate=0.01, momentum=0.0, nesterov=False)`.
    Sgd { momentum: f64, nesterov: bool },
    /// `Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False)`;
    /// `decoupled` marks `AdamW` (weight_decay=0.004).
    Adam {
        beta_1: f64,
        beta_2: f64,
        epsilon: f64,
        amsgrad: bool,
        decoupled: bool,
    },
    /// `RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False)`.
    RmsProp {
        rho: f64,
        momentum: f64,
        epsilon: f64,
        centered: bool,
    },
    /// `Adagrad(learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7)`.
    Adagrad { initial_accumulator_value: f64, epsilon: f64 },
}

/// One variable to update: identity (for its slots), Keras path (for slot names, e.g.
/// `sequential/dense/kernel`), value and gradient. [`Optimizer::apply`] updates `value` in
/// place (no copy when the tensor is not shared).
#[derive(Debug, Clone)]
pub struct Param {
    /// Variable identity ([`crate::layers::Weight::id`]).
    pub id: u64,
    /// Keras variable path.
    pub path: String,
    /// The value, updated in place.
    pub value: Tensor,
    /// The gradient of the loss.
    pub grad: Tensor,
}

impl Param {
    /// A variable with its gradient.
    pub fn new(id: u64, path: &str, value: Tensor, grad: Tensor) -> Param {
        Param {
            id,
            path: path.to_string(),
            value,
            grad,
        }
    }
}

/// One optimizer variable, named as Keras names it (`adam/sequential_dense_kernel_momentum`).
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizerVariable {
    /// Keras path.
    pub name: String,
    /// The value (`iteration` is stored as f32 here; Keras keeps it as int64).
    pub value: Tensor,
}

/// Slots of one variable, in the order Keras creates them.
#[derive(Debug, Clone)]
struct Slots {
    path: String,
    tensors: Vec<Tensor>,
}

/// An optimizer: algorithm, learning rate, clipping, weight decay and state.
#[derive(Debug, Clone)]
pub struct Optimizer {
    kind: OptimizerKind,
    name: String,
    learning_rate: LearningRate,
    weight_decay: Option<f64>,
    clipnorm: Option<f64>,
    clipvalue: Option<f64>,
    global_clipnorm: Option<f64>,
    exclude_from_weight_decay: Vec<String>,
    iterations: i64,
    slots: Vec<Slots>,
    index: HashMap<u64, usize>,
    /// Builder misuse (an argument the algorithm does not have), reported by `validate`.
    invalid: Vec<String>,
}

impl Optimizer {
    fn with_kind(kind: OptimizerKind, learning_rate: f32) -> Optimizer {
        let class = kind_class(&kind);
        let weight_decay = match kind {
            OptimizerKind::Adam { decoupled: true, .. } => Some(0.004),
            _ => None,
        };
        Optimizer {
            name: crate::model::session::auto_name(&crate::layers::snake_case(class)),
            kind,
            learning_rate: LearningRate::Constant(learning_rate),
            weight_decay,
            clipnorm: None,
            clipvalue: None,
            global_clipnorm: None,
            exclude_from_weight_decay: Vec::new(),
            iterations: 0,
            slots: Vec::new(),
            index: HashMap::new(),
            invalid: Vec::new(),
        }
    }

    /// `keras.optimizers.SGD()`: learning rate 0.01, no momentum.
    pub fn sgd() -> Optimizer {
        Optimizer::with_kind(
            OptimizerKind::Sgd {
                momentum: 0.0,
                nesterov: false,
            },
            0.01,
        )
    }

    /// `keras.optimizers.Adam()`: learning rate 0.001, betas 0.9 / 0.999, epsilon 1e-7.
    pub fn adam() -> Optimizer {
        Optimizer::with_kind(
            OptimizerKind::Adam {
                beta_1: 0.9,
                beta_2: 0.999,
                epsilon: 1e-7,
                amsgrad: false,
                decoupled: false,
            },
            0.001,
        )
    }

    /// `keras.optimizers.AdamW()`: Adam with decoupled weight decay 0.004.
    pub fn adamw() -> Optimizer {
        Optimizer::with_kind(
            OptimizerKind::Adam {
                beta_1: 0.9,
                beta_2: 0.999,
                epsilon: 1e-7,
                amsgrad: false,
                decoupled: true,
            },
            0.001,
        )
    }

    /// `keras.optimizers.RMSprop()`: learning rate 0.001, rho 0.9, epsilon 1e-7.
    pub fn rmsprop() -> Optimizer {
        Optimizer::with_kind(
            OptimizerKind::RmsProp {
                rho: 0.9,
                momentum: 0.0,
                epsilon: 1e-7,
                centered: false,
            },
            0.001,
        )
    }

    /// `keras.optimizers.Adagrad()`: learning rate 0.001, initial accumulator 0.1.
    pub fn adagrad() -> Optimizer {
        Optimizer::with_kind(
            OptimizerKind::Adagrad {
                initial_accumulator_value: 0.1,
                epsilon: 1e-7,
            },
            0.001,
        )
    }

    /// An optimizer by Keras's string identifier (`"sgd"`, `"adam"`, `"adamw"`, `"rmsprop"`,
    /// `"adagrad"`, any case) with its defaults.
    pub fn get(identifier: &str) -> Result<Optimizer> {
        match identifier.to_ascii_lowercase().as_str() {
            "sgd" => Ok(Optimizer::sgd()),
            "adam" => Ok(Optimizer::adam()),
            "adamw" => Ok(Optimizer::adamw()),
            "rmsprop" => Ok(Optimizer::rmsprop()),
            "adagrad" => Ok(Optimizer::adagrad()),
            _ => Err(KerasError::Invalid(format!(
                "Could not interpret optimizer identifier: {identifier:?}. \
                 Expected one of sgd, adam, adamw, rmsprop, adagrad"
            ))),
        }
    }

    fn misuse(mut self, arg: &str) -> Optimizer {
        self.invalid.push(format!(
            "{}: `{arg}` is not an argument of {}",
            self.name,
            self.class_name()
        ));
        self
    }

    /// `learning_rate`: a number or a schedule.
    pub fn learning_rate(mut self, lr: impl Into<LearningRate>) -> Optimizer {
        self.learning_rate = lr.into();
        self
    }

    /// `momentum` (SGD, RMSprop).
    pub fn momentum(mut self, value: f64) -> Optimizer {
        match &mut self.kind {
            OptimizerKind::Sgd { momentum, .. } | OptimizerKind::RmsProp { momentum, .. } => *momentum = value,
            _ => return self.misuse("momentum"),
        }
        self
    }

    /// `nesterov` (SGD).
    pub fn nesterov(mut self, value: bool) -> Optimizer {
        match &mut self.kind {
            OptimizerKind::Sgd { nesterov, .. } => *nesterov = value,
            _ => return self.misuse("nesterov"),
        }
        self
    }

    /// `beta_1` (Adam, AdamW).
    pub fn beta_1(mut self, value: f64) -> Optimizer {
        match &mut self.kind {
            OptimizerKind::Adam { beta_1, .. } => *beta_1 = value,
            _ => return self.misuse("beta_1"),
        }
        self
    }

    /// `beta_2` (Adam, AdamW).
    pub fn beta_2(mut self, value: f64) -> Optimizer {
        match &mut self.kind {
            OptimizerKind::Adam { beta_2, .. } => *beta_2 = value,
            _ => return self.misuse("beta_2"),
        }
        self
    }

    /// `amsgrad` (Adam, AdamW).
    pub fn amsgrad(mut self, value: bool) -> Optimizer {
        match &mut self.kind {
            OptimizerKind::Adam { amsgrad, .. } => *amsgrad = value,
            _ => return self.misuse("amsgrad"),
        }
        self
    }

    /// `epsilon` (Adam, AdamW, RMSprop, Adagrad).
    pub fn epsilon(mut self, value: f64) -> Optimizer {
        match &mut self.kind {
            OptimizerKind::Adam { epsilon, .. }
            | OptimizerKind::RmsProp { epsilon, .. }
            | OptimizerKind::Adagrad { epsilon, .. } => *epsilon = value,
            OptimizerKind::Sgd { .. } => return self.misuse("epsilon"),
        }
        self
    }

    /// `rho` (RMSprop).
    pub fn rho(mut self, value: f64) -> Optimizer {
        match &mut self.kind {
            OptimizerKind::RmsProp { rho, .. } => *rho = value,
            _ => return self.misuse("rho"),
        }
        self
    }

    /// `centered` (RMSprop).
    pub fn centered(mut self, value: bool) -> Optimizer {
        match &mut self.kind {
            OptimizerKind::RmsProp { centered, .. } => *centered = value,
            _ => return self.misuse("centered"),
        }
        self
    }

    /// `initial_accumulator_value` (Adagrad).
    pub fn initial_accumulator_value(mut self, value: f64) -> Optimizer {
        match &mut self.kind {
            OptimizerKind::Adagrad {
                initial_accumulator_value,
                ..
            } => *initial_accumulator_value = value,
            _ => return self.misuse("initial_accumulator_value"),
        }
        self
    }

    /// `weight_decay`: `w ← w − w·weight_decay·lr` before each update (every optimizer).
    pub fn weight_decay(mut self, value: f64) -> Optimizer {
        self.weight_decay = Some(value);
        self
    }

    /// `clipnorm`: each gradient's L2 norm is clipped to this value.
    pub fn clipnorm(mut self, value: f64) -> Optimizer {
        self.clipnorm = Some(value);
        self
    }

    /// `clipvalue`: each gradient value is clipped to `[-value, value]`.
    pub fn clipvalue(mut self, value: f64) -> Optimizer {
        self.clipvalue = Some(value);
        self
    }

    /// `global_clipnorm`: all gradients are scaled so that their joint L2 norm is at most this.
    pub fn global_clipnorm(mut self, value: f64) -> Optimizer {
        self.global_clipnorm = Some(value);
        self
    }

    /// The optimizer's name (`adam`, `adam_1`, … as Keras auto-names them).
    pub fn name(mut self, name: &str) -> Optimizer {
        self.name = name.to_string();
        self
    }

    /// `exclude_from_weight_decay(var_names=…)`: variables whose path contains any of these
    /// strings get no weight decay.
    pub fn exclude_from_weight_decay(mut self, var_names: &[&str]) -> Optimizer {
        self.exclude_from_weight_decay = var_names.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Checks the arguments as Keras's constructors do.
    pub fn validate(&self) -> Result<()> {
        if let Some(msg) = self.invalid.first() {
            return Err(KerasError::Invalid(msg.clone()));
        }
        let set = [self.clipnorm, self.clipvalue, self.global_clipnorm]
            .iter()
            .filter(|c| c.is_some())
            .count();
        if set > 1 {
            return Err(KerasError::Invalid(format!(
                "{}: only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. \
                 Received: clipnorm={}, clipvalue={}, global_clipnorm={}",
                self.name,
                py(self.clipnorm),
                py(self.clipvalue),
                py(self.global_clipnorm)
            )));
        }
        if let LearningRate::Constant(lr) = self.learning_rate {
            if !lr.is_finite() || lr < 0.0 {
                return Err(KerasError::Invalid(format!(
                    "{}: `learning_rate` must be a non-negative number. Received: learning_rate={lr}",
                    self.name
                )));
            }
        }
        match self.kind {
            OptimizerKind::Sgd { momentum, .. } if !(0.0..=1.0).contains(&momentum) => Err(KerasError::Invalid(
                format!("{}: `momentum` must be a float between [0, 1]. Received: momentum={momentum}", self.name),
            )),
            OptimizerKind::RmsProp { momentum, .. } if momentum < 0.0 => Err(KerasError::Invalid(format!(
                "{}: `momentum` must be >= 0. Received: momentum={momentum}",
                self.name
            ))),
            _ => Ok(()),
        }
    }

    /// Keras class name (`SGD`, `Adam`, `AdamW`, `RMSprop`, `Adagrad`).
    pub fn class_name(&self) -> &'static str {
        kind_class(&self.kind)
    }

    /// The algorithm and its hyperparameters.
    pub fn kind(&self) -> &OptimizerKind {
        &self.kind
    }

    /// The optimizer's name.
    pub fn get_name(&self) -> &str {
        &self.name
    }

    /// Number of updates applied (`optimizer.iterations`).
    pub fn iterations(&self) -> i64 {
        self.iterations
    }

    /// Sets the iteration count (restoring a checkpoint).
    pub fn set_iterations(&mut self, iterations: i64) {
        self.iterations = iterations;
    }

    /// The learning rate the next update uses (a schedule evaluated at `iterations`).
    pub fn current_learning_rate(&self) -> f32 {
        match &self.learning_rate {
            LearningRate::Constant(v) => *v,
            LearningRate::Schedule(s) => s.at(self.iterations),
        }
    }

    /// The learning-rate setting.
    pub fn get_learning_rate(&self) -> &LearningRate {
        &self.learning_rate
    }

    /// `optimizer.learning_rate = value`; an error when the learning rate is a schedule, as
    /// in Keras.
    pub fn set_learning_rate(&mut self, value: f32) -> Result<()> {
        match self.learning_rate {
            LearningRate::Constant(_) => {
                self.learning_rate = LearningRate::Constant(value);
                Ok(())
            }
            LearningRate::Schedule(_) => Err(KerasError::Invalid(format!(
                "{}: this optimizer was created with a LearningRateSchedule as its `learning_rate`, \
                 hence its learning rate is not settable",
                self.name
            ))),
        }
    }

    /// `weight_decay`, if set.
    pub fn get_weight_decay(&self) -> Option<f64> {
        self.weight_decay
    }

    /// `(clipnorm, clipvalue, global_clipnorm)`.
    pub fn clipping(&self) -> (Option<f64>, Option<f64>, Option<f64>) {
        (self.clipnorm, self.clipvalue, self.global_clipnorm)
    }

    fn slot_names(&self) -> Vec<&'static str> {
        match self.kind {
            OptimizerKind::Sgd { momentum, .. } if momentum != 0.0 => vec!["momentum"],
            OptimizerKind::Sgd { .. } => vec![],
            OptimizerKind::Adam { amsgrad, .. } => {
                if amsgrad {
                    vec!["momentum", "velocity", "velocity_hat"]
                } else {
                    vec!["momentum", "velocity"]
                }
            }
            OptimizerKind::RmsProp { momentum, centered, .. } => {
                let mut v = vec!["velocity"];
                if momentum > 0.0 {
                    v.push("momentum");
                }
                if centered {
                    v.push("average_gradient");
                }
                v
            }
            OptimizerKind::Adagrad { .. } => vec!["accumulator"],
        }
    }

    /// True once slots exist for some variables.
    pub fn is_built(&self) -> bool {
        !self.slots.is_empty()
    }

    /// Creates the slots of variables `(id, path, shape)` not seen before, in order (Keras's
    /// `optimizer.build(model.trainable_variables)`).
    pub fn build(&mut self, vars: &[(u64, String, Vec<usize>)]) {
        let names = self.slot_names();
        for (id, path, shape) in vars {
            if self.index.contains_key(id) {
                continue;
            }
            let tensors = names
                .iter()
                .map(|_| match self.kind {
                    OptimizerKind::Adagrad {
                        initial_accumulator_value,
                        ..
                    } => Tensor::full(shape, initial_accumulator_value as f32),
                    _ => Tensor::zeros(shape),
                })
                .collect();
            self.index.insert(*id, self.slots.len());
            self.slots.push(Slots {
                path: path.clone(),
                tensors,
            });
        }
    }

    /// Keras's `optimizer.variables`: `iteration`, `learning_rate` (when a number), then the
    /// slots in Keras's creation order (Adam: per variable momentum and velocity, then all
    /// `velocity_hat`s; RMSprop: all velocities, then momentums, then average gradients).
    pub fn variables(&self) -> Vec<OptimizerVariable> {
        let mut out = vec![OptimizerVariable {
            name: format!("{}/iteration", self.name),
            value: Tensor::scalar(self.iterations as f32),
        }];
        if let LearningRate::Constant(lr) = self.learning_rate {
            out.push(OptimizerVariable {
                name: format!("{}/learning_rate", self.name),
                value: Tensor::scalar(lr),
            });
        }
        for (k, slot) in self.slot_order() {
            let s = &self.slots[k];
            out.push(OptimizerVariable {
                name: format!("{}/{}_{}", self.name, s.path.replace('/', "_"), self.slot_names()[slot]),
                value: s.tensors[slot].clone(),
            });
        }
        out
    }

    /// `(variable index, slot index)` in Keras's `variables` order.
    fn slot_order(&self) -> Vec<(usize, usize)> {
        let n = self.slot_names().len();
        let vars = 0..self.slots.len();
        match self.kind {
            // add_optimizer_variables(vars, ["momentum", "velocity"]) interleaves per variable.
            OptimizerKind::Adam { .. } => {
                let mut v: Vec<(usize, usize)> = vars.clone().flat_map(|k| [(k, 0), (k, 1)]).collect();
                if n == 3 {
                    v.extend(vars.map(|k| (k, 2)));
                }
                v
            }
            _ => (0..n).flat_map(|s| vars.clone().map(move |k| (k, s))).collect(),
        }
    }

    /// Restores [`Optimizer::variables`] (same count and shapes; build first).
    pub fn set_variables(&mut self, values: &[Tensor]) -> Result<()> {
        let order = self.slot_order();
        let head = if matches!(self.learning_rate, LearningRate::Constant(_)) {
            2
        } else {
            1
        };
        if values.len() != head + order.len() {
            return Err(KerasError::Invalid(format!(
                "{}: expected {} optimizer variables (iteration{}, {} slots for {} variables), received {}",
                self.name,
                head + order.len(),
                if head == 2 { ", learning_rate" } else { "" },
                order.len(),
                self.slots.len(),
                values.len()
            )));
        }
        for (i, &(k, s)) in order.iter().enumerate() {
            let want = self.slots[k].tensors[s].shape();
            if values[head + i].shape() != want {
                return Err(KerasError::Invalid(format!(
                    "{}: optimizer variable {} has shape {:?}, the value given has shape {:?}",
                    self.name,
                    head + i,
                    want,
                    values[head + i].shape()
                )));
            }
        }
        let it = values[0].item()?;
        if !(it >= 0.0 && it.fract() == 0.0) {
            return Err(KerasError::Invalid(format!(
                "{}: optimizer iteration must be a non-negative integer, received {it}",
                self.name
            )));
        }
        self.iterations = it as i64;
        if head == 2 {
            self.learning_rate = LearningRate::Constant(values[1].item()?);
        }
        for (i, &(k, s)) in order.iter().enumerate() {
            self.slots[k].tensors[s] = values[head + i].clone();
        }
        Ok(())
    }

    /// One update of every parameter from its gradient, as Keras's `apply_gradients`:
    /// clip, weight decay, the algorithm's step, `iterations += 1`. Slots are created for
    /// parameters not seen before.
    pub fn apply(&mut self, params: &mut [Param]) -> Result<()> {
        for p in params.iter() {
            if p.grad.shape() != p.value.shape() {
                return Err(KerasError::Invalid(format!(
                    "{}: gradient of {} has shape {:?}, the variable has {:?}",
                    self.name,
                    p.path,
                    p.grad.shape(),
                    p.value.shape()
                )));
            }
        }
        let new: Vec<(u64, String, Vec<usize>)> = params
            .iter()
            .filter(|p| !self.index.contains_key(&p.id))
            .map(|p| (p.id, p.path.clone(), p.value.shape().to_vec()))
            .collect();
        self.build(&new);
        self.clip_gradients(params);
        let lr = self.current_learning_rate();
        if let Some(wd) = self.weight_decay {
            let wd = wd as f32;
            for p in params.iter_mut() {
                if self.exclude_from_weight_decay.iter().any(|s| p.path.contains(s.as_str())) {
                    continue;
                }
                for v in p.value.data_mut() {
                    *v -= *v * wd * lr;
                }
            }
        }
        for p in params.iter_mut() {
            let k = self.index[&p.id];
            let slots = &mut self.slots[k].tensors;
            update_step(&self.kind, self.iterations, lr, &p.grad, &mut p.value, slots);
        }
        self.iterations += 1;
        Ok(())
    }

    fn clip_gradients(&self, params: &mut [Param]) {
        if let Some(c) = self.clipnorm.filter(|&c| c > 0.0) {
            let c = c as f32;
            for p in params.iter_mut() {
                let l2sum: f32 = p.grad.data().iter().map(|g| g * g).sum();
                if l2sum > 0.0 {
                    let norm = l2sum.sqrt();
                    if norm > c {
                        // tf.clip_by_norm: t·clip_norm / max(‖t‖, clip_norm).
                        for g in p.grad.data_mut() {
                            *g = *g * c / norm;
                        }
                    }
                }
            }
        } else if let Some(c) = self.global_clipnorm.filter(|&c| c > 0.0) {
            let c = c as f32;
            let sq: f32 = params
                .iter()
                .map(|p| p.grad.data().iter().map(|g| g * g).sum::<f32>())
                .sum();
            let norm = sq.sqrt();
            let scale = c * (1.0 / norm).min(1.0 / c);
            if scale != 1.0 {
                for p in params.iter_mut() {
                    for g in p.grad.data_mut() {
                        *g *= scale;
                    }
                }
            }
        } else if let Some(v) = self.clipvalue.filter(|&v| v > 0.0) {
            let v = v as f32;
            for p in params.iter_mut() {
                for g in p.grad.data_mut() {
                    *g = g.clamp(-v, v);
                }
            }
        }
    }

    /// Keras's `optimizer.get_config()`.
    pub fn config(&self) -> Value {
        let lr = match &self.learning_rate {
            LearningRate::Constant(v) => json!(*v as f64),
            LearningRate::Schedule(s) => s.to_keras(),
        };
        let mut c = json!({
            "name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue,
            "use_ema": false, "ema_momentum": 0.99, "ema_overwrite_frequency": null,
            "loss_scale_factor": null, "gradient_accumulation_steps": null,
        });
        let extra = match &self.kind {
            OptimizerKind::Sgd { momentum, nesterov } => json!({"momentum": momentum, "nesterov": nesterov}),
            OptimizerKind::Adam {
                beta_1,
                beta_2,
                epsilon,
                amsgrad,
                ..
            } => json!({"beta_1": beta_1, "beta_2": beta_2, "epsilon": epsilon, "amsgrad": amsgrad}),
            OptimizerKind::RmsProp {
                rho,
                momentum,
                epsilon,
                centered,
            } => json!({"rho": rho, "momentum": momentum, "epsilon": epsilon, "centered": centered}),
            OptimizerKind::Adagrad {
                initial_accumulator_value,
                epsilon,
            } => json!({"initial_accumulator_value": initial_accumulator_value, "epsilon": epsilon}),
        };
        if let (Some(c), Value::Object(e)) = (c.as_object_mut(), extra) {
            c.extend(e);
        }
        c
    }

    /// An optimizer from Keras's class name and `get_config()` (fresh state).
    pub fn from_config(class_name: &str, config: &Value) -> Result<Optimizer> {
        let mut o = Optimizer::get(class_name)?;
        let num = |k: &str| config.get(k).and_then(Value::as_f64);
        let flag = |k: &str| config.get(k).and_then(Value::as_bool);
        if let Some(n) = config.get("name").and_then(Value::as_str) {
            o.name = n.to_string();
        }
        match config.get("learning_rate") {
            Some(Value::Object(_)) => {
                o.learning_rate = LearningRate::Schedule(LearningRateSchedule::from_keras(&config["learning_rate"])?)
            }
            Some(v) if v.is_number() => o.learning_rate = LearningRate::Constant(v.as_f64().unwrap_or(0.0) as f32),
            _ => {}
        }
        o.weight_decay = num("weight_decay").or(o.weight_decay);
        o.clipnorm = num("clipnorm");
        o.clipvalue = num("clipvalue");
        o.global_clipnorm = num("global_clipnorm");
        match &mut o.kind {
            OptimizerKind::Sgd { momentum, nesterov } => {
                *momentum = num("momentum").unwrap_or(*momentum);
                *nesterov = flag("nesterov").unwrap_or(*nesterov);
            }
            OptimizerKind::Adam {
                beta_1,
                beta_2,
                epsilon,
                amsgrad,
                ..
            } => {
                *beta_1 = num("beta_1").unwrap_or(*beta_1);
                *beta_2 = num("beta_2").unwrap_or(*beta_2);
                *epsilon = num("epsilon").unwrap_or(*epsilon);
                *amsgrad = flag("amsgrad").unwrap_or(*amsgrad);
            }
            OptimizerKind::RmsProp {
                rho,
                momentum,
                epsilon,
                centered,
            } => {
                *rho = num("rho").unwrap_or(*rho);
                *momentum = num("momentum").unwrap_or(*momentum);
                *epsilon = num("epsilon").unwrap_or(*epsilon);
                *centered = flag("centered").unwrap_or(*centered);
            }
            OptimizerKind::Adagrad {
                initial_accumulator_value,
                epsilon,
            } => {
                *initial_accumulator_value = num("initial_accumulator_value").unwrap_or(*initial_accumulator_value);
                *epsilon = num("epsilon").unwrap_or(*epsilon);
            }
        }
        o.validate()?;
        Ok(o)
    }
}

fn kind_class(kind: &OptimizerKind) -> &'static str {
    match kind {
        OptimizerKind::Sgd { .. } => "SGD",
        OptimizerKind::Adam { decoupled: false, .. } => "Adam",
        OptimizerKind::Adam { decoupled: true, .. } => "AdamW",
        OptimizerKind::RmsProp { .. } => "RMSprop",
        OptimizerKind::Adagrad { .. } => "Adagrad",
    }
}

fn py(v: Option<f64>) -> String {
    v.map_or("None".to_string(), |x| x.to_string())
}

/// The algorithm's update of one variable, in f32 and in Keras's operation order.
fn update_step(kind: &OptimizerKind, iterations: i64, lr: f32, grad: &Tensor, var: &mut Tensor, slots: &mut [Tensor]) {
    let g = grad.data();
    match *kind {
        OptimizerKind::Sgd { momentum, nesterov } => {
            if momentum == 0.0 {
                for (w, &g) in var.data_mut().iter_mut().zip(g) {
                    *w -= g * lr;
                }
                return;
            }
            let mo = momentum as f32;
            let m = slots[0].data_mut();
            let w = var.data_mut();
            for i in 0..g.len() {
                m[i] = m[i] * mo - g[i] * lr;
                if nesterov {
                    w[i] += m[i] * mo - g[i] * lr;
                } else {
                    w[i] += m[i];
                }
            }
        }
        OptimizerKind::Adam {
            beta_1,
            beta_2,
            epsilon,
            amsgrad,
            ..
        } => {
            let step = (iterations + 1) as f32;
            let b1p = (beta_1 as f32).powf(step);
            let b2p = (beta_2 as f32).powf(step);
            let alpha = lr * (1.0 - b2p).sqrt() / (1.0 - b1p);
            let (c1, c2, eps) = ((1.0 - beta_1) as f32, (1.0 - beta_2) as f32, epsilon as f32);
            let (ms, rest) = slots.split_at_mut(1);
            let (vs, hats) = rest.split_at_mut(1);
            let (m, v) = (ms[0].data_mut(), vs[0].data_mut());
            let w = var.data_mut();
            if amsgrad {
                let vh = hats[0].data_mut();
                for i in 0..g.len() {
                    m[i] += (g[i] - m[i]) * c1;
                    v[i] += (g[i] * g[i] - v[i]) * c2;
                    vh[i] = vh[i].max(v[i]);
                    w[i] -= (m[i] * alpha) / (vh[i].sqrt() + eps);
                }
            } else {
                for i in 0..g.len() {
                    m[i] += (g[i] - m[i]) * c1;
                    v[i] += (g[i] * g[i] - v[i]) * c2;
                    w[i] -= (m[i] * alpha) / (v[i].sqrt() + eps);
                }
            }
        }
        OptimizerKind::RmsProp {
            rho,
            momentum,
            epsilon,
            centered,
        } => {
            let (r, c, eps, mo) = (rho as f32, (1.0 - rho) as f32, epsilon as f32, momentum as f32);
            let mut it = slots.iter_mut();
            let vel = it.next().map(|t| t.data_mut());
            let mom = if momentum > 0.0 { it.next().map(|t| t.data_mut()) } else { None };
            let avg = if centered { it.next().map(|t| t.data_mut()) } else { None };
            let Some(vel) = vel else { return };
            let w = var.data_mut();
            let mut avg = avg;
            let mut mom = mom;
            for i in 0..g.len() {
                vel[i] = r * vel[i] + c * (g[i] * g[i]);
                let denominator = match avg.as_deref_mut() {
                    Some(a) => {
                        a[i] = r * a[i] + c * g[i];
                        vel[i] - a[i] * a[i] + eps
                    }
                    None => vel[i] + eps,
                };
                let increment = (lr * g[i]) / denominator.sqrt();
                match mom.as_deref_mut() {
                    Some(m) => {
                        m[i] = mo * m[i] + increment;
                        w[i] -= m[i];
                    }
                    None => w[i] -= increment,
                }
            }
        }
        OptimizerKind::Adagrad { epsilon, .. } => {
            let eps = epsilon as f32;
            let acc = slots[0].data_mut();
            let w = var.data_mut();
            for i in 0..g.len() {
                acc[i] += g[i] * g[i];
                w[i] -= (lr * g[i]) / (acc[i] + eps).sqrt();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(opt: &mut Optimizer, w: &[f32], g: &[f32]) -> Vec<f32> {
        let mut p = [Param::new(
            7,
            "d/kernel",
            Tensor::new(&[w.len()], w.to_vec()).unwrap(),
            Tensor::new(&[g.len()], g.to_vec()).unwrap(),
        )];
        opt.apply(&mut p).unwrap();
        p[0].value.data().to_vec()
    }

    #[test]
    fn sgd_plain_and_momentum() {
        let mut o = Optimizer::sgd().learning_rate(0.1);
        assert_eq!(step(&mut o, &[1.0], &[2.0]), vec![0.8]);
        let mut o = Optimizer::sgd().learning_rate(0.1).momentum(0.5);
        let w = step(&mut o, &[1.0], &[1.0]); // m = -0.1, w = 0.9
        let w = step(&mut o, &w, &[1.0]); // m = -0.05 - 0.1 = -0.15, w = 0.75
        assert!((w[0] - 0.75).abs() < 1e-6);
        let mut o = Optimizer::sgd().learning_rate(0.1).momentum(0.5).nesterov(true);
        let w = step(&mut o, &[1.0], &[1.0]); // m = -0.1, w += -0.05 - 0.1
        assert!((w[0] - 0.85).abs() < 1e-6);
    }

    #[test]
    fn adam_first_step_moves_by_lr() {
        // Step 1: m = 0.1g, v = 0.001g², alpha = lr·√0.001/0.1, so Δ = lr·g/(|g| + ε·√0.001).
        let mut o = Optimizer::adam().learning_rate(0.01);
        let w = step(&mut o, &[1.0, 1.0], &[0.5, -2.0]);
        assert!((w[0] - 0.99).abs() < 1e-5 && (w[1] - 1.01).abs() < 1e-5, "{w:?}");
        assert_eq!(o.iterations(), 1);
    }

    #[test]
    fn variables_in_keras_order() {
        let mut o = Optimizer::adam().amsgrad(true).name("adam");
        o.build(&[
            (1, "seq/d/kernel".into(), vec![2, 2]),
            (2, "seq/d/bias".into(), vec![2]),
        ]);
        let names: Vec<String> = o.variables().into_iter().map(|v| v.name).collect();
        assert_eq!(
            names,
            [
                "adam/iteration",
                "adam/learning_rate",
                "adam/seq_d_kernel_momentum",
                "adam/seq_d_kernel_velocity",
                "adam/seq_d_bias_momentum",
                "adam/seq_d_bias_velocity",
                "adam/seq_d_kernel_velocity_hat",
                "adam/seq_d_bias_velocity_hat"
            ]
        );
        let vals: Vec<Tensor> = o.variables().into_iter().map(|v| v.value).collect();
        o.set_variables(&vals).unwrap();
        assert!(o.set_variables(&vals[1..]).is_err());
    }

    #[test]
    fn clipping_and_errors() {
        let mut o = Optimizer::sgd().learning_rate(1.0).clipnorm(1.0);
        let w = step(&mut o, &[0.0, 0.0], &[3.0, 4.0]);
        assert!((w[0] + 0.6).abs() < 1e-6 && (w[1] + 0.8).abs() < 1e-6);
        let mut o = Optimizer::sgd().learning_rate(1.0).clipvalue(0.5);
        assert_eq!(step(&mut o, &[0.0, 0.0], &[3.0, -0.25]), vec![-0.5, 0.25]);
        assert!(Optimizer::adam().nesterov(true).validate().is_err());
        assert!(Optimizer::sgd().clipnorm(1.0).clipvalue(1.0).validate().is_err());
        assert!(Optimizer::sgd().momentum(1.5).validate().is_err());
        assert!(Optimizer::get("nadamx").is_err());
    }

    #[test]
    fn config_round_trip() {
        let o = Optimizer::rmsprop().momentum(0.5).centered(true).name("rms");
        let back = Optimizer::from_config("RMSprop", &o.config()).unwrap();
        assert_eq!(back.config(), o.config());
    }
}
