//! Batch normalization over one channel axis (the last for channels_last, or any axis):
//! inference with moving statistics, training with batch statistics, their backward rules, a
//! naive reference, and the `Tape` methods.
//!
//! `y = γ·(x − μ)/√(σ² + ε) + β`, computed as TensorFlow does: `inv = γ/√(σ² + ε)`,
//! `y = x·inv + (β − μ·inv)`. Without `scale` γ is 1, without `center` β is 0.
//!
//! Statistics, as Keras 3 (`keras/src/layers/normalization/batch_normalization.py`, which calls
//! `ops.moments`): training normalizes with the batch mean and the *biased* batch variance
//! (`Σ(x − μ)²/m`, `m` = values per channel) and updates
//! `moving = moving·momentum + batch·(1 − momentum)` with that same biased variance.
//! tf-keras 2's fused kernel (its default for 4-D inputs) instead feeds the moving variance the
//! Bessel-corrected `σ²·m/(m − 1)` (tensorflow/tensorflow#55545):
//! [`BatchStats::unbiased_variance`] gives it for `--style keras2` parity.
//!
//! Shapes: `x` any rank with the channel axis of size `c`; `γ`, `β`, `μ`, `σ²` are `(c,)`.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use crate::autograd::{Tape, Var};
use crate::error::{shape_err, Result};
use crate::kernels;
use crate::ops::elementwise::zip_map;
use crate::ops::shape_ops::normalize_axis;
use crate::tensor::Tensor;

/// Keras's default epsilon.
pub const DEFAULT_EPSILON: f32 = 1e-3;

/// Below this many values a pass stays on one thread.
const PARALLEL_MIN_VALUES: usize = 1 << 15;

/// Values one parallel item covers at least (whole blocks of `c·inner`).
const ITEM_VALUES: usize = 1 << 12;

/// The batch statistics of a training step, per channel.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchStats {
    /// Batch mean, `(c,)`.
    pub mean: Tensor,
    /// Biased batch variance `Σ(x − μ)²/m`, `(c,)`: what normalizes, and what Keras 3 feeds
    /// the moving variance.
    pub variance: Tensor,
    /// Values per channel `m`.
    pub count: usize,
}

impl BatchStats {
    /// `σ²·m/(m − 1)`: the moving-variance input of tf-keras 2's fused kernel (the biased
    /// variance when `m` is 1).
    pub fn unbiased_variance(&self) -> Tensor {
        let f = if self.count > 1 {
            self.count as f32 / (self.count - 1) as f32
        } else {
            1.0
        };
        self.variance.map(|v| v * f)
    }
}

/// Gradients of a batch normalization: of the input, of γ and of β (both `(c,)`; the caller
/// drops those of absent parameters).
#[derive(Debug, Clone, PartialEq)]
pub struct BatchNormGrads {
    /// `∂L/∂x`.
    pub input: Tensor,
    /// `∂L/∂γ = Σ dy·x̂`.
    pub gamma: Tensor,
    /// `∂L/∂β = Σ dy`.
    pub beta: Tensor,
}

/// `moving ← moving·momentum + batch·(1 − momentum)`, as Keras.
pub fn update_moving_statistic(moving: &mut Tensor, batch: &Tensor, momentum: f32) -> Result<()> {
    if moving.shape() != batch.shape() {
        return shape_err(
            "batch_norm",
            format!(
                "moving statistic {:?} and batch statistic {:?} differ",
                moving.shape(),
                batch.shape()
            ),
        );
    }
    for (m, &b) in moving.data_mut().iter_mut().zip(batch.data()) {
        *m = *m * momentum + b * (1.0 - momentum);
    }
    Ok(())
}

/// `x` seen as `(outer, c, inner)` around the channel axis.
#[derive(Debug, Clone, Copy)]
struct Layout {
    outer: usize,
    c: usize,
    inner: usize,
}

impl Layout {
    fn count(&self) -> usize {
        self.outer * self.inner
    }
}

fn layout(shape: &[usize], axis: isize) -> Result<Layout> {
    if shape.is_empty() {
        return shape_err("batch_norm", "expected an input with a channel axis, received a scalar");
    }
    let ax = normalize_axis("batch_norm", axis, shape.len())?;
    Ok(Layout {
        outer: shape[..ax].iter().product(),
        c: shape[ax],
        inner: shape[ax + 1..].iter().product(),
    })
}

fn check_param(name: &str, t: Option<&Tensor>, l: &Layout) -> Result<()> {
    match t {
        Some(t) if t.shape() != [l.c] => shape_err(
            "batch_norm",
            format!(
                "{name} has shape {:?}, expected ({},) for the {} channels of the normalized axis",
                t.shape(),
                l.c,
                l.c
            ),
        ),
        _ => Ok(()),
    }
}

