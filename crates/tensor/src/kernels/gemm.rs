//! GEMM microkernels: one register tile `C[r, 0..nc] (+)= Σₖ A[k, r]·B[k, 0..nc]` for `r < mr`,
//! then the epilogue (bias, residual, clamp) in registers, stored through one pointer per row
//! (so a tile can write into a slice of a concatenated output, or skip rows).
//!
//! - AVX-512: up to 12 rows × 32 columns (24 accumulators in zmm registers, two B vectors,
//!   A broadcast from memory); the last column vector is masked, so any `nc ≤ 32` works;
//!   6 × 64 (four B vectors) and 12 × 16 (one) for wide and narrow layers.
//! - AVX2 + FMA: up to 6 rows × 16 columns (12 ymm accumulators), masked loads/stores.
//! - Portable: up to 4 rows × 16 columns in plain arrays the compiler vectorizes.
//!
//! `A` is indirect, as in XNNPACK's IGEMM: for each of the block's `taps`, a table holds one
//! pointer per row to that row's `kc` input channels (straight into the NHWC input, or a zero
//! row where the tap falls in the padding), so no im2col copy exists; `B` is `taps·kc` rows of
//! `nc` values, `ldb` apart (a packed panel: `ldb = NR`; a Dense kernel used in place:
//! `ldb = units`). [`tile_naive`] is the loop the kernels are tested against.

use super::Isa;

/// Most rows of any ISA's tile (the row-pointer arrays are this long).
pub const MAX_MR: usize = 12;

/// Rows per tile and columns per panel of an instruction set for `cout` output channels (per
/// group): AVX-512 runs 6 × 64 tiles (four column vectors: 24 accumulators fed by 6 broadcasts
/// and 4 loads) where there are at least 48 channels and 64-wide panels waste no more columns
/// than 32-wide ones, 12 × 32 otherwise: 96, 144 or 160 channels in 64-wide panels left a
/// quarter, a third or a sixth of the last panel's arithmetic on zeros (InceptionV3's 3×3
/// 96 → 96 ran at 218 GFLOP/s where its 192-channel layers ran at 290); 12 × 16 for at most
/// 16 channels (MobileNetV2's 32 → 16 projection, LeNet-5's 6 and 16 filters), which a 32-wide
/// tile would run at half its arithmetic.
pub fn tile_shape(isa: Isa, cout: usize) -> (usize, usize) {
    match isa {
        Isa::Avx512 if cout >= 48 && cout.next_multiple_of(64) <= cout.next_multiple_of(32) => (6, 64),
        Isa::Avx512 if cout <= 16 => (12, 16),
        Isa::Avx512 => (12, 32),
        Isa::Avx2 => (6, 16),
        Isa::Portable => (4, 16),
    }
}

/// One tile's operands. Raw pointers: the drivers ([`super::conv`]) prove the bounds once per
/// op, and the rows may point into different places of one output.
#[derive(Clone, Copy)]
pub struct Tile {
    /// Taps in this block.
    pub taps: usize,
    /// Channels per tap in this block (the depth is `taps·kc`).
    pub kc: usize,
    /// Rows, from 1 to the ISA's tile rows ([`tile_shape`]): every count has its own kernel, so
    /// drivers split rows evenly (MobileNetV2's and ResNet50's 7×7 layers at batch 1 have 49
    /// rows, which 12-row tiles left as 4 × 12 + 1, the last a whole pass over the weights for
    /// one row); more rows run the portable kernel.
    pub mr: usize,
    /// Valid columns (≤ `nr`).
    pub nc: usize,
    /// The panel width of the layout (selects the AVX-512 kernel family).
    pub nr: usize,
    /// Row pointers `[taps][mr]`: `a[t·mr + r]` points at `kc` values.
    pub a: *const *const f32,
    /// B: row `k` at `b + k·ldb`, `nc` values read.
    pub b: *const f32,
    /// Distance between B rows.
    pub ldb: usize,
    /// Every B row holds `nr` readable values (a prepacked panel, zero-padded to whole
    /// vectors, or a full panel of a kernel used in place): B is then read with plain vector
    /// loads. A masked load costs an extra micro-op on the ports the FMAs issue from (a
    /// 6 × 64 AVX-512 tile ran at 83% of its unmasked speed in L1).
    pub full_b: bool,
    /// Output row pointers (first `mr` used), at the tile's first column.
    pub c: [*mut f32; MAX_MR],
    /// Add the products to C's current values (a later depth block).
    pub accumulate: bool,
    /// Apply the epilogue (the last depth block).
    pub last: bool,
    /// Bias at the tile's first column, or null.
    pub bias: *const f32,
    /// Residual row pointers at the tile's first column (first `mr` used), or null rows.
    pub res: [*const f32; MAX_MR],
    /// Whether `res` is used.
    pub has_res: bool,
    /// Clamp below.
    pub lo: f32,
    /// Clamp above.
    pub hi: f32,
    /// Leaky slope (`max(x, slope·x)`), when `has_slope`.
    pub slope: f32,
    /// Whether the slope applies.
    pub has_slope: bool,
    /// Write the last depth block's whole vectors with non-temporal stores where they are
    /// 64-byte aligned (AVX-512): for outputs far larger than the caches, so that a store does
    /// not first read its line from memory. The caller fences ([`fence`]) before another
    /// thread reads them.
    pub stream: bool,
}

