//! `LearningRateScheduler`: at the start of every epoch, set the optimizer's learning rate
//! to `schedule(epoch, current_lr)`; the rate in force is added to the epoch's logs as
//! `learning_rate`, as Keras does.

use crate::error::{KerasError, Result};
use crate::model::Model;
use crate::training::callback::{Callback, Logs};

/// The schedule: `(epoch from 0, current learning rate) -> new learning rate`.
pub type Schedule = Box<dyn FnMut(usize, f64) -> f64 + Send>;

/// `keras.callbacks.LearningRateScheduler(schedule, verbose=0)`.
pub struct LearningRateScheduler {
    schedule: Schedule,
    verbose: u8,
}

impl LearningRateScheduler {
    /// A scheduler calling `schedule(epoch, lr)`.
    pub fn new(schedule: impl FnMut(usize, f64) -> f64 + Send + 'static) -> LearningRateScheduler {
        LearningRateScheduler {
            schedule: Box::new(schedule),
            verbose: 0,
        }
    }
    /// `verbose`.
    pub fn verbose(mut self, v: u8) -> Self {
        self.verbose = v;
        self
    }
}

fn no_optimizer() -> KerasError {
    KerasError::Invalid("LearningRateScheduler: the model is not compiled (no optimizer)".into())
}

impl Callback for LearningRateScheduler {
    fn on_epoch_begin(&mut self, model: &mut Model, epoch: usize, _logs: &Logs) -> Result<()> {
        let opt = model.optimizer_mut().ok_or_else(no_optimizer)?;
        let lr = (self.schedule)(epoch, opt.current_learning_rate() as f64);
        if !lr.is_finite() {
            return Err(KerasError::Invalid(format!(
                "The output of the `schedule` function should be a float. Got: {lr}"
            )));
        }
        opt.set_learning_rate(lr as f32)?;
        if self.verbose > 0 {
            crate::distribute::chief_println!(
                "\nEpoch {}: LearningRateScheduler setting learning rate to {lr:?}.",
                epoch + 1
            );
        }
        Ok(())
    }
    fn on_epoch_end(&mut self, model: &mut Model, _epoch: usize, logs: &mut Logs) -> Result<()> {
        let opt = model.optimizer().ok_or_else(no_optimizer)?;
        logs.insert("learning_rate", opt.current_learning_rate() as f64);
        Ok(())
    }
}