/// Per channel, `(Σ y, Σ x·y)` over all axes but the channel axis, accumulated in f64 and
/// threaded over blocks of `outer`. Channels-last rows vectorize across channels; runs of a
/// channels-first axis use eight partial sums so the f64 adds do not form one chain. With a
/// gate (channels-last only, [`FusedRelu`]) `y` is first multiplied by its derivative.
fn channel_moments(l: &Layout, x: &[f32], y: &[f32], gate: Option<kernels::channel::Gate>) -> (Vec<f64>, Vec<f64>) {
    let (c, inner) = (l.c, l.inner);
    let block = c * inner;
    if block == 0 {
        return (vec![0.0; c], vec![0.0; c]);
    }
    // Channels-first blocks: one run of `inner` values per channel.
    let sum_block = |mut acc: Vec<f64>, (xb, yb): (&[f32], &[f32])| {
        let (sy, sxy) = acc.split_at_mut(c);
        for ch in 0..c {
            let (xr, yr) = (&xb[ch * inner..(ch + 1) * inner], &yb[ch * inner..(ch + 1) * inner]);
            let (mut pa, mut pb) = ([0.0f64; 8], [0.0f64; 8]);
            let (xc, yc) = (xr.chunks_exact(8), yr.chunks_exact(8));
            let (xt, yt) = (xc.remainder(), yc.remainder());
            for (x8, y8) in xc.zip(yc) {
                for k in 0..8 {
                    pa[k] += y8[k] as f64;
                    pb[k] += x8[k] as f64 * y8[k] as f64;
                }
            }
            for (&xv, &yv) in xt.iter().zip(yt) {
                pa[0] += yv as f64;
                pb[0] += xv as f64 * yv as f64;
            }
            sy[ch] += pa.iter().sum::<f64>();
            sxy[ch] += pb.iter().sum::<f64>();
        }
        acc
    };
    // Channels-last rows go to the vectorized kernel a whole span at a time.
    let isa = kernels::isa();
    let sum_span = |mut acc: Vec<f64>, xs: &[f32], ys: &[f32]| {
        if inner == 1 {
            let (sy, sxy) = acc.split_at_mut(c);
            match gate {
                Some(gate) => kernels::channel::sums_gated(isa, c, xs, ys, gate, sy, sxy),
                None => kernels::channel::sums(isa, c, xs, ys, sy, sxy),
            }
            acc
        } else {
            xs.chunks(block).zip(ys.chunks(block)).fold(acc, sum_block)
        }
    };
    let acc = if x.len() >= PARALLEL_MIN_VALUES && l.outer > 1 {
        // Items of several blocks: a channels-last block is one pixel (a few channels), too
        // little work for one call of the fold.
        let per = (ITEM_VALUES / block).max(1);
        let items = l.outer.div_ceil(per);
        let min_len = (PARALLEL_MIN_VALUES / (block * per)).max(1);
        crate::determinism::fold_ordered(
            items,
            min_len,
            || vec![0.0f64; 2 * c],
            |acc, i| {
                let span = i * per * block..((i + 1) * per * block).min(x.len());
                sum_span(acc, &x[span.clone()], &y[span])
            },
            |mut a, b| {
                a.iter_mut().zip(b).for_each(|(u, v)| *u += v);
                a
            },
        )
    } else {
        sum_span(vec![0.0f64; 2 * c], x, y)
    };
    let (sy, sxy) = acc.split_at(c);
    (sy.to_vec(), sxy.to_vec())
}

/// Per-channel coefficients of [`channel_linear`]: `out = a·x + b·(y − s) + k`.
struct Linear {
    a: Vec<f32>,
    b: Vec<f32>,
    s: Vec<f32>,
    k: Vec<f32>,
}

/// What [`channel_linear`] does around its map (channels-last only, [`FusedRelu`]).
#[derive(Clone, Copy)]
enum Around<'a> {
    /// The plain map.
    Nothing,
    /// Its output clamped to `[lo, hi]` (a ReLU after it).
    Clamp(f32, f32),
    /// Its `x` multiplied by a gate's derivative at `y` (the ReLU's backward before it).
    Gate(kernels::channel::Gate<'a>),
}

/// `out = a[ch]·x + b[ch]·(y − s[ch]) + k[ch]` elementwise, threaded over blocks of `outer`.
fn channel_linear(l: &Layout, x: &[f32], y: &[f32], co: &Linear, around: Around) -> Vec<f32> {
    let (c, inner) = (l.c, l.inner);
    let block = c * inner;
    if block == 0 {
        return vec![0.0f32; x.len()];
    }
    let parallel = x.len() >= PARALLEL_MIN_VALUES && l.outer > 1;
    let span = (ITEM_VALUES / block).max(1) * block;
    let min_len = (PARALLEL_MIN_VALUES / span).max(1);
    if inner == 1 {
        // Channels-last rows: the vectorized kernel over whole spans, into an output that is
        // not zeroed first.
        let isa = kernels::isa();
        let kco = co.coefficients();
        let map = |xs: &[f32], ys: &[f32], o: &mut [MaybeUninit<f32>]| match around {
            Around::Nothing => kernels::channel::affine(isa, c, xs, ys, kco, o),
            Around::Clamp(lo, hi) => kernels::channel::affine_clamped(isa, c, xs, ys, kco, lo, hi, o),
            Around::Gate(gate) => kernels::channel::affine_gated(isa, c, xs, ys, kco, gate, o),
        };
        let fill = |out: &mut [MaybeUninit<f32>]| {
            if parallel {
                out.par_chunks_mut(span)
                    .zip(x.par_chunks(span).zip(y.par_chunks(span)))
                    .with_min_len(min_len)
                    .for_each(|(o, (xs, ys))| map(xs, ys, o));
            } else {
                map(x, y, out);
            }
        };
        // SAFETY: `x` is `outer` whole rows of `c` (and `y` as long, `check_grad`), so every
        // span is whole rows and `affine` writes each of its values.
        return unsafe { kernels::filled_vec(x.len(), fill) };
    }
    // Channels-first blocks: one run of `inner` values per channel.
    let mut out = vec![0.0f32; x.len()];
    let coef = co.a.iter().zip(&co.b).zip(co.s.iter().zip(&co.k));
    let map_block = |(ob, (xb, yb)): (&mut [f32], (&[f32], &[f32]))| {
        for (ch, ((&a, &b), (&s, &k))) in coef.clone().enumerate() {
            let run = ch * inner..(ch + 1) * inner;
            for (o, (&xv, &yv)) in ob[run.clone()].iter_mut().zip(xb[run.clone()].iter().zip(&yb[run])) {
                *o = a * xv + b * (yv - s) + k;
            }
        }
    };
    let map_span = |o: &mut [f32], xs: &[f32], ys: &[f32]| {
        o.chunks_mut(block)
            .zip(xs.chunks(block).zip(ys.chunks(block)))
            .for_each(map_block)
    };
    if parallel {
        out.par_chunks_mut(span)
            .zip(x.par_chunks(span).zip(y.par_chunks(span)))
            .with_min_len(min_len)
            .for_each(|(o, (xs, ys))| map_span(o, xs, ys));
    } else {
        map_span(&mut out, x, y);
    }
    out
}

