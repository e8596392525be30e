//! `TensorBoard`: real event files that TensorBoard reads, laid out as Keras 3 lays them out:
//! `log_dir/train/events.out.tfevents.*` and `log_dir/validation/…`, scalars `epoch_loss`,
//! `epoch_accuracy`, … (and `epoch_learning_rate`) per epoch in each, `batch_*` scalars every
//! `update_freq` batches, `evaluation_*_vs_iterations` after each validation, weight
//! histograms `<layer>/<weight>/histogram` every `histogram_freq` epochs, and the model's
//! Keras JSON (tag `keras`, TensorBoard's Keras-model graph) when `write_graph`.
//!
//! ```text
//! tensorboard --logdir logs/run1
//! ```
//!
//! The files are written by [`events`] (TFRecord + protobuf, by hand) and read back by
//! [`reader`]; `tools/check_tensorboard.py` checks them with TensorBoard's own reader.

pub mod events;
pub mod reader;

use crate::error::Result;
use crate::model::Model;
use crate::training::callback::{Callback, Logs};
use events::{EventWriter, Value};
use std::path::PathBuf;
use std::time::Instant;

/// How often batch-level scalars are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateFreq {
    /// Only per epoch (`"epoch"`).
    Epoch,
    /// Every `n` batches (`"batch"` is 1).
    Batches(usize),
}

/// `keras.callbacks.TensorBoard(log_dir="logs", histogram_freq=0, write_graph=True,
/// write_steps_per_second=False, update_freq="epoch")`.
pub struct TensorBoard {
    log_dir: PathBuf,
    histogram_freq: usize,
    write_graph: bool,
    write_steps_per_second: bool,
    update_freq: UpdateFreq,
    train: Option<EventWriter>,
    val: Option<EventWriter>,
    global_train_batch: i64,
    global_test_batch: i64,
    epoch_start: Option<(Instant, i64)>,
}

impl TensorBoard {
    /// Logs into `log_dir`.
    pub fn new(log_dir: impl Into<PathBuf>) -> TensorBoard {
        TensorBoard {
            log_dir: log_dir.into(),
            histogram_freq: 0,
            write_graph: true,
            write_steps_per_second: false,
            update_freq: UpdateFreq::Epoch,
            train: None,
            val: None,
            global_train_batch: 0,
            global_test_batch: 0,
            epoch_start: None,
        }
    }
    /// `histogram_freq`: weight histograms every that many epochs (0: never).
    pub fn histogram_freq(mut self, n: usize) -> Self {
        self.histogram_freq = n;
        self
    }
    /// `write_graph`: the model's Keras JSON, for TensorBoard's graph tab.
    pub fn write_graph(mut self, w: bool) -> Self {
        self.write_graph = w;
        self
    }
    /// `write_steps_per_second`.
    pub fn write_steps_per_second(mut self, w: bool) -> Self {
        self.write_steps_per_second = w;
        self
    }
    /// `update_freq`.
    pub fn update_freq(mut self, f: UpdateFreq) -> Self {
        self.update_freq = f;
        self
    }
    /// The event files written so far (train, then validation).
    pub fn files(&self) -> Vec<PathBuf> {
        [&self.train, &self.val]
            .iter()
            .filter_map(|w| w.as_ref().map(|w| w.path().to_path_buf()))
            .collect()
    }

    fn train_writer(&mut self) -> Result<&mut EventWriter> {
        open_writer(&mut self.train, &self.log_dir.join("train"))
    }

    fn val_writer(&mut self) -> Result<&mut EventWriter> {
        open_writer(&mut self.val, &self.log_dir.join("validation"))
    }

    fn records_batch(&self, step: i64) -> bool {
        matches!(self.update_freq, UpdateFreq::Batches(n) if n > 0 && step % n as i64 == 0)
    }

    fn log_weights(&mut self, model: &Model, epoch: i64) -> Result<()> {
        let mut hist: Vec<(String, Vec<f32>)> = Vec::new();
        for layer in model.layers() {
            for w in layer.weights() {
                hist.push((
                    format!("{}/{}/histogram", layer.name(), w.name),
                    w.value.data().to_vec(),
                ));
            }
        }
        let writer = self.train_writer()?;
        for (tag, data) in &hist {
            writer.write(epoch, tag, Value::Histogram(data))?;
        }
        Ok(())
    }
}

