//! One synchronous data-parallel training step (see the module header of `distribute`): the
//! global batch cut into per-replica batches, forward and backward per local replica, one
//! all-reduce of a flat buffer (gradients weighted by sample counts, the loss, the moving
//! statistics), the predictions gathered for the metrics, one update everywhere.
//!
//! The buffer, the same layout on every worker: for each trainable weight (Keras's
//! `trainable_weights` order) its `n_r`-weighted gradient and a flag "the loss reached it";
//! then `Σ n_r·loss_r` and `Σ n_r`; then for each non-trainable weight the sum of the
//! replicas' new values and how many replicas updated it.

use super::Strategy;
use crate::error::{KerasError, Result};
use crate::model::Model;
use crate::training::data::Dataset;
use crate::training::step::{StepGrads, StepResult};
use std::collections::{HashMap, HashSet};
use tensor::Tensor;

/// Floats per all-reduce call: the buffer goes in buckets of this size (4 MiB).
const BUCKET: usize = 1 << 20;

/// Where each weight sits in the step buffer.
struct Layout {
    /// `(id, path, shape, offset)` of the trainable weights; the flag follows the values.
    trainable: Vec<(u64, String, Vec<usize>, usize)>,
    /// Offset of `Σ n_r·loss_r` (then `Σ n_r`).
    loss: usize,
    /// `(id, shape, offset)` of the non-trainable weights; the count follows the values.
    other: Vec<(u64, Vec<usize>, usize)>,
    len: usize,
}

fn layout(model: &Model) -> Layout {
    let paths = model.weight_paths();
    let mut len = 0;
    let mut trainable = Vec::new();
    let mut seen = HashSet::new();
    for w in model.trainable_weights() {
        if seen.insert(w.id) {
            let path = paths.get(&w.id).cloned().unwrap_or_default();
            trainable.push((w.id, path, w.value.shape().to_vec(), len));
            len += w.value.len() + 1;
        }
    }
    let loss = len;
    len += 2;
    let mut other = Vec::new();
    for w in model.non_trainable_weights() {
        if seen.insert(w.id) {
            other.push((w.id, w.value.shape().to_vec(), len));
            len += w.value.len() + 1;
        }
    }
    Layout {
        trainable,
        loss,
        other,
        len,
    }
}

/// Adds one replica's results, weighted by its `n` samples, into `buf`.
fn accumulate(buf: &mut [f32], lay: &Layout, n: usize, result: &StepResult, grads: &StepGrads) -> Result<()> {
    let by_id: HashMap<u64, &Tensor> = grads.grads.iter().map(|(id, _, g)| (*id, g)).collect();
    let w = n as f32;
    for (id, path, shape, off) in &lay.trainable {
        if let Some(g) = by_id.get(id) {
            if g.shape() != shape.as_slice() {
                return Err(KerasError::Invalid(format!(
                    "distributed step: the gradient of {path} has shape {:?}, expected {shape:?}",
                    g.shape()
                )));
            }
            let dst = &mut buf[*off..*off + g.len()];
            dst.iter_mut().zip(g.data()).for_each(|(d, v)| *d += w * v);
            buf[*off + g.len()] += 1.0;
        }
    }
    buf[lay.loss] += w * result.loss;
    buf[lay.loss + 1] += w;
    for (id, shape, off) in &lay.other {
        if let Some(v) = grads.updates.get(id) {
            let len: usize = shape.iter().product();
            if v.len() == len {
                buf[*off..*off + len]
                    .iter_mut()
                    .zip(v.data())
                    .for_each(|(d, x)| *d += x);
                buf[*off + len] += 1.0;
            }
        }
    }
    Ok(())
}

/// Rows `a..b` of `t` (first axis).
fn rows(t: &Tensor, a: usize, b: usize) -> Result<Tensor> {
    let idx: Vec<usize> = (a..b).collect();
    crate::training::data::gather_rows(t, &idx)
}

/// A tensor of `rows` rows shaped like `like` from gathered values.
fn stacked(like: &Tensor, rows: usize, data: Vec<f32>) -> Result<Tensor> {
    let mut shape = like.shape().to_vec();
    if shape.is_empty() {
        return Ok(Tensor::new(&[data.len()], data)?);
    }
    shape[0] = rows;
    Ok(Tensor::new(&shape, data)?)
}

