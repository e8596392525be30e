//! Direct convolution for layers with few input channels, such as LeNet-5's first layer
//! (28×28×1 → 6 filters, 5×5, `same`). There im2col would copy every input value `kh·kw`
//! times into a column buffer for a GEMM with 25-long rows and 6 columns, far too thin to pay
//! for that traffic: the layer ran at under 10 GFLOP/s. Here the work goes output row by
//! output row, vectorized over the pixels of the row:
//!
//! - forward: the input row under each kernel row `ky` is copied once into zero-padded planar
//!   buffers (one plane per input channel); then, for 8 pixels and up to 8 filters at a time,
//!   every tap `(ky, kx, c)` adds `w[ky, kx, c, f] · plane_c[ox + kx·d]` to accumulators held
//!   in registers, written back as NHWC `[ox, f]`;
//! - weight gradient: `dW[ky, kx, c, f] = Σ plane_c[ox + kx·d] · dy[ox, f]` summed in
//!   per-lane partial sums over the whole batch, reduced at the end.
//!
//! Geometry: NHWC `[n, h, w, cin]` → `[n, oh, ow, cout]`, kernel `(kh, kw, cin, cout)`, one
//! group, stride 1 along the width (any height stride, padding, dilation). The input gradient
//! stays on the GEMM path. AVX2 + FMA where the CPU has them, chosen at run time.

use rayon::prelude::*;

use crate::ops::conv_common::tap;
use crate::ops::conv_gemm::ConvGeometry;

/// Pixels per vector block; accumulator rows are padded to a multiple of it.
const LANES: usize = 8;

/// Whether the direct kernels take this convolution: one group, width stride 1, at most 4
/// input channels and 16 filters, and output rows of at least one vector block.
pub(crate) fn applies(g: &ConvGeometry) -> bool {
    g.groups == 1 && g.cols.stride == 1 && (1..=4).contains(&g.cin) && (1..=16).contains(&g.cout) && g.ow() >= LANES
}

/// Output rows padded to whole vector blocks, and the padded input plane width they read.
fn widths(g: &ConvGeometry) -> (usize, usize) {
    let owp = g.ow().next_multiple_of(LANES);
    (owp, owp + (g.cols.kernel - 1) * g.cols.dilation)
}

/// Input row `iy` of image `n` as `cin` zero-padded planes of width `wp`: plane `c`, column
/// `j` holds `x[n, iy, j − pad_left, c]` (zero outside the image).
#[inline(always)]
fn load_planes(x: &[f32], g: &ConvGeometry, n: usize, iy: usize, wp: usize, planes: &mut [f32]) {
    let (w, cin, pw) = (g.cols.input, g.cin, g.cols.pad_before);
    let row = &x[((n * g.rows.input + iy) * w) * cin..((n * g.rows.input + iy) * w + w) * cin];
    planes.fill(0.0);
    let j1 = (w + pw).min(wp);
    if j1 <= pw {
        return;
    }
    if cin == 1 {
        planes[pw..j1].copy_from_slice(&row[..j1 - pw]);
        return;
    }
    for (c, plane) in planes.chunks_exact_mut(wp).enumerate() {
        for (dst, src) in plane[pw..j1].iter_mut().zip(row.chunks_exact(cin)) {
            *dst = src[c];
        }
    }
}

/// The input under output row `r = n·oh + oy` as planes per kernel row (`[kh, cin, wp]`, see
/// [`load_planes`]), and `taps`: `(offset into planes, kernel index (ky·kw + kx)·cin + c)` of
/// every tap whose input row lies inside the image.
#[inline(always)]
fn row_taps(g: &ConvGeometry, x: &[f32], r: usize, planes: &mut Vec<f32>, taps: &mut Vec<(usize, usize)>) {
    let (cin, kh, kw, dw) = (g.cin, g.rows.kernel, g.cols.kernel, g.cols.dilation);
    let wp = widths(g).1;
    let (n, oy) = (r / g.oh(), r % g.oh());
    planes.resize(kh * cin * wp, 0.0);
    taps.clear();
    for (ky, p) in planes.chunks_exact_mut(cin * wp).enumerate() {
        let Some(iy) = tap(oy, ky, &g.rows) else { continue };
        load_planes(x, g, n, iy, wp, p);
        for kx in 0..kw {
            taps.extend((0..cin).map(|c| ((ky * cin + c) * wp + kx * dw, (ky * kw + kx) * cin + c)));
        }
    }
}

