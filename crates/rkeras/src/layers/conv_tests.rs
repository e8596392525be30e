//! Tests of `Conv2D` (and the shared conv arguments through it). Expected shapes and
//! parameter counts are Keras's (reference/keras/seed/index.json, the `k_conv_*` cases).

use super::*;
use crate::layers::test_util::{copy_weights, forward, grad_check, img};
use crate::layers::CallCtx;
use crate::regularizers::Regularizer;
use serde_json::json;
use tensor::Tensor;

fn build(cfg: &Conv2DConfig, input: &[Shape]) -> Box<dyn Layer> {
    cfg.build("conv2d", input, &mut Rng::new(0)).unwrap()
}

fn shape_params(cfg: &Conv2DConfig, input: Vec<Shape>) -> (Shape, u64) {
    let l = build(cfg, &input);
    (l.compute_output_shape(&input).unwrap().remove(0), l.count_params())
}

fn err(cfg: &Conv2DConfig, input: Vec<Shape>) -> String {
    cfg.build("conv2d_3", &input, &mut Rng::new(0))
        .err()
        .expect("an error")
        .to_string()
}

#[test]
fn shapes_and_params_match_keras_seed_cases() {
    let b = crate::kshape::batched;
    assert_eq!(
        shape_params(&Conv2D::new(4, 3).strides(2).padding("same"), img(7, 7, 3)),
        (b(&[4, 4, 4]), 112)
    );
    assert_eq!(
        shape_params(&Conv2D::new(4, 3).strides(2), img(7, 7, 3)),
        (b(&[3, 3, 4]), 112)
    );
    assert_eq!(
        shape_params(&Conv2D::new(4, 3).strides(2).padding("same"), img(8, 8, 3)),
        (b(&[4, 4, 4]), 112)
    );
    assert_eq!(
        shape_params(&Conv2D::new(4, 3).dilation_rate(2), img(9, 9, 3)),
        (b(&[5, 5, 4]), 112)
    );
    assert_eq!(
        shape_params(&Conv2D::new(4, 3).dilation_rate(2).padding("same"), img(9, 9, 3)),
        (b(&[9, 9, 4]), 112)
    );
    assert_eq!(
        shape_params(&Conv2D::new(6, 3).groups(2), img(8, 8, 4)),
        (b(&[6, 6, 6]), 114)
    );
    assert_eq!(
        shape_params(&Conv2D::new(4, 3).use_bias(false), img(8, 8, 3)),
        (b(&[6, 6, 4]), 108)
    );
    assert_eq!(
        shape_params(&Conv2D::new(4, (3, 2)).strides((2, 1)).padding("same"), img(9, 8, 3)),
        (b(&[5, 8, 4]), 76)
    );
    let cf = Conv2D::new(4, 3).data_format("channels_first");
    assert_eq!(shape_params(&cf, vec![b(&[3, 8, 8])]), (b(&[4, 6, 6]), 112));
    // The tutorials' first layer, and unknown spatial sizes (a fully convolutional input).
    assert_eq!(
        shape_params(&Conv2D::new(32, 3), img(28, 28, 1)),
        (b(&[26, 26, 32]), 320)
    );
    let any = vec![vec![None, None, None, Some(3)]];
    assert_eq!(
        shape_params(&Conv2D::new(8, 3).padding("same"), any).0,
        vec![None, None, None, Some(8)]
    );
}

#[test]
fn errors_name_the_layer_and_argument() {
    let e = err(&Conv2D::new(0, 3), img(8, 8, 3));
    assert!(
        e.contains("conv2d_3: argument `filters`") && e.contains("Received: filters=0"),
        "{e}"
    );
    let e = err(&Conv2D::new(4, 3).padding("vaild"), img(8, 8, 3));
    assert_eq!(
        e,
        "conv2d_3: argument `padding`: expected one of \"valid\", \"same\". Received: padding=vaild"
    );
    let e = err(&Conv2D::new(4, 3).activation("rleu"), img(8, 8, 3));
    assert!(
        e.contains("argument `activation`") && e.contains("Received: activation=rleu"),
        "{e}"
    );
    let e = err(&Conv2D::new(4, 3).kernel_initializer("glorot_unifrom"), img(8, 8, 3));
    assert!(e.contains("kernel_initializer") && e.contains("glorot_unifrom"), "{e}");
    let e = err(&Conv2D::new(4, 3).data_format("channel_last"), img(8, 8, 3));
    assert!(e.contains("data_format") && e.contains("channel_last"), "{e}");
    let e = err(&Conv2D::new(4, 5), img(3, 3, 1));
    assert!(
        e.contains("conv2d_3: height:") && e.contains("(3 + 0 − 5)/1 + 1 < 1"),
        "{e}"
    );
    let e = err(&Conv2D::new(4, 3).groups(3), img(8, 8, 3));
    assert!(e.contains("groups") && e.contains("divisor of filters (4)"), "{e}");
    let e = err(&Conv2D::new(6, 3).groups(2), img(8, 8, 3));
    assert!(e.contains("groups") && e.contains("input channels (3"), "{e}");
    let e = err(&Conv2D::new(4, 3).strides(2).dilation_rate(2), img(8, 8, 3));
    assert!(e.contains("dilation_rate > 1"), "{e}");
    let e = err(&Conv2D::new(4, 3), vec![vec![None, Some(8), Some(3)]]);
    assert!(e.contains("expected a 4-D input") && e.contains("(None, 8, 3)"), "{e}");
    let e = err(&Conv2D::new(4, 3), vec![vec![None, Some(8), Some(8), None]]);
    assert!(e.contains("channel dimension"), "{e}");
    let e = err(&Conv2D::new(4, 3), vec![]);
    assert!(e.contains("expected 1 input"), "{e}");
}

