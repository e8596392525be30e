//! The arguments of `fit` and `evaluate` (Keras's names and defaults, builder methods) and the
//! callback list they drive: the user's callbacks, then `History`, then the progress output,
//! as Keras's `CallbackList`.

use super::callback::{Callback, CallbackParams, History, Logs};
use super::data::Arrays;
use crate::error::Result;
use crate::model::Model;
use std::collections::HashMap;
use tensor::Tensor;

/// Validation arrays for `fit`.
#[derive(Debug, Clone)]
pub struct ValidationData {
    /// Inputs.
    pub x: Vec<Tensor>,
    /// Targets.
    pub y: Vec<Tensor>,
    /// Optional sample weights.
    pub sample_weight: Option<Tensor>,
}

/// `fit`'s arguments, Keras's defaults. Build with methods:
/// `FitOptions::default().epochs(10).batch_size(64).validation_split(0.1).verbose(2)`.
pub struct FitOptions<'a> {
    /// Samples per step (32).
    pub batch_size: usize,
    /// Epoch index to stop before (1).
    pub epochs: usize,
    /// 0 silent, 1 progress bar, 2 one line per epoch (1).
    pub verbose: u8,
    /// Callbacks, called in order, before `History` and the progress bar.
    pub callbacks: Vec<Box<dyn Callback + 'a>>,
    /// Fraction of the data (the last samples) held out for validation (0).
    pub validation_split: f64,
    /// Validation arrays (take precedence over `validation_split`).
    pub validation_data: Option<ValidationData>,
    /// Shuffle the samples each epoch (true).
    pub shuffle: bool,
    /// Per-class loss weights (`{class: weight}`).
    pub class_weight: Option<HashMap<usize, f32>>,
    /// Per-sample loss weights, shape `(N,)`.
    pub sample_weight: Option<Tensor>,
    /// Epoch to start from (for resuming) (0).
    pub initial_epoch: usize,
    /// Validation batch size (`batch_size` when `None`).
    pub validation_batch_size: Option<usize>,
    /// Validate every this many epochs (1).
    pub validation_freq: usize,
    /// Seed of the shuffling (`None`: drawn from the session's seed at `compile`).
    pub seed: Option<u64>,
}

impl Default for FitOptions<'_> {
    fn default() -> Self {
        FitOptions {
            batch_size: 32,
            epochs: 1,
            verbose: 1,
            callbacks: Vec::new(),
            validation_split: 0.0,
            validation_data: None,
            shuffle: true,
            class_weight: None,
            sample_weight: None,
            initial_epoch: 0,
            validation_batch_size: None,
            validation_freq: 1,
            seed: None,
        }
    }
}

impl<'a> FitOptions<'a> {
    /// `batch_size`.
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }
    /// `epochs`.
    pub fn epochs(mut self, n: usize) -> Self {
        self.epochs = n;
        self
    }
    /// `verbose` (0, 1, 2).
    pub fn verbose(mut self, v: u8) -> Self {
        self.verbose = v;
        self
    }
    /// Adds a callback (`Box::new(&mut cb)` keeps it readable afterwards).
    pub fn callback(mut self, cb: impl Callback + 'a) -> Self {
        self.callbacks.push(Box::new(cb));
        self
    }
    /// `validation_split`.
    pub fn validation_split(mut self, f: f64) -> Self {
        self.validation_split = f;
        self
    }
    /// `validation_data=(x, y)`.
    pub fn validation_data<X: Arrays + ?Sized, Y: Arrays + ?Sized>(mut self, x: &X, y: &Y) -> Self {
        self.validation_data = Some(ValidationData {
            x: x.arrays(),
            y: y.arrays(),
            sample_weight: None,
        });
        self
    }
    /// `shuffle`.
    pub fn shuffle(mut self, s: bool) -> Self {
        self.shuffle = s;
        self
    }
    /// `class_weight` from `(class, weight)` pairs.
    pub fn class_weight(mut self, w: &[(usize, f32)]) -> Self {
        self.class_weight = Some(w.iter().copied().collect());
        self
    }
    /// `sample_weight`.
    pub fn sample_weight(mut self, w: Tensor) -> Self {
        self.sample_weight = Some(w);
        self
    }
    /// `initial_epoch`.
    pub fn initial_epoch(mut self, e: usize) -> Self {
        self.initial_epoch = e;
        self
    }
    /// `validation_batch_size`.
    pub fn validation_batch_size(mut self, n: usize) -> Self {
        self.validation_batch_size = Some(n);
        self
    }
    /// `validation_freq`.
    pub fn validation_freq(mut self, n: usize) -> Self {
        self.validation_freq = n;
        self
    }
    /// Seed of the per-epoch shuffling.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }
}

