//! Keras 3.15's `model.summary()` (`keras/src/utils/summary_utils.py` `print_summary`),
//! drawn as the `rich` table it builds (see `rich.rs`):
//!
//! ```text
//! Model: "sequential"
//! ┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━┓
//! ┃ Layer (type)                         ┃ Output Shape                ┃         Param # ┃
//! ┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━┩
//! │ conv2d (Conv2D)                      │ (None, 26, 26, 32)          │             320 │
//! └──────────────────────────────────────┴─────────────────────────────┴─────────────────┘
//!  Total params: 320 (1.25 KB)
//!  Trainable params: 320 (1.25 KB)
//!  Non-trainable params: 0 (0.00 B)
//! ```
//!
//! Widths: 88 (sequential-like) or 108 columns, +12 with `show_trainable`, capped at the
//! terminal's width − 4; positions `[0.45, 0.80, 1.0]` or `[0.3, 0.56, 0.74, 1.0]`, scaled
//! by 0.9 with the "Trainable" column added at 1.0. rkeras's `--explain` lines go inside
//! the row's block as `│   ↳ text │` lines spanning the table.

use super::format::{cell_len, readable_memory_size, shapes_keras3, thousands, wrap_words};
use super::rich::{console_lines, inner_width, render_table, Column, Justify, Row};
use super::{visible_rows, SummaryError, SummaryOptions, SummaryRow, SummaryTable};

const UNITS: [&str; 6] = ["B", "KB", "MB", "GB", "TB", "PB"];
/// Bytes per parameter: rkeras's weights are float32.
const BYTES_PER_PARAM: u64 = 4;

