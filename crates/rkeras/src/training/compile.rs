//! `compile()`: the optimizer, loss and metrics given by name or object (Keras's string
//! identifiers), the compiled state's accessors (`optimizer`, `stop_training`, …), and
//! Keras's `compile_config` out and in.

use super::losses::Loss;
use super::metrics::{self, Metric};
use super::optimizers::Optimizer;
use super::Compiled;
use crate::error::{KerasError, Result};
use crate::model::Model;
use serde_json::{json, Value};

/// An optimizer by name (`"adam"`) or object.
#[derive(Debug, Clone)]
pub enum OptimizerArg {
    /// Keras's string identifier, with defaults.
    Name(String),
    /// A configured optimizer.
    Optimizer(Box<Optimizer>),
}

impl From<&str> for OptimizerArg {
    fn from(s: &str) -> Self {
        OptimizerArg::Name(s.to_string())
    }
}

impl From<Optimizer> for OptimizerArg {
    fn from(o: Optimizer) -> Self {
        OptimizerArg::Optimizer(Box::new(o))
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
        super::malloc::tune_for_training();
        let optimizer = match options.optimizer {
            OptimizerArg::Name(n) => Optimizer::get(&n)?,
            OptimizerArg::Optimizer(o) => *o,
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
            strategy: crate::distribute::current_strategy(),
        }));
        Ok(())
    }

    /// Makes `fit` train with `strategy` (as compiling inside `strategy.scope(…)` does);
    /// `None` trains in this process alone.
    pub fn set_distribute_strategy(
        &mut self,
        strategy: Option<std::sync::Arc<dyn crate::distribute::Strategy>>,
    ) -> Result<()> {
        self.compiled_mut("set_distribute_strategy")?.strategy = strategy;
        Ok(())
    }

    /// Keras's `model.distribute_strategy`: the strategy `fit` trains with, if any.
    pub fn distribute_strategy(&self) -> Option<&std::sync::Arc<dyn crate::distribute::Strategy>> {
        self.compiled.as_ref().and_then(|c| c.strategy.as_ref())
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
            .map(|w| {
                (
                    w.id,
                    paths.get(&w.id).cloned().unwrap_or_default(),
                    w.value.shape().to_vec(),
                )
            })
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
                OptimizerArg::Optimizer(Box::new(Optimizer::from_config(
                    class,
                    o.get("config").unwrap_or(&Value::Null),
                )?))
            }
            _ => OptimizerArg::Name("rmsprop".into()),
        };
        let loss = match config.get("loss") {
            Some(Value::String(s)) => LossArg::Name(s.clone()),
            Some(o @ Value::Object(_)) => LossArg::Loss(loss_from_config(o)?),
            _ => return Err(KerasError::Config("compile_config: missing `loss`".into())),
        };
        // Metrics as Keras stores them: strings, or `{class_name, config: {name, …}}` objects.
        let names = |k: &str| -> Result<Vec<MetricArg>> {
            let Some(list) = config.get(k).and_then(Value::as_array) else {
                return Ok(Vec::new());
            };
            list.iter()
                .map(|m| match m {
                    Value::String(s) => Ok(MetricArg::from(s.as_str())),
                    _ => {
                        let class = m.get("class_name").and_then(Value::as_str).unwrap_or("");
                        let mut metric = metrics::get(class)
                            .map_err(|e| KerasError::Config(format!("compile_config `{k}`: {e}")))?;
                        if let Some(n) = m.pointer("/config/name").and_then(Value::as_str) {
                            metric.set_name(n);
                        }
                        Ok(MetricArg::Metric(metric))
                    }
                })
                .collect()
        };
        self.compile_with(CompileOptions {
            optimizer,
            loss,
            metrics: names("metrics")?,
            weighted_metrics: names("weighted_metrics")?,
        })
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
