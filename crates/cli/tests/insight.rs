//! `rkeras summary --receptive-field/--flops/--memory`: Keras's summary unchanged, then the
//! insight table with the numbers `tests/insight.rs` checks against TensorFlow and torchinfo.

use std::path::PathBuf;
use std::process::{Command, Output};

fn rkeras(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rkeras"))
        .args(args)
        .output()
        .expect("run rkeras")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn insight_columns_follow_the_keras_summary_unchanged() {
    let keras = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../rkeras/tests/fixtures/apps/VGG16.k3.summary.txt"),
    )
    .unwrap();
    let out = rkeras(&[
        "summary",
        "VGG16",
        "--receptive-field",
        "--flops",
        "--memory",
        "--batch-size",
        "8",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(s.starts_with(&keras), "{s}");
    let pool5 = s.lines().find(|l| l.starts_with("block5_pool (MaxPooling2D)")).unwrap();
    let cells: Vec<&str> = pool5.split_whitespace().collect();
    assert_eq!(&cells[2..5], ["212", "32", "-90"], "{pool5}");
    let total = s.lines().find(|l| l.starts_with("Total ")).unwrap();
    assert!(
        total.contains("30,960,211,824") && total.contains("15,483,821,032"),
        "{total}"
    );
    assert!(s.contains("Training step, batch 8, adam (2 slots per weight)"), "{s}");
}

#[test]
fn explain_shows_the_insight_arithmetic_and_bad_optimizers_fail() {
    let out = rkeras(&["summary", "LeNet5", "--explain"]);
    let s = text(&out.stdout);
    assert!(
        s.contains("RF: r = 6 + (5 − 1)·2 = 14; j = 2·1 = 2; start = −2 − 0·2 = −2"),
        "{s}"
    );
    assert!(s.contains("FLOPs: 2·5·5·6·1,600 + 1,600 (bias) = 481,600"), "{s}");
    assert!(s.contains("MACs: 156 params·28·28 positions = 122,304"), "{s}");
    let out = rkeras(&["summary", "LeNet5", "--memory", "--optimizer", "adamx"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("optimizer") && text(&out.stderr).contains("adamx"));
}

#[test]
fn verify_prints_the_table_and_passes_lenet5() {
    let out = rkeras(&["verify", "LeNet5"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(s.starts_with("Layer (type)"), "{s}");
    assert_eq!(s.lines().filter(|l| l.ends_with("  PASS")).count(), 8, "{s}");
    assert!(s.ends_with("PASS: every layer\n"), "{s}");
}

#[test]
fn plot_writes_svg_and_dot() {
    let dir = std::env::temp_dir().join(format!("rkeras-plot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (svg, dot) = (dir.join("m.svg"), dir.join("m.dot"));
    for f in [&svg, &dot] {
        let out = rkeras(&[
            "plot",
            "LeNet5",
            "-o",
            f.to_str().unwrap(),
            "--show-shapes",
            "--show-layer-names",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let s = std::fs::read_to_string(&svg).unwrap();
    assert!(s.starts_with("<svg") && s.contains("conv2d_1 (Conv2D)"), "{s}");
    let d = std::fs::read_to_string(&dot).unwrap();
    assert!(
        d.starts_with("digraph G {\nrankdir=TB;") && d.contains("6 -> 7 [penwidth=2];"),
        "{d}"
    );
    let out = rkeras(&["plot", "LeNet5", "-o", dir.join("m.gif").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains(".svg or .dot"));
}
