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
    assert!(text(&out.stderr).contains("expected a .png, .svg or .dot file name"));
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && &bytes[12..16] == b"IHDR");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

#[test]
fn plot_writes_png_at_the_dpi() {
    let dir = std::env::temp_dir().join(format!("rkeras-plot-png-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let size = |dpi: &str| {
        let f = dir.join(format!("m{dpi}.png"));
        let out = rkeras(&[
            "plot",
            "LeNet5",
            "-o",
            f.to_str().unwrap(),
            "--show-shapes",
            "--dpi",
            dpi,
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        png_size(&std::fs::read(&f).unwrap())
    };
    let ((w72, h72), (w144, h144)) = (size("72"), size("144"));
    assert!(
        w144.abs_diff(2 * w72) <= 1 && h144.abs_diff(2 * h72) <= 1,
        "{w72}x{h72} {w144}x{h144}"
    );
    // DenseNet121 is taller than cairo's 32,767 pixels at 200 dpi: scaled down, with a note.
    let f = dir.join("dense.png");
    let out = rkeras(&["plot", "DenseNet121", "-o", f.to_str().unwrap(), "--show-shapes"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("too large at dpi 200; scaled to"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(png_size(&std::fs::read(&f).unwrap()).1, 32_767);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn plot_history_writes_curves_and_names_bad_files() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../rkeras/tests/fixtures/insight/history");
    let runs: Vec<String> = ["baseline", "smaller", "bigger"]
        .iter()
        .map(|r| fixtures.join(format!("{r}.json")).to_str().unwrap().to_string())
        .collect();
    let dir = std::env::temp_dir().join(format!("rkeras-curves-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (svg, png) = (dir.join("c.svg"), dir.join("c.png"));
    for f in [&svg, &png] {
        let mut args = vec!["plot-history"];
        args.extend(runs.iter().map(String::as_str));
        args.extend(["-o", f.to_str().unwrap(), "--dpi", "72"]);
        let out = rkeras(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let s = std::fs::read_to_string(&svg).unwrap();
    assert_eq!(s.matches("<path class=\"curve\"").count(), 12);
    for r in ["baseline", "smaller", "bigger"] {
        let legend = s.split("</text>").any(|t| t.rsplit('>').next().unwrap().trim() == r);
        assert!(legend, "legend {r}");
    }
    assert_eq!(png_size(&std::fs::read(&png).unwrap()).0, 840);
    let missing = dir.join("nope.json");
    let out = rkeras(&["plot-history", missing.to_str().unwrap(), "-o", svg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("rkeras: error: ") && err.contains("nope.json") && err.lines().count() == 1,
        "{err}"
    );
    let out = rkeras(&["plot-history", "-o", svg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).unwrap();
}