/// Per-channel `inv = γ/√(σ² + ε)` and `shift = β − μ·inv`.
/// The per-channel `(scale, shift)` of inference batch normalization: `scale = γ/√(σ² + ε)`,
/// `shift = β − μ·scale`, so `y = x·scale + shift` (what a plan folds into a convolution).
pub fn inference_scale_shift(
    mean: &[f32],
    var: &[f32],
    gamma: Option<&Tensor>,
    beta: Option<&Tensor>,
    eps: f32,
) -> (Vec<f32>, Vec<f32>) {
    let inv: Vec<f32> = (0..mean.len())
        .map(|ch| gamma.map_or(1.0, |g| g.data()[ch]) / (var[ch] + eps).sqrt())
        .collect();
    let shift = (0..mean.len())
        .map(|ch| beta.map_or(0.0, |b| b.data()[ch]) - mean[ch] * inv[ch])
        .collect();
    (inv, shift)
}

/// Inference: normalizes with given (moving) statistics.
pub fn batch_norm_inference(
    x: &Tensor,
    mean: &Tensor,
    variance: &Tensor,
    gamma: Option<&Tensor>,
    beta: Option<&Tensor>,
    axis: isize,
    eps: f32,
) -> Result<Tensor> {
    let l = layout(x.shape(), axis)?;
    for (name, t) in [
        ("moving_mean", Some(mean)),
        ("moving_variance", Some(variance)),
        ("gamma", gamma),
        ("beta", beta),
    ] {
        check_param(name, t, &l)?;
    }
    let (inv, shift) = inference_scale_shift(mean.data(), variance.data(), gamma, beta, eps);
    let zeros = vec![0.0; l.c];
    let co = Linear {
        a: inv,
        b: zeros.clone(),
        s: zeros,
        k: shift,
    };
    Tensor::new(x.shape(), channel_linear(&l, x.data(), x.data(), &co, Around::Nothing))
}

/// Backward of [`batch_norm_inference`]: an affine map per channel, so
/// `dx = dy·γ/√(σ² + ε)`, `dγ = Σ dy·(x − μ)/√(σ² + ε)`, `dβ = Σ dy`.
pub fn batch_norm_inference_backward(
    x: &Tensor,
    grad_out: &Tensor,
    mean: &Tensor,
    variance: &Tensor,
    gamma: Option<&Tensor>,
    axis: isize,
    eps: f32,
) -> Result<BatchNormGrads> {
    let l = layout(x.shape(), axis)?;
    check_param("moving_mean", Some(mean), &l)?;
    check_param("moving_variance", Some(variance), &l)?;
    check_param("gamma", gamma, &l)?;
    check_grad(x, grad_out)?;
    let rstd: Vec<f32> = variance.data().iter().map(|&v| 1.0 / (v + eps).sqrt()).collect();
    let (m, g, dy) = (mean.data(), gamma, grad_out.data());
    let scale: Vec<f32> = (0..l.c).map(|ch| g.map_or(1.0, |g| g.data()[ch]) * rstd[ch]).collect();
    let zeros = vec![0.0; l.c];
    let dx = channel_linear(
        &l,
        dy,
        dy,
        &Linear {
            a: scale,
            b: zeros.clone(),
            s: zeros.clone(),
            k: zeros,
        },
        Around::Nothing,
    );
    // Σ dy·(x − μ)/√(σ² + ε) = (Σ dy·x − μ·Σ dy)/√(σ² + ε), exact enough in f64.
    let (dbeta, sxd) = channel_moments(&l, x.data(), dy, None);
    let dgamma = (0..l.c)
        .map(|ch| (sxd[ch] - m[ch] as f64 * dbeta[ch]) * rstd[ch] as f64)
        .collect();
    grads(x, &l, dx, dgamma, dbeta)
}

fn check_grad(x: &Tensor, grad_out: &Tensor) -> Result<()> {
    if grad_out.shape() != x.shape() {
        return shape_err(
            "batch_norm",
            format!(
                "gradient shape {:?} differs from the input's {:?}",
                grad_out.shape(),
                x.shape()
            ),
        );
    }
    Ok(())
}

