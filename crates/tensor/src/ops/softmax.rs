//! `softmax` and `log_softmax` over one axis (Keras's default: the last), numerically
//! stable: the maximum along the axis is subtracted first, as TensorFlow does.
//! `softmax(x)ᵢ = e^{xᵢ − m} / Σⱼ e^{xⱼ − m}`, `log_softmax(x)ᵢ = xᵢ − m − ln Σⱼ e^{xⱼ − m}`.
//!
//! The input is seen as `(outer, n, inner)` around the axis; with the last axis (`inner = 1`)
//! every vector is a contiguous row. Blocks of rows are spread over rayon's threads.
//! Gradients: `softmax′: g ↦ y·(g − Σ g·y)`, `log_softmax′: g ↦ g − e^y·Σ g`.

use rayon::prelude::*;

use crate::autograd::{Tape, Var};
use crate::error::{shape_err, Result};
use crate::ops::elementwise::{PAR_CHUNK, PAR_MIN_LEN};
use crate::ops::reduce::normalize_axis;
use crate::tensor::Tensor;

/// `(outer, n, inner)` around `axis`.
fn split(op: &'static str, shape: &[usize], axis: isize) -> Result<(usize, usize, usize)> {
    let ax = normalize_axis(op, axis, shape.len())?;
    Ok((
        shape[..ax].iter().product(),
        shape[ax],
        shape[ax + 1..].iter().product(),
    ))
}

/// Runs `f(first_block, chunk)` over chunks of whole `block`-sized pieces of `out`, in
/// parallel when large; `f` keeps its scratch for a whole chunk.
fn par_blocks(out: &mut [f32], block: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    if block == 0 || out.is_empty() {
        return;
    }
    if out.len() >= PAR_MIN_LEN {
        let per = (PAR_CHUNK / block).max(1);
        out.par_chunks_mut(per * block)
            .enumerate()
            .for_each(|(t, c)| f(t * per, c));
    } else {
        f(0, out);
    }
}

/// Softmax (or log-softmax) of each contiguous row of `n` values of `src` into `dst` (as
/// long): the last axis's case, the classifier's, with the same operations in the same
/// order as [`softmax`]'s general loop (so the same results), without its per-axis vectors.
pub fn softmax_rows(src: &[f32], n: usize, log: bool, dst: &mut [f32]) {
    if n == 0 {
        return;
    }
    for (s, d) in src.chunks_exact(n).zip(dst.chunks_exact_mut(n)) {
        let m = s[1..].iter().fold(s[0], |m, &v| m.max(v));
        let mut sum = 0.0f32;
        for (d, &v) in d.iter_mut().zip(s) {
            let e = (v - m).exp();
            sum += e;
            *d = if log { v - m } else { e };
        }
        if log {
            let l = sum.ln();
            d.iter_mut().for_each(|d| *d -= l);
        } else {
            let r = 1.0 / sum;
            d.iter_mut().for_each(|d| *d *= r);
        }
    }
}

/// Softmax (or log-softmax) of each vector along the axis, block by block.
fn forward(op: &'static str, x: &Tensor, axis: isize, log: bool) -> Result<Tensor> {
    let (_, n, inner) = split(op, x.shape(), axis)?;
    let block = n * inner;
    let src = x.data();
    let mut out = vec![0.0f32; x.len()];
    if inner == 1 {
        par_blocks(&mut out, block, |first, chunk| {
            softmax_rows(&src[first * block..first * block + chunk.len()], n, log, chunk)
        });
        return Tensor::new(x.shape(), out);
    }
    par_blocks(&mut out, block, |first, chunk| {
        let mut max = vec![0.0f32; inner];
        let mut sum = vec![0.0f32; inner];
        for (b, dst) in chunk.chunks_exact_mut(block).enumerate() {
            let s = &src[(first + b) * block..(first + b + 1) * block];
            max.copy_from_slice(&s[..inner]);
            for row in s.chunks_exact(inner).skip(1) {
                max.iter_mut().zip(row).for_each(|(m, &v)| *m = m.max(v));
            }
            sum.iter_mut().for_each(|v| *v = 0.0);
            for (d, row) in dst.chunks_exact_mut(inner).zip(s.chunks_exact(inner)) {
                for (((d, &v), &m), acc) in d.iter_mut().zip(row).zip(&max).zip(sum.iter_mut()) {
                    let e = (v - m).exp();
                    *acc += e;
                    *d = if log { v - m } else { e };
                }
            }
            if log {
                sum.iter_mut().for_each(|v| *v = v.ln());
                for d in dst.chunks_exact_mut(inner) {
                    d.iter_mut().zip(&sum).for_each(|(d, &l)| *d -= l);
                }
            } else {
                sum.iter_mut().for_each(|v| *v = 1.0 / *v);
                for d in dst.chunks_exact_mut(inner) {
                    d.iter_mut().zip(&sum).for_each(|(d, &r)| *d *= r);
                }
            }
        }
    });
    Tensor::new(x.shape(), out)
}

