//! tf-keras 2's model config, as its legacy `.h5` files store it in the `model_config`
//! attribute, made from rkeras's Keras 3 JSON: the old envelope (`class_name`, `config`,
//! layer entries with `name` and list-style `inbound_nodes` — `[[name, node, tensor, {}], …]`
//! per call), dtype policies as plain strings, `batch_shape` → `batch_input_shape`, Keras
//! 3-only fields dropped (`quantization_config`, BatchNormalization's `renorm*` and
//! `synchronized`, initializers' `input_axes`/`output_axes`), LeakyReLU's `negative_slope` →
//! `alpha`. A nested Functional model, or Sequential built on an input, has an internal node 0
//! in tf-keras, so references to its calls are numbered from 1 (tf-keras
//! `_should_skip_first_node`; [`keras_json`](crate::io::keras_json) reads it back the same way).
//! Keras 3 cannot read such nested references in legacy files (neither tf-keras's own nor
//! these); tf-keras can.

use crate::error::{KerasError, Result};
use crate::io::keras_json::model_to_json;
use crate::model::Model;
use serde_json::{json, Map, Value};
use std::collections::HashSet;

fn err(msg: impl Into<String>) -> KerasError {
    KerasError::Invalid(msg.into())
}

/// tf-keras 2's `model_config` of a model.
pub fn model_to_keras2_value(model: &Model) -> Result<Value> {
    let k3: Value = serde_json::from_str(&model_to_json(model))
        .map_err(|e| err(format!("model {}: its own JSON does not parse: {e}", model.name())))?;
    convert_model(&k3)
}

fn convert_model(v: &Value) -> Result<Value> {
    let class = v["class_name"].as_str().unwrap_or("");
    let cfg = &v["config"];
    let name = cfg["name"].clone();
    let layers = cfg["layers"]
        .as_array()
        .ok_or_else(|| err(format!("model {name}: no layers in its config")))?;
    match class {
        "Sequential" => {
            let entries = layers
                .iter()
                .map(|l| Ok(json!({ "class_name": l["class_name"], "config": layer_config(l)? })))
                .collect::<Result<Vec<_>>>()?;
            Ok(json!({ "class_name": "Sequential", "config": { "name": name, "layers": entries } }))
        }
        "Functional" => {
            // Layers whose calls tf-keras numbers from 1.
            let shifted: HashSet<&str> = layers
                .iter()
                .filter(|l| skips_first_node(l))
                .filter_map(|l| l["config"]["name"].as_str())
                .collect();
            let mut entries = Vec::with_capacity(layers.len());
            for l in layers {
                let lname = l["config"]["name"].clone();
                if l["module"] == "keras.src.ops.numpy" {
                    entries.push(tf_op_lambda(l, &shifted)?);
                    continue;
                }
                let nodes = l["inbound_nodes"]
                    .as_array()
                    .map(|ns| ns.iter().map(|n| inbound_node(n, &shifted)).collect::<Result<Vec<_>>>())
                    .transpose()?
                    .unwrap_or_default();
                entries.push(json!({
                    "class_name": l["class_name"], "config": layer_config(l)?,
                    "name": lname, "inbound_nodes": nodes,
                }));
            }
            let endpoints = |key: &str| -> Value {
                match &cfg[key] {
                    Value::Array(a) if a.first().is_some_and(Value::is_string) => json!([a]),
                    other => other.clone(),
                }
            };
            Ok(json!({ "class_name": "Functional", "config": {
                "name": name, "trainable": cfg["trainable"], "layers": entries,
                "input_layers": endpoints("input_layers"), "output_layers": endpoints("output_layers"),
            } }))
        }
        other => Err(err(format!("model {name}: class {other:?} has no tf-keras form"))),
    }
}

fn skips_first_node(l: &Value) -> bool {
    match l["class_name"].as_str() {
        Some("Functional") => true,
        Some("Sequential") => l.pointer("/config/layers/0/class_name").and_then(Value::as_str) == Some("InputLayer"),
        _ => false,
    }
}

