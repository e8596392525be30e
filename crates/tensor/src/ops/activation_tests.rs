//! Tests of `activation.rs` (a separate file to keep the activation file under its budget).

use super::*;
use crate::gradcheck::check_gradients;

fn t(data: &[f32]) -> Tensor {
    Tensor::new(&[data.len()], data.to_vec()).unwrap()
}

fn close(a: &Tensor, expected: &[f32], tol: f32) {
    assert!(a.allclose(&t(expected), tol, tol), "{:?} vs {expected:?}", a.data());
}

#[test]
fn erf_matches_reference_values() {
    // Reference values (SciPy / Abramowitz–Stegun tables).
    let cases = [
        (0.0, 0.0),
        (0.5, 0.520_499_877_813_046_5),
        (1.0, 0.842_700_792_949_714_9),
        (2.0, 0.995_322_265_018_952_7),
        (2.4, 0.999_311_486_103_354_9),
        (-1.0, -0.842_700_792_949_714_9),
    ];
    for (x, want) in cases {
        assert!((erf(x) - want).abs() < 1e-15, "erf({x}) = {} vs {want}", erf(x));
    }
    let tails = [
        (1.0, 0.157_299_207_050_285_13),
        (2.0, 0.004_677_734_981_047_266),
        (2.5, 4.069_520_174_449_59e-4),
        (3.0, 2.209_049_699_858_544e-5),
        (5.0, 1.537_459_794_428_035e-12),
        (10.0, 2.088_487_583_762_545e-45),
    ];
    for (x, want) in tails {
        assert!(
            ((erfc(x) - want) / want).abs() < 1e-12,
            "erfc({x}) = {} vs {want}",
            erfc(x)
        );
    }
    assert!((erfc(-1.0) - 1.842_700_792_949_715).abs() < 1e-15);
    assert!(
        (erf(2.5 - 1e-12) - erf(2.5 + 1e-12)).abs() < 1e-14,
        "continuous at the switch"
    );
}

#[test]
fn keras_documented_values() {
    let x = t(&[-10.0, -5.0, 0.0, 5.0, 10.0]);
    close(&relu(&x), &[0.0, 0.0, 0.0, 5.0, 10.0], 0.0);
    close(
        &relu_general(&x, 0.5, None, 0.0).unwrap(),
        &[-5.0, -2.5, 0.0, 5.0, 10.0],
        0.0,
    );
    close(
        &relu_general(&x, 0.0, Some(5.0), 0.0).unwrap(),
        &[0.0, 0.0, 0.0, 5.0, 5.0],
        0.0,
    );
    close(
        &relu_general(&x, 0.0, None, 5.0).unwrap(),
        &[0.0, 0.0, 0.0, 0.0, 10.0],
        0.0,
    );
    // The ReLU layer's docstring examples.
    let y = t(&[-3.0, -1.0, 0.0, 2.0]);
    close(&relu_general(&y, 1.0, None, 0.0).unwrap(), &[-3.0, -1.0, 0.0, 2.0], 0.0);
    close(
        &relu_general(&t(&[-3.0, -1.0, 1.0, 2.0]), 0.0, None, 1.5).unwrap(),
        &[0.0, 0.0, 0.0, 2.0],
        0.0,
    );
    close(
        &relu_general(&x, 0.5, Some(10.0), 0.0).unwrap(),
        &[-5.0, -2.5, 0.0, 5.0, 10.0],
        0.0,
    );
    // tf.keras.activations.gelu docstring, exact and approximate.
    let g = t(&[-3.0, -1.0, 0.0, 1.0, 3.0]);
    close(
        &gelu(&g, false),
        &[-0.004_049_51, -0.158_655_29, 0.0, 0.841_344_7, 2.995_950_7],
        1e-6,
    );
    close(
        &gelu(&g, true),
        &[-0.003_637_52, -0.158_807_96, 0.0, 0.841_192, 2.996_362_7],
        1e-6,
    );
}

