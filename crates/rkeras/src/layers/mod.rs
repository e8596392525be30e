//! Layers: one file per family, Keras's class names and arguments.
//!
//! A layer is a config (`Conv2DConfig`: plain data with Keras's field names and defaults,
//! made by `Conv2D::new(filters, kernel_size)` and builder methods) that `build`s a layer
//! (`Conv2D`) for an input shape. "Not built" is not a state: a built layer always has its
//! weights. One registry table ([`registry`]) maps Keras `class_name`s to configs.

mod builders;
mod common;
pub mod custom;
pub mod input;
pub mod registry;
#[cfg(test)]
mod test_util;

use crate::error::Result;
use crate::kshape::Shape;
use tensor::{Rng, Tape, Tensor, Var};

/// One weight of a layer, named as Keras names it (`kernel`, `bias`, `moving_mean`).
///
/// `id` identifies the variable: clones of a layer (a model nested twice, a shared layer)
/// keep the id, so counts and updates treat them as one variable, as Keras does.
#[derive(Debug, Clone, PartialEq)]
pub struct Weight {
    /// Short name within the layer.
    pub name: String,
    /// The value.
    pub value: Tensor,
    /// False for statistics such as BatchNormalization's moving mean and variance.
    pub trainable: bool,
    /// Variable identity, unique per process.
    pub id: u64,
    /// Kept as int64 by Keras (Normalization's `count`): 8 bytes in the summary's sizes and
    /// int64 in the files rkeras writes. Values are whole numbers held as f32.
    pub int64: bool,
}

static NEXT_WEIGHT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Weight {
    /// A trainable weight.
    pub fn trainable(name: &str, value: Tensor) -> Weight {
        Weight {
            name: name.to_string(),
            value,
            trainable: true,
            id: NEXT_WEIGHT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            int64: false,
        }
    }

    /// A non-trainable int64 counter (Normalization's `count`).
    pub fn int64_counter(name: &str, value: Tensor) -> Weight {
        Weight {
            int64: true,
            ..Weight::non_trainable(name, value)
        }
    }

    /// Bytes Keras counts for it in `summary()` (4 per float32 value, 8 per int64).
    pub fn bytes(&self) -> u64 {
        self.count() * if self.int64 { 8 } else { 4 }
    }

    /// A non-trainable weight (statistics).
    pub fn non_trainable(name: &str, value: Tensor) -> Weight {
        Weight {
            trainable: false,
            ..Weight::trainable(name, value)
        }
    }

    /// Number of scalars.
    pub fn count(&self) -> u64 {
        self.value.len() as u64
    }
}

/// What a layer's `call` works with: the tape, the mode, randomness, and side outputs.
pub struct CallCtx<'a> {
    /// The tape the forward pass records on.
    pub tape: &'a mut Tape,
    /// Training mode (Dropout active, BatchNormalization using batch statistics).
    pub training: bool,
    /// Randomness for dropout and the like.
    pub rng: &'a mut Rng,
    /// Extra loss terms (activity regularizers), summed into the loss by the fit loop.
    pub losses: Vec<Var>,
    /// New values for non-trainable weights (`(weight index within the layer, value)`),
    /// e.g. BatchNormalization's moving statistics in training mode.
    pub updates: Vec<(usize, Tensor)>,
}

impl<'a> CallCtx<'a> {
    /// A context for one forward pass.
    pub fn new(tape: &'a mut Tape, rng: &'a mut Rng, training: bool) -> CallCtx<'a> {
        CallCtx {
            tape,
            training,
            rng,
            losses: Vec::new(),
            updates: Vec::new(),
        }
    }
}

