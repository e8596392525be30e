//! One training step and one test step on a batch, as Keras's `train_step` / `test_step`.
//!
//! Training: weights go on the tape as cheap clones (trainable ones as parameters, each
//! variable once however many layers share it), the forward pass runs in training mode, the
//! loss is the compiled loss plus regularizer and activity penalties, the tape's backward gives
//! the gradients, and then, with the tape dropped so no one else holds the values, the
//! optimizer updates the weights in place, BatchNormalization's moving statistics are written,
//! and constraints are applied.

use super::data::Dataset;
use super::optimizers::Param;
use super::Compiled;
use crate::error::{KerasError, Result};
use crate::layers::CallCtx;
use crate::model::Model;
use std::collections::{HashMap, HashSet};
use tensor::{Tape, Tensor, Var};

/// What a step returns: the batch loss (with penalties), the predictions, and the logits the
/// predictions came from when the model ends in softmax or sigmoid.
pub(crate) struct StepResult {
    pub loss: f32,
    pub y_pred: Tensor,
    pub logits: Option<(Tensor, &'static str)>,
}

/// What the backward pass of a step gives: `(id, path, gradient)` of each trainable weight
/// the loss reaches (Keras's `trainable_weights` order) and the new values of non-trainable
/// weights by id.
pub(crate) struct StepGrads {
    pub grads: Vec<(u64, String, Tensor)>,
    pub updates: HashMap<u64, Tensor>,
}

/// The forward pass and loss on a tape.
struct Forward {
    total: Var,
    y_pred: Var,
    logits: Option<(Var, &'static str)>,
    updates: Vec<(usize, Tensor)>,
    params: Vec<(u64, String, Var)>,
}

/// Keras's `_get_logits`: a cross-entropy on a softmax (sigmoid) output starts from the
/// logits, whatever `from_logits` says.
pub(crate) fn loss_on_logits(loss: &super::Loss, op: &str) -> Option<super::Loss> {
    use super::Loss;
    match (loss, op) {
        (Loss::SparseCategoricalCrossentropy { .. }, "softmax") => {
            Some(Loss::SparseCategoricalCrossentropy { from_logits: true })
        }
        (Loss::CategoricalCrossentropy { label_smoothing, .. }, "softmax") => Some(Loss::CategoricalCrossentropy {
            from_logits: true,
            label_smoothing: *label_smoothing,
        }),
        (Loss::BinaryCrossentropy { label_smoothing, .. }, "sigmoid") => Some(Loss::BinaryCrossentropy {
            from_logits: true,
            label_smoothing: *label_smoothing,
        }),
        _ => None,
    }
}

impl Model {
    pub(crate) fn compiled_mut(&mut self, what: &str) -> Result<&mut Compiled> {
        self.compiled.as_deref_mut().ok_or_else(|| {
            KerasError::Invalid(format!(
                "model {}: you must call `compile()` before using the model ({what})",
                self.name
            ))
        })
    }

    /// Puts every weight on `tape`, one variable per id; returns the per-layer flat list of
    /// variables and, in Keras's `trainable_weights` order, `(id, path, var)` of the
    /// parameters.
    fn weights_on_tape(&self, tape: &mut Tape, training: bool) -> (Vec<Var>, Vec<(u64, String, Var)>) {
        let trainable: Vec<(u64, String)> = if training {
            let paths = self.weight_paths();
            self.trainable_weights()
                .iter()
                .map(|w| (w.id, paths.get(&w.id).cloned().unwrap_or_default()))
                .collect()
        } else {
            Vec::new()
        };
        let trainable_ids: HashSet<u64> = trainable.iter().map(|(id, _)| *id).collect();
        let mut by_id: HashMap<u64, Var> = HashMap::new();
        let mut flat = Vec::new();
        for l in &self.layers {
            for w in l.weights() {
                let v = *by_id.entry(w.id).or_insert_with(|| {
                    if trainable_ids.contains(&w.id) {
                        tape.param(w.value.clone())
                    } else {
                        tape.constant(w.value.clone())
                    }
                });
                flat.push(v);
            }
        }
        let params = trainable
            .into_iter()
            .filter_map(|(id, path)| by_id.get(&id).map(|&v| (id, path, v)))
            .collect();
        (flat, params)
    }

