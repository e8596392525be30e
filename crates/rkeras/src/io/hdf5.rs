//! A thin HDF5 layer for Keras files, over the pure-Rust `hdf5-reader` (read, from bytes in
//! memory) and `hdf5-pure` (write). Only what Keras uses: groups, float datasets, and string
//! attributes — fixed-length or variable-length, scalar or array, and tf-keras's chunked
//! attributes (`layer_names0`, `layer_names1`, … when one attribute would exceed the object
//! header). Paths are `/`-separated from the root (`layers/conv2d/vars/0`).
//!
//! Every failure names the file (`origin`) and the HDF5 path. Reads are bounded by what the
//! file holds: a dataset that claims more elements than its bytes could decode to is refused.

use crate::error::{KerasError, Result};
use hdf5_reader::{Datatype, Hdf5File, OpenOptions};
use tensor::Tensor;

/// An HDF5 file opened from bytes, for reading.
pub struct H5Reader {
    file: Hdf5File,
    origin: String,
    /// Most bytes any one dataset may decode to (deflate expands at most ~1032×).
    max_bytes: u64,
}

fn h5_err(origin: &str, path: &str, e: impl std::fmt::Display) -> KerasError {
    let at = if path.is_empty() {
        "/".to_string()
    } else {
        path.to_string()
    };
    KerasError::Invalid(format!("{origin}: HDF5 {at}: {e}"))
}

impl H5Reader {
    /// Opens HDF5 bytes; `origin` names the file in errors (`model.keras/model.weights.h5`).
    pub fn from_bytes(origin: &str, bytes: Vec<u8>) -> Result<H5Reader> {
        let max_bytes = (bytes.len() as u64).saturating_mul(1100).max(1 << 20);
        let options = OpenOptions::default().with_max_read_bytes(usize::try_from(max_bytes).unwrap_or(usize::MAX));
        let file = Hdf5File::from_vec_with_options(bytes, options)
            .map_err(|e| KerasError::Invalid(format!("{origin}: not a readable HDF5 file: {e}")))?;
        Ok(H5Reader {
            file,
            origin: origin.to_string(),
            max_bytes,
        })
    }

