//! Synchronous data-parallel training, as Keras's `tf.distribute` strategies do it.
//!
//! A [`Strategy`] runs `num_replicas_in_sync` replicas of the model. `fit(batch_size=B)`
//! takes `B` as the *global* batch, as Keras does: each global batch of the (identically
//! shuffled) order is cut into `num_replicas_in_sync` consecutive per-replica batches of
//! `B / N` samples (the same as Keras's auto-shard "each replica takes every N-th per-replica
//! batch"), every replica runs forward and backward on its own batch, the gradients are
//! summed over the replicas in a fixed order (weighted by each replica's sample count, so the
//! update is the gradient of the global batch's mean loss, as Keras's loss scaling by the
//! global batch size gives) and every replica applies the same update.
//!
//! BatchNormalization: Keras (TF's `MirroredVariable`s) makes the moving statistics
//! `synchronization=ON_READ, aggregation=MEAN` variables: each replica updates its own copy
//! from its own batch statistics and a read (saving, checkpoints, `get_weights`) returns the
//! mean of the copies. The update `m·M + (1 − m)·batch` is linear, so the mean of the copies
//! equals the moving average of the replicas' mean batch statistics; here every step writes
//! that mean into the one copy each replica keeps, which gives the value Keras reads, the same
//! on every replica. Training normalizes with each replica's own batch statistics (Keras's
//! default `synchronized=False`).
//!
//! Losses and metrics are those of the global batch (the replicas' predictions are gathered
//! in replica order and the metrics updated once with the whole batch), so `History` is the
//! one a single process would record. Validation and `evaluate` run whole on every replica.
//! Every worker starts from the chief's weights and shuffles with the chief's seed; dropout
//! masks come from each worker's own stream.
//!
//! Two strategies:
//! - [`MirroredStrategy`]: `N` replicas in this process, run in turn (Keras's
//!   `MirroredStrategy` on one machine); the single-process reference of a multi-worker run.
//! - `MultiWorkerMirroredStrategy` (cargo feature `mpi`, file `mpi.rs`): one replica per MPI
//!   rank, started with `mpirun -np N`; rank 0 (the chief) alone prints and writes files.
//!
//! ```
//! use rkeras::distribute::{MirroredStrategy, Strategy};
//! use rkeras::prelude::*;
//! use rkeras::training::FitOptions;
//! let strategy = MirroredStrategy::new(2).unwrap();
//! let mut model = strategy.scope(|| {
//!     clear_session();
//!     let mut m = Sequential::new()
//!         .add(InputLayer::new(&[2]))
//!         .add(Dense::new(1).activation("sigmoid"))
//!         .build()
//!         .unwrap();
//!     m.compile("sgd", "binary_crossentropy", &["accuracy"]).unwrap();
//!     m
//! });
//! let x = Tensor::new(&[4, 2], vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]).unwrap();
//! let y = Tensor::new(&[4, 1], vec![0.0, 0.0, 0.0, 1.0]).unwrap();
//! // Global batch 4: two replicas of 2 samples each.
//! model.fit(&x, &y, FitOptions::default().batch_size(4).verbose(0)).unwrap();
//! ```

#[cfg(feature = "mpi")]
mod mpi;
mod step;

#[cfg(feature = "mpi")]
pub use self::mpi::{launched_by_mpirun, MultiWorkerMirroredStrategy};

