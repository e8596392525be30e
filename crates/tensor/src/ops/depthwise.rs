//! Depthwise 2-D convolution (Keras `DepthwiseConv2D`): NHWC input `[n, h, w, c]`, kernel
//! `(kh, kw, c, depth_multiplier)`, optional bias `[c·dm]`, output `[n, oh, ow, c·dm]` with
//! TensorFlow's channel order (input channel `c`, multiplier `m` → output channel `c·dm + m`),
//! strides, `valid`/`same`/explicit padding and dilation.
//!
//! It is a grouped convolution with one group per channel, but a GEMM per channel would be
//! all overhead: the direct kernel below walks output rows and adds `x[ix, :] · w[ky, kx, :]`
//! over the contiguous channel axis, which vectorizes (AVX2 + FMA where the CPU has them,
//! chosen at run time). The backward gathers per *input* row, so rows are independent and
//! run in parallel without write conflicts.
//!
//! ```
//! use tensor::{ops::depthwise::{depthwise_conv2d, DepthwiseParams}, Padding, Tensor};
//! let x = Tensor::ones(&[1, 3, 3, 2]);
//! let w = Tensor::ones(&[3, 3, 2, 2]);
//! let y = depthwise_conv2d(&x, &w, None, &DepthwiseParams::new((1, 1), Padding::Valid)).unwrap();
//! assert_eq!(y.shape(), &[1, 1, 1, 4]);
//! assert_eq!(y.data(), &[9.0; 4]);
//! ```

use crate::autograd::{Tape, Var};
use crate::error::{shape_err, Result};
use crate::ops::conv::bias_grad;
use crate::ops::conv_common::{all_grads, check_bias, check_grad, check_rank4, tap};
use crate::ops::conv_gemm::ConvGeometry;
use crate::shape::{window_axis, AxisGeometry, Padding};
use crate::tensor::Tensor;
use std::mem::MaybeUninit;

/// Arguments of a depthwise convolution, Keras's meaning and defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DepthwiseParams {
    /// `(stride_h, stride_w)`, each ≥ 1.
    pub strides: (usize, usize),
    /// Padding of the height and width axes.
    pub padding: (Padding, Padding),
    /// `(dilation_h, dilation_w)`, each ≥ 1.
    pub dilation: (usize, usize),
}

impl Default for DepthwiseParams {
    /// Strides 1, `valid`, dilation 1.
    fn default() -> Self {
        DepthwiseParams {
            strides: (1, 1),
            padding: (Padding::Valid, Padding::Valid),
            dilation: (1, 1),
        }
    }
}

impl DepthwiseParams {
    /// Strides and one padding mode for both axes; dilation 1.
    pub fn new(strides: (usize, usize), padding: Padding) -> Self {
        DepthwiseParams {
            strides,
            padding: (padding, padding),
            dilation: (1, 1),
        }
    }

    /// The same, with a dilation rate.
    pub fn with_dilation(mut self, dilation: (usize, usize)) -> Self {
        self.dilation = dilation;
        self
    }
}

/// Checks shapes and arguments; the geometry is a grouped convolution's (`groups = c`,
/// `cout = c·dm`), whose kernel `(kh, kw, 1, c·dm)` has exactly the depthwise kernel's layout.
pub fn depthwise_geometry(
    op: &'static str,
    x: &[usize],
    kernel: &[usize],
    p: &DepthwiseParams,
) -> Result<ConvGeometry> {
    check_rank4(op, "input", x, "(batch, height, width, channels)")?;
    check_rank4(op, "kernel", kernel, "(kh, kw, channels, depth_multiplier)")?;
    let (n, h, w, c) = (x[0], x[1], x[2], x[3]);
    if kernel[2] != c {
        return shape_err(
            op,
            format!("kernel {kernel:?} has {} input channels, the input has {c}", kernel[2]),
        );
    }
    if kernel[3] == 0 {
        return crate::error::arg_err(op, "depth_multiplier", "a positive integer", 0);
    }
    let rows = window_axis(op, h, kernel[0], p.strides.0, p.dilation.0, p.padding.0)?;
    let cols = window_axis(op, w, kernel[1], p.strides.1, p.dilation.1, p.padding.1)?;
    Ok(ConvGeometry {
        n,
        cin: c,
        cout: c * kernel[3],
        groups: c.max(1),
        rows,
        cols,
    })
}

