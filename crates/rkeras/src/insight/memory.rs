//! Memory of a model in float32: its parameters, the activations one sample produces in a
//! forward pass, and an estimate of a training step at a batch size:
//!
//! ```text
//! weights + gradients + optimizer slots + 2 · batch · activations
//! 4·P     + 4·T       + 4·k·T           + 2 · B · 4·A
//! ```
//!
//! (`P` parameters, `T` trainable ones, `k` slots per trainable parameter: SGD 0, SGD with
//! momentum and RMSprop 1, Adam 2; `A` activation elements per sample, inputs included,
//! kept for the backward pass and matched by their gradients.) It is an estimate: the
//! engine frees and reuses buffers, and temporary im2col buffers are not counted.

use super::Insight;
use crate::explain::thousands;
use crate::summary::readable_memory_size;

/// Bytes of one float32.
pub const F32: u64 = 4;

/// A training step's memory, term by term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainingMemory {
    /// Batch size.
    pub batch: u64,
    /// Weights: `4·P`.
    pub weights: u64,
    /// Gradients of the trainable weights: `4·T`.
    pub gradients: u64,
    /// Optimizer slots: `4·k·T`.
    pub optimizer: u64,
    /// Activations and their gradients: `2·B·4·A`.
    pub activations: u64,
}

impl TrainingMemory {
    /// The sum.
    pub fn total(&self) -> u64 {
        self.weights + self.gradients + self.optimizer + self.activations
    }
}

/// The estimate for batch `batch` with `slots` optimizer variables per trainable weight.
pub fn training_step(insight: &Insight, batch: u64, slots: u64) -> TrainingMemory {
    TrainingMemory {
        batch,
        weights: F32 * insight.params,
        gradients: F32 * insight.trainable_params,
        optimizer: F32 * slots * insight.trainable_params,
        activations: 2 * batch * F32 * insight.total_activations,
    }
}

/// The memory lines under the insight table (`--memory`), with their arithmetic.
pub fn lines(insight: &Insight, batch: u64, slots: u64, optimizer: &str) -> Vec<String> {
    let m = training_step(insight, batch, slots);
    let size = |b: u64| readable_memory_size(b, &["B", "KB", "MB", "GB", "TB", "PB"]);
    vec![
        format!(
            "Parameters: 4·{} = {}",
            thousands(insight.params),
            size(m.weights)
        ),
        format!(
            "Activations per sample (forward, inputs included): 4·{} = {}",
            thousands(insight.total_activations),
            size(F32 * insight.total_activations)
        ),
        format!(
            "Training step, batch {batch}, {optimizer} ({slots} slot{} per weight): weights 4·{} + gradients 4·{} + optimizer 4·{slots}·{} + activations 2·{batch}·4·{} = {}",
            if slots == 1 { "" } else { "s" },
            thousands(insight.params),
            thousands(insight.trainable_params),
            thousands(insight.trainable_params),
            thousands(insight.total_activations),
            size(m.total())
        ),
    ]
}
