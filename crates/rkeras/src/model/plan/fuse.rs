//! The fusion rules, one function each. A rule looks at the step that produced a node's input
//! and, when that value has no other reader, changes the step instead of adding one; the node's
//! output then *is* that step's output. Every rule is exact up to float rounding (a folded
//! BatchNormalization multiplies the kernel instead of the output).

use super::build::{Builder, Storage};
use super::op::MergeKind;
use super::{ConvWeights, Loc, StepKind, ValueId};
use tensor::kernels::act::ActSpec;
use tensor::ops::conv::Conv2dParams;
use tensor::shape::absorb_zeros;
use tensor::{Padding, Tensor};

/// `(top, bottom), (left, right)` of a `ZeroPadding2D`.
type PadSides = ((usize, usize), (usize, usize));

/// Sets the activation of a step kind that has an epilogue (callers check it is linear).
pub(super) fn set_act(kind: &mut StepKind, a: ActSpec) {
    match kind {
        StepKind::Conv { act, .. }
        | StepKind::Depthwise { act, .. }
        | StepKind::Affine { act, .. }
        | StepKind::Pool { act, .. }
        | StepKind::Merge { act, .. } => *act = a,
        _ => {}
    }
}

fn act_of(kind: &StepKind) -> Option<&ActSpec> {
    match kind {
        StepKind::Conv { act, .. }
        | StepKind::Depthwise { act, .. }
        | StepKind::Affine { act, .. }
        | StepKind::Pool { act, .. }
        | StepKind::Merge { act, .. } => Some(act),
        _ => None,
    }
}