/// Output indices `o` whose tap `k` reads inside the input: `0 ≤ o·s + k·d − pad < in`.
fn valid_range(k: usize, a: &AxisGeometry) -> (usize, usize) {
    let off = k * a.dilation;
    let lo = a.pad_before.saturating_sub(off).div_ceil(a.stride);
    let lim = a.input + a.pad_before;
    let hi = if lim > off { (lim - off).div_ceil(a.stride) } else { 0 };
    (lo.min(a.output), hi.min(a.output).max(lo.min(a.output)))
}

/// `acc[c·dm + m] += x[c] · w[c·dm + m]`.
#[inline(always)]
fn madd<const FMA: bool>(acc: &mut [f32], x: &[f32], w: &[f32], dm: usize) {
    if dm == 1 {
        for ((a, xv), wv) in acc.iter_mut().zip(x).zip(w) {
            *a = if FMA { xv.mul_add(*wv, *a) } else { *a + xv * wv };
        }
    } else {
        for ((accs, ws), xv) in acc.chunks_exact_mut(dm).zip(w.chunks_exact(dm)).zip(x) {
            for (a, wv) in accs.iter_mut().zip(ws) {
                *a = if FMA { xv.mul_add(*wv, *a) } else { *a + xv * wv };
            }
        }
    }
}

/// `acc[c] += Σ_m g[c·dm + m] · w[c·dm + m]`.
#[inline(always)]
fn dot_add<const FMA: bool>(acc: &mut [f32], g: &[f32], w: &[f32], dm: usize) {
    if dm == 1 {
        madd::<FMA>(acc, g, w, 1);
    } else {
        for ((a, gs), ws) in acc.iter_mut().zip(g.chunks_exact(dm)).zip(w.chunks_exact(dm)) {
            *a += gs.iter().zip(ws).map(|(p, q)| p * q).sum::<f32>();
        }
    }
}

/// Taps `k` through which output `o` reads inside the input: `0 ≤ o·s + k·d − pad < in`.
fn taps_for(o: usize, a: &AxisGeometry) -> (usize, usize) {
    let base = o * a.stride;
    let lo = a.pad_before.saturating_sub(base).div_ceil(a.dilation);
    let lim = a.input + a.pad_before;
    let hi = if lim > base {
        (lim - base).div_ceil(a.dilation).min(a.kernel)
    } else {
        0
    };
    (lo.min(hi), hi)
}

#[inline(always)]
fn fmadd<const FMA: bool>(a: f32, b: f32, acc: f32) -> f32 {
    if FMA {
        a.mul_add(b, acc)
    } else {
        acc + a * b
    }
}

/// `B` values at `at`, as an array the compiler keeps in registers.
#[inline(always)]
fn block<const B: usize>(s: &[f32], at: usize) -> &[f32; B] {
    s[at..at + B].try_into().expect("a slice of B values")
}

/// Runs `f(c0)` over channel blocks of 32, then 8, then 1, so every block has a constant size.
macro_rules! channel_blocks {
    ($c:expr, $f:ident, $fma:ident, ($($arg:expr),*)) => {{
        let mut c0 = 0;
        while c0 + 32 <= $c {
            $f::<$fma, 32>($($arg,)* c0);
            c0 += 32;
        }
        while c0 + 8 <= $c {
            $f::<$fma, 8>($($arg,)* c0);
            c0 += 8;
        }
        while c0 < $c {
            $f::<$fma, 1>($($arg,)* c0);
            c0 += 1;
        }
    }};
}

