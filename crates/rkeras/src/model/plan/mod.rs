//! The inference plan: a model's graph compiled once per input shape into a list of fused
//! steps over an arena, the second way to run the same graph (the tape stays the training path
//! and the reference; tests compare the two).
//!
//! Building a plan (`Plan::build`):
//! 1. every layer describes itself ([`InferenceOp`]); a layer that cannot runs its own `call`
//!    on an inference tape as a fallback step, so every model has a plan;
//! 2. fusion rules, applied as the graph is walked in order (each one rule, see `fuse.rs`):
//!    `ZeroPadding2D` into the next convolution's padding; `BatchNormalization` folded into the
//!    preceding Conv2D / DepthwiseConv2D / SeparableConv2D / Dense (kernel columns scaled, bias
//!    shifted); an activation into the producing kernel's epilogue; `Add` into the epilogue of
//!    the convolution that makes one of its inputs (the other read as a residual); each input of
//!    a last-axis `Concatenate` written by its convolution straight into its channel slice;
//! 3. convolution weights prepacked once into the microkernels' panels (large Dense kernels are
//!    read in place);
//! 4. buffers placed in an arena from their lifetimes (`arena.rs`): a buffer is reused once its
//!    last reader ran, so peak memory is the weights plus the live activations, and running the
//!    plan again allocates nothing.
//!
//! A plan is valid for the epoch of the model's layers it was made at: any mutable access to
//! them (`set_weights`, a training step, `load_weights`, `layer_mut`) takes a new epoch, so
//! the model builds a new plan. Debug builds also check that the weights of a current plan's
//! epoch are still the very tensors it was made from (`Plan::weights_unchanged`).

mod arena;
mod build;
mod exec;
mod fuse;
pub mod op;
#[cfg(test)]
mod tests;

pub use op::{InferenceOp, MergeKind, PlanAct};

use std::sync::{Arc, Mutex};
use tensor::kernels::act::ActSpec;
use tensor::kernels::conv::PackedWeights;
use tensor::kernels::winograd::WinogradWeights;
use tensor::kernels::Isa;
use tensor::ops::conv_gemm::ConvGeometry;
use tensor::ops::pool::Pool2dGeometry;
use tensor::Tensor;

/// Index of a value (an activation) of the plan.
pub(crate) type ValueId = usize;

/// Where a value's elements are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Loc {
    /// Input `k` of the call, as given.
    Input(usize),
    /// In arena buffer `buffer`, pixel `p` channel `c` at `offset + p·stride + c`.
    Buffer {
        /// The buffer.
        buffer: usize,
        /// First channel.
        offset: usize,
        /// Pixel stride (the last axis' length when contiguous).
        stride: usize,
    },
}

/// One value: its concrete shape and where it lives.
#[derive(Debug, Clone)]
pub(crate) struct Value {
    pub shape: Vec<usize>,
    pub loc: Loc,
}

impl Value {
    /// Elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
    /// Channels (last axis).
    pub fn channels(&self) -> usize {
        self.shape.last().copied().unwrap_or(1)
    }
    /// Pixels (all axes but the last).
    pub fn pixels(&self) -> usize {
        self.len() / self.channels().max(1)
    }
}

/// A convolution's weights.
#[derive(Debug, Clone)]
pub(crate) enum ConvWeights {
    /// Prepacked panels.
    Packed(PackedWeights),
    /// The kernel as stored (a large Dense kernel, read in place).
    Raw(Tensor),
    /// A stride-1 kernel transformed for Winograd's minimal filtering (3×3, 1×7 or 7×1:
    /// [`tensor::kernels::winograd::Variant`]).
    Winograd(WinogradWeights),
}

impl ConvWeights {
    /// The kernels' view of them.
    pub(crate) fn as_weights(&self) -> tensor::kernels::conv::Weights<'_> {
        match self {
            ConvWeights::Packed(p) => tensor::kernels::conv::Weights::Packed(p),
            ConvWeights::Raw(t) => tensor::kernels::conv::Weights::Raw(t.data()),
            ConvWeights::Winograd(w) => tensor::kernels::conv::Weights::Winograd(w),
        }
    }
}

/// `x·scale[c] + shift[c]`, then a clamp-type activation.
#[derive(Debug, Clone)]
pub(crate) struct InputMap {
    pub scale: Vec<f32>,
    pub shift: Vec<f32>,
    pub act: ActSpec,
}

