//! The implicit-GEMM convolution against its naive twin and the engine's reference
//! convolution (`ops::conv::conv2d_naive`), over random shapes, strides, paddings (TF's uneven
//! `same` split included), dilations, groups, channel counts off the vector width, batch 1,
//! packed and in-place weights, epilogues, residuals and strided outputs — on every
//! instruction set this CPU runs.

use super::*;
use crate::kernels::act::ActSpec;
use crate::ops::activation::Activation;
use crate::ops::conv::{conv2d_geometry, conv2d_naive, Conv2dParams};
use crate::ops::test_util::{assert_close, random, random_padding};
use crate::rng::Rng;
use crate::tensor::Tensor;
use crate::Padding;

struct Case {
    x: Tensor,
    w: Tensor,
    bias: Tensor,
    p: Conv2dParams,
}

fn random_case(rng: &mut Rng) -> Case {
    let groups = [1, 1, 1, 2, 3][rng.below(5)];
    let wide_in = rng.below(3) == 0;
    let cin = groups * (1 + rng.below(if wide_in { 40 } else { 6 }));
    let wide_out = rng.below(2) == 0;
    let cout = groups * (1 + rng.below(if wide_out { 45 } else { 7 }));
    let (kh, kw) = (1 + rng.below(4), 1 + rng.below(4));
    let n = 1 + rng.below(3);
    let (h, w) = (kh + rng.below(9), kw + rng.below(9));
    let p = Conv2dParams {
        strides: (1 + rng.below(3), 1 + rng.below(3)),
        padding: (random_padding(rng, 3), random_padding(rng, 3)),
        dilation: if rng.below(4) == 0 {
            (2, 1 + rng.below(2))
        } else {
            (1, 1)
        },
        groups,
    };
    Case {
        x: random(rng, &[n, h + p.dilation.0 * kh, w + p.dilation.1 * kw, cin]),
        w: random(rng, &[kh, kw, cin / groups, cout]),
        bias: random(rng, &[cout]),
        p,
    }
}

#[test]
fn implicit_gemm_matches_the_naive_convolution() {
    let mut rng = Rng::new(7);
    let acts = [
        ActSpec::LINEAR,
        ActSpec::from_activation(Activation::Relu).unwrap(),
        ActSpec::relu_general(0.0, Some(6.0), 0.0).unwrap(),
        ActSpec::relu_general(0.3, None, 0.0).unwrap(),
        ActSpec::from_activation(Activation::Sigmoid).unwrap(),
    ];
    for case_no in 0..120 {
        let c = random_case(&mut rng);
        let g = conv2d_geometry("test", c.x.shape(), c.w.shape(), &c.p).unwrap();
        let want = conv2d_naive(&c.x, &c.w, Some(&c.bias), &c.p).unwrap();
        let m = g.n * g.oh() * g.ow();
        let act = acts[case_no % acts.len()];
        let with_res = case_no % 3 == 0;
        let res: Vec<f32> = (0..m * g.cout).map(|i| ((i % 7) as f32 - 3.0) * 0.1).collect();
        let expect: Vec<f32> = want
            .data()
            .iter()
            .enumerate()
            .map(|(i, &v)| act.apply(if with_res { v + res[i] } else { v }))
            .collect();
        let stride = g.cout + case_no % 4;
        for isa in Isa::available() {
            let depth = g.rows.kernel * g.cols.kernel * g.cin_g();
            let packed = PackedWeights::pack(isa, c.w.data(), depth, g.cout, g.groups).unwrap();
            let weights = [Weights::Packed(&packed), Weights::Raw(c.w.data())];
            for (wi, weights) in weights.into_iter().enumerate() {
                let mut y = vec![f32::NAN; (m - 1) * stride + g.cout];
                conv2d(
                    isa,
                    ConvArgs {
                        geometry: &g,
                        x: c.x.data(),
                        weights,
                        epilogue: act.with_bias(Some(c.bias.data())),
                        residual: with_res.then_some((&res[..], g.cout)),
                        y: &mut y,
                        y_stride: stride,
                        prologue: None,
                    },
                )
                .unwrap();
                let got: Vec<f32> = (0..m)
                    .flat_map(|p| y[p * stride..p * stride + g.cout].to_vec())
                    .collect();
                let what = format!(
                    "case {case_no} {isa:?} weights {wi} {:?} x {:?} w {:?}",
                    c.p,
                    c.x.shape(),
                    c.w.shape()
                );
                assert_close(&got, &expect, &what);
                // The naive twin gives the same numbers.
                let mut yr = vec![0.0; y.len()];
                conv2d_reference(ConvArgs {
                    geometry: &g,
                    x: c.x.data(),
                    weights,
                    epilogue: act.with_bias(Some(c.bias.data())),
                    residual: with_res.then_some((&res[..], g.cout)),
                    y: &mut yr,
                    y_stride: stride,
                    prologue: None,
                })
                .unwrap();
                let gotr: Vec<f32> = (0..m)
                    .flat_map(|p| yr[p * stride..p * stride + g.cout].to_vec())
                    .collect();
                assert_close(&gotr, &expect, &format!("reference, {what}"));
            }
        }
    }
}

