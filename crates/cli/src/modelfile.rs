//! Model and weight files by extension, for `summary`, `predict` and `convert`:
//! `.keras` (Keras 3 zip), `.h5` (legacy tf-keras full model), `.weights.h5` (Keras 3
//! `save_weights`), `.safetensors` (weights named `layer/weight`), `.json` (architecture only).

use rkeras::io::keras_json::{model_from_json, model_to_json};
use rkeras::io::safetensors::{load_safetensors, save_safetensors};
use rkeras::{KerasError, Model, Result};

/// What a path holds, by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Keras 3 `.keras` zip: architecture and weights.
    Keras,
    /// Legacy tf-keras `.h5`: architecture and weights (or weights only).
    H5,
    /// Keras 3 `.weights.h5`: weights only.
    WeightsH5,
    /// safetensors: weights only.
    Safetensors,
    /// Keras JSON config: architecture only.
    Json,
}

impl Format {
    /// The format of `path`, from its extension.
    pub fn of(path: &str) -> Result<Format> {
        let lower = path.to_ascii_lowercase();
        let f = if lower.ends_with(".weights.h5") {
            Format::WeightsH5
        } else if lower.ends_with(".keras") {
            Format::Keras
        } else if lower.ends_with(".h5") || lower.ends_with(".hdf5") {
            Format::H5
        } else if lower.ends_with(".safetensors") {
            Format::Safetensors
        } else if lower.ends_with(".json") {
            Format::Json
        } else {
            return Err(KerasError::Invalid(format!(
                "{path}: unknown file type: expected .keras, .h5, .weights.h5, .safetensors or .json"
            )));
        };
        Ok(f)
    }

    /// True when the file holds weights.
    pub fn has_weights(self) -> bool {
        !matches!(self, Format::Json)
    }
}

/// The format of an existing file whose extension says nothing, from its first bytes: a
/// zip is `.keras`, HDF5 is `.h5`, anything else is read as JSON.
fn sniff(path: &str) -> Result<Format> {
    use std::io::Read;
    let mut head = [0u8; 8];
    let mut f = std::fs::File::open(path).map_err(|source| KerasError::Io {
        path: path.to_string(),
        source,
    })?;
    let n = f.read(&mut head).map_err(|source| KerasError::Io {
        path: path.to_string(),
        source,
    })?;
    Ok(match &head[..n] {
        [b'P', b'K', ..] => Format::Keras,
        [0x89, b'H', b'D', b'F', ..] => Format::H5,
        _ => Format::Json,
    })
}

/// Reads a model's architecture (and weights, when the file has them). A file with an
/// unknown extension is recognised by its first bytes.
pub fn load(path: &str) -> Result<Model> {
    let format = match Format::of(path) {
        Ok(f) => f,
        Err(e) if !std::path::Path::new(path).is_file() => return Err(e),
        Err(_) => sniff(path)?,
    };
    match format {
        Format::Keras | Format::H5 => rkeras::load_model(path),
        Format::Json => {
            let text = std::fs::read_to_string(path).map_err(|source| KerasError::Io {
                path: path.to_string(),
                source,
            })?;
            model_from_json(&text).map_err(|e| KerasError::Invalid(format!("{path}: {e}")))
        }
        Format::WeightsH5 | Format::Safetensors => Err(KerasError::Invalid(format!(
            "{path}: holds weights only, no architecture: give a .keras, .h5 or .json model \
             and this file with --weights"
        ))),
    }
}

/// Whether a MODEL argument names a file (by extension, or an existing file) rather than an
/// application.
pub fn is_file_arg(model: &str) -> bool {
    Format::of(model).is_ok() || std::path::Path::new(model).is_file()
}

/// MODEL as a file (with `weights` loaded into it) or an application built with `app`'s
/// options and `weights` (`None`, a file, or `imagenet`).
pub fn load_or_build(
    model: &str,
    app: &crate::app_args::AppArgs,
    weights: Option<&str>,
    need_weights: bool,
) -> Result<Model> {
    if is_file_arg(model) {
        load_with_weights(model, weights, need_weights)
    } else {
        app.build(model, weights.map(str::to_string))
    }
}

/// Loads a model and, when given, a weights file into it. A model that ends up without
/// weights (a JSON config alone) is refused when `need_weights`.
pub fn load_with_weights(path: &str, weights: Option<&str>, need_weights: bool) -> Result<Model> {
    let mut model = load(path)?;
    match weights {
        Some(w) => load_weights(&mut model, w)?,
        None if need_weights && !Format::of(path)?.has_weights() => {
            return Err(KerasError::Invalid(format!(
                "{path}: holds no weights: give them with --weights FILE (.weights.h5, .h5 or .safetensors)"
            )))
        }
        None => {}
    }
    Ok(model)
}

/// Loads weights into a model.
pub fn load_weights(model: &mut Model, path: &str) -> Result<()> {
    match Format::of(path)? {
        Format::Safetensors => load_safetensors(model, path),
        Format::WeightsH5 | Format::H5 | Format::Keras => model.load_weights(path),
        Format::Json => Err(KerasError::Invalid(format!("{path}: a JSON config holds no weights"))),
    }
}

/// Writes a model (or its weights, or its architecture) in the format of `path`.
pub fn save(model: &Model, path: &str) -> Result<()> {
    match Format::of(path)? {
        Format::Keras | Format::H5 => model.save(path),
        Format::WeightsH5 => model.save_weights(path),
        Format::Safetensors => save_safetensors(model, path),
        Format::Json => std::fs::write(path, model_to_json(model)).map_err(|source| KerasError::Io {
            path: path.to_string(),
            source,
        }),
    }
}
