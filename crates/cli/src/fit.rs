//! `rkeras fit FILE --x X.npy --y Y.npy --loss NAME …` trains any saved model on arrays, and
//! `rkeras evaluate FILE (--dataset NAME | --x X.npy --y Y.npy)` reports its loss and
//! accuracy. Saved files carry no compile settings, so `fit` takes `--loss` and `evaluate`
//! picks Keras's usual one from the output (`sparse_categorical_crossentropy` for several
//! units, `binary_crossentropy` for one) unless `--loss` is given.

use crate::modelfile;
use crate::train::{prepare, write_json, EpochTimer, OptimizerArgs};
use rkeras::datasets;
use rkeras::io::npy::read_npy;
use rkeras::prelude::*;
use rkeras::training::{EvaluateOptions, FitOptions};

/// Arguments of `rkeras fit`.
#[derive(clap::Args)]
pub struct FitArgs {
    /// The model: `.keras`, `.h5`, or a Keras JSON config (fresh weights).
    pub model: String,
    /// Inputs (`.npy`).
    #[arg(long, value_name = "X.npy")]
    pub x: String,
    /// Targets (`.npy`).
    #[arg(long, value_name = "Y.npy")]
    pub y: String,
    /// Validation inputs.
    #[arg(long, value_name = "X.npy", requires = "validation_y")]
    pub validation_x: Option<String>,
    /// Validation targets.
    #[arg(long, value_name = "Y.npy", requires = "validation_x")]
    pub validation_y: Option<String>,
    /// The loss, as Keras names it (`sparse_categorical_crossentropy`, `mse`, …).
    #[arg(long)]
    pub loss: String,
    /// Metrics to report (repeatable); default `accuracy`.
    #[arg(long = "metric", value_name = "NAME")]
    pub metrics: Vec<String>,
    #[command(flatten)]
    pub opt: OptimizerArgs,
    /// Samples per gradient update.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Number of epochs.
    #[arg(long, default_value_t = 1)]
    pub epochs: usize,
    /// Keep the samples' order.
    #[arg(long)]
    pub no_shuffle: bool,
    /// Validate on this last fraction of the data.
    #[arg(long, value_name = "F")]
    pub validation_split: Option<f64>,
    /// Save the trained model (`.keras`) or weights (`.weights.h5`, `.safetensors`).
    #[arg(long, value_name = "OUT")]
    pub save: Option<String>,
    /// Write `{"history": …, "epoch_seconds": […]}`.
    #[arg(long, value_name = "FILE")]
    pub history_json: Option<String>,
    /// Deterministic mode (`keras.config.enable_determinism()`): reductions in a fixed order, so
    /// a run is bit-for-bit reproducible whatever the thread count (somewhat slower).
    #[arg(long)]
    pub deterministic: bool,
    /// Seed for shuffling and dropout.
    #[arg(long)]
    pub seed: Option<u64>,
    /// 0 silent, 1 progress bar, 2 one line per epoch.
    #[arg(long, default_value_t = 1)]
    pub verbose: u8,
}

/// Arguments of `rkeras evaluate`.
#[derive(clap::Args)]
pub struct EvaluateArgs {
    /// The model: `.keras` or `.h5` (with weights).
    pub model: String,
    /// Evaluate on this dataset's test split (scaled as `train` scales it).
    #[arg(long, conflicts_with_all = ["x", "y"], required_unless_present = "x")]
    pub dataset: Option<String>,
    /// A directory of dataset files.
    #[arg(long, value_name = "DIR", requires = "dataset")]
    pub data_dir: Option<String>,
    /// Download the full dataset into Keras's cache first, as `train --download`.
    #[arg(long, requires = "dataset", conflicts_with = "data_dir")]
    pub download: bool,
    /// Inputs (`.npy`).
    #[arg(long, value_name = "X.npy", requires = "y")]
    pub x: Option<String>,
    /// Targets (`.npy`).
    #[arg(long, value_name = "Y.npy", requires = "x")]
    pub y: Option<String>,
    /// The loss (default: from the output, see above).
    #[arg(long)]
    pub loss: Option<String>,
    /// Samples per batch.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
}

fn metric_names(metrics: &[String]) -> Vec<String> {
    if metrics.is_empty() {
        vec!["accuracy".to_string()]
    } else {
        metrics.to_vec()
    }
}

/// Runs `rkeras fit`.
pub fn run_fit(a: FitArgs) -> Result<()> {
    if a.deterministic {
        rkeras::config::enable_determinism();
    }
    let strategy = crate::train::strategy()?;
    let mut model = modelfile::load(&a.model)?;
    let metrics = metric_names(&a.metrics);
    let refs: Vec<&str> = metrics.iter().map(String::as_str).collect();
    model.compile(a.opt.build()?, a.loss.as_str(), &refs)?;
    model.set_distribute_strategy(strategy)?;
    let x = read_npy(&a.x)?;
    let y = read_npy(&a.y)?;
    let vx = a.validation_x.as_deref().map(read_npy).transpose()?;
    let vy = a.validation_y.as_deref().map(read_npy).transpose()?;
    let mut timer = EpochTimer::default();
    let mut fit = FitOptions::default()
        .epochs(a.epochs)
        .batch_size(a.batch_size)
        .shuffle(!a.no_shuffle)
        .verbose(a.verbose)
        .callback(&mut timer);
    if let (Some(vx), Some(vy)) = (&vx, &vy) {
        fit = fit.validation_data(vx, vy);
    } else if let Some(f) = a.validation_split {
        fit = fit.validation_split(f);
    }
    if let Some(s) = a.seed {
        fit = fit.seed(s);
    }
    let history = model.fit(&x, &y, fit)?;
    if !rkeras::distribute::is_chief() {
        return Ok(());
    }
    if let Some(path) = &a.save {
        modelfile::save(&model, path)?;
        println!("Saved {path}");
    }
    if let Some(path) = &a.history_json {
        let json = serde_json::json!({"history": history.to_json(), "epoch_seconds": timer.seconds});
        write_json(path, &json)?;
    }
    Ok(())
}

/// Runs `rkeras evaluate`.
pub fn run_evaluate(a: EvaluateArgs) -> Result<()> {
    let mut model = modelfile::load_with_weights(&a.model, None, true)?;
    let (x, y) = match (&a.dataset, &a.x, &a.y) {
        (Some(name), _, _) => {
            if a.download {
                datasets::download(name)?;
            }
            let d = datasets::load(name, a.data_dir.as_deref().map(std::path::Path::new))?;
            println!("{}: {} test images from {}", d.name, d.x_test.shape()[0], d.source);
            (prepare(&d.x_test)?, d.y_test)
        }
        (None, Some(x), Some(y)) => (read_npy(x)?, read_npy(y)?),
        _ => {
            return Err(KerasError::Invalid(
                "evaluate: give --dataset NAME or both --x and --y".into(),
            ))
        }
    };
    let loss = match &a.loss {
        Some(l) => l.clone(),
        None => {
            let units = model
                .output_shapes()
                .first()
                .and_then(|s| s.last().copied().flatten())
                .unwrap_or(1);
            if units > 1 {
                "sparse_categorical_crossentropy"
            } else {
                "binary_crossentropy"
            }
            .to_string()
        }
    };
    model.compile("adam", loss.as_str(), &["accuracy"])?;
    let logs = model.evaluate(&x, &y, EvaluateOptions::default().batch_size(a.batch_size).verbose(1))?;
    let parts: Vec<String> = logs.iter().map(|(k, v)| format!("{k}: {v:.4}")).collect();
    println!("{}", parts.join(" - "));
    Ok(())
}
