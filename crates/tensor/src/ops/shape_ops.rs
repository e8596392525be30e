//! Ops that move values without computing on them: reshape (and `flatten`, `expand_dims`,
//! `squeeze`, which are reshapes), `transpose` by an axis permutation, `concat` along an axis
//! and its inverse `split`, and `slice`. Their gradients move the output gradient back:
//! reshape back, transpose by the inverse permutation, split, pad into zeros.
//!
//! Shapes: `transpose(x, axes)`: output axis `i` is input axis `axes[i]`; `concat`: all inputs
//! agree except on the axis, whose sizes add up; `slice(x, start, stop)`: axis `i` becomes
//! `stop[i] − start[i]`.
//!
//! ```
//! use tensor::{ops::shape_ops::{concat, transpose}, Tensor};
//! let x = Tensor::arange(&[2, 3]);
//! assert_eq!(transpose(&x, &[1, 0]).unwrap().data(), &[0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
//! let y = concat(&[&x, &x], 0).unwrap();
//! assert_eq!(y.shape(), &[4, 3]);
//! ```

use rayon::prelude::*;

use crate::autograd::{Tape, Var};
use crate::error::{arg_err, shape_err, Result};
use crate::ops::pad::copy_box;
use crate::tensor::{numel, strides_of, Tensor};

/// Below this many values a copy stays on one thread.
const PARALLEL_MIN_VALUES: usize = 1 << 16;
/// Side of the square tiles of the blocked 2-D transpose.
const TILE: usize = 32;

/// An axis that may count from the end (`-1` = last), as Keras writes it, made absolute for a
/// tensor of `rank` axes (`rank + 1` positions for `expand_dims`).
pub fn normalize_axis(op: &'static str, axis: isize, rank: usize) -> Result<usize> {
    let r = rank as isize;
    let a = if axis < 0 { axis + r } else { axis };
    if a < 0 || a >= r {
        return arg_err(op, "axis", format!("an axis in [{}, {}) for rank {rank}", -r, r), axis);
    }
    Ok(a as usize)
}

/// Resolves a target shape that may hold one `-1` (Keras's `Reshape`), for `count` values.
pub fn resolve_shape(op: &'static str, count: usize, target: &[isize]) -> Result<Vec<usize>> {
    let unknown: Vec<usize> = (0..target.len()).filter(|&i| target[i] == -1).collect();
    if unknown.len() > 1 || target.iter().any(|&d| d < -1) {
        return arg_err(
            op,
            "target_shape",
            "non-negative sizes and at most one -1",
            format!("{target:?}"),
        );
    }
    let known: usize = target.iter().filter(|&&d| d >= 0).map(|&d| d as usize).product();
    let mut shape: Vec<usize> = target.iter().map(|&d| d.max(0) as usize).collect();
    if let Some(&i) = unknown.first() {
        if count.checked_rem(known) != Some(0) {
            return shape_err(
                op,
                format!("cannot reshape {count} values to {target:?}: {count} is not a multiple of {known}"),
            );
        }
        shape[i] = count / known;
    } else if known != count {
        return shape_err(
            op,
            format!("cannot reshape {count} values to {target:?} ({known} values)"),
        );
    }
    Ok(shape)
}

fn check_permutation(op: &'static str, axes: &[usize], rank: usize) -> Result<()> {
    let mut seen = vec![false; rank];
    if axes.len() != rank {
        return arg_err(op, "axes", format!("a permutation of 0..{rank}"), format!("{axes:?}"));
    }
    for &a in axes {
        if a >= rank || seen[a] {
            return arg_err(op, "axes", format!("a permutation of 0..{rank}"), format!("{axes:?}"));
        }
        seen[a] = true;
    }
    Ok(())
}

/// The permutation that undoes `axes`.
pub fn inverse_permutation(axes: &[usize]) -> Vec<usize> {
    let mut inv = vec![0; axes.len()];
    for (i, &a) in axes.iter().enumerate() {
        inv[a] = i;
    }
    inv
}

