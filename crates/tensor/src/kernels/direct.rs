//! Direct convolution for few input channels on AVX-512 (LeNet-5's 1→6 and 6→16 layers, CIFAR's
//! 3→32): pixels × filters flattened into the vector lanes, so that NHWC outputs and output
//! gradients are read and written as they lie, without a transpose.
//!
//! A block of `P` output pixels × `cout` filters is `P·cout = 16·V` contiguous values of an
//! NHWC row: `V` vectors (`P = 16 / gcd(cout, 16)`, `V = cout / gcd(cout, 16)`; 6 filters: 8
//! pixels in 3 vectors). Each input row is expanded once into `E[c][j·cout + f] = x[j − pad,
//! c]` (every pixel repeated `cout` times), so that for tap `(ky, kx, c)` the lane matching
//! output value `(ox, f)` of a block reads `x[ox + kx·d]` at `E[c][(ox + kx·d)·cout + f]`: a
//! plain unaligned load at a fixed offset per tap.
//!
//! - forward: `y_block = bias + Σ_taps E_tap · Wrep_tap` where `Wrep_tap[j] = w[tap, j mod
//!   cout]`, accumulated in registers over several blocks at once;
//! - weight gradient: `lanes[tap] += E_tap · dy_block` for a group of taps held in registers
//!   over the rows of a chunk, then `dW[tap, f] = Σ_{j mod cout = f} lanes[tap][j]`.
//!
//! Geometry as [`crate::ops::conv_direct`]: one group, width stride 1, any height stride,
//! padding and dilation. The naive twins are `ops::conv::conv2d_naive` and
//! `conv2d_backward_naive`; the AVX2 and portable paths stay in `ops::conv_direct`.

use crate::error::{shape_err, Result};
use crate::ops::conv_common::tap;
use crate::ops::conv_gemm::ConvGeometry;

/// Output rows per work item.
const CHUNK_ROWS: usize = 16;

/// The lane layout of a geometry.
#[derive(Clone, Copy)]
struct Layout {
    /// Vectors per block.
    v: usize,
    /// Blocks per output row.
    blocks: usize,
    /// Expanded pixels per input row and channel (`blocks·p + (kw − 1)·dw`).
    wp: usize,
    /// One pixel per block (`cout` a multiple of 16): the input is not expanded but
    /// broadcast from a zero-padded copy of its NHWC row.
    bcast: bool,
}

impl Layout {
    /// Values an expanded row holds per pixel and channel.
    fn repeat(&self, cout: usize) -> usize {
        if self.bcast {
            1
        } else {
            cout
        }
    }

