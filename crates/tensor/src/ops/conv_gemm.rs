//! The GEMM engine behind `conv2d`, its gradients and `conv2d_transpose`: im2col / col2im on
//! NHWC tensors, tiled so each worker's column buffer stays under [`COL_BUDGET`] floats, and
//! parallel over tiles with rayon, each worker running single-threaded GEMMs.
//!
//! Row `r = (n·oh + oy)·ow + ox` of every GEMM is one output pixel, so the product's
//! `[n·oh·ow, cout]` matrix *is* the NHWC output. A column-buffer row holds the window under
//! that pixel in kernel order `(ky, kx, c)`, which is the kernel's `(kh, kw, cin/groups,
//! cout)` layout read as a `[kh·kw·cin/groups, cout]` matrix: no transpose on either side.
//!
//! - forward: `y[rows] = col(x)[rows] · W` (bias pre-filled, GEMM accumulates onto it);
//! - weight gradient: `dW = Σ_tiles col(x)ᵀ · dy` (a fold over row tiles, then a sum);
//! - input gradient: `dx = col2im(dy · Wᵀ)`, tiled over whole images so tiles write disjoint
//!   parts of `dx`.
//!
//! A 1×1, stride-1, unpadded, ungrouped convolution skips im2col: `x` already is the matrix.

use std::borrow::Cow;

use rayon::prelude::*;

use crate::error::Result;
use crate::ops::gemm::{sgemm, GemmThreads, Trans};
use crate::shape::AxisGeometry;

/// Floats per worker for the im2col buffer (4 MiB): bounded memory whatever the batch.
pub const COL_BUDGET: usize = 1 << 20;

/// Everything a convolution kernel needs, derived once from the shapes. The transposed
/// convolution builds one too, with the roles of input and output exchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeometry {
    /// Batch size.
    pub n: usize,
    /// Input channels.
    pub cin: usize,
    /// Output channels (filters).
    pub cout: usize,
    /// Channel groups.
    pub groups: usize,
    /// Height axis: input `h` → output `oh`.
    pub rows: AxisGeometry,
    /// Width axis: input `w` → output `ow`.
    pub cols: AxisGeometry,
}

impl ConvGeometry {
    /// Output height.
    pub fn oh(&self) -> usize {
        self.rows.output
    }
    /// Output width.
    pub fn ow(&self) -> usize {
        self.cols.output
    }
    /// Input channels per group.
    pub fn cin_g(&self) -> usize {
        self.cin / self.groups
    }
    /// Output channels per group.
    pub fn cout_g(&self) -> usize {
        self.cout / self.groups
    }
    /// Length of one column-buffer row: `kh·kw·cin/groups`.
    pub fn k_g(&self) -> usize {
        self.rows.kernel * self.cols.kernel * self.cin_g()
    }
    /// Input shape `[n, h, w, cin]`.
    pub fn input_shape(&self) -> [usize; 4] {
        [self.n, self.rows.input, self.cols.input, self.cin]
    }
    /// Output shape `[n, oh, ow, cout]`.
    pub fn output_shape(&self) -> [usize; 4] {
        [self.n, self.oh(), self.ow(), self.cout]
    }
    /// Kernel shape `[kh, kw, cin/groups, cout]`.
    pub fn kernel_shape(&self) -> [usize; 4] {
        [self.rows.kernel, self.cols.kernel, self.cin_g(), self.cout]
    }
    /// Multiply-adds of the forward pass.
    pub fn macs(&self) -> usize {
        self.n * self.oh() * self.ow() * self.cout * self.k_g()
    }
    /// 1×1, stride 1, no padding, one group: the input is already the GEMM's left matrix.
    pub fn is_pointwise(&self) -> bool {
        let plain = |a: &AxisGeometry| a.kernel == 1 && a.stride == 1 && a.pad_before == 0 && a.output == a.input;
        self.groups == 1 && plain(&self.rows) && plain(&self.cols)
    }
}