/// A built layer.
pub trait Layer: Send + Sync + LayerClone {
    /// The layer's name (`conv2d_1`).
    fn name(&self) -> &str;
    /// Keras class name (`Conv2D`).
    fn class_name(&self) -> &str;
    /// The `trainable` flag.
    fn trainable(&self) -> bool;
    /// Sets the `trainable` flag (frozen layers' weights count as non-trainable).
    fn set_trainable(&mut self, trainable: bool);
    /// Weights in Keras's `get_weights()` order.
    fn weights(&self) -> Vec<&Weight>;
    /// Weights, mutable, same order.
    fn weights_mut(&mut self) -> Vec<&mut Weight>;
    /// Output shapes for input shapes (pure; the summary never runs data).
    fn compute_output_shape(&self, inputs: &[Shape]) -> Result<Vec<Shape>>;
    /// The forward pass. `weights` are this layer's weights on the tape, in `weights()` order.
    fn call(&self, ctx: &mut CallCtx, inputs: &[Var], weights: &[Var]) -> Result<Vec<Var>>;
    /// The layer's Keras 3 `get_config()` (the `config` object of its JSON).
    fn config(&self) -> serde_json::Value;
    /// rkeras `--explain`: the parameter formula and output-size arithmetic for these inputs.
    fn explain(&self, _inputs: &[Shape]) -> Vec<String> {
        Vec::new()
    }
    /// Weight-regularizer penalty (kernel/bias regularizers) for this layer's weights on the
    /// tape, added to the loss in training.
    fn regularization(&self, _tape: &mut Tape, _weights: &[Var]) -> Result<Option<Var>> {
        Ok(None)
    }
    /// Applies kernel/bias constraints after an optimizer update.
    fn apply_constraints(&mut self) {}
    /// For an operation that tf-keras 2 shows differently (`x + y`): its class there
    /// (`TFOpLambda`) and name stem (`tf.__operators__.add`).
    fn keras2_display(&self) -> Option<(&'static str, &'static str)> {
        None
    }
    /// For a Keras 3 operation saved as `keras.src.ops.numpy` (`x + y`, `x * 2.0`): its call
    /// arguments, the input `tensors` with any constant in its place. `None` for layers.
    fn keras_op_args(&self, _tensors: Vec<serde_json::Value>) -> Option<Vec<serde_json::Value>> {
        None
    }
    /// For a nested model used as a layer: the model.
    fn as_model(&self) -> Option<&crate::model::Model> {
        None
    }
    /// Weights training updates: the trainable ones, none when the layer is frozen.
    fn trainable_weight_list(&self) -> Vec<&Weight> {
        if self.trainable() {
            self.weights().into_iter().filter(|w| w.trainable).collect()
        } else {
            Vec::new()
        }
    }
    /// Replaces the values of weights whose ids are in `values` (shapes already checked).
    fn set_weights_by_id(&mut self, values: &std::collections::HashMap<u64, Tensor>) {
        for w in self.weights_mut() {
            if let Some(v) = values.get(&w.id) {
                w.value = v.clone();
            }
        }
    }
    /// The layer's inference computation in the inference plan's terms, when it has one of
    /// the plan's forms ([`crate::model::plan::InferenceOp`]); `None` runs the layer's own
    /// `call` inside the plan.
    fn inference_op(&self) -> Option<crate::model::plan::InferenceOp> {
        None
    }
    /// In training, this layer and the ReLU or ReLU6 activation layer that alone reads its
    /// output as one op (BatchNormalization with the channels last: the activation's pass and
    /// its backward's happen inside the normalization's own); the output of both. `None` when
    /// the layer has no such form here: the model then calls the two apart.
    fn call_with_relu(
        &self,
        _ctx: &mut CallCtx,
        _inputs: &[Var],
        _weights: &[Var],
        _relu: tensor::ops::batchnorm::FusedRelu,
    ) -> Option<Result<Vec<Var>>> {
        None
    }
    /// This window layer called on the input of the `ZeroPadding2D` that alone feeds it,
    /// the padding's zeros (`(top, bottom), (left, right)`) taken into the layer's own padding:
    /// the same output without the padded copy, and a backward without its crop. `None` when
    /// the layer has no such form here: the model then calls the two apart.
    fn call_padded(
        &self,
        _ctx: &mut CallCtx,
        _inputs: &[Var],
        _weights: &[Var],
        _zeros: ((usize, usize), (usize, usize)),
    ) -> Option<Result<Vec<Var>>> {
        None
    }
    /// Number of parameters (trainable and not).
    fn count_params(&self) -> u64 {
        self.weights().iter().map(|w| w.count()).sum()
    }
}

/// A layer's configuration: what Keras stores in JSON, before any weight exists.
pub trait LayerConfig: Send + Sync + LayerConfigClone {
    /// Keras class name.
    fn class_name(&self) -> &str;
    /// The name given by the user or the file; `None` means auto-named at build.
    fn name(&self) -> Option<&str>;
    /// Sets the name.
    fn set_name(&mut self, name: String);
    /// Builds the layer for input shapes, making and initializing its weights.
    fn build(&self, name: &str, inputs: &[Shape], rng: &mut Rng) -> Result<Box<dyn Layer>>;
}

/// Cloning boxed layers (weights keep their ids).
pub trait LayerClone {
    /// A boxed copy.
    fn clone_layer(&self) -> Box<dyn Layer>;
}

impl<T: Layer + Clone + 'static> LayerClone for T {
    fn clone_layer(&self) -> Box<dyn Layer> {
        Box::new(self.clone())
    }
}

