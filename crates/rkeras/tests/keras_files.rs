//! Keras files in and out. Every fixture Keras wrote (`tests/fixtures/keras_files/`: Keras 3
//! `.keras` and `.weights.h5`, tf-keras 2 legacy `.h5`, copied from the shared reference set
//! (see `tests/fixtures/keras/README.md`); nested models and tf-keras weights-only files
//! `.k2w.h5` / `.k2w_fixed.h5` made by `tools/fixtures/make_keras_files.py`) loads in rkeras
//! and predicts Keras's output on `<case>.input.npy` within 1e-5; a MobileNetV2 saved by
//! Keras loads through `AppOptions::weights`; rkeras's own files round-trip with identical
//! weights and predictions.

use rkeras::io::keras_file::read_archive;
use rkeras::io::keras_json::model_from_json;
use rkeras::io::npy::read_npy;
use rkeras::model::saving::LoadWeightsOptions;
use rkeras::{load_model, Model};
use std::path::{Path, PathBuf};
use tensor::Tensor;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn file(case: &str, ext: &str) -> PathBuf {
    fixtures().join("keras_files").join(format!("{case}{ext}"))
}

fn cases() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(fixtures().join("keras_files"))
        .expect("fixture dir")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".keras"))
                .map(str::to_string)
        })
        .collect();
    v.sort();
    v
}

fn max_err(got: &Tensor, want: &Tensor) -> Result<f32, String> {
    if got.shape() != want.shape() {
        return Err(format!("output shape {:?}, Keras {:?}", got.shape(), want.shape()));
    }
    Ok(got
        .data()
        .iter()
        .zip(want.data())
        .map(|(a, b)| (a - b).abs() / 1f32.max(b.abs()))
        .fold(0.0, f32::max))
}

fn check_predicts(case: &str, model: &Model) -> Result<f32, String> {
    // The shared set's inputs/outputs live beside its configs; the extra cases' beside their files.
    let dir = if file(case, ".input.npy").exists() {
        fixtures().join("keras_files")
    } else {
        fixtures().join("keras")
    };
    let x = read_npy(&dir.join(format!("{case}.input.npy")).to_string_lossy()).map_err(|e| e.to_string())?;
    let want = read_npy(&dir.join(format!("{case}.output.npy")).to_string_lossy()).map_err(|e| e.to_string())?;
    let got = model.predict(&[x], 32).map_err(|e| format!("predict: {e}"))?;
    let err = max_err(&got[0], &want)?;
    if err > 1e-5 {
        return Err(format!("max error {err:e} > 1e-5"));
    }
    Ok(err)
}

/// The model of a case's `.keras` `config.json`, with fresh weights.
fn config_model(case: &str) -> Result<Model, String> {
    let bytes = std::fs::read(file(case, ".keras")).map_err(|e| e.to_string())?;
    let archive = read_archive(case, &bytes).map_err(|e| e.to_string())?;
    model_from_json(&archive.config).map_err(|e| format!("config: {e}"))
}

/// All four ways into rkeras for one case.
fn run_case(case: &str) -> Result<(), String> {
    rkeras::clear_session();
    let m = load_model(file(case, ".keras")).map_err(|e| format!(".keras: {e}"))?;
    check_predicts(case, &m).map_err(|e| format!(".keras: {e}"))?;
    let m = load_model(file(case, ".h5")).map_err(|e| format!("legacy .h5: {e}"))?;
    check_predicts(case, &m).map_err(|e| format!("legacy .h5: {e}"))?;
    let mut m = config_model(case)?;
    m.load_weights(file(case, ".weights.h5"))
        .map_err(|e| format!(".weights.h5: {e}"))?;
    check_predicts(case, &m).map_err(|e| format!(".weights.h5: {e}"))?;
    // A Keras 3 model loading tf-keras's file: layer names differ (input_1 / input_layer),
    // matching is by order among the layers with weights.
    let mut m = config_model(case)?;
    m.load_weights(file(case, ".h5"))
        .map_err(|e| format!("load_weights(.h5): {e}"))?;
    check_predicts(case, &m).map_err(|e| format!("load_weights(.h5): {e}"))?;
    // tf-keras `save_weights("x.h5")`, also with fixed-length and chunked string attributes.
    for ext in [".k2w.h5", ".k2w_fixed.h5"] {
        if file(case, ext).exists() {
            let mut m = config_model(case)?;
            m.load_weights(file(case, ext)).map_err(|e| format!("{ext}: {e}"))?;
            check_predicts(case, &m).map_err(|e| format!("{ext}: {e}"))?;
        }
    }
    Ok(())
}

