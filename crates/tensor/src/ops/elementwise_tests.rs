//! Tests of `elementwise.rs` (a separate file to keep the kernel file under its line budget).

use super::*;
use crate::gradcheck::check_gradients;
use crate::rng::Rng;

fn t(shape: &[usize], data: &[f32]) -> Tensor {
    Tensor::new(shape, data.to_vec()).unwrap()
}

/// Values in [-2, 2).
fn random(rng: &mut Rng, shape: &[usize]) -> Tensor {
    crate::ops::test_util::random_in(rng, shape, -2.0, 2.0)
}

/// Distinct, well separated values (no ties, nothing near a kink).
fn spread(shape: &[usize], offset: f32) -> Tensor {
    let n = numel(shape);
    Tensor::new(
        shape,
        (0..n)
            .map(|i| ((i * 7 + 3) % n.max(1)) as f32 * 0.37 - 1.1 + offset)
            .collect(),
    )
    .unwrap()
}

const ALL: [BinaryOp; 6] = [
    BinaryOp::Add,
    BinaryOp::Sub,
    BinaryOp::Mul,
    BinaryOp::Div,
    BinaryOp::Maximum,
    BinaryOp::Minimum,
];

#[test]
fn broadcast_shapes() {
    assert_eq!(broadcast_shape(&[2, 3], &[3]).unwrap(), vec![2, 3]);
    assert_eq!(broadcast_shape(&[2, 1], &[1, 3]).unwrap(), vec![2, 3]);
    assert_eq!(broadcast_shape(&[], &[4, 5]).unwrap(), vec![4, 5]);
    assert_eq!(broadcast_shape(&[8, 1, 6, 1], &[7, 1, 5]).unwrap(), vec![8, 7, 6, 5]);
    assert_eq!(broadcast_shape(&[0, 3], &[1, 3]).unwrap(), vec![0, 3]);
    let e = broadcast_shape_for("add", &[2, 3], &[4]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "add: shapes [2, 3] and [4] cannot be broadcast: dimension 1 is 3 vs 4"
    );
}