/// Depth multiplier 1, one output pixel, channels `c0..c0+B`: all taps summed in registers.
/// `rows`: the kernel rows that read inside the input and the input row each reads.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn fwd_block<const FMA: bool, const B: usize>(
    g: &ConvGeometry,
    img: &[f32],
    k: &[f32],
    bias: Option<&[f32]>,
    rows: &[(usize, usize)],
    ox: usize,
    o: &mut [MaybeUninit<f32>],
    c0: usize,
) {
    let (w, c, kw) = (g.cols.input, g.cin, g.cols.kernel);
    let (kx0, kx1) = taps_for(ox, &g.cols);
    let mut acc = [0.0f32; B];
    if let Some(bv) = bias {
        acc.copy_from_slice(block::<B>(bv, c0));
    }
    for &(ky, iy) in rows {
        for kx in kx0..kx1 {
            let ix = ox * g.cols.stride + kx * g.cols.dilation - g.cols.pad_before;
            let xs = block::<B>(img, (iy * w + ix) * c + c0);
            let ws = block::<B>(k, (ky * kw + kx) * c + c0);
            for j in 0..B {
                acc[j] = fmadd::<FMA>(xs[j], ws[j], acc[j]);
            }
        }
    }
    for (d, &a) in o[c0..c0 + B].iter_mut().zip(&acc) {
        d.write(a);
    }
}

/// Depth multiplier 1, input pixel `(iy, ix)`, channels `c0..c0+B`: gathers every output that
/// read it. `rows` / `cols`: the kernel rows / columns through which an output reads this
/// pixel and that output's row / column (worked out once per row / pixel, not per block).
#[inline(always)]
fn dx_block<const FMA: bool, const B: usize>(
    g: &ConvGeometry,
    gyimg: &[f32],
    k: &[f32],
    rows: &[(usize, usize)],
    cols: &[(usize, usize)],
    o: &mut [MaybeUninit<f32>],
    c0: usize,
) {
    let (c, kw, ow) = (g.cin, g.cols.kernel, g.ow());
    let mut acc = [0.0f32; B];
    for &(ky, oy) in rows {
        for &(kx, ox) in cols {
            let gs = block::<B>(gyimg, (oy * ow + ox) * c + c0);
            let ws = block::<B>(k, (ky * kw + kx) * c + c0);
            for j in 0..B {
                acc[j] = fmadd::<FMA>(gs[j], ws[j], acc[j]);
            }
        }
    }
    for (d, &a) in o[c0..c0 + B].iter_mut().zip(&acc) {
        d.write(a);
    }
}

/// Depth multiplier 1, tap `(ky, kx)` of output row `oy`, channels `c0..c0+B`: the sum over
/// the row's pixels in registers, added to the kernel gradient once.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn dw_block<const FMA: bool, const B: usize>(
    g: &ConvGeometry,
    xrow: &[f32],
    gyrow: &[f32],
    kx: usize,
    lo: usize,
    hi: usize,
    dws: &mut [f32],
    c0: usize,
) {
    let c = g.cin;
    let mut acc = [0.0f32; B];
    for ox in lo..hi {
        let ix = ox * g.cols.stride + kx * g.cols.dilation - g.cols.pad_before;
        let xs = block::<B>(xrow, ix * c + c0);
        let gs = block::<B>(gyrow, ox * c + c0);
        for j in 0..B {
            acc[j] = fmadd::<FMA>(xs[j], gs[j], acc[j]);
        }
    }
    for (d, a) in dws[c0..c0 + B].iter_mut().zip(&acc) {
        *d += a;
    }
}

/// Output index that read input `i` through tap `k`, if any: `o·s + k·d − pad = i`.
#[allow(clippy::manual_is_multiple_of)] // `is_multiple_of` is newer than the crate's MSRV (1.80)
fn source(i: usize, k: usize, a: &AxisGeometry, out: usize) -> Option<usize> {
    let t = (i + a.pad_before) as isize - (k * a.dilation) as isize;
    (t >= 0 && t as usize % a.stride == 0 && (t as usize / a.stride) < out).then(|| t as usize / a.stride)
}

