//! Convolution and GEMM timings at the shapes the tutorials train and the applications run:
//! LeNet-5's two convolutions (batch 32), a VGG block (3×3, 64→64, 56×56, batch 8), MobileNet's
//! depthwise 3×3 (112×112×32 and 56×56×128 stride 2, batch 8; MobileNetV2's padded stride-2
//! depthwise in training, batch 32, with the padding apart or absorbed) and pointwise 1×1, a
//! Conv2DTranspose, and the MLP's 784×64 GEMM (batch 32 and 128).
//!
//! A tiny harness instead of criterion, to keep builds lean: each case runs a warm-up, then
//! enough repetitions for about half a second (at least 5), and prints the median and minimum
//! wall time and the GFLOP/s of the median (2 flops per multiply-add; a backward counts the
//! products it computes). Run with `cargo bench -p rkeras-tensor --bench conv`.
//!
//! With `--json` (or `RKERAS_BENCH_JSON=1`) it prints one JSON object per line instead, for
//! `bench/compare.py`: `{"rayon_threads": n}` first, then `{"name", "median_ms", "min_ms",
//! "gflops", "reps"}` per case. A non-flag argument keeps only the cases whose name contains it;
//! `RKERAS_BENCH_SECONDS` changes the half second each case is timed for.

use std::hint::black_box;
use std::time::{Duration, Instant};

use tensor::ops::conv::{conv2d, conv2d_backward_parts, Conv2dParams};
use tensor::ops::conv_transpose::{conv2d_transpose, Conv2dTransposeParams};
use tensor::ops::depthwise::{depthwise_conv2d, depthwise_conv2d_backward_parts, DepthwiseParams};
use tensor::ops::gemm::{sgemm, GemmThreads, Trans};
use tensor::ops::matmul::{linear, linear_backward, matmul, matmul_backward};
use tensor::ops::pad::{zero_pad2d, zero_pad2d_backward};
use tensor::{Padding, Rng, Tensor};

fn random(rng: &mut Rng, shape: &[usize]) -> Tensor {
    let n = shape.iter().product();
    Tensor::new(shape, (0..n).map(|_| rng.uniform_range(-1.0, 1.0) as f32).collect()).expect("shape and data agree")
}

/// Whether `name` contains the command-line filter (`cargo bench -p rkeras-tensor --bench conv -- lenet`).
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

