//! `rkeras predict` and `rkeras convert` as a user runs them: predictions equal to Keras's
//! (a Keras model's config and a safetensors file written by Python), several inputs and
//! outputs (`Y.npy`, `Y_1.npy` or one `.npz`), conversions by extension, and one-line errors
//! with exit code 2.

use rkeras::io::keras_json::model_to_json;
use rkeras::io::npy::{read_npy, read_npz, write_npy, write_npz};
use rkeras::io::safetensors::save_safetensors;
use rkeras::prelude::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn rkeras(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rkeras"))
        .args(args)
        .output()
        .expect("run rkeras")
}

fn fixture(path: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../rkeras/tests/fixtures")
        .join(path)
        .to_string_lossy()
        .into_owned()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A fresh directory for one test's files.
fn scratch(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rkeras_cli_{test}_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Asserts a failed run: exit code 2 and one line on stderr containing `needle`.
fn assert_error(out: &Output, needle: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains(needle), "expected {needle:?} in {err}");
}

#[test]
fn predict_matches_keras_with_json_and_safetensors_weights() {
    let d = scratch("predict_keras");
    let y = d.join("y.npy");
    let out = rkeras(&[
        "predict",
        &fixture("safetensors/nested.config.json"),
        "--weights",
        &fixture("safetensors/nested.safetensors"),
        "--input",
        &fixture("safetensors/nested.input.npy"),
        "--output",
        s(&y),
        "--batch-size",
        "1",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let got = read_npy(s(&y)).unwrap();
    let want = read_npy(&fixture("safetensors/nested.output.npy")).unwrap();
    assert_eq!(got.shape(), want.shape());
    assert!(
        got.allclose(&want, 1e-5, 1e-5),
        "max diff {}",
        got.max_abs_diff(&want).unwrap()
    );
    std::fs::remove_dir_all(&d).ok();
}

/// The two-input, two-output tutorial model saved as JSON + safetensors, with inputs.
fn multi_io_files(d: &Path) -> (Model, Vec<Tensor>) {
    clear_session();
    let model = rkeras::tutorials::multi_io().unwrap();
    std::fs::write(d.join("m.json"), model_to_json(&model)).unwrap();
    save_safetensors(&model, d.join("m.safetensors")).unwrap();
    let img = Tensor::arange(&[3, 28, 28, 1]).map(|v| (v % 17.0) / 17.0);
    let meta = Tensor::arange(&[3, 10]).map(|v| v / 30.0);
    write_npy(s(&d.join("img.npy")), &img).unwrap();
    write_npy(s(&d.join("meta.npy")), &meta).unwrap();
    (model, vec![img, meta])
}

#[test]
fn several_inputs_and_outputs_as_npy_files_and_npz() {
    let d = scratch("multi");
    let (model, inputs) = multi_io_files(&d);
    let want = model.predict(&inputs, 32).unwrap();
    let (m, w) = (d.join("m.json"), d.join("m.safetensors"));
    let (img, meta) = (d.join("img.npy"), d.join("meta.npy"));

    let y = d.join("y.npy");
    let out = rkeras(&[
        "predict",
        s(&m),
        "--weights",
        s(&w),
        "--input",
        s(&img),
        "--input",
        s(&meta),
        "--output",
        s(&y),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(read_npy(s(&y)).unwrap(), want[0]);
    assert_eq!(read_npy(s(&d.join("y_1.npy"))).unwrap(), want[1]);
    assert!(
        text(&out.stdout).contains("y_1.npy: shape [3, 1]"),
        "{}",
        text(&out.stdout)
    );

    let z = d.join("y.npz");
    let out = rkeras(&[
        "predict",
        s(&m),
        "--weights",
        s(&w),
        "--input",
        s(&img),
        "--input",
        s(&meta),
        "--output",
        s(&z),
        "--batch-size",
        "2",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let got = read_npz(s(&z)).unwrap();
    assert_eq!(got.len(), 2);
    // Another batch size may round differently in the last bits.
    for (k, (name, t)) in got.iter().enumerate() {
        assert_eq!(name, &format!("arr_{k}"));
        assert!(t.allclose(&want[k], 1e-6, 1e-6), "output {k}");
    }

    // Both inputs from one .npz, in archive order.
    let xz = d.join("x.npz");
    write_npz(
        s(&xz),
        &[("img".into(), inputs[0].clone()), ("meta".into(), inputs[1].clone())],
    )
    .unwrap();
    let y2 = d.join("y2.npy");
    let out = rkeras(&[
        "predict",
        s(&m),
        "--weights",
        s(&w),
        "--input",
        s(&xz),
        "--output",
        s(&y2),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(read_npy(s(&y2)).unwrap(), want[0]);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn convert_json_and_safetensors_round_trip() {
    let d = scratch("convert");
    let (model, inputs) = multi_io_files(&d);
    let (m, w) = (d.join("m.json"), d.join("m.safetensors"));
    // Architecture only.
    let j2 = d.join("copy.json");
    let out = rkeras(&["convert", s(&m), s(&j2)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(&j2).unwrap(),
        std::fs::read_to_string(&m).unwrap()
    );
    // Weights through --weights into a new safetensors file: same tensors.
    let w2 = d.join("copy.safetensors");
    let out = rkeras(&["convert", s(&m), s(&w2), "--weights", s(&w)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let y = d.join("y.npy");
    let out = rkeras(&[
        "predict",
        s(&j2),
        "--weights",
        s(&w2),
        "--input",
        s(&d.join("img.npy")),
        "--input",
        s(&d.join("meta.npy")),
        "--output",
        s(&y),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(read_npy(s(&y)).unwrap(), model.predict(&inputs, 32).unwrap()[0]);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn bad_uses_give_one_line_and_exit_code_2() {
    let d = scratch("errors");
    let (_, _) = multi_io_files(&d);
    let (m, w) = (d.join("m.json"), d.join("m.safetensors"));
    let (img, meta) = (d.join("img.npy"), d.join("meta.npy"));
    let y = d.join("y.npy");
    let (o_st, o_txt, o_json, o_deep) = (
        d.join("out.safetensors"),
        d.join("out.txt"),
        d.join("out.json"),
        d.join("no/such/dir/out.json"),
    );
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec![
                "predict",
                s(&m),
                "--input",
                s(&img),
                "--input",
                s(&meta),
                "--output",
                s(&y),
            ],
            format!("{}: holds no weights", s(&m)),
        ),
        (
            vec![
                "predict",
                s(&m),
                "--weights",
                s(&w),
                "--input",
                s(&img),
                "--output",
                s(&y),
            ],
            "expects 2 input(s), received 1".to_string(),
        ),
        (
            vec![
                "predict",
                s(&m),
                "--weights",
                s(&w),
                "--input",
                s(&meta),
                "--input",
                s(&img),
                "--output",
                s(&y),
            ],
            "input 0: expected shape (None, 28, 28, 1), received (3, 10)".to_string(),
        ),
        (
            vec![
                "predict",
                s(&m),
                "--weights",
                s(&w),
                "--input",
                "/nonexistent/x.npy",
                "--input",
                s(&meta),
                "--output",
                s(&y),
            ],
            "/nonexistent/x.npy".to_string(),
        ),
        (
            vec![
                "predict",
                s(&m),
                "--weights",
                s(&w),
                "--input",
                s(&img),
                "--input",
                s(&meta),
                "--output",
                "y.csv",
            ],
            "--output y.csv: expected a .npy or .npz path".to_string(),
        ),
        (
            vec![
                "predict",
                s(&m),
                "--weights",
                s(&w),
                "--input",
                s(&img),
                "--input",
                s(&meta),
                "--output",
                s(&y),
                "--batch-size",
                "0",
            ],
            "--batch-size: expected a positive integer, received 0".to_string(),
        ),
        (
            vec!["predict", s(&w), "--input", s(&img), "--output", s(&y)],
            "holds weights only, no architecture".to_string(),
        ),
        (
            vec![
                "predict",
                s(&m),
                "--weights",
                s(&img),
                "--input",
                s(&img),
                "--output",
                s(&y),
            ],
            "unknown file type".to_string(),
        ),
        (
            vec!["predict", s(&m), "--weights", s(&w), "--output", s(&y)],
            "--input".to_string(),
        ),
        (vec!["convert", s(&m), s(&o_st)], "holds no weights".to_string()),
        (vec!["convert", s(&m), s(&o_txt)], "unknown file type".to_string()),
        (vec!["convert", s(&img), s(&o_json)], s(&img).to_string()),
        (vec!["convert", s(&m), s(&o_deep)], "no/such/dir/out.json".to_string()),
        (
            vec!["summary", s(&w)],
            "holds weights only, no architecture".to_string(),
        ),
    ];
    for (args, needle) in &cases {
        assert_error(&rkeras(args), needle);
    }
    std::fs::remove_dir_all(&d).ok();
}
