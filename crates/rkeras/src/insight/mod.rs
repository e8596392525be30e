//! See inside a model: per layer call, its receptive field (size, jump, start), FLOPs as
//! TensorFlow's profiler counts them, MACs as torchinfo counts them, activation memory, and
//! the estimate of a training step's memory; each with the arithmetic `--explain` prints.
//! Works from symbolic shapes and configs only, never runs data, except [`visualize`] (feature
//! maps, filters, Grad-CAM), which runs the model. Pictures: `plot_model` ([`plot`], [`svg`],
//! PNGs by [`render`]), training curves ([`history_plot`]) and [`pictures`] for what
//! [`visualize`] returns.
//!
//! ```
//! use rkeras::applications::{by_name, AppOptions};
//! use rkeras::insight::{analyze, Field};
//! rkeras::clear_session();
//! let vgg = by_name("VGG16", &AppOptions::default()).unwrap();
//! let insight = analyze(&vgg).unwrap();
//! let pool5 = insight.nodes.iter().find(|n| n.name == "block5_pool").unwrap();
//! let Field::Spatial { h, .. } = &pool5.field else { panic!() };
//! assert_eq!((h.size, h.jump), (212, 32));
//! ```

pub mod cost;
pub mod geometry;
pub mod history_file;
pub mod history_plot;
pub mod memory;
pub mod pictures;
pub mod plot;
pub mod receptive;
pub mod reference;
pub mod render;
pub mod report;
pub mod svg;
pub mod text_width;
pub mod verify;
pub mod visualize;

use crate::error::Result;
use crate::kshape::Shape;
use crate::model::Model;
pub use receptive::{AxisField, Field};

/// What one call of a layer costs and sees.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeInsight {
    /// Index of the layer in [`Model::all_layers`].
    pub layer: usize,
    /// Layer name.
    pub name: String,
    /// Keras class name.
    pub class_name: String,
    /// Receptive field of the call's output with respect to the model input.
    pub field: Field,
    /// `--explain` lines of the receptive field.
    pub field_lines: Vec<String>,
    /// TF-profiler FLOPs at batch 1 (`None`: not counted for this layer).
    pub flops: Option<u64>,
    /// Arithmetic of the FLOPs.
    pub flops_line: String,
    /// torchinfo Mult-Adds at batch 1.
    pub macs: u64,
    /// Arithmetic of the MACs.
    pub macs_line: String,
    /// Output elements per sample (all outputs); `None` when a dimension is unknown.
    pub activations: Option<u64>,
    /// Output shapes (batch first).
    pub output_shapes: Vec<Shape>,
    /// The layer's parameters (counted for its first call only).
    pub params: u64,
}

/// The whole model's insight: one entry per layer call, in execution order, and totals.
#[derive(Debug, Clone, PartialEq)]
pub struct Insight {
    /// Model name.
    pub model_name: String,
    /// Every call except the model's input layers.
    pub nodes: Vec<NodeInsight>,
    /// Sum of the FLOPs that are counted.
    pub total_flops: u64,
    /// Layers whose FLOPs no rule counts (they are left out of the total).
    pub uncounted_flops: Vec<String>,
    /// Sum of the MACs.
    pub total_macs: u64,
    /// Elements per sample of every layer output (inputs included), for memory.
    pub total_activations: u64,
    /// Elements per sample of the model inputs.
    pub input_elements: u64,
    /// `count_params()`.
    pub params: u64,
    /// Trainable parameters.
    pub trainable_params: u64,
}

/// Analyzes `model` (nested models are followed inside).
pub fn analyze(model: &Model) -> Result<Insight> {
    let inputs: Vec<Field> = model.input_shapes().iter().map(|_| Field::input()).collect();
    let (nodes, _) = walk(model, &inputs)?;
    let input_elements: u64 = model.input_shapes().iter().filter_map(cost::per_sample).sum();
    let total_flops = nodes.iter().filter_map(|n| n.flops).sum();
    let uncounted_flops = nodes
        .iter()
        .filter(|n| n.flops.is_none())
        .map(|n| n.name.clone())
        .collect();
    let trainable: u64 = model.trainable_weights().iter().map(|w| w.count()).sum();
    Ok(Insight {
        model_name: model.name().to_string(),
        total_flops,
        uncounted_flops,
        total_macs: nodes.iter().map(|n| n.macs).sum(),
        total_activations: input_elements + nodes.iter().filter_map(|n| n.activations).sum::<u64>(),
        input_elements,
        params: model.count_params(),
        trainable_params: trainable,
        nodes,
    })
}

