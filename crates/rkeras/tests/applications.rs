//! `rkeras::applications` against real Keras: every case of `fixtures/apps/index.json` (made
//! by `tools/fixtures/make_app_refs.py` with Keras 3.15.1 and tf-keras 2.21.0, `weights=None`,
//! right after `clear_session()`) is built with our builder and compared on the model name,
//! parameter counts, the layer list (name, class, params, output shape) and the rendered
//! `summary()` byte for byte in both styles.
//!
//! DenseNet: tf-keras names the stem `conv1/conv`, `conv1/bn`, `conv1/relu` where Keras 3 says
//! `conv1_conv`, …; its Keras 2 summary is compared on a model built with
//! `AppOptions::keras2_names`, which uses tf-keras's names.

mod apps_common;

use apps_common::{diff, options, shape_of};
use rkeras::applications::{by_name, AppOptions};
use rkeras::summary::{SummaryOptions, SummaryStyle};
use rkeras::Model;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Instant;

fn apps_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/apps")
}

fn index() -> &'static serde_json::Map<String, Value> {
    static INDEX: OnceLock<serde_json::Map<String, Value>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let text = std::fs::read_to_string(apps_dir().join("index.json")).expect("fixtures/apps/index.json");
        match serde_json::from_str(&text).expect("index.json is JSON") {
            Value::Object(m) => m,
            _ => panic!("index.json: expected an object"),
        }
    })
}

/// Compares a model with one version's reference record; returns the differences.
fn compare_model(case: &str, model: &Model, reference: &Value, style: SummaryStyle, tag: &str) -> Vec<String> {
    let mut bad = Vec::new();
    let mut check = |what: &str, got: String, want: String| {
        if got != want {
            bad.push(format!("{case} ({tag}): {what}: got {got}, want {want}"));
        }
    };
    check(
        "model name",
        model.name().to_string(),
        reference["model_name"].as_str().unwrap_or("").to_string(),
    );
    let trainable: u64 = model.trainable_weights().iter().map(|w| w.count()).sum();
    check(
        "total params",
        model.count_params().to_string(),
        reference["total_params"].to_string(),
    );
    check(
        "trainable params",
        trainable.to_string(),
        reference["trainable_params"].to_string(),
    );
    check(
        "non-trainable params",
        (model.count_params() - trainable).to_string(),
        reference["non_trainable_params"].to_string(),
    );
    check(
        "weights",
        model.weights().len().to_string(),
        reference["num_weights"].to_string(),
    );
    let layers = model.layers();
    check(
        "layer count",
        layers.len().to_string(),
        reference["num_layers"].to_string(),
    );
    check(
        "input shape",
        format!("{:?}", model.input_shapes()[0]),
        format!("{:?}", shape_of(&reference["input_shape"])),
    );
    check(
        "output shape",
        format!("{:?}", model.output_shapes()[0]),
        format!("{:?}", shape_of(&reference["output_shape"])),
    );
    let rows = reference["layers"].as_array().expect("layers");
    let table = model.summary_table(style);
    for (i, (row, want)) in table.rows.iter().zip(rows).enumerate() {
        let got = format!(
            "{} {} {} {:?}",
            row.name,
            row.class_name,
            row.params,
            row.output_shapes.first()
        );
        let want = format!(
            "{} {} {} {:?}",
            want[0].as_str().unwrap_or(""),
            want[1].as_str().unwrap_or(""),
            want[2],
            Some(shape_of(&want[3]))
        );
        if got != want {
            bad.push(format!("{case} ({tag}): layer {i}: got {got}, want {want}"));
            break;
        }
    }
    let file = apps_dir().join(format!("{case}.{tag}.summary.txt"));
    let want = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    match model.summary(&SummaryOptions {
        style,
        ..SummaryOptions::default()
    }) {
        Ok(got) if got == want => {}
        Ok(got) => bad.push(format!("{case}.{tag}.summary.txt: {}", diff(&got, &want))),
        Err(e) => bad.push(format!("{case}.{tag}.summary.txt: {e}")),
    }
    bad
}

/// Builds one case (after `clear_session()`, as the references were made) and compares it
/// with both references.
fn check_case(case: &str) {
    let entry = &index()[case];
    let app = entry["application"].as_str().expect("application");
    let opts = options(&entry["kwargs"]);
    let start = Instant::now();
    rkeras::clear_session();
    let model = by_name(app, &opts).unwrap_or_else(|e| panic!("{case}: {e}"));
    let built = start.elapsed();
    let mut bad = compare_model(case, &model, &entry["keras3"], SummaryStyle::Keras3, "k3");
    if app.starts_with("DenseNet") {
        // tf-keras's stem names differ from Keras 3's: build with them for the k2 reference.
        rkeras::clear_session();
        let k2 = by_name(
            app,
            &AppOptions {
                keras2_names: true,
                ..opts
            },
        )
        .unwrap_or_else(|e| panic!("{case}: {e}"));
        bad.extend(compare_model(case, &k2, &entry["keras2"], SummaryStyle::Keras2, "k2"));
    } else {
        bad.extend(compare_model(
            case,
            &model,
            &entry["keras2"],
            SummaryStyle::Keras2,
            "k2",
        ));
    }
    eprintln!(
        "{case}: built in {:.2} s, checked in {:.2} s",
        built.as_secs_f64(),
        start.elapsed().as_secs_f64()
    );
    assert!(bad.is_empty(), "{} difference(s):\n{}", bad.len(), bad.join("\n"));
}

