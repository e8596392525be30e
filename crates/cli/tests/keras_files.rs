//! `rkeras predict`, `summary` and `convert` on files saved by real Keras: for every fixture
//! in `crates/rkeras/tests/fixtures/keras_files/` (`.keras` and `.weights.h5` from Keras 3,
//! legacy `.h5` from tf-keras 2; see that directory's README), `rkeras predict` equals Keras's
//! `predict()` output within 1e-5, from the `.keras`, from the `.h5`, and from the JSON
//! config with `--weights` `.weights.h5`; conversions keep the predictions.

use rkeras::io::npy::read_npy;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn rkeras(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rkeras"))
        .args(args)
        .output()
        .expect("run rkeras")
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../rkeras/tests/fixtures")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn scratch(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rkeras_cli_kf_{test}_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn cases() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(fixtures().join("keras_files"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".keras").map(str::to_string))
        .collect();
    v.sort();
    v
}

/// A case's file: beside the Keras files when it is there (the nested-model cases), else in
/// the forward-parity fixtures (`keras/`).
fn case_file(case: &str, suffix: &str) -> PathBuf {
    let own = fixtures().join(format!("keras_files/{case}{suffix}"));
    if own.is_file() {
        own
    } else {
        fixtures().join(format!("keras/{case}{suffix}"))
    }
}

/// Runs `rkeras predict` with `model_args`, compares with Keras's output; an error string
/// on failure.
fn check(case: &str, model_args: &[&str], out: &Path) -> Result<(), String> {
    let input = case_file(case, ".input.npy");
    let mut args = vec!["predict"];
    args.extend_from_slice(model_args);
    args.extend_from_slice(&["--input", s(&input), "--output", s(out)]);
    let o = rkeras(&args);
    if !o.status.success() {
        return Err(format!("{model_args:?}: {}", text(&o.stderr).trim()));
    }
    let got = read_npy(s(out)).map_err(|e| e.to_string())?;
    let want = read_npy(s(&case_file(case, ".output.npy"))).map_err(|e| e.to_string())?;
    if got.shape() != want.shape() {
        return Err(format!(
            "{model_args:?}: shape {:?}, Keras {:?}",
            got.shape(),
            want.shape()
        ));
    }
    let worst = got
        .data()
        .iter()
        .zip(want.data())
        .map(|(a, b)| (a - b).abs() / 1f32.max(b.abs()))
        .fold(0.0f32, f32::max);
    if worst > 1e-5 {
        return Err(format!("{model_args:?}: max error {worst:e} > 1e-5"));
    }
    Ok(())
}

