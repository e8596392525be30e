//! Transposed 2-D convolution (Keras `Conv2DTranspose`): NHWC input `[n, h, w, in]`, kernel
//! `(kh, kw, filters, in)` (Keras's layout), optional bias `[filters]`, output
//! `[n, oh, ow, filters]` with `oh` from [`crate::shape::transpose_axis`] (Keras's
//! `deconv_output_length`, `output_padding`, dilation).
//!
//! Keras runs `tf.nn.conv_transpose`: the gradient of a forward convolution, whose input is
//! this op's output, with respect to that input. So that is how it is computed here: the same
//! GEMM + col2im as `conv2d`'s input gradient ([`crate::ops::conv_gemm`]), and its backward
//! is a forward `conv2d` (for `dx`) and `conv2d`'s weight gradient with the roles exchanged
//! (for `dw`). [`conv2d_transpose_naive`] is the scatter loop it is checked against.
//!
//! ```
//! use tensor::{ops::conv_transpose::{conv2d_transpose, Conv2dTransposeParams}, Padding, Tensor};
//! // One row [1, 2], kernel [1, 10] (1×2, one filter, one channel), stride 2, valid:
//! // each input pixel stamps a scaled copy of the kernel → [1, 10, 2, 20].
//! let x = Tensor::new(&[1, 1, 2, 1], vec![1.0, 2.0]).unwrap();
//! let w = Tensor::new(&[1, 2, 1, 1], vec![1.0, 10.0]).unwrap();
//! let y = conv2d_transpose(&x, &w, None, &Conv2dTransposeParams::new((1, 2), Padding::Valid)).unwrap();
//! assert_eq!(y.data(), &[1.0, 10.0, 2.0, 20.0]);
//! ```

use crate::autograd::{Tape, Var};
use crate::error::{shape_err, Result};
use crate::ops::conv::bias_grad;
use crate::ops::conv_common::{all_grads, check_bias, check_grad, check_rank4, tap};
use crate::ops::conv_gemm::{self, ConvGeometry, COL_BUDGET};
use crate::shape::{transpose_axis, AxisGeometry, Padding};
use crate::tensor::Tensor;

/// Arguments of a transposed convolution, Keras's meaning and defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dTransposeParams {
    /// `(stride_h, stride_w)`, each ≥ 1.
    pub strides: (usize, usize),
    /// Padding of the height and width axes (`valid`/`same` as Keras; explicit crops).
    pub padding: (Padding, Padding),
    /// Keras's `output_padding`: `None`, or extra rows/columns at the end, each < stride.
    pub output_padding: Option<(usize, usize)>,
    /// `(dilation_h, dilation_w)`, each ≥ 1.
    pub dilation: (usize, usize),
}

impl Default for Conv2dTransposeParams {
    /// Strides 1, `valid`, no output padding, dilation 1.
    fn default() -> Self {
        Conv2dTransposeParams {
            strides: (1, 1),
            padding: (Padding::Valid, Padding::Valid),
            output_padding: None,
            dilation: (1, 1),
        }
    }
}

impl Conv2dTransposeParams {
    /// Strides and one padding mode for both axes.
    pub fn new(strides: (usize, usize), padding: Padding) -> Self {
        Conv2dTransposeParams {
            strides,
            padding: (padding, padding),
            ..Default::default()
        }
    }

    /// The same, with `output_padding`.
    pub fn with_output_padding(mut self, output_padding: (usize, usize)) -> Self {
        self.output_padding = Some(output_padding);
        self
    }

    /// The same, with a dilation rate.
    pub fn with_dilation(mut self, dilation: (usize, usize)) -> Self {
        self.dilation = dilation;
        self
    }
}

/// One axis of the forward convolution this op is the input gradient of: its input is the
/// transposed output (`out` rows), its output the transposed input (`input` rows).
fn axis(
    op: &'static str,
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    padding: Padding,
    op_pad: Option<usize>,
) -> Result<AxisGeometry> {
    let (out, crop) = transpose_axis(op, input, kernel, stride, dilation, padding, op_pad)?;
    let reach = (input - 1) * stride + (kernel - 1) * dilation + 1;
    Ok(AxisGeometry {
        input: out,
        kernel,
        stride,
        dilation,
        pad_before: crop,
        pad_after: reach.saturating_sub(out + crop),
        output: input,
    })
}

