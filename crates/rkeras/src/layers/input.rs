//! `InputLayer` and Keras's `Input(shape)`: where a model's data enters. No weights; the
//! output shape is the declared `batch_shape` (`(None, 28, 28, 1)`).

use super::{CallCtx, Layer, LayerConfig, Weight};
use crate::config::ConfigReader;
use crate::error::{arg_error, Result};
use crate::kshape::{format_shape, Shape};
use crate::model::session::{auto_name, with_session, KerasTensor};
use serde_json::{json, Value};
use tensor::{Rng, Var};

/// `InputLayer(shape=…, batch_size=None, name=None)`.
#[derive(Debug, Clone, PartialEq)]
pub struct InputLayerConfig {
    /// Full shape with the batch (`[None, 28, 28, 1]`).
    pub batch_shape: Shape,
    /// Name; automatic (`input_layer`, `input_layer_1`, …) when `None`.
    pub name: Option<String>,
}

/// The built input layer.
#[derive(Debug, Clone, PartialEq)]
pub struct InputLayer {
    name: String,
    batch_shape: Shape,
}

impl InputLayer {
    /// `InputLayer(shape=shape)`: batch unknown, every other dimension known.
    #[allow(clippy::new_ret_no_self)] // Keras style: `InputLayer::new(..)` is the config.
    pub fn new(shape: &[usize]) -> InputLayerConfig {
        InputLayerConfig {
            batch_shape: crate::kshape::batched(shape),
            name: None,
        }
    }

    /// An input with some unknown dimensions (`(None, None, 3)` for any image size).
    pub fn with_dims(shape: &[Option<usize>]) -> InputLayerConfig {
        InputLayerConfig {
            batch_shape: std::iter::once(None).chain(shape.iter().copied()).collect(),
            name: None,
        }
    }

    /// The declared shape with the batch.
    pub fn batch_shape(&self) -> &Shape {
        &self.batch_shape
    }
}

impl InputLayerConfig {
    /// Sets the name.
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }

    /// Sets a fixed batch size.
    pub fn batch_size(mut self, n: usize) -> Self {
        if let Some(b) = self.batch_shape.first_mut() {
            *b = Some(n);
        }
        self
    }

    /// Reads Keras 3 (`batch_shape`) or Keras 2 (`batch_input_shape`) JSON.
    pub fn from_keras(r: &ConfigReader) -> Result<InputLayerConfig> {
        r.check_dtype()?;
        let batch_shape = match r.dims("batch_shape")? {
            Some(s) => s,
            None => match r.dims("batch_input_shape")? {
                Some(s) => s,
                None => match r.dims("shape")? {
                    Some(s) => std::iter::once(None).chain(s).collect(),
                    None => return Err(r.missing("batch_shape")),
                },
            },
        };
        if batch_shape.is_empty() {
            return Err(arg_error(&r.layer, "batch_shape", "at least the batch dimension", "()"));
        }
        Ok(InputLayerConfig {
            batch_shape,
            name: r.name(),
        })
    }

    /// Builds the layer and records its one call, giving the symbolic tensor.
    pub fn tensor(&self) -> Result<KerasTensor> {
        let name = self.name.clone().unwrap_or_else(|| auto_name("input_layer"));
        let layer = self.build(&name, &[], &mut Rng::new(0))?;
        with_session(|s| {
            let id = s.add_layer(layer);
            s.record_call(id, &[]).map(|mut v| v.remove(0))
        })
    }
}

/// Keras's `Input(shape)`: a symbolic tensor `(None, *shape)` to call layers on.
#[allow(non_snake_case)]
pub fn Input(shape: &[usize]) -> Result<KerasTensor> {
    InputLayer::new(shape).tensor()
}

impl LayerConfig for InputLayerConfig {
    fn class_name(&self) -> &'static str {
        "InputLayer"
    }
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    fn set_name(&mut self, name: String) {
        self.name = Some(name);
    }
    fn build(&self, name: &str, inputs: &[Shape], _rng: &mut Rng) -> Result<Box<dyn Layer>> {
        if !inputs.is_empty() {
            return Err(arg_error(
                name,
                "inputs",
                "no input (an InputLayer starts a graph)",
                format!("{} inputs", inputs.len()),
            ));
        }
        if self.batch_shape.iter().skip(1).any(|d| *d == Some(0)) {
            return Err(arg_error(
                name,
                "shape",
                "positive dimensions",
                format_shape(&self.batch_shape),
            ));
        }
        Ok(Box::new(InputLayer {
            name: name.to_string(),
            batch_shape: self.batch_shape.clone(),
        }))
    }
}

impl Layer for InputLayer {
    fn name(&self) -> &str {
        &self.name
    }
    fn class_name(&self) -> &str {
        "InputLayer"
    }
    fn trainable(&self) -> bool {
        true
    }
    fn set_trainable(&mut self, _trainable: bool) {}
    fn weights(&self) -> Vec<&Weight> {
        Vec::new()
    }
    fn weights_mut(&mut self) -> Vec<&mut Weight> {
        Vec::new()
    }
    fn compute_output_shape(&self, _inputs: &[Shape]) -> Result<Vec<Shape>> {
        Ok(vec![self.batch_shape.clone()])
    }
    fn call(&self, _ctx: &mut CallCtx, inputs: &[Var], _weights: &[Var]) -> Result<Vec<Var>> {
        Ok(inputs.to_vec())
    }
    fn config(&self) -> Value {
        json!({
            "batch_shape": self.batch_shape,
            "dtype": "float32",
            "sparse": false,
            "ragged": false,
            "name": self.name,
            "optional": false,
        })
    }
}
