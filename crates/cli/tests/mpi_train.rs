//! `mpirun -np 2 rkeras train` (feature `mpi`): LeNet-5 on the embedded MNIST subset for one
//! epoch in global batches of 64, deterministic, by 2 ranks of one thread, against the same
//! command in one process: the History and the test results agree within 1e-6, one progress
//! line and one summary are printed (rank 0's), and rank 0 alone writes the TensorBoard logs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rkeras-cli-mpi-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const ARGS: [&str; 12] = [
    "train",
    "LeNet5",
    "--dataset",
    "mnist",
    "--epochs",
    "1",
    "--batch-size",
    "64",
    "--verbose",
    "2",
    "--seed",
    "3",
];

fn run(mpi: bool, dir: &Path) -> (Output, serde_json::Value) {
    let json = dir.join(if mpi { "mpi.json" } else { "one.json" });
    let exe = env!("CARGO_BIN_EXE_rkeras");
    let mut c = if mpi {
        let mut c = Command::new("mpirun");
        c.args(["-np", "2", "--oversubscribe", exe]);
        c
    } else {
        Command::new(exe)
    };
    let out = c
        .args(ARGS)
        .args(["--deterministic", "--history-json", json.to_str().unwrap()])
        .args(["--logdir", if mpi { "logs_mpi" } else { "logs_one" }])
        .env("RAYON_NUM_THREADS", if mpi { "1" } else { "2" })
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("KERAS_HOME", dir)
        .env_remove("RKERAS_DATA_DIR")
        .current_dir(dir)
        .output()
        .expect("run rkeras (mpirun from openmpi-bin for the MPI run)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}: {}\n{text}\n{}",
        if mpi {
            "mpirun -np 2 rkeras train"
        } else {
            "rkeras train"
        },
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    (out, value)
}

fn numbers(v: &serde_json::Value) -> Vec<f64> {
    let mut out = Vec::new();
    for (_, series) in v["history"].as_object().unwrap() {
        out.extend(series.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()));
    }
    out.push(v["test"]["loss"].as_f64().unwrap());
    out.push(v["test"]["accuracy"].as_f64().unwrap());
    out
}

#[test]
fn two_ranks_train_as_one_process() {
    let dir = tmp("train");
    let (one_out, one) = run(false, &dir);
    let (mpi_out, mpi) = run(true, &dir);
    let text = String::from_utf8_lossy(&mpi_out.stdout);
    assert_eq!(text.matches("Total params").count(), 1, "one summary:\n{text}");
    assert_eq!(text.matches("val_accuracy").count(), 1, "one progress line:\n{text}");
    assert!(
        text.contains("Distributed: 2 workers (MPI), global batch 64 = 2 × 32 per worker"),
        "{text}"
    );
    // Rank 0 alone writes the TensorBoard logs: one event file per writer, as one process.
    for sub in ["train", "validation"] {
        let files = std::fs::read_dir(dir.join("logs_mpi").join(sub)).unwrap().count();
        assert_eq!(files, 1, "{sub}/: {files} event files");
    }
    let (a, b) = (numbers(&one), numbers(&mpi));
    assert_eq!(a.len(), b.len());
    let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    assert!(
        worst < 1e-6,
        "History / test results differ by {worst}:\n{}\n{text}",
        String::from_utf8_lossy(&one_out.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