/// Filters `f0..f0+F` of output pixels `x0..x0+LANES` of one row, every tap summed in
/// registers. `taps` lists `(offset into planes, kernel row index)` of the taps inside the image.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn fwd_block<const FMA: bool, const F: usize>(
    planes: &[f32],
    taps: &[(usize, usize)],
    k: &[f32],
    bias: Option<&[f32]>,
    x0: usize,
    ow: usize,
    orow: &mut [f32],
    f0: usize,
) {
    let cout = orow.len() / ow;
    let mut acc = [[0.0f32; LANES]; F];
    if let Some(b) = bias {
        for (a, &bv) in acc.iter_mut().zip(&b[f0..f0 + F]) {
            *a = [bv; LANES];
        }
    }
    #[cfg(target_arch = "x86_64")]
    let done = FMA && {
        // SAFETY: `FMA` is true only in code compiled for (and run after checking) AVX2 + FMA.
        unsafe { avx::fwd_taps::<F>(&mut acc, taps, planes, k, x0, cout, f0) };
        true
    };
    #[cfg(not(target_arch = "x86_64"))]
    let done = false;
    if !done {
        for &(at, t) in taps {
            let xb = &planes[at + x0..at + x0 + LANES];
            for (a, &wv) in acc.iter_mut().zip(&k[t * cout + f0..t * cout + f0 + F]) {
                for (av, &xv) in a.iter_mut().zip(xb) {
                    *av += xv * wv;
                }
            }
        }
    }
    for j in 0..LANES.min(ow - x0) {
        let o = &mut orow[(x0 + j) * cout + f0..(x0 + j) * cout + f0 + F];
        for (i, v) in o.iter_mut().enumerate() {
            *v = acc[i][j];
        }
    }
}

/// The forward's inner loop in AVX2 + FMA intrinsics: the compiler does not keep a
/// `[[f32; 8]; F]` accumulator in vector registers by itself.
#[cfg(target_arch = "x86_64")]
mod avx {
    use super::LANES;
    use std::arch::x86_64::{
        __m256, _mm256_add_ps, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_set1_ps, _mm256_setzero_ps, _mm256_storeu_ps,
    };

    /// `acc[i] += planes[at + x0..][..8] · k[t·cout + f0 + i]` for every tap `(at, t)`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn fwd_taps<const F: usize>(
        acc: &mut [[f32; LANES]; F],
        taps: &[(usize, usize)],
        planes: &[f32],
        k: &[f32],
        x0: usize,
        cout: usize,
        f0: usize,
    ) {
        // SAFETY (loads and stores): every pointer is that of a slice of at least 8 floats.
        let mut v: [__m256; F] = std::array::from_fn(|i| _mm256_loadu_ps(acc[i].as_ptr()));
        for &(at, t) in taps {
            let xv = _mm256_loadu_ps(planes[at + x0..at + x0 + LANES].as_ptr());
            let wb = &k[t * cout + f0..t * cout + f0 + F];
            for i in 0..F {
                v[i] = _mm256_fmadd_ps(xv, _mm256_set1_ps(wb[i]), v[i]);
            }
        }
        for i in 0..F {
            _mm256_storeu_ps(acc[i].as_mut_ptr(), v[i]);
        }
    }

    /// `acc[t, f0 + i, ..] += Σ_q planes[at + 8q..][..8] · dyt[f0 + i, 8q..][..8]` per tap `(at, t)`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dw_taps<const F: usize>(
        planes: &[f32],
        taps: &[(usize, usize)],
        dyt: &[f32],
        owp: usize,
        acc: &mut [f32],
        cout: usize,
        f0: usize,
    ) {
        let dys = &dyt[f0 * owp..(f0 + F) * owp];
        for &(at, t) in taps {
            let xs = &planes[at..at + owp];
            let mut v: [__m256; F] = [_mm256_setzero_ps(); F];
            for q in (0..owp).step_by(LANES) {
                // SAFETY: `q + 8 ≤ owp`, the length of `xs` and of each filter's row of `dys`.
                let xv = _mm256_loadu_ps(xs[q..q + LANES].as_ptr());
                for i in 0..F {
                    let dv = _mm256_loadu_ps(dys[i * owp + q..i * owp + q + LANES].as_ptr());
                    v[i] = _mm256_fmadd_ps(xv, dv, v[i]);
                }
            }
            let a = &mut acc[(t * cout + f0) * LANES..(t * cout + f0 + F) * LANES];
            for i in 0..F {
                let p = a[i * LANES..(i + 1) * LANES].as_mut_ptr();
                _mm256_storeu_ps(p, _mm256_add_ps(_mm256_loadu_ps(p), v[i]));
            }
        }
    }
}