/// One output row `r = b·oh + oy` of the forward pass.
#[inline(always)]
fn fwd_row<const FMA: bool>(
    g: &ConvGeometry,
    x: &[f32],
    k: &[f32],
    bias: Option<&[f32]>,
    r: usize,
    orow: &mut [MaybeUninit<f32>],
) {
    let (h, w, c, co, dm) = (g.rows.input, g.cols.input, g.cin, g.cout, g.cout / g.cin.max(1));
    let (b, oy) = (r / g.oh(), r % g.oh());
    if dm == 1 {
        let img = &x[b * h * w * c..(b + 1) * h * w * c];
        let rows: Vec<(usize, usize)> = (0..g.rows.kernel)
            .filter_map(|ky| tap(oy, ky, &g.rows).map(|iy| (ky, iy)))
            .collect();
        for (ox, o) in orow.chunks_exact_mut(c).enumerate() {
            channel_blocks!(c, fwd_block, FMA, (g, img, k, bias, &rows, ox, o));
        }
        return;
    }
    let orow = match bias {
        Some(bv) => crate::kernels::init_repeating(orow, bv),
        None => crate::kernels::init_repeating(orow, &[0.0]),
    };
    for ky in 0..g.rows.kernel {
        let Some(iy) = tap(oy, ky, &g.rows) else { continue };
        let xrow = &x[(b * h + iy) * w * c..(b * h + iy + 1) * w * c];
        for kx in 0..g.cols.kernel {
            let wv = &k[(ky * g.cols.kernel + kx) * co..(ky * g.cols.kernel + kx + 1) * co];
            let (lo, hi) = valid_range(kx, &g.cols);
            for ox in lo..hi {
                let ix = ox * g.cols.stride + kx * g.cols.dilation - g.cols.pad_before;
                madd::<FMA>(&mut orow[ox * co..(ox + 1) * co], &xrow[ix * c..(ix + 1) * c], wv, dm);
            }
        }
    }
}

/// One input row `r = b·h + iy` of the input gradient, gathered from every output row that
/// read it.
#[inline(always)]
#[allow(clippy::manual_is_multiple_of)] // `is_multiple_of` is newer than the crate's MSRV (1.80)
fn dx_row<const FMA: bool>(g: &ConvGeometry, gy: &[f32], k: &[f32], r: usize, dxrow: &mut [MaybeUninit<f32>]) {
    let (c, co, dm, oh, ow) = (g.cin, g.cout, g.cout / g.cin.max(1), g.oh(), g.ow());
    let (b, iy) = (r / g.rows.input, r % g.rows.input);
    if dm == 1 {
        let gyimg = &gy[b * oh * ow * co..(b + 1) * oh * ow * co];
        let rows: Vec<(usize, usize)> = (0..g.rows.kernel)
            .filter_map(|ky| source(iy, ky, &g.rows, oh).map(|oy| (ky, oy)))
            .collect();
        let mut cols = Vec::with_capacity(g.cols.kernel);
        for (ix, o) in dxrow.chunks_exact_mut(c).enumerate() {
            cols.clear();
            cols.extend((0..g.cols.kernel).filter_map(|kx| source(ix, kx, &g.cols, ow).map(|ox| (kx, ox))));
            channel_blocks!(c, dx_block, FMA, (g, gyimg, k, &rows, &cols, o));
        }
        return;
    }
    let dxrow = crate::kernels::init_repeating(dxrow, &[0.0]);
    for ky in 0..g.rows.kernel {
        // oy·s + ky·d − pad = iy
        let t = (iy + g.rows.pad_before) as isize - (ky * g.rows.dilation) as isize;
        if t < 0 || t as usize % g.rows.stride != 0 || t as usize / g.rows.stride >= oh {
            continue;
        }
        let oy = t as usize / g.rows.stride;
        let gyrow = &gy[(b * oh + oy) * ow * co..(b * oh + oy + 1) * ow * co];
        for kx in 0..g.cols.kernel {
            let wv = &k[(ky * g.cols.kernel + kx) * co..(ky * g.cols.kernel + kx + 1) * co];
            let (lo, hi) = valid_range(kx, &g.cols);
            for ox in lo..hi {
                let ix = ox * g.cols.stride + kx * g.cols.dilation - g.cols.pad_before;
                dot_add::<FMA>(&mut dxrow[ix * c..(ix + 1) * c], &gyrow[ox * co..(ox + 1) * co], wv, dm);
            }
        }
    }
}

