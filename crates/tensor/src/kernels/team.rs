//! A team of spinning workers for a sequence of kernels (an inference plan's steps, a
//! training or test step's ops).
//!
//! Handing each kernel's tasks to rayon costs a wake-up of a sleeping worker (a futex call)
//! and, at the end, a sleep: a model at batch 1 runs a hundred kernels of tens of
//! microseconds each, and those hand-offs were 10–15% of MobileNetV2's and DenseNet121's
//! time. Inside [`scope`], the pool's other workers instead spin on one shared slot: the
//! caller publishes a kernel's tasks there ([`for_each`]) and takes them from the front while
//! the helpers take them from the back (so each worker runs a contiguous range, as rayon's
//! halving split did: neighbouring tasks read neighbouring input rows), and the caller waits
//! until the last task is done. A program's own thread (outside the pool) calling a model
//! again and again leads the pool's standing team ([`scope_on_caller`]), whose helpers spin
//! on for a moment after each scope, so the next call finds them running. Outside a scope
//! (or from inside a task), [`for_each`] is rayon's parallel loop; spinning helpers also run
//! pending rayon jobs, so rayon loops started inside a scope are still shared. Which worker
//! runs a task never changes what it computes: results do not depend on the team.

use rayon::prelude::*;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering::SeqCst};

/// Task claims: `generation << 40 | taken from the front << 20 | taken from the back`.
const FIELD_BITS: u32 = 20;
const FIELD_MASK: u64 = (1 << FIELD_BITS) - 1;
/// Generations are counted modulo 2²⁴ (a worker is never that many jobs behind).
const GENERATION_MASK: u64 = (1 << 24) - 1;

fn claims(generation: u64, front: u64, back: u64) -> u64 {
    generation << (2 * FIELD_BITS) | front << FIELD_BITS | back
}

/// Spins without work after which a waiting worker also yields its core to the OS (about
/// 0.1 ms): free where every worker has a core, the way to progress where threads outnumber
/// cores.
const IDLE_SPINS: u32 = 1 << 12;

/// The job being run: its task function (on the publishing caller's stack).
struct Job<'a> {
    f: &'a (dyn Fn(usize) + Sync),
}

/// The shared slot.
struct Team {
    /// Which tasks of the current job are taken ([`claims`]): taking one is one
    /// compare-and-swap.
    claims: AtomicU64,
    /// `generation << 32 | tasks` of the job the fields below belong to (one value, so a
    /// worker never pairs one job's generation with another's task count).
    current: AtomicU64,
    /// The job (a `Job`), valid while tasks of its generation remain.
    job: AtomicPtr<()>,
    /// Tasks of the current job not finished yet.
    remaining: AtomicUsize,
    /// The fewest tasks one claim of the current job takes.
    min_len: AtomicUsize,
    /// The first panic of a task of the current job, re-raised by its caller.
    panic: std::sync::Mutex<Option<Box<dyn std::any::Any + Send>>>,
    /// The scope is over.
    stop: AtomicBool,
    /// Workers in the team (the caller and its helpers).
    workers: u64,
    /// The caller's index in the pool (`None`: a thread of its own, outside the pool).
    caller: Option<usize>,
}

thread_local! {
    /// The team whose caller this thread is, inside [`scope`].
    static CURRENT: Cell<*const Team> = const { Cell::new(std::ptr::null()) };
    /// Inside [`serial`]: every loop runs on this thread.
    static SERIAL: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with every [`for_each`] it reaches run in order on this thread: for a task that
/// is itself one of several running side by side (a band of an inference plan's step, whose
/// data stays in this core's caches), where splitting its kernels again would only move its
/// data between cores.
pub fn serial<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            SERIAL.with(|s| s.set(self.0));
        }
    }
    let _restore = Restore(SERIAL.with(|s| s.replace(true)));
    f()
}

impl Team {
    fn new(helpers: usize, caller: Option<usize>) -> Team {
        Team {
            claims: AtomicU64::new(0),
            current: AtomicU64::new(0),
            job: AtomicPtr::new(std::ptr::null_mut()),
            remaining: AtomicUsize::new(0),
            min_len: AtomicUsize::new(1),
            panic: std::sync::Mutex::new(None),
            stop: AtomicBool::new(false),
            workers: helpers as u64 + 1,
            caller,
        }
    }

