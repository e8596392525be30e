//! The inference plan's other kernels, on NHWC slices: max and average pooling (TensorFlow's
//! windows; the average counts only the pixels inside the image, as `same` pooling does in
//! Keras), global average / max pooling, a per-channel affine `x·scale + shift` (a
//! BatchNormalization with nothing to fold into), element-wise merges of two inputs, each
//! followed by an activation. Channels are the inner, contiguous loop (vectorized by the
//! compiler); rows of the output run in parallel when there is enough work. Each has its
//! reference in the engine's ops (`ops::pool`, `ops::batchnorm`, `ops::elementwise`), which the
//! tests compare against.

use super::act::ActSpec;
use crate::error::{shape_err, Result};
use crate::ops::pool::Pool2dGeometry;

/// Below this many values an op runs on one thread.
const PAR_MIN: usize = 1 << 15;

/// `f(r, row)` over the `rows` rows of `row_len` values of `out`, the last one possibly
/// shorter (where `out` ends: a strided output's last row ends at its last pixel).
fn par_rows(rows: usize, row_len: usize, out: &mut [f32], f: impl Fn(usize, &mut [f32]) + Sync + Send) {
    let len = out.len().min(rows * row_len);
    let out = &mut out[..len];
    if rows * row_len < PAR_MIN || rows == 1 {
        out.chunks_mut(row_len.max(1)).enumerate().for_each(|(r, o)| f(r, o));
    } else {
        let min = rows.div_ceil(super::threads() * 4);
        super::team::for_each_chunk(out, row_len, min, f);
    }
}

fn need(op: &'static str, what: &str, have: usize, want: usize) -> Result<()> {
    if have < want {
        return shape_err(op, format!("{what} holds {have} values, {want} needed"));
    }
    Ok(())
}

/// Max (`max = true`) or average pooling of `x` (`g.input_shape()`) into `y`
/// (`g.output_shape()`, pixels `y_stride` values apart: a concatenation's channel slice),
/// then `act`. The padding is skipped (Keras's pooling), or with `zeros` made of zeros (a
/// `ZeroPadding2D` folded into the pool): a window that reaches into it takes the maximum
/// with 0, and an average counts the whole window. The values between pixels are not
/// touched.
#[allow(clippy::too_many_arguments)]
pub fn pool2d(
    g: &Pool2dGeometry,
    max: bool,
    zeros: bool,
    x: &[f32],
    y: &mut [f32],
    y_stride: usize,
    act: &ActSpec,
) -> Result<()> {
    let [n, oh, ow, c] = g.output_shape();
    need("pool2d", "input", x.len(), g.n * g.h * g.w * g.c)?;
    let pixels = n * oh * ow;
    if pixels == 0 || c == 0 {
        return Ok(());
    }
    if y_stride < c {
        return shape_err(
            "pool2d",
            format!("output pixel stride {y_stride} is below its {c} channels"),
        );
    }
    need("pool2d", "output", y.len(), (pixels - 1) * y_stride + c)?;
    let isa = super::isa();
    // Output row `r` is `ow` pixels from value `r·ow·y_stride`; the last ends at its last pixel.
    let (rows, row_span) = (n * oh, (ow - 1) * y_stride + c);
    let y = &mut y[..(pixels - 1) * y_stride + c];
    par_rows(rows, ow * y_stride, y, |r, out| {
        let out = &mut out[..row_span];
        #[cfg(target_arch = "x86_64")]
        if isa == super::Isa::Avx512 {
            // SAFETY: `isa()` is never above what the CPU reported; `need` sized `x`, and the
            // row `out` holds `ow` pixels `y_stride` apart.
            return unsafe { avx512::pool_row(g, max, zeros, x, r / oh, r % oh, out, y_stride, act) };
        }
        super::vectorized(
            #[inline(always)]
            || pool_row(g, max, zeros, x, r / oh, r % oh, out, y_stride, act),
        )
    });
    Ok(())
}

