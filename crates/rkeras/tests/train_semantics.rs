//! Training semantics that need no Keras numbers: a whole model's gradients against finite
//! differences, shared variables updated once, Dropout active only in training, frozen
//! BatchNormalization in inference mode, the callback order and `stop_training` /
//! `initial_epoch`, fitting again after `compile`, and clear errors for bad arrays and
//! arguments.

use rkeras::prelude::*;
use rkeras::training::{Callback, EvaluateOptions, FitOptions, Logs, Optimizer};
use rkeras::{Model, Result};
use tensor::Rng;

fn random(rng: &mut Rng, shape: &[usize]) -> Tensor {
    let n = shape.iter().product();
    Tensor::new(shape, (0..n).map(|_| rng.uniform_range(-1.0, 1.0) as f32).collect()).unwrap()
}

fn labels(rng: &mut Rng, n: usize, classes: usize) -> Tensor {
    Tensor::new(&[n], (0..n).map(|_| rng.below(classes) as f32).collect()).unwrap()
}

fn small_convnet() -> Model {
    clear_session();
    let l2 = rkeras::regularizers::Regularizer::l2(0.01);
    Sequential::new()
        .add(InputLayer::new(&[5, 5, 2]))
        .add(Conv2D::new(3, 3).activation("tanh"))
        .add(BatchNormalization::new())
        .add(Flatten::new())
        .add(Dense::new(4).activation("softmax").kernel_regularizer(l2))
        .build()
        .unwrap()
}

#[test]
fn whole_model_gradients_match_finite_differences() {
    let mut model = small_convnet();
    model
        .compile("sgd", "sparse_categorical_crossentropy", &[] as &[&str])
        .unwrap();
    let mut rng = Rng::new(3);
    let x = random(&mut rng, &[6, 5, 5, 2]);
    let y = labels(&mut rng, 6, 4);
    let (_, grads) = model.gradients(&x, &y, None).unwrap();
    let base = model.get_weights();
    // get_weights order = trainable order here (BN's moving statistics come last in each
    // BN layer and are not trainable).
    let trainable: Vec<usize> = model
        .weights()
        .iter()
        .enumerate()
        .filter(|(_, w)| w.trainable)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(trainable.len(), grads.len());
    let h = 1e-2f32;
    let mut worst = 0.0f32;
    for (g, &wi) in grads.iter().zip(&trainable) {
        for e in (0..base[wi].len()).step_by(3) {
            let loss_at = |delta: f32, model: &mut Model| -> f32 {
                let mut w = base.clone();
                w[wi].data_mut()[e] += delta;
                model.set_weights(&w).unwrap();
                model.gradients(&x, &y, None).unwrap().0
            };
            let fd = (loss_at(h, &mut model) - loss_at(-h, &mut model)) / (2.0 * h);
            let err = (fd - g.data()[e]).abs() / (1.0f32).max(fd.abs());
            worst = worst.max(err);
        }
    }
    assert!(
        worst < 2e-3,
        "gradient vs finite difference: worst relative error {worst:e}"
    );
}

#[test]
fn a_variable_shared_by_two_layers_gets_one_update_from_the_summed_gradient() {
    clear_session();
    let (_, _, mut model3) = rkeras::tutorials::nested().unwrap();
    assert_eq!(model3.trainable_weights().len(), 2);
    model3
        .compile(Optimizer::sgd().learning_rate(0.1), "mse", &[] as &[&str])
        .unwrap();
    let mut rng = Rng::new(5);
    let x = random(&mut rng, &[4, 2]);
    let y = random(&mut rng, &[4, 2]);
    let before = model3.get_weights();
    let (_, grads) = model3.gradients(&x, &y, None).unwrap();
    model3.train_on_batch(&x, &y, None, None).unwrap();
    let after = model3.get_weights();
    for i in 0..2 {
        for ((a, b), g) in after[i].data().iter().zip(before[i].data()).zip(grads[i].data()) {
            assert!((a - (b - 0.1 * g)).abs() < 1e-6);
        }
    }
    // Every copy of the shared layer holds the new value.
    let preds = model3.predict(std::slice::from_ref(&x), 4).unwrap();
    let mut fresh = rkeras::tutorials::nested().unwrap().2;
    fresh.set_weights(&after).unwrap();
    assert_eq!(fresh.predict(&[x], 4).unwrap()[0], preds[0]);
}

