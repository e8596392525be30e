//! The other 25 applications (EfficientNetB0–B7, EfficientNetV2B0–B3/S/M/L, MobileNetV3Small
//! and Large, NASNetMobile and Large, InceptionResNetV2, ConvNeXtTiny … XLarge) against real
//! Keras: every case of `fixtures/apps2/index.json.gz` (made by
//! `tools/fixtures/make_app_refs2.py` with Keras 3.15.1 and tf-keras 2.21.0, `weights=None`,
//! right after `clear_session()`) is built with our builder and compared on the model name,
//! parameter counts, layer and weight counts, the weights' order (the layers owning Keras 3's
//! `weight.path`s, in order) and the rendered `summary()` byte for
//! byte in both styles (the summary holds every layer's name, class, parameters and output
//! shape); and the model Keras wrote as JSON (Keras 3's, and tf-keras's where
//! kept) is read back and its summaries compared too.
//!
//! tf-keras builds some families with other layer names or other layers (MobileNetV3's
//! `Conv/BatchNorm` and `Multiply`-based hard swish): the Keras 2 summary is compared on a
//! model built with `AppOptions::keras2_names`.

mod apps_common;

use apps_common::{diff, options, shape_of};
use flate2::read::GzDecoder;
use rkeras::applications::{by_name, AppOptions};
use rkeras::io::keras_json::model_from_json;
use rkeras::summary::{SummaryOptions, SummaryStyle};
use rkeras::Model;
use serde_json::Value;
use std::io::Read;
use std::path::PathBuf;
use std::sync::OnceLock;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/apps2")
}

/// A gzip-compressed fixture as text; `None` when the file is absent.
fn gz_text(name: &str) -> Option<String> {
    let bytes = std::fs::read(dir().join(name)).ok()?;
    let mut s = String::new();
    GzDecoder::new(&bytes[..])
        .read_to_string(&mut s)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    Some(s)
}

fn index() -> &'static serde_json::Map<String, Value> {
    static INDEX: OnceLock<serde_json::Map<String, Value>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let text = gz_text("index.json.gz").expect("fixtures/apps2/index.json.gz");
        match serde_json::from_str(&text).expect("index is JSON") {
            Value::Object(m) => m,
            _ => panic!("index: expected an object"),
        }
    })
}

fn summary(model: &Model, style: SummaryStyle) -> String {
    model
        .summary(&SummaryOptions {
            style,
            ..SummaryOptions::default()
        })
        .unwrap_or_else(|e| format!("summary error: {e}"))
}

/// Compares a model with one version's record and summary text; returns the differences.
fn compare_model(case: &str, model: &Model, reference: &Value, style: SummaryStyle, tag: &str) -> Vec<String> {
    let mut bad = Vec::new();
    let mut check = |what: &str, got: String, want: String| {
        if got != want {
            bad.push(format!("{case} ({tag}): {what}: got {got}, want {want}"));
        }
    };
    let trainable: u64 = model.trainable_weights().iter().map(|w| w.count()).sum();
    check(
        "model name",
        model.name().into(),
        reference["model_name"].as_str().unwrap_or("").into(),
    );
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
        "weights",
        model.weights().len().to_string(),
        reference["num_weights"].to_string(),
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
    // Keras 3's `model.layers` leaves out operations (`x + 3.0`); its summary shows them.
    let ops: std::collections::HashSet<&str> = model
        .layers()
        .into_iter()
        .filter(|l| tag == "k3" && rkeras::io::weights_layout::is_operation(*l))
        .map(|l| l.name())
        .collect();
    check(
        "layer count",
        (model.layers().len() - ops.len()).to_string(),
        reference["num_layers"].to_string(),
    );
    if tag == "k3" {
        // Keras 3's `weight.path`s are `[scope/…]<layer>/<weight>`: the index keeps them as
        // runs of owning layers, `[[layer, count], …]`, in order.
        let want: Vec<String> = reference["weight_layers"]
            .as_array()
            .expect("weight_layers")
            .iter()
            .flat_map(|run| {
                let name = run[0].as_str().unwrap_or("").to_string();
                std::iter::repeat_n(name, run[1].as_u64().unwrap_or(0) as usize)
            })
            .collect();
        let mut got = Vec::new();
        for l in model.layers() {
            // A nested model's weights are under its own layers' names.
            let inner: Vec<&dyn rkeras::layers::Layer> = match l.as_model() {
                Some(m) => m.layers(),
                None => vec![l],
            };
            for il in inner {
                for _ in il.weights() {
                    got.push(il.name().to_string());
                }
            }
        }
        if got != want {
            let i = got
                .iter()
                .zip(&want)
                .position(|(a, b)| a != b)
                .unwrap_or(got.len().min(want.len()));
            bad.push(format!(
                "{case}: weight order differs at {i}: got {:?}, want {:?}",
                got.get(i),
                want.get(i)
            ));
        }
    }
    let want = gz_text(&format!("{case}.{tag}.summary.txt.gz")).expect("summary reference");
    let got = summary(model, style);
    if got != want {
        bad.push(format!("{case}.{tag}.summary.txt: {}", diff(&got, &want)));
    }
    bad
}

