//! Callbacks inside real `fit` runs on a tiny model, and on hand-fed logs where Keras's
//! counting rules are the point.

use super::*;
use crate::prelude::*;
use crate::training::FitOptions;

fn tiny() -> Model {
    clear_session();
    set_random_seed(1);
    let mut m = Sequential::new()
        .add(InputLayer::new(&[2]))
        .add(Dense::new(3).activation("relu"))
        .add(Dense::new(1).activation("sigmoid"))
        .build()
        .unwrap();
    m.compile("sgd", "binary_crossentropy", &["accuracy"]).unwrap();
    m
}

fn data() -> (Tensor, Tensor) {
    let x = Tensor::new(&[8, 2], (0..16).map(|i| (i % 5) as f32 / 4.0).collect()).unwrap();
    let y = Tensor::new(&[8, 1], vec![0., 1., 0., 1., 1., 0., 1., 0.]).unwrap();
    (x, y)
}

fn logs(pairs: &[(&str, f64)]) -> Logs {
    pairs.iter().copied().collect()
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("rkeras-cb-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Keras 3: EarlyStopping(patience=2) on val_loss 1.0, 0.9, 0.95, 0.97 stops at epoch 3
/// (index), restoring epoch 1's weights.
#[test]
fn early_stopping_counts_like_keras_and_restores_best() {
    let mut m = tiny();
    let mut es = EarlyStopping::new().patience(2).restore_best_weights(true).verbose(1);
    es.on_train_begin(&mut m, &Logs::new()).unwrap();
    let mut best_weights = None;
    for (epoch, v) in [1.0, 0.9, 0.95, 0.97].into_iter().enumerate() {
        let mut w = m.get_weights();
        w[0] = w[0].map(|x| x + epoch as f32);
        m.set_weights(&w).unwrap();
        if epoch == 1 {
            best_weights = Some(m.get_weights());
        }
        es.on_epoch_end(&mut m, epoch, &mut logs(&[("val_loss", v)])).unwrap();
        assert_eq!(m.stop_training(), epoch == 3, "epoch {epoch}");
    }
    assert_eq!((es.stopped_epoch, es.best_epoch, es.best()), (3, 1, Some(0.9)));
    es.on_train_end(&mut m, &Logs::new()).unwrap();
    assert_eq!(m.get_weights(), best_weights.unwrap());
}

#[test]
fn early_stopping_baseline_start_from_epoch_and_modes() {
    let mut m = tiny();
    // A baseline never beaten: stops after `patience` epochs even though values improve.
    let mut es = EarlyStopping::new().monitor("val_accuracy").patience(2).baseline(0.9);
    es.on_train_begin(&mut m, &Logs::new()).unwrap();
    for (e, v) in [0.5, 0.6, 0.7].into_iter().enumerate() {
        es.on_epoch_end(&mut m, e, &mut logs(&[("val_accuracy", v)])).unwrap();
    }
    assert_eq!(
        es.stopped_epoch, 0,
        "improvements keep wait below patience only from baseline"
    );
    assert!(!m.stop_training());
    // start_from_epoch ignores early epochs; min_delta requires a real improvement.
    let mut m = tiny();
    let mut es = EarlyStopping::new().monitor("loss").min_delta(0.1).start_from_epoch(2);
    es.on_train_begin(&mut m, &Logs::new()).unwrap();
    for (e, v) in [9.0, 9.0, 1.0, 0.95].into_iter().enumerate() {
        es.on_epoch_end(&mut m, e, &mut logs(&[("loss", v)])).unwrap();
    }
    assert_eq!(es.stopped_epoch, 3);
    let mut es = EarlyStopping::new().monitor("my_score");
    let e = es
        .on_epoch_end(&mut m, 0, &mut logs(&[("my_score", 1.0)]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("isn't able to automatically determine") && e.contains("mode='max'"),
        "{e}"
    );
    let mut es = EarlyStopping::new().monitor("my_score").mode("max");
    assert!(es.on_epoch_end(&mut m, 0, &mut logs(&[("my_score", 1.0)])).is_ok());
}

#[test]
fn early_stopping_stops_a_real_fit() {
    let mut m = tiny();
    let (x, y) = data();
    let mut es = EarlyStopping::new().monitor("loss").min_delta(10.0).patience(1);
    let h = m
        .fit(&x, &y, FitOptions::default().epochs(10).verbose(0).callback(&mut es))
        .unwrap();
    assert_eq!(h.epoch, [0, 1]);
    assert_eq!(es.stopped_epoch, 1);
}

#[test]
fn reduce_lr_and_scheduler_change_the_optimizer() {
    let mut m = tiny();
    let (x, y) = data();
    let mut r = ReduceLROnPlateau::new()
        .monitor("loss")
        .min_delta(100.0)
        .patience(1)
        .factor(0.5)
        .min_lr(0.004);
    let h = m
        .fit(&x, &y, FitOptions::default().epochs(4).verbose(0).callback(&mut r))
        .unwrap();
    // SGD's 0.01 halves after each epoch without a 100-unit improvement, down to min_lr;
    // the logs hold the rate the epoch ran with (recorded before reducing, as Keras).
    let lr: Vec<f64> = h
        .get("learning_rate")
        .unwrap()
        .iter()
        .map(|v| (v * 1e6).round() / 1e6)
        .collect();
    assert_eq!(lr, [0.01, 0.01, 0.005, 0.004]);
    let bad = ReduceLROnPlateau::new().factor(1.5);
    let e = m
        .fit(&x, &y, FitOptions::default().verbose(0).callback(bad))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("does not support a factor >= 1.0. Received factor=1.5"),
        "{e}"
    );

    let mut m = tiny();
    let s = LearningRateScheduler::new(|epoch, lr| if epoch < 1 { lr } else { lr * 0.1 });
    let h = m
        .fit(&x, &y, FitOptions::default().epochs(3).verbose(0).callback(s))
        .unwrap();
    let lr: Vec<f64> = h
        .get("learning_rate")
        .unwrap()
        .iter()
        .map(|v| (v * 1e7).round() / 1e7)
        .collect();
    assert_eq!(lr, [0.01, 0.001, 0.0001]);
}

/// A linear model with MSE on inputs of 1e30: finite data, an infinite loss.
fn diverging() -> (Model, Tensor, Tensor) {
    clear_session();
    let mut m = Sequential::new()
        .add(InputLayer::new(&[2]))
        .add(Dense::new(1))
        .build()
        .unwrap();
    m.compile("sgd", "mse", &["mae"]).unwrap();
    let x = Tensor::full(&[8, 2], 1e30);
    let y = Tensor::zeros(&[8, 1]);
    (m, x, y)
}

#[test]
fn terminate_on_nan_stops_at_the_first_bad_batch() {
    let (mut m, x, y) = diverging();
    let mut t = TerminateOnNaN::new();
    let h = m
        .fit(
            &x,
            &y,
            FitOptions::default()
                .epochs(3)
                .batch_size(2)
                .shuffle(false)
                .verbose(0)
                .callback(&mut t),
        )
        .unwrap();
    assert_eq!(t.stopped_at_batch, Some(0));
    assert_eq!(h.epoch, [0]);
    let (mut m, x, y) = diverging();
    let e = m
        .fit(
            &x,
            &y,
            FitOptions::default()
                .batch_size(2)
                .verbose(0)
                .callback(TerminateOnNaN::new().raise_error(true)),
        )
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "NaN or Inf loss encountered at batch 0. Loss value: inf. Terminating training immediately."
    );
}

#[test]
fn csv_logger_writes_python_csv() {
    let dir = tmp("csv");
    let path = dir.join("log.csv");
    let mut m = tiny();
    let mut c = CSVLogger::new(&path);
    c.on_train_begin(&mut m, &Logs::new()).unwrap();
    c.on_epoch_end(&mut m, 0, &mut logs(&[("loss", 0.5), ("accuracy", 0.25)]))
        .unwrap();
    c.on_epoch_end(
        &mut m,
        1,
        &mut logs(&[("loss", 1e-5), ("accuracy", 0.30000001192092896)]),
    )
    .unwrap();
    c.on_train_end(&mut m, &Logs::new()).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text,
        "epoch,accuracy,loss,val_accuracy,val_loss\r\n0,0.25,0.5,NA,NA\r\n1,0.30000001192092896,1e-05,NA,NA\r\n"
    );
    let mut c = CSVLogger::new(&path).append(true).separator(";");
    c.on_train_begin(&mut m, &Logs::new()).unwrap();
    c.on_epoch_end(&mut m, 0, &mut logs(&[("loss", 2.0)])).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.ends_with("NA,NA\r\n0;2.0;NA\r\n"), "{text:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn model_checkpoint_formats_paths_saves_best_only_and_leaves_no_temporaries() {
    let dir = tmp("ckpt");
    let mut m = tiny();
    let (x, y) = data();
    let pattern = format!("{}/m-{{epoch:02d}}-{{loss:.2f}}.keras", dir.display());
    let mut c = ModelCheckpoint::new(&pattern).monitor("loss");
    m.fit(&x, &y, FitOptions::default().epochs(2).verbose(0).callback(&mut c))
        .unwrap();
    assert_eq!(c.saved.len(), 2);
    let first = c.saved[0].file_name().unwrap().to_string_lossy().to_string();
    assert!(first.starts_with("m-01-") && first.ends_with(".keras"), "{first}");
    let loaded = crate::load_model(&c.saved[1]).unwrap();
    assert_eq!(loaded.get_weights(), m.get_weights());
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with('.')),
        "temporary files left: {names:?}"
    );

    // save_best_only, "max" of a falling loss: only the first epoch improves.
    let best = dir.join("best.weights.h5");
    let mut c = ModelCheckpoint::new(best.to_str().unwrap())
        .monitor("loss")
        .mode("max")
        .save_best_only(true)
        .save_weights_only(true);
    m.fit(&x, &y, FitOptions::default().epochs(3).verbose(0).callback(&mut c))
        .unwrap();
    assert_eq!(c.saved.len(), 1);
    assert!(best.is_file());

    let e = m
        .fit(
            &x,
            &y,
            FitOptions::default()
                .verbose(0)
                .callback(ModelCheckpoint::new("w.h5").save_weights_only(true)),
        )
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("must end in `.weights.h5`") && e.contains("filepath=w.h5"),
        "{e}"
    );
    let e = m
        .fit(
            &x,
            &y,
            FitOptions::default()
                .verbose(0)
                .callback(ModelCheckpoint::new(&format!("{}/{{val_acc}}.keras", dir.display()))),
        )
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("Failed to format this callback filepath") && e.contains("'val_acc'"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A callback that fails at the start of one epoch, as a crash would.
struct CrashAt(usize);
impl Callback for CrashAt {
    fn on_epoch_begin(&mut self, _m: &mut Model, epoch: usize, _l: &Logs) -> crate::Result<()> {
        if epoch == self.0 {
            return Err(crate::KerasError::Invalid("simulated crash".into()));
        }
        Ok(())
    }
}

#[test]
fn backup_and_restore_resumes_at_the_epoch_after_the_last_backup() {
    let dir = tmp("backup");
    let (x, y) = data();
    let opts = || FitOptions::default().epochs(4).verbose(0).shuffle(false);
    // The uninterrupted run, for reference.
    let mut full = tiny();
    let hfull = full.fit(&x, &y, opts()).unwrap();

    let mut m = tiny();
    let mut b = BackupAndRestore::new(dir.join("bk"));
    let e = m
        .fit(&x, &y, opts().callback(&mut b).callback(CrashAt(2)))
        .unwrap_err()
        .to_string();
    assert_eq!(e, "simulated crash");
    assert!(b.state_path().is_file());
    let meta = std::fs::read_to_string(dir.join("bk/training_metadata.json")).unwrap();
    assert_eq!(meta, "{\"epoch\": 2, \"batch\": 0}");

    // A new process: a fresh model, the same fit, resumes at epoch 2 with the same state.
    let mut m2 = tiny();
    let mut b2 = BackupAndRestore::new(dir.join("bk"));
    let h = m2.fit(&x, &y, opts().callback(&mut b2)).unwrap();
    assert_eq!(b2.restored_epoch, Some(2));
    assert_eq!(h.epoch, [2, 3]);
    assert_eq!(h.get("loss").unwrap(), &hfull.get("loss").unwrap()[2..]);
    assert_eq!(m2.get_weights(), full.get_weights());
    assert!(!dir.join("bk").exists(), "deleted after a normal end");
    std::fs::remove_dir_all(&dir).unwrap();
}