/// Drops size-1 axes and merges output axes that stay neighbours in the input, so NHWC→NCHW
/// (`[0, 3, 1, 2]`) becomes a batched 2-D transpose of `(h·w) × c`.
fn simplify(shape: &[usize], axes: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let kept: Vec<usize> = axes.iter().copied().filter(|&a| shape[a] != 1).collect();
    // Renumber the kept input axes 0..m in input order.
    let mut order: Vec<usize> = kept.clone();
    order.sort_unstable();
    let rank_of = |a: usize| order.iter().position(|&o| o == a).unwrap_or(0);
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for &a in &kept {
        match groups.last_mut() {
            Some(g) if g.last().is_some_and(|&l| rank_of(l) + 1 == rank_of(a)) => g.push(a),
            _ => groups.push(vec![a]),
        }
    }
    // Groups in input order give the reduced input shape; their output order the permutation.
    let mut by_input: Vec<usize> = (0..groups.len()).collect();
    by_input.sort_by_key(|&g| groups[g][0]);
    let red_shape: Vec<usize> = by_input
        .iter()
        .map(|&g| groups[g].iter().map(|&a| shape[a]).product())
        .collect();
    let red_axes: Vec<usize> = (0..groups.len())
        .map(|g| by_input.iter().position(|&b| b == g).unwrap_or(0))
        .collect();
    (red_shape, red_axes)
}

/// Transposes each `rows × cols` matrix of `src` into `cols × rows` in `dst`, in square tiles.
fn batched_transpose(src: &[f32], dst: &mut [f32], rows: usize, cols: usize) {
    let plane = rows * cols;
    let one = |s: &[f32], d: &mut [f32]| {
        for r0 in (0..rows).step_by(TILE) {
            for c0 in (0..cols).step_by(TILE) {
                for c in c0..(c0 + TILE).min(cols) {
                    let drow = &mut d[c * rows..(c + 1) * rows];
                    for r in r0..(r0 + TILE).min(rows) {
                        drow[r] = s[r * cols + c];
                    }
                }
            }
        }
    };
    if dst.len() >= PARALLEL_MIN_VALUES && dst.len() > plane {
        dst.par_chunks_mut(plane)
            .zip(src.par_chunks(plane))
            .for_each(|(d, s)| one(s, d));
    } else {
        for (d, s) in dst.chunks_mut(plane).zip(src.chunks(plane)) {
            one(s, d);
        }
    }
}

/// Permutes the axes: output axis `i` is input axis `axes[i]` (numpy's `transpose`, Keras's
/// `Permute` plus the batch axis). Batched 2-D transposes (NHWC↔NCHW, matrices) use a blocked
/// kernel; permutations that keep the last axis copy whole rows.
pub fn transpose(x: &Tensor, axes: &[usize]) -> Result<Tensor> {
    check_permutation("transpose", axes, x.rank())?;
    let out_shape: Vec<usize> = axes.iter().map(|&a| x.shape()[a]).collect();
    if x.is_empty() {
        return Ok(Tensor::zeros(&out_shape));
    }
    let (shape, perm) = simplify(x.shape(), axes);
    let r = shape.len();
    if perm.iter().enumerate().all(|(i, &p)| i == p) {
        return x.reshape(&out_shape);
    }
    let mut out = vec![0.0f32; x.len()];
    if r == 2 || (r == 3 && perm == [0, 2, 1]) {
        let (rows, cols) = (shape[r - 2], shape[r - 1]);
        batched_transpose(x.data(), &mut out, rows, cols);
        return Tensor::new(&out_shape, out);
    }
    let in_strides = strides_of(&shape);
    let red_out: Vec<usize> = perm.iter().map(|&a| shape[a]).collect();
    // Input stride of each output axis; the innermost output axis is walked in one loop.
    let strides: Vec<usize> = perm.iter().map(|&a| in_strides[a]).collect();
    let inner = red_out[r - 1];
    let inner_stride = strides[r - 1];
    let src = x.data();
    let fill = |first_row: usize, chunk: &mut [f32]| {
        let mut idx = vec![0usize; r - 1];
        let mut rest = first_row;
        for ax in (0..r - 1).rev() {
            idx[ax] = rest % red_out[ax];
            rest /= red_out[ax];
        }
        for row in chunk.chunks_mut(inner) {
            let base: usize = idx.iter().zip(&strides).map(|(i, s)| i * s).sum();
            if inner_stride == 1 {
                row.copy_from_slice(&src[base..base + inner]);
            } else {
                for (k, v) in row.iter_mut().enumerate() {
                    *v = src[base + k * inner_stride];
                }
            }
            for ax in (0..r - 1).rev() {
                idx[ax] += 1;
                if idx[ax] < red_out[ax] {
                    break;
                }
                idx[ax] = 0;
            }
        }
    };
    let rows_per_task = (PARALLEL_MIN_VALUES / inner).max(1);
    if out.len() >= PARALLEL_MIN_VALUES {
        out.par_chunks_mut(rows_per_task * inner)
            .enumerate()
            .for_each(|(t, chunk)| fill(t * rows_per_task, chunk));
    } else {
        fill(0, &mut out);
    }
    Tensor::new(&out_shape, out)
}

