//! Pooling on NHWC: `max_pool2d` and `avg_pool2d` with TensorFlow's `valid`/`same` padding
//! (a padded cell never wins a maximum and is not counted in an average), their global forms,
//! the backward rules, naive reference kernels, and the `Tape` methods.
//!
//! Backward: max pooling sends each window's gradient to the first maximum of the window in
//! row-major order (as TensorFlow does); average pooling spreads it evenly over the window's
//! valid cells.
//!
//! Shapes: `(n, h, w, c)` → `(n, oh, ow, c)`, with `oh` and `ow` from
//! [`crate::shape::window_axis`]; global pools → `(n, c)`, or `(n, 1, 1, c)` with `keepdims`.
//!
//! ```
//! use tensor::{ops::pool::max_pool2d, Padding, Tensor};
//! let x = Tensor::arange(&[1, 4, 4, 1]);
//! let y = max_pool2d(&x, (2, 2), (2, 2), Padding::Valid).unwrap();
//! assert_eq!(y.data(), &[5.0, 7.0, 13.0, 15.0]);
//! ```

use rayon::prelude::*;

use crate::autograd::{Tape, Var};
use crate::error::{arg_err, shape_err, Result};
use crate::shape::{window_axis, AxisGeometry, Padding};
use crate::tensor::Tensor;

/// Multiply-adds a rayon task should get at least, so small pools are not swamped by overhead.
const TASK_MIN_WORK: usize = 1 << 14;

/// Where every pooling window of an NHWC input lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool2dGeometry {
    /// Batch size.
    pub n: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Channels.
    pub c: usize,
    /// The height axis: pool size, stride, padding, output height.
    pub rows: AxisGeometry,
    /// The width axis.
    pub cols: AxisGeometry,
}

impl Pool2dGeometry {
    /// `(n, h, w, c)`.
    pub fn input_shape(&self) -> [usize; 4] {
        [self.n, self.h, self.w, self.c]
    }

    /// `(n, oh, ow, c)`.
    pub fn output_shape(&self) -> [usize; 4] {
        [self.n, self.rows.output, self.cols.output, self.c]
    }
}

/// Valid input range `[lo, hi)` of output position `o`'s window along one axis.
fn window(g: &AxisGeometry, o: usize) -> (usize, usize) {
    let start = o * g.stride;
    let lo = start.saturating_sub(g.pad_before);
    let hi = (start + g.kernel).saturating_sub(g.pad_before).min(g.input);
    (lo.min(hi), hi)
}

/// Output positions `[lo, hi)` whose window covers input position `i` along one axis.
fn covering(g: &AxisGeometry, i: usize) -> (usize, usize) {
    let p = i + g.pad_before;
    let lo = if p + 1 >= g.kernel {
        (p + 1 - g.kernel).div_ceil(g.stride)
    } else {
        0
    };
    let hi = (p / g.stride + 1).min(g.output);
    (lo, hi.max(lo))
}

/// Window geometry of a 2-D pool over an NHWC input of shape `x_shape`.
///
/// Explicit padding must be smaller than the pool size, so every window sees the input.
pub fn pool2d_geometry(
    op: &'static str,
    x_shape: &[usize],
    pool_size: (usize, usize),
    strides: (usize, usize),
    padding: Padding,
) -> Result<Pool2dGeometry> {
    let &[n, h, w, c] = x_shape else {
        return shape_err(
            op,
            format!("expected a 4-D input (batch, height, width, channels), received shape {x_shape:?}"),
        );
    };
    let rows = window_axis(op, h, pool_size.0, strides.0, 1, padding)?;
    let cols = window_axis(op, w, pool_size.1, strides.1, 1, padding)?;
    if let Padding::Explicit(a, b) = padding {
        if a.max(b) >= pool_size.0.min(pool_size.1) {
            return arg_err(
                op,
                "padding",
                format!("padding smaller than pool_size {pool_size:?}"),
                padding.name(),
            );
        }
    }
    if h * w * c > u32::MAX as usize {
        return shape_err(
            op,
            format!(
                "an image of {h}×{w}×{c} values is too large to index (limit {})",
                u32::MAX
            ),
        );
    }
    Ok(Pool2dGeometry { n, h, w, c, rows, cols })
}

