//! Training parity with real Keras 3.15 (TensorFlow 2.21 backend).
//!
//! `fixtures/train/` (from `../shared/reference/keras/fixtures/`, made by the reference
//! script): LeNet-5 (`fixtures/keras/lenet5.config.json`, weights
//! `fixtures/keras/lenet5.weights.npz`), data `train_x_u8.npy / 255` and `train_y.npy`,
//! `compile(SGD(learning_rate=0.01), "sparse_categorical_crossentropy")`, `train_on_batch`
//! on samples [0:32], [32:64], [64:96]: the step-1 gradients and weights, the three losses,
//! the predictions after step 3, and `fit(batch_size=32, shuffle=False)` giving the same
//! weights and the mean of the three losses.
//!
//! `fixtures/train_refs/` (made by `tools/fixtures/make_train_refs.py`): other optimizers,
//! losses, weights, BatchNormalization, regularizers and constraints; see that script.

use rkeras::io::keras_json::model_from_json;
use rkeras::io::npy::{read_npy, read_npz};
use rkeras::training::{FitOptions, Optimizer};
use rkeras::Model;
use std::path::PathBuf;
use tensor::Tensor;

fn fixture(path: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
        .to_string_lossy()
        .into_owned()
}

fn npz(path: &str) -> Vec<Tensor> {
    read_npz(&fixture(path)).unwrap().into_iter().map(|(_, t)| t).collect()
}

fn lenet() -> Model {
    rkeras::clear_session();
    let text = std::fs::read_to_string(fixture("keras/lenet5.config.json")).unwrap();
    let mut model = model_from_json(&text).unwrap();
    model.set_weights(&npz("keras/lenet5.weights.npz")).unwrap();
    model
}

fn data() -> (Tensor, Tensor) {
    let x = read_npy(&fixture("train/train_x_u8.npy")).unwrap().map(|v| v / 255.0);
    let y = read_npy(&fixture("train/train_y.npy")).unwrap();
    (x, y)
}

fn rows(t: &Tensor, a: usize, b: usize) -> Tensor {
    let row: usize = t.shape()[1..].iter().product();
    let mut shape = t.shape().to_vec();
    shape[0] = b - a;
    Tensor::new(&shape, t.data()[a * row..b * row].to_vec()).unwrap()
}

fn max_diff(a: &[Tensor], b: &[Tensor]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| x.max_abs_diff(y).unwrap())
        .fold(0.0, f32::max)
}

fn reference() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("train/train_ref.json")).unwrap()).unwrap()
}

#[test]
fn lenet5_sgd_step1_gradients_weights_and_three_losses_match_keras() {
    let r = reference();
    let (x, y) = data();
    let mut model = lenet();
    model
        .compile(
            Optimizer::sgd().learning_rate(0.01),
            "sparse_categorical_crossentropy",
            &[] as &[&str],
        )
        .unwrap();
    let (loss, grads) = model.gradients(&rows(&x, 0, 32), &rows(&y, 0, 32), None).unwrap();
    let want = npz("train/train_step1.grads.npz");
    let gd = max_diff(&grads, &want);
    assert!(gd < 1e-4, "step-1 gradients differ from Keras by {gd:e}");
    let k1 = r["steps"][0]["loss_train_on_batch"].as_f64().unwrap() as f32;
    assert!((loss - k1).abs() < 1e-5, "loss {loss} vs Keras {k1}");

    for step in 0..3 {
        let logs = model
            .train_on_batch(
                &rows(&x, 32 * step, 32 * step + 32),
                &rows(&y, 32 * step, 32 * step + 32),
                None,
                None,
            )
            .unwrap();
        let k = r["steps"][step]["loss_train_on_batch"].as_f64().unwrap();
        let got = logs.get("loss").unwrap();
        assert!((got - k).abs() < 1e-5, "step {}: loss {got} vs Keras {k}", step + 1);
        if step == 0 {
            let wd = max_diff(&model.get_weights(), &npz("train/train_step1.weights.npz"));
            assert!(wd < 1e-4, "weights after step 1 differ from Keras by {wd:e}");
        }
    }
    assert_eq!(model.optimizer().unwrap().iterations(), 3);
    let pred = model.predict(&[rows(&x, 0, 4)], 32).unwrap();
    let want = &r["predict_after_step3_first4"];
    for i in 0..4 {
        for j in 0..10 {
            let k = want[i][j].as_f64().unwrap() as f32;
            let g = pred[0].data()[i * 10 + j];
            assert!(
                (g - k).abs() < 1e-4,
                "prediction [{i}][{j}] after 3 steps: {g} vs Keras {k}"
            );
        }
    }
}

