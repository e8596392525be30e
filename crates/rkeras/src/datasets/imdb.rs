//! IMDB reviews: `imdb::load_data(&ImdbOptions)` and `imdb::get_word_index()` as Keras,
//! from Keras's cached `imdb.npz` (ragged reviews pickled as numpy object arrays, read with
//! the restricted [`super::pickle`] reader) and `imdb_word_index.json`.
//!
//! The processing is Keras's, step by step: shuffle train and test with NumPy's
//! `RandomState(seed)` (the same order as Keras), prepend `start_char`, shift word indices by
//! `index_from`, drop reviews of `maxlen` words or more, then replace words outside
//! `skip_top..num_words` by `oov_char` (or drop them when `oov_char` is `None`).
//!
//! ```no_run
//! use rkeras::datasets::imdb::{self, ImdbOptions};
//! let ((x_train, y_train), (x_test, y_test)) =
//!     imdb::load_data(&ImdbOptions { num_words: Some(10_000), ..Default::default() }).unwrap();
//! ```

use super::mt19937::Mt19937;
use super::pickle::{self, Value};
use super::{first_file, not_found, or_download, read_file, search_dirs};
use crate::error::{KerasError, Result};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use tensor::Tensor;

/// Keras's address of `imdb.npz`.
pub const IMDB_ORIGIN: &str = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz";
/// Its SHA-256 in Keras.
pub const IMDB_SHA256: &str = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f";
/// Keras's address of the word index.
pub const WORD_INDEX_ORIGIN: &str = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb_word_index.json";
/// Its MD5 in Keras.
pub const WORD_INDEX_MD5: &str = "bfafd718b763782e994055a2d397834f";

/// Reviews as lists of word indices.
pub type Sequences = Vec<Vec<usize>>;

/// `imdb.load_data`'s arguments, with Keras's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct ImdbOptions {
    /// Keep the `num_words` most frequent words (`None`: all).
    pub num_words: Option<usize>,
    /// Treat the `skip_top` most frequent words as out of vocabulary.
    pub skip_top: usize,
    /// Drop reviews of `maxlen` words or more (`None`: keep all).
    pub maxlen: Option<usize>,
    /// Shuffle seed (`113`).
    pub seed: u32,
    /// Index marking a review's start (`Some(1)`).
    pub start_char: Option<usize>,
    /// Index of out-of-vocabulary words (`Some(2)`; `None` drops them).
    pub oov_char: Option<usize>,
    /// Word indices are shifted by this (`3`).
    pub index_from: usize,
}

impl Default for ImdbOptions {
    fn default() -> Self {
        ImdbOptions {
            num_words: None,
            skip_top: 0,
            maxlen: None,
            seed: 113,
            start_char: Some(1),
            oov_char: Some(2),
            index_from: 3,
        }
    }
}

/// `keras.datasets.imdb.load_data(...)` from [`super::DATA_DIR_ENV`] or Keras's cache,
/// downloading `imdb.npz` into the cache as Keras when it is in neither.
pub fn load_data(opts: &ImdbOptions) -> Result<((Sequences, Tensor), (Sequences, Tensor))> {
    load_data_from(&find("imdb.npz", IMDB_ORIGIN, &format!("sha256 {IMDB_SHA256}"))?, opts)
}

/// `load_data` from a given `imdb.npz`.
pub fn load_data_from(path: &Path, opts: &ImdbOptions) -> Result<((Sequences, Tensor), (Sequences, Tensor))> {
    let raw = read_imdb_npz(path)?;
    process(raw, opts)
}

/// `keras.datasets.imdb.get_word_index()`: word → index (before `index_from`).
pub fn get_word_index() -> Result<HashMap<String, usize>> {
    get_word_index_from(&find(
        "imdb_word_index.json",
        WORD_INDEX_ORIGIN,
        &format!("md5 {WORD_INDEX_MD5}"),
    )?)
}

/// The word index from a given JSON file.
pub fn get_word_index_from(path: &Path) -> Result<HashMap<String, usize>> {
    let bytes = read_file(path)?;
    serde_json::from_slice(&bytes).map_err(|e| {
        KerasError::Invalid(format!(
            "{}: not a word index (JSON object of word: int): {e}",
            path.display()
        ))
    })
}

fn find(file: &str, origin: &str, hash: &str) -> Result<PathBuf> {
    let scan = |looked: &mut Vec<PathBuf>| -> Result<Option<PathBuf>> {
        for (dir, _) in search_dirs(None) {
            if let Some(p) = first_file(&dir, &[file]).or_else(|| first_file(&dir.join("imdb"), &[file])) {
                return Ok(Some(p));
            }
            looked.push(dir);
        }
        Ok(None)
    };
    let mut looked = Vec::new();
    if let Some(p) = scan(&mut looked)? {
        return Ok(p);
    }
    let missing = not_found("imdb", &looked, file, origin, hash);
    let spec: Vec<_> = super::keras_files("imdb")?
        .into_iter()
        .filter(|g| g.fname.as_deref() == Some(file))
        .collect();
    or_download("imdb", None, missing, spec, || scan(&mut Vec::new()))
}

/// The four arrays of Keras's `imdb.npz`, unprocessed.
pub struct RawImdb {
    /// Training reviews.
    pub x_train: Sequences,
    /// Training labels (0/1).
    pub y_train: Vec<f32>,
    /// Test reviews.
    pub x_test: Sequences,
    /// Test labels.
    pub y_test: Vec<f32>,
}