/// Floats of column buffer a tile aims for, so that im2col's output is still in the core's L2
/// cache when the GEMM reads it (and the GEMM's output when col2im reads it).
const CACHE_TILE: usize = 1 << 15;

/// Rows of `k` floats per tile: about [`CACHE_TILE`] floats, but at least 256 rows (a shorter
/// GEMM pays more for packing than it saves) and within the memory `budget`.
fn cache_rows(k: usize, budget: usize) -> usize {
    let k = k.max(1);
    (CACHE_TILE / k).max(256).min(budget / k).max(1)
}

/// Rows per tile: cache-sized when the tile goes through a column buffer (`im2col`), else as
/// many as the column budget allows; split so every thread gets about two tiles, and never so
/// few that the rayon task costs more than its GEMM.
fn chunk_rows(total: usize, k: usize, cout: usize, threads: usize, budget: usize, im2col: bool) -> usize {
    let by_mem = if im2col {
        cache_rows(k, budget)
    } else {
        (budget / k.max(1)).max(1)
    };
    let min_rows = ((1 << 15) / (k * cout).max(1)).max(8);
    let by_par = total.div_ceil(2 * threads.max(1)).max(min_rows);
    by_mem.min(by_par).min(total).max(1)
}

/// The kernel as one `[k_g, cout_g]` matrix per group (borrowed as is when `groups` is 1).
fn pack_kernel<'a>(kernel: &'a [f32], g: &ConvGeometry) -> Cow<'a, [f32]> {
    if g.groups == 1 {
        return Cow::Borrowed(kernel);
    }
    let (kg, cout, cg) = (g.k_g(), g.cout, g.cout_g());
    let mut p = vec![0.0; kernel.len()];
    for gi in 0..g.groups {
        for kk in 0..kg {
            let src = &kernel[kk * cout + gi * cg..kk * cout + (gi + 1) * cg];
            p[(gi * kg + kk) * cg..(gi * kg + kk + 1) * cg].copy_from_slice(src);
        }
    }
    Cow::Owned(p)
}

/// Inverse of [`pack_kernel`].
fn unpack_kernel(packed: Vec<f32>, g: &ConvGeometry) -> Vec<f32> {
    if g.groups == 1 {
        return packed;
    }
    let (kg, cout, cg) = (g.k_g(), g.cout, g.cout_g());
    let mut k = vec![0.0; packed.len()];
    for gi in 0..g.groups {
        for kk in 0..kg {
            k[kk * cout + gi * cg..kk * cout + (gi + 1) * cg]
                .copy_from_slice(&packed[(gi * kg + kk) * cg..(gi * kg + kk + 1) * cg]);
        }
    }
    k
}

/// Group `gi`'s columns of `m` rows of a `[·, c]` matrix, made contiguous `[m, c/groups]`.
fn gather_group(src: &[f32], c: usize, groups: usize, gi: usize, dst: &mut Vec<f32>) {
    let cg = c / groups;
    dst.clear();
    for row in src.chunks_exact(c) {
        dst.extend_from_slice(&row[gi * cg..(gi + 1) * cg]);
    }
}

/// `dst = src` for the short runs of small-channel layers (LeNet's first layer copies runs of
/// 1–5 floats): constant-size copies inline, where `copy_from_slice` would call `memcpy`.
#[inline(always)]
fn copy_run(dst: &mut [f32], src: &[f32]) {
    macro_rules! fixed {
        ($($n:literal)*) => {
            match dst.len() {
                $($n => dst[..$n].copy_from_slice(&src[..$n]),)*
                n => dst.copy_from_slice(&src[..n]),
            }
        };
    }
    fixed!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
}

