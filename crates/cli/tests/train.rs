//! `rkeras train`, `fit` and `evaluate` as a user runs them: the README's main job on the
//! embedded MNIST subset, a directory of IDX files with every option, the saved model
//! re-evaluated and re-trained, and one-line errors for bad datasets and arguments.

use rkeras::datasets::idx::{gzip, idx_u8_bytes};
use rkeras::prelude::Tensor;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn rkeras(args: &[&str], keras_home: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rkeras"))
        .args(args)
        .env("KERAS_HOME", keras_home)
        .env_remove("RKERAS_DATA_DIR")
        .output()
        .expect("run rkeras")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rkeras-cli-train-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A tiny MNIST-shaped IDX set: `n` training and `n / 2` test images of two stripes.
fn write_idx(dir: &Path, n: usize) {
    let img = |i: usize| -> Vec<f32> {
        (0..784)
            .map(|p| if (p / 28) % 2 == i % 2 { 255.0 } else { 0.0 })
            .collect()
    };
    let set = |count: usize| {
        let x: Vec<f32> = (0..count).flat_map(img).collect();
        let y: Vec<f32> = (0..count).map(|i| (i % 2) as f32).collect();
        (
            Tensor::new(&[count, 28, 28], x).unwrap(),
            Tensor::new(&[count], y).unwrap(),
        )
    };
    let (x, y) = set(n);
    let (xt, yt) = set(n / 2);
    for (name, t) in [
        ("train-images-idx3-ubyte.gz", &x),
        ("train-labels-idx1-ubyte.gz", &y),
        ("t10k-images-idx3-ubyte.gz", &xt),
        ("t10k-labels-idx1-ubyte.gz", &yt),
    ] {
        std::fs::write(dir.join(name), gzip(&idx_u8_bytes(t))).unwrap();
    }
}

/// The README's main job, one epoch, on the embedded subset (no data anywhere else).
#[test]
fn main_job_runs_on_the_embedded_subset() {
    let dir = tmp("main");
    let hist = dir.join("h.json");
    let out = rkeras(
        &[
            "train",
            "LeNet5",
            "--dataset",
            "mnist",
            "--epochs",
            "1",
            "--history-json",
            hist.to_str().unwrap(),
        ],
        &dir.join("keras_home"),
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.starts_with("mnist: 6000 training / 1000 test images of 28×28×1, 10 classes, from the embedded subset")
    );
    assert!(stdout.contains(" Total params: 61,706 (241.04 KB)"), "{stdout}");
    // Not a terminal: one finished, uncoloured progress line for the epoch.
    assert!(stdout.contains("188/188 ━━━━━━━━━━━━━━━━━━━━ "), "{stdout}");
    assert!(
        stdout.contains("- val_accuracy: ") && stdout.contains("Test accuracy: "),
        "{stdout}"
    );
    assert!(stderr.contains("using the embedded subset"), "{stderr}");
    let h: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&hist).unwrap()).unwrap();
    let keys: Vec<&String> = h["history"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["accuracy", "loss", "val_accuracy", "val_loss"]);
    assert!(h["test"]["accuracy"].as_f64().unwrap() > 0.5, "{h}");
    assert_eq!(h["epoch_seconds"].as_array().unwrap().len(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every option on a directory of IDX files, then the saved model through `evaluate` and `fit`.
#[test]
fn data_dir_options_save_then_evaluate_and_fit() {
    let dir = tmp("opts");
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    write_idx(&data, 64);
    let model = dir.join("m.keras");
    let logs = dir.join("logs");
    let ckpt = format!("{}/ck-{{epoch:02d}}.keras", dir.display());
    let args = [
        "train",
        "LeNet5",
        "--dataset",
        "mnist",
        "--data-dir",
        data.to_str().unwrap(),
        "--epochs",
        "3",
        "--batch-size",
        "16",
        "--optimizer",
        "sgd",
        "--learning-rate",
        "0.05",
        "--validation-split",
        "0.25",
        "--early-stopping",
        "5",
        "--logdir",
        logs.to_str().unwrap(),
        "--save",
        model.to_str().unwrap(),
        "--seed",
        "7",
        "--checkpoint",
        &ckpt,
        "--verbose",
        "2",
    ];
    let out = rkeras(&args, &dir.join("kh"));
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.contains("64 training / 32 test images") && stdout.contains("2 classes"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Epoch 3/3\n3/3 - "),
        "48 training samples in batches of 16: {stdout}"
    );
    assert!(model.is_file() && logs.join("train").is_dir() && logs.join("validation").is_dir());
    assert!(dir.join("ck-01.keras").is_file() && dir.join("ck-03.keras").is_file());

    let out = rkeras(
        &[
            "evaluate",
            model.to_str().unwrap(),
            "--dataset",
            "mnist",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &dir,
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("accuracy: ") && stdout.contains("loss: "), "{stdout}");

    // `fit` on arrays: x (N, 28, 28, 1) and y from .npy files.
    let x = Tensor::full(&[8, 28, 28, 1], 0.5);
    let y = Tensor::new(&[8], vec![0., 1., 0., 1., 0., 1., 0., 1.]).unwrap();
    let (xp, yp) = (dir.join("x.npy"), dir.join("y.npy"));
    rkeras::io::npy::write_npy(xp.to_str().unwrap(), &x).unwrap();
    rkeras::io::npy::write_npy(yp.to_str().unwrap(), &y).unwrap();
    let out2 = dir.join("m2.keras");
    let hist = dir.join("fit.json");
    let out = rkeras(
        &[
            "fit",
            model.to_str().unwrap(),
            "--x",
            xp.to_str().unwrap(),
            "--y",
            yp.to_str().unwrap(),
            "--loss",
            "sparse_categorical_crossentropy",
            "--epochs",
            "2",
            "--no-shuffle",
            "--verbose",
            "0",
            "--save",
            out2.to_str().unwrap(),
            "--history-json",
            hist.to_str().unwrap(),
        ],
        &dir,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out2.is_file());
    let h: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&hist).unwrap()).unwrap();
    assert_eq!(h["history"]["loss"].as_array().unwrap().len(), 2);
    let out = rkeras(
        &[
            "evaluate",
            out2.to_str().unwrap(),
            "--x",
            xp.to_str().unwrap(),
            "--y",
            yp.to_str().unwrap(),
        ],
        &dir,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Bad datasets, directories and arguments: one line on stderr, exit code 2.
#[test]
fn errors_are_one_line_with_exit_code_2() {
    let dir = tmp("errors");
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let bad_x = dir.join("x.npy");
    rkeras::io::npy::write_npy(bad_x.to_str().unwrap(), &Tensor::zeros(&[3, 5])).unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["train", "LeNet5", "--dataset", "svhn"], "unknown dataset \"svhn\""),
        (
            vec![
                "train",
                "LeNet5",
                "--dataset",
                "mnist",
                "--data-dir",
                empty.to_str().unwrap(),
            ],
            "mnist: no data found",
        ),
        (
            vec![
                "train",
                "LeNet5",
                "--dataset",
                "cifar10",
                "--data-dir",
                empty.to_str().unwrap(),
            ],
            "cifar10: no data found",
        ),
        (
            vec!["train", "LeNet5", "--dataset", "mnist", "--optimizer", "lion"],
            "Could not interpret optimizer identifier",
        ),
        (
            vec!["train", "LeNet5", "--dataset", "mnist", "--learning-rate", "0"],
            "--learning-rate must be a positive number",
        ),
        (vec!["train", "NoSuchNet", "--dataset", "mnist"], "NoSuchNet"),
        (vec!["evaluate", "m.keras"], "--dataset"),
        (
            vec![
                "fit",
                "m.json",
                "--x",
                bad_x.to_str().unwrap(),
                "--y",
                bad_x.to_str().unwrap(),
                "--loss",
                "mse",
            ],
            "m.json",
        ),
    ];
    for (args, want) in cases {
        let out = rkeras(&args, &dir);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert_eq!(
            stderr.trim_end().lines().count(),
            1 + stderr.contains("embedded") as usize,
            "{args:?}: {stderr}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Image in, class out, end to end on real digits: LeNet5 is trained by `rkeras train
/// --data-dir` on a PNG tree written from the embedded MNIST subset (digits 200–3,199 of the
/// training split, so none of the test images), then `rkeras predict m.keras --image …` is
/// run on the 120 real MNIST PNGs of `fixtures/images/mnist_tiny` (training digits 0–103,
/// 12 per class; not trained on) and must print each image's folder label as its class for
/// nearly all of them, and for most of every class.
#[test]
fn predict_image_names_the_digit_of_real_mnist_pngs() {
    use rkeras::utils::{save_img, ArrayToImgOptions};
    let dir = tmp("digits");
    let tree = dir.join("tree");
    let ((x, y), _) = rkeras::datasets::mnist::load_embedded().unwrap().into_splits();
    let raw = ArrayToImgOptions {
        scale: false,
        ..ArrayToImgOptions::default()
    };
    for i in 200..3200 {
        let label = y.data()[i] as usize;
        let d = tree.join(label.to_string());
        std::fs::create_dir_all(&d).unwrap();
        let img = Tensor::new(&[28, 28, 1], x.data()[i * 784..(i + 1) * 784].to_vec()).unwrap();
        save_img(d.join(format!("{i:05}.png")), &img, None, &raw).unwrap();
    }
    let model = dir.join("m.keras");
    let out = rkeras(
        &[
            "train",
            "LeNet5",
            "--data-dir",
            tree.to_str().unwrap(),
            "--image-size",
            "28,28",
            "--color-mode",
            "grayscale",
            "--validation-split",
            "0",
            "--epochs",
            "3",
            "--seed",
            "7",
            "--save",
            model.to_str().unwrap(),
        ],
        &dir.join("kh"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let digits = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rkeras/tests/fixtures/images/mnist_tiny");
    let mut images: Vec<(usize, String)> = Vec::new();
    for label in 0..10 {
        for e in std::fs::read_dir(digits.join(label.to_string())).unwrap() {
            images.push((label, e.unwrap().path().to_string_lossy().into_owned()));
        }
    }
    images.sort();
    let mut args = vec!["predict", model.to_str().unwrap()];
    for (_, p) in &images {
        args.extend(["--image", p.as_str()]);
    }
    let out = rkeras(&args, &dir.join("kh"));
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // One line per image: "PATH: class 7 (probability 0.9874)".
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), images.len(), "{stdout}");
    let mut right = [0usize; 10];
    for ((label, path), line) in images.iter().zip(&lines) {
        let rest = line
            .strip_prefix(&format!("{path}: class "))
            .unwrap_or_else(|| panic!("{line}"));
        let (class, p) = rest.split_once(" (probability ").expect("probability");
        let p: f64 = p.trim_end_matches(')').parse().expect("a probability");
        assert!((0.0..=1.0).contains(&p), "{line}");
        if class == label.to_string() {
            right[*label] += 1;
        }
    }
    let total: usize = right.iter().sum();
    eprintln!("predict --image on 120 real digits: {total} right, per class {right:?}");
    assert!(total >= 105, "{total}/120 right, per class {right:?}");
    assert!(right.iter().all(|&r| r >= 8), "per class (of 12): {right:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