fn check_input(op: &'static str, x: &Tensor, g: &Pool2dGeometry) -> Result<()> {
    if x.shape() != g.input_shape() {
        return shape_err(
            op,
            format!(
                "input shape {:?} differs from the geometry's {:?}",
                x.shape(),
                g.input_shape()
            ),
        );
    }
    Ok(())
}

fn check_grad(op: &'static str, grad: &Tensor, g: &Pool2dGeometry) -> Result<()> {
    if grad.shape() != g.output_shape() {
        return shape_err(
            op,
            format!(
                "gradient shape {:?} differs from the output shape {:?}",
                grad.shape(),
                g.output_shape()
            ),
        );
    }
    Ok(())
}

/// Per worker: the column maxima of one output row and their image indices, and the maxima
/// across every run of window columns (the narrow-channel pass).
#[derive(Default)]
struct MaxScratch {
    max: Vec<f32>,
    arg: Vec<u32>,
    run_max: Vec<f32>,
    run_arg: Vec<u32>,
}

thread_local! {
    static MAX_SCRATCH: std::cell::RefCell<MaxScratch> = std::cell::RefCell::new(MaxScratch::default());
}

/// Channels below which the pass across the window columns runs over whole rows
/// ([`across_runs`]) instead of one window's channels at a time ([`across_windows`]).
const NARROW_BELOW: usize = 16;

/// All ones where the candidate `(v, i)` replaces the maximum so far `(best, at)`, else zero.
/// Ties go to the smaller image index, so the first maximum in row-major order wins.
#[inline(always)]
fn takes_over(v: f32, i: u32, best: f32, at: u32) -> u32 {
    ((v > best) as u32 | ((v == best) as u32 & (i < at) as u32)).wrapping_neg()
}

/// One output row `oy` of image `x_img`: the window maxima, and with `ARG` their positions
/// (index into the image).
///
/// Two passes, so that the inner loops run over long contiguous runs instead of one window's
/// few channels at a time: the maximum down the window's input rows, for every input column and
/// channel (`s.max`, `s.arg`: the first row wins ties), then across each window's columns,
/// where ties go to the smaller image index. Both together keep the first maximum in row-major
/// order, as TensorFlow does.
#[inline(always)]
fn max_row<const ARG: bool>(
    s: &mut MaxScratch,
    x_img: &[f32],
    g: &Pool2dGeometry,
    oy: usize,
    out_row: &mut [f32],
    arg_row: &mut [u32],
) {
    let (w, c) = (g.w, g.c);
    let (y0, y1) = window(&g.rows, oy);
    let row = w * c;
    // Few channels: room for the padded columns around the real ones (see `across_runs`).
    let (before, after) = if c < NARROW_BELOW { padded_columns(g) } else { (0, 0) };
    let (lo, hi) = (before * c, (before + w) * c);
    s.max.resize(hi + after * c, 0.0);
    s.max[lo..hi].copy_from_slice(&x_img[y0 * row..(y0 + 1) * row]);
    if ARG {
        s.arg.resize(hi + after * c, 0);
        for (a, i) in s.arg[lo..hi].iter_mut().zip((y0 * row) as u32..) {
            *a = i;
        }
    }
    // Selects written with masks, not branches, so they vectorize.
    for iy in y0 + 1..y1 {
        let src = &x_img[iy * row..(iy + 1) * row];
        if ARG {
            let base = (iy * row) as u32;
            for (j, ((m, a), &v)) in s.max[lo..hi]
                .iter_mut()
                .zip(s.arg[lo..hi].iter_mut())
                .zip(src)
                .enumerate()
            {
                let mask = ((v > *m) as u32).wrapping_neg();
                *m = if v > *m { v } else { *m };
                *a = (*a & !mask) | ((base + j as u32) & mask);
            }
        } else {
            for (m, &v) in s.max[lo..hi].iter_mut().zip(src) {
                *m = if v > *m { v } else { *m };
            }
        }
    }
    if c < NARROW_BELOW {
        across_runs::<ARG>(s, g, out_row, arg_row);
    } else {
        across_windows::<ARG>(s, g, out_row, arg_row);
    }
}

