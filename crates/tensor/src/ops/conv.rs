//! 2-D convolution (Keras `Conv2D`): NHWC input `[n, h, w, cin]`, kernel `(kh, kw, cin/groups,
//! cout)`, optional bias `[cout]`, output `[n, oh, ow, cout]`, with strides, `valid`/`same`
//! (TensorFlow's split, odd pixel bottom/right) or explicit padding, dilation and groups.
//!
//! The forward runs the inference plan's implicit-GEMM kernels ([`crate::kernels::conv`]) from 8
//! input channels; below, the direct AVX-512 kernels ([`crate::kernels::direct`]: LeNet-5's two
//! layers, CIFAR's 3-channel first layer; also their weight gradient), the direct AVX2 loops of
//! [`crate::ops::conv_direct`] or im2col + GEMM. The backward is otherwise im2col + GEMM
//! ([`crate::ops::conv_gemm`]: `dW = colᵀ·dy`, `dx = col2im(dy·Wᵀ)`).
//! [`conv2d_naive`] and
//! [`conv2d_backward_naive`] are the loops a student writes, kept as the reference.
//!
//! ```
//! use tensor::{ops::conv::{conv2d, Conv2dParams}, Padding, Tensor};
//! let x = Tensor::ones(&[1, 4, 4, 1]);
//! let w = Tensor::ones(&[3, 3, 1, 1]);
//! let y = conv2d(&x, &w, None, &Conv2dParams::new((1, 1), Padding::Same)).unwrap();
//! assert_eq!(y.shape(), &[1, 4, 4, 1]);
//! assert_eq!(&y.data()[..4], &[4.0, 6.0, 6.0, 4.0]);
//! ```

use crate::autograd::{Tape, Var};
use crate::error::{arg_err, shape_err, Result};
use crate::kernels;
use crate::kernels::act::ActSpec;
use crate::kernels::conv::{ConvArgs, PackedWeights, Weights};
use crate::kernels::winograd::WinogradWeights;
use crate::ops::batchnorm::FusedRelu;
use crate::ops::conv_common::{all_grads, check_bias, check_grad, check_rank4, tap};
use crate::ops::conv_direct;
pub use crate::ops::conv_gemm::ConvGeometry;
use crate::ops::conv_gemm::{self, COL_BUDGET};
use crate::shape::{window_axis, Padding};
use crate::tensor::Tensor;

/// Arguments of a 2-D convolution, Keras's meaning and defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dParams {
    /// `(stride_h, stride_w)`, each ≥ 1.
    pub strides: (usize, usize),
    /// Padding of the height and width axes (Keras uses one mode for both).
    pub padding: (Padding, Padding),
    /// `(dilation_h, dilation_w)`, each ≥ 1.
    pub dilation: (usize, usize),
    /// Channel groups; must divide both the input channels and the filters.
    pub groups: usize,
}

impl Default for Conv2dParams {
    /// Keras's defaults: strides 1, `valid`, dilation 1, one group.
    fn default() -> Self {
        Conv2dParams {
            strides: (1, 1),
            padding: (Padding::Valid, Padding::Valid),
            dilation: (1, 1),
            groups: 1,
        }
    }
}

impl Conv2dParams {
    /// Strides and one padding mode for both axes; dilation 1, one group.
    pub fn new(strides: (usize, usize), padding: Padding) -> Self {
        Conv2dParams {
            strides,
            padding: (padding, padding),
            ..Default::default()
        }
    }

    /// The same, with a dilation rate.
    pub fn with_dilation(mut self, dilation: (usize, usize)) -> Self {
        self.dilation = dilation;
        self
    }

    /// The same, with channel groups.
    pub fn with_groups(mut self, groups: usize) -> Self {
        self.groups = groups;
        self
    }
}

/// Checks a convolution's shapes and arguments and derives its geometry; `op` names the
/// caller in errors. Input `[n, h, w, cin]`, kernel `[kh, kw, cin/groups, cout]`.
pub fn conv2d_geometry(op: &'static str, x: &[usize], kernel: &[usize], p: &Conv2dParams) -> Result<ConvGeometry> {
    check_rank4(op, "input", x, "(batch, height, width, channels)")?;
    check_rank4(op, "kernel", kernel, "(kh, kw, in_channels/groups, filters)")?;
    let (n, h, w, cin) = (x[0], x[1], x[2], x[3]);
    let (kh, kw, kc, cout) = (kernel[0], kernel[1], kernel[2], kernel[3]);
    let groups = p.groups;
    if groups == 0 {
        return arg_err(op, "groups", "a positive integer", groups);
    }
    if cin % groups != 0 {
        return arg_err(op, "groups", format!("a divisor of the input channels ({cin})"), groups);
    }
    if cout % groups != 0 {
        return arg_err(op, "groups", format!("a divisor of the filters ({cout})"), groups);
    }
    if kc != cin / groups {
        return shape_err(
            op,
            format!(
                "kernel {kernel:?} has {kc} input channels, expected in_channels/groups = {cin}/{groups} = {}",
                cin / groups
            ),
        );
    }
    let rows = window_axis(op, h, kh, p.strides.0, p.dilation.0, p.padding.0)?;
    let cols = window_axis(op, w, kw, p.strides.1, p.dilation.1, p.padding.1)?;
    Ok(ConvGeometry {
        n,
        cin,
        cout,
        groups,
        rows,
        cols,
    })
}