use crate::error::{KerasError, Result};
use std::cell::RefCell;
use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A way of running replicas of a model in sync (Keras's `tf.distribute.Strategy`).
///
/// The collectives are called in the same order on every worker with buffers of the same
/// length (except [`Strategy::all_gather`]).
pub trait Strategy: Send + Sync + fmt::Debug {
    /// Replicas taking part in each step (Keras's `num_replicas_in_sync`).
    fn num_replicas_in_sync(&self) -> usize;
    /// The replicas this process runs, in order (all of them in-process; its rank over MPI).
    fn local_replicas(&self) -> Range<usize>;
    /// This worker's index (0 is the chief, which alone prints and writes files).
    fn worker_index(&self) -> usize {
        0
    }
    /// Sums `buf` elementwise over the workers in a fixed order; every worker receives the
    /// same bits.
    fn all_reduce_sum(&self, buf: &mut [f32]) -> Result<()>;
    /// Every worker's `local` (lengths may differ), concatenated in worker order.
    fn all_gather(&self, local: &[f32]) -> Result<Vec<f32>>;
    /// Overwrites `buf` on every worker with the chief's.
    fn broadcast_from_chief(&self, buf: &mut [f32]) -> Result<()>;
    /// The chief's `value` on every worker.
    fn broadcast_u64_from_chief(&self, value: u64) -> Result<u64>;
    /// Enters `scope`: models compiled while it runs train with this strategy (Keras's
    /// `with strategy.scope():`).
    fn scope<T>(&self, body: impl FnOnce() -> T) -> T
    where
        Self: Sized + Clone + 'static,
    {
        let previous = CURRENT.with(|c| c.replace(Some(Arc::new(self.clone()))));
        let out = body();
        CURRENT.with(|c| *c.borrow_mut() = previous);
        out
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<dyn Strategy>>> = const { RefCell::new(None) };
}

/// The strategy of the innermost [`Strategy::scope`] running on this thread, if any.
pub fn current_strategy() -> Option<Arc<dyn Strategy>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// `println!` on the chief only (callbacks' messages in a multi-worker run).
macro_rules! chief_println {
    ($($t:tt)*) => {
        if $crate::distribute::is_chief() {
            println!($($t)*);
        }
    };
}
pub(crate) use chief_println;

static NOT_CHIEF: AtomicBool = AtomicBool::new(false);

/// Whether this process is the chief (worker 0, or not distributed): the one that prints the
/// progress bar and writes logs, checkpoints and saved models.
pub fn is_chief() -> bool {
    !NOT_CHIEF.load(Ordering::Relaxed)
}

/// Marks this process as a non-chief worker (set by the multi-worker strategy).
#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
pub(crate) fn set_chief(chief: bool) {
    NOT_CHIEF.store(!chief, Ordering::Relaxed);
}

/// Keras's `MirroredStrategy` in one process: `replicas` replicas of the model run one after
/// the other on their shares of each global batch; their gradients are summed in replica
/// order. It computes what `replicas` MPI workers compute, on one machine.
#[derive(Debug, Clone)]
pub struct MirroredStrategy {
    replicas: usize,
}

impl MirroredStrategy {
    /// A strategy of `replicas` in-process replicas (at least 1).
    pub fn new(replicas: usize) -> Result<MirroredStrategy> {
        if replicas == 0 {
            return Err(KerasError::Invalid(
                "MirroredStrategy: `replicas` must be at least 1. Received: replicas=0".into(),
            ));
        }
        Ok(MirroredStrategy { replicas })
    }
}

impl Strategy for MirroredStrategy {
    fn num_replicas_in_sync(&self) -> usize {
        self.replicas
    }
    fn local_replicas(&self) -> Range<usize> {
        0..self.replicas
    }
    fn all_reduce_sum(&self, _buf: &mut [f32]) -> Result<()> {
        Ok(())
    }
    fn all_gather(&self, local: &[f32]) -> Result<Vec<f32>> {
        Ok(local.to_vec())
    }
    fn broadcast_from_chief(&self, _buf: &mut [f32]) -> Result<()> {
        Ok(())
    }
    fn broadcast_u64_from_chief(&self, value: u64) -> Result<u64> {
        Ok(value)
    }
}

/// Bytes one worker sends per step in a ring all-reduce of `gradient_bytes` over `workers`:
/// `2(N − 1)/N ×` the gradient (a reduce-scatter, then an all-gather).
pub fn ring_all_reduce_bytes(gradient_bytes: usize, workers: usize) -> usize {
    if workers <= 1 {
        return 0;
    }
    2 * (workers - 1) * gradient_bytes / workers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_traffic_is_two_n_minus_one_over_n() {
        assert_eq!(ring_all_reduce_bytes(1000, 1), 0);
        assert_eq!(ring_all_reduce_bytes(1000, 2), 1000);
        assert_eq!(ring_all_reduce_bytes(1000, 4), 1500);
        assert!(MirroredStrategy::new(0).unwrap_err().to_string().contains("replicas=0"));
    }
}
