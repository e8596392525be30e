//! `rkeras plot MODEL -o model.png|model.svg|model.dot`: Keras's `plot_model`, drawn in pure
//! Rust (SVG, and PNG rendered from it with the embedded font at `--dpi`) or written as
//! Keras's `model_to_dot` text for Graphviz users (`.dot`).

use crate::{app_args, modelfile};
use clap::Args;
use rkeras::insight::plot::PlotOptions;
use rkeras::KerasError;

/// Arguments of `rkeras plot` (Keras's `plot_model` options and defaults).
#[derive(Args)]
pub struct PlotArgs {
    /// An application name (VGG16, ResNet50, LeNet5, …) or a model file.
    pub model: String,
    /// Output file: `.png`, `.svg` or `.dot`.
    #[arg(short, long)]
    pub output: String,
    /// Input and output shapes in each box.
    #[arg(long)]
    pub show_shapes: bool,
    /// The output dtype in each box.
    #[arg(long)]
    pub show_dtype: bool,
    /// Layer names in each box.
    #[arg(long)]
    pub show_layer_names: bool,
    /// TB (top to bottom) or LR (left to right).
    #[arg(long, default_value = "TB")]
    pub rankdir: String,
    /// Draw nested models as clusters of their layers.
    #[arg(long)]
    pub expand_nested: bool,
    /// Resolution: a .png is dpi/72 pixels per SVG point (as Graphviz); written into a .dot.
    #[arg(long, default_value_t = 200)]
    pub dpi: u32,
    /// The activation of layers that have one.
    #[arg(long)]
    pub show_layer_activations: bool,
    /// Trainable / Non-trainable for layers with weights.
    #[arg(long)]
    pub show_trainable: bool,
    #[command(flatten)]
    pub app: app_args::AppArgs,
}

/// Writes the picture.
pub fn run(a: PlotArgs) -> rkeras::Result<()> {
    if !matches!(a.rankdir.as_str(), "TB" | "LR") {
        return Err(KerasError::Invalid(format!(
            "plot: rankdir: expected TB or LR; received {:?}",
            a.rankdir
        )));
    }
    let model = if modelfile::is_file_arg(&a.model) {
        modelfile::load(&a.model)?
    } else {
        a.app.build(&a.model, None)?
    };
    let opts = PlotOptions {
        show_shapes: a.show_shapes,
        show_dtype: a.show_dtype,
        show_layer_names: a.show_layer_names,
        rankdir: a.rankdir.clone(),
        expand_nested: a.expand_nested,
        dpi: a.dpi,
        show_layer_activations: a.show_layer_activations,
        show_trainable: a.show_trainable,
    };
    let scale = rkeras::utils::plot_model(&model, &a.output, &opts)?;
    if let Some(s) = scale.filter(|&s| s < a.dpi as f32 / 72.0 - 1e-4) {
        eprintln!(
            "rkeras: note: {} is too large at dpi {}; scaled to {:.0} dpi to fit",
            a.output,
            a.dpi,
            s * 72.0
        );
    }
    Ok(())
}

/// Arguments of `rkeras plot-history`.
#[derive(Args)]
pub struct HistoryArgs {
    /// `--history-json` files of `rkeras train` (or `json.dump(history.history)` files) and
    /// CSVLogger `.csv` files; each is one run, named after its file stem.
    #[arg(required = true)]
    pub files: Vec<String>,
    /// Output file: `.svg` or `.png`.
    #[arg(short, long)]
    pub output: String,
    /// Resolution of a .png (dpi/72 pixels per SVG point).
    #[arg(long, default_value_t = 144)]
    pub dpi: u32,
}

/// `rkeras plot-history run1.json run2.csv -o curves.png`: loss and each metric per epoch,
/// training solid and validation dashed, one colour per run.
pub fn run_history(a: HistoryArgs) -> rkeras::Result<()> {
    use rkeras::insight::history_plot::{plot_history, CurveOptions};
    let opts = CurveOptions {
        dpi: a.dpi,
        ..CurveOptions::default()
    };
    plot_history(&a.files, &a.output, &opts)
}
