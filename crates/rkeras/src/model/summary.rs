//! A model as the summary sees it: rows of names, classes, symbolic shapes, parameter
//! counts and inbound tensors ([`SummaryTable`]), for either Keras's style. Never runs data.
//!
//! tf-keras 2 names a fresh session's inputs `input_1`, `input_2`, … and functional models
//! `model`, `model_1`, … where Keras 3 says `input_layer`, `input_layer_1` and `functional`,
//! `functional_1`; with the Keras 2 style those automatic names are shown the Keras 2 way.

use super::{Model, ModelKind};
use crate::error::{KerasError, Result};
use crate::kshape::Shape;
use crate::layers::Layer;
use crate::summary::{render, SummaryOptions, SummaryRow, SummaryStyle, SummaryTable};
use std::collections::HashMap;

/// The name a layer or model shows in a given style.
pub fn display_name(name: &str, style: SummaryStyle) -> String {
    if style == SummaryStyle::Keras3 {
        return name.to_string();
    }
    let renum = |stem: &str, k2: &str, plus: usize| -> Option<String> {
        if name == stem {
            return Some(if plus == 1 { format!("{k2}_1") } else { k2.to_string() });
        }
        let n: usize = name.strip_prefix(stem)?.strip_prefix('_')?.parse().ok()?;
        Some(format!("{k2}_{}", n + plus))
    };
    renum("input_layer", "input", 1)
        .or_else(|| renum("functional", "model", 0))
        .unwrap_or_else(|| name.to_string())
}

/// tf-keras's name of an operation row: Keras 3's `add_1` → `tf.__operators__.add_1`.
fn keras2_op_name(name: &str, stem: &str) -> String {
    match name.rsplit_once('_') {
        Some((_, n)) if n.parse::<usize>().is_ok() => format!("{stem}_{n}"),
        _ => stem.to_string(),
    }
}

/// A layer's name as a style shows it (Keras 2 names automatic inputs, models and
/// operations its own way).
fn shown_name(layer: &dyn Layer, style: SummaryStyle) -> String {
    match (style, layer.keras2_display()) {
        (SummaryStyle::Keras2, Some((_, stem))) => keras2_op_name(layer.name(), stem),
        _ => display_name(layer.name(), style),
    }
}

impl Model {
    /// `model.summary(...)` as text.
    pub fn summary(&self, opts: &SummaryOptions) -> Result<String> {
        render(&self.summary_table(opts.style), opts).map_err(|e| KerasError::Invalid(e.to_string()))
    }

    /// The summary's data for a style.
    pub fn summary_table(&self, style: SummaryStyle) -> SummaryTable {
        let trainable: u64 = self.trainable_weights().iter().map(|w| w.count()).sum();
        let total = self.count_params();
        SummaryTable {
            model_name: display_name(&self.name, style),
            sequential_like: self.sequential_like(),
            is_sequential: self.kind == ModelKind::Sequential,
            rows: self.rows(style, true),
            total_params: total,
            trainable_params: trainable,
            non_trainable_params: total - trainable,
            optimizer: None,
            extra_bytes: self.extra_bytes(),
        }
    }

    /// Bytes beyond 4 per parameter (int64 weights) in the total, trainable and
    /// non-trainable sizes.
    fn extra_bytes(&self) -> [u64; 3] {
        let extra = |ws: Vec<&crate::layers::Weight>| ws.iter().map(|w| w.bytes() - 4 * w.count()).sum::<u64>();
        let total = extra(self.weights());
        let trainable = extra(self.trainable_weights());
        [total, trainable, total - trainable]
    }

    /// Keras's test for the sequential-like layout (no "Connected to" column).
    fn sequential_like(&self) -> bool {
        if self.kind == ModelKind::Sequential {
            return true;
        }
        let mut by_depth: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, n) in self.nodes.iter().enumerate() {
            by_depth.entry(n.depth).or_default().push(i);
        }
        if by_depth
            .values()
            .any(|v| v.len() > 1 || (v.len() == 1 && self.nodes[v[0]].inputs.len() > 1))
        {
            return false;
        }
        let mut calls = vec![0usize; self.layers.len()];
        for n in &self.nodes {
            calls[n.layer] += 1;
        }
        calls.iter().all(|&c| c <= 1)
    }

    fn rows(&self, style: SummaryStyle, parent_trainable: bool) -> Vec<SummaryRow> {
        (0..self.layers.len())
            .map(|li| self.row(li, style, parent_trainable))
            .collect()
    }

    fn row(&self, li: usize, style: SummaryStyle, parent_trainable: bool) -> SummaryRow {
        let layer: &dyn Layer = self.layers[li].as_ref();
        let calls: Vec<usize> = (0..self.nodes.len()).filter(|&i| self.nodes[i].layer == li).collect();
        let connected_to = calls
            .iter()
            .flat_map(|&i| self.nodes[i].inputs.iter())
            .map(|&(src, idx)| {
                let s = &self.nodes[src];
                format!(
                    "{}[{}][{idx}]",
                    shown_name(self.layers[s.layer].as_ref(), style),
                    s.node_index
                )
            })
            .collect();
        let first = calls.first().map(|&i| &self.nodes[i]);
        let output_shapes = first.map(|n| n.output_shapes.clone()).unwrap_or_default();
        let input_shapes: Vec<Shape> = first
            .map(|n| {
                n.inputs
                    .iter()
                    .map(|&(src, idx)| self.nodes[src].output_shapes[idx].clone())
                    .collect()
            })
            .unwrap_or_default();
        let trainable = parent_trainable && self.trainable && layer.trainable();
        let (nested, nested_is_sequential) = match layer.as_model() {
            Some(m) => (m.rows(style, trainable), m.kind == ModelKind::Sequential),
            None => (Vec::new(), false),
        };
        let class_name = match (style, layer.keras2_display()) {
            (SummaryStyle::Keras2, Some((class, _))) => class.to_string(),
            _ => layer.class_name().to_string(),
        };
        let name = shown_name(layer, style);
        SummaryRow {
            name,
            class_name,
            output_shapes,
            params: layer.count_params(),
            connected_to,
            trainable,
            depth: 0,
            nested,
            nested_is_sequential,
            explain: layer.explain(&input_shapes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keras2_names_for_automatic_names() {
        let k2 = SummaryStyle::Keras2;
        assert_eq!(display_name("input_layer", k2), "input_1");
        assert_eq!(display_name("input_layer_1", k2), "input_2");
        assert_eq!(display_name("functional", k2), "model");
        assert_eq!(display_name("functional_2", k2), "model_2");
        assert_eq!(display_name("conv2d_1", k2), "conv2d_1");
        assert_eq!(display_name("input_layer", SummaryStyle::Keras3), "input_layer");
    }
}
