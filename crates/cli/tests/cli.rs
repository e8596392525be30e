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
