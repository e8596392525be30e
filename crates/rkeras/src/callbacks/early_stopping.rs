//! `EarlyStopping`: stop `fit` when the monitored value has not improved for `patience`
//! epochs, as Keras 3 does it (the same counting, `baseline` and `start_from_epoch` rules,
//! the best weights kept when `restore_best_weights`, and Keras's messages with `verbose`).

use super::{available, Monitor};
use crate::error::Result;
use crate::model::Model;
use crate::training::callback::{Callback, Logs};
use tensor::Tensor;

/// `keras.callbacks.EarlyStopping(monitor="val_loss", min_delta=0, patience=0, verbose=0,
/// mode="auto", baseline=None, restore_best_weights=False, start_from_epoch=0)`.
#[derive(Debug, Clone)]
pub struct EarlyStopping {
    m: Monitor,
    patience: usize,
    verbose: u8,
    baseline: Option<f64>,
    restore_best_weights: bool,
    start_from_epoch: usize,
    wait: usize,
    best: Option<f64>,
    best_weights: Option<Vec<Tensor>>,
    /// The epoch (from 0) at which training was stopped, 0 when it was not.
    pub stopped_epoch: usize,
    /// The epoch (from 0) with the best monitored value.
    pub best_epoch: usize,
}

impl Default for EarlyStopping {
    fn default() -> Self {
        EarlyStopping::new()
    }
}

impl EarlyStopping {
    /// Keras's defaults: monitor `val_loss`, patience 0, mode `auto`.
    pub fn new() -> EarlyStopping {
        EarlyStopping {
            m: Monitor::new("EarlyStopping", "val_loss", "auto", 0.0),
            patience: 0,
            verbose: 0,
            baseline: None,
            restore_best_weights: false,
            start_from_epoch: 0,
            wait: 0,
            best: None,
            best_weights: None,
            stopped_epoch: 0,
            best_epoch: 0,
        }
    }
    /// `monitor`.
    pub fn monitor(mut self, name: &str) -> Self {
        self.m = Monitor::new("EarlyStopping", name, &self.m.mode, self.m_delta());
        self
    }
    fn m_delta(&self) -> f64 {
        self.m.min_delta_abs()
    }
    /// `min_delta` (its absolute value, as Keras).
    pub fn min_delta(mut self, d: f64) -> Self {
        self.m = Monitor::new("EarlyStopping", &self.m.monitor.clone(), &self.m.mode.clone(), d);
        self
    }
    /// `patience`.
    pub fn patience(mut self, p: usize) -> Self {
        self.patience = p;
        self
    }
    /// `verbose`.
    pub fn verbose(mut self, v: u8) -> Self {
        self.verbose = v;
        self
    }
    /// `mode`: `"auto"`, `"min"` or `"max"`.
    pub fn mode(mut self, mode: &str) -> Self {
        self.m = Monitor::new("EarlyStopping", &self.m.monitor.clone(), mode, self.m_delta());
        self
    }
    /// `baseline`.
    pub fn baseline(mut self, b: f64) -> Self {
        self.baseline = Some(b);
        self
    }
    /// `restore_best_weights`.
    pub fn restore_best_weights(mut self, r: bool) -> Self {
        self.restore_best_weights = r;
        self
    }
    /// `start_from_epoch`.
    pub fn start_from_epoch(mut self, e: usize) -> Self {
        self.start_from_epoch = e;
        self
    }
    /// The best monitored value seen.
    pub fn best(&self) -> Option<f64> {
        self.best
    }
}

impl Callback for EarlyStopping {
    fn on_train_begin(&mut self, _model: &mut Model, _logs: &Logs) -> Result<()> {
        self.wait = 0;
        self.stopped_epoch = 0;
        self.best = None;
        self.best_weights = None;
        self.best_epoch = 0;
        Ok(())
    }

    fn on_epoch_end(&mut self, model: &mut Model, epoch: usize, logs: &mut Logs) -> Result<()> {
        self.m.resolve("EarlyStopping")?;
        let Some(current) = logs.get(&self.m.monitor) else {
            eprintln!(
                "Early stopping conditioned on metric `{}` which is not available. Available metrics are: {}",
                self.m.monitor,
                available(logs)
            );
            return Ok(());
        };
        if epoch < self.start_from_epoch {
            return Ok(());
        }
        if self.restore_best_weights && self.best_weights.is_none() {
            self.best_weights = Some(model.get_weights());
            self.best_epoch = epoch;
        }
        self.wait += 1;
        if self.m.is_improvement(current, self.best) {
            self.best = Some(current);
            self.best_epoch = epoch;
            if self.restore_best_weights {
                self.best_weights = Some(model.get_weights());
            }
            if self.baseline.is_none() || self.m.is_improvement(current, self.baseline) {
                self.wait = 0;
            }
            return Ok(());
        }
        if self.wait >= self.patience && epoch > 0 {
            self.stopped_epoch = epoch;
            model.set_stop_training(true);
        }
        Ok(())
    }

    fn on_train_end(&mut self, model: &mut Model, _logs: &Logs) -> Result<()> {
        if self.stopped_epoch > 0 && self.verbose > 0 {
            crate::distribute::chief_println!("Epoch {}: early stopping", self.stopped_epoch + 1);
        }
        if self.restore_best_weights {
            if let Some(w) = &self.best_weights {
                if self.verbose > 0 {
                    crate::distribute::chief_println!(
                        "Restoring model weights from the end of the best epoch: {}.",
                        self.best_epoch + 1
                    );
                }
                model.set_weights(w)?;
            }
        }
        Ok(())
    }
}
