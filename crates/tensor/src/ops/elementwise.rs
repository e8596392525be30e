//! Elementwise ops. Binary ops (`add`, `sub`, `mul`, `div`, `maximum`, `minimum`) broadcast
//! like NumPy and Keras: shapes are aligned on the right and a dimension of 1 stretches, so
//! `(n, h, w, c) + (c,)` adds a bias per channel. Their backward sums each gradient back over
//! the axes its input was stretched along ([`sum_to_shape`]). Unary maps (`neg`, `scale`,
//! `add_scalar`, `exp`, `log`, `sqrt`, `square`, `abs`, `pow`, `clip`) keep the shape.
//!
//! The maps run in [`crate::kernels::vectorized`] (compiled for the CPU's vector ISA).
//!
//! Kernels: a same-shape path, a "bias over the trailing axes" path, and a general path that
//! first merges adjacent axes which broadcast the same way (so most shapes become one or two
//! long contiguous runs); [`binary_naive`] is the per-element reference they are tested
//! against. Large tensors are split over rayon's threads. The shape machinery of
//! broadcasting and its backward ([`sum_to_shape`]) live in `broadcast.rs`, re-exported here.

use std::mem::MaybeUninit;

use rayon::prelude::*;

pub(crate) use super::broadcast::fold_to_shape;
pub use super::broadcast::{broadcast_shape, broadcast_shape_for, sum_to_shape, sum_to_shape_naive};
use super::broadcast::{broadcast_strides, collapse, for_each_row, rows_per_task};
use crate::autograd::{Tape, Var};
use crate::error::{arg_err, shape_err, Result};
use crate::tensor::{numel, strides_of, Tensor};

/// Below this many elements an elementwise kernel runs on the calling thread.
pub(crate) const PAR_MIN_LEN: usize = 1 << 15;
/// Elements per rayon task in elementwise kernels.
pub(crate) const PAR_CHUNK: usize = 1 << 13;

/// `f` applied to every value; parallel over chunks for large inputs.
pub(crate) fn map_slice(x: &[f32], f: impl Fn(f32) -> f32 + Sync) -> Vec<f32> {
    let kernel = |o: &mut [MaybeUninit<f32>], s: &[f32]| {
        crate::kernels::vectorized(
            #[inline(always)]
            || {
                o.iter_mut().zip(s).for_each(|(o, &v)| {
                    o.write(f(v));
                })
            },
        )
    };
    // SAFETY: `write_chunks` hands `kernel` output chunks as long as the input's.
    unsafe { write_chunks(x.len(), x, x, x, |o, a, _, _| kernel(o, a)) }
}

/// `f(a[i], b[i])` for slices of equal length.
pub(crate) fn zip_map(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32 + Sync) -> Vec<f32> {
    if a.len() != b.len() {
        return zip3_map(a, b, a, |x, y, _| f(x, y));
    }
    let kernel = |o: &mut [MaybeUninit<f32>], a: &[f32], b: &[f32]| {
        crate::kernels::vectorized(
            #[inline(always)]
            || {
                o.iter_mut().zip(a).zip(b).for_each(|((o, &x), &y)| {
                    o.write(f(x, y));
                })
            },
        )
    };
    // SAFETY: as in `map_slice`; `a` and `b` have the output's length.
    unsafe { write_chunks(a.len(), a, b, a, |o, a, b, _| kernel(o, a, b)) }
}

/// `f(a[i], b[i], c[i])` for slices of equal length (unary backward: gradient, input, output).
pub(crate) fn zip3_map(a: &[f32], b: &[f32], c: &[f32], f: impl Fn(f32, f32, f32) -> f32 + Sync) -> Vec<f32> {
    if a.len() != b.len() || a.len() != c.len() {
        // Unequal lengths (a caller's bug): the zip stops at the shortest, zeros after it.
        let mut out = vec![0.0f32; a.len()];
        out.iter_mut()
            .zip(a)
            .zip(b)
            .zip(c)
            .for_each(|(((o, &x), &y), &z)| *o = f(x, y, z));
        return out;
    }
    let kernel = |o: &mut [MaybeUninit<f32>], a: &[f32], b: &[f32], c: &[f32]| {
        crate::kernels::vectorized(
            #[inline(always)]
            || {
                o.iter_mut().zip(a).zip(b).zip(c).for_each(|(((o, &x), &y), &z)| {
                    o.write(f(x, y, z));
                })
            },
        )
    };
    // SAFETY: as in `map_slice`; all three inputs have the output's length.
    unsafe { write_chunks(a.len(), a, b, c, kernel) }
}

