//! `compile`, `fit`, `evaluate`, `train_on_batch`, `test_on_batch` on [`Model`], with Keras
//! 3's arguments and defaults (`batch_size=32`, `epochs=1`, `verbose=1`, `shuffle=True`), the
//! callback order Keras uses (user callbacks, then `History`, then the progress bar) and
//! Keras's logs (`loss`, compiled metrics, `val_*`).

use super::callback::{Callback, CallbackParams, History, Logs};
use super::data::{batches, Arrays, Dataset};
use super::losses::Loss;
use super::metrics::{self, Metric};
use super::optimizers::Optimizer;
use super::step::{metrics_logs, reset_metrics};
use super::Compiled;
use crate::error::{KerasError, Result};
use crate::model::Model;
use serde_json::{json, Value};
use std::collections::HashMap;
use tensor::Tensor;

/// An optimizer by name (`"adam"`) or object.
#[derive(Debug, Clone)]
pub enum OptimizerArg {
    /// Keras's string identifier, with defaults.
    Name(String),
    /// A configured optimizer.
    Optimizer(Optimizer),
}

impl From<&str> for OptimizerArg {
    fn from(s: &str) -> Self {
        OptimizerArg::Name(s.to_string())
    }
}

impl From<Optimizer> for OptimizerArg {
    fn from(o: Optimizer) -> Self {
        OptimizerArg::Optimizer(o)
    }
}

/// A loss by name (`"sparse_categorical_crossentropy"`, `"mse"`) or object.
#[derive(Debug, Clone, PartialEq)]
pub enum LossArg {
    /// Keras's string identifier (kept as given for `compile_config`).
    Name(String),
    /// A configured loss.
    Loss(Loss),
}

impl From<&str> for LossArg {
    fn from(s: &str) -> Self {
        LossArg::Name(s.to_string())
    }
}

impl From<Loss> for LossArg {
    fn from(l: Loss) -> Self {
        LossArg::Loss(l)
    }
}

/// A metric by name (`"accuracy"`, `"auc"`, a loss name) or object.
#[derive(Debug, Clone)]
pub enum MetricArg {
    /// Keras's string identifier; the metric is named by it.
    Name(String),
    /// A metric object.
    Metric(Box<dyn Metric>),
}

impl From<&str> for MetricArg {
    fn from(s: &str) -> Self {
        MetricArg::Name(s.to_string())
    }
}

impl From<&&str> for MetricArg {
    fn from(s: &&str) -> Self {
        MetricArg::Name(s.to_string())
    }
}

impl From<String> for MetricArg {
    fn from(s: String) -> Self {
        MetricArg::Name(s)
    }
}

impl From<Box<dyn Metric>> for MetricArg {
    fn from(m: Box<dyn Metric>) -> Self {
        MetricArg::Metric(m)
    }
}

impl MetricArg {
    /// The metric for the first batch's shapes (`"accuracy"` / `"acc"` chosen by shape).
    pub(crate) fn resolve(&self, y_true: &[usize], y_pred: &[usize]) -> Result<Box<dyn Metric>> {
        match self {
            MetricArg::Name(n) if n == "accuracy" || n == "acc" => {
                Ok(Box::new(metrics::resolve_accuracy(n, y_true, y_pred)))
            }
            MetricArg::Name(n) => metrics::get(n),
            MetricArg::Metric(m) => Ok(m.clone()),
        }
    }

    fn check(&self) -> Result<()> {
        match self {
            MetricArg::Name(n) if n == "accuracy" || n == "acc" => Ok(()),
            MetricArg::Name(n) => metrics::get(n).map(|_| ()),
            MetricArg::Metric(_) => Ok(()),
        }
    }

    fn to_keras(&self) -> Value {
        match self {
            MetricArg::Name(n) => json!(n),
            MetricArg::Metric(m) => json!(m.name()),
        }
    }
}

/// Everything `compile()` takes (Keras's `metrics` are unweighted, `weighted_metrics` use
/// sample and class weights).
#[derive(Debug, Clone)]
pub struct CompileOptions {
    /// The optimizer (Keras's default `"rmsprop"`).
    pub optimizer: OptimizerArg,
    /// The loss.
    pub loss: LossArg,
    /// Metrics computed without sample weights.
    pub metrics: Vec<MetricArg>,
    /// Metrics computed with sample weights.
    pub weighted_metrics: Vec<MetricArg>,
}

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
struct CallbackList<'a> {
    list: Vec<Box<dyn Callback + 'a>>,
    history: Option<History>,
    progress: Option<Box<dyn Callback>>,
}

