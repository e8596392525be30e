//! tf-keras 2.21's `model.summary()` (`tf_keras/src/utils/layer_utils.py`
//! `print_summary`): fixed-width ASCII lines, every one padded with spaces to its column
//! stop.
//!
//! ```text
//! Model: "sequential"
//! _________________________________________________________________
//!  Layer (type)                Output Shape              Param #
//! =================================================================
//!  conv2d (Conv2D)             (None, 26, 26, 32)        320
//!
//! =================================================================
//! Total params: 320 (1.25 KB)
//! ```
//!
//! Widths 65 / 98 (+11 with `show_trainable`), positions `[.45, .85, 1]` or
//! `[.3, .6, .7, 1]` of the line (absolute when the last is > 1). Each field is cut into
//! its column, `cutoff = stop − start − 3` characters (the last column `stop − start`),
//! preferring a break just after `),`, `},`, `],` or `',`; the row goes on over more lines
//! until every field is printed. Nested models (`expand_nested`) are framed by `|` and `¯`.
//! rkeras's `--explain` lines follow their row as `   ↳ text`, padded like the others.

use super::format::{pad_to, py_list_repr, readable_memory_size, shapes_keras2, wrap_words};
use super::{visible_rows, SummaryError, SummaryOptions, SummaryRow, SummaryTable, MAX_LINE_LENGTH};

const UNITS: [&str; 6] = ["Byte", "KB", "MB", "GB", "TB", "PB"];
/// Bytes per parameter: rkeras's weights are float32.
const BYTES_PER_PARAM: u64 = 4;

/// Column layout and options shared by every row.
struct Layout<'a> {
    line_length: usize,
    positions: Vec<i64>,
    sequential_like: bool,
    opts: &'a SummaryOptions,
}

/// Renders `table` as tf-keras prints it.
pub(super) fn render(table: &SummaryTable, opts: &SummaryOptions) -> Result<String, SummaryError> {
    let seq = table.sequential_like;
    let (mut line_length, default_positions, mut headers) = if seq {
        (
            65,
            vec![0.45, 0.85, 1.0],
            vec!["Layer (type)", "Output Shape", "Param #"],
        )
    } else {
        (
            98,
            vec![0.3, 0.6, 0.70, 1.0],
            vec!["Layer (type)", "Output Shape", "Param #", "Connected to"],
        )
    };
    if let Some(n) = opts.line_length.filter(|&n| n > 0) {
        line_length = n;
    }
    let given = opts.positions.as_ref().filter(|p| !p.is_empty());
    let mut positions = positions(given.unwrap_or(&default_positions), headers.len(), line_length)?;
    if opts.show_trainable {
        line_length += 11;
        positions.push(i64::try_from(line_length).unwrap_or(i64::MAX));
        headers.push("Trainable");
    }
    let layout = Layout {
        line_length,
        positions,
        sequential_like: seq,
        opts,
    };
    for col in 0..layout.positions.len() {
        if layout.cutoff(col, 0) < 1 {
            return Err(narrow_column(&layout, col, 0));
        }
    }

    let mut lines = vec![format!("Model: \"{}\"", table.model_name), "_".repeat(line_length)];
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    layout.print_row(&header, 0, &mut lines)?;
    lines.push("=".repeat(line_length));
    for row in visible_rows(&table.rows, table.is_sequential) {
        layout.print_layer(row, 0, false, &mut lines)?;
    }
    lines.push("=".repeat(line_length));
    let size = |n: u64, extra: u64| readable_memory_size(n.saturating_mul(BYTES_PER_PARAM) + extra, &UNITS);
    let (total, trainable, frozen) = (table.total_params, table.trainable_params, table.non_trainable_params);
    let extra = table.extra_bytes;
    lines.push(format!("Total params: {total} ({})", size(total, extra[0])));
    lines.push(format!("Trainable params: {trainable} ({})", size(trainable, extra[1])));
    lines.push(format!("Non-trainable params: {frozen} ({})", size(frozen, extra[2])));
    lines.push("_".repeat(line_length));

    let mut out = String::new();
    for line in lines {
        out.push_str(&line);
        out.push('\n');
    }
    Ok(out)
}

/// Column stops in characters: fractions of the line when the last is ≤ 1 (Python's
/// `int(line_length * p)`), else absolute positions, which must be whole numbers.
fn positions(given: &[f64], count: usize, line_length: usize) -> Result<Vec<i64>, SummaryError> {
    let invalid = |expected: String| SummaryError::InvalidOption {
        argument: "positions",
        expected,
        received: format!("{given:?}"),
    };
    if given.len() != count {
        return Err(invalid(format!("{count} column stops, one per column")));
    }
    let stops: Vec<i64> = if given[count - 1] <= 1.0 {
        given.iter().map(|p| (line_length as f64 * p) as i64).collect()
    } else if given.iter().all(|p| p.fract() == 0.0) {
        given.iter().map(|&p| p as i64).collect()
    } else {
        return Err(invalid(
            "fractions of the line (the last ≤ 1) or whole character positions".to_string(),
        ));
    };
    let limit = i64::try_from(MAX_LINE_LENGTH).unwrap_or(i64::MAX);
    if given.iter().any(|p| !p.is_finite()) || stops.iter().any(|&s| !(0..=limit).contains(&s)) {
        return Err(invalid(format!(
            "column stops between 0 and {MAX_LINE_LENGTH} characters"
        )));
    }
    Ok(stops)
}