/// Splits output rows `r0..r0+m` into runs that stay within one output image row, calling
/// `f(n, oy, ox0, ox1, first)` (`first`: the run's offset from `r0`), so the per-row work
/// (input row, padding test) is done once per kernel row and run, not once per pixel.
#[inline(always)]
fn for_each_run(g: &ConvGeometry, r0: usize, m: usize, mut f: impl FnMut(usize, usize, usize, usize, usize)) {
    let (oh, ow) = (g.oh(), g.ow());
    let mut r = r0;
    while r < r0 + m {
        let (n, oy, ox0) = (r / (oh * ow), (r / ow) % oh, r % ow);
        let ox1 = ow.min(ox0 + (r0 + m - r));
        f(n, oy, ox0, ox1, r - r0);
        r += ox1 - ox0;
    }
}

/// Fills `col` (`m` rows of `k_g`) with the windows under output rows `r0..r0+m`, channels of
/// group `gi`. Taps outside the input (padding) are zeros.
pub(crate) fn im2col(x: &[f32], g: &ConvGeometry, gi: usize, r0: usize, m: usize, col: &mut [f32]) {
    let (h, w, cin) = (g.rows.input, g.cols.input, g.cin);
    let (kh, kw, cg) = (g.rows.kernel, g.cols.kernel, g.cin_g());
    let (sh, sw, dh, dw) = (g.rows.stride, g.cols.stride, g.rows.dilation, g.cols.dilation);
    let (ph, pw) = (g.rows.pad_before as isize, g.cols.pad_before as isize);
    let (kg, seg, c0) = (g.k_g(), kw * cg, gi * cg);
    for_each_run(g, r0, m, |n, oy, ox0, ox1, first| {
        let img = &x[n * h * w * cin..(n + 1) * h * w * cin];
        let run = &mut col[first * kg..(first + ox1 - ox0) * kg];
        for ky in 0..kh {
            let iy = (oy * sh + ky * dh) as isize - ph;
            if iy < 0 || iy >= h as isize {
                run.chunks_exact_mut(kg)
                    .for_each(|row| row[ky * seg..(ky + 1) * seg].fill(0.0));
                continue;
            }
            let src_row = &img[iy as usize * w * cin..(iy as usize + 1) * w * cin];
            for (row, ox) in run.chunks_exact_mut(kg).zip(ox0..ox1) {
                let dst_row = &mut row[ky * seg..(ky + 1) * seg];
                let x0 = (ox * sw) as isize - pw;
                // The whole kernel row is one contiguous run of the input when it fits undilated.
                if dw == 1 && cg == cin && x0 >= 0 && x0 as usize + kw <= w {
                    copy_run(dst_row, &src_row[x0 as usize * cin..(x0 as usize + kw) * cin]);
                    continue;
                }
                for (kx, dst) in dst_row.chunks_exact_mut(cg.max(1)).enumerate() {
                    let ix = x0 + (kx * dw) as isize;
                    if ix < 0 || ix >= w as isize {
                        dst.fill(0.0);
                    } else {
                        let s = ix as usize * cin + c0;
                        copy_run(dst, &src_row[s..s + cg]);
                    }
                }
            }
        }
    });
}

/// Adds `dcol` (`m` rows of `k_g`, output rows `r0..r0+m`) back onto the input positions its
/// windows read, channels of group `gi`. `dx` holds images `n0..`; taps in the padding are
/// dropped.
pub(crate) fn col2im_add(dcol: &[f32], g: &ConvGeometry, gi: usize, r0: usize, m: usize, dx: &mut [f32], n0: usize) {
    // The adds vectorize to the CPU's ISA there (the same sums in the same order).
    crate::kernels::vectorized(
        #[inline(always)]
        || col2im_add_rows(dcol, g, gi, r0, m, dx, n0),
    )
}

