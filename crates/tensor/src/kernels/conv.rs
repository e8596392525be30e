//! Convolution as an implicit GEMM: NHWC input `[n, h, w, cin]`, kernel `(kh, kw, cin/groups,
//! cout)`, output `[n, oh, ow, cout]` written at any pixel stride (so a branch can write its
//! slice of a concatenation in place), with a fused epilogue (bias, residual, activation).
//!
//! The GEMM is `M = n·oh·ow` output pixels × `N = cout/groups` channels × depth
//! `K = kh·kw·cin/groups` (kernel taps, then channels: the Keras kernel is already this
//! `K × N` matrix). No im2col buffer exists and nothing of the input is copied: for a block of
//! output rows and one depth block (whole taps, ≤ [`KC`] channels) a worker fills a table of
//! pointers — for each row and tap, the input pixel it reads (a zero row where the tap falls
//! in the padding; strides, dilation and TensorFlow's uneven `same` split are just indices) —
//! and the microkernels sum over the taps through those pointers, for every weight panel. The weights are
//! prepacked once ([`PackedWeights`]) into `[group][panel][K][NR]` panels, zero-padded to whole
//! vectors, or used in place ([`Weights::Raw`], for `Dense` kernels too large to copy).
//!
//! Work is split over blocks of output rows × panels, so one image (batch 1) uses every core.
//! Every output value is summed by one worker in one fixed order: results do not depend on the
//! thread count. [`conv2d_reference`] is the naive loop the driver is tested against.

use super::gemm::{run_tile, tile_shape, Tile, MAX_MR};
use super::{AlignedVec, Epilogue, Isa};
use crate::error::{shape_err, Result};
use crate::ops::conv_gemm::ConvGeometry;
use std::cell::RefCell;

/// Most channels one tap of a depth block reads (and the length of the zero row padded taps
/// read).
pub const KC: usize = 512;

/// Bytes of one group's weights above which a convolution runs panel by panel (see
/// [`conv2d`]): about half of a core's L2.
const WEIGHTS_IN_L2: usize = 1 << 20;

/// Channels per depth block for weights read in place (a Dense kernel, rows `cout` apart):
/// one panel's block (`kc × nr` floats, 32 KiB) stays in L1 while every tile of the row
/// block streams over it.
fn kc_for(nr: usize) -> usize {
    (8192 / nr.max(1)).clamp(64, KC)
}

/// Channels per tap and depth per block for prepacked panels. Taps of up to [`SUM_CHUNK`]
/// channels are grouped up to half of L2 (4096 rows of 64 columns): one tile sums all of
/// them in registers, reading its panel from L2, and stores once with its epilogue (L1-sized
/// 128-row blocks had made each tile store and reload its outputs 5 times for a 3×3 over 64
/// channels, 140 GFLOP/s on one core where the whole depth runs at 175). Deeper taps are
/// summed in chunks of [`SUM_CHUNK`] channels, each from zero and added to the outputs in
/// turn (blocked summation).
fn packed_depth(nr: usize) -> (usize, usize) {
    (SUM_CHUNK, WEIGHTS_IN_L2 / 4 / nr.max(1))
}

/// Most channels of a tap one sum runs over before it is added to the tile's outputs. One
/// running sum over a whole deep tap (1088 or 2080 channels) moved InceptionResNetV2's logits
/// 1.8e-4 from Keras's float64 run; in 128-channel chunks they stay within 4.4e-5 (192: 6.8e-5,
/// 256: over 1e-4).
const SUM_CHUNK: usize = 128;

/// A weight matrix `K × cout` in the layout the microkernels read.
#[derive(Debug, Clone)]
pub struct PackedWeights {
    isa: Isa,
    nr: usize,
    depth: usize,
    cout_g: usize,
    groups: usize,
    panels: usize,
    data: AlignedVec,
}

impl PackedWeights {
    /// Packs a Keras kernel `(kh, kw, cin/groups, cout)` flattened to `depth × cout`
    /// (`depth = kh·kw·cin/groups`) for `isa`; column `co` of group `g` is filter
    /// `g·cout/groups + co`.
    #[allow(clippy::manual_is_multiple_of)] // `is_multiple_of` is newer than the MSRV
    pub fn pack(isa: Isa, kernel: &[f32], depth: usize, cout: usize, groups: usize) -> Result<PackedWeights> {
        if groups == 0 || cout % groups != 0 || kernel.len() != depth * cout {
            return shape_err(
                "pack_weights",
                format!(
                    "kernel of {} values is not depth {depth} × cout {cout} in {groups} group(s)",
                    kernel.len()
                ),
            );
        }
        let cout_g = cout / groups;
        let mut packed = PackedWeights::zeroed(isa, depth, cout_g, groups);
        let (nr, panels) = (packed.nr, packed.panels);
        let data = packed.data.as_mut_slice();
        for g in 0..groups {
            for p in 0..panels {
                let base = (g * panels + p) * depth * nr;
                let c0 = g * cout_g + p * nr;
                let nc = nr.min(cout_g - p * nr);
                for k in 0..depth {
                    data[base + k * nr..base + k * nr + nc].copy_from_slice(&kernel[k * cout + c0..k * cout + c0 + nc]);
                }
            }
        }
        Ok(packed)
    }

    /// Zero panels for `groups` groups of `cout_g` columns over `depth` rows, in `isa`'s panel
    /// width (the columns past `cout_g` in a group's last panel stay zero).
    pub(super) fn zeroed(isa: Isa, depth: usize, cout_g: usize, groups: usize) -> PackedWeights {
        let nr = tile_shape(isa, cout_g).1;
        let panels = cout_g.div_ceil(nr);
        PackedWeights {
            isa,
            nr,
            depth,
            cout_g,
            groups,
            panels,
            data: AlignedVec::zeros(groups * panels * depth * nr),
        }
    }

