//! Dense products of a few rows with a weight matrix too large to prepack (VGG16's `fc1`,
//! 25088 × 4096 floats, 411 MB, read in place): the weights are streamed once, in the order
//! they are stored.
//!
//! The register tiles ([`super::gemm`]) walk one 64-column panel down the depth, so each step
//! reads 256 bytes of a different weight row, 16 KiB from the last: a new page every step,
//! which the hardware prefetchers do not follow, so the tiles wait on memory (80 ms for
//! VGG16's `fc1` at batch 8 where the machine streams the 411 MB in about 25). Here a worker
//! takes a block of columns and runs down the rows, four at a time, each a contiguous run of
//! the block's columns, adding `x[r, k]·W[k, ·]` into the block's sums for every one of the
//! few rows (`m·block` values, in L1). Each output is summed in depth order, one term at a
//! time, by one worker: results do not depend on the thread count.

use super::conv::ConvArgs;
use super::Epilogue;
use crate::error::{shape_err, Result};

/// Most rows (images) the streaming product takes; more rows reuse each weight block enough
/// for the register tiles.
pub const MAX_ROWS: usize = 16;

/// Most columns of one task: a block's sums (`MAX_ROWS` × this, 256 KiB at most) stay in L2,
/// and each weight row's run is long (the hardware prefetchers restart on every run: VGG16's
/// `fc1` at batch 1 streamed in 17.3–17.9 ms with one 2048-column block per worker, 19.4–20.2
/// with two 1024-column blocks each, 36 ms with eight of 512).
const BLOCK: usize = 4096;

/// Whether a convolution with weights read in place is a dense product this kernel takes: a
/// 1×1, stride-1, unpadded, ungrouped geometry over at most [`MAX_ROWS`] pixels.
pub fn takes(args: &ConvArgs) -> bool {
    let g = args.geometry;
    let m = g.n * g.oh() * g.ow();
    g.groups == 1
        && g.rows.kernel == 1
        && g.cols.kernel == 1
        && g.rows.stride == 1
        && g.cols.stride == 1
        && g.rows.pad_before == 0
        && g.cols.pad_before == 0
        && g.rows.output == g.rows.input
        && g.cols.output == g.cols.input
        && (1..=MAX_ROWS).contains(&m)
}

/// `y[r, ·] = act(x[r, ·]·W + bias + residual[r, ·])` for the `m ≤ MAX_ROWS` rows of a
/// geometry [`takes`] accepts, `W` the `cin × cout` kernel as stored (row-major).
pub fn dense(args: ConvArgs, w: &[f32]) -> Result<()> {
    if !takes(&args) {
        return shape_err(
            "dense_stream",
            format!(
                "a 1×1 ungrouped product over 1..={MAX_ROWS} rows, received {:?}",
                args.geometry
            ),
        );
    }
    let g = args.geometry;
    let (m, k, n) = (g.n * g.oh() * g.ow(), g.cin, g.cout);
    let ys = args.y_stride;
    if w.len() < k * n
        || args.x.len() < m * k
        || ys < n
        || args.y.len() < (m - 1) * ys + n
        || args.epilogue.bias.is_some_and(|b| b.len() < n)
        || args.residual.is_some_and(|(r, s)| s < n || r.len() < (m - 1) * s + n)
    {
        return shape_err(
            "dense_stream",
            format!(
                "operands do not fit {m} rows × {k} → {n}: kernel {}, input {}, output {} at stride {ys}",
                w.len(),
                args.x.len(),
                args.y.len()
            ),
        );
    }
    let (x, epi, residual) = (args.x, args.epilogue, args.residual);
    // Column blocks: one per worker, whole vectors.
    let threads = super::threads();
    let block = n.div_ceil(threads).next_multiple_of(16).clamp(64, BLOCK);
    let y = super::OutPtr(args.y.as_mut_ptr());
    super::team::for_each(n.div_ceil(block), 1, |b| {
        let (c0, c1) = (b * block, ((b + 1) * block).min(n));
        let cw = c1 - c0;
        SUMS.with_borrow_mut(|acc| {
            super::vectorized(
                #[inline(always)]
                || column_block(acc, x, w, m, k, n, c0, c1),
            );
            for r in 0..m {
                let res = residual.map(|(rv, rs)| &rv[r * rs + c0..r * rs + c1]);
                // SAFETY: `y` holds `(m − 1)·ys + n` values (checked above); the blocks'
                // column ranges are disjoint, so no two tasks write the same values.
                let out = unsafe { std::slice::from_raw_parts_mut(y.get().add(r * ys + c0), cw) };
                finish(&acc[r * cw..(r + 1) * cw], &epi, c0, res, out);
            }
        });
    });
    Ok(())
}