#[inline(always)]
fn col2im_add_rows(dcol: &[f32], g: &ConvGeometry, gi: usize, r0: usize, m: usize, dx: &mut [f32], n0: usize) {
    let (h, w, cin) = (g.rows.input, g.cols.input, g.cin);
    let (kh, kw, cg) = (g.rows.kernel, g.cols.kernel, g.cin_g());
    let (sh, sw, dh, dw) = (g.rows.stride, g.cols.stride, g.rows.dilation, g.cols.dilation);
    let (ph, pw) = (g.rows.pad_before as isize, g.cols.pad_before as isize);
    let (kg, seg, c0) = (g.k_g(), kw * cg, gi * cg);
    for_each_run(g, r0, m, |n, oy, ox0, ox1, first| {
        let img = &mut dx[(n - n0) * h * w * cin..(n - n0 + 1) * h * w * cin];
        let run = &dcol[first * kg..(first + ox1 - ox0) * kg];
        for ky in 0..kh {
            let iy = (oy * sh + ky * dh) as isize - ph;
            if iy < 0 || iy >= h as isize {
                continue;
            }
            let dst_row = &mut img[iy as usize * w * cin..(iy as usize + 1) * w * cin];
            for (row, ox) in run.chunks_exact(kg).zip(ox0..ox1) {
                let src_row = &row[ky * seg..(ky + 1) * seg];
                let x0 = (ox * sw) as isize - pw;
                if dw == 1 && cg == cin && x0 >= 0 && x0 as usize + kw <= w {
                    let s = x0 as usize * cin;
                    for (d, v) in dst_row[s..s + seg].iter_mut().zip(src_row) {
                        *d += v;
                    }
                    continue;
                }
                for (kx, src) in src_row.chunks_exact(cg.max(1)).enumerate() {
                    let ix = x0 + (kx * dw) as isize;
                    if ix < 0 || ix >= w as isize {
                        continue;
                    }
                    let s = ix as usize * cin + c0;
                    for (d, v) in dst_row[s..s + cg].iter_mut().zip(src) {
                        *d += v;
                    }
                }
            }
        }
    });
}

fn gemm_threads(tiles: usize, threads: usize) -> GemmThreads {
    if tiles < threads {
        GemmThreads::Rayon(threads)
    } else {
        GemmThreads::Single
    }
}

/// `y = conv(x, kernel) + bias`, NHWC in and out; `kernel` is `(kh, kw, cin/groups, cout)`.
pub(crate) fn forward(
    x: &[f32],
    kernel: &[f32],
    bias: Option<&[f32]>,
    g: &ConvGeometry,
    budget: usize,
) -> Result<Vec<f32>> {
    let (cin, cout, groups) = (g.cin, g.cout, g.groups);
    let (kg, cg) = (g.k_g(), g.cout_g());
    let total = g.n * g.oh() * g.ow();
    let mut out = crate::kernels::zeros(total * cout);
    if total == 0 || cout == 0 {
        return Ok(out);
    }
    if kg == 0 {
        // No input channels: every window is empty, the output is the bias.
        if let Some(b) = bias {
            out.chunks_exact_mut(cout).for_each(|row| row.copy_from_slice(b));
        }
        return Ok(out);
    }
    let threads = crate::determinism::planning_threads();
    let pointwise = g.is_pointwise();
    let mt = chunk_rows(total, kg, cout, threads, budget, !pointwise);
    let gt = gemm_threads(total.div_ceil(mt), threads);
    let wp = pack_kernel(kernel, g);
    let alpha = if bias.is_some() { 1.0 } else { 0.0 };
    out.par_chunks_mut(mt * cout).enumerate().try_for_each_init(
        || (Vec::<f32>::new(), Vec::<f32>::new()),
        |(col, tmp), (ci, oc)| -> Result<()> {
            let (r0, m) = (ci * mt, oc.len() / cout);
            if let Some(b) = bias {
                for row in oc.chunks_exact_mut(cout) {
                    row.copy_from_slice(b);
                }
            }
            if pointwise {
                return sgemm(
                    m,
                    cout,
                    cin,
                    &x[r0 * cin..(r0 + m) * cin],
                    Trans::No,
                    &wp,
                    Trans::No,
                    oc,
                    alpha,
                    1.0,
                    gt,
                );
            }
            col.resize(m * kg, 0.0);
            if groups == 1 {
                im2col(x, g, 0, r0, m, col);
                return sgemm(m, cout, kg, col, Trans::No, &wp, Trans::No, oc, alpha, 1.0, gt);
            }
            tmp.resize(m * cg, 0.0);
            for gi in 0..groups {
                im2col(x, g, gi, r0, m, col);
                sgemm(
                    m,
                    cg,
                    kg,
                    col,
                    Trans::No,
                    &wp[gi * kg * cg..(gi + 1) * kg * cg],
                    Trans::No,
                    tmp,
                    0.0,
                    1.0,
                    gt,
                )?;
                for (orow, trow) in oc.chunks_exact_mut(cout).zip(tmp.chunks_exact(cg)) {
                    for (o, t) in orow[gi * cg..(gi + 1) * cg].iter_mut().zip(trow) {
                        *o += t;
                    }
                }
            }
            Ok(())
        },
    )?;
    Ok(out)
}