fn grads(x: &Tensor, l: &Layout, dx: Vec<f32>, dgamma: Vec<f64>, dbeta: Vec<f64>) -> Result<BatchNormGrads> {
    Ok(BatchNormGrads {
        input: Tensor::new(x.shape(), dx)?,
        gamma: Tensor::new(&[l.c], dgamma.into_iter().map(|v| v as f32).collect())?,
        beta: Tensor::new(&[l.c], dbeta.into_iter().map(|v| v as f32).collect())?,
    })
}

/// The batch mean and biased variance per channel (two passes, accumulated in f64).
pub fn batch_moments(x: &Tensor, axis: isize) -> Result<BatchStats> {
    let l = layout(x.shape(), axis)?;
    let m = l.count();
    if m == 0 {
        return shape_err(
            "batch_norm",
            format!(
                "needs at least one value per channel to compute batch statistics, received shape {:?}",
                x.shape()
            ),
        );
    }
    // One pass: E[x²] − E[x]², which in f64 loses nothing that f32 data could show.
    let (sums, squares) = channel_moments(&l, x.data(), x.data(), None);
    let mean: Vec<f64> = sums.iter().map(|s| s / m as f64).collect();
    let var = squares
        .iter()
        .zip(&mean)
        .map(|(q, mu)| ((q / m as f64) - mu * mu).max(0.0) as f32);
    Ok(BatchStats {
        mean: Tensor::new(&[l.c], mean.iter().map(|&v| v as f32).collect())?,
        variance: Tensor::new(&[l.c], var.collect())?,
        count: m,
    })
}

/// A ReLU-type activation fused into training-mode batch normalization (channels-last):
/// `min(max(y, 0), max_value)` on the output and its derivative on the gradient, with
/// TensorFlow's kinks — `relu′` is `y > 0`, `relu6′` is `0 < y < 6` — so one pass of the
/// activation and one of its backward are no passes of their own. Only ReLU (`max_value =
/// ∞`) and ReLU6 have those derivatives (`ReLU(max_value = m)` passes the gradient at `y = m`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FusedRelu {
    max_value: f32,
}

impl FusedRelu {
    /// ReLU, `max(y, 0)`.
    pub const RELU: FusedRelu = FusedRelu {
        max_value: f32::INFINITY,
    };
    /// ReLU6, `min(max(y, 0), 6)`.
    pub const RELU6: FusedRelu = FusedRelu { max_value: 6.0 };

    /// The fused form of an activation, for ReLU and ReLU6.
    pub fn of(a: crate::ops::activation::Activation) -> Option<FusedRelu> {
        use crate::ops::activation::Activation;
        match a {
            Activation::Relu => Some(FusedRelu::RELU),
            Activation::Relu6 => Some(FusedRelu::RELU6),
            _ => None,
        }
    }

    /// The upper clamp.
    pub fn max_value(&self) -> f32 {
        self.max_value
    }

    /// The activation as the kernels' epilogues apply it.
    pub fn act_spec(&self) -> crate::kernels::act::ActSpec {
        crate::kernels::act::ActSpec {
            lo: 0.0,
            hi: self.max_value,
            slope: None,
            post: None,
        }
    }

    /// The gradient through the activation from its output `y`: `g · relu′`, as
    /// [`Tape::relu`] / [`Tape::relu6`] compute it from the input (`y > 0` exactly where the
    /// input is, and below the cap exactly where the input is).
    pub(crate) fn gate_grad(&self, g: &Tensor, y: &Tensor) -> Result<Tensor> {
        let hi = self.max_value;
        let d = if hi == f32::INFINITY {
            zip_map(g.data(), y.data(), |g, y| g * if y > 0.0 { 1.0 } else { 0.0 })
        } else {
            zip_map(g.data(), y.data(), move |g, y| {
                g * if y > 0.0 && y < hi { 1.0 } else { 0.0 }
            })
        };
        Tensor::new(g.shape(), d)
    }

    fn check(relu: Option<FusedRelu>, l: &Layout) -> Result<()> {
        if relu.is_some() && l.inner != 1 {
            return shape_err(
                "batch_norm",
                format!(
                    "a fused ReLU needs the channel axis last, received {} values after it",
                    l.inner
                ),
            );
        }
        Ok(())
    }

    /// The gate of the backward for a forward with coefficients `co`.
    fn gate<'a>(&self, co: &'a Linear) -> kernels::channel::Gate<'a> {
        kernels::channel::Gate {
            co: co.coefficients(),
            lo: 0.0,
            hi: self.max_value,
        }
    }
}

impl Linear {
    fn coefficients(&self) -> kernels::channel::Coefficients<'_> {
        kernels::channel::Coefficients {
            a: &self.a,
            b: &self.b,
            s: &self.s,
            k: &self.k,
        }
    }

    /// The forward map of training batch normalization: `x·inv + shift` (as
    /// `a·x + 0·(x − 0) + k`, the expression [`FusedRelu`]'s gate recomputes).
    fn forward(stats: &BatchStats, gamma: Option<&Tensor>, beta: Option<&Tensor>, eps: f32) -> Linear {
        let (inv, shift) = inference_scale_shift(stats.mean.data(), stats.variance.data(), gamma, beta, eps);
        let zeros = vec![0.0; inv.len()];
        Linear {
            a: inv,
            b: zeros.clone(),
            s: zeros,
            k: shift,
        }
    }
}