/// `evaluate`'s arguments (`batch_size=32`, `verbose=1`).
pub struct EvaluateOptions<'a> {
    /// Samples per step.
    pub batch_size: usize,
    /// 0 silent, 1 progress bar, 2 a final line.
    pub verbose: u8,
    /// Per-sample loss weights.
    pub sample_weight: Option<Tensor>,
    /// Callbacks (test hooks).
    pub callbacks: Vec<Box<dyn Callback + 'a>>,
}

impl Default for EvaluateOptions<'_> {
    fn default() -> Self {
        EvaluateOptions {
            batch_size: 32,
            verbose: 1,
            sample_weight: None,
            callbacks: Vec::new(),
        }
    }
}

impl<'a> EvaluateOptions<'a> {
    /// `batch_size`.
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }
    /// `verbose`.
    pub fn verbose(mut self, v: u8) -> Self {
        self.verbose = v;
        self
    }
    /// `sample_weight`.
    pub fn sample_weight(mut self, w: Tensor) -> Self {
        self.sample_weight = Some(w);
        self
    }
    /// Adds a callback.
    pub fn callback(mut self, cb: impl Callback + 'a) -> Self {
        self.callbacks.push(Box::new(cb));
        self
    }
}

/// The callbacks of one `fit` / `evaluate`: the user's, then `History`, then the progress
/// output, as Keras's `CallbackList`.
pub(crate) struct CallbackList<'a> {
    pub list: Vec<Box<dyn Callback + 'a>>,
    pub history: Option<History>,
    pub progress: Option<Box<dyn Callback>>,
}

macro_rules! each {
    ($self:ident, $cb:ident => $call:expr) => {{
        let chief = crate::distribute::is_chief();
        for $cb in $self.list.iter_mut().filter(|c| chief || !c.chief_only()) {
            $call?;
        }
        if let Some($cb) = $self.history.as_mut() {
            $call?;
        }
        if let Some($cb) = $self.progress.as_mut() {
            $call?;
        }
        Ok(())
    }};
}

impl<'a> CallbackList<'a> {
    pub fn set_params(&mut self, p: &CallbackParams) {
        for cb in self.list.iter_mut() {
            cb.set_params(p);
        }
        if let Some(h) = self.history.as_mut() {
            h.set_params(p);
        }
        if let Some(cb) = self.progress.as_mut() {
            cb.set_params(p);
        }
    }
    pub fn train_begin(&mut self, m: &mut Model) -> Result<()> {
        each!(self, cb => cb.on_train_begin(m, &Logs::new()))
    }
    pub fn train_end(&mut self, m: &mut Model, logs: &Logs) -> Result<()> {
        each!(self, cb => cb.on_train_end(m, logs))
    }
    pub fn epoch_begin(&mut self, m: &mut Model, e: usize) -> Result<()> {
        each!(self, cb => cb.on_epoch_begin(m, e, &Logs::new()))
    }
    pub fn epoch_end(&mut self, m: &mut Model, e: usize, logs: &mut Logs) -> Result<()> {
        each!(self, cb => cb.on_epoch_end(m, e, logs))
    }
    pub fn train_batch_begin(&mut self, m: &mut Model, b: usize) -> Result<()> {
        each!(self, cb => cb.on_train_batch_begin(m, b, &Logs::new()))
    }
    pub fn train_batch_end(&mut self, m: &mut Model, b: usize, logs: &Logs) -> Result<()> {
        each!(self, cb => cb.on_train_batch_end(m, b, logs))
    }
    pub fn test_begin(&mut self, m: &mut Model) -> Result<()> {
        each!(self, cb => cb.on_test_begin(m, &Logs::new()))
    }
    pub fn test_end(&mut self, m: &mut Model, logs: &Logs) -> Result<()> {
        each!(self, cb => cb.on_test_end(m, logs))
    }
    pub fn test_batch_begin(&mut self, m: &mut Model, b: usize) -> Result<()> {
        each!(self, cb => cb.on_test_batch_begin(m, b, &Logs::new()))
    }
    pub fn test_batch_end(&mut self, m: &mut Model, b: usize, logs: &Logs) -> Result<()> {
        each!(self, cb => cb.on_test_batch_end(m, b, logs))
    }
}