/// A new vector of `n` values written chunk by chunk by `kernel(out, a, b, c)` (the matching
/// chunks of the inputs), in parallel for large `n`, without zeroing it first.
///
/// # Safety
/// `a`, `b` and `c` hold `n` values each and `kernel` writes every value of the output chunk
/// it is given (its length is the input chunks').
unsafe fn write_chunks(
    n: usize,
    a: &[f32],
    b: &[f32],
    c: &[f32],
    kernel: impl Fn(&mut [MaybeUninit<f32>], &[f32], &[f32], &[f32]) + Sync,
) -> Vec<f32> {
    crate::kernels::filled_vec(n, |out| {
        if n >= PAR_MIN_LEN {
            out.par_chunks_mut(PAR_CHUNK)
                .zip(
                    a.par_chunks(PAR_CHUNK)
                        .zip(b.par_chunks(PAR_CHUNK).zip(c.par_chunks(PAR_CHUNK))),
                )
                .for_each(|(o, (a, (b, c)))| kernel(o, a, b, c));
        } else {
            kernel(out, a, b, c);
        }
    })
}

/// The broadcasting binary ops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `a + b`
    Add,
    /// `a − b`
    Sub,
    /// `a · b`
    Mul,
    /// `a / b`
    Div,
    /// `max(a, b)`; the gradient goes to `a` on ties (TensorFlow's rule).
    Maximum,
    /// `min(a, b)`; the gradient goes to `a` on ties (TensorFlow's rule).
    Minimum,
}

impl BinaryOp {
    /// The op's name, as errors print it.
    pub fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
            BinaryOp::Maximum => "maximum",
            BinaryOp::Minimum => "minimum",
        }
    }

    /// The op on two numbers.
    #[inline]
    pub fn apply(self, a: f32, b: f32) -> f32 {
        match self {
            BinaryOp::Add => a + b,
            BinaryOp::Sub => a - b,
            BinaryOp::Mul => a * b,
            BinaryOp::Div => a / b,
            BinaryOp::Maximum => max_ab(a, b),
            BinaryOp::Minimum => min_ab(a, b),
        }
    }
}

#[inline]
fn max_ab(a: f32, b: f32) -> f32 {
    if a >= b {
        a
    } else {
        b
    }
}

#[inline]
fn min_ab(a: f32, b: f32) -> f32 {
    if a <= b {
        a
    } else {
        b
    }
}

/// The trailing-suffix length when `small` (leading 1s ignored) equals the trailing axes of
/// `big`: `(n, h, w, c)` and `(c,)` or `(1, 1, w, c)`. Then `small` repeats every that many.
fn trailing_suffix(big: &[usize], small: &[usize]) -> Option<usize> {
    let lead_ones = small.iter().take_while(|&&d| d == 1).count();
    let core = &small[lead_ones..];
    (small.len() <= big.len() && big.ends_with(core)).then(|| numel(core))
}