    /// Packs the transpose of a row-major `cout × depth` matrix (a dense layer's kernel read
    /// as `(out = in) × (depth = units)`, for its input gradient `dy · Wᵀ`): the panels
    /// [`PackedWeights::pack`] makes of the transposed copy, without making the copy; one
    /// group. Panels are packed in parallel.
    pub fn pack_transposed(isa: Isa, rows: &[f32], cout: usize, depth: usize) -> Result<PackedWeights> {
        if rows.len() != cout * depth {
            return shape_err(
                "pack_weights",
                format!("matrix of {} values is not cout {cout} × depth {depth}", rows.len()),
            );
        }
        let mut packed = PackedWeights::zeroed(isa, depth, cout, 1);
        let nr = packed.nr;
        if depth > 0 {
            use rayon::prelude::*;
            packed
                .data
                .as_mut_slice()
                .par_chunks_mut(depth * nr)
                .enumerate()
                .for_each(|(p, panel)| {
                    for j in 0..nr.min(cout - p * nr) {
                        let row = &rows[(p * nr + j) * depth..][..depth];
                        for (k, &v) in row.iter().enumerate() {
                            panel[k * nr + j] = v;
                        }
                    }
                });
        }
        Ok(packed)
    }

    /// The instruction set it was packed for.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.data.len() * 4
    }

    /// The packed values, `[group][panel][depth][nr]`, starting on a 64-byte boundary.
    pub fn data(&self) -> &[f32] {
        self.data.as_slice()
    }

    /// The values, writable, and the panel width (for packers of their own).
    pub(super) fn data_mut(&mut self) -> (&mut [f32], usize) {
        (self.data.as_mut_slice(), self.nr)
    }
}

/// The weights of one convolution or dense product.
#[derive(Debug, Clone, Copy)]
pub enum Weights<'a> {
    /// Prepacked panels.
    Packed(&'a PackedWeights),
    /// The kernel as stored (`depth × cout`, row-major), read in place.
    Raw(&'a [f32]),
    /// A 3×3 kernel transformed for Winograd's F(4×4, 3×3) ([`super::winograd`]).
    Winograd(&'a super::winograd::WinogradWeights),
}

/// One convolution's operands. `y` starts at the output's first channel; pixel `m` of the
/// output is `y[m·y_stride ..][..cout]`. `residual`, when given, is added before the
/// activation, read the same way at its own stride.
pub struct ConvArgs<'a> {
    /// The geometry (from [`crate::ops::conv::conv2d_geometry`]).
    pub geometry: &'a ConvGeometry,
    /// NHWC input, contiguous.
    pub x: &'a [f32],
    /// The weights.
    pub weights: Weights<'a>,
    /// Bias and activation.
    pub epilogue: Epilogue<'a>,
    /// Residual and its pixel stride.
    pub residual: Option<(&'a [f32], usize)>,
    /// Output.
    pub y: &'a mut [f32],
    /// Output pixel stride (≥ cout).
    pub y_stride: usize,
    /// A per-channel map of the input as it is read (1×1 stride-1 convolutions only).
    pub prologue: Option<Prologue<'a>>,
}

/// `x ← clamp(x·scale[c] + shift[c])` on a pointwise convolution's input, as each block of
/// rows is read (a BatchNormalization + ReLU before the convolution: DenseNet's layers), so the
/// normalized input is never written whole and read back. `x_stride` is the input's pixel
/// stride (≥ cin: the leading channels of a wider concatenation).
#[derive(Clone, Copy)]
pub struct Prologue<'a> {
    /// One factor per input channel.
    pub scale: &'a [f32],
    /// One offset per input channel.
    pub shift: &'a [f32],
    /// The clamp after (`post` must be `None`).
    pub act: super::act::ActSpec,
    /// Input pixel stride.
    pub x_stride: usize,
}

#[derive(Clone, Copy)]
struct SyncPtr<T>(T);
unsafe impl<T> Sync for SyncPtr<T> {}
unsafe impl<T> Send for SyncPtr<T> {}

/// Per worker: the row-pointer tables of a block, the
/// kernel-row windows that reach into the column padding ([`row_taps`]) and the taps'
/// offsets.
#[derive(Default)]
struct Scratch {
    ptrs: Vec<*const f32>,
    edges: Vec<f32>,
    taps: Vec<TapAt>,
    pre: Vec<f32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

/// Where B rows of (group, panel) start and how far apart they are.
#[derive(Clone, Copy)]
struct BLayout {
    base: SyncPtr<*const f32>,
    ldb: usize,
    group_stride: usize,
    panel_stride: usize,
    /// Every panel row holds `nr` values (prepacked, zero-padded): read as whole vectors.
    padded: bool,
}

/// Runs a convolution (or, with a 1×1 geometry over `[rows, 1, 1, k]`, a dense product).
pub fn conv2d(isa: Isa, args: ConvArgs) -> Result<()> {
    let g = args.geometry;
    let (kh, kw) = (g.rows.kernel, g.cols.kernel);
    let cin_g = g.cin_g();
    let cout_g = g.cout_g();
    let depth = kh * kw * cin_g;
    let m = g.n * g.oh() * g.ow();
    check(&args, m, depth)?;
    if m == 0 || g.cout == 0 {
        return Ok(());
    }
    if let Weights::Winograd(w) = args.weights {
        return super::winograd::conv2d(isa, args, w);
    }
    // A few rows against weights read in place: streamed in their stored order.
    if let (Weights::Raw(k), None) = (args.weights, &args.prologue) {
        if super::stream::takes(&args) {
            return super::stream::dense(args, k);
        }
    }
    let (mr_max, nr) = tile_shape(isa, cout_g);
    let b = match args.weights {
        Weights::Packed(p) => {
            if p.isa != isa || p.depth != depth || p.cout_g != cout_g || p.groups != g.groups {
                return shape_err(
                    "conv2d",
                    format!(
                        "packed weights (depth {}, {} × {} columns, {:?}) do not fit depth {depth}, {} × {cout_g}, {isa:?}",
                        p.depth, p.groups, p.cout_g, p.isa, g.groups
                    ),
                );
            }
            BLayout {
                base: SyncPtr(p.data.as_slice().as_ptr()),
                ldb: nr,
                group_stride: p.panels * depth * nr,
                panel_stride: depth * nr,
                padded: true,
            }
        }
        Weights::Raw(k) => BLayout {
            base: SyncPtr(k.as_ptr()),
            ldb: g.cout,
            group_stride: cout_g,
            panel_stride: nr,
            padded: false,
        },
        Weights::Winograd(_) => return shape_err("conv2d", "Winograd weights reach the implicit GEMM"),
    };
    let panels = cout_g.div_ceil(nr);
    let threads = super::threads();
    let work = m as f64 * g.cout as f64 * depth as f64;
    let want_tasks = if work < 1e6 { 1 } else { threads * 4 };
    let beyond_l2 = depth * cout_g * 4 > WEIGHTS_IN_L2;
    // Few rows (batch 1's 7×7 layers, whose weights come from L3 on every call), so that a
    // worker reads about its share of the weights, not every panel (two row blocks dealt out
    // one task at a time had both workers read each):
    // - against many panels: one row block, each worker one run of panels, the next panel's
    //   weights fetched while this one's tiles run ([`block`]);
    // - over a few panels (960 → 160 in five 32-wide panels, DenseNet121's → 128 in two): a
    //   row block a worker, the tasks ordered panel by panel, each worker one contiguous run
    //   of them. Weights beyond L2 keep the general order (960 → 320 ran no faster so).
    let few = want_tasks > 1 && g.groups == 1 && m <= FEW_ROWS && b.padded;
    let few_rows = few && panels >= threads * 4;
    let chunked = few && !few_rows && threads > 1 && panels > 1 && !beyond_l2;
    let (mb, panel_chunk, weights_major, tasks) = if few_rows {
        let chunk = panels.div_ceil(threads);
        (m, chunk, false, panels.div_ceil(chunk))
    } else if chunked {
        let mb = m.div_ceil(threads);
        (mb, 1, true, m.div_ceil(mb) * panels)
    } else {
        let w = Work {
            m,
            mr_max,
            panels,
            nr,
            depth,
            groups: g.groups,
        };
        general_split(w, g.cout, beyond_l2, threads, want_tasks)
    };
    let row_blocks = m.div_ceil(mb);
    let y = SyncPtr(args.y.as_mut_ptr());
    let res = args.residual.map(|(r, s)| (SyncPtr(r.as_ptr()), s));
    let epi = args.epilogue;
    let x = args.x;
    let y_stride = args.y_stride;
    let prologue = args.prologue;
    let stream = isa == Isa::Avx512 && m * g.cout * 4 >= STREAM_MIN_BYTES;
    let run = |task: usize| {
        let pc = panels.div_ceil(panel_chunk);
        let (rb, rest) = if weights_major {
            (task % row_blocks, task / row_blocks)
        } else {
            (task / (g.groups * pc), task % (g.groups * pc))
        };
        let (grp, pchunk) = (rest / pc, rest % pc);
        let rows = rb * mb..((rb + 1) * mb).min(m);
        let prange = pchunk * panel_chunk..((pchunk + 1) * panel_chunk).min(panels);
        SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            let Scratch { ptrs, edges, taps, pre } = &mut *s;
            // SAFETY: `check` proved every row, column and depth index below in bounds; tasks
            // write disjoint (row, column) ranges of `y`.
            unsafe {
                block(
                    isa,
                    g,
                    x,
                    &b,
                    &epi,
                    res,
                    y,
                    y_stride,
                    rows,
                    grp,
                    prange,
                    ptrs,
                    edges,
                    taps,
                    mr_max,
                    nr,
                    prologue.as_ref().map(|p| (p, &mut *pre)),
                    stream,
                    few_rows,
                );
                if stream {
                    super::gemm::fence();
                }
            };
        });
    };
    if tasks == 1 {
        run(0);
    } else if chunked {
        // One run of consecutive tasks a team task (whichever worker takes it).
        let per = tasks.div_ceil(threads);
        super::team::for_each(tasks.div_ceil(per), 1, |w| {
            (w * per..((w + 1) * per).min(tasks)).for_each(&run)
        });
    } else {
        super::team::for_each(tasks, 1, run);
    }
    Ok(())
}

