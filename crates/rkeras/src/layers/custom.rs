//! Subclassing, the third way to build a model: implement [`CustomLayer`] for a type —
//! Keras's `build(input_shape)` adding weights (and sub-layers) and `call` written with the
//! engine's ops, whose gradients come for free — and wrap it in [`Custom`] to use it like any
//! layer (in a Sequential, called on symbolic tensors, in a summary).
//!
//! ```
//! use rkeras::prelude::*;
//! use rkeras::layers::custom::{Builder, Custom, CustomLayer, Handles};
//! use rkeras::kshape::Shape;
//! use tensor::{ops::conv::Conv2dParams, Padding, Var};
//!
//! /// The tutorials' `SimpleCNN`: one 3×3 convolution and a ReLU.
//! #[derive(Clone)]
//! struct SimpleCnn { filters: usize }
//!
//! impl CustomLayer for SimpleCnn {
//!     fn class_name(&self) -> &str { "SimpleCNN" }
//!     fn build(&mut self, input: &[Shape], b: &mut Builder) -> Result<()> {
//!         let c = b.channels(input, 0)?;
//!         b.add_weight("kernel", &[3, 3, c, self.filters], "glorot_uniform", true)?;
//!         b.add_weight("bias", &[self.filters], "zeros", true)?;
//!         Ok(())
//!     }
//!     fn compute_output_shape(&self, input: &[Shape]) -> Result<Vec<Shape>> {
//!         let s = &input[0];
//!         Ok(vec![vec![s[0], s[1].map(|h| h - 2), s[2].map(|w| w - 2), Some(self.filters)]])
//!     }
//!     fn call(&self, ctx: &mut CallCtx, x: &[Var], h: &Handles) -> Result<Vec<Var>> {
//!         let p = Conv2dParams::new((1, 1), Padding::Valid);
//!         let y = ctx.tape.conv2d(x[0], h.weight(0)?, Some(h.weight(1)?), &p)?;
//!         Ok(vec![ctx.tape.relu(y)?])
//!     }
//! }
//!
//! clear_session();
//! let model = Sequential::new()
//!     .add(InputLayer::new(&[28, 28, 1]))
//!     .add(Custom::new(SimpleCnn { filters: 32 }))
//!     .build()
//!     .unwrap();
//! assert_eq!(model.count_params(), 320);
//! ```

use super::{CallCtx, Layer, LayerConfig, Weight};
use crate::error::{arg_error, shape_error, KerasError, Result};
use crate::initializers::Initializer;
use crate::kshape::Shape;
use serde_json::{json, Value};
use tensor::{Rng, Var};

/// A user-defined layer or model (Keras subclassing).
pub trait CustomLayer: Clone + Send + Sync + 'static {
    /// Class name shown in summaries (`SimpleCNN`); the automatic name is its snake case.
    fn class_name(&self) -> &str;
    /// Keras's `build(input_shape)`: add weights and sub-layers with the builder.
    fn build(&mut self, input_shapes: &[Shape], b: &mut Builder) -> Result<()>;
    /// Keras's `compute_output_shape`.
    fn compute_output_shape(&self, input_shapes: &[Shape]) -> Result<Vec<Shape>>;
    /// Keras's `call`: engine ops on `ctx.tape`; `h` holds this layer's weights and
    /// sub-layers in the order they were added.
    fn call(&self, ctx: &mut CallCtx, inputs: &[Var], h: &Handles) -> Result<Vec<Var>>;
    /// Keras's `get_config` (extra fields; name and trainable are added).
    fn get_config(&self) -> Value {
        json!({})
    }
}

/// What `build` uses to add weights and sub-layers.
pub struct Builder<'a> {
    layer: String,
    weights: Vec<Weight>,
    children: Vec<Box<dyn Layer>>,
    /// Order of things added: `Ok(weight index)` or `Err(child index)`.
    order: Vec<Slot>,
    rng: &'a mut Rng,
}

#[derive(Clone, Copy, Debug)]
enum Slot {
    Weight(usize),
    Child(usize),
}