    /// Keras 3 variable paths (`sequential/dense/kernel`) by weight id.
    pub(crate) fn weight_paths(&self) -> HashMap<u64, String> {
        let mut out = HashMap::new();
        fn walk(m: &Model, prefix: &str, out: &mut HashMap<u64, String>) {
            for l in &m.layers {
                if let Some(inner) = l.as_model() {
                    walk(inner, &format!("{prefix}/{}", inner.name), out);
                    continue;
                }
                for w in l.weights() {
                    out.entry(w.id)
                        .or_insert_with(|| format!("{prefix}/{}/{}", l.name(), w.name));
                }
            }
        }
        walk(self, &self.name, &mut out);
        out
    }

    /// The forward pass and the loss on a tape (see [`Forward`]).
    fn forward_loss(
        &self,
        tape: &mut Tape,
        rng: &mut tensor::Rng,
        loss: &super::Loss,
        batch: &Dataset,
        training: bool,
    ) -> Result<Forward> {
        let ins: Vec<Var> = batch.x.iter().map(|t| tape.constant(t.clone())).collect();
        let (flat, params) = self.weights_on_tape(tape, training);
        let mut ctx = CallCtx::new(tape, rng, training);
        let outs = self.run(&mut ctx, &ins, &flat)?;
        let activity = std::mem::take(&mut ctx.losses);
        let updates = std::mem::take(&mut ctx.updates);
        drop(ctx);
        let y_pred = *outs
            .first()
            .ok_or_else(|| KerasError::Invalid(format!("model {}: no output", self.name)))?;
        // The logits are usable unless inference already freed them.
        let logits = tape
            .logits_of(y_pred)
            .filter(|(z, _)| tape.value(*z).shape() == tape.value(y_pred).shape());
        let (input, loss) = match logits.and_then(|(z, op)| loss_on_logits(loss, op).map(|l| (z, l))) {
            Some((z, l)) => (z, l),
            None => (y_pred, loss.clone()),
        };
        let mut total = loss
            .record(tape, &batch.y, input, batch.sample_weight.as_ref())
            .map_err(|e| KerasError::Invalid(format!("model {}: {e}", self.name)))?;
        if let Some(r) = super::regularization_of_layers(&self.layers, tape, &flat)? {
            total = tape.add(total, r)?;
        }
        for a in activity {
            let s = tape.sum_all(a)?;
            total = tape.add(total, s)?;
        }
        Ok(Forward {
            total,
            y_pred,
            logits,
            updates,
            params,
        })
    }

    /// One training step on a batch: forward, loss, backward, update.
    ///
    /// The step runs on a worker of the kernels' thread pool: each parallel op it starts is
    /// then shared from inside the pool, instead of the caller waking a worker and sleeping
    /// until it is done for every op (two context switches an op, 15% of a LeNet-5 step).
    pub(crate) fn train_step(&mut self, batch: &Dataset) -> Result<StepResult> {
        tensor::kernels::team::scope(|| {
            let (result, grads) = self.replica_step(batch)?;
            self.apply_step(grads)?;
            Ok(result)
        })
    }

