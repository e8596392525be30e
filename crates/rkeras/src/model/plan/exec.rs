//! Running a plan: the steps in order over the arena, each calling one engine kernel on slices
//! of it (a fallback step runs its layer's `call` on an inference tape). The arena is allocated
//! on the first run and kept; a run while another holds it uses its own.

use super::{Loc, MergeKind, Plan, Step, StepKind, ValueId};
use crate::error::{KerasError, Result};
use crate::layers::CallCtx;
use crate::model::Model;
use tensor::kernels::conv::{conv2d, ConvArgs, Prologue, Weights};
use tensor::kernels::depthwise::{depthwise, DepthwiseArgs};
use tensor::kernels::pointwise::{affine, global_pool, pool2d};
use tensor::ops::conv::{Conv2dParams, ConvGeometry};
use tensor::{Rng, Tape, Tensor};

/// A value's place during one run: start pointer, elements spanned, pixel stride, channels.
#[derive(Clone, Copy)]
struct View {
    ptr: *mut f32,
    span: usize,
    stride: usize,
    channels: usize,
    pixels: usize,
}

impl View {
    fn contiguous(&self) -> bool {
        self.stride == self.channels
    }
    /// # Safety
    /// The arena slot or input behind `ptr` holds `span` values and outlives the slice.
    unsafe fn slice<'a>(&self) -> &'a [f32] {
        std::slice::from_raw_parts(self.ptr, self.span)
    }
    /// # Safety
    /// As [`View::slice`], and nothing else reads or writes the span meanwhile.
    unsafe fn slice_mut<'a>(&self) -> &'a mut [f32] {
        std::slice::from_raw_parts_mut(self.ptr, self.span)
    }
    /// The values, contiguous (copied when strided).
    unsafe fn gather(&self) -> Vec<f32> {
        if self.contiguous() {
            return self.slice()[..self.pixels * self.channels].to_vec();
        }
        let s = self.slice();
        (0..self.pixels)
            .flat_map(|p| s[p * self.stride..p * self.stride + self.channels].iter().copied())
            .collect()
    }
    /// Writes contiguous values into the view.
    unsafe fn scatter(&self, values: &[f32]) {
        let d = self.slice_mut();
        for p in 0..self.pixels {
            d[p * self.stride..p * self.stride + self.channels]
                .copy_from_slice(&values[p * self.channels..(p + 1) * self.channels]);
        }
    }
}

struct Ctx<'a> {
    plan: &'a Plan,
    slots: Vec<*mut f32>,
    inputs: &'a [Tensor],
}

/// The run's context handed to the thread that runs the steps (`team::scope_on_caller` runs them
/// on a rayon worker when called from one; the arena's pointers are used by one step at a time).
#[derive(Clone, Copy)]
struct SendCtx<'a, 'b>(&'a Ctx<'b>);
// SAFETY: the steps run one after another on one thread while the caller waits for them; the
// pointers stay valid for the whole run.
unsafe impl Send for SendCtx<'_, '_> {}
unsafe impl Sync for SendCtx<'_, '_> {}

impl Ctx<'_> {
    fn view(&self, v: ValueId) -> View {
        let val = &self.plan.values[v];
        let (channels, pixels) = (val.channels(), val.pixels());
        match val.loc {
            Loc::Input(k) => View {
                ptr: self.inputs[k].data().as_ptr() as *mut f32,
                span: val.len(),
                stride: channels,
                channels,
                pixels,
            },
            Loc::Buffer { buffer, offset, stride } => {
                let slot = self.plan.buffer_slot[buffer];
                View {
                    // SAFETY: the slot holds `slot_len[slot]` ≥ offset + span values (placed so).
                    ptr: unsafe { self.slots[slot].add(offset) },
                    span: if pixels == 0 {
                        0
                    } else {
                        (pixels - 1) * stride + channels
                    },
                    stride,
                    channels,
                    pixels,
                }
            }
        }
    }
}