#[test]
fn dropout_is_active_in_training_only() {
    clear_session();
    let mut model = Sequential::new()
        .add(InputLayer::new(&[16]))
        .add(Dense::new(16).activation("relu"))
        .add(Dropout::new(0.5))
        .add(Dense::new(3).activation("softmax"))
        .build()
        .unwrap();
    model
        .compile("adam", "sparse_categorical_crossentropy", &[] as &[&str])
        .unwrap();
    let mut rng = Rng::new(9);
    let x = random(&mut rng, &[8, 16]);
    let y = labels(&mut rng, 8, 3);
    let a = model.gradients(&x, &y, None).unwrap().0;
    let b = model.gradients(&x, &y, None).unwrap().0;
    assert_ne!(a, b, "two training passes should draw different dropout masks");
    let e1 = model.test_on_batch(&x, &y, None).unwrap().get("loss").unwrap();
    let e2 = model.test_on_batch(&x, &y, None).unwrap().get("loss").unwrap();
    assert_eq!(e1, e2);
}

#[test]
fn frozen_batch_normalization_keeps_its_statistics_and_runs_in_inference_mode() {
    for freeze_model in [false, true] {
        let mut model = small_convnet();
        if freeze_model {
            // A frozen nested model freezes the layers inside it, as in Keras.
            clear_session();
            let inner = small_convnet();
            let mut frozen = inner.clone();
            frozen.set_trainable(false);
            model = Sequential::new()
                .add(InputLayer::new(&[5, 5, 2]))
                .add(frozen)
                .add(Dense::new(2).activation("softmax"))
                .build()
                .unwrap();
        } else {
            model.get_layer_mut("batch_normalization").unwrap().set_trainable(false);
        }
        model
            .compile("sgd", "sparse_categorical_crossentropy", &[] as &[&str])
            .unwrap();
        let mut rng = Rng::new(4);
        let x = random(&mut rng, &[6, 5, 5, 2]);
        let y = labels(&mut rng, 6, 2);
        let stats = |m: &Model| -> Vec<Tensor> {
            m.weights()
                .iter()
                .filter(|w| w.name.starts_with("moving_"))
                .map(|w| w.value.clone())
                .collect()
        };
        let before = stats(&model);
        assert_eq!(before.len(), 2);
        let test_loss = model.test_on_batch(&x, &y, None).unwrap().get("loss").unwrap();
        let train_loss = model.train_on_batch(&x, &y, None, None).unwrap().get("loss").unwrap();
        assert_eq!(
            stats(&model),
            before,
            "frozen BN statistics moved (freeze_model={freeze_model})"
        );
        // Inference-mode BN: the training pass saw the same function as the test pass.
        assert!((test_loss - train_loss).abs() < 1e-6, "{test_loss} vs {train_loss}");
    }
}

/// Records the hooks called.
#[derive(Default)]
struct Recorder {
    events: Vec<String>,
    stop_at_epoch: Option<usize>,
}

impl Callback for Recorder {
    fn on_train_begin(&mut self, _m: &mut Model, _l: &Logs) -> Result<()> {
        self.events.push("train_begin".into());
        Ok(())
    }
    fn on_epoch_begin(&mut self, _m: &mut Model, e: usize, _l: &Logs) -> Result<()> {
        self.events.push(format!("epoch_begin {e}"));
        Ok(())
    }
    fn on_train_batch_end(&mut self, _m: &mut Model, b: usize, l: &Logs) -> Result<()> {
        self.events
            .push(format!("batch_end {b} {:?}", l.keys().collect::<Vec<_>>()));
        Ok(())
    }
    fn on_test_begin(&mut self, _m: &mut Model, _l: &Logs) -> Result<()> {
        self.events.push("test_begin".into());
        Ok(())
    }
    fn on_test_end(&mut self, _m: &mut Model, _l: &Logs) -> Result<()> {
        self.events.push("test_end".into());
        Ok(())
    }
    fn on_epoch_end(&mut self, m: &mut Model, e: usize, l: &mut Logs) -> Result<()> {
        self.events
            .push(format!("epoch_end {e} {:?}", l.keys().collect::<Vec<_>>()));
        if self.stop_at_epoch == Some(e) {
            m.set_stop_training(true);
        }
        Ok(())
    }
    fn on_train_end(&mut self, _m: &mut Model, _l: &Logs) -> Result<()> {
        self.events.push("train_end".into());
        Ok(())
    }
}

