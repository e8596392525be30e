//! The part of the `rich` library (15.0) that Keras 3's summary goes through: a
//! `Table(width=line_length, show_lines=True)` with the `HEAVY_HEAD` box and fixed-width
//! columns, cells padded by one space each side, word-wrapped, and cut with `…`
//! (`overflow="ellipsis"`).
//!
//! Column widths: every column asks for `width + 2` (its padding); the borders take
//! `columns + 1`; the excess over the table's width is taken off the columns evenly by
//! `ratio_reduce` (Python's `round`, ties to even), a shortfall is spread by
//! `ratio_distribute`. For Keras 3's default 88-wide sequential table the widths
//! `[39, 31, 18]` become `[38, 29, 17]`: text areas 36, 27 and 15 characters.
//!
//! Wrapping (`rich/_wrap.py` `divide_line` with `fold=False`): words are `\s*\S+\s*`; a word
//! that does not fit goes to the next line; a word longer than the line gets a line of its
//! own and is cut to `width - 1` characters plus `…`.

use super::format::{cell_len, pad_to};

/// How a column justifies its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Justify {
    Left,
    Center,
    Right,
}

/// A fixed-width column: its header, justification and Keras's width (without padding).
pub(crate) struct Column {
    pub header: &'static str,
    pub justify: Justify,
    pub width: usize,
}

/// One table row: a text per column, then lines that span the whole table (rkeras's
/// `--explain`; each is padded or cut to the inner width).
pub(crate) struct Row {
    pub cells: Vec<String>,
    pub spans: Vec<String>,
}

/// Python's `round(a / b)` for `b > 0`: to nearest, ties to even.
fn round_div(a: i64, b: i64) -> i64 {
    let (q, r) = (a.div_euclid(b), a.rem_euclid(b));
    if 2 * r > b || (2 * r == b && q % 2 != 0) {
        q + 1
    } else {
        q
    }
}

/// `rich._ratio.ratio_reduce`: take `total` off `values` in proportion to `ratios`, at most
/// `maximums[i]` from each.
fn ratio_reduce(total: i64, ratios: &[i64], maximums: &[i64], values: &[i64]) -> Vec<i64> {
    let ratios: Vec<i64> = ratios
        .iter()
        .zip(maximums)
        .map(|(&r, &m)| if m != 0 { r } else { 0 })
        .collect();
    let mut total_ratio: i64 = ratios.iter().sum();
    if total_ratio == 0 {
        return values.to_vec();
    }
    let mut remaining = total;
    let mut out = Vec::with_capacity(values.len());
    for ((&ratio, &maximum), &value) in ratios.iter().zip(maximums).zip(values) {
        if ratio != 0 && total_ratio > 0 {
            let distributed = maximum.min(round_div(ratio * remaining, total_ratio));
            out.push(value - distributed);
            remaining -= distributed;
            total_ratio -= ratio;
        } else {
            out.push(value);
        }
    }
    out
}

/// `rich._ratio.ratio_distribute` without minimums: split `total` in proportion to
/// `ratios`, rounding each share up.
fn ratio_distribute(total: i64, ratios: &[i64]) -> Vec<i64> {
    let mut total_ratio: i64 = ratios.iter().sum();
    let mut remaining = total;
    let mut out = Vec::with_capacity(ratios.len());
    for &ratio in ratios {
        let distributed = if total_ratio > 0 {
            let n = ratio * remaining;
            (n.div_euclid(total_ratio) + i64::from(n.rem_euclid(total_ratio) != 0)).max(0)
        } else {
            remaining
        };
        out.push(distributed);
        total_ratio -= ratio;
        remaining -= distributed;
    }
    out
}

/// `Table._calculate_column_widths` for fixed-width columns in a table of `table_width`:
/// each column's rendered width, padding included, borders excluded.
pub(crate) fn column_widths(widths: &[usize], table_width: usize) -> Vec<usize> {
    let to_i64 = |n: usize| i64::try_from(n).unwrap_or(i64::MAX / 4);
    let max_width = to_i64(table_width) - to_i64(widths.len()) - 1;
    // `_measure_column` of a column with a fixed width, under an available width.
    let measure = |width: usize, available: i64| -> i64 {
        if available < 1 {
            0
        } else {
            (to_i64(width) + 2).min(available)
        }
    };
    let mut out: Vec<i64> = widths
        .iter()
        .map(|&w| match measure(w, max_width) {
            0 => 1,
            m => m,
        })
        .collect();
    let mut total: i64 = out.iter().sum();
    if total > max_width {
        // No column may wrap-collapse (all have a width), so reduce them all evenly.
        let ones = vec![1; out.len()];
        out = ratio_reduce(total - max_width, &ones, &out, &out);
        total = out.iter().sum();
        out = widths.iter().zip(&out).map(|(&w, &got)| measure(w, got)).collect();
    }
    if total < max_width && total > 0 {
        let pads = ratio_distribute(max_width - total, &out);
        out = out.iter().zip(pads).map(|(w, p)| w + p).collect();
    }
    out.into_iter().map(|w| usize::try_from(w).unwrap_or(0)).collect()
}