/// What a step computes.
#[derive(Debug, Clone)]
pub(crate) enum StepKind {
    /// Implicit-GEMM convolution (Dense: a 1×1 one over rows), with bias, residual, activation.
    Conv {
        geometry: ConvGeometry,
        weights: ConvWeights,
        bias: Option<Vec<f32>>,
        act: ActSpec,
        residual: Option<ValueId>,
        /// The channel affine (a BatchNormalization + ReLU) of a dead step that made this
        /// 1×1 convolution's input, applied as the input is read (its input is that step's).
        prologue: Option<Box<InputMap>>,
    },
    /// Depthwise convolution with bias and activation; with `expand`, its input is made band
    /// by band by that (dead) 1×1 convolution step, whose input this step reads instead
    /// (MobileNetV2's expansions never reach memory whole); with `project`, each band of its
    /// output is read at once by that (dead) 1×1 convolution step, whose output this step
    /// writes instead (its residual, when it has one, is this step's second input).
    Depthwise {
        geometry: ConvGeometry,
        kernel: Vec<f32>,
        bias: Option<Vec<f32>>,
        act: ActSpec,
        expand: Option<usize>,
        project: Option<usize>,
    },
    /// `x·scale[c] + shift[c]`, then the activation (BatchNormalization, Rescaling, a lone
    /// activation with unit scale).
    Affine {
        scale: Vec<f32>,
        shift: Vec<f32>,
        act: ActSpec,
    },
    /// Softmax or log-softmax over the last axis.
    Softmax { log: bool },
    /// Max or average pooling, then the activation; with `zeros`, the geometry's padding is
    /// zeros (a folded `ZeroPadding2D`) instead of skipped.
    Pool {
        geometry: Pool2dGeometry,
        max: bool,
        zeros: bool,
        act: ActSpec,
    },
    /// Global pooling over the spatial axes.
    GlobalPool { max: bool },
    /// Zero padding of height and width.
    Pad { sides: ((usize, usize), (usize, usize)) },
    /// An element-wise merge of the inputs, then the activation.
    Merge { kind: MergeKind, act: ActSpec },
    /// Copies the input into the output's place (a concatenation's slice).
    Copy,
    /// The layer's own `call` on an inference tape.
    Fallback { layer: usize },
}

/// One step: a kind, its input values, its output value, and the layer it came from.
#[derive(Debug, Clone)]
pub(crate) struct Step {
    pub kind: StepKind,
    pub inputs: Vec<ValueId>,
    pub output: ValueId,
    pub layer: String,
    /// Removed by a fusion.
    pub dead: bool,
}

/// A compiled inference plan for one set of input shapes.
pub struct Plan {
    pub(crate) isa: Isa,
    pub(crate) input_shapes: Vec<Vec<usize>>,
    pub(crate) values: Vec<Value>,
    pub(crate) steps: Vec<Step>,
    pub(crate) outputs: Vec<ValueId>,
    /// Arena slot of each buffer, and each slot's length.
    pub(crate) buffer_slot: Vec<usize>,
    pub(crate) slot_len: Vec<usize>,
    /// The arena, reused by every run (a concurrent run makes its own).
    pub(crate) arena: Mutex<Vec<Vec<f32>>>,
    /// The epoch of the model's layers the plan was made at ([`crate::model::Layers`]).
    pub(crate) epoch: u64,
    /// The weights the plan was made from (debug builds check the epoch against them).
    #[cfg(debug_assertions)]
    pub(crate) weights_seen: Vec<(u64, Tensor)>,
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Plan({:?}, {} steps, arena {} bytes)",
            self.input_shapes,
            self.live_steps(),
            self.arena_bytes()
        )
    }
}

impl Plan {
    /// The input shapes it was built for.
    pub fn input_shapes(&self) -> &[Vec<usize>] {
        &self.input_shapes
    }

    /// Steps left after fusion.
    pub fn live_steps(&self) -> usize {
        self.steps.iter().filter(|s| !s.dead).count()
    }

    /// Steps that run a layer's own `call` (no fast kernel for them).
    pub fn fallback_layers(&self) -> Vec<&str> {
        self.steps
            .iter()
            .filter(|s| !s.dead && matches!(s.kind, StepKind::Fallback { .. }))
            .map(|s| s.layer.as_str())
            .collect()
    }

    /// Bytes of the activation arena (every slot at its size).
    pub fn arena_bytes(&self) -> usize {
        self.slot_len.iter().sum::<usize>() * 4
    }

    /// Bytes of prepacked weights the plan holds besides the model's own.
    pub fn packed_bytes(&self) -> usize {
        self.steps
            .iter()
            .map(|s| match &s.kind {
                StepKind::Conv {
                    weights: ConvWeights::Packed(p),
                    ..
                } => p.bytes(),
                StepKind::Conv {
                    weights: ConvWeights::Winograd(w),
                    ..
                } => w.bytes(),
                StepKind::Depthwise { kernel, .. } => kernel.len() * 4,
                _ => 0,
            })
            .sum()
    }