/// Checks shapes and arguments. The returned geometry is the *forward* convolution's:
/// `input_shape()` is this op's output `[n, oh, ow, filters]`, `output_shape()` its input.
pub fn conv2d_transpose_geometry(
    op: &'static str,
    x: &[usize],
    kernel: &[usize],
    p: &Conv2dTransposeParams,
) -> Result<ConvGeometry> {
    check_rank4(op, "input", x, "(batch, height, width, channels)")?;
    check_rank4(op, "kernel", kernel, "(kh, kw, filters, in_channels)")?;
    if kernel[3] != x[3] {
        return shape_err(
            op,
            format!(
                "kernel {kernel:?} expects {} input channels (its last axis), the input has {}",
                kernel[3], x[3]
            ),
        );
    }
    let (oph, opw) = match p.output_padding {
        Some((a, b)) => (Some(a), Some(b)),
        None => (None, None),
    };
    let rows = axis(op, x[1], kernel[0], p.strides.0, p.dilation.0, p.padding.0, oph)?;
    let cols = axis(op, x[2], kernel[1], p.strides.1, p.dilation.1, p.padding.1, opw)?;
    Ok(ConvGeometry {
        n: x[0],
        cin: kernel[2],
        cout: x[3],
        groups: 1,
        rows,
        cols,
    })
}

/// `y = conv2d_transpose(x, w) + bias`: GEMM + col2im, tiled over the batch.
pub fn conv2d_transpose(x: &Tensor, w: &Tensor, bias: Option<&Tensor>, p: &Conv2dTransposeParams) -> Result<Tensor> {
    let g = conv2d_transpose_geometry("conv2d_transpose", x.shape(), w.shape(), p)?;
    check_bias("conv2d_transpose", bias, g.cin, "one per filter")?;
    let mut y = conv_gemm::input_grad(x.data(), w.data(), &g, COL_BUDGET)?;
    if let Some(b) = bias {
        for row in y.chunks_exact_mut(g.cin.max(1)) {
            row.iter_mut().zip(b.data()).for_each(|(v, bv)| *v += bv);
        }
    }
    Tensor::new(&g.input_shape(), y)
}

/// Gradients of [`conv2d_transpose`]: `(dx, dw, dbias)`.
pub fn conv2d_transpose_backward(
    x: &Tensor,
    w: &Tensor,
    grad_out: &Tensor,
    p: &Conv2dTransposeParams,
) -> Result<(Tensor, Tensor, Tensor)> {
    Ok(all_grads(
        x,
        w,
        conv2d_transpose_backward_parts(x, w, grad_out, p, true, true)?,
    ))
}

/// Gradients of [`conv2d_transpose`], computing `dx` and `dw` only when asked:
/// `dx = conv2d(dy, w)`, `dw = conv2d`'s weight gradient with input `dy` and output gradient `x`.
pub fn conv2d_transpose_backward_parts(
    x: &Tensor,
    w: &Tensor,
    grad_out: &Tensor,
    p: &Conv2dTransposeParams,
    need_dx: bool,
    need_dw: bool,
) -> Result<(Option<Tensor>, Option<Tensor>, Tensor)> {
    let g = conv2d_transpose_geometry("conv2d_transpose_backward", x.shape(), w.shape(), p)?;
    check_grad("conv2d_transpose_backward", grad_out, &g.input_shape())?;
    let dx = if need_dx {
        Some(Tensor::new(
            x.shape(),
            conv_gemm::forward(grad_out.data(), w.data(), None, &g, COL_BUDGET)?,
        )?)
    } else {
        None
    };
    let dw = if need_dw {
        Some(Tensor::new(
            w.shape(),
            conv_gemm::weight_grad(grad_out.data(), x.data(), &g, false, COL_BUDGET)?.0,
        )?)
    } else {
        None
    };
    Ok((dx, dw, Tensor::new(&[g.cin], bias_grad(grad_out.data(), g.cin))?))
}

