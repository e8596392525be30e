//! Tests of `pool.rs`: pools by hand, fast kernels against the naive references, gradients, and
//! error messages.

use super::*;
use crate::gradcheck::check_gradients;
use crate::ops::test_util::random;
use crate::rng::Rng;

/// Distinct values 0.1 apart in shuffled order: no finite-difference step moves a maximum.
fn separated(rng: &mut Rng, shape: &[usize]) -> Tensor {
    let mut v: Vec<f32> = (0..shape.iter().product::<usize>()).map(|i| i as f32 * 0.1).collect();
    rng.shuffle(&mut v);
    Tensor::new(shape, v).unwrap()
}

#[test]
fn pools_by_hand() {
    // 0  1  2  3 / 4  5  6  7 / 8  9 10 11 / 12 13 14 15
    let x = Tensor::arange(&[1, 4, 4, 1]);
    let avg = avg_pool2d(&x, (2, 2), (2, 2), Padding::Valid).unwrap();
    assert_eq!(avg.data(), &[2.5, 4.5, 10.5, 12.5]);
    // 3×3 arange, pool 2, stride 2, same: total padding (2−1)·2 + 2 − 3 = 1, all of it after.
    // Windows {0,1,3,4}, {2,5}, {6,7}, {8}: the average divides by the valid cells only.
    let x = Tensor::arange(&[1, 3, 3, 1]);
    let avg = avg_pool2d(&x, (2, 2), (2, 2), Padding::Same).unwrap();
    assert_eq!(avg.data(), &[2.0, 3.5, 6.5, 8.0]);
    let max = max_pool2d(&x, (2, 2), (2, 2), Padding::Same).unwrap();
    assert_eq!(max.data(), &[4.0, 5.0, 7.0, 8.0]);
    // Negative values: padding (which TensorFlow treats as −∞) never wins.
    let neg = x.map(|v| -v - 1.0);
    let max = max_pool2d(&neg, (2, 2), (2, 2), Padding::Same).unwrap();
    assert_eq!(max.data(), &[-1.0, -3.0, -7.0, -9.0]);
    // Channels pool independently: channel 1 is channel 0 plus 100.
    let x = Tensor::new(&[1, 1, 2, 2], vec![1.0, 101.0, 2.0, 102.0]).unwrap();
    assert_eq!(
        max_pool2d(&x, (1, 2), (1, 2), Padding::Valid).unwrap().data(),
        &[2.0, 102.0]
    );
    assert_eq!(
        avg_pool2d(&x, (1, 2), (1, 2), Padding::Valid).unwrap().data(),
        &[1.5, 101.5]
    );
}

#[test]
fn global_pools_by_hand() {
    let x = Tensor::arange(&[1, 2, 2, 2]);
    let gap = global_avg_pool2d(&x, false).unwrap();
    assert_eq!((gap.shape(), gap.data()), (&[1usize, 2][..], &[3.0f32, 4.0][..]));
    let gmp = global_max_pool2d(&x, true).unwrap();
    assert_eq!((gmp.shape(), gmp.data()), (&[1usize, 1, 1, 2][..], &[6.0f32, 7.0][..]));
    let g = global_avg_pool2d_backward(&[1, 2, 2, 2], &Tensor::new(&[1, 2], vec![4.0, 8.0]).unwrap()).unwrap();
    assert_eq!(g.data(), &[1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 1.0, 2.0]);
}

#[test]
fn max_backward_goes_to_the_first_maximum() {
    // All equal: the first cell of each window (row-major) takes the gradient.
    let x = Tensor::ones(&[1, 2, 2, 1]);
    let (_, arg, g) = max_pool2d_with_argmax(&x, (2, 2), (2, 2), Padding::Valid).unwrap();
    let dx = max_pool2d_backward(&g, &arg, &Tensor::full(&[1, 1, 1, 1], 5.0)).unwrap();
    assert_eq!(dx.data(), &[5.0, 0.0, 0.0, 0.0]);
    // 1 3 / 3 2: the 3 at (0, 1) comes first.
    let x = Tensor::new(&[1, 2, 2, 1], vec![1.0, 3.0, 3.0, 2.0]).unwrap();
    let (_, arg, g) = max_pool2d_with_argmax(&x, (2, 2), (1, 1), Padding::Valid).unwrap();
    let dx = max_pool2d_backward(&g, &arg, &Tensor::ones(&[1, 1, 1, 1])).unwrap();
    assert_eq!(dx.data(), &[0.0, 1.0, 0.0, 0.0]);
    // Overlapping windows add up: 1×3 row 0 9 0, pool 2 stride 1 → both windows pick the 9.
    let x = Tensor::new(&[1, 1, 3, 1], vec![0.0, 9.0, 0.0]).unwrap();
    let (_, arg, g) = max_pool2d_with_argmax(&x, (1, 2), (1, 1), Padding::Valid).unwrap();
    let dx = max_pool2d_backward(&g, &arg, &Tensor::new(&[1, 1, 2, 1], vec![1.0, 2.0]).unwrap()).unwrap();
    assert_eq!(dx.data(), &[0.0, 3.0, 0.0]);
}

