//! Writing the HDF5 subset Keras uses, through the pure-Rust `hdf5-pure`: an in-memory tree
//! of groups, float32 datasets and string attributes, serialized in one go. Strings are
//! written as h5py writes Python `str` (variable-length UTF-8), and an empty list as h5py
//! writes `np.asarray([])` (an empty float64 array), so Keras and tf-keras read them as their
//! own files.

use crate::error::{KerasError, Result};
use hdf5_pure::{AttrValue, FileBuilder, GroupBuilder};
use tensor::Tensor;

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum H5Attr {
    /// A scalar string.
    Str(String),
    /// A list of strings (an empty list is written as an empty float64 array, like h5py).
    StrList(Vec<String>),
}

/// How a dataset's values are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// float32 (weights).
    F32,
    /// int64 (an optimizer's `iteration` counter), from whole-valued floats.
    I64,
}

/// A group: attributes, datasets and subgroups, in insertion order.
#[derive(Debug, Clone, Default)]
pub struct H5Group {
    attrs: Vec<(String, H5Attr)>,
    datasets: Vec<(String, Tensor, Dtype)>,
    groups: Vec<(String, H5Group)>,
}

impl H5Group {
    /// An empty group (or file root).
    pub fn new() -> H5Group {
        H5Group::default()
    }

    /// The group at `path` below this one, created (with its parents) when missing.
    pub fn group_mut(&mut self, path: &str) -> &mut H5Group {
        let mut g = self;
        for part in path.split('/').filter(|p| !p.is_empty()) {
            let idx = match g.groups.iter().position(|(n, _)| n == part) {
                Some(i) => i,
                None => {
                    g.groups.push((part.to_string(), H5Group::new()));
                    g.groups.len() - 1
                }
            };
            g = &mut g.groups[idx].1;
        }
        g
    }

    /// Sets an attribute on this group (replacing one of the same name).
    pub fn set_attr(&mut self, name: &str, value: H5Attr) {
        match self.attrs.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.attrs.push((name.to_string(), value)),
        }
    }

    /// Adds a dataset at `path` (`a/b/kernel:0` makes groups `a/b`), as h5py's
    /// `create_dataset` does with a slashed name.
    pub fn put_dataset(&mut self, path: &str, value: Tensor) -> Result<()> {
        self.put_dataset_as(path, value, Dtype::F32)
    }

    /// [`H5Group::put_dataset`] stored as `dtype`.
    pub fn put_dataset_as(&mut self, path: &str, value: Tensor, dtype: Dtype) -> Result<()> {
        let (dir, name) = match path.rfind('/') {
            Some(i) => (&path[..i], &path[i + 1..]),
            None => ("", path),
        };
        let g = self.group_mut(dir);
        if g.datasets.iter().any(|(n, _, _)| n == name) || g.groups.iter().any(|(n, _)| n == name) {
            return Err(KerasError::Invalid(format!(
                "HDF5 writer: two objects named {path:?} in one group"
            )));
        }
        g.datasets.push((name.to_string(), value, dtype));
        Ok(())
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut fb = FileBuilder::new();
        for (name, value) in &self.attrs {
            fb.set_attr(name, attr_value(value));
        }
        for (name, t, dtype) in &self.datasets {
            let ds = fb.create_dataset(name);
            match dtype {
                Dtype::F32 => ds.with_f32_data(t.data()),
                Dtype::I64 => ds.with_i64_data(&ints(t)),
            }
            .with_shape(&dims(t));
        }
        for (name, child) in &self.groups {
            let mut gb = fb.create_group(name);
            child.fill(&mut gb);
            fb.add_group(gb.finish());
        }
        fb.finish()
            .map_err(|e| KerasError::Invalid(format!("HDF5 writer: {e}")))
    }

    fn fill(&self, gb: &mut GroupBuilder) {
        for (name, value) in &self.attrs {
            gb.set_attr(name, attr_value(value));
        }
        for (name, t, dtype) in &self.datasets {
            let ds = gb.create_dataset(name);
            match dtype {
                Dtype::F32 => ds.with_f32_data(t.data()),
                Dtype::I64 => ds.with_i64_data(&ints(t)),
            }
            .with_shape(&dims(t));
        }
        for (name, child) in &self.groups {
            let mut sub = gb.create_group(name);
            child.fill(&mut sub);
            gb.add_group(sub.finish());
        }
    }
}

fn ints(t: &Tensor) -> Vec<i64> {
    t.data().iter().map(|&v| v as i64).collect()
}

fn dims(t: &Tensor) -> Vec<u64> {
    t.shape().iter().map(|&d| d as u64).collect()
}

fn attr_value(v: &H5Attr) -> AttrValue {
    match v {
        H5Attr::Str(s) => AttrValue::VarLenString(s.clone()),
        H5Attr::StrList(l) if l.is_empty() => AttrValue::F64Array(Vec::new()),
        H5Attr::StrList(l) => AttrValue::VarLenStringArray(l.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::hdf5::H5Reader;

    #[test]
    fn written_tree_reads_back() {
        let mut root = H5Group::new();
        root.set_attr("keras_version", H5Attr::Str("2.21.0".into()));
        let g = root.group_mut("model_weights/dense");
        g.set_attr(
            "weight_names",
            H5Attr::StrList(vec!["dense/kernel:0".into(), "dense/bias:0".into()]),
        );
        g.put_dataset(
            "dense/kernel:0",
            Tensor::new(&[3, 2], (0..6).map(|v| v as f32).collect()).unwrap(),
        )
        .unwrap();
        root.group_mut("model_weights/input_1")
            .set_attr("weight_names", H5Attr::StrList(vec![]));
        let r = H5Reader::from_bytes("t.h5", root.to_bytes().unwrap()).unwrap();
        assert_eq!(r.attr_string("", "keras_version").unwrap().as_deref(), Some("2.21.0"));
        assert_eq!(
            r.attr_strings("model_weights/dense", "weight_names").unwrap().unwrap(),
            vec!["dense/kernel:0", "dense/bias:0"]
        );
        assert_eq!(
            r.attr_strings("model_weights/input_1", "weight_names").unwrap(),
            Some(vec![])
        );
        let t = r.read_tensor("model_weights/dense/dense/kernel:0").unwrap();
        assert_eq!(t.shape(), &[3, 2]);
        assert_eq!(t.data()[5], 5.0);
        assert!(r.has_group("model_weights/dense/dense"));
        assert!(!r.has_group("model_weights/nothing"));
        assert!(r.read_tensor("model_weights/nothing").is_err());
    }
}