#[test]
fn hand_checked_values() {
    close(&relu6(&t(&[-1.0, 3.0, 7.0])), &[0.0, 3.0, 6.0], 0.0);
    close(&leaky_relu(&t(&[-2.0, 2.0]), 0.3).unwrap(), &[-0.6, 2.0], 1e-7);
    close(&elu(&t(&[-1.0, 2.0]), 1.0).unwrap(), &[-0.632_120_56, 2.0], 1e-7);
    close(&elu(&t(&[-1.0]), 0.5).unwrap(), &[-0.316_060_28], 1e-7);
    close(&selu(&t(&[1.0, -1.0])), &[1.050_701, -1.111_330_7], 1e-6);
    close(&sigmoid(&t(&[0.0, 100.0, -100.0])), &[0.5, 1.0, 0.0], 1e-7);
    close(
        &hard_sigmoid(&t(&[-4.0, -3.0, 0.0, 1.5, 3.0])),
        &[0.0, 0.0, 0.5, 0.75, 1.0],
        1e-7,
    );
    close(
        &hard_sigmoid_legacy(&t(&[-3.0, 0.0, 1.0, 2.5])),
        &[0.0, 0.5, 0.7, 1.0],
        1e-7,
    );
    close(&hard_silu(&t(&[-4.0, 1.0, 4.0])), &[0.0, 2.0 / 3.0, 4.0], 1e-7);
    close(&tanh(&t(&[0.5])), &[0.462_117_16], 1e-7);
    close(
        &softplus(&t(&[0.0, 100.0, -100.0])),
        &[std::f32::consts::LN_2, 100.0, 0.0],
        1e-7,
    );
    close(&softsign(&t(&[1.0, -3.0])), &[0.5, -0.75], 1e-7);
    close(&silu(&t(&[1.0])), &[0.731_058_6], 1e-7);
    close(&mish(&t(&[1.0])), &[0.865_098_4], 1e-6);
    close(&exponential(&t(&[1.0])), &[std::f32::consts::E], 1e-6);
}