    /// Forward, loss and backward on a batch without updating anything: the step's result,
    /// the gradients of the trainable weights the loss reaches and the new values of the
    /// non-trainable ones (BatchNormalization's moving statistics). A replica's share of a
    /// distributed step.
    pub(crate) fn replica_step(&mut self, batch: &Dataset) -> Result<(StepResult, StepGrads)> {
        let compiled = self.compiled_mut("train")?;
        let (loss_fn, mut rng) = (
            compiled.loss_fn.clone(),
            std::mem::replace(&mut compiled.rng, tensor::Rng::new(0)),
        );
        let mut tape = Tape::new();
        let result = self.forward_loss(&mut tape, &mut rng, &loss_fn, batch, true);
        self.compiled_mut("train")?.rng = rng;
        let Forward {
            total,
            y_pred,
            logits,
            updates,
            params,
        } = result?;
        let loss = tape.value(total).item()?;
        let mut grads = tape.backward(total)?;
        let y_pred = tape.value(y_pred).clone();
        let logits = logits.map(|(z, op)| (tape.value(z).clone(), op));
        let mut with_grad: Vec<(u64, String, Tensor)> = Vec::with_capacity(params.len());
        for (id, path, v) in params {
            if let Some(g) = grads.take(v) {
                with_grad.push((id, path, g));
            }
        }
        drop(grads);
        // Map non-trainable updates (flat index) to weight ids before the tape goes.
        let flat_ids: Vec<u64> = self.layers.iter().flat_map(|l| l.weights()).map(|w| w.id).collect();
        let mut new_values: HashMap<u64, Tensor> = HashMap::new();
        for (i, value) in updates {
            let id = *flat_ids.get(i).ok_or_else(|| {
                KerasError::Invalid(format!(
                    "model {}: an update names weight {i} of {}",
                    self.name,
                    flat_ids.len()
                ))
            })?;
            new_values.insert(id, value);
        }
        drop(tape);
        Ok((
            StepResult { loss, y_pred, logits },
            StepGrads {
                grads: with_grad,
                updates: new_values,
            },
        ))
    }

    /// The update half of a step: the optimizer applies `grads` in place, the new
    /// non-trainable values are written, constraints are applied.
    pub(crate) fn apply_step(&mut self, step: StepGrads) -> Result<()> {
        let StepGrads {
            grads: with_grad,
            updates: mut new_values,
        } = step;
        if !with_grad.is_empty() {
            // Take the values out of every layer holding them so the optimizer updates a
            // tensor no one else shares (in place, no copy).
            let ids: HashSet<u64> = with_grad.iter().map(|(id, _, _)| *id).collect();
            let mut taken: HashMap<u64, Tensor> = HashMap::new();
            for l in &mut self.layers {
                for w in l.weights_mut() {
                    if ids.contains(&w.id) {
                        let v = std::mem::replace(&mut w.value, Tensor::zeros(&[0]));
                        taken.entry(w.id).or_insert(v);
                    }
                }
            }
            let mut ps: Vec<Param> = with_grad
                .into_iter()
                .map(|(id, path, grad)| {
                    let value = taken.remove(&id).unwrap_or_else(|| Tensor::zeros(&[0]));
                    Param { id, path, value, grad }
                })
                .collect();
            let applied = self.compiled_mut("train")?.optimizer.apply(&mut ps);
            for p in ps {
                new_values.insert(p.id, p.value);
            }
            for l in &mut self.layers {
                l.set_weights_by_id(&new_values);
            }
            applied?;
            for l in &mut self.layers {
                if l.trainable() {
                    l.apply_constraints();
                }
            }
        } else if !new_values.is_empty() {
            for l in &mut self.layers {
                l.set_weights_by_id(&new_values);
            }
        }
        Ok(())
    }

    /// The loss (with penalties) on one batch in training mode and its gradient for each of
    /// [`Model::trainable_weights`], in that order (Keras's `GradientTape` over
    /// `compute_loss`). Nothing is updated. A weight the loss does not reach gets zeros.
    pub fn gradients<X: super::Arrays + ?Sized, Y: super::Arrays + ?Sized>(
        &mut self,
        x: &X,
        y: &Y,
        sample_weight: Option<&Tensor>,
    ) -> Result<(f32, Vec<Tensor>)> {
        let batch = Dataset::new(self, "gradients", x.arrays(), y.arrays(), sample_weight.cloned())?;
        let compiled = self.compiled_mut("gradients")?;
        let (loss_fn, mut rng) = (compiled.loss_fn.clone(), compiled.rng.fork());
        let mut tape = Tape::new();
        let f = self.forward_loss(&mut tape, &mut rng, &loss_fn, &batch, true)?;
        let loss = tape.value(f.total).item()?;
        let mut grads = tape.backward(f.total)?;
        let out = f
            .params
            .into_iter()
            .map(|(_, _, v)| grads.take(v).unwrap_or_else(|| Tensor::zeros(tape.value(v).shape())))
            .collect();
        Ok((loss, out))
    }