#[test]
fn deep_products_cross_depth_blocks() {
    // Taps deeper than `SUM_CHUNK` (128) channels, summed in accumulating chunks with the
    // epilogue on the last only: 130 (chunks of 128 and 2), 2100 (17 chunks a tap, past `KC`
    // too), 600 (5 a tap, 64-wide panels on AVX-512).
    for (case, (cin, cout)) in [(130, 37), (2100, 19), (600, 70)].into_iter().enumerate() {
        let mut rng = Rng::new(3 + case as u64);
        let x = random(&mut rng, &[1, 4, 3, cin]);
        let w = random(&mut rng, &[3, 3, cin, cout]);
        let b = random(&mut rng, &[cout]);
        let p = Conv2dParams::new((1, 1), crate::Padding::Same);
        let g = conv2d_geometry("test", x.shape(), w.shape(), &p).unwrap();
        let want = conv2d_naive(&x, &w, Some(&b), &p).unwrap();
        let relu = ActSpec::from_activation(Activation::Relu).unwrap();
        let expect: Vec<f32> = want.data().iter().map(|&v| relu.apply(v)).collect();
        for isa in Isa::available() {
            let packed = PackedWeights::pack(isa, w.data(), 3 * 3 * cin, cout, 1).unwrap();
            let mut y = vec![0.0; want.len()];
            conv2d(
                isa,
                ConvArgs {
                    geometry: &g,
                    x: x.data(),
                    weights: Weights::Packed(&packed),
                    epilogue: relu.with_bias(Some(b.data())),
                    residual: None,
                    y: &mut y,
                    y_stride: cout,
                    prologue: None,
                },
            )
            .unwrap();
            assert_close(&y, &expect, &format!("{cin} -> {cout}, {isa:?}"));
        }
    }
}

/// [`conv2d`] on packed weights, without a prologue.
#[allow(clippy::too_many_arguments)]
fn packed_conv(
    isa: Isa,
    g: &ConvGeometry,
    x: &Tensor,
    packed: &PackedWeights,
    epilogue: Epilogue,
    residual: Option<(&[f32], usize)>,
    y: &mut [f32],
    y_stride: usize,
) -> Result<()> {
    conv2d(
        isa,
        ConvArgs {
            geometry: g,
            x: x.data(),
            weights: Weights::Packed(packed),
            epilogue,
            residual,
            y,
            y_stride,
            prologue: None,
        },
    )
}

