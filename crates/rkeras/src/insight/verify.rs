//! `rkeras verify`: every layer of a model checked two ways on random inputs of its shapes.
//!
//! 1. **Forward**: the layer's own call (the fast kernels: GEMM convolutions, fused
//!    epilogues, tiled pooling) against [`super::reference::forward`], the naive
//!    loop-over-windows kernels; max absolute error and max relative error
//!    `|a − b| / max(1, |b|)`; pass when the relative error is at most `forward_tol`.
//! 2. **Gradients**: for the input and every trainable weight `t`, the tape's gradient of
//!    `F = Σ r·layer(x)` (fixed random `r`) along a random direction `v`, against the central
//!    difference `(F(t + εv) − F(t − εv)) / 2ε` in f64 sums; pass when the relative error is
//!    at most `grad_tol`, over 8 random coordinates of each tensor as a vector,
//!    `‖a − n‖ / max(‖a‖, ‖n‖)`. A coordinate sitting on a kink (ReLU at 0, a tie of a
//!    max), where the two one-sided differences disagree, is replaced by another. The
//!    default 2e-2 allows for f32 forward passes and for the few of the thousands of ReLU
//!    inputs a kernel or bias entry moves that cross the kink inside the step (the worst
//!    layer of all applications at 75×75 measures 1.5e-2, VGG19's first convolution); real
//!    gradient bugs (a sign, a missing term, a wrong index) give errors near 1.
//!
//! Inference mode (BatchNormalization uses its moving statistics, Dropout is off).

use super::reference;
use crate::error::{KerasError, Result};
use crate::kshape::Shape;
use crate::layers::{CallCtx, Layer};
use crate::model::Model;
use tensor::{Rng, Tape, Tensor, Var};

/// Finite-difference step, relative to the tensor's RMS.
const EPS: f64 = 1e-3;
/// Coordinates checked per tensor.
const COORDS: usize = 8;
/// Draws per coordinate before a kink is accepted.
const KINK_TRIES: usize = 4;

/// Options of [`verify`].
#[derive(Debug, Clone, PartialEq)]
pub struct VerifyOptions {
    /// Batch size of the random inputs (the gradient check uses this too).
    pub batch: usize,
    /// Seed of the random inputs and directions.
    pub seed: u64,
    /// Largest relative forward error that passes.
    pub forward_tol: f64,
    /// Largest relative gradient error that passes.
    pub grad_tol: f64,
    /// Check gradients (off: forward only).
    pub gradients: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            batch: 2,
            seed: 0,
            forward_tol: 1e-4,
            grad_tol: 2e-2,
            gradients: true,
        }
    }
}

/// The result for one layer.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerCheck {
    /// Layer name (`outer/inner` inside a nested model).
    pub name: String,
    /// Keras class name.
    pub class_name: String,
    /// Max absolute and relative forward error; `None` when no reference covers the layer.
    pub forward: Option<(f64, f64)>,
    /// Worst relative gradient error over the input and the weights; `None` when the layer
    /// has nothing to differentiate.
    pub gradient: Option<f64>,
    /// Whether every check made passed.
    pub passed: bool,
}

/// Verifies every layer of `model` (first call of each; nested models layer by layer).
pub fn verify(model: &Model, opts: &VerifyOptions) -> Result<Vec<LayerCheck>> {
    let mut rng = Rng::new(opts.seed);
    let mut out = Vec::new();
    walk(model, "", opts, &mut rng, &mut out)?;
    Ok(out)
}

fn walk(model: &Model, prefix: &str, opts: &VerifyOptions, rng: &mut Rng, out: &mut Vec<LayerCheck>) -> Result<()> {
    let mut seen = vec![false; model.all_layers().len()];
    let graph = model.nodes();
    for node in graph {
        let layer = model.all_layers()[node.layer].as_ref();
        if seen[node.layer] || layer.class_name() == "InputLayer" {
            continue;
        }
        seen[node.layer] = true;
        if let Some(inner) = layer.as_model() {
            walk(inner, &format!("{prefix}{}/", layer.name()), opts, rng, out)?;
            continue;
        }
        let shapes: Vec<Shape> = node
            .inputs
            .iter()
            .map(|&(src, idx)| graph[src].output_shapes[idx].clone())
            .collect();
        let inputs = shapes
            .iter()
            .map(|s| random_input(layer.name(), s, opts.batch, rng))
            .collect::<Result<Vec<_>>>()?;
        let mut check = check_layer(layer, &inputs, opts, rng)?;
        check.name = format!("{prefix}{}", check.name);
        out.push(check);
    }
    Ok(())
}

