//! Shapes, parameter counts and weights of the core layers (Dense, Activation, ReLU, Dropout,
//! BatchNormalization, Add) against real Keras: the seed cases `b_mlp`, `c_func_add_mlp`,
//! `d_imdb`, `e_dense_nobias`, `k_batchnorm`, `k_dropout`, `k_activation_relu`, `k_relu6` and
//! `k_dense_on_4d` of `tests/fixtures/seed/` are read from their Keras 3 JSON and their
//! tf-keras 2 JSON with `model_from_json`, and every layer's output shape and parameter
//! count, the totals (trainable and not) and the weights' names and shapes must equal what
//! that Keras version reported (`index.json`, made by Keras 3.15.1 and tf-keras 2.21.0).

use rkeras::io::keras_json::model_from_json;
use rkeras::kshape::Shape;
use rkeras::Model;
use serde_json::Value;
use std::path::PathBuf;

const CASES: [&str; 9] = [
    "b_mlp",
    "c_func_add_mlp",
    "d_imdb",
    "e_dense_nobias",
    "k_batchnorm",
    "k_dropout",
    "k_activation_relu",
    "k_relu6",
    "k_dense_on_4d",
];

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed")
}

/// A Keras shape from index.json; tf-keras 2 wraps an InputLayer's shape in a list.
fn shape_of(v: &Value) -> Shape {
    let v = match v.as_array().and_then(|a| a.first()) {
        Some(inner) if inner.is_array() => inner,
        _ => v,
    };
    v.as_array()
        .expect("a shape list")
        .iter()
        .map(|d| d.as_u64().map(|x| x as usize))
        .collect()
}

/// The output shape of the (single) call of the layer named `name`.
fn output_of(model: &Model, name: &str) -> Option<Shape> {
    let pos = model.all_layers().iter().position(|l| l.name() == name)?;
    model
        .nodes()
        .iter()
        .find(|n| n.layer == pos)
        .and_then(|n| n.output_shapes.first().cloned())
}

/// `sequential/dense/kernel` (Keras 3) or `dense/kernel:0` (tf-keras 2) → `dense/kernel`.
fn weight_key(path: &str) -> String {
    let path = path.trim_end_matches(":0");
    let parts: Vec<&str> = path.rsplitn(3, '/').collect();
    match parts.as_slice() {
        [w, l, ..] => format!("{l}/{w}"),
        _ => path.to_string(),
    }
}

/// Differences between the model built from `<case>.<version>.json` and Keras's report.
fn check(case: &str, version: &str, report: &Value) -> Vec<String> {
    let path = dir().join(format!("{case}.{}.json", if version == "keras3" { "k3" } else { "k2" }));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    rkeras::clear_session();
    let model = match model_from_json(&text) {
        Ok(m) => m,
        Err(e) => return vec![format!("{case} ({version}): build: {e}")],
    };
    let at = format!("{case} ({version})");
    let mut problems = Vec::new();
    let want_layers = report["layers"].as_array().expect("layers");
    let layers = model.layers();
    let got_names: Vec<&str> = layers.iter().map(|l| l.name()).collect();
    let want_names: Vec<&str> = want_layers.iter().map(|l| l["name"].as_str().unwrap_or("?")).collect();
    if got_names != want_names {
        problems.push(format!("{at}: layers {got_names:?}, Keras {want_names:?}"));
    }
    for want in want_layers {
        let name = want["name"].as_str().unwrap_or("?");
        let Some(layer) = layers.iter().find(|l| l.name() == name) else {
            continue;
        };
        let class = want["class"].as_str().unwrap_or("?");
        if layer.class_name() != class {
            problems.push(format!("{at}: {name} is {}, Keras {class}", layer.class_name()));
        }
        let params = want["params"].as_u64().unwrap_or(u64::MAX);
        if layer.count_params() != params {
            problems.push(format!(
                "{at}: {name} has {} params, Keras {params}",
                layer.count_params()
            ));
        }
        let want_shape = shape_of(&want["output_shape"]);
        let got = output_of(&model, name);
        if got.as_ref() != Some(&want_shape) {
            problems.push(format!("{at}: {name} output {got:?}, Keras {want_shape:?}"));
        }
    }
    let count = |ws: Vec<&rkeras::layers::Weight>| ws.iter().map(|w| w.count()).sum::<u64>();
    let totals = [
        ("total", model.count_params(), &report["total_params"]),
        (
            "trainable",
            count(model.trainable_weights()),
            &report["trainable_params"],
        ),
        (
            "non-trainable",
            count(model.non_trainable_weights()),
            &report["non_trainable_params"],
        ),
    ];
    for (what, got, want) in totals {
        if Some(got) != want.as_u64() {
            problems.push(format!("{at}: {what} params {got}, Keras {want}"));
        }
    }
    let want_weights: Vec<(String, Vec<usize>)> = report["weight_shapes"]
        .as_array()
        .expect("weight_shapes")
        .iter()
        .map(|w| {
            let shape = w[1]
                .as_array()
                .expect("shape")
                .iter()
                .map(|d| d.as_u64().unwrap_or(0) as usize)
                .collect();
            (weight_key(w[0].as_str().unwrap_or("?")), shape)
        })
        .collect();
    let mut got_weights = Vec::new();
    for l in model.all_layers() {
        for w in l.weights() {
            got_weights.push((format!("{}/{}", l.name(), w.name), w.value.shape().to_vec()));
        }
    }
    if got_weights != want_weights {
        problems.push(format!("{at}: weights {got_weights:?}, Keras {want_weights:?}"));
    }
    problems
}

#[test]
fn core_layer_cases_match_keras3_and_keras2() {
    let index: Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("index.json")).expect("index.json")).expect("JSON");
    let mut problems = Vec::new();
    for case in CASES {
        for version in ["keras3", "keras2"] {
            let report = &index[case][version];
            assert!(report.is_object(), "index.json has no {version} report for {case}");
            problems.extend(check(case, version, report));
        }
    }
    assert!(
        problems.is_empty(),
        "{} differences from Keras:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn weight_keys_drop_model_prefixes_and_suffixes() {
    assert_eq!(weight_key("sequential/dense/kernel"), "dense/kernel");
    assert_eq!(weight_key("dense/kernel:0"), "dense/kernel");
    assert_eq!(
        weight_key("batch_normalization/moving_mean"),
        "batch_normalization/moving_mean"
    );
}