    /// Takes and runs tasks of the current job, from the front or from the back, until none
    /// is left. A claim takes what is left over twice the workers (at least `min_len`): few
    /// claims on the shared word, each a contiguous range.
    fn work(&self, from_back: bool) {
        loop {
            let c = self.claims.load(SeqCst);
            let (generation, front, back) = (c >> (2 * FIELD_BITS), (c >> FIELD_BITS) & FIELD_MASK, c & FIELD_MASK);
            let current = self.current.load(SeqCst);
            let tasks = current & 0xffff_ffff;
            if current >> 32 != generation || front + back >= tasks {
                return;
            }
            let left = tasks - front - back;
            let take = left
                .div_ceil(2 * self.workers)
                .max(self.min_len.load(SeqCst) as u64)
                .min(left);
            let (next, first) = if from_back {
                (claims(generation, front, back + take), tasks - back - take)
            } else {
                (claims(generation, front + take, back), front)
            };
            // Succeeds only if no task was taken and no job published since the load.
            if self.claims.compare_exchange_weak(c, next, SeqCst, SeqCst).is_err() {
                continue;
            }
            // SAFETY: task `i` of the current job is not finished, so the caller that
            // published the job is still in `for_each`, waiting on `remaining`, and the job
            // it stored (before `current`) is alive.
            let job = unsafe { &*(self.job.load(SeqCst) as *const Job) };
            let run = || (first..first + take).for_each(|i| (job.f)(i as usize));
            if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
                let mut first = self.panic.lock().unwrap_or_else(|e| e.into_inner());
                first.get_or_insert(payload);
            }
            self.remaining.fetch_sub(take as usize, SeqCst);
        }
    }

    /// A helper's life: spin until a new generation is published, help, repeat, until the
    /// scope stops.
    fn help(&self) {
        // The caller itself may pick this job up, from rayon's deque while it waits on a rayon
        // loop of its own before a helper took it: it must not spin for itself.
        if self.caller.is_some() && rayon::current_thread_index() == self.caller {
            return;
        }
        self.serve(|_| self.stop.load(SeqCst));
    }

    /// Spins on the slot, running the tasks of each job published there, until `leave` says
    /// so: asked every 64 spins without work, with `true` when a job ran since it was last
    /// asked. Now and then it runs a pending rayon job, so that work started with rayon's own
    /// loops inside the scope (a layer the plan runs through its `call`) still gets every
    /// worker.
    #[allow(clippy::manual_is_multiple_of)] // `is_multiple_of` is newer than the MSRV
    fn serve(&self, mut leave: impl FnMut(bool) -> bool) {
        // Generation 0 is the empty slot before the first job: a helper arriving late joins
        // the job in progress.
        let mut seen = 0;
        let mut spins = 0u32;
        let mut worked = false;
        loop {
            let generation = self.claims.load(SeqCst) >> (2 * FIELD_BITS);
            if generation != seen {
                self.work(true);
                seen = generation;
                spins = 0;
                worked = true;
                continue;
            }
            spins = spins.saturating_add(1);
            if spins % 64 != 0 {
                std::hint::spin_loop();
                continue;
            }
            if leave(std::mem::take(&mut worked)) {
                return;
            }
            if rayon::yield_now() == Some(rayon::Yield::Executed) {
                spins = 0;
            } else if spins >= IDLE_SPINS {
                // Long without work (a serial stretch, or more threads than cores: MPI ranks
                // on one machine): let the OS run someone else meanwhile.
                std::thread::yield_now();
            }
        }
    }
}

/// How long the standing team's helpers spin on after a scope ended, waiting for the next.
/// A helper that must be woken for each model call (a futex wake-up of a worker whose core
/// the machine may have given away) arrived 0.03 ms late at the median and 1.7 ms at the
/// 90th percentile (MobileNetV2 at batch 1, 2 workers, calls back to back): the caller ran the
/// first layers alone, and those late arrivals made most of the calls' spread.
const LINGER: std::time::Duration = std::time::Duration::from_millis(2);