/// Adds output row `r = b·oh + oy`'s contribution to the kernel gradient.
#[inline(always)]
fn dw_row<const FMA: bool>(g: &ConvGeometry, x: &[f32], gy: &[f32], r: usize, dw: &mut [f32]) {
    let (h, w, c, co, dm) = (g.rows.input, g.cols.input, g.cin, g.cout, g.cout / g.cin.max(1));
    let (b, oy) = (r / g.oh(), r % g.oh());
    let gyrow = &gy[r * g.ow() * co..(r + 1) * g.ow() * co];
    for ky in 0..g.rows.kernel {
        let Some(iy) = tap(oy, ky, &g.rows) else { continue };
        let xrow = &x[(b * h + iy) * w * c..(b * h + iy + 1) * w * c];
        for kx in 0..g.cols.kernel {
            let dws = &mut dw[(ky * g.cols.kernel + kx) * co..(ky * g.cols.kernel + kx + 1) * co];
            let (lo, hi) = valid_range(kx, &g.cols);
            if dm == 1 {
                channel_blocks!(c, dw_block, FMA, (g, xrow, gyrow, kx, lo, hi, dws));
                continue;
            }
            for ox in lo..hi {
                let ix = ox * g.cols.stride + kx * g.cols.dilation - g.cols.pad_before;
                madd::<FMA>(dws, &xrow[ix * c..(ix + 1) * c], &gyrow[ox * co..(ox + 1) * co], dm);
            }
        }
    }
}

// The same row kernels compiled for AVX2 + FMA, called only after the CPU was checked.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fwd_row_fma(
    g: &ConvGeometry,
    x: &[f32],
    k: &[f32],
    bias: Option<&[f32]>,
    r: usize,
    orow: &mut [MaybeUninit<f32>],
) {
    fwd_row::<true>(g, x, k, bias, r, orow)
}
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dx_row_fma(g: &ConvGeometry, gy: &[f32], k: &[f32], r: usize, dxrow: &mut [MaybeUninit<f32>]) {
    dx_row::<true>(g, gy, k, r, dxrow)
}
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dw_row_fma(g: &ConvGeometry, x: &[f32], gy: &[f32], r: usize, dw: &mut [f32]) {
    dw_row::<true>(g, x, gy, r, dw)
}

// And for AVX-512 (the same loops, twice as wide; the same results: each output is the same
// chain of fused multiply-adds whatever the vector width).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn fwd_row_avx512(
    g: &ConvGeometry,
    x: &[f32],
    k: &[f32],
    bias: Option<&[f32]>,
    r: usize,
    orow: &mut [MaybeUninit<f32>],
) {
    fwd_row::<true>(g, x, k, bias, r, orow)
}
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn dx_row_avx512(g: &ConvGeometry, gy: &[f32], k: &[f32], r: usize, dxrow: &mut [MaybeUninit<f32>]) {
    dx_row::<true>(g, gy, k, r, dxrow)
}
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn dw_row_avx512(g: &ConvGeometry, x: &[f32], gy: &[f32], r: usize, dw: &mut [f32]) {
    dw_row::<true>(g, x, gy, r, dw)
}

/// Whether the FMA kernels may use AVX-512 (the kernels' ISA, `RKERAS_ISA` included).
fn wide() -> bool {
    crate::kernels::isa() == crate::kernels::Isa::Avx512
}

/// Whether this CPU runs the AVX2 + FMA kernels.
fn cpu_has_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Rows per rayon task: enough multiply-adds to pay for the task.
fn min_rows(g: &ConvGeometry, row_len: usize) -> usize {
    (32768 / (row_len * g.rows.kernel * g.cols.kernel).max(1)).max(1)
}

fn forward_impl(x: &[f32], k: &[f32], bias: Option<&[f32]>, g: &ConvGeometry, fma: bool) -> Vec<f32> {
    let row_len = g.ow() * g.cout;
    let row = |r: usize, orow: &mut [MaybeUninit<f32>]| {
        #[cfg(target_arch = "x86_64")]
        if fma {
            // SAFETY: `fma` is true only when the CPU reported AVX2 and FMA, `wide` only
            // when it also reported AVX-512.
            if wide() {
                return unsafe { fwd_row_avx512(g, x, k, bias, r, orow) };
            }
            return unsafe { fwd_row_fma(g, x, k, bias, r, orow) };
        }
        let _ = fma;
        fwd_row::<false>(g, x, k, bias, r, orow)
    };
    // SAFETY: `fwd_row` writes every value of its row (each pixel's channel blocks, or the
    // bias / zeros first where the depth multiplier is above 1).
    unsafe { crate::kernels::par_rows(g.n * g.oh(), row_len, min_rows(g, row_len), row) }
}