/// Walks a model's calls with the fields of its inputs; returns the calls' insight and the
/// fields of the model's outputs.
fn walk(model: &Model, input_fields: &[Field]) -> Result<(Vec<NodeInsight>, Vec<Field>)> {
    let graph = model.nodes();
    let mut fields: Vec<Vec<Field>> = vec![Vec::new(); graph.len()];
    for (k, &n) in model.inputs.iter().enumerate() {
        fields[n] = vec![input_fields.get(k).cloned().unwrap_or_else(Field::input)];
    }
    let mut seen_layer = vec![false; model.all_layers().len()];
    let mut out = Vec::new();
    for (i, node) in graph.iter().enumerate() {
        if model.inputs.contains(&i) {
            continue;
        }
        let layer = model.all_layers()[node.layer].as_ref();
        let in_shapes: Vec<Shape> = node
            .inputs
            .iter()
            .map(|&(src, idx)| graph[src].output_shapes[idx].clone())
            .collect();
        let in_fields: Vec<Field> = node
            .inputs
            .iter()
            .map(|&(src, idx)| {
                fields[src]
                    .get(idx)
                    .or(fields[src].first())
                    .cloned()
                    .unwrap_or_else(Field::input)
            })
            .collect();
        let params = if seen_layer[node.layer] {
            0
        } else {
            layer.count_params()
        };
        seen_layer[node.layer] = true;
        let activations = node
            .output_shapes
            .iter()
            .map(cost::per_sample)
            .try_fold(0u64, |a, n| n.map(|n| a + n));
        let entry = if let Some(inner) = layer.as_model() {
            let (inner_nodes, inner_out) = walk(inner, &in_fields)?;
            let flops: Option<u64> = inner_nodes.iter().map(|n| n.flops).sum();
            let macs: u64 = inner_nodes.iter().map(|n| n.macs).sum();
            let inner_act: Option<u64> = inner_nodes.iter().map(|n| n.activations).sum();
            fields[i] = inner_out.clone();
            NodeInsight {
                layer: node.layer,
                name: layer.name().to_string(),
                class_name: layer.class_name().to_string(),
                field: inner_out.first().cloned().unwrap_or_else(Field::input),
                field_lines: vec![format!(
                    "RF: through the {} layers of nested model {}",
                    inner_nodes.len(),
                    inner.name()
                )],
                flops,
                flops_line: format!("FLOPs: sum over nested model {}", inner.name()),
                macs,
                macs_line: format!("MACs: sum over nested model {}", inner.name()),
                activations: inner_act,
                output_shapes: node.output_shapes.clone(),
                params,
            }
        } else {
            let config = layer.config();
            let op = match in_shapes.first() {
                Some(s) => geometry::spatial_op(layer.name(), layer.class_name(), &config, s)?,
                None => geometry::SpatialOp::Pointwise,
            };
            let (field, field_lines) = receptive::propagate(&op, &in_fields);
            fields[i] = vec![field.clone(); node.output_shapes.len().max(1)];
            let f = cost::flops(layer, &config, &in_shapes, &node.output_shapes);
            let m = cost::macs(layer, &config, &node.output_shapes);
            NodeInsight {
                layer: node.layer,
                name: layer.name().to_string(),
                class_name: layer.class_name().to_string(),
                field,
                field_lines,
                flops: f.value,
                flops_line: f.line,
                macs: m.value.unwrap_or(0),
                macs_line: m.line,
                activations,
                output_shapes: node.output_shapes.clone(),
                params,
            }
        };
        out.push(entry);
    }
    let outs = model
        .outputs
        .iter()
        .map(|&(n, idx)| {
            fields[n]
                .get(idx)
                .or(fields[n].first())
                .cloned()
                .unwrap_or_else(Field::input)
        })
        .collect();
    Ok((out, outs))
}