/// Reference: every input pixel stamps the kernel, scaled, onto the output.
pub fn conv2d_transpose_naive(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    p: &Conv2dTransposeParams,
) -> Result<Tensor> {
    let g = conv2d_transpose_geometry("conv2d_transpose_naive", x.shape(), w.shape(), p)?;
    check_bias("conv2d_transpose_naive", bias, g.cin, "one per filter")?;
    let [n, oh, ow, f] = g.input_shape();
    let (h, wd, c, kh, kw) = (x.shape()[1], x.shape()[2], x.shape()[3], g.rows.kernel, g.cols.kernel);
    let mut y = vec![0.0f32; n * oh * ow * f];
    if let Some(b) = bias {
        y.chunks_exact_mut(f.max(1))
            .for_each(|row| row.copy_from_slice(b.data()));
    }
    for b in 0..n {
        for i in 0..h {
            for j in 0..wd {
                for ci in 0..c {
                    let v = x.data()[((b * h + i) * wd + j) * c + ci];
                    for ky in 0..kh {
                        let Some(oy) = tap(i, ky, &g.rows) else { continue };
                        for kx in 0..kw {
                            let Some(ox) = tap(j, kx, &g.cols) else { continue };
                            for fi in 0..f {
                                y[((b * oh + oy) * ow + ox) * f + fi] +=
                                    v * w.data()[((ky * kw + kx) * f + fi) * c + ci];
                            }
                        }
                    }
                }
            }
        }
    }
    Tensor::new(&g.input_shape(), y)
}