fn mlp() -> Model {
    clear_session();
    Sequential::new()
        .add(InputLayer::new(&[4]))
        .add(Dense::new(8).activation("relu"))
        .add(Dense::new(3).activation("softmax"))
        .build()
        .unwrap()
}

#[test]
fn callbacks_see_keras_order_and_can_stop_training() {
    let mut model = mlp();
    model
        .compile("adam", "sparse_categorical_crossentropy", &["accuracy"])
        .unwrap();
    let mut rng = Rng::new(1);
    let (x, y) = (random(&mut rng, &[10, 4]), labels(&mut rng, 10, 3));
    let (vx, vy) = (random(&mut rng, &[3, 4]), labels(&mut rng, 3, 3));
    let mut rec = Recorder {
        stop_at_epoch: Some(1),
        ..Recorder::default()
    };
    let h = model
        .fit(
            &x,
            &y,
            FitOptions::default()
                .epochs(5)
                .batch_size(6)
                .validation_data(&vx, &vy)
                .verbose(0)
                .callback(&mut rec),
        )
        .unwrap();
    let k = r#"["accuracy", "loss"]"#;
    let kv = r#"["accuracy", "loss", "val_accuracy", "val_loss"]"#;
    let want: Vec<String> = vec![
        "train_begin".into(),
        "epoch_begin 0".into(),
        format!("batch_end 0 {k}"),
        format!("batch_end 1 {k}"),
        "test_begin".into(),
        "test_end".into(),
        format!("epoch_end 0 {kv}"),
        "epoch_begin 1".into(),
        format!("batch_end 0 {k}"),
        format!("batch_end 1 {k}"),
        "test_begin".into(),
        "test_end".into(),
        format!("epoch_end 1 {kv}"),
        "train_end".into(),
    ];
    assert_eq!(rec.events, want);
    assert_eq!(h.epoch, [0, 1]);
    assert_eq!(h.get("val_loss").unwrap().len(), 2);
    assert_eq!(model.optimizer().unwrap().iterations(), 4);

    // Fitting again continues from the optimizer's state; initial_epoch skips epochs.
    let h = model
        .fit(
            &x,
            &y,
            FitOptions::default()
                .epochs(3)
                .initial_epoch(2)
                .batch_size(6)
                .verbose(0),
        )
        .unwrap();
    assert_eq!(h.epoch, [2]);
    assert_eq!(model.optimizer().unwrap().iterations(), 6);
    // Compiling again starts a fresh optimizer.
    model
        .compile("adam", "sparse_categorical_crossentropy", &["accuracy"])
        .unwrap();
    assert_eq!(model.optimizer().unwrap().iterations(), 0);
}

#[test]
fn evaluate_and_fit_agree_with_weighted_metrics() {
    let mut model = mlp();
    model
        .compile_with(rkeras::training::CompileOptions {
            optimizer: "sgd".into(),
            loss: "sparse_categorical_crossentropy".into(),
            metrics: vec!["accuracy".into()],
            weighted_metrics: vec!["accuracy".into()],
        })
        .unwrap();
    let mut rng = Rng::new(2);
    let (x, y) = (random(&mut rng, &[7, 4]), labels(&mut rng, 7, 3));
    let sw = Tensor::new(&[7], vec![1.0, 0.0, 2.0, 1.0, 0.5, 0.0, 3.0]).unwrap();
    let logs = model
        .evaluate(&x, &y, EvaluateOptions::default().verbose(0).sample_weight(sw.clone()))
        .unwrap();
    assert_eq!(
        logs.keys().collect::<Vec<_>>(),
        ["accuracy", "loss", "weighted_accuracy"]
    );
    let pred = model.predict(std::slice::from_ref(&x), 32).unwrap().remove(0);
    let hits: Vec<f32> = (0..7)
        .map(|i| {
            let row = &pred.data()[i * 3..i * 3 + 3];
            let am = (0..3).fold(0, |b, j| if row[j] > row[b] { j } else { b });
            f32::from(am as f32 == y.data()[i])
        })
        .collect();
    let plain = hits.iter().sum::<f32>() / 7.0;
    let weighted = hits.iter().zip(sw.data()).map(|(h, w)| h * w).sum::<f32>() / sw.data().iter().sum::<f32>();
    assert!((logs.get("accuracy").unwrap() as f32 - plain).abs() < 1e-6);
    assert!((logs.get("weighted_accuracy").unwrap() as f32 - weighted).abs() < 1e-6);
}

fn err(r: Result<impl std::fmt::Debug>) -> String {
    r.expect_err("expected an error").to_string()
}

