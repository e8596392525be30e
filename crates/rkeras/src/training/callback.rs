//! The callback interface of `fit` / `evaluate` / `predict`, as Keras's `keras.callbacks.Callback`:
//! hooks at train/test/predict begin and end, per epoch and per batch, each given the model
//! (to read or change it: `model.set_stop_training(true)`, `model.get_weights()`,
//! `model.optimizer_mut()`) and the current [`Logs`]. [`History`] records every epoch's logs,
//! as Keras's `History` callback, and is what `fit` returns.
//!
//! ```
//! use rkeras::training::{Callback, Logs};
//! use rkeras::{Model, Result};
//! /// Stops once the training loss is below a threshold.
//! struct StopBelow(f64);
//! impl Callback for StopBelow {
//!     fn on_epoch_end(&mut self, model: &mut Model, _epoch: usize, logs: &mut Logs) -> Result<()> {
//!         if logs.get("loss").is_some_and(|l| l < self.0) {
//!             model.set_stop_training(true);
//!         }
//!         Ok(())
//!     }
//! }
//! ```

use crate::error::Result;
use crate::model::Model;

/// Metric values by name. `fit` and `evaluate` hand them over sorted by name, as Keras 3 does
/// (`accuracy`, `loss`, `val_accuracy`, `val_loss`).
/// Values are f32 results widened to f64, as Keras's Python floats.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Logs {
    entries: Vec<(String, f64)>,
}

impl Logs {
    /// Empty logs.
    pub fn new() -> Logs {
        Logs::default()
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.entries.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
    }

    /// Sets `name` (replacing its value in place, or appending it).
    pub fn insert(&mut self, name: &str, value: f64) {
        match self.entries.iter_mut().find(|(k, _)| k == name) {
            Some(e) => e.1 = value,
            None => self.entries.push((name.to_string(), value)),
        }
    }

    /// Removes `name`, returning its value.
    pub fn remove(&mut self, name: &str) -> Option<f64> {
        let i = self.entries.iter().position(|(k, _)| k == name)?;
        Some(self.entries.remove(i).1)
    }

    /// `(name, value)` pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, f64)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// Names in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there is no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Appends every entry of `other` with a prefix (`val_`).
    pub fn extend_prefixed(&mut self, prefix: &str, other: &Logs) {
        for (k, v) in other.iter() {
            self.insert(&format!("{prefix}{k}"), v);
        }
    }

    /// The entries sorted by name, as Keras 3 hands logs to callbacks and `History`
    /// (`accuracy`, `loss`, `val_accuracy`, `val_loss`).
    pub fn sorted(mut self) -> Logs {
        self.entries.sort_by(|a, b| a.0.cmp(&b.0));
        self
    }

    /// A JSON object `{"loss": 0.3, ...}` in order.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.entries
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::json!(v)))
                .collect(),
        )
    }
}

impl<'a> FromIterator<(&'a str, f64)> for Logs {
    fn from_iter<I: IntoIterator<Item = (&'a str, f64)>>(iter: I) -> Logs {
        let mut logs = Logs::new();
        for (k, v) in iter {
            logs.insert(k, v);
        }
        logs
    }
}

/// What `fit` / `evaluate` / `predict` tell callbacks before they start (Keras's
/// `callback.params`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CallbackParams {
    /// `verbose` (0 silent, 1 progress bar, 2 one line per epoch).
    pub verbose: u8,
    /// Number of epochs (`fit`), 1 otherwise.
    pub epochs: usize,
    /// Batches per epoch (or per evaluation / prediction).
    pub steps: usize,
}

/// A training callback. Every hook has a default that does nothing; errors abort `fit` with
/// that error. Batch indices count from 0 within an epoch; epochs count from 0 (as Keras).
#[allow(unused_variables)]
pub trait Callback {
    /// Called with `fit`'s / `evaluate`'s / `predict`'s parameters before any other hook.
    fn set_params(&mut self, params: &CallbackParams) {}
    /// True for callbacks that only write files (logs, checkpoints): in a multi-worker run
    /// only the chief calls them.
    fn chief_only(&self) -> bool {
        false
    }
    /// Start of `fit`.
    fn on_train_begin(&mut self, model: &mut Model, logs: &Logs) -> Result<()> {
        Ok(())
    }
    /// End of `fit`, with the last epoch's logs.
    fn on_train_end(&mut self, model: &mut Model, logs: &Logs) -> Result<()> {
        Ok(())
    }
    /// Start of an epoch.
    fn on_epoch_begin(&mut self, model: &mut Model, epoch: usize, logs: &Logs) -> Result<()> {
        Ok(())
    }
    /// End of an epoch: training metrics and `val_*` metrics. Callbacks may add entries
    /// (`learning_rate`), which later callbacks and [`History`] see, as in Keras.
    fn on_epoch_end(&mut self, model: &mut Model, epoch: usize, logs: &mut Logs) -> Result<()> {
        Ok(())
    }
    /// Before a training batch.
    fn on_train_batch_begin(&mut self, model: &mut Model, batch: usize, logs: &Logs) -> Result<()> {
        Ok(())
    }
    /// After a training batch, with the running (epoch-so-far) metric values.
    fn on_train_batch_end(&mut self, model: &mut Model, batch: usize, logs: &Logs) -> Result<()> {
        Ok(())
    }
    /// Start of `evaluate` (also the validation inside `fit`).
    fn on_test_begin(&mut self, model: &mut Model, logs: &Logs) -> Result<()> {
        Ok(())
    }
    /// End of `evaluate`, with its results.
    fn on_test_end(&mut self, model: &mut Model, logs: &Logs) -> Result<()> {
        Ok(())
    }
    /// Before an evaluation batch.
    fn on_test_batch_begin(&mut self, model: &mut Model, batch: usize, logs: &Logs) -> Result<()> {
        Ok(())
    }
    /// After an evaluation batch, with the running metric values.
    fn on_test_batch_end(&mut self, model: &mut Model, batch: usize, logs: &Logs) -> Result<()> {
        Ok(())
    }
    /// Start of `predict`.
    fn on_predict_begin(&mut self, model: &mut Model, logs: &Logs) -> Result<()> {
        Ok(())
    }
    /// End of `predict`.
    fn on_predict_end(&mut self, model: &mut Model, logs: &Logs) -> Result<()> {
        Ok(())
    }
    /// Before a prediction batch.
    fn on_predict_batch_begin(&mut self, model: &mut Model, batch: usize, logs: &Logs) -> Result<()> {
        Ok(())
    }
    /// After a prediction batch.
    fn on_predict_batch_end(&mut self, model: &mut Model, batch: usize, logs: &Logs) -> Result<()> {
        Ok(())
    }
}

