//! `rkeras::insight` against references: FLOPs per layer and in total equal TensorFlow's
//! profiler on the same Keras models at batch 1 (`tools/fixtures/make_insight_refs.py`,
//! TF 2.21 + tf-keras 2.21, `weights=None`), MACs equal torchinfo 1.8.0's Mult-Adds on the
//! torchvision twins (`tools/fixtures/make_insight_macs.py`), receptive fields equal the
//! hand-checkable recurrences (VGG16, LeNet-5) and the Distill algorithm run by the script on
//! the Keras graphs (ResNet50, InceptionV3, MobileNetV2).

use rkeras::applications::{by_name, AppOptions};
use rkeras::insight::{analyze, AxisField, Field, Insight};
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;

fn fixture(name: &str) -> Value {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/insight")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))).unwrap()
}

fn app(name: &str) -> (rkeras::Model, Insight) {
    rkeras::clear_session();
    let m = by_name(name, &AppOptions::default()).unwrap();
    let i = analyze(&m).unwrap();
    (m, i)
}

fn flops_by_layer(i: &Insight) -> HashMap<String, u64> {
    let mut by = HashMap::new();
    for n in &i.nodes {
        *by.entry(n.name.clone()).or_insert(0) += n.flops.expect("counted");
    }
    by
}

fn check_flops(name: &str) {
    let (_, i) = app(name);
    check_flops_of(name, &i);
}

fn check_flops_of(name: &str, i: &Insight) {
    let r = fixture(&format!("flops_{name}.json"));
    let by = flops_by_layer(i);
    let mut checked = 0;
    for l in r["layers"].as_array().unwrap() {
        let lname = l["name"].as_str().unwrap();
        if l["class_name"] == "InputLayer" {
            continue;
        }
        let want = l["float_ops"].as_u64().unwrap();
        let got = by
            .get(lname)
            .copied()
            .unwrap_or_else(|| panic!("{name}: no layer {lname}"));
        assert_eq!(got, want, "{name}: {lname} ({}): {:?}", l["class_name"], l["ops"]);
        checked += 1;
    }
    assert_eq!(checked, by.len(), "{name}: layer count");
    assert_eq!(i.total_flops, r["total_float_ops"].as_u64().unwrap(), "{name}: total");
    assert!(i.uncounted_flops.is_empty());
}

#[test]
fn flops_equal_the_tf_profiler_lenet5_vgg16() {
    check_flops("LeNet5");
    check_flops("VGG16");
}

#[test]
fn flops_equal_the_tf_profiler_resnet50() {
    check_flops("ResNet50");
}

#[test]
fn flops_equal_the_tf_profiler_mobilenet_v2() {
    check_flops("MobileNetV2");
}

#[test]
fn flops_equal_the_tf_profiler_inception_v3() {
    check_flops("InceptionV3");
}

/// Conv2DTranspose in eight forms (strides dividing the output or not, output_padding, no
/// bias, unequal strides, dilation 2 and 3 with same and valid padding), built from the
/// tf-keras JSON the script stored with the profiler's counts.
#[test]
fn flops_equal_the_tf_profiler_conv2d_transpose() {
    rkeras::clear_session();
    let r = fixture("flops_ConvTranspose.json");
    let m = rkeras::io::keras_json::model_from_json(r["keras_json"].as_str().unwrap()).unwrap();
    let i = analyze(&m).unwrap();
    check_flops_of("ConvTranspose", &i);
    // torchinfo's rule for ConvTranspose2d ("Conv" in the class name): (weights + biases) ×
    // output positions, e.g. the first layer: (3·3·3·3 + 3)·11·11.
    let first = i.nodes.iter().find(|n| n.name == "conv2d_transpose").unwrap();
    assert_eq!(first.macs, (3 * 3 * 3 * 3 + 3) * 11 * 11);
    let no_bias = i.nodes.iter().find(|n| n.name == "conv2d_transpose_6").unwrap();
    assert_eq!(no_bias.macs, 3 * 2 * 5 * 3 * 114 * 228);
}

#[test]
fn macs_equal_torchinfo_on_the_twins() {
    for name in ["LeNet5", "VGG16"] {
        let (_, i) = app(name);
        let r = fixture(&format!("macs_{name}.json"));
        let ours: Vec<u64> = i.nodes.iter().map(|n| n.macs).filter(|&m| m > 0).collect();
        let theirs: Vec<u64> = r["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["macs"].as_u64().unwrap())
            .collect();
        assert_eq!(ours, theirs, "{name}");
        assert_eq!(i.total_macs, r["total_mult_adds"].as_u64().unwrap(), "{name}");
    }
}

fn field(i: &Insight, layer: &str) -> Field {
    i.nodes
        .iter()
        .find(|n| n.name == layer)
        .unwrap_or_else(|| panic!("no {layer}"))
        .field
        .clone()
}

fn square(size: u64, jump: u64, start: i64) -> Field {
    let a = AxisField { size, jump, start };
    Field::Spatial {
        h: a,
        w: a,
        aligned: true,
    }
}

#[test]
fn receptive_fields_by_hand_lenet5_and_vgg16() {
    let (_, i) = app("LeNet5");
    // conv 5×5 same (pad 2): r 5; pool 2: r 5 + 1 = 6, j 2; conv 5×5: 6 + 4·2 = 14; pool: 14 + 2 = 16, j 4.
    assert_eq!(field(&i, "conv2d"), square(5, 1, -2));
    assert_eq!(field(&i, "max_pooling2d"), square(6, 2, -2));
    assert_eq!(field(&i, "conv2d_1"), square(14, 2, -2));
    assert_eq!(field(&i, "max_pooling2d_1"), square(16, 4, -2));
    assert_eq!(field(&i, "flatten"), Field::Global);
    let (_, i) = app("VGG16");
    // Each block: convs add 2·j each, the pool adds j and doubles j.
    let mut r = 1u64;
    let mut j = 1u64;
    let mut start = 0i64;
    for (block, convs) in [(1, 2), (2, 2), (3, 3), (4, 3), (5, 3)] {
        for c in 1..=convs {
            r += 2 * j;
            start -= j as i64;
            assert_eq!(field(&i, &format!("block{block}_conv{c}")), square(r, j, start));
        }
        r += j;
        j *= 2;
        assert_eq!(field(&i, &format!("block{block}_pool")), square(r, j, start));
    }
    assert_eq!((r, j), (212, 32));
}

/// Every image-valued layer's field equals the script's backward Distill computation
/// (Distill's table: ResNet-50 483, Inception-v3 1311, MobileNet-v2 491 at the last block).
#[test]
fn receptive_fields_equal_the_distill_algorithm_on_resnet50_inception_v3_mobilenet_v2() {
    for name in ["ResNet50", "InceptionV3", "MobileNetV2"] {
        let (_, i) = app(name);
        let r = fixture(&format!("rf_{name}.json"));
        let fields = r["fields"].as_object().unwrap();
        for (layer, v) in fields {
            let v: Vec<i64> = v.as_array().unwrap().iter().map(|x| x.as_i64().unwrap()).collect();
            let axis = |k: usize| AxisField {
                size: v[k] as u64,
                jump: v[k + 1] as u64,
                start: v[k + 2],
            };
            let want = Field::Spatial {
                h: axis(0),
                w: axis(3),
                aligned: true,
            };
            assert_eq!(field(&i, layer), want, "{name}: {layer}");
        }
        assert!(fields.len() > 150, "{name}: {} layers", fields.len());
    }
}