/// What the splits of a convolution's work depend on: `m` output rows in tiles of up to
/// `mr_max`, `groups` groups of `panels` panels of `nr` columns, over `depth` rows of weights.
#[derive(Clone, Copy)]
struct Work {
    m: usize,
    mr_max: usize,
    panels: usize,
    nr: usize,
    depth: usize,
    groups: usize,
}

/// The general split of a convolution's work `w` (`cout` channels in all): (rows a block,
/// panels a task, whether tasks run panel-major, tasks).
///
/// Row blocks of whole tiles: many rows, so that each depth block of the weights, read from
/// L3 when a layer's weights outgrow L2, serves many tiles (48 rows a block ran 4–10% slower
/// on VGG16's layers than 384), but no more than 1 MiB of outputs, which the block
/// accumulates over its depth blocks in L2; smaller where the rows are few.
#[allow(clippy::manual_is_multiple_of)] // `is_multiple_of` is newer than the MSRV
fn general_split(
    w: Work,
    cout: usize,
    beyond_l2: bool,
    threads: usize,
    want_tasks: usize,
) -> (usize, usize, bool, usize) {
    let Work {
        m,
        mr_max,
        panels,
        groups,
        ..
    } = w;
    let col_tasks = groups * panels;
    let c_rows = ((1usize << 18) / cout.max(1)).max(mr_max * 8);
    let mut mb = (mr_max * 64)
        .min(c_rows / mr_max * mr_max)
        .min(m.next_multiple_of(mr_max));
    // Large blocks only where there are rows enough for an even split (at least 16 blocks a
    // worker: equal tasks, so the last round leaves a worker idle for 1/32 of the op at most).
    while mb > mr_max * 8 && want_tasks > 1 && m.div_ceil(mb) < threads * 16 {
        mb -= mr_max;
    }
    while mb > mr_max && m.div_ceil(mb) * col_tasks < want_tasks {
        mb -= mr_max;
    }
    // The split for `row_blocks` blocks: (panels a task, whether tasks run panel-major, tasks).
    let split = |row_blocks: usize| {
        // Split the panels too when the rows alone leave workers idle (batch 1, late layers).
        let panel_split = if row_blocks * groups < want_tasks {
            (want_tasks / (row_blocks * groups).max(1)).clamp(1, panels)
        } else {
            1
        };
        // Weights larger than L2 (VGG16's and ResNet50's late layers: 2–9 MiB) would be read
        // again from L3 for every row block; there, each task takes one panel, and a worker's
        // consecutive tasks are the row blocks of one panel, so the panel's weights stay in L2
        // and the (smaller) input is what is read again.
        let weights_major = row_blocks > 1 && beyond_l2;
        let panel_chunk = if weights_major { 1 } else { panels.div_ceil(panel_split) };
        (
            panel_chunk,
            weights_major,
            row_blocks * groups * panels.div_ceil(panel_chunk),
        )
    };
    // Equal blocks, their tiles split evenly too ([`next_tile`]): 49 rows were a block of 48
    // and one of a single row, whose tasks each made a whole pass over a panel for one row.
    // Where the tasks are few, as many blocks more (up to a worker's count) as make them a
    // multiple of the workers: 9 equal tasks on 2 workers leave one idle for a ninth.
    let mut row_blocks = m.div_ceil(mb).max(1);
    if want_tasks > 1 {
        let even = (row_blocks..row_blocks + threads)
            .take_while(|&rb| rb <= m)
            .find(|&rb| {
                let tasks = split(rb).2;
                tasks % threads == 0 || tasks >= threads * 16
            });
        row_blocks = even.unwrap_or(row_blocks);
    }
    let mut mb = m.div_ceil(row_blocks).max(1);
    let (mut panel_chunk, weights_major, mut tasks) = split(m.div_ceil(mb));
    // Few tasks of unequal work (batch 1's late layers, whose panels do not split evenly):
    // the blocks and panel chunks that share the work most evenly instead.
    let uneven = panels % panel_chunk != 0 || tasks % threads != 0;
    if want_tasks > 1 && uneven && tasks < threads * 16 && !beyond_l2 {
        let (blocks, chunk) = balanced_split(w, threads, row_blocks + threads);
        mb = m.div_ceil(blocks).max(1);
        panel_chunk = chunk;
        tasks = m.div_ceil(mb) * groups * panels.div_ceil(chunk);
    }
    (mb, panel_chunk, weights_major, tasks)
}