    /// How far a block's input values are from the previous block's.
    fn step(&self, cin: usize) -> usize {
        if self.bcast {
            cin
        } else {
            16 * self.v
        }
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

fn layout(g: &ConvGeometry) -> Layout {
    let d = gcd(g.cout, 16);
    let (p, v) = (16 / d, g.cout / d);
    let blocks = g.ow().div_ceil(p);
    Layout {
        v,
        blocks,
        wp: blocks * p + (g.cols.kernel - 1) * g.cols.dilation,
        bcast: p == 1,
    }
}

/// Whether the convolution runs here: the CPU has AVX-512 F (and the kernels were not asked
/// for a lower instruction set) and [`applies`] holds.
pub fn takes(g: &ConvGeometry) -> bool {
    cfg!(target_arch = "x86_64") && super::isa() == super::Isa::Avx512 && applies(g)
}

/// Whether these kernels can run the geometry (the vector counts they are instantiated for).
pub fn applies(g: &ConvGeometry) -> bool {
    let v = g.cout / gcd(g.cout.max(1), 16);
    g.groups == 1
        && g.cols.stride == 1
        && (1..=7).contains(&g.cin)
        && g.cout > 0
        && (g.cout <= 16 || [32, 48, 64].contains(&g.cout))
        && (v % 2 == 1 && v <= 15 || v == 2 || v == 4)
}

/// The input rows under a chunk of output rows, expanded (see the module header), each made
/// once; a zero row stands for rows in the padding.
struct Expanded {
    /// Global input row (`n·h + iy`) of slot 0.
    first: usize,
    /// Values per expanded row (`cin·wp·cout`).
    len: usize,
    data: Vec<f32>,
    made: Vec<bool>,
    zero: Vec<f32>,
}

impl Expanded {
    fn new() -> Expanded {
        Expanded {
            first: 0,
            len: 0,
            data: Vec::new(),
            made: Vec::new(),
            zero: Vec::new(),
        }
    }

    /// Makes every input row output rows `rows` read; `index` is the geometry's
    /// [`gather_index`].
    fn fill(&mut self, g: &ConvGeometry, l: &Layout, x: &[f32], index: &[i32], rows: std::ops::Range<usize>) {
        let (h, oh, kh) = (g.rows.input, g.oh(), g.rows.kernel);
        let span = |r: usize| {
            let (n, oy) = (r / oh, r % oh);
            let lo = (0..kh).find_map(|ky| tap(oy, ky, &g.rows));
            let hi = (0..kh).rev().find_map(|ky| tap(oy, ky, &g.rows));
            lo.zip(hi).map(|(a, b)| (n * h + a, n * h + b))
        };
        self.len = g.cin * l.wp * l.repeat(g.cout);
        if self.zero.len() < self.len {
            self.zero = vec![0.0; self.len];
        }
        // Dilation makes the last input row of a late output row smaller than that of an
        // earlier one (taps past the image): the extremes over every row.
        let lo = rows.clone().filter_map(span).map(|s| s.0).min();
        let hi = rows.clone().filter_map(span).map(|s| s.1).max();
        let (Some(lo), Some(hi)) = (lo, hi) else {
            self.made.clear();
            return;
        };
        self.first = lo;
        self.made.clear();
        self.made.resize(hi + 1 - lo, false);
        self.data.resize(self.made.len() * self.len, 0.0);
        for r in rows {
            let (n, oy) = (r / oh, r % oh);
            for ky in 0..kh {
                let Some(iy) = tap(oy, ky, &g.rows) else { continue };
                let slot = n * h + iy - self.first;
                if !self.made[slot] {
                    self.made[slot] = true;
                    let dst = &mut self.data[slot * self.len..(slot + 1) * self.len];
                    expand_row(g, l, x, n * h + iy, index, dst);
                }
            }
        }
    }

    /// The expanded input row output row `r` reads through kernel row `ky` (zeros in the
    /// padding).
    fn row(&self, g: &ConvGeometry, r: usize, ky: usize) -> *const f32 {
        let (n, oy) = (r / g.oh(), r % g.oh());
        match tap(oy, ky, &g.rows) {
            Some(iy) => self.data[(n * g.rows.input + iy - self.first) * self.len..].as_ptr(),
            None => self.zero.as_ptr(),
        }
    }
}

/// `dst[c][j·cout + f] = x[row, j − pad_left, c]`, zero outside the image: the image's part
/// gathered 16 values at a time through `index` (`index[i] = (i / cout)·cin`, see
/// [`gather_index`]), the padding zero-filled.
fn expand_row(g: &ConvGeometry, l: &Layout, x: &[f32], row: usize, index: &[i32], dst: &mut [f32]) {
    let (w, cin, cout, pl) = (g.cols.input, g.cin, g.cout, g.cols.pad_before);
    let src = &x[row * w * cin..(row + 1) * w * cin];
    if l.bcast {
        let (before, rest) = dst.split_at_mut((pl * cin).min(dst.len()));
        before.fill(0.0);
        let n = (w * cin).min(rest.len());
        rest[..n].copy_from_slice(&src[..n]);
        rest[n..].fill(0.0);
        return;
    }
    let inside = (w.min(l.wp.saturating_sub(pl))) * cout;
    for (c, plane) in dst.chunks_exact_mut(l.wp * cout).enumerate() {
        let (before, rest) = plane.split_at_mut((pl * cout).min(plane.len()));
        before.fill(0.0);
        let (image, after) = rest.split_at_mut(inside);
        after.fill(0.0);
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX-512 F is present (callers run only when `takes` holds); every index is
        // `(pixel)·cin` for a pixel of the row, plus `c < cin`: inside `src`.
        unsafe {
            avx512::gather_into(src.as_ptr().add(c), &index[..inside], image)
        };
        #[cfg(not(target_arch = "x86_64"))]
        for (i, v) in image.iter_mut().enumerate() {
            *v = src[(i / cout) * cin + c];
        }
    }
}

/// `index[i] = (i / cout)·cin` for the values of one image row's expansion.
fn gather_index(g: &ConvGeometry) -> Vec<i32> {
    (0..g.cols.input * g.cout)
        .map(|i| ((i / g.cout) * g.cin) as i32)
        .collect()
}

/// Per-tap pointers into the replicated weights, shared by the workers (read only).
struct SyncTaps<'a>(&'a [(usize, usize, *const f32)]);
// SAFETY: the pointers are only read, into a vector that outlives the parallel loop.
unsafe impl Sync for SyncTaps<'_> {}
unsafe impl Send for SyncTaps<'_> {}

impl<'a> SyncTaps<'a> {
    /// The taps (a method, so that closures capture the wrapper, not its field).
    fn get(&self) -> &'a [(usize, usize, *const f32)] {
        self.0
    }
}

