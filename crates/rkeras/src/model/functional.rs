//! The Functional API: call layers on symbolic tensors, then `Model::new(inputs, outputs)`
//! finds the graph between them and orders layers exactly as Keras does (its `map_graph`:
//! depth from the outputs, ties broken by first visit in a depth-first walk from the outputs).

use super::session::{auto_name, with_session, KerasTensor};
use super::{Layers, Model, ModelKind, ModelNode};
use crate::error::{KerasError, Result};
use crate::kshape::{format_shape, Shape};
use crate::layers::{snake_case, LayerConfig};
use std::collections::{HashMap, HashSet};
use tensor::Rng;

/// Something that can be called on symbolic tensors: a layer config, or a model (nested).
pub trait Call {
    /// Calls on several inputs (`Add`, `Concatenate`, multi-input models); all outputs.
    fn call_outputs(&self, inputs: &[&KerasTensor]) -> Result<Vec<KerasTensor>>;

    /// Calls on one input; the first output.
    fn call(&self, input: &KerasTensor) -> Result<KerasTensor> {
        self.call_many(&[input])
    }

    /// Calls on several inputs; the first output.
    fn call_many(&self, inputs: &[&KerasTensor]) -> Result<KerasTensor> {
        let mut outs = self.call_outputs(inputs)?;
        if outs.is_empty() {
            return Err(KerasError::Invalid("a layer call gave no output".into()));
        }
        Ok(outs.swap_remove(0))
    }
}

impl<T: LayerConfig + Clone + 'static> Call for T {
    fn call_outputs(&self, inputs: &[&KerasTensor]) -> Result<Vec<KerasTensor>> {
        let name = self
            .name()
            .map(str::to_string)
            .unwrap_or_else(|| auto_name(&snake_case(self.class_name())));
        let shapes: Vec<Shape> = inputs.iter().map(|t| t.shape.clone()).collect();
        let mut rng = with_session(|s| s.rng.fork());
        let layer = self.build(&name, &shapes, &mut rng)?;
        with_session(|s| {
            let id = s.add_layer(layer);
            s.record_call(id, inputs)
        })
    }
}

/// A layer called more than once, sharing its weights (Keras: `shared = Dense(8)`, then
/// `shared(a)`, `shared(b)`).
///
/// ```
/// use rkeras::prelude::*;
/// clear_session();
/// let (a, b) = (Input(&[16]).unwrap(), Input(&[16]).unwrap());
/// let shared = Shared::new(Dense::new(8));
/// let (ha, hb) = (shared.call(&a).unwrap(), shared.call(&b).unwrap());
/// let model = Model::new(&[&a, &b], &[&ha, &hb], None).unwrap();
/// assert_eq!(model.count_params(), 16 * 8 + 8);
/// ```
pub struct Shared {
    config: Box<dyn LayerConfig>,
    built: std::cell::Cell<Option<(u64, usize)>>,
}

impl Shared {
    /// Wraps a layer config to be called several times.
    pub fn new(config: impl LayerConfig + 'static) -> Shared {
        Shared {
            config: Box::new(config),
            built: std::cell::Cell::new(None),
        }
    }
}

impl Call for Shared {
    fn call_outputs(&self, inputs: &[&KerasTensor]) -> Result<Vec<KerasTensor>> {
        let epoch = with_session(|s| s.epoch);
        if let Some((e, id)) = self.built.get() {
            if e == epoch {
                return with_session(|s| s.record_call(id, inputs));
            }
        }
        let name = self
            .config
            .name()
            .map(str::to_string)
            .unwrap_or_else(|| auto_name(&snake_case(self.config.class_name())));
        let shapes: Vec<Shape> = inputs.iter().map(|t| t.shape.clone()).collect();
        let mut rng = with_session(|s| s.rng.fork());
        let layer = self.config.build(&name, &shapes, &mut rng)?;
        with_session(|s| {
            let id = s.add_layer(layer);
            self.built.set(Some((epoch, id)));
            s.record_call(id, inputs)
        })
    }
}

