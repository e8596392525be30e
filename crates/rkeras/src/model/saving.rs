//! Saving and loading models and weights in Keras's files, format chosen by the extension as
//! Keras chooses it:
//!
//! | path | `load_model` | `save` | `save_weights` | `load_weights` |
//! |---|---|---|---|---|
//! | `.keras` | yes | yes | — | yes (its weights) |
//! | `.weights.h5` | — | — | Keras 3 layout | yes |
//! | `.h5`, `.hdf5` | tf-keras full model | tf-keras full model | tf-keras legacy layout | yes (legacy or Keras 3 layout, by content; `by_name`, `skip_mismatch`) |
//!
//! Files are written atomically (temporary file + rename). A weight count or shape mismatch
//! is an error naming the layer and both shapes, unless `skip_mismatch` is set.
//!
//! ```no_run
//! use rkeras::prelude::*;
//! # fn main() -> rkeras::Result<()> {
//! let mut model = rkeras::load_model("lenet5.keras")?;
//! model.save("copy.keras")?;
//! model.save_weights("lenet5.weights.h5")?;
//! model.load_weights("lenet5.weights.h5")?;
//! # Ok(()) }
//! ```

use super::Model;
use crate::error::{KerasError, Result};
use crate::io::atomic::write_atomic;
use crate::io::hdf5::H5Reader;
use crate::io::keras_file::{keras_bytes, model_from_keras_bytes, read_archive, weights_reader};
use crate::io::legacy_h5::{legacy_model_bytes, legacy_weights_bytes, legacy_weights_root, model_from_h5};
use crate::io::weights_layout::legacy::{load_legacy, LegacyOptions};
use crate::io::weights_layout::{load_keras3, save_keras3};
use std::path::Path;

/// A Keras file kind, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KerasFormat {
    /// `.keras`: zip of config, metadata and weights (Keras 3).
    Keras,
    /// `.weights.h5`: Keras 3 weights.
    WeightsH5,
    /// `.h5` / `.hdf5`: tf-keras 2 legacy HDF5 (full model or weights).
    LegacyH5,
}

impl KerasFormat {
    /// The format a path names, or an error listing the known extensions.
    pub fn of(path: &Path) -> Result<KerasFormat> {
        let name = path.to_string_lossy().to_ascii_lowercase();
        if name.ends_with(".keras") {
            Ok(KerasFormat::Keras)
        } else if name.ends_with(".weights.h5") {
            Ok(KerasFormat::WeightsH5)
        } else if name.ends_with(".h5") || name.ends_with(".hdf5") {
            Ok(KerasFormat::LegacyH5)
        } else {
            Err(KerasError::Invalid(format!(
                "{}: unknown file format: expected a name ending in .keras, .weights.h5, .h5 or .hdf5",
                path.display()
            )))
        }
    }
}

/// How [`Model::load_weights_with`] matches the file to the model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadWeightsOptions {
    /// Legacy `.h5` only: match layers by name rather than by order.
    pub by_name: bool,
    /// Skip layers whose weight count or shapes differ (they keep their weights and are
    /// listed in the returned warnings) instead of failing.
    pub skip_mismatch: bool,
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| KerasError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// `keras.saving.load_model(path)`: a `.keras` file or a tf-keras legacy full-model `.h5`.
/// Nothing in the file is executed: a `Lambda` or unknown class is refused.
pub fn load_model(path: impl AsRef<Path>) -> Result<Model> {
    let path = path.as_ref();
    let origin = path.display().to_string();
    match KerasFormat::of(path)? {
        KerasFormat::Keras => model_from_keras_bytes(&origin, &read(path)?),
        KerasFormat::LegacyH5 => model_from_h5(&H5Reader::from_bytes(&origin, read(path)?)?),
        KerasFormat::WeightsH5 => Err(KerasError::Invalid(format!(
            "{origin}: a .weights.h5 file holds weights only: build the model, then call load_weights"
        ))),
    }
}

