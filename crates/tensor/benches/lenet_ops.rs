//! Where a LeNet-5 training step goes, op by op: the engine calls `train_on_batch` makes for
//! the tutorials' LeNet-5 (`Conv2D(6, 5, same, relu)`, `MaxPooling2D(2)`, `Conv2D(16, 5,
//! relu)`, `MaxPooling2D(2)`, `Flatten`, `Dense(120, relu)`, `Dense(84, relu)`,
//! `Dense(10)` + softmax cross-entropy), each forward and backward timed alone (median of
//! repetitions for about `RKERAS_BENCH_SECONDS`, default 0.2 s, per op) at batch 32 and 128,
//! with the share of the sum. The first convolution's input gets no gradient, as in training.
//!
//! Run with `cargo bench -p rkeras-tensor --bench lenet_ops`; a non-flag argument keeps only
//! the batch sizes whose label (`b32`, `b128`) contains it, and `--min` prints each op's
//! minimum instead of its median (steadier on a shared machine). Training raises glibc's mmap
//! threshold (`rkeras`'s `training/malloc.rs`); to time the ops as a training step sees them,
//! run with `MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824`.

use std::hint::black_box;
use std::time::Instant;

use tensor::ops::activation::relu;
use tensor::ops::conv::{conv2d, conv2d_backward_parts, Conv2dParams};
use tensor::ops::matmul::{linear, linear_backward};
use tensor::ops::pool::{max_pool2d_backward, max_pool2d_with_argmax};
use tensor::{Padding, Rng, Tape, Tensor};

fn random(rng: &mut Rng, shape: &[usize]) -> Tensor {
    let n = shape.iter().product();
    Tensor::new(shape, (0..n).map(|_| rng.uniform_range(-1.0, 1.0) as f32).collect()).expect("shape and data agree")
}

