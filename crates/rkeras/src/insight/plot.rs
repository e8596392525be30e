//! `plot_model`'s graph: one box per layer (nested models as dashed clusters with
//! `expand_nested`), the rows Keras puts in each box, and the edges, built the way Keras 3's
//! `keras.utils.model_to_dot` builds them; and [`to_dot`], which writes it as pydot's
//! `to_string()` does (node ids are numbers in order of appearance, where Keras uses
//! Python's `id(layer)`), so that a user with Graphviz gets Keras's picture.

use crate::kshape::{format_shape, Shape};
use crate::layers::Layer;
use crate::model::{Model, ModelKind};
use std::collections::HashMap;

/// Keras's `plot_model` / `model_to_dot` options.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotOptions {
    /// Input and output shapes in each box.
    pub show_shapes: bool,
    /// The output dtype in each box.
    pub show_dtype: bool,
    /// Layer names (`model_to_dot`'s default true; `plot_model`'s false).
    pub show_layer_names: bool,
    /// `"TB"` (top to bottom) or `"LR"` (left to right).
    pub rankdir: String,
    /// Nested models drawn as clusters of their layers.
    pub expand_nested: bool,
    /// Resolution (dots per inch) of the picture.
    pub dpi: u32,
    /// The activation of layers that have one.
    pub show_layer_activations: bool,
    /// Trainable / Non-trainable for layers with weights.
    pub show_trainable: bool,
}

impl Default for PlotOptions {
    /// `model_to_dot`'s defaults.
    fn default() -> Self {
        Self {
            show_shapes: false,
            show_dtype: false,
            show_layer_names: true,
            rankdir: "TB".into(),
            expand_nested: false,
            dpi: 200,
            show_layer_activations: false,
            show_trainable: false,
        }
    }
}

/// One cell of a box's last row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// `Input shape: (None, 28, 28, 1)`.
    InputShape(String),
    /// `Output shape: …`.
    OutputShape(String),
    /// `Output dtype: float32`.
    Dtype(String),
    /// Trainable (green) or Non-trainable (red).
    Trainable(bool),
}

/// One box.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotNode {
    /// Id, unique in the graph.
    pub id: usize,
    /// Layer name (`None` without `show_layer_names`).
    pub name: Option<String>,
    /// Class name.
    pub class_name: String,
    /// `Activation: relu` row.
    pub activation: Option<String>,
    /// The last row's cells.
    pub cells: Vec<Cell>,
    /// Column span of the title row.
    pub colspan: usize,
}

/// A box or a cluster.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A layer.
    Node(PlotNode),
    /// A nested model.
    Cluster(Cluster),
}

/// A graph level: the top model or a nested one.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    /// Model name.
    pub name: String,
    /// Boxes and clusters in Keras's order.
    pub items: Vec<Item>,
    /// Edges `(from id, to id)` added at this level, in order, without repeats.
    pub edges: Vec<(usize, usize)>,
}

impl Cluster {
    /// Every node, clusters included, depth first.
    pub fn nodes(&self) -> Vec<&PlotNode> {
        let mut out = Vec::new();
        for i in &self.items {
            match i {
                Item::Node(n) => out.push(n),
                Item::Cluster(c) => out.extend(c.nodes()),
            }
        }
        out
    }
    /// Every edge, clusters included.
    pub fn all_edges(&self) -> Vec<(usize, usize)> {
        let mut out: Vec<(usize, usize)> = Vec::new();
        for i in &self.items {
            if let Item::Cluster(c) = i {
                out.extend(c.all_edges());
            }
        }
        out.extend(&self.edges);
        out
    }
}

/// Layer identity (the same layer object gets the same box, as `id(layer)` in Keras).
fn key(l: &dyn Layer) -> usize {
    l as *const dyn Layer as *const u8 as usize
}

struct Ids(HashMap<usize, usize>);

impl Ids {
    fn of(&mut self, l: &dyn Layer) -> usize {
        let n = self.0.len();
        *self.0.entry(key(l)).or_insert(n)
    }
}

