//! Receptive fields as in Araujo, Norris and Sim, "Computing Receptive Fields of
//! Convolutional Neural Networks" (Distill, 2019), propagated forward layer by layer:
//!
//! ```text
//! r = r_in + (k − 1)·j_in      size: input pixels one output unit sees (k dilated)
//! j = j_in·s                   jump: input pixels between neighbouring output units
//! u = u_in − p·j_in            start: input index of the first unit's left/top edge
//! ```
//!
//! (`p` is the padding before, so `u` is negative when the field reaches into padding; the
//! field's centre is `u + (r − 1)/2`.) Where paths meet (Add, Concatenate, …) the largest
//! field is kept, and the paths are aligned when their jumps and centres agree, the paper's
//! condition for a field to be well defined.

use super::geometry::SpatialOp;
use crate::explain::thousands;

/// One axis's receptive field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AxisField {
    /// Size `r` in input pixels.
    pub size: u64,
    /// Jump `j` (effective stride) in input pixels.
    pub jump: u64,
    /// Start `u`: input index of the first output unit's field edge.
    pub start: i64,
}

impl AxisField {
    /// A network input: every pixel sees itself.
    pub const INPUT: AxisField = AxisField {
        size: 1,
        jump: 1,
        start: 0,
    };

    /// Twice the centre `2u + r − 1` (an integer; the centre can be a half pixel).
    fn centre2(&self) -> i64 {
        2 * self.start + self.size as i64 - 1
    }
}

/// A tensor's receptive field with respect to the model's input.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    /// A spatial map: height and width axes, and whether every merge on the way was aligned.
    Spatial {
        /// Height axis.
        h: AxisField,
        /// Width axis.
        w: AxisField,
        /// False when two merged paths disagree in jump or centre.
        aligned: bool,
    },
    /// Each value depends on the whole input (after Flatten or global pooling).
    Global,
    /// Not computed, with the reason (a layer the algebra does not cover).
    Unknown(String),
}

impl Field {
    /// The field of a model input.
    pub fn input() -> Field {
        Field::Spatial {
            h: AxisField::INPUT,
            w: AxisField::INPUT,
            aligned: true,
        }
    }
}

fn signed(n: i64) -> String {
    if n < 0 {
        format!("−{}", thousands(n.unsigned_abs()))
    } else {
        thousands(n as u64)
    }
}

/// Applies a window axis (effective kernel `k`, stride `s`, padding before `p`).
fn window(f: AxisField, k: u64, s: u64, p: u64) -> (AxisField, String) {
    let out = AxisField {
        size: f.size + (k - 1) * f.jump,
        jump: f.jump * s,
        start: f.start - (p * f.jump) as i64,
    };
    let line = format!(
        "r = {} + ({k} − 1)·{} = {}; j = {}·{s} = {}; start = {} − {p}·{} = {}",
        thousands(f.size),
        f.jump,
        thousands(out.size),
        f.jump,
        out.jump,
        signed(f.start),
        f.jump,
        signed(out.start)
    );
    (out, line)
}

/// Applies a shift of `by` pixels added before (negative: cropped).
fn shift(f: AxisField, by: i64) -> (AxisField, String) {
    let out = AxisField {
        start: f.start - by * f.jump as i64,
        ..f
    };
    let line = format!(
        "r = {}; j = {}; start = {} − ({})·{} = {}",
        thousands(f.size),
        f.jump,
        signed(f.start),
        signed(by),
        f.jump,
        signed(out.start)
    );
    (out, line)
}

/// Joins per-axis lines: one `RF:` line when both axes read the same.
fn axis_lines(h: String, w: String) -> Vec<String> {
    if h == w {
        vec![format!("RF: {h}")]
    } else {
        vec![format!("RF H: {h}"), format!("RF W: {w}")]
    }
}

/// The field after one layer with inputs `inputs`, and the `--explain` lines.
pub fn propagate(op: &SpatialOp, inputs: &[Field]) -> (Field, Vec<String>) {
    let merged = merge(inputs);
    let (input, mut lines) = merged;
    let (h, w, aligned) = match input {
        Field::Spatial { h, w, aligned } => (h, w, aligned),
        other => return (other, lines),
    };
    let (field, more) = match op {
        SpatialOp::Pointwise => (Field::Spatial { h, w, aligned }, Vec::new()),
        SpatialOp::Window { h: gh, w: gw } => {
            let (h2, lh) = window(h, gh.effective_kernel() as u64, gh.stride as u64, gh.pad_before as u64);
            let (w2, lw) = window(w, gw.effective_kernel() as u64, gw.stride as u64, gw.pad_before as u64);
            (Field::Spatial { h: h2, w: w2, aligned }, axis_lines(lh, lw))
        }
        SpatialOp::Shift { top, left } => {
            let (h2, lh) = shift(h, *top);
            let (w2, lw) = shift(w, *left);
            (Field::Spatial { h: h2, w: w2, aligned }, axis_lines(lh, lw))
        }
        SpatialOp::Global => (
            Field::Global,
            vec![format!(
                "RF: every output sees the whole input (field before: {}×{})",
                thousands(h.size),
                thousands(w.size)
            )],
        ),
        SpatialOp::Unsupported(why) => (
            Field::Unknown((*why).to_string()),
            vec![format!("RF: not computed: {why}")],
        ),
    };
    lines.extend(more);
    (field, lines)
}

