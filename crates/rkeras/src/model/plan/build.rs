//! Building a plan: the graph walked in execution order, each node turned into a step (or
//! fused into its producer by a rule of `fuse.rs`), then the weights packed and the buffers
//! placed (`arena.rs`). Shapes are the layers' own `compute_output_shape` on the concrete input
//! shapes, so they agree with the tape by construction.

use super::op::{InferenceOp, MergeKind, PlanAct};
use super::{arena, ConvWeights, Loc, Plan, Step, StepKind, Value, ValueId};
use crate::error::{KerasError, Result};
use crate::model::Model;
use std::collections::HashMap;
use std::sync::Mutex;
use tensor::kernels::act::ActSpec;
use tensor::kernels::conv::PackedWeights;
use tensor::kernels::winograd::{self, WinogradWeights};
use tensor::kernels::Isa;
use tensor::ops::conv::{conv2d_geometry, Conv2dParams};
use tensor::ops::depthwise::depthwise_geometry;
use tensor::ops::pool::pool2d_geometry;
use tensor::{Padding, Tensor};

/// Kernels up to this many values are prepacked; larger ones (VGG's `fc1`, 25088×4096) are
/// read in place, so the plan does not double the model's memory.
const PACK_MAX: usize = 1 << 23;

/// What a value is besides its own buffer.
#[derive(Debug, Clone, Copy)]
pub(super) enum Storage {
    /// A buffer of its own.
    Own,
    /// The same elements as another value (a reshape).
    Alias(ValueId),
    /// Channels `[offset, offset + c)` of a concatenation's value.
    Region { of: ValueId, offset: usize },
}

/// The plan under construction.
pub(super) struct Builder<'m> {
    pub model: &'m Model,
    pub isa: Isa,
    pub values: Vec<Value>,
    pub storage: Vec<Storage>,
    pub steps: Vec<Step>,
    /// Step that writes each value (`None`: an input or an alias).
    pub producer: Vec<Option<usize>>,
    /// Readers of each value in the original graph (model outputs count as readers).
    pub uses: Vec<usize>,
    pub is_output: Vec<bool>,
}

impl<'m> Builder<'m> {
    pub fn new_value(&mut self, shape: Vec<usize>, uses: usize, is_output: bool) -> ValueId {
        self.values.push(Value {
            shape,
            loc: Loc::Input(usize::MAX),
        });
        self.storage.push(Storage::Own);
        self.producer.push(None);
        self.uses.push(uses);
        self.is_output.push(is_output);
        self.values.len() - 1
    }

    /// Adds a step writing a new value of `shape`.
    pub fn push(
        &mut self,
        kind: StepKind,
        inputs: Vec<ValueId>,
        shape: Vec<usize>,
        layer: &str,
        uses: usize,
        is_output: bool,
    ) -> ValueId {
        let out = self.new_value(shape, uses, is_output);
        self.producer[out] = Some(self.steps.len());
        self.steps.push(Step {
            kind,
            inputs,
            output: out,
            layer: layer.to_string(),
            dead: false,
        });
        out
    }

    /// Whether `v`'s only reader is the node being added (so its producer may change it).
    pub fn sole_use(&self, v: ValueId) -> bool {
        self.uses[v] == 1 && !self.is_output[v] && matches!(self.storage[v], Storage::Own)
    }
}

fn concrete(shape: &[Option<usize>], what: &str) -> Result<Vec<usize>> {
    shape
        .iter()
        .map(|d| d.ok_or_else(|| KerasError::Invalid(format!("plan: {what} has an unknown dimension"))))
        .collect()
}

