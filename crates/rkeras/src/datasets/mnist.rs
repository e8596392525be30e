//! MNIST and Fashion-MNIST: `mnist::load_data()` and `fashion_mnist::load_data()` as Keras
//! (`x` `(N, 28, 28)` pixels 0..255, `y` `(N,)` labels 0..9), read from Keras's cache
//! (`mnist.npz`; `fashion-mnist/*-ubyte.gz`), a directory of IDX files (gz or not), or — MNIST
//! only — the real 6,000/1,000-digit subset embedded in the library.
//!
//! MNIST is © Yann LeCun, Corinna Cortes and Chris Burges (CC BY-SA 3.0); the embedded
//! subset's attribution is in `crates/rkeras/data/mnist-subset/README.md`.

use super::idx::{maybe_gunzip, read_idx, read_idx_bytes, MAX_IDX_BYTES};
use super::{check_pair, first_file, not_found, or_download, search_dirs, source_of, Dataset, Source, Splits};
use crate::error::{KerasError, Result};
use std::path::{Path, PathBuf};
use std::sync::Once;
use tensor::Tensor;

/// Keras's address and SHA-256 of `mnist.npz`.
pub const MNIST_ORIGIN: &str = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz";
/// SHA-256 of Keras's `mnist.npz`.
pub const MNIST_SHA256: &str = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1";
/// Keras's folder for Fashion-MNIST's four files (`<origin>/<file>`).
pub const FASHION_ORIGIN: &str = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/";
/// Where Debian's `dataset-fashion-mnist` package puts the files.
pub const FASHION_SYSTEM_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// The four IDX files, in Keras's order: train labels, train images, test labels, test images.
const IDX_FILES: [&str; 4] = [
    "train-labels-idx1-ubyte",
    "train-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
];

static EMBED: [&[u8]; 4] = [
    include_bytes!("../../data/mnist-subset/train-labels-idx1-ubyte.gz"),
    include_bytes!("../../data/mnist-subset/train-images-idx3-ubyte.gz"),
    include_bytes!("../../data/mnist-subset/t10k-labels-idx1-ubyte.gz"),
    include_bytes!("../../data/mnist-subset/t10k-images-idx3-ubyte.gz"),
];

/// `keras.datasets.mnist.load_data()`: the full MNIST from [`super::DATA_DIR_ENV`] or
/// Keras's cache (`mnist.npz`), else downloaded into the cache as Keras does; when that
/// fails (offline), the embedded subset, with a notice on stderr saying why.
pub fn load_data() -> Result<Splits> {
    Ok(load_mnist(None, Missing::DownloadElseEmbedded)?.into_splits())
}

/// What [`load_mnist`] does when no full MNIST is found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Missing {
    /// An error.
    Error,
    /// The embedded subset.
    Embedded,
    /// Keras's download into its cache, else the embedded subset.
    DownloadElseEmbedded,
}

/// MNIST from a file (`mnist.npz`) or a directory (`mnist.npz`, or the four IDX files, in
/// it or in its `mnist/` folder); no fallback.
pub fn load_data_from(path: &Path) -> Result<Splits> {
    if path.is_file() {
        return Ok(read_mnist_npz(path)?.into_splits());
    }
    Ok(load_mnist(Some(path), Missing::Error)?.into_splits())
}

/// The embedded subset: the first 6,000 training and first 1,000 test digits of MNIST.
pub fn load_embedded() -> Result<Dataset> {
    let mut parts = Vec::with_capacity(4);
    for (bytes, name) in EMBED.iter().zip(IDX_FILES) {
        let path = format!("embedded {name}.gz");
        parts.push(read_idx_bytes(
            &path,
            &maybe_gunzip(&path, bytes.to_vec(), MAX_IDX_BYTES)?,
        )?);
    }
    assemble("mnist", parts, Source::Embedded)
}

/// `keras.datasets.fashion_mnist.load_data()` from [`super::DATA_DIR_ENV`], Keras's cache
/// (`fashion-mnist/`) or Debian's copy ([`FASHION_SYSTEM_DIR`]), else downloaded into the
/// cache as Keras does.
pub mod fashion_mnist {
    use super::*;