/// Offset of tap `(kx, c)` inside an expanded row.
fn tap_offset(g: &ConvGeometry, l: &Layout, kx: usize, c: usize) -> usize {
    if l.bcast {
        kx * g.cols.dilation * g.cin + c
    } else {
        (c * l.wp + kx * g.cols.dilation) * g.cout
    }
}

/// Lane masks of a block's `V` vectors when only `valid` of its values lie in the row.
fn masks<const V: usize>(valid: usize) -> [u16; V] {
    let mut m = [0u16; V];
    for (v, mv) in m.iter_mut().enumerate() {
        *mv = super::lanes16(valid.saturating_sub(16 * v));
    }
    m
}

/// Refuses a call these kernels cannot run, and operands of the wrong sizes (the kernels read
/// through raw pointers).
/// `k` is the kernel's length (`None`: no kernel operand).
fn check(g: &ConvGeometry, x: &[f32], k: Option<usize>, y_or_gy: &[f32]) -> Result<()> {
    let fail = |what: String| shape_err("conv2d (direct)", what);
    if !takes(g) {
        return fail(format!(
            "{} → {} channels, width stride {}: not a geometry of the AVX-512 direct kernels on this CPU",
            g.cin, g.cout, g.cols.stride
        ));
    }
    let (nx, nk, ny) = (
        g.n * g.rows.input * g.cols.input * g.cin,
        g.k_g() * g.cout,
        g.n * g.oh() * g.ow() * g.cout,
    );
    let nk_got = k.unwrap_or(nk);
    if x.len() != nx || nk_got != nk || y_or_gy.len() != ny {
        return fail(format!(
            "input, kernel and output hold {}, {nk_got}, {} values; the geometry needs {nx}, {nk}, {ny}",
            x.len(),
            y_or_gy.len()
        ));
    }
    Ok(())
}

