//! Models: one graph type. The Functional API is the graph; `Sequential` builds one; a
//! nested model is a layer of its parent. Summary, saving and fitting all work on [`Model`].
//!
//! ```
//! use rkeras::prelude::*;
//! clear_session();
//! let inp = Input(&[28, 28, 1]).unwrap();
//! let x = Conv2D::new(32, 3).activation("relu").call(&inp).unwrap();
//! let model = Model::new(&[&inp], &[&x], None).unwrap();
//! assert_eq!(model.count_params(), 320);
//! ```

pub mod functional;
pub mod ops;
pub mod plan;
pub mod saving;
pub mod sequential;
pub mod session;
pub mod summary;
pub mod watch;

use crate::error::{KerasError, Result};
use crate::kshape::{format_shape, Shape};
use crate::layers::{CallCtx, Layer, Weight};
use std::collections::HashMap;
use tensor::{Rng, Tape, Tensor, Var};

pub use functional::{Call, Shared};
pub use sequential::Sequential;
pub use session::{clear_session, KerasTensor};

/// Which API made the model (decides its class name and summary layout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// `Sequential`.
    Sequential,
    /// The Functional API (`Model(inputs, outputs)`), class `Functional`.
    Functional,
}

/// One call of a layer inside a model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelNode {
    /// Index into the model's layers.
    pub layer: usize,
    /// Inbound tensors as `(node, output index)`.
    pub inputs: Vec<(usize, usize)>,
    /// Output shapes.
    pub output_shapes: Vec<Shape>,
    /// The call's index among the layer's calls (`[node_index]` in "Connected to").
    pub node_index: usize,
    /// Keras's node depth: longest path to an output (outputs 0, inputs deepest).
    pub depth: usize,
}

/// A model's layers, with the epoch of their last change: every mutable access (a training
/// step, `set_weights`, `load_weights`, `layer_mut`, `pop`, …) goes through `DerefMut` and
/// takes a new, process-wide unique epoch, so an inference plan knows it is current from one
/// comparison instead of visiting every weight (MobileNetV2's 262: 80 µs of cache misses per
/// call at batch 1, 2% of its run).
#[derive(Clone)]
pub(crate) struct Layers {
    list: Vec<Box<dyn Layer>>,
    epoch: u64,
}

fn next_epoch() -> u64 {
    static EPOCH: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    EPOCH.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

impl Layers {
    pub(crate) fn new(list: Vec<Box<dyn Layer>>) -> Layers {
        Layers {
            list,
            epoch: next_epoch(),
        }
    }

    /// The epoch of the last mutable access.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }
}

impl std::ops::Deref for Layers {
    type Target = Vec<Box<dyn Layer>>;
    fn deref(&self) -> &Self::Target {
        &self.list
    }
}

impl std::ops::DerefMut for Layers {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.epoch = next_epoch();
        &mut self.list
    }
}

impl<'a> IntoIterator for &'a Layers {
    type Item = &'a Box<dyn Layer>;
    type IntoIter = std::slice::Iter<'a, Box<dyn Layer>>;
    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}

impl<'a> IntoIterator for &'a mut Layers {
    type Item = &'a mut Box<dyn Layer>;
    type IntoIter = std::slice::IterMut<'a, Box<dyn Layer>>;
    fn into_iter(self) -> Self::IntoIter {
        std::ops::DerefMut::deref_mut(self).iter_mut()
    }
}

/// A model: layers and the graph of their calls, in execution order.
#[derive(Clone)]
pub struct Model {
    pub(crate) name: String,
    pub(crate) kind: ModelKind,
    /// Every layer, InputLayers included, in Keras's `layers` order.
    pub(crate) layers: Layers,
    /// Calls in execution (topological) order.
    pub(crate) nodes: Vec<ModelNode>,
    /// Input nodes (InputLayer calls), in the model's input order.
    pub(crate) inputs: Vec<usize>,
    /// Output tensors.
    pub(crate) outputs: Vec<(usize, usize)>,
    pub(crate) trainable: bool,
    /// What `compile()` set: optimizer, loss, metrics and training state (`None` until then).
    pub(crate) compiled: Option<Box<crate::training::Compiled>>,
    /// Inference plans made by `predict` / `forward(training=false)`, one per input shape.
    pub(crate) plans: plan::PlanCache,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Model({:?}, {} layers, {} params)",
            self.name,
            self.layers.len(),
            self.count_params()
        )
    }
}