#[test]
fn weights_beyond_l2_run_panel_by_panel() {
    // 3·3·232 × 130 weights (1.09 MiB) and 150 output rows in several row blocks: the tasks
    // take one panel each (the last one partial), row blocks fastest, on two workers.
    let mut rng = Rng::new(5);
    let x = random(&mut rng, &[1, 15, 10, 232]);
    let w = random(&mut rng, &[3, 3, 232, 130]);
    let p = Conv2dParams::new((1, 1), crate::Padding::Same);
    let g = conv2d_geometry("test", x.shape(), w.shape(), &p).unwrap();
    let want = conv2d_naive(&x, &w, None, &p).unwrap();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    for isa in Isa::available() {
        let packed = PackedWeights::pack(isa, w.data(), 3 * 3 * 232, 130, 1).unwrap();
        let mut y = vec![0.0; want.len()];
        pool.install(|| packed_conv(isa, &g, &x, &packed, Epilogue::linear(), None, &mut y, 130))
            .unwrap();
        assert_close(&y, want.data(), &format!("{isa:?}"));
    }
}

#[test]
fn uneven_small_layers_split_into_equal_tasks() {
    // MobileNetV2's 576 → 96 at 14×14 (three 32-wide panels on AVX-512) and 960 → 160 at 7×7
    // (five): every candidate's tasks are equal, at least two a worker.
    for (m, depth, panels, threads) in [(196, 576, 3, 2), (49, 960, 5, 2), (49, 160, 15, 2), (196, 576, 3, 3)] {
        let w = Work {
            m,
            mr_max: 12,
            panels,
            nr: 32,
            depth,
            groups: 1,
        };
        let (blocks, chunk) = balanced_split(w, threads, 8);
        assert_eq!(panels % chunk, 0, "{m} rows, {panels} panels: chunk {chunk}");
        let tasks = m.div_ceil(m.div_ceil(blocks)) * (panels / chunk);
        assert!(tasks >= 2 * threads, "{m} rows, {panels} panels: {tasks} tasks");
    }
    // A single row, a single panel: one task.
    let one = Work {
        m: 1,
        mr_max: 12,
        panels: 1,
        nr: 32,
        depth: 64,
        groups: 1,
    };
    assert_eq!(balanced_split(one, 2, 3), (1, 1));
    // Such layers through the balanced split on two and three workers, every ISA: the
    // reference's values.
    let mut rng = Rng::new(9);
    for (hw, cin, cout) in [(14, 576, 96), (7, 960, 160), (7, 160, 40)] {
        let x = random(&mut rng, &[1, hw, hw, cin]);
        let w = random(&mut rng, &[1, 1, cin, cout]);
        let p = Conv2dParams::new((1, 1), crate::Padding::Same);
        let g = conv2d_geometry("test", x.shape(), w.shape(), &p).unwrap();
        let want = conv2d_naive(&x, &w, None, &p).unwrap();
        for threads in [2, 3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            for isa in Isa::available() {
                let packed = PackedWeights::pack(isa, w.data(), cin, cout, 1).unwrap();
                let mut y = vec![0.0; want.len()];
                pool.install(|| packed_conv(isa, &g, &x, &packed, Epilogue::linear(), None, &mut y, cout))
                    .unwrap();
                assert_close(
                    &y,
                    want.data(),
                    &format!("{hw}x{hw} {cin}->{cout} {isa:?} {threads} workers"),
                );
            }
        }
    }
}