/// The row blocks and panels a task (`(row_blocks, panel_chunk)`) of a convolution of few
/// tasks that keep its workers busiest: of every block count up to `max_blocks` and every
/// panel chunk that divides the panels evenly giving at least two tasks a worker, the one
/// whose workers finish first, its tasks dealt out in turn; fewer tasks where two finish
/// within 1% of each other. A task's cost is its multiply-adds, one row more per tile (a
/// tile's pass over its panel), and the values it reads (its panels' weights and its rows'
/// inputs, at [`READ_COST`] multiply-adds each). Unequal tasks had left a worker idle:
/// MobileNetV2's 576 → 96 at 14×14 as 3 row blocks × a chunk of 2 panels and one of 1 (one
/// worker ran 5 of the 9 task-thirds), its 960 → 160 at 7×7 as chunks of 3 and 2 panels.
#[allow(clippy::manual_is_multiple_of)] // `is_multiple_of` is newer than the MSRV
fn balanced_split(w: Work, threads: usize, max_blocks: usize) -> (usize, usize) {
    let Work {
        m,
        mr_max,
        panels,
        nr,
        depth,
        groups,
    } = w;
    // At least two tasks a worker where the layer has them, so that a worker that starts late
    // (or runs slower) hands its second task to the other.
    let most = max_blocks.min(m).max(1) * groups * panels;
    let min_tasks = (2 * threads).min(most);
    let mut best = (f64::INFINITY, usize::MAX, 1, panels);
    for blocks in 1..=max_blocks.min(m).max(1) {
        let rows = m.div_ceil(blocks);
        let blocks = m.div_ceil(rows);
        for chunks in (1..=panels).filter(|c| panels % c == 0) {
            let cols = (panels / chunks * nr) as f64;
            let task =
                depth as f64 * (cols * (rows + rows.div_ceil(mr_max.max(1))) as f64 + READ_COST * (rows as f64 + cols));
            let tasks = blocks * groups * chunks;
            if tasks < min_tasks {
                continue;
            }
            let finish = tasks.div_ceil(threads) as f64 * task;
            if finish < best.0 * 0.99 || (finish <= best.0 * 1.01 && tasks < best.1) {
                best = (finish, tasks, blocks, panels / chunks);
            }
        }
    }
    (best.2, best.3)
}

/// Multiply-adds one value read from outside L2 costs in [`balanced_split`]'s model: a model
/// weight, not a measured rate (a core's 58 G multiply-adds a second at its FMA peak against
/// the 50–70 GB/s one core streamed from memory in a microbenchmark would make it 3–5; tile
/// passes over weights not yet in L2 read slower). With it the splits that were measured
/// faster are chosen (MobileNetV2's 576 → 96 and 384 → 96 at 14×14, batch 1).
const READ_COST: f64 = 6.0;

/// Output rows up to which a convolution takes [`conv2d`]'s few-rows splits (batch 1's 7×7
/// layers, 49 rows). Kernels bench, "weights from L3" cases (2 workers, 2-core Intel Xeon,
/// interleaved with the split before): MobileNetV2's 160 → 960 0.057–0.061 → 0.055–0.056 ms,
/// 960 → 160 0.059–0.061 → 0.052–0.054, 576 → 160 0.036–0.037 → 0.032–0.035; 960 → 320 and
/// 320 → 1280 equal within noise there (in a noisier hour 320 → 1280 ran 0.172 → 0.155–0.163).
const FEW_ROWS: usize = 64;

/// Output bytes from which the tiles write with non-temporal stores ([`Tile::stream`]):
/// several times a core's L2, so the output leaves the caches anyway, and reading each line
/// before writing it only costs bandwidth (ResNet50 at batch 8, per step: its 1×1 64 → 256
/// layers at 56×56, 25.7 MB each, 28.3 → 25.7 ms together, 128 → 512 at 28×28 22.6 → 21.3).
const STREAM_MIN_BYTES: usize = if cfg!(test) { 64 << 10 } else { 8 << 20 };