/// The pass across the window columns, one window's channels at a time.
#[inline(always)]
fn across_windows<const ARG: bool>(s: &MaxScratch, g: &Pool2dGeometry, out_row: &mut [f32], arg_row: &mut [u32]) {
    let c = g.c;
    for ox in 0..g.cols.output {
        let (x0, x1) = window(&g.cols, ox);
        let o = &mut out_row[ox * c..(ox + 1) * c];
        o.copy_from_slice(&s.max[x0 * c..(x0 + 1) * c]);
        if ARG {
            let a = &mut arg_row[ox * c..(ox + 1) * c];
            a.copy_from_slice(&s.arg[x0 * c..(x0 + 1) * c]);
            for ix in x0 + 1..x1 {
                let (vs, is) = (&s.max[ix * c..(ix + 1) * c], &s.arg[ix * c..(ix + 1) * c]);
                for (((ov, av), &v), &i) in o.iter_mut().zip(a.iter_mut()).zip(vs).zip(is) {
                    let mask = takes_over(v, i, *ov, *av);
                    *ov = if v > *ov { v } else { *ov };
                    *av = (*av & !mask) | (i & mask);
                }
            }
        } else {
            for ix in x0 + 1..x1 {
                for (ov, &v) in o.iter_mut().zip(&s.max[ix * c..(ix + 1) * c]) {
                    *ov = if v > *ov { v } else { *ov };
                }
            }
        }
    }
}

/// Padded columns before and after the real ones that the windows of a row span.
fn padded_columns(g: &Pool2dGeometry) -> (usize, usize) {
    let (ow, kw, sx, before) = (g.cols.output, g.cols.kernel, g.cols.stride, g.cols.pad_before);
    let span = if ow == 0 { 0 } else { (ow - 1) * sx + kw };
    (before, span.saturating_sub(before + g.w))
}

/// The pass across the window columns for few channels, where per-window loops would run a
/// handful of values at a time: the column maxima are extended by the padding (each padded
/// column a copy of the nearest real one, with its index: a repeat never replaces the value it
/// copies, so the maximum and which position wins are unchanged, and the order of the real
/// columns is kept), then the maximum over every run of `kw` consecutive columns is taken for
/// all start columns at once (whole rows, so the loops vectorize), and every `sx`-th run is an
/// output pixel.
#[inline(always)]
fn across_runs<const ARG: bool>(s: &mut MaxScratch, g: &Pool2dGeometry, out_row: &mut [f32], arg_row: &mut [u32]) {
    let (w, c, ow) = (g.w, g.c, g.cols.output);
    let (kw, sx) = (g.cols.kernel, g.cols.stride);
    if ow == 0 || w == 0 {
        return;
    }
    let (before, after) = padded_columns(g);
    for p in 0..before {
        s.max.copy_within(before * c..(before + 1) * c, p * c);
        if ARG {
            s.arg.copy_within(before * c..(before + 1) * c, p * c);
        }
    }
    let last = (before + w - 1) * c;
    for p in before + w..before + w + after {
        s.max.copy_within(last..last + c, p * c);
        if ARG {
            s.arg.copy_within(last..last + c, p * c);
        }
    }
    // Run maxima for start columns 0, 1, …, (ow − 1)·sx: straight into the output when
    // every start column is an output pixel.
    let starts = (ow - 1) * sx + 1;
    let n = starts * c;
    let (run_max, run_arg) = if sx == 1 {
        (&mut out_row[..n], &mut arg_row[..if ARG { n } else { 0 }])
    } else {
        s.run_max.resize(n, 0.0);
        s.run_arg.resize(if ARG { n } else { 0 }, 0);
        (&mut s.run_max[..], &mut s.run_arg[..])
    };
    run_max.copy_from_slice(&s.max[..n]);
    if ARG {
        run_arg.copy_from_slice(&s.arg[..n]);
    }
    for ix in 1..kw {
        let vs = &s.max[ix * c..ix * c + n];
        if ARG {
            let is = &s.arg[ix * c..ix * c + n];
            for (((ov, av), &v), &i) in run_max.iter_mut().zip(run_arg.iter_mut()).zip(vs).zip(is) {
                let mask = takes_over(v, i, *ov, *av);
                *ov = if v > *ov { v } else { *ov };
                *av = (*av & !mask) | (i & mask);
            }
        } else {
            for (ov, &v) in run_max.iter_mut().zip(vs) {
                *ov = if v > *ov { v } else { *ov };
            }
        }
    }
    if sx > 1 {
        for ox in 0..ow {
            let from = ox * sx * c;
            out_row[ox * c..(ox + 1) * c].copy_from_slice(&s.run_max[from..from + c]);
            if ARG {
                arg_row[ox * c..(ox + 1) * c].copy_from_slice(&s.run_arg[from..from + c]);
            }
        }
    }
}

