//! Data-parallel training over MPI (feature `mpi`): this test program starts itself under
//! `mpirun -np 2 --oversubscribe` (one rayon thread per rank) and checks, on every rank:
//!
//! - `parity`: LeNet-5 with SGD and with Adam, and LeNet-5 with BatchNormalization, trained
//!   two epochs on 256 MNIST digits in global batches of 32 by 2 ranks: both ranks end with
//!   bit-identical weights, equal to a single-process deterministic run on the same global
//!   batches within 1e-6 (plain `fit`; for BatchNormalization, whose replicas normalize with
//!   their own batch statistics as Keras's do, `MirroredStrategy(2)` in one process), and the
//!   History equals the single-process one within 1e-6.
//! - `unseeded`: no seeds and a different session seed per rank: bit-identical weights and
//!   History on both ranks (the chief's weights and shuffling seed are broadcast).
//! - `backup`: a run with `BackupAndRestore` whose rank 1 is killed (SIGKILL) after the first
//!   backup: every rank ends within seconds with a message naming the dead rank; running the
//!   same program again resumes from the backup and finishes.
//!
//! - `hang`: the same run whose rank 1 is stopped (SIGSTOP, a hung rank that `mpirun` cannot
//!   see die): rank 0's watchdog ends it after `RKERAS_MPI_TIMEOUT=2` seconds in a collective
//!   with a message saying so, and `mpirun` ends the job.
//!
//! - `hang`: the same run whose rank 1 is stopped (SIGSTOP, a hung rank that `mpirun` cannot
//!   see die): rank 0's watchdog ends it after `RKERAS_MPI_TIMEOUT=2` seconds in a collective
//!   with a message saying so, and `mpirun` ends the job.
//!
//! `harness = false`: `main` is the driver, or a worker when started by `mpirun`.

mod common;

use rkeras::distribute::{launched_by_mpirun, MirroredStrategy, MultiWorkerMirroredStrategy, Strategy};
use rkeras::training::{History, Optimizer};
use rkeras::Model;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tensor::Tensor;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if launched_by_mpirun() {
        let strategy = MultiWorkerMirroredStrategy::new().unwrap();
        match args.get(1).map(String::as_str) {
            Some("parity") => {
                parity(&strategy);
                unseeded(&strategy);
            }
            Some("backup") => backup(&strategy, Path::new(&args[2])),
            other => panic!("unknown scenario {other:?}"),
        }
        return;
    }
    drive();
}