/// One output row `r = n·oh + oy`: `orow` (`ow·cout`, NHWC) from the taps over every kernel row.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn fwd_row<const FMA: bool>(
    g: &ConvGeometry,
    x: &[f32],
    k: &[f32],
    bias: Option<&[f32]>,
    r: usize,
    orow: &mut [f32],
    planes: &mut Vec<f32>,
    taps: &mut Vec<(usize, usize)>,
) {
    let ow = g.ow();
    row_taps(g, x, r, planes, taps);
    macro_rules! block {
        ($x0:expr, $f0:expr, $f:expr, $($n:literal)*) => {
            match $f {
                $($n => fwd_block::<FMA, $n>(planes, taps, k, bias, $x0, ow, orow, $f0),)*
                _ => unreachable!("filter blocks hold 1 to 8 filters"),
            }
        };
    }
    for x0 in (0..ow).step_by(LANES) {
        for f0 in (0..g.cout).step_by(8) {
            block!(x0, f0, (g.cout - f0).min(8), 1 2 3 4 5 6 7 8);
        }
    }
}

/// Filters `f0..f0+F` of the weight gradient from one row: for every tap, the row's
/// `Σ_ox plane[at + ox] · dy[f, ox]` in `LANES` partial sums, added to `acc[t, f, ..]`.
#[inline(always)]
fn dw_block<const FMA: bool, const F: usize>(
    planes: &[f32],
    taps: &[(usize, usize)],
    dyt: &[f32],
    owp: usize,
    acc: &mut [f32],
    cout: usize,
    f0: usize,
) {
    #[cfg(target_arch = "x86_64")]
    if FMA {
        // SAFETY: `FMA` is true only in code compiled for (and run after checking) AVX2 + FMA.
        return unsafe { avx::dw_taps::<F>(planes, taps, dyt, owp, acc, cout, f0) };
    }
    for &(at, t) in taps {
        let xs = &planes[at..at + owp];
        for i in 0..F {
            let a = &mut acc[(t * cout + f0 + i) * LANES..(t * cout + f0 + i + 1) * LANES];
            let d = &dyt[(f0 + i) * owp..(f0 + i + 1) * owp];
            for (xb, db) in xs.chunks_exact(LANES).zip(d.chunks_exact(LANES)) {
                for j in 0..LANES {
                    a[j] += xb[j] * db[j];
                }
            }
        }
    }
}

/// Adds row `r`'s contribution to the per-lane weight-gradient sums `acc`
/// (`[kh·kw·cin, cout, LANES]`).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn dw_row<const FMA: bool>(
    g: &ConvGeometry,
    x: &[f32],
    gy: &[f32],
    r: usize,
    acc: &mut [f32],
    planes: &mut Vec<f32>,
    taps: &mut Vec<(usize, usize)>,
    dyt: &mut Vec<f32>,
) {
    let (cout, ow) = (g.cout, g.ow());
    let owp = widths(g).0;
    // dy's row transposed to `[cout, owp]`, zero beyond `ow` so padded lanes add nothing.
    dyt.resize(cout * owp, 0.0);
    let grow = &gy[r * ow * cout..(r + 1) * ow * cout];
    for (f, d) in dyt.chunks_exact_mut(owp).enumerate() {
        for (ox, v) in d.iter_mut().enumerate() {
            *v = if ox < ow { grow[ox * cout + f] } else { 0.0 };
        }
    }
    row_taps(g, x, r, planes, taps);
    macro_rules! block {
        ($f0:expr, $f:expr, $($n:literal)*) => {
            match $f {
                $($n => dw_block::<FMA, $n>(planes, taps, dyt, owp, acc, cout, $f0),)*
                _ => unreachable!("filter blocks hold 1 to 8 filters"),
            }
        };
    }
    for f0 in (0..cout).step_by(8) {
        block!(f0, (cout - f0).min(8), 1 2 3 4 5 6 7 8);
    }
}

