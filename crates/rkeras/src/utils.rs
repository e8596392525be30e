//! Data utilities the tutorials use, with Keras's arguments: `to_categorical` (one-hot),
//! `multi_hot` (the IMDB tutorial's `vectorize_sequences`) and `pad_sequences`; and
//! [`get_file`] (`keras.utils.get_file`: Keras's download cache); image files: [`load_img`],
//! [`img_to_array`], [`array_to_img`], [`save_img`] (from [`crate::preprocessing::image_io`]);
//! [`plot_model`] (`.png`, `.svg` or `.dot`, from [`crate::insight::render`]).
//!
//! ```
//! use rkeras::utils::{pad_sequences, to_categorical, PadOptions};
//! use rkeras::prelude::Tensor;
//! let y = to_categorical(&Tensor::new(&[3], vec![0., 2., 1.]).unwrap(), None).unwrap();
//! assert_eq!(y.shape(), &[3, 3]);
//! let x = pad_sequences(&[vec![1, 2, 3], vec![4]], &PadOptions { maxlen: Some(2), ..Default::default() }).unwrap();
//! assert_eq!(x.data(), &[2., 3., 0., 4.]); // truncating and padding "pre", as Keras
//! ```

use crate::error::{arg_error, KerasError, Result};
use tensor::Tensor;

pub mod archive;
pub mod get_file;

pub use crate::insight::render::plot_model;
pub use crate::preprocessing::dataset::{
    image_dataset_from_directory, DatasetSplit, DirectoryOptions, ImageDataset, Labels,
};
pub use crate::preprocessing::image_io::{
    array_to_img, img_to_array, load_img, save_img, ArrayToImgOptions, Img, LoadImgOptions,
};

/// `keras.utils.to_categorical(x, num_classes)`: integer labels of any shape to one-hot
/// rows; a trailing dimension of 1 is dropped first (`(N, 1)` → `(N, classes)`), as Keras.
/// `num_classes` `None` (or 0) means `max(x) + 1`.
pub fn to_categorical(x: &Tensor, num_classes: Option<usize>) -> Result<Tensor> {
    let mut shape = x.shape().to_vec();
    if shape.len() > 1 && shape.last() == Some(&1) {
        shape.pop();
    }
    let labels = x
        .data()
        .iter()
        .map(|&v| {
            if v < 0.0 || v.fract() != 0.0 || !v.is_finite() {
                Err(arg_error("to_categorical", "x", "non-negative integer labels", v))
            } else {
                Ok(v as usize)
            }
        })
        .collect::<Result<Vec<usize>>>()?;
    let n = match num_classes.filter(|&n| n > 0) {
        Some(n) => n,
        None => labels.iter().max().map_or(0, |m| m + 1),
    };
    if let Some(&bad) = labels.iter().find(|&&l| l >= n) {
        return Err(arg_error(
            "to_categorical",
            "x",
            format!("labels below num_classes={n}"),
            format!("label {bad}"),
        ));
    }
    let mut out = vec![0f32; labels.len() * n];
    for (i, &l) in labels.iter().enumerate() {
        out[i * n + l] = 1.0;
    }
    shape.push(n);
    Ok(Tensor::new(&shape, out)?)
}

/// Multi-hot rows `(len(sequences), num_tokens)`: 1 at every index a sequence holds (the
/// IMDB tutorial's `vectorize_sequences`); an index `>= num_tokens` is an error.
pub fn multi_hot(sequences: &[Vec<usize>], num_tokens: usize) -> Result<Tensor> {
    let mut out = vec![0f32; sequences.len() * num_tokens];
    for (i, s) in sequences.iter().enumerate() {
        for &w in s {
            if w >= num_tokens {
                return Err(arg_error(
                    "multi_hot",
                    "sequences",
                    format!("indices below num_tokens={num_tokens}"),
                    format!("index {w} in sequence {i}"),
                ));
            }
            out[i * num_tokens + w] = 1.0;
        }
    }
    Ok(Tensor::new(&[sequences.len(), num_tokens], out)?)
}

/// `pad_sequences`'s arguments, with Keras's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct PadOptions {
    /// Length of every row (`None`: the longest sequence).
    pub maxlen: Option<usize>,
    /// `"pre"` or `"post"`: where padding goes.
    pub padding: String,
    /// `"pre"` or `"post"`: which end is cut from longer sequences.
    pub truncating: String,
    /// Padding value (`0.0`).
    pub value: f32,
}

