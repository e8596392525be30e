//! Tests of `Dense` and `Activation`.

use super::*;
use crate::kshape::batched;
use crate::layers::test_util::{build, close, err, grad_check, run};
use serde_json::json;
use tensor::Tensor;

#[test]
fn dense_shapes_and_params_match_keras() {
    // (input shape, units, use_bias) → output shape, params (seed index: b_mlp, e_dense_nobias, k_dense_on_4d).
    let cases: [(Shape, usize, bool, Shape, u64); 4] = [
        (batched(&[784]), 64, true, batched(&[64]), 50_240),
        (batched(&[2]), 2, false, batched(&[2]), 4),
        (batched(&[4, 4, 3]), 5, true, batched(&[4, 4, 5]), 20),
        (vec![None, None, Some(32)], 10, true, vec![None, None, Some(10)], 330),
    ];
    for (input, units, bias, out, params) in cases {
        let l = build(&Dense::new(units).use_bias(bias), "dense", input.clone()).unwrap();
        assert_eq!(l.compute_output_shape(std::slice::from_ref(&input)).unwrap(), vec![out]);
        assert_eq!(l.count_params(), params);
        let names: Vec<&str> = l.weights().iter().map(|w| w.name.as_str()).collect();
        assert_eq!(names, if bias { vec!["kernel", "bias"] } else { vec!["kernel"] });
    }
    let l = build(&Dense::new(10), "dense", batched(&[8, 8, 32])).unwrap();
    assert_eq!(
        l.explain(&[batched(&[8, 8, 32])])[0],
        "params: (32 + 1)·10 = 330, applied to the last axis"
    );
    let l = build(&Dense::new(64), "dense", batched(&[784])).unwrap();
    assert_eq!(l.explain(&[batched(&[784])])[0], "params: (784 + 1)·64 = 50,240");
}

#[test]
fn dense_errors_name_the_layer() {
    let e = err(build(&Dense::new(0), "dense_3", batched(&[4])));
    assert_eq!(
        e,
        "dense_3: argument `units`: expected a positive integer. Received: units=0"
    );
    let e = err(build(&Dense::new(4), "dense_1", vec![None, Some(3), None]));
    assert!(
        e.starts_with("dense_1: the last dimension of the input must be known") && e.contains("(None, 3, None)"),
        "{e}"
    );
    let e = err(build(&Dense::new(4), "dense_2", vec![None]));
    assert!(
        e.starts_with("dense_2: expected an input of rank ≥ 2") && e.contains("(None,)"),
        "{e}"
    );
    let e = err(build(&Dense::new(4).activation("rleu"), "dense_4", batched(&[3])));
    assert!(
        e.starts_with("dense_4: argument `activation`: expected one of") && e.ends_with("Received: activation=rleu"),
        "{e}"
    );
    let e = err(build(
        &Dense::new(4).kernel_initializer("glorot_unifrom"),
        "dense_5",
        batched(&[3]),
    ));
    assert!(
        e.contains("dense_5") && e.contains("kernel_initializer") && e.contains("glorot_unifrom"),
        "{e}"
    );
    let l = build(&Dense::new(4), "dense_6", batched(&[3])).unwrap();
    let e = l.compute_output_shape(&[batched(&[5])]).unwrap_err().to_string();
    assert!(
        e.contains("dense_6") && e.contains("size 3") && e.contains("(None, 5)"),
        "{e}"
    );
}

#[test]
fn dense_forward_by_hand() {
    let cfg = Dense::new(2)
        .kernel_initializer(Initializer::Ones)
        .bias_initializer(Initializer::Constant(0.5));
    let l = build(&cfg, "dense", batched(&[3])).unwrap();
    // Rows [0, 1, 2] and [3, 4, 5]: sums 3 and 12, plus 0.5 in both units.
    let r = run(l.as_ref(), &[Tensor::arange(&[2, 3])], false).unwrap();
    assert_eq!(r.out[0].shape(), &[2, 2]);
    close(r.out[0].data(), &[3.5, 3.5, 12.5, 12.5]);
    // On a 4-D input only the last axis is multiplied.
    let l = build(&cfg.clone().activation("relu"), "dense", batched(&[1, 2, 3])).unwrap();
    let x = Tensor::new(&[1, 1, 2, 3], vec![-1.0, -2.0, -3.0, 1.0, 1.0, 1.0]).unwrap();
    let r = run(l.as_ref(), &[x], false).unwrap();
    assert_eq!(r.out[0].shape(), &[1, 1, 2, 2]);
    close(r.out[0].data(), &[0.0, 0.0, 3.5, 3.5]);
}

#[test]
fn dense_gradients() {
    let l = build(
        &Dense::new(3)
            .activation("tanh")
            .bias_initializer(Initializer::Constant(0.1)),
        "dense",
        batched(&[4]),
    )
    .unwrap();
    grad_check(l.as_ref(), &[Tensor::arange(&[2, 4]).map(|v| v * 0.1 - 0.3)], true);
    let l = build(&Dense::new(2).use_bias(false), "dense", batched(&[2, 3])).unwrap();
    grad_check(l.as_ref(), &[Tensor::arange(&[2, 2, 3]).map(|v| v * 0.1)], true);
}