/// Rows a rayon task should get at least when each row of `row_len` values costs a window of
/// work per value.
fn min_rows(g: &Pool2dGeometry, row_len: usize) -> usize {
    (TASK_MIN_WORK / (row_len * g.rows.kernel * g.cols.kernel).max(1)).max(1)
}

/// The pooled output, one output row `(b, oy)` per rayon task: `row(image b, oy, out_row,
/// arg_row)`, where `arg_row` is that row of `arg` (empty without one).
fn pool_rows(
    x: &Tensor,
    g: &Pool2dGeometry,
    arg: Option<&mut [u32]>,
    row: impl Fn(&[f32], usize, &mut [f32], &mut [u32]) + Sync,
) -> Result<Tensor> {
    let shape = g.output_shape();
    let row_len = g.cols.output * g.c;
    let mut out = vec![0.0f32; shape.iter().product()];
    if !out.is_empty() {
        let (img, oh, xd, min_len) = (g.h * g.w * g.c, g.rows.output, x.data(), min_rows(g, row_len));
        let run = |(r, (o, a)): (usize, (&mut [f32], &mut [u32]))| {
            let b = r / oh;
            row(&xd[b * img..(b + 1) * img], r % oh, o, a)
        };
        let rows = out.par_chunks_mut(row_len);
        match arg {
            Some(arg) => rows
                .zip(arg.par_chunks_mut(row_len))
                .enumerate()
                .with_min_len(min_len)
                .for_each(run),
            None => rows
                .map(|o| (o, &mut [][..]))
                .enumerate()
                .with_min_len(min_len)
                .for_each(run),
        }
    }
    Tensor::new(&shape, out)
}

/// Max pooling; with `ARG`, also the index (within its image) of each window's first maximum.
fn max_forward<const ARG: bool>(x: &Tensor, g: &Pool2dGeometry) -> Result<(Tensor, Vec<u32>)> {
    let mut arg = vec![0u32; if ARG { g.output_shape().iter().product() } else { 0 }];
    let out = pool_rows(x, g, ARG.then_some(&mut arg[..]), |img, oy, o, a| {
        // The scratch is taken outside the vectorized region, so that the row's loops are
        // compiled inside it (a thread-local's accessor is a function of its own).
        MAX_SCRATCH.with_borrow_mut(|s| {
            crate::kernels::vectorized(
                #[inline(always)]
                || max_row::<ARG>(s, img, g, oy, o, a),
            )
        })
    })?;
    Ok((out, arg))
}

/// Max pooling (Keras's `MaxPooling2D`): the maximum of each window; padding never wins.
pub fn max_pool2d(x: &Tensor, pool_size: (usize, usize), strides: (usize, usize), padding: Padding) -> Result<Tensor> {
    let g = pool2d_geometry("max_pool2d", x.shape(), pool_size, strides, padding)?;
    Ok(max_forward::<false>(x, &g)?.0)
}

/// Max pooling that also returns, per output value, the index (within its image of `h·w·c`
/// values) of the first maximum of its window: what [`max_pool2d_backward`] needs.
pub fn max_pool2d_with_argmax(
    x: &Tensor,
    pool_size: (usize, usize),
    strides: (usize, usize),
    padding: Padding,
) -> Result<(Tensor, Vec<u32>, Pool2dGeometry)> {
    let g = pool2d_geometry("max_pool2d", x.shape(), pool_size, strides, padding)?;
    let (out, arg) = max_forward::<true>(x, &g)?;
    Ok((out, arg, g))
}

/// Backward of max pooling: each output gradient goes to its window's first maximum.
pub fn max_pool2d_backward(g: &Pool2dGeometry, argmax: &[u32], grad_out: &Tensor) -> Result<Tensor> {
    check_grad("max_pool2d", grad_out, g)?;
    if argmax.len() != grad_out.len() {
        return shape_err(
            "max_pool2d",
            format!(
                "{} argmax indices for a gradient of {} values",
                argmax.len(),
                grad_out.len()
            ),
        );
    }
    let img = g.h * g.w * g.c;
    let per_out = g.rows.output * g.cols.output * g.c;
    let mut dx = crate::kernels::zeros(g.n * img);
    if img > 0 && per_out > 0 {
        // Windows overlap, so one image is one task.
        dx.par_chunks_mut(img)
            .zip(grad_out.data().par_chunks(per_out))
            .zip(argmax.par_chunks(per_out))
            .try_for_each(|((d, gr), ar)| {
                for (&i, &v) in ar.iter().zip(gr) {
                    match d.get_mut(i as usize) {
                        Some(slot) => *slot += v,
                        None => {
                            return shape_err(
                                "max_pool2d",
                                format!("argmax index {i} outside an image of {img} values"),
                            )
                        }
                    }
                }
                Ok(())
            })?;
    }
    Tensor::new(&g.input_shape(), dx)
}