/// Training: normalizes with the batch's own statistics and returns them, so the layer can
/// update its moving statistics with [`update_moving_statistic`].
pub fn batch_norm_training(
    x: &Tensor,
    gamma: Option<&Tensor>,
    beta: Option<&Tensor>,
    axis: isize,
    eps: f32,
) -> Result<(Tensor, BatchStats)> {
    batch_norm_relu_training(x, gamma, beta, axis, eps, None)
}

/// [`batch_norm_training`] followed by a ReLU when `relu` is given (channels-last): the same
/// values as the two ops one after the other.
pub fn batch_norm_relu_training(
    x: &Tensor,
    gamma: Option<&Tensor>,
    beta: Option<&Tensor>,
    axis: isize,
    eps: f32,
    relu: Option<FusedRelu>,
) -> Result<(Tensor, BatchStats)> {
    let l = layout(x.shape(), axis)?;
    check_param("gamma", gamma, &l)?;
    check_param("beta", beta, &l)?;
    FusedRelu::check(relu, &l)?;
    let stats = batch_moments(x, axis)?;
    let co = Linear::forward(&stats, gamma, beta, eps);
    let around = relu.map_or(Around::Nothing, |r| Around::Clamp(0.0, r.max_value));
    let y = Tensor::new(x.shape(), channel_linear(&l, x.data(), x.data(), &co, around))?;
    Ok((y, stats))
}

/// Backward of [`batch_norm_training`], through the batch statistics: with
/// `x̂ = (x − μ)/√(σ² + ε)`,
/// `dx = γ/√(σ² + ε) · (dy − mean(dy) − x̂·mean(dy·x̂))`, `dγ = Σ dy·x̂`, `dβ = Σ dy`.
pub fn batch_norm_training_backward(
    x: &Tensor,
    grad_out: &Tensor,
    stats: &BatchStats,
    gamma: Option<&Tensor>,
    axis: isize,
    eps: f32,
) -> Result<BatchNormGrads> {
    batch_norm_relu_training_backward(x, grad_out, stats, gamma, None, axis, eps, None)
}

/// Backward of [`batch_norm_relu_training`]: `grad_out` is the gradient of the ReLU's output
/// when `relu` is given, gated by its derivative at the recomputed normalized value (which
/// needs β as the forward had it) inside the two passes of [`batch_norm_training_backward`].
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_relu_training_backward(
    x: &Tensor,
    grad_out: &Tensor,
    stats: &BatchStats,
    gamma: Option<&Tensor>,
    beta: Option<&Tensor>,
    axis: isize,
    eps: f32,
    relu: Option<FusedRelu>,
) -> Result<BatchNormGrads> {
    let l = layout(x.shape(), axis)?;
    check_param("mean", Some(&stats.mean), &l)?;
    check_param("variance", Some(&stats.variance), &l)?;
    check_param("gamma", gamma, &l)?;
    check_param("beta", beta, &l)?;
    check_grad(x, grad_out)?;
    FusedRelu::check(relu, &l)?;
    let m = l.count() as f64;
    let mu = stats.mean.data();
    let rstd: Vec<f32> = stats.variance.data().iter().map(|&v| 1.0 / (v + eps).sqrt()).collect();
    let dy = grad_out.data();
    let forward = relu.map(|_| Linear::forward(stats, gamma, beta, eps));
    let gate = relu.zip(forward.as_ref()).map(|(r, co)| r.gate(co));
    let (dbeta, sxd) = channel_moments(&l, x.data(), dy, gate);
    let dgamma: Vec<f64> = (0..l.c)
        .map(|ch| (sxd[ch] - mu[ch] as f64 * dbeta[ch]) * rstd[ch] as f64)
        .collect();
    // dx = k·dy − k·mean(dy) − k·x̂·mean(dy·x̂), with x̂ = (x − μ)·rstd.
    let k: Vec<f32> = (0..l.c)
        .map(|ch| gamma.map_or(1.0, |g| g.data()[ch]) * rstd[ch])
        .collect();
    let co = Linear {
        b: (0..l.c).map(|ch| -k[ch] * rstd[ch] * (dgamma[ch] / m) as f32).collect(),
        s: mu.to_vec(),
        k: (0..l.c).map(|ch| -k[ch] * (dbeta[ch] / m) as f32).collect(),
        a: k,
    };
    let dx = channel_linear(&l, dy, x.data(), &co, gate.map_or(Around::Nothing, Around::Gate));
    grads(x, &l, dx, dgamma, dbeta)
}

/// Reference for training-mode batch normalization: each channel's statistics and outputs
/// from an explicit loop over every element's multi-index.
pub fn batch_norm_training_naive(
    x: &Tensor,
    gamma: Option<&Tensor>,
    beta: Option<&Tensor>,
    axis: isize,
    eps: f32,
) -> Result<(Tensor, BatchStats)> {
    let ax = normalize_axis("batch_norm", axis, x.rank())?;
    let c = x.shape()[ax];
    let stride = x.strides()[ax];
    let chan = |i: usize| (i / stride) % c;
    let (mut sum, mut count) = (vec![0.0f64; c], vec![0usize; c]);
    for (i, &v) in x.data().iter().enumerate() {
        sum[chan(i)] += v as f64;
        count[chan(i)] += 1;
    }
    let mean: Vec<f64> = sum.iter().zip(&count).map(|(s, &n)| s / n as f64).collect();
    let mut sq = vec![0.0f64; c];
    for (i, &v) in x.data().iter().enumerate() {
        sq[chan(i)] += (v as f64 - mean[chan(i)]).powi(2);
    }
    let var: Vec<f64> = sq.iter().zip(&count).map(|(s, &n)| s / n as f64).collect();
    let y = x
        .data()
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let ch = chan(i);
            let g = gamma.map_or(1.0, |g| g.data()[ch] as f64);
            let b = beta.map_or(0.0, |b| b.data()[ch] as f64);
            (g * (v as f64 - mean[ch]) / (var[ch] + eps as f64).sqrt() + b) as f32
        })
        .collect();
    let stats = BatchStats {
        mean: Tensor::new(&[c], mean.iter().map(|&v| v as f32).collect())?,
        variance: Tensor::new(&[c], var.iter().map(|&v| v as f32).collect())?,
        count: count.first().copied().unwrap_or(0),
    };
    Ok((Tensor::new(x.shape(), y)?, stats))
}

