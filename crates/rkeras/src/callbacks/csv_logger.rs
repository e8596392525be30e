//! `CSVLogger`: one row per epoch (`epoch` then the logs' keys, sorted; `val_` columns are
//! added when the first epoch has none, as Keras does), written with Python's `csv` module's
//! conventions (`\r\n` line ends, floats as Python prints them, `NA` for missing values)
//! and flushed after every row.

use crate::error::{KerasError, Result};
use crate::model::Model;
use crate::training::callback::{Callback, Logs};
use std::io::{BufRead, Write};
use std::path::PathBuf;

/// `keras.callbacks.CSVLogger(filename, separator=",", append=False)`.
pub struct CSVLogger {
    filename: PathBuf,
    sep: String,
    append: bool,
    keys: Option<Vec<String>>,
    file: Option<std::fs::File>,
    append_header: bool,
}

impl CSVLogger {
    /// A logger writing `filename`.
    pub fn new(filename: impl Into<PathBuf>) -> CSVLogger {
        CSVLogger {
            filename: filename.into(),
            sep: ",".into(),
            append: false,
            keys: None,
            file: None,
            append_header: true,
        }
    }
    /// `separator`.
    pub fn separator(mut self, sep: &str) -> Self {
        self.sep = sep.to_string();
        self
    }
    /// `append`: add rows to an existing file (its header is kept).
    pub fn append(mut self, a: bool) -> Self {
        self.append = a;
        self
    }

    fn io(&self, source: std::io::Error) -> KerasError {
        KerasError::Io {
            path: self.filename.display().to_string(),
            source,
        }
    }

    fn field(&self, s: &str) -> String {
        if s.contains(self.sep.as_str()) || s.contains('"') || s.contains('\n') || s.contains('\r') {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    }
}

/// A float as Python's `str(float)` prints it (shortest round-trip form).
pub(crate) fn py_float(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let a = v.abs();
    if a != 0.0 && !(1e-4..1e16).contains(&a) {
        // Python switches to exponent form: 1e-05, 1.5e+16.
        let s = format!("{v:e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, d) = e.strip_prefix('-').map_or(("+", e), |d| ("-", d));
        return format!("{m}e{sign}{d:0>2}");
    }
    format!("{v:?}")
}

impl Callback for CSVLogger {
    fn chief_only(&self) -> bool {
        true
    }
    fn on_train_begin(&mut self, _model: &mut Model, _logs: &Logs) -> Result<()> {
        let mut opts = std::fs::OpenOptions::new();
        if self.append {
            if let Ok(f) = std::fs::File::open(&self.filename) {
                let mut first = String::new();
                let _ = std::io::BufReader::new(f).read_line(&mut first);
                self.append_header = first.is_empty();
            }
            opts.append(true).create(true);
        } else {
            opts.write(true).create(true).truncate(true);
        }
        self.file = Some(opts.open(&self.filename).map_err(|e| self.io(e))?);
        self.keys = None;
        Ok(())
    }

    fn on_epoch_end(&mut self, _model: &mut Model, epoch: usize, logs: &mut Logs) -> Result<()> {
        let mut header = None;
        if self.keys.is_none() {
            let mut keys: Vec<String> = logs.keys().map(str::to_string).collect();
            keys.sort();
            if !keys.is_empty() && !keys.iter().any(|k| k.starts_with("val_")) {
                let val: Vec<String> = keys.iter().map(|k| format!("val_{k}")).collect();
                keys.extend(val);
            }
            if self.append_header {
                let names: Vec<String> = std::iter::once("epoch".to_string())
                    .chain(keys.iter().cloned())
                    .collect();
                header = Some(names.iter().map(|n| self.field(n)).collect::<Vec<_>>().join(&self.sep));
            }
            self.keys = Some(keys);
        }
        let keys = self.keys.as_deref().unwrap_or_default();
        let mut row = vec![epoch.to_string()];
        row.extend(keys.iter().map(|k| logs.get(k).map_or("NA".to_string(), py_float)));
        let mut text = String::new();
        if let Some(h) = header {
            text += &h;
            text += "\r\n";
        }
        text += &row.join(&self.sep);
        text += "\r\n";
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| KerasError::Invalid("CSVLogger: not started".into()))?;
        let r = file.write_all(text.as_bytes()).and_then(|_| file.flush());
        r.map_err(|e| self.io(e))
    }

    fn on_train_end(&mut self, _model: &mut Model, _logs: &Logs) -> Result<()> {
        self.file = None;
        Ok(())
    }
}
