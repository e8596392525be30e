//! The insight as text: a table after Keras's summary (one row per layer call, the columns
//! the options ask for, totals) and `--explain` lines under each layer of the summary. With
//! every option off, [`summary`] is exactly [`Model::summary`], byte for byte.

use super::{analyze, memory, AxisField, Field, Insight, NodeInsight};
use crate::error::{KerasError, Result};
use crate::explain::thousands;
use crate::model::Model;
use crate::summary::{readable_memory_size, render, SummaryOptions};

/// Which insight columns to add to a summary.
#[derive(Debug, Clone, PartialEq)]
pub struct InsightOptions {
    /// Receptive field size, jump and start.
    pub receptive_field: bool,
    /// FLOPs (TF profiler) and MACs (torchinfo).
    pub flops: bool,
    /// Parameter bytes, activations per sample, training-step estimate.
    pub memory: bool,
    /// Batch size of the training-step estimate.
    pub batch_size: u64,
    /// Optimizer of the training-step estimate (`sgd`, `adam`, `rmsprop`, …).
    pub optimizer: String,
}

impl Default for InsightOptions {
    fn default() -> Self {
        Self {
            receptive_field: false,
            flops: false,
            memory: false,
            batch_size: 32,
            optimizer: "adam".into(),
        }
    }
}

impl InsightOptions {
    /// Every column (what `--explain` shows).
    pub fn all(mut self) -> Self {
        self.receptive_field = true;
        self.flops = true;
        self.memory = true;
        self
    }
    fn any(&self) -> bool {
        self.receptive_field || self.flops || self.memory
    }
}

/// `model.summary(opts)`, then the insight table. With `opts.explain` every column is shown
/// and each layer's receptive-field, FLOPs, MACs and memory arithmetic is printed under it.
pub fn summary(model: &Model, opts: &SummaryOptions, insight: &InsightOptions) -> Result<String> {
    let insight = if opts.explain {
        insight.clone().all()
    } else {
        insight.clone()
    };
    if !insight.any() {
        return model.summary(opts);
    }
    let slots = crate::insight::cost::optimizer_slots(&insight.optimizer, false).ok_or_else(|| {
        KerasError::Invalid(format!(
            "insight: optimizer: expected one of sgd, rmsprop, adagrad, adam, adamw, nadam, adamax; received {:?}",
            insight.optimizer
        ))
    })?;
    let data = analyze(model)?;
    let mut table = model.summary_table(opts.style);
    if opts.explain {
        for node in &data.nodes {
            if let Some(row) = table.rows.get_mut(node.layer) {
                row.explain.extend(explain_lines(node));
            }
        }
    }
    let mut text = render(&table, opts).map_err(|e| KerasError::Invalid(e.to_string()))?;
    text.push('\n');
    text.push_str(&render_table(&data, &insight, slots));
    Ok(text)
}

/// The `--explain` lines of one call.
pub fn explain_lines(node: &NodeInsight) -> Vec<String> {
    let mut lines = node.field_lines.clone();
    lines.extend(
        [node.flops_line.clone(), node.macs_line.clone()]
            .into_iter()
            .filter(|l| !l.is_empty()),
    );
    if let Some(a) = node.activations {
        let dims: Vec<String> = node
            .output_shapes
            .iter()
            .map(|s| {
                s.iter()
                    .skip(1)
                    .map(|d| d.map_or("?".into(), |d| d.to_string()))
                    .collect::<Vec<_>>()
                    .join("·")
            })
            .collect();
        let dims = dims.join(" + ");
        let count = thousands(a);
        let sum = if dims == count {
            count
        } else {
            format!("{dims} = {count}")
        };
        lines.push(format!("activations: {sum} per sample, ·4 B = {}", size(4 * a)));
    }
    lines
}

fn size(bytes: u64) -> String {
    readable_memory_size(bytes, &["B", "KB", "MB", "GB", "TB", "PB"])
}

fn axis_pair(h: u64, w: u64) -> String {
    if h == w {
        thousands(h)
    } else {
        format!("{}×{}", thousands(h), thousands(w))
    }
}

fn signed(n: i64) -> String {
    if n < 0 {
        format!("-{}", thousands(n.unsigned_abs()))
    } else {
        thousands(n as u64)
    }
}

