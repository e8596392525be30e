//! Training histories read for [`super::history_plot`]: the `--history-json` files of
//! `rkeras train` (`{"history": {"loss": [...], "val_loss": [...], ...}, ...}`), the bare
//! `history.history` dict a Keras user saves with `json.dump` (bare `NaN`/`Infinity`
//! accepted, as Python writes them), and `CSVLogger` files (`epoch,accuracy,loss,...`, one
//! row per epoch, `NA` for a missing value). A value that is `null`, `NaN`, `NA` or infinite
//! is kept as NaN: the curves show a gap there.

use crate::error::{KerasError, Result};
use crate::training::callback::History;
use std::path::Path;

/// One run's per-epoch values, named after its file.
#[derive(Debug, Clone, PartialEq)]
pub struct RunHistory {
    /// Legend name (the file stem).
    pub name: String,
    /// Epoch numbers as Keras tutorials plot them (from 1).
    pub epochs: Vec<f64>,
    /// Per key (`loss`, `val_loss`, `accuracy`, …), one value per epoch, in file order.
    pub series: Vec<(String, Vec<f64>)>,
}

impl RunHistory {
    /// A run from a [`History`] that `fit` returned (epochs from `initial_epoch + 1`).
    pub fn from_history(name: &str, h: &History) -> Result<RunHistory> {
        let n = h.history.first().map_or(0, |(_, v)| v.len());
        let epochs = if h.epoch.len() == n {
            h.epoch.iter().map(|&e| e as f64 + 1.0).collect()
        } else {
            (1..=n).map(|e| e as f64).collect()
        };
        checked(name, name, epochs, h.history.clone())
    }

    /// The values of `key`.
    pub fn get(&self, key: &str) -> Option<&[f64]> {
        self.series.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_slice())
    }
}

/// Checks that a run has epochs and one value per epoch in every series (`label` names the
/// run in errors).
fn checked(name: &str, label: &str, epochs: Vec<f64>, series: Vec<(String, Vec<f64>)>) -> Result<RunHistory> {
    if epochs.is_empty() || series.is_empty() {
        return Err(KerasError::Invalid(format!(
            "plot_history: {label}: expected at least one epoch of at least one metric; the history is empty"
        )));
    }
    for (k, v) in &series {
        if v.len() != epochs.len() {
            return Err(KerasError::Invalid(format!(
                "plot_history: {label}: `{k}` has {} values, expected one per epoch ({} epochs, as `{}`)",
                v.len(),
                epochs.len(),
                series[0].0
            )));
        }
    }
    Ok(RunHistory {
        name: name.to_string(),
        epochs,
        series,
    })
}

fn bad(path: &Path, what: impl std::fmt::Display) -> KerasError {
    KerasError::Invalid(format!("plot_history: {}: {what}", path.display()))
}

/// Reads a `--history-json` file, a `json.dump(history.history)` file, or a `CSVLogger`
/// CSV, by extension (`.csv` is CSV, anything else JSON); the run is named after the file
/// stem.
pub fn read_history(path: impl AsRef<Path>) -> Result<RunHistory> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| KerasError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("run").to_string();
    let csv = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let (epochs, series) = if csv {
        parse_csv(path, &text)?
    } else {
        parse_json(path, &text)?
    };
    checked(&name, &path.display().to_string(), epochs, series)
}