impl Plan {
    /// Runs the plan on inputs of its shapes; `model` is the model it was built from.
    pub fn run(&self, model: &Model, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape()).collect();
        if shapes.len() != self.input_shapes.len()
            || shapes.iter().zip(&self.input_shapes).any(|(a, b)| *a != b.as_slice())
        {
            return Err(KerasError::Invalid(format!(
                "model {}: the plan is for inputs {:?}, received {:?}",
                model.name, self.input_shapes, shapes
            )));
        }
        let mut own;
        let mut guard = self.arena.try_lock().ok();
        let arena: &mut Vec<Vec<f32>> = match guard.as_deref_mut() {
            Some(a) => a,
            None => {
                own = Vec::new();
                &mut own
            }
        };
        if arena.len() != self.slot_len.len() {
            // 16 floats more, for each slot to start on a 64-byte line (aligned rows are what
            // the kernels' non-temporal stores take: `kernels::gemm::Tile::stream`).
            *arena = self.slot_len.iter().map(|&n| vec![0.0f32; n + 16]).collect();
        }
        let ctx = Ctx {
            plan: self,
            slots: arena
                .iter_mut()
                .map(|s| {
                    let p = s.as_mut_ptr();
                    p.wrapping_add(p.align_offset(64))
                })
                .collect(),
            inputs,
        };
        // The steps run on the calling thread (or the rayon worker it is) with the pool's
        // workers spinning as its team (`kernels::team`): each kernel's tasks are shared
        // through one slot, instead of waking a sleeping worker and parking it again once per
        // step.
        let shared = SendCtx(&ctx);
        tensor::kernels::team::scope_on_caller(|| {
            let ctx = shared;
            for step in self.steps.iter().filter(|s| !s.dead) {
                // SAFETY: a step's output buffer is live while it runs, so it shares no slot
                // with any of its inputs (placement); views stay inside their slots.
                unsafe { self.run_step(model, ctx.0, step) }.map_err(|e| match e {
                    KerasError::Invalid(m) if m.starts_with(&step.layer) => KerasError::Invalid(m),
                    other => KerasError::Invalid(format!("{}: {other}", step.layer)),
                })?;
            }
            Ok::<(), KerasError>(())
        })?;
        self.outputs
            .iter()
            .map(|&v| {
                let view = ctx.view(v);
                // SAFETY: as above; the arena outlives this loop.
                let data = unsafe { view.gather() };
                Ok(Tensor::new(&self.values[v].shape, data)?)
            })
            .collect()
    }

    unsafe fn run_step(&self, model: &Model, ctx: &Ctx, step: &Step) -> Result<()> {
        let out = ctx.view(step.output);
        let input = |i: usize| ctx.view(step.inputs[i]);
        let contiguous = |v: View| -> Result<View> {
            if v.contiguous() {
                Ok(v)
            } else {
                Err(KerasError::Invalid("plan: a kernel input is strided".into()))
            }
        };
        match &step.kind {
            StepKind::Conv {
                geometry,
                weights,
                bias,
                act,
                residual,
                prologue,
            } => {
                // With an input map, the input is read at its own pixel stride.
                let x = match prologue {
                    Some(_) => input(0),
                    None => contiguous(input(0))?,
                };
                let res = residual.map(|r| ctx.view(r));
                conv2d(
                    self.isa,
                    ConvArgs {
                        geometry,
                        x: x.slice(),
                        weights: weights.as_weights(),
                        epilogue: act.with_bias(bias.as_deref()),
                        residual: res.map(|r| (r.slice(), r.stride)),
                        y: out.slice_mut(),
                        y_stride: out.stride,
                        prologue: prologue.as_ref().map(|p| Prologue {
                            scale: &p.scale,
                            shift: &p.shift,
                            act: p.act,
                            x_stride: x.stride,
                        }),
                    },
                )?;
            }
            StepKind::Depthwise {
                geometry,
                kernel,
                bias,
                act,
                expand,
                project,
            } => {
                let conv_of = |si: usize| match &self.steps[si].kind {
                    StepKind::Conv {
                        geometry,
                        weights,
                        bias,
                        act,
                        ..
                    } => Ok(BandConv {
                        geometry,
                        weights: weights.as_weights(),
                        epilogue: act.with_bias(bias.as_deref()),
                        residual: None,
                    }),
                    _ => Err(KerasError::Invalid(format!(
                        "plan: the banded 1×1 convolution {} is not a convolution",
                        self.steps[si].layer
                    ))),
                };
                let expansion = expand.map(conv_of).transpose()?;
                let mut projection = project.map(conv_of).transpose()?;
                if let Some(p) = projection.as_mut() {
                    if step.inputs.len() > 1 {
                        let r = input(1);
                        p.residual = Some((r.slice(), r.stride));
                    }
                }
                // With `expand`, the expansion's input: the depthwise input is made from it.
                let x = contiguous(input(0))?;
                let dw = DepthwiseArgs {
                    geometry,
                    x: x.slice(),
                    w: kernel,
                    epilogue: act.with_bias(bias.as_deref()),
                    y: out.slice_mut(),
                    y_stride: out.stride,
                };
                if expansion.is_none() && projection.is_none() {
                    depthwise(self.isa, dw)?;
                } else {
                    banded(self.isa, expansion.as_ref(), dw, projection.as_ref())?;
                }
            }
            StepKind::Affine { scale, shift, act } => {
                // The input may be the leading channels of a wider concatenation.
                let x = input(0);
                let y = contiguous(out)?;
                affine(Some((x.slice(), x.stride)), y.slice_mut(), scale, shift, act)?;
            }
            StepKind::Softmax { log } => {
                // Over the last axis: rows of the input's last dimension.
                let x = input(0);
                let n = self.values[step.inputs[0]].shape.last().copied().unwrap_or(1);
                let gathered;
                let src = if x.contiguous() {
                    &x.slice()[..x.pixels * x.channels]
                } else {
                    gathered = x.gather();
                    &gathered[..]
                };
                if out.contiguous() {
                    let len = out.pixels * out.channels;
                    tensor::ops::softmax::softmax_rows(src, n, *log, &mut out.slice_mut()[..len]);
                } else {
                    let mut y = vec![0.0f32; src.len()];
                    tensor::ops::softmax::softmax_rows(src, n, *log, &mut y);
                    out.scatter(&y);
                }
            }
            StepKind::Pool {
                geometry,
                max,
                zeros,
                act,
            } => {
                let x = contiguous(input(0))?;
                pool2d(geometry, *max, *zeros, x.slice(), out.slice_mut(), out.stride, act)?;
            }
            StepKind::GlobalPool { max } => {
                let x = contiguous(input(0))?;
                let s = &self.values[step.inputs[0]].shape;
                let (n, c) = (s[0], x.channels);
                global_pool(n, x.pixels / n.max(1), c, *max, x.slice(), contiguous(out)?.slice_mut())?;
            }
            StepKind::Pad {
                sides: ((t, _), (l, r)),
            } => {
                let x = contiguous(input(0))?;
                let y = contiguous(out)?.slice_mut();
                let s = &self.values[step.inputs[0]].shape;
                let (n, h, w, c) = (s[0], s[1], s[2], s[3]);
                let (oh, ow) = (self.values[step.output].shape[1], w + l + r);
                y.fill(0.0);
                let xs = x.slice();
                for img in 0..n {
                    for iy in 0..h {
                        let src = &xs[((img * h + iy) * w) * c..((img * h + iy) * w + w) * c];
                        let dst = ((img * oh + iy + t) * ow + l) * c;
                        y[dst..dst + w * c].copy_from_slice(src);
                    }
                }
            }
            StepKind::Merge { kind, act } => {
                let y = contiguous(out)?.slice_mut();
                let xs: Vec<&[f32]> = (0..step.inputs.len())
                    .map(|i| contiguous(input(i)).map(|v| v.slice()))
                    .collect::<Result<_>>()?;
                let n = y.len();
                let count = xs.len() as f32;
                for (i, o) in y.iter_mut().enumerate().take(n) {
                    let mut v = xs[0][i];
                    for x in &xs[1..] {
                        v = match kind {
                            MergeKind::Add | MergeKind::Average => v + x[i],
                            MergeKind::Subtract => v - x[i],
                            MergeKind::Multiply => v * x[i],
                            MergeKind::Maximum => v.max(x[i]),
                            MergeKind::Minimum => v.min(x[i]),
                        };
                    }
                    if *kind == MergeKind::Average {
                        v /= count;
                    }
                    *o = act.apply(v);
                }
            }
            StepKind::Copy => {
                out.scatter(&input(0).gather());
            }
            StepKind::Fallback { layer } => {
                let layer = model
                    .layers
                    .get(*layer)
                    .ok_or_else(|| KerasError::Invalid(format!("plan: {}: no such layer", step.layer)))?;
                let mut tape = Tape::inference();
                let mut rng = Rng::new(0);
                let mut cctx = CallCtx::new(&mut tape, &mut rng, false);
                let ins: Vec<_> = (0..step.inputs.len())
                    .map(|i| {
                        let v = step.inputs[i];
                        Ok(cctx
                            .tape
                            .constant(Tensor::new(&self.values[v].shape, input(i).gather())?))
                    })
                    .collect::<Result<_>>()?;
                let ws: Vec<_> = layer
                    .weights()
                    .iter()
                    .map(|w| cctx.tape.constant(w.value.clone()))
                    .collect();
                let outs = layer.call(&mut cctx, &ins, &ws)?;
                let y = outs
                    .first()
                    .ok_or_else(|| KerasError::Invalid(format!("{}: the layer gave no output", step.layer)))?;
                let y = tape.value(*y);
                if y.len() != out.pixels * out.channels {
                    return Err(KerasError::Invalid(format!(
                        "{}: the layer gave shape {:?}, the plan expected {:?}",
                        step.layer,
                        y.shape(),
                        self.values[step.output].shape
                    )));
                }
                out.scatter(y.data());
            }
        }
        Ok(())
    }
}

