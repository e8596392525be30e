//! The tf-keras 2 legacy HDF5 layout (`model.save("x.h5")`, `model.save_weights("x.h5")`),
//! as `tf_keras/src/saving/legacy/hdf5_format.py` writes and reads it:
//!
//! ```text
//! /                      attrs: model_config (full model only), keras_version, backend
//! model_weights/         attrs: layer_names, keras_version, backend   (full model;
//!                        a weights-only file has these at the root)
//!   conv2d/              attrs: weight_names = ["conv2d/kernel:0", "conv2d/bias:0"]
//!     conv2d/kernel:0    the dataset (weight name used as a path)
//!   top_level_model_weights/   the model's own weights (none in rkeras)
//! ```
//!
//! A layer's weights are `trainable_weights + non_trainable_weights`: for a nested model all
//! trainable weights of its layers first, then the non-trainable ones; a frozen layer's are
//! all non-trainable. Weight names are the owning layer's name plus `/<weight>:0`, without
//! the enclosing model (`inner` holds `batch_normalization/gamma:0`, `dense/kernel:0`, …).
//! Loading matches the file's layers that have weights to the model's, in order
//! (topological), or by layer name (`by_name`); `skip_mismatch` skips, as Keras, a layer whose
//! weight count differs and a single weight whose shape differs (the layer's others load).

use super::{assign, is_operation, slots, Slot};
use crate::error::{KerasError, Result};
use crate::io::hdf5::H5Reader;
use crate::io::hdf5_write::{Dtype, H5Attr, H5Group};
use crate::layers::{Layer, Weight};
use crate::model::Model;
use std::collections::{HashMap, HashSet};
use tensor::Tensor;

/// The tf-keras version whose legacy layout rkeras writes.
pub const LEGACY_KERAS_VERSION: &str = "2.21.0";
/// The root attribute of a full-model file holding the Keras 2 JSON config.
pub const MODEL_CONFIG: &str = "model_config";
/// The group of a full-model file that holds the weights.
pub const MODEL_WEIGHTS: &str = "model_weights";
const LAYER_NAMES: &str = "layer_names";
const WEIGHT_NAMES: &str = "weight_names";
const TOP_LEVEL: &str = "top_level_model_weights";
/// Above this many names an attribute is split into `name0`, `name1`, … (tf-keras splits at
/// its 64 KiB object-header limit).
const ATTR_CHUNK: usize = 2000;

/// One entry of `layer_names`: the layer and its weights with their legacy names.
pub struct LegacyLayer<'m> {
    /// The layer's name (its group).
    pub name: String,
    /// `(legacy name such as "conv2d/kernel:0", weight)` in tf-keras's order.
    pub weights: Vec<(String, &'m Weight)>,
}

/// The model's layers in legacy order (`model.layers`, operations left out: they have no
/// weights), each with its weights as tf-keras orders and names them.
pub fn legacy_layers(model: &Model) -> Vec<LegacyLayer<'_>> {
    let mut out: Vec<LegacyLayer> = Vec::new();
    for layer in model.layers() {
        if is_operation(layer) || out.iter().any(|l| l.name == layer.name()) {
            continue;
        }
        let (mut t, mut nt) = (Vec::new(), Vec::new());
        split(layer, false, &mut t, &mut nt);
        t.append(&mut nt);
        let mut seen = HashSet::new();
        t.retain(|(_, w)| seen.insert(w.id));
        out.push(LegacyLayer {
            name: layer.name().to_string(),
            weights: t,
        });
    }
    out
}

type Named<'m> = Vec<(String, &'m Weight)>;

fn split<'m>(layer: &'m dyn Layer, frozen: bool, t: &mut Named<'m>, nt: &mut Named<'m>) {
    let frozen = frozen || !layer.trainable();
    if let Some(m) = layer.as_model() {
        for child in m.all_layers() {
            split(child.as_ref(), frozen, t, nt);
        }
        return;
    }
    let name = |w: &Weight| format!("{}/{}:0", layer.name(), w.name);
    let (tr, non): (Vec<&Weight>, Vec<&Weight>) = layer.weights().into_iter().partition(|w| w.trainable);
    // A frozen layer's weights are all non-trainable, in `_trainable + _non_trainable` order.
    let dest = if frozen { &mut *nt } else { &mut *t };
    dest.extend(tr.into_iter().map(|w| (name(w), w)));
    nt.extend(non.into_iter().map(|w| (name(w), w)));
}

fn set_list(g: &mut H5Group, name: &str, values: Vec<String>) {
    if values.len() <= ATTR_CHUNK {
        g.set_attr(name, H5Attr::StrList(values));
    } else {
        for (k, chunk) in values.chunks(ATTR_CHUNK).enumerate() {
            g.set_attr(&format!("{name}{k}"), H5Attr::StrList(chunk.to_vec()));
        }
    }
}

/// Writes the model's weights in the legacy layout into `g` (the file root for
/// `save_weights`, `model_weights` for a full model).
pub fn save_legacy(model: &Model, g: &mut H5Group) -> Result<()> {
    let layers = legacy_layers(model);
    set_list(g, LAYER_NAMES, layers.iter().map(|l| l.name.clone()).collect());
    g.set_attr("backend", H5Attr::Str("tensorflow".into()));
    g.set_attr("keras_version", H5Attr::Str(LEGACY_KERAS_VERSION.into()));
    for l in &layers {
        let lg = g.group_mut(&l.name);
        set_list(lg, WEIGHT_NAMES, l.weights.iter().map(|(n, _)| n.clone()).collect());
        for (n, w) in &l.weights {
            let dtype = if w.int64 { Dtype::I64 } else { Dtype::F32 };
            lg.put_dataset_as(n, w.value.clone(), dtype)?;
        }
    }
    g.group_mut(TOP_LEVEL)
        .set_attr(WEIGHT_NAMES, H5Attr::StrList(Vec::new()));
    Ok(())
}