impl Model {
    /// One training step of `strategy`'s replicas on the global `batch`: replica `r` takes
    /// rows `r·per .. (r + 1)·per` (a last, short batch leaves the last replicas less or
    /// nothing).
    pub(crate) fn distributed_train_step(
        &mut self,
        batch: &Dataset,
        per: usize,
        strategy: &dyn Strategy,
    ) -> Result<StepResult> {
        let n = batch.len();
        let lay = layout(self);
        let mut buf = vec![0.0f32; lay.len];
        let mut preds: Vec<f32> = Vec::new();
        let mut logits: Vec<f32> = Vec::new();
        let mut first: Option<StepResult> = None;
        for r in strategy.local_replicas() {
            let (a, b) = ((r * per).min(n), ((r + 1) * per).min(n));
            if a == b {
                continue;
            }
            let idx: Vec<usize> = (a..b).collect();
            let sub = batch.gather(&idx)?;
            let (result, grads) = self.replica_step(&sub)?;
            accumulate(&mut buf, &lay, b - a, &result, &grads)?;
            preds.extend_from_slice(result.y_pred.data());
            if let Some((z, _)) = &result.logits {
                logits.extend_from_slice(z.data());
            }
            first.get_or_insert(result);
        }
        for chunk in buf.chunks_mut(BUCKET) {
            strategy.all_reduce_sum(chunk)?;
        }
        let preds = strategy.all_gather(&preds)?;
        let logits = strategy.all_gather(&logits)?;
        let total = buf[lay.loss + 1];
        if total <= 0.0 {
            return Err(KerasError::Invalid(
                "distributed step: the global batch holds no sample".into(),
            ));
        }
        // Gradients of the global mean loss, for the weights some replica's loss reached.
        let mut grads = Vec::with_capacity(lay.trainable.len());
        for (id, path, shape, off) in &lay.trainable {
            let len: usize = shape.iter().product();
            if buf[off + len] > 0.0 {
                let g = buf[*off..off + len].iter().map(|v| v / total).collect();
                grads.push((*id, path.clone(), Tensor::new(shape, g)?));
            }
        }
        let mut updates = HashMap::new();
        for (id, shape, off) in &lay.other {
            let len: usize = shape.iter().product();
            let count = buf[off + len];
            if count > 0.0 {
                let v = buf[*off..off + len].iter().map(|v| v / count).collect();
                updates.insert(*id, Tensor::new(shape, v)?);
            }
        }
        let loss = buf[lay.loss] / total;
        self.apply_step(StepGrads { grads, updates })?;
        // Any replica's result gives the shapes (a worker whose share of a last, short batch
        // is empty runs the first rows of the batch for them).
        let like = match first {
            Some(r) => r,
            None => self.replica_shapes(batch)?,
        };
        let logits = match like.logits {
            Some((z, op)) if logits.len() == preds.len() => Some((stacked(&z, n, logits)?, op)),
            _ => None,
        };
        Ok(StepResult {
            loss,
            y_pred: stacked(&like.y_pred, n, preds)?,
            logits,
        })
    }

    /// Every weight set to the chief's (at the start of a distributed `fit`).
    pub(crate) fn broadcast_weights(&mut self, strategy: &dyn Strategy) -> Result<()> {
        if strategy.local_replicas().len() == strategy.num_replicas_in_sync() {
            return Ok(());
        }
        let weights = self.get_weights();
        let mut flat: Vec<f32> = weights.iter().flat_map(|t| t.data().iter().copied()).collect();
        strategy.broadcast_from_chief(&mut flat)?;
        let mut at = 0;
        let mut out = Vec::with_capacity(weights.len());
        for w in &weights {
            out.push(Tensor::new(w.shape(), flat[at..at + w.len()].to_vec())?);
            at += w.len();
        }
        self.set_weights(&out)
    }

    /// The shapes of a step's outputs, from an inference pass on the batch's first row.
    fn replica_shapes(&mut self, batch: &Dataset) -> Result<StepResult> {
        let one = Dataset {
            x: batch.x.iter().map(|t| rows(t, 0, 1)).collect::<Result<_>>()?,
            y: rows(&batch.y, 0, 1)?,
            sample_weight: batch.sample_weight.as_ref().map(|w| rows(w, 0, 1)).transpose()?,
        };
        self.test_step(&one)
    }
}
