//! CIFAR-10 and CIFAR-100: `cifar10::load_data()` / `cifar100::load_data(label_mode)` as
//! Keras (`x` `(N, 32, 32, 3)` channels-last pixels 0..255, `y` `(N, 1)`), read from
//! Keras's cache (the python pickles under `cifar-10-batches-py-target/cifar-10-batches-py/`,
//! older Keras's `cifar-10-batches-py/`) or a directory of the binary version
//! (`cifar-10-batches-bin/data_batch_{1..5}.bin`, `test_batch.bin`; CIFAR-100's
//! `cifar-100-binary/{train,test}.bin`) or of the python version.
//!
//! Binary records are `label, 3072 pixels` (CIFAR-100: `coarse, fine, 3072 pixels`), pixels
//! channel-major (`3, 32, 32`), transposed here to Keras's channels-last.

use super::pickle::{self, Value};
use super::{check_pair, first_file, not_found, or_download, read_file, search_dirs, source_of, Dataset, Splits};
use crate::error::{KerasError, Result};
use std::path::{Path, PathBuf};
use tensor::Tensor;

/// Keras's address of CIFAR-10 (python version).
pub const CIFAR10_ORIGIN: &str = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz";
/// Its SHA-256 in Keras.
pub const CIFAR10_SHA256: &str = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce";
/// Keras's address of CIFAR-100 (python version).
pub const CIFAR100_ORIGIN: &str = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz";
/// Its SHA-256 in Keras.
pub const CIFAR100_SHA256: &str = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7";

const PIXELS: usize = 3 * 32 * 32;

/// CIFAR-100's `label_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelMode {
    /// 100 classes (`fine_labels`).
    Fine,
    /// 20 super-classes (`coarse_labels`).
    Coarse,
}

impl LabelMode {
    /// Keras's `label_mode` argument, `"fine"` or `"coarse"`.
    pub fn parse(s: &str) -> Result<LabelMode> {
        match s {
            "fine" => Ok(LabelMode::Fine),
            "coarse" => Ok(LabelMode::Coarse),
            _ => Err(crate::error::arg_error(
                "cifar100.load_data",
                "label_mode",
                "one of \"fine\", \"coarse\"",
                s,
            )),
        }
    }
}

/// `keras.datasets.cifar10`.
pub mod cifar10 {
    use super::*;
    /// Keras's `cifar10.load_data()` from [`crate::datasets::DATA_DIR_ENV`] or Keras's cache,
    /// downloading into the cache as Keras when it is in neither.
    pub fn load_data() -> Result<Splits> {
        Ok(load_cifar10(None)?.into_splits())
    }
    /// CIFAR-10 from a directory (binary or python version, or their folders in it).
    pub fn load_data_from(dir: &Path) -> Result<Splits> {
        Ok(load_cifar10(Some(dir))?.into_splits())
    }
}

/// `keras.datasets.cifar100`.
pub mod cifar100 {
    use super::*;
    /// Keras's `cifar100.load_data(label_mode="fine")`.
    pub fn load_data(label_mode: &str) -> Result<Splits> {
        Ok(load_cifar100(None, LabelMode::parse(label_mode)?)?.into_splits())
    }
    /// CIFAR-100 from a directory (binary or python version, or their folders in it).
    pub fn load_data_from(dir: &Path, label_mode: &str) -> Result<Splits> {
        Ok(load_cifar100(Some(dir), LabelMode::parse(label_mode)?)?.into_splits())
    }
}

/// Where a CIFAR layout was found.
enum Layout {
    Binary(Vec<PathBuf>, PathBuf),
    Python(Vec<PathBuf>, PathBuf),
}

fn find(dir: &Path, bin_sub: &str, py_subs: &[&str], train: &[&str], test: &str) -> Option<(Layout, PathBuf)> {
    let mut cands = vec![dir.join(bin_sub)];
    cands.extend(py_subs.iter().map(|s| dir.join(s)));
    cands.push(dir.to_path_buf());
    for d in cands {
        let bin: Vec<Option<PathBuf>> = train.iter().map(|n| first_file(&d, &[&format!("{n}.bin")])).collect();
        if let (true, Some(t)) = (
            bin.iter().all(Option::is_some),
            first_file(&d, &[&format!("{test}.bin")]),
        ) {
            return Some((Layout::Binary(bin.into_iter().flatten().collect(), t), d));
        }
        let py: Vec<Option<PathBuf>> = train.iter().map(|n| first_file(&d, &[n])).collect();
        if let (true, Some(t)) = (py.iter().all(Option::is_some), first_file(&d, &[test])) {
            return Some((Layout::Python(py.into_iter().flatten().collect(), t), d));
        }
    }
    None
}