impl Model {
    /// The model's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Renames the model.
    pub fn set_name(&mut self, name: &str) {
        self.name = name.to_string();
    }

    /// Sequential or Functional.
    pub fn kind(&self) -> ModelKind {
        self.kind
    }

    /// Keras's `model.layers`: Functional models list their InputLayers, Sequential ones don't.
    pub fn layers(&self) -> Vec<&dyn Layer> {
        self.layers
            .iter()
            .filter(|l| !(self.kind == ModelKind::Sequential && l.class_name() == "InputLayer"))
            .map(|l| l.as_ref())
            .collect()
    }

    /// Every layer including a Sequential's hidden InputLayer.
    pub fn all_layers(&self) -> &[Box<dyn Layer>] {
        &self.layers
    }

    /// Mutable access to a layer by position in [`Model::all_layers`].
    pub fn layer_mut(&mut self, index: usize) -> Option<&mut Box<dyn Layer>> {
        self.layers.get_mut(index)
    }

    /// The graph's calls in execution order.
    pub fn nodes(&self) -> &[ModelNode] {
        &self.nodes
    }

    /// `get_layer(name)`, mutable: e.g. `model.get_layer_mut("conv2d")?.set_trainable(false)`.
    pub fn get_layer_mut(&mut self, name: &str) -> Result<&mut Box<dyn Layer>> {
        let known: Vec<String> = self.layers().iter().map(|l| l.name().to_string()).collect();
        self.layers
            .iter_mut()
            .find(|l| l.name() == name)
            .ok_or_else(|| KerasError::Invalid(format!("No such layer: {name}. Existing layers are: {known:?}.")))
    }

    /// `model.trainable = flag`: a frozen model's weights all count as non-trainable. As in
    /// Keras, the flag is set on every layer inside too (so BatchNormalization in a frozen
    /// model runs in inference mode while training).
    pub fn set_trainable(&mut self, trainable: bool) {
        self.trainable = trainable;
        for l in &mut self.layers {
            l.set_trainable(trainable);
        }
    }

    /// `model.pop()` on a Sequential model: removes the last layer; the model's output is
    /// then the previous layer's.
    pub fn pop(&mut self) -> Result<()> {
        if self.kind != ModelKind::Sequential {
            return Err(KerasError::Invalid(format!(
                "model {}: pop() is only for Sequential models",
                self.name
            )));
        }
        let (last, _) = self.outputs[0];
        if self.inputs.contains(&last) {
            return Err(KerasError::Invalid(format!(
                "model {}: there are no layers in the model to pop",
                self.name
            )));
        }
        let layer = self.nodes[last].layer;
        let prev = self.nodes[last].inputs[0];
        self.nodes.remove(last);
        self.layers.remove(layer);
        for n in &mut self.nodes {
            if n.layer > layer {
                n.layer -= 1;
            }
            n.depth = n.depth.saturating_sub(1);
        }
        self.outputs = vec![prev];
        Ok(())
    }

    /// `get_layer(name)`.
    pub fn get_layer(&self, name: &str) -> Result<&dyn Layer> {
        self.layers
            .iter()
            .find(|l| l.name() == name)
            .map(|l| l.as_ref())
            .ok_or_else(|| {
                let names: Vec<&str> = self.layers().iter().map(|l| l.name()).collect();
                KerasError::Invalid(format!("No such layer: {name}. Existing layers are: {names:?}."))
            })
    }

    /// Input shapes, batch first.
    pub fn input_shapes(&self) -> Vec<Shape> {
        self.inputs
            .iter()
            .flat_map(|&n| self.nodes[n].output_shapes.clone())
            .collect()
    }

    /// Output shapes, batch first.
    pub fn output_shapes(&self) -> Vec<Shape> {
        self.outputs
            .iter()
            .map(|&(n, i)| self.nodes[n].output_shapes[i].clone())
            .collect()
    }

    /// All weights in Keras's order, each variable once.
    pub fn weights(&self) -> Vec<&Weight> {
        let mut seen = std::collections::HashSet::new();
        self.layers
            .iter()
            .flat_map(|l| l.weights())
            .filter(|w| seen.insert(w.id))
            .collect()
    }

