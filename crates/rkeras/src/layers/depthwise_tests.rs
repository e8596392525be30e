//! Tests of `DepthwiseConv2D` and `SeparableConv2D`. Expected shapes and parameter counts
//! are Keras's (reference/keras/seed/index.json: `k_depthwise_*`, `k_separable*`).

use super::*;
use crate::layers::test_util::{copy_weights, forward, grad_check, img};
use serde_json::json;
use tensor::Tensor;

fn shape_params(cfg: &dyn LayerConfig, input: Vec<Shape>) -> (Shape, u64, Vec<String>) {
    let l = cfg.build("l", &input, &mut Rng::new(0)).unwrap();
    let names = l
        .weights()
        .iter()
        .map(|w| format!("{}{:?}", w.name, w.value.shape()))
        .collect();
    (
        l.compute_output_shape(&input).unwrap().remove(0),
        l.count_params(),
        names,
    )
}

#[test]
fn shapes_params_and_weight_names_match_keras() {
    let b = crate::kshape::batched;
    let (s, p, names) = shape_params(&DepthwiseConv2D::new(3).depth_multiplier(2), img(8, 8, 3));
    assert_eq!((s, p), (b(&[6, 6, 6]), 60));
    assert_eq!(names, vec!["kernel[3, 3, 3, 2]", "bias[6]"]);
    let (s, p, _) = shape_params(&DepthwiseConv2D::new(3).strides(2).padding("same"), img(7, 7, 3));
    assert_eq!((s, p), (b(&[4, 4, 3]), 30));
    let (s, p, names) = shape_params(&SeparableConv2D::new(8, 3), img(8, 8, 3));
    assert_eq!((s, p), (b(&[6, 6, 8]), 59));
    assert_eq!(
        names,
        vec![
            "depthwise_kernel[3, 3, 3, 1]",
            "pointwise_kernel[1, 1, 3, 8]",
            "bias[8]"
        ]
    );
    let (s, p, _) = shape_params(
        &SeparableConv2D::new(8, 3).depth_multiplier(2).padding("same"),
        img(8, 8, 3),
    );
    assert_eq!((s, p), (b(&[8, 8, 8]), 110));
    let cf = DepthwiseConv2D::new(3)
        .depth_multiplier(2)
        .data_format("channels_first");
    assert_eq!(shape_params(&cf, vec![b(&[3, 8, 8])]).0, b(&[6, 6, 6]));
    let any = vec![vec![None, None, Some(5), Some(4)]];
    assert_eq!(
        shape_params(&SeparableConv2D::new(2, 3).dilation_rate(2), any).0,
        vec![None, None, Some(1), Some(2)]
    );
}

#[test]
fn errors_name_the_layer_and_argument() {
    let e = DepthwiseConv2D::new(3)
        .depth_multiplier(0)
        .build("depthwise_conv2d_2", &img(8, 8, 3), &mut Rng::new(0));
    let e = e.err().unwrap().to_string();
    assert!(
        e.starts_with("depthwise_conv2d_2: argument `depth_multiplier`") && e.contains("=0"),
        "{e}"
    );
    let e = SeparableConv2D::new(0, 3)
        .build("s", &img(8, 8, 3), &mut Rng::new(0))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("filters"), "{e}");
    let e = SeparableConv2D::new(4, 9)
        .build("s", &img(8, 8, 3), &mut Rng::new(0))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("s: height:") && e.contains("(8 + 0 − 9)/1 + 1 < 1"), "{e}");
    let j = json!({"name": "d", "kernel_size": [3, 3], "padding": "sideways"});
    let e = DepthwiseConv2DConfig::from_keras(&ConfigReader::new("DepthwiseConv2D", &j).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("d: argument `padding`") && e.contains("sideways"), "{e}");
    let j = json!({"name": "d", "kernel_size": [3, 3], "groups": 2});
    assert!(DepthwiseConv2DConfig::from_keras(&ConfigReader::new("DepthwiseConv2D", &j).unwrap()).is_err());
}

#[test]
fn forward_values_by_hand() {
    // Depthwise, ones kernel 2×2, multiplier 2, on channels [1, 10]: each output channel is
    // the window sum of its input channel: [4, 4, 40, 40].
    let l = DepthwiseConv2D::new(2)
        .depth_multiplier(2)
        .depthwise_initializer("ones")
        .build("d", &img(2, 2, 2), &mut Rng::new(0))
        .unwrap();
    let x = Tensor::new(&[1, 2, 2, 2], vec![1., 10., 1., 10., 1., 10., 1., 10.]).unwrap();
    assert_eq!(forward(l.as_ref(), x.clone()).data(), &[4., 4., 40., 40.]);
    // Separable: then a ones 1×1 pointwise into 1 filter, bias 1: 4 + 4 + 40 + 40 + 1 = 89.
    let s = SeparableConv2D::new(1, 2)
        .depth_multiplier(2)
        .depthwise_initializer("ones")
        .pointwise_initializer("ones")
        .bias_initializer("ones")
        .build("s", &img(2, 2, 2), &mut Rng::new(0))
        .unwrap();
    assert_eq!(forward(s.as_ref(), x).data(), &[89.]);
}