/// A broadcasting binary op with any `f`; `op` names it in errors.
pub fn binary_with(op: &'static str, a: &Tensor, b: &Tensor, f: impl Fn(f32, f32) -> f32 + Sync) -> Result<Tensor> {
    let out_shape = broadcast_shape_for(op, a.shape(), b.shape())?;
    let total = numel(&out_shape);
    if a.shape() == b.shape() {
        return Tensor::new(&out_shape, zip_map(a.data(), b.data(), f));
    }
    let mut out = vec![0.0f32; total];
    if total == 0 {
        return Tensor::new(&out_shape, out);
    }
    // Bias over the trailing axes: one operand repeats as a block.
    if out_shape == a.shape() {
        if let Some(len) = trailing_suffix(a.shape(), b.shape()).filter(|&l| l > 1) {
            block_broadcast::<true>(&mut out, a.data(), b.data(), len, &f);
            return Tensor::new(&out_shape, out);
        }
    }
    if out_shape == b.shape() {
        if let Some(len) = trailing_suffix(b.shape(), a.shape()).filter(|&l| l > 1) {
            block_broadcast::<false>(&mut out, b.data(), a.data(), len, &f);
            return Tensor::new(&out_shape, out);
        }
    }
    binary_strided(a.data(), b.data(), &mut out, &out_shape, a.shape(), b.shape(), &f);
    Tensor::new(&out_shape, out)
}

/// `out = f(big, block)` (or `f(block, big)` when `!BIG_FIRST`) where `block` (`len` values)
/// repeats along `big`'s rows; in parallel when large. The operand order is a const so each
/// loop stays branch-free.
fn block_broadcast<const BIG_FIRST: bool>(
    out: &mut [f32],
    big: &[f32],
    block: &[f32],
    len: usize,
    f: &(impl Fn(f32, f32) -> f32 + Sync),
) {
    let rows = |o: &mut [f32], s: &[f32]| {
        for (o, s) in o.chunks_exact_mut(len).zip(s.chunks_exact(len)) {
            if BIG_FIRST {
                o.iter_mut().zip(s).zip(block).for_each(|((o, &x), &y)| *o = f(x, y));
            } else {
                o.iter_mut().zip(block).zip(s).for_each(|((o, &x), &y)| *o = f(x, y));
            }
        }
    };
    if out.len() >= PAR_MIN_LEN {
        let chunk = rows_per_task(len) * len;
        out.par_chunks_mut(chunk)
            .zip(big.par_chunks(chunk))
            .for_each(|(o, s)| rows(o, s));
    } else {
        rows(out, big);
    }
}

/// The general path: merged axes, innermost run with stride 0 or 1 per operand.
fn binary_strided(
    a: &[f32],
    b: &[f32],
    out: &mut [f32],
    out_shape: &[usize],
    a_shape: &[usize],
    b_shape: &[usize],
    f: &(impl Fn(f32, f32) -> f32 + Sync),
) {
    let sa = broadcast_strides(a_shape, out_shape);
    let sb = broadcast_strides(b_shape, out_shape);
    let dims = collapse(out_shape, [&sa, &sb]);
    let (len, [ia, ib]) = dims[dims.len() - 1];
    let outer = &dims[..dims.len() - 1];
    let run = |rows: &mut [f32], start: usize| {
        let count = rows.len() / len;
        for_each_row(outer, start, count, |r, [oa, ob]| {
            let o = &mut rows[(r - start) * len..(r - start + 1) * len];
            match (ia, ib) {
                (1, 1) => o
                    .iter_mut()
                    .zip(&a[oa..oa + len])
                    .zip(&b[ob..ob + len])
                    .for_each(|((o, &x), &y)| *o = f(x, y)),
                (1, 0) => {
                    let y = b[ob];
                    o.iter_mut().zip(&a[oa..oa + len]).for_each(|(o, &x)| *o = f(x, y));
                }
                (0, 1) => {
                    let x = a[oa];
                    o.iter_mut().zip(&b[ob..ob + len]).for_each(|(o, &y)| *o = f(x, y));
                }
                _ => o
                    .iter_mut()
                    .enumerate()
                    .for_each(|(j, o)| *o = f(a[oa + j * ia], b[ob + j * ib])),
            }
        });
    };
    if out.len() >= PAR_MIN_LEN {
        let per = rows_per_task(len);
        out.par_chunks_mut(per * len)
            .enumerate()
            .for_each(|(t, rows)| run(rows, t * per));
    } else {
        run(out, 0);
    }
}