    /// Weights that training updates: trainable weights of trainable layers.
    pub fn trainable_weights(&self) -> Vec<&Weight> {
        if !self.trainable {
            return Vec::new();
        }
        let mut seen = std::collections::HashSet::new();
        self.layers
            .iter()
            .filter(|l| l.trainable())
            .flat_map(|l| l.trainable_weight_list())
            .filter(|w| seen.insert(w.id))
            .collect()
    }

    /// Weights training does not update.
    pub fn non_trainable_weights(&self) -> Vec<&Weight> {
        let trainable: std::collections::HashSet<u64> = self.trainable_weights().iter().map(|w| w.id).collect();
        self.weights()
            .into_iter()
            .filter(|w| !trainable.contains(&w.id))
            .collect()
    }

    /// `count_params()`: every variable once.
    pub fn count_params(&self) -> u64 {
        self.weights().iter().map(|w| w.count()).sum()
    }

    /// `get_weights()`: values in Keras's order.
    pub fn get_weights(&self) -> Vec<Tensor> {
        self.weights().iter().map(|w| w.value.clone()).collect()
    }

    /// `set_weights(values)`: same order and shapes as `get_weights()`.
    pub fn set_weights(&mut self, values: &[Tensor]) -> Result<()> {
        let expected: Vec<(u64, String, Vec<usize>)> = self
            .layers
            .iter()
            .flat_map(|l| {
                l.weights()
                    .into_iter()
                    .map(move |w| (w.id, format!("{}/{}", l.name(), w.name), w.value.shape().to_vec()))
            })
            .collect();
        let mut order: Vec<(u64, String, Vec<usize>)> = Vec::new();
        for e in expected {
            if !order.iter().any(|o| o.0 == e.0) {
                order.push(e);
            }
        }
        if order.len() != values.len() {
            return Err(KerasError::Invalid(format!(
                "model {}: set_weights expected a list of {} weights, received {}",
                self.name,
                order.len(),
                values.len()
            )));
        }
        let mut by_id = HashMap::new();
        for ((id, name, shape), v) in order.iter().zip(values) {
            if v.shape() != shape.as_slice() {
                return Err(KerasError::Invalid(format!(
                    "model {}: weight {name} has shape {shape:?}, the value given has shape {:?}",
                    self.name,
                    v.shape()
                )));
            }
            by_id.insert(*id, v.clone());
        }
        for l in &mut self.layers {
            l.set_weights_by_id(&by_id);
        }
        Ok(())
    }

    /// Runs the graph on tape variables. `weights` holds one variable per entry of
    /// [`Layer::weights`] of this model (flattened over `all_layers`).
    pub fn run(&self, ctx: &mut CallCtx, inputs: &[Var], weights: &[Var]) -> Result<Vec<Var>> {
        Ok(self.run_watching(ctx, inputs, weights, &[])?.0)
    }

