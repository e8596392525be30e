//! Tensors inside the graph, as Keras users reach them: `model.get_layer(name).output`
//! ([`Model::layer_output`]) and a sub-model's forward pass that also returns them —
//! `keras.Model(model.inputs, [layer.output, model.output])` under `tf.GradientTape` —
//! ([`Model::forward_watching`]): the tape it returns holds the model's outputs and the
//! watched values, and `tape.backward_with(output, seed)` gives the gradient of an output with
//! respect to each watched tensor (Grad-CAM's `tape.gradient(class_channel, conv_output)`).
//!
//! ```
//! use rkeras::prelude::*;
//! clear_session();
//! let inp = Input(&[6, 6, 1]).unwrap();
//! let c = Conv2D::new(2, 3).name("conv").call(&inp).unwrap();
//! let y = Dense::new(1).call(&Flatten::new().call(&c).unwrap()).unwrap();
//! let model = Model::new(&[&inp], &[&y], None).unwrap();
//! let conv = model.layer_output("conv").unwrap();
//! let run = model.forward_watching(&[Tensor::ones(&[1, 6, 6, 1])], &[conv], true).unwrap();
//! assert_eq!(run.tape.value(run.watched[0]).shape(), &[1, 4, 4, 2]);
//! let seed = Tensor::ones(&[1, 1]);
//! let g = run.tape.backward_with(run.outputs[0], seed).unwrap();
//! assert_eq!(g.get(run.watched[0]).unwrap().shape(), &[1, 4, 4, 2]);
//! ```

use super::Model;
use crate::error::{KerasError, Result};
use crate::layers::CallCtx;
use tensor::{Rng, Tape, Tensor, Var};

/// A forward pass with watched graph tensors.
pub struct Watched {
    /// The tape: every value of the pass (a gradient tape when asked for).
    pub tape: Tape,
    /// The model's outputs.
    pub outputs: Vec<Var>,
    /// The watched tensors, in the order asked; leaves of the tape.
    pub watched: Vec<Var>,
}

impl Model {
    /// `model.get_layer(name).output`: the graph tensor `(node, output index)` of the layer's
    /// call. As in Keras, a layer called more than once (shared) has no single output, and
    /// only this model's own layers are reached (a nested model is one layer: its output is
    /// the nested model's output).
    pub fn layer_output(&self, name: &str) -> Result<(usize, usize)> {
        let layer = self
            .layers
            .iter()
            .position(|l| l.name() == name)
            .ok_or_else(|| self.no_such_layer(name))?;
        let calls: Vec<usize> = (0..self.nodes.len())
            .filter(|&n| self.nodes[n].layer == layer)
            .collect();
        match calls.as_slice() {
            [n] => Ok((*n, 0)),
            [] => Err(KerasError::Invalid(format!(
                "model {}: layer {name} is never called in the graph, so it has no output",
                self.name
            ))),
            more => Err(KerasError::Invalid(format!(
                "model {}: the layer {name} has {} inbound nodes (it is shared), hence the notion of \
                 \"layer output\" is ill-defined for it",
                self.name,
                more.len()
            ))),
        }
    }

    /// "No such layer" naming up to ten of the model's layers (and how many more there are).
    pub(crate) fn no_such_layer(&self, name: &str) -> KerasError {
        let names: Vec<&str> = self.layers().iter().map(|l| l.name()).collect();
        let shown: Vec<&str> = names.iter().take(10).copied().collect();
        let more = if names.len() > shown.len() {
            format!(" and {} more", names.len() - shown.len())
        } else {
            String::new()
        };
        KerasError::Invalid(format!(
            "model {}: no layer named {name:?}; its layers are {}{more}",
            self.name,
            shown.join(", ")
        ))
    }

    /// One inference pass (Dropout off, BatchNormalization on its moving statistics) on the
    /// tape, returning the model's outputs and the `watch` tensors. With `gradients`, the
    /// tape records gradient rules downstream of the watched tensors (only there: inputs and
    /// weights are constants), so `backward_with` on an output yields their gradients.
    pub fn forward_watching(&self, inputs: &[Tensor], watch: &[(usize, usize)], gradients: bool) -> Result<Watched> {
        self.check_inputs(inputs)?;
        let mut tape = if gradients { Tape::new() } else { Tape::inference() };
        let mut rng = Rng::new(0);
        let mut ctx = CallCtx::new(&mut tape, &mut rng, false);
        let ins: Vec<Var> = inputs.iter().map(|t| ctx.tape.constant(t.clone())).collect();
        let ws: Vec<Var> = self
            .layers
            .iter()
            .flat_map(|l| l.weights())
            .map(|w| ctx.tape.constant(w.value.clone()))
            .collect();
        let (outputs, watched) = self.run_watching(&mut ctx, &ins, &ws, watch)?;
        Ok(Watched { tape, outputs, watched })
    }
}