#[test]
fn lenet5_fit_one_epoch_unshuffled_equals_three_steps() {
    let r = reference();
    let (x, y) = data();
    let mut a = lenet();
    a.compile(
        Optimizer::sgd().learning_rate(0.01),
        "sparse_categorical_crossentropy",
        &["accuracy"],
    )
    .unwrap();
    let h = a
        .fit(&x, &y, FitOptions::default().batch_size(32).shuffle(false).verbose(0))
        .unwrap();
    let k = r["fit_1epoch_reported_loss(mean of 3 batch losses)"].as_f64().unwrap();
    let got = h.get("loss").unwrap()[0];
    assert!((got - k).abs() < 1e-5, "fit loss {got} vs Keras {k}");
    assert_eq!(h.keys().collect::<Vec<_>>(), ["accuracy", "loss"]);
    let mut b = lenet();
    b.compile(
        Optimizer::sgd().learning_rate(0.01),
        "sparse_categorical_crossentropy",
        &["accuracy"],
    )
    .unwrap();
    for s in 0..3 {
        b.train_on_batch(
            &rows(&x, 32 * s, 32 * s + 32),
            &rows(&y, 32 * s, 32 * s + 32),
            None,
            None,
        )
        .unwrap();
    }
    // Equal up to float summation order: the convolution kernels split work across rayon
    // workers, and under load the split (hence the order of a few sums) can differ.
    let d = max_diff(&a.get_weights(), &b.get_weights());
    assert!(d < 1e-6, "fit vs three train_on_batch: {d:e}");
}

/// One case of `fixtures/train_refs/`: arrays by name.
fn case_arrays(case: &str) -> std::collections::HashMap<String, Tensor> {
    read_npz(&fixture(&format!("train_refs/{case}.npz")))
        .unwrap()
        .into_iter()
        .collect()
}

fn prefixed(arrays: &std::collections::HashMap<String, Tensor>, prefix: &str) -> Vec<Tensor> {
    let mut keys: Vec<&String> = arrays.keys().filter(|k| k.starts_with(prefix)).collect();
    keys.sort();
    keys.into_iter().map(|k| arrays[k].clone()).collect()
}

/// Builds, weights and compiles a case's model as the script did.
fn case_model(case: &str, spec: &serde_json::Value, arrays: &std::collections::HashMap<String, Tensor>) -> Model {
    rkeras::clear_session();
    let mut model = model_from_json(&spec["model"].to_string()).unwrap();
    model.set_weights(&prefixed(arrays, "w0_")).unwrap();
    let config = serde_json::json!({"optimizer": spec["optimizer"], "loss": spec["loss"]});
    model.compile_from_config(&config).unwrap();
    if case == "huber" {
        // Keras 3.15's Huber.get_config() leaves out `delta` (0.5 in the script).
        let opt = model.optimizer().unwrap().clone();
        model
            .compile(opt, rkeras::training::Loss::Huber { delta: 0.5 }, &[] as &[&str])
            .unwrap();
    }
    model
}

fn rows_of(t: &Tensor, step: usize, batch: usize) -> Tensor {
    rows(t, step * batch, (step + 1) * batch)
}