/// [`pool_row`] in AVX-512 intrinsics: 64 channels of a window (then 16, then a masked tail)
/// reduced in registers and stored once, where the generic row loads and stores its output
/// once per window pixel (InceptionV3's poolings ran at half of onnxruntime's speed). The
/// same operations in the same order: a maximum that skips NaN as `f32::max` does, a sum in
/// window order divided by the same count.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{window, ActSpec, Pool2dGeometry, Window};
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn pool_row(
        g: &Pool2dGeometry,
        max: bool,
        zeros: bool,
        x: &[f32],
        img: usize,
        oy: usize,
        out: &mut [f32],
        stride: usize,
        act: &ActSpec,
    ) {
        let c = g.c;
        let (kh, kw) = (g.rows.kernel, g.cols.kernel);
        let xp = x.as_ptr();
        let ow = g.cols.output;
        debug_assert!(out.len() >= (ow - 1) * stride + c);
        let in_registers = !act.is_linear() && act.post.is_none();
        let (lo, hi) = (_mm512_set1_ps(act.lo), _mm512_set1_ps(act.hi));
        for ox in 0..ow {
            let Window { y0, y1, x0, x1, seen } = window(g, oy, ox);
            let o = out.as_mut_ptr().add(ox * stride);
            let init = _mm512_set1_ps(if max { f32::NEG_INFINITY } else { 0.0 });
            // After the window: the maximum with the zero padding, or the division.
            let zero_floor = max && zeros && seen < kh * kw;
            let count = _mm512_set1_ps(if zeros { kh * kw } else { seen.max(1) } as f32);
            let finish = |v: __m512| {
                let v = if max {
                    if zero_floor {
                        _mm512_max_ps(v, _mm512_setzero_ps())
                    } else {
                        v
                    }
                } else {
                    _mm512_div_ps(v, count)
                };
                // A leaky slope and a clamp in registers (`ActSpec::apply`'s order); only a
                // function after them runs per value below.
                if in_registers {
                    let v = match act.slope {
                        Some(s) => _mm512_max_ps(v, _mm512_mul_ps(_mm512_set1_ps(s), v)),
                        None => v,
                    };
                    _mm512_min_ps(_mm512_max_ps(v, lo), hi)
                } else {
                    v
                }
            };
            let combine = |v: __m512, a: __m512| if max { _mm512_max_ps(v, a) } else { _mm512_add_ps(a, v) };
            let pixel = |iy: usize, ix: usize| xp.add(((img * g.h + iy) * g.w + ix) * c);
            let mut c0 = 0;
            while c0 + 64 <= c {
                let mut a = [init; 4];
                for iy in y0..y1 {
                    for ix in x0..x1 {
                        let p = pixel(iy, ix).add(c0);
                        for (j, aj) in a.iter_mut().enumerate() {
                            *aj = combine(_mm512_loadu_ps(p.add(16 * j)), *aj);
                        }
                    }
                }
                for (j, aj) in a.iter().enumerate() {
                    _mm512_storeu_ps(o.add(c0 + 16 * j), finish(*aj));
                }
                c0 += 64;
            }
            while c0 < c {
                let mask: __mmask16 = crate::kernels::lanes16(c - c0);
                let mut a = init;
                for iy in y0..y1 {
                    for ix in x0..x1 {
                        a = combine(_mm512_mask_loadu_ps(init, mask, pixel(iy, ix).add(c0)), a);
                    }
                }
                _mm512_mask_storeu_ps(o.add(c0), mask, finish(a));
                c0 += 16;
            }
            if !act.is_linear() && !in_registers {
                for ch in 0..c {
                    *o.add(ch) = act.apply(*o.add(ch));
                }
            }
        }
    }
}

/// The input rows `[y0, y1)` and columns `[x0, x1)` of output pixel `(oy, ox)`'s window
/// inside the image, and how many pixels that is.
struct Window {
    y0: usize,
    y1: usize,
    x0: usize,
    x1: usize,
    seen: usize,
}

#[inline(always)]
fn window(g: &Pool2dGeometry, oy: usize, ox: usize) -> Window {
    let y0 = (oy * g.rows.stride).saturating_sub(g.rows.pad_before);
    let y1 = (oy * g.rows.stride + g.rows.kernel)
        .saturating_sub(g.rows.pad_before)
        .min(g.h);
    let x0 = (ox * g.cols.stride).saturating_sub(g.cols.pad_before);
    let x1 = (ox * g.cols.stride + g.cols.kernel)
        .saturating_sub(g.cols.pad_before)
        .min(g.w);
    let seen = y1.saturating_sub(y0) * x1.saturating_sub(x0);
    Window { y0, y1, x0, x1, seen }
}

