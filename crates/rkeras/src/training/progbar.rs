//! Keras 3's progress output: `keras.utils.Progbar` and the `ProgbarLogger` callback that
//! `fit` / `evaluate` add for `verbose` 1 and 2.
//!
//! ```text
//! Epoch 1/3
//! 469/469 ━━━━━━━━━━━━━━━━━━━━ 3s 6ms/step - accuracy: 0.9012 - loss: 0.3301 - val_accuracy: …
//! ```
//!
//! `verbose=1` on a terminal redraws that line in place (bold counts and times, the done part
//! of the bar green, as Keras), at most every 50 ms; when stdout is not a terminal it prints
//! only the finished line of each epoch, without colours. `verbose=2` prints
//! `469/469 - 3s - 6ms/step - accuracy: …` once per epoch. Metrics show as Keras shows them:
//! in the order they first appear, `{:.4f}` above 1e-3 in magnitude and `{:.4e}` (Python's
//! `1.2346e-04`) below; the time per step leaves out the first step when there are more.

use super::callback::{Callback, CallbackParams, Logs};
use crate::error::Result;
use crate::model::Model;
use std::io::{IsTerminal, Write};
use std::time::Instant;

/// The callback `fit` and `evaluate` append (after `History`) when `verbose` is not 0.
pub fn progress_callback(verbose: u8) -> Box<dyn Callback> {
    Box::new(ProgbarLogger::new(verbose))
}