/// `y = conv2d(x, w) + bias` (NHWC), on the fastest path for its shape (see the module header).
pub fn conv2d(x: &Tensor, w: &Tensor, bias: Option<&Tensor>, p: &Conv2dParams) -> Result<Tensor> {
    conv2d_act(x, w, bias, p, ActSpec::LINEAR)
}

/// `act(conv2d(x, w) + bias)` for an activation the kernels apply ([`ActSpec`]: ReLU, ReLU6,
/// leaky ReLU …): in the implicit GEMM's epilogue, as each tile is stored, or in place on the
/// output of the other paths. The values of [`conv2d`] then the activation.
pub fn conv2d_act(x: &Tensor, w: &Tensor, bias: Option<&Tensor>, p: &Conv2dParams, act: ActSpec) -> Result<Tensor> {
    let g = conv2d_geometry("conv2d", x.shape(), w.shape(), p)?;
    check_bias("conv2d", bias, g.cout, "one per filter")?;
    let b = bias.map(|b| b.data());
    let mut y = if kernels::direct::takes(&g) {
        let mut y = vec![0.0f32; g.n * g.oh() * g.ow() * g.cout];
        kernels::direct::forward(x.data(), w.data(), b, &g, &mut y)?;
        y
    } else if conv_direct::applies(&g) {
        conv_direct::forward(x.data(), w.data(), b, &g, conv_direct::cpu_has_fma())
    } else if g.cin_g() >= IMPLICIT_MIN_CHANNELS {
        return Tensor::new(&g.output_shape(), implicit_forward(x.data(), w.data(), b, &g, act)?);
    } else {
        conv_gemm::forward(x.data(), w.data(), b, &g, COL_BUDGET)?
    };
    if !act.is_linear() {
        use rayon::prelude::*;
        y.par_chunks_mut(1 << 15).for_each(|c| kernels::act::apply_act(&act, c));
    }
    Tensor::new(&g.output_shape(), y)
}

/// Gradients of [`conv2d`]: `(dx, dw, dbias)` for the output gradient `grad_out`.
pub fn conv2d_backward(
    x: &Tensor,
    w: &Tensor,
    grad_out: &Tensor,
    p: &Conv2dParams,
) -> Result<(Tensor, Tensor, Tensor)> {
    Ok(all_grads(x, w, conv2d_backward_parts(x, w, grad_out, p, true, true)?))
}

/// Gradients of [`conv2d`], computing `dx` and `dw` only when asked (the first layer's input
/// needs none). The bias gradient is always computed (it is one cheap sum).
pub fn conv2d_backward_parts(
    x: &Tensor,
    w: &Tensor,
    grad_out: &Tensor,
    p: &Conv2dParams,
    need_dx: bool,
    need_dw: bool,
) -> Result<(Option<Tensor>, Option<Tensor>, Tensor)> {
    let g = conv2d_geometry("conv2d_backward", x.shape(), w.shape(), p)?;
    check_grad("conv2d_backward", grad_out, &g.output_shape())?;
    let dx = if need_dx {
        let dx = match implicit_input_grad(grad_out.data(), w.data(), &g)? {
            Some(dx) => dx,
            None => conv_gemm::input_grad(grad_out.data(), w.data(), &g, COL_BUDGET)?,
        };
        Some(Tensor::new(x.shape(), dx)?)
    } else {
        None
    };
    let (dw, db) = if need_dw && kernels::direct::takes(&g) {
        let dw = kernels::direct::weight_grad(x.data(), grad_out.data(), &g)?;
        (Some(Tensor::new(w.shape(), dw)?), bias_grad(grad_out.data(), g.cout))
    } else if need_dw && conv_direct::applies(&g) {
        let dw = conv_direct::weight_grad(x.data(), grad_out.data(), &g, conv_direct::cpu_has_fma());
        (Some(Tensor::new(w.shape(), dw)?), bias_grad(grad_out.data(), g.cout))
    } else if need_dw {
        let (dw, db) = conv_gemm::weight_grad(x.data(), grad_out.data(), &g, true, COL_BUDGET)?;
        (Some(Tensor::new(w.shape(), dw)?), db)
    } else {
        (None, bias_grad(grad_out.data(), g.cout))
    };
    Ok((dx, dw, Tensor::new(&[g.cout], db)?))
}

/// Below this many input channels per group a tap is too short for the implicit GEMM's
/// per-tap pointer walk (CIFAR's first layer, 3 channels, ran 40% slower there): im2col's
/// contiguous `kh·kw·cin` rows win.
const IMPLICIT_MIN_CHANNELS: usize = 8;