/// How to match a legacy file's layers to the model's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LegacyOptions {
    /// Match layers by name instead of by position among the layers that have weights.
    pub by_name: bool,
    /// Skip (and report) layers whose weight count or shapes differ instead of failing.
    pub skip_mismatch: bool,
}

fn weights_of(r: &H5Reader, root: &str, layer: &str) -> Result<(Vec<String>, Vec<Tensor>)> {
    let g = join(root, layer);
    if !r.has_group(&g) {
        return Err(KerasError::Invalid(format!(
            "{}: layer_names lists {layer:?} but the file has no group {g}",
            r.origin()
        )));
    }
    let names = r.attr_strings(&g, WEIGHT_NAMES)?.unwrap_or_default();
    let values = names
        .iter()
        .map(|n| r.read_tensor(&join(&g, n)))
        .collect::<Result<Vec<_>>>()?;
    Ok((names, values))
}

fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}/{b}")
    }
}

/// Loads legacy weights stored under `root` (`""` or `model_weights`) into `model`; returns
/// the warnings of skipped layers.
pub fn load_legacy(model: &mut Model, r: &H5Reader, root: &str, opts: LegacyOptions) -> Result<Vec<String>> {
    let origin = r.origin().to_string();
    let file_layers = r.attr_strings(root, LAYER_NAMES)?.ok_or_else(|| {
        KerasError::Invalid(format!(
            "{origin}: not a Keras weights file: no `{LAYER_NAMES}` attribute at /{root}"
        ))
    })?;
    let model_layers: Vec<(String, Vec<Slot>)> = legacy_layers(model)
        .into_iter()
        .map(|l| {
            let ws: Vec<&Weight> = l.weights.iter().map(|(_, w)| *w).collect();
            (l.name, slots(&ws))
        })
        .collect();
    let mut values: HashMap<u64, Tensor> = HashMap::new();
    let mut warnings = Vec::new();
    // Keras's rule: a count mismatch concerns the whole layer; a shape mismatch only that
    // weight (with `skip_mismatch` the layer's other weights still load).
    let mut take = |k: usize, name: &str, saved: &str, want: &[Slot], got: Vec<Tensor>| -> Result<()> {
        if got.len() != want.len() {
            let p = format!(
                "weight count mismatch for layer #{k} (named {name} in the current model, {saved} in the save file): the layer expects {} weight(s), the file has {}",
                want.len(),
                got.len()
            );
            if !opts.skip_mismatch {
                return Err(KerasError::Invalid(format!("{origin}: {p}")));
            }
            warnings.push(format!("skipped loading weights: {p}"));
            return Ok(());
        }
        let mismatch = |s: &Slot, v: &Tensor| {
            format!(
                "shape mismatch in layer #{k} (named {name}) for weight {name}/{}: the model expects {:?}, the file has {:?}",
                s.name,
                s.shape,
                v.shape()
            )
        };
        if !opts.skip_mismatch {
            if let Some((s, v)) = want.iter().zip(&got).find(|(s, v)| v.shape() != s.shape.as_slice()) {
                return Err(KerasError::Invalid(format!("{origin}: {}", mismatch(s, v))));
            }
        }
        for (s, v) in want.iter().zip(got) {
            if v.shape() == s.shape.as_slice() {
                values.insert(s.id, v);
            } else {
                warnings.push(format!("skipped loading weight: {}", mismatch(s, &v)));
            }
        }
        Ok(())
    };
    if opts.by_name {
        for (k, saved) in file_layers.iter().enumerate() {
            let (_, got) = weights_of(r, root, saved)?;
            for (name, want) in model_layers.iter().filter(|(n, _)| n == saved) {
                take(k, name, saved, want, got.clone())?;
            }
        }
    } else {
        let mut saved_weighted = Vec::new();
        for saved in &file_layers {
            let (names, got) = weights_of(r, root, saved)?;
            if !names.is_empty() {
                saved_weighted.push((saved.clone(), got));
            }
        }
        let weighted: Vec<&(String, Vec<Slot>)> = model_layers.iter().filter(|(_, w)| !w.is_empty()).collect();
        if weighted.len() != saved_weighted.len() {
            return Err(KerasError::Invalid(format!(
                "{origin}: layer count mismatch when loading weights from file: the model has {} layers with weights, the file has {} ({:?})",
                weighted.len(),
                saved_weighted.len(),
                saved_weighted.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>()
            )));
        }
        for (k, ((name, want), (saved, got))) in weighted.into_iter().zip(saved_weighted).enumerate() {
            take(k, name, &saved, want, got)?;
        }
    }
    let top = join(root, TOP_LEVEL);
    if r.has_group(&top) && !r.attr_strings(&top, WEIGHT_NAMES)?.unwrap_or_default().is_empty() {
        let msg = format!("{origin}: the file has top-level model weights; rkeras models have none");
        if !opts.skip_mismatch {
            return Err(KerasError::Invalid(msg));
        }
        warnings.push(msg);
    }
    assign(model, &values);
    Ok(warnings)
}