/// Times `f`, prints one line; skipped unless [`selected`].
fn bench(name: &str, flops: f64, mut f: impl FnMut()) {
    if !selected(name) {
        return;
    }
    f();
    let probe = Instant::now();
    f();
    let once = probe.elapsed().max(Duration::from_micros(1));
    let seconds = std::env::var("RKERAS_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(0.5);
    let reps = ((seconds / once.as_secs_f64()) as usize).clamp(5, 2000);
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    if json_mode() {
        let name = name.replace('\\', "\\\\").replace('"', "\\\"");
        println!(
            r#"{{"name": "{name}", "median_ms": {:.6}, "min_ms": {:.6}, "gflops": {:.3}, "reps": {reps}}}"#,
            median * 1e3,
            times[0] * 1e3,
            flops / median / 1e9
        );
        return;
    }
    println!(
        "{name:<52} median {:>9.3} ms  min {:>9.3} ms  {:>7.1} GFLOP/s  ({reps} reps)",
        median * 1e3,
        times[0] * 1e3,
        flops / median / 1e9
    );
}

fn conv_case(rng: &mut Rng, name: &str, x: &[usize], w: &[usize], p: Conv2dParams, first_layer: bool) {
    let what = if first_layer {
        "backward (dw, db)"
    } else {
        "backward (dx, dw, db)"
    };
    let parts = ["forward", what, "backward dx", "backward dw"];
    if !parts.iter().any(|part| selected(&format!("{name} {part}"))) {
        return; // skip the setup too
    }
    let (x, w) = (random(rng, x), random(rng, w));
    let b = random(rng, &[w.shape()[3]]);
    let y = conv2d(&x, &w, Some(&b), &p).expect("valid conv");
    let macs = (y.len() * w.shape()[0] * w.shape()[1] * w.shape()[2]) as f64;
    let gy = random(rng, y.shape());
    bench(&format!("{name} forward"), 2.0 * macs, || {
        black_box(conv2d(&x, &w, Some(&b), &p).expect("valid conv"));
    });
    let (need_dx, grads) = if first_layer { (false, 1.0) } else { (true, 2.0) };
    bench(&format!("{name} {what}"), grads * 2.0 * macs, || {
        black_box(conv2d_backward_parts(&x, &w, &gy, &p, need_dx, true).expect("valid conv"));
    });
    // Each gradient alone, to see which one a change moved.
    if need_dx {
        bench(&format!("{name} backward dx"), 2.0 * macs, || {
            black_box(conv2d_backward_parts(&x, &w, &gy, &p, true, false).expect("valid conv"));
        });
        bench(&format!("{name} backward dw"), 2.0 * macs, || {
            black_box(conv2d_backward_parts(&x, &w, &gy, &p, false, true).expect("valid conv"));
        });
    }
}

fn depthwise_case(rng: &mut Rng, name: &str, x: &[usize], k: usize, p: DepthwiseParams) {
    if !selected(&format!("{name} forward")) && !selected(&format!("{name} backward (dx, dw, db)")) {
        return; // skip the setup too
    }
    let c = x[3];
    let (x, w, b) = (random(rng, x), random(rng, &[k, k, c, 1]), random(rng, &[c]));
    let y = depthwise_conv2d(&x, &w, Some(&b), &p).expect("valid depthwise");
    let macs = (y.len() * k * k) as f64;
    let gy = random(rng, y.shape());
    bench(&format!("{name} forward"), 2.0 * macs, || {
        black_box(depthwise_conv2d(&x, &w, Some(&b), &p).expect("valid depthwise"));
    });
    bench(&format!("{name} backward (dx, dw, db)"), 4.0 * macs, || {
        black_box(depthwise_conv2d_backward_parts(&x, &w, &gy, &p, true, true).expect("valid depthwise"));
    });
}

/// MobileNetV2's `correct_pad` before a stride-2 depthwise in training, forward and backward:
/// the `ZeroPadding2D` copy, the `valid` depthwise and the crop of its input gradient, against
/// the depthwise reading the unpadded input with the zeros as its own padding (what a model
/// runs when nothing else reads the padded tensor).
fn padded_depthwise_case(rng: &mut Rng, name: &str, x: &[usize]) {
    let (pad, own) = (
        format!("{name}, ZeroPadding2D + valid"),
        format!("{name}, zeros as padding"),
    );
    if !selected(&pad) && !selected(&own) {
        return;
    }
    let c = x[3];
    let (x, w) = (random(rng, x), random(rng, &[3, 3, c, 1]));
    let valid = DepthwiseParams::new((2, 2), Padding::Valid);
    let explicit = DepthwiseParams {
        padding: (Padding::Explicit(0, 1), Padding::Explicit(0, 1)),
        ..valid
    };
    let y = depthwise_conv2d(&x, &w, None, &explicit).expect("valid depthwise");
    let macs = (y.len() * 9) as f64;
    let gy = random(rng, y.shape());
    bench(&pad, 6.0 * macs, || {
        let xp = zero_pad2d(&x, 0, 1, 0, 1).expect("valid pad");
        black_box(depthwise_conv2d(&xp, &w, None, &valid).expect("valid depthwise"));
        let (dx, _, _) = depthwise_conv2d_backward_parts(&xp, &w, &gy, &valid, true, true).expect("valid depthwise");
        black_box(zero_pad2d_backward(&dx.expect("asked for"), 0, 1, 0, 1).expect("valid crop"));
    });
    bench(&own, 6.0 * macs, || {
        black_box(depthwise_conv2d(&x, &w, None, &explicit).expect("valid depthwise"));
        black_box(depthwise_conv2d_backward_parts(&x, &w, &gy, &explicit, true, true).expect("valid depthwise"));
    });
}

fn main() {
    if json_mode() {
        println!(r#"{{"rayon_threads": {}}}"#, rayon::current_num_threads());
    } else {
        println!("rayon threads: {}", rayon::current_num_threads());
    }
    let mut rng = Rng::new(1);
    // LeNet-5 as the seed model f_lenet5: Conv2D(6, 5, same, relu) on 28×28×1 → pool →
    // Conv2D(16, 5, valid, relu) on 14×14×6.
    conv_case(
        &mut rng,
        "lenet conv1 32×28×28×1 → 6, 5×5 same",
        &[32, 28, 28, 1],
        &[5, 5, 1, 6],
        Conv2dParams::new((1, 1), Padding::Same),
        true,
    );
    conv_case(
        &mut rng,
        "lenet conv2 32×14×14×6 → 16, 5×5 valid",
        &[32, 14, 14, 6],
        &[5, 5, 6, 16],
        Conv2dParams::default(),
        false,
    );
    // The Keras CIFAR-10 example CNN at batch 32 (bench/train_compare.py's cifar_cnn).
    conv_case(
        &mut rng,
        "cifar conv1 32×32×32×3 → 32, 3×3 same",
        &[32, 32, 32, 3],
        &[3, 3, 3, 32],
        Conv2dParams::new((1, 1), Padding::Same),
        true,
    );
    conv_case(
        &mut rng,
        "cifar conv2 32×32×32×32 → 32, 3×3 valid",
        &[32, 32, 32, 32],
        &[3, 3, 32, 32],
        Conv2dParams::default(),
        false,
    );
    conv_case(
        &mut rng,
        "cifar conv3 32×15×15×32 → 64, 3×3 same",
        &[32, 15, 15, 32],
        &[3, 3, 32, 64],
        Conv2dParams::new((1, 1), Padding::Same),
        false,
    );
    conv_case(
        &mut rng,
        "cifar conv4 32×15×15×64 → 64, 3×3 valid",
        &[32, 15, 15, 64],
        &[3, 3, 64, 64],
        Conv2dParams::default(),
        false,
    );
    conv_case(
        &mut rng,
        "vgg block 8×56×56×64 → 64, 3×3 same",
        &[8, 56, 56, 64],
        &[3, 3, 64, 64],
        Conv2dParams::new((1, 1), Padding::Same),
        false,
    );
    conv_case(
        &mut rng,
        "pointwise 8×56×56×128 → 128, 1×1",
        &[8, 56, 56, 128],
        &[1, 1, 128, 128],
        Conv2dParams::default(),
        false,
    );
    depthwise_case(
        &mut rng,
        "mobilenet dw 8×112×112×32, 3×3 s1 same",
        &[8, 112, 112, 32],
        3,
        DepthwiseParams::new((1, 1), Padding::Same),
    );
    depthwise_case(
        &mut rng,
        "mobilenet dw 8×56×56×128, 3×3 s2 same",
        &[8, 56, 56, 128],
        3,
        DepthwiseParams::new((2, 2), Padding::Same),
    );
    padded_depthwise_case(&mut rng, "mobilenetv2 train dw 32×48×48×48, 3×3 s2", &[32, 48, 48, 48]);

    let (x, w) = (random(&mut rng, &[8, 28, 28, 64]), random(&mut rng, &[3, 3, 32, 64]));
    let p = Conv2dTransposeParams::new((2, 2), Padding::Same);
    let macs = (8 * 28 * 28 * 64 * 9 * 32) as f64;
    bench(
        "conv2d_transpose 8×28×28×64 → 32, 3×3 s2 same",
        2.0 * macs,
        || {
            black_box(conv2d_transpose(&x, &w, None, &p).expect("valid transpose"));
        },
    );

    for batch in [32, 128] {
        let (a, b) = (random(&mut rng, &[batch, 784]), random(&mut rng, &[784, 64]));
        let mut c = vec![0.0f32; batch * 64];
        let flops = 2.0 * (batch * 784 * 64) as f64;
        bench(&format!("sgemm {batch}×784 · 784×64 (1 thread)"), flops, || {
            sgemm(
                batch,
                64,
                784,
                a.data(),
                Trans::No,
                b.data(),
                Trans::No,
                &mut c,
                0.0,
                1.0,
                GemmThreads::Single,
            )
            .expect("sizes agree");
            black_box(&c);
        });
        // The backward's dW = xᵀ·dy for the same layer.
        let (gy, mut dw) = (random(&mut rng, &[batch, 64]), vec![0.0f32; 784 * 64]);
        bench(
            &format!("sgemm dW 784×{batch} · {batch}×64 (1 thread)"),
            flops,
            || {
                sgemm(
                    784,
                    64,
                    batch,
                    a.data(),
                    Trans::Yes,
                    gy.data(),
                    Trans::No,
                    &mut dw,
                    0.0,
                    1.0,
                    GemmThreads::Single,
                )
                .expect("sizes agree");
                black_box(&dw);
            },
        );
        // The engine op (its own threading) at the same shape, and both of its gradients.
        let name = format!("matmul {batch}×784 · 784×64");
        bench(&format!("{name} forward"), flops, || {
            black_box(matmul(&a, &b).expect("sizes agree"));
        });
        bench(&format!("{name} backward (da, db)"), 2.0 * flops, || {
            black_box(matmul_backward(&gy, &a, Trans::No, &b, Trans::No, [true, true]).expect("sizes agree"));
        });
    }
    // The CIFAR-10 example CNN's Dense(512) on its 6×6×64 features, batch 32: the op `Dense`
    // records (bias fused), forward and its three gradients.
    let name = "cifar dense 32×2304 · 2304×512";
    if selected(&format!("{name} forward"))
        || selected(&format!("{name} backward (dx, dw, db)"))
        || selected(&format!("{name} backward dx"))
    {
        let (x, w, b) = (
            random(&mut rng, &[32, 2304]),
            random(&mut rng, &[2304, 512]),
            random(&mut rng, &[512]),
        );
        let gy = random(&mut rng, &[32, 512]);
        let flops = 2.0 * 32.0 * 2304.0 * 512.0;
        bench(&format!("{name} forward"), flops, || {
            black_box(linear(&x, &w, Some(&b)).expect("sizes agree"));
        });
        bench(&format!("{name} backward (dx, dw, db)"), 2.0 * flops, || {
            black_box(linear_backward(&gy, &x, &w, true, [true, true, true]).expect("sizes agree"));
        });
        bench(&format!("{name} backward dx"), flops, || {
            black_box(linear_backward(&gy, &x, &w, true, [true, false, false]).expect("sizes agree"));
        });
    }
}