/// A broadcasting binary op.
pub fn binary(op: BinaryOp, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    match op {
        BinaryOp::Add => binary_with(op.name(), a, b, |x, y| x + y),
        BinaryOp::Sub => binary_with(op.name(), a, b, |x, y| x - y),
        BinaryOp::Mul => binary_with(op.name(), a, b, |x, y| x * y),
        BinaryOp::Div => binary_with(op.name(), a, b, |x, y| x / y),
        BinaryOp::Maximum => binary_with(op.name(), a, b, max_ab),
        BinaryOp::Minimum => binary_with(op.name(), a, b, min_ab),
    }
}

/// Reference kernel: every output element unravelled to its index, then to each input's.
pub fn binary_naive(op: BinaryOp, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let out_shape = broadcast_shape_for(op.name(), a.shape(), b.shape())?;
    let sa = broadcast_strides(a.shape(), &out_shape);
    let sb = broadcast_strides(b.shape(), &out_shape);
    let so = strides_of(&out_shape);
    let data = (0..numel(&out_shape))
        .map(|flat| {
            let (mut ia, mut ib) = (0, 0);
            for d in 0..out_shape.len() {
                let i = flat / so[d] % out_shape[d];
                ia += i * sa[d];
                ib += i * sb[d];
            }
            op.apply(a.data()[ia], b.data()[ib])
        })
        .collect();
    Tensor::new(&out_shape, data)
}

/// `a + b`, broadcasting.
pub fn add(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(BinaryOp::Add, a, b)
}

/// `a − b`, broadcasting.
pub fn sub(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(BinaryOp::Sub, a, b)
}

/// `a · b`, broadcasting.
pub fn mul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(BinaryOp::Mul, a, b)
}

/// `a / b`, broadcasting.
pub fn div(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(BinaryOp::Div, a, b)
}

/// `max(a, b)`, broadcasting.
pub fn maximum(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(BinaryOp::Maximum, a, b)
}

/// `min(a, b)`, broadcasting.
pub fn minimum(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(BinaryOp::Minimum, a, b)
}

/// `t` stretched to `shape` (NumPy's `broadcast_to`): the forward of broadcasting.
pub fn broadcast_to(t: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if broadcast_shape_for("broadcast_to", t.shape(), shape)? != shape {
        return shape_err(
            "broadcast_to",
            format!("shape {:?} does not broadcast to {shape:?}", t.shape()),
        );
    }
    if t.shape() == shape {
        return Ok(t.clone());
    }
    let mut out = vec![0.0f32; numel(shape)];
    if !out.is_empty() {
        // The strided kernel against a scalar dummy: every output reads its source element.
        binary_strided(t.data(), &[0.0], &mut out, shape, t.shape(), &[], &|x, _| x);
    }
    Tensor::new(shape, out)
}

// ---------------------------------------------------------------------------------------
// Unary maps.

/// `−x`.
pub fn neg(x: &Tensor) -> Tensor {
    x.map(|v| -v)
}

/// `x · factor`.
pub fn scale(x: &Tensor, factor: f32) -> Tensor {
    map_tensor(x, |v| v * factor)
}

/// `x + value`.
pub fn add_scalar(x: &Tensor, value: f32) -> Tensor {
    map_tensor(x, |v| v + value)
}

/// `eˣ`.
pub fn exp(x: &Tensor) -> Tensor {
    map_tensor(x, f32::exp)
}

/// Natural logarithm (`−inf` at 0, NaN below, as TensorFlow).
pub fn log(x: &Tensor) -> Tensor {
    map_tensor(x, f32::ln)
}

/// Square root.
pub fn sqrt(x: &Tensor) -> Tensor {
    map_tensor(x, f32::sqrt)
}

/// `x²`.
pub fn square(x: &Tensor) -> Tensor {
    map_tensor(x, |v| v * v)
}

/// `|x|`.
pub fn abs(x: &Tensor) -> Tensor {
    map_tensor(x, f32::abs)
}

/// `xᵖ` for a constant `p`.
pub fn pow(x: &Tensor, p: f32) -> Tensor {
    map_tensor(x, |v| v.powf(p))
}

/// Values limited to `[min, max]` (Keras's `ops.clip`); `min ≤ max` is required.
pub fn clip(x: &Tensor, min: f32, max: f32) -> Result<Tensor> {
    check_clip(min, max)?;
    Ok(map_tensor(x, |v| v.max(min).min(max)))
}

