//! Optimizer state: slots per variable in Keras's creation order, and
//! [`Optimizer::variables`] / [`Optimizer::set_variables`] in Keras's `optimizer.variables`
//! order and names, for saving and restoring.

use super::{LearningRate, Optimizer, OptimizerKind, OptimizerVariable, Slots};
use crate::error::{KerasError, Result};
use tensor::Tensor;

impl Optimizer {
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
}