/// Bytes of expanded rows one band of a banded expansion holds (one core's L2 on the Zen 4
/// measured; 256 and 512 KiB bands ran no faster there).
pub(super) const BAND_BYTES: usize = if cfg!(test) { 24 << 10 } else { 1 << 20 };

/// Expansions of fewer bytes (all images) are not banded: they stay in the caches whole, and
/// bands would only add kernel calls (MobileNetV2 at batch 1: banding the 1.8 MB ones ran
/// slower, banding those at batch 8 ran faster; banding the 0.6 MB images of batch 8 image by
/// image, slower; with each band on one core, banding the 1.6 MB stem at batch 1 still ran
/// 0.35–0.37 ms against 0.34 unbanded).
pub(super) const BAND_MIN_TOTAL: usize = if cfg!(test) { 24 << 10 } else { 4 << 20 };

/// Depthwise outputs of fewer bytes (all images) are not banded into their projection:
/// lower than [`BAND_MIN_TOTAL`], since a band of depthwise rows handed to the projection
/// while in cache saves writing and reading back the whole output even where it would fit in
/// L2 (MobileNetV2 at batch 1 on a 2-core Intel Xeon, 16 interleaved rounds of the apps
/// bench: banding its 1.2–1.8 MB depthwise outputs at 112×112×32, 56×56×96 and 56×56×144 ran
/// 3.64 ms against 3.72, faster in 13 of the 16 rounds; banding the 1.8 MB expansions as
/// well, 3.69).
pub(super) const PROJECT_BAND_MIN_TOTAL: usize = if cfg!(test) { 24 << 10 } else { 1 << 20 };