/// `dx = col2im(dy · Wᵀ)`: the gradient of [`forward`] with respect to its input.
pub(crate) fn input_grad(gy: &[f32], kernel: &[f32], g: &ConvGeometry, budget: usize) -> Result<Vec<f32>> {
    let (n, cin, cout, groups) = (g.n, g.cin, g.cout, g.groups);
    let (kg, cg) = (g.k_g(), g.cout_g());
    let img_len = g.rows.input * g.cols.input * cin;
    let rows_per_img = g.oh() * g.ow();
    let mut dx = crate::kernels::zeros(n * img_len);
    if dx.is_empty() || rows_per_img == 0 || cout == 0 || kg == 0 {
        return Ok(dx);
    }
    let threads = crate::determinism::planning_threads();
    // Whole images per tile: neighbouring output rows write the same input pixels.
    let per_tile = n.div_ceil(n.min(2 * threads));
    let gt = gemm_threads(n.div_ceil(per_tile), threads);
    let mt = cache_rows(kg, budget);
    let wp = pack_kernel(kernel, g);
    let pointwise = g.is_pointwise();
    dx.par_chunks_mut(per_tile * img_len).enumerate().try_for_each_init(
        || (Vec::<f32>::new(), Vec::<f32>::new()),
        |(dcol, tmp), (ti, dxt)| -> Result<()> {
            let n0 = ti * per_tile;
            let (rstart, rend) = (n0 * rows_per_img, (n0 + dxt.len() / img_len) * rows_per_img);
            if pointwise {
                let m = rend - rstart;
                return sgemm(
                    m,
                    cin,
                    cout,
                    &gy[rstart * cout..rend * cout],
                    Trans::No,
                    &wp,
                    Trans::Yes,
                    dxt,
                    0.0,
                    1.0,
                    gt,
                );
            }
            let mut r0 = rstart;
            while r0 < rend {
                let m = mt.min(rend - r0);
                let gyc = &gy[r0 * cout..(r0 + m) * cout];
                dcol.resize(m * kg, 0.0);
                for gi in 0..groups {
                    let a: &[f32] = if groups == 1 {
                        gyc
                    } else {
                        gather_group(gyc, cout, groups, gi, tmp);
                        tmp
                    };
                    sgemm(
                        m,
                        kg,
                        cg,
                        a,
                        Trans::No,
                        &wp[gi * kg * cg..(gi + 1) * kg * cg],
                        Trans::Yes,
                        dcol,
                        0.0,
                        1.0,
                        gt,
                    )?;
                    col2im_add(dcol, g, gi, r0, m, dxt, n0);
                }
                r0 += m;
            }
            Ok(())
        },
    )?;
    Ok(dx)
}