#[test]
fn every_keras_file_fixture_loads_and_predicts_as_keras() {
    let cases = cases();
    assert!(cases.len() >= 34, "expected the fixture set, found {}", cases.len());
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| run_case(c).err().map(|e| format!("{c}: {e}")))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases fail:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rkeras-keras-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn assert_same(a: &Model, b: &Model, x: &Tensor) {
    let (wa, wb) = (a.get_weights(), b.get_weights());
    assert_eq!(wa.len(), wb.len());
    for (p, q) in wa.iter().zip(&wb) {
        assert_eq!(p.shape(), q.shape());
        assert_eq!(p.data(), q.data(), "weights differ");
    }
    let (pa, pb) = (
        a.predict(std::slice::from_ref(x), 8).unwrap(),
        b.predict(std::slice::from_ref(x), 8).unwrap(),
    );
    assert_eq!(pa[0].data(), pb[0].data());
}

fn fresh_weights(m: &mut Model, seed: u64) {
    // Random non-trivial values (BatchNormalization variances positive).
    let mut rng = tensor::Rng::new(seed);
    let ws: Vec<Tensor> = m
        .get_weights()
        .iter()
        .map(|w| {
            let data = (0..w.len()).map(|_| (0.5 + 0.4 * rng.uniform()) as f32).collect();
            Tensor::new(w.shape(), data).unwrap()
        })
        .collect();
    m.set_weights(&ws).unwrap();
}

fn round_trip(model: &mut Model, stem: &str, x: &Tensor) {
    fresh_weights(model, 7);
    let p = tmp(&format!("{stem}.keras"));
    model.save(&p).unwrap();
    let back = load_model(&p).unwrap();
    assert_same(model, &back, x);
    assert_eq!(back.name(), model.name());
    // Legacy full model: tf-keras's config and layout.
    let p = tmp(&format!("{stem}.h5"));
    model.save(&p).unwrap();
    let back = load_model(&p).unwrap();
    assert_same(model, &back, x);
    for ext in [".weights.h5", ".h5"] {
        let p = tmp(&format!("{stem}{ext}"));
        model.save_weights(&p).unwrap();
        let mut other = model.clone();
        fresh_weights(&mut other, 99);
        other.load_weights(&p).unwrap();
        assert_same(model, &other, x);
    }
}

fn ones(shape: &[usize]) -> Tensor {
    let n = shape.iter().product();
    Tensor::new(shape, (0..n).map(|i| ((i % 7) as f32) / 7.0).collect()).unwrap()
}

#[test]
fn lenet5_round_trips() {
    rkeras::clear_session();
    let mut m = rkeras::applications::lenet5(&Default::default()).unwrap();
    round_trip(&mut m, "lenet5", &ones(&[2, 28, 28, 1]));
}

#[test]
fn bn_and_nested_models_round_trip() {
    use rkeras::prelude::*;
    clear_session();
    let inner = Sequential::new()
        .add(InputLayer::new(&[6, 6, 3]))
        .add(Conv2D::new(4, 3).padding("same"))
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
    let mut m = Model::new(&[&inp], &[&y], None).unwrap();
    round_trip(&mut m, "nested", &ones(&[2, 6, 6, 3]));
}

#[test]
fn mobilenet_v2_round_trips() {
    use rkeras::applications::{mobilenet_v2, AppOptions};
    rkeras::clear_session();
    let opts = AppOptions {
        alpha: 0.35,
        input_shape: Some((96, 96, 3)),
        classes: Some(10),
        ..AppOptions::default()
    };
    let mut m = mobilenet_v2(&opts).unwrap();
    round_trip(&mut m, "mobilenetv2", &ones(&[1, 96, 96, 3]));
}

