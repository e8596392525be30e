//! Tests of `BatchNormalization`.

use super::*;
use crate::kshape::batched;
use crate::layers::test_util::{build, close, err, grad_check, run};
use tensor::Tensor;

#[test]
fn shapes_params_and_weight_order() {
    // k_batchnorm: (None, 5, 5, 3) → 12 params, 6 trainable.
    let l = build(&BatchNormalization::new(), "batch_normalization", batched(&[5, 5, 3])).unwrap();
    assert_eq!(
        l.compute_output_shape(&[batched(&[5, 5, 3])]).unwrap(),
        vec![batched(&[5, 5, 3])]
    );
    assert_eq!(l.count_params(), 12);
    let names: Vec<(&str, bool)> = l.weights().iter().map(|w| (w.name.as_str(), w.trainable)).collect();
    assert_eq!(
        names,
        vec![
            ("gamma", true),
            ("beta", true),
            ("moving_mean", false),
            ("moving_variance", false)
        ]
    );
    assert_eq!(l.trainable_weight_list().len(), 2);
    assert_eq!(
        l.explain(&[batched(&[5, 5, 3])])[0],
        "params: 4·3 = 12 (gamma, beta trainable: 6; moving_mean, moving_variance non-trainable: 6)"
    );
    // channels_first: axis 1.
    let l = build(&BatchNormalization::new().axis(1), "bn", batched(&[64, 8, 8])).unwrap();
    assert_eq!(l.count_params(), 256);
    assert_eq!(l.weights()[0].value.shape(), &[64]);
    // Without center or scale.
    let l = build(&BatchNormalization::new().center(false), "bn", batched(&[4])).unwrap();
    let names: Vec<&str> = l.weights().iter().map(|w| w.name.as_str()).collect();
    assert_eq!(names, vec!["gamma", "moving_mean", "moving_variance"]);
    let l = build(
        &BatchNormalization::new().center(false).scale(false),
        "bn",
        batched(&[4]),
    )
    .unwrap();
    assert_eq!(l.count_params(), 8);
    assert!(l.explain(&[])[0].ends_with("(moving_mean, moving_variance non-trainable: 8)"));
}

#[test]
fn errors_name_the_layer() {
    let e = err(build(
        &BatchNormalization::new().axis(4),
        "batch_normalization_1",
        batched(&[5, 5, 3]),
    ));
    assert_eq!(e, "batch_normalization_1: argument `axis`: expected an axis in [-4, 4) for input shape (None, 5, 5, 3). Received: axis=4");
    let e = err(build(&BatchNormalization::new(), "bn", vec![None, Some(5), None]));
    assert!(
        e.starts_with("bn: the normalized (channel) dimension (axis 2) of the input must be known"),
        "{e}"
    );
    let e = err(build(&BatchNormalization::new().epsilon(-1.0), "bn", batched(&[3])));
    assert!(e.contains("`epsilon`"), "{e}");
    let j = json!({"name": "bn_r", "renorm": true});
    let e = BatchNormalizationConfig::from_keras(&ConfigReader::new("BatchNormalization", &j).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("bn_r: argument `renorm`"), "{e}");
    let l = build(&BatchNormalization::new(), "bn", batched(&[5, 3])).unwrap();
    let e = l.compute_output_shape(&[batched(&[5, 4])]).unwrap_err().to_string();
    assert!(e.contains("3 channels") && e.contains("(None, 5, 4)"), "{e}");
}

fn fixed(momentum: f64) -> BatchNormalizationConfig {
    BatchNormalization::new()
        .momentum(momentum)
        .epsilon(1.0)
        .gamma_initializer(Initializer::Constant(2.0))
        .beta_initializer(Initializer::Constant(1.0))
        .moving_mean_initializer(Initializer::Constant(1.0))
        .moving_variance_initializer(Initializer::Constant(15.0))
}

#[test]
fn inference_uses_moving_statistics() {
    // 2·(x − 1)/√(15 + 1) + 1 = (x + 1)/2.
    let l = build(&fixed(0.9), "bn", batched(&[2])).unwrap();
    let x = Tensor::arange(&[2, 2]);
    let r = run(l.as_ref(), &[x], false).unwrap();
    close(r.out[0].data(), &[0.5, 1.0, 1.5, 2.0]);
    assert!(r.updates.is_empty());
}

#[test]
fn training_uses_batch_statistics_and_reports_updates() {
    // Channel 0 sees [0, 2] (μ 1, σ² 1), channel 1 sees [1, 3] (μ 2, σ² 1):
    // y = 2·(x − μ)/√(1 + 1) + 1 = 1 ∓ √2.
    let l = build(&fixed(0.9), "bn", batched(&[2])).unwrap();
    let r = run(l.as_ref(), &[Tensor::arange(&[2, 2])], true).unwrap();
    let s = std::f32::consts::SQRT_2;
    close(r.out[0].data(), &[1.0 - s, 1.0 - s, 1.0 + s, 1.0 + s]);
    // moving ← moving·0.9 + batch·0.1 (Keras 3: the biased batch variance).
    assert_eq!(r.updates.len(), 2);
    assert_eq!(r.updates[0].0, 2);
    close(r.updates[0].1.data(), &[1.0, 1.1]);
    assert_eq!(r.updates[1].0, 3);
    close(r.updates[1].1.data(), &[13.6, 13.6]);
    // Without γ, β the moving statistics are still weights 0 and 1 of the layer.
    let l = build(
        &BatchNormalization::new().center(false).scale(false),
        "bn",
        batched(&[2]),
    )
    .unwrap();
    let r = run(l.as_ref(), &[Tensor::arange(&[2, 2])], true).unwrap();
    assert_eq!((r.updates[0].0, r.updates[1].0), (0, 1));
}