/// Runs one tile on the given instruction set.
///
/// # Safety
/// `a` holds `taps·mr` pointers, each to `kc` readable values; each of the `taps·kc` B rows
/// holds `nc` readable values (`nr` when `full_b`); each of the
/// first `mr` rows of `c` (and of `res` when `has_res`) points at `nc` valid values; `bias`
/// (when not null) at `nc` values. `mr` and `nc` fit the ISA's tile.
pub unsafe fn run_tile(isa: Isa, t: &Tile) {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => avx512::run(t),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => avx2::run(t),
        _ => portable::run(t),
    }
}

/// Orders the calling thread's non-temporal stores ([`Tile::stream`]) before its later
/// stores (the team's task counters), so the thread that sees a task done sees its output.
#[inline]
pub fn fence() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `sfence` has no operands; SSE is part of x86_64.
    unsafe {
        std::arch::x86_64::_mm_sfence()
    };
}

/// The reference: the same tile with scalar loops (and the same epilogue order).
///
/// # Safety
/// As [`run_tile`].
pub unsafe fn tile_naive(t: &Tile) {
    for r in 0..t.mr {
        for j in 0..t.nc {
            let mut s = 0.0f32;
            for tap in 0..t.taps {
                let row = *t.a.add(tap * t.mr + r);
                for k in 0..t.kc {
                    s += *row.add(k) * *t.b.add((tap * t.kc + k) * t.ldb + j);
                }
            }
            let c = t.c[r].add(j);
            let mut x = if t.accumulate { *c + s } else { s };
            if t.last {
                x = epilogue_scalar(t, r, j, x);
            }
            *c = x;
        }
    }
}

#[inline(always)]
unsafe fn epilogue_scalar(t: &Tile, r: usize, j: usize, mut x: f32) -> f32 {
    if !t.bias.is_null() {
        x += *t.bias.add(j);
    }
    if t.has_res {
        x += *t.res[r].add(j);
    }
    if t.has_slope {
        x = x.max(t.slope * x);
    }
    x.max(t.lo).min(t.hi)
}

mod portable {
    use super::{epilogue_scalar, Tile, MAX_MR};

    /// Widest tile any caller passes (the other ISAs' fallback for odd shapes lands here too).
    const NR: usize = 32;

    pub(super) unsafe fn run(t: &Tile) {
        let mut acc = [[0.0f32; NR]; MAX_MR];
        let nc = t.nc.min(NR);
        for tap in 0..t.taps {
            for k in 0..t.kc {
                let mut b = [0.0f32; NR];
                let brow = t.b.add((tap * t.kc + k) * t.ldb);
                for (j, v) in b.iter_mut().enumerate().take(nc) {
                    *v = *brow.add(j);
                }
                for (r, row) in acc.iter_mut().enumerate().take(t.mr.min(MAX_MR)) {
                    let a = *(*t.a.add(tap * t.mr + r)).add(k);
                    for (x, &bj) in row.iter_mut().zip(&b).take(nc) {
                        *x += a * bj;
                    }
                }
            }
        }
        for (r, row) in acc.iter().enumerate().take(t.mr.min(MAX_MR)) {
            for (j, &s) in row.iter().enumerate().take(nc) {
                let c = t.c[r].add(j);
                let mut x = if t.accumulate { *c + s } else { s };
                if t.last {
                    x = epilogue_scalar(t, r, j, x);
                }
                *c = x;
            }
        }
    }
}

/// A tile's epilogue, read from the tile once (per-row finishing tested the `Tile`'s flags
/// in memory for every vector: 24 times per 12 × 32 tile), over an ISA's vector type `V`.
#[derive(Clone, Copy)]
struct Fin<V> {
    acc: bool,
    last: bool,
    bias: bool,
    res: bool,
    slope: bool,
    stream: bool,
    s: V,
    lo: V,
    hi: V,
}

impl<V: Copy> Fin<V> {
    /// `t`'s flags, and its slope and clamp bounds broadcast by `set1`.
    #[inline(always)]
    fn of(t: &Tile, set1: impl Fn(f32) -> V) -> Fin<V> {
        Fin {
            acc: t.accumulate,
            last: t.last,
            bias: !t.bias.is_null(),
            res: t.has_res,
            slope: t.has_slope,
            stream: t.stream,
            s: set1(t.slope),
            lo: set1(t.lo),
            hi: set1(t.hi),
        }
    }
}