impl Builder<'_> {
    /// The known size of the last axis (channels) of input `k`.
    pub fn channels(&self, input_shapes: &[Shape], k: usize) -> Result<usize> {
        let s = input_shapes
            .get(k)
            .ok_or_else(|| shape_error(&self.layer, format!("expected an input {k}")))?;
        crate::kshape::known(&self.layer, s, s.len().saturating_sub(1), "channel dimension")
    }

    /// Keras's `add_weight(name, shape, initializer, trainable)`; returns its handle index.
    pub fn add_weight(&mut self, name: &str, shape: &[usize], initializer: &str, trainable: bool) -> Result<usize> {
        let init = Initializer::from_name(initializer).ok_or_else(|| {
            arg_error(
                &self.layer,
                "initializer",
                format!("one of {}", crate::initializers::NAMES),
                initializer,
            )
        })?;
        self.add_weight_with(name, shape, &init, trainable)
    }

    /// `add_weight` with an initializer value.
    pub fn add_weight_with(
        &mut self,
        name: &str,
        shape: &[usize],
        init: &Initializer,
        trainable: bool,
    ) -> Result<usize> {
        let value = init.generate(&self.layer, shape, self.rng)?;
        self.weights.push(if trainable {
            Weight::trainable(name, value)
        } else {
            Weight::non_trainable(name, value)
        });
        self.order.push(Slot::Weight(self.weights.len() - 1));
        Ok(self.order.len() - 1)
    }

    /// Builds a sub-layer (a Keras layer attribute) for input shapes; returns its handle
    /// index and its output shapes. It is named automatically unless its config has a name.
    pub fn add_layer(&mut self, config: &dyn LayerConfig, input_shapes: &[Shape]) -> Result<(usize, Vec<Shape>)> {
        let name = config
            .name()
            .map(str::to_string)
            .unwrap_or_else(|| crate::model::session::auto_name(&super::snake_case(config.class_name())));
        let child = config.build(&name, input_shapes, self.rng)?;
        let out = child.compute_output_shape(input_shapes)?;
        self.children.push(child);
        self.order.push(Slot::Child(self.children.len() - 1));
        Ok((self.order.len() - 1, out))
    }
}

/// This layer's weights and sub-layers during `call`, by the index `add_weight` /
/// `add_layer` returned.
pub struct Handles<'a> {
    layer: &'a str,
    order: &'a [Slot],
    weight_vars: Vec<Var>,
    children: &'a [Box<dyn Layer>],
    child_vars: Vec<Vec<Var>>,
}

impl Handles<'_> {
    /// The tape variable of weight `k`.
    pub fn weight(&self, k: usize) -> Result<Var> {
        match self.order.get(k) {
            Some(Slot::Weight(i)) => Ok(self.weight_vars[*i]),
            _ => Err(KerasError::Invalid(format!(
                "{}: handle {k} is not a weight",
                self.layer
            ))),
        }
    }

    /// Calls sub-layer `k` on inputs.
    pub fn call_layer(&self, ctx: &mut CallCtx, k: usize, inputs: &[Var]) -> Result<Vec<Var>> {
        match self.order.get(k) {
            Some(Slot::Child(i)) => self.children[*i].call(ctx, inputs, &self.child_vars[*i]),
            _ => Err(KerasError::Invalid(format!(
                "{}: handle {k} is not a layer",
                self.layer
            ))),
        }
    }

    /// Calls sub-layer `k` on one input; its one output.
    pub fn call1(&self, ctx: &mut CallCtx, k: usize, input: Var) -> Result<Var> {
        self.call_layer(ctx, k, &[input])?
            .into_iter()
            .next()
            .ok_or_else(|| KerasError::Invalid(format!("{}: sub-layer {k} gave no output", self.layer)))
    }
}

/// A [`CustomLayer`] before `build`: use it like any layer config.
#[derive(Clone)]
pub struct Custom<T: CustomLayer> {
    inner: T,
    name: Option<String>,
}

/// A [`CustomLayer`] after `build`, with its weights and sub-layers.
#[derive(Clone)]
pub struct CustomBuilt<T: CustomLayer> {
    inner: T,
    name: String,
    trainable: bool,
    weights: Vec<Weight>,
    children: Vec<Box<dyn Layer>>,
    order: Vec<Slot>,
}

impl<T: CustomLayer> Custom<T> {
    /// Wraps a user layer.
    pub fn new(inner: T) -> Custom<T> {
        Custom { inner, name: None }
    }