/// Reference gradients `(dx, dw, dbias)` of the scatter loop.
pub fn conv2d_transpose_backward_naive(
    x: &Tensor,
    w: &Tensor,
    grad_out: &Tensor,
    p: &Conv2dTransposeParams,
) -> Result<(Tensor, Tensor, Tensor)> {
    let g = conv2d_transpose_geometry("conv2d_transpose_backward_naive", x.shape(), w.shape(), p)?;
    check_grad("conv2d_transpose_backward_naive", grad_out, &g.input_shape())?;
    let [n, oh, ow, f] = g.input_shape();
    let (h, wd, c, kh, kw) = (x.shape()[1], x.shape()[2], x.shape()[3], g.rows.kernel, g.cols.kernel);
    let (mut dx, mut dw) = (vec![0.0f32; x.len()], vec![0.0f32; w.len()]);
    for b in 0..n {
        for i in 0..h {
            for j in 0..wd {
                for ci in 0..c {
                    let xi = ((b * h + i) * wd + j) * c + ci;
                    for ky in 0..kh {
                        let Some(oy) = tap(i, ky, &g.rows) else { continue };
                        for kx in 0..kw {
                            let Some(ox) = tap(j, kx, &g.cols) else { continue };
                            for fi in 0..f {
                                let (yi, wi) = (((b * oh + oy) * ow + ox) * f + fi, ((ky * kw + kx) * f + fi) * c + ci);
                                dx[xi] += grad_out.data()[yi] * w.data()[wi];
                                dw[wi] += grad_out.data()[yi] * x.data()[xi];
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
        Tensor::new(&[f], bias_grad(grad_out.data(), f))?,
    ))
}

impl Tape {
    /// `conv2d_transpose(x, w) + bias` on the tape; see [`conv2d_transpose`].
    pub fn conv2d_transpose(&mut self, x: Var, w: Var, bias: Option<Var>, p: &Conv2dTransposeParams) -> Result<Var> {
        let p = *p;
        self.record_conv(
            x,
            w,
            bias,
            None,
            |x, w, b| conv2d_transpose(x, w, b, &p),
            move |x, w, gy, need_dx, need_dw| conv2d_transpose_backward_parts(x, w, gy, &p, need_dx, need_dw),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::conv::{conv2d_backward_naive, Conv2dParams};
    use crate::ops::test_util::{
        assert_tensors_close as close, check_conv_gradients, random as rand_tensor, random_padding,
    };
    use crate::rng::Rng;

    fn row(x: &[f32], k: &[f32], p: Conv2dTransposeParams) -> Vec<f32> {
        let x = Tensor::new(&[1, 1, x.len(), 1], x.to_vec()).unwrap();
        let w = Tensor::new(&[1, k.len(), 1, 1], k.to_vec()).unwrap();
        conv2d_transpose(&x, &w, None, &p).unwrap().into_data()
    }

    #[test]
    fn stamps_by_hand() {
        let s = |a, pad| Conv2dTransposeParams::new((1, a), pad);
        // Stride 1 valid: overlapping stamps [1, 10] and [2, 20] → [1, 12, 20].
        assert_eq!(row(&[1., 2.], &[1., 10.], s(1, Padding::Valid)), vec![1., 12., 20.]);
        // Stride 3 valid: out 2·3 + max(2 − 3, 0) = 6, a gap between the stamps.
        assert_eq!(
            row(&[1., 2.], &[1., 10.], s(3, Padding::Valid)),
            vec![1., 10., 0., 2., 20., 0.]
        );
        // Stride 1 same, kernel 3: out 2, full [1, 12, 22, 20]... with kernel [1, 10, 1]:
        // full = [1, 10+2, 1+20, 2] = [1, 12, 21, 2], crop 1 in front → [12, 21].
        assert_eq!(row(&[1., 2.], &[1., 10., 1.], s(1, Padding::Same)), vec![12., 21.]);
        // Stride 2 same, output_padding 1, kernel 3: out (2−1)·2 + 1 + 1 = 4, full 5 → crop 0:
        // full = [1, 10, 1+2, 20, 2] → [1, 10, 3, 20].
        assert_eq!(
            row(
                &[1., 2.],
                &[1., 10., 1.],
                s(2, Padding::Same).with_output_padding((0, 1))
            ),
            vec![1., 10., 3., 20.]
        );
        // Dilation 2: kernel taps 2 apart: [1, 0, 10] and [2, 0, 20] shifted by 1 → [1, 2, 10, 20].
        assert_eq!(
            row(&[1., 2.], &[1., 10.], s(1, Padding::Valid).with_dilation((1, 2))),
            vec![1., 2., 10., 20.]
        );
    }

    #[test]
    fn is_the_input_gradient_of_conv2d() {
        // conv2d_transpose(x, w) = the dx of a conv2d whose output gradient is x (same kernel).
        let mut rng = Rng::new(1);
        let (x, w) = (
            rand_tensor(&mut rng, &[2, 4, 3, 3]),
            rand_tensor(&mut rng, &[3, 2, 5, 3]),
        );
        let y = conv2d_transpose(&x, &w, None, &Conv2dTransposeParams::new((2, 1), Padding::Same)).unwrap();
        assert_eq!(y.shape(), &[2, 8, 3, 5]);
        let (dx, _, _) = conv2d_backward_naive(
            &Tensor::zeros(y.shape()),
            &w,
            &x,
            &Conv2dParams::new((2, 1), Padding::Same),
        )
        .unwrap();
        close(&y, &dx, "transpose vs conv2d input gradient");
    }

    #[test]
    fn fast_matches_naive_on_random_cases() {
        let mut rng = Rng::new(31);
        let mut tested = 0;
        for case in 0..200 {
            let (cin, f) = (1 + rng.below(4), 1 + rng.below(4));
            let (kh, kw) = (1 + rng.below(4), 1 + rng.below(4));
            let padding = (random_padding(&mut rng, 2), random_padding(&mut rng, 2));
            let strides = (1 + rng.below(3), 1 + rng.below(3));
            let output_padding = (rng.below(2) == 0).then(|| (rng.below(strides.0), rng.below(strides.1)));
            let p = Conv2dTransposeParams {
                strides,
                padding,
                output_padding,
                dilation: (1 + rng.below(2), 1 + rng.below(2)),
            };
            let xs = [1 + rng.below(3), 1 + rng.below(5), 1 + rng.below(5), cin];
            let ws = [kh, kw, f, cin];
            // Some combinations are refused (as by TensorFlow); those are tested elsewhere.
            if conv2d_transpose_geometry("t", &xs, &ws, &p).is_err() {
                continue;
            }
            tested += 1;
            let (x, w, b) = (
                rand_tensor(&mut rng, &xs),
                rand_tensor(&mut rng, &ws),
                rand_tensor(&mut rng, &[f]),
            );
            let what = format!("case {case}: x {xs:?} w {ws:?} {p:?}");
            let y = conv2d_transpose(&x, &w, Some(&b), &p).unwrap();
            close(&y, &conv2d_transpose_naive(&x, &w, Some(&b), &p).unwrap(), &what);
            let gy = rand_tensor(&mut rng, y.shape());
            let (dx, dw, db) = conv2d_transpose_backward(&x, &w, &gy, &p).unwrap();
            let (rx, rw, rb) = conv2d_transpose_backward_naive(&x, &w, &gy, &p).unwrap();
            close(&dx, &rx, &format!("dx {what}"));
            close(&dw, &rw, &format!("dw {what}"));
            close(&db, &rb, &format!("db {what}"));
        }
        assert!(tested > 120, "only {tested} cases ran");
    }

    #[test]
    fn gradients_match_finite_differences() {
        let mut rng = Rng::new(4);
        for (xs, ws, p) in [
            (
                [2, 3, 2, 2],
                [3, 2, 3, 2],
                Conv2dTransposeParams::new((2, 1), Padding::Same),
            ),
            (
                [1, 2, 3, 3],
                [2, 3, 2, 3],
                Conv2dTransposeParams::new((2, 2), Padding::Valid)
                    .with_output_padding((1, 0))
                    .with_dilation((1, 2)),
            ),
        ] {
            check_conv_gradients(&mut rng, [&xs, &ws, &[ws[2]]], |t, x, w, b| {
                t.conv2d_transpose(x, w, Some(b), &p)
            });
        }
    }

    #[test]
    fn errors_name_what_is_wrong() {
        let x = Tensor::zeros(&[1, 4, 4, 3]);
        let err = |w: &[usize], p: Conv2dTransposeParams| {
            conv2d_transpose(&x, &Tensor::zeros(w), None, &p)
                .unwrap_err()
                .to_string()
        };
        let e = err(&[3, 3, 2, 4], Conv2dTransposeParams::default());
        assert!(
            e.contains("conv2d_transpose") && e.contains("expects 4 input channels") && e.contains("has 3"),
            "{e}"
        );
        let e = err(
            &[3, 3, 2, 3],
            Conv2dTransposeParams::new((2, 2), Padding::Valid).with_output_padding((2, 0)),
        );
        assert!(
            e.contains("output_padding") && e.contains("less than strides (2)"),
            "{e}"
        );
        let e = err(
            &[4, 4, 2, 3],
            Conv2dTransposeParams::new((2, 2), Padding::Same).with_output_padding((0, 0)),
        );
        assert!(e.contains("≠ input 4"), "{e}");
        let e = err(&[3, 3, 2, 3], Conv2dTransposeParams::new((0, 1), Padding::Valid));
        assert!(e.contains("strides") && e.contains("received 0"), "{e}");
        let e = conv2d_transpose(
            &x,
            &Tensor::zeros(&[3, 3, 2, 3]),
            Some(&Tensor::zeros(&[3])),
            &Conv2dTransposeParams::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("bias must have shape [2]"), "{e}");
        let e = conv2d_transpose_backward(
            &x,
            &Tensor::zeros(&[3, 3, 2, 3]),
            &Tensor::zeros(&[1, 4, 4, 2]),
            &Conv2dTransposeParams::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("output gradient") && e.contains("[1, 6, 6, 2]"), "{e}");
    }
}