#[test]
fn forward_on_ones_counts_the_window_overlap() {
    // Ones kernel 3×3, `same`: corners see 4 ones, edges 6, the centre 9; bias 1 on top.
    let l = build(
        &Conv2D::new(1, 3)
            .padding("same")
            .kernel_initializer("ones")
            .bias_initializer("ones"),
        &img(3, 3, 1),
    );
    let y = forward(l.as_ref(), Tensor::ones(&[1, 3, 3, 1]));
    assert_eq!(y.data(), &[5., 7., 5., 7., 10., 7., 5., 7., 5.]);
    // relu clips: a constant −1 kernel gives negatives → 0.
    let l = build(
        &Conv2D::new(1, 2)
            .activation("relu")
            .kernel_initializer(Initializer::Constant(-1.0)),
        &img(2, 2, 1),
    );
    assert_eq!(forward(l.as_ref(), Tensor::ones(&[1, 2, 2, 1])).data(), &[0.0]);
}

#[test]
fn channels_first_equals_channels_last_on_transposed_data() {
    let cl = build(
        &Conv2D::new(4, 3).strides(2).padding("same").activation("tanh"),
        &img(7, 6, 3),
    );
    let mut cf = build(
        &Conv2D::new(4, 3)
            .strides(2)
            .padding("same")
            .activation("tanh")
            .data_format("channels_first"),
        &[crate::kshape::batched(&[3, 7, 6])],
    );
    copy_weights(cl.as_ref(), cf.as_mut());
    let x = Tensor::arange(&[2, 7, 6, 3]).map(|v| (v * 0.37).sin());
    let y_cl = forward(cl.as_ref(), x.clone());
    let x_cf = tensor::ops::shape_ops::transpose(&x, &[0, 3, 1, 2]).unwrap();
    let y_cf = forward(cf.as_ref(), x_cf);
    assert_eq!(y_cf.shape(), &[2, 4, 4, 3]);
    let back = tensor::ops::shape_ops::transpose(&y_cf, &[0, 2, 3, 1]).unwrap();
    assert!(back.allclose(&y_cl, 1e-6, 1e-6));
}

#[test]
fn gradients_match_finite_differences() {
    let l = build(
        &Conv2D::new(2, 3)
            .strides(2)
            .padding("same")
            .groups(2)
            .activation("tanh"),
        &img(4, 3, 2),
    );
    grad_check(
        l.as_ref(),
        &[Tensor::arange(&[2, 4, 3, 2]).map(|v| (v * 0.3).cos())],
        true,
    );
}

#[test]
fn regularizers_constraints_and_activity_loss() {
    let cfg = Conv2D::new(2, 1)
        .kernel_initializer("ones")
        .bias_initializer(Initializer::Constant(-2.0))
        .kernel_regularizer(Regularizer::l2(0.5))
        .bias_regularizer(Regularizer::l1(0.25))
        .activity_regularizer(Regularizer::l1(1.0))
        .bias_constraint(crate::constraints::Constraint::NonNeg);
    let mut l = build(&cfg, &img(2, 2, 3));
    let mut tape = Tape::new();
    let ws: Vec<Var> = l.weights().iter().map(|w| tape.param(w.value.clone())).collect();
    // kernel 1·1·3·2 ones: 0.5·6 = 3; bias [−2, −2]: 0.25·4 = 1.
    let p = l.regularization(&mut tape, &ws).unwrap().unwrap();
    assert!((tape.value(p).item().unwrap() - 4.0).abs() < 1e-6);
    let mut rng = Rng::new(0);
    let mut ctx = CallCtx::new(&mut tape, &mut rng, true);
    let x = ctx.tape.constant(Tensor::ones(&[2, 2, 2, 3]));
    l.call(&mut ctx, &[x], &ws).unwrap();
    // Output 3 − 2 = 1 at 2·2·2·2 positions → l1 activity 16, divided by the batch size 2 (as
    // Keras 3.14+ and tf-keras 2 do, and as Dense does).
    assert_eq!(ctx.losses.len(), 1);
    let loss = ctx.losses[0];
    assert!((tape.value(loss).item().unwrap() - 8.0).abs() < 1e-6);
    l.apply_constraints();
    assert_eq!(l.weights()[1].value.data(), &[0.0, 0.0]);
    // Keras regularizes trainable weights only: a frozen layer adds no penalty.
    l.set_trainable(false);
    assert!(l.regularization(&mut tape, &ws).unwrap().is_none());
}

