//! The layer contract, run over every entry of the registry table: the inferred output shape
//! equals the real one, weights are named and counted, the Keras config round-trips through
//! JSON to an identical layer, and one training step (gradients of a loss, an SGD update)
//! moves every trainable weight's layer output. A new layer is one file plus one registry
//! line, and this test then covers it.

use rkeras::config::ConfigReader;
use rkeras::kshape::Shape;
use rkeras::layers::registry::REGISTRY;
use rkeras::layers::{CallCtx, Layer};
use tensor::{Rng, Tape, Tensor, Var};

/// A concrete batch of 2 for a symbolic shape.
fn sample(shape: &Shape, rng: &mut Rng) -> Tensor {
    let dims: Vec<usize> = shape
        .iter()
        .enumerate()
        .map(|(i, d)| if i == 0 { 2 } else { d.unwrap_or(3) })
        .collect();
    let n: usize = dims.iter().product();
    Tensor::new(&dims, (0..n).map(|_| rng.uniform_range(-1.0, 1.0) as f32).collect()).unwrap()
}

/// Runs the layer; returns the tape, outputs and weight variables (inputs are the first
/// variables on the tape).
fn run(layer: &dyn Layer, inputs: &[Tensor], training: bool) -> (Tape, Vec<Var>, Vec<Var>) {
    let mut tape = Tape::new();
    let mut rng = Rng::new(5);
    let ins: Vec<Var> = inputs.iter().map(|t| tape.param(t.clone())).collect();
    let ws: Vec<Var> = layer.weights().iter().map(|w| tape.param(w.value.clone())).collect();
    let mut ctx = CallCtx::new(&mut tape, &mut rng, training);
    let outs = layer
        .call(&mut ctx, &ins, &ws)
        .unwrap_or_else(|e| panic!("{}: call: {e}", layer.class_name()));
    (tape, outs, ws)
}

#[test]
fn every_registered_layer_keeps_the_contract() {
    assert!(REGISTRY.len() >= 30, "registry has {} entries", REGISTRY.len());
    let mut rng = Rng::new(1);
    for entry in REGISTRY {
        let class = entry.class_name;
        let (config, shapes) = (entry.example)();
        assert_eq!(config.class_name(), class, "registry line and config disagree");
        let layer = config
            .build("probe", &shapes, &mut rng)
            .unwrap_or_else(|e| panic!("{class}: build: {e}"));
        assert_eq!(layer.class_name(), class);
        assert_eq!(layer.name(), "probe");

        // Weights: named, unique names, counted.
        let names: Vec<&str> = layer.weights().iter().map(|w| w.name.as_str()).collect();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{class}: weight names {names:?}");
        assert_eq!(
            layer.count_params(),
            layer.weights().iter().map(|w| w.value.len() as u64).sum::<u64>()
        );

        // Config → JSON → config → layer: same config, same weight shapes, same output shape.
        let json = layer.config();
        let reader = ConfigReader::new(class, &json).unwrap();
        let again =
            (entry.from_keras)(&reader).unwrap_or_else(|e| panic!("{class}: from_keras(config()): {e}\n{json}"));
        let rebuilt = again
            .build("probe", &shapes, &mut rng)
            .unwrap_or_else(|e| panic!("{class}: rebuild: {e}"));
        assert_eq!(rebuilt.config(), json, "{class}: config round trip");
        let shapes_of = |l: &dyn Layer| l.weights().iter().map(|w| w.value.shape().to_vec()).collect::<Vec<_>>();
        assert_eq!(
            shapes_of(rebuilt.as_ref()),
            shapes_of(layer.as_ref()),
            "{class}: weight shapes after round trip"
        );

        if shapes.is_empty() {
            continue; // InputLayer: nothing to run.
        }
        // Inferred shape = real shape.
        let inferred = layer.compute_output_shape(&shapes).unwrap();
        let inputs: Vec<Tensor> = shapes.iter().map(|s| sample(s, &mut rng)).collect();
        let (tape, outs, ws) = run(layer.as_ref(), &inputs, true);
        assert_eq!(outs.len(), inferred.len(), "{class}: output count");
        for (o, s) in outs.iter().zip(&inferred) {
            let real = tape.value(*o).shape();
            let fits = real.len() == s.len() && real.iter().zip(s).all(|(r, d)| d.is_none_or(|d| d == *r));
            assert!(fits, "{class}: inferred {s:?}, real {real:?}");
        }

        // One training step: gradients reach every trainable weight, and an update moves
        // the output.
        let out = outs[0];
        let seed = sample(
            &tape.value(out).shape().iter().map(|&d| Some(d)).collect(),
            &mut Rng::new(9),
        )
        .reshape(tape.value(out).shape())
        .unwrap();
        let grads = tape.backward_with(out, seed).unwrap();
        let mut moved = layer.clone();
        let mut any = false;
        for ((w, v), slot) in layer.weights().iter().zip(&ws).zip(moved.weights_mut()) {
            if !w.trainable {
                continue;
            }
            let g = grads
                .get(*v)
                .unwrap_or_else(|| panic!("{class}: no gradient for {}", w.name));
            assert_eq!(g.shape(), w.value.shape());
            let mut nw = w.value.clone();
            for (x, d) in nw.data_mut().iter_mut().zip(g.data()) {
                *x -= 0.1 * d;
            }
            any |= g.data().iter().any(|d| *d != 0.0);
            slot.value = nw;
        }
        if layer.weights().iter().any(|w| w.trainable) {
            assert!(any, "{class}: all gradients are zero");
            let (t1, o1, _) = run(layer.as_ref(), &inputs, false);
            let (t2, o2, _) = run(moved.as_ref(), &inputs, false);
            assert_ne!(
                t1.value(o1[0]),
                t2.value(o2[0]),
                "{class}: a training step did not change the output"
            );
        } else {
            // No trainable weights (none, or statistics only, as Normalization's): the
            // gradient still reaches the input.
            let mut tape = Tape::new();
            let ins: Vec<Var> = inputs.iter().map(|t| tape.param(t.clone())).collect();
            let stats: Vec<Var> = layer.weights().iter().map(|w| tape.constant(w.value.clone())).collect();
            let mut r = Rng::new(5);
            let mut ctx = CallCtx::new(&mut tape, &mut r, true);
            let outs = layer.call(&mut ctx, &ins, &stats).unwrap();
            let o = tape.value(outs[0]).clone();
            let g = tape.backward_with(outs[0], Tensor::ones(o.shape())).unwrap();
            assert!(g.get(ins[0]).is_some(), "{class}: no input gradient");
        }
    }
}