/// One call: Keras 3 `{"args": [...], "kwargs": {...}}` → `[[name, node, tensor, {}], …]`.
fn inbound_node(node: &Value, shifted: &HashSet<&str>) -> Result<Value> {
    fn walk(v: &Value, out: &mut Vec<Value>, shifted: &HashSet<&str>) -> Result<()> {
        match v {
            Value::Object(o) if o.get("class_name").and_then(Value::as_str) == Some("__keras_tensor__") => {
                let h = v.pointer("/config/keras_history").and_then(Value::as_array);
                let (name, node, tensor) = match h.map(|h| (h[0].as_str(), h[1].as_u64(), h[2].as_u64())) {
                    Some((Some(n), Some(i), Some(t))) if h.is_some_and(|h| h.len() == 3) => (n, i, t),
                    _ => return Err(err(format!("malformed keras_history {v}"))),
                };
                let node = node + u64::from(shifted.contains(name));
                out.push(json!([name, node, tensor, {}]));
            }
            Value::Array(a) => {
                for x in a {
                    walk(x, out, shifted)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
    let mut refs = Vec::new();
    walk(&node["args"], &mut refs, shifted)?;
    Ok(Value::Array(refs))
}

/// A Keras 3 operation (`x * 2.0`) as tf-keras writes the same expression: a `TFOpLambda`
/// layer (`function`: `math.multiply`, …) called once, its node `[x, node, tensor, {"y":
/// other, "name": null}]`, a constant on the left as `["_CONSTANT_VALUE", -1, value, …]`.
fn tf_op_lambda(l: &Value, shifted: &HashSet<&str>) -> Result<Value> {
    let class = l["class_name"].as_str().unwrap_or("");
    let name = l["config"]["name"].clone();
    let function = crate::model::ops::TensorOp::TF_FUNCTIONS
        .iter()
        .find(|(c, _)| *c == class)
        .map(|(_, f)| *f)
        .ok_or_else(|| err(format!("layer {name}: operation {class} has no tf-keras form")))?;
    let args = l
        .pointer("/inbound_nodes/0/args")
        .and_then(Value::as_array)
        .ok_or_else(|| err(format!("layer {name}: operation {class} without a call")))?;
    let reference = |v: &Value| -> Result<Value> {
        if v.is_number() {
            return Ok(v.clone());
        }
        let r = inbound_node(&json!({ "args": [v] }), shifted)?;
        match r.pointer("/0") {
            Some(Value::Array(a)) if a.len() == 4 => Ok(json!([a[0], a[1], a[2]])),
            _ => Err(err(format!("layer {name}: malformed argument {v}"))),
        }
    };
    let node = match args.as_slice() {
        [x, y] if x.is_number() => json!(["_CONSTANT_VALUE", -1, x, { "y": reference(y)?, "name": null }]),
        [x, y] => {
            let x = reference(x)?;
            json!([x[0], x[1], x[2], { "y": reference(y)?, "name": null }])
        }
        _ => return Err(err(format!("layer {name}: operation {class} expects two arguments"))),
    };
    Ok(json!({
        "class_name": "TFOpLambda",
        "config": { "name": name, "trainable": true, "dtype": "float32", "function": function },
        "name": name,
        "inbound_nodes": [node],
    }))
}

const DROPPED: &[&str] = &[
    "quantization_config",
    "renorm",
    "renorm_clipping",
    "renorm_momentum",
    "synchronized",
];

fn layer_config(l: &Value) -> Result<Value> {
    let class = l["class_name"].as_str().unwrap_or("");
    let cfg = &l["config"];
    if matches!(class, "Sequential" | "Functional") {
        return Ok(convert_model(l)?["config"].clone());
    }
    let mut out = Map::new();
    for (k, v) in cfg.as_object().into_iter().flatten() {
        if DROPPED.contains(&k.as_str()) {
            continue;
        }
        let key = match (class, k.as_str()) {
            ("InputLayer", "batch_shape") => "batch_input_shape",
            ("LeakyReLU", "negative_slope") => "alpha",
            _ => k.as_str(),
        };
        let value = match v {
            Value::Object(o) if o.get("class_name").and_then(Value::as_str) == Some("DTypePolicy") => {
                v.pointer("/config/name").cloned().unwrap_or(json!("float32"))
            }
            Value::Object(o) if o.get("module").and_then(Value::as_str) == Some("keras.initializers") => {
                let mut init = v.clone();
                if let Some(c) = init.get_mut("config").and_then(Value::as_object_mut) {
                    c.remove("input_axes");
                    c.remove("output_axes");
                }
                init
            }
            _ => v.clone(),
        };
        out.insert(key.to_string(), value);
    }
    if class == "Dense" && !out.contains_key("activity_regularizer") {
        out.insert("activity_regularizer".into(), Value::Null);
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::keras_json::model_from_json;

    #[test]
    fn converts_envelope_dtype_input_and_node_numbers() {
        crate::clear_session();
        let k3 = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/seed/c_func_add_mlp.k3.json"
        ))
        .unwrap();
        let m = model_from_json(&k3).unwrap();
        let v = model_to_keras2_value(&m).unwrap();
        assert_eq!(v["class_name"], "Functional");
        let layers = v["config"]["layers"].as_array().unwrap();
        assert_eq!(layers[0]["config"]["batch_input_shape"], json!([null, 784]));
        assert_eq!(layers[1]["config"]["dtype"], "float32");
        assert_eq!(layers[1]["inbound_nodes"], json!([[[layers[0]["name"], 0, 0, {}]]]));
        assert_eq!(
            layers[1]["config"]["kernel_initializer"]["config"],
            json!({ "seed": null })
        );
        assert!(v["config"]["input_layers"][0].is_array());
        // rkeras reads its own tf-keras config back to the same model.
        crate::clear_session();
        let back = model_from_json(&v.to_string()).unwrap();
        assert_eq!(back.count_params(), m.count_params());
        assert_eq!(back.layers().len(), m.layers().len());
    }
}
