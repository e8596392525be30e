//! Feature maps, filters and Grad-CAM against Keras 3. The references come from
//! `tools/fixtures/make_visualize_refs.py` (hand-run, Keras 3.15.1 on TensorFlow 2.21):
//!
//! ```text
//! sub = keras.Model(model.inputs, model.get_layer(name).output); fm_<name> = sub(x)
//! filters_conv1 = (k - k.min((0,1,2))) / (k.max((0,1,2)) - k.min((0,1,2)))
//! gc_<case> = make_gradcam_heatmap(x[:batch], m, layer, class)   # keras.io, verbatim,
//!             after m.layers[-1].activation = None unless the case keeps the softmax
//! ```
//!
//! on a small functional CNN (conv1 → pool → conv2 → add(pool, conv2) → conv3 → bn →
//! flatten → softmax dense) saved by Keras as `visualize.keras`.

use rkeras::insight::visualize::{feature_maps, filters, grad_cam, grad_cam_with, last_4d_layer, GradCamOptions};
use rkeras::io::npy::read_npy;
use rkeras::prelude::*;
use std::path::PathBuf;

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/visualize")
        .join(name)
        .display()
        .to_string()
}

fn model() -> Model {
    rkeras::load_model(fixture("visualize.keras")).unwrap()
}

fn x(batch: usize) -> Tensor {
    let x = read_npy(&fixture("x.npy")).unwrap();
    rkeras::model::slice_batch(&x, 0, batch).unwrap()
}

/// Largest absolute difference, after checking the shapes agree.
fn max_err(got: &Tensor, want: &Tensor) -> f32 {
    assert_eq!(got.shape(), want.shape());
    got.data()
        .iter()
        .zip(want.data())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

#[test]
fn feature_maps_equal_keras_sub_model_outputs() {
    let m = model();
    for name in ["conv1", "add", "bn"] {
        let got = feature_maps(&m, &x(2), name).unwrap();
        let want = read_npy(&fixture(&format!("fm_{name}.npy"))).unwrap();
        let err = max_err(&got, &want);
        eprintln!("feature maps {name}: {:?}, max error {err:e}", got.shape());
        assert!(err < 1e-4, "{name}: {err}");
    }
}

#[test]
fn filters_are_the_kernel_scaled_per_filter() {
    let got = filters(&model(), "conv1").unwrap();
    let want = read_npy(&fixture("filters_conv1.npy")).unwrap();
    assert_eq!(got.shape(), &[3, 3, 3, 4]);
    assert!(max_err(&got, &want) < 1e-6);
    for f in 0..4 {
        let col: Vec<f32> = got.data().iter().skip(f).step_by(4).copied().collect();
        assert_eq!(col.iter().copied().fold(f32::INFINITY, f32::min), 0.0);
        assert_eq!(col.iter().copied().fold(f32::NEG_INFINITY, f32::max), 1.0);
    }
}

#[test]
fn grad_cam_equals_the_keras_io_example() {
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("index.json")).unwrap()).unwrap();
    let m = model();
    let cases = index.as_object().unwrap();
    assert_eq!(cases.len(), 7);
    for (case, c) in cases {
        let opts = GradCamOptions {
            class_index: c["class"].as_u64().map(|v| v as usize),
            logits: c["logits"].as_bool().unwrap(),
        };
        let layer = c["layer"].as_str().unwrap();
        let got = grad_cam_with(&m, &x(c["batch"].as_u64().unwrap() as usize), layer, &opts).unwrap();
        let want = read_npy(&fixture(&format!("gc_{case}.npy"))).unwrap();
        let err = max_err(&got.heatmap, &want);
        eprintln!("grad-cam {case}: class {}, max error {err:e}", got.class_index);
        assert!(err < 1e-4, "{case}: {err}");
        assert_eq!(got.class_index as u64, c["picked"].as_u64().unwrap(), "{case}");
    }
}

#[test]
fn grad_cam_with_no_positive_location_is_zero_not_nan() {
    // Keras's case conv2: every weighted channel sum is ≤ 0, so `maximum(h, 0) / max(h)` gives
    // -0.0 everywhere; rkeras gives zeros and reports the maximum.
    let got = grad_cam_with(&model(), &x(1), "conv2", &GradCamOptions::default()).unwrap();
    assert!(got.max <= 0.0, "{}", got.max);
    assert!(got.heatmap.data().iter().all(|&v| v == 0.0));
}

