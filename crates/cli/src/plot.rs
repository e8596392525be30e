//! `rkeras plot MODEL -o model.svg|model.dot`: Keras's `plot_model`, drawn in pure Rust
//! (SVG) or written as Keras's `model_to_dot` text for Graphviz users (`.dot`).

use crate::{app_args, modelfile};
use clap::Args;
use rkeras::insight::plot::{to_dot, PlotOptions};
use rkeras::insight::svg::to_svg;
use rkeras::KerasError;

/// Arguments of `rkeras plot` (Keras's `plot_model` options and defaults).
#[derive(Args)]
pub struct PlotArgs {
    /// An application name (VGG16, ResNet50, LeNet5, …) or a model file.
    pub model: String,
    /// Output file: `.svg` or `.dot`.
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
    /// Resolution written into the .dot file.
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
    let text = match std::path::Path::new(&a.output).extension().and_then(|e| e.to_str()) {
        Some("svg") => to_svg(&model, &opts),
        Some("dot") => to_dot(&model, &opts),
        _ => {
            return Err(KerasError::Invalid(format!(
                "plot: output {}: expected a .svg or .dot file name",
                a.output
            )))
        }
    };
    std::fs::write(&a.output, text).map_err(|e| KerasError::Invalid(format!("plot: cannot write {}: {e}", a.output)))
}