/// The parents of a batch-norm node (`x`, then γ and β when present) and the positions of γ
/// and β among them.
fn parents(x: Var, gamma: Option<Var>, beta: Option<Var>) -> (Vec<Var>, Option<usize>, Option<usize>) {
    let mut p = vec![x];
    let gi = gamma.map(|g| {
        p.push(g);
        p.len() - 1
    });
    let bi = beta.map(|b| {
        p.push(b);
        p.len() - 1
    });
    (p, gi, bi)
}

fn route(g: BatchNormGrads, gi: Option<usize>, bi: Option<usize>) -> Vec<Option<Tensor>> {
    let mut out = vec![Some(g.input)];
    if gi.is_some() {
        out.push(Some(g.gamma));
    }
    if bi.is_some() {
        out.push(Some(g.beta));
    }
    out
}

impl Tape {
    /// [`batch_norm_inference`] on the tape: moving statistics are constants; gradients flow to
    /// `x`, γ and β.
    #[allow(clippy::too_many_arguments)]
    pub fn batch_norm_inference(
        &mut self,
        x: Var,
        mean: &Tensor,
        variance: &Tensor,
        gamma: Option<Var>,
        beta: Option<Var>,
        axis: isize,
        eps: f32,
    ) -> Result<Var> {
        let gv = gamma.map(|g| self.try_value(g)).transpose()?;
        let bv = beta.map(|b| self.try_value(b)).transpose()?;
        let out = batch_norm_inference(self.try_value(x)?, mean, variance, gv, bv, axis, eps)?;
        let (p, gi, bi) = parents(x, gamma, beta);
        let (mean, variance) = (mean.clone(), variance.clone());
        self.record(
            out,
            &p,
            Box::new(move |grad, inputs, _| {
                let g =
                    batch_norm_inference_backward(inputs[0], grad, &mean, &variance, gi.map(|i| inputs[i]), axis, eps)?;
                Ok(route(g, gi, bi))
            }),
        )
    }

    /// [`batch_norm_training`] on the tape; the gradient flows through the batch statistics.
    /// Returns the output and the batch statistics (constants, for the moving averages).
    pub fn batch_norm_training(
        &mut self,
        x: Var,
        gamma: Option<Var>,
        beta: Option<Var>,
        axis: isize,
        eps: f32,
    ) -> Result<(Var, BatchStats)> {
        self.batch_norm_relu_training(x, gamma, beta, axis, eps, None)
    }