/// `y = conv(x, k) + bias` into `y` (`n·oh·ow·cout`, NHWC), where [`takes`] holds.
pub fn forward(x: &[f32], k: &[f32], bias: Option<&[f32]>, g: &ConvGeometry, y: &mut [f32]) -> Result<()> {
    check(g, x, Some(k.len()), y)?;
    if bias.is_some_and(|b| b.len() != g.cout) {
        return shape_err("conv2d (direct)", format!("bias must hold {} values", g.cout));
    }
    let l = layout(g);
    let (ow, cout, cin, kw) = (g.ow(), g.cout, g.cin, g.cols.kernel);
    let lanes = 16 * l.v;
    // Replicated weights `[tap][16·V]` and bias.
    let taps = g.rows.kernel * kw * cin;
    let wrep: Vec<f32> = (0..taps * lanes)
        .map(|i| k[(i / lanes) * cout + (i % lanes) % cout])
        .collect();
    let brep: Vec<f32> = (0..lanes).map(|j| bias.map_or(0.0, |b| b[j % cout])).collect();
    let row_len = ow * cout;
    if y.is_empty() || row_len == 0 {
        return Ok(());
    }
    // Each tap's kernel row, offset inside an expanded row and replicated weights.
    let tap_at: Vec<(usize, usize, *const f32)> = (0..taps)
        .map(|t| {
            (
                t / (kw * cin),
                tap_offset(g, &l, (t / cin) % kw, t % cin),
                wrep[t * lanes..].as_ptr(),
            )
        })
        .collect();
    let tap_at = SyncTaps(&tap_at);
    let index = gather_index(g);
    // Each worker keeps its expanded rows and tap list from one call to the next.
    thread_local! {
        static SCRATCH: std::cell::RefCell<(Expanded, Vec<(*const f32, *const f32)>)> =
            std::cell::RefCell::new((Expanded::new(), Vec::new()));
    }
    super::team::for_each_chunk(y, CHUNK_ROWS * row_len, 1, |ci, out| {
        SCRATCH.with_borrow_mut(|(ex, list)| {
            let tap_at = tap_at.get();
            let r0 = ci * CHUNK_ROWS;
            let rows = r0..r0 + out.len() / row_len;
            ex.fill(g, &l, x, &index, rows.clone());
            for (r, orow) in rows.zip(out.chunks_exact_mut(row_len)) {
                list.clear();
                let oy = r % g.oh();
                for ky in 0..g.rows.kernel {
                    if tap(oy, ky, &g.rows).is_none() {
                        continue;
                    }
                    let base = ex.row(g, r, ky);
                    let per_row = kw * cin;
                    // SAFETY: the offsets lie inside the expanded row.
                    list.extend(
                        tap_at[ky * per_row..(ky + 1) * per_row]
                            .iter()
                            .map(|&(_, off, w)| (unsafe { base.add(off) }, w)),
                    );
                }
                // SAFETY: the CPU has AVX-512 F (the caller checked); every pointer in
                // `list` has `blocks·16·V` readable values past it (the expanded row's
                // padding) and the weights `16·V`; `orow` holds `ow·cout` values.
                #[cfg(target_arch = "x86_64")]
                unsafe {
                    avx512::fwd_row(l.v, l.bcast, l.step(cin), list, brep.as_ptr(), orow, l.blocks)
                };
            }
        })
    });
    Ok(())
}

