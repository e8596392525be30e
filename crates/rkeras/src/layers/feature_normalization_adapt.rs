//! `Normalization.adapt`: the mean and variance over the reduced axes, from one array
//! (`np.mean` / `np.var`) or streamed from batches — a dataset such as
//! `image_dataset_from_directory`'s, or any iterator of batches — combined batch by batch with
//! Keras's formula (the weighted mean, and the lack-of-fit sum of squares for the variance), so
//! a dataset need never be in memory. As Keras's `adapt`, an `(x, y)` batch gives its `x` (the
//! labels are ignored), the first batch fixes the shape, and every later batch must agree on
//! the kept axes. Each statistic has the kept axes' shape.
//!
//! ```
//! use rkeras::layers::feature_normalization::Normalization;
//! use rkeras::prelude::Tensor;
//! let a = Tensor::new(&[2, 1], vec![1.0, 3.0]).unwrap();
//! let b = Tensor::new(&[1, 1], vec![8.0]).unwrap();
//! let mut norm = Normalization::new();
//! norm.adapt_batches(vec![a, b]).unwrap();
//! let (mean, var, _) = norm.adapted.clone().unwrap();
//! assert!((mean[0] - 4.0).abs() < 1e-6 && (var[0] - 26.0 / 3.0).abs() < 1e-6);
//! ```

use super::{keep_axes, Normalization, NormalizationConfig};
use crate::error::{arg_error, in_layer, shape_error, KerasError, Result};
use crate::kshape::format_shape;
use crate::training::BatchSource;
use tensor::Tensor;

/// One element of what `adapt` streams: a batch `x`, or an `(x, y)` batch whose `y` is
/// ignored (Keras's `adapt` takes `x` from tuples), or a `Result` of one (a dataset's batches).
pub trait AdaptBatch {
    /// The batch's `x`.
    fn into_x(self) -> Result<Tensor>;
}

impl AdaptBatch for Tensor {
    fn into_x(self) -> Result<Tensor> {
        Ok(self)
    }
}

impl AdaptBatch for &Tensor {
    fn into_x(self) -> Result<Tensor> {
        Ok(self.clone())
    }
}

impl AdaptBatch for (Tensor, Tensor) {
    fn into_x(self) -> Result<Tensor> {
        Ok(self.0)
    }
}

impl AdaptBatch for (Tensor, Option<Tensor>) {
    fn into_x(self) -> Result<Tensor> {
        Ok(self.0)
    }
}

impl<B: AdaptBatch> AdaptBatch for Result<B> {
    fn into_x(self) -> Result<Tensor> {
        self?.into_x()
    }
}

/// Per kept position, the batch's sum and squared deviations from its mean, in f64, and how
/// many values each position reduces (Keras's `batch_count`).
fn batch_moments(keep: &[usize], data: &Tensor) -> (Vec<f64>, Vec<f64>, usize) {
    let shape = data.shape();
    let groups = keep.iter().map(|&a| shape[a]).product::<usize>().max(1);
    let n = data.len() / groups;
    let strides = data.strides();
    let group_of = |i: usize| keep.iter().fold(0, |g, &a| g * shape[a] + (i / strides[a]) % shape[a]);
    let mut sum = vec![0f64; groups];
    for (i, &v) in data.data().iter().enumerate() {
        sum[group_of(i)] += v as f64;
    }
    let mean: Vec<f64> = sum.iter().map(|s| s / n as f64).collect();
    let mut sq = vec![0f64; groups];
    for (i, &v) in data.data().iter().enumerate() {
        let g = group_of(i);
        let d = v as f64 - mean[g];
        sq[g] += d * d;
    }
    let var = sq.iter().map(|s| s / n as f64).collect();
    (mean, var, n)
}

