//! Padding and cropping: `zero_pad2d` and `crop2d` on NHWC (Keras's `ZeroPadding2D` and
//! `Cropping2D`), and `pad` / `crop` of any rank with a constant fill. Padding and cropping
//! are each other's adjoint, so each one's backward is the other.
//!
//! Shapes: `zero_pad2d`: `(n, h, w, c)` → `(n, top + h + bottom, left + w + right, c)`;
//! `crop2d`: `(n, h, w, c)` → `(n, h − top − bottom, w − left − right, c)`; `pad`: every axis
//! `d` → `before + d + after`.
//!
//! ```
//! use tensor::{ops::pad::zero_pad2d, Tensor};
//! let x = Tensor::ones(&[1, 2, 2, 1]);
//! let y = zero_pad2d(&x, 1, 0, 1, 0).unwrap();
//! assert_eq!(y.shape(), &[1, 3, 3, 1]);
//! assert_eq!(y.data(), &[0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
//! ```

use rayon::prelude::*;

use crate::autograd::{Tape, Var};
use crate::error::{shape_err, Result};
use crate::tensor::{numel, strides_of, Tensor};

/// Below this many copied values a box copy stays on one thread.
const PARALLEL_MIN_VALUES: usize = 1 << 16;

/// Copies the box of size `extent` that starts at `src_off` in `src` (shape `src_shape`) to
/// `dst_off` in `dst` (shape `dst_shape`). Callers guarantee the box fits both tensors.
///
/// The trailing axes the box spans whole are merged, so each copy is one contiguous run;
/// a large copy splits its first axis across threads.
pub(crate) fn copy_box(
    src: &[f32],
    src_shape: &[usize],
    src_off: &[usize],
    dst: &mut [f32],
    dst_shape: &[usize],
    dst_off: &[usize],
    extent: &[usize],
) {
    let rank = extent.len();
    if rank == 0 {
        if let (Some(d), Some(s)) = (dst.first_mut(), src.first()) {
            *d = *s;
        }
        return;
    }
    if extent.contains(&0) {
        return;
    }
    let total = numel(extent);
    if rank >= 2 && total >= PARALLEL_MIN_VALUES && extent[0] > 1 {
        let src_step = numel(&src_shape[1..]);
        let dst_step = numel(&dst_shape[1..]);
        if src_step > 0 && dst_step > 0 {
            let rows = &mut dst[dst_off[0] * dst_step..(dst_off[0] + extent[0]) * dst_step];
            rows.par_chunks_mut(dst_step).enumerate().for_each(|(i, d)| {
                let s = &src[(src_off[0] + i) * src_step..(src_off[0] + i + 1) * src_step];
                copy_box(
                    s,
                    &src_shape[1..],
                    &src_off[1..],
                    d,
                    &dst_shape[1..],
                    &dst_off[1..],
                    &extent[1..],
                );
            });
            return;
        }
    }
    // Axis k is the outermost axis from which on every later axis is spanned whole in
    // both tensors: from k on, each box row is one contiguous run.
    let mut k = rank - 1;
    while k > 0 && src_shape[k] == extent[k] && dst_shape[k] == extent[k] {
        k -= 1;
    }
    let ss = strides_of(src_shape);
    let ds = strides_of(dst_shape);
    let run = extent[k] * ss[k];
    let mut idx = vec![0usize; k];
    loop {
        let mut s = src_off[k] * ss[k];
        let mut d = dst_off[k] * ds[k];
        for j in 0..k {
            s += (src_off[j] + idx[j]) * ss[j];
            d += (dst_off[j] + idx[j]) * ds[j];
        }
        dst[d..d + run].copy_from_slice(&src[s..s + run]);
        // Odometer over the axes before k.
        let mut j = k;
        loop {
            if j == 0 {
                return;
            }
            j -= 1;
            idx[j] += 1;
            if idx[j] < extent[j] {
                break;
            }
            idx[j] = 0;
        }
    }
}