#[test]
fn config_round_trips_and_reads_keras2() {
    let cfg = Conv2D::new(8, (3, 2))
        .strides((2, 1))
        .padding("same")
        .groups(2)
        .activation("relu")
        .use_bias(false)
        .kernel_initializer("he_normal")
        .kernel_regularizer(Regularizer::l2(1e-4))
        .kernel_constraint(crate::constraints::Constraint::MaxNorm {
            max_value: 3.0,
            axis: vec![0, 1, 2],
        });
    let l = build(&cfg, &img(8, 8, 4));
    let j = l.config();
    assert_eq!(j["kernel_size"], json!([3, 2]));
    // Activations are written by their Keras 3 name, as Dense writes them.
    let swish = build(&Conv2D::new(2, 1).activation("swish"), &img(2, 2, 1)).config();
    assert_eq!(swish["activation"], json!("silu"));
    assert_eq!(j["dtype"]["class_name"], json!("DTypePolicy"));
    let again = Conv2DConfig::from_keras(&ConfigReader::new("Conv2D", &j).unwrap()).unwrap();
    assert_eq!(
        again.build("conv2d", &img(8, 8, 4), &mut Rng::new(0)).unwrap().config(),
        j
    );
    // tf-keras 2 writes dtype as a string and initializers without `module`.
    let k2 = json!({"name": "conv2d_1", "trainable": false, "dtype": "float32", "filters": 4, "kernel_size": [3, 3],
        "strides": [1, 1], "padding": "valid", "data_format": "channels_first", "dilation_rate": [1, 1], "groups": 1,
        "activation": "relu", "use_bias": true,
        "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": null}},
        "bias_initializer": {"class_name": "Zeros", "config": {}},
        "kernel_regularizer": {"class_name": "L2", "config": {"l2": 0.01}}, "bias_regularizer": null,
        "activity_regularizer": null, "kernel_constraint": null, "bias_constraint": null});
    let c = Conv2DConfig::from_keras(&ConfigReader::new("Conv2D", &k2).unwrap()).unwrap();
    assert_eq!(
        (c.name.as_deref(), c.trainable, c.data_format.as_str()),
        (Some("conv2d_1"), false, "channels_first")
    );
    assert_eq!(c.kernel_regularizer, Some(Regularizer::l2(0.01)));
    let bad = json!({"name": "conv2d_9", "filters": 4, "kernel_size": 3, "padding": "full"});
    let e = Conv2DConfig::from_keras(&ConfigReader::new("Conv2D", &bad).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("conv2d_9: argument `padding`") && e.contains("full"),
        "{e}"
    );
    let half = json!({"name": "c", "filters": 4, "kernel_size": 3, "dtype": "float16"});
    assert!(Conv2DConfig::from_keras(&ConfigReader::new("Conv2D", &half).unwrap()).is_err());
}

#[test]
fn explain_shows_the_formula_and_the_arithmetic() {
    let l = build(&Conv2D::new(64, 3), &img(28, 28, 32));
    let lines = l.explain(&img(28, 28, 32));
    assert_eq!(lines[0], "params: (3·3·32 + 1)·64 = 18,496");
    assert_eq!(lines[1], "H: ⌊(28 + 0 − 3)/1⌋ + 1 = 26");
    let l = build(
        &Conv2D::new(4, 3).strides(2).padding("same").groups(2).use_bias(false),
        &img(8, 8, 4),
    );
    let lines = l.explain(&img(8, 8, 4));
    assert_eq!(lines[0], "params: 3·3·4/2·4 = 72");
    assert_eq!(
        lines[2],
        "W: same: ⌈8/2⌉ = 4; padding max((4 − 1)·2 + 3 − 8, 0) = 1 → left 0, right 1"
    );
}