fn check_clip(min: f32, max: f32) -> Result<()> {
    if min.is_nan() || max.is_nan() || min > max {
        return arg_err("clip", "x_max", format!("a number ≥ x_min ({min})"), max);
    }
    Ok(())
}

/// `f` on every value, parallel for large tensors.
pub(crate) fn map_tensor(x: &Tensor, f: impl Fn(f32) -> f32 + Sync) -> Tensor {
    // The shape is x's and the length matches it, so this cannot fail.
    Tensor::new(x.shape(), map_slice(x.data(), f)).unwrap_or_else(|_| Tensor::zeros(x.shape()))
}

/// Gradients of a broadcasting binary op for the inputs in `need`.
pub fn binary_backward(
    op: BinaryOp,
    grad: &Tensor,
    a: &Tensor,
    b: &Tensor,
    out: &Tensor,
    need: [bool; 2],
) -> Result<Vec<Option<Tensor>>> {
    let (sa, sb) = (a.shape(), b.shape());
    if grad.shape() != out.shape() {
        return shape_err(
            op.name(),
            format!(
                "gradient shape {:?} differs from the output's {:?}",
                grad.shape(),
                out.shape()
            ),
        );
    }
    let (ga, gb) = match op {
        BinaryOp::Add | BinaryOp::Sub => {
            let ga = if need[0] { Some(sum_to_shape(grad, sa)?) } else { None };
            let gb = if need[1] { Some(sum_to_shape(grad, sb)?) } else { None };
            (ga, if op == BinaryOp::Sub { gb.map(|g| neg(&g)) } else { gb })
        }
        BinaryOp::Mul => (
            if need[0] {
                Some(sum_to_shape(&mul(grad, b)?, sa)?)
            } else {
                None
            },
            if need[1] {
                Some(sum_to_shape(&mul(grad, a)?, sb)?)
            } else {
                None
            },
        ),
        BinaryOp::Div => {
            // d(a/b)/db = −a/b² = −(g/b)·out.
            let t = div(grad, b)?;
            let gb = if need[1] {
                Some(sum_to_shape(
                    &Tensor::new(t.shape(), zip_map(t.data(), out.data(), |t, o| -t * o))?,
                    sb,
                )?)
            } else {
                None
            };
            (if need[0] { Some(sum_to_shape(&t, sa)?) } else { None }, gb)
        }
        BinaryOp::Maximum | BinaryOp::Minimum => {
            // TensorFlow: the gradient goes to `a` where a ≥ b (maximum) or a ≤ b (minimum).
            let max = op == BinaryOp::Maximum;
            let to_a = binary_with(op.name(), a, b, |x, y| {
                f32::from(u8::from(if max { x >= y } else { x <= y }))
            })?;
            let ga = if need[0] {
                Some(sum_to_shape(&mul(grad, &to_a)?, sa)?)
            } else {
                None
            };
            let gb = if need[1] {
                Some(sum_to_shape(
                    &Tensor::new(grad.shape(), zip_map(grad.data(), to_a.data(), |g, m| g * (1.0 - m)))?,
                    sb,
                )?)
            } else {
                None
            };
            (ga, gb)
        }
    };
    Ok(vec![ga, gb])
}

impl Tape {
    /// A broadcasting binary op on the tape.
    pub fn binary(&mut self, op: BinaryOp, a: Var, b: Var) -> Result<Var> {
        let value = binary(op, self.try_value(a)?, self.try_value(b)?)?;
        let need = [self.requires_grad(a), self.requires_grad(b)];
        self.record(
            value,
            &[a, b],
            Box::new(move |g, ins, out| binary_backward(op, g, ins[0], ins[1], out, need)),
        )
    }

    /// `a + b`, broadcasting.
    pub fn add(&mut self, a: Var, b: Var) -> Result<Var> {
        self.binary(BinaryOp::Add, a, b)
    }

    /// `a − b`, broadcasting.
    pub fn sub(&mut self, a: Var, b: Var) -> Result<Var> {
        self.binary(BinaryOp::Sub, a, b)
    }

