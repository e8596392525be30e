//! What a layer tells the inference plan about itself: [`InferenceOp`], the layer's inference
//! computation in the plan's terms (its weights as it holds them, arguments in the engine's
//! types). A layer that returns `None` from [`crate::layers::Layer::inference_op`] still runs in
//! a plan, through its own `call` on an inference tape.

use tensor::kernels::act::ActSpec;
use tensor::ops::activation::Activation;
use tensor::ops::conv::Conv2dParams;
use tensor::ops::depthwise::DepthwiseParams;
use tensor::{Padding, Tensor};

/// An activation as the plan runs it.
#[derive(Debug, Clone, Copy)]
pub enum PlanAct {
    /// Element-wise (fused into a kernel's epilogue when it follows one).
    Elementwise(ActSpec),
    /// Softmax over the last axis.
    Softmax,
    /// Log-softmax over the last axis.
    LogSoftmax,
}

impl PlanAct {
    /// A Keras activation function.
    pub fn of(a: Activation) -> PlanAct {
        match a {
            Activation::Softmax => PlanAct::Softmax,
            Activation::LogSoftmax => PlanAct::LogSoftmax,
            // Every other activation is element-wise: `from_activation` is `None` only for the
            // two softmaxes matched above.
            other => ActSpec::from_activation(other).map_or(PlanAct::Softmax, PlanAct::Elementwise),
        }
    }

    /// No activation.
    pub fn linear() -> PlanAct {
        PlanAct::Elementwise(ActSpec::LINEAR)
    }

    /// Whether it does nothing.
    pub fn is_linear(&self) -> bool {
        matches!(self, PlanAct::Elementwise(a) if a.is_linear())
    }
}

/// An element-wise merge of several inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeKind {
    /// `Add`.
    Add,
    /// `Subtract` (two inputs).
    Subtract,
    /// `Multiply`.
    Multiply,
    /// `Average`.
    Average,
    /// `Maximum`.
    Maximum,
    /// `Minimum`.
    Minimum,
}

/// A layer's inference computation, NHWC.
#[derive(Debug, Clone)]
pub enum InferenceOp {
    /// `Conv2D`: kernel `(kh, kw, cin/groups, cout)`.
    Conv {
        /// Strides, padding, dilation, groups.
        params: Conv2dParams,
        /// The kernel.
        kernel: Tensor,
        /// The bias.
        bias: Option<Tensor>,
        /// The activation.
        act: PlanAct,
    },
    /// `DepthwiseConv2D`: kernel `(kh, kw, c, dm)`.
    Depthwise {
        /// Strides, padding, dilation.
        params: DepthwiseParams,
        /// The kernel.
        kernel: Tensor,
        /// The bias.
        bias: Option<Tensor>,
        /// The activation.
        act: PlanAct,
    },
    /// `SeparableConv2D`: a depthwise then a 1×1 convolution.
    Separable {
        /// The depthwise part's strides, padding, dilation.
        params: DepthwiseParams,
        /// Depthwise kernel `(kh, kw, c, dm)`.
        depthwise: Tensor,
        /// Pointwise kernel `(1, 1, c·dm, filters)`.
        pointwise: Tensor,
        /// The bias.
        bias: Option<Tensor>,
        /// The activation.
        act: PlanAct,
    },
    /// `Dense` on the last axis: kernel `(in, units)`.
    Dense {
        /// The kernel.
        kernel: Tensor,
        /// The bias.
        bias: Option<Tensor>,
        /// The activation.
        act: PlanAct,
    },
    /// `BatchNormalization` over the last axis with its moving statistics.
    BatchNorm {
        /// γ (`None` when `scale=False`).
        gamma: Option<Tensor>,
        /// β (`None` when `center=False`).
        beta: Option<Tensor>,
        /// Moving mean.
        mean: Tensor,
        /// Moving variance.
        variance: Tensor,
        /// ε.
        epsilon: f32,
    },
    /// An activation alone.
    Activation(PlanAct),
    /// Max or average pooling.
    Pool {
        /// Max (true) or average.
        max: bool,
        /// Window.
        pool_size: (usize, usize),
        /// Strides.
        strides: (usize, usize),
        /// `valid` / `same`.
        padding: Padding,
    },
    /// Global average or max pooling.
    GlobalPool {
        /// Max (true) or average.
        max: bool,
        /// Keep the spatial axes (as 1×1).
        keepdims: bool,
    },
    /// `ZeroPadding2D`: `(top, bottom), (left, right)`.
    ZeroPad((usize, usize), (usize, usize)),
    /// An element-wise merge of inputs of one shape.
    Merge(MergeKind),
    /// `Concatenate` along an axis (the plan writes the last axis in place; others fall back).
    Concat(isize),
    /// The same values under the output shape (`Flatten`, `Reshape`, `Dropout` at inference).
    Alias,
    /// `Rescaling` by scalars: `x·scale + offset`.
    Rescale {
        /// Scale.
        scale: f32,
        /// Offset.
        offset: f32,
    },
}

/// Finds a weight by its short name (`kernel`, `bias`, `moving_mean`) in a layer's weights.
pub fn weight(weights: &[&crate::layers::Weight], name: &str) -> Option<Tensor> {
    weights.iter().find(|w| w.name == name).map(|w| w.value.clone())
}