/// Pads every axis with `value`: `pads[i] = (before, after)` for axis `i`.
pub fn pad(x: &Tensor, pads: &[(usize, usize)], value: f32) -> Result<Tensor> {
    if pads.len() != x.rank() {
        return shape_err(
            "pad",
            format!(
                "expected one (before, after) pair per axis ({} for shape {:?}), received {}",
                x.rank(),
                x.shape(),
                pads.len()
            ),
        );
    }
    let out_shape: Vec<usize> = x.shape().iter().zip(pads).map(|(&d, &(a, b))| a + d + b).collect();
    let mut out = Tensor::full(&out_shape, value);
    let zeros = vec![0; x.rank()];
    let before: Vec<usize> = pads.iter().map(|p| p.0).collect();
    copy_box(
        x.data(),
        x.shape(),
        &zeros,
        out.data_mut(),
        &out_shape,
        &before,
        x.shape(),
    );
    Ok(out)
}

/// Removes `crops[i] = (before, after)` values from both ends of every axis `i`: the adjoint
/// of [`pad`], and its backward.
pub fn crop(x: &Tensor, crops: &[(usize, usize)]) -> Result<Tensor> {
    if crops.len() != x.rank() {
        return shape_err(
            "crop",
            format!(
                "expected one (before, after) pair per axis ({} for shape {:?}), received {}",
                x.rank(),
                x.shape(),
                crops.len()
            ),
        );
    }
    for (axis, (&d, &(a, b))) in x.shape().iter().zip(crops).enumerate() {
        if a + b > d {
            return shape_err(
                "crop",
                format!(
                    "axis {axis}: cropping {a} + {b} exceeds its size {d} (shape {:?})",
                    x.shape()
                ),
            );
        }
    }
    let out_shape: Vec<usize> = x.shape().iter().zip(crops).map(|(&d, &(a, b))| d - a - b).collect();
    let mut out = Tensor::zeros(&out_shape);
    let before: Vec<usize> = crops.iter().map(|p| p.0).collect();
    let zeros = vec![0; x.rank()];
    copy_box(
        x.data(),
        x.shape(),
        &before,
        out.data_mut(),
        &out_shape,
        &zeros,
        &out_shape,
    );
    Ok(out)
}

/// Backward of [`pad`]: the output gradient cropped back to the input's shape.
pub fn pad_backward(grad_out: &Tensor, pads: &[(usize, usize)]) -> Result<Tensor> {
    crop(grad_out, pads)
}

/// Backward of [`crop`]: the output gradient padded with zeros back to the input's shape.
pub fn crop_backward(grad_out: &Tensor, crops: &[(usize, usize)]) -> Result<Tensor> {
    pad(grad_out, crops, 0.0)
}

fn check_nhwc(op: &'static str, x: &Tensor) -> Result<(usize, usize)> {
    match *x.shape() {
        [_, h, w, _] => Ok((h, w)),
        _ => shape_err(
            op,
            format!(
                "expected a 4-D input (batch, height, width, channels), received shape {:?}",
                x.shape()
            ),
        ),
    }
}

fn spatial(top: usize, bottom: usize, left: usize, right: usize) -> [(usize, usize); 4] {
    [(0, 0), (top, bottom), (left, right), (0, 0)]
}

/// Keras's `ZeroPadding2D` on NHWC: zero rows above and below, zero columns left and right.
pub fn zero_pad2d(x: &Tensor, top: usize, bottom: usize, left: usize, right: usize) -> Result<Tensor> {
    check_nhwc("zero_pad2d", x)?;
    pad(x, &spatial(top, bottom, left, right), 0.0)
}

/// Backward of [`zero_pad2d`]: the gradient with the padded border cropped off.
pub fn zero_pad2d_backward(grad_out: &Tensor, top: usize, bottom: usize, left: usize, right: usize) -> Result<Tensor> {
    check_nhwc("zero_pad2d", grad_out)?;
    crop(grad_out, &spatial(top, bottom, left, right))
}

/// Keras's `Cropping2D` on NHWC: drops rows at the top and bottom, columns left and right.
/// At least one row and one column must remain.
pub fn crop2d(x: &Tensor, top: usize, bottom: usize, left: usize, right: usize) -> Result<Tensor> {
    let (h, w) = check_nhwc("crop2d", x)?;
    if top + bottom >= h {
        return shape_err(
            "crop2d",
            format!(
                "cropping top {top} + bottom {bottom} leaves no row of height {h} (input shape {:?})",
                x.shape()
            ),
        );
    }
    if left + right >= w {
        return shape_err(
            "crop2d",
            format!(
                "cropping left {left} + right {right} leaves no column of width {w} (input shape {:?})",
                x.shape()
            ),
        );
    }
    crop(x, &spatial(top, bottom, left, right))
}

