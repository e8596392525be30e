//! `model.summary()`: the table Keras prints, byte for byte, in Keras 3's box style and
//! tf-keras 2's fixed-width style, plus rkeras's `--explain` lines under each layer.
//!
//! The model turns itself into a [`SummaryTable`] (symbolic shapes only, never data); the
//! renderers here know nothing of layers. Rows are shown exactly as given, except that an
//! `InputLayer` row of a Sequential model (top level, or nested with
//! `nested_is_sequential`) is hidden, as Keras's `Sequential.layers` hides it.
//!
//! ```
//! use rkeras::summary::{render, SummaryOptions, SummaryRow, SummaryTable};
//! let table = SummaryTable {
//!     model_name: "sequential".into(),
//!     sequential_like: true,
//!     is_sequential: true,
//!     rows: vec![SummaryRow {
//!         name: "dense".into(),
//!         class_name: "Dense".into(),
//!         output_shapes: vec![vec![None, Some(2)]],
//!         params: 6,
//!         ..SummaryRow::default()
//!     }],
//!     total_params: 6,
//!     trainable_params: 6,
//!     ..SummaryTable::default()
//! };
//! let text = render(&table, &SummaryOptions::default()).unwrap();
//! assert!(text.contains("│ dense (Dense)"));
//! assert!(text.ends_with(" Non-trainable params: 0 (0.00 B)\n"));
//! ```

mod format;
mod keras2;
mod keras3;
mod rich;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use format::{readable_memory_size, thousands};

/// One dimension as the summary prints it: `None` for an unknown size (the batch).
pub type Dim = Option<usize>;

/// Which Keras's `summary()` to reproduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SummaryStyle {
    /// Keras 3.15 (`import keras`): box table, thousands separators.
    #[default]
    Keras3,
    /// tf-keras 2.21 (`import tf_keras`): ASCII rules, padded lines.
    Keras2,
}

/// Options of `model.summary(...)`.
///
/// As in Keras, `line_length: Some(0)` and `positions: Some(vec![])` mean "use the default".
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SummaryOptions {
    /// Style to reproduce.
    pub style: SummaryStyle,
    /// Total width; `None` means Keras's nominal width for the style and model kind
    /// (Keras 3: 88 sequential-like / 108, plus 12 with `show_trainable`; tf-keras: 65 / 98,
    /// plus 11 with `show_trainable`).
    pub line_length: Option<usize>,
    /// Column stops as fractions (≤ 1) of the line, as Keras's `positions`, one per column
    /// before the "Trainable" one. tf-keras also takes absolute character positions (whole
    /// numbers, the last one > 1); Keras 3 only fractions.
    pub positions: Option<Vec<f64>>,
    /// Show the layers of nested models, indented, as Keras's `expand_nested`.
    pub expand_nested: bool,
    /// Add Keras's "Trainable" column.
    pub show_trainable: bool,
    /// rkeras only: print each row's `explain` lines under it.
    pub explain: bool,
}

/// One row: one layer (or one op such as `x + y` in Keras 3). The default row is an
/// empty, trainable one (fields missing from JSON take these values).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SummaryRow {
    /// Layer name as given (`conv2d_1`).
    pub name: String,
    /// Keras class name (`Conv2D`, `InputLayer`, `Functional`, `Sequential`; Keras 3 ops
    /// such as `x + y` show their op class, `Add`; tf-keras shows them as `TFOpLambda`).
    pub class_name: String,
    /// Output shapes, batch first; usually one (several print as a list). Empty means the
    /// layer was never built/called: Keras 3 prints `?` and `0 (unbuilt)`, tf-keras
    /// `multiple` and `0 (unused)`. tf-keras prints an `InputLayer`'s shape as a list,
    /// `[(None, 28, 28, 1)]`; the renderer does that from `class_name`.
    pub output_shapes: Vec<Vec<Dim>>,
    /// Number of parameters (trainable and not) of this layer. Keras 3's "Trainable" column
    /// shows `-` for a row with no parameters (a layer without weights).
    pub params: u64,
    /// Inbound tensors as `layer_name[node_index][tensor_index]`, in call order, over every
    /// call of the layer inside this model (a shared layer lists all its calls). Empty for
    /// an input layer. Ignored for nested rows (Keras shows none there).
    pub connected_to: Vec<String>,
    /// The layer's `trainable` flag (for `show_trainable`); a frozen nested model freezes
    /// its layers too.
    pub trainable: bool,
    /// Nesting depth for `expand_nested` (0 = top level). Informational: the renderers
    /// take the depth from the position in the `nested` tree.
    pub depth: usize,
    /// For a nested model row: its own rows (its `layers`), shown when `expand_nested` is
    /// on. For a nested functional model that includes its `InputLayer`.
    pub nested: Vec<SummaryRow>,
    /// Whether this row is a nested `Sequential`: an `InputLayer` among its `nested` rows
    /// is then hidden, as `Sequential.layers` hides it.
    pub nested_is_sequential: bool,
    /// rkeras `--explain` lines (formulas) for this row; printed only with `explain`.
    pub explain: Vec<String>,
}

