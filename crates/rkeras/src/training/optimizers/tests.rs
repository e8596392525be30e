//! Optimizer unit tests: hand-checked updates, Keras's variable order, clipping, errors.

use super::*;

fn step(opt: &mut Optimizer, w: &[f32], g: &[f32]) -> Vec<f32> {
    let mut p = [Param::new(
        7,
        "d/kernel",
        Tensor::new(&[w.len()], w.to_vec()).unwrap(),
        Tensor::new(&[g.len()], g.to_vec()).unwrap(),
    )];
    opt.apply(&mut p).unwrap();
    p[0].value.data().to_vec()
}

#[test]
fn sgd_plain_and_momentum() {
    let mut o = Optimizer::sgd().learning_rate(0.1);
    assert_eq!(step(&mut o, &[1.0], &[2.0]), vec![0.8]);
    let mut o = Optimizer::sgd().learning_rate(0.1).momentum(0.5);
    let w = step(&mut o, &[1.0], &[1.0]); // m = -0.1, w = 0.9
    let w = step(&mut o, &w, &[1.0]); // m = -0.05 - 0.1 = -0.15, w = 0.75
    assert!((w[0] - 0.75).abs() < 1e-6);
    let mut o = Optimizer::sgd().learning_rate(0.1).momentum(0.5).nesterov(true);
    let w = step(&mut o, &[1.0], &[1.0]); // m = -0.1, w += -0.05 - 0.1
    assert!((w[0] - 0.85).abs() < 1e-6);
}

#[test]
fn adam_first_step_moves_by_lr() {
    // Step 1: m = 0.1g, v = 0.001g², alpha = lr·√0.001/0.1, so Δ = lr·g/(|g| + ε·√0.001).
    let mut o = Optimizer::adam().learning_rate(0.01);
    let w = step(&mut o, &[1.0, 1.0], &[0.5, -2.0]);
    assert!((w[0] - 0.99).abs() < 1e-5 && (w[1] - 1.01).abs() < 1e-5, "{w:?}");
    assert_eq!(o.iterations(), 1);
}

#[test]
fn variables_in_keras_order() {
    let mut o = Optimizer::adam().amsgrad(true).name("adam");
    o.build(&[
        (1, "seq/d/kernel".into(), vec![2, 2]),
        (2, "seq/d/bias".into(), vec![2]),
    ]);
    let names: Vec<String> = o.variables().into_iter().map(|v| v.name).collect();
    assert_eq!(
        names,
        [
            "adam/iteration",
            "adam/learning_rate",
            "adam/seq_d_kernel_momentum",
            "adam/seq_d_kernel_velocity",
            "adam/seq_d_bias_momentum",
            "adam/seq_d_bias_velocity",
            "adam/seq_d_kernel_velocity_hat",
            "adam/seq_d_bias_velocity_hat"
        ]
    );
    let vals: Vec<Tensor> = o.variables().into_iter().map(|v| v.value).collect();
    o.set_variables(&vals).unwrap();
    assert!(o.set_variables(&vals[1..]).is_err());
}

#[test]
fn clipping_and_errors() {
    let mut o = Optimizer::sgd().learning_rate(1.0).clipnorm(1.0);
    let w = step(&mut o, &[0.0, 0.0], &[3.0, 4.0]);
    assert!((w[0] + 0.6).abs() < 1e-6 && (w[1] + 0.8).abs() < 1e-6);
    let mut o = Optimizer::sgd().learning_rate(1.0).clipvalue(0.5);
    assert_eq!(step(&mut o, &[0.0, 0.0], &[3.0, -0.25]), vec![-0.5, 0.25]);
    assert!(Optimizer::adam().nesterov(true).validate().is_err());
    assert!(Optimizer::sgd().clipnorm(1.0).clipvalue(1.0).validate().is_err());
    assert!(Optimizer::sgd().momentum(1.5).validate().is_err());
    assert!(Optimizer::get("nadamx").is_err());
}

#[test]
fn config_round_trip() {
    let o = Optimizer::rmsprop().momentum(0.5).centered(true).name("rms");
    let back = Optimizer::from_config("RMSprop", &o.config()).unwrap();
    assert_eq!(back.config(), o.config());
}