fn random_input(layer: &str, shape: &Shape, batch: usize, rng: &mut Rng) -> Result<Tensor> {
    let mut dims = vec![batch];
    for (k, d) in shape.iter().enumerate().skip(1) {
        dims.push(d.ok_or_else(|| {
            KerasError::Invalid(format!(
                "verify: layer {layer}: input dimension {k} is not known (None); give the model a fixed input shape"
            ))
        })?);
    }
    let n: usize = dims.iter().product();
    Ok(Tensor::new(&dims, (0..n).map(|_| rng.normal() as f32).collect())?)
}

/// The layer's own forward pass (fast kernels), inference mode.
fn fast_forward(layer: &dyn Layer, inputs: &[Tensor]) -> Result<Tensor> {
    let mut tape = Tape::inference();
    let mut rng = Rng::new(0);
    let mut ctx = CallCtx::new(&mut tape, &mut rng, false);
    let xs: Vec<Var> = inputs.iter().map(|t| ctx.tape.constant(t.clone())).collect();
    let ws: Vec<Var> = layer
        .weights()
        .iter()
        .map(|w| ctx.tape.constant(w.value.clone()))
        .collect();
    let ys = layer.call(&mut ctx, &xs, &ws)?;
    let y = ys
        .first()
        .ok_or_else(|| KerasError::Invalid(format!("verify: layer {} returned no output", layer.name())))?;
    Ok(tape.value(*y).clone())
}

/// Checks one layer on `inputs`.
pub fn check_layer(layer: &dyn Layer, inputs: &[Tensor], opts: &VerifyOptions, rng: &mut Rng) -> Result<LayerCheck> {
    let fast = fast_forward(layer, inputs)?;
    let forward = match reference::forward(layer, inputs)? {
        Some(naive) => Some(compare(layer.name(), &fast, &naive)?),
        None => None,
    };
    let gradient = if opts.gradients {
        gradient_error(layer, inputs, rng)?
    } else {
        None
    };
    let passed = forward.is_none_or(|(_, rel)| rel <= opts.forward_tol) && gradient.is_none_or(|g| g <= opts.grad_tol);
    Ok(LayerCheck {
        name: layer.name().to_string(),
        class_name: layer.class_name().to_string(),
        forward,
        gradient,
        passed,
    })
}

fn compare(layer: &str, a: &Tensor, b: &Tensor) -> Result<(f64, f64)> {
    if a.shape() != b.shape() {
        return Err(KerasError::Invalid(format!(
            "verify: layer {layer}: fast output shape {:?} differs from the reference's {:?}",
            a.shape(),
            b.shape()
        )));
    }
    let mut abs = 0.0f64;
    let mut rel = 0.0f64;
    for (&x, &y) in a.data().iter().zip(b.data()) {
        let d = (f64::from(x) - f64::from(y)).abs();
        let d = if d.is_nan() { f64::INFINITY } else { d };
        abs = abs.max(d);
        rel = rel.max(d / f64::from(y).abs().max(1.0));
    }
    Ok((abs, rel))
}

/// `F = Σ r·f` of the layer's first output, in f64, with `values` for inputs then weights.
fn objective(layer: &dyn Layer, n_in: usize, values: &[Tensor], r: &Tensor) -> Result<f64> {
    let mut tape = Tape::inference();
    let mut rng = Rng::new(0);
    let mut ctx = CallCtx::new(&mut tape, &mut rng, false);
    let vars: Vec<Var> = values.iter().map(|t| ctx.tape.constant(t.clone())).collect();
    let ys = layer.call(&mut ctx, &vars[..n_in], &vars[n_in..])?;
    let y = tape.value(ys[0]);
    Ok(y.data()
        .iter()
        .zip(r.data())
        .map(|(a, b)| f64::from(*a) * f64::from(*b))
        .sum())
}