fn shapes_text(shapes: &[Shape]) -> String {
    match shapes {
        [] => "?".into(),
        [s] => format_shape(s),
        many => format!(
            "[{}]",
            many.iter().map(|s| format_shape(s)).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn node_of(model: &Model, li: usize, opts: &PlotOptions, ids: &mut Ids) -> PlotNode {
    let layer = model.all_layers()[li].as_ref();
    let call = model.nodes().iter().find(|n| n.layer == li);
    let inputs: Vec<Shape> = call
        .map(|n| {
            n.inputs
                .iter()
                .map(|&(s, i)| model.nodes()[s].output_shapes[i].clone())
                .collect()
        })
        .unwrap_or_default();
    let outputs = call.map(|n| n.output_shapes.clone()).unwrap_or_default();
    let mut colspan = usize::from(opts.show_dtype) + usize::from(opts.show_trainable);
    if opts.show_shapes {
        colspan += 2;
    }
    let config = layer.config();
    let activation = if opts.show_layer_activations {
        config.get("activation").and_then(|a| a.as_str()).map(str::to_string)
    } else {
        None
    };
    let mut cells = Vec::new();
    if opts.show_shapes {
        if layer.class_name() != "InputLayer" {
            cells.push(Cell::InputShape(shapes_text(&inputs)));
        }
        cells.push(Cell::OutputShape(shapes_text(&outputs)));
    }
    if opts.show_dtype {
        cells.push(Cell::Dtype(if outputs.len() > 1 {
            format!("[{}]", vec!["'float32'"; outputs.len()].join(", "))
        } else {
            "float32".into()
        }));
    }
    if opts.show_trainable && !layer.weights().is_empty() {
        cells.push(Cell::Trainable(layer.trainable()));
    }
    PlotNode {
        id: ids.of(layer),
        name: opts.show_layer_names.then(|| layer.name().to_string()),
        class_name: layer.class_name().to_string(),
        activation,
        cells,
        colspan: colspan.max(1),
    }
}

/// The layers a level draws: a Sequential's `layers` (no InputLayer), a Functional's all.
fn drawn(model: &Model) -> Vec<usize> {
    (0..model.all_layers().len())
        .filter(|&i| !(model.kind() == ModelKind::Sequential && model.all_layers()[i].class_name() == "InputLayer"))
        .collect()
}

/// Into a nested model: the layer that produces its output `index`.
fn source(mut layer: &dyn Layer, mut index: usize) -> &dyn Layer {
    while let Some(m) = layer.as_model() {
        let Some(&(n, i)) = m.outputs.get(index) else { break };
        layer = m.all_layers()[m.nodes()[n].layer].as_ref();
        index = i;
    }
    layer
}

/// Into a nested model: its input layer `index` (Functional) or first layer (Sequential).
fn destination(mut layer: &dyn Layer, index: usize) -> &dyn Layer {
    while let Some(m) = layer.as_model() {
        let next = match m.kind() {
            ModelKind::Functional => m.inputs.get(index).map(|&n| m.nodes()[n].layer),
            ModelKind::Sequential => drawn(m).first().copied(),
        };
        let Some(li) = next else { break };
        layer = m.all_layers()[li].as_ref();
    }
    layer
}

fn level(model: &Model, opts: &PlotOptions, ids: &mut Ids) -> Cluster {
    let layers = drawn(model);
    let mut items = Vec::new();
    for &li in &layers {
        let layer = model.all_layers()[li].as_ref();
        match layer.as_model() {
            Some(inner) if opts.expand_nested => items.push(Item::Cluster(level(inner, opts, ids))),
            _ => items.push(Item::Node(node_of(model, li, opts, ids))),
        }
    }
    let mut edges: Vec<(usize, usize)> = Vec::new();
    let mut add = |a: usize, b: usize| {
        if !edges.contains(&(a, b)) {
            edges.push((a, b));
        }
    };
    if model.kind() == ModelKind::Sequential && !opts.expand_nested {
        for w in layers.windows(2) {
            let (a, b) = (model.all_layers()[w[0]].as_ref(), model.all_layers()[w[1]].as_ref());
            add(ids.of(a), ids.of(b));
        }
    } else {
        let from = if model.kind() == ModelKind::Sequential { 1 } else { 0 };
        for &li in layers.iter().skip(from) {
            let layer = model.all_layers()[li].as_ref();
            for call in model.nodes().iter().filter(|n| n.layer == li) {
                for (input_index, &(src, out)) in call.inputs.iter().enumerate() {
                    let src_layer = model.all_layers()[model.nodes()[src].layer].as_ref();
                    if model.kind() == ModelKind::Sequential && src_layer.class_name() == "InputLayer" {
                        continue;
                    }
                    if opts.expand_nested {
                        let (s, d) = (source(src_layer, out), destination(layer, input_index));
                        add(ids.of(s), ids.of(d));
                    } else {
                        add(ids.of(src_layer), ids.of(layer));
                    }
                }
            }
        }
    }
    Cluster {
        name: model.name().to_string(),
        items,
        edges,
    }
}

/// The graph Keras's `model_to_dot` draws for `model`.
pub fn graph(model: &Model, opts: &PlotOptions) -> Cluster {
    level(model, opts, &mut Ids(HashMap::new()))
}

const KEYWORDS: [&str; 6] = ["graph", "subgraph", "digraph", "node", "edge", "strict"];

fn quoted(s: &str) -> String {
    format!(
        "\"{}\"",
        s.replace('"', "\\\"").replace('\n', "\\n").replace('\r', "\\r")
    )
}

fn is_numeric(s: &str) -> bool {
    let t = s.strip_prefix('-').unwrap_or(s);
    let mut parts = t.splitn(2, '.');
    let a = parts.next().unwrap_or("");
    let b = parts.next();
    let digits = |x: &str| x.chars().all(|c| c.is_ascii_digit());
    match b {
        None => !a.is_empty() && digits(a),
        Some(b) => digits(a) && !b.is_empty() && digits(b),
    }
}

/// pydot's `any_needs_quotes`: `Some(answer)` or `None` when undecided.
fn needs_quotes(s: &str) -> Option<bool> {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
        return Some(false);
    }
    if !s.is_empty() && s.chars().all(char::is_alphanumeric) {
        return Some(s.starts_with(|c: char| c.is_ascii_digit()));
    }
    if s.chars().any(|c| c as u32 > 0x7f || c == '\0') {
        return Some(true);
    }
    if is_numeric(s) {
        return Some(false);
    }
    None
}

/// pydot's `quote_attr_if_necessary`.
fn attr(s: &str) -> String {
    if KEYWORDS.contains(&s.to_lowercase().as_str()) || needs_quotes(s) != Some(false) {
        quoted(s)
    } else {
        s.to_string()
    }
}

/// pydot's `quote_id_if_necessary`.
fn id(s: &str) -> String {
    if KEYWORDS.contains(&s.to_lowercase().as_str()) {
        return quoted(s);
    }
    let plain = match needs_quotes(s) {
        Some(q) => !q,
        None => {
            s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
    };
    if plain {
        s.to_string()
    } else {
        quoted(s)
    }
}

/// Keras's HTML label of one box.
pub fn label(n: &PlotNode) -> String {
    let mut t = String::from("<<table border=\"0\" cellborder=\"1\" bgcolor=\"black\" cellpadding=\"10\">");
    let title = match &n.name {
        Some(name) => format!("<b>{name}</b> ({})", n.class_name),
        None => format!("<b>{}</b>", n.class_name),
    };
    t.push_str(&format!(
        "<tr><td colspan=\"{}\" bgcolor=\"black\"><font point-size=\"16\" color=\"white\">{title}</font></td></tr>",
        n.colspan
    ));
    if let Some(a) = &n.activation {
        t.push_str(&format!(
            "<tr><td bgcolor=\"white\" colspan=\"{}\"><font point-size=\"14\">Activation: <b>{a}</b></font></td></tr>",
            n.colspan
        ));
    }
    if !n.cells.is_empty() {
        t.push_str("<tr>");
        for c in &n.cells {
            let white =
                |k: &str, v: &str| format!("<td bgcolor=\"white\"><font point-size=\"14\">{k}: <b>{v}</b></font></td>");
            t.push_str(&match c {
                Cell::InputShape(s) => white("Input shape", s),
                Cell::OutputShape(s) => white("Output shape", s),
                Cell::Dtype(s) => white("Output dtype", s),
                Cell::Trainable(true) => {
                    "<td bgcolor=\"forestgreen\"><font point-size=\"14\" color=\"white\"><b>Trainable</b></font></td>"
                        .into()
                }
                Cell::Trainable(false) => {
                    "<td bgcolor=\"firebrick\"><font point-size=\"14\" color=\"white\"><b>Non-trainable</b></font></td>"
                        .into()
                }
            });
        }
        t.push_str("</tr>");
    }
    t.push_str("</table>>");
    t
}

fn write_level(c: &Cluster, out: &mut String) {
    for i in &c.items {
        match i {
            Item::Node(n) => out.push_str(&format!(
                "{} [label={}, fontname=Helvetica, border=0, margin=0];\n",
                n.id,
                label(n)
            )),
            Item::Cluster(sub) => {
                out.push_str(&format!(
                    "subgraph {} {{\nstyle=dashed;\nlabel={};\nlabeljust=l;\n",
                    id(&format!("cluster_{}", sub.name)),
                    attr(&sub.name)
                ));
                write_level(sub, out);
                out.push_str("}\n");
            }
        }
    }
    for (a, b) in &c.edges {
        out.push_str(&format!("{a} -> {b} [penwidth=2];\n"));
    }
}

/// `model_to_dot(model, …).to_string()`.
pub fn to_dot(model: &Model, opts: &PlotOptions) -> String {
    let g = graph(model, opts);
    let mut out = format!(
        "digraph G {{\nrankdir={};\nconcentrate=true;\ndpi={};\nsplines=ortho;\nnode [shape=record];\n",
        attr(&opts.rankdir),
        opts.dpi
    );
    write_level(&g, &mut out);
    out.push_str("}\n");
    out
}
