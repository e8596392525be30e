//! `fit`, `evaluate`, `train_on_batch`, `test_on_batch` on [`Model`], with Keras 3's
//! arguments and defaults (`batch_size=32`, `epochs=1`, `verbose=1`, `shuffle=True`), the
//! callback order Keras uses (user callbacks, then `History`, then the progress bar) and
//! Keras's logs (sorted: `accuracy`, `loss`, `val_accuracy`, `val_loss`).

use super::callback::{CallbackParams, History, Logs};
use super::data::{batches, Arrays, Dataset};
use super::options::{CallbackList, EvaluateOptions, FitOptions};
use super::step::{metrics_logs, reset_metrics};
use crate::error::{KerasError, Result};
use crate::model::Model;
use std::collections::HashMap;
use tensor::Tensor;

impl Model {
    /// `model.fit(x, y, …)`: trains for `epochs` and returns the [`History`].
    pub fn fit<X: Arrays + ?Sized, Y: Arrays + ?Sized>(
        &mut self,
        x: &X,
        y: &Y,
        options: FitOptions,
    ) -> Result<History> {
        self.compiled_mut("fit")?;
        let FitOptions {
            batch_size,
            epochs,
            verbose,
            callbacks,
            validation_split,
            validation_data,
            shuffle,
            class_weight,
            sample_weight,
            initial_epoch,
            validation_batch_size,
            validation_freq,
            seed,
        } = options;
        if batch_size == 0 {
            return Err(KerasError::Invalid(
                "fit: `batch_size` must be at least 1. Received: batch_size=0".into(),
            ));
        }
        let mut train = Dataset::new(self, "fit", x.arrays(), y.arrays(), sample_weight)?;
        let mut val = match validation_data {
            Some(v) => Some(Dataset::new(self, "fit (validation_data)", v.x, v.y, v.sample_weight)?),
            None => None,
        };
        if validation_split > 0.0 && val.is_none() {
            let (t, v) = train.split(validation_split)?;
            train = t;
            val = Some(v);
        }
        if let Some(cw) = &class_weight {
            train.apply_class_weight(cw)?;
        }
        let strategy = self.compiled_mut("fit")?.strategy.clone();
        let replicas = strategy.as_ref().map_or(1, |s| s.num_replicas_in_sync());
        if batch_size % replicas != 0 {
            return Err(KerasError::Invalid(format!(
                "fit: the global `batch_size` must be divisible by the number of replicas in sync. \
                 Received: batch_size={batch_size}, num_replicas_in_sync={replicas}"
            )));
        }
        let chief = crate::distribute::is_chief();
        let steps = train.len().div_ceil(batch_size);
        let mut cbs = CallbackList {
            list: callbacks,
            history: Some(History::new()),
            progress: (verbose != 0 && chief).then(|| super::progbar::progress_callback(verbose)),
        };
        cbs.set_params(&CallbackParams { verbose, epochs, steps });
        let mut shuffle_rng = match (seed, &strategy) {
            (Some(s), _) => tensor::Rng::new(s),
            // Every worker must shuffle alike: the chief's seed.
            (None, Some(st)) if st.local_replicas().len() < st.num_replicas_in_sync() => {
                let mine = self.compiled_mut("fit")?.rng.next_u64();
                tensor::Rng::new(st.broadcast_u64_from_chief(mine)?)
            }
            (None, _) => self.compiled_mut("fit")?.rng.fork(),
        };
        self.compiled_mut("fit")?.stop_training = false;
        cbs.train_begin(self)?;
        if let Some(st) = &strategy {
            // Keras's multi-worker strategy starts every replica from the chief's variables.
            self.broadcast_weights(st.as_ref())?;
            // Each worker's own dropout stream (the session seeds are alike on every rank).
            let first = st.local_replicas().start as u64;
            if first > 0 {
                let c = self.compiled_mut("fit")?;
                c.rng = tensor::Rng::new(c.rng.next_u64() ^ first.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            }
        }
        let start = self.compiled_mut("fit")?.initial_epoch.take().unwrap_or(initial_epoch);
        let mut last_logs = Logs::new();
        let mut order: Vec<usize> = (0..train.len()).collect();
        for epoch in start..epochs {
            reset_metrics(self.compiled_mut("fit")?);
            cbs.epoch_begin(self, epoch)?;
            if shuffle {
                shuffle_rng.shuffle(&mut order);
            }
            for (step, idx) in batches(&order, batch_size).enumerate() {
                cbs.train_batch_begin(self, step)?;
                let batch = train.gather(idx)?;
                let result = match &strategy {
                    Some(st) => self.distributed_train_step(&batch, batch_size / replicas, st.as_ref())?,
                    None => self.train_step(&batch)?,
                };
                self.update_metrics(&batch, &result)?;
                let logs = metrics_logs(self.compiled_mut("fit")?);
                cbs.train_batch_end(self, step, &logs)?;
                if self.stop_training() {
                    break;
                }
            }
            let mut epoch_logs = metrics_logs(self.compiled_mut("fit")?);
            if let Some(v) = &val {
                if validation_freq > 0 && (epoch + 1) % validation_freq == 0 {
                    let vb = validation_batch_size.unwrap_or(batch_size);
                    let val_logs = self.run_evaluate(v, vb, &mut cbs)?;
                    epoch_logs.extend_prefixed("val_", &val_logs);
                }
            }
            let mut epoch_logs = epoch_logs.sorted();
            cbs.epoch_end(self, epoch, &mut epoch_logs)?;
            last_logs = epoch_logs;
            if self.stop_training() {
                break;
            }
        }
        cbs.train_end(self, &last_logs)?;
        Ok(cbs.history.take().unwrap_or_default())
    }

    fn run_evaluate(&mut self, data: &Dataset, batch_size: usize, cbs: &mut CallbackList) -> Result<Logs> {
        reset_metrics(self.compiled_mut("evaluate")?);
        cbs.test_begin(self)?;
        let order: Vec<usize> = (0..data.len()).collect();
        for (step, idx) in batches(&order, batch_size).enumerate() {
            cbs.test_batch_begin(self, step)?;
            let batch = data.gather(idx)?;
            let result = self.test_step(&batch)?;
            self.update_metrics(&batch, &result)?;
            let logs = metrics_logs(self.compiled_mut("evaluate")?);
            cbs.test_batch_end(self, step, &logs)?;
        }
        let logs = metrics_logs(self.compiled_mut("evaluate")?);
        cbs.test_end(self, &logs)?;
        Ok(logs)
    }

    /// `model.evaluate(x, y, return_dict=True)`: the loss and metrics over the data.
    pub fn evaluate<X: Arrays + ?Sized, Y: Arrays + ?Sized>(
        &mut self,
        x: &X,
        y: &Y,
        options: EvaluateOptions,
    ) -> Result<Logs> {
        self.compiled_mut("evaluate")?;
        if options.batch_size == 0 {
            return Err(KerasError::Invalid(
                "evaluate: `batch_size` must be at least 1. Received: batch_size=0".into(),
            ));
        }
        let data = Dataset::new(self, "evaluate", x.arrays(), y.arrays(), options.sample_weight)?;
        let steps = data.len().div_ceil(options.batch_size);
        let mut cbs = CallbackList {
            list: options.callbacks,
            history: None,
            progress: (options.verbose != 0 && crate::distribute::is_chief())
                .then(|| super::progbar::progress_callback(options.verbose)),
        };
        cbs.set_params(&CallbackParams {
            verbose: options.verbose,
            epochs: 1,
            steps,
        });
        self.run_evaluate(&data, options.batch_size, &mut cbs)
    }

    /// `model.train_on_batch(x, y, sample_weight, class_weight, return_dict=True)`: one update
    /// on one batch; the logs are that batch's loss and metrics.
    pub fn train_on_batch<X: Arrays + ?Sized, Y: Arrays + ?Sized>(
        &mut self,
        x: &X,
        y: &Y,
        sample_weight: Option<&Tensor>,
        class_weight: Option<&HashMap<usize, f32>>,
    ) -> Result<Logs> {
        self.compiled_mut("train_on_batch")?;
        let mut batch = Dataset::new(self, "train_on_batch", x.arrays(), y.arrays(), sample_weight.cloned())?;
        if let Some(cw) = class_weight {
            batch.apply_class_weight(cw)?;
        }
        reset_metrics(self.compiled_mut("train_on_batch")?);
        let result = match self.compiled_mut("train_on_batch")?.strategy.clone() {
            // Under a strategy the batch is the global one, cut evenly over the replicas.
            Some(st) => {
                let per = batch.len().div_ceil(st.num_replicas_in_sync());
                self.distributed_train_step(&batch, per, st.as_ref())?
            }
            None => self.train_step(&batch)?,
        };
        self.update_metrics(&batch, &result)?;
        Ok(metrics_logs(self.compiled_mut("train_on_batch")?))
    }

    /// `model.test_on_batch(x, y, sample_weight, return_dict=True)`.
    pub fn test_on_batch<X: Arrays + ?Sized, Y: Arrays + ?Sized>(
        &mut self,
        x: &X,
        y: &Y,
        sample_weight: Option<&Tensor>,
    ) -> Result<Logs> {
        self.compiled_mut("test_on_batch")?;
        let batch = Dataset::new(self, "test_on_batch", x.arrays(), y.arrays(), sample_weight.cloned())?;
        reset_metrics(self.compiled_mut("test_on_batch")?);
        let result = self.test_step(&batch)?;
        self.update_metrics(&batch, &result)?;
        Ok(metrics_logs(self.compiled_mut("test_on_batch")?))
    }
}
