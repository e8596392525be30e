//! Inference microkernels, each beside its naive twin, chosen once at run time by what the CPU
//! has: AVX-512, AVX2 + FMA, or a portable fallback that any target compiles. The ops in
//! [`crate::ops`] (the tape's forward and backward) and the inference plan of the library both
//! call them; they work on plain slices in NHWC so that a plan can hand them slices of its
//! arena (no `Tensor` allocation in the steady state).
//!
//! - [`gemm`]: the register-tiled GEMM microkernels (`MR` rows × 16/32 columns) with a fused
//!   epilogue (bias, residual add, clamp-type activations);
//! - [`conv`]: convolution as implicit GEMM over prepacked weights — the input rows a tile needs
//!   are gathered per cache block straight from the NHWC input (strides, dilation, groups and
//!   TensorFlow's `same` split included), never a whole im2col buffer; 1×1 and `Dense` are the
//!   one-tap case;
//! - [`depthwise`]: depthwise convolution register-blocked over output pixels × channel vectors;
//! - [`channel`]: training BatchNormalization's per-channel f64 sums and affine maps over
//!   channels-last rows (the tape's passes, compiled per ISA);
//! - [`stream`]: a dense product of a few rows with weights too large to prepack, streamed in
//!   their stored order;
//! - [`team`]: the spinning workers that an inference plan's or a training step's kernels share
//!   their tasks with;
//! - [`winograd`]: 3×3 stride-1 convolution by Winograd's F(4×4, 3×3) on the same GEMM
//!   microkernels (four times fewer multiply-adds), for the inference plan's large layers;
//! - [`pointwise`]: pooling, global pooling, channel affine (a BatchNormalization that could not
//!   be folded), element-wise merges, all with the same activation epilogue.
//!
//! `RKERAS_ISA=portable|avx2|avx512` forces a lower instruction set (for comparisons and to test
//! the fallbacks on a machine that has more).

/// `$avx512` and `$avx2`: the `#[inline(always)]` loop `$generic` compiled for AVX-512 and for
/// AVX2 + FMA (a closure handed to a `#[target_feature]` function is compiled for the
/// baseline: the loop must be inlined into the function itself).
macro_rules! isa_twins {
    ($avx512:ident, $avx2:ident, $generic:ident ($($arg:ident: $ty:ty),*)) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f")]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $avx512($($arg: $ty),*) {
            $generic($($arg),*)
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $avx2($($arg: $ty),*) {
            $generic($($arg),*)
        }
    };
}

/// Calls the twin of `isa` made by [`isa_twins`], or the baseline loop.
macro_rules! by_isa {
    ($isa:expr, $avx512:ident, $avx2:ident, $generic:ident ($($arg:expr),*)) => {
        match $isa {
            // SAFETY: `isa` is never above what the CPU reported (`kernels::isa`, `Isa::available`).
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { $avx512($($arg),*) },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { $avx2($($arg),*) },
            _ => $generic($($arg),*),
        }
    };
}

pub mod act;
pub mod channel;
pub mod conv;
pub mod depthwise;
pub mod direct;
pub mod gemm;
pub mod peak;
pub mod pointwise;
pub mod stream;
pub mod team;
pub mod winograd;

pub use act::Epilogue;

use std::sync::OnceLock;

/// An instruction set a kernel is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// Plain Rust loops the compiler vectorizes for the target's baseline.
    Portable,
    /// AVX2 with FMA (x86-64-v3).
    Avx2,
    /// AVX-512 F (x86-64-v4).
    Avx512,
}

impl Isa {
    /// The name used in `RKERAS_ISA` and in benchmark reports.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Portable => "portable",
            Isa::Avx2 => "avx2+fma",
            Isa::Avx512 => "avx512f",
        }
    }

    /// Every instruction set this CPU can run, lowest first (tests run each).
    pub fn available() -> Vec<Isa> {
        let best = detect();
        [Isa::Portable, Isa::Avx2, Isa::Avx512]
            .into_iter()
            .filter(|&i| i <= best)
            .collect()
    }
}

fn detect() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return Isa::Avx512;
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            return Isa::Avx2;
        }
    }
    Isa::Portable
}

/// The instruction set the kernels use: the best this CPU has, or lower when `RKERAS_ISA`
/// asks for it (a request above what the CPU has is ignored).
pub fn isa() -> Isa {
    static CHOSEN: OnceLock<Isa> = OnceLock::new();
    *CHOSEN.get_or_init(|| {
        let best = detect();
        let asked = match std::env::var("RKERAS_ISA").ok().as_deref() {
            Some("portable") => Isa::Portable,
            Some("avx2") | Some("avx2+fma") => Isa::Avx2,
            _ => best,
        };
        asked.min(best)
    })
}