/// Several inputs meet: the largest field per axis; aligned when jumps and centres agree.
fn merge(inputs: &[Field]) -> (Field, Vec<String>) {
    if inputs.len() <= 1 {
        return (inputs.first().cloned().unwrap_or_else(Field::input), Vec::new());
    }
    let mut spatial = Vec::new();
    for f in inputs {
        match f {
            Field::Spatial { h, w, aligned } => spatial.push((*h, *w, *aligned)),
            Field::Unknown(why) => return (Field::Unknown(why.clone()), Vec::new()),
            Field::Global => return (Field::Global, Vec::new()),
        }
    }
    let pick = |axis: fn(&(AxisField, AxisField, bool)) -> AxisField| -> (AxisField, bool) {
        let first = axis(&spatial[0]);
        let mut best = first;
        let mut ok = true;
        for s in &spatial {
            let a = axis(s);
            ok &= a.jump == first.jump && a.centre2() == first.centre2();
            if a.size > best.size {
                best = a;
            }
        }
        (best, ok)
    };
    let (h, okh) = pick(|s| s.0);
    let (w, okw) = pick(|s| s.1);
    let all = spatial.iter().all(|s| s.2);
    let sizes: Vec<String> = spatial
        .iter()
        .map(|s| format!("{}×{}", thousands(s.0.size), thousands(s.1.size)))
        .collect();
    let line = format!(
        "RF: paths meet ({}): the largest is kept, {}×{}; {}",
        sizes.join(", "),
        thousands(h.size),
        thousands(w.size),
        if okh && okw {
            "aligned (same jump and centre)"
        } else {
            "NOT aligned (jumps or centres differ)"
        }
    );
    (
        Field::Spatial {
            h,
            w,
            aligned: all && okh && okw,
        },
        vec![line],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tensor::shape::{window_axis, Padding};

    fn conv(input: usize, k: usize, s: usize, p: Padding) -> SpatialOp {
        let g = window_axis("t", input, k, s, 1, p).unwrap();
        SpatialOp::Window { h: g, w: g }
    }

    #[test]
    fn two_3x3_convs_see_what_one_5x5_sees() {
        let (a, _) = propagate(&conv(28, 3, 1, Padding::Valid), &[Field::input()]);
        let (b, lines) = propagate(&conv(26, 3, 1, Padding::Valid), &[a]);
        let (c, _) = propagate(&conv(28, 5, 1, Padding::Valid), &[Field::input()]);
        assert_eq!(b, c);
        assert_eq!(lines, ["RF: r = 3 + (3 − 1)·1 = 5; j = 1·1 = 1; start = 0 − 0·1 = 0"]);
    }

    #[test]
    fn the_issue_example_and_same_padding() {
        let f = Field::Spatial {
            h: AxisField {
                size: 5,
                jump: 2,
                start: -2,
            },
            w: AxisField {
                size: 5,
                jump: 2,
                start: -2,
            },
            aligned: true,
        };
        let (g, lines) = propagate(&conv(8, 3, 2, Padding::Same), &[f]);
        // same, 8 → 4 with stride 2: padding 1 total, 0 before (TF puts the extra pixel after).
        assert_eq!(lines, ["RF: r = 5 + (3 − 1)·2 = 9; j = 2·2 = 4; start = −2 − 0·2 = −2"]);
        let Field::Spatial { h, .. } = g else { panic!("spatial") };
        assert_eq!(
            h,
            AxisField {
                size: 9,
                jump: 4,
                start: -2
            }
        );
    }

    #[test]
    fn merges_keep_the_largest_and_check_alignment() {
        let a = propagate(&conv(9, 3, 1, Padding::Same), &[Field::input()]).0;
        let b = propagate(&conv(9, 5, 1, Padding::Same), &[Field::input()]).0;
        let (m, lines) = propagate(&SpatialOp::Pointwise, &[a.clone(), b.clone()]);
        assert_eq!(m, b);
        assert!(lines[0].contains("aligned (same jump and centre)"), "{lines:?}");
        // valid 3×3 is centred one pixel right of same 3×3: not aligned.
        let c = propagate(&conv(9, 3, 1, Padding::Valid), &[Field::input()]).0;
        let (m, lines) = propagate(&SpatialOp::Pointwise, &[a, c]);
        assert!(matches!(m, Field::Spatial { aligned: false, .. }), "{m:?}");
        assert!(lines[0].contains("NOT aligned"), "{lines:?}");
    }
}