/// RF cells: size, jump, start (`*` marks a field whose paths were not aligned).
fn field_cells(f: &Field) -> [String; 3] {
    match f {
        Field::Spatial { h, w, aligned } => {
            let (
                AxisField {
                    size: hs,
                    jump: hj,
                    start: hu,
                },
                AxisField {
                    size: ws,
                    jump: wj,
                    start: wu,
                },
            ) = (*h, *w);
            let mark = if *aligned { "" } else { "*" };
            [
                format!("{}{mark}", axis_pair(hs, ws)),
                axis_pair(hj, wj),
                if hu == wu {
                    signed(hu)
                } else {
                    format!("{},{}", signed(hu), signed(wu))
                },
            ]
        }
        Field::Global => ["global".into(), "-".into(), "-".into()],
        Field::Unknown(_) => ["?".into(), "?".into(), "?".into()],
    }
}

/// The insight table: one row per layer call, the asked-for columns, totals and notes.
pub fn render_table(data: &Insight, opts: &InsightOptions, slots: u64) -> String {
    let mut head: Vec<&str> = vec!["Layer (type)"];
    if opts.receptive_field {
        head.extend(["RF size", "jump", "start"]);
    }
    if opts.flops {
        head.extend(["FLOPs (TF)", "MACs (torchinfo)"]);
    }
    if opts.memory {
        head.extend(["Activations", "Param bytes"]);
    }
    let mut rows: Vec<Vec<String>> = Vec::new();
    for n in &data.nodes {
        let mut r = vec![format!("{} ({})", n.name, n.class_name)];
        if opts.receptive_field {
            r.extend(field_cells(&n.field));
        }
        if opts.flops {
            r.push(n.flops.map_or("?".into(), thousands));
            r.push(thousands(n.macs));
        }
        if opts.memory {
            r.push(n.activations.map_or("?".into(), |a| size(4 * a)));
            r.push(size(4 * n.params));
        }
        rows.push(r);
    }
    let mut total = vec!["Total".to_string()];
    if opts.receptive_field {
        total.extend(["".into(), "".into(), "".into()]);
    }
    if opts.flops {
        total.push(thousands(data.total_flops));
        total.push(thousands(data.total_macs));
    }
    if opts.memory {
        total.push(size(4 * data.total_activations));
        total.push(size(4 * data.params));
    }
    let widths: Vec<usize> = (0..head.len())
        .map(|c| {
            rows.iter()
                .chain(std::iter::once(&total))
                .map(|r| r[c].chars().count())
                .chain(std::iter::once(head[c].chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| -> String {
        let mut s = String::new();
        for (c, cell) in cells.iter().enumerate() {
            let pad = widths[c] - cell.chars().count();
            if c == 0 {
                s.push_str(cell);
                s.push_str(&" ".repeat(pad));
            } else {
                s.push_str("  ");
                s.push_str(&" ".repeat(pad));
                s.push_str(cell);
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let rule = "─".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1)) + "\n";
    let head: Vec<String> = head.iter().map(|s| s.to_string()).collect();
    let mut out = format!("Insight: \"{}\" (per sample, batch 1)\n", data.model_name);
    out.push_str(&rule);
    out.push_str(&line(&head));
    out.push_str(&rule);
    for r in &rows {
        out.push_str(&line(r));
    }
    out.push_str(&rule);
    out.push_str(&line(&total));
    if opts.receptive_field {
        out.push_str(
            " RF: size r, jump j (effective stride) and start (input index of the first unit's field) in input pixels; * = paths not aligned\n",
        );
    }
    if opts.flops {
        out.push_str(" FLOPs as TensorFlow's profiler counts the inference graph; MACs as torchinfo's Mult-Adds\n");
        if !data.uncounted_flops.is_empty() {
            out.push_str(&format!(
                " FLOPs not counted for: {}\n",
                data.uncounted_flops.join(", ")
            ));
        }
    }
    if opts.memory {
        for l in memory::lines(data, opts.batch_size, slots, &opts.optimizer) {
            out.push_str(&format!(" {l}\n"));
        }
    }
    out
}