#[test]
fn mismatches_name_the_layer_and_both_shapes() {
    let mut m = config_model("dense_mlp").unwrap();
    // lenet5's first Dense kernel is (400, 120) where dense_mlp's is (20, 16).
    let e = m.load_weights(file("lenet5", ".weights.h5")).unwrap_err().to_string();
    assert!(
        e.contains("layer 'dense'") && e.contains("[20, 16]") && e.contains("[400, 120]"),
        "{e}"
    );
    let e = m.load_weights(file("conv_relu", ".h5")).unwrap_err().to_string();
    assert!(e.contains("layer count mismatch"), "{e}");
    let mut m = config_model("conv_relu").unwrap();
    let e = m
        .load_weights(file("conv_nobias", ".weights.h5"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("conv2d") && e.contains("expected 2 variables, but received 1"),
        "{e}"
    );
    let e = m
        .load_weights(file("conv_groups2", ".weights.h5"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("[3, 3, 3, 4]") && e.contains("[3, 3, 2, 6]"), "{e}");
    let e = m.load_weights(file("conv_groups2", ".h5")).unwrap_err().to_string();
    assert!(
        e.contains("conv2d") && e.contains("[3, 3, 3, 4]") && e.contains("[3, 3, 2, 6]"),
        "{e}"
    );
    // skip_mismatch keeps the weights and reports the layer.
    let before = m.get_weights();
    let opts = LoadWeightsOptions {
        skip_mismatch: true,
        ..Default::default()
    };
    let warnings = m.load_weights_with(file("conv_groups2", ".weights.h5"), opts).unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(m.get_weights()[0].data(), before[0].data());
}

/// Keras's `load_weights(by_name=True, skip_mismatch=True)` on a legacy file skips only the
/// weight whose shape differs; the layer's other weights load.
#[test]
fn by_name_skip_mismatch_skips_single_weights() {
    use rkeras::prelude::{Call, Dense, Input};
    rkeras::clear_session();
    let dir = std::env::temp_dir().join(format!("rkeras-skipw-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let i = Input(&[5]).unwrap();
    let y = Dense::new(3).bias_initializer("ones").name("d").call(&i).unwrap();
    let saved = Model::new(&[&i], &[&y], None).unwrap();
    let p = dir.join("w.h5");
    saved.save_weights(&p).unwrap();
    let i = Input(&[4]).unwrap();
    let y = Dense::new(3).name("d").call(&i).unwrap();
    let mut m = Model::new(&[&i], &[&y], None).unwrap();
    let kernel = m.get_weights()[0].clone();
    let opts = LoadWeightsOptions {
        by_name: true,
        skip_mismatch: true,
    };
    let warnings = m.load_weights_with(&p, opts).unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("d/kernel") && warnings[0].contains("[4, 3]") && warnings[0].contains("[5, 3]"));
    let w = m.get_weights();
    assert_eq!(w[0], kernel, "the mismatched kernel is left alone");
    assert_eq!(w[1].data(), &[1.0, 1.0, 1.0], "the bias loads");
    let e = m
        .load_weights_with(
            &p,
            LoadWeightsOptions {
                skip_mismatch: false,
                ..opts
            },
        )
        .unwrap_err();
    assert!(e.to_string().contains("shape mismatch"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn by_name_matches_layers_by_name() {
    let mut m = config_model("lenet5").unwrap();
    let opts = LoadWeightsOptions {
        by_name: true,
        ..Default::default()
    };
    m.load_weights_with(file("lenet5", ".h5"), opts).unwrap();
    check_predicts("lenet5", &m).unwrap();
    // by_name is for the legacy layout only, as in Keras.
    let e = m
        .load_weights_with(file("lenet5", ".weights.h5"), opts)
        .unwrap_err()
        .to_string();
    assert!(e.contains("by_name"), "{e}");
}

#[test]
fn application_weights_from_a_keras_saved_file() {
    use rkeras::applications::{mobilenet_v2, AppOptions};
    let dir = fixtures().join("keras_apps");
    rkeras::clear_session();
    let opts = AppOptions {
        alpha: 0.35,
        input_shape: Some((96, 96, 3)),
        classes: Some(10),
        classifier_activation: None,
        weights: Some(dir.join("mobilenetv2_035_96.keras").to_string_lossy().into_owned()),
        ..AppOptions::default()
    };
    let m = mobilenet_v2(&opts).unwrap();
    let x = read_npy(&dir.join("mobilenetv2_035_96.input.npy").to_string_lossy()).unwrap();
    let want = read_npy(&dir.join("mobilenetv2_035_96.output.npy").to_string_lossy()).unwrap();
    let got = m.predict(&[x], 8).unwrap();
    let err = max_err(&got[0], &want).unwrap();
    assert!(err <= 1e-5, "MobileNetV2 from Keras's file: max error {err:e}");
    // The same file as a whole model.
    let whole = load_model(dir.join("mobilenetv2_035_96.keras")).unwrap();
    assert_eq!(whole.get_weights(), m.get_weights());
    // A path that does not exist is a clear error; "imagenet" with 10 classes is refused
    // before anything is built or fetched, as Keras.
    let missing = AppOptions {
        weights: Some("no/such/file.weights.h5".into()),
        ..opts.clone()
    };
    let e = mobilenet_v2(&missing).unwrap_err().to_string();
    assert!(e.contains("weights") && e.contains("no/such/file.weights.h5"), "{e}");
    let imagenet = AppOptions {
        weights: Some("imagenet".into()),
        ..opts
    };
    let e = mobilenet_v2(&imagenet).unwrap_err().to_string();
    assert!(e.contains("`classes` should be 1000.  Received classes=10"), "{e}");
}

#[test]
fn wrong_kinds_of_file_are_clear_errors() {
    let e = load_model(file("lenet5", ".weights.h5")).unwrap_err().to_string();
    assert!(e.contains("weights only"), "{e}");
    let e = load_model(Path::new("model.pt")).unwrap_err().to_string();
    assert!(e.contains("unknown file format"), "{e}");
    let e = load_model(fixtures().join("keras/lenet5.input.npy").with_extension("keras")).unwrap_err();
    assert!(e.to_string().contains("lenet5.input.keras"), "{e}");
}

/// A compiled `.keras` from Keras (Adam, trained one step: `optimizer/vars` hold iteration 1,
/// the learning rate and the moments) loads compiled, with that optimizer state; a model
/// trained in rkeras saves its compile_config and optimizer state, and after loading trains
/// on exactly as if it had never been saved.
#[test]
fn optimizer_state_and_compile_config_live_in_keras_files() {
    use rkeras::io::hdf5::H5Reader;
    let path = fixtures().join("keras_files/compiled_mlp.keras");
    let m = load_model(&path).unwrap();
    assert!(m.is_compiled());
    let opt = m.optimizer().unwrap();
    assert_eq!(opt.class_name(), "Adam");
    let archive = read_archive("compiled_mlp.keras", &std::fs::read(&path).unwrap()).unwrap();
    let r = H5Reader::from_bytes("compiled_mlp/model.weights.h5", archive.weights_h5).unwrap();
    let vars = opt.variables();
    assert_eq!(vars.len(), 10);
    assert_eq!(vars[0].value.data(), &[1.0], "iteration");
    for (i, v) in vars.iter().enumerate().skip(1) {
        assert_eq!(
            v.value,
            r.read_tensor(&format!("optimizer/vars/{i}")).unwrap(),
            "{}",
            v.name
        );
    }

    // rkeras → .keras → rkeras, then one more step on both: identical.
    rkeras::clear_session();
    let mut a = config_model("dense_mlp").unwrap();
    a.compile("adam", "mse", &["mae"]).unwrap();
    let x = read_npy(&fixtures().join("keras/dense_mlp.input.npy").to_string_lossy()).unwrap();
    let y = a
        .predict(std::slice::from_ref(&x), 32)
        .unwrap()
        .remove(0)
        .map(|v| v * 0.5 + 0.1);
    for _ in 0..3 {
        a.train_on_batch(&x, &y, None, None).unwrap();
    }
    let dir = std::env::temp_dir().join(format!("rkeras-optstate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("m.keras");
    a.save(&p).unwrap();
    let mut b = load_model(&p).unwrap();
    assert_eq!(b.compile_config(), a.compile_config());
    let (va, vb) = (a.optimizer().unwrap().variables(), b.optimizer().unwrap().variables());
    assert_eq!(va.len(), vb.len());
    assert!(va.iter().zip(&vb).all(|(p, q)| p.value == q.value));
    a.train_on_batch(&x, &y, None, None).unwrap();
    b.train_on_batch(&x, &y, None, None).unwrap();
    assert_eq!(a.get_weights(), b.get_weights());
    // The same through save_weights / load_weights into a compiled twin.
    let w = dir.join("m.weights.h5");
    a.save_weights(&w).unwrap();
    let mut c = config_model("dense_mlp").unwrap();
    c.compile("adam", "mse", &["mae"]).unwrap();
    c.load_weights(&w).unwrap();
    assert_eq!(
        c.optimizer().unwrap().variables()[0].value.data(),
        &[4.0],
        "3 steps, then 1"
    );
    std::fs::remove_dir_all(&dir).ok();
}
