//! A tape autograd. Every op appends a node holding its output and, when a gradient can flow,
//! the rule that turns the output's gradient into its inputs' gradients. `backward` walks the
//! tape once in reverse. Op families add their own `Tape` methods next to their kernels
//! (`ops/conv.rs` has `Tape::conv2d`), so forward and backward stay side by side.
//!
//! ```
//! use tensor::{Tape, Tensor};
//! let mut tape = Tape::new();
//! let x = tape.param(Tensor::new(&[2], vec![1.0, 2.0]).unwrap());
//! let y = tape.mul(x, x).unwrap();
//! let s = tape.sum_all(y).unwrap();
//! let g = tape.backward(s).unwrap();
//! assert_eq!(g.get(x).unwrap().data(), &[2.0, 4.0]);
//! ```

use crate::error::{Result, TensorError};
use crate::tensor::Tensor;

/// A value on a [`Tape`]: a plain index, cheap to copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Var(pub(crate) usize);

impl Var {
    /// Position on the tape.
    pub fn index(self) -> usize {
        self.0
    }
}

/// A gradient rule: given the output's gradient, the inputs' values and the output's value,
/// the gradient for each input (in the order the inputs were recorded; `None` when an input
/// gets no gradient, e.g. an integer mask).
pub type BackwardFn = Box<dyn Fn(&Tensor, &[&Tensor], &Tensor) -> Result<Vec<Option<Tensor>>> + Send + Sync>;

struct Node {
    value: Tensor,
    parents: Vec<usize>,
    backward: Option<BackwardFn>,
    requires_grad: bool,
}

/// The tape: values in the order they were computed.
#[derive(Default)]
pub struct Tape {
    nodes: Vec<Node>,
    no_grad: bool,
    /// Outputs of softmax / sigmoid and the logits they came from (Keras's `_keras_logits`),
    /// so a cross-entropy loss can start from the logits.
    logits: Vec<(usize, usize, &'static str)>,
}

/// Gradients from one backward pass, indexed by [`Var`].
pub struct Gradients {
    grads: Vec<Option<Tensor>>,
}

impl Gradients {
    /// The gradient of a variable, if one flowed to it.
    pub fn get(&self, v: Var) -> Option<&Tensor> {
        self.grads.get(v.0).and_then(|g| g.as_ref())
    }

    /// Takes the gradient out.
    pub fn take(&mut self, v: Var) -> Option<Tensor> {
        self.grads.get_mut(v.0).and_then(|g| g.take())
    }
}

impl Tape {
    /// An empty tape that records gradient rules.
    pub fn new() -> Tape {
        Tape::default()
    }

    /// An empty tape that records values only (inference: no rule is kept).
    pub fn inference() -> Tape {
        Tape {
            no_grad: true,
            ..Tape::default()
        }
    }

    /// True when this tape keeps no gradient rules.
    pub fn is_inference(&self) -> bool {
        self.no_grad
    }

    /// Number of values on the tape.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// A constant: no gradient is computed for it.
    pub fn constant(&mut self, value: Tensor) -> Var {
        self.nodes.push(Node {
            value,
            parents: Vec::new(),
            backward: None,
            requires_grad: false,
        });
        Var(self.nodes.len() - 1)
    }

    /// A trainable value: `backward` computes its gradient.
    pub fn param(&mut self, value: Tensor) -> Var {
        let requires_grad = !self.no_grad;
        self.nodes.push(Node {
            value,
            parents: Vec::new(),
            backward: None,
            requires_grad,
        });
        Var(self.nodes.len() - 1)
    }

    /// The value of a variable.
    pub fn value(&self, v: Var) -> &Tensor {
        &self.nodes[v.0].value
    }

    /// The value of a variable, checked.
    pub fn try_value(&self, v: Var) -> Result<&Tensor> {
        self.nodes.get(v.0).map(|n| &n.value).ok_or_else(|| {
            TensorError::Autograd(format!(
                "variable {} is not on this tape ({} values)",
                v.0,
                self.nodes.len()
            ))
        })
    }

    /// Frees the stored value of a variable no longer needed (inference memory).
    pub fn release(&mut self, v: Var) {
        if let Some(n) = self.nodes.get_mut(v.0) {
            if n.backward.is_none() && !n.requires_grad {
                n.value = Tensor::zeros(&[0]);
            }
        }
    }

