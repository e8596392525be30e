//! Where Keras keeps each weight in its files — the one module that knows Keras's storage
//! paths and weight order. Two layouts:
//!
//! - **Keras 3** (`model.weights.h5` inside `.keras`, and `.weights.h5`), as
//!   `keras/src/saving/saving_lib.py` (`_save_state`/`_load_state`) walks a model: the model's
//!   own variables in `vars` (attribute `name` = the model's name), then each entry of
//!   `model.layers` (a Sequential's InputLayer is not one; tensor operations such as `x + y`
//!   are not layers) at `layers/<class in snake case>` made unique per container
//!   (`conv2d`, `conv2d_1`, … — by class, not by layer name), its variables in
//!   `<path>/vars/0`, `1`, … (trainable first, then non-trainable: BatchNormalization is
//!   gamma, beta, moving_mean, moving_variance; SeparableConv2D depthwise, pointwise, bias).
//!   A nested model recurses (`layers/sequential/layers/dense/vars/0`); an object already
//!   visited (a shared nested model) is written once, at its first path.
//! - **tf-keras 2 legacy HDF5** ([`legacy`]): `layer_names` / `weight_names` attributes and
//!   datasets `<layer>/<weight name>:0`.
//!
//! rkeras custom (subclassed) layers store all their weights, sub-layers' included, in their
//! own `vars` (Keras would use attribute names rkeras does not have; Keras cannot rebuild an
//! rkeras custom class anyway).

pub mod legacy;

use super::hdf5::H5Reader;
use super::hdf5_write::{Dtype, H5Attr, H5Group};
use crate::error::{KerasError, Result};
use crate::layers::{snake_case, Layer, Weight};
use crate::model::Model;
use std::collections::{HashMap, HashSet};
use tensor::Tensor;

/// The Keras version whose Keras 3 layout rkeras writes (`metadata.json`).
pub const KERAS3_VERSION: &str = "3.15.1";

/// One object of the Keras 3 walk: its path and the variables it owns.
#[derive(Debug, Clone)]
pub struct VarsEntry<'m> {
    /// Path of the object's group (`""` for the root model, `layers/conv2d`).
    pub path: String,
    /// The layer's (or model's) name, stored as the `vars` group's `name` attribute.
    pub name: String,
    /// Variables in Keras's `vars/N` order.
    pub weights: Vec<&'m Weight>,
}

/// The group holding an object's variables.
pub fn vars_group(path: &str) -> String {
    if path.is_empty() {
        "vars".to_string()
    } else {
        format!("{path}/vars")
    }
}

/// Whether a graph node is a Keras 3 operation rather than a layer (`x + y`).
pub fn is_operation(layer: &dyn Layer) -> bool {
    layer.keras2_display().is_some()
}

/// The Keras 3 walk of a model, in Keras's order.
pub fn keras3_entries(model: &Model) -> Vec<VarsEntry<'_>> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    walk(model, "", &mut seen, &mut out);
    out
}

fn walk<'m>(model: &'m Model, path: &str, seen: &mut HashSet<u64>, out: &mut Vec<VarsEntry<'m>>) {
    out.push(VarsEntry {
        path: path.to_string(),
        name: model.name().to_string(),
        weights: Vec::new(),
    });
    let container = join(path, "layers");
    let mut used: HashMap<String, usize> = HashMap::new();
    let mut names_here = HashSet::new();
    for layer in model.layers() {
        if is_operation(layer) {
            continue;
        }
        // Keras's `_get_unique_name`: counted for every entry, visited or not.
        let stem = snake_case(layer.class_name());
        let key = match used.get_mut(&stem) {
            Some(n) => {
                *n += 1;
                format!("{stem}_{n}")
            }
            None => {
                used.insert(stem.clone(), 0);
                stem
            }
        };
        let weights = layer.weights();
        let visited = !names_here.insert(layer.name().to_string())
            || (!weights.is_empty() && weights.iter().all(|w| seen.contains(&w.id)));
        if visited {
            continue;
        }
        let p = join(&container, &key);
        match layer.as_model() {
            Some(m) => walk(m, &p, seen, out),
            None => {
                let mut own = Vec::new();
                for w in weights {
                    if seen.insert(w.id) {
                        own.push(w);
                    }
                }
                out.push(VarsEntry {
                    path: p,
                    name: layer.name().to_string(),
                    weights: own,
                });
            }
        }
    }
}

fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}/{b}")
    }
}

/// Where Keras 3 keeps a compiled model's optimizer variables (`iteration` as int64, the
/// learning rate, then the slots in Keras's order).
const OPTIMIZER_VARS: &str = "optimizer/vars";

/// The Keras 3 weights file of a model (`model.weights.h5` / `.weights.h5`), with the
/// optimizer's variables when the model is compiled, as Keras writes them.
pub fn save_keras3(model: &Model) -> Result<H5Group> {
    let mut root = H5Group::new();
    for e in keras3_entries(model) {
        let vars = vars_group(&e.path);
        root.group_mut(&vars).set_attr("name", H5Attr::Str(e.name.clone()));
        for (i, w) in e.weights.iter().enumerate() {
            let dtype = if w.int64 { Dtype::I64 } else { Dtype::F32 };
            root.put_dataset_as(&format!("{vars}/{i}"), w.value.clone(), dtype)?;
        }
    }
    if let Some(opt) = model.optimizer() {
        root.group_mut(OPTIMIZER_VARS)
            .set_attr("name", H5Attr::Str(optimizer_name(opt)));
        for (i, v) in opt.variables().into_iter().enumerate() {
            let dtype = if i == 0 { Dtype::I64 } else { Dtype::F32 };
            root.put_dataset_as(&format!("{OPTIMIZER_VARS}/{i}"), v.value, dtype)?;
        }
    }
    Ok(root)
}