impl Callback for TensorBoard {
    fn chief_only(&self) -> bool {
        true
    }
    fn on_train_begin(&mut self, model: &mut Model, _logs: &Logs) -> Result<()> {
        self.global_train_batch = 0;
        self.train = None;
        self.val = None;
        if self.write_graph {
            let json = crate::io::keras_json::model_to_json(model);
            let w = self.train_writer()?;
            w.write(
                0,
                "keras",
                Value::Text {
                    text: &json,
                    plugin: "graph_keras_model",
                    content: b"1",
                },
            )?;
            w.flush()?;
        }
        Ok(())
    }

    fn on_epoch_begin(&mut self, model: &mut Model, _epoch: usize, _logs: &Logs) -> Result<()> {
        let it = model.optimizer().map_or(0, |o| o.iterations());
        self.epoch_start = Some((Instant::now(), it));
        Ok(())
    }

    fn on_train_batch_begin(&mut self, _model: &mut Model, _batch: usize, _logs: &Logs) -> Result<()> {
        self.global_train_batch += 1;
        Ok(())
    }

    fn on_train_batch_end(&mut self, _model: &mut Model, _batch: usize, logs: &Logs) -> Result<()> {
        let step = self.global_train_batch;
        if self.records_batch(step) {
            let w = self.train_writer()?;
            for (k, v) in logs.iter() {
                w.write(step, &format!("batch_{k}"), Value::Scalar(v as f32))?;
            }
        }
        Ok(())
    }

    fn on_test_batch_begin(&mut self, _model: &mut Model, _batch: usize, _logs: &Logs) -> Result<()> {
        self.global_test_batch += 1;
        Ok(())
    }

    fn on_test_end(&mut self, model: &mut Model, logs: &Logs) -> Result<()> {
        if let Some(it) = model.optimizer().map(|o| o.iterations()) {
            let w = self.val_writer()?;
            for (k, v) in logs.iter() {
                w.write(it, &format!("evaluation_{k}_vs_iterations"), Value::Scalar(v as f32))?;
            }
        }
        Ok(())
    }

    fn on_epoch_end(&mut self, model: &mut Model, epoch: usize, logs: &mut Logs) -> Result<()> {
        let step = epoch as i64;
        let mut train: Vec<(String, f64)> = logs
            .iter()
            .filter(|(k, _)| !k.starts_with("val_"))
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let val: Vec<(String, f64)> = logs
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("val_").map(|n| (n.to_string(), v)))
            .collect();
        if let Some(opt) = model.optimizer() {
            if !train.iter().any(|(k, _)| k == "learning_rate") {
                train.push(("learning_rate".into(), opt.current_learning_rate() as f64));
            }
            if self.write_steps_per_second {
                if let Some((t0, it0)) = self.epoch_start {
                    let secs = t0.elapsed().as_secs_f64().max(1e-9);
                    train.push(("steps_per_second".into(), (opt.iterations() - it0) as f64 / secs));
                }
            }
        }
        if !train.is_empty() {
            let w = self.train_writer()?;
            for (k, v) in &train {
                w.write(step, &format!("epoch_{k}"), Value::Scalar(*v as f32))?;
            }
        }
        if !val.is_empty() {
            let w = self.val_writer()?;
            for (k, v) in &val {
                w.write(step, &format!("epoch_{k}"), Value::Scalar(*v as f32))?;
            }
        }
        if self.histogram_freq > 0 && epoch.is_multiple_of(self.histogram_freq) {
            self.log_weights(model, step)?;
        }
        for w in [&mut self.train, &mut self.val].into_iter().flatten() {
            w.flush()?;
        }
        Ok(())
    }

    fn on_train_end(&mut self, _model: &mut Model, _logs: &Logs) -> Result<()> {
        for w in [&mut self.train, &mut self.val].into_iter().flatten() {
            w.flush()?;
        }
        Ok(())
    }
}

/// The writer in `slot`, created in `dir` on first use.
fn open_writer<'a>(slot: &'a mut Option<EventWriter>, dir: &std::path::Path) -> Result<&'a mut EventWriter> {
    if slot.is_none() {
        *slot = Some(EventWriter::create(dir)?);
    }
    slot.as_mut()
        .ok_or_else(|| crate::error::KerasError::Invalid(format!("{}: no event writer", dir.display())))
}