#[test]
fn bad_arrays_and_arguments_give_clear_errors() {
    let mut model = mlp();
    let mut rng = Rng::new(1);
    let (x, y) = (random(&mut rng, &[10, 4]), labels(&mut rng, 10, 3));
    let quiet = || FitOptions::default().verbose(0);
    assert!(err(model.fit(&x, &y, quiet())).contains("you must call `compile()`"));
    assert!(err(model.compile("adamx", "mse", &[] as &[&str])).contains("optimizer identifier: \"adamx\""));
    assert!(err(model.compile("adam", "msex", &[] as &[&str])).contains("loss identifier: msex"));
    assert!(err(model.compile("adam", "mse", &["acuracy"])).contains("metric identifier: acuracy"));
    assert!(
        err(model.compile(Optimizer::adam().momentum(0.9), "mse", &[] as &[&str]))
            .contains("`momentum` is not an argument of Adam")
    );
    model
        .compile("adam", "sparse_categorical_crossentropy", &["accuracy"])
        .unwrap();
    let wrong_shape = random(&mut rng, &[10, 5]);
    assert!(err(model.fit(&wrong_shape, &y, quiet())).contains("expected arrays of shape (None, 4), received (10, 5)"));
    let short_y = labels(&mut rng, 9, 3);
    assert!(err(model.fit(&x, &short_y, quiet())).contains("x has 10 samples, y has 9"));
    let out_of_range = Tensor::new(&[10], vec![0.0, 1.0, 2.0, 3.0, 0.0, 1.0, 2.0, 0.0, 1.0, 2.0]).unwrap();
    let e = err(model.fit(&x, &out_of_range, quiet()));
    assert!(
        e.contains("label value of 3") && e.contains("valid range of [0, 3)"),
        "{e}"
    );
    let fractional = Tensor::new(&[10], vec![0.5; 10]).unwrap();
    assert!(err(model.train_on_batch(&x, &fractional, None, None)).contains("labels must be integers"));
    let onehot = Tensor::zeros(&[10, 3]);
    assert!(err(model.fit(&x, &onehot, quiet())).contains("labels and predictions do not match"));
    let mut nan_y = y.clone();
    nan_y.data_mut()[2] = f32::NAN;
    assert!(err(model.fit(&x, &nan_y, quiet())).contains("NaN"));
    assert!(err(model.fit(&x, &y, quiet().batch_size(0))).contains("batch_size"));
    assert!(err(model.fit(&x, &y, quiet().validation_split(0.95))).contains("not sufficient to split"));
    assert!(err(model.fit(&x, &y, quiet().sample_weight(Tensor::ones(&[3]))))
        .contains("sample_weight must have shape (10,)"));
    let both = quiet().sample_weight(Tensor::ones(&[10])).class_weight(&[(0, 2.0)]);
    assert!(err(model.fit(&x, &y, both)).contains("both `class_weight` and `sample_weight`"));
    assert!(err(model.fit(&[x.clone(), x.clone()], &y, quiet())).contains("expects 1 input array(s), received 2"));
    // The model is still usable after the errors.
    model.fit(&x, &y, quiet()).unwrap();
}

