//! Broadcasting's shape machinery, shared by the elementwise kernels and the reductions:
//! the shape two shapes broadcast to (NumPy's rule: align on the right, a 1 stretches), the
//! strides an operand is read with (0 along stretched axes), merging axes that every operand
//! walks the same way into long contiguous runs, an odometer over the outer axes, and the
//! backward of broadcasting, [`sum_to_shape`] (a fold over the stretched axes), with its
//! per-element reference [`sum_to_shape_naive`]. Re-exported from [`super::elementwise`].

use rayon::prelude::*;

use super::elementwise::{PAR_CHUNK, PAR_MIN_LEN};
use crate::error::{shape_err, Result};
use crate::tensor::{numel, strides_of, Tensor};

/// The shape two shapes broadcast to (NumPy's rule: align on the right, a 1 stretches).
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    broadcast_shape_for("broadcast", a, b)
}

/// [`broadcast_shape`] with the calling op's name in the error:
/// `add: shapes [2, 3] and [4] cannot be broadcast: dimension 1 is 3 vs 4`.
pub fn broadcast_shape_for(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = Vec::with_capacity(rank);
    for i in 0..rank {
        let da = if i + a.len() >= rank { a[i + a.len() - rank] } else { 1 };
        let db = if i + b.len() >= rank { b[i + b.len() - rank] } else { 1 };
        out.push(match (da, db) {
            _ if da == db => da,
            (1, _) => db,
            (_, 1) => da,
            _ => {
                return shape_err(
                    op,
                    format!("shapes {a:?} and {b:?} cannot be broadcast: dimension {i} is {da} vs {db}"),
                )
            }
        });
    }
    Ok(out)
}

/// Strides of `shape` seen from the (right-aligned) broadcast shape `out`: 0 on stretched axes.
pub(crate) fn broadcast_strides(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let own = strides_of(shape);
    let lead = out.len() - shape.len();
    (0..out.len())
        .map(|i| {
            if i < lead || (shape[i - lead] == 1 && out[i] != 1) {
                0
            } else {
                own[i - lead]
            }
        })
        .collect()
}

/// One merged axis: its size and, per operand, its stride.
pub(crate) type Dim<const N: usize> = (usize, [usize; N]);

/// Drops size-1 axes and merges neighbours that every operand walks contiguously, so the
/// innermost run is as long as possible. Never empty.
pub(crate) fn collapse<const N: usize>(shape: &[usize], strides: [&[usize]; N]) -> Vec<Dim<N>> {
    let mut dims: Vec<Dim<N>> = Vec::with_capacity(shape.len());
    for (i, &size) in shape.iter().enumerate() {
        if size == 1 {
            continue;
        }
        let s: [usize; N] = std::array::from_fn(|k| strides[k][i]);
        if let Some(last) = dims.last_mut() {
            if (0..N).all(|k| last.1[k] == s[k] * size) {
                last.0 *= size;
                last.1 = s;
                continue;
            }
        }
        dims.push((size, s));
    }
    if dims.is_empty() {
        dims.push((1, [0; N]));
    }
    dims
}

/// Calls `f(row, offsets)` for rows `start..start + count` of the outer axes `outer`
/// (row-major), with each operand's offset; an odometer, so no division per row.
pub(crate) fn for_each_row<const N: usize>(
    outer: &[Dim<N>],
    start: usize,
    count: usize,
    mut f: impl FnMut(usize, [usize; N]),
) {
    let mut idx = vec![0usize; outer.len()];
    let mut off = [0usize; N];
    let mut rem = start;
    for d in (0..outer.len()).rev() {
        idx[d] = rem % outer[d].0;
        rem /= outer[d].0;
        let (i, strides) = (idx[d], outer[d].1);
        off.iter_mut().zip(strides).for_each(|(o, s)| *o += i * s);
    }
    for r in start..start + count {
        f(r, off);
        for d in (0..outer.len()).rev() {
            let (size, strides) = outer[d];
            idx[d] += 1;
            off.iter_mut().zip(strides).for_each(|(o, s)| *o += s);
            if idx[d] < size {
                break;
            }
            off.iter_mut().zip(strides).for_each(|(o, s)| *o -= s * size);
            idx[d] = 0;
        }
    }
}

