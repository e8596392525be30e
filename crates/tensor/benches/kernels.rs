//! The inference kernels (`tensor::kernels`) at the applications' shapes, against the tape
//! ops they replace in inference (`ops::conv::conv2d`, whichever path it takes for the shape;
//! `ops::depthwise`), and as a share of this machine's measured FMA peak.
//!
//! Cases: the issue's 3×3 64→64 56×56 batch 8 (`same`), a 1×1 128→128 56×56 batch 8, ResNet50's
//! 3×3 512→512 7×7 and 1×1 2048→512 7×7 at batch 1, MobileNetV2's 1×1 expand (16→96, 112×112)
//! and its depthwise 3×3 (112×112×96 stride 2, 56×56×144 stride 1) at batch 1, the first conv
//! (224×224×3 → 32, 3×3 stride 2), VGG16's `fc1` (25088 → 4096) at batch 1 and 8, and
//! MobileNetV2's 7×7 1×1 layers at batch 1 with their weights read from L3 on every call. First,
//! the microkernel alone: one register tile (6 × 64 and 12 × 32 on AVX-512) with its operands
//! in L1, on one thread, against the one-worker peak, with B read by plain and by masked
//! vector loads.
//!
//! The same tiny harness as the `conv` bench: warm-up, repetitions for about
//! `RKERAS_BENCH_SECONDS` (0.5 s), median and minimum, GFLOP/s of the median, and % of the
//! peak measured first on the same number of workers. `--json` prints one JSON object per line;
//! a non-flag argument keeps only the cases whose name contains it.
//! Run with `cargo bench -p rkeras-tensor --bench kernels` (`RAYON_NUM_THREADS=2` for two
//! workers; `RKERAS_ISA=avx2|portable` for the fallbacks).

use std::hint::black_box;
use std::time::{Duration, Instant};

use tensor::kernels::conv::{conv2d as igemm, ConvArgs, PackedWeights, Weights};
use tensor::kernels::depthwise::{depthwise, DepthwiseArgs};
use tensor::kernels::gemm::{run_tile, tile_shape, Tile, MAX_MR};
use tensor::kernels::peak::fma_peak_gflops;
use tensor::kernels::winograd::{self, Variant, WinogradWeights};
use tensor::kernels::{isa, Epilogue};
use tensor::ops::conv::{conv2d, conv2d_geometry, Conv2dParams};
use tensor::ops::depthwise::{depthwise_conv2d, depthwise_geometry, DepthwiseParams};
use tensor::{Padding, Rng, Tensor};

fn random(rng: &mut Rng, shape: &[usize]) -> Tensor {
    let n = shape.iter().product();
    Tensor::new(shape, (0..n).map(|_| rng.uniform_range(-1.0, 1.0) as f32).collect()).expect("shape and data agree")
}

fn filter() -> String {
    std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_default()
}

fn json_mode() -> bool {
    std::env::args().any(|a| a == "--json") || std::env::var("RKERAS_BENCH_JSON").is_ok_and(|v| v == "1")
}