/// A convolution a banded depthwise step runs on its bands: the expansion that makes its
/// input (a 1×1, or any direct convolution such as a network's stem), or the 1×1 projection
/// that reads its output (with the projection's residual).
struct BandConv<'a> {
    geometry: &'a ConvGeometry,
    weights: Weights<'a>,
    epilogue: tensor::kernels::Epilogue<'a>,
    residual: Option<(&'a [f32], usize)>,
}

impl BandConv<'_> {
    /// Output rows `[o0, o1)` of image `img`, from the whole input `x`, into `y` (contiguous):
    /// the convolution over the input rows those output rows reach, with their share of the
    /// padding, so every value is the unbanded one.
    fn run_rows(
        &self,
        isa: tensor::kernels::Isa,
        img: usize,
        o0: usize,
        o1: usize,
        x: &[f32],
        y: &mut [f32],
    ) -> Result<()> {
        let g = self.geometry;
        let (h, w, cin) = (g.rows.input, g.cols.input, g.cin);
        // (A 1×1's rows are its input rows: `[o0, o1)`, no padding.)
        let (r0, r1, rows) = band_rows(&g.rows, o0, o1);
        let bg = tensor::ops::conv::ConvGeometry { n: 1, rows, ..*g };
        let pixels = (o1 - o0) * g.ow();
        let (x0, x1) = ((img * h + r0) * w * cin, (img * h + r1) * w * cin);
        if x.len() < x1 || y.len() < pixels * g.cout {
            return Err(KerasError::Invalid(format!(
                "plan: a banded expansion's input holds {} values ({x1} needed), its band {} ({} needed)",
                x.len(),
                y.len(),
                pixels * g.cout
            )));
        }
        conv2d(
            isa,
            ConvArgs {
                geometry: &bg,
                x: &x[x0..x1],
                weights: self.weights,
                epilogue: self.epilogue,
                residual: None,
                y: &mut y[..pixels * g.cout],
                y_stride: g.cout,
                prologue: None,
            },
        )?;
        Ok(())
    }

    /// Runs it over `rows` rows of `w` pixels of `x`, into `y` at `y_stride`, with the
    /// residual from pixel `p0` of the whole tensor.
    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        isa: tensor::kernels::Isa,
        rows: usize,
        w: usize,
        x: &[f32],
        y: &mut [f32],
        y_stride: usize,
        p0: usize,
    ) -> Result<()> {
        let (cin, cout) = (self.geometry.cin, self.geometry.cout);
        let g = tensor::ops::conv::conv2d_geometry(
            "plan",
            &[1, rows, w, cin],
            &[1, 1, cin, cout],
            &Conv2dParams::default(),
        )?;
        let pixels = rows * w;
        let residual = match self.residual {
            Some((r, rs)) => {
                let end = (p0 + pixels - 1) * rs + cout;
                if r.len() < end {
                    return Err(KerasError::Invalid(format!(
                        "plan: a banded projection's residual holds {} values, {end} needed",
                        r.len()
                    )));
                }
                Some((&r[p0 * rs..end], rs))
            }
            None => None,
        };
        conv2d(
            isa,
            ConvArgs {
                geometry: &g,
                x: &x[..pixels * cin],
                weights: self.weights,
                epilogue: self.epilogue,
                residual,
                y,
                y_stride,
                prologue: None,
            },
        )?;
        Ok(())
    }
}

