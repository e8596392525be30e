//! Deterministic mode: parallel reductions in a fixed order, whatever the thread count.
//!
//! Rayon's `fold`/`reduce` splits work where its scheduler happens to, so a sum over tiles
//! (a convolution's weight gradient, a bias gradient, BatchNormalization's statistics) may
//! add its partial sums in a different order from one run to the next and between thread
//! counts: the last bits of the result change. With the mode on, [`fold_ordered`] and
//! [`try_fold_ordered`] cut the range into [`DETERMINISTIC_GROUPS`] fixed groups, fold each
//! group in index order and combine the partials in group order, and [`planning_threads`]
//! tells tile planners to size tiles for a fixed [`DETERMINISTIC_THREADS`] instead of the
//! pool's size; a run is then bit-for-bit reproducible across runs and `RAYON_NUM_THREADS`.
//! Off (the default), the fast adaptive rayon reductions run.
//!
//! The library sets the mode (Keras's `keras.config.enable_determinism()`); the engine only
//! reads it.

use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

static DETERMINISTIC: AtomicBool = AtomicBool::new(false);

/// Threads tile planners assume in deterministic mode (tiles then do not depend on the pool).
pub const DETERMINISTIC_THREADS: usize = 8;

/// Groups a deterministic reduction is cut into (each folded by one task, then combined in
/// order).
pub const DETERMINISTIC_GROUPS: usize = 16;

/// Turns deterministic mode on for the whole process.
pub fn enable_determinism() {
    DETERMINISTIC.store(true, Ordering::SeqCst);
}

/// Turns deterministic mode off (the default: adaptive, faster reductions).
pub fn disable_determinism() {
    DETERMINISTIC.store(false, Ordering::SeqCst);
}

/// Whether deterministic mode is on.
pub fn is_deterministic() -> bool {
    DETERMINISTIC.load(Ordering::Relaxed)
}

/// The thread count tile planners should size their tiles for: the pool's, or
/// [`DETERMINISTIC_THREADS`] in deterministic mode.
pub fn planning_threads() -> usize {
    if is_deterministic() {
        DETERMINISTIC_THREADS
    } else {
        rayon::current_num_threads()
    }
}

/// Folds indices `0..n` in parallel and combines the partial results: `fold(acc, i)` adds
/// item `i` to an accumulator made by `init`, `combine` merges two accumulators (associative
/// up to rounding). Tasks get at least `min_len` items. In deterministic mode the grouping and
/// the combination order are fixed (see the module header); otherwise rayon chooses.
pub fn try_fold_ordered<A, E, I, F, C>(n: usize, min_len: usize, init: I, fold: F, combine: C) -> Result<A, E>
where
    A: Send,
    E: Send,
    I: Fn() -> A + Sync + Send,
    F: Fn(A, usize) -> Result<A, E> + Sync + Send,
    C: Fn(A, A) -> A + Sync + Send,
{
    let min_len = min_len.max(1);
    if !is_deterministic() {
        return (0..n)
            .into_par_iter()
            .with_min_len(min_len)
            .try_fold(&init, &fold)
            .try_reduce(&init, |a, b| Ok(combine(a, b)));
    }
    let per = n.div_ceil(DETERMINISTIC_GROUPS).max(min_len).max(1);
    let groups = n.div_ceil(per);
    let parts: Vec<Result<A, E>> = (0..groups)
        .into_par_iter()
        .map(|g| (g * per..((g + 1) * per).min(n)).try_fold(init(), &fold))
        .collect();
    let mut acc: Option<A> = None;
    for p in parts {
        let p = p?;
        acc = Some(match acc {
            Some(a) => combine(a, p),
            None => p,
        });
    }
    Ok(acc.unwrap_or_else(init))
}

/// [`try_fold_ordered`] for a fold that cannot fail.
pub fn fold_ordered<A, I, F, C>(n: usize, min_len: usize, init: I, fold: F, combine: C) -> A
where
    A: Send,
    I: Fn() -> A + Sync + Send,
    F: Fn(A, usize) -> A + Sync + Send,
    C: Fn(A, A) -> A + Sync + Send,
{
    match try_fold_ordered::<A, std::convert::Infallible, _, _, _>(n, min_len, init, |a, i| Ok(fold(a, i)), combine) {
        Ok(a) => a,
        Err(never) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sum whose rounding depends on the order of its partial sums.
    fn sum(n: usize) -> f32 {
        fold_ordered(
            n,
            7,
            || 0.0f32,
            |a, i| a + 1.0 / (1.0 + i as f32).powf(1.3) * if i % 3 == 0 { -1e3 } else { 1.0 },
            |a, b| a + b,
        )
    }

    #[test]
    fn deterministic_folds_do_not_depend_on_the_thread_count() {
        enable_determinism();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| (0..20).map(|_| sum(100_003).to_bits()).collect::<Vec<_>>())
        };
        let one = run(1);
        assert!(one.iter().all(|&b| b == one[0]));
        assert_eq!(one, run(2));
        assert_eq!(one, run(3));
        // Every item counted once: the fold over a constant is the count.
        let count = fold_ordered(1001, 1, || 0usize, |a, _| a + 1, |a, b| a + b);
        assert_eq!(count, 1001);
        assert_eq!(fold_ordered(0, 1, || 5usize, |a, _| a + 1, |a, b| a + b), 5);
    }
}