pub(super) fn check(args: &ConvArgs, m: usize, depth: usize) -> Result<()> {
    let g = args.geometry;
    let fail = |what: String| shape_err("conv2d", what);
    let pixels = g.n * g.rows.input * g.cols.input;
    let need_x = match &args.prologue {
        None => pixels * g.cin,
        Some(p) => {
            if !g.is_pointwise() {
                return fail("an input prologue needs a 1×1, stride-1, unpadded convolution".to_string());
            }
            if p.x_stride < g.cin || p.scale.len() != g.cin || p.shift.len() != g.cin || p.act.post.is_some() {
                return fail(format!(
                    "input prologue of {} scales and {} shifts at pixel stride {} does not fit {} channels (or has a non-clamp activation)",
                    p.scale.len(),
                    p.shift.len(),
                    p.x_stride,
                    g.cin
                ));
            }
            pixels.saturating_sub(1) * p.x_stride + g.cin * usize::from(pixels > 0)
        }
    };
    if args.x.len() < need_x {
        return fail(format!(
            "input holds {} values, the geometry needs {need_x}",
            args.x.len()
        ));
    }
    if args.y_stride < g.cout {
        return fail(format!("output pixel stride {} < cout {}", args.y_stride, g.cout));
    }
    if m > 0 && args.y.len() < (m - 1) * args.y_stride + g.cout {
        return fail(format!("output holds {} values, {m} pixels need more", args.y.len()));
    }
    if let Some((r, s)) = args.residual {
        if s < g.cout || (m > 0 && r.len() < (m - 1) * s + g.cout) {
            return fail(format!("residual of {} values at stride {s} is too small", r.len()));
        }
    }
    if let Some(b) = args.epilogue.bias {
        if b.len() < g.cout {
            return fail(format!("bias holds {} values, cout is {}", b.len(), g.cout));
        }
    }
    if let Weights::Raw(k) = args.weights {
        if g.groups != 1 && k.len() != depth * g.cout {
            return fail(format!("kernel holds {} values, expected {}", k.len(), depth * g.cout));
        }
        if k.len() < depth * g.cout {
            return fail(format!("kernel holds {} values, expected {}", k.len(), depth * g.cout));
        }
    }
    Ok(())
}

/// A tap's offset in the window (rows, columns) and in the input (values) where the window
/// lies inside the image.
type TapAt = (isize, isize, isize);

/// Zeros a padded tap points at (at least as long as any depth block's channels).
pub(super) static ZEROS: [f32; KC] = [0.0; KC];

/// One depth block: taps `[t0, t1)`, channels `[c0, c1)` of each.
#[derive(Clone, Copy)]
struct DepthBlock {
    t0: usize,
    t1: usize,
    c0: usize,
    c1: usize,
}

/// The depth blocks of a convolution: whole taps, as many as fit in `depth` rows, while a
/// tap's channels fit in `kc`; otherwise channel chunks of one tap. An iterator, so a task
/// allocates nothing for them.
fn depth_blocks(taps: usize, cin_g: usize, kc: usize, depth: usize) -> impl Iterator<Item = DepthBlock> + Clone {
    let whole = cin_g <= kc;
    let per = if whole {
        // As many taps as fit, spread evenly over the blocks that takes.
        let fit = (depth / cin_g.max(1)).max(1);
        taps.div_ceil(taps.div_ceil(fit).max(1)).max(1)
    } else {
        1
    };
    let chunks = if whole { 1 } else { cin_g.div_ceil(kc) };
    (0..taps).step_by(per).flat_map(move |t0| {
        (0..chunks).map(move |c| DepthBlock {
            t0,
            t1: (t0 + per).min(taps),
            c0: if whole { 0 } else { c * kc },
            c1: if whole { cin_g } else { ((c + 1) * kc).min(cin_g) },
        })
    })
}

/// Whether a tap of the depth blocks is a whole kernel row (`kw·cin` values, contiguous in
/// the input where the window row lies inside the image) instead of one kernel position:
/// where the input has few channels (a network's stem: 3), one row pointer per kernel
/// position cost as much to build as the tile's arithmetic. The depth order, and so every
/// sum, is the same either way.
fn row_taps(g: &ConvGeometry, kc: usize) -> bool {
    g.groups == 1 && g.cols.kernel > 1 && g.cols.dilation == 1 && g.cin < ROW_TAPS_BELOW && g.cin * g.cols.kernel <= kc
}

/// Input channels below which [`row_taps`] applies.
const ROW_TAPS_BELOW: usize = 48;

/// Rows of the next tile of a block that has `left` rows left: the block split evenly into as
/// few tiles as `mr_max` rows a tile allow (49 rows: 10, 10, 10, 10, 9, not 12, 12, 12, 12, 1;
/// every row count up to the tile's has a kernel, [`super::gemm`]). The pointer tables and the
/// tiles that read them walk the same sequence.
fn next_tile(left: usize, mr_max: usize) -> usize {
    left.div_ceil(left.div_ceil(mr_max.max(1)).max(1))
}

/// Lays out the row-pointer tables of rows `rows`, tile by tile (`[taps][mr]` each, [`ZEROS`]
/// in every slot first: the padding and a padded tile's extra rows), and calls
/// `fill(slots, mr, r, len, pixel)` for each run of a tile's real rows `r .. r + len` that lie
/// in one output row, `slots` being the tile's table and `pixel` the output coordinates
/// `(image, row, column)` of the run's first row. The coordinates are found once a run (a
/// division each), so that a run's pointers are laid out one tap at a time, a step apart:
/// walking pixel by pixel, with a window test for each, was a third of a 3-channel stem's
/// time (26 cycles a row for its 3 pointers).
#[allow(clippy::too_many_arguments)]
fn tile_tables(
    g: &ConvGeometry,
    rows: std::ops::Range<usize>,
    taps: usize,
    mr_max: usize,
    dst: &mut Vec<*const f32>,
    mut fill: impl FnMut(&mut [*const f32], usize, usize, usize, (usize, usize, usize)),
) {
    let (oh, ow) = (g.oh().max(1), g.ow().max(1));
    dst.clear();
    let mut r0 = rows.start;
    while r0 < rows.end {
        let real = next_tile(rows.end - r0, mr_max);
        let base = dst.len();
        dst.resize(base + taps * real, ZEROS.as_ptr());
        let slots = &mut dst[base..];
        let mut r = 0;
        while r < real {
            let pixel = r0 + r;
            let ox = pixel % ow;
            let len = (ow - ox).min(real - r);
            fill(slots, real, r, len, (pixel / (oh * ow), (pixel / ow) % oh, ox));
            r += len;
        }
        r0 += real;
    }
}

/// The output columns `[lo, hi)` whose windows (`span` columns from `col0(ox)`) lie inside
/// the `w` input columns: a contiguous range, the window moving right with `ox`.
fn inner_columns(g: &ConvGeometry, span: usize) -> (usize, usize) {
    let (w, stride, pad, ow) = (g.cols.input, g.cols.stride.max(1), g.cols.pad_before, g.cols.output);
    let lo = pad.div_ceil(stride).min(ow);
    let hi = (lo..ow).find(|&ox| ox * stride - pad + span > w).unwrap_or(ow);
    (lo, hi)
}