/// `rich._wrap.divide_line(text, width, fold)`: character offsets to break at. With `fold`,
/// a word longer than the line is chopped into line-long pieces.
fn divide_line(text: &[char], width: usize, fold: bool) -> Vec<usize> {
    let mut breaks = Vec::new();
    let mut offset = 0usize;
    let mut pos = 0usize;
    while pos < text.len() {
        // A word: leading whitespace, then non-space characters, then whitespace.
        let start = pos;
        let mut end = pos;
        while end < text.len() && text[end].is_whitespace() {
            end += 1;
        }
        let core_start = end;
        while end < text.len() && !text[end].is_whitespace() {
            end += 1;
        }
        if end == core_start {
            break; // only whitespace left: no more words
        }
        let core_end = end;
        while end < text.len() && text[end].is_whitespace() {
            end += 1;
        }
        let word_length = core_end - start;
        let word_cells = end - start;
        if width >= offset && width - offset >= word_length {
            offset += word_cells;
        } else if word_length > width {
            if fold && width > 0 {
                let mut piece_start = start;
                let pieces: Vec<&[char]> = text[start..end].chunks(width).collect();
                for (i, piece) in pieces.iter().enumerate() {
                    if piece_start > 0 {
                        breaks.push(piece_start);
                    }
                    if i + 1 == pieces.len() {
                        offset = piece.len();
                    } else {
                        piece_start += piece.len();
                    }
                }
            } else {
                if start > 0 {
                    breaks.push(start);
                }
                offset = word_cells;
            }
        } else if offset > 0 && start > 0 {
            breaks.push(start);
            offset = word_cells;
        }
        pos = end;
    }
    breaks
}

/// `Text.truncate(width, overflow="ellipsis")`.
fn truncate(line: &mut String, width: usize) {
    if cell_len(line) > width {
        let kept: String = line.chars().take(width.saturating_sub(1)).collect();
        *line = kept + "…";
    }
}

/// `Text.wrap` with `overflow="ellipsis"`: lines of exactly `width` (≥ 1) characters.
pub(crate) fn wrap(text: &str, width: usize, justify: Justify) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let chars: Vec<char> = paragraph.chars().collect();
        let mut bounds = vec![0];
        bounds.extend(divide_line(&chars, width, false));
        bounds.push(chars.len());
        for pair in bounds.windows(2) {
            let mut piece: Vec<char> = chars[pair[0]..pair[1]].to_vec();
            // `rstrip_end`: drop trailing whitespace, but only what exceeds the width.
            let trailing = piece.iter().rev().take_while(|c| c.is_whitespace()).count();
            let excess = piece.len().saturating_sub(width);
            piece.truncate(piece.len() - trailing.min(excess));
            let mut line: String = piece.into_iter().collect();
            if justify != Justify::Left {
                line.truncate(line.trim_end().len());
            }
            truncate(&mut line, width);
            let room = width.saturating_sub(cell_len(&line));
            let line = match justify {
                Justify::Left => pad_to(&line, width),
                Justify::Right => " ".repeat(room) + &line,
                Justify::Center => pad_to(&(" ".repeat(room / 2) + &line), width),
            };
            lines.push(line);
        }
    }
    lines
}

/// How `Console.print` lays out a line of text on a console `width` wide: word wrap with
/// `overflow="fold"`, no justification, each line cut to the width.
pub(crate) fn console_lines(text: &str, width: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut bounds = vec![0];
    bounds.extend(divide_line(&chars, width, true));
    bounds.push(chars.len());
    bounds
        .windows(2)
        .map(|pair| {
            let mut piece: Vec<char> = chars[pair[0]..pair[1]].to_vec();
            let trailing = piece.iter().rev().take_while(|c| c.is_whitespace()).count();
            let excess = piece.len().saturating_sub(width);
            piece.truncate(piece.len() - trailing.min(excess));
            piece.truncate(width);
            piece.into_iter().collect()
        })
        .collect()
}

/// Width inside the table's outer borders, for lines that span all columns.
pub(crate) fn inner_width(columns: &[Column], table_width: usize) -> usize {
    let content: Vec<usize> = columns.iter().map(|c| c.width).collect();
    let widths = column_widths(&content, table_width);
    widths.iter().sum::<usize>() + widths.len().saturating_sub(1)
}

/// A cell's lines: one space of padding each side of its wrapped text. A cell too narrow
/// for any text renders nothing (rich renders nothing under one character).
fn cell_lines(text: &str, width: usize, justify: Justify) -> Vec<String> {
    if width < 3 {
        return Vec::new();
    }
    wrap(text, width - 2, justify)
        .into_iter()
        .map(|line| format!(" {line} "))
        .collect()
}

/// A box rule: `left`, `fill` over each column, `cross` between columns, `right`.
fn rule(widths: &[usize], left: char, fill: char, cross: char, right: char) -> String {
    let parts: Vec<String> = widths.iter().map(|&w| fill.to_string().repeat(w)).collect();
    format!("{left}{}{right}", parts.join(&cross.to_string()))
}