    /// [`Model::run`] that also hands back the graph tensors `watch` (`(node, output index)`,
    /// as [`Model::layer_output`] names them), as `tf.GradientTape.watch` does: each one is
    /// cut from what computed it and becomes a leaf of the tape that the rest of the graph
    /// reads, so `backward` keeps the gradient of an output with respect to it. Watched
    /// values are never released early. Returns the outputs and the watched variables.
    pub fn run_watching(
        &self,
        ctx: &mut CallCtx,
        inputs: &[Var],
        weights: &[Var],
        watch: &[(usize, usize)],
    ) -> Result<(Vec<Var>, Vec<Var>)> {
        for &(n, idx) in watch {
            if self
                .nodes
                .get(n)
                .is_none_or(|node| idx >= node.output_shapes.len().max(1))
            {
                return Err(KerasError::Invalid(format!(
                    "model {}: no graph tensor ({n}, {idx}) to watch ({} nodes)",
                    self.name,
                    self.nodes.len()
                )));
            }
        }
        if inputs.len() != self.inputs.len() {
            return Err(KerasError::Invalid(format!(
                "model {} expects {} input(s), received {}",
                self.name,
                self.inputs.len(),
                inputs.len()
            )));
        }
        let mut offsets = Vec::with_capacity(self.layers.len() + 1);
        let mut total = 0;
        for l in &self.layers {
            offsets.push(total);
            total += l.weights().len();
        }
        offsets.push(total);
        if weights.len() != total {
            return Err(KerasError::Invalid(format!(
                "model {}: expected {total} weight variables, received {}",
                self.name,
                weights.len()
            )));
        }
        // Remaining uses of each node's outputs, so inference can free them early.
        let mut uses = vec![0usize; self.nodes.len()];
        for n in &self.nodes {
            for &(src, _) in &n.inputs {
                uses[src] += 1;
            }
        }
        for &(src, _) in self.outputs.iter().chain(watch) {
            uses[src] += 1;
        }
        let mut values: Vec<Vec<Var>> = vec![Vec::new(); self.nodes.len()];
        let cut = |tape: &mut Tape, values: &mut [Vec<Var>], i: usize| {
            for &(_, idx) in watch.iter().filter(|w| w.0 == i) {
                if let Some(v) = values[i].get(idx).copied() {
                    values[i][idx] = tape.param(tape.value(v).clone());
                }
            }
        };
        // How many live node outputs hold each variable (a layer may return its input).
        let mut holders: HashMap<Var, usize> = HashMap::new();
        for (k, &n) in self.inputs.iter().enumerate() {
            values[n] = vec![inputs[k]];
            // One extra hold: the inputs belong to the caller (an outer model that calls this
            // nested model may still need them), so they are never released here.
            *holders.entry(inputs[k]).or_insert(0) += 2;
            cut(ctx.tape, &mut values, n);
        }
        // Nodes already computed with the node before them (an activation fused into it).
        let mut fused = vec![false; self.nodes.len()];
        for (i, node) in self.nodes.iter().enumerate() {
            if self.inputs.contains(&i) || fused[i] {
                continue;
            }
            let args: Vec<Var> = node.inputs.iter().map(|&(src, idx)| values[src][idx]).collect();
            let layer_weights = |l: usize| &weights[offsets[l]..offsets[l + 1]];
            let updates_before = ctx.updates.len();
            // A ZeroPadding2D that alone feeds a convolution runs as that convolution's own
            // padding; in training, a ReLU that alone reads this node's output may run inside it.
            let padded = self.pad_into(i, &uses).and_then(|(j, zeros)| {
                let l = self.nodes[j].layer;
                Some((j, l, self.layers[l].call_padded(ctx, &args, layer_weights(l), zeros)?))
            });
            let relu = if ctx.training && padded.is_none() {
                self.relu_after(i, &uses)
            } else {
                None
            };
            let layer = &self.layers[node.layer];
            let with_relu = relu.and_then(|(j, r)| {
                let out = layer.call_with_relu(ctx, &args, layer_weights(node.layer), r)?;
                Some((j, node.layer, out))
            });
            let (out, next, owner) = match padded.or(with_relu) {
                Some((j, l, out)) => (out?, Some(j), l),
                None => (layer.call(ctx, &args, layer_weights(node.layer))?, None, node.layer),
            };
            // Updates name weights by index within the layer; re-base them on the model.
            for u in &mut ctx.updates[updates_before..] {
                u.0 += offsets[owner];
            }
            for k in std::iter::once(i).chain(next) {
                fused[k] = true;
                for v in &out {
                    *holders.entry(*v).or_insert(0) += 1;
                }
                values[k] = out.clone();
                cut(ctx.tape, &mut values, k);
                for &(src, _) in &self.nodes[k].inputs {
                    uses[src] -= 1;
                    if uses[src] == 0 && ctx.tape.is_inference() {
                        for v in &values[src] {
                            let h = holders.entry(*v).or_insert(1);
                            *h -= 1;
                            if *h == 0 {
                                ctx.tape.release(*v);
                            }
                        }
                    }
                }
            }
        }
        let outs = self.outputs.iter().map(|&(n, i)| values[n][i]).collect();
        Ok((outs, watch.iter().map(|&(n, i)| values[n][i]).collect()))
    }

    /// The node right after node `i` when it alone reads `i`'s only output (`uses`: the
    /// remaining reads of each node's outputs, model outputs and watched tensors included), so
    /// that the two may run as one op.
    fn sole_reader_after(&self, i: usize, uses: &[usize]) -> Option<usize> {
        let j = i + 1;
        let next = self.nodes.get(j)?;
        (uses[i] == 1 && next.inputs[..] == [(i, 0)] && !self.inputs.contains(&j)).then_some(j)
    }

