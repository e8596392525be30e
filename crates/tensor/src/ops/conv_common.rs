//! What the three convolution ops (`conv2d`, `conv2d_transpose`, `depthwise_conv2d`) share:
//! their argument checks (rank-4 operands, a bias of one value per output channel, an output
//! gradient of the output's shape), the index of the input row a kernel tap reads, and their
//! tape recording (`y = op(x, w) + bias`, with `dx` and `dw` computed only when a gradient can
//! flow to them).

use crate::autograd::{Tape, Var};
use crate::error::{shape_err, Result};
use crate::ops::batchnorm::FusedRelu;
use crate::shape::AxisGeometry;
use crate::tensor::Tensor;

/// The gradients of a convolution: `dx` and `dw` (`None` when not asked for) and `dbias`.
pub(crate) type ConvGrads = (Option<Tensor>, Option<Tensor>, Tensor);

/// Checks that operand `arg` has rank 4; `layout` names its axes in the message.
pub(crate) fn check_rank4(op: &'static str, arg: &str, shape: &[usize], layout: &str) -> Result<()> {
    if shape.len() != 4 {
        return shape_err(
            op,
            format!(
                "{arg} must have rank 4 {layout}, received shape {shape:?} (rank {})",
                shape.len()
            ),
        );
    }
    Ok(())
}

/// Checks an optional bias: `[channels]`, one value per output channel (`what` says which).
pub(crate) fn check_bias(op: &'static str, bias: Option<&Tensor>, channels: usize, what: &str) -> Result<()> {
    match bias {
        Some(b) if b.shape() != [channels] => shape_err(
            op,
            format!("bias must have shape [{channels}] ({what}), received {:?}", b.shape()),
        ),
        _ => Ok(()),
    }
}

/// Checks that an output gradient has the output's shape.
pub(crate) fn check_grad(op: &'static str, gy: &Tensor, output: &[usize]) -> Result<()> {
    if gy.shape() != output {
        return shape_err(
            op,
            format!(
                "output gradient must have the output's shape {output:?}, received {:?}",
                gy.shape()
            ),
        );
    }
    Ok(())
}

/// The input row read by output row `o` through kernel tap `k` (`o·s + k·d − pad_before`), if
/// it lies inside the input. For a transposed convolution, whose geometry is the forward
/// convolution's, it is the output row that input row `o` reaches.
pub(crate) fn tap(o: usize, k: usize, a: &AxisGeometry) -> Option<usize> {
    let i = (o * a.stride + k * a.dilation) as isize - a.pad_before as isize;
    (i >= 0 && (i as usize) < a.input).then_some(i as usize)
}

/// `(dx, dw, dbias)` with both parts computed, from a `*_backward_parts` call that asked for
/// both (zeros stand in should one be missing).
pub(crate) fn all_grads(x: &Tensor, w: &Tensor, (dx, dw, db): ConvGrads) -> (Tensor, Tensor, Tensor) {
    (
        dx.unwrap_or_else(|| Tensor::zeros(x.shape())),
        dw.unwrap_or_else(|| Tensor::zeros(w.shape())),
        db,
    )
}

impl Tape {
    /// Records a convolution `y = forward(x, w, bias)`, whose backward is
    /// `backward(x, w, dy, need_dx, need_dw)`: `dx` and `dw` are asked for only when a
    /// gradient can flow to them (the first layer's input needs none). With `relu`, `forward`
    /// applied that activation and `dy` is the output gradient gated by the output first.
    pub(crate) fn record_conv<B>(
        &mut self,
        x: Var,
        w: Var,
        bias: Option<Var>,
        relu: Option<FusedRelu>,
        forward: impl FnOnce(&Tensor, &Tensor, Option<&Tensor>) -> Result<Tensor>,
        backward: B,
    ) -> Result<Var>
    where
        B: Fn(&Tensor, &Tensor, &Tensor, bool, bool) -> Result<ConvGrads> + Send + Sync + 'static,
    {
        let y = {
            let b = match bias {
                Some(b) => Some(self.try_value(b)?),
                None => None,
            };
            forward(self.try_value(x)?, self.try_value(w)?, b)?
        };
        let (need_dx, need_dw) = (self.requires_grad(x), self.requires_grad(w));
        let mut parents = vec![x, w];
        parents.extend(bias);
        self.record(
            y,
            &parents,
            Box::new(move |gy, inputs, y| {
                let gated = relu.map(|r| r.gate_grad(gy, y)).transpose()?;
                let gy = gated.as_ref().unwrap_or(gy);
                let (dx, dw, db) = backward(inputs[0], inputs[1], gy, need_dx, need_dw)?;
                let mut grads = vec![dx, dw];
                if inputs.len() == 3 {
                    grads.push(Some(db));
                }
                Ok(grads)
            }),
        )
    }
}
