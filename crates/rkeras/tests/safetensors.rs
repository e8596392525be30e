//! safetensors in and out: a round trip keeps every weight and the predictions; a file
//! written by Python's `safetensors` for a Keras model (tools/fixtures/make_safetensors_ref.py)
//! loads and predicts as Keras does; missing, extra and mis-shaped tensors are refused with
//! the tensor's name and both shapes.

use rkeras::io::keras_json::model_from_json;
use rkeras::io::npy::read_npy;
use rkeras::io::safetensors::{
    load_safetensors, load_safetensors_bytes, named_weights, read_safetensors_bytes, safetensors_bytes,
    save_safetensors,
};
use rkeras::prelude::*;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/safetensors")
        .join(name)
}

fn keras_model() -> Model {
    let text = std::fs::read_to_string(fixture("nested.config.json")).unwrap();
    model_from_json(&text).unwrap()
}

fn small() -> Model {
    Sequential::new()
        .add(InputLayer::new(&[5, 5, 1]))
        .add(Conv2D::new(2, 3))
        .add(BatchNormalization::new())
        .add(Flatten::new())
        .add(Dense::new(3))
        .build()
        .unwrap()
}

#[test]
fn names_are_layer_slash_weight_nested_with_the_model_name() {
    clear_session();
    let model = keras_model();
    let names: Vec<String> = named_weights(&model).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "block/conv/kernel",
            "block/conv/bias",
            "block/bn/gamma",
            "block/bn/beta",
            "block/bn/moving_mean",
            "block/bn/moving_variance",
            "head/kernel",
            "head/bias"
        ]
    );
}

#[test]
fn round_trip_keeps_weights_and_predictions() {
    clear_session();
    let mut model = small();
    // Values unlike any initializer's, so the load visibly changes the other model.
    let values: Vec<Tensor> = model
        .get_weights()
        .iter()
        .enumerate()
        .map(|(k, t)| Tensor::arange(t.shape()).map(|v| 0.5 + (v + k as f32) / 100.0))
        .collect();
    model.set_weights(&values).unwrap();
    let x = Tensor::arange(&[2, 5, 5, 1]).map(|v| v / 50.0);
    let want = model.predict(std::slice::from_ref(&x), 8).unwrap();
    let dir = std::env::temp_dir().join(format!("rkeras_st_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("small.safetensors");
    save_safetensors(&model, &path).unwrap();

    clear_session();
    let mut other = small();
    assert_ne!(other.get_weights(), model.get_weights(), "fresh weights differ");
    load_safetensors(&mut other, &path).unwrap();
    assert_eq!(other.get_weights(), model.get_weights());
    assert_eq!(other.predict(&[x], 8).unwrap(), want);

    // The same through save_weights/load_weights, which dispatch on the extension.
    let path2 = dir.join("small2.safetensors");
    model.save_weights(&path2).unwrap();
    assert_eq!(std::fs::read(&path2).unwrap(), std::fs::read(&path).unwrap());
    clear_session();
    let mut third = small();
    third.load_weights(&path2).unwrap();
    assert_eq!(third.get_weights(), model.get_weights());

    let read = read_safetensors_bytes("small.safetensors", &std::fs::read(&path).unwrap()).unwrap();
    // The safetensors writer orders tensors by name (as Python's does).
    let names: Vec<&str> = read.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "batch_normalization/beta",
            "batch_normalization/gamma",
            "batch_normalization/moving_mean",
            "batch_normalization/moving_variance",
            "conv2d/bias",
            "conv2d/kernel",
            "dense/bias",
            "dense/kernel",
        ]
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn file_from_python_safetensors_predicts_as_keras() {
    clear_session();
    let mut model = keras_model();
    load_safetensors(&mut model, fixture("nested.safetensors")).unwrap();
    let x = read_npy(fixture("nested.input.npy").to_str().unwrap()).unwrap();
    let want = read_npy(fixture("nested.output.npy").to_str().unwrap()).unwrap();
    let got = &model.predict(&[x], 32).unwrap()[0];
    assert_eq!(got.shape(), want.shape());
    assert!(
        got.allclose(&want, 1e-5, 1e-5),
        "max diff {}",
        got.max_abs_diff(&want).unwrap()
    );
    // And what rkeras writes for it is what Python wrote, tensor for tensor.
    let ours = read_safetensors_bytes("ours", &safetensors_bytes(&model).unwrap()).unwrap();
    let theirs = read_safetensors_bytes("theirs", &std::fs::read(fixture("nested.safetensors")).unwrap()).unwrap();
    for (name, t) in &ours {
        let other = theirs.iter().find(|(n, _)| n == name).map(|(_, t)| t);
        assert_eq!(other, Some(t), "{name}");
    }
    assert_eq!(ours.len(), theirs.len());
}

/// A safetensors file with the given F32 tensors (name, shape).
fn file_with(tensors: &[(&str, Vec<usize>)]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    let mut offset = 0;
    for (name, shape) in tensors {
        let n: usize = shape.iter().product::<usize>() * 4;
        header.insert(
            name.to_string(),
            serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + n]}),
        );
        offset += n;
    }
    let h = serde_json::Value::Object(header).to_string();
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(h.as_bytes());
    out.extend(vec![0u8; offset]);
    out
}

