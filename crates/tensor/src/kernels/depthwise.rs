//! Depthwise convolution for inference: NHWC `[n, h, w, c]`, kernel `(kh, kw, c, dm)`,
//! output `[n, oh, ow, c·dm]` (TensorFlow's channel order), strides, dilation, any padding,
//! with the fused epilogue (bias — a folded BatchNormalization's shift —, clamp activations,
//! scalar activations).
//!
//! With `dm = 1` (every application) the work is register-blocked. On AVX-512, in
//! intrinsics: strips of 8 output pixels × 16 channels of sums in registers, each tap's
//! weights loaded once per strip, the last channel block masked. Elsewhere (and for depth
//! multipliers or very tall kernels): 4 pixels × 16 channels over fixed-size lane arrays,
//! compiled twice (AVX2 + FMA, portable) by target-feature wrappers, pixels whose window
//! leaves the image and the channel tail on a bounds-checked path. Output rows run in
//! parallel. [`depthwise_reference`] is the naive twin.

use super::{Epilogue, Isa};
use crate::error::{shape_err, Result};
use crate::ops::conv_gemm::ConvGeometry;

const LANES: usize = 16;
const PIX: usize = 4;

/// One depthwise convolution's operands (`geometry` from
/// [`crate::ops::depthwise::depthwise_geometry`]); output pixel `m` at `y[m·y_stride..]`.
pub struct DepthwiseArgs<'a> {
    /// Geometry: `cin = c`, `cout = c·dm`.
    pub geometry: &'a ConvGeometry,
    /// NHWC input, contiguous.
    pub x: &'a [f32],
    /// Kernel `(kh, kw, c, dm)`.
    pub w: &'a [f32],
    /// Bias and activation.
    pub epilogue: Epilogue<'a>,
    /// Output.
    pub y: &'a mut [f32],
    /// Output pixel stride (≥ c·dm).
    pub y_stride: usize,
}

#[derive(Clone, Copy)]
struct SyncPtr(*mut f32);
unsafe impl Sync for SyncPtr {}
unsafe impl Send for SyncPtr {}

fn check(a: &DepthwiseArgs) -> Result<()> {
    let g = a.geometry;
    let m = g.n * g.oh() * g.ow();
    let (kh, kw) = (g.rows.kernel, g.cols.kernel);
    let bad = |what: String| shape_err("depthwise_conv2d", what);
    if a.x.len() < g.n * g.rows.input * g.cols.input * g.cin {
        return bad(format!("input holds {} values, too few for the geometry", a.x.len()));
    }
    if a.w.len() != kh * kw * g.cout {
        return bad(format!(
            "kernel holds {} values, expected {}",
            a.w.len(),
            kh * kw * g.cout
        ));
    }
    if a.y_stride < g.cout || (m > 0 && a.y.len() < (m - 1) * a.y_stride + g.cout) {
        return bad(format!(
            "output of {} values at stride {} is too small",
            a.y.len(),
            a.y_stride
        ));
    }
    if a.epilogue.bias.is_some_and(|b| b.len() < g.cout) {
        return bad(format!("bias shorter than {} channels", g.cout));
    }
    Ok(())
}