/// Softmax along `axis` (Keras: `-1`).
pub fn softmax(x: &Tensor, axis: isize) -> Result<Tensor> {
    forward("softmax", x, axis, false)
}

/// Log-softmax along `axis` (Keras: `-1`).
pub fn log_softmax(x: &Tensor, axis: isize) -> Result<Tensor> {
    forward("log_softmax", x, axis, true)
}

/// Reference kernel in f64: each vector gathered by index, its softmax by the formula.
pub fn softmax_naive(x: &Tensor, axis: isize, log: bool) -> Result<Tensor> {
    let (outer, n, inner) = split("softmax", x.shape(), axis)?;
    let mut out = vec![0.0f32; x.len()];
    for o in 0..outer {
        for i in 0..inner {
            let at = |j: usize| o * n * inner + j * inner + i;
            let m = (0..n)
                .map(|j| f64::from(x.data()[at(j)]))
                .fold(f64::NEG_INFINITY, f64::max);
            let s: f64 = (0..n).map(|j| (f64::from(x.data()[at(j)]) - m).exp()).sum();
            for j in 0..n {
                let v = f64::from(x.data()[at(j)]) - m;
                out[at(j)] = if log { v - s.ln() } else { v.exp() / s } as f32;
            }
        }
    }
    Tensor::new(x.shape(), out)
}

/// Gradient of softmax (`log = false`) or log-softmax (`log = true`) from the output `y`.
pub fn softmax_backward(grad: &Tensor, y: &Tensor, axis: isize, log: bool) -> Result<Tensor> {
    if grad.shape() != y.shape() {
        return shape_err(
            "softmax",
            format!(
                "gradient shape {:?} differs from the output's {:?}",
                grad.shape(),
                y.shape()
            ),
        );
    }
    let (_, n, inner) = split("softmax", y.shape(), axis)?;
    let block = n * inner;
    let (g, yd) = (grad.data(), y.data());
    let mut out = vec![0.0f32; y.len()];
    par_blocks(&mut out, block, |first, chunk| {
        let mut dot = vec![0.0f32; inner];
        for (b, dst) in chunk.chunks_exact_mut(block).enumerate() {
            let range = (first + b) * block..(first + b + 1) * block;
            let (gb, yb) = (&g[range.clone()], &yd[range]);
            dot.iter_mut().for_each(|v| *v = 0.0);
            for (gr, yr) in gb.chunks_exact(inner).zip(yb.chunks_exact(inner)) {
                for ((d, &gv), &yv) in dot.iter_mut().zip(gr).zip(yr) {
                    *d += if log { gv } else { gv * yv };
                }
            }
            for ((dr, gr), yr) in dst
                .chunks_exact_mut(inner)
                .zip(gb.chunks_exact(inner))
                .zip(yb.chunks_exact(inner))
            {
                for (((d, &gv), &yv), &s) in dr.iter_mut().zip(gr).zip(yr).zip(&dot) {
                    *d = if log { gv - yv.exp() * s } else { yv * (gv - s) };
                }
            }
        }
    });
    Tensor::new(y.shape(), out)
}

impl Tape {
    /// Softmax along `axis` (Keras: `-1`).
    pub fn softmax(&mut self, x: Var, axis: isize) -> Result<Var> {
        let rank = self.try_value(x)?.rank() as isize;
        let value = softmax(self.try_value(x)?, axis)?;
        let y = self.record(
            value,
            &[x],
            Box::new(move |g, _, y| Ok(vec![Some(softmax_backward(g, y, axis, false)?)])),
        )?;
        if axis == -1 || axis == rank - 1 {
            self.mark_logits(y, x, "softmax");
        }
        Ok(y)
    }

