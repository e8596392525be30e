//! The one registry table: Keras `class_name` → how to read its config, and an example
//! (config + input shape) that the layer-contract test runs. JSON import, the CLI and the
//! contract test all read this table, so a new layer is one file plus one line here.

use super::LayerConfig;
use crate::config::ConfigReader;
use crate::error::Result;
use crate::kshape::Shape;

/// Reads a layer config from its Keras JSON `config` object.
pub type FromKeras = fn(&ConfigReader) -> Result<Box<dyn LayerConfig>>;

/// One registered layer class.
pub struct Entry {
    /// Keras class name.
    pub class_name: &'static str,
    /// Reader for Keras 3 and tf-keras 2 configs.
    pub from_keras: FromKeras,
    /// A typical config and its input shapes, for the contract test.
    pub example: fn() -> (Box<dyn LayerConfig>, Vec<Shape>),
}

macro_rules! entry {
    ($class:literal, $cfg:ty, $example:expr, $shapes:expr) => {
        Entry {
            class_name: $class,
            from_keras: |r| Ok(Box::new(<$cfg>::from_keras(r)?)),
            example: || (Box::new($example), $shapes),
        }
    };
}

#[allow(dead_code)]
fn img(h: usize, w: usize, c: usize) -> Vec<Shape> {
    vec![crate::kshape::batched(&[h, w, c])]
}

