//! Tests of `depthwise.rs`: hand-checked values, the tap arithmetic, the vectorized kernels
//! (with and without FMA) against the naive loops and a grouped `conv2d`, finite differences,
//! and error messages.

use super::*;
use crate::ops::conv::{conv2d_naive, Conv2dParams};
use crate::ops::test_util::{assert_close as close, check_conv_gradients, random as rand_tensor, random_padding};
use crate::rng::Rng;

#[test]
fn channel_order_is_tensorflows() {
    // One pixel, c = 2 (values 1, 10), dm = 3, kernel (1, 1, 2, 3) = 1..6:
    // output channel c·3 + m = x[c] · w[c][m] → [1, 2, 3, 40, 50, 60].
    let x = Tensor::new(&[1, 1, 1, 2], vec![1., 10.]).unwrap();
    let w = Tensor::new(&[1, 1, 2, 3], vec![1., 2., 3., 4., 5., 6.]).unwrap();
    let y = depthwise_conv2d(&x, &w, None, &DepthwiseParams::default()).unwrap();
    assert_eq!(y.data(), &[1., 2., 3., 40., 50., 60.]);
}

#[test]
fn same_stride2_by_hand() {
    // 4×4 arange, one channel, 3×3 ones, stride 2, same: pads 0 top/left, 1 bottom/right.
    let y = depthwise_conv2d(
        &Tensor::arange(&[1, 4, 4, 1]),
        &Tensor::ones(&[3, 3, 1, 1]),
        Some(&Tensor::ones(&[1])),
        &DepthwiseParams::new((2, 2), Padding::Same),
    )
    .unwrap();
    assert_eq!(y.data(), &[46., 40., 67., 51.]);
}

#[test]
fn backward_by_hand() {
    // Valid 2×2 window over a 2×2 image, two channels: dx = dy·w, dw = dy·x.
    let x = Tensor::arange(&[1, 2, 2, 2]);
    let w = Tensor::ones(&[2, 2, 2, 1]);
    let gy = Tensor::new(&[1, 1, 1, 2], vec![1., 2.]).unwrap();
    let (dx, dw, db) = depthwise_conv2d_backward(&x, &w, &gy, &DepthwiseParams::default()).unwrap();
    assert_eq!(dx.data(), &[1., 2., 1., 2., 1., 2., 1., 2.]);
    assert_eq!(dw.data(), &[0., 2., 2., 6., 4., 10., 6., 14.]);
    assert_eq!(db.data(), &[1., 2.]);
}

/// `count` random padded axes (`same` or explicit), the invalid draws skipped.
fn random_axes(seed: u64, count: usize) -> Vec<AxisGeometry> {
    let mut rng = Rng::new(seed);
    (0..count)
        .filter_map(|_| {
            let pad = if rng.below(2) == 0 {
                Padding::Same
            } else {
                Padding::Explicit(rng.below(4), rng.below(4))
            };
            let (input, k, s, d) = (1 + rng.below(9), 1 + rng.below(4), 1 + rng.below(3), 1 + rng.below(3));
            window_axis("t", input, k, s, d, pad).ok()
        })
        .collect()
}

#[test]
fn taps_for_and_source_match_tap() {
    for a in random_axes(8, 200) {
        let k = a.kernel;
        for o in 0..a.output {
            let (lo, hi) = taps_for(o, &a);
            let want: Vec<usize> = (0..k).filter(|&kk| tap(o, kk, &a).is_some()).collect();
            assert_eq!((lo..hi).collect::<Vec<_>>(), want, "{a:?} output {o}");
            for kk in 0..k {
                if let Some(i) = tap(o, kk, &a) {
                    assert_eq!(source(i, kk, &a, a.output), Some(o));
                }
            }
        }
    }
}

#[test]
fn valid_range_matches_tap() {
    for a in random_axes(3, 200) {
        for kk in 0..a.kernel {
            let (lo, hi) = valid_range(kk, &a);
            let want: Vec<usize> = (0..a.output).filter(|&o| tap(o, kk, &a).is_some()).collect();
            assert_eq!((lo..hi).collect::<Vec<_>>(), want, "{a:?} tap {kk}");
        }
    }
}

