//! `model.summary()`: the table Keras prints, byte for byte, in Keras 3's box style and
//! tf-keras 2's fixed-width style, plus rkeras's `--explain` lines under each layer.
//!
//! The model turns itself into a [`SummaryTable`] (symbolic shapes only, never data); the
//! renderers here know nothing of layers.

/// One dimension as the summary prints it: `None` for an unknown size (the batch).
pub type Dim = Option<usize>;

/// Which Keras's `summary()` to reproduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SummaryStyle {
    /// Keras 3.15 (`import keras`): box table, thousands separators.
    Keras3,
    /// tf-keras 2.21 (`import tf_keras`): ASCII rules, padded lines.
    Keras2,
}

/// Options of `model.summary(...)`.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryOptions {
    /// Style to reproduce.
    pub style: SummaryStyle,
    /// Total width; `None` means Keras's nominal width for the style and model kind.
    pub line_length: Option<usize>,
    /// Column stops as fractions (≤ 1) or absolute positions, as Keras's `positions`.
    pub positions: Option<Vec<f64>>,
    /// Show the layers of nested models, indented, as Keras's `expand_nested`.
    pub expand_nested: bool,
    /// Add Keras's "Trainable" column.
    pub show_trainable: bool,
    /// rkeras only: print each row's `explain` lines under it.
    pub explain: bool,
}

/// One row: one layer (or one op such as `x + y` in Keras 3).
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// Layer name as given (`conv2d_1`).
    pub name: String,
    /// Keras class name (`Conv2D`, `InputLayer`, `Functional`, `Sequential`).
    pub class_name: String,
    /// Output shapes, batch first; usually one.
    pub output_shapes: Vec<Vec<Dim>>,
    /// Number of parameters (trainable and not) of this layer.
    pub params: u64,
    /// Inbound tensors as `layer_name[node_index][tensor_index]`, in call order.
    /// Empty for an input layer.
    pub connected_to: Vec<String>,
    /// The layer's `trainable` flag (for `show_trainable`).
    pub trainable: bool,
    /// Nesting depth for `expand_nested` (0 = top level).
    pub depth: usize,
    /// For a nested model row: its own rows, shown when `expand_nested` is on.
    pub nested: Vec<SummaryRow>,
    /// Whether `nested` came from a Sequential-like model (affects nothing for Keras 3 ? see
    /// renderer) — kept for the renderer's needs.
    pub nested_is_sequential: bool,
    /// rkeras `--explain` lines (formulas) for this row; printed only with `explain`.
    pub explain: Vec<String>,
}

/// Everything `summary()` needs about a model.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryTable {
    /// Model name (`sequential`, `functional`, `model`, `vgg16`).
    pub model_name: String,
    /// True for a model Keras treats as sequential-like (Sequential, or a functional model
    /// whose every layer has one inbound node from the previous layer). Decides widths and
    /// whether "Connected to" is shown.
    pub sequential_like: bool,
    /// True when the top-level model is a `Sequential` (Keras 3 hides its InputLayer row).
    pub is_sequential: bool,
    /// Rows in Keras order.
    pub rows: Vec<SummaryRow>,
    /// Parameter totals.
    pub total_params: u64,
    /// Trainable parameter count.
    pub trainable_params: u64,
    /// Non-trainable parameter count.
    pub non_trainable_params: u64,
}