thread_local! {
    /// Per worker: one column block's sums.
    static SUMS: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The sums of columns `[c0, c1)` for every row into `acc`: `m × (c1 − c0)` values, row-major.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn column_block(acc: &mut Vec<f32>, x: &[f32], w: &[f32], m: usize, k: usize, n: usize, c0: usize, c1: usize) {
    let cw = c1 - c0;
    acc.clear();
    acc.resize(m * cw, 0.0);
    let run = |kk: usize| &w[kk * n + c0..kk * n + c1];
    let mut kk = 0;
    // Four weight rows a pass over the sums; each sum still adds its terms in depth order.
    // Sixteen columns at a time across all rows, so each run of weights is loaded once for
    // the `m` rows.
    const V: usize = 16;
    let mut a = [[0.0f32; 4]; MAX_ROWS];
    while kk + 4 <= k {
        let (w0, w1, w2, w3) = (run(kk), run(kk + 1), run(kk + 2), run(kk + 3));
        for (r, ar) in a.iter_mut().enumerate().take(m) {
            ar.copy_from_slice(&x[r * k + kk..r * k + kk + 4]);
        }
        let mut j = 0;
        while j + V <= cw {
            let lane = |w: &[f32]| -> [f32; V] { w[j..j + V].try_into().expect("V values") };
            let (v0, v1, v2, v3) = (lane(w0), lane(w1), lane(w2), lane(w3));
            for (r, ar) in a.iter().enumerate().take(m) {
                let s: &mut [f32; V] = (&mut acc[r * cw + j..r * cw + j + V]).try_into().expect("V values");
                for i in 0..V {
                    s[i] = (((s[i] + ar[0] * v0[i]) + ar[1] * v1[i]) + ar[2] * v2[i]) + ar[3] * v3[i];
                }
            }
            j += V;
        }
        for (r, ar) in a.iter().enumerate().take(m) {
            for i in j..cw {
                let s = &mut acc[r * cw + i];
                *s = (((*s + ar[0] * w0[i]) + ar[1] * w1[i]) + ar[2] * w2[i]) + ar[3] * w3[i];
            }
        }
        kk += 4;
    }
    while kk < k {
        let w0 = run(kk);
        for r in 0..m {
            let a0 = x[r * k + kk];
            for (s, &v0) in acc[r * cw..(r + 1) * cw].iter_mut().zip(w0) {
                *s += a0 * v0;
            }
        }
        kk += 1;
    }
}

/// Bias, residual and activation, in the register tiles' order.
fn finish(sums: &[f32], epi: &Epilogue, c0: usize, res: Option<&[f32]>, out: &mut [f32]) {
    let act = epi.act();
    for (j, (o, &s)) in out.iter_mut().zip(sums).enumerate() {
        let mut v = s;
        if let Some(b) = epi.bias {
            v += b[c0 + j];
        }
        if let Some(r) = res {
            v += r[j];
        }
        *o = act.apply(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::conv::{conv2d_reference, Weights};
    use crate::ops::conv::{conv2d_geometry, Conv2dParams};
    use crate::{Padding, Rng};

    fn random(rng: &mut Rng, n: usize) -> Vec<f32> {
        (0..n).map(|_| rng.uniform_range(-1.0, 1.0) as f32).collect()
    }

    #[test]
    fn matches_the_reference_over_rows_depths_and_widths() {
        let mut rng = Rng::new(21);
        for case in 0..40 {
            let m = 1 + rng.below(MAX_ROWS);
            let k = 1 + rng.below(300);
            let n = 1 + rng.below(2500);
            let x = random(&mut rng, m * k);
            let w = random(&mut rng, k * n);
            let bias = random(&mut rng, n);
            let res = random(&mut rng, m * (n + 3));
            let g = conv2d_geometry(
                "t",
                &[m, 1, 1, k],
                &[1, 1, k, n],
                &Conv2dParams::new((1, 1), Padding::Valid),
            )
            .unwrap();
            let epi = Epilogue {
                bias: (case % 2 == 0).then_some(&bias[..]),
                lo: if case % 3 == 0 { 0.0 } else { f32::NEG_INFINITY },
                hi: if case % 5 == 0 { 6.0 } else { f32::INFINITY },
                slope: (case % 7 == 0).then_some(0.2),
                post: None,
            };
            let residual = (case % 4 == 1).then_some((&res[..], n + 3));
            let ys = n + case % 3;
            let mut got = vec![7.0; (m - 1) * ys + n];
            let mut want = got.clone();
            macro_rules! args {
                ($y:expr) => {
                    ConvArgs {
                        geometry: &g,
                        x: &x,
                        weights: Weights::Raw(&w),
                        epilogue: epi,
                        residual,
                        y: $y,
                        y_stride: ys,
                        prologue: None,
                    }
                };
            }
            assert!(takes(&args!(&mut got)));
            dense(args!(&mut got), &w).unwrap();
            conv2d_reference(args!(&mut want)).unwrap();
            for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
                    "case {case} ({m} × {k} → {n}): [{i}] {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn refuses_what_it_does_not_take() {
        let g = conv2d_geometry(
            "t",
            &[20, 1, 1, 8],
            &[1, 1, 8, 4],
            &Conv2dParams::new((1, 1), Padding::Valid),
        )
        .unwrap();
        let (x, w) = (vec![0.0; 160], vec![0.0; 32]);
        let mut y = vec![0.0; 80];
        let args = ConvArgs {
            geometry: &g,
            x: &x,
            weights: Weights::Raw(&w),
            epilogue: Epilogue::linear(),
            residual: None,
            y: &mut y,
            y_stride: 4,
            prologue: None,
        };
        let e = dense(args, &w).unwrap_err().to_string();
        assert!(e.contains("dense_stream") && e.contains("1..=16 rows"), "{e}");
        let g = conv2d_geometry(
            "t",
            &[2, 1, 1, 8],
            &[1, 1, 8, 4],
            &Conv2dParams::new((1, 1), Padding::Valid),
        )
        .unwrap();
        let mut y = vec![0.0; 8];
        let args = ConvArgs {
            geometry: &g,
            x: &x,
            weights: Weights::Raw(&w[..31]),
            epilogue: Epilogue::linear(),
            residual: None,
            y: &mut y,
            y_stride: 4,
            prologue: None,
        };
        let e = dense(args, &w[..31]).unwrap_err().to_string();
        assert!(e.contains("kernel 31"), "{e}");
    }
}