    /// [`batch_norm_relu_training`] on the tape: with `relu`, one node for the normalization
    /// and the activation after it, whose backward is [`batch_norm_relu_training_backward`].
    pub fn batch_norm_relu_training(
        &mut self,
        x: Var,
        gamma: Option<Var>,
        beta: Option<Var>,
        axis: isize,
        eps: f32,
        relu: Option<FusedRelu>,
    ) -> Result<(Var, BatchStats)> {
        let gv = gamma.map(|g| self.try_value(g)).transpose()?;
        let bv = beta.map(|b| self.try_value(b)).transpose()?;
        let (out, stats) = batch_norm_relu_training(self.try_value(x)?, gv, bv, axis, eps, relu)?;
        let (p, gi, bi) = parents(x, gamma, beta);
        let kept = stats.clone();
        let v = self.record(
            out,
            &p,
            Box::new(move |grad, inputs, _| {
                let (g, b) = (gi.map(|i| inputs[i]), bi.map(|i| inputs[i]));
                let g = batch_norm_relu_training_backward(inputs[0], grad, &kept, g, b, axis, eps, relu)?;
                Ok(route(g, gi, bi))
            }),
        )?;
        Ok((v, stats))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::check_gradients;
    use crate::ops::test_util::random_in as random;
    use crate::rng::Rng;

    fn t(v: &[f32]) -> Tensor {
        Tensor::new(&[v.len()], v.to_vec()).unwrap()
    }

    #[test]
    fn inference_by_hand() {
        // One channel, mean 1, variance 4 − ε so √(σ² + ε) = 2; γ 3, β 0.5:
        // y = 3·(x − 1)/2 + 0.5.
        let x = Tensor::new(&[3, 1], vec![1.0, 3.0, -1.0]).unwrap();
        let y = batch_norm_inference(
            &x,
            &t(&[1.0]),
            &t(&[4.0 - 1e-3]),
            Some(&t(&[3.0])),
            Some(&t(&[0.5])),
            -1,
            1e-3,
        )
        .unwrap();
        assert!(
            y.allclose(&Tensor::new(&[3, 1], vec![0.5, 3.5, -2.5]).unwrap(), 1e-6, 1e-6),
            "{y:?}"
        );
        // Channels-first axis 1 on (1, 2, 2): channel 1 shifted by β only.
        let x = Tensor::arange(&[1, 2, 2]);
        let y = batch_norm_inference(
            &x,
            &t(&[0.0, 0.0]),
            &t(&[1.0, 1.0]),
            None,
            Some(&t(&[0.0, 10.0])),
            1,
            0.0,
        )
        .unwrap();
        assert_eq!(y.data(), &[0.0, 1.0, 12.0, 13.0]);
    }

    #[test]
    fn training_by_hand() {
        // Channel 0: 1, 3 → mean 2, biased variance 1; channel 1: 0, 0 → mean 0, variance 0.
        let x = Tensor::new(&[2, 2], vec![1.0, 0.0, 3.0, 0.0]).unwrap();
        let (y, s) = batch_norm_training(&x, None, None, -1, 0.0).unwrap();
        assert_eq!(s.mean.data(), &[2.0, 0.0]);
        assert_eq!(s.variance.data(), &[1.0, 0.0]);
        assert_eq!(s.count, 2);
        assert_eq!(s.unbiased_variance().data(), &[2.0, 0.0]);
        assert_eq!(&y.data()[..1], &[-1.0]);
        assert_eq!(y.data()[2], 1.0);
        let mut moving = t(&[0.0, 1.0]);
        update_moving_statistic(&mut moving, &s.variance, 0.9).unwrap();
        assert!(moving.allclose(&t(&[0.1, 0.9]), 1e-7, 0.0), "{moving:?}");
    }

    #[test]
    fn fast_matches_naive() {
        let mut rng = Rng::new(99);
        for case in 0..120 {
            let rank = 1 + rng.below(4);
            let big = case % 30 == 0;
            let shape: Vec<usize> = (0..rank)
                .map(|_| if big { 8 + rng.below(24) } else { 1 + rng.below(5) })
                .collect();
            let axis = rng.below(rank) as isize - if rng.below(2) == 0 { rank as isize } else { 0 };
            let c = shape[normalize_axis("t", axis, rank).unwrap()];
            // Every third case sits far from zero: the one-pass f64 variance must not suffer.
            let offset = if case % 3 == 0 { 100.0 } else { 0.0 };
            let x = random(&mut rng, &shape, offset - 2.0, offset + 3.0);
            let gamma = (rng.below(2) == 0).then(|| random(&mut rng, &[c], 0.5, 1.5));
            let beta = (rng.below(2) == 0).then(|| random(&mut rng, &[c], -1.0, 1.0));
            let (y, s) = batch_norm_training(&x, gamma.as_ref(), beta.as_ref(), axis, 1e-3).unwrap();
            let (yn, sn) = batch_norm_training_naive(&x, gamma.as_ref(), beta.as_ref(), axis, 1e-3).unwrap();
            let what = format!("case {case}: shape {shape:?} axis {axis}");
            assert!(y.allclose(&yn, 1e-4, 1e-4), "{what}: {}", y.max_abs_diff(&yn).unwrap());
            assert!(
                s.mean.allclose(&sn.mean, 1e-6, 1e-5) && s.variance.allclose(&sn.variance, 1e-6, 1e-5),
                "{what}"
            );
            assert_eq!(s.count, sn.count, "{what}");
            // Inference with the batch's own statistics is the training output.
            let yi = batch_norm_inference(&x, &s.mean, &s.variance, gamma.as_ref(), beta.as_ref(), axis, 1e-3).unwrap();
            assert!(yi.allclose(&y, 1e-5, 1e-5), "{what}");
        }
    }

    #[test]
    fn training_gradients_through_batch_statistics() {
        let mut rng = Rng::new(4);
        let x = random(&mut rng, &[3, 2, 2, 3], -1.0, 1.0);
        let gamma = random(&mut rng, &[3], 0.5, 1.5);
        let beta = random(&mut rng, &[3], -0.5, 0.5);
        let f = |t: &mut Tape, v: &[Var]| Ok(t.batch_norm_training(v[0], Some(v[1]), Some(v[2]), -1, 1e-3)?.0);
        check_gradients(&[x.clone(), gamma.clone(), beta.clone()], f, 1e-2, 2e-2).unwrap();
        // Channel axis 1 (channels_first), no center.
        let xc = random(&mut rng, &[2, 3, 2, 2], -1.0, 1.0);
        let f = |t: &mut Tape, v: &[Var]| Ok(t.batch_norm_training(v[0], Some(v[1]), None, 1, 1e-3)?.0);
        check_gradients(&[xc, gamma.clone()], f, 1e-2, 2e-2).unwrap();
        // Neither scale nor center.
        let f = |t: &mut Tape, v: &[Var]| Ok(t.batch_norm_training(v[0], None, None, -1, 1e-3)?.0);
        check_gradients(std::slice::from_ref(&x), f, 1e-2, 2e-2).unwrap();
        // Far from zero (mean 50, spread 1): the backward's per-channel coefficients keep x − μ.
        let far = x.map(|v| v + 50.0);
        let f = |t: &mut Tape, v: &[Var]| Ok(t.batch_norm_training(v[0], Some(v[1]), None, -1, 1e-3)?.0);
        check_gradients(&[far, gamma], f, 1e-2, 2e-2).unwrap();
    }

    /// The fused ReLU and ReLU6 give what batch normalization then the activation's own tape
    /// op give, outputs and gradients (x, γ, β) bit for bit, for channel counts that are not
    /// multiples of a vector, with and without γ and β, on one thread's and the parallel path.
    #[test]
    fn fused_relu_equals_the_two_ops() {
        let mut rng = Rng::new(12);
        for (case, shape) in [
            [2, 3, 3, 1],
            [2, 3, 4, 5],
            [1, 4, 4, 19],
            [3, 5, 2, 33],
            [4, 16, 16, 40],
        ]
        .into_iter()
        .enumerate()
        {
            let c = shape[3];
            let x = random(&mut rng, &shape, -2.0, 3.0);
            // γ up to 5 and β up to 3: the normalized values cross 0 and 6.
            let gamma = random(&mut rng, &[c], 1.0, 5.0);
            let beta = random(&mut rng, &[c], -1.0, 3.0);
            let seed = random(&mut rng, &shape, -1.0, 1.0);
            for relu in [FusedRelu::RELU, FusedRelu::RELU6] {
                for (with_g, with_b) in [(true, true), (false, true), (true, false)] {
                    let run = |fused: bool| {
                        let mut t = Tape::new();
                        let (xv, gv, bv) = (t.param(x.clone()), t.param(gamma.clone()), t.param(beta.clone()));
                        let (g, b) = (with_g.then_some(gv), with_b.then_some(bv));
                        let z = if fused {
                            t.batch_norm_relu_training(xv, g, b, -1, 1e-3, Some(relu)).unwrap().0
                        } else {
                            let y = t.batch_norm_training(xv, g, b, -1, 1e-3).unwrap().0;
                            if relu == FusedRelu::RELU6 {
                                t.relu6(y).unwrap()
                            } else {
                                t.relu(y).unwrap()
                            }
                        };
                        let grads = t.backward_with(z, seed.clone()).unwrap();
                        let grad = |v: Var| grads.get(v).map(|g| g.data().to_vec());
                        (t.value(z).data().to_vec(), grad(xv), grad(gv), grad(bv))
                    };
                    let (fused, plain) = (run(true), run(false));
                    let what = format!("case {case} {relu:?} γ {with_g} β {with_b}");
                    assert!(
                        fused.0.iter().any(|&v| v == 0.0) && fused.0.iter().any(|&v| v > 0.0),
                        "{what}: both sides of 0"
                    );
                    if relu == FusedRelu::RELU6 && with_g && c > 1 {
                        assert!(fused.0.contains(&6.0), "{what}: some values clipped at 6");
                    }
                    assert_eq!(fused, plain, "{what}");
                }
            }
        }
        // Channels-first has no fused form: an error naming the axis, not a wrong result.
        let xc = random(&mut rng, &[2, 3, 2, 2], -1.0, 1.0);
        let err = batch_norm_relu_training(&xc, None, None, 1, 1e-3, Some(FusedRelu::RELU)).unwrap_err();
        assert!(err.to_string().contains("channel axis last"), "{err}");
    }

    #[test]
    fn inference_gradients() {
        let mut rng = Rng::new(8);
        let x = random(&mut rng, &[2, 3, 2, 4], -1.0, 1.0);
        let (mean, var) = (random(&mut rng, &[4], -0.5, 0.5), random(&mut rng, &[4], 0.5, 2.0));
        let gamma = random(&mut rng, &[4], 0.5, 1.5);
        let beta = random(&mut rng, &[4], -0.5, 0.5);
        let f = |t: &mut Tape, v: &[Var]| t.batch_norm_inference(v[0], &mean, &var, Some(v[1]), Some(v[2]), -1, 1e-3);
        check_gradients(&[x.clone(), gamma, beta.clone()], f, 1e-2, 1e-2).unwrap();
        let f = |t: &mut Tape, v: &[Var]| t.batch_norm_inference(v[0], &mean, &var, None, Some(v[1]), -1, 1e-3);
        check_gradients(&[x, beta], f, 1e-2, 1e-2).unwrap();
    }

    #[test]
    fn errors_name_the_parameter() {
        let x = Tensor::zeros(&[2, 3, 3, 4]);
        let e = batch_norm_inference(&x, &t(&[0.0; 3]), &t(&[1.0; 4]), None, None, -1, 1e-3)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("batch_norm:") && e.contains("moving_mean has shape [3], expected (4,)"),
            "{e}"
        );
        let e = batch_norm_training(&x, Some(&t(&[1.0; 4])), None, 1, 1e-3)
            .unwrap_err()
            .to_string();
        assert!(e.contains("gamma has shape [4], expected (3,)"), "{e}");
        let e = batch_norm_training(&x, None, None, 4, 1e-3).unwrap_err().to_string();
        assert!(e.contains("`axis`") && e.contains("received 4"), "{e}");
        let e = batch_norm_training(&Tensor::zeros(&[0, 4]), None, None, -1, 1e-3)
            .unwrap_err()
            .to_string();
        assert!(e.contains("at least one value per channel"), "{e}");
        let s = batch_moments(&x, -1).unwrap();
        let e = batch_norm_training_backward(&x, &Tensor::zeros(&[2, 3]), &s, None, -1, 1e-3)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("gradient shape [2, 3] differs from the input's [2, 3, 3, 4]"),
            "{e}"
        );
        let e = update_moving_statistic(&mut t(&[0.0; 2]), &t(&[0.0; 3]), 0.99)
            .unwrap_err()
            .to_string();
        assert!(e.contains("[2]") && e.contains("[3]"), "{e}");
    }
}
