//! `preprocess_input`, `decode_predictions` and `Normalization.adapt` against Keras 3
//! (`fixtures/apps2/preprocess.json.gz`, made by `tools/fixtures/make_preprocess_refs.py`), and
//! models of each new family saved by Keras (`fixtures/apps2_predict/`, made by
//! `tools/fixtures/make_app_predict_refs.py`: weights set to a periodic pattern so the files
//! deflate to kilobytes) loaded from `.keras` and legacy `.h5` and run on Keras's input.

use flate2::read::GzDecoder;
use rkeras::applications::imagenet_utils::{decode_predictions, preprocess_input};
use rkeras::layers::feature_normalization::Normalization;
use rkeras::prelude::Tensor;
use serde_json::Value;
use std::io::Read;
use std::path::PathBuf;

fn fixtures(sub: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(sub)
}

fn reference() -> Value {
    let bytes = std::fs::read(fixtures("apps2/preprocess.json.gz")).expect("preprocess.json.gz");
    let mut text = String::new();
    GzDecoder::new(&bytes[..]).read_to_string(&mut text).expect("gzip");
    serde_json::from_str(&text).expect("JSON")
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

#[test]
fn preprocess_input_equals_keras_for_every_family() {
    let r = reference();
    let x: Vec<f32> = (0..72).map(|i| ((i * 53) % 256) as f32 + 0.25).collect();
    let x = Tensor::new(&[2, 3, 4, 3], x).unwrap();
    // Keras module → an application that uses it.
    let apps = [
        ("vgg16", "VGG16"),
        ("vgg19", "VGG19"),
        ("resnet", "ResNet101"),
        ("resnet50", "ResNet50"),
        ("resnet_v2", "ResNet50V2"),
        ("inception_v3", "InceptionV3"),
        ("xception", "Xception"),
        ("mobilenet", "MobileNet"),
        ("mobilenet_v2", "MobileNetV2"),
        ("mobilenet_v3", "MobileNetV3Small"),
        ("densenet", "DenseNet121"),
        ("nasnet", "NASNetMobile"),
        ("inception_resnet_v2", "InceptionResNetV2"),
        ("efficientnet", "EfficientNetB0"),
        ("efficientnet_v2", "EfficientNetV2S"),
        ("convnext", "ConvNeXtTiny"),
    ];
    let pre = r["preprocess"].as_object().expect("preprocess");
    assert_eq!(pre.len(), apps.len());
    let mut worst = 0f32;
    for (module, app) in apps {
        let want = floats(&pre[module]);
        let got = preprocess_input(app, &x).unwrap();
        for (a, b) in got.data().iter().zip(&want) {
            let d = (a - b).abs();
            worst = worst.max(d);
            assert!(d <= 1e-6 * b.abs().max(1.0), "{module} ({app}): {a} vs {b}");
        }
    }
    eprintln!("preprocess_input: 16 families, worst |Δ| = {worst:e}");
}

#[test]
fn decode_predictions_equals_keras() {
    let r = reference();
    let scores = Tensor::new(&[3, 1000], floats(&r["scores"])).unwrap();
    for top in [5usize, 3] {
        let want = r["decode"][top.to_string()].as_array().expect("rows");
        let got = decode_predictions(&scores, top).unwrap();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            let w = w.as_array().expect("row");
            assert_eq!(g.len(), w.len());
            for ((wnid, name, score), t) in g.iter().zip(w) {
                assert_eq!(wnid, t[0].as_str().unwrap());
                assert_eq!(name, t[1].as_str().unwrap());
                assert_eq!(*score, t[2].as_f64().unwrap() as f32);
            }
        }
    }
}

#[test]
fn normalization_adapt_equals_keras() {
    let r = &reference()["normalization"];
    let data = Tensor::new(&[40, 3], floats(&r["data"])).unwrap();
    let mut c = Normalization::new();
    c.adapt(&data).unwrap();
    let (mean, var, _) = c.adapted.clone().unwrap();
    for (got, want) in [(&mean, floats(&r["mean"])), (&var, floats(&r["variance"]))] {
        for (a, b) in got.iter().zip(&want) {
            assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "{a} vs {b}");
        }
    }
    rkeras::clear_session();
    let x = rkeras::layers::input::Input(&[3]).unwrap();
    use rkeras::model::Call;
    let y = c.call(&x).unwrap();
    let model = rkeras::Model::new(&[&x], &[&y], None).unwrap();
    let first = Tensor::new(&[4, 3], data.data()[..12].to_vec()).unwrap();
    let out = model.predict(&[first], 32).unwrap().remove(0);
    for (a, b) in out.data().iter().zip(floats(&r["output"])) {
        assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "{a} vs {b}");
    }
    let mut flat = Normalization::new().axis(&[]);
    flat.adapt(&data).unwrap();
    let (m, v, _) = flat.adapted.unwrap();
    assert!((m[0] - r["flat_mean"].as_f64().unwrap() as f32).abs() < 1e-5);
    assert!((v[0] - r["flat_variance"].as_f64().unwrap() as f32).abs() < 1e-4);
}