#[test]
fn channels_first_matches_channels_last() {
    let cl = SeparableConv2D::new(3, 3)
        .depth_multiplier(2)
        .padding("same")
        .build("s", &img(5, 4, 2), &mut Rng::new(3))
        .unwrap();
    let cf_cfg = SeparableConv2D::new(3, 3)
        .depth_multiplier(2)
        .padding("same")
        .data_format("channels_first");
    let mut cf = cf_cfg
        .build("s", &[crate::kshape::batched(&[2, 5, 4])], &mut Rng::new(4))
        .unwrap();
    copy_weights(cl.as_ref(), cf.as_mut());
    let x = Tensor::arange(&[1, 5, 4, 2]).map(|v| (v * 0.7).sin());
    let y = forward(cl.as_ref(), x.clone());
    let ycf = forward(
        cf.as_ref(),
        tensor::ops::shape_ops::transpose(&x, &[0, 3, 1, 2]).unwrap(),
    );
    assert!(tensor::ops::shape_ops::transpose(&ycf, &[0, 2, 3, 1])
        .unwrap()
        .allclose(&y, 1e-6, 1e-6));
}

#[test]
fn gradients_match_finite_differences() {
    let d = DepthwiseConv2D::new(3)
        .depth_multiplier(2)
        .strides(2)
        .padding("same")
        .activation("tanh");
    let d = d.build("d", &img(4, 5, 2), &mut Rng::new(1)).unwrap();
    grad_check(
        d.as_ref(),
        &[Tensor::arange(&[1, 4, 5, 2]).map(|v| (v * 0.4).cos())],
        true,
    );
    let s = SeparableConv2D::new(2, 2)
        .depth_multiplier(2)
        .activation("sigmoid")
        .build("s", &img(3, 3, 2), &mut Rng::new(2))
        .unwrap();
    grad_check(
        s.as_ref(),
        &[Tensor::arange(&[2, 3, 3, 2]).map(|v| (v * 0.4).sin())],
        true,
    );
}

#[test]
fn config_round_trips_reads_keras2_and_explains() {
    let d = DepthwiseConv2D::new(3)
        .depth_multiplier(2)
        .strides(2)
        .activation("relu6")
        .build("d", &img(7, 7, 3), &mut Rng::new(0))
        .unwrap();
    let j = d.config();
    let again = DepthwiseConv2DConfig::from_keras(&ConfigReader::new("DepthwiseConv2D", &j).unwrap()).unwrap();
    assert_eq!(again.build("d", &img(7, 7, 3), &mut Rng::new(0)).unwrap().config(), j);
    assert_eq!(j["depth_multiplier"], json!(2));
    let s = SeparableConv2D::new(8, 3)
        .depth_multiplier(2)
        .padding("same")
        .use_bias(false)
        .build("s", &img(8, 8, 3), &mut Rng::new(0))
        .unwrap();
    let j = s.config();
    let again = SeparableConv2DConfig::from_keras(&ConfigReader::new("SeparableConv2D", &j).unwrap()).unwrap();
    assert_eq!(again.build("s", &img(8, 8, 3), &mut Rng::new(0)).unwrap().config(), j);
    // tf-keras 2's SeparableConv2D also writes the unused kernel_* arguments and groups.
    let k2 = json!({"name": "separable_conv2d", "trainable": true, "dtype": "float32", "filters": 8, "kernel_size": [3, 3],
        "strides": [1, 1], "padding": "same", "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1,
        "activation": "linear", "use_bias": true, "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": null}},
        "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": null, "bias_regularizer": null,
        "activity_regularizer": null, "kernel_constraint": null, "bias_constraint": null, "depth_multiplier": 2,
        "depthwise_initializer": {"class_name": "GlorotUniform", "config": {"seed": null}},
        "pointwise_initializer": {"class_name": "GlorotUniform", "config": {"seed": null}},
        "depthwise_regularizer": null, "pointwise_regularizer": {"class_name": "L2", "config": {"l2": 0.001}},
        "depthwise_constraint": null, "pointwise_constraint": null});
    let c = SeparableConv2DConfig::from_keras(&ConfigReader::new("SeparableConv2D", &k2).unwrap()).unwrap();
    assert_eq!(
        (c.depth_multiplier, c.pointwise_regularizer),
        (2, Some(Regularizer::l2(0.001)))
    );
    assert_eq!(d.explain(&img(7, 7, 3))[0], "params: (3·3 + 1)·3·2 = 60");
    assert_eq!(d.explain(&img(7, 7, 3))[1], "H: ⌊(7 + 0 − 3)/2⌋ + 1 = 3");
    assert_eq!(
        s.explain(&img(8, 8, 3))[0],
        "params: 3·3·3·2 (depthwise) + 3·2·8 (pointwise) = 102"
    );
}
