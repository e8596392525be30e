//! Tests of `Conv2DTranspose`: Keras's shapes and parameter counts (seed cases
//! `k_conv_transpose_*`), errors, forward values, gradients, JSON and `--explain`.

use super::*;
use crate::layers::test_util::{forward, grad_check, img};
use serde_json::json;
use tensor::Tensor;

fn out(cfg: &Conv2DTransposeConfig, input: Vec<Shape>) -> (Shape, u64) {
    let l = cfg.build("t", &input, &mut Rng::new(0)).unwrap();
    (l.compute_output_shape(&input).unwrap().remove(0), l.count_params())
}

#[test]
fn shapes_and_params_match_keras() {
    // Keras seed cases k_conv_transpose_{s1, valid_s2, same_s2}: 5×5×3 → 4 filters, 3×3.
    assert_eq!(
        out(&Conv2DTranspose::new(4, 3), img(5, 5, 3)),
        (crate::kshape::batched(&[7, 7, 4]), 112)
    );
    assert_eq!(
        out(&Conv2DTranspose::new(4, 3).strides(2), img(5, 5, 3)).0,
        crate::kshape::batched(&[11, 11, 4])
    );
    assert_eq!(
        out(&Conv2DTranspose::new(4, 3).strides(2).padding("same"), img(5, 5, 3)).0,
        crate::kshape::batched(&[10, 10, 4])
    );
    // output_padding: (5 − 1)·2 + 3 + 1 = 12.
    let c = Conv2DTranspose::new(2, 3).strides(2).output_padding(1);
    assert_eq!(out(&c, img(5, 5, 3)).0, crate::kshape::batched(&[12, 12, 2]));
    // dilation 2: extent 5, 5 + 5 − 1 = 9.
    assert_eq!(
        out(&Conv2DTranspose::new(2, 3).dilation_rate(2), img(5, 5, 1)).0,
        crate::kshape::batched(&[9, 9, 2])
    );
    // channels_first and unknown sizes.
    let cf = Conv2DTranspose::new(4, 3).strides(2).data_format("channels_first");
    assert_eq!(
        out(&cf, vec![vec![None, Some(3), None, Some(5)]]).0,
        vec![None, Some(4), None, Some(11)]
    );
    assert_eq!(out(&Conv2DTranspose::new(4, 3).use_bias(false), img(5, 5, 3)).1, 108);
}

#[test]
fn errors_name_layer_and_argument() {
    let e = Conv2DTranspose::new(4, 3).strides(2).output_padding(2).build(
        "conv2d_transpose_1",
        &img(5, 5, 3),
        &mut Rng::new(0),
    );
    let e = e.err().unwrap().to_string();
    assert!(
        e.contains("conv2d_transpose_1: argument `output_padding`") && e.contains("(2, 2)"),
        "{e}"
    );
    let e = Conv2DTranspose::new(0, 3)
        .build("t", &img(5, 5, 3), &mut Rng::new(0))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("filters") && e.contains("Received: filters=0"), "{e}");
    let e = Conv2DTranspose::new(4, 3)
        .build("t", &[vec![None, Some(5), Some(5), None]], &mut Rng::new(0))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("channel dimension"), "{e}");
}

#[test]
fn forward_stamps_the_kernel_and_gradients_check() {
    // One pixel of value 2, kernel of ones 2×2, stride 2: a 2×2 block of 2s, plus bias 1.
    let l = Conv2DTranspose::new(1, 2)
        .strides(2)
        .bias_initializer("ones")
        .kernel_initializer("ones")
        .build("t", &img(1, 1, 1), &mut Rng::new(0))
        .unwrap();
    let y = forward(l.as_ref(), Tensor::full(&[1, 1, 1, 1], 2.0));
    assert_eq!(y.data(), &[3.0, 3.0, 3.0, 3.0]);

    let l = Conv2DTranspose::new(2, 3)
        .strides(2)
        .padding("same")
        .activation("tanh")
        .build("t", &img(3, 2, 2), &mut Rng::new(1))
        .unwrap();
    grad_check(
        l.as_ref(),
        &[Tensor::arange(&[1, 3, 2, 2]).map(|v| v / 12.0 - 0.3)],
        true,
    );
}

#[test]
fn json_round_trip_keras2_and_explain() {
    let l = Conv2DTranspose::new(4, 3)
        .strides(2)
        .padding("same")
        .output_padding(1)
        .build("ct", &img(5, 5, 3), &mut Rng::new(0))
        .unwrap();
    let j = l.config();
    let c = Conv2DTransposeConfig::from_keras(&ConfigReader::new("Conv2DTranspose", &j).unwrap()).unwrap();
    assert_eq!(c.build("ct", &img(5, 5, 3), &mut Rng::new(0)).unwrap().config(), j);
    assert_eq!(j["output_padding"], json!([1, 1]));
    let k2 = json!({"name": "conv2d_transpose", "trainable": true, "dtype": "float32", "filters": 4, "kernel_size": [3, 3],
        "strides": [2, 2], "padding": "valid", "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1,
        "activation": "linear", "use_bias": true, "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": null}},
        "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": null, "bias_regularizer": null,
        "activity_regularizer": null, "kernel_constraint": null, "bias_constraint": null, "output_padding": null});
    let c = Conv2DTransposeConfig::from_keras(&ConfigReader::new("Conv2DTranspose", &k2).unwrap()).unwrap();
    assert_eq!((c.strides, c.output_padding), (Pair(2, 2), None));
    let lines = l.explain(&img(5, 5, 3));
    assert_eq!(lines[0], "params: (3·3·3 + 1)·4 = 112");
    assert_eq!(lines[1], "H: same: (5 − 1)·2 + 3 − 2·⌊3/2⌋ + 1 = 10");
}
