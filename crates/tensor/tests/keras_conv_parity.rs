//! Convolutions against real Keras numbers: `Conv2D`, `DepthwiseConv2D` and
//! `Conv2DTranspose`. The fixtures are Keras 3.15.1 `predict()` outputs (tensorflow-cpu 2.21.0)
//! on random float32 inputs with random weights and biases, copied from the shared reference
//! set (`reference/keras/fixtures/`, see its README); `<case>.w00.npy` / `<case>.w01.npy` are the
//! kernel and bias extracted from `<case>.weights.npz` (`get_weights()` order). Each case is a
//! one-layer model whose config (from the `.keras` file) is quoted above its test.

mod common;

use common::{fixture, npy};
use tensor::ops::conv::{conv2d, conv2d_naive, Conv2dParams};
use tensor::ops::conv_transpose::{conv2d_transpose, conv2d_transpose_naive, Conv2dTransposeParams};
use tensor::ops::depthwise::{depthwise_conv2d, depthwise_conv2d_naive, DepthwiseParams};
use tensor::{Padding, Tensor};

fn load(name: &str, part: &str) -> Tensor {
    npy::load(fixture(&format!("{name}.{part}.npy")))
}

/// `(input, kernel, bias, expected output)`; no bias when the layer has `use_bias=False`.
fn case(name: &str, bias: bool) -> (Tensor, Tensor, Option<Tensor>, Tensor) {
    (
        load(name, "input"),
        load(name, "w00"),
        bias.then(|| load(name, "w01")),
        load(name, "output"),
    )
}

fn assert_close(name: &str, got: &Tensor, want: &Tensor) {
    assert_eq!(got.shape(), want.shape(), "{name}: shape");
    assert!(
        got.allclose(want, 1e-5, 1e-5),
        "{name}: max |diff| {}",
        got.max_abs_diff(want).unwrap()
    );
}

/// Fast and naive kernels both match Keras.
fn check_conv(name: &str, p: Conv2dParams, bias: bool) {
    let (x, w, b, y) = case(name, bias);
    assert_close(name, &conv2d(&x, &w, b.as_ref(), &p).unwrap(), &y);
    assert_close(
        &format!("{name} (naive)"),
        &conv2d_naive(&x, &w, b.as_ref(), &p).unwrap(),
        &y,
    );
}

/// `Conv2D(4, 3, strides=2, padding="same")` on (2, 7, 7, 3): pads 1/1.
#[test]
fn conv_s2_same_7x7() {
    check_conv("conv_s2_same_7x7", Conv2dParams::new((2, 2), Padding::Same), true);
}

/// `Conv2D(4, 3, strides=2, padding="valid")` on (2, 7, 7, 3).
#[test]
fn conv_s2_valid_7x7() {
    check_conv("conv_s2_valid_7x7", Conv2dParams::new((2, 2), Padding::Valid), true);
}

/// `Conv2D(4, 3, strides=2, padding="same")` on (2, 8, 8, 3): pads 0 top/left, 1 bottom/right.
#[test]
fn conv_s2_same_8x8() {
    check_conv("conv_s2_same_8x8", Conv2dParams::new((2, 2), Padding::Same), true);
}

/// `Conv2D(4, 3, dilation_rate=2, padding="valid")` on (2, 9, 9, 3).
#[test]
fn conv_dilation2() {
    check_conv(
        "conv_dilation2",
        Conv2dParams::new((1, 1), Padding::Valid).with_dilation((2, 2)),
        true,
    );
}

/// `Conv2D(4, 3, dilation_rate=2, padding="same")` on (2, 9, 9, 3).
#[test]
fn conv_dilation2_same() {
    check_conv(
        "conv_dilation2_same",
        Conv2dParams::new((1, 1), Padding::Same).with_dilation((2, 2)),
        true,
    );
}

/// `Conv2D(6, 3, groups=2)` on (2, 8, 8, 4): kernel (3, 3, 2, 6).
#[test]
fn conv_groups2() {
    check_conv(
        "conv_groups2",
        Conv2dParams::new((1, 1), Padding::Valid).with_groups(2),
        true,
    );
}

/// `Conv2D(4, 3, use_bias=False)` on (2, 8, 8, 3).
#[test]
fn conv_nobias() {
    check_conv("conv_nobias", Conv2dParams::default(), false);
}