impl Plan {
    /// Compiles `model` for inputs of exactly `shapes` (batch included).
    pub fn build(model: &Model, shapes: &[Vec<usize>]) -> Result<Plan> {
        let isa = tensor::kernels::isa();
        let mut b = Builder {
            model,
            isa,
            values: Vec::new(),
            storage: Vec::new(),
            steps: Vec::new(),
            producer: Vec::new(),
            uses: Vec::new(),
            is_output: Vec::new(),
        };
        let nodes = &model.nodes;
        let mut node_uses = vec![Vec::new(); nodes.len()];
        for (i, n) in nodes.iter().enumerate() {
            node_uses[i] = vec![0usize; n.output_shapes.len()];
        }
        for n in nodes {
            for &(src, idx) in &n.inputs {
                node_uses[src][idx] += 1;
            }
        }
        let mut outputs_of = HashMap::new();
        for &(src, idx) in &model.outputs {
            node_uses[src][idx] += 1;
            outputs_of.insert((src, idx), ());
        }
        if shapes.len() != model.inputs.len() {
            return Err(KerasError::Invalid(format!(
                "model {} expects {} input(s), received {}",
                model.name,
                model.inputs.len(),
                shapes.len()
            )));
        }
        let mut node_values: Vec<Vec<ValueId>> = vec![Vec::new(); nodes.len()];
        for (i, node) in nodes.iter().enumerate() {
            let uses = node_uses[i].first().copied().unwrap_or(0);
            let is_out = outputs_of.contains_key(&(i, 0));
            if let Some(k) = model.inputs.iter().position(|&n| n == i) {
                let v = b.new_value(shapes[k].clone(), uses, is_out);
                b.values[v].loc = Loc::Input(k);
                node_values[i] = vec![v];
                continue;
            }
            let layer = &model.layers[node.layer];
            if node.output_shapes.len() != 1 {
                return Err(KerasError::Invalid(format!(
                    "plan: layer {} has {} outputs",
                    layer.name(),
                    node.output_shapes.len()
                )));
            }
            let ins: Vec<ValueId> = node.inputs.iter().map(|&(s, k)| node_values[s][k]).collect();
            let in_shapes: Vec<Vec<Option<usize>>> = ins
                .iter()
                .map(|&v| b.values[v].shape.iter().map(|&d| Some(d)).collect())
                .collect();
            let out_shape = layer.compute_output_shape(&in_shapes)?;
            let out_shape = concrete(&out_shape[0], layer.name())?;
            let op = if layer.as_model().is_some() {
                None
            } else {
                layer.inference_op()
            };
            let v = match op {
                Some(op) => b.add_op(op, &ins, out_shape, layer.name(), uses, is_out)?,
                None => b.push(
                    StepKind::Fallback { layer: node.layer },
                    ins,
                    out_shape,
                    layer.name(),
                    uses,
                    is_out,
                ),
            };
            node_values[i] = vec![v];
        }
        let outputs: Vec<ValueId> = model.outputs.iter().map(|&(n, k)| node_values[n][k]).collect();
        b.pool_after_pointwise();
        b.pack_weights()?;
        b.band_expansions();
        b.band_projections();
        b.input_maps();
        let (buffer_slot, slot_len) = arena::place(&mut b, &outputs);
        Ok(Plan {
            isa,
            input_shapes: shapes.to_vec(),
            values: b.values,
            steps: b.steps,
            outputs,
            buffer_slot,
            slot_len,
            arena: Mutex::new(Vec::new()),
            epoch: model.layers.epoch(),
            #[cfg(debug_assertions)]
            weights_seen: model.weights().iter().map(|w| (w.id, w.value.clone())).collect(),
        })
    }
}

