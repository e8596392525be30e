//! The `rkeras` binary as a user runs it: summaries equal to Keras's files, `--explain`, and
//! one-line errors with exit code 2 for bad arguments and files.

use std::path::PathBuf;
use std::process::{Command, Output};

fn rkeras(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rkeras"))
        .args(args)
        .output()
        .expect("run rkeras")
}

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../rkeras/tests/fixtures")
        .join(path)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn application_summaries_equal_keras_in_both_styles() {
    for (args, reference) in [
        (vec!["summary", "VGG16"], "apps/VGG16.k3.summary.txt"),
        (
            vec!["summary", "vgg16", "--style", "keras2"],
            "apps/VGG16.k2.summary.txt",
        ),
        (
            vec!["summary", "MobileNetV2", "--no-top", "--pooling", "avg"],
            "apps/MobileNetV2_notop_avg.k3.summary.txt",
        ),
        (vec!["summary", "LeNet5"], "seed/f_lenet5.k3.summary.txt"),
        (
            vec!["summary", "LeNet5", "--show-trainable", "--style", "keras2"],
            "seed/f_lenet5.k2.summary_show_trainable.txt",
        ),
    ] {
        let out = rkeras(&args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        let want = std::fs::read_to_string(fixture(reference)).unwrap();
        assert_eq!(text(&out.stdout), want, "{args:?}");
    }
}

#[test]
fn json_config_summary_and_expand_nested() {
    let path = fixture("seed/i_nested_model3.k3.json");
    let out = rkeras(&["summary", path.to_str().unwrap(), "--expand-nested"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        std::fs::read_to_string(fixture("seed/i_nested_model3.k3.summary_expand_nested.txt")).unwrap()
    );
}

#[test]
fn explain_shows_the_arithmetic() {
    let out = rkeras(&["summary", "LeNet5", "--explain"]);
    let s = text(&out.stdout);
    assert!(s.contains("params: (5·5·1 + 1)·6 = 156"), "{s}");
    assert!(s.contains("params: (5·5·6 + 1)·16 = 2,416"), "{s}");
    assert!(s.contains("H: ⌊(14 + 0 − 5)/1⌋ + 1 = 10"), "{s}");
    assert!(s.contains("→ top 2, bottom 2"), "{s}");
}

#[test]
fn bad_arguments_and_files_give_one_line_and_exit_code_2() {
    let dir = std::env::temp_dir().join(format!("rkeras-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let broken = dir.join("broken.json");
    std::fs::write(&broken, "{\"class_name\": \"Sequential\", ").unwrap();
    let lambda = dir.join("lambda.json");
    std::fs::write(
        &lambda,
        r#"{"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [null, 4], "name": "in"}},
        {"class_name": "Lambda", "config": {"name": "lam"}}]}}"#,
    )
    .unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["summary", "NoSuchNet"], "unknown application"),
        (vec!["summary", "VGG16", "--input-shape", "0,2"], "input-shape"),
        (vec!["summary", "ResNet50", "--input-shape", "16,16,3"], "at least 32"),
        (vec!["summary", "VGG16", "--style", "keras4"], "keras4"),
        (vec!["summary", "VGG16", "--line-length", "abc"], "line-length"),
        (vec!["summary", broken.to_str().unwrap()], "malformed JSON"),
        (vec!["summary", lambda.to_str().unwrap()], "never executes code"),
        (vec!["summary", "/no/such/model.json"], "/no/such/model.json"),
        (vec!["frobnicate"], "frobnicate"),
    ];
    for (args, needle) in cases {
        let out = rkeras(&args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: one line, got {err:?}");
        assert!(err.contains(needle), "{args:?}: {err:?} lacks {needle:?}");
        assert!(!err.contains("panicked"), "{args:?}");
    }
}

/// `rkeras predict FILE.keras --image …`: a MobileNetV2 (alpha 0.35, 96×96, 1000 classes,
/// patterned weights) saved by Keras 3, run on a JPEG photo and a PNG, prints the classes
/// Keras's `load_img` → `preprocess_input` → `predict` → `decode_predictions` gives
/// (`tools/fixtures/make_cli_predict_ref.py`).
#[test]
fn predict_image_prints_keras_s_top_classes() {
    use std::io::Read;
    let dir = fixture("apps2_predict");
    let mut bytes = std::fs::read(dir.join("cli_mobilenetv2.keras.gz.gz")).expect("fixture");
    for _ in 0..2 {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .expect("gzip");
        bytes = out;
    }
    let tmp = std::env::temp_dir().join(format!("rkeras_cli_predict_{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let model = tmp.join("mobilenetv2.keras");
    std::fs::write(&model, bytes).unwrap();
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("cli_mobilenetv2.json")).unwrap()).unwrap();
    for (image, tol) in [("photo1.jpg", 2e-3), ("rgb.png", 1e-5)] {
        let img = fixture("images/files").join(image);
        let out = rkeras(&[
            "predict",
            model.to_str().unwrap(),
            "--image",
            img.to_str().unwrap(),
            "--top",
            "5",
        ]);
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{}{}", stdout, text(&out.stderr));
        let rows: Vec<Vec<&str>> = stdout.lines().skip(1).map(|l| l.split_whitespace().collect()).collect();
        let w = want[image].as_array().expect("rows");
        assert_eq!(rows.len(), 5, "{stdout}");
        for (i, (row, w)) in rows.iter().zip(w).enumerate() {
            assert_eq!(row[0], (i + 1).to_string(), "{stdout}");
            assert_eq!(row[1], w[1].as_str().unwrap(), "{image} rank {}: {stdout}", i + 1);
            assert_eq!(row[2], w[0].as_str().unwrap(), "{stdout}");
            let p: f64 = row[3].parse().unwrap();
            assert!((p - w[2].as_f64().unwrap()).abs() <= tol, "{image}: {p} vs {}", w[2]);
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