/// The fixtures are gzip-compressed twice (periodic weights deflate again).
fn gunzip_to(src: &PathBuf, dst: &PathBuf) {
    let mut bytes = std::fs::read(src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    for _ in 0..2 {
        let mut out = Vec::new();
        GzDecoder::new(&bytes[..]).read_to_end(&mut out).expect("gzip");
        bytes = out;
    }
    std::fs::write(dst, bytes).expect("write");
}

/// Loads `case` from `.keras` and `.h5` and compares its predictions with Keras's, within
/// 1e-4 relative (to `max(|y|, 1)`).
///
/// InceptionResNetV2 is compared with Keras's float64 run of the same model (`out64.npy`):
/// its 244 layers of scaled residual sums grow the patterned activations to the hundreds, and
/// there float32 summation order alone moves the logits by about 2.6e-4 relative — Keras's
/// own float32 output is 2.63e-4 away from its float64 one, ours (plan) 2.2e-4 from Keras's
/// float32 but 4.7e-5 from float64 (tape: 9.9e-5), so the float64 reference is the one a
/// 1e-4 check can hold to.
fn predict_case(case: &str) {
    let tol = 1e-4;
    let dir = fixtures("apps2_predict");
    let index: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).expect("index")).unwrap();
    let shape: Vec<usize> = index[case]["input_shape"]
        .as_array()
        .expect("input_shape")
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    let n: usize = shape.iter().product();
    let x = Tensor::new(&shape, (0..n).map(|i| ((i * 37) % 256) as f32).collect()).unwrap();
    let f64_file = dir.join(format!("{case}.out64.npy"));
    let want_file = if f64_file.exists() {
        f64_file
    } else {
        dir.join(format!("{case}.out.npy"))
    };
    let want = rkeras::io::npy::read_npy(want_file.to_str().unwrap()).expect("out.npy");
    let tmp = std::env::temp_dir().join(format!("rkeras_apps2_{}_{case}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    for ext in ["keras", "h5"] {
        let file = tmp.join(format!("{case}.{ext}"));
        gunzip_to(&dir.join(format!("{case}.{ext}.gz.gz")), &file);
        rkeras::clear_session();
        let model = rkeras::model::saving::load_model(&file).unwrap_or_else(|e| panic!("{case}.{ext}: {e}"));
        let got = model
            .predict(std::slice::from_ref(&x), 2)
            .unwrap_or_else(|e| panic!("{case}.{ext}: {e}"))
            .remove(0);
        assert_eq!(got.shape(), want.shape(), "{case}.{ext}");
        let mut worst = 0f32;
        for (a, b) in got.data().iter().zip(want.data()) {
            let d = (a - b).abs();
            worst = worst.max(d / b.abs().max(1.0));
            assert!(d <= tol * b.abs().max(1.0), "{case}.{ext}: {a} vs {b}");
        }
        eprintln!(
            "{case}.{ext}: {} layers, worst relative error {worst:e}",
            model.layers().len()
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn efficientnet_b0_from_keras_files() {
    predict_case("EfficientNetB0_32");
}

#[test]
fn efficientnet_v2_b0_from_keras_files() {
    predict_case("EfficientNetV2B0_32");
}

#[test]
fn mobilenet_v3_small_from_keras_files() {
    predict_case("MobileNetV3Small_32");
}

#[test]
fn nasnet_mobile_from_keras_files() {
    predict_case("NASNetMobile_32");
}

#[test]
fn inception_resnet_v2_from_keras_files() {
    predict_case("InceptionResNetV2_75");
}

#[test]
fn convnext_tiny_from_keras_files() {
    predict_case("ConvNeXtTiny_32");
}