/// One kernel per row count, with one named accumulator pair per row so that every
/// accumulator lives in a register (an accumulator array indexed in loops was kept in memory
/// by the compiler: a store after every FMA).
macro_rules! kernel_family {
    ($vec:ty, $lanes:expr, $feature:literal, $zero:expr, $load:ident, $bcast:expr, $fma:expr,
     $finish:ident, [$($name:ident: $mr:literal [$($r:literal: $x:ident $y:ident $p:ident),*];)*]) => {
        $(
            #[target_feature(enable = $feature)]
            unsafe fn $name<const FULL: bool>(t: &Tile) {
                let m1 = tail_mask(t.nc);
                $(let mut $x: $vec = $zero; let mut $y: $vec = $zero;)*
                let mut b = t.b;
                for tap in 0..t.taps {
                    let rows = t.a.add(tap * $mr);
                    $(let $p = *rows.add($r);)*
                    for k in 0..t.kc {
                        let b0: $vec = $load::<FULL>(b, true, m1);
                        let b1: $vec = $load::<FULL>(b.add($lanes), false, m1);
                        $(
                            let av: $vec = $bcast($p.add(k));
                            $x = $fma(av, b0, $x);
                            $y = $fma(av, b1, $y);
                        )*
                        b = b.add(t.ldb);
                    }
                }
                let f = fin(t);
                $(
                    $finish(t, &f, $r, 0, $x, m1);
                    $finish(t, &f, $r, 1, $y, m1);
                )*
            }
        )*
    };
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::Tile;
    use std::arch::x86_64::*;

    /// Masks of the two column vectors: the first full unless `nc < 16`.
    #[inline(always)]
    fn tail_mask(nc: usize) -> (__mmask16, __mmask16) {
        let m = crate::kernels::lanes16;
        (m(nc.min(16)), m(nc.saturating_sub(16)))
    }

    #[inline(always)]
    unsafe fn load<const FULL: bool>(p: *const f32, first: bool, m: (__mmask16, __mmask16)) -> __m512 {
        if FULL {
            _mm512_loadu_ps(p)
        } else {
            _mm512_maskz_loadu_ps(if first { m.0 } else { m.1 }, p)
        }
    }

    #[inline(always)]
    unsafe fn bcast(p: *const f32) -> __m512 {
        _mm512_set1_ps(*p)
    }

    #[inline(always)]
    unsafe fn fma(a: __m512, b: __m512, c: __m512) -> __m512 {
        _mm512_fmadd_ps(a, b, c)
    }

    type Fin = super::Fin<__m512>;

    #[inline(always)]
    unsafe fn fin(t: &Tile) -> Fin {
        super::Fin::of(t, |v| _mm512_set1_ps(v))
    }

    #[inline(always)]
    unsafe fn finish(t: &Tile, f: &Fin, r: usize, v: usize, s: __m512, m: (__mmask16, __mmask16)) {
        let m = if v == 0 { m.0 } else { m.1 };
        finish_masked(t, f, r, v, s, m)
    }

    #[inline(always)]
    unsafe fn finish_masked(t: &Tile, f: &Fin, r: usize, v: usize, s: __m512, m: __mmask16) {
        if m == 0 {
            return;
        }
        let c = t.c[r].add(16 * v);
        let mut x = if f.acc {
            _mm512_add_ps(_mm512_maskz_loadu_ps(m, c), s)
        } else {
            s
        };
        if f.last {
            if f.bias {
                x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, t.bias.add(16 * v)));
            }
            if f.res {
                x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, t.res[r].add(16 * v)));
            }
            if f.slope {
                x = _mm512_max_ps(x, _mm512_mul_ps(x, f.s));
            }
            x = _mm512_min_ps(_mm512_max_ps(x, f.lo), f.hi);
            if f.stream && m == 0xffff && (c as usize).is_multiple_of(64) {
                _mm512_stream_ps(c, x);
                return;
            }
        }
        _mm512_mask_storeu_ps(c, m, x);
    }

    kernel_family!(__m512, 16, "avx512f", _mm512_setzero_ps(), load, bcast, fma, finish, [
        k1: 1 [0: x0 y0 p0];
        k2: 2 [0: x0 y0 p0, 1: x1 y1 p1];
        k3: 3 [0: x0 y0 p0, 1: x1 y1 p1, 2: x2 y2 p2];
        k4: 4 [0: x0 y0 p0, 1: x1 y1 p1, 2: x2 y2 p2, 3: x3 y3 p3];
        k5: 5 [0: x0 y0 p0, 1: x1 y1 p1, 2: x2 y2 p2, 3: x3 y3 p3, 4: x4 y4 p4];
        k6: 6 [0: x0 y0 p0, 1: x1 y1 p1, 2: x2 y2 p2, 3: x3 y3 p3, 4: x4 y4 p4, 5: x5 y5 p5];
        k7: 7 [0: x0 y0 p0, 1: x1 y1 p1, 2: x2 y2 p2, 3: x3 y3 p3, 4: x4 y4 p4, 5: x5 y5 p5, 6: x6 y6 p6];
        k8: 8 [0: x0 y0 p0, 1: x1 y1 p1, 2: x2 y2 p2, 3: x3 y3 p3, 4: x4 y4 p4, 5: x5 y5 p5, 6: x6 y6 p6, 7: x7 y7 p7];
        k9: 9 [0: x0 y0 p0, 1: x1 y1 p1, 2: x2 y2 p2, 3: x3 y3 p3, 4: x4 y4 p4, 5: x5 y5 p5, 6: x6 y6 p6, 7: x7 y7 p7, 8: x8 y8 p8];
        k10: 10 [0: x0 y0 p0, 1: x1 y1 p1, 2: x2 y2 p2, 3: x3 y3 p3, 4: x4 y4 p4, 5: x5 y5 p5, 6: x6 y6 p6, 7: x7 y7 p7, 8: x8 y8 p8, 9: x9 y9 p9];
        k11: 11 [0: x0 y0 p0, 1: x1 y1 p1, 2: x2 y2 p2, 3: x3 y3 p3, 4: x4 y4 p4, 5: x5 y5 p5, 6: x6 y6 p6, 7: x7 y7 p7, 8: x8 y8 p8, 9: x9 y9 p9, 10: x10 y10 p10];
        k12: 12 [0: x0 y0 p0, 1: x1 y1 p1, 2: x2 y2 p2, 3: x3 y3 p3, 4: x4 y4 p4, 5: x5 y5 p5, 6: x6 y6 p6, 7: x7 y7 p7, 8: x8 y8 p8, 9: x9 y9 p9, 10: x10 y10 p10, 11: x11 y11 p11];
    ]);

    /// Masks of the four column vectors of a 64-wide tile.
    #[inline(always)]
    fn tail_mask4(nc: usize) -> [__mmask16; 4] {
        let m = crate::kernels::lanes16;
        [
            m(nc.min(16)),
            m(nc.saturating_sub(16)),
            m(nc.saturating_sub(32)),
            m(nc.saturating_sub(48)),
        ]
    }

    #[inline(always)]
    unsafe fn finish4(t: &Tile, f: &Fin, r: usize, v: usize, s: __m512, m: [__mmask16; 4]) {
        finish_masked(t, f, r, v, s, m[v])
    }

    /// 64-wide kernels: four named accumulators per row.
    macro_rules! wide_family {
        ($($name:ident: $mr:literal [$($r:literal: $a:ident $b:ident $c:ident $d:ident $p:ident),*];)*) => {
            $(
                #[target_feature(enable = "avx512f")]
                unsafe fn $name<const FULL: bool>(t: &Tile) {
                    let m = tail_mask4(t.nc);
                    $(let mut $a = _mm512_setzero_ps(); let mut $b = _mm512_setzero_ps();
                      let mut $c = _mm512_setzero_ps(); let mut $d = _mm512_setzero_ps();)*
                    let mut bp = t.b;
                    for tap in 0..t.taps {
                        let rows = t.a.add(tap * $mr);
                        $(let $p = *rows.add($r);)*
                        for k in 0..t.kc {
                            let (b0, b1, b2, b3) = if FULL {
                                (_mm512_loadu_ps(bp), _mm512_loadu_ps(bp.add(16)),
                                 _mm512_loadu_ps(bp.add(32)), _mm512_loadu_ps(bp.add(48)))
                            } else {
                                (_mm512_maskz_loadu_ps(m[0], bp), _mm512_maskz_loadu_ps(m[1], bp.add(16)),
                                 _mm512_maskz_loadu_ps(m[2], bp.add(32)), _mm512_maskz_loadu_ps(m[3], bp.add(48)))
                            };
                            $(
                                let av = _mm512_set1_ps(*$p.add(k));
                                $a = _mm512_fmadd_ps(av, b0, $a);
                                $b = _mm512_fmadd_ps(av, b1, $b);
                                $c = _mm512_fmadd_ps(av, b2, $c);
                                $d = _mm512_fmadd_ps(av, b3, $d);
                            )*
                            bp = bp.add(t.ldb);
                        }
                    }
                    let f = fin(t);
                    $(
                        finish4(t, &f, $r, 0, $a, m);
                        finish4(t, &f, $r, 1, $b, m);
                        finish4(t, &f, $r, 2, $c, m);
                        finish4(t, &f, $r, 3, $d, m);
                    )*
                }
            )*
        };
    }

    wide_family!(
        w1: 1 [0: a0 b0 c0 d0 p0];
        w2: 2 [0: a0 b0 c0 d0 p0, 1: a1 b1 c1 d1 p1];
        w3: 3 [0: a0 b0 c0 d0 p0, 1: a1 b1 c1 d1 p1, 2: a2 b2 c2 d2 p2];
        w4: 4 [0: a0 b0 c0 d0 p0, 1: a1 b1 c1 d1 p1, 2: a2 b2 c2 d2 p2, 3: a3 b3 c3 d3 p3];
        w5: 5 [0: a0 b0 c0 d0 p0, 1: a1 b1 c1 d1 p1, 2: a2 b2 c2 d2 p2, 3: a3 b3 c3 d3 p3, 4: a4 b4 c4 d4 p4];
        w6: 6 [0: a0 b0 c0 d0 p0, 1: a1 b1 c1 d1 p1, 2: a2 b2 c2 d2 p2, 3: a3 b3 c3 d3 p3, 4: a4 b4 c4 d4 p4, 5: a5 b5 c5 d5 p5];
    );

    /// 16-wide kernels (at most 16 output channels): one accumulator per row, so a 32-wide
    /// tile's second column vector of zeros is not multiplied.
    macro_rules! narrow_family {
        ($($name:ident: $mr:literal [$($r:literal: $a:ident $p:ident),*];)*) => {
            $(
                #[target_feature(enable = "avx512f")]
                unsafe fn $name<const FULL: bool>(t: &Tile) {
                    let m = tail_mask(t.nc);
                    $(let mut $a = _mm512_setzero_ps();)*
                    let mut bp = t.b;
                    for tap in 0..t.taps {
                        let rows = t.a.add(tap * $mr);
                        $(let $p = *rows.add($r);)*
                        for k in 0..t.kc {
                            let b0 = load::<FULL>(bp, true, m);
                            $(
                                $a = _mm512_fmadd_ps(_mm512_set1_ps(*$p.add(k)), b0, $a);
                            )*
                            bp = bp.add(t.ldb);
                        }
                    }
                    let f = fin(t);
                    $(finish_masked(t, &f, $r, 0, $a, m.0);)*
                }
            )*
        };
    }

    narrow_family!(
        n1: 1 [0: a0 p0];
        n2: 2 [0: a0 p0, 1: a1 p1];
        n3: 3 [0: a0 p0, 1: a1 p1, 2: a2 p2];
        n4: 4 [0: a0 p0, 1: a1 p1, 2: a2 p2, 3: a3 p3];
        n5: 5 [0: a0 p0, 1: a1 p1, 2: a2 p2, 3: a3 p3, 4: a4 p4];
        n6: 6 [0: a0 p0, 1: a1 p1, 2: a2 p2, 3: a3 p3, 4: a4 p4, 5: a5 p5];
        n7: 7 [0: a0 p0, 1: a1 p1, 2: a2 p2, 3: a3 p3, 4: a4 p4, 5: a5 p5, 6: a6 p6];
        n8: 8 [0: a0 p0, 1: a1 p1, 2: a2 p2, 3: a3 p3, 4: a4 p4, 5: a5 p5, 6: a6 p6, 7: a7 p7];
        n9: 9 [0: a0 p0, 1: a1 p1, 2: a2 p2, 3: a3 p3, 4: a4 p4, 5: a5 p5, 6: a6 p6, 7: a7 p7, 8: a8 p8];
        n10: 10 [0: a0 p0, 1: a1 p1, 2: a2 p2, 3: a3 p3, 4: a4 p4, 5: a5 p5, 6: a6 p6, 7: a7 p7, 8: a8 p8, 9: a9 p9];
        n11: 11 [0: a0 p0, 1: a1 p1, 2: a2 p2, 3: a3 p3, 4: a4 p4, 5: a5 p5, 6: a6 p6, 7: a7 p7, 8: a8 p8, 9: a9 p9, 10: a10 p10];
        n12: 12 [0: a0 p0, 1: a1 p1, 2: a2 p2, 3: a3 p3, 4: a4 p4, 5: a5 p5, 6: a6 p6, 7: a7 p7, 8: a8 p8, 9: a9 p9, 10: a10 p10, 11: a11 p11];
    );

    /// 24-wide kernels for 17 to 24 valid columns of full B rows: one zmm and one ymm
    /// accumulator per row (the ymm half of the row's broadcast). Where 512-bit FMAs are two
    /// 256-bit halves (AMD Zen 4) a masked second zmm vector costs a whole one: a 12 × 32
    /// tile with 24 valid columns ran at 73% of one core's peak in L1, these at 89%
    /// (`kernels` bench); where 512-bit FMAs are whole (Intel) they ran slower than the
    /// plain 32-wide kernels, which run those tiles there ([`crate::kernels::splits_512`]).
    macro_rules! half_family {
        ($($name:ident: $mr:literal [$($r:literal: $a:ident $b:ident $p:ident),*];)*) => {
            $(
                #[target_feature(enable = "avx512f,avx2,fma")]
                unsafe fn $name(t: &Tile) {
                    let m = tail_mask(t.nc);
                    $(let mut $a = _mm512_setzero_ps(); let mut $b = _mm256_setzero_ps();)*
                    let mut bp = t.b;
                    for tap in 0..t.taps {
                        let rows = t.a.add(tap * $mr);
                        $(let $p = *rows.add($r);)*
                        for k in 0..t.kc {
                            let b0 = _mm512_loadu_ps(bp);
                            let b1 = _mm256_loadu_ps(bp.add(16));
                            $(
                                let av = _mm512_set1_ps(*$p.add(k));
                                $a = _mm512_fmadd_ps(av, b0, $a);
                                $b = _mm256_fmadd_ps(_mm512_castps512_ps256(av), b1, $b);
                            )*
                            bp = bp.add(t.ldb);
                        }
                    }
                    let f = fin(t);
                    $(
                        finish_masked(t, &f, $r, 0, $a, m.0);
                        finish_masked(t, &f, $r, 1, _mm512_zextps256_ps512($b), m.1);
                    )*
                }
            )*
        };
    }

    half_family!(
        h1: 1 [0: a0 b0 p0];
        h2: 2 [0: a0 b0 p0, 1: a1 b1 p1];
        h3: 3 [0: a0 b0 p0, 1: a1 b1 p1, 2: a2 b2 p2];
        h4: 4 [0: a0 b0 p0, 1: a1 b1 p1, 2: a2 b2 p2, 3: a3 b3 p3];
        h5: 5 [0: a0 b0 p0, 1: a1 b1 p1, 2: a2 b2 p2, 3: a3 b3 p3, 4: a4 b4 p4];
        h6: 6 [0: a0 b0 p0, 1: a1 b1 p1, 2: a2 b2 p2, 3: a3 b3 p3, 4: a4 b4 p4, 5: a5 b5 p5];
        h7: 7 [0: a0 b0 p0, 1: a1 b1 p1, 2: a2 b2 p2, 3: a3 b3 p3, 4: a4 b4 p4, 5: a5 b5 p5, 6: a6 b6 p6];
        h8: 8 [0: a0 b0 p0, 1: a1 b1 p1, 2: a2 b2 p2, 3: a3 b3 p3, 4: a4 b4 p4, 5: a5 b5 p5, 6: a6 b6 p6, 7: a7 b7 p7];
        h9: 9 [0: a0 b0 p0, 1: a1 b1 p1, 2: a2 b2 p2, 3: a3 b3 p3, 4: a4 b4 p4, 5: a5 b5 p5, 6: a6 b6 p6, 7: a7 b7 p7, 8: a8 b8 p8];
        h10: 10 [0: a0 b0 p0, 1: a1 b1 p1, 2: a2 b2 p2, 3: a3 b3 p3, 4: a4 b4 p4, 5: a5 b5 p5, 6: a6 b6 p6, 7: a7 b7 p7, 8: a8 b8 p8, 9: a9 b9 p9];
        h11: 11 [0: a0 b0 p0, 1: a1 b1 p1, 2: a2 b2 p2, 3: a3 b3 p3, 4: a4 b4 p4, 5: a5 b5 p5, 6: a6 b6 p6, 7: a7 b7 p7, 8: a8 b8 p8, 9: a9 b9 p9, 10: a10 b10 p10];
        h12: 12 [0: a0 b0 p0, 1: a1 b1 p1, 2: a2 b2 p2, 3: a3 b3 p3, 4: a4 b4 p4, 5: a5 b5 p5, 6: a6 b6 p6, 7: a7 b7 p7, 8: a8 b8 p8, 9: a9 b9 p9, 10: a10 b10 p10, 11: a11 b11 p11];
    );

    pub(super) unsafe fn run(t: &Tile) {
        // At most 16 valid columns, in a 16-wide layout or the last panel of a wider one (a
        // panel of 32 with 16 valid: MobileNetV2's 144 channels), run the narrow kernels;
        // full rows of 17 to 24 the 24-wide ones (its 24-channel projections), instead of
        // multiplying zeros.
        if t.nc <= 16 && (1..=12).contains(&t.mr) {
            return if t.full_b {
                narrow::<true>(t)
            } else {
                narrow::<false>(t)
            };
        }
        if t.full_b
            && (17..=24).contains(&t.nc)
            && t.nr >= 32
            && (1..=12).contains(&t.mr)
            && crate::kernels::splits_512()
        {
            return half(t);
        }
        if t.full_b {
            run_as::<true>(t)
        } else {
            run_as::<false>(t)
        }
    }

    #[inline(always)]
    pub(super) unsafe fn half(t: &Tile) {
        match t.mr {
            1 => h1(t),
            2 => h2(t),
            3 => h3(t),
            4 => h4(t),
            5 => h5(t),
            6 => h6(t),
            7 => h7(t),
            8 => h8(t),
            9 => h9(t),
            10 => h10(t),
            11 => h11(t),
            _ => h12(t),
        }
    }

    #[inline(always)]
    unsafe fn narrow<const FULL: bool>(t: &Tile) {
        match t.mr {
            1 => n1::<FULL>(t),
            2 => n2::<FULL>(t),
            3 => n3::<FULL>(t),
            4 => n4::<FULL>(t),
            5 => n5::<FULL>(t),
            6 => n6::<FULL>(t),
            7 => n7::<FULL>(t),
            8 => n8::<FULL>(t),
            9 => n9::<FULL>(t),
            10 => n10::<FULL>(t),
            11 => n11::<FULL>(t),
            _ => n12::<FULL>(t),
        }
    }

    #[inline(always)]
    unsafe fn run_as<const FULL: bool>(t: &Tile) {
        match (t.nr, t.mr) {
            (64, 1) => w1::<FULL>(t),
            (64, 2) => w2::<FULL>(t),
            (64, 3) => w3::<FULL>(t),
            (64, 4) => w4::<FULL>(t),
            (64, 5) => w5::<FULL>(t),
            (64, 6) => w6::<FULL>(t),
            (64, _) => super::portable::run(t),
            (16, _) => super::portable::run(t),
            (_, 1) => k1::<FULL>(t),
            (_, 2) => k2::<FULL>(t),
            (_, 3) => k3::<FULL>(t),
            (_, 4) => k4::<FULL>(t),
            (_, 5) => k5::<FULL>(t),
            (_, 6) => k6::<FULL>(t),
            (_, 7) => k7::<FULL>(t),
            (_, 8) => k8::<FULL>(t),
            (_, 9) => k9::<FULL>(t),
            (_, 10) => k10::<FULL>(t),
            (_, 11) => k11::<FULL>(t),
            (_, 12) => k12::<FULL>(t),
            _ => super::portable::run(t),
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::Tile;
    use std::arch::x86_64::*;

    #[inline(always)]
    unsafe fn lanes(n: usize) -> __m256i {
        let idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), idx)
    }

    #[inline(always)]
    fn tail_mask(nc: usize) -> (__m256i, __m256i) {
        // SAFETY: only called inside the avx2 kernels.
        unsafe { (lanes(nc.min(8)), lanes(nc.saturating_sub(8).min(8))) }
    }

    #[inline(always)]
    unsafe fn load<const FULL: bool>(p: *const f32, first: bool, m: (__m256i, __m256i)) -> __m256 {
        if FULL {
            _mm256_loadu_ps(p)
        } else {
            _mm256_maskload_ps(p, if first { m.0 } else { m.1 })
        }
    }

    #[inline(always)]
    unsafe fn bcast(p: *const f32) -> __m256 {
        _mm256_broadcast_ss(&*p)
    }

    #[inline(always)]
    unsafe fn fma(a: __m256, b: __m256, c: __m256) -> __m256 {
        _mm256_fmadd_ps(a, b, c)
    }

    type Fin = super::Fin<__m256>;

    #[inline(always)]
    unsafe fn fin(t: &Tile) -> Fin {
        super::Fin::of(t, |v| _mm256_set1_ps(v))
    }

    #[inline(always)]
    unsafe fn finish(t: &Tile, f: &Fin, r: usize, v: usize, s: __m256, m: (__m256i, __m256i)) {
        if v * 8 >= t.nc {
            return;
        }
        let m = if v == 0 { m.0 } else { m.1 };
        let c = t.c[r].add(8 * v);
        let mut x = if f.acc {
            _mm256_add_ps(_mm256_maskload_ps(c, m), s)
        } else {
            s
        };
        if f.last {
            if f.bias {
                x = _mm256_add_ps(x, _mm256_maskload_ps(t.bias.add(8 * v), m));
            }
            if f.res {
                x = _mm256_add_ps(x, _mm256_maskload_ps(t.res[r].add(8 * v), m));
            }
            if f.slope {
                x = _mm256_max_ps(x, _mm256_mul_ps(x, f.s));
            }
            x = _mm256_min_ps(_mm256_max_ps(x, f.lo), f.hi);
        }
        _mm256_maskstore_ps(c, m, x);
    }

    kernel_family!(__m256, 8, "avx2,fma", _mm256_setzero_ps(), load, bcast, fma, finish, [
        k1: 1 [0: x0 y0 p0];
        k2: 2 [0: x0 y0 p0, 1: x1 y1 p1];
        k3: 3 [0: x0 y0 p0, 1: x1 y1 p1, 2: x2 y2 p2];
        k4: 4 [0: x0 y0 p0, 1: x1 y1 p1, 2: x2 y2 p2, 3: x3 y3 p3];
        k5: 5 [0: x0 y0 p0, 1: x1 y1 p1, 2: x2 y2 p2, 3: x3 y3 p3, 4: x4 y4 p4];
        k6: 6 [0: x0 y0 p0, 1: x1 y1 p1, 2: x2 y2 p2, 3: x3 y3 p3, 4: x4 y4 p4, 5: x5 y5 p5];
    ]);

    pub(super) unsafe fn run(t: &Tile) {
        if t.full_b {
            run_as::<true>(t)
        } else {
            run_as::<false>(t)
        }
    }

    #[inline(always)]
    unsafe fn run_as<const FULL: bool>(t: &Tile) {
        match t.mr {
            1 => k1::<FULL>(t),
            2 => k2::<FULL>(t),
            3 => k3::<FULL>(t),
            4 => k4::<FULL>(t),
            5 => k5::<FULL>(t),
            6 => k6::<FULL>(t),
            _ => super::portable::run(t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::too_many_arguments)]
    /// Runs `kernel` (the ISA's dispatch, [`run_tile`], or one kernel family) on a tile of
    /// these sizes and compares it with [`tile_naive`].
    fn run_case(
        kernel: unsafe fn(Isa, &Tile),
        isa: Isa,
        taps: usize,
        kc: usize,
        mr: usize,
        nc: usize,
        nr: usize,
        ldb: usize,
        accumulate: bool,
        last: bool,
        res: bool,
        full_b: bool,
    ) {
        // Rows of A scattered through one buffer, as taps of an image are.
        let a: Vec<f32> = (0..(taps * mr + 1) * kc * 2)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) * 0.25)
            .collect();
        let ptrs: Vec<*const f32> = (0..taps * mr)
            .map(|i| unsafe { a.as_ptr().add(((i * 5) % (taps * mr)) * kc * 2 + i % 3) })
            .collect();
        let b: Vec<f32> = (0..taps * kc * ldb)
            .map(|i| ((i * 5 % 11) as f32 - 5.0) * 0.5)
            .collect();
        let bias: Vec<f32> = (0..nc).map(|j| j as f32 * 0.1 - 1.0).collect();
        let resv: Vec<f32> = (0..mr * nc).map(|i| (i % 5) as f32 - 2.0).collect();
        let init: Vec<f32> = (0..mr * nc).map(|i| (i % 3) as f32).collect();
        let mut got = init.clone();
        let mut want = init.clone();
        let mk = |c: &mut Vec<f32>| {
            let mut cp = [std::ptr::null_mut(); MAX_MR];
            let mut rp = [std::ptr::null(); MAX_MR];
            for r in 0..mr {
                cp[r] = unsafe { c.as_mut_ptr().add(r * nc) };
                rp[r] = unsafe { resv.as_ptr().add(r * nc) };
            }
            Tile {
                taps,
                kc,
                mr,
                nc,
                nr,
                a: ptrs.as_ptr(),
                b: b.as_ptr(),
                ldb,
                full_b,
                c: cp,
                accumulate,
                last,
                bias: bias.as_ptr(),
                res: rp,
                has_res: res,
                lo: -3.0,
                hi: 40.0,
                slope: 0.3,
                has_slope: true,
                stream: false,
            }
        };
        let tg = mk(&mut got);
        let tw = mk(&mut want);
        unsafe {
            kernel(isa, &tg);
            tile_naive(&tw);
        }
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                (g - w).abs() <= 1e-4 * (1.0 + w.abs()),
                "{isa:?} taps {taps} kc {kc} mr {mr} nc {nc}: [{i}] {g} vs {w}"
            );
        }
    }

    /// The 24-wide kernels run only where 512-bit operations are split in halves
    /// ([`crate::kernels::splits_512`]); here they are tested on any AVX-512 CPU.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_24_wide_kernels_match_the_naive_tile() {
        if !Isa::available().contains(&Isa::Avx512) {
            return;
        }
        // SAFETY: AVX-512 F is available (checked above); `half` takes any tile `run_tile` does.
        unsafe fn half(_: Isa, t: &Tile) {
            avx512::half(t)
        }
        for mr in 1..=12 {
            for nc in [17, 20, 24] {
                for (acc, last, res) in [(false, true, false), (true, true, true), (false, false, false)] {
                    run_case(half, Isa::Avx512, 1 + mr % 3, 37, mr, nc, 32, 35, acc, last, res, true);
                }
            }
        }
    }

    #[test]
    fn avx512_panels_waste_the_fewest_columns() {
        // 64-wide where it pads no more than 32-wide would, 12 × 32 otherwise.
        for (cout, nr) in [
            (6, 16),
            (16, 16),
            (17, 32),
            (32, 32),
            (48, 64),
            (64, 64),
            (80, 32),
            (96, 32),
            (112, 64),
            (144, 32),
            (160, 32),
            (192, 64),
            (320, 64),
        ] {
            assert_eq!(tile_shape(Isa::Avx512, cout).1, nr, "{cout} channels");
        }
    }

    #[test]
    fn every_tile_shape_matches_the_naive_tile() {
        for isa in Isa::available() {
            for (mr_max, nr) in [tile_shape(isa, 16), tile_shape(isa, 32), tile_shape(isa, 64)] {
                for mr in 1..=mr_max {
                    for nc in [1, 3, nr / 2, nr / 2 + 1, nr / 2 + nr / 8, nr * 3 / 4, nr - 1, nr] {
                        for (acc, last, res) in [(false, true, false), (true, true, true), (false, false, false)] {
                            run_case(run_tile, isa, 1 + mr % 3, 37, mr, nc, nr, nc + 3, acc, last, res, false);
                            // Full rows: the columns past `nc` hold nonzero values the
                            // kernel reads but must never store.
                            run_case(run_tile, isa, 1 + mr % 3, 37, mr, nc, nr, nr + 3, acc, last, res, true);
                        }
                    }
                }
            }
        }
    }
}
