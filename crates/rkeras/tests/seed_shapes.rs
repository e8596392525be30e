//! Shapes and parameter counts of the convolution, pooling and reshaping layers against real
//! Keras: every `k_conv*`, `k_depthwise*`, `k_separable*`, `k_maxpool*`, `k_avgpool*`,
//! `k_gap`, `k_gmp`, `k_zeropad*`, `k_reshape*` and `k_flatten` case of
//! `tests/fixtures/seed/` is read from its Keras 3 JSON and its tf-keras 2 JSON, and each
//! layer's output shape and parameter count must equal what that Keras version reported
//! (`index.json`, made by Keras 3.15.1 and tf-keras 2.21.0).

use rkeras::io::keras_json::model_from_json;
use rkeras::kshape::Shape;
use serde_json::Value;
use std::path::PathBuf;

const PREFIXES: [&str; 10] = [
    "k_conv",
    "k_depthwise",
    "k_separable",
    "k_maxpool",
    "k_avgpool",
    "k_gap",
    "k_gmp",
    "k_zeropad",
    "k_reshape",
    "k_flatten",
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

/// Differences between the model built from `<case>.<version>.json` and Keras's report.
fn check(case: &str, version: &str, report: &Value) -> Vec<String> {
    let path = dir().join(format!("{case}.{}.json", if version == "keras3" { "k3" } else { "k2" }));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    rkeras::clear_session();
    let model = match model_from_json(&text) {
        Ok(m) => m,
        Err(e) => return vec![format!("{case} ({version}): build: {e}")],
    };
    let mut problems = Vec::new();
    let want_layers = report["layers"].as_array().expect("layers");
    let layers = model.layers();
    if layers.len() != want_layers.len() {
        problems.push(format!(
            "{case} ({version}): {} layers, Keras {}",
            layers.len(),
            want_layers.len()
        ));
    }
    for (i, (layer, want)) in layers.iter().zip(want_layers).enumerate() {
        let class = want["class"].as_str().unwrap_or("?");
        if layer.class_name() != class {
            problems.push(format!(
                "{case} ({version}): layer {i} is {}, Keras {class}",
                layer.class_name()
            ));
        }
        let params = want["params"].as_u64().unwrap_or(u64::MAX);
        if layer.count_params() != params {
            problems.push(format!(
                "{case} ({version}): {class} has {} params, Keras {params}",
                layer.count_params()
            ));
        }
        let node = model.nodes().iter().find(|n| n.layer == i);
        let got = node.and_then(|n| n.output_shapes.first().cloned());
        let want_shape = shape_of(&want["output_shape"]);
        if got.as_ref() != Some(&want_shape) {
            problems.push(format!(
                "{case} ({version}): {class} output {got:?}, Keras {want_shape:?}"
            ));
        }
    }
    if model.count_params() != report["total_params"].as_u64().unwrap_or(u64::MAX) {
        problems.push(format!(
            "{case} ({version}): total {} params, Keras {}",
            model.count_params(),
            report["total_params"]
        ));
    }
    let want_weights: Vec<Vec<usize>> = report["weight_shapes"]
        .as_array()
        .expect("weight_shapes")
        .iter()
        .map(|w| {
            w[1].as_array()
                .expect("shape")
                .iter()
                .map(|d| d.as_u64().unwrap_or(0) as usize)
                .collect()
        })
        .collect();
    let got_weights: Vec<Vec<usize>> = model.weights().iter().map(|w| w.value.shape().to_vec()).collect();
    if got_weights != want_weights {
        problems.push(format!(
            "{case} ({version}): weight shapes {got_weights:?}, Keras {want_weights:?}"
        ));
    }
    problems
}

#[test]
fn conv_pool_and_reshape_cases_match_keras3_and_keras2() {
    let index: Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("index.json")).expect("index.json")).expect("JSON");
    let mut cases: Vec<&String> = index
        .as_object()
        .expect("object")
        .keys()
        .filter(|k| PREFIXES.iter().any(|p| k.starts_with(p)))
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 26,
        "expected the seed cases, found {}: {cases:?}",
        cases.len()
    );
    let mut problems = Vec::new();
    for case in &cases {
        for version in ["keras3", "keras2"] {
            problems.extend(check(case, version, &index[case.as_str()][version]));
        }
    }
    assert!(
        problems.is_empty(),
        "{} differences from Keras over {} cases:\n{}",
        problems.len(),
        cases.len(),
        problems.join("\n")
    );
}