    /// The name used in errors.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    fn group(&self, path: &str) -> Result<hdf5_reader::group::Group> {
        let r = if path.is_empty() {
            self.file.root_group()
        } else {
            self.file.group(path)
        };
        r.map_err(|e| h5_err(&self.origin, path, e))
    }

    /// Whether a group exists at `path` (the root always does).
    pub fn has_group(&self, path: &str) -> bool {
        path.is_empty() || self.file.group(path).is_ok()
    }

    /// Names of the child groups and datasets of the group at `path`, each sorted.
    pub fn members(&self, path: &str) -> Result<(Vec<String>, Vec<String>)> {
        let (mut groups, mut datasets) = self
            .group(path)?
            .member_names()
            .map_err(|e| h5_err(&self.origin, path, e))?;
        groups.sort();
        datasets.sort();
        Ok((groups, datasets))
    }

    /// Whether a dataset exists at `path`.
    pub fn has_dataset(&self, path: &str) -> bool {
        self.file.dataset(path).is_ok()
    }

    /// The shape of the dataset at `path`.
    pub fn dataset_shape(&self, path: &str) -> Result<Vec<usize>> {
        let ds = self.file.dataset(path).map_err(|e| h5_err(&self.origin, path, e))?;
        ds.shape()
            .iter()
            .map(|&d| usize::try_from(d).map_err(|_| h5_err(&self.origin, path, format!("dimension {d} too large"))))
            .collect()
    }

    /// Reads a float dataset (float32, or float64 converted) as a tensor.
    pub fn read_tensor(&self, path: &str) -> Result<Tensor> {
        self.read_numeric(path, false)
    }

    /// Reads a scalar counter (an optimizer's int64 `iteration`) or any float dataset, as
    /// float32.
    pub fn read_counter(&self, path: &str) -> Result<Tensor> {
        self.read_numeric(path, true)
    }

    fn read_numeric(&self, path: &str, ints: bool) -> Result<Tensor> {
        let ds = self.file.dataset(path).map_err(|e| h5_err(&self.origin, path, e))?;
        let shape = self.dataset_shape(path)?;
        let (elem, int) = match ds.dtype() {
            Datatype::FloatingPoint { size, .. } if *size == 4 || *size == 8 => (*size as u64, false),
            // int64 where Keras keeps a counter (optimizer iterations, Normalization's count).
            Datatype::FixedPoint {
                size: 8, signed: true, ..
            } if ints || shape.is_empty() => (8, true),
            other => {
                let what = match other {
                    Datatype::FloatingPoint { size, .. } => format!("float{}", u32::from(*size) * 8),
                    Datatype::FixedPoint { size, signed, .. } => {
                        format!("{}int{}", if *signed { "" } else { "u" }, u32::from(*size) * 8)
                    }
                    _ => "a non-numeric type".to_string(),
                };
                return Err(h5_err(
                    &self.origin,
                    path,
                    format!("expected float32 weights, the dataset holds {what}"),
                ));
            }
        };
        let count = shape
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
            .filter(|n| n.saturating_mul(elem) <= self.max_bytes)
            .ok_or_else(|| {
                h5_err(
                    &self.origin,
                    path,
                    format!("dataset claims shape {shape:?}, more data than the file could hold"),
                )
            })?;
        let count = count as usize;
        let data: Vec<f32> = if int {
            let mut buf = vec![0i64; count];
            ds.read_into::<i64>(&mut buf)
                .map_err(|e| h5_err(&self.origin, path, e))?;
            buf.into_iter().map(|v| v as f32).collect()
        } else if elem == 4 {
            let mut buf = vec![0f32; count];
            ds.read_into::<f32>(&mut buf)
                .map_err(|e| h5_err(&self.origin, path, e))?;
            buf
        } else {
            let mut buf = vec![0f64; count];
            ds.read_into::<f64>(&mut buf)
                .map_err(|e| h5_err(&self.origin, path, e))?;
            buf.into_iter().map(|v| v as f32).collect()
        };
        Tensor::new(&shape, data).map_err(|e| h5_err(&self.origin, path, e))
    }

    /// A string attribute of the group at `path` as a list: one element for a scalar, none for
    /// an empty (numeric) array as h5py writes `[]`; `None` when absent. tf-keras's chunked
    /// form (`name0`, `name1`, …) is joined.
    pub fn attr_strings(&self, path: &str, name: &str) -> Result<Option<Vec<String>>> {
        let group = self.group(path)?;
        let attrs = group.attributes().map_err(|e| h5_err(&self.origin, path, e))?;
        let decode = |a: &hdf5_reader::Attribute| -> Result<Vec<String>> {
            match &a.datatype {
                Datatype::String { .. } | Datatype::VarLen { .. } => a
                    .read_strings()
                    .map_err(|e| h5_err(&self.origin, path, format!("attribute {}: {e}", a.name))),
                _ if a.shape.iter().product::<u64>() == 0 && !a.shape.is_empty() => Ok(Vec::new()),
                other => Err(h5_err(
                    &self.origin,
                    path,
                    format!("attribute {}: expected strings, found {other:?}", a.name),
                )),
            }
        };
        if let Some(a) = attrs.iter().find(|a| a.name == name) {
            return decode(a).map(Some);
        }
        let mut out = Vec::new();
        let mut found = false;
        for k in 0.. {
            let chunk = format!("{name}{k}");
            match attrs.iter().find(|a| a.name == chunk) {
                Some(a) => {
                    out.extend(decode(a)?);
                    found = true;
                }
                None => break,
            }
        }
        Ok(found.then_some(out))
    }

    /// A scalar string attribute; `None` when absent.
    pub fn attr_string(&self, path: &str, name: &str) -> Result<Option<String>> {
        match self.attr_strings(path, name)? {
            None => Ok(None),
            Some(v) if v.len() == 1 => Ok(v.into_iter().next()),
            Some(v) => Err(h5_err(
                &self.origin,
                path,
                format!("attribute {name}: expected one string, found {}", v.len()),
            )),
        }
    }
}
