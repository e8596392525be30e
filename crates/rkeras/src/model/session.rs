//! The symbolic session: Keras's global state, per thread. It hands out automatic names
//! (`conv2d`, `conv2d_1`, …) and records every layer call on symbolic tensors, so that
//! `Model::new(inputs, outputs)` can find the graph between them. `clear_session()` resets
//! both, as Keras's `keras.backend.clear_session()`.

use crate::error::{KerasError, Result};
use crate::kshape::Shape;
use crate::layers::Layer;
use std::cell::RefCell;
use std::collections::HashMap;

/// A symbolic tensor: the output `index` of a recorded call `node`, with its shape.
#[derive(Debug, Clone, PartialEq)]
pub struct KerasTensor {
    pub(crate) node: usize,
    pub(crate) index: usize,
    pub(crate) shape: Shape,
    pub(crate) epoch: u64,
}

impl KerasTensor {
    /// The symbolic shape, batch first (`(None, 28, 28, 1)`).
    pub fn shape(&self) -> &Shape {
        &self.shape
    }
}

/// One recorded call of a layer on symbolic tensors.
pub(crate) struct SessionNode {
    pub layer: usize,
    pub inputs: Vec<(usize, usize)>,
    pub output_shapes: Vec<Shape>,
    /// This call's position among the layer's calls (`conv2d[1][0]` → 1).
    pub node_index: usize,
}

pub(crate) struct Session {
    pub layers: Vec<Box<dyn Layer>>,
    pub rng: tensor::Rng,
    pub layer_calls: Vec<usize>,
    pub nodes: Vec<SessionNode>,
    names: HashMap<String, usize>,
    pub epoch: u64,
}

impl Default for Session {
    fn default() -> Session {
        Session {
            layers: Vec::new(),
            rng: tensor::Rng::new(1337),
            layer_calls: Vec::new(),
            nodes: Vec::new(),
            names: HashMap::new(),
            epoch: 0,
        }
    }
}

thread_local! {
    static SESSION: RefCell<Session> = RefCell::new(Session::default());
}

pub(crate) fn with_session<R>(f: impl FnOnce(&mut Session) -> R) -> R {
    SESSION.with(|s| f(&mut s.borrow_mut()))
}

/// Resets automatic naming and forgets all symbolic tensors, as Keras's `clear_session()`.
pub fn clear_session() {
    with_session(|s| {
        let epoch = s.epoch + 1;
        *s = Session::default();
        s.epoch = epoch;
    });
}

/// The next automatic name for a stem (`conv2d` → `conv2d`, then `conv2d_1`, …).
pub fn auto_name(stem: &str) -> String {
    with_session(|s| {
        let n = s.names.entry(stem.to_string()).or_insert(0);
        let name = if *n == 0 {
            stem.to_string()
        } else {
            format!("{stem}_{n}")
        };
        *n += 1;
        name
    })
}

impl Session {
    /// Records a call of layer `layer` (already in the arena) on `inputs`.
    pub fn record_call(&mut self, layer: usize, inputs: &[&KerasTensor]) -> Result<Vec<KerasTensor>> {
        for t in inputs {
            if t.epoch != self.epoch || t.node >= self.nodes.len() {
                return Err(KerasError::Invalid(
                    "a symbolic tensor from before clear_session() (or from another thread) was used".into(),
                ));
            }
        }
        let shapes: Vec<Shape> = inputs.iter().map(|t| t.shape.clone()).collect();
        let output_shapes = self.layers[layer].compute_output_shape(&shapes)?;
        let node_index = self.layer_calls[layer];
        self.layer_calls[layer] += 1;
        self.nodes.push(SessionNode {
            layer,
            inputs: inputs.iter().map(|t| (t.node, t.index)).collect(),
            output_shapes: output_shapes.clone(),
            node_index,
        });
        let node = self.nodes.len() - 1;
        Ok((0..output_shapes.len())
            .map(|i| KerasTensor {
                node,
                index: i,
                shape: output_shapes[i].clone(),
                epoch: self.epoch,
            })
            .collect())
    }

    /// Adds a built layer to the arena.
    pub fn add_layer(&mut self, layer: Box<dyn Layer>) -> usize {
        self.layers.push(layer);
        self.layer_calls.push(0);
        self.layers.len() - 1
    }
}