/// Reads `imdb.npz`: object arrays of lists (pickled) for `x_*`, integer arrays for `y_*`.
pub fn read_imdb_npz(path: &Path) -> Result<RawImdb> {
    let p = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| KerasError::Io {
        path: p.clone(),
        source,
    })?;
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| KerasError::Invalid(format!("{p}: not a valid .npz (zip) file: {e}")))?;
    let mut member = |key: &str| -> Result<Vec<u8>> {
        let mut entry = zip
            .by_name(&format!("{key}.npy"))
            .map_err(|_| KerasError::Invalid(format!("{p}: no array {key:?} (expected Keras's imdb.npz)")))?;
        let mut bytes = Vec::new();
        let size = entry.size();
        (&mut entry)
            .take(size)
            .read_to_end(&mut bytes)
            .map_err(|e| KerasError::Invalid(format!("{p}: member {key}: {e}")))?;
        Ok(bytes)
    };
    let (xtr, ytr, xte, yte) = (
        member("x_train")?,
        member("y_train")?,
        member("x_test")?,
        member("y_test")?,
    );
    let raw = RawImdb {
        x_train: sequences(&format!("{p}:x_train"), &xtr)?,
        y_train: crate::io::npy::read_npy_bytes(&format!("{p}:y_train"), &ytr)?.into_data(),
        x_test: sequences(&format!("{p}:x_test"), &xte)?,
        y_test: crate::io::npy::read_npy_bytes(&format!("{p}:y_test"), &yte)?.into_data(),
    };
    for (what, x, y) in [
        ("train", &raw.x_train, &raw.y_train),
        ("test", &raw.x_test, &raw.y_test),
    ] {
        if x.len() != y.len() {
            return Err(KerasError::Invalid(format!(
                "{p}: {} {what} reviews but {} labels",
                x.len(),
                y.len()
            )));
        }
    }
    Ok(raw)
}

/// An object `.npy` (header, then a pickled ndarray of lists) as sequences.
fn sequences(name: &str, bytes: &[u8]) -> Result<Sequences> {
    let bad = |w: &str| KerasError::Invalid(format!("{name}: {w}"));
    if bytes.len() < 12 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("not a .npy array"));
    }
    let (len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        _ => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
    };
    let header = bytes
        .get(start..start + len)
        .ok_or_else(|| bad("truncated .npy header"))?;
    if !String::from_utf8_lossy(header).contains("'|O'") {
        return Err(bad("expected an object array of reviews (dtype '|O')"));
    }
    let v = pickle::load(&bytes[start + len..], name)?;
    let Value::Array(a) = &v else {
        return Err(bad("the pickle does not hold a numpy array"));
    };
    let a = a.borrow();
    a.objects
        .iter()
        .map(|o| {
            o.to_ints(name)?
                .into_iter()
                .map(|w| usize::try_from(w).map_err(|_| bad(&format!("negative word index {w}"))))
                .collect()
        })
        .collect()
}

/// Keras's processing of the raw arrays (see the module docs).
pub fn process(raw: RawImdb, o: &ImdbOptions) -> Result<((Sequences, Tensor), (Sequences, Tensor))> {
    let mut rng = Mt19937::new(o.seed);
    let mut shuffled = |x: Sequences, y: Vec<f32>| {
        let mut idx: Vec<usize> = (0..x.len()).collect();
        rng.shuffle(&mut idx);
        let x: Sequences = idx.iter().map(|&i| x[i].clone()).collect();
        let y: Vec<f32> = idx.iter().map(|&i| y[i]).collect();
        (x, y)
    };
    let (xtr, ytr) = shuffled(raw.x_train, raw.y_train);
    let (xte, yte) = shuffled(raw.x_test, raw.y_test);
    let shift = |x: Sequences| -> Sequences {
        x.into_iter()
            .map(|s| {
                o.start_char
                    .into_iter()
                    .chain(s.into_iter().map(|w| w + o.index_from))
                    .collect()
            })
            .collect()
    };
    let (mut xtr, mut ytr, mut xte, mut yte) = (shift(xtr), ytr, shift(xte), yte);
    if let Some(maxlen) = o.maxlen.filter(|&m| m > 0) {
        let keep = |x: Sequences, y: Vec<f32>| -> (Sequences, Vec<f32>) {
            x.into_iter().zip(y).filter(|(s, _)| s.len() < maxlen).unzip()
        };
        (xtr, ytr) = keep(xtr, ytr);
        (xte, yte) = keep(xte, yte);
        if xtr.is_empty() || xte.is_empty() {
            return Err(KerasError::Invalid(format!(
                "After filtering for sequences shorter than maxlen={maxlen}, no sequence was kept. Increase maxlen."
            )));
        }
    }
    // Keras: `num_words = max(max(x) for x in xs)`, so the largest index itself is then OOV.
    let num_words = match o.num_words.filter(|&n| n > 0) {
        Some(n) => n,
        None => xtr
            .iter()
            .chain(&xte)
            .filter_map(|s| s.iter().max())
            .copied()
            .max()
            .unwrap_or(0),
    };
    let limit = |x: Sequences| -> Sequences {
        x.into_iter()
            .map(|s| match o.oov_char {
                Some(oov) => s
                    .into_iter()
                    .map(|w| if (o.skip_top..num_words).contains(&w) { w } else { oov })
                    .collect(),
                None => s.into_iter().filter(|w| (o.skip_top..num_words).contains(w)).collect(),
            })
            .collect()
    };
    let (ntr, nte) = (ytr.len(), yte.len());
    Ok((
        (limit(xtr), Tensor::new(&[ntr], ytr)?),
        (limit(xte), Tensor::new(&[nte], yte)?),
    ))
}
