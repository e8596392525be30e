//! `BackupAndRestore`: survive a crash or a `kill -9` in the middle of `fit`. After every
//! epoch (or every `save_freq` batches) the model's weights, the optimizer's state and the
//! epoch reached go into `backup_dir/state.npz` in one atomic write (a temporary file
//! renamed over the old one), so the backup is always a whole, consistent state. Run the
//! same `fit` again and it restores that state and starts at the epoch after the last one
//! backed up. `training_metadata.json` (`{"epoch": …, "batch": …}`, Keras's file) is written
//! beside it for people to read. The backup is deleted when `fit` finishes normally
//! (`delete_checkpoint`).

use crate::error::{KerasError, Result};
use crate::io::atomic::write_atomic;
use crate::io::npy::{npy_bytes, read_npz};
use crate::model::Model;
use crate::training::callback::{Callback, Logs};
use std::io::Write;
use std::path::{Path, PathBuf};
use tensor::Tensor;

/// How often to back up.
pub use super::model_checkpoint::SaveFreq;

/// `keras.callbacks.BackupAndRestore(backup_dir, save_freq="epoch", double_checkpoint=False,
/// delete_checkpoint=True)`.
#[derive(Debug, Clone)]
pub struct BackupAndRestore {
    backup_dir: PathBuf,
    save_freq: SaveFreq,
    double_checkpoint: bool,
    delete_checkpoint: bool,
    current_epoch: usize,
    last_batch: usize,
    batches_since_save: usize,
    /// The epoch `fit` resumed at (from 0), when a backup was restored.
    pub restored_epoch: Option<usize>,
}

impl BackupAndRestore {
    /// Backs up into `backup_dir` after every epoch.
    pub fn new(backup_dir: impl Into<PathBuf>) -> BackupAndRestore {
        BackupAndRestore {
            backup_dir: backup_dir.into(),
            save_freq: SaveFreq::Epoch,
            double_checkpoint: false,
            delete_checkpoint: true,
            current_epoch: 0,
            last_batch: 0,
            batches_since_save: 0,
            restored_epoch: None,
        }
    }
    /// `save_freq`: `SaveFreq::Epoch` or every `n` batches.
    pub fn save_freq(mut self, f: SaveFreq) -> Self {
        self.save_freq = f;
        self
    }
    /// `double_checkpoint`: keep the previous backup as `state.npz.bkp`, used when the
    /// latest cannot be read.
    pub fn double_checkpoint(mut self, d: bool) -> Self {
        self.double_checkpoint = d;
        self
    }
    /// `delete_checkpoint`: remove `backup_dir` when training ends normally.
    pub fn delete_checkpoint(mut self, d: bool) -> Self {
        self.delete_checkpoint = d;
        self
    }

    /// The state file.
    pub fn state_path(&self) -> PathBuf {
        self.backup_dir.join("state.npz")
    }

    fn io(path: &Path) -> impl Fn(std::io::Error) -> KerasError + '_ {
        move |source| KerasError::Io {
            path: path.display().to_string(),
            source,
        }
    }

    fn save(&self, model: &mut Model) -> Result<()> {
        // Every worker restores from the backup; the chief alone writes it.
        if !crate::distribute::is_chief() {
            return Ok(());
        }
        std::fs::create_dir_all(&self.backup_dir).map_err(Self::io(&self.backup_dir))?;
        let path = self.state_path();
        if self.double_checkpoint && path.is_file() {
            let bkp = self.backup_dir.join("state.npz.bkp");
            let bytes = std::fs::read(&path).map_err(Self::io(&path))?;
            write_atomic(&bkp, &bytes)?;
        }
        let mut arrays: Vec<(String, Tensor)> = vec![(
            "meta".into(),
            Tensor::new(&[2], vec![self.current_epoch as f32, self.last_batch as f32])?,
        )];
        for (i, w) in model.get_weights().into_iter().enumerate() {
            arrays.push((format!("weight_{i:05}"), w));
        }
        if let Some(opt) = model.optimizer() {
            for (i, v) in opt.variables().into_iter().enumerate() {
                arrays.push((format!("optimizer_{i:05}"), v.value));
            }
        }
        write_atomic(&path, &npz_bytes(&path, &arrays)?)?;
        let meta = format!("{{\"epoch\": {}, \"batch\": {}}}", self.current_epoch, self.last_batch);
        write_atomic(&self.backup_dir.join("training_metadata.json"), meta.as_bytes())
    }

    fn restore_from(&mut self, model: &mut Model, path: &Path) -> Result<()> {
        let p = path.display().to_string();
        let arrays = read_npz(&p)?;
        let take = |prefix: &str| -> Vec<Tensor> {
            arrays
                .iter()
                .filter(|(n, _)| n.starts_with(prefix))
                .map(|(_, t)| t.clone())
                .collect()
        };
        let meta = take("meta");
        let epoch = meta
            .first()
            .and_then(|m| m.data().first().copied())
            .ok_or_else(|| KerasError::Invalid(format!("{p}: no `meta` array; not a BackupAndRestore state")))?;
        model
            .set_weights(&take("weight_"))
            .map_err(|e| KerasError::Invalid(format!("{p}: the backup does not fit this model: {e}")))?;
        let opt_vars = take("optimizer_");
        if !opt_vars.is_empty() && model.optimizer().is_some() {
            model.build_optimizer()?;
            if let Some(opt) = model.optimizer_mut() {
                opt.set_variables(&opt_vars)
                    .map_err(|e| KerasError::Invalid(format!("{p}: optimizer state: {e}")))?;
            }
        }
        let epoch = epoch as usize;
        model.set_initial_epoch(epoch);
        self.restored_epoch = Some(epoch);
        Ok(())
    }
}