    /// Sets the name.
    pub fn named(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }
}

impl<T: CustomLayer> CustomBuilt<T> {
    /// The user's value.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// Sub-layers, in the order they were added.
    pub fn sublayers(&self) -> &[Box<dyn Layer>] {
        &self.children
    }
}

impl<T: CustomLayer> LayerConfig for Custom<T> {
    fn class_name(&self) -> &str {
        self.inner.class_name()
    }
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    fn set_name(&mut self, name: String) {
        self.name = Some(name);
    }
    fn build(&self, name: &str, inputs: &[Shape], rng: &mut Rng) -> Result<Box<dyn Layer>> {
        let mut inner = self.inner.clone();
        let mut b = Builder {
            layer: name.to_string(),
            weights: Vec::new(),
            children: Vec::new(),
            order: Vec::new(),
            rng,
        };
        inner.build(inputs, &mut b)?;
        inner.compute_output_shape(inputs)?;
        Ok(Box::new(CustomBuilt {
            inner,
            name: name.to_string(),
            trainable: true,
            weights: b.weights,
            children: b.children,
            order: b.order,
        }))
    }
}

impl<T: CustomLayer> Layer for CustomBuilt<T> {
    fn name(&self) -> &str {
        &self.name
    }
    fn class_name(&self) -> &str {
        self.inner.class_name()
    }
    fn trainable(&self) -> bool {
        self.trainable
    }
    fn set_trainable(&mut self, trainable: bool) {
        self.trainable = trainable;
    }
    fn weights(&self) -> Vec<&Weight> {
        self.weights
            .iter()
            .chain(self.children.iter().flat_map(|c| c.weights()))
            .collect()
    }
    fn weights_mut(&mut self) -> Vec<&mut Weight> {
        self.weights
            .iter_mut()
            .chain(self.children.iter_mut().flat_map(|c| c.weights_mut()))
            .collect()
    }
    fn trainable_weight_list(&self) -> Vec<&Weight> {
        if !self.trainable {
            return Vec::new();
        }
        self.weights
            .iter()
            .filter(|w| w.trainable)
            .chain(self.children.iter().flat_map(|c| c.trainable_weight_list()))
            .collect()
    }
    fn compute_output_shape(&self, inputs: &[Shape]) -> Result<Vec<Shape>> {
        self.inner.compute_output_shape(inputs)
    }
    fn call(&self, ctx: &mut CallCtx, inputs: &[Var], weights: &[Var]) -> Result<Vec<Var>> {
        let own = self.weights.len();
        if weights.len() < own {
            return Err(KerasError::Invalid(format!(
                "{}: expected {own} or more weight variables, received {}",
                &self.name,
                weights.len()
            )));
        }
        let mut child_vars = Vec::with_capacity(self.children.len());
        let mut at = own;
        for c in &self.children {
            let n = c.weights().len();
            let slice = weights
                .get(at..at + n)
                .ok_or_else(|| KerasError::Invalid(format!("{}: too few weight variables", &self.name)))?;
            child_vars.push(slice.to_vec());
            at += n;
        }
        let h = Handles {
            layer: &self.name,
            order: &self.order,
            weight_vars: weights[..own].to_vec(),
            children: &self.children,
            child_vars,
        };
        self.inner.call(ctx, inputs, &h)
    }
    fn config(&self) -> Value {
        let mut c = self.inner.get_config();
        if let Some(o) = c.as_object_mut() {
            o.insert("name".into(), json!(&self.name));
            o.insert("trainable".into(), json!(self.trainable));
        }
        c
    }
    fn regularization(&self, tape: &mut tensor::Tape, weights: &[Var]) -> Result<Option<Var>> {
        let mut total: Option<Var> = None;
        let mut at = self.weights.len();
        for c in &self.children {
            let n = c.weights().len();
            if let Some(p) = c.regularization(tape, weights.get(at..at + n).unwrap_or(&[]))? {
                super::common::add_penalty(tape, &mut total, p)?;
            }
            at += n;
        }
        Ok(total)
    }
    fn apply_constraints(&mut self) {
        for c in &mut self.children {
            c.apply_constraints();
        }
    }
}