/// Worst relative error of directional derivatives over the inputs and trainable weights.
fn gradient_error(layer: &dyn Layer, inputs: &[Tensor], rng: &mut Rng) -> Result<Option<f64>> {
    let weights = layer.weights();
    let n_in = inputs.len();
    let mut values: Vec<Tensor> = inputs.to_vec();
    values.extend(weights.iter().map(|w| w.value.clone()));
    let mut tape = Tape::new();
    let mut crng = Rng::new(0);
    let mut ctx = CallCtx::new(&mut tape, &mut crng, false);
    let vars: Vec<Var> = values.iter().map(|t| ctx.tape.param(t.clone())).collect();
    let ys = layer.call(&mut ctx, &vars[..n_in], &vars[n_in..])?;
    let y = ys[0];
    let shape = tape.value(y).shape().to_vec();
    let r = Tensor::new(
        &shape,
        (0..tape.value(y).len())
            .map(|_| rng.uniform_range(-1.0, 1.0) as f32)
            .collect(),
    )?;
    let grads = tape.backward_with(y, r.clone())?;
    let mut worst: Option<f64> = None;
    for k in 0..values.len() {
        if k >= n_in && !weights[k - n_in].trainable {
            continue;
        }
        let t = &values[k];
        if t.is_empty() {
            continue;
        }
        let g = match grads.get(vars[k]) {
            Some(g) => g.clone(),
            None => Tensor::zeros(t.shape()),
        };
        let rms = (t.data().iter().map(|x| f64::from(*x).powi(2)).sum::<f64>() / t.len() as f64).sqrt();
        let eps = EPS * rms.max(0.1);
        let (mut diff2, mut a2, mut n2) = (0.0f64, 0.0f64, 0.0f64);
        let centre = objective(layer, n_in, &values, &r)?;
        for _ in 0..COORDS.min(t.len()) {
            // A coordinate on a kink (ReLU at 0, a max tie) has no derivative to check: when
            // the one-sided differences disagree, another coordinate is drawn.
            let mut sample = None;
            for _ in 0..KINK_TRIES {
                let i = (rng.uniform_range(0.0, 1.0) * t.len() as f64) as usize % t.len();
                let shifted = |sign: f64| -> Result<(f64, f64)> {
                    let mut vals = values.clone();
                    let mut d = t.data().to_vec();
                    d[i] = (f64::from(d[i]) + sign * eps) as f32;
                    // The step actually taken in f32.
                    let step = (f64::from(d[i]) - f64::from(t.data()[i])).abs();
                    vals[k] = Tensor::new(t.shape(), d)?;
                    Ok((objective(layer, n_in, &vals, &r)?, step))
                };
                let ((plus, up), (minus, down)) = (shifted(1.0)?, shifted(-1.0)?);
                let (dp, dm) = ((plus - centre) / up, (centre - minus) / down);
                let numeric = (plus - minus) / (up + down);
                sample = Some((i, numeric));
                if (dp - dm).abs() <= 0.1 * dp.abs().max(dm.abs()) {
                    break;
                }
            }
            let Some((i, numeric)) = sample else { continue };
            let analytic = f64::from(g.data()[i]);
            diff2 += (analytic - numeric).powi(2);
            a2 += analytic.powi(2);
            n2 += numeric.powi(2);
        }
        let e = diff2.sqrt() / a2.sqrt().max(n2.sqrt()).max(1e-12);
        let err = if e.is_nan() { f64::INFINITY } else { e };
        worst = Some(worst.map_or(err, |w: f64| w.max(err)));
    }
    Ok(worst)
}

/// The verify table: one row per layer and a verdict line.
pub fn render(checks: &[LayerCheck], opts: &VerifyOptions) -> String {
    let name_w = checks
        .iter()
        .map(|c| c.name.chars().count() + c.class_name.len() + 3)
        .max()
        .unwrap_or(10)
        .max(12);
    let mut s = format!(
        "{:<name_w$}  {:>12}  {:>12}  {:>12}  {}\n",
        "Layer (type)", "fwd max abs", "fwd max rel", "grad rel", "result"
    );
    s.push_str(&"─".repeat(name_w + 50));
    s.push('\n');
    let sci = |x: f64| format!("{x:.2e}");
    for c in checks {
        let (a, r) = c
            .forward
            .map_or(("no reference".to_string(), "-".to_string()), |(a, r)| (sci(a), sci(r)));
        let g = c.gradient.map_or("-".to_string(), sci);
        s.push_str(&format!(
            "{:<name_w$}  {a:>12}  {r:>12}  {g:>12}  {}\n",
            format!("{} ({})", c.name, c.class_name),
            if c.passed { "PASS" } else { "FAIL" }
        ));
    }
    let failed: Vec<&str> = checks.iter().filter(|c| !c.passed).map(|c| c.name.as_str()).collect();
    let unref = checks.iter().filter(|c| c.forward.is_none()).count();
    s.push_str(&format!(
        "{} layers, batch {}: forward tolerance {:.0e} (relative), gradient tolerance {:.0e}; {} without a naive reference (gradients checked)\n",
        checks.len(),
        opts.batch,
        opts.forward_tol,
        opts.grad_tol,
        unref
    ));
    if failed.is_empty() {
        s.push_str("PASS: every layer\n");
    } else {
        s.push_str(&format!("FAIL: {}\n", failed.join(", ")));
    }
    s
}