/// Reference for [`transpose`]: each output element from its multi-index.
pub fn transpose_naive(x: &Tensor, axes: &[usize]) -> Result<Tensor> {
    check_permutation("transpose", axes, x.rank())?;
    let out_shape: Vec<usize> = axes.iter().map(|&a| x.shape()[a]).collect();
    let in_strides = x.strides();
    let mut out = vec![0.0; x.len()];
    for (flat, o) in out.iter_mut().enumerate() {
        let mut rest = flat;
        let mut src = 0;
        for i in (0..out_shape.len()).rev() {
            src += (rest % out_shape[i]) * in_strides[axes[i]];
            rest /= out_shape[i];
        }
        *o = x.data()[src];
    }
    Tensor::new(&out_shape, out)
}

fn concat_shape(inputs: &[&Tensor], axis: isize) -> Result<(Vec<usize>, usize)> {
    let Some(first) = inputs.first() else {
        return arg_err("concat", "inputs", "at least one tensor", "none");
    };
    let ax = normalize_axis("concat", axis, first.rank())?;
    let mut shape = first.shape().to_vec();
    for (i, t) in inputs.iter().enumerate().skip(1) {
        if t.rank() != first.rank() {
            return shape_err(
                "concat",
                format!(
                    "input {i} has shape {:?} (rank {}) but input 0 has {:?} (rank {})",
                    t.shape(),
                    t.rank(),
                    first.shape(),
                    first.rank()
                ),
            );
        }
        if (0..first.rank()).any(|d| d != ax && t.shape()[d] != first.shape()[d]) {
            return shape_err(
                "concat",
                format!(
                    "axis {ax}: input {i} has shape {:?} but input 0 has {:?}; all dimensions but the axis must match",
                    t.shape(),
                    first.shape()
                ),
            );
        }
        shape[ax] += t.shape()[ax];
    }
    Ok((shape, ax))
}

/// Joins tensors along `axis` (negative counts from the end, Keras's `Concatenate(axis=-1)`).
pub fn concat(inputs: &[&Tensor], axis: isize) -> Result<Tensor> {
    let (shape, ax) = concat_shape(inputs, axis)?;
    let inner = numel(&shape[ax + 1..]);
    let row = shape[ax] * inner;
    let mut out = vec![0.0f32; numel(&shape)];
    if out.is_empty() {
        return Tensor::new(&shape, out);
    }
    let blocks: Vec<usize> = inputs.iter().map(|t| t.shape()[ax] * inner).collect();
    let fill = |o: usize, dst: &mut [f32]| {
        let mut at = 0;
        for (t, &b) in inputs.iter().zip(&blocks) {
            dst[at..at + b].copy_from_slice(&t.data()[o * b..(o + 1) * b]);
            at += b;
        }
    };
    if out.len() >= PARALLEL_MIN_VALUES && out.len() > row {
        out.par_chunks_mut(row).enumerate().for_each(|(o, dst)| fill(o, dst));
    } else {
        for (o, dst) in out.chunks_mut(row).enumerate() {
            fill(o, dst);
        }
    }
    Tensor::new(&shape, out)
}