    /// Whether a gradient flows into this variable.
    pub fn requires_grad(&self, v: Var) -> bool {
        self.nodes.get(v.0).is_some_and(|n| n.requires_grad)
    }

    /// Records an op's output. `backward` is kept only when a gradient can flow to a parent.
    pub fn record(&mut self, value: Tensor, parents: &[Var], backward: BackwardFn) -> Result<Var> {
        for p in parents {
            if p.0 >= self.nodes.len() {
                return Err(TensorError::Autograd(format!("input {} is not on this tape", p.0)));
            }
        }
        let requires_grad = !self.no_grad && parents.iter().any(|p| self.nodes[p.0].requires_grad);
        self.nodes.push(Node {
            value,
            parents: parents.iter().map(|p| p.0).collect(),
            backward: if requires_grad { Some(backward) } else { None },
            requires_grad,
        });
        Ok(Var(self.nodes.len() - 1))
    }

    /// Remembers that `out` is `op(logits)` for `op` = `"softmax"` (last axis) or `"sigmoid"`,
    /// as Keras keeps `output._keras_logits`: cross-entropy losses then use the logits.
    pub fn mark_logits(&mut self, out: Var, logits: Var, op: &'static str) {
        self.logits.push((out.0, logits.0, op));
    }

    /// The logits `out` was computed from and the activation (`"softmax"` / `"sigmoid"`), when
    /// [`Tape::mark_logits`] recorded them.
    pub fn logits_of(&self, out: Var) -> Option<(Var, &'static str)> {
        self.logits
            .iter()
            .rev()
            .find(|(o, _, _)| *o == out.0)
            .map(|&(_, l, op)| (Var(l), op))
    }

    /// Gradients of a scalar with respect to every variable it depends on.
    pub fn backward(&self, loss: Var) -> Result<Gradients> {
        let v = self.try_value(loss)?;
        if v.len() != 1 {
            return Err(TensorError::Autograd(format!(
                "backward needs a scalar loss, received shape {:?}; use backward_with a seed gradient",
                v.shape()
            )));
        }
        self.backward_with(loss, Tensor::full(v.shape(), 1.0))
    }

    /// Gradients of `Σ seed·out` with respect to every variable `out` depends on.
    pub fn backward_with(&self, out: Var, seed: Tensor) -> Result<Gradients> {
        let v = self.try_value(out)?;
        if v.shape() != seed.shape() {
            return Err(TensorError::Autograd(format!(
                "seed gradient shape {:?} differs from the output's {:?}",
                seed.shape(),
                v.shape()
            )));
        }
        let mut grads: Vec<Option<Tensor>> = (0..self.nodes.len()).map(|_| None).collect();
        grads[out.0] = Some(seed);
        for i in (0..=out.0).rev() {
            let node = &self.nodes[i];
            let Some(rule) = &node.backward else { continue };
            let Some(g) = grads[i].take() else { continue };
            let inputs: Vec<&Tensor> = node.parents.iter().map(|&p| &self.nodes[p].value).collect();
            let parent_grads = rule(&g, &inputs, &node.value)?;
            if parent_grads.len() != node.parents.len() {
                return Err(TensorError::Autograd(format!(
                    "a gradient rule returned {} gradients for {} inputs",
                    parent_grads.len(),
                    node.parents.len()
                )));
            }
            for (&p, pg) in node.parents.iter().zip(parent_grads) {
                let Some(pg) = pg else { continue };
                if !self.nodes[p].requires_grad {
                    continue;
                }
                if pg.shape() != self.nodes[p].value.shape() {
                    return Err(TensorError::Autograd(format!(
                        "gradient shape {:?} differs from its value's {:?}",
                        pg.shape(),
                        self.nodes[p].value.shape()
                    )));
                }
                match &mut grads[p] {
                    Some(acc) => {
                        for (a, b) in acc.data_mut().iter_mut().zip(pg.data()) {
                            *a += b;
                        }
                    }
                    slot @ None => *slot = Some(pg),
                }
            }
            // Keep the gradient of leaves (params); intermediate ones are consumed.
            if node.parents.is_empty() {
                grads[i] = Some(g);
            }
        }
        Ok(Gradients { grads })
    }
}
