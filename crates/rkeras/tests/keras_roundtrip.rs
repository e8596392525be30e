//! Files rkeras writes load in real Keras with the same predictions. The check itself needs
//! Keras, so it runs by hand and its result is committed:
//!
//! ```sh
//! RKERAS_ROUNDTRIP_DIR=/tmp/rt cargo test -p rkeras --test keras_roundtrip   # rkeras writes
//! /root/venv-keras/bin/python tools/fixtures/keras_roundtrip.py /tmp/rt      # Keras reads
//! ```
//!
//! For every case rkeras writes `<case>.keras`, `<case>.weights.h5` (Keras 3 layout),
//! `<case>.legacy.h5` (tf-keras `save_weights` layout), `<case>.h5` (tf-keras full model, for
//! models without tensor operations), the input and its own predictions; the script loads
//! them in Keras 3 (`load_model` of `.keras` and `.h5`, `load_weights` of both weights files)
//! and in tf-keras 2 (`load_model` of the `.h5`, `load_weights` of the legacy file into the
//! tf-keras twin of the model) and
//! writes `tests/fixtures/keras_roundtrip/report.json` (max errors, and a hash of each file
//! it read) plus Keras 3's predictions `<case>.keras_output.npy`.
//!
//! This test keeps the report honest without Keras: it rewrites the files with the current
//! code and requires the same bytes (FNV-1a hashes of `config.json`, `model.weights.h5`, the
//! `.weights.h5` and both legacy `.h5`; the zip's `metadata.json` holds a date and is left
//! out), every error in the report within 1e-5, and rkeras's predictions within 1e-5 of
//! Keras's committed ones. A change in what rkeras writes fails here until the script is
//! rerun.

use rkeras::io::keras_file::{keras_bytes, read_archive};
use rkeras::io::legacy_h5::{legacy_model_bytes, legacy_weights_bytes};
use rkeras::io::npy::{read_npy, write_npy};
use rkeras::{load_model, Model};
use serde_json::Value;
use std::path::{Path, PathBuf};
use tensor::Tensor;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// FNV-1a, 64 bits, as hex (the script computes the same).
fn fnv(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Weights moved off Keras's values (so the files are rkeras's own), signs and BatchNormalization
/// variances kept: w · (1 + 0.1·u), u uniform in [−1, 1), seeded.
fn perturb(m: &mut Model, seed: u64) {
    let mut rng = tensor::Rng::new(seed);
    let ws: Vec<Tensor> = m
        .get_weights()
        .iter()
        .map(|w| {
            let data = w
                .data()
                .iter()
                .map(|v| v * (1.0 + 0.1 * (2.0 * rng.uniform() as f32 - 1.0)))
                .collect();
            Tensor::new(w.shape(), data).unwrap()
        })
        .collect();
    m.set_weights(&ws).unwrap();
}

/// A model built in rkeras (not read from Keras): nested Sequential, SeparableConv2D,
/// DepthwiseConv2D, BatchNormalization, Add, Flatten, Dense.
fn rkeras_built() -> Model {
    use rkeras::prelude::*;
    clear_session();
    let inner = Sequential::new()
        .add(InputLayer::new(&[6, 6, 3]))
        .add(Conv2D::new(4, 3).padding("same").activation("relu"))
        .add(BatchNormalization::new())
        .add(SeparableConv2D::new(5, 3))
        .build()
        .unwrap();
    let inp = Input(&[6, 6, 3]).unwrap();
    let a = rkeras::model::Call::call(&inner, &inp).unwrap();
    let b = DepthwiseConv2D::new(3).call(&inp).unwrap();
    let b = BatchNormalization::new().call(&b).unwrap();
    let b = Conv2D::new(5, 1).call(&b).unwrap();
    let y = Add::new().call_many(&[&a, &b]).unwrap();
    let y = Flatten::new().call(&y).unwrap();
    let y = Dense::new(3).call(&y).unwrap();
    let mut m = Model::new(&[&inp], &[&y], Some("rkeras_built")).unwrap();
    // BatchNormalization's statistics off their initial 0/1.
    let ws: Vec<Tensor> = m
        .get_weights()
        .iter()
        .enumerate()
        .map(|(k, w)| {
            Tensor::new(
                w.shape(),
                w.data().iter().map(|v| v + 0.05 * (k as f32 + 1.0)).collect(),
            )
            .unwrap()
        })
        .collect();
    m.set_weights(&ws).unwrap();
    m
}

