//! Text pieces both summary styles share: thousands separators (`138,357,544`), Keras's
//! byte sizes (`362.00 KB`, `0.00 B` / `0.00 Byte`), shape strings (`(None, 26, 26, 32)`,
//! tf-keras's `(None,)` and `[(None, 28, 28, 1)]`), Python's `repr` of a list of strings
//! (tf-keras's "Connected to"), and a plain word wrap for `--explain` lines.

use super::Dim;

/// `n` with a comma every three digits, as Python's `f"{n:,}"`: `92672` → `92,672`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Keras's `readable_memory_size`: `bytes` scaled by 1024 until below 1024, two decimals
/// and a unit from `units` (Keras 3: `B, KB, MB, GB, TB, PB`; tf-keras: `Byte, KB, …`).
///
/// Rounding is Python's `"{:.2f}"` of the exact binary value (ties to even), done here in
/// integers so it never depends on float formatting: 32 params = 128 B; 4,160 params =
/// 16,640 B = `16.25 KB`. Like Keras, past the last unit it keeps dividing once more.
pub fn readable_memory_size(bytes: u64, units: &[&str; 6]) -> String {
    let mut shift = 0u32; // the value is bytes / 2^shift
    for unit in units {
        if u128::from(bytes) < (1u128 << (shift + 10)) {
            return format!("{} {unit}", two_decimals(bytes, shift));
        }
        shift += 10;
    }
    format!("{} {}", two_decimals(bytes, shift), units[5])
}

/// `bytes / 2^shift` with two decimals, rounded half to even.
fn two_decimals(bytes: u64, shift: u32) -> String {
    let scaled = u128::from(bytes) * 100;
    let divisor = 1u128 << shift;
    let (mut q, r) = (scaled / divisor, scaled % divisor);
    if 2 * r > divisor || (2 * r == divisor && q % 2 == 1) {
        q += 1;
    }
    format!("{}.{:02}", q / 100, q % 100)
}

/// One dimension: a size or `None`.
fn dim(d: &Dim) -> String {
    d.map_or_else(|| "None".to_string(), |n| n.to_string())
}

/// Keras 3's shape: `(None, 26, 26, 32)`; one dimension prints as `(None)`; several
/// outputs as a list; no known shape (never built) as `?`.
pub fn shapes_keras3(shapes: &[Vec<Dim>]) -> String {
    let one = |s: &Vec<Dim>| format!("({})", s.iter().map(dim).collect::<Vec<_>>().join(", "));
    match shapes {
        [] => "?".to_string(),
        [s] => one(s),
        _ => format!("[{}]", shapes.iter().map(one).collect::<Vec<_>>().join(", ")),
    }
}

/// tf-keras's shape: Python's tuple repr, `(None, 2)` or `(None,)`; a list for several
/// outputs and for an `InputLayer`; `multiple` when the layer was never called.
pub fn shapes_keras2(shapes: &[Vec<Dim>], class_name: &str) -> String {
    let one = |s: &Vec<Dim>| match s.as_slice() {
        [d] => format!("({},)", dim(d)),
        _ => format!("({})", s.iter().map(dim).collect::<Vec<_>>().join(", ")),
    };
    match shapes {
        [] => "multiple".to_string(),
        [s] if class_name != "InputLayer" => one(s),
        _ => format!("[{}]", shapes.iter().map(one).collect::<Vec<_>>().join(", ")),
    }
}

/// Python's `repr` of a list of strings: `['input_1[0][0]', 'dense[0][0]']`, `[]`.
pub fn py_list_repr(items: &[String]) -> String {
    let parts: Vec<String> = items.iter().map(|s| py_str_repr(s)).collect();
    format!("[{}]", parts.join(", "))
}

/// Python's `repr` of a string: single quotes unless it holds `'` and no `"`.
fn py_str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Greedy word wrap at `width` characters (at least 1); a word longer than a line is cut
/// into pieces. Used for `--explain` lines, which Keras does not have.
pub fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut line_len = 0;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let chars: Vec<char> = word.chars().collect();
        let sep = usize::from(line_len > 0);
        if line_len + sep + chars.len() <= width {
            if sep == 1 {
                line.push(' ');
            }
            line.push_str(word);
            line_len += sep + chars.len();
            continue;
        }
        if line_len > 0 {
            lines.push(std::mem::take(&mut line));
            line_len = 0;
        }
        for piece in chars.chunks(width) {
            if piece.len() == width {
                lines.push(piece.iter().collect());
            } else {
                line = piece.iter().collect();
                line_len = piece.len();
            }
        }
    }
    if line_len > 0 || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Number of terminal cells `s` takes: one per character (names are ASCII in practice).