/// Python's `{:.4e}`: a signed exponent of at least two digits (`1.2346e-04`).
fn py_exp(v: f64) -> String {
    let s = format!("{v:.4e}");
    match s.split_once('e') {
        Some((m, e)) => {
            let (sign, digits) = e.strip_prefix('-').map_or(("+", e), |d| ("-", d));
            format!("{m}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

/// A metric value as Keras prints it (`abs` for verbose 1, the signed value for verbose 2).
fn fmt_value(v: f64, use_abs: bool) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let big = if use_abs { v.abs() > 1e-3 } else { v > 1e-3 };
    if big {
        format!("{v:.4}")
    } else {
        py_exp(v)
    }
}

/// Keras's `_format_time`: ` 6ms/step`, ` 2s/step`, ` 850us/step`.
fn fmt_time(per_unit: f64, unit: &str) -> String {
    if per_unit >= 1.0 || per_unit == 0.0 {
        format!(" {per_unit:.0}s/{unit}")
    } else if per_unit >= 1e-3 {
        format!(" {:.0}ms/{unit}", per_unit * 1e3)
    } else {
        format!(" {:.0}us/{unit}", per_unit * 1e6)
    }
}

fn fmt_eta(eta: f64) -> String {
    let e = eta as u64;
    if eta > 3600.0 {
        format!("{}:{:02}:{:02}", e / 3600, (e % 3600) / 60, e % 60)
    } else if eta > 60.0 {
        format!("{}:{:02}", e / 60, e % 60)
    } else {
        format!("{e}s")
    }
}

/// `keras.utils.Progbar` with every metric shown as given (ProgbarLogger's
/// `stateless_metrics=set()`).
pub struct Progbar {
    target: Option<usize>,
    width: usize,
    verbose: u8,
    /// Redraw in place with colours (a terminal); otherwise print finished lines only.
    dynamic: bool,
    values: Vec<(String, f64)>,
    start: Instant,
    last_update: f64,
    time_after_first_step: Option<f64>,
    prev_width: usize,
    out: Box<dyn Write + Send>,
}

impl Progbar {
    /// A bar of `target` steps (`None`: unknown) writing to stdout.
    pub fn new(target: Option<usize>, verbose: u8) -> Progbar {
        let dynamic = std::io::stdout().is_terminal();
        Progbar::with_output(target, verbose, dynamic, Box::new(std::io::stdout()))
    }

    /// A bar writing to `out`; `dynamic` redraws in place with colours.
    pub fn with_output(target: Option<usize>, verbose: u8, dynamic: bool, out: Box<dyn Write + Send>) -> Progbar {
        Progbar {
            target,
            width: 20,
            verbose,
            dynamic,
            values: Vec::new(),
            start: Instant::now(),
            last_update: f64::NEG_INFINITY,
            time_after_first_step: None,
            prev_width: 0,
            out,
        }
    }

    /// Keras's `update(current, values, finalize)`, timed now.
    pub fn update(&mut self, current: usize, values: &[(&str, f64)], finalize: bool) {
        let now = self.start.elapsed().as_secs_f64();
        self.update_at(current, values, finalize, now);
    }

    fn step_duration(&mut self, current: usize, now: f64) -> f64 {
        if current == 0 {
            return 0.0;
        }
        let per = match self.time_after_first_step {
            Some(t) if current > 1 => (now - t) / (current - 1) as f64,
            _ => now / current as f64,
        };
        if current == 1 {
            self.time_after_first_step = Some(now);
        }
        per
    }

    /// [`Progbar::update`] at `now` seconds after the bar started (for tests).
    pub fn update_at(&mut self, current: usize, values: &[(&str, f64)], finalize: bool, now: f64) {
        for &(k, v) in values {
            match self.values.iter_mut().find(|(n, _)| n == k) {
                Some(e) => e.1 = v,
                None => self.values.push((k.to_string(), v)),
            }
        }
        let per_unit = self.step_duration(current, now);
        let text = match self.verbose {
            1 => {
                if !finalize && (now - self.last_update < 0.05 || !self.dynamic) {
                    return;
                }
                self.line_v1(current, finalize, now, per_unit)
            }
            2 if finalize => self.line_v2(current, now, per_unit),
            _ => return,
        };
        self.last_update = now;
        // Output errors (a closed pipe) must not stop training.
        let _ = self.out.write_all(text.as_bytes());
        let _ = self.out.flush();
    }

    fn line_v1(&mut self, current: usize, finalize: bool, now: f64, per_unit: f64) -> String {
        let (bold, off, green, grey) = if self.dynamic {
            ("\x1b[1m", "\x1b[0m", "\x1b[32m", "\x1b[37m")
        } else {
            ("", "", "", "")
        };
        let mut visible = 0;
        let mut bar = String::new();
        match self.target.filter(|&t| t > 0) {
            Some(t) => {
                let digits = t.to_string().len();
                let count = format!("{current:>digits$}/{t}");
                let done = ((self.width as f64) * current as f64 / t as f64) as usize;
                let done = done.min(self.width);
                visible += count.chars().count() + 1 + self.width;
                bar = format!("{bold}{count}{off} ");
                if done > 0 {
                    bar += &format!("{green}{}{off}", "━".repeat(done));
                }
                bar += &format!("{grey}{}{off}", "━".repeat(self.width - done));
            }
            None => {
                let s = format!("{current:>7}/Unknown");
                visible += s.len();
                bar.push_str(&s);
            }
        }
        let when = match self.target.filter(|&t| t > 0 && !finalize) {
            Some(t) => fmt_eta(per_unit * (t.saturating_sub(current)) as f64),
            None => format!("{now:.0}s"),
        };
        let mut info = format!(" {bold}{when}{off}");
        visible += 1 + when.len();
        let mut tail = fmt_time(per_unit, "step");
        for (k, v) in &self.values {
            tail += &format!(" - {k}: {}", fmt_value(*v, true));
        }
        visible += tail.chars().count();
        info += &tail;
        // Keras backs over the previous line, then returns to its start.
        let mut msg = if self.dynamic {
            "\x08".repeat(self.prev_width) + "\r"
        } else {
            String::new()
        };
        msg += &bar;
        msg += &info;
        if self.prev_width > visible {
            msg += &" ".repeat(self.prev_width - visible);
        }
        self.prev_width = visible;
        if finalize {
            msg.push('\n');
        }
        msg
    }

    fn line_v2(&self, current: usize, now: f64, per_unit: f64) -> String {
        let Some(t) = self.target.filter(|&t| t > 0) else {
            return String::new();
        };
        let digits = t.to_string().len();
        let mut s = format!("{current:>digits$}/{t} - {now:.0}s -{}", fmt_time(per_unit, "step"));
        for (k, v) in &self.values {
            s += &format!(" - {k}: {}", fmt_value(*v, false));
        }
        s.push('\n');
        s
    }
}

/// Keras's `ProgbarLogger`: "Epoch i/n" then the bar for each epoch of `fit` (validation
/// inside `fit` is silent), or one bar for `evaluate` / `predict`.
pub struct ProgbarLogger {
    verbose: u8,
    params: CallbackParams,
    progbar: Option<Progbar>,
    seen: usize,
    in_fit: bool,
    /// Where bars write, when not stdout (tests); `dynamic` then is false.
    sink: Option<std::sync::Arc<std::sync::Mutex<Vec<u8>>>>,
}

struct SharedSink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Write for SharedSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl ProgbarLogger {
    /// A logger for `verbose` 1 (bar) or 2 (one line per epoch).
    pub fn new(verbose: u8) -> ProgbarLogger {
        ProgbarLogger {
            verbose,
            params: CallbackParams::default(),
            progbar: None,
            seen: 0,
            in_fit: false,
            sink: None,
        }
    }

    /// A logger that writes into a buffer as if stdout were not a terminal (for tests).
    pub fn to_buffer(verbose: u8, buffer: std::sync::Arc<std::sync::Mutex<Vec<u8>>>) -> ProgbarLogger {
        ProgbarLogger {
            sink: Some(buffer),
            ..ProgbarLogger::new(verbose)
        }
    }

    fn print(&self, line: &str) {
        match &self.sink {
            Some(s) => {
                let _ = SharedSink(s.clone()).write_all(format!("{line}\n").as_bytes());
            }
            None => println!("{line}"),
        }
    }

    fn reset(&mut self) {
        self.seen = 0;
        let target = Some(self.params.steps).filter(|&s| s > 0);
        self.progbar = Some(match &self.sink {
            Some(s) => Progbar::with_output(target, self.verbose, false, Box::new(SharedSink(s.clone()))),
            None => Progbar::new(target, self.verbose),
        });
    }

    fn update(&mut self, batch: usize, logs: Option<&Logs>) {
        if self.progbar.is_none() {
            self.reset();
        }
        self.seen = batch + 1;
        if self.verbose == 1 {
            let values: Vec<(&str, f64)> = logs.map(|l| l.iter().collect()).unwrap_or_default();
            if let Some(p) = &mut self.progbar {
                p.update(self.seen, &values, false);
            }
        }
    }

    fn finalize(&mut self, logs: &Logs) {
        if self.progbar.is_none() {
            self.reset();
        }
        let target = if self.params.steps > 0 {
            self.params.steps
        } else {
            self.seen
        };
        let values: Vec<(&str, f64)> = logs.iter().collect();
        if let Some(p) = &mut self.progbar {
            p.target = Some(target);
            p.update(target, &values, true);
        }
    }
}

impl Callback for ProgbarLogger {
    fn set_params(&mut self, params: &CallbackParams) {
        self.params = *params;
    }
    fn on_train_begin(&mut self, _model: &mut Model, _logs: &Logs) -> Result<()> {
        self.in_fit = true;
        Ok(())
    }
    fn on_epoch_begin(&mut self, _model: &mut Model, epoch: usize, _logs: &Logs) -> Result<()> {
        self.reset();
        if self.verbose > 0 && self.params.epochs > 1 {
            self.print(&format!("Epoch {}/{}", epoch + 1, self.params.epochs));
        }
        Ok(())
    }
    fn on_train_batch_end(&mut self, _model: &mut Model, batch: usize, logs: &Logs) -> Result<()> {
        self.update(batch, Some(logs));
        Ok(())
    }
    fn on_epoch_end(&mut self, _model: &mut Model, _epoch: usize, logs: &mut Logs) -> Result<()> {
        self.finalize(logs);
        Ok(())
    }
    fn on_test_begin(&mut self, _model: &mut Model, _logs: &Logs) -> Result<()> {
        if !self.in_fit {
            self.reset();
        }
        Ok(())
    }
    fn on_test_batch_end(&mut self, _model: &mut Model, batch: usize, logs: &Logs) -> Result<()> {
        if !self.in_fit {
            self.update(batch, Some(logs));
        }
        Ok(())
    }
    fn on_test_end(&mut self, _model: &mut Model, logs: &Logs) -> Result<()> {
        if !self.in_fit {
            self.finalize(logs);
        }
        Ok(())
    }
    fn on_predict_begin(&mut self, _model: &mut Model, _logs: &Logs) -> Result<()> {
        self.reset();
        Ok(())
    }
    fn on_predict_batch_end(&mut self, _model: &mut Model, batch: usize, _logs: &Logs) -> Result<()> {
        self.update(batch, None);
        Ok(())
    }
    fn on_predict_end(&mut self, _model: &mut Model, logs: &Logs) -> Result<()> {
        self.finalize(logs);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