/// tf-keras would loop forever on a field it cannot fit into a column.
fn narrow_column(layout: &Layout, col: usize, level: usize) -> SummaryError {
    SummaryError::InvalidOption {
        argument: "positions",
        expected: "column stops that leave every column at least one character".to_string(),
        received: format!(
            "line_length={} with stops {:?}: column {} has {} characters{}",
            layout.line_length,
            layout.positions,
            col + 1,
            layout.cutoff(col, level),
            if level > 0 {
                format!(" at nesting level {level}")
            } else {
                String::new()
            }
        ),
    }
}

impl Layout<'_> {
    /// Characters of field `col` that fit on one line at nesting `level`.
    fn cutoff(&self, col: usize, level: usize) -> i64 {
        let last = col + 1 == self.positions.len();
        let start = if col > 0 { self.positions[col - 1] } else { 0 };
        let mut cutoff = self.positions[col] - start - if last { 0 } else { 3 };
        if col == 0 {
            cutoff -= i64::try_from(level).unwrap_or(i64::MAX);
        }
        cutoff
    }

    /// `print_row`: the fields cut into their columns, over as many lines as needed.
    fn print_row(&self, fields: &[String], level: usize, out: &mut Vec<String>) -> Result<(), SummaryError> {
        let mut left: Vec<Vec<char>> = fields.iter().map(|f| f.chars().collect()).collect();
        let last = self.positions.len() - 1;
        while left.iter().any(|f| !f.is_empty()) {
            let mut line = String::new();
            for (col, field) in left.iter_mut().enumerate() {
                let cutoff = self.cutoff(col, level);
                if cutoff < 1 && !field.is_empty() {
                    return Err(narrow_column(self, col, level));
                }
                let mut cutoff = usize::try_from(cutoff).unwrap_or(0).min(field.len());
                let fit: String = field[..cutoff].iter().collect();
                // Prefer breaking just after the end of a tuple, list, dict or string.
                let breaks = ["),", "},", "],", "',"]
                    .iter()
                    .filter_map(|p| fit.find(p).map(|byte| fit[..byte].chars().count() + 2));
                if let Some(at) = breaks.min() {
                    cutoff = at;
                }
                if col == 0 {
                    line.push_str(&"|".repeat(level));
                    line.push(' ');
                }
                line.extend(&field[..cutoff]);
                if col != last {
                    line.push_str("  ");
                }
                field.drain(..cutoff);
                let stop = self.positions[col] - if level > 0 && col == last { level as i64 } else { 0 };
                line = pad_to(&line, usize::try_from(stop).unwrap_or(0));
            }
            line.push_str(&"|".repeat(level));
            out.push(line);
        }
        Ok(())
    }

    /// `print_layer`: the row, its explain lines, its nested rows, and a blank line.
    fn print_layer(
        &self,
        row: &SummaryRow,
        level: usize,
        mut is_nested_last: bool,
        out: &mut Vec<String>,
    ) -> Result<(), SummaryError> {
        self.print_row(&self.fields(row, level), level, out)?;
        if self.opts.explain {
            self.explain_lines(&row.explain, level, out);
        }
        let width = self.line_length;
        let nested: Vec<&SummaryRow> = visible_rows(&row.nested, row.nested_is_sequential).collect();
        if self.opts.expand_nested && !nested.is_empty() {
            let bar = "|".repeat(level + 1);
            out.push(format!("{bar}{}{bar}", "¯".repeat(width.saturating_sub(2 * level + 2))));
            for (i, sub) in nested.iter().enumerate() {
                self.print_layer(sub, level + 1, i + 1 == nested.len(), out)?;
            }
            // tf-keras reuses `is_nested_last` as its loop flag, so after an expanded
            // model it is always true and no blank line follows.
            is_nested_last = true;
            let bar = "|".repeat(level);
            out.push(format!("{bar}{}{bar}", "¯".repeat(width.saturating_sub(2 * level))));
        }
        if !is_nested_last {
            let bar = "|".repeat(level);
            out.push(format!("{bar}{}{bar}", " ".repeat(width.saturating_sub(2 * level))));
        }
        Ok(())
    }

    /// The fields tf-keras prints for one layer.
    fn fields(&self, row: &SummaryRow, level: usize) -> Vec<String> {
        let params = if row.output_shapes.is_empty() {
            "0 (unused)".to_string()
        } else {
            row.params.to_string()
        };
        let mut fields = vec![
            format!("{} ({})", row.name, row.class_name),
            shapes_keras2(&row.output_shapes, &row.class_name),
            params,
        ];
        if !self.sequential_like {
            // A nested model's layers have no nodes in this model's graph: `[]`.
            fields.push(if level > 0 {
                "[]".to_string()
            } else {
                py_list_repr(&row.connected_to)
            });
        }
        if self.opts.show_trainable {
            fields.push(if row.trainable { "Y" } else { "N" }.to_string());
        }
        fields
    }

    /// `   ↳ text` lines, wrapped and padded to the line, inside the nesting bars.
    fn explain_lines(&self, explain: &[String], level: usize, out: &mut Vec<String>) {
        let inner = self.line_length.saturating_sub(2 * level);
        let text_width = inner.saturating_sub(6).max(1);
        let bar = "|".repeat(level);
        for text in explain {
            for (i, piece) in wrap_words(text, text_width).into_iter().enumerate() {
                let mark = if i == 0 { "   ↳ " } else { "     " };
                let body = format!("{bar}{mark}{piece}");
                let padded = pad_to(&body, self.line_length.saturating_sub(level));
                out.push(format!("{padded}{bar}"));
            }
        }
    }
}