/// Python's `json` writes NaN and the infinities as bare words; JSON has none: make them `null`.
fn python_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_str, mut escaped) = (false, false);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_str {
            in_str = escaped || c != '"';
            escaped = !escaped && c == '\\';
        } else if c == '"' {
            in_str = true;
        } else if let Some(word) = ["-Infinity", "Infinity", "NaN"].iter().find(|w| rest.starts_with(**w)) {
            out.push_str("null");
            rest = &rest[word.len()..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// A file's epoch numbers and its series.
type Parsed = (Vec<f64>, Vec<(String, Vec<f64>)>);

fn parse_json(path: &Path, text: &str) -> Result<Parsed> {
    let v: serde_json::Value =
        serde_json::from_str(&python_json(text)).map_err(|e| bad(path, format!("not a JSON history file: {e}")))?;
    let dict = match v.get("history") {
        Some(h) => h,
        None => &v,
    };
    let obj = dict.as_object().ok_or_else(|| {
        bad(
            path,
            "expected {\"history\": {\"loss\": [...], ...}} or {\"loss\": [...], ...}",
        )
    })?;
    let mut series = Vec::new();
    for (k, vals) in obj {
        let arr = vals.as_array().ok_or_else(|| {
            bad(
                path,
                format!("history key `{k}`: expected a list of numbers, one per epoch. Received: {vals}"),
            )
        })?;
        let nums = arr
            .iter()
            .map(|x| match x {
                serde_json::Value::Null => Ok(f64::NAN),
                serde_json::Value::Number(n) => Ok(n.as_f64().unwrap_or(f64::NAN)),
                other => Err(bad(
                    path,
                    format!("history key `{k}`: expected numbers. Received: {other}"),
                )),
            })
            .collect::<Result<Vec<f64>>>()?;
        series.push((k.clone(), nums));
    }
    let n = series.first().map_or(0, |(_, v)| v.len());
    Ok(((1..=n).map(|e| e as f64).collect(), series))
}

/// One CSV field, unquoted as Python's `csv` module quotes them.
fn unquote(f: &str) -> String {
    let f = f.trim();
    match f.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => f.to_string(),
    }
}

fn parse_csv(path: &Path, text: &str) -> Result<Parsed> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines.next().ok_or_else(|| bad(path, "empty CSV file"))?;
    // CSVLogger's separator is "," unless the user chose another; take the one the header uses.
    let sep = [',', ';', '\t']
        .into_iter()
        .find(|&c| header.contains(c))
        .unwrap_or(',');
    let names: Vec<String> = header.split(sep).map(unquote).collect();
    let epoch_col = names.iter().position(|n| n == "epoch").ok_or_else(|| {
        bad(
            path,
            format!("expected an `epoch` column (a CSVLogger file). Received the columns {names:?}"),
        )
    })?;
    let mut epochs = Vec::new();
    let mut cols: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for (row, line) in lines.enumerate() {
        let fields: Vec<String> = line.split(sep).map(unquote).collect();
        if fields.len() != names.len() {
            return Err(bad(
                path,
                format!(
                    "row {}: expected {} fields as the header has. Received {}",
                    row + 2,
                    names.len(),
                    fields.len()
                ),
            ));
        }
        for (c, f) in fields.iter().enumerate() {
            let v = match f.as_str() {
                "" | "NA" | "nan" | "NaN" => f64::NAN,
                s => s.parse::<f64>().map_err(|_| {
                    bad(
                        path,
                        format!(
                            "row {}, column `{}`: expected a number. Received {s:?}",
                            row + 2,
                            names[c]
                        ),
                    )
                })?,
            };
            if c == epoch_col {
                if !(v.is_finite() && v >= 0.0 && v.fract() == 0.0) {
                    return Err(bad(
                        path,
                        format!("row {}: epoch: expected 0, 1, 2, … Received {f:?}", row + 2),
                    ));
                }
                epochs.push(v + 1.0);
            } else {
                cols[c].push(v);
            }
        }
    }
    let series = names
        .into_iter()
        .zip(cols)
        .enumerate()
        .filter(|(c, _)| *c != epoch_col)
        .map(|(_, s)| s)
        .collect();
    Ok((epochs, series))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_words_become_null_outside_strings() {
        assert_eq!(
            python_json(r#"{"NaN": [NaN, 1.5, Infinity, -Infinity], "s": "a \"NaN\""}"#),
            r#"{"NaN": [null, 1.5, null, null], "s": "a \"NaN\""}"#
        );
    }

    #[test]
    fn csv_rows_become_series_and_epochs_start_at_one() {
        let text = "epoch,accuracy,loss\r\n0,0.5,1.25\r\n1,NA,0.75\r\n";
        let (e, s) = parse_csv(Path::new("a.csv"), text).unwrap();
        assert_eq!(e, [1.0, 2.0]);
        assert_eq!(s[0].0, "accuracy");
        assert!(s[0].1[0] == 0.5 && s[0].1[1].is_nan());
        assert_eq!(s[1], ("loss".to_string(), vec![1.25, 0.75]));
    }
}
