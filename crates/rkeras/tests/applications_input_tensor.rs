//! Keras's `input_tensor` argument of the applications against real Keras
//! (`fixtures/apps2/input_tensor/`, made by `tools/fixtures/make_input_tensor_refs.py` with
//! Keras 3.15.1 and tf-keras 2.21.0): the model is built on the given tensor — a named or an
//! automatically named `Input`, or a `Rescaling` on one, whose `Input` becomes the model's
//! input as Keras's `get_source_inputs` makes it — and its summary equals Keras's byte for
//! byte; MobileNetV2/V3 given an `input_shape` that disagrees with the tensor fail with
//! Keras's message.

mod apps_common;

use apps_common::diff;
use rkeras::applications::{by_name, AppOptions, Pooling};
use rkeras::model::Call;
use rkeras::prelude::{Input, InputLayer, Rescaling};
use rkeras::summary::{SummaryOptions, SummaryStyle};
use rkeras::KerasTensor;
use std::io::Read;
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/apps2/input_tensor")
}

/// A fresh session's image tensor: `Input(shape, name=name)`, optionally through
/// `Rescaling(1/255, name="to_unit")`.
fn tensor(shape: &[usize], name: Option<&str>, rescale: bool) -> KerasTensor {
    rkeras::clear_session();
    let x = match name {
        Some(n) => InputLayer::new(shape).name(n).tensor().unwrap(),
        None => Input(shape).unwrap(),
    };
    if rescale {
        Rescaling::new(1.0 / 255.0).name("to_unit").call(&x).unwrap()
    } else {
        x
    }
}

fn check(case: &str, app: &str, opts: &AppOptions, styles: &[(SummaryStyle, &str)]) {
    let model = by_name(app, opts).unwrap_or_else(|e| panic!("{case}: {e}"));
    for (style, tag) in styles {
        let file = dir().join(format!("{case}.{tag}.summary.txt.gz"));
        let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let mut want = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut want)
            .expect("gzip");
        let got = model
            .summary(&SummaryOptions {
                style: *style,
                ..SummaryOptions::default()
            })
            .unwrap();
        assert!(got == want, "{case}.{tag}: {}", diff(&got, &want));
    }
}

#[test]
fn resnet50_on_a_named_input() {
    let t = tensor(&[64, 64, 3], Some("image"), false);
    let opts = AppOptions {
        include_top: false,
        pooling: Some(Pooling::Avg),
        input_tensor: Some(t),
        ..AppOptions::default()
    };
    check(
        "ResNet50_notop_avg_image64",
        "ResNet50",
        &opts,
        &[(SummaryStyle::Keras3, "k3"), (SummaryStyle::Keras2, "k2")],
    );
}

#[test]
fn mobilenet_v2_takes_its_default_size_and_name_from_the_tensor() {
    let t = tensor(&[96, 96, 3], None, false);
    let opts = AppOptions {
        alpha: 0.35,
        input_tensor: Some(t),
        ..AppOptions::default()
    };
    check(
        "MobileNetV2_a035_auto96",
        "MobileNetV2",
        &opts,
        &[(SummaryStyle::Keras3, "k3")],
    );
}

#[test]
fn efficientnet_b0_on_a_rescaled_input_keeps_the_layers_before_it() {
    let t = tensor(&[32, 32, 3], Some("raw"), true);
    let opts = AppOptions {
        include_top: false,
        input_tensor: Some(t),
        ..AppOptions::default()
    };
    check(
        "EfficientNetB0_notop_rescaled32",
        "EfficientNetB0",
        &opts,
        &[(SummaryStyle::Keras3, "k3")],
    );
}

#[test]
fn mobilenet_v3_small_with_an_agreeing_input_shape() {
    let t = tensor(&[96, 96, 3], Some("img"), false);
    let opts = AppOptions {
        input_shape: Some((96, 96, 3)),
        input_tensor: Some(t),
        ..AppOptions::default()
    };
    check(
        "MobileNetV3Small_shape_and_tensor",
        "MobileNetV3Small",
        &opts,
        &[(SummaryStyle::Keras3, "k3")],
    );
}

#[test]
fn disagreeing_input_shape_and_tensor_fail_as_in_keras() {
    let text = std::fs::read_to_string(dir().join("errors.json")).expect("errors.json");
    let errors: serde_json::Value = serde_json::from_str(&text).unwrap();
    for app in ["MobileNetV2", "MobileNetV3Small"] {
        let want = errors[app]["message"].as_str().expect("message");
        let t = tensor(&[96, 96, 3], None, false);
        let opts = AppOptions {
            input_shape: Some((128, 128, 3)),
            input_tensor: Some(t),
            ..AppOptions::default()
        };
        let got = by_name(app, &opts).unwrap_err().to_string();
        assert_eq!(got, format!("{app}: {want}"));
    }
    // Not an image tensor: an error, not a panic.
    let t = tensor(&[10], None, false);
    let opts = AppOptions {
        input_tensor: Some(t),
        ..AppOptions::default()
    };
    let e = by_name("ResNet50", &opts).unwrap_err().to_string();
    assert!(e.contains("input_tensor") && e.contains("(None, 10)"), "{e}");
}