#[test]
fn frozen_layer_runs_in_inference_mode() {
    let mut l = build(&fixed(0.9), "bn", batched(&[2])).unwrap();
    l.set_trainable(false);
    let r = run(l.as_ref(), &[Tensor::arange(&[2, 2])], true).unwrap();
    close(r.out[0].data(), &[0.5, 1.0, 1.5, 2.0]);
    assert!(r.updates.is_empty());
    assert!(l.trainable_weight_list().is_empty());
    assert!(l.explain(&[])[0].contains("gamma, beta frozen, non-trainable: 4"));
}

#[test]
fn gradients_in_both_modes() {
    let x = Tensor::new(
        &[3, 2, 2],
        vec![0.3, -1.2, 2.1, 0.7, -0.4, 1.5, 0.9, -2.2, 1.1, 0.2, -0.8, 1.9],
    )
    .unwrap();
    let l = build(&fixed(0.9).axis(1), "bn", batched(&[2, 2])).unwrap();
    grad_check(l.as_ref(), std::slice::from_ref(&x), true);
    grad_check(l.as_ref(), &[x], false);
}

#[test]
fn regularizers_and_constraints_on_gamma_and_beta() {
    let cfg = fixed(0.9)
        .gamma_regularizer(Regularizer::l2(0.5))
        .beta_regularizer(Regularizer::l1(1.0))
        .gamma_constraint(Constraint::NonNeg);
    let mut l = build(&cfg.gamma_initializer(Initializer::Constant(-2.0)), "bn", batched(&[3])).unwrap();
    let mut tape = Tape::new();
    let ws: Vec<Var> = l.weights().iter().map(|w| tape.param(w.value.clone())).collect();
    let p = l.regularization(&mut tape, &ws).unwrap().unwrap();
    // 0.5·3·(−2)² + 1·3·|1| = 9.
    close(tape.value(p).data(), &[9.0]);
    l.apply_constraints();
    assert_eq!(l.weights()[0].value.data(), &[0.0, 0.0, 0.0]);
}

#[test]
fn json_matches_keras3_and_reads_keras2() {
    // The layer config of k_batchnorm.k3.json, exactly.
    let k3 = json!({"name": "batch_normalization", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "axis": -1, "momentum": 0.99, "epsilon": 0.001, "center": true, "scale": true, "beta_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null}, "gamma_initializer": {"module": "keras.initializers", "class_name": "Ones", "config": {}, "registered_name": null}, "moving_mean_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null}, "moving_variance_initializer": {"module": "keras.initializers", "class_name": "Ones", "config": {}, "registered_name": null}, "beta_regularizer": null, "gamma_regularizer": null, "beta_constraint": null, "gamma_constraint": null, "synchronized": false, "renorm": false, "renorm_clipping": null, "renorm_momentum": 0.99});
    let c = BatchNormalizationConfig::from_keras(&ConfigReader::new("BatchNormalization", &k3).unwrap()).unwrap();
    let l = build(&c, "batch_normalization", batched(&[5, 5, 3])).unwrap();
    assert_eq!(l.config(), k3);
    // tf-keras 2 writes the axis as a list.
    let k2 = json!({"name": "batch_normalization", "trainable": true, "dtype": "float32", "axis": [3], "momentum": 0.99, "epsilon": 0.001, "center": true, "scale": true, "beta_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null}, "gamma_initializer": {"module": "keras.initializers", "class_name": "Ones", "config": {}, "registered_name": null}, "moving_mean_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null}, "moving_variance_initializer": {"module": "keras.initializers", "class_name": "Ones", "config": {}, "registered_name": null}, "beta_regularizer": null, "gamma_regularizer": null, "beta_constraint": null, "gamma_constraint": null});
    let c = BatchNormalizationConfig::from_keras(&ConfigReader::new("BatchNormalization", &k2).unwrap()).unwrap();
    assert_eq!(c.axis, 3);
    assert_eq!(
        build(&c, "batch_normalization", batched(&[5, 5, 3]))
            .unwrap()
            .count_params(),
        12
    );
    // Round trip of a non-default config.
    let cfg = BatchNormalization::new()
        .axis(1)
        .momentum(0.9)
        .epsilon(1e-5)
        .center(false)
        .gamma_regularizer(Regularizer::l2(1e-4))
        .trainable(false);
    let j = build(&cfg, "bn", batched(&[3, 4, 4])).unwrap().config();
    let back = BatchNormalizationConfig::from_keras(&ConfigReader::new("BatchNormalization", &j).unwrap()).unwrap();
    assert_eq!(build(&back, "bn", batched(&[3, 4, 4])).unwrap().config(), j);
    assert!(!back.trainable);
}
