//! Keras's `optimizer.get_config()` and the optimizer from a config (the `compile_config` of
//! a `.keras` file).

use super::{LearningRate, Optimizer, OptimizerKind};
use crate::error::Result;
use crate::training::schedules::LearningRateSchedule;
use serde_json::{json, Value};

impl Optimizer {
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
