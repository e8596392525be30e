//! Tests of the activation layers (`ReLU`, `LeakyReLU`, `Softmax`, `ELU`): Keras's docstring
//! values, argument errors, Keras 3 and tf-keras 2 JSON, gradients.

use super::*;
use crate::kshape::batched;
use crate::layers::test_util::{build, err, grad_check, run};
use tensor::Tensor;

fn apply(cfg: &ActivationLayerConfig, x: &[f32]) -> Vec<f32> {
    let l = build(cfg, "l", batched(&[x.len()])).unwrap();
    run(l.as_ref(), &[Tensor::new(&[1, x.len()], x.to_vec()).unwrap()], false)
        .unwrap()
        .out[0]
        .data()
        .to_vec()
}

#[test]
fn relu_arguments_like_keras_examples() {
    // Keras's docstring: on [-10, -5, 0, 5, 10].
    let x = [-10.0, -5.0, 0.0, 5.0, 10.0];
    assert_eq!(apply(&ReLU::new(), &x), vec![0.0, 0.0, 0.0, 5.0, 10.0]);
    assert_eq!(
        apply(&ReLU::new().negative_slope(0.5), &x),
        vec![-5.0, -2.5, 0.0, 5.0, 10.0]
    );
    assert_eq!(apply(&ReLU::new().max_value(5.0), &x), vec![0.0, 0.0, 0.0, 5.0, 5.0]);
    assert_eq!(apply(&ReLU::new().threshold(5.0), &x), vec![0.0, 0.0, 0.0, 0.0, 10.0]);
    assert_eq!(
        apply(&ReLU::new().max_value(6.0), &[-1.0, 3.0, 7.0]),
        vec![0.0, 3.0, 6.0]
    );
    assert_eq!(apply(&LeakyReLU::new(), &[-1.0, 2.0]), vec![-0.3, 2.0]);
    assert_eq!(apply(&ELU::new().alpha(2.0), &[0.0, 1.0]), vec![0.0, 1.0]);
    let s = apply(&Softmax::new(), &[0.0, 0.0]);
    assert!((s[0] - 0.5).abs() < 1e-7 && (s[1] - 0.5).abs() < 1e-7);
}

#[test]
fn invalid_arguments_name_layer_and_argument() {
    let e = err(build(&ReLU::new().max_value(-1.0), "re_lu_2", batched(&[3])));
    assert_eq!(
        e,
        "re_lu_2: argument `max_value`: expected a non-negative number or None. Received: max_value=-1"
    );
    let e = err(build(&ReLU::new().negative_slope(-0.1), "re_lu", batched(&[3])));
    assert!(e.contains("`negative_slope`") && e.contains("-0.1"), "{e}");
    let e = err(build(&ReLU::new().threshold(-2.0), "re_lu", batched(&[3])));
    assert!(e.contains("`threshold`"), "{e}");
    let e = err(build(
        &LeakyReLU::new().negative_slope(-1.0),
        "leaky_re_lu",
        batched(&[3]),
    ));
    assert!(e.starts_with("leaky_re_lu: argument `negative_slope`"), "{e}");
    let e = err(build(&Softmax::new().axis(3), "softmax", batched(&[3, 4])));
    assert!(
        e.starts_with("softmax: argument `axis`") && e.contains("(None, 3, 4)") && e.ends_with("axis=3"),
        "{e}"
    );
}

#[test]
fn json_keras3_and_keras2() {
    // k_relu6.k2.json / .k3.json.
    let k2 = json!({"name": "re_lu", "trainable": true, "dtype": "float32", "max_value": 6.0, "negative_slope": 0.0, "threshold": 0.0});
    let c = ActivationLayerConfig::from_keras(&ConfigReader::new("ReLU", &k2).unwrap()).unwrap();
    let l = build(&c, "re_lu", batched(&[5, 5, 3])).unwrap();
    let j = l.config();
    assert_eq!(j["max_value"], json!(6.0));
    assert_eq!(j["dtype"]["config"]["name"], json!("float32"));
    for (class, cfg) in [
        ("ReLU", ReLU::new()),
        ("LeakyReLU", LeakyReLU::new().negative_slope(0.1)),
        ("Softmax", Softmax::new().axis(1)),
        ("ELU", ELU::new()),
    ] {
        let j = build(&cfg, "x", batched(&[3, 2])).unwrap().config();
        let back = ActivationLayerConfig::from_keras(&ConfigReader::new(class, &j).unwrap()).unwrap();
        assert_eq!(back.op, cfg.op, "{class}");
    }
    assert!(build(&ReLU::new(), "x", batched(&[2])).unwrap().config()["max_value"].is_null());
    // tf-keras 2 writes LeakyReLU's slope as `alpha`.
    let k2 = json!({"name": "leaky_re_lu", "trainable": true, "dtype": "float32", "alpha": 0.1});
    let c = ActivationLayerConfig::from_keras(&ConfigReader::new("LeakyReLU", &k2).unwrap()).unwrap();
    assert_eq!(c.op, ActivationOp::LeakyReLU { negative_slope: 0.1 });
    let c = ActivationLayerConfig::from_keras(&ConfigReader::new("Softmax", &json!({"axis": [1]})).unwrap()).unwrap();
    assert_eq!(c.op, ActivationOp::Softmax { axis: 1 });
    let e = ActivationLayerConfig::from_keras(
        &ConfigReader::new("Softmax", &json!({"name": "sm", "axis": [1, 2]})).unwrap(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("sm: argument `axis`"), "{e}");
}

#[test]
fn gradients() {
    let x = Tensor::new(&[2, 3], vec![-2.1, -0.4, 0.6, 1.3, 7.2, 3.1]).unwrap();
    for cfg in [
        ReLU::new().max_value(6.0).negative_slope(0.1).threshold(0.2),
        LeakyReLU::new(),
        Softmax::new().axis(0),
        ELU::new(),
    ] {
        let l = build(&cfg, "l", batched(&[3])).unwrap();
        grad_check(l.as_ref(), std::slice::from_ref(&x), true);
    }
}