    /// Keras's `fashion_mnist.load_data()`.
    pub fn load_data() -> Result<Splits> {
        Ok(load_fashion(None)?.into_splits())
    }

    /// Fashion-MNIST from a directory of the four IDX files (or its `fashion-mnist/`).
    pub fn load_data_from(dir: &Path) -> Result<Splits> {
        Ok(load_fashion(Some(dir))?.into_splits())
    }
}

/// MNIST from `data_dir` (only), else the usual places; `missing` says what then.
pub(crate) fn load_mnist(data_dir: Option<&Path>, missing: Missing) -> Result<Dataset> {
    let scan = |looked: &mut Vec<PathBuf>| -> Result<Option<Dataset>> {
        for (dir, is_cache) in search_dirs(data_dir) {
            if let Some(npz) = first_file(&dir, &["mnist.npz"]) {
                return read_mnist_npz(&npz)
                    .map(|d| Dataset {
                        source: source_of(&npz, is_cache),
                        ..d
                    })
                    .map(Some);
            }
            for d in [dir.clone(), dir.join("mnist")] {
                if let Some(files) = idx_set(&d)? {
                    return read_idx_set("mnist", &files, source_of(&d, is_cache)).map(Some);
                }
            }
            looked.push(dir);
        }
        Ok(None)
    };
    let mut looked = Vec::new();
    if let Some(d) = scan(&mut looked)? {
        return Ok(d);
    }
    let not_there = not_found(
        "mnist",
        &looked,
        "mnist.npz or the IDX files train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], \
         t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]",
        MNIST_ORIGIN,
        &format!("sha256 {MNIST_SHA256}"),
    );
    if data_dir.is_some() || missing == Missing::Error {
        return Err(not_there);
    }
    let why = if missing == Missing::DownloadElseEmbedded {
        match or_download("mnist", None, not_there, super::keras_files("mnist")?, || {
            scan(&mut Vec::new())
        }) {
            Ok(d) => return Ok(d),
            Err(e) => format!("downloading failed: {e}"),
        }
    } else {
        format!(
            "looked in {}",
            looked
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    static NOTICE: Once = Once::new();
    NOTICE.call_once(|| {
        eprintln!("rkeras: no full MNIST found ({why}); using the embedded subset (6,000 training / 1,000 test digits)")
    });
    load_embedded()
}

/// Fashion-MNIST from `data_dir` (only), else the usual places and Debian's copy.
pub(crate) fn load_fashion(data_dir: Option<&Path>) -> Result<Dataset> {
    let mut looked = Vec::new();
    let mut dirs = search_dirs(data_dir);
    let system = data_dir.is_none();
    if system {
        dirs.push((PathBuf::from(FASHION_SYSTEM_DIR), false));
    }
    let last = dirs.len() - 1;
    for (i, (dir, is_cache)) in dirs.into_iter().enumerate() {
        for d in [dir.join("fashion-mnist"), dir.clone()] {
            // Keras's cache root holds other datasets: only its `fashion-mnist/` counts.
            if is_cache && d == dir {
                continue;
            }
            if let Some(files) = idx_set(&d)? {
                let source = if system && i == last {
                    Source::System(d.clone())
                } else {
                    source_of(&d, is_cache)
                };
                return read_idx_set("fashion_mnist", &files, source);
            }
        }
        looked.push(dir);
    }
    let missing = not_found(
        "fashion_mnist",
        &looked,
        "the four files fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz",
        &format!("{FASHION_ORIGIN}<file>"),
        "no checksum in Keras",
    );
    or_download(
        "fashion_mnist",
        data_dir,
        missing,
        super::keras_files("fashion_mnist")?,
        || load_fashion(Some(&super::cache_dir().join("fashion-mnist"))).map(Some),
    )
}

/// The four IDX files in `dir` (each `.gz` or plain, also `train-images.idx3-ubyte`
/// spelling), `None` when none is there; an error when only some are.
fn idx_set(dir: &Path) -> Result<Option<Vec<PathBuf>>> {
    if !dir.is_dir() {
        return Ok(None);
    }
    let found: Vec<Option<PathBuf>> = IDX_FILES
        .iter()
        .map(|n| {
            let dotted = n.replacen('-', ".", 2).replacen('.', "-", 1);
            first_file(dir, &[&format!("{n}.gz"), n, &format!("{dotted}.gz"), &dotted])
        })
        .collect();
    match found.iter().filter(|f| f.is_some()).count() {
        0 => Ok(None),
        4 => Ok(Some(found.into_iter().flatten().collect())),
        _ => {
            let missing: Vec<&str> = IDX_FILES
                .iter()
                .zip(&found)
                .filter(|(_, f)| f.is_none())
                .map(|(n, _)| *n)
                .collect();
            Err(KerasError::Invalid(format!(
                "{}: incomplete IDX set, missing {} (gz or not)",
                dir.display(),
                missing.join(", ")
            )))
        }
    }
}

fn read_idx_set(name: &str, files: &[PathBuf], source: Source) -> Result<Dataset> {
    let parts = files.iter().map(|f| read_idx(f)).collect::<Result<Vec<_>>>()?;
    assemble(name, parts, source)
}

/// Checks shapes (labels `(N,)`, images `(N, H, W)`) and orders Keras's way.
fn assemble(name: &str, parts: Vec<Tensor>, source: Source) -> Result<Dataset> {
    let mut it = parts.into_iter();
    let (Some(y_train), Some(x_train), Some(y_test), Some(x_test)) = (it.next(), it.next(), it.next(), it.next())
    else {
        return Err(KerasError::Invalid(format!("{name}: expected four arrays")));
    };
    for (what, t, rank) in [
        ("labels", &y_train, 1),
        ("images", &x_train, 3),
        ("labels", &y_test, 1),
        ("images", &x_test, 3),
    ] {
        if t.rank() != rank {
            return Err(KerasError::Invalid(format!(
                "{name} ({source}): {what} should have rank {rank}, received shape {:?}",
                t.shape()
            )));
        }
    }
    check_pair(&format!("{name} train ({source})"), &x_train, &y_train)?;
    check_pair(&format!("{name} test ({source})"), &x_test, &y_test)?;
    Ok(Dataset {
        name: name.to_string(),
        x_train,
        y_train,
        x_test,
        y_test,
        source,
    })
}

/// Keras's `mnist.npz`: `x_train`, `y_train`, `x_test`, `y_test`.
fn read_mnist_npz(path: &Path) -> Result<Dataset> {
    let p = path.display().to_string();
    let mut arrays = crate::io::npy::read_npz(&p)?;
    let mut take = |key: &str| -> Result<Tensor> {
        let i = arrays
            .iter()
            .position(|(n, _)| n == key)
            .ok_or_else(|| KerasError::Invalid(format!("{p}: no array {key:?} (expected Keras's mnist.npz)")))?;
        Ok(arrays.swap_remove(i).1)
    };
    let parts = vec![take("y_train")?, take("x_train")?, take("y_test")?, take("x_test")?];
    assemble("mnist", parts, Source::Dir(path.to_path_buf()))
}

#[cfg(test)]
mod tests {
    use super::super::idx::{gzip, idx_u8_bytes};
    use super::*;

    #[test]
    fn embedded_subset_is_real_mnist() {
        let d = load_embedded().unwrap();
        assert_eq!(d.x_train.shape(), &[6000, 28, 28]);
        assert_eq!(d.y_train.shape(), &[6000]);
        assert_eq!(d.x_test.shape(), &[1000, 28, 28]);
        assert_eq!(d.y_test.shape(), &[1000]);
        // MNIST's first training labels and first test labels.
        assert_eq!(&d.y_train.data()[..8], &[5., 0., 4., 1., 9., 2., 1., 3.]);
        assert_eq!(&d.y_test.data()[..8], &[7., 2., 1., 0., 4., 1., 4., 9.]);
        assert!(d.x_train.data().iter().all(|&v| (0.0..=255.0).contains(&v)));
        assert_eq!(d.num_classes(), 10);
    }

    fn write_set(dir: &Path, n: usize, gz: bool, skip: Option<usize>) {
        std::fs::create_dir_all(dir).unwrap();
        let tensors = [
            Tensor::full(&[n], 3.0),
            Tensor::full(&[n, 2, 2], 7.0),
            Tensor::full(&[n + 1], 1.0),
            Tensor::full(&[n + 1, 2, 2], 9.0),
        ];
        for (i, (name, t)) in IDX_FILES.iter().zip(&tensors).enumerate() {
            if skip == Some(i) {
                continue;
            }
            let raw = idx_u8_bytes(t);
            let (file, bytes) = if gz {
                (format!("{name}.gz"), gzip(&raw))
            } else {
                (name.to_string(), raw)
            };
            std::fs::write(dir.join(file), bytes).unwrap();
        }
    }

    #[test]
    fn reads_idx_directories_gz_or_not_and_pins_errors() {
        let root = std::env::temp_dir().join(format!("rkeras-mnist-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        write_set(&root.join("plain"), 3, false, None);
        let ((x, y), (xt, yt)) = load_data_from(&root.join("plain")).unwrap();
        assert_eq!(
            (x.shape(), y.shape(), xt.shape(), yt.shape()),
            (&[3, 2, 2][..], &[3][..], &[4, 2, 2][..], &[4][..])
        );
        assert_eq!(x.data()[0], 7.0);
        write_set(&root.join("gz/fashion-mnist"), 2, true, None);
        let d = load_fashion(Some(&root.join("gz"))).unwrap();
        assert_eq!(d.x_train.shape(), &[2, 2, 2]);
        assert_eq!(d.source, Source::Dir(root.join("gz/fashion-mnist")));
        write_set(&root.join("partial"), 2, true, Some(3));
        let e = load_data_from(&root.join("partial")).unwrap_err().to_string();
        assert!(e.contains("incomplete IDX set, missing t10k-images-idx3-ubyte"), "{e}");
        let e = load_data_from(&root.join("nothing")).unwrap_err().to_string();
        assert!(e.contains("mnist: no data found") && e.contains(MNIST_ORIGIN), "{e}");
        // Labels and images that do not belong together.
        write_set(&root.join("odd"), 2, false, None);
        std::fs::write(
            root.join("odd/train-labels-idx1-ubyte"),
            idx_u8_bytes(&Tensor::zeros(&[5])),
        )
        .unwrap();
        let e = load_data_from(&root.join("odd")).unwrap_err().to_string();
        assert!(e.contains("Some(2) images but Some(5) labels"), "{e}");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn reads_keras_npz_layout() {
        let root = std::env::temp_dir().join(format!("rkeras-mnist-npz-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        let npz = root.join("mnist.npz");
        let arrays = [
            ("x_train", Tensor::full(&[2, 28, 28], 1.0)),
            ("y_train", Tensor::full(&[2], 4.0)),
            ("x_test", Tensor::full(&[1, 28, 28], 2.0)),
            ("y_test", Tensor::full(&[1], 5.0)),
        ];
        let arrays: Vec<(String, Tensor)> = arrays.into_iter().map(|(n, t)| (n.to_string(), t)).collect();
        crate::io::npy::write_npz(npz.to_str().unwrap(), &arrays).unwrap();
        let ((x, y), (_, yt)) = load_data_from(&npz).unwrap();
        assert_eq!(
            (x.shape(), y.data(), yt.data()),
            (&[2, 28, 28][..], &[4.0, 4.0][..], &[5.0][..])
        );
        let d = load_mnist(Some(&root), Missing::Error).unwrap();
        assert_eq!(d.source, Source::Dir(npz));
        let _ = std::fs::remove_dir_all(&root);
    }
}