/// A callback borrowed by `fit` so the caller can read it afterwards
/// (`Box::new(&mut early_stopping)`).
impl<C: Callback + ?Sized> Callback for &mut C {
    fn set_params(&mut self, params: &CallbackParams) {
        (**self).set_params(params)
    }
    fn chief_only(&self) -> bool {
        (**self).chief_only()
    }
    fn on_train_begin(&mut self, model: &mut Model, logs: &Logs) -> Result<()> {
        (**self).on_train_begin(model, logs)
    }
    fn on_train_end(&mut self, model: &mut Model, logs: &Logs) -> Result<()> {
        (**self).on_train_end(model, logs)
    }
    fn on_epoch_begin(&mut self, model: &mut Model, epoch: usize, logs: &Logs) -> Result<()> {
        (**self).on_epoch_begin(model, epoch, logs)
    }
    fn on_epoch_end(&mut self, model: &mut Model, epoch: usize, logs: &mut Logs) -> Result<()> {
        (**self).on_epoch_end(model, epoch, logs)
    }
    fn on_train_batch_begin(&mut self, model: &mut Model, batch: usize, logs: &Logs) -> Result<()> {
        (**self).on_train_batch_begin(model, batch, logs)
    }
    fn on_train_batch_end(&mut self, model: &mut Model, batch: usize, logs: &Logs) -> Result<()> {
        (**self).on_train_batch_end(model, batch, logs)
    }
    fn on_test_begin(&mut self, model: &mut Model, logs: &Logs) -> Result<()> {
        (**self).on_test_begin(model, logs)
    }
    fn on_test_end(&mut self, model: &mut Model, logs: &Logs) -> Result<()> {
        (**self).on_test_end(model, logs)
    }
    fn on_test_batch_begin(&mut self, model: &mut Model, batch: usize, logs: &Logs) -> Result<()> {
        (**self).on_test_batch_begin(model, batch, logs)
    }
    fn on_test_batch_end(&mut self, model: &mut Model, batch: usize, logs: &Logs) -> Result<()> {
        (**self).on_test_batch_end(model, batch, logs)
    }
    fn on_predict_begin(&mut self, model: &mut Model, logs: &Logs) -> Result<()> {
        (**self).on_predict_begin(model, logs)
    }
    fn on_predict_end(&mut self, model: &mut Model, logs: &Logs) -> Result<()> {
        (**self).on_predict_end(model, logs)
    }
    fn on_predict_batch_begin(&mut self, model: &mut Model, batch: usize, logs: &Logs) -> Result<()> {
        (**self).on_predict_batch_begin(model, batch, logs)
    }
    fn on_predict_batch_end(&mut self, model: &mut Model, batch: usize, logs: &Logs) -> Result<()> {
        (**self).on_predict_batch_end(model, batch, logs)
    }
}

/// Keras's `History`: `history["loss"][epoch]`, the epochs seen, and the fit parameters.
/// `fit` always records one and returns it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// Per metric name, one value per epoch, keys in Keras's order.
    pub history: Vec<(String, Vec<f64>)>,
    /// The epoch indices recorded (from `initial_epoch`).
    pub epoch: Vec<usize>,
    /// The parameters `fit` ran with.
    pub params: CallbackParams,
}

impl History {
    /// An empty history.
    pub fn new() -> History {
        History::default()
    }

    /// The values of one metric (`history.history["val_loss"]`).
    pub fn get(&self, name: &str) -> Option<&[f64]> {
        self.history.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_slice())
    }

    /// Metric names in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.history.iter().map(|(k, _)| k.as_str())
    }

    /// The Keras `history.history` dict as JSON: `{"loss": [..], "accuracy": [..], ...}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.history
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::json!(v)))
                .collect(),
        )
    }
}

impl Callback for History {
    fn set_params(&mut self, params: &CallbackParams) {
        self.params = *params;
    }
    fn on_train_begin(&mut self, _model: &mut Model, _logs: &Logs) -> Result<()> {
        self.epoch.clear();
        Ok(())
    }
    fn on_epoch_end(&mut self, _model: &mut Model, epoch: usize, logs: &mut Logs) -> Result<()> {
        self.epoch.push(epoch);
        for (k, v) in logs.iter() {
            match self.history.iter_mut().find(|(n, _)| n == k) {
                Some((_, vals)) => vals.push(v),
                None => self.history.push((k.to_string(), vec![v])),
            }
        }
        Ok(())
    }
}
