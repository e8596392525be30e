//! `Normalization.adapt` against Keras 3.15 (`fixtures/images/normalization_adapt.json`, made
//! by `tools/fixtures/make_normalization_adapt_refs.py`): on `image_dataset_from_directory`
//! datasets of the committed PNG tree — batched `(x, y)` (labels ignored, as Keras takes `x`
//! from tuples), batched `x` only, single images — for `axis` -1, None, (1, 2) and (1, 2, 3);
//! on the same images as one array; on a list of uneven batches, then the adapted layer's
//! output. Mean and variance within 1e-5 (relative, at least absolute).

use rkeras::layers::feature_normalization::Normalization;
use rkeras::prelude::*;
use rkeras::utils::{image_dataset_from_directory, DirectoryOptions, Labels};
use serde_json::Value;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/images");

fn refs() -> Value {
    serde_json::from_str(&std::fs::read_to_string(format!("{DIR}/normalization_adapt.json")).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn axis(name: &str) -> Vec<isize> {
    match name {
        "last" => vec![-1],
        "none" => vec![],
        "hw" => vec![1, 2],
        _ => vec![1, 2, 3],
    }
}

fn dataset(batch_size: Option<usize>, labelled: bool) -> rkeras::utils::ImageDataset {
    let o = DirectoryOptions {
        shuffle: false,
        image_size: (6, 8),
        batch_size,
        labels: if labelled { Labels::Inferred } else { Labels::None },
        verbose: false,
        ..Default::default()
    };
    image_dataset_from_directory(format!("{DIR}/tree"), &o)
        .unwrap()
        .one()
        .unwrap()
}

/// Compares the adapted mean and variance with Keras's, returning the worst relative error.
fn check(key: &str, got: &(Vec<f32>, Vec<f32>, Vec<usize>), want: &Value) -> f32 {
    let mut worst = 0f32;
    for (g, w) in [(&got.0, floats(&want["mean"])), (&got.1, floats(&want["variance"]))] {
        assert_eq!(g.len(), w.len(), "{key}");
        for (a, b) in g.iter().zip(&w) {
            let rel = (a - b).abs() / b.abs().max(1.0);
            assert!(rel <= 1e-5, "{key}: {a} vs {b}");
            worst = worst.max(rel);
        }
    }
    worst
}

#[test]
fn adapt_on_datasets_equals_keras() {
    let r = refs();
    let (mut n, mut worst) = (0, 0f32);
    for (bs, bs_key) in [(Some(5), "5"), (None, "None")] {
        for (labelled, l_key) in [(true, "inferred"), (false, "None")] {
            let ds = dataset(bs, labelled);
            for a in ["last", "none", "hw", "hwc"] {
                let key = format!("ds|{bs_key}|{l_key}|{a}");
                let Some(want) = r.get(&key) else { continue };
                let mut c = Normalization::new().axis(&axis(a));
                c.adapt_dataset(&ds).unwrap();
                worst = worst.max(check(&key, c.adapted.as_ref().unwrap(), want));
                n += 1;
            }
        }
    }
    assert_eq!(n, 12);
    eprintln!("{n} dataset cases, worst relative error {worst:e}");
}

#[test]
fn adapt_on_the_stacked_array_equals_keras() {
    let r = refs();
    let ds = dataset(None, false);
    let mut data = Vec::new();
    for b in ds.epoch(0) {
        data.extend_from_slice(b.unwrap().0.data());
    }
    let x = Tensor::new(&[ds.num_files(), 6, 8, 3], data).unwrap();
    let mut worst = 0f32;
    for a in ["last", "none", "hw", "hwc"] {
        let key = format!("array|{a}");
        let mut c = Normalization::new().axis(&axis(a));
        c.adapt(&x).unwrap();
        worst = worst.max(check(&key, c.adapted.as_ref().unwrap(), &r[&key]));
        // The same array as batches of 4 gives the same statistics.
        let batches: Vec<Tensor> = (0..ds.num_files())
            .step_by(4)
            .map(|s| {
                let e = (s + 4).min(ds.num_files());
                Tensor::new(&[e - s, 6, 8, 3], x.data()[s * 144..e * 144].to_vec()).unwrap()
            })
            .collect();
        let mut streamed = Normalization::new().axis(&axis(a));
        streamed.adapt_batches(batches).unwrap();
        worst = worst.max(check(&key, streamed.adapted.as_ref().unwrap(), &r[&key]));
    }
    eprintln!("array cases, worst relative error {worst:e}");
}

#[test]
fn adapt_on_a_list_of_batches_then_predict_equals_keras() {
    let r = &refs()["list"];
    let batches: Vec<Tensor> = r["batch_shapes"]
        .as_array()
        .unwrap()
        .iter()
        .zip(r["batches"].as_array().unwrap())
        .map(|(s, v)| {
            let s: Vec<usize> = s
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap() as usize)
                .collect();
            Tensor::new(&s, floats(v)).unwrap()
        })
        .collect();
    let mut c = Normalization::new();
    c.adapt_batches(batches.iter()).unwrap();
    check("list", c.adapted.as_ref().unwrap(), r);
    clear_session();
    let x = Input(&[4]).unwrap();
    let y = c.call(&x).unwrap();
    let model = Model::new(&[&x], &[&y], None).unwrap();
    let out = model.predict(&[batches[0].clone()], 32).unwrap().remove(0);
    for (a, b) in out.data().iter().zip(floats(&r["output"])) {
        assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "{a} vs {b}");
    }
}

#[test]
fn adapt_errors_are_clear() {
    let mut c = Normalization::new();
    let e = c.adapt_batches(Vec::<Tensor>::new()).unwrap_err().to_string();
    assert!(e.contains("empty iterable"), "{e}");
    let e = c
        .adapt_batches(vec![Tensor::ones(&[2, 3]), Tensor::ones(&[2, 4])])
        .unwrap_err()
        .to_string();
    assert!(e.contains("incompatible shape") && e.contains("[2, 4]"), "{e}");
    let mut given = Normalization::new().mean_variance(&[1.0], &[2.0]);
    let e = given.adapt_dataset(&dataset(Some(5), true)).unwrap_err().to_string();
    assert!(e.contains("no statistics to learn"), "{e}");
    // A batch that fails to load stops adapt with its error.
    let bad: Vec<rkeras::Result<Tensor>> = vec![
        Ok(Tensor::ones(&[1, 3])),
        Err(rkeras::KerasError::Invalid("unreadable batch".into())),
    ];
    let e = c.adapt_batches(bad).unwrap_err().to_string();
    assert!(e.contains("unreadable batch"), "{e}");
}