/// Renders `table` as Keras 3 prints it; `terminal` is the console's width, `None` for a
/// console wider than the table.
pub(super) fn render(
    table: &SummaryTable,
    opts: &SummaryOptions,
    terminal: Option<usize>,
) -> Result<String, SummaryError> {
    let (columns, table_width) = columns(table.sequential_like, opts, terminal)?;
    let explain_width = inner_width(&columns, table_width);
    let mut rows = Vec::new();
    add_rows(
        &mut rows,
        &table.rows,
        table.is_sequential,
        0,
        table,
        opts,
        explain_width,
    );

    let mut lines = vec![format!("Model: \"{}\"", table.model_name)];
    lines.extend(render_table(&columns, &rows, table_width));
    let size = |params: u64, extra: u64| {
        readable_memory_size(params.saturating_mul(BYTES_PER_PARAM).saturating_add(extra), &UNITS)
    };
    let (opt_count, opt_bytes) = table.optimizer.map_or((0, 0), |o| (o.count, o.bytes));
    let total = table.total_params.saturating_add(opt_count);
    lines.push(format!(
        " Total params: {} ({})",
        thousands(total),
        size(table.total_params, opt_bytes + table.extra_bytes[0])
    ));
    let trainable = table.trainable_params;
    lines.push(format!(
        " Trainable params: {} ({})",
        thousands(trainable),
        size(trainable, table.extra_bytes[1])
    ));
    let frozen = table.non_trainable_params;
    lines.push(format!(
        " Non-trainable params: {} ({})",
        thousands(frozen),
        size(frozen, table.extra_bytes[2])
    ));
    if let Some(o) = table.optimizer {
        let bytes = readable_memory_size(o.bytes, &UNITS);
        lines.push(format!(" Optimizer params: {} ({bytes})", thousands(o.count)));
    }

    let mut out = String::new();
    let table_lines = 1..lines.len() - 3 - usize::from(table.optimizer.is_some());
    for (i, line) in lines.iter().enumerate() {
        match terminal {
            // The console crops the table's lines and word-wraps the others.
            Some(width) if table_lines.contains(&i) => {
                out.extend(line.chars().take(width.max(1)));
                out.push('\n');
            }
            Some(width) if cell_len(line) > width => {
                for piece in console_lines(line, width.max(1)) {
                    out.push_str(&piece);
                    out.push('\n');
                }
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    Ok(out)
}

/// Keras's headers, justifications and column widths for these options, and the table's
/// width (`line_length`).
fn columns(
    sequential_like: bool,
    opts: &SummaryOptions,
    terminal: Option<usize>,
) -> Result<(Vec<Column>, usize), SummaryError> {
    let (mut default_length, default_positions, mut headers, mut justify): (i64, Vec<f64>, _, _) = if sequential_like {
        (
            88,
            vec![0.45, 0.80, 1.0],
            vec!["Layer (type)", "Output Shape", "Param #"],
            vec![Justify::Left, Justify::Left, Justify::Right],
        )
    } else {
        (
            108,
            vec![0.3, 0.56, 0.74, 1.0],
            vec!["Layer (type)", "Output Shape", "Param #", "Connected to"],
            vec![Justify::Left, Justify::Left, Justify::Right, Justify::Left],
        )
    };
    let mut positions = match opts.positions.as_ref().filter(|p| !p.is_empty()) {
        Some(given) => {
            check_positions(given, headers.len())?;
            given.clone()
        }
        None => default_positions,
    };
    if opts.show_trainable {
        default_length += 12;
        positions = positions.iter().map(|p| p * 0.90).chain([1.0]).collect();
        headers.push("Trainable");
        justify.push(Justify::Center);
    }
    if let Some(cols) = terminal {
        default_length = default_length.min(i64::try_from(cols).unwrap_or(i64::MAX) - 4);
    }
    let line_length = match opts.line_length {
        Some(n) if n > 0 => i64::try_from(n).unwrap_or(i64::MAX),
        _ => default_length,
    };
    let mut widths = Vec::with_capacity(positions.len());
    let mut current = 0i64;
    for pos in &positions {
        // Python's `int(pos * line_length)`: truncation toward zero.
        let width = (pos * line_length as f64) as i64 - current;
        widths.push(width);
        current += width;
    }
    if widths.iter().any(|&w| w < 4) {
        return Err(SummaryError::InvalidOption {
            argument: "line_length",
            expected: "a width that leaves every column at least 4 characters \
                       (Keras 3: \"Insufficient console width to print summary.\")"
                .to_string(),
            received: format!("line_length={line_length} with positions {positions:?}, column widths {widths:?}"),
        });
    }
    let columns = headers
        .into_iter()
        .zip(justify)
        .zip(widths)
        .map(|((header, justify), width)| Column {
            header,
            justify,
            width: usize::try_from(width).unwrap_or(0),
        })
        .collect();
    Ok((columns, usize::try_from(line_length).unwrap_or(0)))
}

/// Keras 3 reads `positions` as fractions of the line, one per column.
fn check_positions(given: &[f64], count: usize) -> Result<(), SummaryError> {
    let bad = given.len() != count || given.iter().any(|p| !(p.is_finite() && *p > 0.0 && *p <= 1.0));
    if bad {
        return Err(SummaryError::InvalidOption {
            argument: "positions",
            expected: format!(
                "{count} increasing fractions of the line in (0, 1], one per column \
                 (Keras 3 does not take absolute positions)"
            ),
            received: format!("{given:?}"),
        });
    }
    Ok(())
}

/// Appends the table rows for `rows` (and, with `expand_nested`, their nested rows).
fn add_rows(
    out: &mut Vec<Row>,
    rows: &[SummaryRow],
    sequential: bool,
    level: usize,
    table: &SummaryTable,
    opts: &SummaryOptions,
    explain_width: usize,
) {
    for row in visible_rows(rows, sequential) {
        let spans = if opts.explain {
            explain_lines(&row.explain, level, explain_width)
        } else {
            Vec::new()
        };
        out.push(Row {
            cells: fields(row, level, table, opts),
            spans,
        });
        if opts.expand_nested {
            add_rows(
                out,
                &row.nested,
                row.nested_is_sequential,
                level + 1,
                table,
                opts,
                explain_width,
            );
        }
    }
}

/// The cells of one row, as `get_layer_fields` makes them.
fn fields(row: &SummaryRow, level: usize, table: &SummaryTable, opts: &SummaryOptions) -> Vec<String> {
    let prefix = if level > 0 {
        "   ".repeat(level) + "└ "
    } else {
        String::new()
    };
    let params = if row.output_shapes.is_empty() {
        "0 (unbuilt)".to_string()
    } else {
        thousands(row.params)
    };
    let mut cells = vec![
        format!("{prefix}{} ({})", row.name, row.class_name),
        shapes_keras3(&row.output_shapes),
        params,
    ];
    if !table.sequential_like {
        // A nested model's layers have no nodes in this model's graph: Keras shows "-".
        if level > 0 || row.connected_to.is_empty() {
            cells.push("-".to_string());
        } else {
            cells.push(row.connected_to.join(", "));
        }
    }
    if opts.show_trainable {
        let mark = match (row.params > 0, row.trainable) {
            (false, _) => "-",
            (true, true) => "Y",
            (true, false) => "N",
        };
        cells.push(mark.to_string());
    }
    cells
}

/// `   ↳ text` lines (indented one step per nesting level), wrapped to the table.
fn explain_lines(explain: &[String], level: usize, inner: usize) -> Vec<String> {
    let indent = 3 * (level + 1);
    let text_width = inner.saturating_sub(indent + 3).max(1);
    let mut out = Vec::new();
    for text in explain {
        for (i, piece) in wrap_words(text, text_width).into_iter().enumerate() {
            let mark = if i == 0 { "↳ " } else { "  " };
            out.push(format!("{}{mark}{piece}", " ".repeat(indent)));
        }
    }
    out
}
