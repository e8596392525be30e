//! rkeras `--explain`: the arithmetic behind each summary number, shared by every layer so
//! the lines read the same everywhere.
//!
//! ```text
//! params: (3·3·32 + 1)·64 = 18,496
//! H: ⌊(28 + 0 − 3)/1⌋ + 1 = 26
//! W: same: ⌈8/2⌉ = 4; padding (4 − 1)·2 + 3 − 8 = 1 → left 0, right 1
//! ```

use tensor::shape::{AxisGeometry, Padding};

/// `18496` → `18,496`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `params: <formula> = <total>`.
pub fn params_line(formula: &str, total: u64) -> String {
    format!("params: {formula} = {}", thousands(total))
}

/// The output-size arithmetic of one spatial axis (`H`/`W`, with `top/bottom` or
/// `left/right` naming the padding sides).
pub fn axis_line(axis: &str, g: &AxisGeometry, padding: Padding, sides: (&str, &str)) -> String {
    let eff = g.effective_kernel();
    let k = if g.dilation > 1 {
        format!("{eff}")
    } else {
        format!("{}", g.kernel)
    };
    let dil = if g.dilation > 1 {
        format!(" (kernel {} dilated by {} spans {eff})", g.kernel, g.dilation)
    } else {
        String::new()
    };
    match padding {
        Padding::Same => {
            let total = g.pad_before + g.pad_after;
            format!(
                "{axis}: same: ⌈{}/{}⌉ = {}; padding max(({} − 1)·{} + {k} − {}, 0) = {total} → {} {}, {} {}{dil}",
                g.input, g.stride, g.output, g.output, g.stride, g.input, sides.0, g.pad_before, sides.1, g.pad_after
            )
        }
        _ => format!(
            "{axis}: ⌊({} + {} − {k})/{}⌋ + 1 = {}{dil}",
            g.input,
            g.pad_before + g.pad_after,
            g.stride,
            g.output
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tensor::shape::window_axis;

    #[test]
    fn lines_read_like_the_tutorials() {
        assert_eq!(thousands(18496), "18,496");
        assert_eq!(thousands(138357544), "138,357,544");
        assert_eq!(thousands(0), "0");
        assert_eq!(
            params_line("(3·3·32 + 1)·64", 18496),
            "params: (3·3·32 + 1)·64 = 18,496"
        );
        let g = window_axis("t", 28, 3, 1, 1, Padding::Valid).unwrap();
        assert_eq!(
            axis_line("H", &g, Padding::Valid, ("top", "bottom")),
            "H: ⌊(28 + 0 − 3)/1⌋ + 1 = 26"
        );
        let g = window_axis("t", 8, 3, 2, 1, Padding::Same).unwrap();
        assert_eq!(
            axis_line("W", &g, Padding::Same, ("left", "right")),
            "W: same: ⌈8/2⌉ = 4; padding max((4 − 1)·2 + 3 − 8, 0) = 1 → left 0, right 1"
        );
    }
}
