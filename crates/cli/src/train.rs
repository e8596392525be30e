//! `rkeras train MODEL --dataset NAME …`: the tutorials' training program. Loads the
//! dataset (a directory, Keras's cache, or MNIST's embedded subset), scales pixels to
//! `[0, 1]` and adds the channel axis, builds the model (an application name such as
//! `LeNet5`, or a model file), prints its summary, compiles it with sparse categorical
//! cross-entropy and accuracy, trains with the progress bar while validating on the test
//! split (or on `--validation-split` of the training data), evaluates on the test split,
//! and saves.
//!
//! `--history-json` writes `{"history": {...}, "test": {"loss", "accuracy"},
//! "epoch_seconds": [...], "dataset": {...}}`.

use crate::modelfile;
use rkeras::applications::{self, AppOptions};
use rkeras::callbacks::{BackupAndRestore, Callback, EarlyStopping, Logs, ModelCheckpoint, TensorBoard};
use rkeras::datasets::{self, Dataset};
use rkeras::distribute::Strategy;
use rkeras::prelude::*;
use rkeras::summary::SummaryOptions;
use rkeras::training::{EvaluateOptions, FitOptions, Optimizer};
use std::sync::Arc;
use std::time::Instant;

/// Arguments of `rkeras train`.
#[derive(clap::Args)]
pub struct TrainArgs {
    /// An application name (`LeNet5`, `MobileNetV2`, …) built for the dataset's image size
    /// and classes, or a model file (`.keras`, `.h5`, Keras JSON).
    pub model: String,
    /// `mnist`, `fashion_mnist`, `cifar10` or `cifar100`; without it, `--data-dir` must hold
    /// one sub-folder of images per class.
    #[arg(long)]
    pub dataset: Option<String>,
    /// A directory of dataset files (else RKERAS_DATA_DIR, Keras's cache, or for MNIST the
    /// embedded subset).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<String>,
    /// Download the full dataset into Keras's cache first, from Keras's address with its
    /// checksum, as `keras.datasets.<name>.load_data()` (files already cached are kept).
    /// Without it, MNIST falls back to the embedded subset; the others download when missing.
    #[arg(long, conflicts_with = "data_dir")]
    pub download: bool,
    /// Number of epochs.
    #[arg(long, default_value_t = 3)]
    pub epochs: usize,
    /// Samples per gradient update.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    #[command(flatten)]
    pub opt: OptimizerArgs,
    /// Validate on this last fraction of the training data instead of the test split.
    #[arg(long, value_name = "F")]
    pub validation_split: Option<f64>,
    /// Stop when val_loss has not improved for this many epochs (best weights restored).
    #[arg(long, value_name = "PATIENCE")]
    pub early_stopping: Option<usize>,
    /// Write TensorBoard event files here (`train/`, `validation/`).
    #[arg(long, value_name = "DIR")]
    pub logdir: Option<String>,
    /// Weight histograms every N epochs in the TensorBoard logs.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub histogram_freq: usize,
    /// Back up the training state here after every epoch; rerun the same command after a
    /// crash to resume at the next epoch (BackupAndRestore).
    #[arg(long, value_name = "DIR")]
    pub backup_dir: Option<String>,
    /// Save a checkpoint after every epoch (ModelCheckpoint): `.keras`, or `.weights.h5` for
    /// weights only; the name may use `{epoch:02d}`, `{val_loss:.2f}`, … Written atomically.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<String>,
    /// Save the trained model (`.keras`) or its weights (`.weights.h5`, `.safetensors`).
    #[arg(long, value_name = "FILE")]
    pub save: Option<String>,
    /// Write the history, test results and epoch times as JSON.
    #[arg(long, value_name = "FILE")]
    pub history_json: Option<String>,
    /// Deterministic mode (`keras.config.enable_determinism()`): reductions in a fixed order, so
    /// a run is bit-for-bit reproducible whatever the thread count (somewhat slower).
    #[arg(long)]
    pub deterministic: bool,
    /// Seed for weight initialization, shuffling and dropout.
    #[arg(long)]
    pub seed: Option<u64>,
    /// 0 silent, 1 progress bar, 2 one line per epoch.
    #[arg(long, default_value_t = 1)]
    pub verbose: u8,
    /// Image folders: `H,W` the images are resized to (256,256).
    #[arg(long, value_name = "H,W")]
    pub image_size: Option<String>,
    /// Image folders: `rgb`, `grayscale` or `rgba`.
    #[arg(long, default_value = "rgb")]
    pub color_mode: String,
    /// Image folders: augmentation layers prepended in training, e.g.
    /// `flip,rotation:0.1,zoom:0.1,contrast:0.2`.
    #[arg(long, value_name = "LIST")]
    pub augment: Option<String>,
}