impl Builder<'_> {
    /// The `ZeroPadding2D` step that made `x` and its sides, when nothing else reads `x` (so a
    /// window op after it may take the zeros into its own padding).
    fn sole_pad(&self, x: ValueId) -> Option<(usize, PadSides)> {
        let si = self.producer[x]?;
        match self.steps[si].kind {
            StepKind::Pad { sides } if self.sole_use(x) => Some((si, sides)),
            _ => None,
        }
    }

    /// `ZeroPadding2D` → convolution: the convolution reads the unpadded input with the zeros
    /// added to its own padding (the pad step is dropped when nothing else reads it).
    pub fn take_pad(&mut self, x: ValueId, params: Conv2dParams, kernel: (usize, usize)) -> (ValueId, Conv2dParams) {
        let Some((si, (h, w))) = self.sole_pad(x) else {
            return (x, params);
        };
        let src = self.steps[si].inputs[0];
        let shape = &self.values[x].shape;
        let (Some(&ph), Some(&pw)) = (shape.get(1), shape.get(2)) else {
            return (x, params);
        };
        let rows = absorb_zeros(params.padding.0, ph, kernel.0, params.strides.0, params.dilation.0, h);
        let cols = absorb_zeros(params.padding.1, pw, kernel.1, params.strides.1, params.dilation.1, w);
        let (Some(rows), Some(cols)) = (rows, cols) else {
            return (x, params);
        };
        self.steps[si].dead = true;
        (
            src,
            Conv2dParams {
                padding: (rows, cols),
                ..params
            },
        )
    }

    /// `ZeroPadding2D` → pooling without padding of its own (ResNet's and DenseNet's stem):
    /// the pool reads the unpadded input and counts the padding as zeros
    /// ([`tensor::kernels::pointwise::pool2d`]); the same zeros on every side of both axes
    /// (one explicit padding for both). The pool's geometry, on the pad's input.
    pub fn take_pad_pool(
        &mut self,
        x: ValueId,
        pool_size: (usize, usize),
        strides: (usize, usize),
        padding: Padding,
    ) -> Option<(ValueId, tensor::ops::pool::Pool2dGeometry)> {
        let (si, (h, w)) = self.sole_pad(x)?;
        if h.0 != h.1 || w != h {
            return None;
        }
        // The pool's own padding (skipped, not zeros) must be none.
        let own =
            tensor::ops::pool::pool2d_geometry("plan", &self.values[x].shape, pool_size, strides, padding).ok()?;
        if own.rows.pad_before + own.rows.pad_after + own.cols.pad_before + own.cols.pad_after != 0 {
            return None;
        }
        let src = self.steps[si].inputs[0];
        let geometry = tensor::ops::pool::pool2d_geometry(
            "plan",
            &self.values[src].shape,
            pool_size,
            strides,
            Padding::Explicit(h.0, h.1),
        )
        .ok()?;
        if geometry.output_shape() != own.output_shape() {
            return None;
        }
        self.steps[si].dead = true;
        Some((src, geometry))
    }

    /// `BatchNormalization` (`y = x·scale + shift` per channel) folded into the convolution,
    /// depthwise convolution or dense product that made `x`: kernel column `c` times
    /// `scale[c]`, bias `b·scale + shift`.
    pub fn fold_affine(&mut self, x: ValueId, scale: &[f32], shift: &[f32], uses: usize, out: bool) -> Option<ValueId> {
        let si = self.producer[x]?;
        if !self.sole_use(x) {
            return None;
        }
        let step = &mut self.steps[si];
        if !act_of(&step.kind).is_some_and(|a| a.is_linear()) {
            return None;
        }
        let c = scale.len();
        let fold_bias = |bias: &mut Option<Vec<f32>>| {
            let b = bias.get_or_insert_with(|| vec![0.0; c]);
            for ((b, s), t) in b.iter_mut().zip(scale).zip(shift) {
                *b = *b * s + t;
            }
        };
        match &mut step.kind {
            StepKind::Conv {
                geometry,
                weights: ConvWeights::Raw(k),
                bias,
                residual: None,
                ..
            } if geometry.cout == c => {
                let mut data = k.data().to_vec();
                for row in data.chunks_exact_mut(c) {
                    for (v, s) in row.iter_mut().zip(scale) {
                        *v *= s;
                    }
                }
                *k = Tensor::new(k.shape(), data).ok()?;
                fold_bias(bias);
            }
            StepKind::Depthwise {
                geometry, kernel, bias, ..
            } if geometry.cout == c => {
                for row in kernel.chunks_exact_mut(c) {
                    for (v, s) in row.iter_mut().zip(scale) {
                        *v *= s;
                    }
                }
                fold_bias(bias);
            }
            _ => return None,
        }
        self.uses[x] = uses;
        self.is_output[x] = out;
        Some(x)
    }

    /// An element-wise activation into the epilogue of the step that made `x`.
    pub fn fuse_act(&mut self, x: ValueId, a: ActSpec, uses: usize, out: bool) -> Option<ValueId> {
        let si = self.producer[x]?;
        if !self.sole_use(x) || !act_of(&self.steps[si].kind).is_some_and(|a| a.is_linear()) {
            return None;
        }
        set_act(&mut self.steps[si].kind, a);
        self.uses[x] = uses;
        self.is_output[x] = out;
        Some(x)
    }

    /// `Add(a, b)` into the convolution that made one input, reading the other as its residual
    /// (which must already exist when that convolution runs).
    pub fn fuse_add(&mut self, kind: MergeKind, ins: &[ValueId], uses: usize, out: bool) -> Option<ValueId> {
        if kind != MergeKind::Add || ins.len() != 2 {
            return None;
        }
        // Prefer the input made last, so the other is surely computed before it.
        let mut order = [(ins[0], ins[1]), (ins[1], ins[0])];
        order.sort_by_key(|&(a, _)| std::cmp::Reverse(self.producer[a]));
        for (a, b) in order {
            let Some(si) = self.producer[a] else { continue };
            if a == b || !self.sole_use(a) {
                continue;
            }
            let b_ready = match self.producer[b] {
                None => true,
                Some(bi) => bi < si,
            };
            if !b_ready || matches!(self.storage[b], Storage::Region { .. }) {
                continue;
            }
            if let StepKind::Conv { act, residual, .. } = &mut self.steps[si].kind {
                if act.is_linear() && residual.is_none() {
                    *residual = Some(b);
                    self.steps[si].inputs.push(b);
                    self.uses[a] = uses;
                    self.is_output[a] = out;
                    return Some(a);
                }
            }
        }
        None
    }

    /// Whether `x`, itself a concatenation, can live inside the one now built: its other
    /// readers, all already planned, are channel affines (which read strided pixels). A
    /// DenseNet block's concatenations then share one buffer, each the leading channels of
    /// the next, instead of each copying the last (a block's copies grow with its square).
    fn chains_into_concat(&self, x: ValueId) -> bool {
        // A concatenation's value: its own buffer, written by no step of its own.
        let concat = matches!(self.storage[x], Storage::Own)
            && self.producer[x].is_none()
            && matches!(self.values[x].loc, Loc::Input(usize::MAX));
        if !concat || self.is_output[x] {
            return false;
        }
        let readers: Vec<&super::Step> = self.steps.iter().filter(|s| !s.dead && s.inputs.contains(&x)).collect();
        readers.len() + 1 == self.uses[x] && readers.iter().all(|s| matches!(s.kind, StepKind::Affine { .. }))
    }

    /// `Concatenate` on the last axis: each input made by a convolution with no other reader
    /// is written by it straight into its channel slice, and a concatenation read only by
    /// channel affines is placed there whole; the others are copied there.
    pub fn concat(&mut self, ins: &[ValueId], shape: Vec<usize>, name: &str, uses: usize, out: bool) -> ValueId {
        let v = self.new_value(shape.clone(), uses, out);
        let mut offset = 0;
        for &x in ins {
            let c = self.values[x].channels();
            let writes_strided = self.producer[x]
                .is_some_and(|si| matches!(self.steps[si].kind, StepKind::Conv { .. } | StepKind::Depthwise { .. }));
            if writes_strided && self.sole_use(x) || self.chains_into_concat(x) {
                self.storage[x] = Storage::Region { of: v, offset };
            } else {
                let region = self.new_value(self.values[x].shape.clone(), 0, false);
                self.storage[region] = Storage::Region { of: v, offset };
                self.producer[region] = Some(self.steps.len());
                self.steps.push(super::Step {
                    kind: StepKind::Copy,
                    inputs: vec![x],
                    output: region,
                    layer: name.to_string(),
                    dead: false,
                });
            }
            offset += c;
        }
        v
    }

    /// The first live step that reads `v` (its only one where `v` has one use).
    fn reader(&self, v: ValueId) -> Option<usize> {
        self.steps.iter().position(|s| !s.dead && s.inputs.contains(&v))
    }

    /// Average pooling that keeps the image's size → 1×1 convolution (InceptionV3's pool
    /// branches: a 3×3 `same` average of 192–2048 channels, then a 1×1 to 32–192): the
    /// convolution runs first on the pool's input and the pool averages its fewer channels,
    /// with the convolution's activation after it. A 1×1 convolution is the same linear map at
    /// every pixel and Keras's average (padding skipped) has weights that sum to one, so
    /// `act(avg(x)·W + b) = act(avg(x·W + b))`, up to rounding. The steps trade places (the
    /// convolution where the pool was, the pool where the convolution was: nothing between
    /// reads either's output), and the pool writes where the convolution wrote (a
    /// concatenation's slice). Runs before the weights are packed.
    pub fn pool_after_pointwise(&mut self) {
        for pi in 0..self.steps.len() {
            let StepKind::Pool {
                geometry: pg,
                max: false,
                zeros: false,
                act,
            } = &self.steps[pi].kind
            else {
                continue;
            };
            let pooled = self.steps[pi].output;
            let keeps_size = pg.rows.output == pg.h && pg.cols.output == pg.w;
            if self.steps[pi].dead || !act.is_linear() || !keeps_size || !self.sole_use(pooled) {
                continue;
            }
            let Some(ci) = self.reader(pooled) else {
                continue;
            };
            let StepKind::Conv {
                geometry: cg,
                residual: None,
                prologue: None,
                act: conv_act,
                ..
            } = &self.steps[ci].kind
            else {
                continue;
            };
            if !cg.is_pointwise() || cg.groups != 1 || cg.cout >= pg.c || self.steps[ci].inputs != [pooled] {
                continue;
            }
            let (cout, conv_act, pool_geometry) = (cg.cout, *conv_act, *pg);
            let out = self.steps[ci].output;
            let mut shape = self.values[pooled].shape.clone();
            if let Some(c) = shape.last_mut() {
                *c = cout;
            }
            let mixed = self.new_value(shape, 1, false);
            let src = self.steps[pi].inputs[0];
            self.steps.swap(pi, ci);
            // Now `pi` is the convolution, `ci` the pool.
            self.steps[pi].inputs = vec![src];
            self.steps[pi].output = mixed;
            if let StepKind::Conv { act, .. } = &mut self.steps[pi].kind {
                *act = ActSpec::LINEAR;
            }
            self.steps[ci].inputs = vec![mixed];
            self.steps[ci].output = out;
            self.steps[ci].kind = StepKind::Pool {
                geometry: tensor::ops::pool::Pool2dGeometry {
                    c: cout,
                    ..pool_geometry
                },
                max: false,
                zeros: false,
                act: conv_act,
            };
            self.producer[mixed] = Some(pi);
            self.producer[out] = Some(ci);
            self.producer[pooled] = None;
            self.uses[pooled] = 0;
        }
    }

    /// 1×1 convolution → depthwise convolution whose expanded tensor is large (MobileNetV2's
    /// inverted residuals), or a network's stem (a direct k×k convolution: MobileNetV2's 3×3/2
    /// from 3 channels, then its first depthwise): the depthwise step makes its input in bands
    /// of rows from the convolution's input ([`super::exec`]'s banded run), so the expansion
    /// stays in cache instead of being written whole and read back. Winograd weights stay
    /// unbanded (a band's tiles would start at other rows and round differently). Runs after
    /// the weights are packed.
    pub fn band_expansions(&mut self) {
        for di in 0..self.steps.len() {
            let StepKind::Depthwise {
                geometry: dg,
                expand: None,
                ..
            } = &self.steps[di].kind
            else {
                continue;
            };
            if self.steps[di].dead {
                continue;
            }
            let v = self.steps[di].inputs[0];
            let Some(ci) = self.producer[v] else { continue };
            let StepKind::Conv {
                geometry: cg,
                residual: None,
                prologue: None,
                weights,
                ..
            } = &self.steps[ci].kind
            else {
                continue;
            };
            let bandable = cg.groups == 1 && !matches!(weights, ConvWeights::Winograd(_));
            let same_image = cg.n == dg.n && cg.oh() == dg.rows.input && cg.ow() == dg.cols.input && cg.cout == dg.cin;
            // Large enough in all (not cached whole) and per image (bands are per image: many
            // small images would only add kernel calls).
            let image = cg.oh() * cg.ow() * cg.cout * 4;
            let large = image >= super::exec::BAND_BYTES && cg.n * image >= super::exec::BAND_MIN_TOTAL;
            if !bandable || !same_image || !self.sole_use(v) || self.steps[ci].dead || !large {
                continue;
            }
            let src = self.steps[ci].inputs[0];
            self.steps[ci].dead = true;
            self.steps[di].inputs[0] = src;
            if let StepKind::Depthwise { expand, .. } = &mut self.steps[di].kind {
                *expand = Some(ci);
            }
        }
    }

    /// Depthwise convolution → 1×1 convolution (MobileNetV2's projections), where the
    /// depthwise output is large: the depthwise step hands each band of its output rows to
    /// the projection while it is in cache ([`super::exec`]'s banded run) and writes the
    /// projection's output, so the depthwise output is never written whole and read back.
    /// Runs after [`Self::band_expansions`] (a step may do both).
    pub fn band_projections(&mut self) {
        for di in 0..self.steps.len() {
            let StepKind::Depthwise {
                geometry: dg,
                project: None,
                ..
            } = &self.steps[di].kind
            else {
                continue;
            };
            let v = self.steps[di].output;
            if self.steps[di].dead || !self.sole_use(v) {
                continue;
            }
            let Some(pi) = self.reader(v).filter(|&pi| self.steps[pi].inputs.first() == Some(&v)) else {
                continue;
            };
            let StepKind::Conv {
                geometry: pg, residual, ..
            } = &self.steps[pi].kind
            else {
                continue;
            };
            let same_image = pg.n == dg.n && pg.rows.input == dg.oh() && pg.cols.input == dg.ow() && pg.cin == dg.cout;
            let bytes = dg.n * dg.oh() * dg.ow() * dg.cout * 4;
            if !pg.is_pointwise() || !same_image || pg.groups != 1 || bytes < super::exec::PROJECT_BAND_MIN_TOTAL {
                continue;
            }
            let residual = *residual;
            let out = self.steps[pi].output;
            self.steps[pi].dead = true;
            self.steps[di].output = out;
            self.producer[out] = Some(di);
            if let Some(r) = residual {
                self.steps[di].inputs.push(r);
            }
            if let StepKind::Depthwise { project, .. } = &mut self.steps[di].kind {
                *project = Some(pi);
            }
        }
    }

    /// Channel affine (+ clamp) → 1×1 convolution that alone reads it (DenseNet's BN + ReLU
    /// before each layer's bottleneck, over the block's concatenation): the convolution maps
    /// its input as it reads it ([`tensor::kernels::conv::Prologue`]), straight from the
    /// affine's own (possibly strided) input, so the normalized tensor is never written whole
    /// and read back. The same arithmetic per value. Runs after the banding rules.
    pub fn input_maps(&mut self) {
        for ai in 0..self.steps.len() {
            let StepKind::Affine { act, .. } = &self.steps[ai].kind else {
                continue;
            };
            let v = self.steps[ai].output;
            if self.steps[ai].dead || act.post.is_some() || !self.sole_use(v) {
                continue;
            }
            let Some(ci) = self.reader(v) else {
                continue;
            };
            let conv = &self.steps[ci];
            let StepKind::Conv {
                geometry,
                prologue: None,
                ..
            } = &conv.kind
            else {
                continue;
            };
            if !geometry.is_pointwise()
                || conv.inputs.iter().position(|&i| i == v) != Some(0)
                || conv.inputs[1..].contains(&v)
            {
                continue;
            }
            let src = self.steps[ai].inputs[0];
            // The affine's maps move into the convolution, and the affine step is dropped.
            let (scale, shift, act) = match std::mem::replace(&mut self.steps[ai].kind, StepKind::Copy) {
                StepKind::Affine { scale, shift, act } => (scale, shift, act),
                other => {
                    self.steps[ai].kind = other;
                    continue;
                }
            };
            self.steps[ai].dead = true;
            self.steps[ci].inputs[0] = src;
            if let StepKind::Conv { prologue, .. } = &mut self.steps[ci].kind {
                *prologue = Some(Box::new(super::InputMap { scale, shift, act }));
            }
        }
    }
}
