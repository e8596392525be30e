//! Keras 3 tensor operations in a Functional model (`x * 2.0`, `2.0 - x`, `ops.maximum`,
//! `x / y`, `x + y`), which Keras saves as `keras.src.ops.numpy` operations with constants in
//! their argument lists. Fixtures from `tools/fixtures/make_ops_refs.py` (Keras 3.15.1):
//! the `.keras` file loads and predicts as Keras (1e-5), its summary is Keras's byte for
//! byte, rkeras writes Keras's JSON back exactly, and the same model built with rkeras's
//! operators (`&d * 2.0`, `2.0 - &y`, …) has the same structure.

use rkeras::io::keras_json::{model_from_json, model_to_json};
use rkeras::io::npy::read_npy;
use rkeras::prelude::*;
use rkeras::summary::SummaryOptions;
use serde_json::Value;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keras_ops")
        .join(name)
}

#[test]
fn keras_operations_load_predict_summarize_and_round_trip() {
    let m = rkeras::load_model(fixture("ops.keras")).unwrap();
    let x = read_npy(fixture("ops.input.npy").to_str().unwrap()).unwrap();
    let want = read_npy(fixture("ops.output.npy").to_str().unwrap()).unwrap();
    let got = m.predict(&[x], 32).unwrap();
    let err = got[0]
        .data()
        .iter()
        .zip(want.data())
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(err <= 1e-5, "max error {err:e}");
    let summary = m.summary(&SummaryOptions::default()).unwrap();
    assert_eq!(summary, std::fs::read_to_string(fixture("ops.summary.txt")).unwrap());
    let keras: Value = serde_json::from_str(&std::fs::read_to_string(fixture("ops.json")).unwrap()).unwrap();
    let ours: Value = serde_json::from_str(&model_to_json(&m)).unwrap();
    assert_eq!(ours, keras, "model_to_json equals Keras's to_json()");
    let again = model_from_json(&model_to_json(&m)).unwrap();
    assert_eq!(again.summary(&SummaryOptions::default()).unwrap(), summary);
}

#[test]
fn operators_with_constants_on_either_side_build_the_same_graph() {
    rkeras::clear_session();
    let i = Input(&[4]).unwrap();
    let d = Dense::new(3).call(&i).unwrap();
    let y = (&d * 2.0).unwrap();
    let z = (2.0 - &y).unwrap();
    let dd = (&d * &d).unwrap();
    let den = (&dd + 1.0).unwrap();
    let v = (&z / &den).unwrap();
    let m = Model::new(&[&i], &[&v], None).unwrap();
    let json: Value = serde_json::from_str(&model_to_json(&m)).unwrap();
    let layers = json["config"]["layers"].as_array().unwrap();
    let sub = layers.iter().find(|l| l["class_name"] == "Subtract").unwrap();
    assert_eq!(sub["module"], "keras.src.ops.numpy");
    assert_eq!(sub["inbound_nodes"][0]["args"][0], 2.0, "{sub}");
    assert_eq!(
        sub["inbound_nodes"][0]["args"][1]["config"]["keras_history"][0],
        "multiply"
    );
    // Values: 2 - 2d over d² + 1, for d = the Dense output.
    let x = Tensor::new(&[2, 4], vec![0.5, -1.0, 2.0, 0.0, 1.0, 1.0, -0.5, 3.0]).unwrap();
    let dense = Model::new(&[&i], &[&d], None)
        .unwrap()
        .predict(std::slice::from_ref(&x), 8)
        .unwrap();
    let out = m.predict(&[x], 8).unwrap();
    for (o, d) in out[0].data().iter().zip(dense[0].data()) {
        assert!((o - (2.0 - 2.0 * d) / (d * d + 1.0)).abs() < 1e-6);
    }
    // An operation Keras has but rkeras does not read is named.
    let bad = std::fs::read_to_string(fixture("ops.json"))
        .unwrap()
        .replace("\"Maximum\"", "\"Arctan2\"");
    let e = model_from_json(&bad).unwrap_err().to_string();
    assert!(e.contains("Arctan2") && e.contains("not supported"), "{e}");
}

#[test]
fn tf_keras_tf_op_lambda_layers_load_predict_and_are_written_back() {
    use rkeras::summary::SummaryStyle;
    let m = rkeras::load_model(fixture("ops.tf_keras.h5")).unwrap();
    let x = read_npy(fixture("ops.input.npy").to_str().unwrap()).unwrap();
    let want = read_npy(fixture("ops.tf_keras.output.npy").to_str().unwrap()).unwrap();
    let got = m.predict(std::slice::from_ref(&x), 32).unwrap();
    let err = got[0]
        .data()
        .iter()
        .zip(want.data())
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(err <= 1e-5, "max error {err:e}");
    let k2 = SummaryOptions {
        style: SummaryStyle::Keras2,
        ..SummaryOptions::default()
    };
    assert_eq!(
        m.summary(&k2).unwrap(),
        std::fs::read_to_string(fixture("ops.tf_keras.summary.txt")).unwrap()
    );
    // rkeras's legacy .h5 of it holds TFOpLambda layers again and reads back the same.
    let dir = std::env::temp_dir().join(format!("rkeras-tfop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("ops.h5");
    m.save(&p).unwrap();
    let back = rkeras::load_model(&p).unwrap();
    assert_eq!(back.predict(&[x], 32).unwrap()[0].data(), got[0].data());
    let k2 = rkeras::io::keras2_json::model_to_keras2_value(&back).unwrap();
    let lambdas: Vec<&Value> = k2["config"]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["class_name"] == "TFOpLambda")
        .collect();
    assert_eq!(lambdas.len(), 7);
    let sub = lambdas
        .iter()
        .find(|l| l["config"]["function"] == "math.subtract")
        .unwrap();
    assert_eq!(sub["inbound_nodes"][0][0], "_CONSTANT_VALUE", "{sub}");
    std::fs::remove_dir_all(&dir).ok();
    // A TFOpLambda of any other TF function is refused, never run.
    let bad = serde_json::json!({"class_name": "Functional", "config": {"name": "m", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 2], "name": "i"}, "name": "i", "inbound_nodes": []},
        {"class_name": "TFOpLambda", "config": {"name": "tf.io.write_file", "function": "io.write_file"},
         "name": "tf.io.write_file", "inbound_nodes": [["i", 0, 0, {"y": 1.0, "name": null}]]}],
        "input_layers": [["i", 0, 0]], "output_layers": [["tf.io.write_file", 0, 0]]}});
    let e = model_from_json(&bad.to_string()).unwrap_err().to_string();
    assert!(e.contains("io.write_file") && e.contains("never executes code"), "{e}");
}