#[test]
fn avg_backward_by_hand() {
    // Same windows as in `pools_by_hand`: counts 4, 2, 2, 1.
    let g = pool2d_geometry("t", &[1, 3, 3, 1], (2, 2), (2, 2), Padding::Same).unwrap();
    let dx = avg_pool2d_backward(&g, &Tensor::ones(&[1, 2, 2, 1])).unwrap();
    assert_eq!(dx.data(), &[0.25, 0.25, 0.5, 0.25, 0.25, 0.5, 0.5, 0.5, 1.0]);
}

#[test]
fn fast_kernels_match_naive() {
    let mut rng = Rng::new(2024);
    let mut cases = 0;
    while cases < 200 {
        let big = cases % 40 == 0;
        let n = 1 + rng.below(3);
        let (h, w) = if big {
            (20 + rng.below(20), 20 + rng.below(20))
        } else {
            (1 + rng.below(9), 1 + rng.below(9))
        };
        let c = 1 + rng.below(if big { 16 } else { 5 });
        let pool = (1 + rng.below(4), 1 + rng.below(4));
        let strides = (1 + rng.below(3), 1 + rng.below(3));
        let padding = match rng.below(3) {
            0 => Padding::Valid,
            1 => Padding::Same,
            _ => Padding::Explicit(rng.below(pool.0.min(pool.1)), rng.below(pool.0.min(pool.1))),
        };
        let Ok(g) = pool2d_geometry("t", &[n, h, w, c], pool, strides, padding) else {
            continue;
        };
        cases += 1;
        let what = format!(
            "case {cases}: {:?} pool {pool:?} strides {strides:?} {padding:?}",
            g.input_shape()
        );
        let x = random(&mut rng, &[n, h, w, c]);
        let max = max_pool2d(&x, pool, strides, padding).unwrap();
        assert_eq!(max, max_pool2d_naive(&x, pool, strides, padding).unwrap(), "{what}");
        let (max_arg, arg, _) = max_pool2d_with_argmax(&x, pool, strides, padding).unwrap();
        assert_eq!(max_arg, max, "{what}");
        let avg = avg_pool2d(&x, pool, strides, padding).unwrap();
        let avg_naive = avg_pool2d_naive(&x, pool, strides, padding).unwrap();
        assert!(avg.allclose(&avg_naive, 1e-5, 1e-4), "{what}");
        let grad = random(&mut rng, &g.output_shape());
        let dx = max_pool2d_backward(&g, &arg, &grad).unwrap();
        assert!(
            dx.allclose(&max_pool2d_backward_naive(&x, &g, &grad).unwrap(), 1e-5, 1e-4),
            "{what}"
        );
        let dx = avg_pool2d_backward(&g, &grad).unwrap();
        assert!(
            dx.allclose(&avg_pool2d_backward_naive(&g, &grad).unwrap(), 1e-5, 1e-4),
            "{what}"
        );
    }
}

