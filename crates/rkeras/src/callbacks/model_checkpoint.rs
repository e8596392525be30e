//! `ModelCheckpoint`: save the model (`.keras`) or its weights (`.weights.h5`) after every
//! epoch (or every `save_freq` batches), optionally only when the monitored value improves,
//! to a path formatted from the epoch and the logs (`ckpt-{epoch:02d}-{val_loss:.2f}.keras`).
//! Files are written atomically (a temporary file renamed over the destination), so a crash
//! or a kill never leaves a half-written checkpoint.

use super::filepath::{format_path, Field};
use super::Monitor;
use crate::error::{KerasError, Result};
use crate::model::Model;
use crate::training::callback::{Callback, Logs};
use std::path::PathBuf;

/// How often to save.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveFreq {
    /// After every epoch (`"epoch"`).
    Epoch,
    /// After every `n` training batches.
    Batches(usize),
}

/// `keras.callbacks.ModelCheckpoint(filepath, monitor="val_loss", verbose=0,
/// save_best_only=False, save_weights_only=False, mode="auto", save_freq="epoch",
/// initial_value_threshold=None)`.
#[derive(Debug, Clone)]
pub struct ModelCheckpoint {
    filepath: String,
    m: Monitor,
    verbose: u8,
    save_best_only: bool,
    save_weights_only: bool,
    save_freq: SaveFreq,
    best: Option<f64>,
    current_epoch: usize,
    batches_since_save: usize,
    last_batch: Option<usize>,
    /// Paths written so far, in order.
    pub saved: Vec<PathBuf>,
}

impl ModelCheckpoint {
    /// A checkpoint writing `filepath` (`.keras` or legacy `.h5` for the model, `.weights.h5` with
    /// `save_weights_only`); the suffix is checked when `fit` starts, as Keras checks it in
    /// the constructor.
    pub fn new(filepath: &str) -> ModelCheckpoint {
        ModelCheckpoint {
            filepath: filepath.to_string(),
            m: Monitor::new("ModelCheckpoint", "val_loss", "auto", 0.0),
            verbose: 0,
            save_best_only: false,
            save_weights_only: false,
            save_freq: SaveFreq::Epoch,
            best: None,
            current_epoch: 0,
            batches_since_save: 0,
            last_batch: None,
            saved: Vec::new(),
        }
    }
    /// `monitor`.
    pub fn monitor(mut self, name: &str) -> Self {
        self.m = Monitor::new("ModelCheckpoint", name, &self.m.mode.clone(), 0.0);
        self
    }
    /// `mode`: `"auto"`, `"min"` or `"max"`.
    pub fn mode(mut self, mode: &str) -> Self {
        self.m = Monitor::new("ModelCheckpoint", &self.m.monitor.clone(), mode, 0.0);
        self
    }
    /// `verbose`.
    pub fn verbose(mut self, v: u8) -> Self {
        self.verbose = v;
        self
    }
    /// `save_best_only`.
    pub fn save_best_only(mut self, b: bool) -> Self {
        self.save_best_only = b;
        self
    }
    /// `save_weights_only`.
    pub fn save_weights_only(mut self, b: bool) -> Self {
        self.save_weights_only = b;
        self
    }
    /// `save_freq`.
    pub fn save_freq(mut self, f: SaveFreq) -> Self {
        self.save_freq = f;
        self
    }
    /// `initial_value_threshold`: the value to beat with `save_best_only`.
    pub fn initial_value_threshold(mut self, v: f64) -> Self {
        self.best = Some(v);
        self
    }

    fn check_suffix(&self) -> Result<()> {
        if self.save_weights_only {
            if !self.filepath.ends_with(".weights.h5") {
                return Err(KerasError::Invalid(format!(
                    "When using `save_weights_only=True` in `ModelCheckpoint`, the filepath provided must \
                     end in `.weights.h5` (Keras weights format). Received: filepath={}",
                    self.filepath
                )));
            }
        } else if !self.filepath.ends_with(".keras") && !self.filepath.ends_with(".h5") {
            return Err(KerasError::Invalid(format!(
                "The filepath provided must end in `.keras` (Keras model format). Received: filepath={}",
                self.filepath
            )));
        }
        if let SaveFreq::Batches(0) = self.save_freq {
            return Err(KerasError::Invalid(
                "Unrecognized save_freq: 0. Expected save_freq are 'epoch' or positive integer values".into(),
            ));
        }
        Ok(())
    }

