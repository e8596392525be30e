//! Per-channel passes over channels-last rows (`[pixels, c]`) for training-mode
//! BatchNormalization ([`crate::ops::batchnorm`]): the f64 sums `Σ y`, `Σ x·y` of its batch
//! statistics and of its backward, and the two-operand affine map `a·x + b·(y − s) + k` of its
//! output and input gradient.
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
    assert!(
        x.len() == y.len()
            && x.len() == out.len()
            && (c == 0 || x.len() % c == 0)
            && [co.a, co.b, co.s, co.k].iter().all(|v| v.len() >= c),
        "channel affine: operands of different sizes"
    );
    match isa {
        // SAFETY: as in `sums`.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { affine_avx512(c, x, y, co, out) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { affine_avx2(c, x, y, co, out) },
        _ => affine_generic(c, x, y, co, out),
    }
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
}
