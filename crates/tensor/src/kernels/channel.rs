//! Per-channel passes over channels-last rows (`[pixels, c]`) for training-mode
//! BatchNormalization ([`crate::ops::batchnorm`]): the f64 sums `Σ y`, `Σ x·y` of its batch
//! statistics and of its backward, and the two-operand affine map `a·x + b·(y − s) + k` of its
//! output and input gradient. With a ReLU-type activation after it (ReLU, ReLU6), the
//! forward map clamps its output ([`affine_clamped`]) and the backward passes gate the output
//! gradient by the activation's derivative ([`Gate`]), so the activation is no pass of its own.
//!
//! The loops are plain Rust over slices, compiled three times — for AVX-512, for AVX2 + FMA and
//! for the target's baseline — and chosen by [`Isa`] at run time: the crate is built for the
//! baseline (SSE2 on x86-64), where the f32 → f64 widening sums run two lanes wide. The
//! results do not depend on the instruction set: each channel's sum is the same sequence of
//! f64 additions, and the affine map is the same f32 expression (no contraction into FMA).
//! [`sums_reference`] and [`affine_reference`] are the scalar twins they are tested against.

use std::mem::MaybeUninit;

use super::Isa;

/// Adds every row's `y` and `x·y` (as f64) into `sy` and `sxy` (`c` values each); `x` and `y`
/// hold whole rows of `c`.
pub fn sums(isa: Isa, c: usize, x: &[f32], y: &[f32], sy: &mut [f64], sxy: &mut [f64]) {
    assert!(
        sy.len() >= c && sxy.len() >= c && x.len() == y.len(),
        "channel sums: operands of different sizes"
    );
    match isa {
        // SAFETY: `isa` is never above what the CPU reported (`kernels::isa`, `Isa::available`).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { sums_avx512(c, x, y, sy, sxy) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { sums_avx2(c, x, y, sy, sxy) },
        _ => sums_generic(c, x, y, sy, sxy),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn sums_avx512(c: usize, x: &[f32], y: &[f32], sy: &mut [f64], sxy: &mut [f64]) {
    sums_generic(c, x, y, sy, sxy)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn sums_avx2(c: usize, x: &[f32], y: &[f32], sy: &mut [f64], sxy: &mut [f64]) {
    sums_generic(c, x, y, sy, sxy)
}

#[inline(always)]
fn sums_generic(c: usize, x: &[f32], y: &[f32], sy: &mut [f64], sxy: &mut [f64]) {
    if c == 0 {
        return;
    }
    let (sy, sxy) = (&mut sy[..c], &mut sxy[..c]);
    for (xr, yr) in x.chunks_exact(c).zip(y.chunks_exact(c)) {
        for (((a, b), &xv), &yv) in sy.iter_mut().zip(sxy.iter_mut()).zip(xr).zip(yr) {
            let yd = yv as f64;
            *a += yd;
            *b += xv as f64 * yd;
        }
    }
}

/// The coefficients of [`affine`], one per channel.
#[derive(Debug, Clone, Copy)]
pub struct Coefficients<'a> {
    /// Multiplies `x`.
    pub a: &'a [f32],
    /// Multiplies `y − s`.
    pub b: &'a [f32],
    /// Subtracted from `y`.
    pub s: &'a [f32],
    /// Added last.
    pub k: &'a [f32],
}

/// `out = a·x + b·(y − s) + k` per channel over whole rows of `c`; every value of `out` is
/// written (it may start uninitialized) when `x.len()` is a multiple of `c`.
pub fn affine(isa: Isa, c: usize, x: &[f32], y: &[f32], co: Coefficients, out: &mut [MaybeUninit<f32>]) {
    check_affine(c, x, y, &co, out);
    match isa {
        // SAFETY: as in `sums`.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { affine_avx512(c, x, y, co, out) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { affine_avx2(c, x, y, co, out) },
        _ => affine_generic(c, x, y, co, out),
    }
}

fn check_affine(c: usize, x: &[f32], y: &[f32], co: &Coefficients, out: &[MaybeUninit<f32>]) {
    assert!(
        x.len() == y.len()
            && x.len() == out.len()
            && (c == 0 || x.len() % c == 0)
            && [co.a, co.b, co.s, co.k].iter().all(|v| v.len() >= c),
        "channel affine: operands of different sizes"
    );
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn affine_avx512(c: usize, x: &[f32], y: &[f32], co: Coefficients, out: &mut [MaybeUninit<f32>]) {
    affine_generic(c, x, y, co, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn affine_avx2(c: usize, x: &[f32], y: &[f32], co: Coefficients, out: &mut [MaybeUninit<f32>]) {
    affine_generic(c, x, y, co, out)
}

#[inline(always)]
fn affine_generic(c: usize, x: &[f32], y: &[f32], co: Coefficients, out: &mut [MaybeUninit<f32>]) {
    if c == 0 {
        return;
    }
    let (a, b, s, k) = (&co.a[..c], &co.b[..c], &co.s[..c], &co.k[..c]);
    for ((or, xr), yr) in out.chunks_exact_mut(c).zip(x.chunks_exact(c)).zip(y.chunks_exact(c)) {
        for (ch, ((o, &xv), &yv)) in or.iter_mut().zip(xr).zip(yr).enumerate() {
            o.write(a[ch] * xv + b[ch] * (yv - s[ch]) + k[ch]);
        }
    }
}

/// A ReLU-type activation that followed a forward [`affine_clamped`] map, as its backward
/// needs it: the pre-activation `a·x + b·(x − s) + k` recomputed from the forward's input with
/// the forward's coefficients (the same f32 expression, so the same value) and the gradient
/// passed where it lies in `(lo, hi)`, as TensorFlow's `relu′` (`x > 0`) and `relu6′`
/// (`0 < x < 6`) are; `hi = ∞` has no upper bound.
#[derive(Debug, Clone, Copy)]
pub struct Gate<'a> {
    /// The forward map's coefficients (its `x` and `y` were both the input).
    pub co: Coefficients<'a>,
    /// The gradient passes above this.
    pub lo: f32,
    /// And below this (`+∞`: everywhere above `lo`).
    pub hi: f32,
}

impl<'a> Gate<'a> {
    /// The gate with its coefficients cut to `c` (so that indexing them by a channel of a
    /// row of `c` needs no bounds check, and the loops vectorize).
    #[inline(always)]
    fn cut(&self, c: usize) -> Gate<'a> {
        let co = &self.co;
        Gate {
            co: Coefficients {
                a: &co.a[..c],
                b: &co.b[..c],
                s: &co.s[..c],
                k: &co.k[..c],
            },
            ..*self
        }
    }

    /// The activation's derivative at the pre-activation of input `v` of channel `ch`.
    #[inline(always)]
    fn pass(&self, ch: usize, v: f32) -> f32 {
        let co = &self.co;
        let p = co.a[ch] * v + co.b[ch] * (v - co.s[ch]) + co.k[ch];
        if p > self.lo && (p < self.hi || self.hi == f32::INFINITY) {
            1.0
        } else {
            0.0
        }
    }

    fn covers(&self, c: usize) -> bool {
        [self.co.a, self.co.b, self.co.s, self.co.k]
            .iter()
            .all(|v| v.len() >= c)
    }
}

/// [`affine`] followed by a clamp, `min(max(a·x + b·(y − s) + k, lo), hi)` (ReLU: `[0, ∞]`,
/// ReLU6: `[0, 6]`, as the inference epilogue clamps); every value of `out` is written.
#[allow(clippy::too_many_arguments)]
pub fn affine_clamped(
    isa: Isa,
    c: usize,
    x: &[f32],
    y: &[f32],
    co: Coefficients,
    lo: f32,
    hi: f32,
    out: &mut [MaybeUninit<f32>],
) {
    check_affine(c, x, y, &co, out);
    by_isa!(
        isa,
        affine_clamped_avx512,
        affine_clamped_avx2,
        affine_clamped_generic(c, x, y, co, lo, hi, out)
    )
}

isa_twins!(affine_clamped_avx512, affine_clamped_avx2, affine_clamped_generic(c: usize, x: &[f32], y: &[f32], co: Coefficients, lo: f32, hi: f32, out: &mut [MaybeUninit<f32>]));

#[inline(always)]
fn affine_clamped_generic(
    c: usize,
    x: &[f32],
    y: &[f32],
    co: Coefficients,
    lo: f32,
    hi: f32,
    out: &mut [MaybeUninit<f32>],
) {
    if c == 0 {
        return;
    }
    let (a, b, s, k) = (&co.a[..c], &co.b[..c], &co.s[..c], &co.k[..c]);
    for ((or, xr), yr) in out.chunks_exact_mut(c).zip(x.chunks_exact(c)).zip(y.chunks_exact(c)) {
        for (ch, ((o, &xv), &yv)) in or.iter_mut().zip(xr).zip(yr).enumerate() {
            o.write((a[ch] * xv + b[ch] * (yv - s[ch]) + k[ch]).max(lo).min(hi));
        }
    }
}

/// [`sums`] of the gated `y`: `Σ y·g`, `Σ x·y·g` with `g` the [`Gate`]'s derivative at `x`
/// (`x` the forward's input, `y` the gradient of the activation's output).
pub fn sums_gated(isa: Isa, c: usize, x: &[f32], y: &[f32], gate: Gate, sy: &mut [f64], sxy: &mut [f64]) {
    assert!(
        sy.len() >= c && sxy.len() >= c && x.len() == y.len() && gate.covers(c),
        "channel sums: operands of different sizes"
    );
    by_isa!(
        isa,
        sums_gated_avx512,
        sums_gated_avx2,
        sums_gated_generic(c, x, y, gate, sy, sxy)
    )
}

isa_twins!(sums_gated_avx512, sums_gated_avx2, sums_gated_generic(c: usize, x: &[f32], y: &[f32], gate: Gate, sy: &mut [f64], sxy: &mut [f64]));

#[inline(always)]
fn sums_gated_generic(c: usize, x: &[f32], y: &[f32], gate: Gate, sy: &mut [f64], sxy: &mut [f64]) {
    if c == 0 {
        return;
    }
    let (sy, sxy, gate) = (&mut sy[..c], &mut sxy[..c], gate.cut(c));
    for (xr, yr) in x.chunks_exact(c).zip(y.chunks_exact(c)) {
        for (ch, (((a, b), &xv), &yv)) in sy.iter_mut().zip(sxy.iter_mut()).zip(xr).zip(yr).enumerate() {
            let yd = (yv * gate.pass(ch, xv)) as f64;
            *a += yd;
            *b += xv as f64 * yd;
        }
    }
}

/// [`affine`] of the gated `x`: `a·(x·g) + b·(y − s) + k`, `g` the [`Gate`]'s derivative at
/// `y` (`x` the gradient of the activation's output, `y` the forward's input).
pub fn affine_gated(
    isa: Isa,
    c: usize,
    x: &[f32],
    y: &[f32],
    co: Coefficients,
    gate: Gate,
    out: &mut [MaybeUninit<f32>],
) {
    check_affine(c, x, y, &co, out);
    assert!(gate.covers(c), "channel affine: operands of different sizes");
    by_isa!(
        isa,
        affine_gated_avx512,
        affine_gated_avx2,
        affine_gated_generic(c, x, y, co, gate, out)
    )
}

isa_twins!(affine_gated_avx512, affine_gated_avx2, affine_gated_generic(c: usize, x: &[f32], y: &[f32], co: Coefficients, gate: Gate, out: &mut [MaybeUninit<f32>]));

#[inline(always)]
fn affine_gated_generic(c: usize, x: &[f32], y: &[f32], co: Coefficients, gate: Gate, out: &mut [MaybeUninit<f32>]) {
    if c == 0 {
        return;
    }
    let (a, b, s, k) = (&co.a[..c], &co.b[..c], &co.s[..c], &co.k[..c]);
    let gate = gate.cut(c);
    for ((or, xr), yr) in out.chunks_exact_mut(c).zip(x.chunks_exact(c)).zip(y.chunks_exact(c)) {
        for (ch, ((o, &xv), &yv)) in or.iter_mut().zip(xr).zip(yr).enumerate() {
            o.write(a[ch] * (xv * gate.pass(ch, yv)) + b[ch] * (yv - s[ch]) + k[ch]);
        }
    }
}

/// Scalar twin of [`affine_clamped`].
#[allow(clippy::too_many_arguments)]
pub fn affine_clamped_reference(c: usize, x: &[f32], y: &[f32], co: Coefficients, lo: f32, hi: f32, out: &mut [f32]) {
    affine_reference(c, x, y, co, out);
    out.iter_mut().for_each(|o| *o = o.max(lo).min(hi));
}

/// Scalar twin of [`sums_gated`].
pub fn sums_gated_reference(c: usize, x: &[f32], y: &[f32], gate: Gate, sy: &mut [f64], sxy: &mut [f64]) {
    let gated: Vec<f32> = y
        .iter()
        .zip(x)
        .enumerate()
        .map(|(i, (&yv, &xv))| yv * gate.pass(i % c, xv))
        .collect();
    sums_reference(c, x, &gated, sy, sxy);
}

/// Scalar twin of [`affine_gated`].
pub fn affine_gated_reference(c: usize, x: &[f32], y: &[f32], co: Coefficients, gate: Gate, out: &mut [f32]) {
    let gated: Vec<f32> = x
        .iter()
        .zip(y)
        .enumerate()
        .map(|(i, (&xv, &yv))| xv * gate.pass(i % c, yv))
        .collect();
    affine_reference(c, &gated, y, co, out);
}

/// Scalar twin of [`sums`].
pub fn sums_reference(c: usize, x: &[f32], y: &[f32], sy: &mut [f64], sxy: &mut [f64]) {
    for (i, (&xv, &yv)) in x.iter().zip(y).enumerate() {
        sy[i % c] += yv as f64;
        sxy[i % c] += xv as f64 * yv as f64;
    }
}

/// Scalar twin of [`affine`].
pub fn affine_reference(c: usize, x: &[f32], y: &[f32], co: Coefficients, out: &mut [f32]) {
    for (i, o) in out.iter_mut().enumerate() {
        let ch = i % c;
        *o = co.a[ch] * x[i] + co.b[ch] * (y[i] - co.s[ch]) + co.k[ch];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rng;

    fn random(rng: &mut Rng, n: usize) -> Vec<f32> {
        (0..n).map(|_| rng.uniform_range(-3.0, 3.0) as f32).collect()
    }

    /// Every instruction set gives the scalar loops' results bit for bit, for channel counts
    /// that are not multiples of a vector.
    #[test]
    fn every_isa_equals_the_scalar_twin_exactly() {
        let mut rng = Rng::new(9);
        for case in 0..40 {
            let c = 1 + rng.below(70);
            let rows = rng.below(30);
            let (x, y) = (random(&mut rng, rows * c), random(&mut rng, rows * c));
            let coef: Vec<Vec<f32>> = (0..4).map(|_| random(&mut rng, c)).collect();
            let co = Coefficients {
                a: &coef[0],
                b: &coef[1],
                s: &coef[2],
                k: &coef[3],
            };
            let (mut ry, mut rxy) = (vec![0.5f64; c], vec![-0.25f64; c]);
            sums_reference(c, &x, &y, &mut ry, &mut rxy);
            let mut rout = vec![0.0f32; x.len()];
            affine_reference(c, &x, &y, co, &mut rout);
            for isa in Isa::available() {
                let (mut sy, mut sxy) = (vec![0.5f64; c], vec![-0.25f64; c]);
                sums(isa, c, &x, &y, &mut sy, &mut sxy);
                assert_eq!((&sy, &sxy), (&ry, &rxy), "case {case} {isa:?} sums, c {c}");
                // SAFETY: `affine` writes every value (whole rows of `c`).
                let out = unsafe { crate::kernels::filled_vec(x.len(), |o| affine(isa, c, &x, &y, co, o)) };
                assert_eq!(out, rout, "case {case} {isa:?} affine, c {c}");
            }
        }
    }

    /// The clamped and gated maps and sums equal their scalar twins bit for bit on every
    /// instruction set, for ReLU and ReLU6 gates, with values on both sides of each bound.
    #[test]
    fn clamped_and_gated_passes_equal_their_twins() {
        let mut rng = Rng::new(10);
        for case in 0..40 {
            let c = 1 + rng.below(70);
            let rows = rng.below(30);
            let (x, y) = (random(&mut rng, rows * c), random(&mut rng, rows * c));
            // Pre-activations `2.5·x + 1.5` span about [−6, 9]: below 0, inside, above 6.
            let coef: Vec<Vec<f32>> = (0..4).map(|_| random(&mut rng, c)).collect();
            let (fa, fz, fk) = (vec![2.5f32; c], vec![0.0f32; c], vec![1.5f32; c]);
            let co = Coefficients {
                a: &coef[0],
                b: &coef[1],
                s: &coef[2],
                k: &coef[3],
            };
            let hi = if case % 2 == 0 { 6.0 } else { f32::INFINITY };
            let gate = Gate {
                co: Coefficients {
                    a: &fa,
                    b: &fz,
                    s: &fz,
                    k: &fk,
                },
                lo: 0.0,
                hi,
            };
            let passed = x.iter().filter(|&&v| gate.pass(0, v) == 1.0).count();
            assert!(
                rows == 0 || (passed > 0 && passed < x.len()) || x.len() < 8,
                "case {case}: a gate that passes all or nothing"
            );
            let mut rclamped = vec![0.0f32; x.len()];
            affine_clamped_reference(c, &x, &y, co, 0.0, hi, &mut rclamped);
            assert!(rclamped.iter().all(|&v| (0.0..=hi).contains(&v)), "case {case}: clamp");
            let (mut ry, mut rxy) = (vec![0.5f64; c], vec![-0.25f64; c]);
            sums_gated_reference(c, &x, &y, gate, &mut ry, &mut rxy);
            let mut rgated = vec![0.0f32; x.len()];
            affine_gated_reference(c, &y, &x, co, gate, &mut rgated);
            for isa in Isa::available() {
                // SAFETY: both maps write every value (whole rows of `c`).
                let clamped =
                    unsafe { crate::kernels::filled_vec(x.len(), |o| affine_clamped(isa, c, &x, &y, co, 0.0, hi, o)) };
                assert_eq!(clamped, rclamped, "case {case} {isa:?} clamped affine, c {c}");
                let (mut sy, mut sxy) = (vec![0.5f64; c], vec![-0.25f64; c]);
                sums_gated(isa, c, &x, &y, gate, &mut sy, &mut sxy);
                assert_eq!((&sy, &sxy), (&ry, &rxy), "case {case} {isa:?} gated sums, c {c}");
                let gated =
                    unsafe { crate::kernels::filled_vec(x.len(), |o| affine_gated(isa, c, &y, &x, co, gate, o)) };
                assert_eq!(gated, rgated, "case {case} {isa:?} gated affine, c {c}");
            }
        }
    }
}
