//! Keras 3 JSON written by rkeras equals what Keras wrote: for every seed model and
//! application, `model_from_json(keras_json)` then `model_to_json` gives the same JSON value
//! (keys, order-independent), and reading it back gives the same summary.

use rkeras::io::keras_json::{model_from_json, model_to_json};
use rkeras::summary::SummaryOptions;
use serde_json::Value;
use std::path::PathBuf;

/// First path where two JSON values differ.
fn first_difference(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => {
                        if let Some(d) = first_difference(p, q, &format!("{path}.{k}")) {
                            return Some(d);
                        }
                    }
                    (p, q) => return Some(format!("{path}.{k}: ours {p:?}, Keras {q:?}")),
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_difference(p, q, &format!("{path}[{i}]"))),
        (Value::Number(x), Value::Number(y)) if x.as_f64() == y.as_f64() => None,
        _ if a == b => None,
        _ => Some(format!("{path}: ours {a}, Keras {b}")),
    }
}

fn check_dir(sub: &str) -> (usize, Vec<String>) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(sub);
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".k3.json"))
        .collect();
    names.sort();
    let mut failures = Vec::new();
    for path in &names {
        let text = std::fs::read_to_string(path).unwrap();
        rkeras::clear_session();
        let model = match model_from_json(&text) {
            Ok(m) => m,
            Err(e) => {
                failures.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        let ours: Value = serde_json::from_str(&model_to_json(&model)).unwrap();
        let keras: Value = serde_json::from_str(&text).unwrap();
        if let Some(d) = first_difference(&ours["config"], &keras["config"], "config") {
            failures.push(format!("{}: {d}", path.file_name().unwrap().to_string_lossy()));
            continue;
        }
        rkeras::clear_session();
        let again = model_from_json(&model_to_json(&model)).unwrap();
        let opts = SummaryOptions::default();
        assert_eq!(again.summary(&opts).unwrap(), model.summary(&opts).unwrap());
    }
    (names.len(), failures)
}

#[test]
fn seed_models_write_keras_json() {
    let (n, failures) = check_dir("seed");
    assert!(
        failures.is_empty(),
        "{} of {n}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn applications_write_keras_json() {
    let (n, failures) = check_dir("apps");
    assert!(
        failures.is_empty(),
        "{} of {n}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