    /// A one-line-per-step description (`rkeras plan`-style debugging, tests).
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for st in self.steps.iter().filter(|s| !s.dead) {
            let what = match &st.kind {
                StepKind::Conv {
                    act,
                    residual,
                    weights,
                    prologue,
                    ..
                } => {
                    format!(
                        "{}{}{}{}",
                        if prologue.is_some() { "affine+" } else { "" },
                        if matches!(weights, ConvWeights::Winograd(_)) {
                            "winograd"
                        } else {
                            "conv"
                        },
                        act_name(act),
                        if residual.is_some() { " +residual" } else { "" }
                    )
                }
                StepKind::Depthwise {
                    act, expand, project, ..
                } => format!(
                    "{}depthwise{}{}",
                    if expand.is_some() { "expand+" } else { "" },
                    act_name(act),
                    match project.map(|pi| &self.steps[pi].kind) {
                        Some(StepKind::Conv { act, residual, .. }) => format!(
                            "+project{}{}",
                            act_name(act),
                            if residual.is_some() { " +residual" } else { "" }
                        ),
                        _ => String::new(),
                    }
                ),
                StepKind::Affine { act, .. } => format!("affine{}", act_name(act)),
                StepKind::Softmax { log } => if *log { "log_softmax" } else { "softmax" }.to_string(),
                StepKind::Pool { max, act, .. } => format!("{}pool{}", if *max { "max" } else { "avg" }, act_name(act)),
                StepKind::GlobalPool { max } => format!("global_{}pool", if *max { "max" } else { "avg" }),
                StepKind::Pad { .. } => "pad".to_string(),
                StepKind::Merge { kind, act } => format!("{kind:?}{}", act_name(act)).to_lowercase(),
                StepKind::Copy => "copy".to_string(),
                StepKind::Fallback { .. } => "fallback".to_string(),
            };
            let out = &self.values[st.output];
            let into = match out.loc {
                Loc::Buffer { offset, stride, .. } if stride != out.channels() => format!(" →[{offset}..] of {stride}"),
                _ => String::new(),
            };
            s.push_str(&format!("{}: {what} {:?}{into}\n", st.layer, out.shape));
        }
        s
    }

    /// Whether every weight of `weights` is still the value the plan was built from.
    #[cfg(debug_assertions)]
    pub(crate) fn weights_unchanged(&self, weights: &[&crate::layers::Weight]) -> bool {
        weights.len() == self.weights_seen.len()
            && weights
                .iter()
                .zip(&self.weights_seen)
                .all(|(w, (id, t))| w.id == *id && w.value.shares_data(t))
    }
}

fn act_name(a: &ActSpec) -> &'static str {
    if a.is_linear() {
        ""
    } else if a.post.is_some() {
        "+act"
    } else {
        "+clamp"
    }
}

/// A model's plans, one per input shape (a few at most), dropped when weights change. Cloning
/// a model starts an empty cache (the clone's weights may diverge).
#[derive(Default)]
pub struct PlanCache {
    plans: Mutex<Vec<Arc<Plan>>>,
}

impl Clone for PlanCache {
    fn clone(&self) -> Self {
        PlanCache::default()
    }
}

/// Plans kept per model (distinct input shapes, e.g. `predict`'s full and last batch).
const CACHED_PLANS: usize = 4;

impl PlanCache {
    /// The plan for these input shapes and weights, built when missing or stale.
    pub(crate) fn get_or_build(&self, model: &super::Model, shapes: &[Vec<usize>]) -> crate::error::Result<Arc<Plan>> {
        let epoch = model.layers.epoch();
        {
            let mut plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
            plans.retain(|p| p.epoch == epoch);
            if let Some(p) = plans.iter().find(|p| p.input_shapes == shapes) {
                #[cfg(debug_assertions)]
                assert!(
                    p.weights_unchanged(&model.weights()),
                    "model {}: a weight changed without a new epoch of its layers",
                    model.name
                );
                return Ok(p.clone());
            }
        }
        let plan = Arc::new(Plan::build(model, shapes)?);
        let mut plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
        if plans.len() >= CACHED_PLANS {
            plans.remove(0);
        }
        plans.push(plan.clone());
        Ok(plan)
    }

    /// Drops every plan.
    pub fn clear(&self) {
        self.plans.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Plans held now.
    pub fn len(&self) -> usize {
        self.plans.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// True when no plan is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whether `Model::forward(.., training=false)` and `predict` use plans: on unless
/// `RKERAS_PLAN=0` (which runs the tape, the reference path).
pub fn plans_enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("RKERAS_PLAN").map_or(true, |v| v != "0"))
}
