//! Datasets with Keras's `load_data` signatures and cache layout.
//!
//! ```no_run
//! use rkeras::datasets::mnist;
//! // ((60000, 28, 28), (60000,)), ((10000, 28, 28), (10000,)); pixels 0..255 as Keras returns them
//! let ((x_train, y_train), (x_test, y_test)) = mnist::load_data().unwrap();
//! ```
//!
//! Where data is looked for, in order:
//!
//! 1. a directory given explicitly (`--data-dir`, [`load`]'s `data_dir`) or by the
//!    environment variable [`DATA_DIR_ENV`] (`RKERAS_DATA_DIR`): Keras's files
//!    (`mnist.npz`, `imdb.npz`, …) or the standard ones (IDX, gz or not; CIFAR binary),
//!    directly in it or in the dataset's sub-folder (`mnist/`, `fashion-mnist/`,
//!    `cifar-10-batches-bin/`, …);
//! 2. Keras's cache, `$KERAS_HOME/datasets` or `~/.keras/datasets` ([`cache_dir`]), in
//!    Keras's layout (`mnist.npz`, `fashion-mnist/*.gz`,
//!    `cifar-10-batches-py-target/cifar-10-batches-py/`, `imdb.npz`);
//! 3. system copies (Debian's `dataset-fashion-mnist` package);
//! 4. Keras's download ([`download`], `keras.utils.get_file`: same addresses, same checksums,
//!    same cache layout), when no directory was given explicitly;
//! 5. for MNIST only, a small real subset embedded in the library ([`mnist::load_embedded`]):
//!    `mnist::load_data()` falls back to it when the download fails (offline), and
//!    [`load`] (the CLI's `--dataset mnist`) uses it instead of downloading.
//!
//! When nothing can be had the error says which files, where they were looked for, Keras's
//! address and checksum, and why the download failed.
//!
//! Arrays come back as `f32` tensors holding Keras's values (`uint8` pixels 0..255, labels
//! 0..9) in Keras's shapes; scale them yourself (`x.map(|v| v / 255.0)`), as the tutorials do.

pub mod cifar;
pub mod idx;
pub mod imdb;
pub mod mnist;
pub mod mt19937;
pub mod pickle;

pub use cifar::{cifar10, cifar100};
pub use mnist::fashion_mnist;

use crate::error::{KerasError, Result};
use crate::utils::get_file::GetFile;
use std::path::{Path, PathBuf};
use tensor::Tensor;

/// Environment variable naming a directory of dataset files.
pub const DATA_DIR_ENV: &str = "RKERAS_DATA_DIR";

/// Keras's `(x_train, y_train), (x_test, y_test)`.
pub type Splits = ((Tensor, Tensor), (Tensor, Tensor));

/// Keras's home: `$KERAS_HOME`, else `~/.keras` (as `keras.config.keras_home()`).
pub fn keras_home() -> PathBuf {
    if let Some(h) = std::env::var_os("KERAS_HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(h);
    }
    let home = std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".keras")
}

/// Keras's dataset cache, `keras_home()/datasets`.
pub fn cache_dir() -> PathBuf {
    keras_home().join("datasets")
}

/// Where a dataset was read from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A directory (explicit or [`DATA_DIR_ENV`]) or a file in it.
    Dir(PathBuf),
    /// Keras's cache.
    KerasCache(PathBuf),
    /// A system-wide copy (a distribution package).
    System(PathBuf),
    /// The subset embedded in the library.
    Embedded,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Dir(p) => write!(f, "{}", p.display()),
            Source::KerasCache(p) => write!(f, "{} (Keras's cache)", p.display()),
            Source::System(p) => write!(f, "{} (system copy)", p.display()),
            Source::Embedded => write!(f, "the embedded subset"),
        }
    }
}

/// A loaded image-classification dataset and where it came from.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Keras's dataset name (`mnist`, `fashion_mnist`, `cifar10`, `cifar100`).
    pub name: String,
    /// Training images, Keras's shape and values (`(60000, 28, 28)`, 0..255).
    pub x_train: Tensor,
    /// Training labels (`(60000,)`, or `(50000, 1)` for CIFAR as Keras).
    pub y_train: Tensor,
    /// Test images.
    pub x_test: Tensor,
    /// Test labels.
    pub y_test: Tensor,
    /// Where it was read from.
    pub source: Source,
}

impl Dataset {
    /// Keras's `(x_train, y_train), (x_test, y_test)`.
    pub fn into_splits(self) -> Splits {
        ((self.x_train, self.y_train), (self.x_test, self.y_test))
    }

    /// Number of classes (10, or 100 for CIFAR-100 fine labels, 20 coarse).
    pub fn num_classes(&self) -> usize {
        let max = self
            .y_train
            .data()
            .iter()
            .chain(self.y_test.data())
            .fold(0f32, |a, &b| a.max(b));
        max as usize + 1
    }
}

/// The image datasets [`load`] knows, as Keras names them.
pub const IMAGE_DATASETS: [&str; 4] = ["mnist", "fashion_mnist", "cifar10", "cifar100"];

/// Loads an image dataset by Keras's name (`mnist`, `fashion_mnist`, `cifar10`,
/// `cifar100`, also spelled `fashion-mnist`, `cifar-10`), from `data_dir` when given
/// (and then only from there), else from the places listed in the module docs. MNIST
/// falls back to the embedded subset when no full copy is found, without downloading
/// (call [`download`] first for the full set); the others are downloaded as Keras does.
pub fn load(name: &str, data_dir: Option<&Path>) -> Result<Dataset> {
    let key = name.to_ascii_lowercase().replace('-', "_");
    match key.as_str() {
        "mnist" => mnist::load_mnist(data_dir, mnist::Missing::Embedded),
        "fashion_mnist" => mnist::load_fashion(data_dir),
        "cifar10" | "cifar_10" => cifar::load_cifar10(data_dir),
        "cifar100" | "cifar_100" => cifar::load_cifar100(data_dir, cifar::LabelMode::Fine),
        _ => Err(KerasError::Invalid(format!(
            "unknown dataset {name:?}: expected one of {}",
            IMAGE_DATASETS.join(", ")
        ))),
    }
}