impl Builder<'_> {
    /// One layer's op: a new step, or a fusion into the step that made its input.
    fn add_op(
        &mut self,
        op: InferenceOp,
        ins: &[ValueId],
        shape: Vec<usize>,
        name: &str,
        uses: usize,
        out: bool,
    ) -> Result<ValueId> {
        let x = ins.first().copied();
        let one = |what: &str| -> Result<ValueId> {
            match ins {
                [v] => Ok(*v),
                _ => Err(KerasError::Invalid(format!(
                    "plan: {what} {name} takes one input, received {}",
                    ins.len()
                ))),
            }
        };
        Ok(match op {
            InferenceOp::Conv {
                params,
                kernel,
                bias,
                act,
            } => {
                let x = one("layer")?;
                self.conv(x, params, kernel, bias, act, shape, name, uses, out)?
            }
            InferenceOp::Dense { kernel, bias, act } => {
                let x = one("layer")?;
                self.dense(x, kernel, bias, act, shape, name, uses, out)?
            }
            InferenceOp::Depthwise {
                params,
                kernel,
                bias,
                act,
            } => {
                let x = one("layer")?;
                self.depthwise(x, params, kernel, bias, act, shape, name, uses, out)?
            }
            InferenceOp::Separable {
                params,
                depthwise,
                pointwise,
                bias,
                act,
            } => {
                let x = one("layer")?;
                let mid_shape = {
                    let mut s = shape.clone();
                    if let Some(last) = s.last_mut() {
                        *last = depthwise.shape()[2] * depthwise.shape()[3];
                    }
                    s
                };
                let mid = self.depthwise(x, params, depthwise, None, PlanAct::linear(), mid_shape, name, 1, false)?;
                let p = Conv2dParams::new((1, 1), Padding::Valid);
                self.conv(mid, p, pointwise, bias, act, shape, name, uses, out)?
            }
            InferenceOp::BatchNorm {
                gamma,
                beta,
                mean,
                variance,
                epsilon,
            } => {
                let x = one("layer")?;
                let (scale, shift) = tensor::ops::batchnorm::inference_scale_shift(
                    mean.data(),
                    variance.data(),
                    gamma.as_ref(),
                    beta.as_ref(),
                    epsilon,
                );
                if scale.len() != shape.last().copied().unwrap_or(0) {
                    return Err(KerasError::Invalid(format!(
                        "plan: {name}: {} statistics for {} channels",
                        scale.len(),
                        shape.last().copied().unwrap_or(0)
                    )));
                }
                match self.fold_affine(x, &scale, &shift, uses, out) {
                    Some(v) => v,
                    None => self.push(
                        StepKind::Affine {
                            scale,
                            shift,
                            act: ActSpec::LINEAR,
                        },
                        vec![x],
                        shape,
                        name,
                        uses,
                        out,
                    ),
                }
            }
            InferenceOp::Activation(act) => {
                let x = one("layer")?;
                self.activation(x, act, shape, name, uses, out)
            }
            InferenceOp::Rescale { scale, offset } => {
                let x = one("layer")?;
                let c = shape.last().copied().unwrap_or(1);
                self.push(
                    StepKind::Affine {
                        scale: vec![scale; c],
                        shift: vec![offset; c],
                        act: ActSpec::LINEAR,
                    },
                    vec![x],
                    shape,
                    name,
                    uses,
                    out,
                )
            }
            InferenceOp::Pool {
                max,
                pool_size,
                strides,
                padding,
            } => {
                let x = one("layer")?;
                let (x, geometry, zeros) = match self.take_pad_pool(x, pool_size, strides, padding) {
                    Some((src, geometry)) => (src, geometry, true),
                    None => (
                        x,
                        pool2d_geometry("plan", &self.values[x].shape, pool_size, strides, padding)?,
                        false,
                    ),
                };
                self.push(
                    StepKind::Pool {
                        geometry,
                        max,
                        zeros,
                        act: ActSpec::LINEAR,
                    },
                    vec![x],
                    shape,
                    name,
                    uses,
                    out,
                )
            }
            InferenceOp::GlobalPool { max, .. } => {
                let x = one("layer")?;
                self.push(StepKind::GlobalPool { max }, vec![x], shape, name, uses, out)
            }
            InferenceOp::ZeroPad(h, w) => {
                let x = one("layer")?;
                self.push(StepKind::Pad { sides: (h, w) }, vec![x], shape, name, uses, out)
            }
            InferenceOp::Merge(kind) => {
                if ins.iter().any(|&v| self.values[v].shape != shape) {
                    // Broadcasting merges run on the tape.
                    return Ok(self.fallback(ins, shape, name, uses, out));
                }
                match self.fuse_add(kind, ins, uses, out) {
                    Some(v) => v,
                    None => self.push(
                        StepKind::Merge {
                            kind,
                            act: ActSpec::LINEAR,
                        },
                        ins.to_vec(),
                        shape,
                        name,
                        uses,
                        out,
                    ),
                }
            }
            InferenceOp::Concat(axis) => {
                let rank = shape.len() as isize;
                if axis != -1 && axis != rank - 1 {
                    return Ok(self.fallback(ins, shape, name, uses, out));
                }
                self.concat(ins, shape, name, uses, out)
            }
            InferenceOp::Alias => {
                let x = x.ok_or_else(|| KerasError::Invalid(format!("plan: {name} has no input")))?;
                let v = self.new_value(shape, uses, out);
                let src = match self.storage[x] {
                    Storage::Alias(s) => s,
                    _ => x,
                };
                self.storage[v] = Storage::Alias(src);
                if let Loc::Input(k) = self.values[src].loc {
                    self.values[v].loc = Loc::Input(k);
                }
                // The source is read wherever the alias is.
                self.uses[src] += uses;
                v
            }
        })
    }

    fn fallback(&mut self, ins: &[ValueId], shape: Vec<usize>, name: &str, uses: usize, out: bool) -> ValueId {
        let layer = self
            .model
            .layers
            .iter()
            .position(|l| l.name() == name)
            .unwrap_or(usize::MAX);
        self.push(StepKind::Fallback { layer }, ins.to_vec(), shape, name, uses, out)
    }

    #[allow(clippy::too_many_arguments)]
    fn conv(
        &mut self,
        x: ValueId,
        params: Conv2dParams,
        kernel: Tensor,
        bias: Option<Tensor>,
        act: PlanAct,
        shape: Vec<usize>,
        name: &str,
        uses: usize,
        out: bool,
    ) -> Result<ValueId> {
        let (x, params) = self.take_pad(x, params, kernel_hw(&kernel));
        let xs = self.values[x].shape.clone();
        let geometry = conv2d_geometry("plan", &xs, kernel.shape(), &params)?;
        Ok(self.with_act(conv_step(geometry, kernel, bias), x, act, shape, name, uses, out))
    }

    #[allow(clippy::too_many_arguments)]
    fn dense(
        &mut self,
        x: ValueId,
        kernel: Tensor,
        bias: Option<Tensor>,
        act: PlanAct,
        shape: Vec<usize>,
        name: &str,
        uses: usize,
        out: bool,
    ) -> Result<ValueId> {
        let xs = &self.values[x].shape;
        let (k, units) = match kernel.shape() {
            [k, u] => (*k, *u),
            s => return Err(KerasError::Invalid(format!("plan: {name}: kernel shape {s:?}"))),
        };
        let rows = xs.iter().product::<usize>() / k.max(1);
        let kernel4 = kernel.reshape(&[1, 1, k, units])?;
        // A Dense layer is a 1×1 convolution over its rows.
        let geometry = conv2d_geometry("plan", &[rows, 1, 1, k], kernel4.shape(), &Conv2dParams::default())?;
        Ok(self.with_act(conv_step(geometry, kernel4, bias), x, act, shape, name, uses, out))
    }

    #[allow(clippy::too_many_arguments)]
    fn depthwise(
        &mut self,
        x: ValueId,
        params: tensor::ops::depthwise::DepthwiseParams,
        kernel: Tensor,
        bias: Option<Tensor>,
        act: PlanAct,
        shape: Vec<usize>,
        name: &str,
        uses: usize,
        out: bool,
    ) -> Result<ValueId> {
        let conv_like = Conv2dParams {
            strides: params.strides,
            padding: params.padding,
            dilation: params.dilation,
            groups: 1,
        };
        let (x, conv_like) = self.take_pad(x, conv_like, kernel_hw(&kernel));
        let params = tensor::ops::depthwise::DepthwiseParams {
            strides: conv_like.strides,
            padding: conv_like.padding,
            dilation: conv_like.dilation,
        };
        let xs = self.values[x].shape.clone();
        let geometry = depthwise_geometry("plan", &xs, kernel.shape(), &params)?;
        let kind = StepKind::Depthwise {
            geometry,
            kernel: kernel.data().to_vec(),
            bias: bias.map(|b| b.data().to_vec()),
            act: ActSpec::LINEAR,
            expand: None,
            project: None,
        };
        Ok(self.with_act(kind, x, act, shape, name, uses, out))
    }

    /// A kernel step with its activation: element-wise in the epilogue, softmax as a step after.
    #[allow(clippy::too_many_arguments)]
    fn with_act(
        &mut self,
        mut kind: StepKind,
        x: ValueId,
        act: PlanAct,
        shape: Vec<usize>,
        name: &str,
        uses: usize,
        out: bool,
    ) -> ValueId {
        match act {
            PlanAct::Elementwise(a) => {
                super::fuse::set_act(&mut kind, a);
                self.push(kind, vec![x], shape, name, uses, out)
            }
            PlanAct::Softmax | PlanAct::LogSoftmax => {
                let mid = self.push(kind, vec![x], shape.clone(), name, 1, false);
                let log = matches!(act, PlanAct::LogSoftmax);
                self.push(StepKind::Softmax { log }, vec![mid], shape, name, uses, out)
            }
        }
    }

    fn activation(
        &mut self,
        x: ValueId,
        act: PlanAct,
        shape: Vec<usize>,
        name: &str,
        uses: usize,
        out: bool,
    ) -> ValueId {
        match act {
            PlanAct::Elementwise(a) => match self.fuse_act(x, a, uses, out) {
                Some(v) => v,
                None => {
                    let c = shape.last().copied().unwrap_or(1);
                    self.push(
                        StepKind::Affine {
                            scale: vec![1.0; c],
                            shift: vec![0.0; c],
                            act: a,
                        },
                        vec![x],
                        shape,
                        name,
                        uses,
                        out,
                    )
                }
            },
            PlanAct::Softmax | PlanAct::LogSoftmax => {
                let log = matches!(act, PlanAct::LogSoftmax);
                self.push(StepKind::Softmax { log }, vec![x], shape, name, uses, out)
            }
        }
    }

    /// Whether the network adds residuals (an `Add`, `Subtract` or `Average`, a convolution
    /// with its residual fused, or a layer the plan runs as is with several inputs, such as
    /// InceptionResNetV2's scaled sums): there a layer's rounding is amplified through the
    /// sums, and [`winograd::worth`] keeps its coarser variants to more channels.
    fn residual_sums(&self) -> bool {
        self.steps.iter().filter(|s| !s.dead).any(|s| match &s.kind {
            StepKind::Merge { kind, .. } => matches!(kind, MergeKind::Add | MergeKind::Subtract | MergeKind::Average),
            StepKind::Conv { residual, .. } => residual.is_some(),
            StepKind::Fallback { .. } => s.inputs.len() > 1,
            _ => false,
        })
    }

    /// Packs the convolutions' kernels (after every fold changed them).
    fn pack_weights(&mut self) -> Result<()> {
        let isa = self.isa;
        let residual_sums = self.residual_sums();
        for st in self.steps.iter_mut().filter(|s| !s.dead) {
            if let StepKind::Conv {
                geometry,
                weights: weights @ ConvWeights::Raw(_),
                ..
            } = &mut st.kind
            {
                let ConvWeights::Raw(k) = &*weights else { continue };
                if let Some(variant) = winograd::worth(geometry, residual_sums) {
                    let w = WinogradWeights::pack(isa, k.data(), geometry.cin, geometry.cout, variant)?;
                    *weights = ConvWeights::Winograd(w);
                } else if k.len() <= PACK_MAX {
                    let depth = geometry.rows.kernel * geometry.cols.kernel * geometry.cin_g();
                    let packed = PackedWeights::pack(isa, k.data(), depth, geometry.cout, geometry.groups)?;
                    *weights = ConvWeights::Packed(packed);
                }
            }
        }
        Ok(())
    }
}

/// A convolution step with its kernel as stored (packed once every fold is done), a bias, and
/// no activation or residual yet (the fusion rules add them).
fn conv_step(geometry: tensor::ops::conv_gemm::ConvGeometry, kernel: Tensor, bias: Option<Tensor>) -> StepKind {
    StepKind::Conv {
        geometry,
        weights: ConvWeights::Raw(kernel),
        bias: bias.map(|b| b.data().to_vec()),
        act: ActSpec::LINEAR,
        residual: None,
        prologue: None,
    }
}

/// `(kh, kw)` of a rank-4 kernel (1×1 for anything else; its geometry check reports it).
fn kernel_hw(kernel: &Tensor) -> (usize, usize) {
    match kernel.shape() {
        [kh, kw, _, _] => (*kh, *kw),
        _ => (1, 1),
    }
}