/// The forward on the implicit-GEMM kernels the inference plan runs, bias and `act` in the
/// epilogue; a 3×3 stride-1 convolution by Winograd's F(4×4, 3×3) or F(2×2, 3×3) where it pays
/// on the tape, the kernel transformed on every call ([`kernels::winograd::worth_on_tape`]).
fn implicit_forward(x: &[f32], w: &[f32], bias: Option<&[f32]>, g: &ConvGeometry, act: ActSpec) -> Result<Vec<f32>> {
    let isa = kernels::isa();
    let mut y = crate::kernels::zeros(g.n * g.oh() * g.ow() * g.cout);
    // The weights change every training step: transformed or packed anew each call. Packing
    // is a small part of the convolution's own work; the Winograd transform (36 values per
    // channel pair, 4× the kernel's memory) is not: 512 → 512 at 28×28, batch 1 (49 tiles)
    // took 55–59 ms with it against 18 ms without. Only where many tiles share each
    // transformed weight.
    let (packed, wino);
    let weights = if let Some(variant) = kernels::winograd::worth_on_tape(g) {
        wino = WinogradWeights::pack(isa, w, g.cin, g.cout, variant)?;
        Weights::Winograd(&wino)
    } else {
        packed = PackedWeights::pack(isa, w, g.k_g(), g.cout, g.groups)?;
        Weights::Packed(&packed)
    };
    kernels::conv::conv2d(
        isa,
        ConvArgs {
            geometry: g,
            x,
            weights,
            epilogue: act.with_bias(bias),
            residual: None,
            y: &mut y,
            y_stride: g.cout,
            prologue: None,
        },
    )?;
    Ok(y)
}

/// `dx` of a stride-1 convolution as the forward convolution of `dy` with the kernel
/// turned around (taps reversed, `cin` and `cout` swapped), on the implicit-GEMM kernels,
/// instead of im2col's column gradient (`kh·kw` times the input) and its scatter-add back;
/// `None` where it does not apply (strides, groups, few output channels) or would not pay:
/// 1×1 kernels (no column buffer to save: the `gemm` path was as fast) and `valid` windows
/// over small images, whose turned-around convolution reads mostly padding (a 3×3 on 15×15:
/// 25% of its taps are zeros; 7% slower than im2col there, 10–18% faster for `same`), unless
/// Winograd takes it (the padding is then in tiles transformed like any other: the CIFAR CNN's
/// fourth layer's gradient, with its third layer's forward on Winograd too, fit 1.51 → 1.42 s an
/// epoch).
fn implicit_input_grad(gy: &[f32], w: &[f32], g: &ConvGeometry) -> Result<Option<Vec<f32>>> {
    let (kh, kw) = (g.rows.kernel, g.cols.kernel);
    if g.rows.stride != 1 || g.cols.stride != 1 || g.groups != 1 || g.cout < IMPLICIT_MIN_CHANNELS || g.cin == 0 {
        return Ok(None);
    }
    if kh * kw == 1 {
        return Ok(None);
    }
    // Padding of the turned-around convolution: the window's reach minus the forward's.
    let pad = |a: &crate::shape::AxisGeometry| {
        let reach = a.effective_kernel() - 1;
        (a.pad_before <= reach && a.pad_after <= reach)
            .then(|| Padding::Explicit(reach - a.pad_before, reach - a.pad_after))
    };
    let (Some(rows), Some(cols)) = (pad(&g.rows), pad(&g.cols)) else {
        return Ok(None);
    };
    let p = Conv2dParams {
        strides: (1, 1),
        padding: (rows, cols),
        dilation: (g.rows.dilation, g.cols.dilation),
        groups: 1,
    };
    let gt = conv2d_geometry(
        "conv2d_backward",
        &[g.n, g.oh(), g.ow(), g.cout],
        &[kh, kw, g.cout, g.cin],
        &p,
    )?;
    let inside = (g.oh() * g.ow()) as f64 / (g.rows.input * g.cols.input).max(1) as f64;
    if gt.oh() != g.rows.input
        || gt.ow() != g.cols.input
        || (inside < 0.85 && kernels::winograd::worth_on_tape(&gt).is_none())
    {
        return Ok(None);
    }
    // w'[ky, kx, co, ci] = w[kh−1−ky, kw−1−kx, ci, co].
    let (cin, cout) = (g.cin, g.cout);
    let mut wt = vec![0.0f32; w.len()];
    for t in 0..kh * kw {
        let src = &w[(kh * kw - 1 - t) * cin * cout..][..cin * cout];
        let dst = &mut wt[t * cout * cin..][..cout * cin];
        for ci in 0..cin {
            for co in 0..cout {
                dst[co * cin + ci] = src[ci * cout + co];
            }
        }
    }
    implicit_forward(gy, &wt, None, &gt, ActSpec::LINEAR).map(Some)
}

