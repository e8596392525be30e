//! `rkeras convert IN OUT [--weights W]`: moves a model between `.keras`, legacy `.h5`,
//! `.weights.h5`, `.safetensors` and `.json` (architecture only), by extension. IN must hold
//! an architecture (`.keras`, `.h5`, `.json`); weights come from IN or from `--weights`.
//! A JSON config alone has no weights, so it converts only to `.json` unless `--weights`
//! is given. IN may also be an application name (`rkeras convert VGG16 vgg16.keras
//! --weights imagenet`).

use crate::modelfile::{self, Format};
use rkeras::Result;

/// Arguments of `rkeras convert`.
#[derive(clap::Args)]
pub struct ConvertArgs {
    /// The model to read: `.keras`, `.h5`, `.json`, or an application name.
    pub input: String,
    /// The file to write: `.keras`, `.h5`, `.weights.h5`, `.safetensors` or `.json`.
    pub output: String,
    /// Weights to load into the model first (`.weights.h5`, `.h5`, `.safetensors`); for an
    /// application also `imagenet`.
    #[arg(long, value_name = "FILE")]
    pub weights: Option<String>,
    /// Options of an application IN.
    #[command(flatten)]
    pub app: crate::app_args::AppArgs,
}

/// Runs `rkeras convert`.
pub fn run(a: ConvertArgs) -> Result<()> {
    let target = Format::of(&a.output)?;
    let model = modelfile::load_or_build(&a.input, &a.app, a.weights.as_deref(), target.has_weights())?;
    modelfile::save(&model, &a.output)?;
    println!("{} -> {}", a.input, a.output);
    Ok(())
}
