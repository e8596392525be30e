//! `image_dataset_from_directory` against Keras 3 (tools/fixtures/make_dataset_dir_refs.py):
//! class_names, file_paths (unshuffled, shuffled with a seed, and the training / validation
//! split of `subset="both"`) equal; unshuffled batches (PNG: grey, grey+alpha, RGB, RGBA,
//! palette, non-square; bilinear and nearest; crop_to_aspect_ratio, pad_to_aspect_ratio;
//! int / categorical / binary / no labels) within 1e-4.

use rkeras::io::npy::read_npz;
use rkeras::utils::{image_dataset_from_directory, DirectoryOptions, Labels};
use serde_json::Value;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/images");

fn refs() -> Value {
    serde_json::from_str(&std::fs::read_to_string(format!("{DIR}/dataset_refs.json")).unwrap()).unwrap()
}

fn options(kw: &Value) -> DirectoryOptions {
    let mut o = DirectoryOptions {
        verbose: false,
        ..Default::default()
    };
    for (k, v) in kw.as_object().unwrap() {
        match k.as_str() {
            "shuffle" => o.shuffle = v.as_bool().unwrap(),
            "image_size" => o.image_size = (v[0].as_u64().unwrap() as usize, v[1].as_u64().unwrap() as usize),
            "color_mode" => o.color_mode = v.as_str().unwrap().into(),
            "interpolation" => o.interpolation = v.as_str().unwrap().into(),
            "label_mode" => o.label_mode = v.as_str().map(Into::into),
            "batch_size" => o.batch_size = v.as_u64().map(|b| b as usize),
            "crop_to_aspect_ratio" => o.crop_to_aspect_ratio = v.as_bool().unwrap(),
            "pad_to_aspect_ratio" => o.pad_to_aspect_ratio = v.as_bool().unwrap(),
            "labels" => o.labels = Labels::None,
            "class_names" => {
                o.class_names = Some(
                    v.as_array()
                        .unwrap()
                        .iter()
                        .map(|s| s.as_str().unwrap().to_string())
                        .collect(),
                )
            }
            other => panic!("option {other}"),
        }
    }
    o
}

