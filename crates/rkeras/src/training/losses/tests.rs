//! Loss unit tests: gradients against finite differences, Keras docstring values, errors.

use super::*;

fn t(shape: &[usize], v: &[f32]) -> Tensor {
    Tensor::new(shape, v.to_vec()).unwrap()
}

/// Finite differences of `value` against the recorded op's gradient.
fn check_grad(loss: &Loss, y_true: &Tensor, y_pred: &Tensor, sw: Option<&Tensor>) {
    let mut tape = Tape::new();
    let p = tape.param(y_pred.clone());
    let l = loss.record(&mut tape, y_true, p, sw).unwrap();
    let v = tape.value(l).item().unwrap();
    assert!((v - loss.value(y_true, y_pred, sw).unwrap()).abs() < 1e-6);
    let g = tape.backward(l).unwrap();
    let grad = g.get(p).unwrap().clone();
    for i in 0..y_pred.len() {
        let h = 1e-3f32;
        let mut plus = y_pred.clone();
        plus.data_mut()[i] += h;
        let mut minus = y_pred.clone();
        minus.data_mut()[i] -= h;
        let fd = (loss.value(y_true, &plus, sw).unwrap() - loss.value(y_true, &minus, sw).unwrap()) / (2.0 * h);
        assert!(
            (fd - grad.data()[i]).abs() < 2e-3,
            "{}: d/dp[{i}] = {} vs finite difference {fd}",
            loss.name(),
            grad.data()[i]
        );
    }
}

#[test]
fn gradients_match_finite_differences() {
    let probs = t(&[2, 3], &[0.2, 0.5, 0.3, 0.6, 0.1, 0.3]);
    let logits = t(&[2, 3], &[0.5, -1.0, 2.0, 0.1, 0.2, -0.3]);
    let sparse = t(&[2], &[1.0, 0.0]);
    let onehot = t(&[2, 3], &[0.0, 1.0, 0.0, 1.0, 0.0, 0.0]);
    let sw = t(&[2], &[0.5, 2.0]);
    check_grad(&Loss::sparse_categorical_crossentropy(), &sparse, &probs, None);
    check_grad(
        &Loss::sparse_categorical_crossentropy().from_logits(true),
        &sparse,
        &logits,
        Some(&sw),
    );
    check_grad(&Loss::categorical_crossentropy(), &onehot, &probs, Some(&sw));
    check_grad(
        &Loss::categorical_crossentropy().from_logits(true).label_smoothing(0.1),
        &onehot,
        &logits,
        None,
    );
    let bin = t(&[2, 3], &[1.0, 0.0, 1.0, 0.0, 0.0, 1.0]);
    check_grad(&Loss::binary_crossentropy(), &bin, &probs, None);
    check_grad(
        &Loss::binary_crossentropy().from_logits(true).label_smoothing(0.2),
        &bin,
        &logits,
        Some(&sw),
    );
    check_grad(&Loss::MeanSquaredError, &onehot, &logits, None);
    check_grad(&Loss::MeanAbsoluteError, &onehot, &logits, Some(&sw));
    check_grad(&Loss::Huber { delta: 1.0 }, &onehot, &logits, None);
}

#[test]
fn keras_docstring_values() {
    // keras.losses.categorical_crossentropy docstring: [0.0513, 2.303].
    let y = t(&[2, 3], &[0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
    let p = t(&[2, 3], &[0.05, 0.95, 0.0, 0.1, 0.8, 0.1]);
    let v = Loss::categorical_crossentropy().per_sample(&y, &p).unwrap();
    assert!((v.data()[0] - 0.0513).abs() < 1e-4 && (v.data()[1] - std::f32::consts::LN_10).abs() < 1e-4);
    // BinaryCrossentropy docstring: 0.815 (mean of [0.916, 0.714]).
    let y = t(&[2, 2], &[0.0, 1.0, 0.0, 0.0]);
    let p = t(&[2, 2], &[0.6, 0.4, 0.4, 0.6]);
    assert!((Loss::binary_crossentropy().value(&y, &p, None).unwrap() - 0.815).abs() < 1e-3);
    // Binary labels (N,) against (N, 1) predictions are aligned.
    let v = Loss::binary_crossentropy().value(&t(&[2], &[0.0, 1.0]), &t(&[2, 1], &[0.4, 0.6]), None);
    assert!((v.unwrap() - 0.6f32.ln().abs()).abs() < 1e-6);
}

#[test]
fn bad_labels_are_errors() {
    let p = t(&[2, 3], &[0.2, 0.5, 0.3, 0.6, 0.1, 0.3]);
    let e = Loss::sparse_categorical_crossentropy().value(&t(&[2], &[1.0, 3.0]), &p, None);
    assert!(e.unwrap_err().to_string().contains("outside the valid range of [0, 3)"));
    let e = Loss::categorical_crossentropy().value(&t(&[2], &[1.0, 2.0]), &p, None);
    assert!(e.unwrap_err().to_string().contains("sparse_categorical_crossentropy"));
    assert!(Loss::sparse_categorical_crossentropy()
        .value(&t(&[3], &[0.0; 3]), &p, None)
        .is_err());
    assert!(Loss::get("hinge_x").is_err());
}