/// CIFAR-10 from `data_dir` (only) or the usual places.
pub(crate) fn load_cifar10(data_dir: Option<&Path>) -> Result<Dataset> {
    let train = [
        "data_batch_1",
        "data_batch_2",
        "data_batch_3",
        "data_batch_4",
        "data_batch_5",
    ];
    let py = ["cifar-10-batches-py-target/cifar-10-batches-py", "cifar-10-batches-py"];
    let scan = |looked: &mut Vec<PathBuf>| -> Result<Option<Dataset>> {
        for (dir, is_cache) in search_dirs(data_dir) {
            if let Some((layout, at)) = find(&dir, "cifar-10-batches-bin", &py, &train, "test_batch") {
                return load_layout("cifar10", layout, 1, 0, "labels", source_of(&at, is_cache)).map(Some);
            }
            looked.push(dir);
        }
        Ok(None)
    };
    let mut looked = Vec::new();
    if let Some(d) = scan(&mut looked)? {
        return Ok(d);
    }
    let missing = not_found(
        "cifar10",
        &looked,
        "cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin or \
         cifar-10-batches-py-target/cifar-10-batches-py/{data_batch_1..5,test_batch}",
        CIFAR10_ORIGIN,
        &format!("sha256 {CIFAR10_SHA256}"),
    );
    or_download("cifar10", data_dir, missing, super::keras_files("cifar10")?, || {
        scan(&mut Vec::new())
    })
}

/// CIFAR-100 from `data_dir` (only) or the usual places.
pub(crate) fn load_cifar100(data_dir: Option<&Path>, mode: LabelMode) -> Result<Dataset> {
    let py = ["cifar-100-python-target/cifar-100-python", "cifar-100-python"];
    let (offset, key) = match mode {
        LabelMode::Coarse => (0, "coarse_labels"),
        LabelMode::Fine => (1, "fine_labels"),
    };
    let scan = |looked: &mut Vec<PathBuf>| -> Result<Option<Dataset>> {
        for (dir, is_cache) in search_dirs(data_dir) {
            if let Some((layout, at)) = find(&dir, "cifar-100-binary", &py, &["train"], "test") {
                return load_layout("cifar100", layout, 2, offset, key, source_of(&at, is_cache)).map(Some);
            }
            looked.push(dir);
        }
        Ok(None)
    };
    let mut looked = Vec::new();
    if let Some(d) = scan(&mut looked)? {
        return Ok(d);
    }
    let missing = not_found(
        "cifar100",
        &looked,
        "cifar-100-binary/{train,test}.bin or cifar-100-python-target/cifar-100-python/{train,test}",
        CIFAR100_ORIGIN,
        &format!("sha256 {CIFAR100_SHA256}"),
    );
    or_download("cifar100", data_dir, missing, super::keras_files("cifar100")?, || {
        scan(&mut Vec::new())
    })
}

fn load_layout(
    name: &str,
    layout: Layout,
    label_bytes: usize,
    label_at: usize,
    key: &str,
    source: super::Source,
) -> Result<Dataset> {
    let read = |files: &[PathBuf], binary: bool| -> Result<(Vec<u8>, Vec<f32>)> {
        let (mut px, mut labels) = (Vec::new(), Vec::new());
        for f in files {
            let (p, l) = if binary {
                read_binary(f, label_bytes, label_at)?
            } else {
                read_python_batch(f, key)?
            };
            px.extend(p);
            labels.extend(l);
        }
        Ok((px, labels))
    };
    let ((xtr, ytr), (xte, yte)) = match &layout {
        Layout::Binary(train, test) => (read(train, true)?, read(std::slice::from_ref(test), true)?),
        Layout::Python(train, test) => (read(train, false)?, read(std::slice::from_ref(test), false)?),
    };
    let to_tensors = |px: Vec<u8>, labels: Vec<f32>| -> Result<(Tensor, Tensor)> {
        let n = labels.len();
        let x = Tensor::new(&[n, 32, 32, 3], chw_to_hwc(&px))?;
        let y = Tensor::new(&[n, 1], labels)?;
        Ok((x, y))
    };
    let (x_train, y_train) = to_tensors(xtr, ytr)?;
    let (x_test, y_test) = to_tensors(xte, yte)?;
    check_pair(name, &x_train, &y_train)?;
    Ok(Dataset {
        name: name.to_string(),
        x_train,
        y_train,
        x_test,
        y_test,
        source,
    })
}

/// Records of `label_bytes` labels then 3072 pixels; returns pixels (CHW per image) and the
/// label at `label_at`.
pub fn read_binary(path: &Path, label_bytes: usize, label_at: usize) -> Result<(Vec<u8>, Vec<f32>)> {
    let bytes = read_file(path)?;
    let rec = label_bytes + PIXELS;
    if bytes.is_empty() || bytes.len() % rec != 0 {
        return Err(KerasError::Invalid(format!(
            "{}: not a CIFAR binary batch: {} bytes is not a multiple of the record size {rec} \
             ({label_bytes} label byte(s) + 3072 pixels)",
            path.display(),
            bytes.len()
        )));
    }
    let mut px = Vec::with_capacity(bytes.len() / rec * PIXELS);
    let mut labels = Vec::with_capacity(bytes.len() / rec);
    for r in bytes.chunks_exact(rec) {
        labels.push(r[label_at] as f32);
        px.extend_from_slice(&r[label_bytes..]);
    }
    Ok((px, labels))
}