/// One output row of [`pool2d`]: image `img`, row `oy`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn pool_row(
    g: &Pool2dGeometry,
    max: bool,
    zeros: bool,
    x: &[f32],
    img: usize,
    oy: usize,
    out: &mut [f32],
    stride: usize,
    act: &ActSpec,
) {
    let c = g.c;
    let (kh, kw) = (g.rows.kernel, g.cols.kernel);
    for ox in 0..g.cols.output {
        let o = &mut out[ox * stride..ox * stride + c];
        let Window { y0, y1, x0, x1, seen } = window(g, oy, ox);
        o.fill(if max { f32::NEG_INFINITY } else { 0.0 });
        for iy in y0..y1 {
            for ix in x0..x1 {
                let src = &x[((img * g.h + iy) * g.w + ix) * c..][..c];
                if max {
                    for (a, &v) in o.iter_mut().zip(src) {
                        *a = a.max(v);
                    }
                } else {
                    for (a, &v) in o.iter_mut().zip(src) {
                        *a += v;
                    }
                }
            }
        }
        if max {
            if zeros && seen < kh * kw {
                for a in o.iter_mut() {
                    *a = a.max(0.0);
                }
            }
        } else {
            let count = if zeros { kh * kw } else { seen.max(1) } as f32;
            for a in o.iter_mut() {
                *a /= count;
            }
        }
        if !act.is_linear() {
            for a in o.iter_mut() {
                *a = act.apply(*a);
            }
        }
    }
}

/// Global average (`max = false`) or max pooling: `[n, hw, c]` → `[n, c]`.
pub fn global_pool(n: usize, hw: usize, c: usize, max: bool, x: &[f32], y: &mut [f32]) -> Result<()> {
    need("global_pool", "input", x.len(), n * hw * c)?;
    need("global_pool", "output", y.len(), n * c)?;
    // Compiled for the kernels' instruction set (the channels' sums are independent: the
    // same order per value): MobileNetV2's 7×7×1280 at batch 1 ran 7 µs as SSE code.
    super::vectorized(
        #[inline(always)]
        || global_pool_images(n, hw, c, max, x, y),
    );
    Ok(())
}

#[inline(always)]
fn global_pool_images(n: usize, hw: usize, c: usize, max: bool, x: &[f32], y: &mut [f32]) {
    for (img, o) in y[..n * c].chunks_exact_mut(c).enumerate() {
        o.fill(if max { f32::NEG_INFINITY } else { 0.0 });
        for src in x[img * hw * c..(img + 1) * hw * c].chunks_exact(c) {
            if max {
                for (a, &v) in o.iter_mut().zip(src) {
                    *a = a.max(v);
                }
            } else {
                for (a, &v) in o.iter_mut().zip(src) {
                    *a += v;
                }
            }
        }
        if !max {
            for a in o.iter_mut() {
                *a /= hw as f32;
            }
        }
    }
}