#[test]
fn gradients_match_finite_differences() {
    // Values away from every kink (0, ±2.5, ±3, 6).
    let x = Tensor::new(&[2, 4], vec![-8.1, -3.9, -2.7, -1.3, 0.35, 1.2, 2.6, 7.8]).unwrap();
    type F = Box<dyn Fn(&mut Tape, Var) -> Result<Var>>;
    let cases: Vec<(&str, F)> = vec![
        ("relu", Box::new(|tp, v| tp.relu(v))),
        ("relu6", Box::new(|tp, v| tp.relu6(v))),
        ("leaky_relu", Box::new(|tp, v| tp.leaky_relu(v, 0.3))),
        ("elu", Box::new(|tp, v| tp.elu(v, 1.0))),
        ("elu 0.5", Box::new(|tp, v| tp.elu(v, 0.5))),
        ("selu", Box::new(|tp, v| tp.selu(v))),
        ("sigmoid", Box::new(|tp, v| tp.sigmoid(v))),
        ("hard_sigmoid", Box::new(|tp, v| tp.hard_sigmoid(v))),
        ("hard_sigmoid_legacy", Box::new(|tp, v| tp.hard_sigmoid_legacy(v))),
        ("hard_silu", Box::new(|tp, v| tp.hard_silu(v))),
        ("tanh", Box::new(|tp, v| tp.tanh(v))),
        ("softplus", Box::new(|tp, v| tp.softplus(v))),
        ("softsign", Box::new(|tp, v| tp.softsign(v))),
        ("silu", Box::new(|tp, v| tp.silu(v))),
        ("gelu", Box::new(|tp, v| tp.gelu(v, false))),
        ("gelu approximate", Box::new(|tp, v| tp.gelu(v, true))),
        ("mish", Box::new(|tp, v| tp.mish(v))),
        ("relu slope", Box::new(|tp, v| tp.relu_general(v, 0.5, None, 0.0))),
        ("relu max", Box::new(|tp, v| tp.relu_general(v, 0.0, Some(5.0), 0.0))),
        ("relu max 6", Box::new(|tp, v| tp.relu_general(v, 0.0, Some(6.0), 0.0))),
        ("relu threshold", Box::new(|tp, v| tp.relu_general(v, 0.0, None, 1.5))),
        ("relu all", Box::new(|tp, v| tp.relu_general(v, 0.2, Some(2.0), 0.5))),
        (
            "relu negative threshold",
            Box::new(|tp, v| tp.relu_general(v, 0.1, Some(4.0), -2.0)),
        ),
    ];
    for (name, f) in cases {
        check_gradients(std::slice::from_ref(&x), |tp, v| f(tp, v[0]), 1e-2, 1e-2)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    // exponential on a smaller range so f32 differences stay accurate.
    let small = x.map(|v| v / 4.0);
    check_gradients(&[small], |tp, v| tp.exponential(v[0]), 1e-3, 1e-2).unwrap();
}

#[test]
fn gradients_at_kinks_follow_tensorflow() {
    let mut tape = Tape::new();
    let x = tape.param(t(&[0.0, 6.0, -3.0, 3.0]));
    let seed = Tensor::ones(&[4]);
    let grad = |tape: &mut Tape, y: Var| tape.backward_with(y, seed.clone()).unwrap().get(x).unwrap().clone();
    let y = tape.relu(x).unwrap();
    assert_eq!(grad(&mut tape, y).data(), &[0.0, 1.0, 0.0, 1.0]);
    let y = tape.relu6(x).unwrap();
    assert_eq!(grad(&mut tape, y).data(), &[0.0, 0.0, 0.0, 1.0]);
    let y = tape.hard_silu(x).unwrap();
    assert_eq!(grad(&mut tape, y).data(), &[0.5, 1.0, 0.0, 1.0]);
}

#[test]
fn names_round_trip_and_tape_matches_tensor() {
    for a in Activation::ALL {
        assert_eq!(activation_by_name(a.name()), Some(a), "{}", a.name());
    }
    assert_eq!(activation_by_name("hard_sigmoid"), Some(Activation::HardSigmoid));
    assert_eq!(Activation::HardSigmoidLegacy.name(), "hard_sigmoid");
    assert_eq!(activation_by_name("Relu"), None);
    assert_eq!(activation_by_name("softmax2"), None);
    let x = Tensor::new(&[2, 3], vec![-2.2, -0.7, 0.3, 0.9, 1.6, 2.4]).unwrap();
    for a in Activation::ALL.into_iter().chain([Activation::HardSigmoidLegacy]) {
        let mut tape = Tape::new();
        let v = tape.param(x.clone());
        let y = a.apply(&mut tape, v).unwrap();
        assert_eq!(tape.value(y), &a.apply_tensor(&x).unwrap(), "{}", a.name());
        check_gradients(std::slice::from_ref(&x), |tp, v| a.apply(tp, v[0]), 1e-2, 1e-2)
            .unwrap_or_else(|e| panic!("{}: {e}", a.name()));
    }
    let sm = Activation::Softmax.apply_tensor(&x).unwrap();
    assert!((sm.data()[..3].iter().sum::<f32>() - 1.0).abs() < 1e-6);
}

#[test]
fn bad_arguments_are_errors() {
    let x = t(&[1.0]);
    let e = relu_general(&x, 0.0, Some(-1.0), 0.0).unwrap_err().to_string();
    assert_eq!(
        e,
        "relu: argument `max_value`: expected a number ≥ 0 or None, received -1"
    );
    assert!(relu_general(&x, f32::NAN, None, 0.0).is_err());
    assert!(relu_general(&x, 0.0, None, f32::INFINITY).is_err());
    assert!(leaky_relu(&x, f32::INFINITY).is_err());
    assert!(elu(&x, f32::NAN).is_err());
    let mut tape = Tape::new();
    let v = tape.param(x);
    assert!(tape.relu_general(v, 0.0, Some(f32::NAN), 0.0).is_err());
    assert!(tape.elu(v, f32::INFINITY).is_err());
}