impl Call for Model {
    fn call_outputs(&self, inputs: &[&KerasTensor]) -> Result<Vec<KerasTensor>> {
        with_session(|s| {
            let id = s.add_layer(Box::new(self.clone()));
            s.record_call(id, inputs)
        })
    }
}

impl Model {
    /// `Model(inputs, outputs, name)`: the graph between symbolic tensors.
    pub fn new(inputs: &[&KerasTensor], outputs: &[&KerasTensor], name: Option<&str>) -> Result<Model> {
        let name = name.map(str::to_string).unwrap_or_else(|| auto_name("functional"));
        build_from_session(&name, ModelKind::Functional, inputs, outputs)
    }
}

pub(crate) fn build_from_session(
    name: &str,
    kind: ModelKind,
    inputs: &[&KerasTensor],
    outputs: &[&KerasTensor],
) -> Result<Model> {
    let graph_err = |detail: String| KerasError::Graph {
        model: name.to_string(),
        detail,
    };
    if outputs.is_empty() {
        return Err(graph_err("a model needs at least one output".into()));
    }
    with_session(|s| {
        for t in inputs.iter().chain(outputs) {
            if t.epoch != s.epoch || t.node >= s.nodes.len() {
                return Err(graph_err(
                    "a symbolic tensor from before clear_session() was used".into(),
                ));
            }
        }
        let input_nodes: Vec<usize> = inputs.iter().map(|t| t.node).collect();
        for (k, t) in inputs.iter().enumerate() {
            let n = &s.nodes[t.node];
            if !n.inputs.is_empty() || s.layers[n.layer].class_name() != "InputLayer" {
                return Err(graph_err(format!(
                    "input {k} must come from Input(...) (an InputLayer), received the output of layer {}",
                    s.layers[n.layer].name()
                )));
            }
        }
        // Keras's _build_map: depth-first from each output; layers numbered on first visit.
        let mut finished = HashSet::new();
        let mut in_progress = HashSet::new();
        let mut order = Vec::new();
        let mut op_index: HashMap<usize, i64> = HashMap::new();
        fn visit(
            s: &super::session::Session,
            node: usize,
            input_nodes: &[usize],
            finished: &mut HashSet<usize>,
            in_progress: &mut HashSet<usize>,
            order: &mut Vec<usize>,
            op_index: &mut HashMap<usize, i64>,
        ) -> std::result::Result<(), String> {
            if finished.contains(&node) {
                return Ok(());
            }
            if in_progress.contains(&node) {
                return Err(format!(
                    "the graph has a cycle through layer {}",
                    s.layers[s.nodes[node].layer].name()
                ));
            }
            let layer = s.nodes[node].layer;
            let next = op_index.len() as i64;
            op_index.entry(layer).or_insert(next);
            in_progress.insert(node);
            if !input_nodes.contains(&node) {
                if s.nodes[node].inputs.is_empty() {
                    return Err(format!(
                        "graph disconnected: the output depends on {} ({}), which is not one of the model's inputs",
                        s.layers[layer].name(),
                        s.layers[layer].class_name()
                    ));
                }
                for &(src, _) in &s.nodes[node].inputs {
                    visit(s, src, input_nodes, finished, in_progress, order, op_index)?;
                }
            }
            in_progress.remove(&node);
            finished.insert(node);
            order.push(node);
            Ok(())
        }
        for t in outputs {
            visit(
                s,
                t.node,
                &input_nodes,
                &mut finished,
                &mut in_progress,
                &mut order,
                &mut op_index,
            )
            .map_err(graph_err)?;
        }
        // Keras's map_graph depths.
        let mut node_depth: HashMap<usize, usize> = HashMap::new();
        let mut layer_depth: HashMap<usize, usize> = HashMap::new();
        for &node in order.iter().rev() {
            let mut depth = *node_depth.entry(node).or_insert(0);
            let layer = s.nodes[node].layer;
            depth = depth.max(*layer_depth.get(&layer).unwrap_or(&0));
            layer_depth.insert(layer, depth);
            node_depth.insert(node, depth);
            if !input_nodes.contains(&node) {
                for &(src, _) in &s.nodes[node].inputs {
                    let prev = *node_depth.get(&src).unwrap_or(&0);
                    node_depth.insert(src, prev.max(depth + 1));
                }
            }
        }
        for &n in &input_nodes {
            let layer = s.nodes[n].layer;
            if let std::collections::hash_map::Entry::Vacant(e) = layer_depth.entry(layer) {
                e.insert(0);
                op_index.insert(layer, -1);
                node_depth.insert(n, 0);
            }
        }
        let mut layers: Vec<usize> = layer_depth.keys().copied().collect();
        layers.sort_by_key(|l| (std::cmp::Reverse(layer_depth[l]), op_index[l]));
        let mut nodes: Vec<usize> = node_depth.keys().copied().collect();
        nodes.sort_by_key(|n| (std::cmp::Reverse(node_depth[n]), *n));
        // Names must be unique, as Keras requires.
        let mut seen = HashSet::new();
        for &l in &layers {
            if !seen.insert(s.layers[l].name().to_string()) {
                return Err(graph_err(format!(
                    "the name \"{}\" is used 2 times in the model; all layer names should be unique",
                    s.layers[l].name()
                )));
            }
        }
        let layer_pos: HashMap<usize, usize> = layers.iter().enumerate().map(|(i, &l)| (l, i)).collect();
        let node_pos: HashMap<usize, usize> = nodes.iter().enumerate().map(|(i, &n)| (n, i)).collect();
        let model_nodes = nodes
            .iter()
            .map(|&n| {
                let sn = &s.nodes[n];
                ModelNode {
                    layer: layer_pos[&sn.layer],
                    inputs: if input_nodes.contains(&n) {
                        Vec::new()
                    } else {
                        sn.inputs.iter().map(|&(src, i)| (node_pos[&src], i)).collect()
                    },
                    output_shapes: sn.output_shapes.clone(),
                    node_index: sn.node_index,
                    depth: node_depth[&n],
                }
            })
            .collect();
        Ok(Model {
            name: name.to_string(),
            kind,
            layers: Layers::new(layers.iter().map(|&l| s.layers[l].clone()).collect()),
            nodes: model_nodes,
            inputs: input_nodes.iter().map(|n| node_pos[n]).collect(),
            outputs: outputs.iter().map(|t| (node_pos[&t.node], t.index)).collect(),
            trainable: true,
            compiled: None,
            plans: Default::default(),
        })
    })
}

