//! One optimizer update as Keras's `apply_gradients`: gradient clipping, weight decay, the
//! algorithm's step (f32, Keras's operation order), `iterations += 1`.

use super::{Optimizer, OptimizerKind, Param};
use crate::error::{KerasError, Result};
use tensor::Tensor;

impl Optimizer {
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
                if self
                    .exclude_from_weight_decay
                    .iter()
                    .any(|s| p.path.contains(s.as_str()))
                {
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
            let mom = if momentum > 0.0 {
                it.next().map(|t| t.data_mut())
            } else {
                None
            };
            let avg = if centered {
                it.next().map(|t| t.data_mut())
            } else {
                None
            };
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
