//! The one safe door to the `gemm` crate: `C = α·C + β·op(A)·op(B)` on row-major slices,
//! with either operand optionally transposed. Convolutions (im2col) and matmul both call it.
//!
//! Threading: the caller chooses. Small, skinny products are fastest single-threaded with the
//! parallelism across the batch (rayon, outside); large square products may use gemm's own.

use crate::error::{shape_err, Result};

/// Whether an operand is used as stored or transposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trans {
    /// As stored (row-major `rows × cols`).
    No,
    /// Transposed.
    Yes,
}

/// Threads gemm itself may use for one product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GemmThreads {
    /// One thread (the caller parallelizes outside).
    Single,
    /// gemm's rayon mode with this many threads.
    Rayon(usize),
}

/// Products below this many multiply-adds stay single-threaded even when asked otherwise:
/// measured on 2 cores, gemm's own threading loses on small, skinny shapes.
pub const PARALLEL_MIN_FLOPS: usize = 1 << 22;

/// `c (m×n) = alpha·c + beta·op(a) (m×k) · op(b) (k×n)`; all row-major.
///
/// `a` is stored `m×k` (or `k×m` when `ta` is `Yes`), `b` `k×n` (or `n×k`).
/// When `alpha` is 0, `c` is overwritten (its old values are not read).
#[allow(clippy::too_many_arguments)]
pub fn sgemm(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    ta: Trans,
    b: &[f32],
    tb: Trans,
    c: &mut [f32],
    alpha: f32,
    beta: f32,
    threads: GemmThreads,
) -> Result<()> {
    if a.len() < m * k || b.len() < k * n || c.len() < m * n {
        return shape_err(
            "gemm",
            format!(
                "buffers too small for {m}×{k} · {k}×{n}: a {} b {} c {}",
                a.len(),
                b.len(),
                c.len()
            ),
        );
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        for v in &mut c[..m * n] {
            *v *= alpha;
        }
        return Ok(());
    }
    // Row-major: element (i, j) of a stored r×c matrix is at i·c + j → rs = c, cs = 1.
    let (a_rs, a_cs) = match ta {
        Trans::No => (k as isize, 1),
        Trans::Yes => (1, m as isize),
    };
    let (b_rs, b_cs) = match tb {
        Trans::No => (n as isize, 1),
        Trans::Yes => (1, k as isize),
    };
    let par = match threads {
        GemmThreads::Rayon(t) if t > 1 && m * n * k >= PARALLEL_MIN_FLOPS => gemm::Parallelism::Rayon(t),
        _ => gemm::Parallelism::None,
    };
    // SAFETY: the bounds above guarantee every index the strides reach lies inside the slices:
    // a reaches (m−1)·a_rs + (k−1)·a_cs < m·k, likewise b and c; c is borrowed mutably and
    // cannot alias a or b.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            alpha != 0.0,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            alpha,
            beta,
            false,
            false,
            false,
            par,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, n: usize, k: usize, a: &[f32], ta: Trans, b: &[f32], tb: Trans) -> Vec<f32> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0;
                for p in 0..k {
                    let av = if ta == Trans::No { a[i * k + p] } else { a[p * m + i] };
                    let bv = if tb == Trans::No { b[p * n + j] } else { b[j * k + p] };
                    s += av * bv;
                }
                c[i * n + j] = s;
            }
        }
        c
    }

    #[test]
    fn all_transpose_combinations_match_naive() {
        let (m, n, k) = (5, 7, 3);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        for ta in [Trans::No, Trans::Yes] {
            for tb in [Trans::No, Trans::Yes] {
                let mut c = vec![1.0; m * n];
                sgemm(m, n, k, &a, ta, &b, tb, &mut c, 0.0, 1.0, GemmThreads::Single).unwrap();
                let r = naive(m, n, k, &a, ta, &b, tb);
                for (x, y) in c.iter().zip(&r) {
                    assert!((x - y).abs() < 1e-5, "{ta:?} {tb:?}: {x} vs {y}");
                }
            }
        }
    }

    #[test]
    fn accumulates_with_alpha_one() {
        let a = [1.0, 2.0];
        let b = [3.0, 4.0];
        let mut c = [10.0];
        sgemm(
            1,
            1,
            2,
            &a,
            Trans::No,
            &b,
            Trans::No,
            &mut c,
            1.0,
            1.0,
            GemmThreads::Single,
        )
        .unwrap();
        assert_eq!(c[0], 21.0);
    }

    #[test]
    fn short_buffers_are_an_error() {
        let mut c = [0.0; 4];
        assert!(sgemm(
            2,
            2,
            2,
            &[1.0; 3],
            Trans::No,
            &[1.0; 4],
            Trans::No,
            &mut c,
            0.0,
            1.0,
            GemmThreads::Single
        )
        .is_err());
    }
}