fn input_grad_impl(gy: &[f32], k: &[f32], g: &ConvGeometry, fma: bool) -> Vec<f32> {
    let row_len = g.cols.input * g.cin;
    if g.cout == 0 {
        return vec![0.0f32; g.n * g.rows.input * row_len];
    }
    let row = |r: usize, dxrow: &mut [MaybeUninit<f32>]| {
        #[cfg(target_arch = "x86_64")]
        if fma {
            // SAFETY: as in `forward_impl`.
            if wide() {
                return unsafe { dx_row_avx512(g, gy, k, r, dxrow) };
            }
            return unsafe { dx_row_fma(g, gy, k, r, dxrow) };
        }
        let _ = fma;
        dx_row::<false>(g, gy, k, r, dxrow)
    };
    // SAFETY: `dx_row` writes every value of its row (each pixel's channel blocks, or zeros
    // first where the depth multiplier is above 1).
    unsafe { crate::kernels::par_rows(g.n * g.rows.input, row_len, min_rows(g, row_len), row) }
}

fn weight_grad_impl(x: &[f32], gy: &[f32], g: &ConvGeometry, fma: bool) -> Vec<f32> {
    let klen = g.rows.kernel * g.cols.kernel * g.cout;
    let rows = g.n * g.oh();
    crate::determinism::fold_ordered(
        rows,
        min_rows(g, g.ow() * g.cout),
        || vec![0.0f32; klen],
        |mut dw, r| {
            #[cfg(target_arch = "x86_64")]
            if fma {
                // SAFETY: as in `forward_impl`.
                if wide() {
                    unsafe { dw_row_avx512(g, x, gy, r, &mut dw) };
                } else {
                    unsafe { dw_row_fma(g, x, gy, r, &mut dw) };
                }
                return dw;
            }
            let _ = fma;
            dw_row::<false>(g, x, gy, r, &mut dw);
            dw
        },
        |mut a, b| {
            a.iter_mut().zip(&b).for_each(|(p, q)| *p += q);
            a
        },
    )
}

/// `y = depthwise_conv2d(x, w) + bias` with the direct vectorized kernel.
pub fn depthwise_conv2d(x: &Tensor, w: &Tensor, bias: Option<&Tensor>, p: &DepthwiseParams) -> Result<Tensor> {
    let g = depthwise_geometry("depthwise_conv2d", x.shape(), w.shape(), p)?;
    check_bias("depthwise_conv2d", bias, g.cout, "channels · depth_multiplier")?;
    Tensor::new(
        &g.output_shape(),
        forward_impl(x.data(), w.data(), bias.map(|b| b.data()), &g, cpu_has_fma()),
    )
}

/// Gradients of [`depthwise_conv2d`]: `(dx, dw, dbias)`.
pub fn depthwise_conv2d_backward(
    x: &Tensor,
    w: &Tensor,
    grad_out: &Tensor,
    p: &DepthwiseParams,
) -> Result<(Tensor, Tensor, Tensor)> {
    Ok(all_grads(
        x,
        w,
        depthwise_conv2d_backward_parts(x, w, grad_out, p, true, true)?,
    ))
}

/// Gradients of [`depthwise_conv2d`], computing `dx` and `dw` only when asked.
pub fn depthwise_conv2d_backward_parts(
    x: &Tensor,
    w: &Tensor,
    grad_out: &Tensor,
    p: &DepthwiseParams,
    need_dx: bool,
    need_dw: bool,
) -> Result<(Option<Tensor>, Option<Tensor>, Tensor)> {
    let g = depthwise_geometry("depthwise_conv2d_backward", x.shape(), w.shape(), p)?;
    check_grad("depthwise_conv2d_backward", grad_out, &g.output_shape())?;
    let fma = cpu_has_fma();
    let dx = if need_dx {
        Some(Tensor::new(
            x.shape(),
            input_grad_impl(grad_out.data(), w.data(), &g, fma),
        )?)
    } else {
        None
    };
    let dw = if need_dw {
        Some(Tensor::new(
            w.shape(),
            weight_grad_impl(x.data(), grad_out.data(), &g, fma),
        )?)
    } else {
        None
    };
    Ok((dx, dw, Tensor::new(&[g.cout], bias_grad(grad_out.data(), g.cout))?))
}