#[test]
fn predict_equals_keras_for_every_fixture_in_three_formats() {
    let cases = cases();
    assert!(cases.len() >= 30, "found {} cases", cases.len());
    let d = scratch("predict");
    let y = d.join("y.npy");
    let mut failures = Vec::new();
    for case in &cases {
        let f = |ext: &str| fixtures().join(format!("keras_files/{case}{ext}"));
        let config = case_file(case, ".config.json");
        let (keras, h5, weights) = (f(".keras"), f(".h5"), f(".weights.h5"));
        let mut runs = vec![vec![s(&keras)], vec![s(&h5)]];
        if config.is_file() {
            runs.push(vec![s(&config), "--weights", s(&weights)]);
        } else {
            // The architecture from the .keras file, the weights from .weights.h5.
            runs.push(vec![s(&keras), "--weights", s(&weights)]);
        }
        for args in runs {
            if let Err(e) = check(case, &args, &y) {
                failures.push(format!("{case}: {e}"));
            }
        }
    }
    std::fs::remove_dir_all(&d).ok();
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn summary_of_a_keras_file_equals_the_summary_of_its_config() {
    for case in ["lenet5", "resblock_identity", "func_add_mlp"] {
        let keras = fixtures().join(format!("keras_files/{case}.keras"));
        let config = fixtures().join(format!("keras/{case}.config.json"));
        for style in ["keras3", "keras2"] {
            let a = rkeras(&["summary", s(&keras), "--style", style]);
            let b = rkeras(&["summary", s(&config), "--style", style]);
            assert!(a.status.success(), "{case}: {}", text(&a.stderr));
            assert_eq!(text(&a.stdout), text(&b.stdout), "{case} {style}");
        }
        let h5 = fixtures().join(format!("keras_files/{case}.h5"));
        let o = rkeras(&["summary", s(&h5), "--explain"]);
        assert!(o.status.success(), "{case}: {}", text(&o.stderr));
        assert!(text(&o.stdout).contains("Total params"), "{case}");
    }
}

#[test]
fn conversions_keep_the_predictions() {
    let d = scratch("convert");
    let y = d.join("y.npy");
    let case = "lenet5";
    let src = fixtures().join(format!("keras_files/{case}.keras"));
    let h5 = fixtures().join(format!("keras_files/{case}.h5"));
    let (k2, w, st, j, hk, h2) = (
        d.join("m.keras"),
        d.join("m.weights.h5"),
        d.join("m.safetensors"),
        d.join("m.json"),
        d.join("from_h5.keras"),
        d.join("m.h5"),
    );
    for (from, to) in [
        (&src, &k2),
        (&src, &w),
        (&src, &st),
        (&src, &j),
        (&h5, &hk),
        (&src, &h2),
    ] {
        let o = rkeras(&["convert", s(from), s(to)]);
        assert!(o.status.success(), "{} -> {}: {}", s(from), s(to), text(&o.stderr));
    }
    check(case, &[s(&k2)], &y).unwrap();
    check(case, &[s(&hk)], &y).unwrap();
    check(case, &[s(&h2)], &y).unwrap();
    check(case, &[s(&j), "--weights", s(&w)], &y).unwrap();
    check(case, &[s(&j), "--weights", s(&st)], &y).unwrap();
    // JSON + weights back into a whole model.
    let k3 = d.join("again.keras");
    let o = rkeras(&["convert", s(&j), s(&k3), "--weights", s(&st)]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    check(case, &[s(&k3)], &y).unwrap();
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn hostile_model_files_give_one_line_and_exit_code_2() {
    let bad = fixtures().join("bad");
    for (file, needle) in [
        ("lambda.keras", "never executes code"),
        ("lambda.h5", "never executes code"),
        ("custom.keras", "unknown layer class"),
    ] {
        let p = bad.join(file);
        for args in [
            vec!["summary", s(&p)],
            vec!["predict", s(&p), "--input", "x.npy", "--output", "y.npy"],
        ] {
            let o = rkeras(&args);
            let err = text(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(err.contains(file) && err.contains(needle), "{args:?}: {err}");
        }
    }
}

/// A Keras cache (`KERAS_HOME`) holding MobileNetV2 0.35/96's no-top file under Keras's name
/// (`tools/fixtures/make_imagenet_cache.py`: tf-keras `save_weights`, then Keras 3's own
/// `weights="imagenet"` predictions with that cache).
#[test]
fn predict_an_application_with_imagenet_weights_from_keras_s_cache() {
    let d = scratch("imagenet");
    let home = d.join("keras_home");
    std::fs::create_dir_all(home.join("models")).unwrap();
    let file = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5";
    let cache = fixtures().join("keras_cache");
    std::fs::copy(cache.join("models").join(file), home.join("models").join(file)).unwrap();
    let out = d.join("y.npy");
    let o = Command::new(env!("CARGO_BIN_EXE_rkeras"))
        .env("KERAS_HOME", &home)
        .args([
            "predict",
            "mobilenetv2",
            "--alpha",
            "0.35",
            "--input-shape",
            "96,96,3",
            "--no-top",
        ])
        .args([
            "--pooling",
            "avg",
            "--weights",
            "imagenet",
            "--output",
            s(&out),
            "--input",
        ])
        .arg(cache.join("imagenet_mnv2.input.npy"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let got = read_npy(s(&out)).unwrap();
    let want = read_npy(s(&cache.join("imagenet_mnv2.output.npy"))).unwrap();
    assert_eq!(got.shape(), &[2, 1280]);
    let err = got
        .data()
        .iter()
        .zip(want.data())
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(err <= 1e-5, "max error {err:e}");
    // Keras's checks come before anything is built or fetched.
    let o = Command::new(env!("CARGO_BIN_EXE_rkeras"))
        .env("KERAS_HOME", &home)
        .args([
            "convert",
            "VGG16",
            s(&d.join("v.keras")),
            "--weights",
            "imagenet",
            "--classes",
            "10",
        ])
        .output()
        .unwrap();
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("`classes` should be 1000.  Received classes=10"), "{err}");
    std::fs::remove_dir_all(&d).ok();
}
