//! `fit`, `evaluate` and `predict` on a dataset of batches (Keras's `model.fit(train_ds,
//! validation_data=val_ds)`), such as [`crate::utils::ImageDataset`]: the dataset decides the
//! batches and their order (`batch_size`, `shuffle` and `validation_split` are the dataset's
//! business, as in Keras); callbacks, History, the progress bar and class weights as `fit`.

use super::callback::{CallbackParams, History, Logs};
use super::data::Dataset;
use super::options::{CallbackList, EvaluateOptions, FitOptions};
use super::step::{metrics_logs, reset_metrics};
use crate::error::{KerasError, Result};
use crate::model::Model;
use crate::preprocessing::dataset::ImageDataset;
use tensor::Tensor;

/// A dataset of `(x, y)` batches that `fit_dataset` / `evaluate_dataset` / `predict_dataset`
/// read: the number of batches per epoch and the batches of one epoch.
pub trait BatchSource {
    /// Batches per epoch.
    fn steps(&self) -> usize;
    /// The batches of `epoch` (`y` is `None` for a dataset without labels).
    fn epoch_batches(&self, epoch: usize) -> Box<dyn Iterator<Item = Result<(Tensor, Option<Tensor>)>> + '_>;
}

impl BatchSource for ImageDataset {
    fn steps(&self) -> usize {
        self.len()
    }
    fn epoch_batches(&self, epoch: usize) -> Box<dyn Iterator<Item = Result<(Tensor, Option<Tensor>)>> + '_> {
        Box::new(self.epoch(epoch))
    }
}

fn labelled(model: &Model, what: &str, x: Tensor, y: Option<Tensor>) -> Result<Dataset> {
    let y = y.ok_or_else(|| {
        KerasError::Invalid(format!(
            "{what}: the dataset yields no labels (label_mode=None); it cannot train or evaluate"
        ))
    })?;
    if x.rank() != model.input_shapes().first().map_or(0, Vec::len) {
        return Err(KerasError::Invalid(format!(
            "{what}: the dataset yields single samples of shape {:?}; batch it (batch_size) first",
            x.shape()
        )));
    }
    Dataset::new(model, what, vec![x], vec![y], None)
}

impl Model {
    /// `model.fit(dataset, epochs, validation_data=val_dataset, callbacks, …)`.
    pub fn fit_dataset(
        &mut self,
        train: &dyn BatchSource,
        validation: Option<&dyn BatchSource>,
        options: FitOptions,
    ) -> Result<History> {
        self.compiled_mut("fit")?;
        let FitOptions {
            epochs,
            verbose,
            callbacks,
            validation_split,
            validation_data,
            class_weight,
            sample_weight,
            initial_epoch,
            validation_freq,
            ..
        } = options;
        if validation_split > 0.0 {
            return Err(KerasError::Invalid(
                "fit: `validation_split` is only supported for Tensors or NumPy arrays, not for a dataset; split the \
                 folder with image_dataset_from_directory(validation_split, subset)"
                    .into(),
            ));
        }
        if sample_weight.is_some() || validation_data.is_some() {
            return Err(KerasError::Invalid(
                "fit: with a dataset, `sample_weight` and array `validation_data` are not accepted; pass a validation \
                 dataset"
                    .into(),
            ));
        }
        let steps = train.steps();
        if steps == 0 {
            return Err(KerasError::Invalid("fit: the dataset holds no batch".into()));
        }
        let mut cbs = CallbackList {
            list: callbacks,
            history: Some(History::new()),
            progress: (verbose != 0).then(|| super::progbar::progress_callback(verbose)),
        };
        cbs.set_params(&CallbackParams { verbose, epochs, steps });
        self.compiled_mut("fit")?.stop_training = false;
        cbs.train_begin(self)?;
        let start = self.compiled_mut("fit")?.initial_epoch.take().unwrap_or(initial_epoch);
        let mut last_logs = Logs::new();
        for epoch in start..epochs {
            reset_metrics(self.compiled_mut("fit")?);
            cbs.epoch_begin(self, epoch)?;
            for (step, b) in train.epoch_batches(epoch).enumerate() {
                let (x, y) = b?;
                cbs.train_batch_begin(self, step)?;
                let mut batch = labelled(self, "fit", x, y)?;
                if let Some(cw) = &class_weight {
                    batch.apply_class_weight(cw)?;
                }
                let result = self.train_step(&batch)?;
                self.update_metrics(&batch, &result)?;
                let logs = metrics_logs(self.compiled_mut("fit")?);
                cbs.train_batch_end(self, step, &logs)?;
                if self.stop_training() {
                    break;
                }
            }
            let mut epoch_logs = metrics_logs(self.compiled_mut("fit")?);
            if let Some(v) = validation {
                if validation_freq > 0 && (epoch + 1) % validation_freq == 0 {
                    let val_logs = self.run_evaluate_dataset(v, &mut cbs)?;
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

    fn run_evaluate_dataset(&mut self, data: &dyn BatchSource, cbs: &mut CallbackList) -> Result<Logs> {
        reset_metrics(self.compiled_mut("evaluate")?);
        cbs.test_begin(self)?;
        for (step, b) in data.epoch_batches(0).enumerate() {
            let (x, y) = b?;
            cbs.test_batch_begin(self, step)?;
            let batch = labelled(self, "evaluate", x, y)?;
            let result = self.test_step(&batch)?;
            self.update_metrics(&batch, &result)?;
            let logs = metrics_logs(self.compiled_mut("evaluate")?);
            cbs.test_batch_end(self, step, &logs)?;
        }
        let logs = metrics_logs(self.compiled_mut("evaluate")?);
        cbs.test_end(self, &logs)?;
        Ok(logs)
    }

    /// `model.evaluate(dataset, return_dict=True)`.
    pub fn evaluate_dataset(&mut self, data: &dyn BatchSource, options: EvaluateOptions) -> Result<Logs> {
        self.compiled_mut("evaluate")?;
        let mut cbs = CallbackList {
            list: options.callbacks,
            history: None,
            progress: (options.verbose != 0).then(|| super::progbar::progress_callback(options.verbose)),
        };
        cbs.set_params(&CallbackParams {
            verbose: options.verbose,
            epochs: 1,
            steps: data.steps(),
        });
        self.run_evaluate_dataset(data, &mut cbs)
    }

    /// `model.predict(dataset)`: the outputs of every batch, concatenated (single-output models).
    pub fn predict_dataset(&self, data: &dyn BatchSource) -> Result<Tensor> {
        let mut shape: Option<Vec<usize>> = None;
        let mut out = Vec::new();
        for b in data.epoch_batches(0) {
            let (x, _) = b?;
            let n = x.shape().first().copied().unwrap_or(0);
            let y = self.predict(&[x], n.max(1))?;
            let y = y
                .into_iter()
                .next()
                .ok_or_else(|| KerasError::Invalid("predict: the model has no output".into()))?;
            match &mut shape {
                Some(s) => s[0] += y.shape()[0],
                None => shape = Some(y.shape().to_vec()),
            }
            out.extend_from_slice(y.data());
        }
        let shape = shape.ok_or_else(|| KerasError::Invalid("predict: the dataset holds no batch".into()))?;
        Ok(Tensor::new(&shape, out)?)
    }
}
