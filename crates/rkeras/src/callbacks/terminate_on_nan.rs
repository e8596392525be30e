//! `TerminateOnNaN`: stop training as soon as a batch's loss is NaN or infinite, printing
//! Keras's message (`Batch 12: Invalid loss, terminating training`), or, with
//! `raise_error`, fail `fit` with an error naming the batch and the value.

use crate::error::{KerasError, Result};
use crate::model::Model;
use crate::training::callback::{Callback, Logs};

/// `keras.callbacks.TerminateOnNaN(raise_error=False)`.
#[derive(Debug, Clone, Default)]
pub struct TerminateOnNaN {
    raise_error: bool,
    /// The batch (within its epoch) whose loss was invalid, once one was.
    pub stopped_at_batch: Option<usize>,
}

impl TerminateOnNaN {
    /// Stops training (without an error) at the first invalid loss.
    pub fn new() -> TerminateOnNaN {
        TerminateOnNaN::default()
    }
    /// `raise_error=True`: `fit` returns an error instead.
    pub fn raise_error(mut self, r: bool) -> Self {
        self.raise_error = r;
        self
    }
}

impl Callback for TerminateOnNaN {
    fn on_train_batch_end(&mut self, model: &mut Model, batch: usize, logs: &Logs) -> Result<()> {
        let Some(loss) = logs.get("loss") else { return Ok(()) };
        if loss.is_finite() {
            return Ok(());
        }
        self.stopped_at_batch = Some(batch);
        let shown = if loss.is_nan() {
            "nan".to_string()
        } else if loss > 0.0 {
            "inf".to_string()
        } else {
            "-inf".to_string()
        };
        if self.raise_error {
            return Err(KerasError::Invalid(format!(
                "NaN or Inf loss encountered at batch {batch}. Loss value: {shown}. Terminating training immediately."
            )));
        }
        crate::distribute::chief_println!("Batch {batch}: Invalid loss, terminating training");
        model.set_stop_training(true);
        Ok(())
    }
}