/// Reference depthwise convolution: one loop per index.
pub fn depthwise_conv2d_naive(x: &Tensor, w: &Tensor, bias: Option<&Tensor>, p: &DepthwiseParams) -> Result<Tensor> {
    let g = depthwise_geometry("depthwise_conv2d_naive", x.shape(), w.shape(), p)?;
    check_bias("depthwise_conv2d_naive", bias, g.cout, "channels · depth_multiplier")?;
    let (n, h, wd, c, dm) = (g.n, g.rows.input, g.cols.input, g.cin, w.shape()[3]);
    let (oh, ow, kh, kw) = (g.oh(), g.ow(), g.rows.kernel, g.cols.kernel);
    let mut y = vec![0.0f32; n * oh * ow * c * dm];
    for b in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                for ci in 0..c {
                    for m in 0..dm {
                        let mut s = bias.map_or(0.0, |t| t.data()[ci * dm + m]);
                        for ky in 0..kh {
                            let Some(iy) = tap(oy, ky, &g.rows) else { continue };
                            for kx in 0..kw {
                                let Some(ix) = tap(ox, kx, &g.cols) else { continue };
                                s += x.data()[((b * h + iy) * wd + ix) * c + ci]
                                    * w.data()[((ky * kw + kx) * c + ci) * dm + m];
                            }
                        }
                        y[((b * oh + oy) * ow + ox) * c * dm + ci * dm + m] = s;
                    }
                }
            }
        }
    }
    Tensor::new(&g.output_shape(), y)
}

/// Reference gradients `(dx, dw, dbias)`.
pub fn depthwise_conv2d_backward_naive(
    x: &Tensor,
    w: &Tensor,
    grad_out: &Tensor,
    p: &DepthwiseParams,
) -> Result<(Tensor, Tensor, Tensor)> {
    let g = depthwise_geometry("depthwise_conv2d_backward_naive", x.shape(), w.shape(), p)?;
    check_grad("depthwise_conv2d_backward_naive", grad_out, &g.output_shape())?;
    let (n, h, wd, c, dm) = (g.n, g.rows.input, g.cols.input, g.cin, w.shape()[3]);
    let (oh, ow, kh, kw) = (g.oh(), g.ow(), g.rows.kernel, g.cols.kernel);
    let (mut dx, mut dw, mut db) = (vec![0.0f32; x.len()], vec![0.0f32; w.len()], vec![0.0f32; c * dm]);
    for b in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                for ci in 0..c {
                    for m in 0..dm {
                        let d = grad_out.data()[((b * oh + oy) * ow + ox) * c * dm + ci * dm + m];
                        db[ci * dm + m] += d;
                        for ky in 0..kh {
                            let Some(iy) = tap(oy, ky, &g.rows) else { continue };
                            for kx in 0..kw {
                                let Some(ix) = tap(ox, kx, &g.cols) else { continue };
                                let (xi, wi) = (((b * h + iy) * wd + ix) * c + ci, ((ky * kw + kx) * c + ci) * dm + m);
                                dx[xi] += d * w.data()[wi];
                                dw[wi] += d * x.data()[xi];
                            }
                        }
                    }
                }
            }
        }
    }
    Ok((
        Tensor::new(x.shape(), dx)?,
        Tensor::new(w.shape(), dw)?,
        Tensor::new(&[c * dm], db)?,
    ))
}

impl Tape {
    /// `depthwise_conv2d(x, w) + bias` on the tape; see [`depthwise_conv2d`].
    pub fn depthwise_conv2d(&mut self, x: Var, w: Var, bias: Option<Var>, p: &DepthwiseParams) -> Result<Var> {
        let p = *p;
        self.record_conv(
            x,
            w,
            bias,
            None,
            |x, w, b| depthwise_conv2d(x, w, b, &p),
            move |x, w, gy, need_dx, need_dw| depthwise_conv2d_backward_parts(x, w, gy, &p, need_dx, need_dw),
        )
    }
}

#[cfg(test)]
#[path = "depthwise_tests.rs"]
mod tests;
