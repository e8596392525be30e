//! The tutorials' models, built with the Rust API exactly as the Keras tutorials build them
//! (same layer order, so the same automatic names). The examples print them; the tests
//! compare their summaries with real Keras's byte for byte.

use crate::error::Result;
use crate::kshape::Shape;
use crate::layers::custom::{Builder, Custom, CustomLayer, Handles};
use crate::layers::input::{Input, InputLayer};
use crate::layers::*;
use crate::model::{Call, Model, Sequential};
use tensor::Var;

/// Three Conv2D layers (32, 64, 128 filters, 3×3, ReLU) on 28×28×1: `(3·3·32 + 1)·64 = 18,496`.
pub fn seq_conv3() -> Result<Model> {
    Sequential::new()
        .add(InputLayer::new(&[28, 28, 1]))
        .add(Conv2D::new(32, 3).activation("relu"))
        .add(Conv2D::new(64, 3).activation("relu"))
        .add(Conv2D::new(128, 3).activation("relu"))
        .build()
}

/// The 784-64-64-10 MLP.
pub fn mlp() -> Result<Model> {
    Sequential::new()
        .add(InputLayer::new(&[784]))
        .add(Dense::new(64).activation("relu"))
        .add(Dense::new(64).activation("relu"))
        .add(Dense::new(10).activation("softmax"))
        .build()
}

/// Two Dense(64) branches on one input, added, then Dense(64) and Dense(10).
pub fn func_add_mlp() -> Result<Model> {
    let inp = Input(&[784])?;
    let d1 = Dense::new(64).activation("relu").call(&inp)?;
    let d2 = Dense::new(64).activation("relu").call(&inp)?;
    let x = Add::new().call_many(&[&d1, &d2])?;
    let x = Dense::new(64).activation("relu").call(&x)?;
    let out = Dense::new(10).activation("softmax").call(&x)?;
    Model::new(&[&inp], &[&out], None)
}

/// The IMDB multi-hot classifier 10000-16-16-1.
pub fn imdb() -> Result<Model> {
    Sequential::new()
        .add(InputLayer::new(&[10000]))
        .add(Dense::new(16).activation("relu"))
        .add(Dense::new(16).activation("relu"))
        .add(Dense::new(1).activation("sigmoid"))
        .build()
}

/// `Dense(2, use_bias=False, kernel_initializer="ones")` on 2 features.
pub fn dense_ones() -> Result<Model> {
    Sequential::new()
        .add(InputLayer::new(&[2]))
        .add(Dense::new(2).use_bias(false).kernel_initializer("ones"))
        .build()
}

/// LeNet-5 as a Sequential model.
pub fn lenet5_sequential() -> Result<Model> {
    Sequential::new()
        .add(InputLayer::new(&[28, 28, 1]))
        .add(Conv2D::new(6, 5).padding("same").activation("relu"))
        .add(MaxPooling2D::new(2))
        .add(Conv2D::new(16, 5).activation("relu"))
        .add(MaxPooling2D::new(2))
        .add(Flatten::new())
        .add(Dense::new(120).activation("relu"))
        .add(Dense::new(84).activation("relu"))
        .add(Dense::new(10).activation("softmax"))
        .build()
}

/// LeNet-5 with the Functional API.
pub fn lenet5_functional() -> Result<Model> {
    let inp = Input(&[28, 28, 1])?;
    let x = Conv2D::new(6, 5).padding("same").activation("relu").call(&inp)?;
    let x = MaxPooling2D::new(2).call(&x)?;
    let x = Conv2D::new(16, 5).activation("relu").call(&x)?;
    let x = MaxPooling2D::new(2).call(&x)?;
    let x = Flatten::new().call(&x)?;
    let x = Dense::new(120).activation("relu").call(&x)?;
    let x = Dense::new(84).activation("relu").call(&x)?;
    let out = Dense::new(10).activation("softmax").call(&x)?;
    Model::new(&[&inp], &[&out], None)
}

/// LeNet-5 as a subclass: sub-layers made in `build`, composed in `call`.
#[derive(Clone, Default)]
pub struct LeNet5;

impl CustomLayer for LeNet5 {
    fn class_name(&self) -> &str {
        "LeNet5"
    }
    fn build(&mut self, input: &[Shape], b: &mut Builder) -> Result<()> {
        let (_, s) = b.add_layer(&Conv2D::new(6, 5).padding("same").activation("relu"), input)?;
        let (_, s) = b.add_layer(&MaxPooling2D::new(2), &s)?;
        let (_, s) = b.add_layer(&Conv2D::new(16, 5).activation("relu"), &s)?;
        let (_, s) = b.add_layer(&MaxPooling2D::new(2), &s)?;
        let (_, s) = b.add_layer(&Flatten::new(), &s)?;
        let (_, s) = b.add_layer(&Dense::new(120).activation("relu"), &s)?;
        let (_, s) = b.add_layer(&Dense::new(84).activation("relu"), &s)?;
        b.add_layer(&Dense::new(10).activation("softmax"), &s)?;
        Ok(())
    }
    fn compute_output_shape(&self, input: &[Shape]) -> Result<Vec<Shape>> {
        Ok(vec![vec![
            input.first().and_then(|s| s.first().copied()).flatten(),
            Some(10),
        ]])
    }
    fn call(&self, ctx: &mut CallCtx, x: &[Var], h: &Handles) -> Result<Vec<Var>> {
        let mut v = x[0];
        for k in 0..8 {
            v = h.call1(ctx, k, v)?;
        }
        Ok(vec![v])
    }
}