/// Sum of a `[…, c]` gradient over everything but its last axis (parallel over row blocks,
/// in a fixed order in deterministic mode).
pub(crate) fn bias_grad(gy: &[f32], c: usize) -> Vec<f32> {
    if c == 0 {
        return Vec::new();
    }
    // Rows summed `lanes / c` at a time as flat runs of `lanes` values (a multiple of both `c`
    // and 16, so the adds vectorize even for 6 channels), folded onto the channels at the end.
    let lanes = (c / gcd(c, 16) * 16).min(c * 16);
    let rows_per_task = ((1 << 14) / c + 1).next_multiple_of(lanes / c);
    let block = rows_per_task * c;
    let sums = crate::determinism::fold_ordered(
        gy.len().div_ceil(block),
        1,
        || vec![0.0f32; lanes],
        |mut acc, k| {
            let part = &gy[k * block..((k + 1) * block).min(gy.len())];
            let runs = part.chunks_exact(lanes);
            let rest = runs.remainder();
            crate::kernels::vectorized(
                #[inline(always)]
                || {
                    for run in runs {
                        acc.iter_mut().zip(run).for_each(|(a, v)| *a += v);
                    }
                },
            );
            for row in rest.chunks_exact(c) {
                acc.iter_mut().zip(row).for_each(|(a, v)| *a += v);
            }
            acc
        },
        |mut a, b| {
            a.iter_mut().zip(&b).for_each(|(p, q)| *p += q);
            a
        },
    );
    let mut db = vec![0.0f32; c];
    for (j, s) in sums.iter().enumerate() {
        db[j % c] += s;
    }
    db
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Reference convolution: one loop per index, no tiling, no GEMM.
pub fn conv2d_naive(x: &Tensor, w: &Tensor, bias: Option<&Tensor>, p: &Conv2dParams) -> Result<Tensor> {
    let g = conv2d_geometry("conv2d_naive", x.shape(), w.shape(), p)?;
    check_bias("conv2d_naive", bias, g.cout, "one per filter")?;
    let (n, h, wd, cin, cout) = (g.n, g.rows.input, g.cols.input, g.cin, g.cout);
    let (oh, ow, kh, kw, cg, og) = (g.oh(), g.ow(), g.rows.kernel, g.cols.kernel, g.cin_g(), g.cout_g());
    let (xd, wt) = (x.data(), w.data());
    let mut y = vec![0.0f32; n * oh * ow * cout];
    for b in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                for co in 0..cout {
                    let grp = co / og;
                    let mut s = bias.map_or(0.0, |t| t.data()[co]);
                    for ky in 0..kh {
                        let Some(iy) = tap(oy, ky, &g.rows) else { continue };
                        for kx in 0..kw {
                            let Some(ix) = tap(ox, kx, &g.cols) else { continue };
                            for ci in 0..cg {
                                s += xd[((b * h + iy) * wd + ix) * cin + grp * cg + ci]
                                    * wt[((ky * kw + kx) * cg + ci) * cout + co];
                            }
                        }
                    }
                    y[((b * oh + oy) * ow + ox) * cout + co] = s;
                }
            }
        }
    }
    Tensor::new(&g.output_shape(), y)
}