/// In training, BatchNormalization and the ReLU or ReLU6 layer that alone reads it run as one
/// op on the tape (the activation inside the normalization's passes, and its derivative inside
/// the backward's): the model's output, the gradients of every weight and the new moving
/// statistics are bit-equal to calling the layers one by one, and the fused model records one
/// node fewer. A BatchNormalization whose output is read twice is not fused.
#[test]
fn batchnorm_then_relu_in_training_equals_the_layers_one_by_one() {
    use rkeras::layers::{CallCtx, ReLU};
    use tensor::{Tape, Var};
    type Add = Box<dyn Fn(Sequential) -> Sequential>;
    let activations: Vec<(&str, Add)> = vec![
        ("ReLU()", Box::new(|s| s.add(ReLU::new()))),
        ("ReLU(max_value=6)", Box::new(|s| s.add(ReLU::new().max_value(6.0)))),
        ("Activation('relu')", Box::new(|s| s.add(Activation::new("relu")))),
        ("Activation('relu6')", Box::new(|s| s.add(Activation::new("relu6")))),
    ];
    let mut rng = Rng::new(21);
    let x = random(&mut rng, &[4, 6, 6, 3]);
    for (what, act) in activations {
        clear_session();
        let head = Sequential::new()
            .add(InputLayer::new(&[6, 6, 3]))
            .add(Conv2D::new(5, 3).padding("same"))
            .add(BatchNormalization::new());
        let model = act(head).add(Flatten::new()).add(Dense::new(3)).build().unwrap();
        // Large kernels: the normalized values cross 0 and, times γ = 4, cross 6.
        let mut weights = model.get_weights();
        weights[2] = Tensor::new(&[5], vec![4.0; 5]).unwrap();
        let mut model = model;
        model.set_weights(&weights).unwrap();
        let seed = random(&mut rng, &[4, 3]);
        let (fused, plain) = (
            run_on_tape(&model, &x, &seed, true, true),
            run_on_tape(&model, &x, &seed, true, false),
        );
        assert_eq!(fused.0 + 1, plain.0, "{what}: one node fewer when fused");
        assert_eq!(fused.1, plain.1, "{what}: outputs");
        assert_eq!(fused.2, plain.2, "{what}: gradients");
        assert_eq!(fused.3, plain.3, "{what}: moving statistics");
    }
    // The normalized values read by the activation and by the model's second output: no
    // fusion (the second reader needs them before the activation).
    clear_session();
    let input = Input(&[6, 6, 3]).unwrap();
    let bn = BatchNormalization::new()
        .call(&Conv2D::new(5, 3).call(&input).unwrap())
        .unwrap();
    let relu = ReLU::new().call(&bn).unwrap();
    let model = Model::new(&[&input], &[&relu, &bn], None).unwrap();
    let mut tape = Tape::new();
    let mut trng = Rng::new(0);
    let xi = tape.constant(x.clone());
    let params: Vec<Var> = model.weights().iter().map(|w| tape.param(w.value.clone())).collect();
    let mut ctx = CallCtx::new(&mut tape, &mut trng, true);
    let outs = model.run(&mut ctx, &[xi], &params).unwrap();
    drop(ctx);
    assert!(
        tape.value(outs[1]).data().iter().any(|&v| v < 0.0),
        "the second output is before the ReLU"
    );
    assert!(tape.value(outs[0]).data().iter().all(|&v| v >= 0.0));
}

/// Runs `model` on `x` on a fresh tape, as the model runs it (`fused`: its fusions included)
/// or layer by layer, and back from `seed`: the tape's length, the output, and the gradients
/// of the input and of every weight.
fn run_on_tape(model: &Model, x: &Tensor, seed: &Tensor, training: bool, fused: bool) -> RunOnTape {
    use rkeras::layers::CallCtx;
    use tensor::{Tape, Var};
    let mut tape = Tape::new();
    let mut trng = Rng::new(0);
    let input = tape.param(x.clone());
    let params: Vec<Var> = model.weights().iter().map(|w| tape.param(w.value.clone())).collect();
    let mut ctx = CallCtx::new(&mut tape, &mut trng, training);
    let out = if fused {
        model.run(&mut ctx, &[input], &params).unwrap()[0]
    } else {
        let (mut v, mut at) = (input, 0);
        for l in model.layers() {
            let n = l.weights().len();
            v = l.call(&mut ctx, &[v], &params[at..at + n]).unwrap()[0];
            at += n;
        }
        v
    };
    let updates = ctx.updates.iter().map(|(_, t)| t.data().to_vec()).collect();
    drop(ctx);
    let value = tape.value(out).data().to_vec();
    let grads = tape.backward_with(out, seed.clone()).unwrap();
    let g = std::iter::once(input)
        .chain(params.iter().copied())
        .map(|p| grads.get(p).map(|t| t.data().to_vec()))
        .collect();
    (tape.len(), value, g, updates)
}

/// The tape's length, the output, the gradients (input first) and the layers' updates (the
/// new moving statistics).
type RunOnTape = (usize, Vec<f32>, Vec<Option<Vec<f32>>>, Vec<Vec<f32>>);

