//! `MultiWorkerMirroredStrategy` over MPI (Open MPI or MPICH, through the `mpi` crate):
//! one replica per rank, started as `mpirun -np N program …`.
//!
//! The all-reduce is a ring written with `MPI_Sendrecv`: a reduce-scatter (segment `s` is
//! summed along the ring starting at rank `s`, always in the order `s, s + 1, …, s − 1`), then
//! an all-gather of the finished segments. Each rank sends `2(N − 1)/N ×` the buffer per
//! call, the bandwidth-optimal volume, and every rank receives the same bits on every run.
//!
//! A watchdog thread ends this rank with a message naming the collective when one has waited
//! longer than `RKERAS_MPI_TIMEOUT` seconds (default 30) for the other ranks: a rank that died
//! or hung. `mpirun` itself ends every rank within a second or so when one of them exits
//! abnormally (and prints which one); the watchdog covers hangs and lost hosts.

use super::Strategy;
use crate::error::{KerasError, Result};
use ::mpi::collective::CommunicatorCollectives;
use ::mpi::datatype::PartitionMut;
use ::mpi::point_to_point::send_receive_into;
use ::mpi::topology::{Communicator, SimpleCommunicator};
use ::mpi::traits::Root;
use ::mpi::Count;
use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The MPI library's handles; used under the mutex only, so from one thread at a time (MPI
/// is initialized with `MPI_THREAD_SERIALIZED`).
struct Comm {
    world: SimpleCommunicator,
    // Dropped last: finalizes MPI.
    _universe: ::mpi::environment::Universe,
}

// SAFETY: the handles are only used while holding the `Mutex` in `Inner`, so MPI sees calls
// from one thread at a time, which the `MPI_THREAD_SERIALIZED` level asked at initialization
// allows.
unsafe impl Send for Comm {}

/// What the watchdog reads: when the running collective began (ms since `start`, 0 = none).
struct Watch {
    start: Instant,
    since_ms: AtomicU64,
    op: Mutex<&'static str>,
}

struct Inner {
    comm: Mutex<Comm>,
    rank: usize,
    size: usize,
    watch: Arc<Watch>,
    /// Time spent in all-reduce calls and their count, for benchmarks.
    all_reduce_ns: AtomicU64,
    all_reduce_calls: AtomicU64,
}

/// Keras's `tf.distribute.MultiWorkerMirroredStrategy`: synchronous data parallelism with
/// one replica per MPI rank. Create it once per process (it initializes MPI; the last clone
/// dropped finalizes it) and compile the model inside [`Strategy::scope`].
///
/// ```no_run
/// use rkeras::distribute::{MultiWorkerMirroredStrategy, Strategy};
/// let strategy = MultiWorkerMirroredStrategy::new().unwrap();
/// println!("worker {} of {}", strategy.worker_index(), strategy.num_replicas_in_sync());
/// ```
#[derive(Clone)]
pub struct MultiWorkerMirroredStrategy {
    inner: Arc<Inner>,
}

impl fmt::Debug for MultiWorkerMirroredStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MultiWorkerMirroredStrategy(rank {} of {})",
            self.inner.rank, self.inner.size
        )
    }
}

/// True when this process was started by `mpirun`/`mpiexec` (Open MPI, MPICH, PMIx).
pub fn launched_by_mpirun() -> bool {
    ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"]
        .iter()
        .any(|v| std::env::var_os(v).is_some())
}

impl MultiWorkerMirroredStrategy {
    /// Initializes MPI and joins `MPI_COMM_WORLD`; non-zero ranks stop being the chief (see
    /// [`crate::distribute::is_chief`]).
    pub fn new() -> Result<MultiWorkerMirroredStrategy> {
        let (universe, _level) = ::mpi::initialize_with_threading(::mpi::Threading::Serialized).ok_or_else(|| {
            KerasError::Invalid(
                "MultiWorkerMirroredStrategy: MPI is already initialized in this process; create the strategy \
                 once and clone it"
                    .into(),
            )
        })?;
        let world = universe.world();
        let (rank, size) = (world.rank() as usize, world.size() as usize);
        super::set_chief(rank == 0);
        let timeout = std::env::var("RKERAS_MPI_TIMEOUT")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|t| *t > 0.0)
            .unwrap_or(30.0);
        let watch = Arc::new(Watch {
            start: Instant::now(),
            since_ms: AtomicU64::new(0),
            op: Mutex::new(""),
        });
        spawn_watchdog(Arc::clone(&watch), rank, size, timeout);
        Ok(MultiWorkerMirroredStrategy {
            inner: Arc::new(Inner {
                comm: Mutex::new(Comm {
                    world,
                    _universe: universe,
                }),
                rank,
                size,
                watch,
                all_reduce_ns: AtomicU64::new(0),
                all_reduce_calls: AtomicU64::new(0),
            }),
        })
    }

    /// Runs `f` on the communicator under the watchdog.
    fn collective<T>(&self, op: &'static str, f: impl FnOnce(&SimpleCommunicator) -> T) -> Result<T> {
        let comm = self.inner.comm.lock().map_err(|_| {
            KerasError::Invalid(format!(
                "MultiWorkerMirroredStrategy: {op}: a previous MPI call panicked"
            ))
        })?;
        let w = &self.inner.watch;
        if let Ok(mut o) = w.op.lock() {
            *o = op;
        }
        w.since_ms
            .store(w.start.elapsed().as_millis() as u64 + 1, Ordering::SeqCst);
        let out = f(&comm.world);
        w.since_ms.store(0, Ordering::SeqCst);
        Ok(out)
    }

    /// Seconds spent in [`Strategy::all_reduce_sum`] and the number of calls since the last
    /// reset (waiting for slower ranks included).
    pub fn all_reduce_time(&self) -> (f64, u64) {
        (
            self.inner.all_reduce_ns.load(Ordering::Relaxed) as f64 * 1e-9,
            self.inner.all_reduce_calls.load(Ordering::Relaxed),
        )
    }

    /// Sets [`MultiWorkerMirroredStrategy::all_reduce_time`] back to zero.
    pub fn reset_all_reduce_time(&self) {
        self.inner.all_reduce_ns.store(0, Ordering::Relaxed);
        self.inner.all_reduce_calls.store(0, Ordering::Relaxed);
    }

    /// Blocks until every rank reaches this call.
    pub fn barrier(&self) -> Result<()> {
        self.collective("barrier", |w| w.barrier())
    }
}