/// Rows per rayon task so that a task covers about [`PAR_CHUNK`] elements.
pub(crate) fn rows_per_task(row_len: usize) -> usize {
    (PAR_CHUNK / row_len.max(1)).max(1)
}

/// Sums `t` over the axes along which `shape` was broadcast to `t`'s shape: the backward of
/// broadcasting. `shape` must broadcast to `t.shape()`.
pub fn sum_to_shape(t: &Tensor, shape: &[usize]) -> Result<Tensor> {
    fold_to_shape("sum_to_shape", t, shape, 0.0, |a, b| a + b)
}

/// Folds `t` with `f` (associative, `identity` its neutral value) over the axes along which
/// `shape` broadcasts to `t`'s shape. Sums, maxima and minima over axes use it.
pub(crate) fn fold_to_shape(
    op: &'static str,
    t: &Tensor,
    shape: &[usize],
    identity: f32,
    f: impl Fn(f32, f32) -> f32 + Sync,
) -> Result<Tensor> {
    let big = t.shape();
    if broadcast_shape_for(op, shape, big)? != big {
        return shape_err(op, format!("shape {shape:?} does not broadcast to {big:?}"));
    }
    if shape == big {
        return Ok(t.clone());
    }
    let n = numel(shape);
    if t.is_empty() || n == 0 {
        return Ok(Tensor::full(shape, identity));
    }
    let st = broadcast_strides(shape, big);
    let dims = collapse(big, [&st]);
    let (len, [inner]) = dims[dims.len() - 1];
    let outer = &dims[..dims.len() - 1];
    let src = t.data();
    let f = &f;
    let run = |acc: &mut [f32], start: usize, count: usize| {
        for_each_row(outer, start, count, |r, [o]| {
            let row = &src[r * len..(r + 1) * len];
            if inner == 1 {
                acc[o..o + len].iter_mut().zip(row).for_each(|(a, &v)| *a = f(*a, v));
            } else {
                acc[o] = f(acc[o], fold_row(row, identity, f));
            }
        });
    };
    let rows = t.len() / len;
    let per = rows_per_task(len);
    let tasks = rows.div_ceil(per);
    let mut out = vec![identity; n];
    // Partial results per task, combined at the end: only when they are small next to the input.
    if t.len() >= PAR_MIN_LEN && tasks > 1 && n * tasks <= t.len() / 4 {
        let partials: Vec<Vec<f32>> = (0..tasks)
            .into_par_iter()
            .map(|k| {
                let mut acc = vec![identity; n];
                run(&mut acc, k * per, per.min(rows - k * per));
                acc
            })
            .collect();
        for p in partials {
            out.iter_mut().zip(&p).for_each(|(o, &v)| *o = f(*o, v));
        }
    } else {
        run(&mut out, 0, rows);
    }
    Tensor::new(shape, out)
}

/// Folds a contiguous row in eight independent lanes so the compiler can vectorize it.
#[inline]
fn fold_row(row: &[f32], identity: f32, f: &impl Fn(f32, f32) -> f32) -> f32 {
    let mut lanes = [identity; 8];
    let chunks = row.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for k in 0..8 {
            lanes[k] = f(lanes[k], c[k]);
        }
    }
    let mut acc = tail.iter().fold(identity, |a, &v| f(a, v));
    for l in lanes {
        acc = f(acc, l);
    }
    acc
}

/// Reference for [`sum_to_shape`]: every element added to its unravelled target index.
pub fn sum_to_shape_naive(t: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let big = t.shape();
    if broadcast_shape_for("sum_to_shape", shape, big)? != big {
        return shape_err("sum_to_shape", format!("shape {shape:?} does not broadcast to {big:?}"));
    }
    let st = broadcast_strides(shape, big);
    let sb = strides_of(big);
    let mut out = vec![0.0f32; numel(shape)];
    for (flat, &v) in t.data().iter().enumerate() {
        let o: usize = (0..big.len()).map(|d| flat / sb[d] % big[d] * st[d]).sum();
        out[o] += v;
    }
    Tensor::new(shape, out)
}