/// `Standing::state`: the count of scopes led so far (modulo 2³¹) from bit 33, bit 32 set
/// while a scope leads the team, the helpers alive in the low 32 bits.
const EPOCH: u64 = 1 << 33;
const LED: u64 = 1 << 32;
const LIVE_MASK: u64 = LED - 1;

/// The global pool's team for [`scope_on_caller`] from threads outside the pool (a
/// program's main thread calling a model again and again): its helpers outlive a scope by
/// [`LINGER`], spinning, so back-to-back calls find them running instead of waking them.
/// One scope at a time leads it; a scope that finds it led (another thread's model call)
/// makes a team of its own.
struct Standing {
    team: Team,
    state: AtomicU64,
}

static STANDING: std::sync::OnceLock<Standing> = std::sync::OnceLock::new();

/// Leadership of the standing team, until dropped.
struct Led(&'static Standing);

impl Drop for Led {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(std::ptr::null()));
        self.0.state.fetch_and(!LED, SeqCst);
    }
}

impl Standing {
    /// Leads the standing team with `helpers` helpers (starting those not alive), or `None`
    /// when another scope leads it.
    fn lead(helpers: usize) -> Option<Led> {
        let s: &'static Standing = STANDING.get_or_init(|| Standing {
            team: Team::new(helpers, None),
            state: AtomicU64::new(0),
        });
        if s.team.workers != helpers as u64 + 1 {
            return None;
        }
        let mut w = s.state.load(SeqCst);
        loop {
            if w & LED != 0 {
                return None;
            }
            match s
                .state
                .compare_exchange_weak(w, w.wrapping_add(EPOCH) | LED, SeqCst, SeqCst)
            {
                Ok(_) => break,
                Err(now) => w = now,
            }
        }
        for _ in (w & LIVE_MASK) as usize..helpers {
            s.state.fetch_add(1, SeqCst);
            rayon::spawn(move || s.help());
        }
        CURRENT.with(|c| c.set(&s.team));
        Some(Led(s))
    }

    /// A standing helper's life: [`Team::serve`] until no scope has led the team for
    /// [`LINGER`] (and none started meanwhile).
    fn help(&self) {
        // When the team was last seen unled after a job, and its state then.
        let mut idle: Option<(std::time::Instant, u64)> = None;
        self.team.serve(|worked| {
            let w = self.state.load(SeqCst);
            if worked || w & LED != 0 {
                idle = None;
                return false;
            }
            match idle {
                // Leaves only if no scope started since (or the count moved): a scope that
                // starts after counts it gone and starts another.
                Some((since, then)) if then == w => {
                    since.elapsed() >= LINGER && self.state.compare_exchange(w, w - 1, SeqCst, SeqCst).is_ok()
                }
                _ => {
                    idle = Some((std::time::Instant::now(), w));
                    false
                }
            }
        });
    }
}

/// Runs `f` on a worker of the kernels' pool with the pool's other workers spinning as its
/// team until `f` returns; the kernels `f` runs split their tasks over the team
/// ([`for_each`]). With one worker, or nested, it is [`super::on_worker`].
/// `RKERAS_TEAM=0` turns the team off (every loop is rayon's), for comparisons.
pub fn scope<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    team_scope(f, false)
}

/// [`scope`] for `f` whose parallel work is all the team's kernels (an inference plan's
/// steps): called from a thread outside the pool (a program's main thread), `f` runs on that
/// thread, which leads the pool's workers less one, instead of parking while a sleeping
/// worker is woken to run `f` and being woken itself at the end (two hand-offs of tens of
/// microseconds per model call at batch 1); there it leads the standing team, unless another
/// thread's scope does ([`LINGER`]). Rayon loops of `f`'s own would each park the
/// caller there (a training step's ops: the CIFAR CNN's fit epoch 1.46 → 1.96 s, LeNet-5's
/// 0.079 → 0.114 s): those take [`scope`].
pub fn scope_on_caller<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    team_scope(f, true)
}

