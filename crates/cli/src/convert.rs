//! `rkeras convert IN OUT [--weights W]`: moves a model between `.keras`, legacy `.h5`,
//! `.weights.h5`, `.safetensors` and `.json` (architecture only), by extension. IN must hold
//! an architecture (`.keras`, `.h5`, `.json`); weights come from IN or from `--weights`.
//! A JSON config alone has no weights, so it converts only to `.json` unless `--weights`
//! is given.

use crate::modelfile::{self, Format};
use rkeras::Result;

/// Arguments of `rkeras convert`.
#[derive(clap::Args)]
pub struct ConvertArgs {
    /// The model to read: `.keras`, `.h5` or `.json`.
    pub input: String,
    /// The file to write: `.keras`, `.h5`, `.weights.h5`, `.safetensors` or `.json`.
    pub output: String,
    /// Weights to load into the model first (`.weights.h5`, `.h5`, `.safetensors`).
    #[arg(long, value_name = "FILE")]
    pub weights: Option<String>,
}

/// Runs `rkeras convert`.
pub fn run(a: ConvertArgs) -> Result<()> {
    let target = Format::of(&a.output)?;
    let model = modelfile::load_with_weights(&a.input, a.weights.as_deref(), target.has_weights())?;
    modelfile::save(&model, &a.output)?;
    println!("{} -> {}", a.input, a.output);
    Ok(())
}