/// LeNet-5 subclassed, wrapped as a one-layer model.
pub fn lenet5_subclass() -> Result<Model> {
    let inp = Input(&[28, 28, 1])?;
    let out = Custom::new(LeNet5).call(&inp)?;
    Model::new(&[&inp], &[&out], None)
}

/// The naive inception block: 1×1, 3×3, 5×5 convolutions and 3×3 max pooling, concatenated.
pub fn naive_inception() -> Result<Model> {
    let inp = Input(&[28, 28, 3])?;
    let c1 = Conv2D::new(64, 1).padding("same").activation("relu").call(&inp)?;
    let c3 = Conv2D::new(128, 3).padding("same").activation("relu").call(&inp)?;
    let c5 = Conv2D::new(32, 5).padding("same").activation("relu").call(&inp)?;
    let pool = MaxPooling2D::new(3).strides(1).padding("same").call(&inp)?;
    let out = Concatenate::new(-1).call_many(&[&c1, &c3, &c5, &pool])?;
    Model::new(&[&inp], &[&out], None)
}

/// A residual block: identity shortcut (`stride` 1) or a strided 1×1 projection.
pub fn residual_block(filters: usize, stride: usize) -> Result<Model> {
    let inp = Input(&[32, 32, 64])?;
    let x = Conv2D::new(filters, 3).strides(stride).padding("same").call(&inp)?;
    let x = BatchNormalization::new().call(&x)?;
    let x = Activation::new("relu").call(&x)?;
    let x = Conv2D::new(filters, 3).padding("same").call(&x)?;
    let shortcut = if stride == 1 && filters == 64 {
        inp.clone()
    } else {
        Conv2D::new(filters, 1).strides(stride).call(&inp)?
    };
    let x = BatchNormalization::new().call(&x)?;
    let shortcut = if stride == 1 && filters == 64 {
        shortcut
    } else {
        BatchNormalization::new().call(&shortcut)?
    };
    let x = Add::new().call_many(&[&x, &shortcut])?;
    let out = Activation::new("relu").call(&x)?;
    Model::new(&[&inp], &[&out], None)
}

/// Nested Sequential models: `model`, `model2 = Sequential([model])`,
/// `model3 = Sequential([model, model2])` (the variables of `model` counted once).
pub fn nested() -> Result<(Model, Model, Model)> {
    let model = Sequential::new()
        .add(InputLayer::new(&[2]))
        .add(Dense::new(2))
        .build()?;
    let model2 = Sequential::new()
        .add(InputLayer::new(&[2]))
        .add(model.clone())
        .build()?;
    let model3 = Sequential::new()
        .add(InputLayer::new(&[2]))
        .add(model.clone())
        .add(model2.clone())
        .build()?;
    Ok((model, model2, model3))
}

/// Tensor arithmetic on symbolic tensors: `d1 + d2`, then `x * 2.0`.
pub fn ops_add() -> Result<Model> {
    let inp = Input(&[784])?;
    let d1 = Dense::new(64).activation("relu").call(&inp)?;
    let d2 = Dense::new(64).activation("relu").call(&inp)?;
    let x = (&d1 + &d2)?;
    let x = (&x * 2.0)?;
    let out = Dense::new(10).activation("softmax").call(&x)?;
    Model::new(&[&inp], &[&out], None)
}

/// Two inputs (an image and 10 features) and two named outputs.
pub fn multi_io() -> Result<Model> {
    let img = Input(&[28, 28, 1])?;
    let meta = Input(&[10])?;
    let x = Conv2D::new(8, 3).activation("relu").call(&img)?;
    let x = MaxPooling2D::new(2).call(&x)?;
    let x = Flatten::new().call(&x)?;
    let x = Concatenate::new(-1).call_many(&[&x, &meta])?;
    let digit = Dense::new(10).activation("softmax").name("digit").call(&x)?;
    let flag = Dense::new(1).activation("sigmoid").name("flag").call(&x)?;
    Model::new(&[&img, &meta], &[&digit, &flag], None)
}

/// One Dense layer shared by two inputs (a siamese pair), their difference, a score.
pub fn shared_dense() -> Result<Model> {
    let a = Input(&[16])?;
    let b = Input(&[16])?;
    let shared = crate::model::Shared::new(Dense::new(8).activation("relu"));
    let ha = shared.call(&a)?;
    let hb = shared.call(&b)?;
    let x = Subtract::new().call_many(&[&ha, &hb])?;
    let out = Dense::new(1).call(&x)?;
    Model::new(&[&a, &b], &[&out], None)
}