#[test]
fn few_rows_over_many_panels_run_as_one_row_block() {
    // Batch 1's 7×7 layers (MobileNetV2's 160 → 960, and 320 → 1280 with weights beyond L2)
    // and 64 rows with a partial last panel: one row block, a run of panels a worker, the
    // next panel prefetched; over few panels (960 → 160, DenseNet121's → 128, a partial
    // panel), a row block a worker and each worker a contiguous run of panel-ordered tasks;
    // with the residual and ReLU6 epilogue, on one to three workers, every ISA: the
    // reference's values, the same bits on any worker count.
    let mut rng = Rng::new(13);
    for (hw, cin, cout) in [
        (7, 160, 960),
        (7, 320, 1280),
        (8, 40, 520),
        (7, 960, 160),
        (7, 576, 128),
        (7, 600, 100),
    ] {
        let x = random(&mut rng, &[1, hw, hw, cin]);
        let w = random(&mut rng, &[1, 1, cin, cout]);
        let bias = random(&mut rng, &[cout]);
        let res = random(&mut rng, &[hw * hw, cout]);
        let p = Conv2dParams::new((1, 1), crate::Padding::Valid);
        let g = conv2d_geometry("test", x.shape(), w.shape(), &p).unwrap();
        let want: Vec<f32> = conv2d_naive(&x, &w, Some(&bias), &p)
            .unwrap()
            .data()
            .iter()
            .zip(res.data())
            .map(|(&v, &r)| (v + r).clamp(0.0, 6.0))
            .collect();
        let relu6 = ActSpec::relu_general(0.0, Some(6.0), 0.0).unwrap();
        for isa in Isa::available() {
            let packed = PackedWeights::pack(isa, w.data(), cin, cout, 1).unwrap();
            let mut first: Option<Vec<f32>> = None;
            for threads in [1, 2, 3] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let mut y = vec![f32::NAN; want.len()];
                pool.install(|| {
                    packed_conv(
                        isa,
                        &g,
                        &x,
                        &packed,
                        relu6.with_bias(Some(bias.data())),
                        Some((res.data(), cout)),
                        &mut y,
                        cout,
                    )
                })
                .unwrap();
                let what = format!("{hw}x{hw} {cin}->{cout} {isa:?} {threads} workers");
                assert_close(&y, &want, &what);
                match &first {
                    None => first = Some(y),
                    Some(f) => assert_eq!(f, &y, "{what}: bits differ from one worker's"),
                }
            }
        }
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let mut rng = Rng::new(11);
    let x = random(&mut rng, &[2, 20, 20, 24]);
    let w = random(&mut rng, &[3, 3, 24, 40]);
    let p = Conv2dParams::new((1, 1), crate::Padding::Same);
    let g = conv2d_geometry("test", x.shape(), w.shape(), &p).unwrap();
    let isa = crate::kernels::isa();
    let packed = PackedWeights::pack(isa, w.data(), 3 * 3 * 24, 40, 1).unwrap();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let mut y = vec![0.0; 2 * 20 * 20 * 40];
            packed_conv(isa, &g, &x, &packed, Epilogue::linear(), None, &mut y, 40).unwrap();
            y
        })
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(3));
}