/// Every layer class rkeras reads, by Keras class name.
pub static REGISTRY: &[Entry] = &[
    entry!(
        "InputLayer",
        super::input::InputLayerConfig,
        super::input::InputLayer::new(&[4, 4, 2]),
        vec![]
    ),
    entry!(
        "Dense",
        super::core::DenseConfig,
        super::core::Dense::new(3).activation("relu"),
        vec![crate::kshape::batched(&[4])]
    ),
    entry!(
        "Activation",
        super::core::ActivationConfig,
        super::core::Activation::new("tanh"),
        vec![crate::kshape::batched(&[4])]
    ),
    entry!(
        "ReLU",
        super::activations::ActivationLayerConfig,
        super::activations::ReLU::new().max_value(6.0),
        img(4, 4, 2)
    ),
    entry!(
        "LeakyReLU",
        super::activations::ActivationLayerConfig,
        super::activations::LeakyReLU::new(),
        img(4, 4, 2)
    ),
    entry!(
        "Softmax",
        super::activations::ActivationLayerConfig,
        super::activations::Softmax::new(),
        vec![crate::kshape::batched(&[5])]
    ),
    entry!(
        "ELU",
        super::activations::ActivationLayerConfig,
        super::activations::ELU::new(),
        img(4, 4, 2)
    ),
    entry!(
        "Dropout",
        super::regularization::DropoutConfig,
        super::regularization::Dropout::new(0.5),
        vec![crate::kshape::batched(&[8])]
    ),
    entry!(
        "BatchNormalization",
        super::normalization::BatchNormalizationConfig,
        super::normalization::BatchNormalization::new(),
        img(4, 4, 3)
    ),
    entry!(
        "Add",
        super::merge::MergeConfig,
        super::merge::Add::new(),
        vec![crate::kshape::batched(&[4]); 2]
    ),
    entry!(
        "Subtract",
        super::merge::MergeConfig,
        super::merge::Subtract::new(),
        vec![crate::kshape::batched(&[4]); 2]
    ),
    entry!(
        "Multiply",
        super::merge::MergeConfig,
        super::merge::Multiply::new(),
        vec![crate::kshape::batched(&[4]); 2]
    ),
    entry!(
        "Average",
        super::merge::MergeConfig,
        super::merge::Average::new(),
        vec![crate::kshape::batched(&[4]); 3]
    ),
    entry!(
        "Maximum",
        super::merge::MergeConfig,
        super::merge::Maximum::new(),
        vec![crate::kshape::batched(&[4]); 2]
    ),
    entry!(
        "Minimum",
        super::merge::MergeConfig,
        super::merge::Minimum::new(),
        vec![crate::kshape::batched(&[4]); 2]
    ),
    entry!(
        "Concatenate",
        super::merge::MergeConfig,
        super::merge::Concatenate::new(-1),
        vec![crate::kshape::batched(&[4, 4, 2]); 2]
    ),
    entry!(
        "Rescaling",
        super::preprocessing::RescalingConfig,
        super::preprocessing::Rescaling::new(1.0 / 255.0),
        img(4, 4, 3)
    ),
    entry!(
        "Normalization",
        super::feature_normalization::NormalizationConfig,
        super::feature_normalization::Normalization::new(),
        img(4, 4, 3)
    ),
    entry!(
        "LayerNormalization",
        super::layer_normalization::LayerNormalizationConfig,
        super::layer_normalization::LayerNormalization::new(),
        img(4, 4, 3)
    ),
    entry!(
        "CustomScaleLayer",
        super::app_layers::CustomScaleLayerConfig,
        super::app_layers::CustomScaleLayer::new(0.17),
        vec![crate::kshape::batched(&[4, 4, 2]); 2]
    ),
    entry!(
        "LayerScale",
        super::app_layers::LayerScaleConfig,
        super::app_layers::LayerScale::new(1e-6, 2),
        img(4, 4, 2)
    ),
    entry!(
        "StochasticDepth",
        super::app_layers::StochasticDepthConfig,
        super::app_layers::StochasticDepth::new(0.1),
        img(4, 4, 2)
    ),
    entry!(
        "Resizing",
        super::image_resizing::ResizingConfig,
        super::image_resizing::Resizing::new(3, 5),
        img(4, 4, 3)
    ),
    entry!(
        "CenterCrop",
        super::image_resizing::CenterCropConfig,
        super::image_resizing::CenterCrop::new(2, 3),
        img(4, 4, 3)
    ),
    entry!(
        "RandomFlip",
        super::augmentation::RandomFlipConfig,
        super::augmentation::RandomFlip::new("horizontal_and_vertical").seed(1),
        img(4, 4, 3)
    ),
    entry!(
        "RandomRotation",
        super::augmentation::RandomRotationConfig,
        super::augmentation::RandomRotation::new(0.2).seed(1),
        img(4, 4, 3)
    ),
    entry!(
        "RandomZoom",
        super::augmentation::RandomZoomConfig,
        super::augmentation::RandomZoom::new(0.2).seed(1),
        img(4, 4, 3)
    ),
    entry!(
        "RandomTranslation",
        super::augmentation::RandomTranslationConfig,
        super::augmentation::RandomTranslation::new(0.2, 0.2).seed(1),
        img(4, 4, 3)
    ),
    entry!(
        "RandomContrast",
        super::augmentation::RandomContrastConfig,
        super::augmentation::RandomContrast::new(0.3).seed(1),
        img(4, 4, 3)
    ),
    entry!(
        "RandomBrightness",
        super::augmentation::RandomBrightnessConfig,
        super::augmentation::RandomBrightness::new(0.2).seed(1),
        img(4, 4, 3)
    ),
    entry!(
        "RandomCrop",
        super::augmentation::RandomCropConfig,
        super::augmentation::RandomCrop::new(3, 2).seed(1),
        img(4, 4, 3)
    ),
    entry!(
        "Conv2D",
        super::conv::Conv2DConfig,
        super::conv::Conv2D::new(4, 3),
        img(6, 6, 2)
    ),
    entry!(
        "Conv2DTranspose",
        super::conv_transpose::Conv2DTransposeConfig,
        super::conv_transpose::Conv2DTranspose::new(3, 3).strides(2),
        img(4, 4, 2)
    ),
    entry!(
        "DepthwiseConv2D",
        super::depthwise::DepthwiseConv2DConfig,
        super::depthwise::DepthwiseConv2D::new(3).depth_multiplier(2),
        img(6, 6, 2)
    ),
    entry!(
        "SeparableConv2D",
        super::depthwise::SeparableConv2DConfig,
        super::depthwise::SeparableConv2D::new(4, 3),
        img(6, 6, 2)
    ),
    entry!(
        "MaxPooling2D",
        super::pooling::Pooling2DConfig,
        super::pooling::MaxPooling2D::new(2),
        img(6, 6, 2)
    ),
    entry!(
        "AveragePooling2D",
        super::pooling::Pooling2DConfig,
        super::pooling::AveragePooling2D::new(2),
        img(6, 6, 2)
    ),
    entry!(
        "GlobalAveragePooling2D",
        super::pooling::GlobalPooling2DConfig,
        super::pooling::GlobalAveragePooling2D::new(),
        img(4, 4, 2)
    ),
    entry!(
        "GlobalMaxPooling2D",
        super::pooling::GlobalPooling2DConfig,
        super::pooling::GlobalMaxPooling2D::new(),
        img(4, 4, 2)
    ),
    entry!(
        "ZeroPadding2D",
        super::reshaping::Border2DConfig,
        super::reshaping::ZeroPadding2D::new(1),
        img(4, 4, 2)
    ),
    entry!(
        "Cropping2D",
        super::reshaping::Border2DConfig,
        super::reshaping::Cropping2D::new(1),
        img(4, 4, 2)
    ),
    entry!(
        "Flatten",
        super::reshaping::ShapeOpConfig,
        super::reshaping::Flatten::new(),
        img(4, 4, 2)
    ),
    entry!(
        "Reshape",
        super::reshaping::ShapeOpConfig,
        super::reshaping::Reshape::new(&[-1, 2]),
        img(4, 4, 2)
    ),
    entry!(
        "Permute",
        super::reshaping::ShapeOpConfig,
        super::reshaping::Permute::new(&[2, 1, 3]),
        img(4, 3, 2)
    ),
];

/// The entry for a class name.
pub fn lookup(class_name: &str) -> Option<&'static Entry> {
    REGISTRY.iter().find(|e| e.class_name == class_name)
}

/// The registered class names, for error messages.
pub fn class_names() -> Vec<&'static str> {
    REGISTRY.iter().map(|e| e.class_name).collect()
}