// The same row kernels compiled for AVX2 + FMA, called only after the CPU was checked.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn fwd_row_fma(
    g: &ConvGeometry,
    x: &[f32],
    k: &[f32],
    bias: Option<&[f32]>,
    r: usize,
    orow: &mut [f32],
    planes: &mut Vec<f32>,
    taps: &mut Vec<(usize, usize)>,
) {
    fwd_row::<true>(g, x, k, bias, r, orow, planes, taps)
}
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn dw_row_fma(
    g: &ConvGeometry,
    x: &[f32],
    gy: &[f32],
    r: usize,
    acc: &mut [f32],
    planes: &mut Vec<f32>,
    taps: &mut Vec<(usize, usize)>,
    dyt: &mut Vec<f32>,
) {
    dw_row::<true>(g, x, gy, r, acc, planes, taps, dyt)
}

/// Output rows per rayon task: enough multiply-adds to pay for the task.
fn min_rows(g: &ConvGeometry) -> usize {
    (1 << 16) / (g.ow() * g.cout * g.k_g()).max(1) + 1
}

/// `y = conv(x, kernel) + bias`, NHWC; only for geometries where [`applies`] holds.
pub(crate) fn forward(x: &[f32], k: &[f32], bias: Option<&[f32]>, g: &ConvGeometry, fma: bool) -> Vec<f32> {
    let row_len = g.ow() * g.cout;
    let mut out = vec![0.0f32; g.n * g.oh() * row_len];
    if out.is_empty() {
        return out;
    }
    out.par_chunks_mut(row_len)
        .enumerate()
        .with_min_len(min_rows(g))
        .for_each_init(
            || (Vec::new(), Vec::new()),
            |(planes, taps), (r, orow)| {
                #[cfg(target_arch = "x86_64")]
                if fma {
                    // SAFETY: `fma` is true only when the CPU reported AVX2 and FMA.
                    return unsafe { fwd_row_fma(g, x, k, bias, r, orow, planes, taps) };
                }
                let _ = fma;
                fwd_row::<false>(g, x, k, bias, r, orow, planes, taps)
            },
        );
    out
}

/// `dW = Σ col(x)ᵀ · dy` in the kernel's layout `(kh, kw, cin, cout)`; only for geometries
/// where [`applies`] holds.
pub(crate) fn weight_grad(x: &[f32], gy: &[f32], g: &ConvGeometry, fma: bool) -> Vec<f32> {
    let wlen = g.k_g() * g.cout;
    let rows = g.n * g.oh();
    let lanes = crate::determinism::fold_ordered(
        rows,
        min_rows(g),
        || (vec![0.0f32; wlen * LANES], Vec::new(), Vec::new(), Vec::new()),
        |(mut acc, mut planes, mut taps, mut dyt), r| {
            #[cfg(target_arch = "x86_64")]
            if fma {
                // SAFETY: as in `forward`.
                unsafe { dw_row_fma(g, x, gy, r, &mut acc, &mut planes, &mut taps, &mut dyt) };
                return (acc, planes, taps, dyt);
            }
            dw_row::<false>(g, x, gy, r, &mut acc, &mut planes, &mut taps, &mut dyt);
            (acc, planes, taps, dyt)
        },
        |(mut a, planes, taps, dyt), (b, _, _, _)| {
            a.iter_mut().zip(&b).for_each(|(p, q)| *p += q);
            (a, planes, taps, dyt)
        },
    )
    .0;
    lanes.chunks_exact(LANES).map(|l| l.iter().sum()).collect()
}

