//! Keras model JSON (`model.to_json()`): read what Keras 3 and tf-keras 2 write (their formats
//! differ: `batch_shape` vs `batch_input_shape`, `__keras_tensor__` args vs node lists,
//! DTypePolicy objects vs strings), nested models included; write Keras 3 JSON back.
//! Layer names are kept as given. Nothing in a file is ever executed: a `Lambda` or an
//! unknown class is refused with an error naming the layer.

use crate::config::{dtype_policy, short, ConfigReader};
use crate::error::{KerasError, Result};
use crate::layers::input::InputLayerConfig;
use crate::layers::{registry, LayerConfig};
use crate::model::functional::build_from_session;
use crate::model::session::{with_session, KerasTensor};
use crate::model::{Model, ModelKind};
use serde_json::{json, Value};
use std::collections::HashMap;

fn cfg_err(msg: impl Into<String>) -> KerasError {
    KerasError::Config(msg.into())
}

/// Builds a model from `model.to_json()` text.
pub fn model_from_json(text: &str) -> Result<Model> {
    let v: Value = serde_json::from_str(text).map_err(|e| cfg_err(format!("malformed JSON: {e}")))?;
    model_from_value(&v)
}

/// Builds a model from a parsed Keras model JSON object.
///
/// A nested model that appears more than once with the same name and the same config (Keras
/// writes a shared nested model once per use) is built once and shared, so its variables
/// count once, as in the model that was saved.
pub fn model_from_value(v: &Value) -> Result<Model> {
    let mut shared = HashMap::new();
    model_from_value_in(v, &mut shared)
}

/// Nested models already built in this import, by `class_name` + config text.
type Shared = HashMap<String, Model>;

fn model_from_value_in(v: &Value, shared: &mut Shared) -> Result<Model> {
    let class = v.get("class_name").and_then(Value::as_str).ok_or_else(|| {
        cfg_err(format!(
            "expected a model object with a class_name, received {}",
            short(v)
        ))
    })?;
    let config = v
        .get("config")
        .ok_or_else(|| cfg_err(format!("model {class}: missing `config`")))?;
    match class {
        "Sequential" => sequential_from_config(config, shared),
        "Functional" | "Model" => functional_from_config(config, shared),
        other => Err(cfg_err(format!(
            "expected a Sequential or Functional model, received class_name {other:?}"
        ))),
    }
}

fn layer_list(config: &Value, model: &str) -> Result<Vec<Value>> {
    config
        .get("layers")
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| cfg_err(format!("model {model}: missing the `layers` list")))
}

fn model_name(config: &Value, default: &str) -> String {
    config
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or(default)
        .to_string()
}

/// Something a layer entry of a JSON model becomes: a layer config, or a nested model.
enum Callable {
    Layer(Box<dyn LayerConfig>),
    Model(Box<Model>),
}