macro_rules! cases {
    ($($test:ident => $case:literal,)*) => {
        $(
            #[test]
            fn $test() {
                check_case($case);
            }
        )*

        #[test]
        fn every_reference_case_has_a_test() {
            let mut tested = vec![$($case),*];
            tested.sort();
            let mut indexed: Vec<&str> = index().keys().map(String::as_str).collect();
            indexed.sort();
            assert_eq!(tested, indexed);
        }
    };
}

cases! {
    vgg16 => "VGG16",
    vgg16_notop_avg => "VGG16_notop_avg",
    vgg16_notop_max_64 => "VGG16_notop_max_64",
    vgg19 => "VGG19",
    vgg19_notop_avg => "VGG19_notop_avg",
    resnet50 => "ResNet50",
    resnet50_notop_avg => "ResNet50_notop_avg",
    resnet50_classes10 => "ResNet50_classes10",
    resnet101 => "ResNet101",
    resnet101_notop_avg => "ResNet101_notop_avg",
    resnet152 => "ResNet152",
    resnet152_notop_avg => "ResNet152_notop_avg",
    resnet50v2 => "ResNet50V2",
    resnet50v2_notop_avg => "ResNet50V2_notop_avg",
    resnet50v2_notop_none_160 => "ResNet50V2_notop_none_160",
    resnet101v2 => "ResNet101V2",
    resnet101v2_notop_avg => "ResNet101V2_notop_avg",
    resnet152v2 => "ResNet152V2",
    resnet152v2_notop_avg => "ResNet152V2_notop_avg",
    inception_v3 => "InceptionV3",
    inception_v3_notop_avg => "InceptionV3_notop_avg",
    inception_v3_notop_none_75 => "InceptionV3_notop_none_75",
    mobilenet => "MobileNet",
    mobilenet_notop_avg => "MobileNet_notop_avg",
    mobilenet_a050_dm2_128 => "MobileNet_a050_dm2_128",
    mobilenet_v2 => "MobileNetV2",
    mobilenet_v2_notop_avg => "MobileNetV2_notop_avg",
    mobilenet_v2_a035_96 => "MobileNetV2_a035_96",
    xception => "Xception",
    xception_notop_avg => "Xception_notop_avg",
    xception_classes5_linear => "Xception_classes5_linear",
    densenet121 => "DenseNet121",
    densenet121_notop_avg => "DenseNet121_notop_avg",
    densenet121_notop_max_96 => "DenseNet121_notop_max_96",
    densenet169 => "DenseNet169",
    densenet169_notop_avg => "DenseNet169_notop_avg",
    densenet201 => "DenseNet201",
    densenet201_notop_avg => "DenseNet201_notop_avg",
}

/// LeNet-5 is the tutorials' Sequential model: compared with the shared seed reference
/// `f_lenet5` (copied into `fixtures/seed/`).
#[test]
fn lenet5_equals_the_seed_reference() {
    let seed = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed");
    rkeras::clear_session();
    let model = by_name("LeNet5", &AppOptions::default()).expect("LeNet5");
    for (style, tag) in [(SummaryStyle::Keras3, "k3"), (SummaryStyle::Keras2, "k2")] {
        let want = std::fs::read_to_string(seed.join(format!("f_lenet5.{tag}.summary.txt"))).expect("seed reference");
        let got = model
            .summary(&SummaryOptions {
                style,
                ..SummaryOptions::default()
            })
            .expect("summary");
        assert!(got == want, "f_lenet5.{tag}.summary.txt: {}", diff(&got, &want));
    }
}

/// The comparison itself notices a wrong model (VGG16 against VGG19's references).
#[test]
fn comparison_catches_a_different_model() {
    rkeras::clear_session();
    let model = by_name("VGG16", &AppOptions::default()).expect("VGG16");
    let bad = compare_model("VGG19", &model, &index()["VGG19"]["keras3"], SummaryStyle::Keras3, "k3");
    let text = bad.join("\n");
    for what in [
        "model name: got vgg16, want vgg19",
        "total params",
        "layer count",
        "VGG19.k3.summary.txt",
    ] {
        assert!(text.contains(what), "expected a difference in {what}, got:\n{text}");
    }
}