#[test]
fn optimizers_losses_weights_and_layers_match_keras_over_three_steps() {
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("train_refs/index.json")).unwrap()).unwrap();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (case, spec) in index.as_object().unwrap() {
        if case == "fit_metrics" {
            continue;
        }
        let a = case_arrays(case);
        let mut model = case_model(case, spec, &a);
        let batch = spec["batch_size"].as_u64().unwrap() as usize;
        let class_weight: Option<std::collections::HashMap<usize, f32>> = spec["class_weight"].as_object().map(|o| {
            o.iter()
                .map(|(k, v)| (k.parse().unwrap(), v.as_f64().unwrap() as f32))
                .collect()
        });
        for step in 0..3 {
            let sw = a.get("sw").map(|w| rows_of(w, step, batch));
            let logs = model
                .train_on_batch(
                    &rows_of(&a["x"], step, batch),
                    &rows_of(&a["y"], step, batch),
                    sw.as_ref(),
                    class_weight.as_ref(),
                )
                .unwrap();
            let want = spec["losses"][step].as_f64().unwrap();
            let got = logs.get("loss").unwrap();
            if (got - want).abs() > 1e-5 * want.abs().max(1.0) {
                failures.push(format!("{case}: step {} loss {got} vs Keras {want}", step + 1));
            }
            let expect = match step {
                0 => Some(prefixed(&a, "w1_")),
                2 => Some(prefixed(&a, "w3_")),
                _ => None,
            };
            if let Some(w) = expect {
                let d = max_diff(&model.get_weights(), &w);
                if d > 1e-4 {
                    failures.push(format!("{case}: weights after step {} differ by {d:e}", step + 1));
                }
            }
        }
        let vars = model.optimizer().unwrap().variables();
        let names: Vec<String> = vars.iter().map(|v| v.name.clone()).collect();
        let want_names: Vec<String> = spec["optimizer_variables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        if names != want_names {
            failures.push(format!("{case}: optimizer variables {names:?} vs Keras {want_names:?}"));
        } else {
            let values: Vec<Tensor> = vars
                .into_iter()
                .map(|v| v.value.reshape(&[v.value.len()]).unwrap())
                .collect();
            let want: Vec<Tensor> = prefixed(&a, "opt_")
                .into_iter()
                .map(|t| t.reshape(&[t.len()]).unwrap())
                .collect();
            let d = max_diff(&values, &want);
            if d > 1e-4 {
                failures.push(format!("{case}: optimizer variables differ by {d:e}"));
            }
        }
        checked += 1;
    }
    assert!(checked >= 28, "only {checked} cases found");
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn fit_history_with_validation_split_and_metrics_matches_keras() {
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("train_refs/index.json")).unwrap()).unwrap();
    let spec = &index["fit_metrics"];
    let a = case_arrays("fit_metrics");
    rkeras::clear_session();
    let mut model = model_from_json(&spec["model"].to_string()).unwrap();
    model.set_weights(&prefixed(&a, "w0_")).unwrap();
    let metrics = ["accuracy", "binary_crossentropy", "auc", "precision", "recall", "mse"];
    model
        .compile(Optimizer::adam().learning_rate(0.02), "binary_crossentropy", &metrics)
        .unwrap();
    let h = model
        .fit(
            &a["x"],
            &a["y"],
            FitOptions::default()
                .batch_size(8)
                .epochs(3)
                .shuffle(false)
                .validation_split(0.25)
                .verbose(0),
        )
        .unwrap();
    let want = spec["history"].as_object().unwrap();
    let keys: Vec<&str> = h.keys().collect();
    let want_keys: Vec<&str> = want.keys().map(String::as_str).collect();
    assert_eq!(keys, want_keys, "History keys (Keras 3 sorts them)");
    for (k, vals) in want {
        for (e, v) in vals.as_array().unwrap().iter().enumerate() {
            let (got, v) = (h.get(k).unwrap()[e], v.as_f64().unwrap());
            assert!((got - v).abs() < 1e-5, "history[{k}][{e}] = {got}, Keras {v}");
        }
    }
    assert_eq!(h.epoch, [0, 1, 2]);
    let d = max_diff(&model.get_weights(), &prefixed(&a, "w3_"));
    assert!(d < 1e-4, "weights after fit differ by {d:e}");
    let ev = model
        .evaluate(
            &a["x"],
            &a["y"],
            rkeras::training::EvaluateOptions::default().batch_size(16).verbose(0),
        )
        .unwrap();
    for (k, v) in spec["evaluate"].as_object().unwrap() {
        let (got, v) = (ev.get(k).unwrap(), v.as_f64().unwrap());
        assert!((got - v).abs() < 1e-5, "evaluate {k} = {got}, Keras {v}");
    }
}

#[test]
fn optimizer_and_loss_configs_round_trip_as_keras_writes_them() {
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("train_refs/index.json")).unwrap()).unwrap();
    for (case, spec) in index.as_object().unwrap() {
        if case == "fit_metrics" {
            continue;
        }
        let class = spec["optimizer"]["class_name"].as_str().unwrap();
        let config = &spec["optimizer"]["config"];
        let opt = Optimizer::from_config(class, config).unwrap();
        assert_eq!(&opt.config(), config, "{case}: optimizer get_config()");
        assert_eq!(opt.class_name(), class);
        let a = case_arrays(case);
        let model = case_model(case, spec, &a);
        let written = model.compile_config().unwrap();
        assert_eq!(written["optimizer"]["class_name"], spec["optimizer"]["class_name"]);
        if case != "huber" {
            // Keras 3.15's Huber leaves `delta` out of its config; rkeras writes it.
            assert_eq!(written["loss"], spec["loss"], "{case}: loss in compile_config");
        }
    }
}