macro_rules! each {
    ($self:ident, $cb:ident => $call:expr) => {{
        for $cb in $self.list.iter_mut() {
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
    fn set_params(&mut self, p: &CallbackParams) {
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
    fn train_begin(&mut self, m: &mut Model) -> Result<()> {
        each!(self, cb => cb.on_train_begin(m, &Logs::new()))
    }
    fn train_end(&mut self, m: &mut Model, logs: &Logs) -> Result<()> {
        each!(self, cb => cb.on_train_end(m, logs))
    }
    fn epoch_begin(&mut self, m: &mut Model, e: usize) -> Result<()> {
        each!(self, cb => cb.on_epoch_begin(m, e, &Logs::new()))
    }
    fn epoch_end(&mut self, m: &mut Model, e: usize, logs: &mut Logs) -> Result<()> {
        each!(self, cb => cb.on_epoch_end(m, e, logs))
    }
    fn train_batch_begin(&mut self, m: &mut Model, b: usize) -> Result<()> {
        each!(self, cb => cb.on_train_batch_begin(m, b, &Logs::new()))
    }
    fn train_batch_end(&mut self, m: &mut Model, b: usize, logs: &Logs) -> Result<()> {
        each!(self, cb => cb.on_train_batch_end(m, b, logs))
    }
    fn test_begin(&mut self, m: &mut Model) -> Result<()> {
        each!(self, cb => cb.on_test_begin(m, &Logs::new()))
    }
    fn test_end(&mut self, m: &mut Model, logs: &Logs) -> Result<()> {
        each!(self, cb => cb.on_test_end(m, logs))
    }
    fn test_batch_begin(&mut self, m: &mut Model, b: usize) -> Result<()> {
        each!(self, cb => cb.on_test_batch_begin(m, b, &Logs::new()))
    }
    fn test_batch_end(&mut self, m: &mut Model, b: usize, logs: &Logs) -> Result<()> {
        each!(self, cb => cb.on_test_batch_end(m, b, logs))
    }
}

impl Model {
    /// `model.compile(optimizer, loss, metrics)`: `model.compile("adam",
    /// "sparse_categorical_crossentropy", &["accuracy"])`. Compiling again replaces the
    /// optimizer (and its state) and the metrics.
    pub fn compile<M: Into<MetricArg> + Clone>(
        &mut self,
        optimizer: impl Into<OptimizerArg>,
        loss: impl Into<LossArg>,
        metrics: &[M],
    ) -> Result<()> {
        self.compile_with(CompileOptions {
            optimizer: optimizer.into(),
            loss: loss.into(),
            metrics: metrics.iter().cloned().map(Into::into).collect(),
            weighted_metrics: Vec::new(),
        })
    }

    /// `compile` with every argument.
    pub fn compile_with(&mut self, options: CompileOptions) -> Result<()> {
        let optimizer = match options.optimizer {
            OptimizerArg::Name(n) => Optimizer::get(&n)?,
            OptimizerArg::Optimizer(o) => o,
        };
        optimizer.validate()?;
        let loss_fn = match &options.loss {
            LossArg::Name(n) => Loss::get(n)?,
            LossArg::Loss(l) => l.clone(),
        };
        for m in options.metrics.iter().chain(&options.weighted_metrics) {
            m.check()?;
        }
        let rng = crate::model::session::with_session(|s| s.rng.fork());
        self.compiled = Some(Box::new(Compiled {
            optimizer,
            loss: options.loss,
            loss_fn,
            metric_args: options.metrics,
            weighted_metric_args: options.weighted_metrics,
            metrics: None,
            weighted_metrics: None,
            loss_tracker: metrics::Mean::new("loss"),
            rng,
            stop_training: false,
            initial_epoch: None,
        }));
        Ok(())
    }

    /// True once `compile()` was called.
    pub fn is_compiled(&self) -> bool {
        self.compiled.is_some()
    }

    /// The compiled optimizer.
    pub fn optimizer(&self) -> Option<&Optimizer> {
        self.compiled.as_ref().map(|c| &c.optimizer)
    }

    /// The compiled optimizer, mutable (`ReduceLROnPlateau` sets its learning rate).
    pub fn optimizer_mut(&mut self) -> Option<&mut Optimizer> {
        self.compiled.as_mut().map(|c| &mut c.optimizer)
    }

    /// The compiled loss.
    pub fn loss(&self) -> Option<&Loss> {
        self.compiled.as_ref().map(|c| &c.loss_fn)
    }

    /// `model.stop_training`.
    pub fn stop_training(&self) -> bool {
        self.compiled.as_ref().is_some_and(|c| c.stop_training)
    }

    /// `model.stop_training = flag`: `fit` stops after the current batch / epoch.
    pub fn set_stop_training(&mut self, flag: bool) {
        if let Some(c) = self.compiled.as_mut() {
            c.stop_training = flag;
        }
    }

    /// Makes the running `fit` start at `epoch` (read after `on_train_begin`, as Keras's
    /// `model._initial_epoch`, which `BackupAndRestore` sets).
    pub fn set_initial_epoch(&mut self, epoch: usize) {
        if let Some(c) = self.compiled.as_mut() {
            c.initial_epoch = Some(epoch);
        }
    }

    /// Builds the optimizer's slots for the trainable weights (Keras's
    /// `optimizer.build(model.trainable_variables)`), e.g. before restoring saved state.
    pub fn build_optimizer(&mut self) -> Result<()> {
        let paths = self.weight_paths();
        let vars: Vec<(u64, String, Vec<usize>)> = self
            .trainable_weights()
            .iter()
            .map(|w| (w.id, paths.get(&w.id).cloned().unwrap_or_default(), w.value.shape().to_vec()))
            .collect();
        self.compiled_mut("build_optimizer")?.optimizer.build(&vars);
        Ok(())
    }

    /// Keras 3's `model.get_compile_config()` (the `compile_config` of a `.keras` file).
    pub fn compile_config(&self) -> Option<Value> {
        let c = self.compiled.as_ref()?;
        let o = &c.optimizer;
        let loss = match &c.loss {
            LossArg::Name(n) => json!(n),
            LossArg::Loss(l) => crate::config::keras_object("keras.losses", l.class_name(), loss_config(l)),
        };
        let list = |v: &[MetricArg]| {
            if v.is_empty() {
                Value::Null
            } else {
                Value::Array(v.iter().map(MetricArg::to_keras).collect())
            }
        };
        Some(json!({
            "optimizer": crate::config::keras_object("keras.optimizers", o.class_name(), o.config()),
            "loss": loss,
            "loss_weights": null,
            "metrics": list(&c.metric_args),
            "weighted_metrics": list(&c.weighted_metric_args),
            "run_eagerly": false,
            "steps_per_execution": 1,
            "jit_compile": false,
        }))
    }

    /// Compiles from Keras's `compile_config` (string metrics; optimizer and loss objects or
    /// names).
    pub fn compile_from_config(&mut self, config: &Value) -> Result<()> {
        let optimizer = match config.get("optimizer") {
            Some(Value::String(s)) => OptimizerArg::Name(s.clone()),
            Some(o @ Value::Object(_)) => {
                let class = o.get("class_name").and_then(Value::as_str).unwrap_or("");
                OptimizerArg::Optimizer(Optimizer::from_config(class, o.get("config").unwrap_or(&Value::Null))?)
            }
            _ => OptimizerArg::Name("rmsprop".into()),
        };
        let loss = match config.get("loss") {
            Some(Value::String(s)) => LossArg::Name(s.clone()),
            Some(o @ Value::Object(_)) => LossArg::Loss(loss_from_config(o)?),
            _ => return Err(KerasError::Config("compile_config: missing `loss`".into())),
        };
        let names = |k: &str| -> Vec<MetricArg> {
            config
                .get(k)
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(MetricArg::from).collect())
                .unwrap_or_default()
        };
        self.compile_with(CompileOptions {
            optimizer,
            loss,
            metrics: names("metrics"),
            weighted_metrics: names("weighted_metrics"),
        })
    }

    /// `model.fit(x, y, …)`: trains for `epochs` and returns the [`History`].
    pub fn fit<X: Arrays + ?Sized, Y: Arrays + ?Sized>(&mut self, x: &X, y: &Y, options: FitOptions) -> Result<History> {
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
            return Err(KerasError::Invalid("fit: `batch_size` must be at least 1. Received: batch_size=0".into()));
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
        let steps = train.len().div_ceil(batch_size);
        let mut cbs = CallbackList {
            list: callbacks,
            history: Some(History::new()),
            progress: (verbose != 0).then(|| super::progbar::progress_callback(verbose)),
        };
        cbs.set_params(&CallbackParams { verbose, epochs, steps });
        let mut shuffle_rng = match seed {
            Some(s) => tensor::Rng::new(s),
            None => self.compiled_mut("fit")?.rng.fork(),
        };
        self.compiled_mut("fit")?.stop_training = false;
        cbs.train_begin(self)?;
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
                let result = self.train_step(&batch)?;
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
            progress: (options.verbose != 0).then(|| super::progbar::progress_callback(options.verbose)),
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
        let result = self.train_step(&batch)?;
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

fn loss_config(l: &Loss) -> Value {
    let mut c = json!({"name": l.name(), "reduction": "sum_over_batch_size"});
    let extra = match l {
        Loss::SparseCategoricalCrossentropy { from_logits } => {
            json!({"from_logits": from_logits, "ignore_class": null})
        }
        Loss::CategoricalCrossentropy {
            from_logits,
            label_smoothing,
        }
        | Loss::BinaryCrossentropy {
            from_logits,
            label_smoothing,
        } => json!({"from_logits": from_logits, "label_smoothing": label_smoothing, "axis": -1}),
        Loss::Huber { delta } => json!({"delta": delta}),
        Loss::MeanSquaredError | Loss::MeanAbsoluteError => json!({}),
    };
    if let (Some(c), Value::Object(e)) = (c.as_object_mut(), extra) {
        c.extend(e);
    }
    c
}

fn loss_from_config(v: &Value) -> Result<Loss> {
    let class = v.get("class_name").and_then(Value::as_str).unwrap_or("");
    let cfg = v.get("config").cloned().unwrap_or(json!({}));
    let logits = cfg.get("from_logits").and_then(Value::as_bool).unwrap_or(false);
    let smoothing = cfg.get("label_smoothing").and_then(Value::as_f64).unwrap_or(0.0);
    Ok(match Loss::get(class)? {
        Loss::Huber { .. } => Loss::Huber {
            delta: cfg.get("delta").and_then(Value::as_f64).unwrap_or(1.0),
        },
        l => l.from_logits(logits).label_smoothing(smoothing),
    })
}