#[test]
fn hand_checked_binary_ops() {
    let a = Tensor::arange(&[2, 3]);
    let bias = t(&[3], &[10.0, 20.0, 30.0]);
    assert_eq!(add(&a, &bias).unwrap().data(), &[10.0, 21.0, 32.0, 13.0, 24.0, 35.0]);
    assert_eq!(sub(&bias, &a).unwrap().data(), &[10.0, 19.0, 28.0, 7.0, 16.0, 25.0]);
    // Outer product by broadcasting a column against a row.
    let col = t(&[2, 1], &[1.0, 2.0]);
    let row = t(&[1, 3], &[3.0, 4.0, 5.0]);
    let p = mul(&col, &row).unwrap();
    assert_eq!(p.shape(), &[2, 3]);
    assert_eq!(p.data(), &[3.0, 4.0, 5.0, 6.0, 8.0, 10.0]);
    assert_eq!(
        div(&a, &Tensor::scalar(2.0)).unwrap().data(),
        &[0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    );
    let m = t(&[2, 1], &[1.5, 3.5]);
    assert_eq!(maximum(&a, &m).unwrap().data(), &[1.5, 1.5, 2.0, 3.5, 4.0, 5.0]);
    assert_eq!(minimum(&a, &m).unwrap().data(), &[0.0, 1.0, 1.5, 3.0, 3.5, 3.5]);
}

#[test]
fn sum_to_shape_and_broadcast_to_by_hand() {
    let g = Tensor::arange(&[2, 3]);
    assert_eq!(sum_to_shape(&g, &[3]).unwrap().data(), &[3.0, 5.0, 7.0]);
    assert_eq!(sum_to_shape(&g, &[2, 1]).unwrap().data(), &[3.0, 12.0]);
    assert_eq!(sum_to_shape(&g, &[]).unwrap().data(), &[15.0]);
    assert_eq!(sum_to_shape(&g, &[2, 3]).unwrap(), g);
    let b = broadcast_to(&t(&[2, 1], &[1.0, 2.0]), &[2, 2, 3]).unwrap();
    assert_eq!(b.data(), &[1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0]);
}

/// A random output shape and an operand shape that broadcasts to it.
fn operand_shape(rng: &mut Rng, out: &[usize]) -> Vec<usize> {
    let rank = rng.below(out.len() + 1);
    out[out.len() - rank..]
        .iter()
        .map(|&d| if rng.below(3) == 0 { 1 } else { d })
        .collect()
}

#[test]
fn fast_kernels_match_naive_on_random_shapes() {
    let mut rng = Rng::new(11);
    for case in 0..200 {
        let rank = rng.below(5);
        let big = case % 10 == 0;
        let out: Vec<usize> = (0..rank)
            .map(|d| {
                if big && d == 0 {
                    40 + rng.below(40)
                } else {
                    1 + rng.below(if big { 12 } else { 5 })
                }
            })
            .collect();
        let (sa, sb) = match case % 4 {
            0 => (out.clone(), operand_shape(&mut rng, &out)),
            1 => (operand_shape(&mut rng, &out), out.clone()),
            2 => (out.clone(), out.clone()),
            _ => (operand_shape(&mut rng, &out), operand_shape(&mut rng, &out)),
        };
        let a = random(&mut rng, &sa);
        let b = random(&mut rng, &sb);
        for op in ALL {
            let fast = binary(op, &a, &b).unwrap();
            let slow = binary_naive(op, &a, &b).unwrap();
            assert_eq!(fast.shape(), slow.shape());
            // The same arithmetic in the same order: exactly equal.
            assert_eq!(fast.data(), slow.data(), "{op:?} {sa:?} {sb:?}");
        }
        let full = broadcast_shape(&sa, &sb).unwrap();
        let g = random(&mut rng, &full);
        for target in [&sa, &sb] {
            let fast = sum_to_shape(&g, target).unwrap();
            let slow = sum_to_shape_naive(&g, target).unwrap();
            let summed = (g.len() / numel(target).max(1)) as f32;
            assert!(
                fast.allclose(&slow, 1e-5 * summed, 1e-4),
                "sum_to_shape {full:?} → {target:?}"
            );
        }
        let stretched = broadcast_to(&a, &full).unwrap();
        assert_eq!(
            stretched,
            binary_naive(BinaryOp::Add, &a, &Tensor::zeros(&full)).unwrap()
        );
    }
}

#[test]
fn binary_gradients_reduce_over_broadcast_axes() {
    let pairs: [(&[usize], &[usize]); 5] = [
        (&[2, 3], &[2, 3]),
        (&[2, 3], &[3]),
        (&[2, 1], &[1, 3]),
        (&[2, 3], &[]),
        (&[3], &[2, 2, 3]),
    ];
    for (sa, sb) in pairs {
        for op in ALL {
            // b positive keeps div smooth; for max/min the offset keeps |a − b| ≥ 0.18 (no ties).
            let a = spread(sa, 0.0);
            let shift = if matches!(op, BinaryOp::Maximum | BinaryOp::Minimum) {
                0.55
            } else {
                2.9
            };
            let b = add_scalar(&spread(sb, 0.0), shift);
            check_gradients(&[a, b], |tp, v| tp.binary(op, v[0], v[1]), 1e-2, 1e-2)
                .unwrap_or_else(|e| panic!("{op:?} {sa:?} {sb:?}: {e}"));
        }
    }
}

#[test]
fn maximum_ties_send_the_gradient_to_the_first_input() {
    let mut tape = Tape::new();
    let a = tape.param(t(&[2], &[1.0, 2.0]));
    let b = tape.param(t(&[2], &[1.0, 3.0]));
    let m = tape.maximum(a, b).unwrap();
    let g = tape.backward_with(m, Tensor::ones(&[2])).unwrap();
    assert_eq!(g.get(a).unwrap().data(), &[1.0, 0.0]);
    assert_eq!(g.get(b).unwrap().data(), &[0.0, 1.0]);
}

#[test]
fn mul_then_sum_example_from_the_crate_doc() {
    let mut tape = Tape::new();
    let x = tape.param(t(&[2], &[1.0, 2.0]));
    let y = tape.mul(x, x).unwrap();
    let g = tape.backward_with(y, Tensor::ones(&[2])).unwrap();
    assert_eq!(g.get(x).unwrap().data(), &[2.0, 4.0]);
}

#[test]
fn hand_checked_unary_ops() {
    let x = t(&[4], &[-2.0, -0.5, 1.0, 4.0]);
    assert_eq!(neg(&x).data(), &[2.0, 0.5, -1.0, -4.0]);
    assert_eq!(scale(&x, 3.0).data(), &[-6.0, -1.5, 3.0, 12.0]);
    assert_eq!(add_scalar(&x, 1.0).data(), &[-1.0, 0.5, 2.0, 5.0]);
    assert_eq!(square(&x).data(), &[4.0, 0.25, 1.0, 16.0]);
    assert_eq!(abs(&x).data(), &[2.0, 0.5, 1.0, 4.0]);
    assert_eq!(clip(&x, -1.0, 2.0).unwrap().data(), &[-1.0, -0.5, 1.0, 2.0]);
    let p = t(&[3], &[1.0, 4.0, 9.0]);
    assert_eq!(sqrt(&p).data(), &[1.0, 2.0, 3.0]);
    assert!(pow(&p, 1.5).allclose(&t(&[3], &[1.0, 8.0, 27.0]), 1e-5, 1e-6));
    assert!((exp(&t(&[1], &[1.0])).data()[0] - std::f32::consts::E).abs() < 1e-6);
    assert!((log(&t(&[1], &[std::f32::consts::E])).data()[0] - 1.0).abs() < 1e-6);
}

#[test]
fn unary_gradients_match_finite_differences() {
    let x = t(&[2, 3], &[-1.7, -0.9, -0.3, 0.4, 1.1, 1.8]);
    let pos = t(&[2, 3], &[0.3, 0.7, 1.2, 1.9, 2.5, 3.1]);
    type F = fn(&mut Tape, Var) -> Result<Var>;
    let on_any: [(&str, F); 6] = [
        ("neg", |tp, v| tp.neg(v)),
        ("scale", |tp, v| tp.scale(v, -2.5)),
        ("add_scalar", |tp, v| tp.add_scalar(v, 0.7)),
        ("exp", |tp, v| tp.exp(v)),
        ("square", |tp, v| tp.square(v)),
        ("abs", |tp, v| tp.abs(v)),
    ];
    let on_positive: [(&str, F); 5] = [
        ("log", |tp, v| tp.log(v)),
        ("sqrt", |tp, v| tp.sqrt(v)),
        ("pow 1.5", |tp, v| tp.pow(v, 1.5)),
        ("pow 3", |tp, v| tp.pow(v, 3.0)),
        ("clip", |tp, v| tp.clip(v, 0.5, 2.8)),
    ];
    for (name, f) in on_any {
        check_gradients(std::slice::from_ref(&x), |tp, v| f(tp, v[0]), 1e-2, 1e-2)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    for (name, f) in on_positive {
        check_gradients(std::slice::from_ref(&pos), |tp, v| f(tp, v[0]), 1e-3, 1e-2)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn large_tensors_take_the_parallel_paths() {
    let mut rng = Rng::new(3);
    let a = random(&mut rng, &[64, 33, 32]);
    let bias = random(&mut rng, &[32]);
    let col = random(&mut rng, &[64, 1, 1]);
    for b in [&bias, &col, &a] {
        assert_eq!(add(&a, b).unwrap(), binary_naive(BinaryOp::Add, &a, b).unwrap());
    }
    let s = sum_to_shape(&a, &[32]).unwrap();
    assert!(s.allclose(&sum_to_shape_naive(&a, &[32]).unwrap(), 1e-3, 1e-4));
    assert_eq!(exp(&a).data()[1000], a.data()[1000].exp());
}

#[test]
fn errors_name_the_op_and_shapes() {
    let a = Tensor::zeros(&[2, 3]);
    let b = Tensor::zeros(&[4]);
    assert_eq!(
        mul(&a, &b).unwrap_err().to_string(),
        "mul: shapes [2, 3] and [4] cannot be broadcast: dimension 1 is 3 vs 4"
    );
    let mut tape = Tape::new();
    let (va, vb) = (tape.param(a.clone()), tape.param(b));
    assert!(tape.add(va, vb).is_err());
    assert!(sum_to_shape(&a, &[2]).is_err());
    assert!(sum_to_shape(&a, &[4, 2, 3]).is_err());
    assert!(broadcast_to(&a, &[3]).is_err());
    let e = clip(&a, 1.0, 0.0).unwrap_err().to_string();
    assert!(e.contains("clip") && e.contains("x_max"), "{e}");
    assert!(tape.clip(va, 2.0, -2.0).is_err());
}