#[test]
fn dense_regularizers_and_constraints() {
    let cfg = Dense::new(2)
        .kernel_initializer(Initializer::Ones)
        .kernel_regularizer(Regularizer::l2(0.5))
        .bias_regularizer(Regularizer::l1(1.0))
        .bias_initializer(Initializer::Constant(-1.0))
        .activity_regularizer(Regularizer::l1(0.1))
        .kernel_constraint(Constraint::MaxNorm {
            max_value: 1.0,
            axis: vec![0],
        });
    let mut l = build(&cfg, "dense", batched(&[2])).unwrap();
    let mut tape = Tape::new();
    let ws: Vec<Var> = l.weights().iter().map(|w| tape.param(w.value.clone())).collect();
    let p = l.regularization(&mut tape, &ws).unwrap().unwrap();
    // 0.5·(4 ones²) + 1·(|−1| + |−1|) = 4.
    close(tape.value(p).data(), &[4.0]);
    // Activity: Σ|y|·0.1 over the batch, divided by the batch size (2): y = [[0, 0], [2, 2]] → 0.2.
    let x = Tensor::new(&[2, 2], vec![0.5, 0.5, 1.5, 1.5]).unwrap();
    let r = run(l.as_ref(), &[x], true).unwrap();
    close(&r.losses, &[0.2]);
    l.apply_constraints();
    let k = l.weights()[0].value.data().to_vec();
    assert!(
        k.iter().all(|v| (v - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-5),
        "{k:?}"
    );
    l.set_trainable(false);
    assert!(l.regularization(&mut tape, &ws).unwrap().is_none());
}

#[test]
fn dense_json_round_trip_and_keras2() {
    let cfg = Dense::new(7)
        .activation("swish")
        .use_bias(false)
        .kernel_initializer("he_normal")
        .kernel_regularizer(Regularizer::l2(1e-4))
        .activity_regularizer(Regularizer::l1(1e-3))
        .bias_constraint(Constraint::NonNeg);
    let l = build(&cfg, "dense_9", batched(&[3])).unwrap();
    let j = l.config();
    assert_eq!(j["activation"], json!("silu"));
    assert_eq!(j["dtype"]["class_name"], json!("DTypePolicy"));
    assert_eq!(j["activity_regularizer"]["class_name"], json!("L1"));
    let back = DenseConfig::from_keras(&ConfigReader::new("Dense", &j).unwrap()).unwrap();
    let l2 = build(&back, "dense_9", batched(&[3])).unwrap();
    assert_eq!(l2.config(), j);
    // Without an activity regularizer Keras 3 writes no such key.
    let plain = build(&Dense::new(2), "d", batched(&[3])).unwrap().config();
    assert!(plain.get("activity_regularizer").is_none() && plain["quantization_config"].is_null());
    // tf-keras 2 (b_mlp.k2.json's first layer).
    let k2 = json!({"name": "dense", "trainable": true, "dtype": "float32", "batch_input_shape": [null, 784], "units": 64,
        "activation": "relu", "use_bias": true,
        "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null}, "registered_name": null},
        "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null},
        "kernel_regularizer": null, "bias_regularizer": null, "activity_regularizer": null, "kernel_constraint": null, "bias_constraint": null});
    let c = DenseConfig::from_keras(&ConfigReader::new("Dense", &k2).unwrap()).unwrap();
    assert_eq!(
        (c.units, c.activation.as_str(), c.use_bias, c.name.as_deref()),
        (64, "relu", true, Some("dense"))
    );
    let bad = json!({"name": "dense_2", "units": 4, "activation": "relu7"});
    let e = DenseConfig::from_keras(&ConfigReader::new("Dense", &bad).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("dense_2: argument `activation`") && e.contains("relu7"),
        "{e}"
    );
    let frozen = json!({"name": "dense_3", "units": 4, "trainable": false});
    assert!(
        !DenseConfig::from_keras(&ConfigReader::new("Dense", &frozen).unwrap())
            .unwrap()
            .trainable
    );
}

#[test]
fn activation_layer() {
    let l = build(&Activation::new("relu"), "activation", batched(&[2, 2])).unwrap();
    assert_eq!(
        l.compute_output_shape(&[batched(&[2, 2])]).unwrap(),
        vec![batched(&[2, 2])]
    );
    let x = Tensor::new(&[1, 2, 2], vec![-1.0, 2.0, 0.0, -3.0]).unwrap();
    close(
        run(l.as_ref(), &[x], false).unwrap().out[0].data(),
        &[0.0, 2.0, 0.0, 0.0],
    );
    let j = l.config();
    assert_eq!(j["activation"], json!("relu"));
    let back = ActivationConfig::from_keras(&ConfigReader::new("Activation", &j).unwrap()).unwrap();
    assert_eq!(build(&back, "activation", batched(&[2])).unwrap().config(), j);
    let k2 = json!({"name": "activation", "trainable": true, "dtype": "float32", "activation": "softmax"});
    let c = ActivationConfig::from_keras(&ConfigReader::new("Activation", &k2).unwrap()).unwrap();
    let l = build(&c, "activation", batched(&[3])).unwrap();
    let r = run(l.as_ref(), &[Tensor::new(&[1, 3], vec![0.0, 0.0, 0.0]).unwrap()], false).unwrap();
    close(r.out[0].data(), &[1.0 / 3.0; 3]);
    let e = err(build(&Activation::new("sigmod"), "activation_2", batched(&[3])));
    assert!(
        e.starts_with("activation_2: argument `activation`: expected one of") && e.contains("sigmod"),
        "{e}"
    );
    let l = build(&Activation::new("sigmoid"), "activation", batched(&[3])).unwrap();
    grad_check(l.as_ref(), &[Tensor::arange(&[2, 3]).map(|v| v * 0.3 - 0.7)], true);
}