/// Reference gradients `(dx, dw, dbias)`: the naive loop, accumulating instead of summing.
pub fn conv2d_backward_naive(
    x: &Tensor,
    w: &Tensor,
    grad_out: &Tensor,
    p: &Conv2dParams,
) -> Result<(Tensor, Tensor, Tensor)> {
    let g = conv2d_geometry("conv2d_backward_naive", x.shape(), w.shape(), p)?;
    check_grad("conv2d_backward_naive", grad_out, &g.output_shape())?;
    let (n, h, wd, cin, cout) = (g.n, g.rows.input, g.cols.input, g.cin, g.cout);
    let (oh, ow, kh, kw, cg, og) = (g.oh(), g.ow(), g.rows.kernel, g.cols.kernel, g.cin_g(), g.cout_g());
    let (xd, wt, gy) = (x.data(), w.data(), grad_out.data());
    let mut dx = vec![0.0f32; xd.len()];
    let mut dw = vec![0.0f32; wt.len()];
    let mut db = vec![0.0f32; cout];
    for b in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                for co in 0..cout {
                    let grp = co / og;
                    let d = gy[((b * oh + oy) * ow + ox) * cout + co];
                    db[co] += d;
                    for ky in 0..kh {
                        let Some(iy) = tap(oy, ky, &g.rows) else { continue };
                        for kx in 0..kw {
                            let Some(ix) = tap(ox, kx, &g.cols) else { continue };
                            for ci in 0..cg {
                                let xi = ((b * h + iy) * wd + ix) * cin + grp * cg + ci;
                                let wi = ((ky * kw + kx) * cg + ci) * cout + co;
                                dx[xi] += d * wt[wi];
                                dw[wi] += d * xd[xi];
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
        Tensor::new(&[cout], db)?,
    ))
}

impl Tape {
    /// `conv2d(x, w) + bias` on the tape; see [`conv2d`].
    pub fn conv2d(&mut self, x: Var, w: Var, bias: Option<Var>, p: &Conv2dParams) -> Result<Var> {
        let p = *p;
        self.record_conv(
            x,
            w,
            bias,
            None,
            |x, w, b| conv2d(x, w, b, &p),
            move |x, w, gy, need_dx, need_dw| conv2d_backward_parts(x, w, gy, &p, need_dx, need_dw),
        )
    }

    /// `relu(conv2d(x, w) + bias)` (ReLU6 with [`FusedRelu::RELU6`]) as one node: the
    /// activation in the convolution's epilogue ([`conv2d_act`]) and, in the backward, the
    /// output gradient gated by the output before the convolution's own gradients. The values
    /// and gradients of [`Tape::conv2d`] then [`Tape::relu`] / [`Tape::relu6`], without the
    /// activation's pass over the output and its tensor.
    pub fn conv2d_relu(&mut self, x: Var, w: Var, bias: Option<Var>, p: &Conv2dParams, relu: FusedRelu) -> Result<Var> {
        let p = *p;
        self.record_conv(
            x,
            w,
            bias,
            Some(relu),
            |x, w, b| conv2d_act(x, w, b, &p, relu.act_spec()),
            move |x, w, gy, need_dx, need_dw| conv2d_backward_parts(x, w, gy, &p, need_dx, need_dw),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::winograd::Variant;
    use crate::ops::test_util::{
        assert_tensors_close as close, check_conv_gradients, random as rand_tensor, random_padding,
    };
    use crate::rng::Rng;

    /// `conv2d_relu` on the tape is `conv2d` then `relu` / `relu6`, bit for bit, on every
    /// forward path (the direct kernels, im2col + GEMM, the implicit GEMM's epilogue), with
    /// the gradients of the input, the kernel and the bias: one node instead of two.
    #[test]
    fn conv_relu_on_the_tape_equals_conv_then_relu() {
        use crate::ops::batchnorm::FusedRelu;
        let mut rng = Rng::new(8);
        // (input, kernel): 3 channels to 6 (direct), 5 to 20 (im2col), 12 to 40 (implicit),
        // batch 1 and a stride.
        let cases: [(&[usize], &[usize], (usize, usize)); 4] = [
            (&[2, 9, 9, 3], &[3, 3, 3, 6], (1, 1)),
            (&[2, 7, 8, 5], &[3, 3, 5, 20], (1, 1)),
            (&[1, 9, 7, 12], &[3, 3, 12, 40], (1, 1)),
            (&[2, 9, 9, 16], &[3, 3, 16, 24], (2, 2)),
        ];
        for (xs, ws, strides) in cases {
            for relu in [FusedRelu::RELU, FusedRelu::RELU6] {
                // Weights ×4 so that the outputs cross 6 as well as 0.
                let (x, w, b) = (
                    rand_tensor(&mut rng, xs),
                    crate::ops::elementwise::scale(&rand_tensor(&mut rng, ws), 4.0),
                    rand_tensor(&mut rng, &[ws[3]]),
                );
                let p = Conv2dParams::new(strides, Padding::Same);
                let run = |fused: bool| {
                    let mut t = Tape::new();
                    let (xv, wv, bv) = (t.param(x.clone()), t.param(w.clone()), t.param(b.clone()));
                    let y = if fused {
                        t.conv2d_relu(xv, wv, Some(bv), &p, relu).unwrap()
                    } else {
                        let z = t.conv2d(xv, wv, Some(bv), &p).unwrap();
                        if relu.max_value() == 6.0 {
                            t.relu6(z).unwrap()
                        } else {
                            t.relu(z).unwrap()
                        }
                    };
                    let seed = rand_tensor(&mut Rng::new(3), t.value(y).shape());
                    let g = t.backward_with(y, seed).unwrap();
                    let grads: Vec<Tensor> = [xv, wv, bv].iter().map(|&v| g.get(v).unwrap().clone()).collect();
                    (t.len(), t.value(y).clone(), grads)
                };
                let ((n1, y1, g1), (n2, y2, g2)) = (run(true), run(false));
                let what = format!("{xs:?} * {ws:?}, max {}", relu.max_value());
                assert_eq!(n1 + 1, n2, "{what}: one node");
                assert!(y1.data().iter().any(|&v| v == 0.0), "{what}: some outputs clamped at 0");
                let top = relu.max_value();
                assert!(
                    top.is_infinite() || y1.data().iter().any(|&v| v == top),
                    "{what}: some at 6"
                );
                assert_eq!(y1, y2, "{what}: outputs");
                assert_eq!(g1, g2, "{what}: gradients");
            }
        }
    }

    #[test]
    fn ones_same_counts_window_overlap() {
        // Each output is the number of in-bounds taps: corners 4, edges 6, interior 9.
        let y = conv2d(
            &Tensor::ones(&[1, 3, 3, 1]),
            &Tensor::ones(&[3, 3, 1, 1]),
            None,
            &Conv2dParams::new((1, 1), Padding::Same),
        )
        .unwrap();
        assert_eq!(y.data(), &[4., 6., 4., 6., 9., 6., 4., 6., 4.]);
    }

    #[test]
    fn arange_valid_stride_bias_by_hand() {
        // x = 0..16 on 4×4, kernel [[1, 0], [0, −1]] (x[i][j] − x[i+1][j+1] = −5), stride 2, bias 1.
        let x = Tensor::arange(&[1, 4, 4, 1]);
        let w = Tensor::new(&[2, 2, 1, 1], vec![1., 0., 0., -1.]).unwrap();
        let b = Tensor::new(&[1], vec![1.0]).unwrap();
        let y = conv2d(&x, &w, Some(&b), &Conv2dParams::new((2, 2), Padding::Valid)).unwrap();
        assert_eq!(y.shape(), &[1, 2, 2, 1]);
        assert_eq!(y.data(), &[-4., -4., -4., -4.]);
    }

    #[test]
    fn same_even_input_pads_bottom_right() {
        // 4×4 input 0..16, 3×3 ones, stride 2, same: out 2×2, total pad 1 → 0 top, 1 bottom.
        // Output (0,0) sums rows 0–2, cols 0–2: 0+1+2+4+5+6+8+9+10 = 45.
        let y = conv2d(
            &Tensor::arange(&[1, 4, 4, 1]),
            &Tensor::ones(&[3, 3, 1, 1]),
            None,
            &Conv2dParams::new((2, 2), Padding::Same),
        )
        .unwrap();
        // (0,1): cols 2–3: 2+3+6+7+10+11 = 39; (1,0): rows 2–3: 8+9+10+12+13+14 = 66; (1,1): 10+11+14+15 = 50.
        assert_eq!(y.data(), &[45., 39., 66., 50.]);
    }

    #[test]
    fn groups_and_dilation_by_hand() {
        // Two groups of one channel each: filter 0 sees channel 0 (×1), filter 1 channel 1 (×10).
        let x = Tensor::new(&[1, 1, 3, 2], vec![1., 2., 3., 4., 5., 6.]).unwrap();
        let w = Tensor::new(&[1, 2, 1, 2], vec![1., 10., 1., 10.]).unwrap();
        // Dilation 2 along width: taps at columns 0 and 2.
        let p = Conv2dParams::new((1, 1), Padding::Valid)
            .with_groups(2)
            .with_dilation((1, 2));
        let y = conv2d(&x, &w, None, &p).unwrap();
        assert_eq!(y.shape(), &[1, 1, 1, 2]);
        assert_eq!(y.data(), &[1. + 5., 10. * (2. + 6.)]);
    }

    #[test]
    fn empty_channels_give_the_bias() {
        let (x, w, b) = (
            Tensor::zeros(&[2, 3, 3, 0]),
            Tensor::zeros(&[2, 2, 0, 2]),
            Tensor::new(&[2], vec![1., 2.]).unwrap(),
        );
        let p = Conv2dParams::default();
        let y = conv2d(&x, &w, Some(&b), &p).unwrap();
        assert_eq!(y.shape(), &[2, 2, 2, 2]);
        assert_eq!(y, conv2d_naive(&x, &w, Some(&b), &p).unwrap());
        let (dx, dw, db) = conv2d_backward(&x, &w, &Tensor::ones(&[2, 2, 2, 2]), &p).unwrap();
        assert_eq!((dx.len(), dw.len(), db.data()), (0, 0, &[8.0, 8.0][..]));
    }

    #[test]
    fn backward_by_hand() {
        // y = Σ x over a 2×2 valid window of a 2×2 input: dx = dy·w, dw = dy·x, db = dy.
        let x = Tensor::arange(&[1, 2, 2, 1]);
        let w = Tensor::new(&[2, 2, 1, 1], vec![1., 2., 3., 4.]).unwrap();
        let gy = Tensor::new(&[1, 1, 1, 1], vec![2.0]).unwrap();
        let (dx, dw, db) = conv2d_backward(&x, &w, &gy, &Conv2dParams::default()).unwrap();
        assert_eq!(dx.data(), &[2., 4., 6., 8.]);
        assert_eq!(dw.data(), &[0., 2., 4., 6.]);
        assert_eq!(db.data(), &[2.]);
    }

    /// A random valid case: shapes, strides, paddings (valid/same/explicit), dilations, groups.
    fn random_case(rng: &mut Rng) -> (Vec<usize>, Vec<usize>, Conv2dParams) {
        let groups = 1 + rng.below(3);
        let cin = groups * (1 + rng.below(3));
        let cout = groups * (1 + rng.below(3));
        let (kh, kw) = (1 + rng.below(4), 1 + rng.below(4));
        let padding = (random_padding(rng, 3), random_padding(rng, 3));
        let p = Conv2dParams {
            strides: (1 + rng.below(3), 1 + rng.below(3)),
            padding,
            dilation: (1 + rng.below(2), 1 + rng.below(2)),
            groups,
        };
        let n = 1 + rng.below(3);
        let h = (kh - 1) * p.dilation.0 + 1 + rng.below(6);
        let w = (kw - 1) * p.dilation.1 + 1 + rng.below(6);
        (vec![n, h, w, cin], vec![kh, kw, cin / groups, cout], p)
    }

    #[test]
    fn fast_matches_naive_on_random_cases() {
        let mut rng = Rng::new(2024);
        for case in 0..150 {
            let (xs, ws, p) = random_case(&mut rng);
            let x = rand_tensor(&mut rng, &xs);
            let w = rand_tensor(&mut rng, &ws);
            let b = rand_tensor(&mut rng, &[ws[3]]);
            let what = format!("case {case}: x {xs:?} w {ws:?} {p:?}");
            let fast = conv2d(&x, &w, Some(&b), &p).unwrap();
            close(&fast, &conv2d_naive(&x, &w, Some(&b), &p).unwrap(), &what);
            let gy = rand_tensor(&mut rng, fast.shape());
            let (dx, dw, db) = conv2d_backward(&x, &w, &gy, &p).unwrap();
            let (rx, rw, rb) = conv2d_backward_naive(&x, &w, &gy, &p).unwrap();
            close(&dx, &rx, &format!("dx {what}"));
            close(&dw, &rw, &format!("dw {what}"));
            close(&db, &rb, &format!("db {what}"));
        }
    }

    #[test]
    fn input_gradient_on_the_implicit_gemm_matches_naive() {
        // Stride-1 convolutions with enough filters take the turned-around forward for dx:
        // `same` (TF's uneven split for even kernels), `valid` on larger images, explicit
        // pads, dilations, channel counts off the vector width.
        let mut rng = Rng::new(77);
        let cases: &[([usize; 4], [usize; 4], (Padding, Padding), (usize, usize))] = &[
            ([2, 12, 11, 5], [3, 3, 5, 8], (Padding::Same, Padding::Same), (1, 1)),
            (
                [1, 30, 31, 17],
                [3, 3, 17, 40],
                (Padding::Valid, Padding::Valid),
                (1, 1),
            ),
            ([3, 9, 10, 3], [4, 2, 3, 16], (Padding::Same, Padding::Same), (1, 1)),
            ([1, 14, 13, 6], [3, 3, 6, 9], (Padding::Same, Padding::Same), (2, 1)),
            (
                [2, 10, 12, 4],
                [3, 5, 4, 33],
                (Padding::Explicit(1, 2), Padding::Explicit(2, 1)),
                (1, 1),
            ),
        ];
        for (i, &(xs, ws, padding, dilation)) in cases.iter().enumerate() {
            let p = Conv2dParams {
                strides: (1, 1),
                padding,
                dilation,
                groups: 1,
            };
            let (x, w) = (rand_tensor(&mut rng, &xs), rand_tensor(&mut rng, &ws));
            let g = conv2d_geometry("t", &xs, &ws, &p).unwrap();
            let gy = rand_tensor(&mut rng, &g.output_shape());
            let dx = implicit_input_grad(gy.data(), w.data(), &g).unwrap();
            let dx = dx.unwrap_or_else(|| panic!("case {i} takes the implicit GEMM"));
            let (rx, _, _) = conv2d_backward_naive(&x, &w, &gy, &p).unwrap();
            close(
                &Tensor::new(&xs, dx).unwrap(),
                &rx,
                &format!("case {i}: x {xs:?} w {ws:?} {p:?}"),
            );
        }
        // Strides, groups, 1×1 kernels and mostly-padding windows keep im2col.
        let g = conv2d_geometry("t", &[1, 15, 15, 8], &[3, 3, 8, 8], &Conv2dParams::default()).unwrap();
        assert!(implicit_input_grad(&[0.0; 13 * 13 * 8], &[0.0; 576], &g)
            .unwrap()
            .is_none());
    }

    /// The tape's Winograd convolutions match the naive loops, forward and input gradient: 32
    /// channels at the CIFAR CNN's second layer's size, and its third and fourth layers (15×15,
    /// 512 tiles at batch 32, here 256: the fewest that take it), the fourth's `valid` forward on
    /// F(2×2) and its input gradient (a 15×15 output, 2 pixels of padding) on F(4×4).
    #[test]
    fn tape_winograd_matches_naive() {
        let mut rng = Rng::new(78);
        for (xs, ws, padding, variant) in [
            ([16, 32, 32, 32], [3, 3, 32, 32], Padding::Same, Variant::F4),
            ([21, 30, 30, 32], [3, 3, 32, 32], Padding::Valid, Variant::F4),
            ([16, 15, 15, 32], [3, 3, 32, 64], Padding::Same, Variant::F4),
            ([16, 15, 15, 64], [3, 3, 64, 64], Padding::Valid, Variant::F2),
        ] {
            let p = Conv2dParams::new((1, 1), padding);
            let g = conv2d_geometry("t", &xs, &ws, &p).unwrap();
            assert_eq!(
                kernels::winograd::worth_on_tape(&g),
                Some(variant),
                "{xs:?} {padding:?}"
            );
            let (x, w, b) = (
                rand_tensor(&mut rng, &xs),
                rand_tensor(&mut rng, &ws),
                rand_tensor(&mut rng, &[ws[3]]),
            );
            close(
                &conv2d(&x, &w, Some(&b), &p).unwrap(),
                &conv2d_naive(&x, &w, Some(&b), &p).unwrap(),
                &format!("forward {xs:?} {padding:?}"),
            );
            let gy = rand_tensor(&mut rng, &g.output_shape());
            let (dx, _, _) = conv2d_backward_parts(&x, &w, &gy, &p, true, false).unwrap();
            let (rx, _, _) = conv2d_backward_naive(&x, &w, &gy, &p).unwrap();
            close(&dx.unwrap(), &rx, &format!("dx {xs:?} {padding:?}"));
        }
        // The last case's input gradient: 13×13 → 15×15 with two pixels of padding a side.
        let p = Conv2dParams {
            strides: (1, 1),
            padding: (Padding::Explicit(2, 2), Padding::Explicit(2, 2)),
            dilation: (1, 1),
            groups: 1,
        };
        let gt = conv2d_geometry("t", &[16, 13, 13, 64], &[3, 3, 64, 64], &p).unwrap();
        assert_eq!(kernels::winograd::worth_on_tape(&gt), Some(Variant::F4));
    }

    #[test]
    fn tiny_tiles_and_pointwise_match_naive() {
        // A budget of a few floats forces one-row tiles, many rayon tasks and mid-image starts.
        let mut rng = Rng::new(5);
        for case in 0..40 {
            let (mut xs, mut ws, mut p) = random_case(&mut rng);
            if case % 4 == 0 {
                // 1×1 stride-1 unpadded: the im2col-free path.
                (ws[0], ws[1], p.strides, p.padding, p.groups) = (1, 1, (1, 1), (Padding::Valid, Padding::Valid), 1);
                ws[2] = xs[3];
            }
            xs[0] += 3;
            let x = rand_tensor(&mut rng, &xs);
            let w = rand_tensor(&mut rng, &ws);
            let g = conv2d_geometry("t", &xs, &ws, &p).unwrap();
            let what = format!("case {case}: x {xs:?} w {ws:?} {p:?}");
            let y = conv_gemm::forward(x.data(), w.data(), None, &g, 3).unwrap();
            close(
                &Tensor::new(&g.output_shape(), y).unwrap(),
                &conv2d_naive(&x, &w, None, &p).unwrap(),
                &what,
            );
            let gy = rand_tensor(&mut rng, &g.output_shape());
            let (rx, rw, _) = conv2d_backward_naive(&x, &w, &gy, &p).unwrap();
            let dx = conv_gemm::input_grad(gy.data(), w.data(), &g, 3).unwrap();
            close(&Tensor::new(&xs, dx).unwrap(), &rx, &format!("dx {what}"));
            let (dw, _) = conv_gemm::weight_grad(x.data(), gy.data(), &g, false, 3).unwrap();
            close(&Tensor::new(&ws, dw).unwrap(), &rw, &format!("dw {what}"));
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        let mut rng = Rng::new(11);
        let cases = [
            (
                vec![2, 5, 4, 2],
                vec![3, 2, 2, 3],
                Conv2dParams::new((2, 1), Padding::Same),
            ),
            (
                vec![1, 6, 6, 4],
                vec![2, 2, 2, 4],
                Conv2dParams::new((1, 2), Padding::Valid)
                    .with_groups(2)
                    .with_dilation((2, 1)),
            ),
            (vec![1, 3, 3, 3], vec![1, 1, 3, 2], Conv2dParams::default()),
        ];
        for (xs, ws, p) in cases {
            check_conv_gradients(&mut rng, [&xs, &ws, &[ws[3]]], |t, x, w, b| t.conv2d(x, w, Some(b), &p));
        }
    }

    #[test]
    fn tape_skips_gradients_nobody_needs() {
        let mut tape = Tape::new();
        let x = tape.constant(Tensor::arange(&[1, 3, 3, 1]));
        let w = tape.param(Tensor::ones(&[2, 2, 1, 1]));
        let y = tape.conv2d(x, w, None, &Conv2dParams::default()).unwrap();
        let s = tape.backward_with(y, Tensor::ones(&[1, 2, 2, 1])).unwrap();
        assert!(s.get(x).is_none());
        // dw[ky][kx] = Σ over the four windows of x[oy+ky][ox+kx].
        assert_eq!(s.get(w).unwrap().data(), &[8., 12., 20., 24.]);
    }

    #[test]
    fn errors_name_what_is_wrong() {
        let x = Tensor::zeros(&[1, 4, 4, 4]);
        let err = |w: &[usize], p: Conv2dParams| conv2d(&x, &Tensor::zeros(w), None, &p).unwrap_err().to_string();
        let e = err(&[3, 3, 2, 6], Conv2dParams::default().with_groups(3));
        assert!(
            e.contains("groups") && e.contains("divisor of the input channels (4)") && e.contains("received 3"),
            "{e}"
        );
        let e = err(&[3, 3, 2, 6], Conv2dParams::default().with_groups(4));
        assert!(e.contains("divisor of the filters (6)"), "{e}");
        let e = err(&[3, 3, 3, 6], Conv2dParams::default().with_groups(2));
        assert!(
            e.contains("3 input channels, expected in_channels/groups = 4/2 = 2"),
            "{e}"
        );
        let e = err(&[5, 5, 4, 1], Conv2dParams::default());
        assert!(e.contains("(4 + 0 − 5)/1 + 1 < 1"), "{e}");
        let e = err(&[3, 3, 4, 1], Conv2dParams::new((0, 1), Padding::Valid));
        assert!(e.contains("strides") && e.contains("received 0"), "{e}");
        let e = err(&[3, 3, 4, 1], Conv2dParams::default().with_dilation((1, 0)));
        assert!(e.contains("dilation_rate"), "{e}");
        let e = err(&[3, 3, 4, 1], Conv2dParams::default().with_groups(0));
        assert!(e.contains("groups") && e.contains("positive"), "{e}");
        let e = conv2d(
            &Tensor::zeros(&[4, 4, 4]),
            &Tensor::zeros(&[3, 3, 4, 1]),
            None,
            &Conv2dParams::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("input must have rank 4") && e.contains("[4, 4, 4]"), "{e}");
        let e = conv2d(
            &x,
            &Tensor::zeros(&[3, 3, 4, 2]),
            Some(&Tensor::zeros(&[3])),
            &Conv2dParams::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("bias must have shape [2]"), "{e}");
        let e = conv2d_backward(
            &x,
            &Tensor::zeros(&[3, 3, 4, 2]),
            &Tensor::zeros(&[1, 3, 3, 2]),
            &Conv2dParams::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("output gradient") && e.contains("[1, 2, 2, 2]"), "{e}");
    }
}