    /// Log-softmax along `axis` (Keras: `-1`).
    pub fn log_softmax(&mut self, x: Var, axis: isize) -> Result<Var> {
        let value = log_softmax(self.try_value(x)?, axis)?;
        self.record(
            value,
            &[x],
            Box::new(move |g, _, y| Ok(vec![Some(softmax_backward(g, y, axis, true)?)])),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::check_gradients;
    use crate::rng::Rng;
    use crate::tensor::numel;

    #[test]
    fn hand_checked_values() {
        // softmax([0, ln 3]) = [1/4, 3/4]; a constant shift changes nothing.
        let x = Tensor::new(&[2, 2], vec![0.0, 3f32.ln(), 100.0, 100.0 + 3f32.ln()]).unwrap();
        let y = softmax(&x, -1).unwrap();
        assert!(
            y.allclose(&Tensor::new(&[2, 2], vec![0.25, 0.75, 0.25, 0.75]).unwrap(), 1e-6, 1e-6),
            "{y:?}"
        );
        let l = log_softmax(&x, -1).unwrap();
        assert!((l.data()[0] - 0.25f32.ln()).abs() < 1e-6 && (l.data()[3] - 0.75f32.ln()).abs() < 1e-5);
        // Along axis 0 of [[0, 0], [ln 3, 0]]: columns [1/4, 3/4] and [1/2, 1/2].
        let c = softmax(&Tensor::new(&[2, 2], vec![0.0, 0.0, 3f32.ln(), 0.0]).unwrap(), 0).unwrap();
        assert!(c.allclose(&Tensor::new(&[2, 2], vec![0.25, 0.5, 0.75, 0.5]).unwrap(), 1e-6, 1e-6));
        // Huge logits do not overflow.
        let big = softmax(&Tensor::new(&[2], vec![1000.0, 0.0]).unwrap(), -1).unwrap();
        assert_eq!(big.data(), &[1.0, 0.0]);
    }

    #[test]
    fn fast_matches_naive_on_random_shapes() {
        let mut rng = Rng::new(13);
        for case in 0..100 {
            let rank = 1 + rng.below(4);
            let big = case % 20 == 0;
            let shape: Vec<usize> = (0..rank).map(|_| 1 + rng.below(if big { 40 } else { 6 })).collect();
            let x = Tensor::new(
                &shape,
                (0..numel(&shape))
                    .map(|_| rng.uniform_range(-6.0, 6.0) as f32)
                    .collect(),
            )
            .unwrap();
            let axis = rng.below(rank) as isize - if rng.below(2) == 0 { rank as isize } else { 0 };
            for log in [false, true] {
                let fast = forward("softmax", &x, axis, log).unwrap();
                let slow = softmax_naive(&x, axis, log).unwrap();
                assert!(fast.allclose(&slow, 1e-6, 1e-5), "{shape:?} axis {axis} log {log}");
            }
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = Tensor::new(&[2, 3, 2], (0..12).map(|i| ((i * 5) % 12) as f32 * 0.4 - 2.0).collect()).unwrap();
        for axis in [-1, 1, 0] {
            check_gradients(std::slice::from_ref(&x), |tp, v| tp.softmax(v[0], axis), 1e-2, 1e-2).unwrap();
            check_gradients(std::slice::from_ref(&x), |tp, v| tp.log_softmax(v[0], axis), 1e-2, 1e-2).unwrap();
        }
    }

    #[test]
    fn bad_axis_is_an_error() {
        let e = softmax(&Tensor::zeros(&[2, 3]), 2).unwrap_err().to_string();
        assert_eq!(
            e,
            "softmax: argument `axis`: expected an axis in [-2, 2) for a rank-2 input, received 2"
        );
        assert!(log_softmax(&Tensor::zeros(&[2, 3]), -3).is_err());
        assert!(softmax(&Tensor::scalar(1.0), -1).is_err());
        assert!(softmax_backward(&Tensor::zeros(&[2]), &Tensor::zeros(&[2, 3]), -1, false).is_err());
    }
}