/// Whether this CPU runs a 512-bit operation as two 256-bit halves (AMD Zen 4, family
/// 0x19): there a masked second zmm vector costs a whole one, so tiles of 17 to 24 valid
/// columns run one zmm and one ymm accumulator a row ([`gemm`]); where 512-bit units are
/// whole (Intel's AVX-512 cores, whose ymm FMAs issue from one port while 512-bit ones are in
/// flight), those ran slower than a full zmm pair with masked stores (a 12 × 32 tile in L1
/// with 24 valid columns: 107 against 125 GFLOP/s of useful products on one core).
pub fn splits_512() -> bool {
    static SPLIT: OnceLock<bool> = OnceLock::new();
    *SPLIT.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY: `cpuid` leaves 0 and 1 exist on every x86-64 CPU (newer compilers call
            // `__cpuid` safe).
            #[allow(unused_unsafe)]
            let (v, f) = unsafe { (std::arch::x86_64::__cpuid(0), std::arch::x86_64::__cpuid(1)) };
            let amd = (v.ebx, v.edx, v.ecx) == (0x6874_7541, 0x6974_6e65, 0x444d_4163);
            let family = ((f.eax >> 8) & 0xf)
                + if (f.eax >> 8) & 0xf == 0xf {
                    (f.eax >> 20) & 0xff
                } else {
                    0
                };
            amd && family == 0x19
        }
        #[cfg(not(target_arch = "x86_64"))]
        false
    })
}

/// How many workers the kernels split one op over (rayon's pool).
pub fn threads() -> usize {
    rayon::current_num_threads().max(1)
}

/// Runs `f` on a worker of the kernels' thread pool (the caller waits): a sequence of kernels
/// started from there (an inference plan's steps) shares the pool without waking it from
/// outside and parking the caller for every kernel.
pub fn on_worker<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    rayon::scope(|_| f())
}

/// Runs `f` inside a function compiled for the kernels' instruction set, so that the plain
/// loops `f` inlines (the tape's element-wise maps) vectorize to AVX-512 or AVX2 instead of
/// the crate's baseline (SSE2 on x86-64). Pass the closure as `#[inline(always)] || …`: a
/// closure the compiler does not inline here is compiled for the baseline (the optimizer
/// updates and the plan's channel affine ran as SSE code until they were marked). Element-wise results are the same on every
/// instruction set: Rust never contracts `a·b + c` into a fused multiply-add by itself.
#[inline(always)]
pub fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    match isa() {
        // SAFETY: `isa()` is never above what the CPU reported.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { run_avx512(f) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { run_avx2(f) },
        _ => f(),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn run_avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// A vector of `n` values that `fill` writes, without zeroing the allocation first (a
/// `vec![0.0; n]` for an output that is then overwritten costs a whole extra pass of memory
/// writes: 4–13% of a training step in the profiles).
///
/// # Safety
/// `fill` must write every one of the `n` values of the slice it is given.
pub(crate) unsafe fn filled_vec(n: usize, fill: impl FnOnce(&mut [std::mem::MaybeUninit<f32>])) -> Vec<f32> {
    let mut v: Vec<f32> = Vec::with_capacity(n);
    fill(&mut v.spare_capacity_mut()[..n]);
    // SAFETY: the caller's `fill` initialized all `n` values.
    v.set_len(n);
    v
}

/// A vector of `rows · row_len` values made row by row in parallel (at least `min_rows` rows
/// a task) by `f(r, row)`, without zeroing the buffer first (a whole-buffer `memset` on one
/// worker while the other waited was 4–5% of a MobileNetV2 training step).
///
/// # Safety
/// `f` must write every value of the row it is given.
pub(crate) unsafe fn par_rows(
    rows: usize,
    row_len: usize,
    min_rows: usize,
    f: impl Fn(usize, &mut [std::mem::MaybeUninit<f32>]) + Sync + Send,
) -> Vec<f32> {
    use rayon::prelude::*;
    if rows == 0 || row_len == 0 {
        return Vec::new();
    }
    let fill = |out: &mut [std::mem::MaybeUninit<f32>]| {
        out.par_chunks_mut(row_len)
            .with_min_len(min_rows.max(1))
            .enumerate()
            .for_each(|(r, row)| f(r, row));
    };
    // SAFETY: the rows cover all `rows · row_len` values and the caller's `f` writes each.
    filled_vec(rows * row_len, fill)
}

/// `vec![0.0; n]` for a buffer that is then accumulated into or written by a kernel that takes
/// initialized values, zeroed in parallel above 64K values: the same vector, without one worker
/// doing the whole `memset` while the others wait.
pub(crate) fn zeros(n: usize) -> Vec<f32> {
    use rayon::prelude::*;
    const CHUNK: usize = 1 << 16;
    if n <= CHUNK {
        return vec![0.0; n];
    }
    let fill = |out: &mut [std::mem::MaybeUninit<f32>]| {
        out.par_chunks_mut(CHUNK)
            .for_each(|c| c.fill(std::mem::MaybeUninit::new(0.0)));
    };
    // SAFETY: the chunks cover all `n` values and each is filled with zeros.
    unsafe { filled_vec(n, fill) }
}

/// Initializes `out` with `pattern` repeated (its length divides `out`'s) and returns it as
/// values: a row's bias or zeros before the row is accumulated into.
pub(crate) fn init_repeating<'a>(out: &'a mut [std::mem::MaybeUninit<f32>], pattern: &[f32]) -> &'a mut [f32] {
    // `cycle` of an empty pattern would leave `out` unwritten.
    assert!(
        !pattern.is_empty() || out.is_empty(),
        "init_repeating: an empty pattern"
    );
    for (o, &v) in out.iter_mut().zip(pattern.iter().cycle()) {
        o.write(v);
    }
    // SAFETY: every value of `out` was just written, and `MaybeUninit<f32>` has `f32`'s layout.
    unsafe { &mut *(out as *mut [std::mem::MaybeUninit<f32>] as *mut [f32]) }
}