fn callable_from(layer: &Value, shared: &mut Shared) -> Result<(String, Callable)> {
    let class = layer
        .get("class_name")
        .and_then(Value::as_str)
        .ok_or_else(|| cfg_err(format!("a layer without class_name: {}", short(layer))))?;
    let config = layer
        .get("config")
        .ok_or_else(|| cfg_err(format!("layer of class {class}: missing `config`")))?;
    let name = config
        .get("name")
        .and_then(Value::as_str)
        .or_else(|| layer.get("name").and_then(Value::as_str))
        .unwrap_or(class)
        .to_string();
    match class {
        "Sequential" | "Functional" | "Model" => {
            let key = format!("{class}:{config}");
            if let Some(m) = shared.get(&key) {
                return Ok((name, Callable::Model(Box::new(m.clone()))));
            }
            let m = model_from_value_in(layer, shared)?;
            shared.insert(key, m.clone());
            Ok((name, Callable::Model(Box::new(m))))
        }
        // A Keras 3 operation (`x + 3.0`): `keras.src.ops.*` in `.keras` JSON; Keras 3's
        // legacy `.h5` writes it without `module`, its config only a name.
        _ if layer
            .get("module")
            .and_then(Value::as_str)
            .is_some_and(|m| m.starts_with("keras.src.ops"))
            || (layer.get("module").is_none()
                && config.as_object().is_some_and(|c| c.len() == 1 && c.contains_key("name"))
                && crate::model::ops::TensorOp::TF_FUNCTIONS.iter().any(|(c, _)| *c == class)) =>
        {
            let args = layer
                .pointer("/inbound_nodes/0/args")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let op = crate::model::ops::TensorOp::from_keras(class, &args)
                .map_err(|e| cfg_err(format!("layer {name}: {e}")))?;
            Ok((name, Callable::Layer(Box::new(op))))
        }
        "Lambda" | "TFOpLambda" | "SlicingOpLambda" => Err(cfg_err(format!(
            "layer {name} ({class}): refused: a {class} layer holds Python code, and rkeras never executes code from a file (Keras's safe mode refuses it too)"
        ))),
        _ => {
            let entry = registry::lookup(class).ok_or_else(|| {
                cfg_err(format!(
                    "layer {name}: unknown layer class {class:?}; rkeras knows: {}",
                    registry::class_names().join(", ")
                ))
            })?;
            let reader = ConfigReader::new(class, config)?;
            let mut cfg = (entry.from_keras)(&reader)?;
            cfg.set_name(name.clone());
            Ok((name, Callable::Layer(cfg)))
        }
    }
}

/// Calls a callable on symbolic tensors; `built` remembers arena ids so shared layers reuse
/// their weights on later calls.
fn call(
    name: &str,
    c: &Callable,
    inputs: &[&KerasTensor],
    built: &mut HashMap<String, usize>,
) -> Result<Vec<KerasTensor>> {
    if let Some(&id) = built.get(name) {
        return with_session(|s| s.record_call(id, inputs));
    }
    let shapes: Vec<_> = inputs.iter().map(|t| t.shape.clone()).collect();
    let layer = match c {
        Callable::Layer(cfg) => {
            let mut rng = with_session(|s| s.rng.fork());
            cfg.build(name, &shapes, &mut rng)?
        }
        Callable::Model(m) => Box::new((**m).clone()),
    };
    with_session(|s| {
        let id = s.add_layer(layer);
        built.insert(name.to_string(), id);
        s.record_call(id, inputs)
    })
}

fn sequential_from_config(config: &Value, shared: &mut Shared) -> Result<Model> {
    let name = model_name(config, "sequential");
    let layers = layer_list(config, &name)?;
    let mut items = layers.iter();
    let first = items
        .clone()
        .next()
        .ok_or_else(|| cfg_err(format!("model {name}: the layers list is empty")))?;
    let input_cfg = if first.get("class_name").and_then(Value::as_str) == Some("InputLayer") {
        items.next();
        let c = first
            .get("config")
            .ok_or_else(|| cfg_err(format!("model {name}: InputLayer without config")))?;
        InputLayerConfig::from_keras(&ConfigReader::new("InputLayer", c)?)?
    } else {
        // tf-keras 2 may put the input shape on the first layer.
        let c = first.get("config").cloned().unwrap_or(json!({}));
        let shape = c
            .get("batch_input_shape")
            .or_else(|| c.get("batch_shape"))
            .or_else(|| first.get("build_config").and_then(|b| b.get("input_shape")));
        match shape {
            Some(s) => InputLayerConfig::from_keras(&ConfigReader::new("InputLayer", &json!({ "batch_shape": s }))?)?,
            None => {
                return Err(cfg_err(format!(
                    "model {name}: no input shape (no InputLayer and no batch_input_shape on the first layer)"
                )))
            }
        }
    };
    let inp = input_cfg.tensor()?;
    let mut x = inp.clone();
    let mut built = HashMap::new();
    for layer in items {
        let (lname, c) = callable_from(layer, shared)?;
        let outs = call(&lname, &c, &[&x], &mut built)?;
        x = outs
            .into_iter()
            .next()
            .ok_or_else(|| cfg_err(format!("layer {lname} gave no output")))?;
    }
    build_from_session(&name, ModelKind::Sequential, &[&inp], &[&x])
}