impl Default for SummaryRow {
    fn default() -> Self {
        Self {
            name: String::new(),
            class_name: String::new(),
            output_shapes: Vec::new(),
            params: 0,
            connected_to: Vec::new(),
            trainable: true,
            depth: 0,
            nested: Vec::new(),
            nested_is_sequential: false,
            explain: Vec::new(),
        }
    }
}

/// Parameters held by a built optimizer (Keras 3 prints them, and adds them to the total).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OptimizerParams {
    /// Number of optimizer variables' elements (iteration counter, learning rate, slots).
    pub count: u64,
    /// Their size in bytes (the iteration counter is an int64: 8 bytes; the rest float32).
    pub bytes: u64,
}

/// Everything `summary()` needs about a model.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SummaryTable {
    /// Model name (`sequential`, `functional`, `model`, `vgg16`).
    pub model_name: String,
    /// True for a model Keras treats as sequential-like (Sequential, or a functional model
    /// whose every depth has one node with one input tensor, and no layer called twice).
    /// Decides widths and whether "Connected to" is shown.
    pub sequential_like: bool,
    /// True when the top-level model is a `Sequential` (its InputLayer row is hidden).
    pub is_sequential: bool,
    /// Rows in Keras order.
    pub rows: Vec<SummaryRow>,
    /// Parameter totals of the model's weights (trainable + non-trainable).
    pub total_params: u64,
    /// Trainable parameter count.
    pub trainable_params: u64,
    /// Non-trainable parameter count.
    pub non_trainable_params: u64,
    /// Bytes beyond 4 per parameter (int64 weights such as Normalization's `count`) in the
    /// total, trainable and non-trainable sizes.
    #[serde(default)]
    pub extra_bytes: [u64; 3],
    /// A compiled model's built optimizer: Keras 3 adds an "Optimizer params" line and
    /// counts them in "Total params". `None` before training (and always for tf-keras).
    #[serde(default)]
    pub optimizer: Option<OptimizerParams>,
}

/// A `summary()` option that cannot be honoured.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SummaryError {
    /// An option's value is out of range for the style.
    #[error("summary: invalid `{argument}`: expected {expected}; received {received}")]
    InvalidOption {
        /// The option's name (`line_length`, `positions`).
        argument: &'static str,
        /// What the style accepts.
        expected: String,
        /// The value received, and what it leads to.
        received: String,
    },
}

/// Renders `table` as `model.summary(...)` prints it in a terminal wide enough for the table
/// (the reference files were made with `COLUMNS=200`). Every line ends with `\n`.
pub fn render(table: &SummaryTable, opts: &SummaryOptions) -> Result<String, SummaryError> {
    check_line_length(opts.line_length)?;
    match opts.style {
        SummaryStyle::Keras3 => keras3::render(table, opts, None),
        SummaryStyle::Keras2 => keras2::render(table, opts),
    }
}

/// Like [`render`], for a terminal `columns` wide: Keras 3 then defaults to
/// `min(nominal width, columns - 4)` and rich crops table lines and wraps the other lines
/// at `columns`. tf-keras ignores the terminal.
pub fn render_for_terminal(
    table: &SummaryTable,
    opts: &SummaryOptions,
    columns: usize,
) -> Result<String, SummaryError> {
    check_line_length(opts.line_length)?;
    match opts.style {
        SummaryStyle::Keras3 => keras3::render(table, opts, Some(columns)),
        SummaryStyle::Keras2 => keras2::render(table, opts),
    }
}

/// Widest line either style accepts (Keras has no limit; this keeps a typo from asking for
/// gigabytes of spaces).
const MAX_LINE_LENGTH: usize = 10_000;

/// Rejects a `line_length` beyond [`MAX_LINE_LENGTH`].
fn check_line_length(line_length: Option<usize>) -> Result<(), SummaryError> {
    match line_length {
        Some(n) if n > MAX_LINE_LENGTH => Err(SummaryError::InvalidOption {
            argument: "line_length",
            expected: format!("at most {MAX_LINE_LENGTH} characters"),
            received: n.to_string(),
        }),
        _ => Ok(()),
    }
}

/// The rows Keras lists for a model: a Sequential's `layers` leave out its `InputLayer`.
fn visible_rows(rows: &[SummaryRow], sequential: bool) -> impl Iterator<Item = &SummaryRow> {
    rows.iter()
        .filter(move |row| !(sequential && row.class_name == "InputLayer"))
}
