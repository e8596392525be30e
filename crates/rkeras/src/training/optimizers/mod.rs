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
    Adagrad {
        initial_accumulator_value: f64,
        epsilon: f64,
    },
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
            OptimizerKind::Sgd { momentum, .. } if !(0.0..=1.0).contains(&momentum) => {
                Err(KerasError::Invalid(format!(
                    "{}: `momentum` must be a float between [0, 1]. Received: momentum={momentum}",
                    self.name
                )))
            }
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

mod args;
mod config;
mod state;
#[cfg(test)]
mod tests;
mod update;