fn bench(name: &str, flops: f64, peak: f64, mut f: impl FnMut()) {
    if !name.contains(&filter()) {
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
    let gf = flops / median / 1e9;
    if json_mode() {
        println!(
            r#"{{"name": "{name}", "median_ms": {:.6}, "min_ms": {:.6}, "gflops": {gf:.3}, "peak_pct": {:.1}, "reps": {reps}}}"#,
            median * 1e3,
            times[0] * 1e3,
            100.0 * gf / peak
        );
    } else {
        println!(
            "{name:<58} median {:>9.3} ms  min {:>9.3} ms  {gf:>7.1} GFLOP/s {:>5.1}% of peak ({reps} reps)",
            median * 1e3,
            times[0] * 1e3,
            100.0 * gf / peak
        );
    }
}

fn conv_case(rng: &mut Rng, peak: f64, label: &str, x: &[usize], k: &[usize], strides: usize, padding: Padding) {
    let xt = random(rng, x);
    let wt = random(rng, k);
    let b = random(rng, &[k[3]]);
    let p = Conv2dParams::new((strides, strides), padding);
    let g = conv2d_geometry("bench", x, k, &p).expect("bench shapes are valid");
    let flops = 2.0 * (g.n * g.oh() * g.ow() * g.cout * k[0] * k[1] * k[2]) as f64;
    let isa = isa();
    let packed = PackedWeights::pack(isa, wt.data(), k[0] * k[1] * k[2], k[3], 1).expect("packs");
    let mut y = vec![0.0f32; g.n * g.oh() * g.ow() * g.cout];
    let mut run = |weights: Weights| {
        igemm(
            isa,
            ConvArgs {
                geometry: &g,
                x: xt.data(),
                weights,
                epilogue: Epilogue {
                    bias: Some(b.data()),
                    ..Epilogue::linear()
                },
                residual: None,
                y: &mut y,
                y_stride: g.cout,
                prologue: None,
            },
        )
        .expect("runs");
        black_box(&y);
    };
    bench(&format!("{label} implicit GEMM ({})", isa.name()), flops, peak, || {
        run(Weights::Packed(&packed))
    });
    if winograd::applies(&g) {
        for &variant in Variant::for_kernel(&g) {
            let name = match variant {
                Variant::F4 => "F(4x4,3x3)",
                Variant::F2 => "F(2x2,3x3)",
                Variant::Row7 => "F(1x2,1x7)",
                Variant::Col7 => "F(2x1,7x1)",
                Variant::Row3 => "F(1x4,1x3)",
                Variant::F25 => "F(2x2,5x5)",
                Variant::Col3 => "F(4x1,3x1)",
            };
            let w = WinogradWeights::pack(isa, wt.data(), k[2], k[3], variant).expect("packs");
            bench(
                &format!("{label} Winograd {name} ({})", isa.name()),
                flops,
                peak,
                || run(Weights::Winograd(&w)),
            );
        }
    }
    bench(&format!("{label} tape op (ops::conv::conv2d)"), flops, peak, || {
        black_box(conv2d(&xt, &wt, Some(&b), &p).expect("runs"));
    });
}

/// One register tile of the widest shape for `cout` columns, A and B in L1 (`kc` = 128), run
/// 200 times per repetition on this thread; % of the one-worker peak `one`, counting the
/// `cout` valid columns' products only (24 of a 32-wide panel: MobileNetV2's projections).
/// Also at `kc` = 24 (MobileNetV2's 24 → 144 expansions), where a tile's fixed cost shows:
/// once as a later depth block (adding to C), once as the last (bias and ReLU6 epilogue).
fn tile_case(one: f64, cout: usize, full_b: bool) {
    tile_case_k(one, cout, full_b, 128, false);
    tile_case_k(one, cout, full_b, 24, false);
    tile_case_k(one, cout, full_b, 24, true);
}

fn tile_case_k(one: f64, cout: usize, full_b: bool, kc: usize, epi: bool) {
    let (mr, nr) = tile_shape(isa(), cout);
    let nc = cout.min(nr);
    let a: Vec<f32> = (0..mr * kc).map(|i| (i % 7) as f32 * 0.01).collect();
    let rows: Vec<*const f32> = (0..mr).map(|r| a[r * kc..].as_ptr()).collect();
    let b = PackedWeights::pack(isa(), &vec![0.01; kc * nr], kc, nr, 1).expect("packs");
    let b = b.data();
    let mut c = vec![0.0f32; mr * nr];
    let bias = vec![0.5f32; nr];
    let mut cp = [std::ptr::null_mut(); MAX_MR];
    for (r, p) in cp.iter_mut().enumerate().take(mr) {
        *p = c[r * nr..].as_mut_ptr();
    }
    let t = Tile {
        taps: 1,
        kc,
        mr,
        nc,
        nr,
        a: rows.as_ptr(),
        b: b.as_ptr(),
        ldb: nr,
        full_b,
        c: cp,
        accumulate: !epi,
        last: epi,
        bias: if epi { bias.as_ptr() } else { std::ptr::null() },
        res: [std::ptr::null(); MAX_MR],
        has_res: false,
        lo: if epi { 0.0 } else { f32::MIN },
        hi: if epi { 6.0 } else { f32::MAX },
        slope: 1.0,
        has_slope: false,
        stream: false,
    };
    let name = format!(
        "tile {mr}x{nr} ({nc} valid) kc {kc}{} in L1, 1 thread, B by {} loads",
        if epi { " + epilogue" } else { "" },
        if full_b { "plain" } else { "masked" }
    );
    let calls = 200;
    bench(&name, (2 * mr * nc * kc * calls) as f64, one, || {
        for _ in 0..calls {
            // SAFETY: `rows` holds `mr` pointers to `kc` values, B `kc` rows of `nr`, C `mr`
            // rows of `nr`.
            unsafe { run_tile(isa(), black_box(&t)) };
        }
    });
    black_box(&c);
}

/// A 1×1 convolution at batch 1 whose weights come from L3 on every call, as in a network
/// (MobileNetV2's 7×7 layers: its other layers' weights pass through the caches between two
/// calls of one layer): each call takes the next of as many copies of the packed weights as
/// exceed 6 MiB, inside the kernels' standing team (as a plan runs them, without a pool
/// wake-up per call).
fn cold_case(rng: &mut Rng, peak: f64, hw: usize, cin: usize, cout: usize) {
    let name = format!("conv 1x1 {cin}->{cout} {hw}x{hw} b1, weights from L3");
    if !name.contains(&filter()) {
        return;
    }
    let isa = isa();
    let x = random(rng, &[1, hw, hw, cin]);
    let copies = (6 << 20) / (cin * cout * 4) + 2;
    let ws: Vec<PackedWeights> = (0..copies)
        .map(|_| PackedWeights::pack(isa, random(rng, &[cin, cout]).data(), cin, cout, 1).expect("packs"))
        .collect();
    let b = random(rng, &[cout]);
    let p = Conv2dParams::new((1, 1), Padding::Valid);
    let g = conv2d_geometry("bench", x.shape(), &[1, 1, cin, cout], &p).expect("bench shapes are valid");
    let mut y = vec![0.0f32; hw * hw * cout];
    let mut next = 0;
    let flops = 2.0 * (hw * hw * cin * cout) as f64;
    tensor::kernels::team::scope_on_caller(|| {
        bench(&name, flops, peak, || {
            next = (next + 1) % copies;
            igemm(
                isa,
                ConvArgs {
                    geometry: &g,
                    x: x.data(),
                    weights: Weights::Packed(&ws[next]),
                    epilogue: Epilogue {
                        bias: Some(b.data()),
                        lo: 0.0,
                        hi: 6.0,
                        ..Epilogue::linear()
                    },
                    residual: None,
                    y: &mut y,
                    y_stride: cout,
                    prologue: None,
                },
            )
            .expect("runs");
            black_box(&y);
        })
    });
}

fn main() {
    let threads = rayon::current_num_threads();
    let peak = fma_peak_gflops(isa(), threads, 0.5);
    if json_mode() {
        println!(
            r#"{{"rayon_threads": {threads}, "isa": "{}", "peak_gflops": {peak:.1}}}"#,
            isa().name()
        );
    } else {
        println!(
            "{} workers, {}: measured FMA peak {peak:.1} GFLOP/s",
            threads,
            isa().name()
        );
    }
    let one = fma_peak_gflops(isa(), 1, 0.25);
    for cout in [64, 32, 24, 16] {
        for full_b in [true, false] {
            tile_case(one, cout, full_b);
        }
    }
    let mut rng = Rng::new(1);
    let r = &mut rng;
    for (cin, cout) in [(160, 960), (960, 160), (576, 160), (960, 320), (320, 1280)] {
        cold_case(r, peak, 7, cin, cout);
    }
    conv_case(
        r,
        peak,
        "conv 3x3 64->64 56x56 b8 same",
        &[8, 56, 56, 64],
        &[3, 3, 64, 64],
        1,
        Padding::Same,
    );
    conv_case(
        r,
        peak,
        "conv 1x1 128->128 56x56 b8",
        &[8, 56, 56, 128],
        &[1, 1, 128, 128],
        1,
        Padding::Valid,
    );
    for (label, x, c) in [
        ("conv 1x1 128->128 56x56 b1", [1, 56, 56, 128], 128),
        ("conv 1x1 resnet50 stage2 256->64 56x56 b8", [8, 56, 56, 256], 64),
        ("conv 1x1 resnet50 stage2 64->256 56x56 b8", [8, 56, 56, 64], 256),
        ("conv 1x1 resnet50 stage4 1024->256 14x14 b8", [8, 14, 14, 1024], 256),
        ("conv 1x1 mobilenetv2 32->16 112x112 b1", [1, 112, 112, 32], 16),
        ("conv 1x1 mobilenetv2 16->96 112x112 b1", [1, 112, 112, 16], 96),
        ("conv 1x1 mobilenetv2 24->144 56x56 b1", [1, 56, 56, 24], 144),
        ("conv 1x1 mobilenetv2 144->24 56x56 b1", [1, 56, 56, 144], 24),
        ("conv 1x1 mobilenetv2 576->96 14x14 b1", [1, 14, 14, 576], 96),
        ("conv 1x1 mobilenetv2 96->576 14x14 b1", [1, 14, 14, 96], 576),
        ("conv 1x1 mobilenetv2 960->160 7x7 b1", [1, 7, 7, 960], 160),
        ("conv 1x1 mobilenetv2 160->960 7x7 b1", [1, 7, 7, 160], 960),
        ("conv 1x1 resnet50 stage5 2048->512 7x7 b1", [1, 7, 7, 2048], 512),
        ("conv 1x1 mobilenetv2 576->96 14x14 b8", [8, 14, 14, 576], 96),
        ("conv 1x1 mobilenetv2 960->320 7x7 b8", [8, 7, 7, 960], 320),
        ("conv 1x1 mobilenetv2 320->1280 7x7 b8", [8, 7, 7, 320], 1280),
    ] {
        conv_case(r, peak, label, &x, &[1, 1, x[3], c], 1, Padding::Valid);
    }
    for (label, x, c) in [
        ("conv 3x3 vgg16 block1 64->64 224x224 b1 same", [1, 224, 224, 64], 64),
        ("conv 3x3 vgg16 block3 256->256 56x56 b1 same", [1, 56, 56, 256], 256),
        ("conv 3x3 vgg16 block4 512->512 28x28 b1 same", [1, 28, 28, 512], 512),
        ("conv 3x3 vgg16 block5 512->512 14x14 b8 same", [8, 14, 14, 512], 512),
        ("conv 3x3 resnet50 stage4 256->256 14x14 b8 same", [8, 14, 14, 256], 256),
        ("conv 3x3 resnet50 stage2 64->64 56x56 b1 same", [1, 56, 56, 64], 64),
        ("conv 3x3 resnet50 stage4 256->256 14x14 b1 same", [1, 14, 14, 256], 256),
        (
            "conv 3x3 densenet121 block1 128->32 56x56 b1 same",
            [1, 56, 56, 128],
            32,
        ),
        (
            "conv 3x3 densenet121 block3 128->32 14x14 b1 same",
            [1, 14, 14, 128],
            32,
        ),
        ("conv 3x3 densenet121 block4 128->32 7x7 b1 same", [1, 7, 7, 128], 32),
        ("conv 3x3 inceptionv3 mixed 64->96 35x35 b1 same", [1, 35, 35, 64], 96),
        ("conv 3x3 inceptionv3 mixed 96->96 35x35 b1 same", [1, 35, 35, 96], 96),
        (
            "conv 3x3 inceptionv3 stem 32->64 147x147 b1 same",
            [1, 147, 147, 32],
            64,
        ),
        ("conv 3x3 inceptionv3 mixed 448->384 8x8 b1 same", [1, 8, 8, 448], 384),
        ("conv 3x3 vgg16 block5 512->512 14x14 b1 same", [1, 14, 14, 512], 512),
        ("conv 3x3 resnet50 stage5 512->512 7x7 b8 same", [8, 7, 7, 512], 512),
    ] {
        conv_case(r, peak, label, &x, &[3, 3, x[3], c], 1, Padding::Same);
    }
    for (label, x, c) in [
        ("conv 3x3 inceptionv3 stem 80->192 73x73 b8 valid", [8, 73, 73, 80], 192),
        ("conv 3x3 inceptionv3 stem 80->192 73x73 b1 valid", [1, 73, 73, 80], 192),
    ] {
        conv_case(r, peak, label, &x, &[3, 3, x[3], c], 1, Padding::Valid);
    }
    // InceptionV3's 5×5 branches (48 → 64 at 35×35).
    for (batch, hw, cin, cout) in [(1, 35, 48, 64), (8, 35, 48, 64), (1, 17, 48, 64), (1, 7, 48, 64)] {
        let label = format!("conv 5x5 inceptionv3 {cin}->{cout} {hw}x{hw} b{batch} same");
        conv_case(
            r,
            peak,
            &label,
            &[batch, hw, hw, cin],
            &[5, 5, cin, cout],
            1,
            Padding::Same,
        );
    }
    // InceptionV3's 1×3 and 3×1 at 8×8 (F(4, 3) along the line), and InceptionResNetV2's.
    for (kernel, batch, cin, cout) in [
        ((1, 3), 8, 384, 384),
        ((3, 1), 8, 384, 384),
        ((1, 3), 1, 384, 384),
        ((3, 1), 1, 384, 384),
        ((1, 3), 8, 192, 224),
        ((3, 1), 8, 224, 256),
        ((1, 3), 1, 192, 224),
        ((3, 1), 1, 224, 256),
    ] {
        let (kh, kw) = kernel;
        let label = format!("conv {kh}x{kw} inception {cin}->{cout} 8x8 b{batch} same");
        conv_case(
            r,
            peak,
            &label,
            &[batch, 8, 8, cin],
            &[kh, kw, cin, cout],
            1,
            Padding::Same,
        );
    }
    // InceptionV3's factorized 7×7 (a quarter of its time at batch 1).
    for (kernel, batch, cin, cout) in [
        ((1, 7), 1, 192, 192),
        ((7, 1), 1, 192, 192),
        ((1, 7), 1, 160, 160),
        ((7, 1), 1, 128, 128),
        ((1, 7), 8, 192, 192),
        ((7, 1), 8, 160, 160),
    ] {
        let (kh, kw) = kernel;
        let label = format!("conv {kh}x{kw} inceptionv3 {cin}->{cout} 17x17 b{batch} same");
        conv_case(
            r,
            peak,
            &label,
            &[batch, 17, 17, cin],
            &[kh, kw, cin, cout],
            1,
            Padding::Same,
        );
    }
    conv_case(
        r,
        peak,
        "conv 3x3 512->512 7x7 b1 same",
        &[1, 7, 7, 512],
        &[3, 3, 512, 512],
        1,
        Padding::Same,
    );
    conv_case(
        r,
        peak,
        "conv 1x1 2048->512 7x7 b1",
        &[1, 7, 7, 2048],
        &[1, 1, 2048, 512],
        1,
        Padding::Valid,
    );
    conv_case(
        r,
        peak,
        "conv 1x1 16->96 112x112 b1",
        &[1, 112, 112, 16],
        &[1, 1, 16, 96],
        1,
        Padding::Valid,
    );
    conv_case(
        r,
        peak,
        "conv 3x3 3->32 224x224 b1 s2",
        &[1, 224, 224, 3],
        &[3, 3, 3, 32],
        2,
        Padding::Same,
    );
    conv_case(
        r,
        peak,
        "conv 3x3 3->32 299x299 b1 s2 valid",
        &[1, 299, 299, 3],
        &[3, 3, 3, 32],
        2,
        Padding::Valid,
    );
    conv_case(
        r,
        peak,
        "conv 3x3 32->32 149x149 b1 valid",
        &[1, 149, 149, 32],
        &[3, 3, 32, 32],
        1,
        Padding::Valid,
    );
    // InceptionResNetV2's 35×35 blocks (32 → 32, 32 → 48, 48 → 64).
    for (cin, cout, batch) in [(32, 32, 1), (32, 48, 1), (48, 64, 1), (32, 32, 8)] {
        let label = format!("conv 3x3 inceptionresnetv2 block35 {cin}->{cout} 35x35 b{batch} same");
        conv_case(
            r,
            peak,
            &label,
            &[batch, 35, 35, cin],
            &[3, 3, cin, cout],
            1,
            Padding::Same,
        );
    }
    conv_case(
        r,
        peak,
        "conv 7x7 3->64 224x224 b1 s2",
        &[1, 224, 224, 3],
        &[7, 7, 3, 64],
        2,
        Padding::Same,
    );
    // MobileNetV2's stem (3 channels: one pointer per kernel row).
    for batch in [1, 8] {
        let label = format!("conv 3x3 mobilenetv2 stem 3->32 224x224 b{batch} s2");
        conv_case(r, peak, &label, &[batch, 224, 224, 3], &[3, 3, 3, 32], 2, Padding::Same);
    }
    for (label, x, s) in [
        ("depthwise 3x3 112x112x96 b1 s2", [1, 112, 112, 96], 2),
        ("depthwise 3x3 56x56x144 b1 s1", [1, 56, 56, 144], 1),
        ("depthwise 3x3 112x112x32 b8 s1", [8, 112, 112, 32], 1),
    ] {
        let xt = random(r, &x);
        let wt = random(r, &[3, 3, x[3], 1]);
        let p = DepthwiseParams::new((s, s), Padding::Same);
        let g = depthwise_geometry("bench", &x, wt.shape(), &p).expect("valid");
        let flops = 2.0 * (g.n * g.oh() * g.ow() * g.cout * 9) as f64;
        let mut y = vec![0.0f32; g.n * g.oh() * g.ow() * g.cout];
        bench(&format!("{label} kernel ({})", isa().name()), flops, peak, || {
            depthwise(
                isa(),
                DepthwiseArgs {
                    geometry: &g,
                    x: xt.data(),
                    w: wt.data(),
                    epilogue: Epilogue::linear(),
                    y: &mut y,
                    y_stride: g.cout,
                },
            )
            .expect("runs");
            black_box(&y);
        });
        bench(&format!("{label} tape op"), flops, peak, || {
            black_box(depthwise_conv2d(&xt, &wt, None, &p).expect("runs"));
        });
    }
    // Dense products: MobileNetV2's classifier (5 MB of weights) prepacked or in their stored
    // order, and VGG16's fc1 (411 MB, too large to prepack) in place.
    for (k, n, prepack) in [(1280, 1000, true), (25088, 4096, false)] {
        for batch in [1, 8] {
            let label = format!("dense {k}->{n} b{batch}");
            if !label.contains(&filter()) {
                continue;
            }
            let x = random(r, &[batch, 1, 1, k]);
            let w = random(r, &[1, 1, k, n]);
            let g = conv2d_geometry("bench", x.shape(), w.shape(), &Conv2dParams::default()).expect("valid");
            let packed = prepack.then(|| PackedWeights::pack(isa(), w.data(), k, n, 1).expect("packs"));
            let mut y = vec![0.0f32; batch * n];
            let flops = 2.0 * (batch * k * n) as f64;
            let mut ways = vec![("in place", Weights::Raw(w.data()))];
            if let Some(p) = &packed {
                ways.insert(0, ("packed", Weights::Packed(p)));
            }
            for (how, weights) in ways {
                bench(&format!("{label} {how} ({})", isa().name()), flops, peak, || {
                    igemm(
                        isa(),
                        ConvArgs {
                            geometry: &g,
                            x: x.data(),
                            weights,
                            epilogue: Epilogue::linear(),
                            residual: None,
                            y: &mut y,
                            y_stride: n,
                            prologue: None,
                        },
                    )
                    .expect("runs");
                    black_box(&y);
                });
            }
        }
    }
}