/// One python-version batch (a pickled dict with `data` `(N, 3072)` uint8 and `key` labels),
/// as Keras's `cifar.load_batch`.
pub fn read_python_batch(path: &Path, key: &str) -> Result<(Vec<u8>, Vec<f32>)> {
    let name = path.display().to_string();
    let v = pickle::load(&read_file(path)?, &name)?;
    let missing = |k: &str| KerasError::Invalid(format!("{name}: CIFAR batch has no {k:?} entry"));
    let data = v.get("data").ok_or_else(|| missing("data"))?;
    let labels = v.get(key).ok_or_else(|| missing(key))?.to_ints(&name)?;
    let Value::Array(a) = &data else {
        return Err(KerasError::Invalid(format!("{name}: \"data\" is not a numpy array")));
    };
    let a = a.borrow();
    let code = a.dtype.as_ref().map(|d| d.code.as_str()).unwrap_or("");
    if !code.ends_with("u1") || a.shape.len() != 2 || a.shape[1] != PIXELS || a.shape[0] != labels.len() {
        return Err(KerasError::Invalid(format!(
            "{name}: \"data\" should be uint8 ({}, 3072), received {code} {:?}",
            labels.len(),
            a.shape
        )));
    }
    if a.bytes.len() != labels.len() * PIXELS {
        return Err(KerasError::Invalid(format!(
            "{name}: \"data\" holds {} bytes",
            a.bytes.len()
        )));
    }
    Ok((a.bytes.clone(), labels.into_iter().map(|l| l as f32).collect()))
}

/// `(N, 3, 32, 32)` bytes to `(N, 32, 32, 3)` values.
fn chw_to_hwc(px: &[u8]) -> Vec<f32> {
    let mut out = vec![0f32; px.len()];
    for (img, o) in px.chunks_exact(PIXELS).zip(out.chunks_exact_mut(PIXELS)) {
        for c in 0..3 {
            for i in 0..1024 {
                o[i * 3 + c] = img[c * 1024 + i] as f32;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(labels: &[u8], fill: impl Fn(usize) -> u8) -> Vec<u8> {
        let mut r = labels.to_vec();
        r.extend((0..PIXELS).map(fill));
        r
    }

    #[test]
    fn binary_cifar10_and_cifar100_layouts() {
        let root = std::env::temp_dir().join(format!("rkeras-cifar-{}", std::process::id()));
        let bin = root.join("cifar-10-batches-bin");
        std::fs::create_dir_all(&bin).unwrap();
        for i in 1..=5 {
            let mut b = record(&[i as u8], |p| (p / 1024) as u8 * 10);
            b.extend(record(&[9], |_| 1));
            std::fs::write(bin.join(format!("data_batch_{i}.bin")), b).unwrap();
        }
        std::fs::write(bin.join("test_batch.bin"), record(&[3], |_| 2)).unwrap();
        let ((x, y), (xt, yt)) = cifar10::load_data_from(&root).unwrap();
        assert_eq!((x.shape(), y.shape()), (&[10, 32, 32, 3][..], &[10, 1][..]));
        assert_eq!((xt.shape(), yt.data()), (&[1, 32, 32, 3][..], &[3.0][..]));
        assert_eq!(&y.data()[..4], &[1.0, 9.0, 2.0, 9.0]);
        // Channel c of every pixel was 10·c: channels-last puts them side by side.
        assert_eq!(&x.data()[..6], &[0.0, 10.0, 20.0, 0.0, 10.0, 20.0]);

        let b100 = root.join("c100/cifar-100-binary");
        std::fs::create_dir_all(&b100).unwrap();
        std::fs::write(b100.join("train.bin"), record(&[4, 44], |_| 0)).unwrap();
        std::fs::write(b100.join("test.bin"), record(&[5, 55], |_| 0)).unwrap();
        let ((_, y), _) = cifar100::load_data_from(&root.join("c100"), "fine").unwrap();
        assert_eq!(y.data(), &[44.0]);
        let ((_, y), _) = cifar100::load_data_from(&root.join("c100"), "coarse").unwrap();
        assert_eq!(y.data(), &[4.0]);
        let e = cifar100::load_data_from(&root, "medium").unwrap_err().to_string();
        assert!(e.contains("label_mode") && e.contains("medium"), "{e}");

        std::fs::write(bin.join("test_batch.bin"), vec![0u8; 100]).unwrap();
        let e = cifar10::load_data_from(&root).unwrap_err().to_string();
        assert!(e.contains("not a multiple of the record size 3073"), "{e}");
        let e = cifar10::load_data_from(&root.join("none")).unwrap_err().to_string();
        assert!(
            e.contains("cifar10: no data found") && e.contains(CIFAR10_ORIGIN),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&root);
    }
}
