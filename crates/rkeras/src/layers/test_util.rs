//! Helpers the layer-family tests share: building a config for one input shape, running a
//! built layer forward on values, finite-difference gradient checks, and error messages.

use super::{CallCtx, Layer, LayerConfig};
use crate::error::Result;
use crate::kshape::Shape;
use tensor::gradcheck::check_gradients;
use tensor::{Rng, Tape, Tensor, Var};

/// One image-shaped input `(None, h, w, c)`.
pub(crate) fn img(h: usize, w: usize, c: usize) -> Vec<Shape> {
    vec![crate::kshape::batched(&[h, w, c])]
}

/// Builds a config for one input shape, named `name`.
pub(crate) fn build(cfg: &dyn LayerConfig, name: &str, shape: Shape) -> Result<Box<dyn Layer>> {
    cfg.build(name, &[shape], &mut Rng::new(1))
}

/// The message of an expected error.
pub(crate) fn err<T>(r: Result<T>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

/// What one forward pass gives: outputs, extra losses (values) and weight updates.
pub(crate) struct Run {
    pub out: Vec<Tensor>,
    pub losses: Vec<f32>,
    pub updates: Vec<(usize, Tensor)>,
}

/// Runs a built layer on concrete inputs with its own weights.
pub(crate) fn run(layer: &dyn Layer, inputs: &[Tensor], training: bool) -> Result<Run> {
    let mut tape = Tape::new();
    let mut rng = Rng::new(3);
    let mut ctx = CallCtx::new(&mut tape, &mut rng, training);
    let xs: Vec<Var> = inputs.iter().map(|t| ctx.tape.constant(t.clone())).collect();
    let ws: Vec<Var> = layer
        .weights()
        .iter()
        .map(|w| ctx.tape.param(w.value.clone()))
        .collect();
    let outs = layer.call(&mut ctx, &xs, &ws)?;
    let losses = ctx.losses.clone();
    let updates = std::mem::take(&mut ctx.updates);
    Ok(Run {
        out: outs.iter().map(|v| tape.value(*v).clone()).collect(),
        losses: losses.iter().map(|v| tape.value(*v).data()[0]).collect(),
        updates,
    })
}

/// Finite-difference check of a layer's gradients for its inputs and trainable weights
/// together (non-trainable weights, such as moving statistics, enter as constants).
pub(crate) fn grad_check(layer: &dyn Layer, inputs: &[Tensor], training: bool) {
    let n_in = inputs.len();
    let weights = layer.weights();
    let mut all: Vec<Tensor> = inputs.to_vec();
    all.extend(weights.iter().filter(|w| w.trainable).map(|w| w.value.clone()));
    let worst = check_gradients(
        &all,
        |tape, vars| {
            let mut trainable = vars[n_in..].iter();
            let ws: Vec<Var> = weights
                .iter()
                .map(|w| {
                    if w.trainable {
                        trainable
                            .next()
                            .copied()
                            .unwrap_or_else(|| tape.constant(w.value.clone()))
                    } else {
                        tape.constant(w.value.clone())
                    }
                })
                .collect();
            let mut rng = Rng::new(5);
            let mut ctx = CallCtx::new(tape, &mut rng, training);
            let out = layer
                .call(&mut ctx, &vars[..n_in], &ws)
                .map_err(|e| tensor::TensorError::Autograd(e.to_string()))?;
            Ok(out[0])
        },
        1e-2,
        2e-2,
    );
    if let Err(e) = worst {
        panic!("{}: {e}", layer.name());
    }
}

/// Asserts `a ≈ b` elementwise (1e-5, relative to `b`).
pub(crate) fn close(a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= 1e-5 * (1.0 + y.abs()), "{a:?} vs {b:?}");
    }
}

/// Gives `to` the weight values of `from` (same order and shapes), as `set_weights` does.
pub(crate) fn copy_weights(from: &dyn Layer, to: &mut dyn Layer) {
    let values = to
        .weights()
        .iter()
        .zip(from.weights())
        .map(|(a, b)| (a.id, b.value.clone()))
        .collect();
    to.set_weights_by_id(&values);
}

/// The output of a single-input layer on `x`, in inference mode.
pub(crate) fn forward(layer: &dyn Layer, x: Tensor) -> Tensor {
    match run(layer, &[x], false) {
        Ok(mut r) => r.out.remove(0),
        Err(e) => panic!("{}: {e}", layer.name()),
    }
}
