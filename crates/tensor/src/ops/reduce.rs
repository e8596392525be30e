//! Reductions over axes: `sum`, `mean`, `max`, `min` (with `keepdims`), `sum_all`,
//! `mean_all`, and `argmax` (no gradient). Axes are Keras's: negative counts from the end.
//! `(2, 3, 4)` reduced over `[1]` is `(2, 4)`, or `(2, 1, 4)` with `keepdims`; an empty axis
//! list reduces nothing.
//!
//! The kernel merges neighbouring axes that are all reduced or all kept and folds contiguous
//! runs (see `elementwise::fold_to_shape`); [`reduce_naive`] is the per-element reference.
//!
//! Gradients: `sum` broadcasts the gradient back, `mean` also divides by the count, and
//! `max`/`min` follow TensorFlow's `reduce_max` rule: the gradient is divided equally among
//! the elements equal to the result (ties share it).

use crate::autograd::{Tape, Var};
use crate::error::{arg_err, Result};
use crate::ops::elementwise::{binary_with, broadcast_to, div, fold_to_shape, map_tensor, mul, sum_to_shape};
use crate::tensor::{numel, strides_of, Tensor};

/// The reductions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    /// Sum.
    Sum,
    /// Arithmetic mean (NaN over an empty axis, as NumPy).
    Mean,
    /// Maximum (−inf over an empty axis).
    Max,
    /// Minimum (+inf over an empty axis).
    Min,
}

impl ReduceOp {
    /// The op's name, as errors print it.
    pub fn name(self) -> &'static str {
        match self {
            ReduceOp::Sum => "sum",
            ReduceOp::Mean => "mean",
            ReduceOp::Max => "max",
            ReduceOp::Min => "min",
        }
    }

    fn identity(self) -> f32 {
        match self {
            ReduceOp::Sum | ReduceOp::Mean => 0.0,
            ReduceOp::Max => f32::NEG_INFINITY,
            ReduceOp::Min => f32::INFINITY,
        }
    }

    #[inline]
    fn combine(self, a: f32, b: f32) -> f32 {
        match self {
            ReduceOp::Sum | ReduceOp::Mean => a + b,
            ReduceOp::Max => a.max(b),
            ReduceOp::Min => a.min(b),
        }
    }
}

/// Keras axes (negative from the end) to sorted positions; out of range or repeated axes are
/// errors naming `axis`.
pub fn normalize_axes(op: &'static str, axes: &[isize], rank: usize) -> Result<Vec<usize>> {
    let mut out = Vec::with_capacity(axes.len());
    for &a in axes {
        let r = rank as isize;
        if a < -r || a >= r {
            return arg_err(
                op,
                "axis",
                format!("an axis in [{}, {}) for a rank-{rank} input", -r, r),
                a,
            );
        }
        let p = if a < 0 { (a + r) as usize } else { a as usize };
        if out.contains(&p) {
            return arg_err(op, "axis", "distinct axes", format!("{axes:?}"));
        }
        out.push(p);
    }
    out.sort_unstable();
    Ok(out)
}

/// One Keras axis to its position.
pub fn normalize_axis(op: &'static str, axis: isize, rank: usize) -> Result<usize> {
    Ok(normalize_axes(op, &[axis], rank)?[0])
}