/// The node index tf-keras 2's JSON gives a layer's first call. A nested Functional model, or
/// a Sequential one built on an `Input`, has an internal node 0 (its input to its output) that
/// the config leaves out, so the calls recorded in `inbound_nodes` are nodes 1, 2, … (tf-keras
/// `_should_skip_first_node`). Keras 3 numbers calls from 0.
fn keras2_first_node(layer: &Value, nodes: &[Value]) -> usize {
    let keras2 = nodes.first().is_some_and(Value::is_array);
    let class = layer.get("class_name").and_then(Value::as_str).unwrap_or("");
    let starts_with_input =
        || layer.pointer("/config/layers/0/class_name").and_then(Value::as_str) == Some("InputLayer");
    let skips = match class {
        "Functional" | "Model" => true,
        "Sequential" => starts_with_input(),
        _ => false,
    };
    usize::from(keras2 && skips)
}

/// `[name, node_index, tensor_index]` references of one inbound node, Keras 3 or 2.
fn inbound_refs(layer: &str, node: &Value) -> Result<Vec<(String, usize, usize)>> {
    let mut refs = Vec::new();
    fn walk(v: &Value, refs: &mut Vec<(String, usize, usize)>, layer: &str) -> Result<()> {
        match v {
            Value::Object(o) if o.get("class_name").and_then(Value::as_str) == Some("__keras_tensor__") => {
                let h = o
                    .get("config")
                    .and_then(|c| c.get("keras_history"))
                    .and_then(Value::as_array)
                    .ok_or_else(|| cfg_err(format!("layer {layer}: a __keras_tensor__ without keras_history")))?;
                refs.push(history(layer, h)?);
            }
            Value::Array(a) => {
                for x in a {
                    walk(x, refs, layer)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
    if let Some(args) = node.get("args") {
        walk(args, &mut refs, layer)?;
    } else if let Some(list) = node.as_array() {
        // Keras 2: [[name, node_index, tensor_index, kwargs], ...]
        for r in list {
            let a = r
                .as_array()
                .ok_or_else(|| cfg_err(format!("layer {layer}: malformed inbound node {}", short(r))))?;
            refs.push(history(layer, a)?);
        }
    } else {
        return Err(cfg_err(format!(
            "layer {layer}: malformed inbound node {}",
            short(node)
        )));
    }
    Ok(refs)
}

fn history(layer: &str, h: &[Value]) -> Result<(String, usize, usize)> {
    match (
        h.first().and_then(Value::as_str),
        h.get(1).and_then(Value::as_u64),
        h.get(2).and_then(Value::as_u64),
    ) {
        (Some(n), Some(i), Some(t)) => Ok((n.to_string(), i as usize, t as usize)),
        _ => Err(cfg_err(format!(
            "layer {layer}: malformed tensor reference {}",
            short(&Value::Array(h.to_vec()))
        ))),
    }
}

/// `input_layers` / `output_layers`: `[name, 0, 0]` or `[[name, 0, 0], …]`.
fn endpoint_list(config: &Value, key: &str, model: &str) -> Result<Vec<(String, usize, usize)>> {
    let v = config
        .get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| cfg_err(format!("model {model}: missing `{key}`")))?;
    if v.first().is_some_and(Value::is_string) {
        return Ok(vec![history(model, v)?]);
    }
    v.iter()
        .map(|e| {
            e.as_array()
                .ok_or_else(|| cfg_err(format!("model {model}: malformed `{key}`")))
                .and_then(|a| history(model, a))
        })
        .collect()
}

/// tf-keras 2's `TFOpLambda` for arithmetic (`x * 2.0`, `x + y`, `tf.maximum`: a TF function
/// named in the config, not Python code) as the Keras 3 operation entry for the same
/// expression. Other functions are refused, as Lambda layers are.
fn tf_op_lambda_as_operation(layer: &Value) -> Result<Value> {
    let name = layer
        .pointer("/config/name")
        .or_else(|| layer.get("name"))
        .cloned()
        .unwrap_or(Value::Null);
    let function = layer.pointer("/config/function").and_then(Value::as_str).unwrap_or("");
    let Some((class, _)) = crate::model::ops::TensorOp::TF_FUNCTIONS
        .iter()
        .find(|(_, f)| *f == function)
    else {
        return Err(cfg_err(format!(
            "layer {name} (TFOpLambda, function {function:?}): refused: rkeras reads the arithmetic TFOpLambda \
             functions (add, subtract, multiply, truediv, maximum, minimum) and never executes code from a file"
        )));
    };
    let node = layer
        .pointer("/inbound_nodes/0")
        .and_then(Value::as_array)
        .filter(|n| n.len() == 4)
        .ok_or_else(|| {
            cfg_err(format!(
                "layer {name} (TFOpLambda): expected one call [x, node, tensor, {{y}}]"
            ))
        })?;
    let tensor = |r: &[Value]| json!({ "class_name": "__keras_tensor__", "config": { "keras_history": r } });
    let x = if node[0] == "_CONSTANT_VALUE" {
        node[2].clone()
    } else {
        tensor(&node[..3])
    };
    let y = match node[3].get("y") {
        Some(Value::Array(r)) => tensor(r),
        Some(v) if v.is_number() => v.clone(),
        other => {
            return Err(cfg_err(format!(
                "layer {name} (TFOpLambda {function}): expected `y` to be a tensor or a number, received {}",
                other.map_or("nothing".into(), short)
            )))
        }
    };
    Ok(json!({
        "module": "keras.src.ops.numpy", "class_name": class, "config": { "name": name },
        "name": name, "inbound_nodes": [{ "args": [x, y], "kwargs": {} }],
    }))
}

fn functional_from_config(config: &Value, shared: &mut Shared) -> Result<Model> {
    let name = model_name(config, "functional");
    let layers = layer_list(config, &name)?;
    // Tensors made so far: (layer name, node index) → outputs.
    let mut made: HashMap<(String, usize), Vec<KerasTensor>> = HashMap::new();
    let mut built = HashMap::new();
    // (layer, callable, inbound nodes, first node index the config uses for this layer's calls)
    let mut pending: Vec<(String, Callable, Vec<Value>, usize)> = Vec::new();
    for layer in &layers {
        let class = layer.get("class_name").and_then(Value::as_str).unwrap_or("");
        let tf_op;
        let layer = if class == "TFOpLambda" {
            tf_op = tf_op_lambda_as_operation(layer)?;
            &tf_op
        } else {
            layer
        };
        if class == "InputLayer" {
            let c = layer
                .get("config")
                .ok_or_else(|| cfg_err(format!("model {name}: InputLayer without config")))?;
            let mut cfg = InputLayerConfig::from_keras(&ConfigReader::new("InputLayer", c)?)?;
            let lname = cfg
                .name
                .clone()
                .or_else(|| layer.get("name").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_default();
            cfg.name = Some(lname.clone());
            made.insert((lname, 0), vec![cfg.tensor()?]);
            continue;
        }
        let (lname, c) = callable_from(layer, shared)?;
        let nodes = layer
            .get("inbound_nodes")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let first = keras2_first_node(layer, &nodes);
        pending.push((lname, c, nodes, first));
    }
    // Keras's functional_from_config: process nodes whose inputs exist, until none is left.
    let mut next_node: HashMap<String, usize> = HashMap::new();
    loop {
        let mut progressed = false;
        let mut remaining = 0;
        for (lname, c, nodes, first) in &pending {
            let done = *next_node.get(lname).unwrap_or(&0);
            for node in nodes.iter().skip(done) {
                let refs = inbound_refs(lname, node)?;
                let ready: Option<Vec<KerasTensor>> = refs
                    .iter()
                    .map(|(n, i, t)| made.get(&(n.clone(), *i)).and_then(|outs| outs.get(*t).cloned()))
                    .collect();
                let Some(inputs) = ready else { break };
                let args: Vec<&KerasTensor> = inputs.iter().collect();
                let index = *next_node.get(lname).unwrap_or(&0);
                let outs = call(lname, c, &args, &mut built)?;
                made.insert((lname.clone(), index + first), outs);
                next_node.insert(lname.clone(), index + 1);
                progressed = true;
            }
            remaining += nodes.len() - *next_node.get(lname).unwrap_or(&0);
        }
        if remaining == 0 {
            break;
        }
        if !progressed {
            let stuck: Vec<String> = pending
                .iter()
                .filter(|(l, _, n, _)| *next_node.get(l).unwrap_or(&0) < n.len())
                .map(|(l, _, _, _)| l.clone())
                .collect();
            return Err(KerasError::Graph {
                model: name,
                detail: format!("layers {stuck:?} wait for inputs that are never produced (a cycle, or a reference to a missing layer or node)"),
            });
        }
    }
    let lookup = |key: &str| -> Result<Vec<KerasTensor>> {
        endpoint_list(config, key, &name)?
            .into_iter()
            .map(|(n, i, t)| {
                made.get(&(n.clone(), i))
                    .and_then(|o| o.get(t).cloned())
                    .ok_or_else(|| KerasError::Graph {
                        model: name.clone(),
                        detail: format!("{key} refers to {n}[{i}][{t}], which no layer produces"),
                    })
            })
            .collect()
    };
    let inputs = lookup("input_layers")?;
    let outputs = lookup("output_layers")?;
    let ins: Vec<&KerasTensor> = inputs.iter().collect();
    let outs: Vec<&KerasTensor> = outputs.iter().collect();
    build_from_session(&name, ModelKind::Functional, &ins, &outs)
}

/// Keras 3 `model.to_json()` text.
pub fn model_to_json(model: &Model) -> String {
    let cls = match model.kind() {
        ModelKind::Sequential => "Sequential",
        ModelKind::Functional => "Functional",
    };
    // Keras's envelope: a Functional model is `keras.src.models.functional`, registered as
    // "Functional", with no build input shape; both kinds carry the compile_config (empty
    // when the model is not compiled).
    let envelope = match model.kind() {
        ModelKind::Sequential => json!({ "module": "keras", "registered_name": null,
            "build_config": { "input_shape": model.input_shapes().first() } }),
        ModelKind::Functional => json!({ "module": FUNCTIONAL_MODULE, "registered_name": "Functional",
            "build_config": { "input_shape": null } }),
    };
    let compile_config = model.compile_config().unwrap_or_else(|| json!({}));
    json!({ "module": envelope["module"], "class_name": cls, "config": model_config(model),
        "registered_name": envelope["registered_name"], "build_config": envelope["build_config"],
        "compile_config": compile_config })
    .to_string()
}

/// The Python module Keras 3 names for a Functional model.
const FUNCTIONAL_MODULE: &str = "keras.src.models.functional";

/// Keras 3 classes built at construction (`_build_at_init`): their JSON has no `build_config`.
const BUILT_AT_INIT: &[&str] = &[
    "InputLayer",
    "Activation",
    "ELU",
    "LeakyReLU",
    "ReLU",
    "Softmax",
    "MaxPooling2D",
    "AveragePooling2D",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling2D",
    "Dropout",
    "Reshape",
];

fn layer_entry(model: &Model, li: usize) -> Value {
    let layer = &model.layers[li];
    let class = layer.class_name();
    let module = match class {
        "Sequential" => "keras",
        "Functional" => FUNCTIONAL_MODULE,
        c => crate::layers::app_layers::keras_module(c).unwrap_or("keras.layers"),
    };
    let mut config = layer.config();
    if let (Some(m), Some(c)) = (layer.as_model(), config.as_object_mut()) {
        c.insert("name".into(), json!(m.name()));
    }
    let registered = if class == "Functional" || crate::layers::app_layers::keras_module(class).is_some() {
        json!(class)
    } else {
        Value::Null
    };
    let is_op = layer.keras_op_args(Vec::new()).is_some();
    let (module, registered) = if is_op {
        ("keras.src.ops.numpy", json!(class))
    } else {
        (module, registered)
    };
    let mut entry = json!({ "module": module, "class_name": class, "config": config, "registered_name": registered });
    let calls: Vec<&crate::model::ModelNode> = model.nodes.iter().filter(|n| n.layer == li).collect();
    let first_call = calls
        .iter()
        .find(|n| !n.inputs.is_empty())
        .filter(|_| !BUILT_AT_INIT.contains(&class) && !is_op);
    if let Some(first) = first_call {
        let shapes: Vec<Value> = first
            .inputs
            .iter()
            .map(|&(s, i)| json!(model.nodes[s].output_shapes[i]))
            .collect();
        entry["build_config"] =
            json!({ "input_shape": if shapes.len() == 1 { shapes[0].clone() } else { Value::Array(shapes) } });
    }
    if layer.as_model().is_some() {
        entry["compile_config"] = json!({});
    }
    if model.kind() == ModelKind::Functional {
        entry["name"] = json!(layer.name());
        let nodes: Vec<Value> = calls
            .iter()
            .filter(|n| !n.inputs.is_empty())
            .map(|n| {
                let tensors: Vec<Value> = n
                    .inputs
                    .iter()
                    .map(|&(s, i)| {
                        let src = &model.nodes[s];
                        json!({ "class_name": "__keras_tensor__", "config": {
                            "shape": src.output_shapes[i], "dtype": "float32",
                            "keras_history": [model.layers[src.layer].name(), src.node_index, i] } })
                    })
                    .collect();
                let args = match layer.keras_op_args(tensors.clone()) {
                    Some(op_args) => op_args,
                    None if tensors.len() == 1 => tensors,
                    None => vec![Value::Array(tensors)],
                };
                // The keyword arguments Keras records for these calls.
                let kwargs = match class {
                    "BatchNormalization" => json!({ "mask": null }),
                    "Dropout" => json!({ "training": false }),
                    _ => json!({}),
                };
                json!({ "args": args, "kwargs": kwargs })
            })
            .collect();
        entry["inbound_nodes"] = Value::Array(nodes);
    }
    entry
}

/// The `config` object of a model's Keras 3 JSON.
pub fn model_config(model: &Model) -> Value {
    let layers: Vec<Value> = (0..model.layers.len()).map(|li| layer_entry(model, li)).collect();
    let mut cfg = json!({ "name": model.name(), "trainable": model.trainable });
    if model.kind() == ModelKind::Sequential {
        cfg["dtype"] = dtype_policy();
        cfg["layers"] = Value::Array(layers);
        cfg["build_input_shape"] = json!(model.input_shapes().first());
    } else {
        cfg["layers"] = Value::Array(layers);
        let refs = |ts: Vec<(usize, usize)>| -> Value {
            let v: Vec<Value> = ts
                .iter()
                .map(|&(n, i)| json!([model.layers[model.nodes[n].layer].name(), model.nodes[n].node_index, i]))
                .collect();
            if v.len() == 1 {
                v[0].clone()
            } else {
                Value::Array(v)
            }
        };
        cfg["input_layers"] = refs(model.inputs.iter().map(|&n| (n, 0)).collect());
        cfg["output_layers"] = refs(model.outputs.clone());
    }
    cfg
}