fn mpirun(args: &[&str]) -> Command {
    let mut c = Command::new("mpirun");
    c.args(["-np", "2", "--oversubscribe"])
        .arg(std::env::current_exe().unwrap())
        .args(args)
        .env("RAYON_NUM_THREADS", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    c
}

fn drive() {
    let out = mpirun(&["parity"])
        .output()
        .expect("mpirun (Open MPI's openmpi-bin) must be installed");
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "mpirun -np 2 parity failed: {}", out.status);

    let dir = std::env::temp_dir().join(format!("rkeras-mpi-backup-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = mpirun(&["backup", dir.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (state, pid1) = (dir.join("state.npz"), dir.join("rank1.pid"));
    let start = Instant::now();
    while !(state.is_file() && pid1.is_file()) {
        assert!(start.elapsed() < Duration::from_secs(120), "no backup after 120 s");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before its first backup"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = std::fs::read_to_string(&pid1).unwrap();
    let killed = Instant::now();
    assert!(Command::new("kill")
        .args(["-9", pid.trim()])
        .status()
        .unwrap()
        .success());
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(60),
            "the other rank still runs 60 s after the kill"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let stopped = killed.elapsed().as_secs_f64();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    println!(
        "rank 1 (pid {}) killed: mpirun ended after {stopped:.2} s with {status}",
        pid.trim()
    );
    eprint!("{stderr}");
    assert!(!status.success(), "a run with a killed rank must fail");
    assert!(stopped < 10.0, "the job took {stopped:.1} s to stop after the kill");
    let said = format!("{stdout}{stderr}");
    assert!(
        said.contains("rank 1") && (said.contains("signal 9") || said.contains("Killed") || said.contains("died")),
        "no clear message about the dead rank:\n{said}"
    );
    assert!(state.is_file(), "the backup must stay whole");

    let out = mpirun(&["backup", dir.to_str().unwrap()]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the resumed run failed: {}", out.status);
    assert!(
        stdout.contains("resumed at epoch"),
        "the rerun did not resume:\n{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    hang();
}

/// A stopped (hung) rank: the watchdog of the other one ends the job.
fn hang() {
    let dir = std::env::temp_dir().join(format!("rkeras-mpi-hang-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = mpirun(&["backup", dir.to_str().unwrap()])
        .env("RKERAS_MPI_TIMEOUT", "2")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid1 = dir.join("rank1.pid");
    let start = Instant::now();
    while !(dir.join("state.npz").is_file() && pid1.is_file()) {
        assert!(start.elapsed() < Duration::from_secs(120), "no backup after 120 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = std::fs::read_to_string(&pid1).unwrap();
    let stopped_at = Instant::now();
    assert!(Command::new("kill")
        .args(["-STOP", pid.trim()])
        .status()
        .unwrap()
        .success());
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if stopped_at.elapsed() > Duration::from_secs(60) {
            let _ = Command::new("kill").args(["-9", pid.trim()]).status();
            panic!("the job still runs 60 s after rank 1 hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = stopped_at.elapsed().as_secs_f64();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!(
        "rank 1 (pid {}) stopped: the job ended after {took:.2} s with {status}",
        pid.trim()
    );
    eprint!("{stderr}");
    assert!(!status.success());
    assert!(took < 15.0, "the job took {took:.1} s to stop after rank 1 hung");
    assert!(
        stderr.contains("rank 0 of 2: no answer from the other ranks"),
        "no watchdog message:\n{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn bits(w: &[Tensor]) -> Vec<f32> {
    w.iter().flat_map(|t| t.data().iter().copied()).collect()
}

fn fit(model: &mut Model) -> History {
    let (x, y) = common::mnist(256);
    model.fit(&x, &y, common::quiet(32, 2)).unwrap()
}

/// A model to train: its name, its builder (from a seed) and its optimizer.
type Case = (&'static str, fn(u64) -> Model, Optimizer);

fn parity(strategy: &MultiWorkerMirroredStrategy) {
    rkeras::config::enable_determinism();
    let rank = strategy.worker_index();
    let cases: [Case; 3] = [
        ("LeNet-5 SGD", common::lenet, Optimizer::sgd().learning_rate(0.05)),
        ("LeNet-5 Adam", common::lenet, Optimizer::adam()),
        (
            "LeNet-5 + BatchNormalization SGD",
            common::lenet_bn,
            Optimizer::sgd().learning_rate(0.05),
        ),
    ];
    for (name, build, optimizer) in cases {
        let compiled = || {
            let mut m = build(7);
            m.compile(optimizer.clone(), "sparse_categorical_crossentropy", &["accuracy"])
                .unwrap();
            m
        };
        let mut model = strategy.scope(compiled);
        let history = fit(&mut model);
        let weights = model.get_weights();
        // Every rank has the same bits: compare with the chief's.
        let mine = bits(&weights);
        let mut chief = mine.clone();
        strategy.broadcast_from_chief(&mut chief).unwrap();
        let same = mine.iter().zip(&chief).all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(same, "{name}: rank {rank}'s weights differ from rank 0's");

        let mut single = if name.contains("BatchNormalization") {
            MirroredStrategy::new(strategy.num_replicas_in_sync())
                .unwrap()
                .scope(compiled)
        } else {
            compiled()
        };
        let reference = fit(&mut single);
        let dw = common::max_diff(&weights, &single.get_weights());
        let dh = common::history_diff(&history, &reference);
        if rank == 0 {
            println!(
                "{name}: {} ranks bit-identical; vs one process: max |Δweight| {dw:.2e}, max |Δhistory| {dh:.2e}, \
                 final loss {:.4}",
                strategy.num_replicas_in_sync(),
                history.get("loss").unwrap()[1]
            );
        }
        assert!(dw < 1e-6, "{name}: weights differ from the single-process run by {dw}");
        assert!(dh < 1e-6, "{name}: History differs from the single-process run by {dh}");
    }
}

/// No seeds: each rank's session seed differs, so the ranks agree only if the chief's
/// weights and shuffling seed reach every rank: bit-identical weights and History (accuracy
/// would differ if the ranks cut different shuffled orders).
fn unseeded(strategy: &MultiWorkerMirroredStrategy) {
    let rank = strategy.worker_index();
    let mut model = strategy.scope(|| {
        let mut m = common::lenet(100 + rank as u64);
        m.compile("adam", "sparse_categorical_crossentropy", &["accuracy"])
            .unwrap();
        m
    });
    let (x, y) = common::mnist(256);
    let h = model
        .fit(
            &x,
            &y,
            rkeras::training::FitOptions::default()
                .batch_size(32)
                .epochs(2)
                .verbose(0),
        )
        .unwrap();
    let mut mine = bits(&model.get_weights());
    for k in ["accuracy", "loss"] {
        mine.extend(h.get(k).unwrap().iter().map(|&v| v as f32));
    }
    let mut chief = mine.clone();
    strategy.broadcast_from_chief(&mut chief).unwrap();
    let same = mine.iter().zip(&chief).all(|(a, b)| a.to_bits() == b.to_bits());
    let mut agree = [same as u8 as f32];
    strategy.all_reduce_sum(&mut agree).unwrap();
    if rank == 0 && agree[0] as usize == strategy.num_replicas_in_sync() {
        println!("unseeded LeNet-5 Adam: ranks bit-identical (weights and History)");
    }
    assert!(same, "unseeded: rank {rank}'s weights or History differ from rank 0's");
}

fn backup(strategy: &MultiWorkerMirroredStrategy, dir: &Path) {
    let rank = strategy.worker_index();
    std::fs::write(dir.join(format!("rank{rank}.pid")), std::process::id().to_string()).unwrap();
    let mut model = strategy.scope(|| {
        let mut m = common::lenet(2);
        m.compile("adam", "sparse_categorical_crossentropy", &["accuracy"])
            .unwrap();
        m
    });
    let (x, y) = common::mnist(1024);
    let backups = PathBuf::from(dir);
    let history = model
        .fit(
            &x,
            &y,
            common::quiet(32, 10).callback(rkeras::callbacks::BackupAndRestore::new(&backups)),
        )
        .unwrap();
    if rank == 0 {
        println!(
            "resumed at epoch {}, trained to epoch {}, loss {:.4}",
            history.epoch[0],
            history.epoch.last().unwrap(),
            history.get("loss").unwrap().last().unwrap()
        );
    }
}