/// Reference for [`concat`]: each output element finds its input by its index on the axis.
pub fn concat_naive(inputs: &[&Tensor], axis: isize) -> Result<Tensor> {
    let (shape, ax) = concat_shape(inputs, axis)?;
    let mut out = vec![0.0; numel(&shape)];
    for (flat, o) in out.iter_mut().enumerate() {
        let mut idx = vec![0; shape.len()];
        let mut rest = flat;
        for d in (0..shape.len()).rev() {
            idx[d] = rest % shape[d];
            rest /= shape[d];
        }
        let mut k = 0;
        while idx[ax] >= inputs[k].shape()[ax] {
            idx[ax] -= inputs[k].shape()[ax];
            k += 1;
        }
        let src: usize = idx.iter().zip(inputs[k].strides()).map(|(i, s)| i * s).sum();
        *o = inputs[k].data()[src];
    }
    Tensor::new(&shape, out)
}

/// Splits `x` along `axis` into pieces of the given sizes: the inverse of [`concat`] and its
/// backward.
pub fn split(x: &Tensor, axis: isize, sizes: &[usize]) -> Result<Vec<Tensor>> {
    let ax = normalize_axis("split", axis, x.rank())?;
    let total: usize = sizes.iter().sum();
    if total != x.shape()[ax] {
        return shape_err(
            "split",
            format!(
                "axis {ax}: sizes {sizes:?} add up to {total} but the input {:?} has {}",
                x.shape(),
                x.shape()[ax]
            ),
        );
    }
    let mut start = vec![0; x.rank()];
    let mut stop = x.shape().to_vec();
    let mut parts = Vec::with_capacity(sizes.len());
    for &s in sizes {
        stop[ax] = start[ax] + s;
        parts.push(slice(x, &start, &stop)?);
        start[ax] += s;
    }
    Ok(parts)
}

fn check_slice(x_shape: &[usize], start: &[usize], stop: &[usize]) -> Result<Vec<usize>> {
    if start.len() != x_shape.len() || stop.len() != x_shape.len() {
        return shape_err(
            "slice",
            format!(
                "expected start and stop for each of the {} axes of {x_shape:?}, received {} and {}",
                x_shape.len(),
                start.len(),
                stop.len()
            ),
        );
    }
    for (ax, ((&a, &b), &d)) in start.iter().zip(stop).zip(x_shape).enumerate() {
        if a > b || b > d {
            return shape_err(
                "slice",
                format!("axis {ax}: range {a}..{b} does not fit size {d} (shape {x_shape:?})"),
            );
        }
    }
    Ok(start.iter().zip(stop).map(|(a, b)| b - a).collect())
}

/// The box `start[i]..stop[i]` on every axis.
pub fn slice(x: &Tensor, start: &[usize], stop: &[usize]) -> Result<Tensor> {
    let shape = check_slice(x.shape(), start, stop)?;
    let mut out = Tensor::zeros(&shape);
    let zeros = vec![0; shape.len()];
    copy_box(x.data(), x.shape(), start, out.data_mut(), &shape, &zeros, &shape);
    Ok(out)
}

/// Backward of [`slice`]: the output gradient placed at `start` in zeros of `input_shape`.
pub fn slice_backward(grad_out: &Tensor, input_shape: &[usize], start: &[usize]) -> Result<Tensor> {
    let stop: Vec<usize> = start.iter().zip(grad_out.shape()).map(|(a, d)| a + d).collect();
    let shape = check_slice(input_shape, start, &stop)?;
    if shape != grad_out.shape() {
        return shape_err(
            "slice",
            format!(
                "gradient shape {:?} does not match rank of {input_shape:?}",
                grad_out.shape()
            ),
        );
    }
    let mut out = Tensor::zeros(input_shape);
    let zeros = vec![0; shape.len()];
    copy_box(
        grad_out.data(),
        &shape,
        &zeros,
        out.data_mut(),
        input_shape,
        start,
        &shape,
    );
    Ok(out)
}

/// Keras's `Flatten`: `(n, d1, d2, …)` → `(n, d1·d2·…)`; a 1-D input becomes `(n, 1)`.
pub fn flatten_shape(shape: &[usize]) -> Result<Vec<usize>> {
    match shape.split_first() {
        Some((&n, rest)) => Ok(vec![n, numel(rest)]),
        None => shape_err("flatten", "expected an input with a batch axis, received a scalar"),
    }
}

/// A new axis of size 1 at `axis` (negative counts from the end of the output).
pub fn expand_dims_shape(shape: &[usize], axis: isize) -> Result<Vec<usize>> {
    let ax = normalize_axis("expand_dims", axis, shape.len() + 1)?;
    let mut s = shape.to_vec();
    s.insert(ax, 1);
    Ok(s)
}