/// Whether this CPU runs the AVX2 + FMA kernels.
pub(crate) fn cpu_has_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::Tape;
    use crate::ops::conv::{conv2d, conv2d_backward_naive, conv2d_geometry, conv2d_naive, Conv2dParams};
    use crate::ops::test_util::{
        assert_tensors_close as close, check_conv_gradients, random as rand_tensor, random_padding,
    };
    use crate::rng::Rng;
    use crate::shape::Padding;
    use crate::tensor::Tensor;

    #[test]
    fn lenet_first_layer_takes_the_direct_path_and_others_do_not() {
        let g = |x: &[usize], w: &[usize], p: Conv2dParams| conv2d_geometry("t", x, w, &p).unwrap();
        let same = Conv2dParams::new((1, 1), Padding::Same);
        assert!(applies(&g(&[32, 28, 28, 1], &[5, 5, 1, 6], same)));
        // LeNet's second layer (6 channels, 10-pixel rows) stays on im2col + GEMM, as do width
        // strides, groups and narrow outputs.
        assert!(!applies(&g(&[32, 14, 14, 6], &[5, 5, 6, 16], Conv2dParams::default())));
        assert!(!applies(&g(
            &[1, 28, 28, 1],
            &[3, 3, 1, 4],
            Conv2dParams::new((1, 2), Padding::Same)
        )));
        assert!(!applies(&g(&[1, 28, 28, 2], &[3, 3, 1, 4], same.with_groups(2))));
        assert!(!applies(&g(&[1, 6, 6, 1], &[3, 3, 1, 4], same)));
    }

    #[test]
    fn ones_same_by_hand() {
        // 1×3×10×1 ones, 3×3 ones, same: each output counts its in-bounds taps (corner 4, edge
        // 6, interior 9), plus bias 1.
        let x = Tensor::ones(&[1, 3, 10, 1]);
        let g = conv2d_geometry("t", x.shape(), &[3, 3, 1, 1], &Conv2dParams::new((1, 1), Padding::Same)).unwrap();
        for fma in [false, cpu_has_fma()] {
            let y = forward(x.data(), &[1.0; 9], Some(&[1.0]), &g, fma);
            assert_eq!(&y[..10], &[5., 7., 7., 7., 7., 7., 7., 7., 7., 5.]);
            assert_eq!(&y[10..20], &[7., 10., 10., 10., 10., 10., 10., 10., 10., 7.]);
        }
    }

    /// A random geometry the direct kernels take: 1–4 channels, up to 16 filters, width
    /// stride 1, any height stride, padding and dilation, rows of 8 to 20 pixels.
    fn random_case(rng: &mut Rng) -> (Vec<usize>, Vec<usize>, Conv2dParams) {
        loop {
            let (cin, cout) = (1 + rng.below(4), 1 + rng.below(16));
            let (kh, kw) = (1 + rng.below(5), 1 + rng.below(5));
            let p = Conv2dParams {
                strides: (1 + rng.below(3), 1),
                padding: (random_padding(rng, 3), random_padding(rng, 3)),
                dilation: (1 + rng.below(2), 1 + rng.below(2)),
                groups: 1,
            };
            let (n, h) = (1 + rng.below(3), (kh - 1) * p.dilation.0 + 1 + rng.below(5));
            let w = (kw - 1) * p.dilation.1 + 8 + rng.below(13);
            let (xs, ws) = (vec![n, h, w, cin], vec![kh, kw, cin, cout]);
            if applies(&conv2d_geometry("t", &xs, &ws, &p).unwrap()) {
                return (xs, ws, p);
            }
        }
    }

    #[test]
    fn direct_matches_naive_on_random_cases() {
        let mut rng = Rng::new(77);
        for case in 0..120 {
            let (xs, ws, p) = random_case(&mut rng);
            let (x, w, b) = (
                rand_tensor(&mut rng, &xs),
                rand_tensor(&mut rng, &ws),
                rand_tensor(&mut rng, &[ws[3]]),
            );
            let g = conv2d_geometry("t", &xs, &ws, &p).unwrap();
            let what = format!("case {case}: x {xs:?} w {ws:?} {p:?}");
            let want = conv2d_naive(&x, &w, Some(&b), &p).unwrap();
            let gy = rand_tensor(&mut rng, want.shape());
            let (_, rw, _) = conv2d_backward_naive(&x, &w, &gy, &p).unwrap();
            for fma in [false, cpu_has_fma()] {
                let y = forward(x.data(), w.data(), Some(b.data()), &g, fma);
                close(
                    &Tensor::new(want.shape(), y).unwrap(),
                    &want,
                    &format!("{what} fma {fma}"),
                );
                let dw = weight_grad(x.data(), gy.data(), &g, fma);
                close(&Tensor::new(&ws, dw).unwrap(), &rw, &format!("dw {what} fma {fma}"));
            }
            // And through the public op, which picks this path.
            close(&conv2d(&x, &w, Some(&b), &p).unwrap(), &want, &what);
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        let mut rng = Rng::new(12);
        let p = Conv2dParams::new((1, 1), Padding::Same);
        check_conv_gradients(
            &mut rng,
            [&[2, 4, 9, 1], &[3, 3, 1, 3], &[3]],
            |t: &mut Tape, x, w, b| t.conv2d(x, w, Some(b), &p),
        );
        let p = Conv2dParams::new((2, 1), Padding::Valid).with_dilation((1, 2));
        check_conv_gradients(
            &mut rng,
            [&[1, 5, 12, 2], &[2, 2, 2, 2], &[2]],
            |t: &mut Tape, x, w, b| t.conv2d(x, w, Some(b), &p),
        );
    }
}