pub fn cell_len(s: &str) -> usize {
    s.chars().count()
}

/// `s` followed by spaces up to `width` cells (unchanged if already that long).
pub fn pad_to(s: &str, width: usize) -> String {
    let mut out = s.to_string();
    out.push_str(&" ".repeat(width.saturating_sub(cell_len(s))));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const K3: [&str; 6] = ["B", "KB", "MB", "GB", "TB", "PB"];
    const K2: [&str; 6] = ["Byte", "KB", "MB", "GB", "TB", "PB"];

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(320), "320");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(18_496), "18,496");
        assert_eq!(thousands(138_357_544), "138,357,544");
        assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn memory_sizes_match_keras() {
        // Values from the reference summaries (4 bytes per float32 parameter).
        assert_eq!(readable_memory_size(0, &K3), "0.00 B");
        assert_eq!(readable_memory_size(0, &K2), "0.00 Byte");
        assert_eq!(readable_memory_size(24, &K3), "24.00 B");
        assert_eq!(readable_memory_size(92_672 * 4, &K3), "362.00 KB");
        assert_eq!(readable_memory_size(61_706 * 4, &K2), "241.04 KB");
        assert_eq!(readable_memory_size(138_357_544 * 4, &K3), "527.79 MB");
        assert_eq!(readable_memory_size(1023, &K3), "1023.00 B");
        assert_eq!(readable_memory_size(1024, &K3), "1.00 KB");
        assert_eq!(readable_memory_size(3 << 30, &K3), "3.00 GB");
        // Exact ties round to even, as Python's "{:.2f}": 0.125 → 0.12, 0.375 → 0.38.
        assert_eq!(readable_memory_size(1024 + 128, &K3), "1.12 KB");
        assert_eq!(readable_memory_size(1024 + 384, &K3), "1.38 KB");
        // Past PB Keras divides once more and still says PB.
        assert_eq!(readable_memory_size(u64::MAX, &K3), "16.00 PB");
    }

    #[test]
    fn shapes_in_both_styles() {
        let s = vec![vec![None, Some(26), Some(26), Some(32)]];
        assert_eq!(shapes_keras3(&s), "(None, 26, 26, 32)");
        assert_eq!(shapes_keras2(&s, "Conv2D"), "(None, 26, 26, 32)");
        assert_eq!(shapes_keras2(&s, "InputLayer"), "[(None, 26, 26, 32)]");
        let one = vec![vec![None]];
        assert_eq!(shapes_keras3(&one), "(None)");
        assert_eq!(shapes_keras2(&one, "Dense"), "(None,)");
        let two = vec![vec![None, Some(3)], vec![None, Some(5)]];
        assert_eq!(shapes_keras3(&two), "[(None, 3), (None, 5)]");
        assert_eq!(shapes_keras2(&two, "Functional"), "[(None, 3), (None, 5)]");
        assert_eq!(shapes_keras3(&[]), "?");
        assert_eq!(shapes_keras2(&[], "Dense"), "multiple");
    }

    #[test]
    fn python_list_repr() {
        assert_eq!(py_list_repr(&[]), "[]");
        let items = vec!["input_1[0][0]".to_string(), "it's".to_string(), "a\\b".to_string()];
        assert_eq!(py_list_repr(&items), r#"['input_1[0][0]', "it's", 'a\\b']"#);
    }

    #[test]
    fn word_wrap() {
        assert_eq!(wrap_words("(3·3·1 + 1)·32 = 320", 40), vec!["(3·3·1 + 1)·32 = 320"]);
        assert_eq!(wrap_words("aaa bbb ccc", 7), vec!["aaa bbb", "ccc"]);
        assert_eq!(wrap_words("abcdefghij k", 4), vec!["abcd", "efgh", "ij k"]);
        assert_eq!(wrap_words("", 4), vec![""]);
    }
}