    /// `a · b`, broadcasting.
    pub fn mul(&mut self, a: Var, b: Var) -> Result<Var> {
        self.binary(BinaryOp::Mul, a, b)
    }

    /// `a / b`, broadcasting.
    pub fn div(&mut self, a: Var, b: Var) -> Result<Var> {
        self.binary(BinaryOp::Div, a, b)
    }

    /// `max(a, b)`, broadcasting; ties send the gradient to `a`.
    pub fn maximum(&mut self, a: Var, b: Var) -> Result<Var> {
        self.binary(BinaryOp::Maximum, a, b)
    }

    /// `min(a, b)`, broadcasting; ties send the gradient to `a`.
    pub fn minimum(&mut self, a: Var, b: Var) -> Result<Var> {
        self.binary(BinaryOp::Minimum, a, b)
    }

    /// An elementwise map with its derivative: `y = f(x)`, `dy/dx = df(x, y)`. Activations
    /// and custom ops use it; the derivative may use the output (`σ′ = y(1 − y)`).
    pub fn unary_map(
        &mut self,
        x: Var,
        f: impl Fn(f32) -> f32 + Sync,
        df: impl Fn(f32, f32) -> f32 + Send + Sync + 'static,
    ) -> Result<Var> {
        let value = map_tensor(self.try_value(x)?, f);
        self.record(
            value,
            &[x],
            Box::new(move |g, ins, out| {
                let d = zip3_map(g.data(), ins[0].data(), out.data(), |g, x, y| g * df(x, y));
                Ok(vec![Some(Tensor::new(ins[0].shape(), d)?)])
            }),
        )
    }

    /// `−x`.
    pub fn neg(&mut self, x: Var) -> Result<Var> {
        self.unary_map(x, |v| -v, |_, _| -1.0)
    }

    /// `x · factor`.
    pub fn scale(&mut self, x: Var, factor: f32) -> Result<Var> {
        self.unary_map(x, move |v| v * factor, move |_, _| factor)
    }

    /// `x + value`.
    pub fn add_scalar(&mut self, x: Var, value: f32) -> Result<Var> {
        self.unary_map(x, move |v| v + value, |_, _| 1.0)
    }

    /// `eˣ`.
    pub fn exp(&mut self, x: Var) -> Result<Var> {
        self.unary_map(x, f32::exp, |_, y| y)
    }

    /// Natural logarithm.
    pub fn log(&mut self, x: Var) -> Result<Var> {
        self.unary_map(x, f32::ln, |x, _| 1.0 / x)
    }

    /// Square root.
    pub fn sqrt(&mut self, x: Var) -> Result<Var> {
        self.unary_map(x, f32::sqrt, |_, y| 0.5 / y)
    }

    /// `x²`.
    pub fn square(&mut self, x: Var) -> Result<Var> {
        self.unary_map(x, |v| v * v, |x, _| 2.0 * x)
    }

    /// `|x|`; the gradient at 0 is 0 (TensorFlow's `sign`).
    pub fn abs(&mut self, x: Var) -> Result<Var> {
        self.unary_map(x, f32::abs, |x, _| {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                0.0
            }
        })
    }

    /// `xᵖ` for a constant `p`.
    pub fn pow(&mut self, x: Var, p: f32) -> Result<Var> {
        self.unary_map(
            x,
            move |v| v.powf(p),
            move |x, _| if p == 0.0 { 0.0 } else { p * x.powf(p - 1.0) },
        )
    }

    /// Values limited to `[min, max]`; the gradient passes where `min ≤ x ≤ max`
    /// (TensorFlow's `clip_by_value`).
    pub fn clip(&mut self, x: Var, min: f32, max: f32) -> Result<Var> {
        check_clip(min, max)?;
        self.unary_map(
            x,
            move |v| v.max(min).min(max),
            move |x, _| if x < min || x > max { 0.0 } else { 1.0 },
        )
    }
}

#[cfg(test)]
#[path = "elementwise_tests.rs"]
mod tests;