/// The optimizer options `train` and `fit` share.
#[derive(clap::Args)]
pub struct OptimizerArgs {
    /// `sgd`, `adam`, `rmsprop` (also `adamw`, `adagrad`), with Keras's defaults.
    #[arg(long, default_value = "adam")]
    pub optimizer: String,
    /// The learning rate (else the optimizer's Keras default).
    #[arg(long, value_name = "F")]
    pub learning_rate: Option<f32>,
}

impl OptimizerArgs {
    /// The configured optimizer.
    pub fn build(&self) -> Result<Optimizer> {
        let opt = Optimizer::get(&self.optimizer)?;
        Ok(match self.learning_rate {
            Some(lr) if lr > 0.0 && lr.is_finite() => opt.learning_rate(lr),
            Some(lr) => {
                return Err(KerasError::Invalid(format!(
                    "--learning-rate must be a positive number, received {lr}"
                )))
            }
            None => opt,
        })
    }
}

/// Records each epoch's wall time.
#[derive(Default)]
pub struct EpochTimer {
    start: Option<Instant>,
    /// Seconds per epoch.
    pub seconds: Vec<f64>,
}

impl Callback for EpochTimer {
    fn on_epoch_begin(&mut self, _m: &mut Model, _e: usize, _l: &Logs) -> Result<()> {
        self.start = Some(Instant::now());
        Ok(())
    }
    fn on_epoch_end(&mut self, _m: &mut Model, _e: usize, _l: &mut Logs) -> Result<()> {
        if let Some(s) = self.start {
            self.seconds.push(s.elapsed().as_secs_f64());
        }
        Ok(())
    }
}

/// Images as the tutorials feed them: `x / 255` with a channel axis (`(N, 28, 28)` →
/// `(N, 28, 28, 1)`), labels as given (sparse).
pub fn prepare(x: &Tensor) -> Result<Tensor> {
    let mut shape = x.shape().to_vec();
    if shape.len() == 3 {
        shape.push(1);
    }
    Ok(x.map(|v| v / 255.0).into_reshape(&shape)?)
}

fn image_shape(d: &Dataset) -> (usize, usize, usize) {
    let s = d.x_train.shape();
    (s[1], s[2], if s.len() > 3 { s[3] } else { 1 })
}

/// Writes `value` as pretty JSON to `path`.
pub fn write_json(path: &str, value: &serde_json::Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| KerasError::Invalid(format!("{path}: {e}")))?;
    std::fs::write(path, text + "\n").map_err(|source| KerasError::Io {
        path: path.to_string(),
        source,
    })
}

/// With the `mpi` feature and when started by `mpirun`, the multi-worker strategy (one
/// replica per rank; `--batch-size` is then the global batch, as in Keras); else `None`.
pub fn strategy() -> Result<Option<Arc<dyn Strategy>>> {
    #[cfg(feature = "mpi")]
    if rkeras::distribute::launched_by_mpirun() {
        let s = rkeras::distribute::MultiWorkerMirroredStrategy::new()?;
        return Ok(Some(Arc::new(s)));
    }
    Ok(None)
}

/// Prints `what` on the chief only (every process when not distributed).
macro_rules! say {
    ($($t:tt)*) => {
        if rkeras::distribute::is_chief() {
            println!($($t)*);
        }
    };
}