/// Asks for the cache line at `p` (a hint: never faults, whatever the address; nothing on
/// other targets).
#[inline(always)]
pub(crate) fn prefetch(p: *const f32) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// The 16-lane mask of the first `n` lanes (all 16 from `n = 16` on): a vector block's
/// tail.
#[inline(always)]
pub(crate) fn lanes16(n: usize) -> u16 {
    if n >= 16 {
        0xffff
    } else {
        ((1u32 << n) - 1) as u16
    }
}

/// An output buffer's start, shared by parallel tasks that each write their own disjoint
/// part of it (read through [`OutPtr::get`], so closures capture the wrapper, not the raw
/// pointer).
#[derive(Clone, Copy)]
pub(crate) struct OutPtr(pub(crate) *mut f32);
// SAFETY: tasks write disjoint ranges through it (each user states which).
unsafe impl Send for OutPtr {}
// SAFETY: as above.
unsafe impl Sync for OutPtr {}

impl OutPtr {
    pub(crate) fn get(self) -> *mut f32 {
        self.0
    }
}

/// One cache line of values (one AVX-512 vector).
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
struct Line([f32; 16]);

/// `f32` values starting on a 64-byte boundary: prepacked weights, whose rows the
/// microkernels load as whole vectors (rows of an unaligned buffer split every load across
/// two cache lines: 10% of a 6 × 64 tile's speed in L1). Stays aligned when cloned.
#[derive(Debug, Clone, Default)]
pub struct AlignedVec {
    lines: Vec<Line>,
    len: usize,
}

impl AlignedVec {
    /// `len` zeros.
    pub fn zeros(len: usize) -> AlignedVec {
        AlignedVec {
            lines: vec![Line([0.0; 16]); len.div_ceil(16)],
            len,
        }
    }

    /// The values.
    pub fn as_slice(&self) -> &[f32] {
        // SAFETY: `Line` is `repr(C)` over 16 `f32`s with no padding (64 bytes), so the lines
        // are `16·lines.len() ≥ len` contiguous, initialized `f32`s.
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast::<f32>(), self.len) }
    }

    /// The values, writable.
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        // SAFETY: as in `as_slice`, and `&mut self` makes the borrow unique.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr().cast::<f32>(), self.len) }
    }

    /// How many values.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The buffers made without a serial `memset`: `zeros` is `vec![0.0; n]` at every size
    /// around its parallel chunk, `par_rows` hands each row to its writer exactly once, and
    /// `init_repeating` fills with its pattern.
    #[test]
    fn buffers_without_a_serial_memset() {
        for n in [0, 1, 5, 65_536, 65_537, 300_001] {
            assert_eq!(zeros(n), vec![0.0; n], "zeros({n})");
        }
        for (rows, len) in [(0, 4), (3, 0), (1, 7), (37, 5), (1000, 48)] {
            // SAFETY: the closure writes every value of its row.
            let v = unsafe {
                par_rows(rows, len, 3, |r, row| {
                    for (j, o) in row.iter_mut().enumerate() {
                        o.write((r * 1000 + j) as f32);
                    }
                })
            };
            let want: Vec<f32> = (0..rows)
                .flat_map(|r| (0..len).map(move |j| (r * 1000 + j) as f32))
                .collect();
            assert_eq!(v, want, "par_rows({rows}, {len})");
        }
        let mut out = vec![std::mem::MaybeUninit::new(9.0f32); 6];
        assert_eq!(init_repeating(&mut out, &[1.0, 2.0]), &[1.0, 2.0, 1.0, 2.0, 1.0, 2.0]);
    }
}
