//! Training throughput: `train_on_batch` (forward, loss, backward, optimizer update, metrics)
//! of the tutorials' LeNet-5 at batch 32 and 128 and of the 784-64-64-10 MLP at batch 32 and
//! 128, with Adam and sparse categorical cross-entropy + accuracy, on random data. Keras 3 on
//! this kind of 2-core machine fits LeNet-5 at about 1,900 samples/s and the MLP at about
//! 7,300 samples/s (`../shared/reference/keras/bench_results.txt`).
//!
//! A tiny harness like `crates/tensor/benches/conv.rs`: a warm-up, then steps for about
//! `RKERAS_BENCH_SECONDS` (default 1) seconds (at least 5), printing the median and minimum
//! step time and the samples/s of the median. Run with `cargo bench -p rkeras --bench train`;
//! a non-flag argument keeps only the cases whose name contains it; `--json` prints one JSON
//! object per case.

use rkeras::applications::{lenet5, AppOptions};
use rkeras::prelude::*;
use rkeras::training::Optimizer;
use std::hint::black_box;
use std::time::Instant;
use tensor::Rng;

fn selected(name: &str) -> bool {
    name.contains(
        &std::env::args()
            .skip(1)
            .find(|a| !a.starts_with('-'))
            .unwrap_or_default(),
    )
}

fn json_mode() -> bool {
    std::env::args().any(|a| a == "--json") || std::env::var("RKERAS_BENCH_JSON").is_ok_and(|v| v == "1")
}

fn random(rng: &mut Rng, shape: &[usize], lo: f64, hi: f64) -> Tensor {
    let n = shape.iter().product();
    Tensor::new(shape, (0..n).map(|_| rng.uniform_range(lo, hi) as f32).collect()).expect("shape and data agree")
}

fn labels(rng: &mut Rng, n: usize) -> Tensor {
    Tensor::new(&[n], (0..n).map(|_| rng.below(10) as f32).collect()).expect("shape and data agree")
}

fn bench(name: &str, batch: usize, mut model: Model, input: &[usize]) {
    if !selected(name) {
        return;
    }
    model
        .compile(Optimizer::adam(), "sparse_categorical_crossentropy", &["accuracy"])
        .expect("compile");
    let mut rng = Rng::new(1);
    let mut shape = vec![batch];
    shape.extend_from_slice(input);
    let x = random(&mut rng, &shape, 0.0, 1.0);
    let y = labels(&mut rng, batch);
    let mut step = || {
        black_box(model.train_on_batch(&x, &y, None, None).expect("train step"));
    };
    step();
    let probe = Instant::now();
    step();
    let once = probe.elapsed().as_secs_f64().max(1e-6);
    let seconds = std::env::var("RKERAS_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(1.0);
    let reps = ((seconds / once) as usize).clamp(5, 5000);
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            step();
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let rate = batch as f64 / median;
    if json_mode() {
        println!(
            r#"{{"name": "{name}", "batch": {batch}, "median_ms": {:.6}, "min_ms": {:.6}, "samples_per_s": {rate:.1}, "reps": {reps}}}"#,
            median * 1e3,
            times[0] * 1e3
        );
    } else {
        println!(
            "{name:<28} median {:>8.3} ms/step  min {:>8.3} ms  {rate:>9.0} samples/s  ({reps} reps)",
            median * 1e3,
            times[0] * 1e3
        );
    }
}

fn lenet() -> Model {
    clear_session();
    lenet5(&AppOptions::default()).expect("LeNet-5")
}

fn mlp() -> Model {
    clear_session();
    Sequential::new()
        .add(InputLayer::new(&[784]))
        .add(Dense::new(64).activation("relu"))
        .add(Dense::new(64).activation("relu"))
        .add(Dense::new(10).activation("softmax"))
        .build()
        .expect("MLP")
}

fn main() {
    if json_mode() {
        println!(r#"{{"rayon_threads": {}}}"#, rayon_threads());
    }
    bench("lenet5_train_on_batch_b32", 32, lenet(), &[28, 28, 1]);
    bench("lenet5_train_on_batch_b128", 128, lenet(), &[28, 28, 1]);
    bench("mlp_784_64_64_10_b32", 32, mlp(), &[784]);
    bench("mlp_784_64_64_10_b128", 128, mlp(), &[784]);
}

fn rayon_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}
