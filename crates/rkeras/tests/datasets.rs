//! Datasets against real Keras: small files in Keras's layouts and what Keras's own loaders
//! return for them (tools/fixtures/make_dataset_fixtures.py, run by hand with Keras 3.15),
//! and the search order (explicit directory, RKERAS_DATA_DIR, Keras's cache).

use rkeras::datasets::{self, cifar, imdb, Source};
use std::path::{Path, PathBuf};

fn fixture(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/datasets")
        .join(p)
}

fn json(p: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(p)).unwrap()).unwrap()
}

fn opt(v: &serde_json::Value, key: &str, default: Option<usize>) -> Option<usize> {
    match v.get(key) {
        None => default,
        Some(serde_json::Value::Null) => None,
        Some(n) => Some(n.as_u64().unwrap() as usize),
    }
}

fn seqs(v: &serde_json::Value) -> Vec<Vec<usize>> {
    serde_json::from_value(v.clone()).unwrap()
}

/// `keras.datasets.imdb.load_data(**args)` on the fixture npz, for several argument sets.
#[test]
fn imdb_matches_keras_for_every_argument_set() {
    let expected = json("imdb/expected.json");
    for (case, e) in expected.as_object().unwrap() {
        let a = &e["args"];
        let d = imdb::ImdbOptions::default();
        let o = imdb::ImdbOptions {
            num_words: opt(a, "num_words", d.num_words),
            skip_top: opt(a, "skip_top", Some(d.skip_top)).unwrap(),
            maxlen: opt(a, "maxlen", d.maxlen),
            seed: opt(a, "seed", Some(113)).unwrap() as u32,
            start_char: opt(a, "start_char", d.start_char),
            oov_char: opt(a, "oov_char", d.oov_char),
            index_from: opt(a, "index_from", Some(d.index_from)).unwrap(),
        };
        let ((x, y), (xt, yt)) = imdb::load_data_from(&fixture("imdb/imdb.npz"), &o).unwrap();
        assert_eq!(x, seqs(&e["x_train"]), "{case} x_train");
        assert_eq!(xt, seqs(&e["x_test"]), "{case} x_test");
        let labels = |v: &serde_json::Value| -> Vec<f32> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_f64().unwrap() as f32)
                .collect()
        };
        assert_eq!(y.data(), labels(&e["y_train"]).as_slice(), "{case} y_train");
        assert_eq!(yt.data(), labels(&e["y_test"]).as_slice(), "{case} y_test");
    }
    let o = imdb::ImdbOptions {
        maxlen: Some(1),
        ..Default::default()
    };
    let e = imdb::load_data_from(&fixture("imdb/imdb.npz"), &o)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no sequence was kept. Increase maxlen"), "{e}");
    let words = imdb::get_word_index_from(&fixture("imdb/imdb_word_index.json")).unwrap();
    assert_eq!(words["w7"], 7);
}

