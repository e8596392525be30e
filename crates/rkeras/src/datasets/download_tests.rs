//! Keras's downloads end to end, against a local HTTP server: each dataset's `get_file`
//! calls land in Keras's cache layout and the loaders read what was downloaded (CIFAR-10's
//! tar.gz extracted, Fashion-MNIST's four gz files, MNIST's npz, IMDB's npz and word index).
//! Only the origin (and, for archives made here, the checksum) is swapped for the server's.

use super::*;
use crate::utils::get_file::tests::serve;
use crate::utils::get_file::{hash_file, HashAlgorithm};
use std::collections::HashMap;
use std::io::Write;

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/datasets")
        .join(rel)
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rkeras-dl-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn sha256(bytes: &[u8], dir: &Path) -> String {
    let p = dir.join("probe");
    std::fs::write(&p, bytes).unwrap();
    let h = hash_file(&p, HashAlgorithm::Sha256).unwrap();
    std::fs::remove_file(&p).unwrap();
    h
}

/// Keras's `get_file` calls with the origin moved to `base` (same path) and the cache in
/// `cache`; `hashes` replaces the checksum of files made here.
fn local(name: &str, base: &str, cache: &Path, hashes: &HashMap<String, String>) -> Vec<GetFile> {
    keras_files(name)
        .unwrap()
        .into_iter()
        .map(|mut g| {
            let file = g.origin.rsplit('/').next().unwrap().to_string();
            g.origin = format!("{base}/{file}");
            if let Some(h) = hashes.get(&file) {
                g.file_hash = Some(h.clone());
            }
            g.cache_dir(cache).verbose(false)
        })
        .collect()
}

#[test]
fn keras_file_names_cache_folders_and_checksums() {
    let at = |name: &str| -> Vec<(String, Option<String>)> {
        keras_files(name)
            .unwrap()
            .iter()
            .map(|g| {
                let p = g.paths_in_for_test("/k");
                (p, g.file_hash.clone())
            })
            .collect()
    };
    assert_eq!(
        at("mnist"),
        [("/k/datasets/mnist.npz".into(), Some(mnist::MNIST_SHA256.into()))]
    );
    assert_eq!(
        at("fashion-mnist")[1].0,
        "/k/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
    );
    assert_eq!(
        at("cifar10")[0].0,
        "/k/datasets/cifar-10-batches-py-target_archive -> /k/datasets/cifar-10-batches-py-target"
    );
    assert_eq!(
        at("cifar100")[0].0,
        "/k/datasets/cifar-100-python-target_archive -> /k/datasets/cifar-100-python-target"
    );
    let imdb = at("imdb");
    assert_eq!(
        imdb[1],
        (
            "/k/datasets/imdb_word_index.json".into(),
            Some(imdb::WORD_INDEX_MD5.into())
        )
    );
    assert!(keras_files("svhn").is_err());
}

#[test]
fn cifar10_downloads_extracts_and_loads_from_keras_s_layout() {
    let cache = temp("cifar");
    let batch = std::fs::read(fixture("cifar/batch_py2")).unwrap();
    let mut tar = tar::Builder::new(Vec::new());
    for f in [
        "data_batch_1",
        "data_batch_2",
        "data_batch_3",
        "data_batch_4",
        "data_batch_5",
        "test_batch",
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(batch.len() as u64);
        h.set_mode(0o644);
        tar.append_data(&mut h, format!("cifar-10-batches-py/{f}"), &batch[..])
            .unwrap();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar.into_inner().unwrap()).unwrap();
    let archive = gz.finish().unwrap();
    let name = "cifar-10-python.tar.gz".to_string();
    let hashes = HashMap::from([(name.clone(), sha256(&archive, &cache))]);
    let (base, hits) = serve(HashMap::from([(format!("/{name}"), archive)]));
    for g in local("cifar10", &base, &cache, &hashes) {
        g.get().unwrap();
    }
    let d = cifar::load_cifar10(Some(&cache.join("datasets"))).unwrap();
    assert_eq!(d.x_train.shape(), &[15, 32, 32, 3]);
    assert_eq!(d.y_test.shape(), &[3, 1]);
    assert!(cache
        .join("datasets/cifar-10-batches-py-target/cifar-10-batches-py/test_batch")
        .is_file());
    // Cached: a second call fetches nothing. Keras's own checksum does not match this
    // archive, so the real `keras_files` spec would download again; the local one does not.
    for g in local("cifar10", &base, &cache, &hashes) {
        g.get().unwrap();
    }
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    std::fs::remove_dir_all(&cache).unwrap();
}

#[test]
fn fashion_mnist_and_mnist_download_into_keras_s_cache_and_load() {
    let cache = temp("mnist");
    let subset = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/mnist-subset");
    let mut routes = HashMap::new();
    for f in [
        "train-labels-idx1-ubyte",
        "train-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
    ] {
        routes.insert(
            format!("/{f}.gz"),
            std::fs::read(subset.join(format!("{f}.gz"))).unwrap(),
        );
    }
    let emb = mnist::load_embedded().unwrap();
    let npz = cache.join("made.npz");
    crate::io::npy::write_npz(
        npz.to_str().unwrap(),
        &[
            ("x_train".into(), emb.x_train.clone()),
            ("y_train".into(), emb.y_train.clone()),
            ("x_test".into(), emb.x_test.clone()),
            ("y_test".into(), emb.y_test.clone()),
        ],
    )
    .unwrap();
    let npz_bytes = std::fs::read(&npz).unwrap();
    let hashes = HashMap::from([("mnist.npz".to_string(), sha256(&npz_bytes, &cache))]);
    routes.insert("/mnist.npz".into(), npz_bytes);
    let (base, _) = serve(routes);
    for g in local("fashion_mnist", &base, &cache, &hashes) {
        g.get().unwrap();
    }
    let d = mnist::load_fashion(Some(&cache.join("datasets/fashion-mnist"))).unwrap();
    assert_eq!(d.x_train.shape(), &[6000, 28, 28]);
    for g in local("mnist", &base, &cache, &hashes) {
        g.get().unwrap();
    }
    let d = mnist::load_mnist(Some(&cache.join("datasets")), mnist::Missing::Error).unwrap();
    assert_eq!(d.source, Source::Dir(cache.join("datasets/mnist.npz")));
    assert_eq!(d.y_test.data(), emb.y_test.data());
    std::fs::remove_dir_all(&cache).unwrap();
}

#[test]
fn imdb_downloads_both_files() {
    let cache = temp("imdb");
    let npz = std::fs::read(fixture("imdb/imdb.npz")).unwrap();
    let index = std::fs::read(fixture("imdb/imdb_word_index.json")).unwrap();
    let hashes = HashMap::from([
        ("imdb.npz".to_string(), sha256(&npz, &cache)),
        ("imdb_word_index.json".to_string(), sha256(&index, &cache)),
    ]);
    let (base, _) = serve(HashMap::from([
        ("/imdb.npz".to_string(), npz),
        ("/imdb_word_index.json".to_string(), index),
    ]));
    let paths: Vec<PathBuf> = local("imdb", &base, &cache, &hashes)
        .iter()
        .map(|g| g.get().unwrap())
        .collect();
    let ((x, _), _) = imdb::load_data_from(&paths[0], &Default::default()).unwrap();
    assert_eq!(x.len(), 9);
    assert_eq!(imdb::get_word_index_from(&paths[1]).unwrap().len(), 39);
    std::fs::remove_dir_all(&cache).unwrap();
}