    /// The weightless layer of node `i` in the inference plan's terms (asking a layer with
    /// weights for its inference form would copy them).
    fn weightless_op(&self, i: usize) -> Option<plan::InferenceOp> {
        let layer = &self.layers[self.nodes[i].layer];
        if layer.weights().is_empty() {
            layer.inference_op()
        } else {
            None
        }
    }

    /// The node right after node `i` and the zeros of `i`'s `ZeroPadding2D`, when that node
    /// alone reads it and so may take the zeros into its own padding ([`Layer::call_padded`]).
    fn pad_into(&self, i: usize, uses: &[usize]) -> Option<(usize, ((usize, usize), (usize, usize)))> {
        let j = self.sole_reader_after(i, uses)?;
        match self.weightless_op(i)? {
            plan::InferenceOp::ZeroPad(h, w) => Some((j, (h, w))),
            _ => None,
        }
    }

    /// The node right after node `i` when it is a ReLU or ReLU6 layer that alone reads `i`'s
    /// output, with the activation as [`Layer::call_with_relu`] fuses it.
    fn relu_after(&self, i: usize, uses: &[usize]) -> Option<(usize, tensor::ops::batchnorm::FusedRelu)> {
        use tensor::ops::batchnorm::FusedRelu;
        let j = self.sole_reader_after(i, uses)?;
        match self.weightless_op(j)? {
            plan::InferenceOp::Activation(plan::PlanAct::Elementwise(a))
                if a.slope.is_none() && a.post.is_none() && a.lo == 0.0 =>
            {
                [FusedRelu::RELU, FusedRelu::RELU6]
                    .into_iter()
                    .find(|r| r.max_value() == a.hi)
                    .map(|r| (j, r))
            }
            _ => None,
        }
    }

    /// `predict(x, batch_size)`: inference on whole arrays, batch by batch.
    pub fn predict(&self, inputs: &[Tensor], batch_size: usize) -> Result<Vec<Tensor>> {
        let n = self.check_inputs(inputs)?;
        let batch_size = batch_size.max(1);
        let mut outs: Vec<Vec<f32>> = vec![Vec::new(); self.outputs.len()];
        let mut out_shapes: Vec<Vec<usize>> = Vec::new();
        let mut start = 0;
        while start < n {
            let end = (start + batch_size).min(n);
            let batch: Vec<Tensor> = inputs
                .iter()
                .map(|t| slice_batch(t, start, end))
                .collect::<Result<_>>()?;
            let res = self.forward(&batch, false)?;
            for (k, r) in res.iter().enumerate() {
                if out_shapes.len() <= k {
                    out_shapes.push(r.shape().to_vec());
                }
                outs[k].extend_from_slice(r.data());
            }
            start = end;
        }
        outs.into_iter()
            .zip(out_shapes)
            .map(|(d, mut s)| {
                s[0] = n;
                Ok(Tensor::new(&s, d)?)
            })
            .collect()
    }

    /// One forward pass on one batch (training selects Dropout/BatchNormalization behaviour).
    ///
    /// Inference (`training = false`) runs the model's inference plan for these input shapes
    /// ([`plan::Plan`]: BatchNormalization folded, activations and residual adds fused, weights
    /// prepacked, buffers reused), built on first use and rebuilt when a weight changes;
    /// `RKERAS_PLAN=0` runs the tape instead, as [`Model::forward_tape`] always does.
    pub fn forward(&self, inputs: &[Tensor], training: bool) -> Result<Vec<Tensor>> {
        self.check_inputs(inputs)?;
        if !training && plan::plans_enabled() {
            let shapes: Vec<Vec<usize>> = inputs.iter().map(|t| t.shape().to_vec()).collect();
            if let Ok(p) = self.plans.get_or_build(self, &shapes) {
                return p.run(self, inputs);
            }
        }
        self.forward_tape(inputs, training)
    }

    /// The inference plan for inputs of these shapes (batch included), built if needed.
    pub fn inference_plan(&self, shapes: &[Vec<usize>]) -> Result<std::sync::Arc<plan::Plan>> {
        self.plans.get_or_build(self, shapes)
    }