/// One row's lines between `bar`s; the header aligns its cells to the bottom.
fn row_lines(cells: &[Vec<String>], widths: &[usize], bar: char, bottom: bool) -> Vec<String> {
    let height = cells.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let mut out = Vec::with_capacity(height);
    for line_no in 0..height {
        let parts: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(lines, &w)| {
                let blank_rows = height - lines.len();
                let index = if bottom {
                    line_no.checked_sub(blank_rows)
                } else {
                    Some(line_no)
                };
                index
                    .and_then(|i| lines.get(i))
                    .cloned()
                    .unwrap_or_else(|| " ".repeat(w))
            })
            .collect();
        out.push(format!("{bar}{}{bar}", parts.join(&bar.to_string())));
    }
    out
}

/// The whole table as rich prints it, one string per line (no newlines).
pub(crate) fn render_table(columns: &[Column], rows: &[Row], table_width: usize) -> Vec<String> {
    let content: Vec<usize> = columns.iter().map(|c| c.width).collect();
    let widths = column_widths(&content, table_width);
    let inner = widths.iter().sum::<usize>() + widths.len().saturating_sub(1);
    let mut out = vec![rule(&widths, '┏', '━', '┳', '┓')];
    let header: Vec<Vec<String>> = columns
        .iter()
        .zip(&widths)
        .map(|(c, &w)| cell_lines(c.header, w, c.justify))
        .collect();
    out.extend(row_lines(&header, &widths, '┃', true));
    out.push(rule(&widths, '┡', '━', '╇', '┩'));
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<Vec<String>> = row
            .cells
            .iter()
            .zip(columns.iter().zip(&widths))
            .map(|(text, (c, &w))| cell_lines(text, w, c.justify))
            .collect();
        out.extend(row_lines(&cells, &widths, '│', false));
        for span in &row.spans {
            let mut text: String = span.chars().take(inner).collect();
            text = pad_to(&text, inner);
            out.push(format!("│{text}│"));
        }
        if i + 1 < rows.len() {
            out.push(rule(&widths, '├', '─', '┼', '┤'));
        }
    }
    out.push(rule(&widths, '└', '─', '┴', '┘'));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_of_keras_default_tables() {
        // Keras 3 sequential 88: [39, 31, 18] → the table's columns are 38, 29, 17 wide.
        assert_eq!(column_widths(&[39, 31, 18], 88), vec![38, 29, 17]);
        // Functional 108: [32, 28, 19, 29] → 31, 27, 17, 28.
        assert_eq!(column_widths(&[32, 28, 19, 29], 108), vec![31, 27, 17, 28]);
        // show_trainable 100: [40, 32, 18, 10] → 39, 31, 16, 9 ("Traina…").
        assert_eq!(column_widths(&[40, 32, 18, 10], 100), vec![39, 31, 16, 9]);
        // Positions ending before 1.0 leave room that rich spreads over the columns.
        assert_eq!(column_widths(&[10, 10], 40), vec![19, 18]);
    }

    #[test]
    fn python_rounding() {
        assert_eq!(round_div(7, 2), 4);
        assert_eq!(round_div(5, 2), 2);
        assert_eq!(round_div(10, 3), 3);
        assert_eq!(round_div(-5, 2), -2);
        assert_eq!(
            ratio_reduce(10, &[1, 1, 1], &[41, 33, 20], &[41, 33, 20]),
            vec![38, 29, 17]
        );
        assert_eq!(ratio_distribute(5, &[1, 1]), vec![3, 2]);
    }

    #[test]
    fn wrapping_like_rich() {
        let w = |t: &str, n: usize| wrap(t, n, Justify::Left);
        assert_eq!(
            w("batch_normalization_1 (BatchNormalization)", 29),
            vec!["batch_normalization_1        ", "(BatchNormalization)         "]
        );
        // Words longer than the line are cut with an ellipsis, never folded.
        assert_eq!(
            w("batch_normalization_1[0][0], batch_normalization_2[0][0]", 26),
            vec!["batch_normalization_1[0][…", "batch_normalization_2[0][…"]
        );
        assert_eq!(w("", 3), vec!["   "]);
        assert_eq!(w("   └ dense (Dense)", 12), vec!["   └ dense  ", "(Dense)     "]);
        assert_eq!(wrap("Trainable", 7, Justify::Center), vec!["Traina…"]);
        assert_eq!(wrap("Y", 7, Justify::Center), vec!["   Y   "]);
        assert_eq!(wrap("18,496", 8, Justify::Right), vec!["  18,496"]);
        assert_eq!(wrap("Output Shape", 7, Justify::Left), vec!["Output ", "Shape  "]);
    }

    #[test]
    fn console_folds_long_words() {
        assert_eq!(console_lines(" Total params: 92,672 (362.00 KB)", 200).len(), 1);
        assert_eq!(
            console_lines("Model: \"abcdefghij\"", 6),
            vec!["Model:", "\"abcde", "fghij\""]
        );
    }
}