/// `y[p, c] = act(x[p, c]·scale[c] + shift[c])` over pixels of `c` channels (in place when
/// `y` is `x`'s buffer: pass the same slice as `io` with `x = None`). `x` is `(values, pixel
/// stride)`: a stride above `c` reads the first `c` channels of wider pixels (a
/// concatenation's leading inputs, which DenseNet's blocks normalize as they grow).
#[allow(clippy::manual_is_multiple_of)] // `is_multiple_of` is newer than the MSRV
pub fn affine(x: Option<(&[f32], usize)>, io: &mut [f32], scale: &[f32], shift: &[f32], act: &ActSpec) -> Result<()> {
    let c = scale.len();
    if c == 0 || shift.len() != c || io.len() % c != 0 {
        return shape_err(
            "affine",
            format!("{} values, scale {} and shift {} do not fit", io.len(), c, shift.len()),
        );
    }
    let rows = io.len() / c;
    if let Some((x, stride)) = x {
        if stride < c {
            return shape_err(
                "affine",
                format!("an input pixel stride of {stride} is below {c} channels"),
            );
        }
        need("affine", "input", x.len(), rows.saturating_sub(1) * stride + c)?;
    }
    // Pixels per task row, so tiny channel counts still give long rows.
    let per = (4096 / c).max(1);
    let row_len = per * c;
    let full = rows / per * row_len;
    // `act.apply` without its branches in the loop (a slope of 1 changes nothing), compiled
    // for the CPU's vector ISA: the same operations per value.
    let (lo, hi, slope) = (act.lo, act.hi, act.slope.unwrap_or(1.0));
    let clamp = move |v: f32| {
        let v = v.max(slope * v);
        v.max(lo).min(hi)
    };
    let body = |start: usize, out: &mut [f32]| {
        if out.is_empty() {
            return;
        }
        super::vectorized(
            #[inline(always)]
            || {
                match x {
                    Some((x, stride)) => {
                        let x = &x[start / c * stride..];
                        for (p, o) in out.chunks_exact_mut(c).enumerate() {
                            let src = &x[p * stride..p * stride + c];
                            for (((o, &v), &a), &b) in o.iter_mut().zip(src).zip(scale).zip(shift) {
                                *o = clamp(v * a + b);
                            }
                        }
                    }
                    None => {
                        for o in out.chunks_exact_mut(c) {
                            for ((o, &a), &b) in o.iter_mut().zip(scale).zip(shift) {
                                *o = clamp(*o * a + b);
                            }
                        }
                    }
                }
                if let Some(f) = act.post {
                    for v in out.iter_mut() {
                        *v = f(*v);
                    }
                }
            },
        )
    };
    let (head, tail) = io.split_at_mut(full);
    if !head.is_empty() {
        par_rows(full / row_len, row_len, head, |r, out| body(r * row_len, out));
    }
    body(full, tail);
    Ok(())
}

/// An element-wise merge of two same-shaped inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge2 {
    /// `a + b`
    Add,
    /// `a − b`
    Subtract,
    /// `a · b`
    Multiply,
    /// `max(a, b)`
    Maximum,
    /// `min(a, b)`
    Minimum,
}

impl Merge2 {
    #[inline(always)]
    fn apply(self, a: f32, b: f32) -> f32 {
        match self {
            Merge2::Add => a + b,
            Merge2::Subtract => a - b,
            Merge2::Multiply => a * b,
            Merge2::Maximum => a.max(b),
            Merge2::Minimum => a.min(b),
        }
    }
}