#[test]
fn fast_matches_naive_and_grouped_conv_on_random_cases() {
    let mut rng = Rng::new(77);
    for case in 0..120 {
        let c = [1, 2, 3, 5, 9, 32, 41][rng.below(7)];
        let dm = if c > 9 { 1 } else { 1 + rng.below(3) };
        let (kh, kw) = (1 + rng.below(4), 1 + rng.below(4));
        let padding = (random_padding(&mut rng, 3), random_padding(&mut rng, 3));
        let p = DepthwiseParams {
            strides: (1 + rng.below(3), 1 + rng.below(3)),
            padding,
            dilation: (1 + rng.below(2), 1 + rng.below(2)),
        };
        let xs = [
            1 + rng.below(3),
            (kh - 1) * p.dilation.0 + 1 + rng.below(6),
            (kw - 1) * p.dilation.1 + 1 + rng.below(6),
            c,
        ];
        let (x, w, b) = (
            rand_tensor(&mut rng, &xs),
            rand_tensor(&mut rng, &[kh, kw, c, dm]),
            rand_tensor(&mut rng, &[c * dm]),
        );
        let what = format!("case {case}: x {xs:?} w {:?} {p:?}", w.shape());
        let g = depthwise_geometry("t", x.shape(), w.shape(), &p).unwrap();
        let naive = depthwise_conv2d_naive(&x, &w, Some(&b), &p).unwrap();
        // A grouped conv with one group per channel is the same operation.
        let cp = Conv2dParams {
            strides: p.strides,
            padding: p.padding,
            dilation: p.dilation,
            groups: c,
        };
        let grouped = conv2d_naive(&x, &w.reshape(&[kh, kw, 1, c * dm]).unwrap(), Some(&b), &cp).unwrap();
        close(naive.data(), grouped.data(), &what);
        let gy = rand_tensor(&mut rng, naive.shape());
        let (rx, rw, rb) = depthwise_conv2d_backward_naive(&x, &w, &gy, &p).unwrap();
        for fma in [false, cpu_has_fma()] {
            close(
                &forward_impl(x.data(), w.data(), Some(b.data()), &g, fma),
                naive.data(),
                &format!("y {what}"),
            );
            close(
                &input_grad_impl(gy.data(), w.data(), &g, fma),
                rx.data(),
                &format!("dx {what}"),
            );
            close(
                &weight_grad_impl(x.data(), gy.data(), &g, fma),
                rw.data(),
                &format!("dw {what}"),
            );
        }
        let (_, _, db) = depthwise_conv2d_backward(&x, &w, &gy, &p).unwrap();
        close(db.data(), rb.data(), &format!("db {what}"));
    }
}

#[test]
fn gradients_match_finite_differences() {
    let mut rng = Rng::new(9);
    for (xs, ks, p) in [
        ([2, 5, 4, 3], [3, 2, 3, 2], DepthwiseParams::new((2, 1), Padding::Same)),
        (
            [1, 6, 5, 2],
            [2, 2, 2, 1],
            DepthwiseParams::new((1, 2), Padding::Valid).with_dilation((2, 1)),
        ),
    ] {
        check_conv_gradients(&mut rng, [&xs, &ks, &[ks[2] * ks[3]]], |t, x, w, b| {
            t.depthwise_conv2d(x, w, Some(b), &p)
        });
    }
}

#[test]
fn errors_name_what_is_wrong() {
    let x = Tensor::zeros(&[1, 4, 4, 3]);
    let e = depthwise_conv2d(&x, &Tensor::zeros(&[3, 3, 2, 1]), None, &DepthwiseParams::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("depthwise_conv2d") && e.contains("2 input channels, the input has 3"),
        "{e}"
    );
    let e = depthwise_conv2d(&x, &Tensor::zeros(&[3, 3, 3, 0]), None, &DepthwiseParams::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("depth_multiplier"), "{e}");
    let e = depthwise_conv2d(&x, &Tensor::zeros(&[5, 3, 3, 1]), None, &DepthwiseParams::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("(4 + 0 − 5)/1 + 1 < 1"), "{e}");
    let e = depthwise_conv2d(
        &x,
        &Tensor::zeros(&[3, 3, 3, 2]),
        Some(&Tensor::zeros(&[3])),
        &DepthwiseParams::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("bias must have shape [6]"), "{e}");
    let e = depthwise_conv2d(
        &x,
        &Tensor::zeros(&[3, 3, 3, 1]),
        None,
        &DepthwiseParams::new((1, 0), Padding::Same),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("strides"), "{e}");
    let e = depthwise_conv2d(
        &Tensor::zeros(&[4, 4, 3]),
        &Tensor::zeros(&[3, 3, 3, 1]),
        None,
        &DepthwiseParams::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("rank 4"), "{e}");
}
