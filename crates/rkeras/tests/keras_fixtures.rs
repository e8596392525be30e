//! Forward parity with real Keras: every case in `tests/fixtures/keras/` (Keras 3's
//! `config.json`, weights in `get_weights()` order, an input batch and Keras's `predict()`
//! output) must match within 1e-5. See `fixtures/keras/README.md` for how they were made.

use rkeras::io::keras_json::model_from_json;
use rkeras::io::npy::{read_npy, read_npz};
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keras")
}

fn cases() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir())
        .expect("fixture dir")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".config.json"))
                .map(str::to_string)
        })
        .collect();
    v.sort();
    v
}

fn run_case(case: &str) -> Result<f32, String> {
    let p = |suffix: &str| dir().join(format!("{case}{suffix}")).to_string_lossy().into_owned();
    let text = std::fs::read_to_string(p(".config.json")).map_err(|e| e.to_string())?;
    rkeras::clear_session();
    let mut model = model_from_json(&text).map_err(|e| format!("build: {e}"))?;
    let weights: Vec<_> = read_npz(&p(".weights.npz"))
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    model.set_weights(&weights).map_err(|e| format!("set_weights: {e}"))?;
    let x = read_npy(&p(".input.npy")).map_err(|e| e.to_string())?;
    let want = read_npy(&p(".output.npy")).map_err(|e| e.to_string())?;
    let got = model.predict(&[x], 32).map_err(|e| format!("predict: {e}"))?;
    let got = &got[0];
    if got.shape() != want.shape() {
        return Err(format!("output shape {:?}, Keras {:?}", got.shape(), want.shape()));
    }
    let mut worst = 0.0f32;
    for (a, b) in got.data().iter().zip(want.data()) {
        let err = (a - b).abs() / (1.0f32).max(b.abs());
        worst = worst.max(err);
    }
    if worst > 1e-5 {
        return Err(format!("max error {worst:e} > 1e-5"));
    }
    Ok(worst)
}

#[test]
fn every_keras_fixture_predicts_the_same() {
    let cases = cases();
    assert!(
        cases.len() >= 30,
        "expected the fixture set, found {} cases",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in &cases {
        match run_case(case) {
            Ok(err) => println!("{case}: max error {err:e}"),
            Err(e) => failures.push(format!("{case}: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from Keras:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
