//! `Sequential`: a stack of layers, each fed by the previous one. It builds a graph through
//! the same machinery as the Functional API, so a Sequential model *is* a [`Model`].
//!
//! ```
//! use rkeras::prelude::*;
//! clear_session();
//! let model = Sequential::new()
//!     .add(InputLayer::new(&[28, 28, 1]))
//!     .add(Conv2D::new(32, 3).activation("relu"))
//!     .add(Conv2D::new(64, 3).activation("relu"))
//!     .build()
//!     .unwrap();
//! assert_eq!(model.count_params(), 320 + 18_496);
//! ```

use super::functional::{build_from_session, Call};
use super::session::{auto_name, KerasTensor};
use super::{Model, ModelKind};
use crate::error::{KerasError, Result};
use crate::layers::input::{InputLayer, InputLayerConfig};
use crate::layers::LayerConfig;

/// `Sequential([...])` from a list: `sequential![InputLayer::new(&[4]), Dense::new(2)]` is
/// `Sequential::new().add(InputLayer::new(&[4])).add(Dense::new(2))`.
#[macro_export]
macro_rules! sequential {
    ($($layer:expr),* $(,)?) => {
        $crate::model::Sequential::new()$(.add($layer))*
    };
}

/// One entry of a Sequential stack.
enum Item {
    Input(InputLayerConfig),
    Call(Box<dyn Call>),
}

/// `Sequential([...])` being assembled; `build()` makes the [`Model`].
pub struct Sequential {
    name: String,
    items: Vec<Item>,
}

impl Default for Sequential {
    fn default() -> Self {
        Sequential::new()
    }
}

/// Anything `Sequential::add` takes: layer configs, an `InputLayer`, or a model.
pub trait SequentialItem {
    /// Wraps the value as a stack entry.
    #[doc(hidden)]
    fn into_item(self) -> SequentialEntry;
}

/// Opaque stack entry (see [`SequentialItem`]).
pub struct SequentialEntry(Item);

impl<T: LayerConfig + Clone + 'static> SequentialItem for T {
    fn into_item(self) -> SequentialEntry {
        let any: &dyn std::any::Any = &self;
        if let Some(input) = any.downcast_ref::<InputLayerConfig>() {
            return SequentialEntry(Item::Input(input.clone()));
        }
        SequentialEntry(Item::Call(Box::new(self)))
    }
}

impl SequentialItem for Model {
    fn into_item(self) -> SequentialEntry {
        SequentialEntry(Item::Call(Box::new(self)))
    }
}

impl Sequential {
    /// An empty stack named automatically (`sequential`, `sequential_1`, …) now, as Keras
    /// names a model when it is constructed.
    pub fn new() -> Sequential {
        Sequential {
            name: auto_name("sequential"),
            items: Vec::new(),
        }
    }

    /// An empty stack with a name.
    pub fn named(name: &str) -> Sequential {
        Sequential {
            name: name.to_string(),
            items: Vec::new(),
        }
    }

    /// `model.add(layer)`.
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, item: impl SequentialItem) -> Sequential {
        self.items.push(item.into_item().0);
        self
    }

    /// `model.pop()`: removes the last layer.
    pub fn pop(mut self) -> Result<Sequential> {
        if self.items.pop().is_none() {
            return Err(KerasError::Invalid(format!(
                "{}: there are no layers in the model to pop",
                self.name
            )));
        }
        Ok(self)
    }

    /// Builds the model; the first entry must be an `InputLayer` (Keras's `Input(shape)` or
    /// `input_shape=`).
    pub fn build(self) -> Result<Model> {
        let mut items = self.items.into_iter();
        let input = match items.next() {
            Some(Item::Input(cfg)) => cfg,
            _ => {
                return Err(KerasError::Graph {
                    model: self.name,
                    detail: "the model has no input shape: start it with InputLayer::new(shape) (Keras: Input(shape) or input_shape=) or use build_with_input".into(),
                })
            }
        };
        build_stack(&self.name, input, items.collect())
    }

    /// Builds the model for an input shape (without the batch), as Keras's `model.build`.
    pub fn build_with_input(self, shape: &[usize]) -> Result<Model> {
        let mut items: Vec<Item> = self.items;
        if matches!(items.first(), Some(Item::Input(_))) {
            items.remove(0);
        }
        build_stack(&self.name, InputLayer::new(shape), items)
    }
}

impl Sequential {
    /// Builds the model on a given input (its sizes may be unknown, `None`): Keras's
    /// deferred build when a Sequential without an `Input` is called on a tensor.
    pub fn build_on(self, input: InputLayerConfig) -> Result<Model> {
        let mut items: Vec<Item> = self.items;
        if matches!(items.first(), Some(Item::Input(_))) {
            items.remove(0);
        }
        build_stack(&self.name, input, items)
    }
}

fn build_stack(name: &str, input: InputLayerConfig, items: Vec<Item>) -> Result<Model> {
    let inp = input.tensor()?;
    let mut x: KerasTensor = inp.clone();
    for item in items {
        x = match item {
            Item::Input(_) => {
                return Err(KerasError::Graph {
                    model: name.to_string(),
                    detail: "an InputLayer can only be the first layer of a Sequential model".into(),
                })
            }
            Item::Call(layer) => {
                let outs = layer.call_outputs(&[&x])?;
                if outs.len() != 1 {
                    return Err(KerasError::Graph {
                        model: name.to_string(),
                        detail: format!(
                            "all layers in a Sequential model should have a single output tensor; a layer has {}",
                            outs.len()
                        ),
                    });
                }
                outs.into_iter()
                    .next()
                    .ok_or_else(|| KerasError::Invalid("no output".into()))?
            }
        };
    }
    build_from_session(name, ModelKind::Sequential, &[&inp], &[&x])
}