/// Keras's streaming `adapt` over batches: the kept axes come from the first batch (and must
/// equal `expect`'s kept sizes when the layer is built); later batches must have the same rank
/// and kept sizes.
fn stream<I>(
    layer: &str,
    axis: &[isize],
    expect: Option<&[Option<usize>]>,
    batches: I,
) -> Result<(Vec<f32>, Vec<f32>, Vec<usize>)>
where
    I: IntoIterator,
    I::Item: AdaptBatch,
{
    let mut it = batches.into_iter();
    let first = it.next().ok_or_else(|| {
        KerasError::Invalid(format!(
            "{layer}: adapt() received an empty iterable (no batches). Expected at least one batch"
        ))
    })?;
    let first = first.into_x()?;
    let dims: Vec<Option<usize>> = first.shape().iter().map(|&d| Some(d)).collect();
    let keep = keep_axes(layer, axis, &dims)?;
    let kept = |s: &[usize]| keep.iter().map(|&a| s[a]).collect::<Vec<usize>>();
    let shape = kept(first.shape());
    if let Some(built) = expect {
        let fits = built.len() == dims.len() && keep.iter().all(|&a| built[a].is_none_or(|d| d == first.shape()[a]));
        if !fits {
            return Err(shape_error(
                layer,
                format!(
                    "The layer was built with input_shape={}, but adapt() is being called with data with an incompatible shape, data.shape={:?}",
                    format_shape(built),
                    first.shape()
                ),
            ));
        }
    }
    let groups = shape.iter().product::<usize>().max(1);
    let (mut mean, mut var, mut count) = (vec![0f64; groups], vec![0f64; groups], 0usize);
    let mut batch = Some(first);
    loop {
        let x = match batch.take() {
            Some(x) => x,
            None => match it.next() {
                Some(b) => b.into_x()?,
                None => break,
            },
        };
        if x.rank() != dims.len() || kept(x.shape()) != shape {
            return Err(shape_error(
                layer,
                format!(
                    "adapt() yielded a batch with incompatible shape. Expected {:?} on the kept axes {keep:?} of rank-{} batches, got {:?}",
                    shape,
                    dims.len(),
                    x.shape()
                ),
            ));
        }
        let (bm, bv, n) = batch_moments(&keep, &x);
        if n == 0 {
            continue;
        }
        // Keras: weights by count; the variance by the lack-of-fit sum of squares.
        count += n;
        let bw = n as f64 / count as f64;
        let ew = 1.0 - bw;
        for g in 0..groups {
            let new = mean[g] * ew + bm[g] * bw;
            var[g] = (var[g] + (mean[g] - new).powi(2)) * ew + (bv[g] + (bm[g] - new).powi(2)) * bw;
            mean[g] = new;
        }
    }
    if count == 0 {
        return Err(arg_error(
            layer,
            "data",
            "a non-empty array",
            format!("shape {:?}", dims),
        ));
    }
    Ok((
        mean.iter().map(|&m| m as f32).collect(),
        var.iter().map(|&v| v as f32).collect(),
        shape,
    ))
}

fn no_statistics(layer: &str) -> KerasError {
    KerasError::Invalid(format!(
        "{layer}: adapt() on a Normalization layer with `mean` and `variance` arguments: it has no statistics to learn"
    ))
}

impl NormalizationConfig {
    fn layer_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| "normalization".into())
    }

    /// Keras's `adapt(data)` before the layer is built: learns the mean and variance of
    /// `data` (batch axis first) over the reduced axes; the built layer's `mean` and
    /// `variance` weights take them.
    pub fn adapt(&mut self, data: &Tensor) -> Result<()> {
        self.adapt_batches(std::iter::once(data))
    }

    /// Keras's `adapt(iterable_of_batches)`: the statistics of all the batches together,
    /// streamed (`x` of `(x, y)` batches; errors of `Result` items stop it).
    pub fn adapt_batches<I>(&mut self, batches: I) -> Result<()>
    where
        I: IntoIterator,
        I::Item: AdaptBatch,
    {
        let layer = self.layer_name();
        if self.mean.is_some() {
            return Err(no_statistics(&layer));
        }
        self.adapted = Some(stream(&layer, &self.axis, None, batches)?);
        Ok(())
    }

    /// Keras's `adapt(dataset)`: one pass over the first epoch's batches of `data` (an
    /// [`crate::utils::ImageDataset`], say), labels ignored.
    pub fn adapt_dataset(&mut self, data: &dyn BatchSource) -> Result<()> {
        self.adapt_batches(data.epoch_batches(0))
    }
}

impl Normalization {
    /// Keras's `adapt(data)` on the built layer: sets the `mean` and `variance` weights to
    /// `np.mean` / `np.var` of `data` over the reduced axes (a layer with `mean`/`variance`
    /// arguments has none to set).
    pub fn adapt(&mut self, data: &Tensor) -> Result<()> {
        self.adapt_batches(std::iter::once(data))
    }

    /// [`NormalizationConfig::adapt_batches`] on the built layer: the batches must fit the
    /// input shape it was built for.
    pub fn adapt_batches<I>(&mut self, batches: I) -> Result<()>
    where
        I: IntoIterator,
        I::Item: AdaptBatch,
    {
        if self.config.mean.is_some() {
            return Err(no_statistics(&self.core.name));
        }
        let (mean, var, shape) = stream(&self.core.name, &self.config.axis, Some(&self.input_shape), batches)?;
        self.core.weights[0].value = Tensor::new(&shape, mean).map_err(in_layer(&self.core.name))?;
        self.core.weights[1].value = Tensor::new(&shape, var).map_err(in_layer(&self.core.name))?;
        Ok(())
    }

    /// [`NormalizationConfig::adapt_dataset`] on the built layer.
    pub fn adapt_dataset(&mut self, data: &dyn BatchSource) -> Result<()> {
        self.adapt_batches(data.epoch_batches(0))
    }
}
