//! The builder arguments of [`Optimizer`] (Keras's constructor arguments). An argument the
//! algorithm does not have is remembered and reported by [`Optimizer::validate`].

use super::{LearningRate, Optimizer, OptimizerKind};

impl Optimizer {
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
}