/// Runs the depthwise convolution on `isa`.
pub fn depthwise(isa: Isa, a: DepthwiseArgs) -> Result<()> {
    check(&a)?;
    let g = a.geometry;
    let rows = g.n * g.oh();
    let y = SyncPtr(a.y.as_mut_ptr());
    let (x, w, epi, ys) = (a.x, a.w, a.epilogue, a.y_stride);
    let run = |r: usize| {
        // SAFETY: `check` bounds every index; rows write disjoint pixels.
        unsafe { row(isa, g, x, w, &epi, y, ys, r) }
    };
    let work = rows * g.ow() * g.cout * g.rows.kernel * g.cols.kernel;
    if work < 1 << 15 || rows == 1 {
        (0..rows).for_each(run);
    } else {
        super::team::for_each(rows, rows.div_ceil(super::threads() * 4), run);
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
unsafe fn row(isa: Isa, g: &ConvGeometry, x: &[f32], w: &[f32], epi: &Epilogue, y: SyncPtr, ys: usize, r: usize) {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => row_avx512(g, x, w, epi, y, ys, r),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => row_avx2(g, x, w, epi, y, ys, r),
        _ => row_generic::<false>(g, x, w, epi, y, ys, r),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn row_avx512(g: &ConvGeometry, x: &[f32], w: &[f32], epi: &Epilogue, y: SyncPtr, ys: usize, r: usize) {
    if g.cout == g.cin && g.rows.kernel <= avx512::MAX_KH {
        avx512::row(g, x, w, epi, y, ys, r)
    } else {
        row_generic::<true>(g, x, w, epi, y, ys, r)
    }
}

/// The AVX-512 rows of a depthwise convolution without a depth multiplier, in intrinsics:
/// strips of 8 (then 4, then 1) output pixels whose windows lie inside the image, each strip
/// 16 channels at a time with its 8 sums in registers (the last block of channels masked);
/// each tap's 16 weights are loaded once per strip and used for all its pixels, and the
/// input is read straight from its rows (the FMAs take it from memory). Border pixels run
/// the same code one at a time with the taps outside the image skipped. Every sum starts
/// from the bias and adds the taps in kernel order, as [`row_generic`] and the reference do.
/// The fixed-size-array kernel this replaces on AVX-512 kept its sums on the stack and
/// recomputed every tap's address (8% of the FMA peak on 56×56×144).
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{ConvGeometry, Epilogue, SyncPtr};
    use std::arch::x86_64::*;

    /// Most kernel rows the row kernel takes (taller kernels run the generic one).
    pub(super) const MAX_KH: usize = 16;

    /// What every strip of one output row shares.
    struct Row<'a> {
        /// Input row start (pixel 0, channel 0) of each kernel row inside the image, with its
        /// kernel row index.
        rows: [(usize, *const f32); MAX_KH],
        nrows: usize,
        w: *const f32,
        c: usize,
        kw: usize,
        /// Column stride and dilation, in floats; left padding in pixels.
        step: usize,
        dil: usize,
        stride: usize,
        dilation: usize,
        pad: isize,
        width: usize,
        out: *mut f32,
        ys: usize,
        epi: &'a Epilogue<'a>,
    }

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn row(g: &ConvGeometry, x: &[f32], w: &[f32], epi: &Epilogue, y: SyncPtr, ys: usize, r: usize) {
        let (c, kh) = (g.cin, g.rows.kernel);
        let (h, wd, ow) = (g.rows.input, g.cols.input, g.ow());
        let (img, oy) = (r / g.oh(), r % g.oh());
        let mut rows = [(0usize, std::ptr::null::<f32>()); MAX_KH];
        let mut nrows = 0;
        for ky in 0..kh {
            let iy = (oy * g.rows.stride + ky * g.rows.dilation) as isize - g.rows.pad_before as isize;
            if iy >= 0 && (iy as usize) < h {
                rows[nrows] = (ky, x.as_ptr().add((img * h + iy as usize) * wd * c));
                nrows += 1;
            }
        }
        let (kw, stride, dilation) = (g.cols.kernel, g.cols.stride, g.cols.dilation);
        let row = Row {
            rows,
            nrows,
            w: w.as_ptr(),
            c,
            kw,
            step: stride * c,
            dil: dilation * c,
            stride,
            dilation,
            pad: g.cols.pad_before as isize,
            width: wd,
            out: y.0.add(r * ow * ys),
            ys,
            epi,
        };
        let (ox_lo, ox_hi) = super::inside_cols(g);
        for ox in 0..ox_lo {
            strip::<1, false>(&row, ox);
        }
        let mut ox = ox_lo;
        while ox + 8 <= ox_hi {
            strip::<8, true>(&row, ox);
            ox += 8;
        }
        if ox + 4 <= ox_hi {
            strip::<4, true>(&row, ox);
            ox += 4;
        }
        while ox < ox_hi {
            strip::<1, true>(&row, ox);
            ox += 1;
        }
        for ox in ox_hi.max(ox_lo)..ow {
            strip::<1, false>(&row, ox);
        }
    }

    /// Output pixels `ox .. ox + P` of the row, every channel.
    #[target_feature(enable = "avx512f")]
    unsafe fn strip<const P: usize, const INSIDE: bool>(row: &Row, ox: usize) {
        let c = row.c;
        let epi = row.epi;
        let (lo, hi) = (_mm512_set1_ps(epi.lo), _mm512_set1_ps(epi.hi));
        // The first column this strip's first pixel reads, in pixels (may be negative at the
        // left border).
        let col0 = (ox * row.stride) as isize - row.pad;
        for c0 in (0..c).step_by(16) {
            let mask: __mmask16 = crate::kernels::lanes16(c - c0);
            let init = match epi.bias {
                Some(b) => _mm512_maskz_loadu_ps(mask, b.as_ptr().add(c0)),
                None => _mm512_setzero_ps(),
            };
            let mut acc = [init; P];
            for &(ky, base) in &row.rows[..row.nrows] {
                for kx in 0..row.kw {
                    let wv = _mm512_maskz_loadu_ps(mask, row.w.add((ky * row.kw + kx) * c + c0));
                    if INSIDE {
                        let at = base.offset(col0 * c as isize).add(kx * row.dil + c0);
                        for (p, a) in acc.iter_mut().enumerate() {
                            let xv = _mm512_maskz_loadu_ps(mask, at.add(p * row.step));
                            *a = _mm512_fmadd_ps(xv, wv, *a);
                        }
                    } else {
                        let ix = col0 + (kx * row.dilation) as isize;
                        if ix < 0 || ix as usize >= row.width {
                            continue;
                        }
                        let xv = _mm512_maskz_loadu_ps(mask, base.add(ix as usize * c + c0));
                        acc[0] = _mm512_fmadd_ps(xv, wv, acc[0]);
                    }
                }
            }
            for (p, a) in acc.iter().enumerate() {
                let mut v = *a;
                if let Some(s) = epi.slope {
                    v = _mm512_max_ps(v, _mm512_mul_ps(v, _mm512_set1_ps(s)));
                }
                v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
                _mm512_mask_storeu_ps(row.out.add((ox + p) * row.ys + c0), mask, v);
            }
        }
        if let Some(f) = epi.post {
            for p in 0..P {
                let o = row.out.add((ox + p) * row.ys);
                for ch in 0..c {
                    *o.add(ch) = f(*o.add(ch));
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn row_avx2(g: &ConvGeometry, x: &[f32], w: &[f32], epi: &Epilogue, y: SyncPtr, ys: usize, r: usize) {
    row_generic::<true>(g, x, w, epi, y, ys, r)
}

#[inline(always)]
fn fma<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

#[inline(always)]
fn finish(epi: &Epilogue, mut v: f32) -> f32 {
    if let Some(s) = epi.slope {
        v = v.max(s * v);
    }
    v = v.max(epi.lo).min(epi.hi);
    match epi.post {
        Some(f) => f(v),
        None => v,
    }
}

/// The epilogue on 16 lanes: the clamp vectorized, then the scalar function if any.
#[inline(always)]
fn finish_lanes(epi: &Epilogue, a: &mut [f32; LANES]) {
    if let Some(s) = epi.slope {
        for v in a.iter_mut() {
            *v = v.max(s * *v);
        }
    }
    let (lo, hi) = (epi.lo, epi.hi);
    for v in a.iter_mut() {
        *v = v.max(lo).min(hi);
    }
    if let Some(f) = epi.post {
        for v in a.iter_mut() {
            *v = f(*v);
        }
    }
}

/// The output columns `[lo, hi)` whose whole window row lies inside the image.
fn inside_cols(g: &ConvGeometry) -> (usize, usize) {
    let (wd, ow, stride) = (g.cols.input, g.ow(), g.cols.stride);
    let eff = (g.cols.kernel - 1) * g.cols.dilation;
    let lo = g.cols.pad_before.div_ceil(stride).min(ow);
    let hi = if wd + g.cols.pad_before > eff {
        ((wd + g.cols.pad_before - eff - 1) / stride + 1).min(ow)
    } else {
        0
    };
    (lo, hi.max(lo))
}

/// Output row `r = img·oh + oy`.
#[inline(always)]
unsafe fn row_generic<const FMA: bool>(
    g: &ConvGeometry,
    x: &[f32],
    w: &[f32],
    epi: &Epilogue,
    y: SyncPtr,
    ys: usize,
    r: usize,
) {
    let (c, cout) = (g.cin, g.cout);
    let dm = cout / c.max(1);
    let (kh, kw) = (g.rows.kernel, g.cols.kernel);
    let (h, wd, ow) = (g.rows.input, g.cols.input, g.ow());
    let (img, oy) = (r / g.oh(), r % g.oh());
    // Kernel rows inside the image for this output row.
    let ky_ok = |ky: usize| {
        let iy = (oy * g.rows.stride + ky * g.rows.dilation) as isize - g.rows.pad_before as isize;
        (iy >= 0 && (iy as usize) < h).then_some(iy as usize)
    };
    let ix_of =
        |ox: usize, kx: usize| (ox * g.cols.stride + kx * g.cols.dilation) as isize - g.cols.pad_before as isize;
    let (ox_lo, ox_hi) = inside_cols(g);
    let out = |ox: usize| y.0.add((r * ow + ox) * ys);
    let bias = epi.bias;
    let cvec = if dm == 1 { c / LANES * LANES } else { 0 };
    // Fast path: 4 interior pixels × 16 channels.
    let mut ox = ox_lo;
    while cvec > 0 && ox + PIX <= ox_hi {
        for c0 in (0..cvec).step_by(LANES) {
            let mut acc = [[0.0f32; LANES]; PIX];
            if let Some(b) = bias {
                for a in acc.iter_mut() {
                    a.copy_from_slice(&b[c0..c0 + LANES]);
                }
            }
            for ky in 0..kh {
                let Some(iy) = ky_ok(ky) else { continue };
                let xrow = (img * h + iy) * wd;
                for kx in 0..kw {
                    let wv: &[f32; LANES] = &*(w.as_ptr().add((ky * kw + kx) * c + c0) as *const [f32; LANES]);
                    for (p, a) in acc.iter_mut().enumerate() {
                        let ix = ix_of(ox + p, kx) as usize;
                        let xv: &[f32; LANES] = &*(x.as_ptr().add((xrow + ix) * c + c0) as *const [f32; LANES]);
                        for l in 0..LANES {
                            a[l] = fma::<FMA>(xv[l], wv[l], a[l]);
                        }
                    }
                }
            }
            for (p, a) in acc.iter_mut().enumerate() {
                finish_lanes(epi, a);
                std::ptr::copy_nonoverlapping(a.as_ptr(), out(ox + p).add(c0), LANES);
            }
        }
        ox += PIX;
    }
    // Border pixels, 16 channels at a time, each tap checked.
    let fast_end = ox;
    for ox in (0..ox_lo.min(ow)).chain(fast_end.max(ox_lo)..ow) {
        for c0 in (0..cvec).step_by(LANES) {
            let mut a = [0.0f32; LANES];
            if let Some(b) = bias {
                a.copy_from_slice(&b[c0..c0 + LANES]);
            }
            for ky in 0..kh {
                let Some(iy) = ky_ok(ky) else { continue };
                let xrow = (img * h + iy) * wd;
                for kx in 0..kw {
                    let ix = ix_of(ox, kx);
                    if ix < 0 || ix as usize >= wd {
                        continue;
                    }
                    let wv: &[f32; LANES] = &*(w.as_ptr().add((ky * kw + kx) * c + c0) as *const [f32; LANES]);
                    let xv: &[f32; LANES] = &*(x.as_ptr().add((xrow + ix as usize) * c + c0) as *const [f32; LANES]);
                    for l in 0..LANES {
                        a[l] = fma::<FMA>(xv[l], wv[l], a[l]);
                    }
                }
            }
            finish_lanes(epi, &mut a);
            std::ptr::copy_nonoverlapping(a.as_ptr(), out(ox).add(c0), LANES);
        }
    }
    // The channel tail (and any depth multiplier): per pixel and channel, bounds-checked taps.
    if cvec == cout {
        return;
    }
    for ox in 0..ow {
        let co_start = cvec;
        let o = out(ox);
        for co in co_start..cout {
            let ci = co / dm;
            let mut s = bias.map_or(0.0, |b| b[co]);
            for ky in 0..kh {
                let Some(iy) = ky_ok(ky) else { continue };
                for kx in 0..kw {
                    let ix = ix_of(ox, kx);
                    if ix < 0 || ix as usize >= wd {
                        continue;
                    }
                    let xv = *x.get_unchecked(((img * h + iy) * wd + ix as usize) * c + ci);
                    s = fma::<FMA>(xv, *w.get_unchecked((ky * kw + kx) * cout + co), s);
                }
            }
            *o.add(co) = finish(epi, s);
        }
    }
}

/// The reference: one loop per index, the same epilogue.
pub fn depthwise_reference(a: DepthwiseArgs) -> Result<()> {
    check(&a)?;
    let g = a.geometry;
    let dm = g.cout / g.cin.max(1);
    let act = a.epilogue.act();
    for img in 0..g.n {
        for oy in 0..g.oh() {
            for ox in 0..g.ow() {
                for co in 0..g.cout {
                    let mut s = a.epilogue.bias.map_or(0.0, |b| b[co]);
                    for ky in 0..g.rows.kernel {
                        for kx in 0..g.cols.kernel {
                            let iy = (oy * g.rows.stride + ky * g.rows.dilation) as isize - g.rows.pad_before as isize;
                            let ix = (ox * g.cols.stride + kx * g.cols.dilation) as isize - g.cols.pad_before as isize;
                            if iy < 0 || ix < 0 || iy as usize >= g.rows.input || ix as usize >= g.cols.input {
                                continue;
                            }
                            s += a.x
                                [((img * g.rows.input + iy as usize) * g.cols.input + ix as usize) * g.cin + co / dm]
                                * a.w[(ky * g.cols.kernel + kx) * g.cout + co];
                        }
                    }
                    a.y[((img * g.oh() + oy) * g.ow() + ox) * a.y_stride + co] = act.apply(s);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::act::ActSpec;
    use crate::ops::activation::Activation;
    use crate::ops::depthwise::{depthwise_conv2d_naive, depthwise_geometry, DepthwiseParams};
    use crate::ops::test_util::{assert_close, random, random_padding};
    use crate::rng::Rng;

    #[test]
    fn matches_the_engine_reference_on_random_shapes() {
        let mut rng = Rng::new(5);
        let relu6 = ActSpec::from_activation(Activation::Relu6).unwrap();
        for case in 0..150 {
            let c = [1, 3, 16, 17, 32, 40, 64][rng.below(7)];
            let dm = if case % 5 == 0 { 2 } else { 1 };
            let (kh, kw) = (1 + rng.below(5), 1 + rng.below(5));
            let p = DepthwiseParams {
                strides: (1 + rng.below(2), 1 + rng.below(2)),
                padding: (random_padding(&mut rng, 3), random_padding(&mut rng, 3)),
                dilation: if case % 7 == 0 { (2, 2) } else { (1, 1) },
            };
            let n = 1 + rng.below(2);
            let (h, w) = (2 * kh + rng.below(9), 2 * kw + rng.below(12));
            let x = random(&mut rng, &[n, h, w, c]);
            let w = random(&mut rng, &[kh, kw, c, dm]);
            let b = random(&mut rng, &[c * dm]);
            let g = depthwise_geometry("t", x.shape(), w.shape(), &p).unwrap();
            let want = depthwise_conv2d_naive(&x, &w, Some(&b), &p).unwrap();
            let expect: Vec<f32> = want.data().iter().map(|&v| relu6.apply(v)).collect();
            for isa in Isa::available() {
                let mut y = vec![0.0; want.len()];
                depthwise(
                    isa,
                    DepthwiseArgs {
                        geometry: &g,
                        x: x.data(),
                        w: w.data(),
                        epilogue: relu6.with_bias(Some(b.data())),
                        y: &mut y,
                        y_stride: g.cout,
                    },
                )
                .unwrap();
                assert_close(
                    &y,
                    &expect,
                    &format!("case {case} {isa:?} {p:?} {:?} {:?}", x.shape(), w.shape()),
                );
            }
            let mut yr = vec![0.0; want.len()];
            depthwise_reference(DepthwiseArgs {
                geometry: &g,
                x: x.data(),
                w: w.data(),
                epilogue: relu6.with_bias(Some(b.data())),
                y: &mut yr,
                y_stride: g.cout,
            })
            .unwrap();
            assert_close(&yr, &expect, "reference");
        }
    }
}