fn avg_row(x_img: &[f32], g: &Pool2dGeometry, oy: usize, out_row: &mut [f32]) {
    let (w, c) = (g.w, g.c);
    let (y0, y1) = window(&g.rows, oy);
    for ox in 0..g.cols.output {
        let (x0, x1) = window(&g.cols, ox);
        let o = &mut out_row[ox * c..(ox + 1) * c];
        o.fill(0.0);
        for iy in y0..y1 {
            let run = &x_img[(iy * w + x0) * c..(iy * w + x1) * c];
            for src in run.chunks_exact(c) {
                for (ov, &v) in o.iter_mut().zip(src) {
                    *ov += v;
                }
            }
        }
        let count = ((y1 - y0) * (x1 - x0)) as f32;
        for ov in o.iter_mut() {
            *ov /= count;
        }
    }
}

fn avg_forward(x: &Tensor, g: &Pool2dGeometry) -> Result<Tensor> {
    pool_rows(x, g, None, |img, oy, o, _| avg_row(img, g, oy, o))
}

/// Average pooling (Keras's `AveragePooling2D`): each window's mean over its valid cells (with
/// `same` padding, border windows divide by fewer than `pool_size` cells, as TensorFlow).
pub fn avg_pool2d(x: &Tensor, pool_size: (usize, usize), strides: (usize, usize), padding: Padding) -> Result<Tensor> {
    let g = pool2d_geometry("avg_pool2d", x.shape(), pool_size, strides, padding)?;
    avg_forward(x, &g)
}

/// Backward of average pooling: each input cell gathers `grad / count` from every window that
/// covers it (a gather, so input rows are independent tasks).
pub fn avg_pool2d_backward(g: &Pool2dGeometry, grad_out: &Tensor) -> Result<Tensor> {
    check_grad("avg_pool2d", grad_out, g)?;
    let (w, c, oh, ow) = (g.w, g.c, g.rows.output, g.cols.output);
    let row = w * c;
    let mut dx = crate::kernels::zeros(g.n * g.h * row);
    if !dx.is_empty() && oh * ow > 0 {
        let row_counts: Vec<usize> = (0..oh).map(|o| window(&g.rows, o)).map(|(a, b)| b - a).collect();
        let col_counts: Vec<usize> = (0..ow).map(|o| window(&g.cols, o)).map(|(a, b)| b - a).collect();
        let gd = grad_out.data();
        dx.par_chunks_mut(row)
            .enumerate()
            .with_min_len(min_rows(g, row))
            .for_each(|(r, d)| {
                let (b, iy) = (r / g.h, r % g.h);
                let (oy0, oy1) = covering(&g.rows, iy);
                for ix in 0..w {
                    let (ox0, ox1) = covering(&g.cols, ix);
                    let dv = &mut d[ix * c..(ix + 1) * c];
                    for oy in oy0..oy1 {
                        for ox in ox0..ox1 {
                            let inv = 1.0 / (row_counts[oy] * col_counts[ox]) as f32;
                            let src = &gd[((b * oh + oy) * ow + ox) * c..((b * oh + oy) * ow + ox + 1) * c];
                            for (v, &s) in dv.iter_mut().zip(src) {
                                *v += s * inv;
                            }
                        }
                    }
                }
            });
    }
    Tensor::new(&g.input_shape(), dx)
}

/// The geometry of a global pool: one window covering the whole image.
fn global_geometry(op: &'static str, x_shape: &[usize]) -> Result<Pool2dGeometry> {
    match *x_shape {
        [_, h, w, _] if h > 0 && w > 0 => pool2d_geometry(op, x_shape, (h, w), (1, 1), Padding::Valid),
        [_, _, _, _] => shape_err(op, format!("needs a non-empty image, received shape {x_shape:?}")),
        _ => shape_err(
            op,
            format!("expected a 4-D input (batch, height, width, channels), received shape {x_shape:?}"),
        ),
    }
}

