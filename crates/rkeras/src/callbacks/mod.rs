//! Keras's callbacks: `EarlyStopping`, `ModelCheckpoint`, `TensorBoard` (real event files),
//! `CSVLogger`, `ReduceLROnPlateau`, `LearningRateScheduler`, `TerminateOnNaN`,
//! `BackupAndRestore`, with Keras's arguments, defaults and messages; plus the
//! [`Callback`] trait users implement, [`History`] and [`ProgbarLogger`] from
//! [`crate::training`].
//!
//! ```no_run
//! use rkeras::callbacks::{EarlyStopping, TensorBoard};
//! use rkeras::training::FitOptions;
//! # fn run(model: &mut rkeras::Model, x: &rkeras::prelude::Tensor, y: &rkeras::prelude::Tensor) -> rkeras::Result<()> {
//! let early = EarlyStopping::new().monitor("val_loss").patience(2).restore_best_weights(true);
//! let tb = TensorBoard::new("logs/run1").histogram_freq(1);
//! let history = model.fit(x, y, FitOptions::default().epochs(10).validation_split(0.1).callback(early).callback(tb))?;
//! # Ok(()) }
//! ```

pub mod backup_and_restore;
pub mod csv_logger;
pub mod early_stopping;
pub mod filepath;
pub mod lr_scheduler;
pub mod model_checkpoint;
pub mod reduce_lr;
pub mod tensorboard;
pub mod terminate_on_nan;

pub use crate::training::callback::{Callback, CallbackParams, History, Logs};
pub use crate::training::progbar::{Progbar, ProgbarLogger};
pub use backup_and_restore::BackupAndRestore;
pub use csv_logger::CSVLogger;
pub use early_stopping::EarlyStopping;
pub use lr_scheduler::LearningRateScheduler;
pub use model_checkpoint::ModelCheckpoint;
pub use reduce_lr::ReduceLROnPlateau;
pub use tensorboard::TensorBoard;
pub use terminate_on_nan::TerminateOnNaN;

use crate::error::{KerasError, Result};

/// Keras's `MonitorCallback` logic: which direction is better and by how much.
#[derive(Debug, Clone)]
pub(crate) struct Monitor {
    pub monitor: String,
    pub mode: String,
    /// Signed as Keras makes it: negative when lower is better.
    min_delta: f64,
    lower_is_better: Option<bool>,
}

/// Metric names (without `val_`) that are better when higher, for `mode="auto"`: Keras asks
/// each compiled metric for its direction; these are the metrics rkeras has whose
/// direction is "up". Losses and error metrics are "down".
const UP: [&str; 8] = [
    "accuracy",
    "acc",
    "auc",
    "precision",
    "recall",
    "top_k",
    "categorical_accuracy",
    "f1",
];
const DOWN: [&str; 10] = [
    "loss",
    "crossentropy",
    "mean_squared",
    "mean_absolute",
    "mse",
    "mae",
    "huber",
    "hinge",
    "kl_divergence",
    "logcosh",
];

impl Monitor {
    pub fn new(callback: &str, monitor: &str, mode: &str, min_delta: f64) -> Monitor {
        let mode = match mode {
            "auto" | "min" | "max" => mode.to_string(),
            other => {
                eprintln!("{callback} mode '{other}' is unknown, fallback to auto mode.");
                "auto".to_string()
            }
        };
        Monitor {
            monitor: monitor.to_string(),
            mode,
            min_delta: min_delta.abs(),
            lower_is_better: None,
        }
    }

    /// Keras's `_set_monitor_op`, done once.
    pub fn resolve(&mut self, callback: &str) -> Result<()> {
        if self.lower_is_better.is_some() {
            return Ok(());
        }
        let lower = match self.mode.as_str() {
            "min" => true,
            "max" => false,
            _ => {
                let name = self.monitor.strip_prefix("val_").unwrap_or(&self.monitor);
                if UP.iter().any(|u| name.contains(u)) {
                    false
                } else if DOWN.iter().any(|d| name.contains(d)) {
                    true
                } else {
                    return Err(KerasError::Invalid(format!(
                        "{callback} callback received monitor={}, but Keras isn't able to automatically \
                         determine whether that metric should be maximized or minimized. Pass `mode='max'` \
                         in order to monitor based on the highest metric value, or pass `mode='min'` in \
                         order to use the lowest value.",
                        self.monitor
                    )));
                }
            }
        };
        self.lower_is_better = Some(lower);
        if lower {
            self.min_delta = -self.min_delta;
        }
        Ok(())
    }

    /// `min_delta` as given (unsigned).
    pub fn min_delta_abs(&self) -> f64 {
        self.min_delta.abs()
    }

    /// Keras's `_is_improvement(current, reference)`.
    pub fn is_improvement(&self, current: f64, reference: Option<f64>) -> bool {
        let Some(r) = reference else { return true };
        if self.lower_is_better.unwrap_or(true) {
            current - self.min_delta < r
        } else {
            current - self.min_delta > r
        }
    }
}

/// The names available in `logs`, comma-separated (for Keras's warnings).
pub(crate) fn available(logs: &Logs) -> String {
    logs.keys().collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests;