/// The part of a run of `len` output columns from `ox` that lies in the inner columns
/// `[lo, hi)` ([`inner_columns`]); empty where they do not meet.
fn inner_part(ox: usize, len: usize, (lo, hi): (usize, usize)) -> std::ops::Range<usize> {
    let a = ox.max(lo).min(ox + len);
    a..(ox + len).min(hi).max(a)
}

/// Row pointers of rows `rows` for depth block `blk` whose taps are kernel rows
/// ([`row_taps`]), as [`row_pointers`] lays them out. A window row reaching into the column
/// padding is copied into `edges` with its zeros (sized first, so no pointer moves).
#[allow(clippy::too_many_arguments)]
fn row_tap_pointers(
    g: &ConvGeometry,
    x: &[f32],
    rows: std::ops::Range<usize>,
    blk: DepthBlock,
    mr_max: usize,
    dst: &mut Vec<*const f32>,
    edges: &mut Vec<f32>,
) {
    let (w, kw, cin) = (g.cols.input, g.cols.kernel, g.cin);
    let span = kw * cin;
    let step = g.cols.stride * cin;
    let col0 = |ox: usize| (ox * g.cols.stride) as isize - g.cols.pad_before as isize;
    let (lo, hi) = inner_columns(g, kw);
    // At most that many of each output row the rows touch (a bound, not a count).
    let ow = g.cols.output.max(1);
    let outside = ow - (hi - lo);
    let edge_rows = if outside == 0 {
        0
    } else {
        ((rows.len().div_ceil(ow) + 1) * outside).min(rows.len())
    };
    let ntaps = blk.t1 - blk.t0;
    edges.clear();
    edges.resize(edge_rows * ntaps * span, 0.0);
    let mut next_edge = 0;
    // The first value of each kernel row's input line (`None` in the row padding), for the
    // output row `at`: found once per output row.
    let mut at = (usize::MAX, usize::MAX);
    let mut lines: Vec<Option<usize>> = vec![None; ntaps];
    let xp = x.as_ptr();
    tile_tables(g, rows, ntaps, mr_max, dst, |slots, mr, r, len, (img, oy, ox)| {
        if at != (img, oy) {
            at = (img, oy);
            for (line, ky) in lines.iter_mut().zip(blk.t0..blk.t1) {
                let iy = (oy * g.rows.stride + ky * g.rows.dilation) as isize - g.rows.pad_before as isize;
                *line = (iy >= 0 && (iy as usize) < g.rows.input).then(|| (img * g.rows.input + iy as usize) * w * cin);
            }
        }
        // Inside the image: `line + col0·cin + span ≤ x.len()` (the window row lies in a line
        // of `x`, whose size `conv2d` checked).
        let inner = inner_part(ox, len, (lo, hi));
        if !inner.is_empty() {
            for (i, line) in lines.iter().enumerate() {
                let Some(line) = *line else { continue };
                let first = line + col0(inner.start) as usize * cin;
                for (j, slot) in slots[i * mr + r + (inner.start - ox)..][..inner.len()]
                    .iter_mut()
                    .enumerate()
                {
                    *slot = xp.wrapping_add(first + j * step);
                }
            }
        }
        // The run's pixels whose windows reach into the column padding.
        for c in (ox..ox + len).filter(|c| !inner.contains(c)) {
            let ix0 = col0(c);
            for (i, line) in lines.iter().enumerate() {
                let Some(line) = *line else { continue };
                let e = &mut edges[next_edge * span..(next_edge + 1) * span];
                next_edge += 1;
                for kx in 0..kw {
                    let ix = ix0 + kx as isize;
                    if ix >= 0 && (ix as usize) < w {
                        let at = line + ix as usize * cin;
                        e[kx * cin..(kx + 1) * cin].copy_from_slice(&x[at..at + cin]);
                    }
                }
                slots[i * mr + r + (c - ox)] = e.as_ptr();
            }
        }
    });
}

/// Row pointers of a pointwise convolution's rows `rows` for depth block `blk` (channels
/// `[c0, c1)`), into `pre`: those channels of each row mapped by the prologue first.
#[allow(clippy::too_many_arguments)]
fn prologue_pointers(
    isa: Isa,
    x: &[f32],
    p: &Prologue,
    rows: std::ops::Range<usize>,
    blk: DepthBlock,
    dst: &mut Vec<*const f32>,
    pre: &mut Vec<f32>,
) {
    let kc = blk.c1 - blk.c0;
    let len = rows.len() * kc;
    // Grown once; every value of the block's part is written before it is read.
    if pre.len() < len {
        pre.resize(len, 0.0);
    }
    let part = &mut pre[..len];
    by_isa!(
        isa,
        prologue_rows_avx512,
        prologue_rows_avx2,
        prologue_rows(x, p, rows.start, blk.c0, kc, part)
    );
    one_per_row(dst, pre.as_ptr(), rows.len(), kc);
}

/// The tables of a one-tap depth block whose rows lie `stride` values apart from `base`
/// (a pointwise convolution's input, or its mapped copy): one pointer per row, in row order,
/// which is the tiles' `[taps][mr]` layout for one tap, tile after tile (walking each row's
/// coordinates to lay them out tile by tile cost as much as a 32-deep tile's arithmetic).
fn one_per_row(dst: &mut Vec<*const f32>, base: *const f32, rows: usize, stride: usize) {
    dst.clear();
    dst.extend((0..rows).map(|r| base.wrapping_add(r * stride)));
}

isa_twins!(prologue_rows_avx512, prologue_rows_avx2, prologue_rows(x: &[f32], p: &Prologue, row0: usize, c0: usize, kc: usize, pre: &mut [f32]));

/// `pre[r][j] = clamp(x[row0 + r][c0 + j]·scale + shift)` (the affine pass's arithmetic, value
/// for value).
#[inline(always)]
fn prologue_rows(x: &[f32], p: &Prologue, row0: usize, c0: usize, kc: usize, pre: &mut [f32]) {
    let (scale, shift) = (&p.scale[c0..c0 + kc], &p.shift[c0..c0 + kc]);
    let (lo, hi, slope) = (p.act.lo, p.act.hi, p.act.slope.unwrap_or(1.0));
    for (r, out) in pre.chunks_exact_mut(kc).enumerate() {
        let src = &x[(row0 + r) * p.x_stride + c0..][..kc];
        for (((o, &v), &a), &b) in out.iter_mut().zip(src).zip(scale).zip(shift) {
            let v = v * a + b;
            let v = v.max(slope * v);
            *o = v.max(lo).min(hi);
        }
    }
}