#[test]
fn short_buffers_are_errors_not_panics() {
    let x = Tensor::ones(&[1, 4, 4, 3]);
    let w = Tensor::ones(&[3, 3, 3, 5]);
    let p = Conv2dParams::new((1, 1), crate::Padding::Valid);
    let g = conv2d_geometry("test", x.shape(), w.shape(), &p).unwrap();
    let mut y = vec![0.0; 3];
    let e = conv2d(
        Isa::Portable,
        ConvArgs {
            geometry: &g,
            x: x.data(),
            weights: Weights::Raw(w.data()),
            epilogue: Epilogue::linear(),
            residual: None,
            y: &mut y,
            y_stride: 5,
            prologue: None,
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("output holds 3 values"), "{e}");
    let e = PackedWeights::pack(Isa::Portable, &[1.0; 10], 27, 5, 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("depth 27"), "{e}");
}

#[test]
fn network_stems_take_kernel_rows_as_taps() {
    // Few input channels: each tap of the depth blocks is a whole kernel row, copied with its
    // zeros where the window reaches into the column padding (ResNet's 7×7/2 `same` after a
    // 3-pixel ZeroPadding2D, MobileNetV2's 3×3/2, an uneven TF `same` split, dilated rows).
    let mut rng = Rng::new(21);
    let stems: &[(
        [usize; 4],
        [usize; 4],
        (usize, usize),
        (Padding, Padding),
        (usize, usize),
    )] = &[
        (
            [2, 23, 21, 3],
            [7, 7, 3, 64],
            (2, 2),
            (Padding::Explicit(3, 3), Padding::Explicit(3, 3)),
            (1, 1),
        ),
        (
            [1, 17, 16, 3],
            [3, 3, 3, 32],
            (2, 2),
            (Padding::Same, Padding::Same),
            (1, 1),
        ),
        (
            [1, 15, 15, 3],
            [3, 3, 3, 32],
            (2, 2),
            (Padding::Valid, Padding::Valid),
            (1, 1),
        ),
        (
            [3, 9, 10, 5],
            [5, 4, 5, 20],
            (1, 3),
            (Padding::Same, Padding::Same),
            (2, 1),
        ),
        (
            [1, 6, 40, 1],
            [2, 9, 1, 7],
            (1, 1),
            (Padding::Explicit(1, 0), Padding::Explicit(8, 5)),
            (1, 1),
        ),
    ];
    for (i, &(xs, ws, strides, padding, dilation)) in stems.iter().enumerate() {
        let (x, w, bias) = (random(&mut rng, &xs), random(&mut rng, &ws), random(&mut rng, &[ws[3]]));
        let p = Conv2dParams {
            strides,
            padding,
            dilation,
            groups: 1,
        };
        let g = conv2d_geometry("test", x.shape(), w.shape(), &p).unwrap();
        assert!(row_taps(&g, packed_depth(64).0), "stem {i} takes kernel rows");
        let want = conv2d_naive(&x, &w, Some(&bias), &p).unwrap();
        for isa in Isa::available() {
            let depth = ws[0] * ws[1] * ws[2];
            let packed = PackedWeights::pack(isa, w.data(), depth, ws[3], 1).unwrap();
            let mut y = vec![f32::NAN; want.len()];
            conv2d(
                isa,
                ConvArgs {
                    geometry: &g,
                    x: x.data(),
                    weights: Weights::Packed(&packed),
                    epilogue: ActSpec::LINEAR.with_bias(Some(bias.data())),
                    residual: None,
                    y: &mut y,
                    y_stride: ws[3],
                    prologue: None,
                },
            )
            .unwrap();
            assert_close(&y, want.data(), &format!("stem {i} {isa:?}"));
        }
    }
}

/// A pointwise convolution with an input prologue (per-channel affine + clamp, the input read
/// at a wider pixel stride) equals the affine pass, then the convolution, bit for bit: the
/// same arithmetic per value and the same sums (prepacked weights); depths over one 128-channel chunk, row
/// counts off the tiles, packed and in-place weights, every instruction set. A prologue on a
/// 3×3 convolution is an error.
#[test]
fn pointwise_prologue_equals_the_affine_then_the_convolution() {
    let mut rng = Rng::new(19);
    for (ci, &(rows, cin, cout, extra)) in [(7, 5, 3, 0), (50, 64, 128, 16), (131, 300, 40, 7), (1, 17, 64, 1)]
        .iter()
        .enumerate()
    {
        let stride = cin + extra;
        let x = random(&mut rng, &[rows * stride]);
        let w = random(&mut rng, &[cin, cout]);
        let scale = random(&mut rng, &[cin]);
        let shift = random(&mut rng, &[cin]);
        let bias = random(&mut rng, &[cout]);
        let act = if ci % 2 == 0 {
            ActSpec::from_activation(Activation::Relu).unwrap()
        } else {
            ActSpec::relu_general(0.2, Some(1.5), 0.0).unwrap()
        };
        let mut mapped = vec![0.0f32; rows * cin];
        super::super::pointwise::affine(Some((x.data(), stride)), &mut mapped, scale.data(), shift.data(), &act)
            .unwrap();
        let g = conv2d_geometry("t", &[rows, 1, 1, cin], &[1, 1, cin, cout], &Conv2dParams::default()).unwrap();
        for isa in Isa::available() {
            let packed = PackedWeights::pack(isa, w.data(), cin, cout, 1).unwrap();
            for weights in [Weights::Packed(&packed), Weights::Raw(w.data())] {
                let run = |input: &[f32], prologue: Option<Prologue>| {
                    let mut y = vec![0.0f32; rows * cout];
                    conv2d(
                        isa,
                        ConvArgs {
                            geometry: &g,
                            x: input,
                            weights,
                            epilogue: ActSpec::LINEAR.with_bias(Some(bias.data())),
                            residual: None,
                            y: &mut y,
                            y_stride: cout,
                            prologue,
                        },
                    )
                    .unwrap();
                    y
                };
                let want = run(&mapped, None);
                let pro = Prologue {
                    scale: scale.data(),
                    shift: shift.data(),
                    act,
                    x_stride: stride,
                };
                let got = run(x.data(), Some(pro));
                if matches!(weights, Weights::Packed(_)) {
                    assert_eq!(got, want, "{isa:?} case {ci}");
                } else {
                    // A few rows of in-place weights are streamed without the prologue (another
                    // summation order): equal up to rounding.
                    for (a, b) in got.iter().zip(&want) {
                        assert!(
                            (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                            "{isa:?} case {ci}: {a} vs {b}"
                        );
                    }
                }
            }
        }
    }
    let g = conv2d_geometry("t", &[1, 4, 4, 2], &[3, 3, 2, 2], &Conv2dParams::default()).unwrap();
    let w = vec![0.0f32; 36];
    let mut y = vec![0.0f32; 8];
    let err = conv2d(
        crate::kernels::isa(),
        ConvArgs {
            geometry: &g,
            x: &[0.0; 32],
            weights: Weights::Raw(&w),
            epilogue: Epilogue::linear(),
            residual: None,
            y: &mut y,
            y_stride: 2,
            prologue: Some(Prologue {
                scale: &[1.0, 1.0],
                shift: &[0.0, 0.0],
                act: ActSpec::LINEAR,
                x_stride: 2,
            }),
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("1×1"), "{err}");
}

#[test]
fn streamed_stores_write_what_plain_stores_do() {
    // An output above the (test-sized) streaming threshold, 24·24·96 floats, written once
    // into a 64-byte-aligned buffer (AVX-512 streams its whole vectors) and once a float off
    // the lines (plain stores throughout): the same bits, and the naive convolution's values,
    // with a bias, a residual and a clamp, on two workers.
    let mut rng = Rng::new(17);
    let x = random(&mut rng, &[1, 24, 24, 32]);
    let w = random(&mut rng, &[3, 3, 32, 96]);
    let bias = random(&mut rng, &[96]);
    let res = random(&mut rng, &[24 * 24 * 96]);
    let p = Conv2dParams::new((1, 1), crate::Padding::Same);
    let g = conv2d_geometry("test", x.shape(), w.shape(), &p).unwrap();
    let px = g.oh() * g.ow();
    assert!(px * 96 * 4 >= STREAM_MIN_BYTES);
    let conv = conv2d_naive(&x, &w, None, &p).unwrap();
    let want: Vec<f32> = (0..px * 96)
        .map(|i| (conv.data()[i] + bias.data()[i % 96] + res.data()[i]).clamp(0.0, 6.0))
        .collect();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    for isa in Isa::available() {
        let packed = PackedWeights::pack(isa, w.data(), 3 * 3 * 32, 96, 1).unwrap();
        let mut outs = Vec::new();
        for misalign in [0usize, 1] {
            let mut buf = vec![f32::NAN; px * 96 + 32];
            let start = buf.as_ptr().align_offset(64) + misalign;
            let y = &mut buf[start..start + px * 96];
            let epi = ActSpec::relu_general(0.0, Some(6.0), 0.0)
                .unwrap()
                .with_bias(Some(bias.data()));
            pool.install(|| packed_conv(isa, &g, &x, &packed, epi, Some((res.data(), 96)), y, 96))
                .unwrap();
            assert_close(y, &want, &format!("{isa:?} misaligned by {misalign}"));
            outs.push(y.to_vec());
        }
        assert_eq!(outs[0], outs[1], "{isa:?}");
    }
}