/// A ZeroPadding2D that alone feeds a Conv2D or DepthwiseConv2D runs as the convolution's own
/// padding (no padded copy, no crop in the backward): in training and in inference on the
/// tape, the output and every weight's gradient are those of the layers one by one, with one
/// node fewer on the tape. MobileNetV2's `correct_pad` before a stride-2 depthwise, ResNet's
/// stem, zeros on top of `same`, and uneven sides with a dilation.
#[test]
fn zero_padding_then_convolution_equals_the_layers_one_by_one() {
    type Add = Box<dyn Fn(Sequential) -> Sequential>;
    let cases: Vec<(&str, [usize; 3], Add)> = vec![
        (
            "correct_pad + depthwise 3x3/2",
            [9, 8, 5],
            Box::new(|s| {
                s.add(ZeroPadding2D::new(((0, 1), (0, 1))))
                    .add(DepthwiseConv2D::new(3).strides(2))
            }),
        ),
        (
            "correct_pad + depthwise 3x3/2, 40 channels",
            [11, 10, 40],
            Box::new(|s| {
                s.add(ZeroPadding2D::new(((0, 1), (0, 1))))
                    .add(DepthwiseConv2D::new(3).strides(2))
            }),
        ),
        (
            "zeros + depthwise same",
            [6, 7, 4],
            Box::new(|s| {
                s.add(ZeroPadding2D::new(1))
                    .add(DepthwiseConv2D::new(3).padding("same"))
            }),
        ),
        (
            "ResNet stem",
            [12, 12, 3],
            Box::new(|s| s.add(ZeroPadding2D::new(3)).add(Conv2D::new(8, 7).strides(2))),
        ),
        (
            "uneven + dilated conv",
            [7, 9, 10],
            Box::new(|s| {
                s.add(ZeroPadding2D::new(((1, 2), (0, 3))))
                    .add(Conv2D::new(9, 3).dilation_rate(2))
            }),
        ),
    ];
    let mut rng = Rng::new(5);
    for (what, shape, layers) in cases {
        clear_session();
        let model = layers(Sequential::new().add(InputLayer::new(&shape)))
            .add(Flatten::new())
            .add(Dense::new(3))
            .build()
            .unwrap();
        let x = random(&mut rng, &[2, shape[0], shape[1], shape[2]]);
        let seed = random(&mut rng, &[2, 3]);
        for training in [true, false] {
            let fused = run_on_tape(&model, &x, &seed, training, true);
            let plain = run_on_tape(&model, &x, &seed, training, false);
            assert_eq!(
                fused.0 + 1,
                plain.0,
                "{what} (training {training}): one node fewer when fused"
            );
            assert_eq!(fused.1, plain.1, "{what} (training {training}): outputs");
            assert_eq!(
                fused.2, plain.2,
                "{what} (training {training}): input and weight gradients"
            );
        }
    }
}

/// In training, a Conv2D and the ReLU / ReLU6 layer that alone reads it run as one op (the
/// activation in the convolution's epilogue, its derivative gating the output gradient), as a
/// Conv2D with `activation="relu"` always does: the output and every gradient are those of the
/// layers one by one, with one node fewer on the tape (the tutorials' CIFAR-10 CNN layers:
/// 3 channels on the direct kernels, 32 on the implicit GEMM, `valid` and `same`).
#[test]
fn convolution_then_relu_in_training_equals_the_layers_one_by_one() {
    use rkeras::layers::ReLU;
    type Add = Box<dyn Fn(Sequential) -> Sequential>;
    let cases: Vec<(&str, [usize; 3], Add)> = vec![
        (
            "Conv2D + ReLU()",
            [10, 10, 3],
            Box::new(|s| s.add(Conv2D::new(8, 3).padding("same")).add(ReLU::new())),
        ),
        (
            "Conv2D + Activation('relu6')",
            [9, 9, 32],
            Box::new(|s| s.add(Conv2D::new(16, 3)).add(Activation::new("relu6"))),
        ),
    ];
    let mut rng = Rng::new(6);
    for (what, shape, layers) in cases {
        clear_session();
        let model = layers(Sequential::new().add(InputLayer::new(&shape)))
            .add(Flatten::new())
            .add(Dense::new(3))
            .build()
            .unwrap();
        // Large kernels: the convolution's outputs cross 0 and 6.
        let mut weights = model.get_weights();
        weights[0] = tensor::ops::elementwise::scale(&weights[0], 8.0);
        let mut model = model;
        model.set_weights(&weights).unwrap();
        let x = random(&mut rng, &[2, shape[0], shape[1], shape[2]]);
        let seed = random(&mut rng, &[2, 3]);
        let fused = run_on_tape(&model, &x, &seed, true, true);
        let plain = run_on_tape(&model, &x, &seed, true, false);
        assert_eq!(fused.0 + 1, plain.0, "{what}: one node fewer when fused");
        assert_eq!(fused.1, plain.1, "{what}: outputs");
        assert_eq!(fused.2, plain.2, "{what}: input and weight gradients");
    }
}
