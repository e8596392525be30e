//! Zero padding and batch normalization (inference) against real Keras numbers: Keras 3.15.1
//! `predict()` outputs (tensorflow-cpu 2.21.0) copied from the shared reference set
//! (`reference/keras/fixtures/`, see its README). The BatchNormalization weights are the
//! fixture's `get_weights()` arrays `w00…w03` = gamma, beta, moving_mean, moving_variance,
//! saved here under those names; its statistics are random, not 0/1.

mod common;

use common::{fixture, npy};
use tensor::ops::batchnorm::{batch_norm_inference, DEFAULT_EPSILON};
use tensor::ops::pad::zero_pad2d;

/// `ZeroPadding2D(padding=((1, 0), (1, 0)))` on (2, 5, 5, 3).
#[test]
fn zeropad_10_10() {
    let x = npy::load(fixture("zeropad_10_10.input.npy"));
    let want = npy::load(fixture("zeropad_10_10.output.npy"));
    let got = zero_pad2d(&x, 1, 0, 1, 0).unwrap();
    assert_eq!(got.shape(), want.shape());
    assert_eq!(got.data(), want.data());
}

/// `BatchNormalization(axis=-1, momentum=0.99, epsilon=0.001, center=True, scale=True)` on
/// (2, 5, 5, 3), inference.
#[test]
fn batchnorm_inference() {
    let load = |part: &str| npy::load(fixture(&format!("batchnorm_inference.{part}.npy")));
    let (x, want) = (load("input"), load("output"));
    let (gamma, beta, mean, var) = (
        load("gamma"),
        load("beta"),
        load("moving_mean"),
        load("moving_variance"),
    );
    let got = batch_norm_inference(&x, &mean, &var, Some(&gamma), Some(&beta), -1, DEFAULT_EPSILON).unwrap();
    assert_eq!(got.shape(), want.shape());
    assert!(
        got.allclose(&want, 1e-5, 1e-5),
        "max |diff| {}",
        got.max_abs_diff(&want).unwrap()
    );
}