fn global_out(t: Tensor, g: &Pool2dGeometry, keepdims: bool) -> Result<Tensor> {
    if keepdims {
        Ok(t)
    } else {
        t.into_reshape(&[g.n, g.c])
    }
}

/// Keras's `GlobalAveragePooling2D`: the mean over height and width.
pub fn global_avg_pool2d(x: &Tensor, keepdims: bool) -> Result<Tensor> {
    let g = global_geometry("global_avg_pool2d", x.shape())?;
    global_out(avg_forward(x, &g)?, &g, keepdims)
}

/// Backward of [`global_avg_pool2d`]: `grad / (h·w)` everywhere. `grad_out` is `(n, c)` or
/// `(n, 1, 1, c)`.
pub fn global_avg_pool2d_backward(x_shape: &[usize], grad_out: &Tensor) -> Result<Tensor> {
    let g = global_geometry("global_avg_pool2d", x_shape)?;
    avg_pool2d_backward(&g, &grad_out.reshape(&g.output_shape())?)
}

/// Keras's `GlobalMaxPooling2D`: the maximum over height and width.
pub fn global_max_pool2d(x: &Tensor, keepdims: bool) -> Result<Tensor> {
    let g = global_geometry("global_max_pool2d", x.shape())?;
    global_out(max_forward::<false>(x, &g)?.0, &g, keepdims)
}

/// Reference for [`max_pool2d`]: every window scanned over its padded extent.
pub fn max_pool2d_naive(
    x: &Tensor,
    pool_size: (usize, usize),
    strides: (usize, usize),
    padding: Padding,
) -> Result<Tensor> {
    let g = pool2d_geometry("max_pool2d", x.shape(), pool_size, strides, padding)?;
    naive_pool(x, &g, true)
}

/// Reference for [`avg_pool2d`].
pub fn avg_pool2d_naive(
    x: &Tensor,
    pool_size: (usize, usize),
    strides: (usize, usize),
    padding: Padding,
) -> Result<Tensor> {
    let g = pool2d_geometry("avg_pool2d", x.shape(), pool_size, strides, padding)?;
    naive_pool(x, &g, false)
}

/// The input cell `(iy, ix)` under window offset `(ky, kx)` of output `(oy, ox)`, if not padding.
fn naive_cell(g: &Pool2dGeometry, oy: usize, ox: usize, ky: usize, kx: usize) -> Option<(usize, usize)> {
    let py = (oy * g.rows.stride + ky) as isize - g.rows.pad_before as isize;
    let px = (ox * g.cols.stride + kx) as isize - g.cols.pad_before as isize;
    (py >= 0 && px >= 0 && (py as usize) < g.h && (px as usize) < g.w).then_some((py as usize, px as usize))
}

/// Every output position of the reference kernels, in order: its flat output index (channel
/// 0) and the flat input indices (channel 0) of the cells its window covers, in row-major
/// window order, padding left out.
fn naive_windows(g: &Pool2dGeometry) -> impl Iterator<Item = (usize, Vec<usize>)> + '_ {
    let [n, oh, ow, c] = g.output_shape();
    let positions = (0..n).flat_map(move |b| (0..oh).flat_map(move |oy| (0..ow).map(move |ox| (b, oy, ox))));
    positions.map(move |(b, oy, ox)| {
        let cells = (0..g.rows.kernel)
            .flat_map(|ky| (0..g.cols.kernel).map(move |kx| (ky, kx)))
            .filter_map(|(ky, kx)| naive_cell(g, oy, ox, ky, kx))
            .map(|(iy, ix)| ((b * g.h + iy) * g.w + ix) * c)
            .collect();
        (((b * oh + oy) * ow + ox) * c, cells)
    })
}

fn naive_pool(x: &Tensor, g: &Pool2dGeometry, max: bool) -> Result<Tensor> {
    let mut out = Tensor::zeros(&g.output_shape());
    for (o, cells) in naive_windows(g) {
        for ch in 0..g.c {
            let values = cells.iter().map(|&i| x.data()[i + ch]);
            out.data_mut()[o + ch] = if max {
                values.fold(f32::NEG_INFINITY, f32::max)
            } else {
                values.fold(0.0, |s, v| s + v) / cells.len() as f32
            };
        }
    }
    Ok(out)
}