impl Model {
    /// `model.save(path)`: `.keras` (config, metadata and weights, Keras 3 layout) or legacy
    /// `.h5` (tf-keras config and weights, loadable by tf-keras's `load_model`, and by Keras
    /// 3's unless nested models are called in it).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        match KerasFormat::of(path)? {
            KerasFormat::Keras => write_atomic(path, &keras_bytes(self)?),
            KerasFormat::WeightsH5 => Err(KerasError::Invalid(format!(
                "{}: a .weights.h5 name is for save_weights; save a whole model as .keras",
                path.display()
            ))),
            KerasFormat::LegacyH5 => write_atomic(path, &legacy_model_bytes(self)?),
        }
    }

    /// `model.save_weights(path)`: `.weights.h5` (Keras 3 layout) or `.h5` (tf-keras legacy
    /// layout, readable by tf-keras's and Keras 3's `load_weights`).
    pub fn save_weights(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        if crate::io::safetensors::is_safetensors(path) {
            return crate::io::safetensors::save_safetensors(self, path);
        }
        let bytes = match KerasFormat::of(path)? {
            KerasFormat::WeightsH5 => save_keras3(self)?.to_bytes()?,
            KerasFormat::LegacyH5 => legacy_weights_bytes(self)?,
            KerasFormat::Keras => {
                return Err(KerasError::Invalid(format!(
                    "{}: save_weights writes .weights.h5 (or legacy .h5); use save for .keras",
                    path.display()
                )))
            }
        };
        write_atomic(path, &bytes)
    }

    /// The bytes `save_weights("x.weights.h5")` writes (Keras 3 layout).
    pub fn weights_h5_bytes(&self) -> Result<Vec<u8>> {
        save_keras3(self)?.to_bytes()
    }

    /// The bytes `save("x.keras")` writes.
    pub fn keras_bytes(&self) -> Result<Vec<u8>> {
        keras_bytes(self)
    }

    /// `model.load_weights(path)` from `.keras`, `.weights.h5` or legacy `.h5`.
    pub fn load_weights(&mut self, path: impl AsRef<Path>) -> Result<()> {
        self.load_weights_with(path, LoadWeightsOptions::default()).map(|_| ())
    }

    /// `model.load_weights(path, by_name=…, skip_mismatch=…)`; returns a warning for each
    /// layer skipped because of `skip_mismatch`.
    pub fn load_weights_with(&mut self, path: impl AsRef<Path>, opts: LoadWeightsOptions) -> Result<Vec<String>> {
        let path = path.as_ref();
        if crate::io::safetensors::is_safetensors(path) {
            return crate::io::safetensors::load_safetensors(self, path).map(|()| Vec::new());
        }
        let origin = path.display().to_string();
        let format = KerasFormat::of(path)?;
        let bytes = read(path)?;
        let r = match format {
            KerasFormat::Keras => weights_reader(&origin, read_archive(&origin, &bytes)?)?,
            _ => H5Reader::from_bytes(&origin, bytes)?,
        };
        self.load_weights_from(&r, opts)
    }

    /// Loads weights from an opened HDF5 file of either layout (legacy when it has
    /// `layer_names`, at the root or under `model_weights`; Keras 3 otherwise).
    pub fn load_weights_from(&mut self, r: &H5Reader, opts: LoadWeightsOptions) -> Result<Vec<String>> {
        match legacy_weights_root(r)? {
            Some(root) => load_legacy(
                self,
                r,
                root,
                LegacyOptions {
                    by_name: opts.by_name,
                    skip_mismatch: opts.skip_mismatch,
                },
            ),
            None if opts.by_name => Err(KerasError::Invalid(format!(
                "{}: by_name loading is only for legacy .h5 weights (tf-keras layout); this file has the Keras 3 layout",
                r.origin()
            ))),
            None => load_keras3(self, r, opts.skip_mismatch),
        }
    }
}