fn spawn_watchdog(watch: Arc<Watch>, rank: usize, size: usize, timeout: f64) {
    let limit_ms = (timeout * 1000.0) as u64;
    std::thread::Builder::new()
        .name("rkeras-mpi-watchdog".into())
        .spawn(move || loop {
            std::thread::sleep(Duration::from_millis(200));
            let since = watch.since_ms.load(Ordering::SeqCst);
            if since == 0 {
                continue;
            }
            let waited = (watch.start.elapsed().as_millis() as u64 + 1).saturating_sub(since);
            if waited > limit_ms {
                let op = watch.op.lock().map(|o| *o).unwrap_or("a collective");
                eprintln!(
                    "rkeras: rank {rank} of {size}: no answer from the other ranks for {:.1} s in {op} \
                     (RKERAS_MPI_TIMEOUT={timeout}): a rank has died or hung; stopping this rank. \
                     Rerun the same command (with --backup-dir) to resume from the last backup.",
                    waited as f64 / 1000.0
                );
                std::process::exit(75);
            }
        })
        .ok();
}

/// Segment `s` of `len` values cut in `n`.
fn segment(len: usize, n: usize, s: usize) -> Range<usize> {
    s * len / n..(s + 1) * len / n
}

/// The ring all-reduce of the module header, in place.
fn ring_all_reduce(world: &SimpleCommunicator, buf: &mut [f32]) {
    let (n, r) = (world.size() as usize, world.rank() as usize);
    if n <= 1 || buf.is_empty() {
        return;
    }
    let right = world.process_at_rank(((r + 1) % n) as i32);
    let left = world.process_at_rank(((r + n - 1) % n) as i32);
    let len = buf.len();
    let mut recv = vec![0.0f32; len.div_ceil(n) + 1];
    for k in 0..n - 1 {
        let send = segment(len, n, (r + n - k) % n);
        let got = segment(len, n, (r + n - k - 1) % n);
        let m = got.len();
        send_receive_into(&buf[send], &right, &mut recv[..m], &left);
        // The partial sum of the ranks before this one plus this rank's values (IEEE addition
        // commutes, so the order is the ring's).
        buf[got].iter_mut().zip(&recv[..m]).for_each(|(b, p)| *b += p);
    }
    for k in 0..n - 1 {
        let send = segment(len, n, (r + 1 + n - k) % n);
        let got = segment(len, n, (r + n - k) % n);
        let m = got.len();
        send_receive_into(&buf[send], &right, &mut recv[..m], &left);
        buf[got].copy_from_slice(&recv[..m]);
    }
}

impl Strategy for MultiWorkerMirroredStrategy {
    fn num_replicas_in_sync(&self) -> usize {
        self.inner.size
    }
    fn local_replicas(&self) -> Range<usize> {
        self.inner.rank..self.inner.rank + 1
    }
    fn worker_index(&self) -> usize {
        self.inner.rank
    }
    fn all_reduce_sum(&self, buf: &mut [f32]) -> Result<()> {
        let t = Instant::now();
        self.collective("all-reduce", |w| ring_all_reduce(w, buf))?;
        let ns = t.elapsed().as_nanos() as u64;
        self.inner.all_reduce_ns.fetch_add(ns, Ordering::Relaxed);
        self.inner.all_reduce_calls.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
    fn all_gather(&self, local: &[f32]) -> Result<Vec<f32>> {
        self.collective("all-gather", |w| {
            let n = w.size() as usize;
            let mut counts = vec![0 as Count; n];
            w.all_gather_into(&(local.len() as Count), &mut counts[..]);
            let displs: Vec<Count> = counts
                .iter()
                .scan(0, |at, &c| {
                    let d = *at;
                    *at += c;
                    Some(d)
                })
                .collect();
            let total: usize = counts.iter().map(|&c| c as usize).sum();
            let mut out = vec![0.0f32; total];
            {
                let mut part = PartitionMut::new(&mut out[..], &counts[..], &displs[..]);
                w.all_gather_varcount_into(local, &mut part);
            }
            out
        })
    }
    fn broadcast_from_chief(&self, buf: &mut [f32]) -> Result<()> {
        self.collective("broadcast", |w| w.process_at_rank(0).broadcast_into(buf))
    }
    fn broadcast_u64_from_chief(&self, value: u64) -> Result<u64> {
        self.collective("broadcast", |w| {
            let mut v = value;
            w.process_at_rank(0).broadcast_into(&mut v);
            v
        })
    }
}