/// Reference for the max-pool backward: finds each window's first maximum again.
pub fn max_pool2d_backward_naive(x: &Tensor, g: &Pool2dGeometry, grad_out: &Tensor) -> Result<Tensor> {
    check_input("max_pool2d", x, g)?;
    check_grad("max_pool2d", grad_out, g)?;
    let mut dx = Tensor::zeros(x.shape());
    for (o, cells) in naive_windows(g) {
        for ch in 0..g.c {
            let mut best: Option<(f32, usize)> = None;
            for i in cells.iter().map(|&i| i + ch) {
                let v = x.data()[i];
                if best.is_none_or(|(m, _)| v > m) {
                    best = Some((v, i));
                }
            }
            if let Some((_, i)) = best {
                dx.data_mut()[i] += grad_out.data()[o + ch];
            }
        }
    }
    Ok(dx)
}

/// Reference for the average-pool backward: scatters `grad / count` over each window.
pub fn avg_pool2d_backward_naive(g: &Pool2dGeometry, grad_out: &Tensor) -> Result<Tensor> {
    check_grad("avg_pool2d", grad_out, g)?;
    let mut dx = Tensor::zeros(&g.input_shape());
    for (o, cells) in naive_windows(g) {
        for ch in 0..g.c {
            let share = grad_out.data()[o + ch] / cells.len() as f32;
            for &i in &cells {
                dx.data_mut()[i + ch] += share;
            }
        }
    }
    Ok(dx)
}

impl Tape {
    /// [`max_pool2d`] on the tape; the argmax is kept only when a gradient can flow.
    pub fn max_pool2d(
        &mut self,
        x: Var,
        pool_size: (usize, usize),
        strides: (usize, usize),
        padding: Padding,
    ) -> Result<Var> {
        let xv = self.try_value(x)?;
        if !self.requires_grad(x) {
            let out = max_pool2d(xv, pool_size, strides, padding)?;
            return self.record(out, &[x], Box::new(|_, _, _| Ok(vec![None])));
        }
        let (out, arg, g) = max_pool2d_with_argmax(xv, pool_size, strides, padding)?;
        self.record(
            out,
            &[x],
            Box::new(move |grad, _, _| Ok(vec![Some(max_pool2d_backward(&g, &arg, grad)?)])),
        )
    }

    /// [`avg_pool2d`] on the tape.
    pub fn avg_pool2d(
        &mut self,
        x: Var,
        pool_size: (usize, usize),
        strides: (usize, usize),
        padding: Padding,
    ) -> Result<Var> {
        let xv = self.try_value(x)?;
        let g = pool2d_geometry("avg_pool2d", xv.shape(), pool_size, strides, padding)?;
        let out = avg_forward(xv, &g)?;
        self.record(
            out,
            &[x],
            Box::new(move |grad, _, _| Ok(vec![Some(avg_pool2d_backward(&g, grad)?)])),
        )
    }

    /// [`global_avg_pool2d`] on the tape.
    pub fn global_avg_pool2d(&mut self, x: Var, keepdims: bool) -> Result<Var> {
        let xv = self.try_value(x)?;
        let g = global_geometry("global_avg_pool2d", xv.shape())?;
        let out = global_out(avg_forward(xv, &g)?, &g, keepdims)?;
        self.record(
            out,
            &[x],
            Box::new(move |grad, _, _| Ok(vec![Some(avg_pool2d_backward(&g, &grad.reshape(&g.output_shape())?)?)])),
        )
    }

    /// [`global_max_pool2d`] on the tape.
    pub fn global_max_pool2d(&mut self, x: Var, keepdims: bool) -> Result<Var> {
        let xv = self.try_value(x)?;
        let g = global_geometry("global_max_pool2d", xv.shape())?;
        let (out, arg) = if self.requires_grad(x) {
            max_forward::<true>(xv, &g)?
        } else {
            max_forward::<false>(xv, &g)?
        };
        let out = global_out(out, &g, keepdims)?;
        self.record(
            out,
            &[x],
            Box::new(move |grad, _, _| {
                Ok(vec![Some(max_pool2d_backward(
                    &g,
                    &arg,
                    &grad.reshape(&g.output_shape())?,
                )?)])
            }),
        )
    }
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;