impl Clone for Box<dyn Layer> {
    fn clone(&self) -> Self {
        self.clone_layer()
    }
}

/// Cloning boxed configs.
pub trait LayerConfigClone {
    /// A boxed copy.
    fn clone_box(&self) -> Box<dyn LayerConfig>;
}

impl<T: LayerConfig + Clone + 'static> LayerConfigClone for T {
    fn clone_box(&self) -> Box<dyn LayerConfig> {
        Box::new(self.clone())
    }
}

impl Clone for Box<dyn LayerConfig> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

/// Keras's automatic name stem for a class: `Conv2D` → `conv2d`, `BatchNormalization` →
/// `batch_normalization`, `ReLU` → `re_lu`, `MaxPooling2D` → `max_pooling2d`.
pub fn snake_case(class_name: &str) -> String {
    // Keras: re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name) then re.sub("([a-z])([A-Z])", r"\1_\2", …).lower()
    let chars: Vec<char> = class_name.chars().collect();
    let mut step1 = String::new();
    for i in 0..chars.len() {
        let c = chars[i];
        if i > 0 && c.is_ascii_uppercase() && chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase()) {
            step1.push('_');
        }
        step1.push(c);
    }
    let c1: Vec<char> = step1.chars().collect();
    let mut out = String::new();
    for i in 0..c1.len() {
        if i > 0 && c1[i].is_ascii_uppercase() && c1[i - 1].is_ascii_lowercase() {
            out.push('_');
        }
        out.push(c1[i]);
    }
    out.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_matches_keras() {
        assert_eq!(snake_case("Conv2D"), "conv2d");
        assert_eq!(snake_case("BatchNormalization"), "batch_normalization");
        assert_eq!(snake_case("MaxPooling2D"), "max_pooling2d");
        assert_eq!(snake_case("GlobalAveragePooling2D"), "global_average_pooling2d");
        assert_eq!(snake_case("ReLU"), "re_lu");
        assert_eq!(snake_case("Conv2DTranspose"), "conv2d_transpose");
        assert_eq!(snake_case("DepthwiseConv2D"), "depthwise_conv2d");
        assert_eq!(snake_case("ZeroPadding2D"), "zero_padding2d");
        assert_eq!(snake_case("Dense"), "dense");
        assert_eq!(snake_case("LeakyReLU"), "leaky_re_lu");
    }
}

pub mod conv;
pub mod conv_args;
pub mod conv_transpose;
pub mod depthwise;
pub mod pooling;
pub mod reshaping;
pub use conv::{Conv2D, Conv2DConfig};
pub use conv_args::{DataFormat, InitializerArg, Pair};
pub use conv_transpose::{Conv2DTranspose, Conv2DTransposeConfig};
pub use depthwise::{DepthwiseConv2D, DepthwiseConv2DConfig, SeparableConv2D, SeparableConv2DConfig};
pub use pooling::{
    AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, GlobalPooling2DConfig, MaxPooling2D, Pooling2DConfig,
};
pub use reshaping::{Border2DConfig, Cropping2D, Flatten, Permute, Reshape, ShapeOpConfig, Sides, ZeroPadding2D};
pub mod activations;
pub mod app_layers;
pub mod augmentation;
pub mod core;
pub mod feature_normalization;
pub mod image_resizing;
pub mod layer_normalization;
pub mod merge;
pub mod normalization;
pub mod preprocessing;
pub mod regularization;
pub use self::activations::{ActivationLayer, ActivationLayerConfig, ActivationOp, LeakyReLU, ReLU, Softmax, ELU};
pub use self::app_layers::{CustomScaleLayer, LayerScale, StochasticDepth};
pub use self::augmentation::{
    AugmentConfig, RandomBrightness, RandomContrast, RandomCrop, RandomFlip, RandomRotation, RandomTranslation,
    RandomZoom,
};
pub use self::core::{Activation, ActivationConfig, Dense, DenseConfig};
pub use self::feature_normalization::{Normalization, NormalizationConfig};
pub use self::image_resizing::{CenterCrop, Resizing, ResizingConfig};
pub use self::layer_normalization::{LayerNormalization, LayerNormalizationConfig};
pub use self::merge::{
    add, average, concatenate, maximum, minimum, multiply, subtract, Add, Average, Concatenate, Maximum, Merge,
    MergeConfig, MergeOp, Minimum, Multiply, Subtract,
};
pub use self::normalization::{BatchNormalization, BatchNormalizationConfig};
pub use self::preprocessing::{Factor, Rescaling, RescalingConfig};
pub use self::regularization::{Dropout, DropoutConfig};
