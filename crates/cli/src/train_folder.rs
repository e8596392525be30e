//! `rkeras train MODEL --data-dir DIR` when DIR holds one sub-folder per class (no
//! `--dataset`): `image_dataset_from_directory` with a training / validation split, the
//! `--augment` layers and `Rescaling(1/255)` prepended to the model (augmentation acts in
//! training only), then the summary, `fit` with the progress bar, History, TensorBoard,
//! checkpoints and `--save` as `train` does for the built-in datasets.
//!
//! `--augment flip,rotation:0.1,zoom:0.1,contrast:0.2,translation:0.1,brightness:0.2` (flip
//! takes `horizontal`, `vertical` or `horizontal_and_vertical`: `flip:vertical`).

use crate::modelfile;
use crate::train::{write_json, EpochTimer, TrainArgs};
use rkeras::applications::{self, AppOptions};
use rkeras::callbacks::{EarlyStopping, ModelCheckpoint, TensorBoard};
use rkeras::prelude::*;
use rkeras::summary::SummaryOptions;
use rkeras::training::{EvaluateOptions, FitOptions};
use rkeras::utils::{image_dataset_from_directory, DirectoryOptions};

/// Whether DIR looks like a class-per-folder tree (at least one visible sub-folder).
pub fn is_class_tree(dir: &str) -> bool {
    std::fs::read_dir(dir).is_ok_and(|rd| {
        rd.flatten()
            .any(|e| e.path().is_dir() && !e.file_name().to_string_lossy().starts_with('.'))
    })
}

/// `H,W` → `(H, W)`.
pub fn parse_size(s: &str) -> Result<(usize, usize)> {
    let bad = || KerasError::Invalid(format!("--image-size: expected H,W (e.g. 180,180), received {s:?}"));
    let (h, w) = s.split_once(',').ok_or_else(bad)?;
    let (h, w) = (
        h.trim().parse().map_err(|_| bad())?,
        w.trim().parse().map_err(|_| bad())?,
    );
    if h == 0 || w == 0 {
        return Err(bad());
    }
    Ok((h, w))
}

/// The `--augment` list as layers.
pub fn augment_layers(spec: &str, seed: u64) -> Result<Vec<AugmentConfig>> {
    let mut out = Vec::new();
    for (k, item) in spec.split(',').map(str::trim).filter(|s| !s.is_empty()).enumerate() {
        let (name, arg) = item.split_once(':').map_or((item, None), |(n, a)| (n, Some(a)));
        let num = |d: f64| -> Result<f64> {
            arg.map_or(Ok(d), |a| {
                a.parse::<f64>()
                    .map_err(|_| KerasError::Invalid(format!("--augment {item}: expected a number after ':'")))
            })
        };
        let layer = match name {
            "flip" => RandomFlip::new(arg.unwrap_or("horizontal")),
            "rotation" => RandomRotation::new(num(0.1)?),
            "zoom" => RandomZoom::new(num(0.1)?),
            "translation" => {
                let f = num(0.1)?;
                RandomTranslation::new(f, f)
            }
            "contrast" => RandomContrast::new(num(0.2)?),
            "brightness" => RandomBrightness::new(num(0.2)?),
            other => {
                return Err(KerasError::Invalid(format!(
                "--augment: unknown augmentation {other:?} (flip, rotation, zoom, translation, contrast, brightness)"
            )))
            }
        };
        out.push(layer.seed(seed.wrapping_add(k as u64)));
    }
    Ok(out)
}