/// `Conv2D(4, (3, 2), strides=(2, 1), padding="same")` on (2, 9, 8, 3).
#[test]
fn conv_rect_kernel_s21() {
    check_conv("conv_rect_kernel_s21", Conv2dParams::new((2, 1), Padding::Same), true);
}

/// `Conv2D(4, 3, activation="relu")` on (2, 8, 8, 3); the relu is applied here by hand.
#[test]
fn conv_relu() {
    let (x, w, b, y) = case("conv_relu", true);
    let got = conv2d(&x, &w, b.as_ref(), &Conv2dParams::default())
        .unwrap()
        .map(|v| v.max(0.0));
    assert_close("conv_relu", &got, &y);
}

/// `DepthwiseConv2D(3, depth_multiplier=2)` on (2, 8, 8, 3): kernel (3, 3, 3, 2), output
/// channel `c·2 + m`.
#[test]
fn depthwise_dm2() {
    let (x, w, b, y) = case("depthwise_dm2", true);
    let p = DepthwiseParams::default();
    assert_close("depthwise_dm2", &depthwise_conv2d(&x, &w, b.as_ref(), &p).unwrap(), &y);
    assert_close(
        "depthwise_dm2 (naive)",
        &depthwise_conv2d_naive(&x, &w, b.as_ref(), &p).unwrap(),
        &y,
    );
}

/// `DepthwiseConv2D(3, strides=2, padding="same")` on (2, 7, 7, 3).
#[test]
fn depthwise_s2_same() {
    let (x, w, b, y) = case("depthwise_s2_same", true);
    let p = DepthwiseParams::new((2, 2), Padding::Same);
    assert_close(
        "depthwise_s2_same",
        &depthwise_conv2d(&x, &w, b.as_ref(), &p).unwrap(),
        &y,
    );
    assert_close(
        "depthwise_s2_same (naive)",
        &depthwise_conv2d_naive(&x, &w, b.as_ref(), &p).unwrap(),
        &y,
    );
}

/// `Conv2DTranspose(4, 3, strides=2, padding="valid")` on (2, 5, 5, 3): kernel (3, 3, 4, 3),
/// output 5·2 + max(3 − 2, 0) = 11.
#[test]
fn conv_transpose_valid_s2() {
    let (x, w, b, y) = case("conv_transpose_valid_s2", true);
    let p = Conv2dTransposeParams::new((2, 2), Padding::Valid);
    assert_close(
        "conv_transpose_valid_s2",
        &conv2d_transpose(&x, &w, b.as_ref(), &p).unwrap(),
        &y,
    );
    assert_close(
        "conv_transpose_valid_s2 (naive)",
        &conv2d_transpose_naive(&x, &w, b.as_ref(), &p).unwrap(),
        &y,
    );
}

/// `Conv2DTranspose(4, 3, strides=1, padding="valid")` on (2, 5, 5, 3): output 7.
#[test]
fn conv_transpose_s1() {
    let (x, w, b, y) = case("conv_transpose_s1", true);
    let p = Conv2dTransposeParams::default();
    assert_close(
        "conv_transpose_s1",
        &conv2d_transpose(&x, &w, b.as_ref(), &p).unwrap(),
        &y,
    );
    assert_close(
        "conv_transpose_s1 (naive)",
        &conv2d_transpose_naive(&x, &w, b.as_ref(), &p).unwrap(),
        &y,
    );
}

/// `SeparableConv2D(8, 3)` on (2, 8, 8, 3): depthwise kernel (3, 3, 3, 1), then a pointwise
/// (1, 1, 3, 8) convolution with the bias, composed from the two primitives (the pointwise one
/// takes conv2d's im2col-free path).
#[test]
fn separable() {
    let (x, y) = (load("separable", "input"), load("separable", "output"));
    let (dk, pk, b) = (
        load("separable", "w00"),
        load("separable", "w01"),
        load("separable", "w02"),
    );
    let mid = depthwise_conv2d(&x, &dk, None, &DepthwiseParams::default()).unwrap();
    assert_close(
        "separable",
        &conv2d(&mid, &pk, Some(&b), &Conv2dParams::default()).unwrap(),
        &y,
    );
}