/// Fills the row-pointer tables of rows `rows` for one depth block, tile by tile
/// (`[taps][mr]` each): the input pixel each output row reads through each tap, at channel
/// `c0` of group `grp`, or [`ZEROS`] in the padding and for a padded tile's extra rows.
#[allow(clippy::too_many_arguments)]
fn row_pointers(
    g: &ConvGeometry,
    x: &[f32],
    grp: usize,
    rows: std::ops::Range<usize>,
    blk: DepthBlock,
    mr_max: usize,
    dst: &mut Vec<*const f32>,
    tap_at: &mut Vec<TapAt>,
) {
    let kw = g.cols.kernel;
    let chan0 = grp * g.cin_g() + blk.c0;
    // A 1×1, stride-1, unpadded convolution (a pointwise layer, a Dense): row `p` reads input
    // pixel `p`.
    let pointwise = g.rows.kernel == 1
        && g.cols.kernel == 1
        && g.rows.stride == 1
        && g.cols.stride == 1
        && g.rows.pad_before == 0
        && g.cols.pad_before == 0
        && g.rows.output == g.rows.input
        && g.cols.output == g.cols.input;
    // Each tap's offset (rows, columns) in the window, and in the input where the window lies
    // inside the image: built once, so a row's pointers are one addition each (a division per
    // tap to find its kernel position cost a tenth of a 3×3 layer's time).
    let (h, w, cin) = (g.rows.input as isize, g.cols.input as isize, g.cin as isize);
    tap_at.clear();
    tap_at.extend((blk.t0..blk.t1).map(|t| {
        let dy = ((t / kw) * g.rows.dilation) as isize;
        let dx = ((t % kw) * g.cols.dilation) as isize;
        (dy, dx, (dy * w + dx) * cin)
    }));
    let (span_y, span_x) = (
        ((g.rows.kernel - 1) * g.rows.dilation) as isize,
        ((kw - 1) * g.cols.dilation) as isize,
    );
    let xp = x.as_ptr();
    if pointwise {
        // Row `p` at input pixel `p` (`check` proved every row inside `x`).
        one_per_row(dst, xp.wrapping_add(rows.start * g.cin + chan0), rows.len(), g.cin);
        return;
    }
    let step = (g.cols.stride * g.cin) as isize;
    let (lo, hi) = inner_columns(g, span_x as usize + 1);
    tile_tables(
        g,
        rows,
        blk.t1 - blk.t0,
        mr_max,
        dst,
        |slots, mr, r, len, (img, oy, ox)| {
            let iy0 = (oy * g.rows.stride) as isize - g.rows.pad_before as isize;
            let origin = |ox: usize| {
                let ix0 = (ox * g.cols.stride) as isize - g.cols.pad_before as isize;
                (ix0, ((img as isize * h + iy0) * w + ix0) * cin + chan0 as isize)
            };
            // Where the whole window is inside the image, `check` proved every pixel of it in `x`:
            // the run's inner columns, a step apart; elsewhere each tap is checked.
            let inner = if iy0 >= 0 && iy0 + span_y < h {
                inner_part(ox, len, (lo, hi))
            } else {
                ox..ox
            };
            if !inner.is_empty() {
                let first = origin(inner.start).1;
                for (i, &(_, _, off)) in tap_at.iter().enumerate() {
                    for (j, slot) in slots[i * mr + r + (inner.start - ox)..][..inner.len()]
                        .iter_mut()
                        .enumerate()
                    {
                        *slot = xp.wrapping_offset(first + off + j as isize * step);
                    }
                }
            }
            for c in (ox..ox + len).filter(|c| !inner.contains(c)) {
                let (ix0, at) = origin(c);
                for (i, &(dy, dx, off)) in tap_at.iter().enumerate() {
                    let (iy, ix) = (iy0 + dy, ix0 + dx);
                    if iy >= 0 && iy < h && ix >= 0 && ix < w {
                        slots[i * mr + r + (c - ox)] = xp.wrapping_offset(at + off);
                    }
                }
            }
        },
    );
}