/// Backward of [`crop2d`]: the gradient with a zero border put back.
pub fn crop2d_backward(grad_out: &Tensor, top: usize, bottom: usize, left: usize, right: usize) -> Result<Tensor> {
    check_nhwc("crop2d", grad_out)?;
    pad(grad_out, &spatial(top, bottom, left, right), 0.0)
}

/// Reference for [`pad`]: one output element at a time, from its multi-index.
pub fn pad_naive(x: &Tensor, pads: &[(usize, usize)], value: f32) -> Result<Tensor> {
    if pads.len() != x.rank() {
        return shape_err(
            "pad",
            format!("expected {} (before, after) pairs, received {}", x.rank(), pads.len()),
        );
    }
    let out_shape: Vec<usize> = x.shape().iter().zip(pads).map(|(&d, &(a, b))| a + d + b).collect();
    let in_strides = x.strides();
    let mut out = vec![value; numel(&out_shape)];
    for (flat, o) in out.iter_mut().enumerate() {
        let mut rest = flat;
        let mut src = 0;
        let mut inside = true;
        for axis in (0..out_shape.len()).rev() {
            let i = rest % out_shape[axis];
            rest /= out_shape[axis];
            let (before, _) = pads[axis];
            if i < before || i >= before + x.shape()[axis] {
                inside = false;
            } else {
                src += (i - before) * in_strides[axis];
            }
        }
        if inside {
            *o = x.data()[src];
        }
    }
    Tensor::new(&out_shape, out)
}

impl Tape {
    /// [`pad`] on the tape; the gradient is the cropped output gradient.
    pub fn pad(&mut self, x: Var, pads: &[(usize, usize)], value: f32) -> Result<Var> {
        let out = pad(self.try_value(x)?, pads, value)?;
        let pads = pads.to_vec();
        self.record(
            out,
            &[x],
            Box::new(move |g, _, _| Ok(vec![Some(pad_backward(g, &pads)?)])),
        )
    }

    /// [`zero_pad2d`] on the tape.
    pub fn zero_pad2d(&mut self, x: Var, top: usize, bottom: usize, left: usize, right: usize) -> Result<Var> {
        let out = zero_pad2d(self.try_value(x)?, top, bottom, left, right)?;
        self.record(
            out,
            &[x],
            Box::new(move |g, _, _| Ok(vec![Some(zero_pad2d_backward(g, top, bottom, left, right)?)])),
        )
    }