/// An uncompressed `.npz` in memory (as `np.savez`).
fn npz_bytes(path: &Path, arrays: &[(String, Tensor)]) -> Result<Vec<u8>> {
    let zerr = |e: zip::result::ZipError| KerasError::Invalid(format!("{}: {e}", path.display()));
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        for (name, t) in arrays {
            zip.start_file(format!("{name}.npy"), opts).map_err(zerr)?;
            zip.write_all(&npy_bytes(t)).map_err(BackupAndRestore::io(path))?;
        }
        zip.finish().map_err(zerr)?;
    }
    Ok(buf.into_inner())
}

impl Callback for BackupAndRestore {
    fn on_train_begin(&mut self, model: &mut Model, _logs: &Logs) -> Result<()> {
        if self.backup_dir.as_os_str().is_empty() {
            return Err(KerasError::Invalid("Empty `backup_dir` argument passed".into()));
        }
        if let SaveFreq::Batches(0) = self.save_freq {
            return Err(KerasError::Invalid(
                "Invalid value for argument `save_freq`. Received: save_freq=0. Expected either 'epoch' or a positive integer value.".into(),
            ));
        }
        self.restored_epoch = None;
        let path = self.state_path();
        if !path.is_file() {
            return Ok(());
        }
        match self.restore_from(model, &path) {
            Ok(()) => Ok(()),
            Err(e) => {
                let bkp = self.backup_dir.join("state.npz.bkp");
                if bkp.is_file() {
                    eprintln!("BackupAndRestore: {e}; using the previous backup {}", bkp.display());
                    self.restore_from(model, &bkp)
                } else {
                    Err(e)
                }
            }
        }
    }

    fn on_epoch_begin(&mut self, _model: &mut Model, epoch: usize, _logs: &Logs) -> Result<()> {
        self.current_epoch = epoch;
        Ok(())
    }

    fn on_train_batch_end(&mut self, model: &mut Model, batch: usize, _logs: &Logs) -> Result<()> {
        let SaveFreq::Batches(n) = self.save_freq else {
            return Ok(());
        };
        let add = if batch <= self.last_batch {
            batch + 1
        } else {
            batch - self.last_batch
        };
        self.batches_since_save += add;
        self.last_batch = batch;
        if self.batches_since_save >= n {
            self.batches_since_save = 0;
            self.save(model)?;
        }
        Ok(())
    }

    fn on_epoch_end(&mut self, model: &mut Model, epoch: usize, _logs: &mut Logs) -> Result<()> {
        self.current_epoch = epoch + 1;
        self.last_batch = 0;
        if self.save_freq == SaveFreq::Epoch {
            self.save(model)?;
        }
        Ok(())
    }

    fn on_train_end(&mut self, _model: &mut Model, _logs: &Logs) -> Result<()> {
        if self.delete_checkpoint && self.backup_dir.exists() && crate::distribute::is_chief() {
            std::fs::remove_dir_all(&self.backup_dir).map_err(Self::io(&self.backup_dir))?;
        }
        Ok(())
    }
}
