//! Inference of one `keras.applications` model, for `bench/apps_compare.py`: builds the
//! application (random weights, Keras's default input size), then times `Model::forward` at
//! one batch size (the inference plan; `--tape` times the tape instead) and prints one JSON
//! line: median and minimum ms, repetitions, the plan's build time, its arena and packed-weight
//! bytes, and the process's peak RSS (`VmHWM`).
//!
//! `cargo bench -p rkeras --bench apps -- --app MobileNetV2 --batch 1 [--seconds 3] [--tape]`.
//! Threads: `RAYON_NUM_THREADS`.

use rkeras::applications::{by_name, AppOptions};
use std::hint::black_box;
use std::time::Instant;
use tensor::{Rng, Tensor};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<f64>().ok()))
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    // `cargo bench` passes `--bench`; run only when an application is named.
    let Some(app) = arg("--app") else {
        eprintln!("usage: apps --app NAME --batch N [--seconds S] [--tape]");
        return;
    };
    let batch: usize = arg("--batch").and_then(|b| b.parse().ok()).unwrap_or(1);
    let seconds: f64 = arg("--seconds").and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let tape = std::env::args().any(|a| a == "--tape");
    let model = match by_name(&app, &AppOptions::default()) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{app}: {e}");
            std::process::exit(2);
        }
    };
    let mut shape: Vec<usize> = model.input_shapes()[0].iter().map(|d| d.unwrap_or(1)).collect();
    shape[0] = batch;
    let mut rng = Rng::new(0);
    let n: usize = shape.iter().product();
    let x = Tensor::new(&shape, (0..n).map(|_| rng.uniform_range(0.0, 1.0) as f32).collect()).expect("shape");
    let run = || {
        if tape {
            model.forward_tape(std::slice::from_ref(&x), false)
        } else {
            model.forward(std::slice::from_ref(&x), false)
        }
        .expect("forward")
    };
    let t = Instant::now();
    black_box(run());
    let first_ms = t.elapsed().as_secs_f64() * 1e3;
    let (arena, packed) = if tape {
        (0, 0)
    } else {
        let p = model.inference_plan(&[shape.clone()]).expect("plan");
        (p.arena_bytes(), p.packed_bytes())
    };
    let t = Instant::now();
    black_box(run());
    let once = t.elapsed().as_secs_f64();
    let reps = ((seconds / once) as usize).clamp(5, 1000);
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            black_box(run());
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    println!(
        r#"{{"app": "{app}", "batch": {batch}, "median_ms": {:.3}, "min_ms": {:.3}, "reps": {reps}, "first_ms": {first_ms:.1}, "arena_mb": {:.1}, "packed_mb": {:.1}, "rss_mb": {:.1}, "threads": {}, "isa": "{}"}}"#,
        times[reps / 2],
        times[0],
        arena as f64 / 1048576.0,
        packed as f64 / 1048576.0,
        peak_rss_mb(),
        tensor::kernels::threads(),
        tensor::kernels::isa().name()
    );
}