/// The cases: every Keras-made fixture model (`keras_files/*.keras`), the MobileNetV2 saved
/// by Keras, a model of Keras 3 tensor operations, and a model built in rkeras. Each with its input batch.
fn cases() -> Vec<(String, Model, Tensor)> {
    let files = fixtures().join("keras_files");
    let mut names: Vec<String> = std::fs::read_dir(&files)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".keras"))
                .map(str::to_string)
        })
        .collect();
    names.sort();
    let input = |case: &str| {
        let own = files.join(format!("{case}.input.npy"));
        let p = if own.exists() {
            own
        } else {
            fixtures().join("keras").join(format!("{case}.input.npy"))
        };
        read_npy(&p.to_string_lossy()).unwrap()
    };
    let mut out = Vec::new();
    for case in &names {
        rkeras::clear_session();
        let mut m = load_model(files.join(format!("{case}.keras"))).unwrap();
        // Seeded by the case's name, so adding a case leaves the others' files alone.
        perturb(&mut m, u64::from_str_radix(&fnv(case.as_bytes()), 16).unwrap());
        out.push((case.clone(), m, input(case)));
    }
    let apps = fixtures().join("keras_apps");
    let mut m = load_model(apps.join("mobilenetv2_035_96.keras")).unwrap();
    perturb(&mut m, 7);
    let x = read_npy(&apps.join("mobilenetv2_035_96.input.npy").to_string_lossy()).unwrap();
    out.push(("mobilenetv2_035_96".into(), m, x));
    // Keras 3 operations (`x * 2.0`, `2.0 - x`, …): tf-keras's TFOpLambda in the legacy files.
    let ops = fixtures().join("keras_ops");
    let mut m = load_model(ops.join("ops.keras")).unwrap();
    perturb(&mut m, 11);
    let x = read_npy(&ops.join("ops.input.npy").to_string_lossy()).unwrap();
    out.push(("tensor_ops".into(), m, x));
    let x = Tensor::new(
        &[2, 6, 6, 3],
        (0..216).map(|i| ((i * 37 % 101) as f32) / 50.0 - 1.0).collect(),
    )
    .unwrap();
    out.push(("rkeras_built".into(), rkeras_built(), x));
    out
}

/// What rkeras writes for one case, with the hashes the report records.
struct Written {
    keras: Vec<u8>,
    weights_h5: Vec<u8>,
    legacy_h5: Vec<u8>,
    /// The legacy full model, when the model has a tf-keras form (no tensor operations).
    model_h5: Option<Vec<u8>>,
    hashes: Vec<(&'static str, String)>,
}

fn write_case(m: &Model) -> Written {
    let keras = keras_bytes(m).unwrap();
    let weights_h5 = m.weights_h5_bytes().unwrap();
    let legacy_h5 = legacy_weights_bytes(m).unwrap();
    let model_h5 = legacy_model_bytes(m).ok();
    let archive = read_archive("case", &keras).unwrap();
    let hashes = vec![
        ("config.json", fnv(archive.config.as_bytes())),
        ("model.weights.h5", fnv(&archive.weights_h5)),
        ("weights.h5", fnv(&weights_h5)),
        ("legacy.h5", fnv(&legacy_h5)),
        ("h5", model_h5.as_deref().map_or("none".to_string(), fnv)),
    ];
    Written {
        keras,
        weights_h5,
        legacy_h5,
        model_h5,
        hashes,
    }
}

fn max_err(got: &Tensor, want: &Tensor) -> f32 {
    assert_eq!(got.shape(), want.shape());
    got.data()
        .iter()
        .zip(want.data())
        .map(|(a, b)| (a - b).abs() / 1f32.max(b.abs()))
        .fold(0.0, f32::max)
}

fn dump(dir: &Path, case: &str, m: &Model, x: &Tensor, w: &Written) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(format!("{case}.keras")), &w.keras).unwrap();
    std::fs::write(dir.join(format!("{case}.weights.h5")), &w.weights_h5).unwrap();
    std::fs::write(dir.join(format!("{case}.legacy.h5")), &w.legacy_h5).unwrap();
    if let Some(b) = &w.model_h5 {
        std::fs::write(dir.join(format!("{case}.h5")), b).unwrap();
    }
    write_npy(&dir.join(format!("{case}.input.npy")).to_string_lossy(), x).unwrap();
    let y = m.predict(std::slice::from_ref(x), 32).unwrap();
    write_npy(&dir.join(format!("{case}.rkeras_output.npy")).to_string_lossy(), &y[0]).unwrap();
}

#[test]
fn files_rkeras_writes_load_in_keras_with_the_same_predictions() {
    let cases = cases();
    if let Ok(dir) = std::env::var("RKERAS_ROUNDTRIP_DIR") {
        // Generation mode: write the files for tools/fixtures/keras_roundtrip.py.
        for (case, m, x) in &cases {
            dump(Path::new(&dir), case, m, x, &write_case(m));
        }
        return;
    }
    let dir = fixtures().join("keras_roundtrip");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let rows = report["cases"].as_object().expect("report.cases");
    assert_eq!(
        rows.len(),
        cases.len(),
        "the report covers other cases than the test: rerun the script"
    );
    let mut problems = Vec::new();
    for (case, m, x) in &cases {
        let Some(row) = rows.get(case) else {
            problems.push(format!("{case}: not in the report"));
            continue;
        };
        for (file, h) in write_case(m).hashes {
            if row["hashes"][file].as_str() != Some(h.as_str()) {
                problems.push(format!(
                    "{case}: {file} written now ({h}) is not the one Keras read ({}): rerun the script",
                    row["hashes"][file]
                ));
            }
        }
        for (check, err) in row["max_error"].as_object().expect("max_error") {
            match err.as_f64() {
                Some(e) if e <= 1e-5 => {}
                _ => problems.push(format!("{case}: {check}: max error {err} in the report")),
            }
        }
        let keras = read_npy(&dir.join(format!("{case}.keras_output.npy")).to_string_lossy()).unwrap();
        let ours = m.predict(std::slice::from_ref(x), 32).unwrap();
        let e = max_err(&ours[0], &keras);
        if e > 1e-5 {
            problems.push(format!("{case}: rkeras vs Keras's prediction on rkeras's file: {e:e}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