fn team_scope<R: Send>(f: impl FnOnce() -> R + Send, on_caller: bool) -> R {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let on = *ON.get_or_init(|| std::env::var("RKERAS_TEAM").map_or(true, |v| v != "0"));
    let helpers = super::threads() - 1;
    if !on || helpers == 0 || !CURRENT.with(Cell::get).is_null() {
        return super::on_worker(f);
    }
    let caller = rayon::current_thread_index();
    if caller.is_none() && !on_caller {
        return super::on_worker(|| team_scope(f, false));
    }
    if caller.is_none() {
        if let Some(_led) = Standing::lead(helpers) {
            return f();
        }
    }
    let team = Team::new(helpers, caller);
    let team = &team;
    match caller {
        Some(_) => rayon::scope(|s| lead(s, team, helpers, f)),
        None => rayon::in_place_scope(|s| lead(s, team, helpers, f)),
    }
}

/// The body of [`scope`] and [`scope_on_caller`]: `helpers` tasks that help `team`, then
/// `f` as its caller.
fn lead<'s, R>(s: &rayon::Scope<'s>, team: &'s Team, helpers: usize, f: impl FnOnce() -> R) -> R {
    for _ in 0..helpers {
        s.spawn(move |_| team.help());
    }
    // Stops the helpers however `f` ends.
    struct Leave<'a>(&'a Team);
    impl Drop for Leave<'_> {
        fn drop(&mut self) {
            CURRENT.with(|c| c.set(std::ptr::null()));
            self.0.stop.store(true, SeqCst);
        }
    }
    CURRENT.with(|c| c.set(team));
    let _leave = Leave(team);
    f()
}