/// Builds one case with our builder (Keras 3 names, then tf-keras's) and compares it.
fn check_builder(case: &str) -> Vec<String> {
    let entry = &index()[case];
    let app = entry["application"].as_str().expect("application");
    let opts = options(&entry["kwargs"]);
    rkeras::clear_session();
    let model = match by_name(app, &opts) {
        Ok(m) => m,
        Err(e) => return vec![format!("{case}: {e}")],
    };
    let mut bad = compare_model(case, &model, &entry["keras3"], SummaryStyle::Keras3, "k3");
    drop(model);
    rkeras::clear_session();
    match by_name(
        app,
        &AppOptions {
            keras2_names: true,
            ..opts
        },
    ) {
        Ok(k2) => bad.extend(compare_model(case, &k2, &entry["keras2"], SummaryStyle::Keras2, "k2")),
        Err(e) => bad.push(format!("{case} (k2 names): {e}")),
    }
    bad
}

/// Reads the JSON Keras wrote and compares the summaries rendered from it.
fn check_json(case: &str) -> Vec<String> {
    let mut bad = Vec::new();
    for (json, runs) in [
        ("k3", vec![(SummaryStyle::Keras3, "k3"), (SummaryStyle::Keras2, "k2")]),
        ("k2", vec![(SummaryStyle::Keras2, "k2")]),
    ] {
        let Some(text) = gz_text(&format!("{case}.{json}.json.gz")) else {
            continue;
        };
        rkeras::clear_session();
        let model = match model_from_json(&text) {
            Ok(m) => m,
            Err(e) => {
                bad.push(format!("{case}.{json}.json: {e}"));
                continue;
            }
        };
        for (style, tag) in runs {
            // tf-keras's own names and layers come only from its JSON where they differ.
            let k2_differs = index()[case]["k2_k3_differences"]
                .as_object()
                .is_some_and(|d| d.contains_key("layers") || d.contains_key("model_name"));
            if json == "k3" && tag == "k2" && k2_differs {
                continue;
            }
            let want = gz_text(&format!("{case}.{tag}.summary.txt.gz")).expect("summary reference");
            let got = summary(&model, style);
            if got != want {
                bad.push(format!(
                    "{case}.{tag}.summary.txt (from {json} JSON): {}",
                    diff(&got, &want)
                ));
            }
        }
    }
    bad
}

fn run(case: &str) {
    let start = std::time::Instant::now();
    let mut bad = check_builder(case);
    bad.extend(check_json(case));
    eprintln!("{case}: {:.2} s", start.elapsed().as_secs_f64());
    assert!(bad.is_empty(), "{} difference(s):\n{}", bad.len(), bad.join("\n"));
}

macro_rules! cases {
    ($($test:ident => $case:literal,)*) => {
        $(
            #[test]
            fn $test() {
                run($case);
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
    efficientnet_b0 => "EfficientNetB0",
    efficientnet_b1 => "EfficientNetB1",
    efficientnet_b2 => "EfficientNetB2",
    efficientnet_b3 => "EfficientNetB3",
    efficientnet_b4 => "EfficientNetB4",
    efficientnet_b5 => "EfficientNetB5",
    efficientnet_b6 => "EfficientNetB6",
    efficientnet_b7 => "EfficientNetB7",
    efficientnet_b0_notop_avg => "EfficientNetB0_notop_avg",
    efficientnet_b3_notop_max_64 => "EfficientNetB3_notop_max_64",
    efficientnet_v2_b0 => "EfficientNetV2B0",
    efficientnet_v2_b1 => "EfficientNetV2B1",
    efficientnet_v2_b2 => "EfficientNetV2B2",
    efficientnet_v2_b3 => "EfficientNetV2B3",
    efficientnet_v2_s => "EfficientNetV2S",
    efficientnet_v2_m => "EfficientNetV2M",
    efficientnet_v2_l => "EfficientNetV2L",
    efficientnet_v2_b0_notop_noprep_32 => "EfficientNetV2B0_notop_noprep_32",
    efficientnet_v2_s_notop_avg => "EfficientNetV2S_notop_avg",
    mobilenet_v3_small => "MobileNetV3Small",
    mobilenet_v3_large => "MobileNetV3Large",
    mobilenet_v3_small_min_a075 => "MobileNetV3Small_min_a075",
    mobilenet_v3_large_notop_avg_noprep => "MobileNetV3Large_notop_avg_noprep",
    mobilenet_v3_small_classes10_linear_96 => "MobileNetV3Small_classes10_linear_96",
    nasnet_mobile => "NASNetMobile",
    nasnet_large => "NASNetLarge",
    nasnet_mobile_notop_avg => "NASNetMobile_notop_avg",
    nasnet_mobile_notop_none_32 => "NASNetMobile_notop_none_32",
    inception_resnet_v2 => "InceptionResNetV2",
    inception_resnet_v2_notop_avg => "InceptionResNetV2_notop_avg",
    inception_resnet_v2_notop_none_75 => "InceptionResNetV2_notop_none_75",
    convnext_tiny => "ConvNeXtTiny",
    convnext_small => "ConvNeXtSmall",
    convnext_base => "ConvNeXtBase",
    convnext_large => "ConvNeXtLarge",
    convnext_xlarge => "ConvNeXtXLarge",
    convnext_tiny_notop_avg => "ConvNeXtTiny_notop_avg",
    convnext_tiny_noprep_classes5 => "ConvNeXtTiny_noprep_classes5",
}