/// Median (or, with `--min`, minimum) seconds of `f`.
fn time(mut f: impl FnMut()) -> f64 {
    f();
    let probe = Instant::now();
    f();
    let once = probe.elapsed().as_secs_f64().max(1e-7);
    let seconds = std::env::var("RKERAS_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(0.2);
    let reps = ((seconds / once) as usize).clamp(5, 5000);
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    if std::env::args().any(|a| a == "--min") {
        t[0]
    } else {
        t[t.len() / 2]
    }
}

/// ReLU's backward as the tape runs it: `(time of the backward alone, the input gradient)`.
fn relu_backward(x: &Tensor, gy: &Tensor) -> (f64, Tensor) {
    let mut tape = Tape::new();
    let v = tape.param(x.clone());
    let y = tape.relu(v).expect("relu");
    let run = || tape.backward_with(y, gy.clone()).expect("backward");
    (time(|| drop(black_box(run()))), run().take(v).expect("gradient"))
}

fn step(batch: usize) {
    let label = format!("b{batch}");
    if !label.contains(
        &std::env::args()
            .skip(1)
            .find(|a| !a.starts_with('-'))
            .unwrap_or_default(),
    ) {
        return;
    }
    let mut rng = Rng::new(1);
    let x = random(&mut rng, &[batch, 28, 28, 1]);
    let (w1, b1) = (random(&mut rng, &[5, 5, 1, 6]), random(&mut rng, &[6]));
    let (w2, b2) = (random(&mut rng, &[5, 5, 6, 16]), random(&mut rng, &[16]));
    let dense = [(400, 120), (120, 84), (84, 10)].map(|(i, o)| (random(&mut rng, &[i, o]), random(&mut rng, &[o])));
    let same = Conv2dParams::new((1, 1), Padding::Same);
    let valid = Conv2dParams::default();
    let mut rows: Vec<(String, f64)> = Vec::new();
    let mut add = |name: &str, t: f64| rows.push((name.to_string(), t));

    let z1 = conv2d(&x, &w1, Some(&b1), &same).unwrap();
    add(
        "conv1 forward",
        time(|| drop(black_box(conv2d(&x, &w1, Some(&b1), &same)))),
    );
    let a1 = relu(&z1);
    add("relu1 forward", time(|| drop(black_box(relu(&z1)))));
    let (p1, arg1, g1) = max_pool2d_with_argmax(&a1, (2, 2), (2, 2), Padding::Valid).unwrap();
    add(
        "pool1 forward (argmax)",
        time(|| drop(black_box(max_pool2d_with_argmax(&a1, (2, 2), (2, 2), Padding::Valid)))),
    );
    let z2 = conv2d(&p1, &w2, Some(&b2), &valid).unwrap();
    add(
        "conv2 forward",
        time(|| drop(black_box(conv2d(&p1, &w2, Some(&b2), &valid)))),
    );
    let a2 = relu(&z2);
    add("relu2 forward", time(|| drop(black_box(relu(&z2)))));
    let (p2, arg2, g2) = max_pool2d_with_argmax(&a2, (2, 2), (2, 2), Padding::Valid).unwrap();
    add(
        "pool2 forward (argmax)",
        time(|| drop(black_box(max_pool2d_with_argmax(&a2, (2, 2), (2, 2), Padding::Valid)))),
    );
    let mut h = p2.reshape(&[batch, 400]).unwrap();
    let mut acts = Vec::new();
    for (i, (w, b)) in dense.iter().enumerate() {
        let z = linear(&h, w, Some(b)).unwrap();
        add(
            &format!("dense{} forward", i + 1),
            time(|| drop(black_box(linear(&h, w, Some(b))))),
        );
        acts.push((h.clone(), z.clone()));
        h = if i < 2 { relu(&z) } else { z };
    }
    // Backward from a random logits gradient.
    let mut gy = random(&mut rng, h.shape());
    for (i, ((hin, z), (w, _))) in acts.iter().zip(&dense).enumerate().rev() {
        if i < 2 {
            let (t, g) = relu_backward(z, &gy);
            add(&format!("dense{} relu backward", i + 1), t);
            gy = g;
        }
        let need = [true, true, true];
        add(
            &format!("dense{} backward", i + 1),
            time(|| drop(black_box(linear_backward(&gy, hin, w, true, need)))),
        );
        gy = linear_backward(&gy, hin, w, true, need).unwrap()[0].take().unwrap();
    }
    let gp2 = gy.reshape(p2.shape()).unwrap();
    add(
        "pool2 backward",
        time(|| drop(black_box(max_pool2d_backward(&g2, &arg2, &gp2)))),
    );
    let ga2 = max_pool2d_backward(&g2, &arg2, &gp2).unwrap();
    let (t, gz2) = relu_backward(&z2, &ga2);
    add("relu2 backward", t);
    add(
        "conv2 backward (dx, dw, db)",
        time(|| drop(black_box(conv2d_backward_parts(&p1, &w2, &gz2, &valid, true, true)))),
    );
    let gp1 = conv2d_backward_parts(&p1, &w2, &gz2, &valid, true, true)
        .unwrap()
        .0
        .unwrap();
    add(
        "pool1 backward",
        time(|| drop(black_box(max_pool2d_backward(&g1, &arg1, &gp1)))),
    );
    let ga1 = max_pool2d_backward(&g1, &arg1, &gp1).unwrap();
    let (t, gz1) = relu_backward(&z1, &ga1);
    add("relu1 backward", t);
    add(
        "conv1 backward (dw, db)",
        time(|| drop(black_box(conv2d_backward_parts(&x, &w1, &gz1, &same, false, true)))),
    );
    let total: f64 = rows.iter().map(|r| r.1).sum();
    println!("LeNet-5 ops, batch {batch}: sum {:.3} ms", total * 1e3);
    for (name, t) in &rows {
        println!("  {name:<28} {:>8.3} ms  {:>5.1}%", t * 1e3, 100.0 * t / total);
    }
}

fn main() {
    step(32);
    step(128);
}