impl Default for PadOptions {
    fn default() -> Self {
        PadOptions {
            maxlen: None,
            padding: "pre".into(),
            truncating: "pre".into(),
            value: 0.0,
        }
    }
}

/// `keras.utils.pad_sequences`: sequences to a `(len(sequences), maxlen)` tensor.
pub fn pad_sequences(sequences: &[Vec<usize>], o: &PadOptions) -> Result<Tensor> {
    let pre = |s: &str, arg: &str| match s {
        "pre" => Ok(true),
        "post" => Ok(false),
        _ => Err(KerasError::Invalid(format!(
            "pad_sequences: {arg} type \"{s}\" not understood (expected \"pre\" or \"post\")"
        ))),
    };
    let (pad_pre, trunc_pre) = (pre(&o.padding, "Padding")?, pre(&o.truncating, "Truncating")?);
    let maxlen = o
        .maxlen
        .unwrap_or_else(|| sequences.iter().map(Vec::len).max().unwrap_or(0));
    let mut out = vec![o.value; sequences.len() * maxlen];
    for (row, s) in out.chunks_mut(maxlen.max(1)).zip(sequences) {
        if maxlen == 0 {
            break;
        }
        let kept = if s.len() > maxlen {
            if trunc_pre {
                &s[s.len() - maxlen..]
            } else {
                &s[..maxlen]
            }
        } else {
            &s[..]
        };
        let start = if pad_pre { maxlen - kept.len() } else { 0 };
        for (o, &v) in row[start..].iter_mut().zip(kept) {
            *o = v as f32;
        }
    }
    Ok(Tensor::new(&[sequences.len(), maxlen], out)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_categorical_as_keras() {
        let y = Tensor::new(&[3, 1], vec![1., 0., 2.]).unwrap();
        let c = to_categorical(&y, None).unwrap();
        assert_eq!(c.shape(), &[3, 3]);
        assert_eq!(c.data(), &[0., 1., 0., 1., 0., 0., 0., 0., 1.]);
        assert_eq!(to_categorical(&y, Some(5)).unwrap().shape(), &[3, 5]);
        let e = to_categorical(&y, Some(2)).unwrap_err().to_string();
        assert!(e.contains("labels below num_classes=2") && e.contains("label 2"), "{e}");
        assert!(to_categorical(&Tensor::new(&[1], vec![-1.]).unwrap(), None).is_err());
    }

    #[test]
    fn multi_hot_and_errors() {
        let m = multi_hot(&[vec![0, 3, 3], vec![]], 4).unwrap();
        assert_eq!(m.data(), &[1., 0., 0., 1., 0., 0., 0., 0.]);
        assert!(multi_hot(&[vec![4]], 4)
            .unwrap_err()
            .to_string()
            .contains("index 4 in sequence 0"));
    }

    /// Keras: `pad_sequences([[1,2,3],[4,5],[6]], maxlen=2, padding=..., truncating=...)`.
    #[test]
    fn pad_sequences_as_keras() {
        let s = vec![vec![1, 2, 3], vec![4, 5], vec![6]];
        let p = |padding: &str, truncating: &str, maxlen| {
            let o = PadOptions {
                maxlen,
                padding: padding.into(),
                truncating: truncating.into(),
                value: 0.0,
            };
            pad_sequences(&s, &o).unwrap().into_data()
        };
        assert_eq!(p("pre", "pre", None), [1., 2., 3., 0., 4., 5., 0., 0., 6.]);
        assert_eq!(p("post", "pre", None), [1., 2., 3., 4., 5., 0., 6., 0., 0.]);
        assert_eq!(p("pre", "pre", Some(2)), [2., 3., 4., 5., 0., 6.]);
        assert_eq!(p("post", "post", Some(2)), [1., 2., 4., 5., 6., 0.]);
        let bad = PadOptions {
            padding: "middle".into(),
            ..Default::default()
        };
        let e = pad_sequences(&s, &bad).unwrap_err().to_string();
        assert!(e.contains("Padding type \"middle\" not understood"), "{e}");
        assert_eq!(
            pad_sequences(
                &s,
                &PadOptions {
                    maxlen: Some(0),
                    ..Default::default()
                }
            )
            .unwrap()
            .shape(),
            &[3, 0]
        );
    }
}