/// The shape after reducing `axes` (positions, as from [`normalize_axes`]).
pub fn reduced_shape(shape: &[usize], axes: &[usize], keepdims: bool) -> Vec<usize> {
    shape
        .iter()
        .enumerate()
        .filter_map(|(i, &d)| match (axes.contains(&i), keepdims) {
            (false, _) => Some(d),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect()
}

/// A reduction over `axes`.
pub fn reduce(op: ReduceOp, x: &Tensor, axes: &[isize], keepdims: bool) -> Result<Tensor> {
    let axes = normalize_axes(op.name(), axes, x.rank())?;
    let keep = reduced_shape(x.shape(), &axes, true);
    let mut out = match op {
        ReduceOp::Sum | ReduceOp::Mean => fold_to_shape(op.name(), x, &keep, 0.0, |a, b| a + b)?,
        ReduceOp::Max => fold_to_shape(op.name(), x, &keep, f32::NEG_INFINITY, f32::max)?,
        ReduceOp::Min => fold_to_shape(op.name(), x, &keep, f32::INFINITY, f32::min)?,
    };
    if op == ReduceOp::Mean {
        let count = axes.iter().map(|&a| x.shape()[a]).product::<usize>() as f32;
        out = map_tensor(&out, |v| v / count);
    }
    if keepdims {
        Ok(out)
    } else {
        out.into_reshape(&reduced_shape(x.shape(), &axes, false))
    }
}

/// Reference kernel: every element folded into its output index, one at a time.
pub fn reduce_naive(op: ReduceOp, x: &Tensor, axes: &[isize], keepdims: bool) -> Result<Tensor> {
    let axes = normalize_axes(op.name(), axes, x.rank())?;
    let shape = x.shape();
    let keep = reduced_shape(shape, &axes, true);
    let (sx, sk) = (strides_of(shape), strides_of(&keep));
    let mut out = vec![op.identity(); numel(&keep)];
    for (flat, &v) in x.data().iter().enumerate() {
        let o: usize = (0..shape.len())
            .filter(|d| !axes.contains(d))
            .map(|d| flat / sx[d] % shape[d] * sk[d])
            .sum();
        out[o] = op.combine(out[o], v);
    }
    if op == ReduceOp::Mean {
        let count = axes.iter().map(|&a| shape[a]).product::<usize>() as f32;
        out.iter_mut().for_each(|v| *v /= count);
    }
    Tensor::new(&reduced_shape(shape, &axes, keepdims), out)
}

/// Sum over `axes`.
pub fn sum(x: &Tensor, axes: &[isize], keepdims: bool) -> Result<Tensor> {
    reduce(ReduceOp::Sum, x, axes, keepdims)
}

/// Mean over `axes`.
pub fn mean(x: &Tensor, axes: &[isize], keepdims: bool) -> Result<Tensor> {
    reduce(ReduceOp::Mean, x, axes, keepdims)
}

/// Maximum over `axes`.
pub fn max(x: &Tensor, axes: &[isize], keepdims: bool) -> Result<Tensor> {
    reduce(ReduceOp::Max, x, axes, keepdims)
}

/// Minimum over `axes`.
pub fn min(x: &Tensor, axes: &[isize], keepdims: bool) -> Result<Tensor> {
    reduce(ReduceOp::Min, x, axes, keepdims)
}

fn all_axes(rank: usize) -> Vec<isize> {
    (0..rank as isize).collect()
}

/// Sum of every element, as a scalar (shape `[]`).
pub fn sum_all(x: &Tensor) -> Result<Tensor> {
    reduce(ReduceOp::Sum, x, &all_axes(x.rank()), false)
}

/// Mean of every element, as a scalar (shape `[]`).
pub fn mean_all(x: &Tensor) -> Result<Tensor> {
    reduce(ReduceOp::Mean, x, &all_axes(x.rank()), false)
}

/// Index of the largest value along `axis` (the first on ties, as TensorFlow), as f32
/// values in a tensor without that axis. No gradient.
pub fn argmax(x: &Tensor, axis: isize) -> Result<Tensor> {
    let ax = normalize_axis("argmax", axis, x.rank())?;
    let shape = x.shape();
    let n = shape[ax];
    if n == 0 {
        return arg_err(
            "argmax",
            "axis",
            "an axis of positive size",
            format!("axis {axis} of size 0 in shape {shape:?}"),
        );
    }
    let outer: usize = shape[..ax].iter().product();
    let inner: usize = shape[ax + 1..].iter().product();
    let mut idx = vec![0.0f32; outer * inner];
    let mut best = vec![0.0f32; inner];
    let data = x.data();
    for o in 0..outer {
        let block = &data[o * n * inner..(o + 1) * n * inner];
        let out = &mut idx[o * inner..(o + 1) * inner];
        best.copy_from_slice(&block[..inner]);
        out.iter_mut().for_each(|v| *v = 0.0);
        for j in 1..n {
            let row = &block[j * inner..(j + 1) * inner];
            for ((b, i), &v) in best.iter_mut().zip(out.iter_mut()).zip(row) {
                if v > *b {
                    *b = v;
                    *i = j as f32;
                }
            }
        }
    }
    Tensor::new(&reduced_shape(shape, &[ax], false), idx)
}

/// Gradient of a reduction: `grad` has the output's shape (with or without kept dims),
/// `x` and `out` are the forward input and output, `axes` normalized.
pub fn reduce_backward(op: ReduceOp, grad: &Tensor, x: &Tensor, out: &Tensor, axes: &[usize]) -> Result<Tensor> {
    let keep = reduced_shape(x.shape(), axes, true);
    let g = grad.reshape(&keep)?;
    match op {
        ReduceOp::Sum => broadcast_to(&g, x.shape()),
        ReduceOp::Mean => {
            let count = axes.iter().map(|&a| x.shape()[a]).product::<usize>() as f32;
            broadcast_to(&map_tensor(&g, |v| v / count), x.shape())
        }
        ReduceOp::Max | ReduceOp::Min => {
            let y = out.reshape(&keep)?;
            let hit = binary_with(op.name(), x, &y, |a, b| if a == b { 1.0 } else { 0.0 })?;
            let share = div(&g, &sum_to_shape(&hit, &keep)?)?;
            mul(&hit, &share)
        }
    }
}

impl Tape {
    /// A reduction over `axes` on the tape.
    pub fn reduce(&mut self, op: ReduceOp, x: Var, axes: &[isize], keepdims: bool) -> Result<Var> {
        let xv = self.try_value(x)?;
        let positions = normalize_axes(op.name(), axes, xv.rank())?;
        let value = reduce(op, xv, axes, keepdims)?;
        self.record(
            value,
            &[x],
            Box::new(move |g, ins, out| Ok(vec![Some(reduce_backward(op, g, ins[0], out, &positions)?)])),
        )
    }

    /// Sum over `axes`.
    pub fn sum(&mut self, x: Var, axes: &[isize], keepdims: bool) -> Result<Var> {
        self.reduce(ReduceOp::Sum, x, axes, keepdims)
    }

    /// Mean over `axes`.
    pub fn mean(&mut self, x: Var, axes: &[isize], keepdims: bool) -> Result<Var> {
        self.reduce(ReduceOp::Mean, x, axes, keepdims)
    }

    /// Maximum over `axes`; ties share the gradient equally (TensorFlow's rule).
    pub fn max(&mut self, x: Var, axes: &[isize], keepdims: bool) -> Result<Var> {
        self.reduce(ReduceOp::Max, x, axes, keepdims)
    }

    /// Minimum over `axes`; ties share the gradient equally (TensorFlow's rule).
    pub fn min(&mut self, x: Var, axes: &[isize], keepdims: bool) -> Result<Var> {
        self.reduce(ReduceOp::Min, x, axes, keepdims)
    }

    /// Sum of every element, as a scalar: the usual last step before `backward`.
    pub fn sum_all(&mut self, x: Var) -> Result<Var> {
        let rank = self.try_value(x)?.rank();
        self.reduce(ReduceOp::Sum, x, &all_axes(rank), false)
    }

    /// Mean of every element, as a scalar.
    pub fn mean_all(&mut self, x: Var) -> Result<Var> {
        let rank = self.try_value(x)?.rank();
        self.reduce(ReduceOp::Mean, x, &all_axes(rank), false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::check_gradients;
    use crate::rng::Rng;

    const OPS: [ReduceOp; 4] = [ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max, ReduceOp::Min];

    #[test]
    fn hand_checked_reductions() {
        // [[0, 1, 2], [3, 4, 5]]
        let x = Tensor::arange(&[2, 3]);
        assert_eq!(sum(&x, &[0], false).unwrap().data(), &[3.0, 5.0, 7.0]);
        assert_eq!(sum(&x, &[-1], false).unwrap().data(), &[3.0, 12.0]);
        let k = sum(&x, &[1], true).unwrap();
        assert_eq!(k.shape(), &[2, 1]);
        assert_eq!(mean(&x, &[1], false).unwrap().data(), &[1.0, 4.0]);
        assert_eq!(max(&x, &[0], false).unwrap().data(), &[3.0, 4.0, 5.0]);
        assert_eq!(min(&x, &[1], false).unwrap().data(), &[0.0, 3.0]);
        let all = sum_all(&x).unwrap();
        assert_eq!((all.shape(), all.item().unwrap()), (&[][..], 15.0));
        assert_eq!(mean_all(&x).unwrap().item().unwrap(), 2.5);
        assert_eq!(sum(&x, &[], false).unwrap(), x);
        // Global average pooling of an NHWC tensor: mean over h and w.
        let gap = mean(&Tensor::arange(&[1, 2, 2, 3]), &[1, 2], false).unwrap();
        assert_eq!((gap.shape(), gap.data()), (&[1usize, 3][..], &[4.5f32, 5.5, 6.5][..]));
        assert!(mean(&Tensor::zeros(&[2, 0]), &[1], false).unwrap().data()[0].is_nan());
    }

    #[test]
    fn argmax_takes_the_first_of_ties() {
        let x = Tensor::new(&[2, 3], vec![1.0, 5.0, 5.0, 7.0, 0.0, 2.0]).unwrap();
        assert_eq!(argmax(&x, -1).unwrap().data(), &[1.0, 0.0]);
        assert_eq!(argmax(&x, 0).unwrap().data(), &[1.0, 0.0, 0.0]);
    }

    #[test]
    fn fast_matches_naive_on_random_shapes() {
        let mut rng = Rng::new(5);
        for case in 0..150 {
            let rank = 1 + rng.below(4);
            let big = case % 15 == 0;
            let shape: Vec<usize> = (0..rank).map(|_| 1 + rng.below(if big { 40 } else { 6 })).collect();
            let x = Tensor::new(
                &shape,
                (0..numel(&shape))
                    .map(|_| rng.uniform_range(-3.0, 3.0) as f32)
                    .collect(),
            )
            .unwrap();
            let mut axes = Vec::new();
            for a in 0..rank as isize {
                if rng.below(2) == 0 {
                    axes.push(if rng.below(2) == 0 { a - rank as isize } else { a });
                }
            }
            let keepdims = rng.below(2) == 0;
            for op in OPS {
                let fast = reduce(op, &x, &axes, keepdims).unwrap();
                let slow = reduce_naive(op, &x, &axes, keepdims).unwrap();
                let summed = (x.len() / fast.len().max(1)) as f32;
                assert!(
                    fast.allclose(&slow, 1e-5 * summed, 1e-5),
                    "{op:?} {shape:?} {axes:?}: {fast:?} vs {slow:?}"
                );
            }
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        // Distinct values: max/min have a unique winner away from any tie.
        let x = Tensor::new(&[2, 3, 2], (0..12).map(|i| ((i * 5) % 12) as f32 * 0.3 - 1.5).collect()).unwrap();
        for op in OPS {
            for (axes, keep) in [
                (vec![1isize], false),
                (vec![0, 2], true),
                (vec![-1], true),
                (vec![0, 1, 2], false),
            ] {
                check_gradients(
                    std::slice::from_ref(&x),
                    |tp, v| tp.reduce(op, v[0], &axes, keep),
                    1e-2,
                    1e-2,
                )
                .unwrap_or_else(|e| panic!("{op:?} {axes:?}: {e}"));
            }
        }
        check_gradients(std::slice::from_ref(&x), |tp, v| tp.mean_all(v[0]), 1e-2, 1e-2).unwrap();
    }

    #[test]
    fn max_ties_share_the_gradient() {
        let mut tape = Tape::new();
        let x = tape.param(Tensor::new(&[4], vec![3.0, 1.0, 3.0, 3.0]).unwrap());
        let m = tape.max(x, &[0], false).unwrap();
        let g = tape.backward(m).unwrap();
        let third = 1.0 / 3.0;
        assert_eq!(g.get(x).unwrap().data(), &[third, 0.0, third, third]);
    }

    #[test]
    fn sum_all_backward_is_ones() {
        let mut tape = Tape::new();
        let x = tape.param(Tensor::arange(&[2, 2]));
        let s = tape.sum_all(x).unwrap();
        assert_eq!(tape.value(s).item().unwrap(), 6.0);
        assert_eq!(tape.backward(s).unwrap().get(x).unwrap().data(), &[1.0; 4]);
    }

    #[test]
    fn bad_axes_are_errors() {
        let x = Tensor::zeros(&[2, 3]);
        let e = sum(&x, &[2], false).unwrap_err().to_string();
        assert_eq!(
            e,
            "sum: argument `axis`: expected an axis in [-2, 2) for a rank-2 input, received 2"
        );
        assert!(mean(&x, &[-3], false).is_err());
        let e = max(&x, &[1, -1], false).unwrap_err().to_string();
        assert!(e.contains("distinct axes") && e.contains("[1, -1]"), "{e}");
        assert!(argmax(&x, 5).is_err());
        assert!(argmax(&Tensor::zeros(&[2, 0]), 1).is_err());
    }
}