#[test]
fn ties_go_to_the_first_maximum_in_row_major_order() {
    // Values from {0, 1, 2} (ReLU outputs are often 0): windows are full of ties, which the
    // fast kernel (rows first, then columns) must break as the naive scan does.
    let mut rng = Rng::new(9);
    for case in 0..150 {
        // Few channels take the table pass across the window columns, 16 or more the
        // per-window one: both are checked.
        let c = if case % 3 == 0 {
            16 + rng.below(5)
        } else {
            1 + rng.below(7)
        };
        let (n, h, w) = (1 + rng.below(2), 1 + rng.below(8), 1 + rng.below(8));
        let (pool, strides) = (
            (1 + rng.below(3), 1 + rng.below(3)),
            (1 + rng.below(3), 1 + rng.below(3)),
        );
        let padding = if case % 2 == 0 { Padding::Valid } else { Padding::Same };
        let Ok(g) = pool2d_geometry("t", &[n, h, w, c], pool, strides, padding) else {
            continue;
        };
        let x = Tensor::new(&[n, h, w, c], (0..n * h * w * c).map(|_| rng.below(3) as f32).collect()).unwrap();
        let (y, arg, _) = max_pool2d_with_argmax(&x, pool, strides, padding).unwrap();
        assert_eq!(y, max_pool2d_naive(&x, pool, strides, padding).unwrap(), "case {case}");
        let grad = random(&mut rng, &g.output_shape());
        let dx = max_pool2d_backward(&g, &arg, &grad).unwrap();
        assert_eq!(
            dx,
            max_pool2d_backward_naive(&x, &g, &grad).unwrap(),
            "case {case}: {g:?}"
        );
    }
}

#[test]
fn gradient_checks() {
    let mut rng = Rng::new(17);
    for padding in [Padding::Valid, Padding::Same] {
        let x = separated(&mut rng, &[2, 5, 4, 3]);
        check_gradients(
            std::slice::from_ref(&x),
            |t, v| t.max_pool2d(v[0], (3, 2), (2, 1), padding),
            1e-2,
            1e-2,
        )
        .unwrap();
        check_gradients(
            std::slice::from_ref(&x),
            |t, v| t.avg_pool2d(v[0], (3, 2), (2, 1), padding),
            1e-2,
            1e-2,
        )
        .unwrap();
    }
    let x = separated(&mut rng, &[2, 3, 4, 2]);
    check_gradients(
        std::slice::from_ref(&x),
        |t, v| t.global_max_pool2d(v[0], false),
        1e-2,
        1e-2,
    )
    .unwrap();
    check_gradients(
        std::slice::from_ref(&x),
        |t, v| t.global_avg_pool2d(v[0], true),
        1e-2,
        1e-2,
    )
    .unwrap();
    check_gradients(&[x], |t, v| t.global_avg_pool2d(v[0], false), 1e-2, 1e-2).unwrap();
}

#[test]
fn inference_tape_keeps_no_argmax() {
    let mut t = Tape::inference();
    let x = t.param(Tensor::arange(&[1, 4, 4, 1]));
    let y = t.max_pool2d(x, (2, 2), (2, 2), Padding::Valid).unwrap();
    assert_eq!(t.value(y).data(), &[5.0, 7.0, 13.0, 15.0]);
    let z = t.global_max_pool2d(x, false).unwrap();
    assert_eq!(t.value(z).data(), &[15.0]);
}

#[test]
fn errors_name_op_and_arithmetic() {
    let x = Tensor::zeros(&[1, 3, 3, 2]);
    let e = max_pool2d(&x, (4, 2), (1, 1), Padding::Valid).unwrap_err().to_string();
    assert!(
        e.starts_with("max_pool2d:") && e.contains("(3 + 0 − 4)/1 + 1 < 1"),
        "{e}"
    );
    let e = avg_pool2d(&x, (2, 2), (0, 1), Padding::Valid).unwrap_err().to_string();
    assert!(e.contains("`strides`") && e.contains("received 0"), "{e}");
    let e = max_pool2d(&Tensor::zeros(&[3, 3, 2]), (2, 2), (2, 2), Padding::Valid)
        .unwrap_err()
        .to_string();
    assert!(e.contains("4-D") && e.contains("[3, 3, 2]"), "{e}");
    let e = max_pool2d(&x, (2, 2), (1, 1), Padding::Explicit(2, 0))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`padding`") && e.contains("smaller than pool_size (2, 2)") && e.contains("(2, 0)"),
        "{e}"
    );
    let g = pool2d_geometry("avg_pool2d", x.shape(), (2, 2), (1, 1), Padding::Valid).unwrap();
    let e = avg_pool2d_backward(&g, &Tensor::zeros(&[1, 3, 3, 2]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("gradient shape [1, 3, 3, 2] differs from the output shape [1, 2, 2, 2]"),
        "{e}"
    );
    let e = max_pool2d_backward(&g, &[99; 8], &Tensor::zeros(&[1, 2, 2, 2]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("argmax index 99 outside an image of 18 values"), "{e}");
    let e = global_avg_pool2d(&Tensor::zeros(&[2, 0, 3, 1]), false)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("global_avg_pool2d:") && e.contains("non-empty"), "{e}");
}