fn optimizer_name(opt: &crate::training::optimizers::Optimizer) -> String {
    opt.config()["name"].as_str().unwrap_or("optimizer").to_string()
}

/// Restores a compiled model's optimizer state from `optimizer/vars` (Keras's rule: the
/// slots are built first; a file with another number of variables is skipped with a
/// warning, returned).
fn load_optimizer(model: &mut Model, r: &H5Reader) -> Result<Vec<String>> {
    if model.optimizer().is_none() || !r.has_group(OPTIMIZER_VARS) {
        return Ok(Vec::new());
    }
    let saved = r.members(OPTIMIZER_VARS)?.1.len();
    model.build_optimizer()?;
    let Some(opt) = model.optimizer_mut() else {
        return Ok(Vec::new());
    };
    let want = opt.variables();
    if saved != want.len() {
        return Ok(vec![format!(
            "Skipping variable loading for optimizer '{}', because it has {} variables whereas the saved optimizer has {saved} variables.",
            optimizer_name(opt),
            want.len()
        )]);
    }
    let mut values = Vec::with_capacity(saved);
    for (i, w) in want.iter().enumerate() {
        let p = format!("{OPTIMIZER_VARS}/{i}");
        let v = r.read_counter(&p)?;
        if v.shape() != w.value.shape() {
            return Err(KerasError::Invalid(format!(
                "{}: optimizer variable {} has shape {:?} in the model, {:?} in the file (at {p})",
                r.origin(),
                w.name,
                w.value.shape(),
                v.shape()
            )));
        }
        values.push(v);
    }
    opt.set_variables(&values)
        .map_err(|e| KerasError::Invalid(format!("{}: optimizer state: {e}", r.origin())))?;
    Ok(Vec::new())
}

/// A weight to fill: identity, display name and shape (owned, so the model can be mutated).
#[derive(Debug, Clone)]
pub(crate) struct Slot {
    pub id: u64,
    pub name: String,
    pub shape: Vec<usize>,
}

pub(crate) fn slots(weights: &[&Weight]) -> Vec<Slot> {
    weights
        .iter()
        .map(|w| Slot {
            id: w.id,
            name: w.name.clone(),
            shape: w.value.shape().to_vec(),
        })
        .collect()
}

/// Sets weights of `model` by variable id (every layer, nested models included).
pub(crate) fn assign(model: &mut Model, values: &HashMap<u64, Tensor>) {
    for l in model.layers.iter_mut() {
        l.set_weights_by_id(values);
    }
}

/// Loads a Keras 3 weights file into `model`. With `skip_mismatch`, an object whose
/// variable count or shapes differ keeps its weights and is reported in the returned
/// warnings; otherwise that is an error naming the layer and both shapes.
pub fn load_keras3(model: &mut Model, r: &H5Reader, skip_mismatch: bool) -> Result<Vec<String>> {
    let entries: Vec<(String, String, Vec<Slot>)> = keras3_entries(model)
        .into_iter()
        .map(|e| (e.path, e.name, slots(&e.weights)))
        .collect();
    // Files of Keras 2.13 name the layer container `_layer_checkpoint_dependencies`.
    let legacy_213 = !r.has_group("layers") && r.has_group("_layer_checkpoint_dependencies");
    let mut values = HashMap::new();
    let mut warnings = Vec::new();
    for (path, name, want) in entries {
        let path = if legacy_213 {
            path.replace("layers", "_layer_checkpoint_dependencies")
        } else {
            path
        };
        match read_entry(r, &path, &name, &want) {
            Ok(vals) => {
                for (s, v) in want.iter().zip(vals) {
                    values.insert(s.id, v);
                }
            }
            Err(e) if skip_mismatch => warnings.push(format!("skipped loading weights of layer {name}: {e}")),
            Err(e) => return Err(e),
        }
    }
    assign(model, &values);
    warnings.extend(load_optimizer(model, r)?);
    Ok(warnings)
}

fn read_entry(r: &H5Reader, path: &str, name: &str, want: &[Slot]) -> Result<Vec<Tensor>> {
    let vars = vars_group(path);
    let datasets = if r.has_group(&vars) {
        r.members(&vars)?.1
    } else {
        Vec::new()
    };
    let expected: Vec<&str> = want.iter().map(|s| s.name.as_str()).collect();
    if datasets.len() != want.len() {
        return Err(KerasError::Invalid(format!(
            "{}: layer '{name}' expected {} variables, but received {} variables during loading (at {vars}). Expected: {expected:?}",
            r.origin(),
            want.len(),
            datasets.len()
        )));
    }
    let mut out = Vec::with_capacity(want.len());
    for (i, s) in want.iter().enumerate() {
        let p = format!("{vars}/{i}");
        let shape = r.dataset_shape(&p)?;
        if shape != s.shape {
            return Err(KerasError::Invalid(format!(
                "{}: layer '{name}': weight {} has shape {:?} in the model, {:?} in the file (at {p})",
                r.origin(),
                s.name,
                s.shape,
                shape
            )));
        }
        out.push(r.read_tensor(&p)?);
    }
    Ok(out)
}