    /// One test step: inference forward pass and the loss with penalties.
    pub(crate) fn test_step(&mut self, batch: &Dataset) -> Result<StepResult> {
        let loss_fn = self.compiled_mut("evaluate")?.loss_fn.clone();
        // On a worker of the kernels' pool, as `train_step`.
        tensor::kernels::team::scope(|| {
            let mut tape = Tape::inference();
            let mut rng = tensor::Rng::new(0);
            let f = self.forward_loss(&mut tape, &mut rng, &loss_fn, batch, false)?;
            Ok(StepResult {
                loss: tape.value(f.total).item()?,
                y_pred: tape.value(f.y_pred).clone(),
                logits: f.logits.map(|(z, op)| (tape.value(z).clone(), op)),
            })
        })
    }

    /// Updates the loss tracker and the compiled metrics with one batch's results.
    pub(crate) fn update_metrics(&mut self, batch: &Dataset, step: &StepResult) -> Result<()> {
        let c = self.compiled_mut("metrics")?;
        c.loss_tracker.update_value(step.loss, batch.len() as f32);
        let (yt, yp) = (batch.y.shape().to_vec(), step.y_pred.shape().to_vec());
        if c.metrics.is_none() {
            c.metrics = Some(
                c.metric_args
                    .iter()
                    .map(|m| m.resolve(&yt, &yp))
                    .collect::<Result<_>>()?,
            );
            c.weighted_metrics = Some(
                c.weighted_metric_args
                    .iter()
                    .map(|m| m.resolve(&yt, &yp))
                    .collect::<Result<_>>()?,
            );
        }
        let logits = step.logits.as_ref().map(|(t, op)| (t, *op));
        for m in c.metrics.iter_mut().flatten() {
            m.update_state_with_logits(&batch.y, &step.y_pred, logits, None)?;
        }
        for m in c.weighted_metrics.iter_mut().flatten() {
            m.update_state_with_logits(&batch.y, &step.y_pred, logits, batch.sample_weight.as_ref())?;
        }
        Ok(())
    }
}

/// Keras's `reset_metrics()`.
pub(crate) fn reset_metrics(c: &mut Compiled) {
    c.loss_tracker.reset();
    for m in c.metrics.iter_mut().flatten() {
        m.reset_state();
    }
    for m in c.weighted_metrics.iter_mut().flatten() {
        m.reset_state();
    }
}

/// The current results as Keras's logs (sorted by name, as Keras 3's `pythonify_logs`):
/// `loss`, metrics (a repeated name gets `_1`, …),
/// then weighted metrics (a name already used gets `weighted_`), as Keras's `CompileMetrics`.
pub(crate) fn metrics_logs(c: &Compiled) -> super::Logs {
    let mut logs = super::Logs::new();
    logs.insert("loss", c.loss_tracker.result() as f64);
    let mut seen: HashMap<String, usize> = HashMap::new();
    let unique = |name: String, seen: &mut HashMap<String, usize>| -> String {
        match seen.get_mut(&name) {
            None => {
                seen.insert(name.clone(), 1);
                name
            }
            Some(k) => {
                *k += 1;
                format!("{name}_{}", *k - 1)
            }
        }
    };
    let mut results: Vec<(String, f32)> = Vec::new();
    for m in c.metrics.iter().flatten() {
        results.push((unique(m.name().to_string(), &mut seen), m.result()));
    }
    for m in c.weighted_metrics.iter().flatten() {
        let name = if seen.contains_key(m.name()) {
            unique(format!("weighted_{}", m.name()), &mut seen)
        } else {
            unique(m.name().to_string(), &mut seen)
        };
        results.push((name, m.result()));
    }
    for (k, v) in results {
        logs.insert(&k, v as f64);
    }
    logs.sorted()
}