/// The `get_file` calls `keras.datasets.<name>.load_data()` makes (IMDB: also
/// `get_word_index()`'s): the same addresses, file names, cache folders and checksums.
pub fn keras_files(name: &str) -> Result<Vec<GetFile>> {
    let key = name.to_ascii_lowercase().replace('-', "_");
    Ok(match key.as_str() {
        "mnist" => vec![GetFile::new(mnist::MNIST_ORIGIN)
            .fname("mnist.npz")
            .file_hash(mnist::MNIST_SHA256)],
        "fashion_mnist" => [
            "train-labels-idx1-ubyte.gz",
            "train-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
        ]
        .iter()
        .map(|f| {
            GetFile::new(format!("{}{f}", mnist::FASHION_ORIGIN))
                .fname(*f)
                .cache_subdir("datasets/fashion-mnist")
        })
        .collect(),
        "cifar10" | "cifar_10" => vec![GetFile::new(cifar::CIFAR10_ORIGIN)
            .fname("cifar-10-batches-py-target")
            .extract(true)
            .file_hash(cifar::CIFAR10_SHA256)],
        "cifar100" | "cifar_100" => vec![GetFile::new(cifar::CIFAR100_ORIGIN)
            .fname("cifar-100-python-target")
            .extract(true)
            .file_hash(cifar::CIFAR100_SHA256)],
        "imdb" => vec![
            GetFile::new(imdb::IMDB_ORIGIN)
                .fname("imdb.npz")
                .file_hash(imdb::IMDB_SHA256),
            GetFile::new(imdb::WORD_INDEX_ORIGIN)
                .fname("imdb_word_index.json")
                .file_hash(imdb::WORD_INDEX_MD5),
        ],
        _ => {
            return Err(KerasError::Invalid(format!(
                "unknown dataset {name:?}: expected one of {}, imdb",
                IMAGE_DATASETS.join(", ")
            )))
        }
    })
}

/// Downloads a dataset into Keras's cache as `keras.datasets.<name>.load_data()` does
/// (files already there with the right checksum are kept); returns the cached paths.
pub fn download(name: &str) -> Result<Vec<PathBuf>> {
    keras_files(name)?.iter().map(GetFile::get).collect()
}

/// Nothing found locally and no explicit directory: Keras's download into its cache, then
/// `scan` again. The error keeps `missing`'s account of where files were looked for.
pub(crate) fn or_download<T>(
    name: &str,
    data_dir: Option<&Path>,
    missing: KerasError,
    files: Vec<GetFile>,
    scan: impl Fn() -> Result<Option<T>>,
) -> Result<T> {
    if data_dir.is_some() {
        return Err(missing);
    }
    for f in &files {
        f.get()
            .map_err(|e| KerasError::Invalid(format!("{missing}. Downloading failed: {e}")))?;
    }
    scan()?.ok_or_else(|| {
        KerasError::Invalid(format!(
            "{name}: downloaded into {}, but the files are not in Keras's layout there",
            cache_dir().display()
        ))
    })
}

/// The directories to search for a dataset: the explicit one only, when given; else
/// [`DATA_DIR_ENV`] (a file source), then Keras's cache.
pub(crate) fn search_dirs(data_dir: Option<&Path>) -> Vec<(PathBuf, bool)> {
    if let Some(d) = data_dir {
        return vec![(d.to_path_buf(), false)];
    }
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os(DATA_DIR_ENV).filter(|d| !d.is_empty()) {
        dirs.push((PathBuf::from(d), false));
    }
    dirs.push((cache_dir(), true));
    dirs
}

/// `Source` for a directory from [`search_dirs`].
pub(crate) fn source_of(dir: &Path, is_cache: bool) -> Source {
    if is_cache {
        Source::KerasCache(dir.to_path_buf())
    } else {
        Source::Dir(dir.to_path_buf())
    }
}

/// The first existing file among `names` in `dir`.
pub(crate) fn first_file(dir: &Path, names: &[&str]) -> Option<PathBuf> {
    names.iter().map(|n| dir.join(n)).find(|p| p.is_file())
}

/// The error for a dataset found nowhere: what was looked for, where, and Keras's address.
pub(crate) fn not_found(name: &str, looked: &[PathBuf], files: &str, origin: &str, hash: &str) -> KerasError {
    let places: Vec<String> = looked.iter().map(|p| p.display().to_string()).collect();
    KerasError::Invalid(format!(
        "{name}: no data found (looked in {}). Expected {files}. Keras downloads it from {origin} \
         ({hash}) into {}; put the file(s) there or pass a directory (--data-dir / {DATA_DIR_ENV})",
        places.join(", "),
        cache_dir().display()
    ))
}

/// Reads a whole file, naming it in the error.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| KerasError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Checks that labels and images agree in count.
pub(crate) fn check_pair(name: &str, x: &Tensor, y: &Tensor) -> Result<()> {
    let (nx, ny) = (x.shape().first().copied(), y.shape().first().copied());
    if nx != ny {
        return Err(KerasError::Invalid(format!(
            "{name}: {nx:?} images but {ny:?} labels; the files do not belong together"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod download_tests;