/// Removes the size-1 axis `axis`.
pub fn squeeze_shape(shape: &[usize], axis: isize) -> Result<Vec<usize>> {
    let ax = normalize_axis("squeeze", axis, shape.len())?;
    if shape[ax] != 1 {
        return shape_err(
            "squeeze",
            format!("axis {ax} has size {}, expected 1 (shape {shape:?})", shape[ax]),
        );
    }
    let mut s = shape.to_vec();
    s.remove(ax);
    Ok(s)
}

impl Tape {
    /// Same values, another shape with the same count; the gradient is reshaped back.
    pub fn reshape(&mut self, x: Var, shape: &[usize]) -> Result<Var> {
        let xv = self.try_value(x)?;
        let in_shape = xv.shape().to_vec();
        let out = xv.reshape(shape)?;
        self.record(
            out,
            &[x],
            Box::new(move |g, _, _| Ok(vec![Some(g.reshape(&in_shape)?)])),
        )
    }

    /// [`flatten_shape`] as a reshape.
    pub fn flatten(&mut self, x: Var) -> Result<Var> {
        let shape = flatten_shape(self.try_value(x)?.shape())?;
        self.reshape(x, &shape)
    }

    /// [`expand_dims_shape`] as a reshape.
    pub fn expand_dims(&mut self, x: Var, axis: isize) -> Result<Var> {
        let shape = expand_dims_shape(self.try_value(x)?.shape(), axis)?;
        self.reshape(x, &shape)
    }

    /// [`squeeze_shape`] as a reshape.
    pub fn squeeze(&mut self, x: Var, axis: isize) -> Result<Var> {
        let shape = squeeze_shape(self.try_value(x)?.shape(), axis)?;
        self.reshape(x, &shape)
    }

    /// [`transpose`] on the tape; the gradient is transposed by the inverse permutation.
    pub fn transpose(&mut self, x: Var, axes: &[usize]) -> Result<Var> {
        let out = transpose(self.try_value(x)?, axes)?;
        let inv = inverse_permutation(axes);
        self.record(out, &[x], Box::new(move |g, _, _| Ok(vec![Some(transpose(g, &inv)?)])))
    }

    /// [`concat`] on the tape; the gradient is split back into the inputs' sizes.
    pub fn concat(&mut self, inputs: &[Var], axis: isize) -> Result<Var> {
        let values = inputs.iter().map(|&v| self.try_value(v)).collect::<Result<Vec<_>>>()?;
        let out = concat(&values, axis)?;
        let ax = normalize_axis("concat", axis, out.rank())?;
        let sizes: Vec<usize> = values.iter().map(|t| t.shape()[ax]).collect();
        self.record(
            out,
            inputs,
            Box::new(move |g, _, _| Ok(split(g, ax as isize, &sizes)?.into_iter().map(Some).collect())),
        )
    }

