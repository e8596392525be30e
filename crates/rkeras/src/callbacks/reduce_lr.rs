//! `ReduceLROnPlateau`: multiply the learning rate by `factor` when the monitored value has
//! not improved for `patience` epochs, then wait `cooldown` epochs; never below `min_lr`.
//! Adds `learning_rate` to every epoch's logs, as Keras does.

use super::{available, Monitor};
use crate::error::{KerasError, Result};
use crate::model::Model;
use crate::training::callback::{Callback, Logs};

/// `keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.1, patience=10,
/// verbose=0, mode="auto", min_delta=1e-4, cooldown=0, min_lr=0.0)`.
#[derive(Debug, Clone)]
pub struct ReduceLROnPlateau {
    m: Monitor,
    factor: f64,
    patience: usize,
    verbose: u8,
    cooldown: usize,
    min_lr: f64,
    cooldown_counter: usize,
    wait: usize,
    best: Option<f64>,
}

impl Default for ReduceLROnPlateau {
    fn default() -> Self {
        ReduceLROnPlateau::new()
    }
}

impl ReduceLROnPlateau {
    /// Keras's defaults.
    pub fn new() -> ReduceLROnPlateau {
        ReduceLROnPlateau {
            m: Monitor::new("ReduceLROnPlateau", "val_loss", "auto", 1e-4),
            factor: 0.1,
            patience: 10,
            verbose: 0,
            cooldown: 0,
            min_lr: 0.0,
            cooldown_counter: 0,
            wait: 0,
            best: None,
        }
    }
    /// `monitor`.
    pub fn monitor(mut self, name: &str) -> Self {
        self.m = Monitor::new("ReduceLROnPlateau", name, &self.m.mode.clone(), self.m.min_delta_abs());
        self
    }
    /// `mode`.
    pub fn mode(mut self, mode: &str) -> Self {
        self.m = Monitor::new(
            "ReduceLROnPlateau",
            &self.m.monitor.clone(),
            mode,
            self.m.min_delta_abs(),
        );
        self
    }
    /// `min_delta`.
    pub fn min_delta(mut self, d: f64) -> Self {
        self.m = Monitor::new("ReduceLROnPlateau", &self.m.monitor.clone(), &self.m.mode.clone(), d);
        self
    }
    /// `factor` (below 1; checked when `fit` starts).
    pub fn factor(mut self, f: f64) -> Self {
        self.factor = f;
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
    /// `cooldown`.
    pub fn cooldown(mut self, c: usize) -> Self {
        self.cooldown = c;
        self
    }
    /// `min_lr`.
    pub fn min_lr(mut self, lr: f64) -> Self {
        self.min_lr = lr;
        self
    }

    fn reduce(&self, model: &mut Model, epoch: usize) -> Result<bool> {
        let opt = model.optimizer_mut().ok_or_else(no_optimizer)?;
        let old = opt.current_learning_rate() as f64;
        if old > self.min_lr as f32 as f64 {
            let new = (old * self.factor).max(self.min_lr);
            opt.set_learning_rate(new as f32)?;
            if self.verbose > 0 {
                crate::distribute::chief_println!(
                    "\nEpoch {}: ReduceLROnPlateau reducing learning rate to {new:?}.",
                    epoch + 1
                );
            }
            return Ok(true);
        }
        Ok(false)
    }
}

fn no_optimizer() -> KerasError {
    KerasError::Invalid("ReduceLROnPlateau: the model is not compiled (no optimizer)".into())
}

impl Callback for ReduceLROnPlateau {
    fn on_train_begin(&mut self, _model: &mut Model, _logs: &Logs) -> Result<()> {
        if self.factor >= 1.0 {
            return Err(KerasError::Invalid(format!(
                "ReduceLROnPlateau does not support a factor >= 1.0. Received factor={}",
                self.factor
            )));
        }
        self.best = None;
        self.cooldown_counter = 0;
        self.wait = 0;
        self.m.resolve("ReduceLROnPlateau")
    }

    fn on_epoch_end(&mut self, model: &mut Model, epoch: usize, logs: &mut Logs) -> Result<()> {
        let lr = model.optimizer().ok_or_else(no_optimizer)?.current_learning_rate();
        logs.insert("learning_rate", lr as f64);
        let Some(current) = logs.get(&self.m.monitor) else {
            eprintln!(
                "Learning rate reduction is conditioned on metric `{}` which is not available. Available metrics are: {}.",
                self.m.monitor,
                available(logs)
            );
            return Ok(());
        };
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.wait = 0;
        }
        if self.m.is_improvement(current, self.best) {
            self.best = Some(current);
            self.wait = 0;
        } else if self.cooldown_counter == 0 {
            self.wait += 1;
            if self.wait >= self.patience && self.reduce(model, epoch)? {
                self.cooldown_counter = self.cooldown;
                self.wait = 0;
            }
        }
        Ok(())
    }
}