/// Output rows `[o0, o1)` of a window along `axis`: the input rows `[r0, r1)` they read, and
/// their own axis (those rows, the part of the padding they reach, `o1 − o0` outputs).
fn band_rows(axis: &tensor::shape::AxisGeometry, o0: usize, o1: usize) -> (usize, usize, tensor::shape::AxisGeometry) {
    let lo = (o0 * axis.stride) as isize - axis.pad_before as isize;
    let hi = ((o1 - 1) * axis.stride + axis.effective_kernel()) as isize - axis.pad_before as isize;
    let r0 = lo.clamp(0, axis.input as isize) as usize;
    let r1 = (hi.clamp(0, axis.input as isize) as usize).max(r0);
    let band = tensor::shape::AxisGeometry {
        input: r1 - r0,
        pad_before: (r0 as isize - lo) as usize,
        pad_after: (hi - r1 as isize).max(0) as usize,
        output: o1 - o0,
        ..*axis
    };
    (r0, r1, band)
}

thread_local! {
    /// The expanded rows of the current band.
    static BAND: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
    /// The depthwise output of the current band, before its projection.
    static BAND_OUT: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// `dw` in bands of output rows, with a convolution before it, after it, or both, run on each
/// band while it is in cache:
/// - `expand`: `dw.x` is the expansion's input; each band's input rows are expanded into a
///   buffer (the rows it shares with the previous band moved to its front, not made again),
///   and the depthwise convolution reads them with the band's share of the padding;
/// - `project`: the depthwise output of each band goes to a buffer the projection reads, and
///   `dw.y` (at `dw.y_stride`) is the projection's output.
///
/// The workers split the images, and each image into as many parts of rows as make at least
/// four tasks a worker (claimed as they finish, so a core slowed by the machine's other load
/// takes fewer: MobileNetV2's block 1 at batch 1 in 8 parts ran 0.43–0.47 ms at the median
/// against 0.51–0.52 in 2, the same at the minimum). Each task runs its part band by band on
/// its own core, its kernels unsplit ([`tensor::kernels::team::serial`]), so a band is made,
/// read and projected in one core's caches (split over the workers, each band's rows crossed
/// between cores and banding did not pay at batch 1). A part recomputes the expanded rows its
/// first band shares with the part above. Every value is computed as unbanded: the same sums
/// in the same order.
fn banded(
    isa: tensor::kernels::Isa,
    expand: Option<&BandConv>,
    dw: DepthwiseArgs,
    project: Option<&BandConv>,
) -> Result<()> {
    let dg = dw.geometry;
    let (h, w, cin) = (dg.rows.input, dg.cols.input, dg.cin);
    // The depthwise input's rows: expanded ones, or the input's own.
    let (ce, x_cin) = match expand {
        Some(e) => (e.geometry.cout, e.geometry.cin),
        None => (cin, cin),
    };
    let rows = &dg.rows;
    let (oh, ow) = (dg.oh(), dg.ow());
    let row_len = w * ce;
    let reach = rows.effective_kernel();
    let mut per_band = oh.max(1);
    if expand.is_some() {
        let fit = (BAND_BYTES / (row_len * 4).max(1)).max(reach);
        per_band = per_band.min((fit - reach) / rows.stride + 1);
    }
    if project.is_some() {
        per_band = per_band.min(BAND_BYTES / (ow * dg.cout * 4).max(1));
    }
    let per_band = per_band.max(1);
    let x_pixels = match expand {
        Some(e) => e.geometry.rows.input * e.geometry.cols.input,
        None => h * w,
    };
    if dw.x.len() < dg.n * x_pixels * x_cin {
        return Err(KerasError::Invalid(format!(
            "plan: a banded depthwise step's input holds {} values, {} needed",
            dw.x.len(),
            dg.n * x_pixels * x_cin
        )));
    }
    let out_channels = project.map_or(dg.cout, |p| p.geometry.cout);
    let pixels = dg.n * oh * ow;
    if pixels == 0 {
        return Ok(());
    }
    let y_need = (pixels - 1) * dw.y_stride + out_channels;
    if dw.y_stride < out_channels || dw.y.len() < y_need {
        return Err(KerasError::Invalid(format!(
            "plan: a banded depthwise step's output holds {} values at pixel stride {}, {y_need} needed",
            dw.y.len(),
            dw.y_stride
        )));
    }
    let workers = tensor::kernels::threads();
    let parts = (1..=oh.max(1)).find(|p| dg.n * p >= 4 * workers).unwrap_or(oh.max(1));
    let band = Band {
        isa,
        expand,
        dg,
        w: dw.w,
        epilogue: dw.epilogue,
        project,
        x: dw.x,
        y: OutRows(dw.y.as_mut_ptr()),
        y_stride: dw.y_stride,
        out_channels,
        per_band,
        row_len,
    };
    let failed = std::sync::Mutex::new(None);
    tensor::kernels::team::for_each(dg.n * parts, 1, |t| {
        let (img, part) = (t / parts, t % parts);
        let (a, b) = (part * oh / parts, (part + 1) * oh / parts);
        // SAFETY: tasks run disjoint (image, rows) ranges, inside `dw.y` (checked above).
        if let Err(e) = tensor::kernels::team::serial(|| unsafe { band.run(img, a, b) }) {
            failed.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(e);
        }
    });
    match failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The output of a banded step, written by its tasks at disjoint pixels.
#[derive(Clone, Copy)]
struct OutRows(*mut f32);
// SAFETY: each task writes only its own pixels ([`Band::run`]).
unsafe impl Send for OutRows {}
unsafe impl Sync for OutRows {}

/// What every task of a [`banded`] step shares.
struct Band<'a> {
    isa: tensor::kernels::Isa,
    expand: Option<&'a BandConv<'a>>,
    dg: &'a tensor::ops::conv::ConvGeometry,
    w: &'a [f32],
    epilogue: tensor::kernels::Epilogue<'a>,
    project: Option<&'a BandConv<'a>>,
    x: &'a [f32],
    y: OutRows,
    y_stride: usize,
    out_channels: usize,
    per_band: usize,
    row_len: usize,
}

impl Band<'_> {
    /// Output rows `[a, b)` of image `img`, band by band, on this thread.
    ///
    /// # Safety
    /// `y` holds every pixel of the step at `y_stride`, and no other thread writes those of
    /// these rows meanwhile.
    unsafe fn run(&self, img: usize, a: usize, b: usize) -> Result<()> {
        let (dg, isa, row_len, rows) = (self.dg, self.isa, self.row_len, &self.dg.rows);
        let (h, oh, ow) = (rows.input, dg.oh(), dg.ow());
        let reach = rows.effective_kernel();
        BAND.with_borrow_mut(|band| -> Result<()> {
            BAND_OUT.with_borrow_mut(|band_out| -> Result<()> {
                if self.expand.is_some() {
                    let want = ((self.per_band - 1) * rows.stride + reach).min(h) * row_len;
                    if band.len() < want {
                        band.resize(want, 0.0);
                    }
                }
                if self.project.is_some() && band_out.len() < self.per_band * ow * dg.cout {
                    band_out.resize(self.per_band * ow * dg.cout, 0.0);
                }
                // Expanded input rows `[c0, c1)` of this image are in `band`.
                let (mut c0, mut c1) = (0usize, 0usize);
                for o0 in (a..b).step_by(self.per_band) {
                    let o1 = (o0 + self.per_band).min(b);
                    // The band's input rows, and its geometry: its rows and the padding it
                    // reaches.
                    let (r0, r1, band_rows) = band_rows(rows, o0, o1);
                    let band_x: &[f32] = match self.expand {
                        Some(e) => {
                            let kept = if c0 <= r0 && r0 < c1 { c1.min(r1) - r0 } else { 0 };
                            if kept > 0 {
                                band.copy_within((r0 - c0) * row_len..(r0 - c0 + kept) * row_len, 0);
                            }
                            let (m0, m1) = (r0 + kept, r1);
                            if m1 > m0 {
                                e.run_rows(isa, img, m0, m1, self.x, &mut band[kept * row_len..(m1 - r0) * row_len])?;
                            }
                            (c0, c1) = (r0, r1);
                            &band[..(r1 - r0) * row_len]
                        }
                        None => &self.x[(img * h + r0) * row_len..(img * h + r1) * row_len],
                    };
                    let mut bg = *dg;
                    bg.n = 1;
                    bg.rows = band_rows;
                    let p0 = (img * oh + o0) * ow;
                    let pixels = (o1 - o0) * ow;
                    // SAFETY: pixels `[p0, p0 + pixels)` are this task's, inside `y` (the
                    // caller's contract).
                    let y = std::slice::from_raw_parts_mut(
                        self.y.0.add(p0 * self.y_stride),
                        (pixels - 1) * self.y_stride + self.out_channels,
                    );
                    let (dy, dy_stride): (&mut [f32], usize) = match self.project {
                        Some(_) => (&mut band_out[..pixels * dg.cout], dg.cout),
                        None => (&mut *y, self.y_stride),
                    };
                    depthwise(
                        isa,
                        DepthwiseArgs {
                            geometry: &bg,
                            x: band_x,
                            w: self.w,
                            epilogue: self.epilogue,
                            y: dy,
                            y_stride: dy_stride,
                        },
                    )?;
                    if let Some(p) = self.project {
                        p.run(isa, o1 - o0, ow, band_out, y, self.y_stride, p0)?;
                    }
                }
                Ok(())
            })
        })
    }
}