    /// [`slice`] on the tape; the gradient is padded back with zeros.
    pub fn slice(&mut self, x: Var, start: &[usize], stop: &[usize]) -> Result<Var> {
        let xv = self.try_value(x)?;
        let in_shape = xv.shape().to_vec();
        let out = slice(xv, start, stop)?;
        let start = start.to_vec();
        self.record(
            out,
            &[x],
            Box::new(move |g, _, _| Ok(vec![Some(slice_backward(g, &in_shape, &start)?)])),
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
    fn transpose_by_hand() {
        // NHWC (1, 2, 2, 2) → NCHW: channel 0 holds the even values.
        let x = Tensor::arange(&[1, 2, 2, 2]);
        let y = transpose(&x, &[0, 3, 1, 2]).unwrap();
        assert_eq!(y.shape(), &[1, 2, 2, 2]);
        assert_eq!(y.data(), &[0.0, 2.0, 4.0, 6.0, 1.0, 3.0, 5.0, 7.0]);
        let back = transpose(&y, &inverse_permutation(&[0, 3, 1, 2])).unwrap();
        assert_eq!(back, x);
        // A 3-cycle that is no batched 2-D transpose.
        let x = Tensor::arange(&[2, 3, 2]);
        let y = transpose(&x, &[2, 0, 1]).unwrap();
        assert_eq!(y.shape(), &[2, 2, 3]);
        assert_eq!(
            y.data(),
            &[0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 1.0, 3.0, 5.0, 7.0, 9.0, 11.0]
        );
    }

    #[test]
    fn fast_transpose_matches_naive() {
        let mut rng = Rng::new(5);
        for case in 0..200 {
            let rank = 1 + rng.below(5);
            let big = case % 20 == 0;
            let shape: Vec<usize> = (0..rank)
                .map(|_| if big { 3 + rng.below(20) } else { 1 + rng.below(5) })
                .collect();
            let mut axes: Vec<usize> = (0..rank).collect();
            rng.shuffle(&mut axes);
            let x = random(&mut rng, &shape);
            let fast = transpose(&x, &axes).unwrap();
            let naive = transpose_naive(&x, &axes).unwrap();
            assert_eq!(fast, naive, "case {case}: shape {shape:?} axes {axes:?}");
        }
        // The common 4-D permutations, large enough for the threaded paths.
        for axes in [[0, 3, 1, 2], [0, 2, 3, 1], [0, 2, 1, 3], [3, 1, 2, 0], [1, 0, 2, 3]] {
            let x = random(&mut rng, &[3, 37, 41, 19]);
            assert_eq!(
                transpose(&x, &axes).unwrap(),
                transpose_naive(&x, &axes).unwrap(),
                "{axes:?}"
            );
        }
    }

    #[test]
    fn concat_and_split_by_hand() {
        let a = Tensor::arange(&[1, 2, 1, 2]);
        let b = Tensor::full(&[1, 2, 1, 1], 9.0);
        let y = concat(&[&a, &b], -1).unwrap();
        assert_eq!(y.shape(), &[1, 2, 1, 3]);
        assert_eq!(y.data(), &[0.0, 1.0, 9.0, 2.0, 3.0, 9.0]);
        let parts = split(&y, 3, &[2, 1]).unwrap();
        assert_eq!(parts[0], a);
        assert_eq!(parts[1], b);
        let y = concat(&[&a, &a], 1).unwrap();
        assert_eq!(y.data(), &[0.0, 1.0, 2.0, 3.0, 0.0, 1.0, 2.0, 3.0]);
    }

    #[test]
    fn fast_concat_matches_naive() {
        let mut rng = Rng::new(9);
        for case in 0..150 {
            let rank = 1 + rng.below(4);
            let big = case % 25 == 0;
            let base: Vec<usize> = (0..rank)
                .map(|_| if big { 10 + rng.below(30) } else { 1 + rng.below(4) })
                .collect();
            let axis = rng.below(rank);
            let k = 1 + rng.below(4);
            let xs: Vec<Tensor> = (0..k)
                .map(|_| {
                    let mut s = base.clone();
                    s[axis] = rng.below(4);
                    random(&mut rng, &s)
                })
                .collect();
            let refs: Vec<&Tensor> = xs.iter().collect();
            let signed = if rng.below(2) == 0 {
                axis as isize
            } else {
                axis as isize - rank as isize
            };
            let fast = concat(&refs, signed).unwrap();
            assert_eq!(fast, concat_naive(&refs, signed).unwrap(), "case {case}");
            let sizes: Vec<usize> = xs.iter().map(|t| t.shape()[axis]).collect();
            assert_eq!(split(&fast, signed, &sizes).unwrap(), xs, "case {case}");
        }
    }

    #[test]
    fn slice_by_hand_and_backward() {
        let x = Tensor::arange(&[3, 4]);
        let y = slice(&x, &[1, 1], &[3, 3]).unwrap();
        assert_eq!(y.data(), &[5.0, 6.0, 9.0, 10.0]);
        let g = slice_backward(&Tensor::ones(&[2, 2]), &[3, 4], &[1, 1]).unwrap();
        assert_eq!(g.data(), &[0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0]);
    }

    #[test]
    fn reshape_helpers() {
        assert_eq!(flatten_shape(&[2, 3, 4, 5]).unwrap(), vec![2, 60]);
        assert_eq!(expand_dims_shape(&[2, 3], -1).unwrap(), vec![2, 3, 1]);
        assert_eq!(expand_dims_shape(&[2, 3], 0).unwrap(), vec![1, 2, 3]);
        assert_eq!(squeeze_shape(&[2, 1, 3], 1).unwrap(), vec![2, 3]);
        assert_eq!(resolve_shape("reshape", 24, &[2, -1, 3]).unwrap(), vec![2, 4, 3]);
        let mut t = Tape::new();
        let x = t.param(Tensor::arange(&[2, 3, 1]));
        let y = t.flatten(x).unwrap();
        assert_eq!(t.value(y).shape(), &[2, 3]);
        let z = t.squeeze(x, -1).unwrap();
        let w = t.expand_dims(z, 1).unwrap();
        assert_eq!(t.value(w).shape(), &[2, 1, 3]);
    }

    #[test]
    fn gradients_move_back() {
        let mut rng = Rng::new(21);
        let a = random(&mut rng, &[2, 3, 2, 2]);
        let b = random(&mut rng, &[2, 3, 2, 1]);
        check_gradients(&[a.clone(), b], |t, v| t.concat(&[v[0], v[1], v[0]], -1), 1e-2, 1e-2).unwrap();
        check_gradients(
            std::slice::from_ref(&a),
            |t, v| t.transpose(v[0], &[0, 3, 1, 2]),
            1e-2,
            1e-2,
        )
        .unwrap();
        check_gradients(
            std::slice::from_ref(&a),
            |t, v| t.transpose(v[0], &[2, 0, 3, 1]),
            1e-2,
            1e-2,
        )
        .unwrap();
        check_gradients(
            std::slice::from_ref(&a),
            |t, v| t.slice(v[0], &[0, 1, 0, 1], &[2, 3, 1, 2]),
            1e-2,
            1e-2,
        )
        .unwrap();
        check_gradients(
            &[a],
            |t, v| {
                let f = t.flatten(v[0])?;
                t.reshape(f, &[4, 6])
            },
            1e-2,
            1e-2,
        )
        .unwrap();
    }

    #[test]
    fn errors_name_axis_and_shapes() {
        let a = Tensor::zeros(&[1, 5, 4, 8]);
        let b = Tensor::zeros(&[1, 4, 4, 8]);
        let e = concat(&[&a, &b], 3).unwrap_err().to_string();
        assert_eq!(
            e,
            "concat: axis 3: input 1 has shape [1, 4, 4, 8] but input 0 has [1, 5, 4, 8]; all dimensions but the axis must match"
        );
        let e = concat(&[&a, &Tensor::zeros(&[5, 4, 8])], 0).unwrap_err().to_string();
        assert!(
            e.contains("input 1 has shape [5, 4, 8] (rank 3) but input 0 has [1, 5, 4, 8] (rank 4)"),
            "{e}"
        );
        let e = concat(&[], 0).unwrap_err().to_string();
        assert!(e.contains("`inputs`") && e.contains("at least one"), "{e}");
        let e = concat(&[&a], 4).unwrap_err().to_string();
        assert!(
            e.contains("`axis`") && e.contains("[-4, 4)") && e.contains("received 4"),
            "{e}"
        );
        let e = transpose(&a, &[0, 1, 1, 2]).unwrap_err().to_string();
        assert!(e.contains("permutation of 0..4") && e.contains("[0, 1, 1, 2]"), "{e}");
        let e = slice(&a, &[0, 2, 0, 0], &[1, 6, 4, 8]).unwrap_err().to_string();
        assert!(e.contains("axis 1: range 2..6 does not fit size 5"), "{e}");
        let e = squeeze_shape(&[2, 3], 1).unwrap_err().to_string();
        assert!(e.contains("axis 1 has size 3, expected 1"), "{e}");
        let e = resolve_shape("reshape", 10, &[3, -1]).unwrap_err().to_string();
        assert!(e.contains("not a multiple of 3"), "{e}");
        let e = split(&a, 1, &[2, 2]).unwrap_err().to_string();
        assert!(e.contains("add up to 4") && e.contains("has 5"), "{e}");
        let mut t = Tape::new();
        let x = t.param(a);
        let e = t.reshape(x, &[3, 3]).unwrap_err().to_string();
        assert!(e.contains("cannot reshape [1, 5, 4, 8] (160 values) to [3, 3]"), "{e}");
    }
}
