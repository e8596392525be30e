//! Training, as Keras 3 does it: `model.compile(optimizer, loss, metrics)`, then `fit`
//! (batches, epochs, shuffling, validation, class and sample weights, callbacks) returning a
//! [`History`], `evaluate`, `train_on_batch`, `test_on_batch`. Training-mode layers behave as
//! in Keras (Dropout active, BatchNormalization updating its moving statistics), regularizer
//! penalties join the loss, constraints are applied after each update, frozen layers keep
//! their weights, and a variable shared by several layers is updated once.
//!
//! ```
//! use rkeras::prelude::*;
//! use rkeras::training::FitOptions;
//! clear_session();
//! let mut model = Sequential::new()
//!     .add(InputLayer::new(&[2]))
//!     .add(Dense::new(1).activation("sigmoid"))
//!     .build()
//!     .unwrap();
//! model.compile("adam", "binary_crossentropy", &["accuracy"]).unwrap();
//! let x = Tensor::new(&[4, 2], vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]).unwrap();
//! let y = Tensor::new(&[4, 1], vec![0.0, 0.0, 0.0, 1.0]).unwrap();
//! let history = model.fit(&x, &y, FitOptions::default().epochs(2).verbose(0)).unwrap();
//! assert_eq!(history.keys().collect::<Vec<_>>(), ["accuracy", "loss"]);
//! ```
//!
//! Files: [`callback`] (the `Callback` trait, `Logs`, `History`), [`losses`], [`metrics`],
//! [`optimizers`], [`schedules`], `compile.rs`, `options.rs` (fit's arguments, the callback
//! list), `fit.rs` (fit / evaluate / train_on_batch), `step.rs` (one
//! training or test step), `data.rs` (arrays, batches, weights), [`progbar`] (the progress
//! output `verbose` selects).

pub mod callback;
pub mod losses;
pub mod metrics;
pub mod optimizers;
pub mod progbar;
pub mod schedules;

mod compile;
pub(crate) mod data;
mod fit;
mod fit_dataset;
mod malloc;
mod options;
pub(crate) mod step;

pub use callback::{Callback, CallbackParams, History, Logs};
pub use compile::{CompileOptions, LossArg, MetricArg, OptimizerArg};
pub use data::Arrays;
pub use fit_dataset::BatchSource;
pub use losses::Loss;
pub use metrics::Metric;
pub use optimizers::{LearningRate, Optimizer};
pub use options::{EvaluateOptions, FitOptions, ValidationData};
pub use schedules::LearningRateSchedule;

use crate::error::Result;
use crate::layers::Layer;
use tensor::{Tape, Var};

/// What `compile()` stores on a model, and the training state that lives between calls.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub(crate) optimizer: Optimizer,
    pub(crate) loss: LossArg,
    pub(crate) loss_fn: Loss,
    pub(crate) metric_args: Vec<MetricArg>,
    pub(crate) weighted_metric_args: Vec<MetricArg>,
    /// Resolved at the first batch (Keras builds compiled metrics from the first shapes).
    pub(crate) metrics: Option<Vec<Box<dyn Metric>>>,
    pub(crate) weighted_metrics: Option<Vec<Box<dyn Metric>>>,
    pub(crate) loss_tracker: metrics::Mean,
    pub(crate) rng: tensor::Rng,
    pub(crate) stop_training: bool,
    pub(crate) initial_epoch: Option<usize>,
    /// The distribution strategy of the scope the model was compiled in.
    pub(crate) strategy: Option<std::sync::Arc<dyn crate::distribute::Strategy>>,
}

/// The summed regularizer penalties of `layers` whose weights are `weights` (flattened over
/// the layers in order, as [`crate::model::Model::run`] takes them); nested models recurse.
pub fn regularization_of_layers(layers: &[Box<dyn Layer>], tape: &mut Tape, weights: &[Var]) -> Result<Option<Var>> {
    let mut total: Option<Var> = None;
    let mut offset = 0;
    for l in layers {
        let n = l.weights().len();
        let slice = weights.get(offset..offset + n).ok_or_else(|| {
            crate::error::KerasError::Invalid(format!(
                "{}: expected {n} weight variables at position {offset}, received {}",
                l.name(),
                weights.len()
            ))
        })?;
        offset += n;
        if let Some(p) = l.regularization(tape, slice)? {
            total = Some(match total {
                Some(t) => tape.add(t, p)?,
                None => p,
            });
        }
    }
    Ok(total)
}