    /// [`crop2d`] on the tape.
    pub fn crop2d(&mut self, x: Var, top: usize, bottom: usize, left: usize, right: usize) -> Result<Var> {
        let out = crop2d(self.try_value(x)?, top, bottom, left, right)?;
        self.record(
            out,
            &[x],
            Box::new(move |g, _, _| Ok(vec![Some(crop2d_backward(g, top, bottom, left, right)?)])),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::check_gradients;
    use crate::ops::test_util::random;
    use crate::rng::Rng;

    #[test]
    fn zero_pad2d_by_hand() {
        // 2×2 image of 1, 2 / 3, 4 with one channel, padded top 1, right 2.
        let x = Tensor::new(&[1, 2, 2, 1], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        let y = zero_pad2d(&x, 1, 0, 0, 2).unwrap();
        assert_eq!(y.shape(), &[1, 3, 4, 1]);
        #[rustfmt::skip]
        let want = [0.0, 0.0, 0.0, 0.0,
                    1.0, 2.0, 0.0, 0.0,
                    3.0, 4.0, 0.0, 0.0];
        assert_eq!(y.data(), &want);
        // Two channels stay interleaved.
        let x = Tensor::arange(&[1, 1, 1, 2]);
        let y = zero_pad2d(&x, 0, 0, 1, 0).unwrap();
        assert_eq!(y.data(), &[0.0, 0.0, 0.0, 1.0]);
    }

    #[test]
    fn crop2d_by_hand() {
        let x = Tensor::arange(&[1, 3, 4, 1]);
        let y = crop2d(&x, 1, 1, 1, 2).unwrap();
        assert_eq!(y.shape(), &[1, 1, 1, 1]);
        assert_eq!(y.data(), &[5.0]);
        let y = crop2d(&x, 0, 1, 2, 0).unwrap();
        assert_eq!(y.data(), &[2.0, 3.0, 6.0, 7.0]);
    }

    #[test]
    fn pad_with_value_any_rank() {
        let x = Tensor::arange(&[3]);
        assert_eq!(
            pad(&x, &[(2, 1)], -1.0).unwrap().data(),
            &[-1.0, -1.0, 0.0, 1.0, 2.0, -1.0]
        );
        let s = Tensor::scalar(5.0);
        assert_eq!(pad(&s, &[], 0.0).unwrap().data(), &[5.0]);
        let x = Tensor::arange(&[2, 2]);
        let y = pad(&x, &[(1, 0), (0, 1)], 9.0).unwrap();
        assert_eq!(y.data(), &[9.0, 9.0, 9.0, 0.0, 1.0, 9.0, 2.0, 3.0, 9.0]);
    }

    #[test]
    fn fast_pad_matches_naive_and_crop_undoes_it() {
        let mut rng = Rng::new(11);
        for case in 0..150 {
            let rank = 1 + rng.below(5);
            // A few cases large enough to take the threaded path.
            let big = case % 25 == 0;
            let shape: Vec<usize> = (0..rank)
                .map(|i| {
                    if big && i < 2 {
                        20 + rng.below(30)
                    } else {
                        1 + rng.below(5)
                    }
                })
                .collect();
            let pads: Vec<(usize, usize)> = (0..rank).map(|_| (rng.below(3), rng.below(3))).collect();
            let x = random(&mut rng, &shape);
            let fast = pad(&x, &pads, 0.5).unwrap();
            let naive = pad_naive(&x, &pads, 0.5).unwrap();
            assert_eq!(fast, naive, "case {case}: shape {shape:?} pads {pads:?}");
            assert_eq!(crop(&fast, &pads).unwrap(), x, "case {case}");
            // Adjointness: <pad0(x), y> = <x, crop(y)>.
            let z = pad(&x, &pads, 0.0).unwrap();
            let y = random(&mut rng, z.shape());
            let lhs: f64 = z
                .data()
                .iter()
                .zip(y.data())
                .map(|(a, b)| (*a as f64) * (*b as f64))
                .sum();
            let cy = crop(&y, &pads).unwrap();
            let rhs: f64 = x
                .data()
                .iter()
                .zip(cy.data())
                .map(|(a, b)| (*a as f64) * (*b as f64))
                .sum();
            assert!((lhs - rhs).abs() < 1e-4, "case {case}: {lhs} vs {rhs}");
        }
    }

    #[test]
    fn gradients_of_pad_and_crop() {
        let mut rng = Rng::new(3);
        let x = random(&mut rng, &[2, 3, 2, 2]);
        check_gradients(
            std::slice::from_ref(&x),
            |t, v| t.zero_pad2d(v[0], 1, 2, 0, 1),
            1e-2,
            1e-2,
        )
        .unwrap();
        check_gradients(std::slice::from_ref(&x), |t, v| t.crop2d(v[0], 1, 1, 0, 1), 1e-2, 1e-2).unwrap();
        check_gradients(
            &[x],
            |t, v| t.pad(v[0], &[(0, 1), (1, 0), (0, 0), (2, 1)], 3.0),
            1e-2,
            1e-2,
        )
        .unwrap();
    }

    #[test]
    fn errors_name_op_and_sizes() {
        let x = Tensor::zeros(&[1, 5, 4, 2]);
        let e = crop2d(&x, 3, 2, 0, 0).unwrap_err().to_string();
        assert!(
            e.starts_with("crop2d:") && e.contains("top 3 + bottom 2") && e.contains("height 5"),
            "{e}"
        );
        let e = crop2d(&x, 0, 0, 2, 2).unwrap_err().to_string();
        assert!(e.contains("left 2 + right 2") && e.contains("width 4"), "{e}");
        let e = zero_pad2d(&Tensor::zeros(&[5, 4]), 1, 1, 1, 1).unwrap_err().to_string();
        assert!(
            e.starts_with("zero_pad2d:") && e.contains("4-D") && e.contains("[5, 4]"),
            "{e}"
        );
        let e = pad(&x, &[(1, 1)], 0.0).unwrap_err().to_string();
        assert!(
            e.contains("one (before, after) pair per axis (4") && e.contains("received 1"),
            "{e}"
        );
        let e = crop(&x, &[(0, 0), (3, 3), (0, 0), (0, 0)]).unwrap_err().to_string();
        assert!(e.contains("axis 1: cropping 3 + 3 exceeds its size 5"), "{e}");
    }
}