/// Output shapes of a model for other input shapes (a nested model called on a new input).
pub fn propagate_shapes(model: &Model, inputs: &[Shape]) -> Result<Vec<Shape>> {
    let declared = model.input_shapes();
    if inputs.len() != declared.len() {
        return Err(crate::error::shape_error(
            &model.name,
            format!("expected {} input(s), received {}", declared.len(), inputs.len()),
        ));
    }
    for (k, (given, want)) in inputs.iter().zip(&declared).enumerate() {
        let fits = given.len() == want.len()
            && given
                .iter()
                .zip(want)
                .all(|(g, w)| w.is_none() || g.is_none() || g == w);
        if !fits {
            return Err(crate::error::shape_error(
                &model.name,
                format!(
                    "input {k} is incompatible with the model: expected shape {}, received {}",
                    format_shape(want),
                    format_shape(given)
                ),
            ));
        }
    }
    let mut shapes: Vec<Vec<Shape>> = vec![Vec::new(); model.nodes.len()];
    for (k, &n) in model.inputs.iter().enumerate() {
        shapes[n] = vec![inputs[k].clone()];
    }
    for (i, node) in model.nodes.iter().enumerate() {
        if model.inputs.contains(&i) {
            continue;
        }
        let args: Vec<Shape> = node.inputs.iter().map(|&(src, idx)| shapes[src][idx].clone()).collect();
        shapes[i] = model.layers[node.layer].compute_output_shape(&args)?;
    }
    Ok(model.outputs.iter().map(|&(n, i)| shapes[n][i].clone()).collect())
}

/// Keras's `keras.utils.set_random_seed`: seeds the generator that initializes weights.
pub fn set_random_seed(seed: u64) {
    with_session(|s| s.rng = Rng::new(seed));
}
