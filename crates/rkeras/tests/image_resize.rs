//! `tf.image.resize`'s methods besides bilinear / nearest against TensorFlow 2.21 and Keras
//! 3.15 (`fixtures/images/resize/refs.npz`, made by `tools/fixtures/make_resize_refs.py`):
//! every method with and without antialias on shrinking, growing and mixed sizes; the
//! `Resizing` layer (bicubic, area, lanczos3, lanczos5, plain / crop / pad, antialias) with its
//! gradient; `image_dataset_from_directory(interpolation=…)` on the committed PNG tree. All
//! within 1e-4 (absolute, on 0–255 values; the worst is printed).

use rkeras::io::npy::read_npz;
use rkeras::layers::image_resizing::Resizing;
use rkeras::prelude::*;
use rkeras::preprocessing::tf_image::TfMethod;
use rkeras::preprocessing::tf_resize;
use rkeras::utils::{image_dataset_from_directory, DirectoryOptions};
use std::collections::HashMap;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/images");

fn refs() -> HashMap<String, Tensor> {
    read_npz(&format!("{DIR}/resize/refs.npz"))
        .unwrap()
        .into_iter()
        .collect()
}

fn max_diff(got: &[f32], want: &Tensor, key: &str) -> f32 {
    assert_eq!(got.len(), want.len(), "{key}: length");
    got.iter()
        .zip(want.data())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

fn hw(s: &str) -> (usize, usize) {
    let (h, w) = s.split_once('x').unwrap();
    (h.parse().unwrap(), w.parse().unwrap())
}

#[test]
fn tf_image_resize_methods_equal_tensorflow() {
    let refs = refs();
    let (mut n, mut worst) = (0, (0f32, String::new()));
    for (key, want) in &refs {
        let p: Vec<&str> = key.split('|').collect();
        if p[0] != "tf" {
            continue;
        }
        let (from, to) = p[3].split_once("->").unwrap();
        let ((h, w), out) = (hw(from), hw(to));
        let img = &refs[&format!("in|{h}x{w}")];
        let method = TfMethod::parse("test", p[1]).unwrap();
        let got = tf_resize::resize(img.data(), (h, w, 2), out, method, p[2] == "1");
        let d = max_diff(&got, want, key);
        assert!(d <= 1e-4, "{key}: max diff {d}");
        if d > worst.0 {
            worst = (d, key.clone());
        }
        n += 1;
    }
    assert_eq!(n, 6 * 8 * 2);
    eprintln!("{n} tf.image.resize cases, worst {worst:?}");
}

#[test]
fn resizing_layer_methods_equal_keras() {
    let refs = refs();
    let x = &refs["layer_in"];
    let (mut n, mut worst) = (0, 0f32);
    for (key, want) in &refs {
        let p: Vec<&str> = key.split('|').collect();
        if p[0] != "layer" {
            continue;
        }
        clear_session();
        let input = Input(&[9, 6, 3]).unwrap();
        let layer = Resizing::new(5, 7)
            .interpolation(p[1].to_string())
            .antialias(p[3] == "1")
            .crop_to_aspect_ratio(p[2] == "crop")
            .pad_to_aspect_ratio(p[2] == "pad");
        let y = layer.call(&input).unwrap();
        let model = Model::new(&[&input], &[&y], None).unwrap();
        let out = model.predict(std::slice::from_ref(x), 32).unwrap().remove(0);
        let d = max_diff(out.data(), want, key);
        assert!(d <= 1e-4, "{key}: max diff {d}");
        worst = worst.max(d);
        n += 1;
    }
    assert_eq!(n, 6 * 3 * 2);
    eprintln!("{n} Resizing cases, worst {worst}");
}

#[test]
fn resizing_gradient_matches_finite_differences() {
    // The separable resize is linear: the gradient of Σ y·g is the transposed map applied to g.
    for (method, aa) in [
        (TfMethod::Bicubic, false),
        (TfMethod::Area, false),
        (TfMethod::Lanczos5, true),
    ] {
        let s = tf_resize::Separable::new(method, aa, (6, 5), (4, 8)).unwrap();
        let x: Vec<f32> = (0..6 * 5).map(|v| (v as f32 * 0.7).sin()).collect();
        let g: Vec<f32> = (0..4 * 8).map(|v| (v as f32 * 0.3).cos()).collect();
        let dx = s.backward(&g, (1, 6, 5, 1));
        let f = |x: &[f32]| -> f64 {
            s.apply(x, (1, 6, 5, 1))
                .iter()
                .zip(&g)
                .map(|(a, b)| (a * b) as f64)
                .sum()
        };
        for i in [0, 7, 29] {
            let (mut up, mut down) = (x.clone(), x.clone());
            up[i] += 1e-2;
            down[i] -= 1e-2;
            let fd = (f(&up) - f(&down)) / 2e-2;
            assert!((fd - dx[i] as f64).abs() < 1e-3, "{method:?} {i}: {fd} vs {}", dx[i]);
        }
    }
}

#[test]
fn resizing_refuses_methods_keras_refuses() {
    clear_session();
    let input = Input(&[9, 6, 3]).unwrap();
    let e = Resizing::new(5, 7)
        .interpolation("gaussian".to_string())
        .call(&input)
        .unwrap_err()
        .to_string();
    assert!(e.contains("interpolation=gaussian"), "{e}");
}

#[test]
fn dataset_interpolations_equal_keras() {
    let refs = refs();
    let (mut n, mut worst) = (0, 0f32);
    for (key, want) in &refs {
        let p: Vec<&str> = key.split('|').collect();
        if p[0] != "ds" {
            continue;
        }
        let o = DirectoryOptions {
            shuffle: false,
            image_size: (6, 8),
            interpolation: p[1].into(),
            crop_to_aspect_ratio: p[2] == "crop",
            pad_to_aspect_ratio: p[2] == "pad",
            verbose: false,
            ..Default::default()
        };
        let ds = image_dataset_from_directory(format!("{DIR}/tree"), &o)
            .unwrap()
            .one()
            .unwrap();
        let mut got = Vec::new();
        for b in ds.epoch(0) {
            got.extend_from_slice(b.unwrap().0.data());
        }
        let d = max_diff(&got, want, key);
        assert!(d <= 1e-4, "{key}: max diff {d}");
        worst = worst.max(d);
        n += 1;
    }
    assert_eq!(n, 6 * 3 - 2);
    eprintln!("{n} dataset cases, worst {worst}");
    // Keras's smart_resize refuses the two methods its backend lacks.
    for m in ["gaussian", "mitchellcubic"] {
        let o = DirectoryOptions {
            image_size: (6, 8),
            interpolation: m.into(),
            crop_to_aspect_ratio: true,
            verbose: false,
            ..Default::default()
        };
        let e = image_dataset_from_directory(format!("{DIR}/tree"), &o)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("Invalid value for argument `interpolation`"), "{e}");
    }
}