fn rel(paths: &[String]) -> Vec<String> {
    paths
        .iter()
        .map(|p| p.strip_prefix(&format!("{DIR}/")).unwrap().to_string())
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn batches_and_paths_equal_keras() {
    let refs = refs();
    let arrays: std::collections::HashMap<String, rkeras::prelude::Tensor> =
        read_npz(&format!("{DIR}/dataset_refs.npz"))
            .unwrap()
            .into_iter()
            .collect();
    let tree = format!("{DIR}/tree");
    let mut worst = 0f32;
    for name in ["rgb", "grey_nearest", "rgba_cat", "crop", "pad", "binary", "nolabels"] {
        let r = &refs[name];
        let ds = image_dataset_from_directory(&tree, &options(&r["kwargs"]))
            .unwrap()
            .one()
            .unwrap();
        assert_eq!(rel(ds.file_paths()), strings(&r["file_paths"]), "{name}");
        let want_classes = (!r["class_names"].is_null()).then(|| strings(&r["class_names"]));
        assert_eq!(ds.class_names().map(<[String]>::to_vec), want_classes, "{name}");
        assert_eq!(ds.len(), r["batches"].as_u64().unwrap() as usize, "{name}");
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        for b in ds.epoch(0) {
            let (x, y) = b.unwrap();
            xs.extend_from_slice(x.data());
            if let Some(y) = y {
                ys.extend_from_slice(y.data());
            }
        }
        let wx = &arrays[&format!("{name}_x")];
        assert_eq!(xs.len(), wx.len(), "{name}");
        let d = xs
            .iter()
            .zip(wx.data())
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        worst = worst.max(d);
        assert!(d <= 1e-4, "{name}: images differ by {d}");
        if let Some(wy) = arrays.get(&format!("{name}_y")) {
            assert_eq!(ys, wy.data(), "{name} labels");
        } else {
            assert!(ys.is_empty());
        }
    }
    eprintln!("worst pixel difference {worst}");
}

#[test]
fn shuffle_and_split_equal_keras() {
    let refs = refs();
    let tree = format!("{DIR}/tree");
    for seed in [1337u32, 7] {
        let o = DirectoryOptions {
            seed: Some(seed),
            image_size: (4, 4),
            verbose: false,
            ..Default::default()
        };
        let ds = image_dataset_from_directory(&tree, &o).unwrap().one().unwrap();
        assert_eq!(
            rel(ds.file_paths()),
            strings(&refs[format!("shuffled_{seed}")]["file_paths"])
        );
        let o = DirectoryOptions {
            validation_split: Some(0.25),
            subset: Some("both".into()),
            ..o
        };
        let (t, v) = image_dataset_from_directory(&tree, &o).unwrap().both().unwrap();
        let r = &refs[format!("split_{seed}")];
        assert_eq!(rel(t.file_paths()), strings(&r["train"]), "seed {seed}");
        assert_eq!(rel(v.file_paths()), strings(&r["validation"]), "seed {seed}");
        // Labels follow the files through the shuffle.
        for (p, &l) in t.file_paths().iter().zip(t.labels().unwrap()) {
            assert!(
                p.contains(&format!("/{}/", t.class_names().unwrap()[l as usize])),
                "{p} {l}"
            );
        }
        // Each epoch's order is a seeded permutation; epochs differ; the same epoch repeats.
        let (a, b) = (t.order(0), t.order(1));
        let mut s = a.clone();
        s.sort();
        assert_eq!(s, (0..t.num_files()).collect::<Vec<_>>());
        assert_ne!(a, b);
        assert_eq!(a, t.order(0));
        assert_eq!(
            v.order(3),
            (0..v.num_files()).collect::<Vec<_>>(),
            "validation is not shuffled"
        );
    }
}

#[test]
fn bad_folders_are_clear_errors() {
    let base = std::env::temp_dir().join(format!("rkeras_idfd_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let o = DirectoryOptions {
        verbose: false,
        ..Default::default()
    };
    let err = |p: &std::path::Path, o: &DirectoryOptions| image_dataset_from_directory(p, o).unwrap_err().to_string();
    assert!(err(&base.join("missing"), &o).contains("Could not find directory"));
    std::fs::create_dir_all(base.join("empty/a")).unwrap();
    let e = err(&base.join("empty"), &o);
    assert!(
        e.contains("No images found in directory") && e.contains("Allowed formats"),
        "{e}"
    );
    std::fs::create_dir_all(base.join("one/only")).unwrap();
    std::fs::copy(format!("{DIR}/files/rgb.png"), base.join("one/only/x.png")).unwrap();
    std::fs::write(base.join("one/only/broken.png"), b"\x89PNG\r\n\x1a\nbroken").unwrap();
    let bin = DirectoryOptions {
        label_mode: Some("binary".into()),
        ..o.clone()
    };
    assert!(err(&base.join("one"), &bin).contains("there must be exactly 2 class_names"));
    let no_seed = DirectoryOptions {
        validation_split: Some(0.2),
        subset: Some("training".into()),
        ..o.clone()
    };
    assert!(err(&base.join("one"), &no_seed).contains("you must provide a `seed` argument"));
    let bad_mode = DirectoryOptions {
        color_mode: "cmyk".into(),
        ..o.clone()
    };
    assert!(err(&base.join("one"), &bad_mode).contains("Received: color_mode=cmyk"));
    // An unreadable image is an error naming it when its batch is decoded, not a panic.
    let ds = image_dataset_from_directory(base.join("one"), &DirectoryOptions { shuffle: false, ..o })
        .unwrap()
        .one()
        .unwrap();
    let e = ds.epoch(0).find_map(|b| b.err()).unwrap().to_string();
    assert!(e.contains("broken.png") && e.contains("cannot decode"), "{e}");
    std::fs::remove_dir_all(&base).ok();
}

#[test]
fn fit_evaluate_predict_accept_a_dataset() {
    use rkeras::prelude::*;
    use rkeras::training::{EvaluateOptions, FitOptions};
    clear_session();
    let mut model = Sequential::new()
        .add(InputLayer::new(&[6, 8, 3]))
        .add(Rescaling::new(1.0 / 255.0))
        .add(Flatten::new())
        .add(Dense::new(3).activation("softmax"))
        .build()
        .unwrap();
    model
        .compile("adam", "sparse_categorical_crossentropy", &["accuracy"])
        .unwrap();
    let o = DirectoryOptions {
        image_size: (6, 8),
        batch_size: Some(5),
        seed: Some(1),
        validation_split: Some(0.25),
        subset: Some("both".into()),
        verbose: false,
        ..Default::default()
    };
    let (train, val) = image_dataset_from_directory(format!("{DIR}/tree"), &o)
        .unwrap()
        .both()
        .unwrap();
    let h = model
        .fit_dataset(&train, Some(&val), FitOptions::default().epochs(3).verbose(0))
        .unwrap();
    assert_eq!(h.get("loss").unwrap().len(), 3);
    assert_eq!(h.get("val_accuracy").unwrap().len(), 3);
    let logs = model
        .evaluate_dataset(&val, EvaluateOptions::default().verbose(0))
        .unwrap();
    assert!(logs.get("loss").unwrap().is_finite());
    let p = model.predict_dataset(&val).unwrap();
    assert_eq!(p.shape(), &[3, 3]);
    let e = model
        .fit_dataset(&train, None, FitOptions::default().validation_split(0.2).verbose(0))
        .unwrap_err();
    assert!(e.to_string().contains("`validation_split` is only supported"), "{e}");
}

/// The committed real tree (120 MNIST digits, tests/fixtures/images/mnist_tiny): Keras's
/// class order, grey 28×28 batches of real pixels, and a small CNN with augmentation trains on it.
#[test]
fn trains_on_real_mnist_pngs_with_augmentation() {
    use rkeras::prelude::*;
    use rkeras::training::FitOptions;
    let o = DirectoryOptions {
        image_size: (28, 28),
        color_mode: "grayscale".into(),
        batch_size: Some(16),
        seed: Some(3),
        verbose: false,
        ..Default::default()
    };
    let ds = image_dataset_from_directory(format!("{DIR}/mnist_tiny"), &o)
        .unwrap()
        .one()
        .unwrap();
    let names: Vec<String> = (0..10).map(|d| d.to_string()).collect();
    assert_eq!(ds.class_names().unwrap(), &names[..]);
    assert_eq!((ds.num_files(), ds.len()), (120, 8));
    let (x, y) = ds.epoch(0).next().unwrap().unwrap();
    assert_eq!(x.shape(), &[16, 28, 28, 1]);
    assert_eq!(y.unwrap().shape(), &[16]);
    assert!(x.data().contains(&255.0) && x.data().iter().all(|&v| (0.0..=255.0).contains(&v)));
    clear_session();
    let mut model = Sequential::new()
        .add(InputLayer::new(&[28, 28, 1]))
        .add(RandomRotation::new(0.05).seed(1))
        .add(RandomZoom::new(0.05).seed(2))
        .add(Rescaling::new(1.0 / 255.0))
        .add(Conv2D::new(8, 3).activation("relu"))
        .add(MaxPooling2D::new(2))
        .add(Flatten::new())
        .add(Dense::new(10).activation("softmax"))
        .build()
        .unwrap();
    model
        .compile("adam", "sparse_categorical_crossentropy", &["accuracy"])
        .unwrap();
    let h = model
        .fit_dataset(&ds, None, FitOptions::default().epochs(4).verbose(0))
        .unwrap();
    let loss = h.get("loss").unwrap();
    assert!(loss[3] < loss[0], "loss {loss:?}");
}