fn dense_model() -> Model {
    clear_session();
    Sequential::new()
        .add(InputLayer::new(&[4]))
        .add(Dense::new(2))
        .build()
        .unwrap()
}

#[test]
fn a_good_hand_made_file_loads() {
    let mut m = dense_model();
    let f = file_with(&[("dense/kernel", vec![4, 2]), ("dense/bias", vec![2])]);
    load_safetensors_bytes(&mut m, "w.safetensors", &f).unwrap();
    assert!(m.get_weights().iter().all(|t| t.data().iter().all(|&v| v == 0.0)));
}

#[test]
fn mis_shaped_tensor_names_it_and_both_shapes() {
    let mut m = dense_model();
    let f = file_with(&[("dense/kernel", vec![3, 2]), ("dense/bias", vec![2])]);
    let e = load_safetensors_bytes(&mut m, "w.safetensors", &f)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "w.safetensors: tensor dense/kernel has shape [3, 2], the weight dense/kernel of model sequential has shape [4, 2]"
    );
}

#[test]
fn missing_tensor_names_it_and_its_shape() {
    let mut m = dense_model();
    let f = file_with(&[("dense/kernel", vec![4, 2])]);
    let e = load_safetensors_bytes(&mut m, "w.safetensors", &f)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "w.safetensors: no tensor for 1 weight(s) of model sequential: dense/bias [2]"
    );
}

#[test]
fn extra_tensor_names_it_and_its_shape() {
    let mut m = dense_model();
    let f = file_with(&[
        ("dense/kernel", vec![4, 2]),
        ("dense/bias", vec![2]),
        ("dense_9/kernel", vec![7]),
    ]);
    let e = load_safetensors_bytes(&mut m, "w.safetensors", &f)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "w.safetensors: 1 tensor(s) match no weight of model sequential: dense_9/kernel [7]"
    );
}

#[test]
fn unsupported_dtype_and_broken_files_are_errors() {
    let mut m = dense_model();
    let mut f = file_with(&[("dense/kernel", vec![4, 2]), ("dense/bias", vec![2])]);
    let at = f.windows(3).position(|w| w == b"F32").unwrap();
    f[at] = b'I';
    let e = load_safetensors_bytes(&mut m, "w.safetensors", &f)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("w.safetensors") && e.contains("dtype I32 is not supported"),
        "{e}"
    );
    let good = file_with(&[("dense/kernel", vec![4, 2]), ("dense/bias", vec![2])]);
    for cut in [0, 4, 8, 20, good.len() - 1] {
        let e = load_safetensors_bytes(&mut m, "w.safetensors", &good[..cut])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("w.safetensors: not a valid safetensors file"),
            "cut {cut}: {e}"
        );
    }
}