#[allow(clippy::too_many_arguments)]
unsafe fn block(
    isa: Isa,
    g: &ConvGeometry,
    x: &[f32],
    b: &BLayout,
    epi: &Epilogue,
    res: Option<(SyncPtr<*const f32>, usize)>,
    y: SyncPtr<*mut f32>,
    y_stride: usize,
    rows: std::ops::Range<usize>,
    grp: usize,
    panels: std::ops::Range<usize>,
    ptrs: &mut Vec<*const f32>,
    edges: &mut Vec<f32>,
    tap_at: &mut Vec<TapAt>,
    mr_max: usize,
    nr: usize,
    mut prologue: Option<(&Prologue, &mut Vec<f32>)>,
    stream: bool,
    prefetch_next: bool,
) {
    let cin_g = g.cin_g();
    let cout_g = g.cout_g();
    // Depth per tap: one kernel position's channels, or a whole kernel row's.
    let (kc_tap, depth) = if b.padded {
        packed_depth(nr)
    } else {
        (kc_for(nr), kc_for(nr))
    };
    let by_rows = row_taps(g, kc_tap);
    let (taps, tap_depth) = if by_rows {
        (g.rows.kernel, g.cols.kernel * cin_g)
    } else {
        (g.rows.kernel * g.cols.kernel, cin_g)
    };
    let blocks = depth_blocks(taps, tap_depth, kc_tap, depth);
    let n_blocks = blocks.clone().count();
    for (bi, blk) in blocks.enumerate() {
        let last = bi + 1 == n_blocks;
        let (ntaps, kc) = (blk.t1 - blk.t0, blk.c1 - blk.c0);
        if let Some((p, pre)) = prologue.as_mut() {
            prologue_pointers(isa, x, p, rows.clone(), blk, ptrs, pre);
        } else if by_rows {
            row_tap_pointers(g, x, rows.clone(), blk, mr_max, ptrs, edges);
        } else {
            row_pointers(g, x, grp, rows.clone(), blk, mr_max, ptrs, tap_at);
        }
        let k0 = blk.t0 * tap_depth + blk.c0;
        for p in panels.clone() {
            let col0 = p * nr;
            let nc = nr.min(cout_g - col0);
            let ch0 = grp * cout_g + col0;
            let bp = b.base.0.add(grp * b.group_stride + p * b.panel_stride + k0 * b.ldb);
            // One tile, its fields set once per panel and its rows per tile (building the
            // whole struct, two 12-pointer arrays, for every tile was a tenth of MobileNetV2's
            // time at batch 1).
            let mut t = Tile {
                taps: ntaps,
                kc,
                mr: 0,
                nc,
                nr,
                a: ptrs.as_ptr(),
                b: bp,
                ldb: b.ldb,
                full_b: b.padded || nc == nr,
                // Set per tile; the kernel reads only its first `mr` rows.
                c: [std::ptr::null_mut(); MAX_MR],
                accumulate: bi > 0,
                last,
                bias: epi.bias.map_or(std::ptr::null(), |bb| bb.as_ptr().add(ch0)),
                res: [ZEROS.as_ptr(); MAX_MR],
                has_res: res.is_some() && last,
                lo: epi.lo,
                hi: epi.hi,
                slope: epi.slope.unwrap_or(1.0),
                has_slope: epi.slope.is_some(),
                stream: stream && last && epi.post.is_none(),
            };
            // The next panel's weights, a share a tile (see [`conv2d`]'s `few_rows`).
            let (mut pf, pf_end, pf_step) = if prefetch_next && p + 1 < panels.end {
                let start = b
                    .base
                    .0
                    .add(grp * b.group_stride + (p + 1) * b.panel_stride + k0 * b.ldb);
                let lines = (ntaps * kc * nr).div_ceil(16);
                let tiles = rows.len().div_ceil(mr_max).max(1);
                (start, start.wrapping_add(lines * 16), lines.div_ceil(tiles) * 16)
            } else {
                (std::ptr::null(), std::ptr::null(), 0)
            };
            let mut off = 0;
            let mut r0 = rows.start;
            while r0 < rows.end {
                let stop = pf.wrapping_add(pf_step).min(pf_end);
                while pf < stop {
                    super::prefetch(pf);
                    pf = pf.wrapping_add(16);
                }
                let real = next_tile(rows.end - r0, mr_max);
                let mut c = y.0.add(r0 * y_stride + ch0);
                for slot in &mut t.c[..real] {
                    *slot = c;
                    c = c.wrapping_add(y_stride);
                }
                if let Some((rb, rs)) = res {
                    let mut p = rb.0.add(r0 * rs + ch0);
                    for slot in &mut t.res[..real] {
                        *slot = p;
                        p = p.wrapping_add(rs);
                    }
                }
                t.mr = real;
                t.a = ptrs.as_ptr().add(off);
                // The next tile's residual (from memory, where a layer's tensors outgrow the
                // caches: ResNet50's 1×1 expansions at batch 8 ran 7–11% faster; its output
                // rows prefetched too ran slower), on its way while this one computes.
                if let Some((rb, rs)) = res.filter(|_| t.has_res && r0 + real < rows.end) {
                    let next = next_tile(rows.end - r0 - real, mr_max);
                    for r in r0 + real..r0 + real + next {
                        for c in (0..nc).step_by(16) {
                            super::prefetch(rb.0.wrapping_add(r * rs + ch0 + c));
                        }
                    }
                }
                run_tile(isa, &t);
                if last {
                    if let Some(f) = epi.post {
                        for &row in t.c.iter().take(real) {
                            for v in std::slice::from_raw_parts_mut(row, nc) {
                                *v = f(*v);
                            }
                        }
                    }
                }
                off += ntaps * real;
                r0 += real;
            }
        }
    }
}

/// The reference: the loop over output pixels, channels and taps, with the same epilogue
/// (`act(Σ + bias + residual)`), written at the same pixel stride.
pub fn conv2d_reference(args: ConvArgs) -> Result<()> {
    let g = args.geometry;
    let (kh, kw) = (g.rows.kernel, g.cols.kernel);
    let (cin_g, cout_g) = (g.cin_g(), g.cout_g());
    let kernel: Vec<f32> = match args.weights {
        Weights::Raw(k) => k.to_vec(),
        Weights::Packed(p) => {
            let mut k = vec![0.0; kh * kw * cin_g * g.cout];
            for grp in 0..g.groups {
                for co in 0..cout_g {
                    let (pn, j) = (co / p.nr, co % p.nr);
                    for d in 0..p.depth {
                        k[d * g.cout + grp * cout_g + co] =
                            p.data.as_slice()[((grp * p.panels + pn) * p.depth + d) * p.nr + j];
                    }
                }
            }
            k
        }
        Weights::Winograd(_) => {
            return shape_err(
                "conv2d_reference",
                "the reference takes the kernel as stored or prepacked, not Winograd-transformed",
            )
        }
    };
    let m = g.n * g.oh() * g.ow();
    check(&args, m, kh * kw * cin_g)?;
    let act = args.epilogue.act();
    for pix in 0..m {
        let img = pix / (g.oh() * g.ow());
        let (oy, ox) = ((pix / g.ow()) % g.oh(), pix % g.ow());
        for co in 0..g.cout {
            let grp = co / cout_g;
            let mut s = 0.0f32;
            for ky in 0..kh {
                for kx in 0..kw {
                    let iy = (oy * g.rows.stride + ky * g.rows.dilation) as isize - g.rows.pad_before as isize;
                    let ix = (ox * g.cols.stride + kx * g.cols.dilation) as isize - g.cols.pad_before as isize;
                    if iy < 0 || ix < 0 || iy as usize >= g.rows.input || ix as usize >= g.cols.input {
                        continue;
                    }
                    for ci in 0..cin_g {
                        let xv = args.x[((img * g.rows.input + iy as usize) * g.cols.input + ix as usize) * g.cin
                            + grp * cin_g
                            + ci];
                        s += xv * kernel[((ky * kw + kx) * cin_g + ci) * g.cout + co];
                    }
                }
            }
            if let Some(b) = args.epilogue.bias {
                s += b[co];
            }
            if let Some((r, rs)) = args.residual {
                s += r[pix * rs + co];
            }
            args.y[pix * args.y_stride + co] = act.apply(s);
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "conv_tests.rs"]
mod tests;