/// Runs `rkeras train MODEL --data-dir DIR` on a class-per-folder tree.
pub fn run(a: TrainArgs, dir: &str) -> Result<()> {
    if a.deterministic {
        rkeras::config::enable_determinism();
    }
    let optimizer = a.opt.build()?;
    let seed = a.seed.unwrap_or(1337);
    let (h, w) = a.image_size.as_deref().map_or(Ok((256, 256)), parse_size)?;
    let split = a.validation_split.unwrap_or(0.2);
    let o = DirectoryOptions {
        image_size: (h, w),
        batch_size: Some(a.batch_size),
        seed: Some(seed as u32),
        color_mode: a.color_mode.clone(),
        validation_split: (split > 0.0).then_some(split),
        subset: (split > 0.0).then(|| "both".to_string()),
        ..Default::default()
    };
    let (train, val) = match image_dataset_from_directory(dir, &o)? {
        rkeras::utils::DatasetSplit::Both(t, v) => (t, Some(v)),
        rkeras::utils::DatasetSplit::One(t) => (t, None),
    };
    let classes = train.class_names().map_or(0, <[String]>::len);
    if classes < 2 {
        return Err(KerasError::Invalid(format!(
            "{dir}: found {classes} class folder(s); training a classifier needs at least 2 sub-folders (one per class)"
        )));
    }
    let c = train.element_shape()[2];
    clear_session();
    set_random_seed(seed);
    let inner = if modelfile::Format::of(&a.model).is_ok() || std::path::Path::new(&a.model).is_file() {
        modelfile::load(&a.model)?
    } else {
        let opts = AppOptions {
            input_shape: Some((h, w, c)),
            classes: Some(classes),
            ..AppOptions::default()
        };
        applications::by_name(&a.model, &opts)?
    };
    let mut seq = Sequential::new().add(InputLayer::new(&[h, w, c]));
    for l in augment_layers(a.augment.as_deref().unwrap_or(""), seed)? {
        seq = seq.add(l);
    }
    let mut model = seq.add(Rescaling::new(1.0 / 255.0)).add(inner).build()?;
    print!("{}", model.summary(&SummaryOptions::default())?);
    model.compile(optimizer, "sparse_categorical_crossentropy", &["accuracy"])?;
    let mut timer = EpochTimer::default();
    let mut fit = FitOptions::default()
        .epochs(a.epochs)
        .verbose(a.verbose)
        .callback(&mut timer);
    if let Some(p) = a.early_stopping {
        fit = fit.callback(
            EarlyStopping::new()
                .monitor("val_loss")
                .patience(p)
                .restore_best_weights(true)
                .verbose(1),
        );
    }
    if let Some(d) = &a.logdir {
        fit = fit.callback(TensorBoard::new(d).histogram_freq(a.histogram_freq));
    }
    if let Some(path) = &a.checkpoint {
        fit = fit.callback(ModelCheckpoint::new(path).save_weights_only(path.ends_with(".weights.h5")));
    }
    let history = model.fit_dataset(
        &train,
        val.as_ref().map(|v| v as &dyn rkeras::training::BatchSource),
        fit,
    )?;
    let (loss, acc) = match &val {
        Some(v) => {
            let t = model.evaluate_dataset(v, EvaluateOptions::default().verbose(0))?;
            (t.get("loss").unwrap_or(f64::NAN), t.get("accuracy").unwrap_or(f64::NAN))
        }
        None => (f64::NAN, f64::NAN),
    };
    println!("Validation loss: {loss:.4} - Validation accuracy: {acc:.4}");
    if !timer.seconds.is_empty() {
        let total: f64 = timer.seconds.iter().sum();
        println!(
            "Training: {} epoch(s), {:.1} s per epoch",
            timer.seconds.len(),
            total / timer.seconds.len() as f64
        );
    }
    if let Some(path) = &a.save {
        modelfile::save(&model, path)?;
        println!("Saved {path}");
    }
    if let Some(path) = &a.history_json {
        let json = serde_json::json!({
            "history": history.to_json(),
            "validation": {"loss": loss, "accuracy": acc},
            "epoch_seconds": timer.seconds,
            "dataset": {"directory": dir, "class_names": train.class_names(), "train": train.num_files(),
                        "validation": val.as_ref().map_or(0, |v| v.num_files())},
        });
        write_json(path, &json)?;
    }
    Ok(())
}