    fn path(&self, epoch: usize, batch: Option<usize>, logs: &Logs) -> Result<String> {
        let mut fields: Vec<(&str, Field)> = vec![("epoch", Field::Int(epoch as i64 + 1))];
        if let Some(b) = batch {
            fields.push(("batch", Field::Int(b as i64 + 1)));
        }
        fields.extend(logs.iter().map(|(k, v)| (k, Field::Float(v))));
        format_path(&self.filepath, &fields)
    }

    fn should_save(&mut self, epoch: usize, logs: &Logs, path: &str) -> bool {
        if !self.save_best_only {
            if self.verbose > 0 {
                println!("\nEpoch {}: saving model to {path}", epoch + 1);
            }
            return true;
        }
        let Some(current) = logs.get(&self.m.monitor) else {
            eprintln!("Can save best model only with {} available.", self.m.monitor);
            return true;
        };
        let best = self.best.map_or("None".to_string(), |b| format!("{b:.5}"));
        if self.m.is_improvement(current, self.best) {
            if self.verbose > 0 {
                println!(
                    "\nEpoch {}: {} improved from {best} to {current:.5}, saving model to {path}",
                    epoch + 1,
                    self.m.monitor
                );
            }
            self.best = Some(current);
            true
        } else {
            if self.verbose > 0 {
                println!("\nEpoch {}: {} did not improve from {best}", epoch + 1, self.m.monitor);
            }
            false
        }
    }

    fn save(&mut self, model: &mut Model, epoch: usize, batch: Option<usize>, logs: &Logs) -> Result<()> {
        let path = self.path(epoch, batch, logs)?;
        if !self.should_save(epoch, logs, &path) {
            return Ok(());
        }
        let p = PathBuf::from(&path);
        if p.is_dir() {
            return Err(KerasError::Invalid(format!(
                "Please specify a non-directory filepath for ModelCheckpoint. Filepath used is an existing directory: {path}"
            )));
        }
        if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| KerasError::Io {
                path: dir.display().to_string(),
                source,
            })?;
        }
        // Both writers go through io::atomic (temporary file + rename).
        if self.save_weights_only {
            model.save_weights(&p)?;
        } else {
            model.save(&p)?;
        }
        if self.verbose > 0 {
            println!("\nEpoch {}: finished saving model to {path}", epoch + 1);
        }
        self.saved.push(p);
        Ok(())
    }
}

impl Callback for ModelCheckpoint {
    fn chief_only(&self) -> bool {
        true
    }
    fn on_train_begin(&mut self, _model: &mut Model, _logs: &Logs) -> Result<()> {
        self.check_suffix()?;
        self.m.resolve("ModelCheckpoint")
    }
    fn on_epoch_begin(&mut self, _model: &mut Model, epoch: usize, _logs: &Logs) -> Result<()> {
        self.current_epoch = epoch;
        Ok(())
    }
    fn on_train_batch_end(&mut self, model: &mut Model, batch: usize, logs: &Logs) -> Result<()> {
        let SaveFreq::Batches(n) = self.save_freq else {
            return Ok(());
        };
        let add = match self.last_batch {
            Some(last) if batch > last => batch - last,
            _ => batch + 1,
        };
        self.batches_since_save += add;
        self.last_batch = Some(batch);
        if self.batches_since_save >= n {
            self.batches_since_save = 0;
            let epoch = self.current_epoch;
            self.save(model, epoch, Some(batch), logs)?;
        }
        Ok(())
    }
    fn on_epoch_end(&mut self, model: &mut Model, epoch: usize, logs: &mut Logs) -> Result<()> {
        if self.save_freq == SaveFreq::Epoch {
            self.save(model, epoch, None, logs)?;
        }
        Ok(())
    }
}
