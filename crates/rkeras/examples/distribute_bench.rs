//! Data-parallel training throughput: LeNet-5 (28×28×1) or the Keras CIFAR-10 example CNN
//! (32×32×3) trained with `fit` on random data, one process or several MPI ranks, and the
//! all-reduce time per step.
//!
//! ```sh
//! cargo build --release -p rkeras --features mpi --example distribute_bench
//! B=target/release/examples/distribute_bench
//! RAYON_NUM_THREADS=2 $B lenet5 64                          # 1 rank × 2 threads, global batch 64
//! RAYON_NUM_THREADS=1 mpirun -np 2 --oversubscribe $B lenet5 64   # 2 ranks × 1 thread
//! ```
//!
//! Arguments: `lenet5` or `cifar_cnn`, the global batch (64), the timed steps (60),
//! `--deterministic`. Prints samples/s of the timed epoch, and under MPI the time spent in the
//! training all-reduce per step (including waiting for the slower rank) and that of a bare
//! all-reduce of the gradient's size after a barrier (the transport alone), with the bytes a
//! ring all-reduce sends per rank and step, `2(N − 1)/N ×` the gradient.

use rkeras::distribute::{launched_by_mpirun, ring_all_reduce_bytes, MultiWorkerMirroredStrategy, Strategy};
use rkeras::prelude::*;
use rkeras::training::{FitOptions, Optimizer};
use std::sync::Arc;
use std::time::Instant;
use tensor::Rng;

fn model(name: &str) -> Result<(Model, Vec<usize>)> {
    clear_session();
    set_random_seed(1);
    match name {
        "lenet5" => Ok((
            rkeras::applications::lenet5(&rkeras::applications::AppOptions::default())?,
            vec![28, 28, 1],
        )),
        "cifar_cnn" => Ok((
            Sequential::new()
                .add(InputLayer::new(&[32, 32, 3]))
                .add(Conv2D::new(32, 3).padding("same").activation("relu"))
                .add(Conv2D::new(32, 3).activation("relu"))
                .add(MaxPooling2D::new(2))
                .add(Dropout::new(0.25))
                .add(Conv2D::new(64, 3).padding("same").activation("relu"))
                .add(Conv2D::new(64, 3).activation("relu"))
                .add(MaxPooling2D::new(2))
                .add(Dropout::new(0.25))
                .add(Flatten::new())
                .add(Dense::new(512).activation("relu"))
                .add(Dropout::new(0.5))
                .add(Dense::new(10).activation("softmax"))
                .build()?,
            vec![32, 32, 3],
        )),
        other => Err(KerasError::Invalid(format!(
            "distribute_bench: expected `lenet5` or `cifar_cnn`, received {other:?}"
        ))),
    }
}

fn data(input: &[usize], n: usize) -> Result<(Tensor, Tensor)> {
    let mut rng = Rng::new(3);
    let mut shape = vec![n];
    shape.extend_from_slice(input);
    let len: usize = shape.iter().product();
    let x = Tensor::new(&shape, (0..len).map(|_| rng.uniform() as f32).collect())?;
    let y = Tensor::new(&[n], (0..n).map(|_| rng.below(10) as f32).collect())?;
    Ok((x, y))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    if std::env::args().any(|a| a == "--deterministic") {
        rkeras::config::enable_determinism();
    }
    let name = args.first().map_or("lenet5", String::as_str);
    let parse = |i: usize, d: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let (global, steps) = (parse(1, 64), parse(2, 60));
    let mpi = if launched_by_mpirun() {
        Some(MultiWorkerMirroredStrategy::new()?)
    } else {
        None
    };
    let workers = mpi.as_ref().map_or(1, |s| s.num_replicas_in_sync());
    let (mut m, input) = model(name)?;
    m.compile(Optimizer::adam(), "sparse_categorical_crossentropy", &["accuracy"])?;
    if let Some(s) = &mpi {
        m.set_distribute_strategy(Some(Arc::new(s.clone()) as Arc<dyn Strategy>))?;
    }
    let (x, y) = data(&input, global * steps)?;
    let (wx, wy) = data(&input, global * 3)?;
    m.fit(&wx, &wy, FitOptions::default().batch_size(global).verbose(0))?;
    if let Some(s) = &mpi {
        s.barrier()?;
        s.reset_all_reduce_time();
    }
    let t = Instant::now();
    m.fit(&x, &y, FitOptions::default().batch_size(global).verbose(0))?;
    let secs = t.elapsed().as_secs_f64();
    let threads = rayon::current_num_threads();
    let params: usize = m.trainable_weights().iter().map(|w| w.value.len()).sum();
    let mut line = format!(
        "{name}: {workers} rank(s) × {threads} thread(s), global batch {global}, {steps} steps: {:.0} samples/s \
         ({:.2} ms/step){}",
        (global * steps) as f64 / secs,
        secs * 1e3 / steps as f64,
        if rkeras::config::is_determinism_enabled() {
            ", deterministic"
        } else {
            ""
        }
    );
    if let Some(s) = &mpi {
        let (ar, calls) = s.all_reduce_time();
        // The transport alone: a barrier, then all-reduces of the step buffer's size.
        let mut buf = vec![1.0f32; params + 64];
        let reps = 50;
        s.barrier()?;
        let t = Instant::now();
        for _ in 0..reps {
            s.all_reduce_sum(&mut buf)?;
        }
        let bare = t.elapsed().as_secs_f64() / reps as f64;
        let bytes = ring_all_reduce_bytes(params * 4, workers);
        line += &format!(
            "; all-reduce in training {:.3} ms/step ({calls} calls), bare {:.3} ms for {params} floats, \
             ring {bytes} bytes sent per rank and step ({:.2} GB/s)",
            ar * 1e3 / steps as f64,
            bare * 1e3,
            bytes as f64 / bare / 1e9
        );
    }
    if rkeras::distribute::is_chief() {
        println!("{line}");
    }
    Ok(())
}
