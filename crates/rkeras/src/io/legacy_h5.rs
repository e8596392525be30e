//! tf-keras 2's legacy HDF5 files: the full model (`model.save("x.h5")`: a `model_config`
//! attribute with the Keras 2 JSON, weights under `model_weights`) and weights only
//! (`model.save_weights("x.h5")`: the same weight layout at the root), read and written. The
//! config is tf-keras's JSON ([`keras2_json`](crate::io::keras2_json)). The weight layout
//! itself is in [`weights_layout::legacy`](crate::io::weights_layout::legacy).

use super::hdf5::H5Reader;
use super::hdf5_write::{H5Attr, H5Group};
use super::keras2_json::model_to_keras2_value;
use super::weights_layout::legacy::{
    load_legacy, save_legacy, LegacyOptions, LEGACY_KERAS_VERSION, MODEL_CONFIG, MODEL_WEIGHTS,
};
use crate::error::{KerasError, Result};
use crate::io::keras_json::model_from_json;
use crate::model::Model;

/// Where a legacy file keeps its weights: the root (weights only) or `model_weights`.
pub fn legacy_weights_root(r: &H5Reader) -> Result<Option<&'static str>> {
    if r.attr_strings("", "layer_names")?.is_some() {
        Ok(Some(""))
    } else if r.has_group(MODEL_WEIGHTS) && r.attr_strings(MODEL_WEIGHTS, "layer_names")?.is_some() {
        Ok(Some(MODEL_WEIGHTS))
    } else {
        Ok(None)
    }
}

/// `load_model` for a legacy full-model `.h5` already opened.
pub fn model_from_h5(r: &H5Reader) -> Result<Model> {
    let origin = r.origin();
    let config = r.attr_string("", MODEL_CONFIG)?.ok_or_else(|| {
        let hint = if r.attr_strings("", "layer_names").ok().flatten().is_some() {
            "it holds weights only (save_weights): build the model and use load_weights"
        } else {
            "not a Keras legacy HDF5 model"
        };
        KerasError::Invalid(format!("{origin}: no `{MODEL_CONFIG}` attribute: {hint}"))
    })?;
    let mut model = model_from_json(&config).map_err(|e| match e {
        KerasError::Config(m) => KerasError::Config(format!("{origin} ({MODEL_CONFIG}): {m}")),
        other => other,
    })?;
    let root = legacy_weights_root(r)?
        .ok_or_else(|| KerasError::Invalid(format!("{origin}: the model has no `{MODEL_WEIGHTS}` group")))?;
    load_legacy(&mut model, r, root, LegacyOptions::default())?;
    Ok(model)
}

/// `load_model` for the bytes of a legacy full-model `.h5`.
pub fn model_from_h5_bytes(origin: &str, bytes: Vec<u8>) -> Result<Model> {
    model_from_h5(&H5Reader::from_bytes(origin, bytes)?)
}

/// The bytes of a legacy weights-only `.h5` (tf-keras `save_weights("x.h5")`).
pub fn legacy_weights_bytes(model: &Model) -> Result<Vec<u8>> {
    let mut root = H5Group::new();
    save_legacy(model, &mut root)?;
    root.to_bytes()
}

/// The bytes of a legacy full-model `.h5` (tf-keras `model.save("x.h5")`, not compiled): the
/// tf-keras config in `model_config` and the weights under `model_weights`.
pub fn legacy_model_bytes(model: &Model) -> Result<Vec<u8>> {
    let mut root = H5Group::new();
    root.set_attr("backend", H5Attr::Str("tensorflow".into()));
    root.set_attr("keras_version", H5Attr::Str(LEGACY_KERAS_VERSION.into()));
    root.set_attr(MODEL_CONFIG, H5Attr::Str(model_to_keras2_value(model)?.to_string()));
    save_legacy(model, root.group_mut(MODEL_WEIGHTS))?;
    root.to_bytes()
}