    /// One forward pass on the tape, layer by layer: the reference the plan is tested against.
    pub fn forward_tape(&self, inputs: &[Tensor], training: bool) -> Result<Vec<Tensor>> {
        self.check_inputs(inputs)?;
        let mut tape = Tape::inference();
        let mut rng = Rng::new(0);
        let mut ctx = CallCtx::new(&mut tape, &mut rng, training);
        let ins: Vec<Var> = inputs.iter().map(|t| ctx.tape.constant(t.clone())).collect();
        let ws: Vec<Var> = self
            .layers
            .iter()
            .flat_map(|l| l.weights())
            .map(|w| ctx.tape.constant(w.value.clone()))
            .collect();
        let outs = self.run(&mut ctx, &ins, &ws)?;
        Ok(outs.iter().map(|v| tape.value(*v).clone()).collect())
    }

    /// Checks arrays against the input shapes; returns the batch size.
    fn check_inputs(&self, inputs: &[Tensor]) -> Result<usize> {
        let shapes = self.input_shapes();
        if inputs.len() != shapes.len() {
            return Err(KerasError::Invalid(format!(
                "model {} expects {} input(s), received {}",
                self.name,
                shapes.len(),
                inputs.len()
            )));
        }
        let mut batch = None;
        for (k, (t, s)) in inputs.iter().zip(&shapes).enumerate() {
            let fits = t.rank() == s.len() && t.shape().iter().zip(s).all(|(d, e)| e.is_none_or(|e| e == *d));
            if !fits {
                return Err(KerasError::Invalid(format!(
                    "model {}: input {k}: expected shape {}, received {}",
                    self.name,
                    format_shape(s),
                    format_shape(&t.shape().iter().map(|&d| Some(d)).collect::<Vec<_>>())
                )));
            }
            let b = t.shape().first().copied().unwrap_or(0);
            if *batch.get_or_insert(b) != b {
                return Err(KerasError::Invalid(format!(
                    "model {}: inputs have different batch sizes ({} and {b})",
                    self.name,
                    batch.unwrap_or(0)
                )));
            }
        }
        Ok(batch.unwrap_or(0))
    }
}

/// Rows `start..end` of the first axis.
pub fn slice_batch(t: &Tensor, start: usize, end: usize) -> Result<Tensor> {
    let row: usize = t.shape()[1..].iter().product();
    let mut shape = t.shape().to_vec();
    if start == 0 && end == shape[0] {
        return Ok(t.clone());
    }
    shape[0] = end - start;
    Ok(Tensor::new(&shape, t.data()[start * row..end * row].to_vec())?)
}

impl Layer for Model {
    fn name(&self) -> &str {
        &self.name
    }
    fn class_name(&self) -> &str {
        match self.kind {
            ModelKind::Sequential => "Sequential",
            ModelKind::Functional => "Functional",
        }
    }
    fn trainable(&self) -> bool {
        self.trainable
    }
    fn set_trainable(&mut self, trainable: bool) {
        Model::set_trainable(self, trainable);
    }
    fn weights(&self) -> Vec<&Weight> {
        self.layers.iter().flat_map(|l| l.weights()).collect()
    }
    fn weights_mut(&mut self) -> Vec<&mut Weight> {
        self.layers.iter_mut().flat_map(|l| l.weights_mut()).collect()
    }
    fn trainable_weight_list(&self) -> Vec<&Weight> {
        self.layers
            .iter()
            .filter(|l| l.trainable())
            .flat_map(|l| l.trainable_weight_list())
            .collect()
    }
    fn compute_output_shape(&self, inputs: &[Shape]) -> Result<Vec<Shape>> {
        functional::propagate_shapes(self, inputs)
    }
    fn call(&self, ctx: &mut CallCtx, inputs: &[Var], weights: &[Var]) -> Result<Vec<Var>> {
        self.run(ctx, inputs, weights)
    }
    fn config(&self) -> serde_json::Value {
        crate::io::keras_json::model_config(self)
    }
    fn as_model(&self) -> Option<&Model> {
        Some(self)
    }
    fn regularization(&self, tape: &mut Tape, weights: &[Var]) -> Result<Option<Var>> {
        crate::training::regularization_of_layers(&self.layers, tape, weights)
    }
    fn apply_constraints(&mut self) {
        for l in &mut self.layers {
            if l.trainable() {
                l.apply_constraints();
            }
        }
    }
    fn count_params(&self) -> u64 {
        Model::count_params(self)
    }
}