#[test]
fn grad_cam_default_layer_is_the_last_with_a_4d_output() {
    let m = model();
    assert_eq!(last_4d_layer(&m).unwrap(), "bn");
    let a = grad_cam(&m, &x(1), "bn", None).unwrap();
    let want = read_npy(&fixture("gc_bn.npy")).unwrap();
    assert!(max_err(&a, &want) < 1e-4);
}

#[test]
fn grad_cam_weights_channels_by_the_mean_gradient_of_a_linear_head() {
    // Grad-CAM's channel weights are the mean gradient of the class logit with respect to
    // the conv output; check them through the heatmap against a model whose head is linear
    // in that output (Flatten → Dense, no softmax), where the gradient is the Dense kernel.
    clear_session();
    set_random_seed(3);
    let m = Sequential::new()
        .add(InputLayer::new(&[5, 5, 2]))
        .add(Conv2D::new(3, 3).name("conv"))
        .add(Flatten::new())
        .add(Dense::new(2).name("head"))
        .build()
        .unwrap();
    let x = Tensor::new(&[1, 5, 5, 2], (0..50).map(|v| (v as f32 * 0.37).sin()).collect()).unwrap();
    let conv = feature_maps(&m, &x, "conv").unwrap();
    let kernel = &m.get_layer("head").unwrap().weights()[0].value; // (27, 2)
    for class in 0..2 {
        let pooled: Vec<f32> = (0..3)
            .map(|ch| (0..9).map(|p| kernel.data()[(p * 3 + ch) * 2 + class]).sum::<f32>() / 9.0)
            .collect();
        let h: Vec<f32> = conv
            .data()
            .chunks(3)
            .map(|px| px.iter().zip(&pooled).map(|(a, b)| a * b).sum())
            .collect();
        let max = h.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let want: Vec<f32> = h
            .iter()
            .map(|v| if max > 0.0 { v.max(0.0) / max } else { 0.0 })
            .collect();
        let got = grad_cam(&m, &x, "conv", Some(class)).unwrap();
        let want = Tensor::new(&[3, 3], want).unwrap();
        assert!(max_err(&got, &want) < 1e-5, "class {class}");
    }
}

#[test]
fn errors_name_the_layer_and_what_is_wrong() {
    let m = model();
    let e = feature_maps(&m, &x(1), "conv9").unwrap_err().to_string();
    assert!(
        e.contains("no layer named \"conv9\"") && e.contains("conv1, pool, conv2"),
        "{e}"
    );
    let e = feature_maps(&m, &x(1), "flatten").unwrap_err().to_string();
    assert!(
        e.contains("flatten has output shape (None, 294), not 4-D") && e.contains("conv3, bn"),
        "{e}"
    );
    let e = filters(&m, "pool").unwrap_err().to_string();
    assert!(
        e.contains("pool (MaxPooling2D) has no convolution kernel") && e.contains("conv1, conv2, conv3"),
        "{e}"
    );
    let e = filters(&m, "predictions").unwrap_err().to_string();
    assert!(e.contains("predictions (Dense) has no convolution kernel"), "{e}");
    let e = grad_cam(&m, &x(1), "conv3", Some(5)).unwrap_err().to_string();
    assert!(
        e.contains("class index 5 is out of range") && e.contains("5 classes (0 to 4)"),
        "{e}"
    );
    let e = grad_cam(&m, &Tensor::zeros(&[1, 8, 8, 3]), "conv3", None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("expected shape"), "{e}");
}

#[test]
fn shared_layers_have_no_single_output() {
    clear_session();
    let a = Input(&[4, 4, 1]).unwrap();
    let shared = Shared::new(Conv2D::new(2, 3).name("twice"));
    let (p, q) = (shared.call(&a).unwrap(), shared.call(&a).unwrap());
    let s = Add::new().call_many(&[&p, &q]).unwrap();
    let m = Model::new(&[&a], &[&s], None).unwrap();
    let e = feature_maps(&m, &Tensor::ones(&[1, 4, 4, 1]), "twice")
        .unwrap_err()
        .to_string();
    assert!(e.contains("has 2 inbound nodes"), "{e}");
}