/// `dW = Σ col(x)ᵀ · dy` in the kernel's layout `(kh, kw, cin, cout)`, where [`takes`] holds.
pub fn weight_grad(x: &[f32], gy: &[f32], g: &ConvGeometry) -> Result<Vec<f32>> {
    check(g, x, None, gy)?;
    let l = layout(g);
    let (ow, cout, cin, kw) = (g.ow(), g.cout, g.cin, g.cols.kernel);
    let lanes = 16 * l.v;
    let taps = g.rows.kernel * kw * cin;
    let rows = g.n * g.oh();
    let chunks = rows.div_ceil(CHUNK_ROWS);
    let group = taps_per_group(l.v);
    let kh = g.rows.kernel;
    // Each tap's kernel row and offset inside an expanded row.
    let tap_at: Vec<(usize, usize)> = (0..taps)
        .map(|t| (t / (kw * cin), tap_offset(g, &l, (t / cin) % kw, t % cin)))
        .collect();
    let index = gather_index(g);
    let sums = crate::determinism::fold_ordered(
        chunks,
        1,
        || (vec![0.0f32; taps * lanes], Expanded::new()),
        |(mut acc, mut ex), ci| {
            let rows = ci * CHUNK_ROWS..((ci + 1) * CHUNK_ROWS).min(rows);
            ex.fill(g, &l, x, &index, rows.clone());
            let dys: Vec<*const f32> = rows.clone().map(|r| gy[r * ow * cout..].as_ptr()).collect();
            let bases: Vec<*const f32> = rows
                .clone()
                .flat_map(|r| (0..kh).map(move |ky| (r, ky)))
                .map(|(r, ky)| ex.row(g, r, ky))
                .collect();
            let mut xs = Vec::with_capacity(rows.len() * group);
            for t0 in (0..taps).step_by(group) {
                xs.clear();
                for rb in bases.chunks_exact(kh) {
                    for t in t0..t0 + group {
                        // Taps past the last point at zeros; their sums are dropped.
                        xs.push(match tap_at.get(t) {
                            // SAFETY: the offset lies inside the expanded row (or the zero row
                            // of the same length).
                            Some(&(ky, off)) => unsafe { rb[ky].add(off) },
                            None => ex.zero.as_ptr(),
                        });
                    }
                }
                let out = &mut acc[t0 * lanes..(t0 + group).min(taps) * lanes];
                // SAFETY: AVX-512 F is present (the caller checked); each `xs` pointer has
                // `blocks·16·V` readable values, each dy row `ow·cout` (the last block is
                // masked), `out` holds `16·V` sums per real tap of the group.
                #[cfg(target_arch = "x86_64")]
                unsafe {
                    avx512::dw_rows(l.v, l.bcast, l.step(cin), &xs, &dys, out, ow * cout, l.blocks)
                };
            }
            (acc, ex)
        },
        |(mut a, ex), (b, _)| {
            a.iter_mut().zip(&b).for_each(|(p, q)| *p += q);
            (a, ex)
        },
    )
    .0;
    let mut dw = vec![0.0f32; taps * cout];
    for (t, lane) in sums.chunks_exact(lanes).enumerate() {
        for (j, &s) in lane.iter().enumerate() {
            dw[t * cout + j % cout] += s;
        }
    }
    Ok(dw)
}