/// Runs `f(0)`, …, `f(tasks − 1)`, in parallel: on the team when the calling thread leads
/// one ([`scope`]), otherwise on rayon's pool, at least `min_len` consecutive tasks per rayon
/// job. Panics of a task are re-raised here.
pub fn for_each(tasks: usize, min_len: usize, f: impl Fn(usize) + Sync + Send) {
    if tasks <= 1 || SERIAL.with(Cell::get) {
        (0..tasks).for_each(f);
        return;
    }
    let team = CURRENT.with(Cell::get);
    // (The claim counters hold up to 2²⁰ − 1 tasks.)
    if team.is_null() || tasks as u64 > FIELD_MASK {
        (0..tasks).into_par_iter().with_min_len(min_len.max(1)).for_each(f);
        return;
    }
    // SAFETY: `scope` keeps the team alive while it is this thread's current one.
    let team = unsafe { &*team };
    let job = Job { f: &f };
    // (0 is the empty slot a helper starts from: skipped when the count wraps.)
    let generation = (((team.claims.load(SeqCst) >> (2 * FIELD_BITS)) + 1) & GENERATION_MASK).max(1);
    // The job first, then `current`, then the claims that announce it (a worker reads
    // `current` after the claims, and the job only once it holds one of its tasks).
    team.job.store(&job as *const Job as *mut (), SeqCst);
    team.remaining.store(tasks, SeqCst);
    team.min_len.store(min_len.max(1), SeqCst);
    team.current.store(generation << 32 | tasks as u64, SeqCst);
    team.claims.store(claims(generation, 0, 0), SeqCst);
    // A loop inside one of the caller's own tasks must not publish over this job: while the
    // caller works, it leads no team (nested loops are rayon's).
    CURRENT.with(|c| c.set(std::ptr::null()));
    team.work(false);
    CURRENT.with(|c| c.set(team));
    let mut spins = 0u32;
    while team.remaining.load(SeqCst) > 0 {
        spins = spins.saturating_add(1);
        if spins >= IDLE_SPINS {
            // A helper was descheduled mid-task: give it the core.
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
    let payload = team.panic.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(payload) = payload {
        std::panic::resume_unwind(payload);
    }
}

/// [`for_each`] over the `chunk`-value chunks of `out` (a last shorter chunk included):
/// `f(index, chunk)`.
pub fn for_each_chunk(out: &mut [f32], chunk: usize, min_len: usize, f: impl Fn(usize, &mut [f32]) + Sync + Send) {
    let chunk = chunk.max(1);
    let (len, base) = (out.len(), super::OutPtr(out.as_mut_ptr()));
    for_each(len.div_ceil(chunk), min_len, |i| {
        let start = i * chunk;
        // SAFETY: chunk `i` is `[i·chunk, min((i + 1)·chunk, len))` of `out`, which the
        // caller lends mutably for the whole loop; chunks are disjoint and each task gets one.
        let part = unsafe { std::slice::from_raw_parts_mut(base.get().add(start), chunk.min(len - start)) };
        f(i, part)
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    #[test]
    fn every_task_runs_once_inside_and_outside_a_scope() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        for inside in [false, true] {
            let counts: Vec<AtomicU32> = (0..1000).map(|_| AtomicU32::new(0)).collect();
            let run = || {
                for round in 0..200 {
                    let n = 1 + (round * 37) % 1000;
                    for_each(n, 1, |i| {
                        counts[i].fetch_add(1, SeqCst);
                    });
                }
            };
            pool.install(|| if inside { scope(run) } else { run() });
            let want: Vec<u32> = (0..1000)
                .map(|i| (0..200).filter(|round| i < 1 + (round * 37) % 1000).count() as u32)
                .collect();
            let got: Vec<u32> = counts.iter().map(|c| c.load(SeqCst)).collect();
            assert_eq!(got, want, "inside a scope: {inside}");
        }
    }

    #[test]
    fn loops_inside_serial_run_in_order_on_the_calling_thread() {
        // Each task of a team loop runs an inner loop in `serial`: the inner tasks run on the
        // task's own thread, in order, and the outer loop still shares its tasks.
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        let threads_seen = std::sync::Mutex::new(std::collections::HashSet::new());
        pool.install(|| {
            scope(|| {
                for_each(64, 1, |t| {
                    let me = std::thread::current().id();
                    threads_seen.lock().unwrap().insert(me);
                    let order = std::sync::Mutex::new(Vec::new());
                    serial(|| {
                        for_each(50, 1, |i| {
                            assert_eq!(std::thread::current().id(), me, "task {t}: inner task {i} moved");
                            order.lock().unwrap().push(i);
                        })
                    });
                    assert_eq!(*order.lock().unwrap(), (0..50).collect::<Vec<_>>(), "task {t}");
                    // Outside `serial` again: loops are shared as before.
                    assert!(!SERIAL.with(Cell::get));
                    std::thread::sleep(std::time::Duration::from_micros(200));
                });
            })
        });
        assert!(
            threads_seen.lock().unwrap().len() > 1,
            "the outer loop ran on one thread"
        );
    }

    #[test]
    fn a_scope_on_a_thread_outside_the_pool_leads_from_there() {
        // The test's own thread is no worker: `scope_on_caller` runs the loops on it, with
        // the global pool's workers less one as helpers; nested loops are rayon's.
        assert_eq!(rayon::current_thread_index(), None);
        let me = std::thread::current().id();
        let counts: Vec<AtomicU32> = (0..500).map(|_| AtomicU32::new(0)).collect();
        let nested = AtomicU32::new(0);
        let ran_here = scope_on_caller(|| {
            for round in 0..100 {
                for_each(1 + (round * 13) % 500, 1, |i| {
                    counts[i].fetch_add(1, SeqCst);
                });
            }
            for_each(6, 1, |_| {
                for_each(3, 1, |_| {
                    nested.fetch_add(1, SeqCst);
                });
            });
            std::thread::current().id() == me
        });
        let threads = super::super::threads();
        assert_eq!(ran_here, threads > 1, "on the caller's thread when there is a team");
        let want: Vec<u32> = (0..500)
            .map(|i| (0..100).filter(|round| i < 1 + (round * 13) % 500).count() as u32)
            .collect();
        let got: Vec<u32> = counts.iter().map(|c| c.load(SeqCst)).collect();
        assert_eq!(got, want);
        assert_eq!(nested.load(SeqCst), 18);
    }

    #[test]
    fn standing_helpers_outlive_a_scope_then_leave() {
        // The test's own thread is no worker, so `scope_on_caller` leads the global pool's
        // standing team (other tests may lead it meanwhile: wait for a turn).
        let helpers = super::super::threads() - 1;
        if helpers == 0 {
            return;
        }
        let started = std::time::Instant::now();
        let led = loop {
            if let Some(led) = Standing::lead(helpers) {
                break led;
            }
            assert!(
                started.elapsed().as_secs() < 60,
                "the standing team stayed led for a minute"
            );
            std::thread::yield_now();
        };
        let threads = std::sync::Mutex::new(std::collections::HashSet::new());
        let n = AtomicU32::new(0);
        for _ in 0..50 {
            for_each(64, 1, |_| {
                threads.lock().unwrap().insert(std::thread::current().id());
                n.fetch_add(1, SeqCst);
                std::thread::sleep(std::time::Duration::from_micros(20));
            });
        }
        assert_eq!(n.load(SeqCst), 50 * 64);
        assert!(
            threads.lock().unwrap().len() > 1,
            "the standing team's helpers took no task"
        );
        let s = led.0;
        let epoch = s.state.load(SeqCst) >> 33;
        drop(led);
        let after = s.state.load(SeqCst);
        assert_eq!(after & LED, 0, "still led after the scope");
        if after >> 33 == epoch {
            assert_eq!((after & LIVE_MASK) as usize, helpers, "the helpers left with the scope");
        }
        // Once unled for LINGER, they leave (unless another scope led the team since).
        loop {
            let w = s.state.load(SeqCst);
            if w >> 33 != epoch || w & LIVE_MASK == 0 {
                break;
            }
            assert!(started.elapsed().as_secs() < 60, "the helpers never left: state {w:#x}");
            std::thread::sleep(LINGER);
        }
        // Outside the pool's threads the same scope runs on the caller, team or not.
        let me = std::thread::current().id();
        assert!(scope_on_caller(|| std::thread::current().id() == me));
    }

    #[test]
    fn nested_loops_and_scopes_fall_back() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        let total = AtomicU32::new(0);
        pool.install(|| {
            scope(|| {
                for_each(8, 1, |_| {
                    // From a task: rayon's loop.
                    for_each(4, 1, |_| {
                        total.fetch_add(1, SeqCst);
                    });
                });
                // A nested scope is a plain call.
                scope(|| {
                    for_each(5, 1, |_| {
                        total.fetch_add(1, SeqCst);
                    })
                });
            })
        });
        assert_eq!(total.load(SeqCst), 37);
    }

    #[test]
    fn a_caller_that_runs_its_own_helper_job_does_not_spin_for_itself() {
        // One of two workers is held, so the helper job stays in the caller's deque, where
        // the caller's `yield_now` finds it.
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        let (started, held) = (std::sync::mpsc::channel(), std::sync::mpsc::channel::<()>());
        let release = held.0;
        pool.spawn(move || {
            started.0.send(()).unwrap();
            held.1.recv().unwrap();
        });
        started.1.recv().unwrap();
        let n = AtomicU32::new(0);
        pool.install(|| {
            scope(|| {
                rayon::yield_now();
                for_each(100, 1, |_| {
                    n.fetch_add(1, SeqCst);
                });
                release.send(()).unwrap();
            })
        });
        assert_eq!(n.load(SeqCst), 100);
    }

    #[test]
    fn a_panicking_task_is_reported_to_the_caller() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.install(|| {
                scope(|| {
                    for_each(64, 1, |i| {
                        if i == 63 {
                            panic!("task 63");
                        }
                    })
                })
            })
        }));
        assert!(r.is_err());
        // The task's own panic, with its message.
        let payload = r.unwrap_err();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"task 63"));
        // The pool is still usable afterwards.
        let n = AtomicU32::new(0);
        pool.install(|| {
            scope(|| {
                for_each(10, 1, |_| {
                    n.fetch_add(1, SeqCst);
                })
            })
        });
        assert_eq!(n.load(SeqCst), 10);
    }
}