/// `y = act(op(a, b))`, element by element.
pub fn merge2(op: Merge2, a: &[f32], b: &[f32], y: &mut [f32], act: &ActSpec) -> Result<()> {
    if a.len() != b.len() || y.len() < a.len() {
        return shape_err(
            "merge",
            format!("inputs of {} and {} values into {}", a.len(), b.len(), y.len()),
        );
    }
    let y = &mut y[..a.len()];
    if y.is_empty() {
        return Ok(());
    }
    let row = 4096.min(y.len());
    let full = y.len() / row * row;
    let (head, tail) = y.split_at_mut(full);
    let body = |start: usize, out: &mut [f32]| {
        for (i, o) in out.iter_mut().enumerate() {
            *o = act.apply(op.apply(a[start + i], b[start + i]));
        }
    };
    par_rows(full / row, row, head, |r, out| body(r * row, out));
    body(full, tail);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::pool::{avg_pool2d_naive, max_pool2d_naive, pool2d_geometry};
    use crate::ops::test_util::{assert_close, random, random_padding};
    use crate::rng::Rng;
    use crate::{Padding, Tensor};

    #[test]
    fn pooling_matches_the_engine_reference() {
        let mut rng = Rng::new(9);
        for case in 0..64 {
            let ps = (1 + rng.below(3), 1 + rng.below(3));
            let large = case >= 60;
            let st = if large {
                (1, 1)
            } else {
                (1 + rng.below(3), 1 + rng.below(3))
            };
            let pad = match random_padding(&mut rng, 1) {
                crate::Padding::Explicit(..) => crate::Padding::Valid,
                p => p,
            };
            // Channel counts below one vector, and past the 64-channel blocks with a tail; the
            // last cases large enough to split their rows over the workers.
            let c = [1 + rng.below(20), 64, 67 + rng.below(20), 130][case % 4];
            let side = if large { 24 } else { 3 + rng.below(7) };
            let shape = [1 + rng.below(2), side, side + rng.below(3), c];
            let x = random(&mut rng, &shape);
            let g = pool2d_geometry("t", x.shape(), ps, st, pad).unwrap();
            for max in [true, false] {
                let want = if max {
                    max_pool2d_naive(&x, ps, st, pad).unwrap()
                } else {
                    avg_pool2d_naive(&x, ps, st, pad).unwrap()
                };
                let mut y = vec![0.0; want.len()];
                pool2d(&g, max, false, x.data(), &mut y, c, &ActSpec::LINEAR).unwrap();
                assert_close(&y, want.data(), &format!("case {case} max {max}"));
                // Into channels 2 .. 2 + c of a wider buffer (a concatenation's slice): the
                // same values, the other channels untouched.
                let (stride, px) = (c + 3, want.len() / c);
                let mut wide = vec![f32::NAN; px * stride];
                pool2d(&g, max, false, x.data(), &mut wide[2..], stride, &ActSpec::LINEAR).unwrap();
                let got: Vec<f32> = (0..px).flat_map(|p| wide[p * stride + 2..][..c].to_vec()).collect();
                assert_eq!(got, y, "case {case} max {max}: strided output");
                for p in 0..px {
                    let gaps = [0, 1, c + 2].map(|j| wide[p * stride + j]);
                    assert!(gaps.iter().all(|v| v.is_nan()), "case {case}: wrote outside the slice");
                }
                // With an activation after it (a 1×1 convolution's, moved past the pool by the
                // inference plan): ReLU6, a leaky slope, and a function (sigmoid) applied per
                // value; the same values as the activation applied to the pooled ones.
                let acts = [
                    ActSpec::from_activation(crate::ops::activation::Activation::Relu6),
                    ActSpec::relu_general(0.1, Some(2.0), 0.0),
                    ActSpec::from_activation(crate::ops::activation::Activation::Sigmoid),
                ];
                for act in acts.into_iter().flatten() {
                    let mut z = vec![0.0; want.len()];
                    pool2d(&g, max, false, x.data(), &mut z, c, &act).unwrap();
                    let want: Vec<f32> = y.iter().map(|&v| act.apply(v)).collect();
                    assert_eq!(
                        z,
                        want,
                        "case {case} max {max}: activation {:?}",
                        (act.lo, act.hi, act.slope)
                    );
                }
            }
        }
    }

    #[test]
    fn pooling_over_zero_padding_equals_pooling_the_padded_input() {
        // `ZeroPadding2D(p)` then a valid pool, against the pool with `zeros` over the
        // unpadded input: negative inputs, so a window reaching into the zeros shows it.
        let mut rng = Rng::new(9);
        for case in 0..40 {
            let k = 2 + rng.below(3);
            let (p, st) = (1 + rng.below(k - 1), 1 + rng.below(3));
            let c = [1 + rng.below(20), 64, 67 + rng.below(20)][case % 3];
            let [n, h, w] = [1 + rng.below(2), 2 + rng.below(6), 2 + rng.below(6)];
            let x = random(&mut rng, &[n, h, w, c]);
            let shifted = Tensor::new(x.shape(), x.data().iter().map(|v| v - 0.5).collect()).unwrap();
            let padded = crate::ops::pad::zero_pad2d(&shifted, p, p, p, p).unwrap();
            let Ok(g) = pool2d_geometry("t", x.shape(), (k, k), (st, st), Padding::Explicit(p, p)) else {
                continue;
            };
            for max in [true, false] {
                let want = if max {
                    max_pool2d_naive(&padded, (k, k), (st, st), Padding::Valid).unwrap()
                } else {
                    avg_pool2d_naive(&padded, (k, k), (st, st), Padding::Valid).unwrap()
                };
                let mut y = vec![0.0; want.len()];
                pool2d(&g, max, true, shifted.data(), &mut y, c, &ActSpec::LINEAR).unwrap();
                assert_close(
                    &y,
                    want.data(),
                    &format!("case {case} max {max} k {k} p {p} stride {st}"),
                );
            }
        }
    }

    #[test]
    fn affine_equals_the_scalar_epilogue_exactly() {
        // Every activation a plan folds into an affine pass, in place and not, over channel
        // counts that are not multiples of 16 and rows that leave a tail.
        let mut rng = Rng::new(8);
        for act in &crate::ops::activation::Activation::ALL {
            let Some(spec) = ActSpec::from_activation(*act) else {
                continue;
            };
            for case in 0..6 {
                let c = 1 + rng.below(40);
                let rows = 1 + rng.below(300);
                let x: Vec<f32> = (0..rows * c).map(|_| rng.uniform_range(-8.0, 8.0) as f32).collect();
                let scale: Vec<f32> = (0..c).map(|_| rng.uniform_range(-2.0, 2.0) as f32).collect();
                let shift: Vec<f32> = (0..c).map(|_| rng.uniform_range(-1.0, 1.0) as f32).collect();
                let want: Vec<f32> = x
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| spec.apply(v * scale[i % c] + shift[i % c]))
                    .collect();
                let mut y = vec![0.0; x.len()];
                affine(Some((&x, c)), &mut y, &scale, &shift, &spec).unwrap();
                let mut io = x.clone();
                affine(None, &mut io, &scale, &shift, &spec).unwrap();
                // The same pixels as the leading channels of wider ones.
                let stride = c + 1 + rng.below(20);
                let mut wide = vec![f32::NAN; (rows - 1) * stride + c];
                for (p, px) in x.chunks_exact(c).enumerate() {
                    wide[p * stride..p * stride + c].copy_from_slice(px);
                }
                let mut from_wide = vec![0.0; x.len()];
                affine(Some((&wide, stride)), &mut from_wide, &scale, &shift, &spec).unwrap();
                for (i, w) in want.iter().enumerate() {
                    assert!(
                        [y[i], io[i], from_wide[i]].iter().all(|v| v.to_bits() == w.to_bits()),
                        "{act:?} case {case} [{i}]: {} / {} / {} vs {w}",
                        y[i],
                        io[i],
                        from_wide[i]
                    );
                }
                assert!(affine(
                    Some((&wide[..wide.len() - 1], stride)),
                    &mut from_wide,
                    &scale,
                    &shift,
                    &spec
                )
                .is_err());
            }
        }
    }

    #[test]
    fn global_affine_and_merges() {
        let x: Vec<f32> = (0..2 * 3 * 4).map(|i| i as f32).collect();
        let mut y = vec![0.0; 8];
        global_pool(2, 3, 4, false, &x, &mut y).unwrap();
        assert_eq!(&y[..4], &[4.0, 5.0, 6.0, 7.0]);
        global_pool(2, 3, 4, true, &x, &mut y).unwrap();
        assert_eq!(&y[4..], &[20.0, 21.0, 22.0, 23.0]);
        let mut io: Vec<f32> = vec![1.0, -2.0, 3.0, -4.0];
        let relu = ActSpec::from_activation(crate::ops::activation::Activation::Relu).unwrap();
        affine(None, &mut io, &[2.0, 1.0], &[0.5, 0.0], &relu).unwrap();
        assert_eq!(io, vec![2.5, 0.0, 6.5, 0.0]);
        let a: Vec<f32> = (0..10_000).map(|i| i as f32).collect();
        let b: Vec<f32> = (0..10_000).map(|i| -(i as f32) * 2.0).collect();
        let mut y = vec![0.0; 10_000];
        merge2(Merge2::Add, &a, &b, &mut y, &ActSpec::LINEAR).unwrap();
        assert!(y.iter().enumerate().all(|(i, &v)| v == -(i as f32)));
        assert!(merge2(Merge2::Add, &a, &b[..3], &mut y, &ActSpec::LINEAR).is_err());
        assert!(affine(None, &mut io, &[1.0; 3], &[0.0; 3], &relu).is_err());
    }
}