/// Taps whose sums a weight-gradient pass holds in registers for `v` vectors per block
/// (accumulators plus the block's `v` dy vectors within the 32 zmm registers).
fn taps_per_group(v: usize) -> usize {
    match v {
        1..=3 => 8,
        4 => 6,
        5 => 4,
        7 => 3,
        9 => 2,
        _ => 1,
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{masks, taps_per_group};
    use std::arch::x86_64::*;

    /// `dst[i] = src[index[i]]`, 16 lanes per gather (the last masked).
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn gather_into(src: *const f32, index: &[i32], dst: &mut [f32]) {
        let n = dst.len().min(index.len());
        let mut i = 0;
        while i < n {
            let m = masks::<1>(n - i)[0];
            let idx = _mm512_maskz_loadu_epi32(m, index.as_ptr().add(i));
            let v = _mm512_mask_i32gather_ps::<4>(_mm512_setzero_ps(), m, idx, src);
            _mm512_mask_storeu_ps(dst.as_mut_ptr().add(i), m, v);
            i += 16;
        }
    }

    macro_rules! by_v {
        ($v:expr, $f:ident, $($args:tt)*) => {
            match $v {
                1 => $f::<1>($($args)*),
                2 => $f::<2>($($args)*),
                3 => $f::<3>($($args)*),
                4 => $f::<4>($($args)*),
                5 => $f::<5>($($args)*),
                7 => $f::<7>($($args)*),
                9 => $f::<9>($($args)*),
                11 => $f::<11>($($args)*),
                13 => $f::<13>($($args)*),
                15 => $f::<15>($($args)*),
                _ => unreachable!("`applies` admits these vector counts only"),
            }
        };
    }

    /// One output row: `blocks` blocks of `16·V` values from the taps `(x, wrep)`.
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn fwd_row(
        v: usize,
        bcast: bool,
        step: usize,
        taps: &[(*const f32, *const f32)],
        bias: *const f32,
        y: &mut [f32],
        blocks: usize,
    ) {
        by_v!(v, fwd_row_v, bcast, step, taps, bias, y, blocks)
    }

    /// Blocks computed together so that enough independent sums are in flight.
    const fn blocks_together(v: usize) -> usize {
        if v >= 6 {
            1
        } else {
            12 / v
        }
    }

    unsafe fn fwd_row_v<const V: usize>(
        bcast: bool,
        step: usize,
        taps: &[(*const f32, *const f32)],
        bias: *const f32,
        y: &mut [f32],
        blocks: usize,
    ) {
        macro_rules! run {
            ($b:literal, $b0:expr) => {
                if bcast {
                    fwd_blocks::<V, $b, true>(step, taps, bias, y, $b0)
                } else {
                    fwd_blocks::<V, $b, false>(step, taps, bias, y, $b0)
                }
            };
        }
        // The widest step that fits what is left, so that a short row is not left to one
        // dependent chain per vector.
        let together = blocks_together(V);
        let mut b0 = 0;
        while b0 < blocks {
            let step = [12, 6, 4, 3, 2, 1]
                .into_iter()
                .find(|&s| s <= together && b0 + s <= blocks)
                .unwrap_or(1);
            match step {
                12 => run!(12, b0),
                6 => run!(6, b0),
                4 => run!(4, b0),
                3 => run!(3, b0),
                2 => run!(2, b0),
                _ => run!(1, b0),
            }
            b0 += step;
        }
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn fwd_blocks<const V: usize, const B: usize, const BC: bool>(
        step: usize,
        taps: &[(*const f32, *const f32)],
        bias: *const f32,
        y: &mut [f32],
        b0: usize,
    ) {
        let mut acc = [[_mm512_setzero_ps(); V]; B];
        for a in acc.iter_mut() {
            for (v, av) in a.iter_mut().enumerate() {
                *av = _mm512_loadu_ps(bias.add(16 * v));
            }
        }
        for &(xp, wp) in taps {
            let mut w = [_mm512_setzero_ps(); V];
            for (v, wv) in w.iter_mut().enumerate() {
                *wv = _mm512_loadu_ps(wp.add(16 * v));
            }
            for (b, a) in acc.iter_mut().enumerate() {
                let xb = xp.add((b0 + b) * step);
                if BC {
                    let xv = _mm512_set1_ps(*xb);
                    for v in 0..V {
                        a[v] = _mm512_fmadd_ps(xv, w[v], a[v]);
                    }
                } else {
                    for v in 0..V {
                        a[v] = _mm512_fmadd_ps(_mm512_loadu_ps(xb.add(16 * v)), w[v], a[v]);
                    }
                }
            }
        }
        for (b, a) in acc.iter().enumerate() {
            let at = (b0 + b) * 16 * V;
            let m = masks::<V>(y.len().saturating_sub(at));
            for v in 0..V {
                if m[v] != 0 {
                    _mm512_mask_storeu_ps(y.as_mut_ptr().add(at + 16 * v), m[v], a[v]);
                }
            }
        }
    }

    /// Adds `Σ_rows Σ_blocks E_tap · dy` of a group of taps to `out` (`16·V` per tap).
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn dw_rows(
        v: usize,
        bcast: bool,
        step: usize,
        xs: &[*const f32],
        dys: &[*const f32],
        out: &mut [f32],
        row_len: usize,
        blocks: usize,
    ) {
        by_v!(v, dw_rows_v, bcast, step, xs, dys, out, row_len, blocks)
    }

    unsafe fn dw_rows_v<const V: usize>(
        bcast: bool,
        step: usize,
        xs: &[*const f32],
        dys: &[*const f32],
        out: &mut [f32],
        row_len: usize,
        blocks: usize,
    ) {
        macro_rules! run {
            ($t:literal) => {
                if bcast {
                    dw_group::<V, $t, true>(step, xs, dys, out, row_len, blocks)
                } else {
                    dw_group::<V, $t, false>(step, xs, dys, out, row_len, blocks)
                }
            };
        }
        match taps_per_group(V) {
            8 => run!(8),
            6 => run!(6),
            4 => run!(4),
            3 => run!(3),
            2 => run!(2),
            _ => run!(1),
        }
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn dw_group<const V: usize, const T: usize, const BC: bool>(
        step: usize,
        xs: &[*const f32],
        dys: &[*const f32],
        out: &mut [f32],
        row_len: usize,
        blocks: usize,
    ) {
        let mut acc = [[_mm512_setzero_ps(); V]; T];
        let full = (row_len / (16 * V)).min(blocks);
        let tail = masks::<V>(row_len - full * 16 * V);
        for (rx, &dy) in xs.chunks_exact(T).zip(dys) {
            for b in 0..blocks {
                let o = b * 16 * V;
                let mut d = [_mm512_setzero_ps(); V];
                for (v, dv) in d.iter_mut().enumerate() {
                    *dv = if b < full {
                        _mm512_loadu_ps(dy.add(o + 16 * v))
                    } else {
                        _mm512_maskz_loadu_ps(tail[v], dy.add(o + 16 * v))
                    };
                }
                for (t, a) in acc.iter_mut().enumerate() {
                    if BC {
                        let xv = _mm512_set1_ps(*rx[t].add(b * step));
                        for v in 0..V {
                            a[v] = _mm512_fmadd_ps(xv, d[v], a[v]);
                        }
                    } else {
                        let xb = rx[t].add(o);
                        for v in 0..V {
                            a[v] = _mm512_fmadd_ps(_mm512_loadu_ps(xb.add(16 * v)), d[v], a[v]);
                        }
                    }
                }
            }
        }
        for (t, a) in acc.iter().enumerate() {
            if (t + 1) * 16 * V > out.len() {
                break;
            }
            for v in 0..V {
                let p = out.as_mut_ptr().add((t * V + v) * 16);
                _mm512_storeu_ps(p, _mm512_add_ps(_mm512_loadu_ps(p), a[v]));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::conv::{conv2d_backward_naive, conv2d_geometry, conv2d_naive, Conv2dParams};
    use crate::ops::test_util::{assert_tensors_close as close, random as rand_tensor, random_padding};
    use crate::rng::Rng;
    use crate::shape::Padding;
    use crate::tensor::Tensor;

    /// Filter counts of every vector count the kernels are built for (1 to 16 filters, 32, 64).
    const FILTERS: [usize; 18] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 32, 64];

    #[test]
    fn direct_matches_naive_on_random_cases() {
        if !cfg!(target_arch = "x86_64") || super::super::isa() != super::super::Isa::Avx512 {
            eprintln!("no AVX-512 on this CPU: the direct AVX-512 kernels are not run");
            return;
        }
        let mut rng = Rng::new(2024);
        for case in 0..150 {
            let cin = 1 + rng.below(7);
            let cout = FILTERS[case % FILTERS.len()];
            let (kh, kw) = (1 + rng.below(5), 1 + rng.below(5));
            let p = Conv2dParams {
                strides: (1 + rng.below(3), 1),
                padding: (random_padding(&mut rng, 3), random_padding(&mut rng, 3)),
                dilation: (1 + rng.below(2), 1 + rng.below(2)),
                groups: 1,
            };
            let n = 1 + rng.below(3);
            let h = (kh - 1) * p.dilation.0 + 1 + rng.below(6);
            let w = (kw - 1) * p.dilation.1 + 1 + rng.below(20);
            let (xs, ws) = (vec![n, h, w, cin], vec![kh, kw, cin, cout]);
            let g = conv2d_geometry("t", &xs, &ws, &p).unwrap();
            assert!(takes(&g), "case {case}: {xs:?} {ws:?}");
            let (x, wt, b) = (
                rand_tensor(&mut rng, &xs),
                rand_tensor(&mut rng, &ws),
                rand_tensor(&mut rng, &[cout]),
            );
            let what = format!("case {case}: x {xs:?} w {ws:?} {p:?}");
            let want = conv2d_naive(&x, &wt, Some(&b), &p).unwrap();
            let mut y = vec![f32::NAN; want.data().len()];
            forward(x.data(), wt.data(), Some(b.data()), &g, &mut y).unwrap();
            close(&Tensor::new(want.shape(), y).unwrap(), &want, &what);
            let gy = rand_tensor(&mut rng, want.shape());
            let (_, rw, _) = conv2d_backward_naive(&x, &wt, &gy, &p).unwrap();
            let dw = weight_grad(x.data(), gy.data(), &g).unwrap();
            close(&Tensor::new(&ws, dw).unwrap(), &rw, &format!("dw {what}"));
        }
    }

    #[test]
    fn wrong_operands_are_refused_not_read() {
        let p = Conv2dParams::new((1, 1), Padding::Same);
        let g = conv2d_geometry("t", &[1, 8, 8, 1], &[3, 3, 1, 6], &p).unwrap();
        let (x, k) = (vec![1.0; 64], vec![1.0; 54]);
        let mut short = vec![0.0; 10];
        if takes(&g) {
            let e = forward(&x, &k, None, &g, &mut short).unwrap_err().to_string();
            assert!(e.contains("the geometry needs 64, 54, 384"), "{e}");
            assert!(weight_grad(&x[..10], &vec![0.0; 384], &g).is_err());
            assert!(forward(&x, &k, Some(&[1.0; 5]), &g, &mut vec![0.0; 384]).is_err());
        } else {
            assert!(forward(&x, &k, None, &g, &mut vec![0.0; 384]).is_err());
        }
        // A width stride is not a direct geometry anywhere.
        let g = conv2d_geometry(
            "t",
            &[1, 8, 8, 1],
            &[3, 3, 1, 6],
            &Conv2dParams::new((1, 2), Padding::Same),
        )
        .unwrap();
        let e = forward(&x, &k, None, &g, &mut vec![0.0; 192]).unwrap_err().to_string();
        assert!(e.contains("width stride 2"), "{e}");
    }

    #[test]
    fn lenet_and_cifar_first_layers_are_taken_and_others_are_not() {
        let g = |x: &[usize], w: &[usize], p: Conv2dParams| conv2d_geometry("t", x, w, &p).unwrap();
        let same = Conv2dParams::new((1, 1), Padding::Same);
        assert!(applies(&g(&[128, 28, 28, 1], &[5, 5, 1, 6], same)));
        assert!(applies(&g(&[128, 14, 14, 6], &[5, 5, 6, 16], Conv2dParams::default())));
        assert!(applies(&g(&[32, 32, 32, 3], &[3, 3, 3, 32], same)));
        // Width strides, groups, many channels and filter counts without a kernel stay elsewhere.
        assert!(!applies(&g(
            &[1, 28, 28, 1],
            &[3, 3, 1, 4],
            Conv2dParams::new((1, 2), Padding::Same)
        )));
        assert!(!applies(&g(&[1, 28, 28, 2], &[3, 3, 1, 4], same.with_groups(2))));
        assert!(!applies(&g(&[1, 8, 8, 16], &[3, 3, 16, 16], same)));
        assert!(!applies(&g(&[1, 8, 8, 3], &[3, 3, 3, 80], same)));
    }
}