/// Runs `rkeras train`.
pub fn run(mut a: TrainArgs) -> Result<()> {
    let Some(dataset) = a.dataset.take() else {
        return match a.data_dir.clone() {
            Some(dir) if crate::train_folder::is_class_tree(&dir) => crate::train_folder::run(a, &dir),
            Some(dir) => Err(KerasError::Invalid(format!(
                "train: {dir} holds no class sub-folder; give --dataset NAME, or a folder with one sub-folder of \
                 images per class"
            ))),
            None => Err(KerasError::Invalid(
                "train: give --dataset NAME, or --data-dir DIR with one sub-folder of images per class".into(),
            )),
        };
    };
    a.dataset = Some(dataset.clone());
    if a.deterministic {
        rkeras::config::enable_determinism();
    }
    let strategy = strategy()?;
    let optimizer = a.opt.build()?;
    if let Some(f) = a.validation_split {
        if !(0.0..1.0).contains(&f) {
            return Err(KerasError::Invalid(format!(
                "--validation-split must be in [0, 1), received {f}"
            )));
        }
    }
    if a.download {
        datasets::download(&dataset)?;
    }
    let data = datasets::load(&dataset, a.data_dir.as_deref().map(std::path::Path::new))?;
    let (h, w, c) = image_shape(&data);
    let classes = data.num_classes();
    say!(
        "{}: {} training / {} test images of {h}×{w}×{c}, {classes} classes, from {}",
        data.name,
        data.x_train.shape()[0],
        data.x_test.shape()[0],
        data.source
    );
    clear_session();
    if let Some(s) = a.seed {
        set_random_seed(s);
    }
    let mut model = if modelfile::Format::of(&a.model).is_ok() || std::path::Path::new(&a.model).is_file() {
        modelfile::load(&a.model)?
    } else {
        let opts = AppOptions {
            input_shape: Some((h, w, c)),
            classes: Some(classes),
            ..AppOptions::default()
        };
        applications::by_name(&a.model, &opts)?
    };
    if rkeras::distribute::is_chief() {
        print!("{}", model.summary(&SummaryOptions::default())?);
    }
    model.compile(optimizer, "sparse_categorical_crossentropy", &["accuracy"])?;
    if let Some(s) = &strategy {
        say!(
            "Distributed: {} workers (MPI), global batch {} = {} × {} per worker",
            s.num_replicas_in_sync(),
            a.batch_size,
            s.num_replicas_in_sync(),
            a.batch_size / s.num_replicas_in_sync().max(1)
        );
        model.set_distribute_strategy(Some(Arc::clone(s)))?;
    }

    let x_train = prepare(&data.x_train)?;
    let x_test = prepare(&data.x_test)?;
    let mut timer = EpochTimer::default();
    let mut fit = FitOptions::default()
        .epochs(a.epochs)
        .batch_size(a.batch_size)
        .verbose(a.verbose)
        .callback(&mut timer);
    fit = match a.validation_split {
        Some(f) if f > 0.0 => fit.validation_split(f),
        _ => fit.validation_data(&x_test, &data.y_test),
    };
    if let Some(s) = a.seed {
        fit = fit.seed(s);
    }
    if let Some(p) = a.early_stopping {
        fit = fit.callback(
            EarlyStopping::new()
                .monitor("val_loss")
                .patience(p)
                .restore_best_weights(true)
                .verbose(1),
        );
    }
    if let Some(dir) = &a.logdir {
        fit = fit.callback(TensorBoard::new(dir).histogram_freq(a.histogram_freq));
    }
    if let Some(path) = &a.checkpoint {
        fit = fit.callback(ModelCheckpoint::new(path).save_weights_only(path.ends_with(".weights.h5")));
    }
    if let Some(dir) = &a.backup_dir {
        let backup = BackupAndRestore::new(dir);
        if backup.state_path().is_file() {
            say!("Resuming from the backup in {dir}");
        }
        fit = fit.callback(backup);
    }
    let history = model.fit(&x_train, &data.y_train, fit)?;
    let test = model.evaluate(
        &x_test,
        &data.y_test,
        EvaluateOptions::default().batch_size(a.batch_size).verbose(0),
    )?;
    let (loss, acc) = (
        test.get("loss").unwrap_or(f64::NAN),
        test.get("accuracy").unwrap_or(f64::NAN),
    );
    say!("Test loss: {loss:.4} - Test accuracy: {acc:.4}");
    if !timer.seconds.is_empty() {
        let total: f64 = timer.seconds.iter().sum();
        say!(
            "Training: {} epoch(s), {:.1} s per epoch",
            timer.seconds.len(),
            total / timer.seconds.len() as f64
        );
    }
    if !rkeras::distribute::is_chief() {
        return Ok(());
    }
    if let Some(path) = &a.save {
        modelfile::save(&model, path)?;
        println!("Saved {path}");
    }
    if let Some(path) = &a.history_json {
        let json = serde_json::json!({
            "history": history.to_json(),
            "test": {"loss": loss, "accuracy": acc},
            "epoch_seconds": timer.seconds,
            "dataset": {
                "name": data.name,
                "source": data.source.to_string(),
                "train": data.x_train.shape()[0],
                "test": data.x_test.shape()[0],
            },
        });
        write_json(path, &json)?;
    }
    Ok(())
}