/// CIFAR python batches as Python 2 wrote them, and as Python 3 protocols 2 and 4 do.
#[test]
fn cifar_python_batches_match_keras_load_batch() {
    let expected = json("cifar/expected.json");
    for (name, e) in expected.as_object().unwrap() {
        let (px, labels) = cifar::read_python_batch(&fixture(&format!("cifar/{name}")), "labels").unwrap();
        let want: Vec<f32> = e["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(labels, want, "{name}");
        let sum: u64 = px.iter().map(|&p| p as u64).sum();
        assert_eq!(sum, e["data_sum"].as_u64().unwrap(), "{name}");
        let first: Vec<u64> = (0..3)
            .flat_map(|i| px[i * 3072..i * 3072 + 5].iter().map(|&p| p as u64))
            .collect();
        let want_first: Vec<u64> = e["first"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert_eq!(first, want_first, "{name}");
    }
    let e = cifar::read_python_batch(&fixture("cifar/batch_p4"), "fine_labels")
        .unwrap_err()
        .to_string();
    assert!(e.contains("no \"fine_labels\" entry"), "{e}");
}

#[test]
fn a_pickle_that_runs_code_is_refused() {
    let e = cifar::read_python_batch(&fixture("evil.pkl"), "labels")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("evil.pkl") && e.contains("refusing to load `posix.system`"),
        "{e}"
    );
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(from, to).unwrap();
}

/// The only test that sets environment variables (one test, so no other thread reads them).
#[test]
fn search_order_env_dir_then_keras_cache() {
    let root = std::env::temp_dir().join(format!("rkeras-datasets-it-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let home = root.join("kh");
    let cache = home.join("datasets");
    copy(&fixture("imdb/imdb.npz"), &cache.join("imdb.npz"));
    copy(
        &fixture("imdb/imdb_word_index.json"),
        &cache.join("imdb_word_index.json"),
    );
    let py = cache.join("cifar-10-batches-py-target/cifar-10-batches-py");
    for f in [
        "data_batch_1",
        "data_batch_2",
        "data_batch_3",
        "data_batch_4",
        "data_batch_5",
        "test_batch",
    ] {
        copy(&fixture("cifar/batch_py2"), &py.join(f));
    }
    std::env::set_var("KERAS_HOME", &home);
    std::env::remove_var(datasets::DATA_DIR_ENV);
    assert_eq!(datasets::cache_dir(), cache);

    let ((x, _), _) = imdb::load_data(&Default::default()).unwrap();
    assert_eq!(x.len(), 9);
    assert_eq!(imdb::get_word_index().unwrap().len(), 39);
    let d = datasets::load("cifar10", None).unwrap();
    assert_eq!(d.source, Source::KerasCache(py.clone()));
    assert_eq!(
        (d.x_train.shape(), d.y_train.shape()),
        (&[15, 32, 32, 3][..], &[15, 1][..])
    );
    assert_eq!(d.x_test.shape(), &[3, 32, 32, 3]);

    // No MNIST anywhere: load() falls back to the embedded subset, an explicit dir does not.
    let d = datasets::load("mnist", None).unwrap();
    assert_eq!((d.source, d.x_train.shape()[0]), (Source::Embedded, 6000));
    let e = datasets::load("mnist", Some(&root.join("empty")))
        .unwrap_err()
        .to_string();
    assert!(e.contains("mnist: no data found"), "{e}");

    // RKERAS_DATA_DIR comes before the cache.
    let dir = root.join("data");
    copy(&fixture("imdb/imdb.npz"), &dir.join("imdb/imdb.npz"));
    std::fs::write(dir.join("imdb_word_index.json"), "{\"only\": 1}").unwrap();
    std::env::set_var(datasets::DATA_DIR_ENV, &dir);
    assert_eq!(imdb::get_word_index().unwrap().len(), 1);
    assert!(imdb::load_data(&Default::default()).is_ok());
    let e = datasets::load("fashion_mnist", Some(&dir)).unwrap_err().to_string();
    assert!(
        e.contains("fashion_mnist: no data found") && e.contains("fashion-mnist"),
        "{e}"
    );
    let e = datasets::load("svhn", None).unwrap_err().to_string();
    assert!(e.contains("unknown dataset \"svhn\""), "{e}");
    std::env::remove_var(datasets::DATA_DIR_ENV);
    std::env::remove_var("KERAS_HOME");
    let _ = std::fs::remove_dir_all(&root);
}

/// A small in-CI fuzz: every truncation and a byte flip at every position of real pickles
/// (a Python 2 CIFAR batch, Keras's object array of reviews) is an error or a value, never a
/// panic. (The long fuzz runs are cargo-fuzz's, by hand.)
#[test]
fn damaged_pickles_never_panic() {
    use rkeras::datasets::pickle;
    let npz = std::fs::read(fixture("imdb/imdb.npz")).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(npz)).unwrap();
    let mut reviews = Vec::new();
    std::io::Read::read_to_end(&mut zip.by_name("x_train.npy").unwrap(), &mut reviews).unwrap();
    let start = reviews.iter().position(|&b| b == b'\n').unwrap() + 1;
    let cifar = std::fs::read(fixture("cifar/batch_py2")).unwrap();
    // The pixel payload is one long string: damage the structure around it, not its bytes.
    let cifar_head: Vec<u8> = cifar[..400].to_vec();
    for bytes in [&reviews[start..], &cifar[..], &cifar_head[..]] {
        for n in 0..bytes.len().min(1500) {
            let _ = pickle::load(&bytes[..n], "t");
        }
        for i in 0..bytes.len().min(1500) {
            for flip in [0xff, 0x01, 0x80] {
                let mut b = bytes.to_vec();
                b[i] ^= flip;
                let _ = pickle::load(&b, "t");
            }
        }
    }
}