/// `(dW, db)`: `dW = Σ col(x)ᵀ · dy` in the kernel's layout, `db` the sum of `dy` over every
/// pixel (left empty when `want_bias` is false).
pub(crate) fn weight_grad(
    x: &[f32],
    gy: &[f32],
    g: &ConvGeometry,
    want_bias: bool,
    budget: usize,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let (cin, cout, groups) = (g.cin, g.cout, g.groups);
    let (kg, cg) = (g.k_g(), g.cout_g());
    let total = g.n * g.oh() * g.ow();
    let wlen = kg * cout;
    let blen = if want_bias { cout } else { 0 };
    if total == 0 || wlen == 0 {
        let db = if want_bias {
            crate::ops::conv::bias_grad(gy, cout)
        } else {
            Vec::new()
        };
        return Ok((vec![0.0; wlen], db));
    }
    let threads = crate::determinism::planning_threads();
    let pointwise = g.is_pointwise();
    let mt = chunk_rows(total, kg, cout, threads, budget, !pointwise);
    let chunks = total.div_ceil(mt);
    let gt = gemm_threads(chunks, threads);
    type Acc = (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>);
    let (dw, db, _, _) = crate::determinism::try_fold_ordered(
        chunks,
        1,
        || -> Acc { (vec![0.0; wlen], vec![0.0; blen], Vec::new(), Vec::new()) },
        |(mut dw, mut db, mut col, mut tmp): Acc, ci| -> Result<Acc> {
            let r0 = ci * mt;
            let m = mt.min(total - r0);
            let gyc = &gy[r0 * cout..(r0 + m) * cout];
            if want_bias {
                for row in gyc.chunks_exact(cout) {
                    for (b, v) in db.iter_mut().zip(row) {
                        *b += v;
                    }
                }
            }
            if pointwise {
                sgemm(
                    cin,
                    cout,
                    m,
                    &x[r0 * cin..(r0 + m) * cin],
                    Trans::Yes,
                    gyc,
                    Trans::No,
                    &mut dw,
                    1.0,
                    1.0,
                    gt,
                )?;
                return Ok((dw, db, col, tmp));
            }
            col.resize(m * kg, 0.0);
            for gi in 0..groups {
                im2col(x, g, gi, r0, m, &mut col);
                let b: &[f32] = if groups == 1 {
                    gyc
                } else {
                    gather_group(gyc, cout, groups, gi, &mut tmp);
                    &tmp
                };
                sgemm(
                    kg,
                    cg,
                    m,
                    &col,
                    Trans::Yes,
                    b,
                    Trans::No,
                    &mut dw[gi * kg * cg..(gi + 1) * kg * cg],
                    1.0,
                    1.0,
                    gt,
                )?;
            }
            Ok((dw, db, col, tmp))
        },
        |(mut aw, mut ab, col, tmp), (bw, bb, _, _)| {
            for (a, b) in aw.iter_mut().zip(&bw) {
                *a += b;
            }
            for (a, b) in ab.iter_mut().zip(&bb) {
                *a += b;
            }
            (aw, ab, col, tmp)
        },
    )?;
    Ok((unpack_kernel(dw, g), db))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::{window_axis, Padding};

    #[allow(clippy::too_many_arguments)]
    fn geom(
        n: usize,
        h: usize,
        w: usize,
        cin: usize,
        k: usize,
        cout: usize,
        s: usize,
        pad: Padding,
        groups: usize,
    ) -> ConvGeometry {
        ConvGeometry {
            n,
            cin,
            cout,
            groups,
            rows: window_axis("t", h, k, s, 1, pad).unwrap(),
            cols: window_axis("t", w, k, s, 1, pad).unwrap(),
        }
    }

    #[test]
    fn im2col_by_hand() {
        // 1×3×3×1 input 0..9, 2×2 kernel, valid: four windows.
        let x: Vec<f32> = (0..9).map(|v| v as f32).collect();
        let g = geom(1, 3, 3, 1, 2, 1, 1, Padding::Valid, 1);
        let mut col = vec![-1.0; 16];
        im2col(&x, &g, 0, 0, 4, &mut col);
        assert_eq!(
            col,
            vec![0., 1., 3., 4., 1., 2., 4., 5., 3., 4., 6., 7., 4., 5., 7., 8.]
        );
        // 'same' with stride 2 on 3×3: out 2×2, total pad (2−1)·2+2−3 = 1 → 0 before, 1 after.
        let g = geom(1, 3, 3, 1, 2, 1, 2, Padding::Same, 1);
        let mut col = vec![-1.0; 16];
        im2col(&x, &g, 0, 0, 4, &mut col);
        assert_eq!(
            col,
            vec![0., 1., 3., 4., 2., 0., 5., 0., 6., 7., 0., 0., 8., 0., 0., 0.]
        );
        // Starting mid-batch: row 3 of the first geometry is the last window.
        let g = geom(1, 3, 3, 1, 2, 1, 1, Padding::Valid, 1);
        im2col(&x, &g, 0, 3, 1, &mut col);
        assert_eq!(&col[..4], &[4., 5., 7., 8.]);
    }

    #[test]
    fn im2col_takes_the_group_channels() {
        // 1×1×2×4 input, 1×1 kernel, 2 groups: group 1 reads channels 2, 3.
        let x: Vec<f32> = (0..8).map(|v| v as f32).collect();
        let g = geom(1, 1, 2, 4, 1, 2, 1, Padding::Valid, 2);
        let mut col = vec![0.0; 4];
        im2col(&x, &g, 1, 0, 2, &mut col);
        assert_eq!(col, vec![2., 3., 6., 7.]);
    }

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        // <im2col(x), c> = <x, col2im(c)> for any x, c.
        let g = ConvGeometry {
            n: 2,
            cin: 4,
            cout: 2,
            groups: 2,
            rows: window_axis("t", 5, 3, 2, 1, Padding::Same).unwrap(),
            cols: window_axis("t", 4, 2, 1, 2, Padding::Valid).unwrap(),
        };
        let x: Vec<f32> = (0..2 * 5 * 4 * 4).map(|i| ((i * 7) % 11) as f32 - 5.0).collect();
        let rows = g.n * g.oh() * g.ow();
        let c: Vec<f32> = (0..rows * g.k_g()).map(|i| ((i * 5) % 13) as f32 - 6.0).collect();
        for gi in 0..2 {
            let mut col = vec![0.0; rows * g.k_g()];
            im2col(&x, &g, gi, 0, rows, &mut col);
            let lhs: f32 = col.iter().zip(&c).map(|(a, b)| a * b).sum();
            let mut back = vec![0.0; x.len()];
            col2im_add(&c, &g, gi, 0, rows, &mut back, 0);
            let rhs: f32 = back.iter().zip(&x).map(|(a, b)| a * b).sum();
            assert_eq!(lhs, rhs);
        }
    }

    #[test]
    fn chunking_keeps_memory_and_parallelism() {
        // Plenty of rows and a small window: the column buffer stays cache-sized (2^15 / 25
        // rows), and without im2col (pointwise) two tiles per thread.
        assert_eq!(chunk_rows(25088, 25, 6, 2, COL_BUDGET, true), 1310);
        assert_eq!(chunk_rows(25088, 25, 6, 2, COL_BUDGET, false), 6272);
        // LeNet's second layer at batch 128 (k = 150): at least 256 rows per GEMM.
        assert_eq!(chunk_rows(12800, 150, 16, 2, COL_BUDGET, true), 256);
        // A huge window: memory decides.
        assert_eq!(chunk_rows(1 << 20, 4608, 512, 2, COL_BUDGET, true), COL_BUDGET / 4608);
        // Tiny problems stay in one tile.
        assert_eq!(chunk_rows(36, 27, 4, 2, COL_BUDGET, true), 36);
    }
}
