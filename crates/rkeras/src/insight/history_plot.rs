//! Training curves, as Keras tutorials plot `history.history` with matplotlib: one panel per
//! metric (loss first, then the others in file order), x = epoch from 1, training solid and
//! validation (`val_…`) dashed, one colour per run, one legend naming the runs (their file
//! stems), so that a baseline, a smaller and a bigger model compare on one chart.
//!
//! plotters (SVG backend) draws the panels' frames, grids, ticks and titles; each curve is one
//! `<path class="curve">` written here, with its run, metric and split as attributes, a gap
//! where a value is NaN (`null`, `NaN`, `NA`, infinite), and a dot for a value between two
//! gaps. PNGs go through [`super::render`] (one rasterizer, the embedded font).
//!
//! ```
//! use rkeras::insight::history_file::RunHistory;
//! use rkeras::insight::history_plot::{history_svg, CurveOptions};
//! let run = RunHistory {
//!     name: "baseline".into(),
//!     epochs: vec![1.0, 2.0, 3.0],
//!     series: vec![("loss".into(), vec![0.9, 0.5, 0.4]), ("val_loss".into(), vec![1.0, 0.7, 0.6])],
//! };
//! let svg = history_svg(&[run], &CurveOptions::default()).unwrap();
//! assert_eq!(svg.matches("<path class=\"curve\"").count(), 2);
//! ```

use super::history_file::{read_history, RunHistory};
use super::render::{svg_to_png, write};
use super::text_width::text_width;
use crate::error::{KerasError, Result};
use plotters::prelude::*;
use std::path::Path;

/// Sizes of the chart (SVG units are points; PNGs are `dpi / 72` times larger).
#[derive(Debug, Clone, PartialEq)]
pub struct CurveOptions {
    /// Width of one panel.
    pub panel_width: u32,
    /// Height of one panel.
    pub panel_height: u32,
    /// Resolution of a PNG.
    pub dpi: u32,
}

impl Default for CurveOptions {
    fn default() -> Self {
        Self {
            panel_width: 420,
            panel_height: 300,
            dpi: 144,
        }
    }
}

/// matplotlib's default colour cycle (`tab10`), one colour per run.
const COLOURS: [(u8, u8, u8); 10] = [
    (0x1f, 0x77, 0xb4),
    (0xff, 0x7f, 0x0e),
    (0x2c, 0xa0, 0x2c),
    (0xd6, 0x27, 0x28),
    (0x94, 0x67, 0xbd),
    (0x8c, 0x56, 0x4b),
    (0xe3, 0x77, 0xc2),
    (0x7f, 0x7f, 0x7f),
    (0xbc, 0xbd, 0x22),
    (0x17, 0xbe, 0xcf),
];
const LEGEND_ROW: u32 = 22;
const FONT: &str = "sans-serif";

fn colour(run: usize) -> String {
    let (r, g, b) = COLOURS[run % COLOURS.len()];
    format!("#{r:02x}{g:02x}{b:02x}")
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn draw_err(e: impl std::fmt::Display) -> KerasError {
    KerasError::Invalid(format!("plot_history: drawing failed: {e}"))
}

/// The metrics to draw: every key without `val_` (or a `val_` key whose training key is
/// missing), `loss` first; an error when the runs share none.
pub fn metrics(runs: &[RunHistory]) -> Result<Vec<String>> {
    if runs.is_empty() {
        return Err(KerasError::Invalid(
            "plot_history: expected at least one history".into(),
        ));
    }
    let base = |k: &str| k.strip_prefix("val_").unwrap_or(k).to_string();
    let mut out: Vec<String> = Vec::new();
    for r in runs {
        for (k, _) in &r.series {
            let b = base(k);
            if !out.contains(&b) {
                out.push(b);
            }
        }
    }
    out.sort_by_key(|m| m != "loss");
    let common = out
        .iter()
        .any(|m| runs.iter().all(|r| r.series.iter().any(|(k, _)| base(k) == *m)));
    if !common {
        let keys: Vec<String> = runs
            .iter()
            .map(|r| format!("{}: {:?}", r.name, r.series.iter().map(|(k, _)| k).collect::<Vec<_>>()))
            .collect();
        return Err(KerasError::Invalid(format!(
            "plot_history: the runs share no metric to compare. Received {}",
            keys.join("; ")
        )));
    }
    Ok(out)
}

/// The y range of a panel: every finite value, with a 5% margin.
fn y_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = if hi > lo {
        (hi - lo) * 0.05
    } else {
        lo.abs().max(1.0) * 0.05
    };
    (lo - pad, hi + pad)
}

/// One curve's `d`: `M`/`L` through the finite points, a new `M` after each gap.
fn path_data(points: impl Iterator<Item = Option<(f64, f64)>>) -> String {
    let mut d = String::new();
    let mut segment: Vec<(f64, f64)> = Vec::new();
    let flush = |seg: &mut Vec<(f64, f64)>, d: &mut String| {
        for (k, (x, y)) in seg.iter().enumerate() {
            d.push_str(&format!("{}{x:.2} {y:.2} ", if k == 0 { "M" } else { "L" }));
        }
        if seg.len() == 1 {
            d.push_str("l 0 0 ");
        }
        seg.clear();
    };
    for p in points {
        match p {
            Some(p) => segment.push(p),
            None => flush(&mut segment, &mut d),
        }
    }
    flush(&mut segment, &mut d);
    d.trim_end().to_string()
}

/// The chart of `runs` as SVG text.
pub fn history_svg(runs: &[RunHistory], opts: &CurveOptions) -> Result<String> {
    let metrics = metrics(runs)?;
    let has_val = runs.iter().any(|r| r.series.iter().any(|(k, _)| k.starts_with("val_")));
    let n = metrics.len();
    let cols = if n <= 3 { n } else { (n as f64).sqrt().ceil() as usize };
    let rows = n.div_ceil(cols);
    let (pw, ph) = (opts.panel_width.max(160), opts.panel_height.max(120));
    let width = pw * cols as u32;
    // Legend entries: each run, then the two line styles; wrapped into rows.
    let mut entries: Vec<(String, String, bool)> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| (r.name.clone(), colour(i), false))
        .collect();
    entries.push(("training".into(), "#000000".into(), false));
    if has_val {
        entries.push(("validation".into(), "#000000".into(), true));
    }
    let entry_w = |t: &str| 48.0 + text_width(t, 14.0, false);
    let mut legend_rows: Vec<Vec<usize>> = Vec::new();
    let mut at = f64::INFINITY;
    for (i, (t, _, _)) in entries.iter().enumerate() {
        if at + entry_w(t) > width as f64 - 20.0 {
            legend_rows.push(Vec::new());
            at = 0.0;
        }
        at += entry_w(t);
        if let Some(row) = legend_rows.last_mut() {
            row.push(i);
        }
    }
    let legend_h = LEGEND_ROW * legend_rows.len() as u32 + 12;
    let height = legend_h + ph * rows as u32;
    let mut svg = String::new();
    let mut curves = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let (top, body) = root.split_vertically(legend_h);
        for (r, row) in legend_rows.iter().enumerate() {
            let total: f64 = row.iter().map(|&i| entry_w(&entries[i].0)).sum();
            let mut x = ((width as f64 - total) / 2.0).max(10.0);
            let y = (10 + LEGEND_ROW * r as u32 + LEGEND_ROW / 2) as i32;
            for &i in row {
                let (text, col, dashed) = &entries[i];
                let xi = x as i32;
                curves.push_str(&format!(
                    "<path class=\"legend-line\" d=\"M{} {y} L{} {y}\" fill=\"none\" stroke=\"{col}\" stroke-width=\"2.5\"{}/>\n",
                    xi,
                    xi + 28,
                    if *dashed { " stroke-dasharray=\"6 4\"" } else { "" }
                ));
                top.draw(&Text::new(
                    text.clone(),
                    (xi + 34, y - 7),
                    (FONT, 14).into_font().color(&BLACK),
                ))
                .map_err(draw_err)?;
                x += entry_w(text);
            }
        }
        let panels = body.split_evenly((rows, cols));
        for (p, metric) in metrics.iter().enumerate() {
            let area = &panels[p];
            let val_key = format!("val_{metric}");
            let values = runs.iter().flat_map(|r| {
                [r.get(metric), r.get(&val_key)]
                    .into_iter()
                    .flatten()
                    .flat_map(|v| v.iter().copied())
            });
            let (y0, y1) = y_range(values);
            let last = runs.iter().flat_map(|r| r.epochs.iter().copied()).fold(1.0, f64::max);
            let first = runs.iter().flat_map(|r| r.epochs.first().copied()).fold(last, f64::min);
            let (x0, x1) = (first - 0.25, last + 0.25);
            let title = if runs.iter().any(|r| r.get(&val_key).is_some()) {
                format!("Training and validation {metric}")
            } else {
                format!("Training {metric}")
            };
            let mut chart = ChartBuilder::on(area)
                .caption(title, (FONT, 17))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(58)
                .build_cartesian_2d(x0..x1, y0..y1)
                .map_err(draw_err)?;
            let epochs_span = (last - first).round() as usize + 1;
            let x_fmt = |v: &f64| {
                if v.fract().abs() < 1e-9 {
                    format!("{v:.0}")
                } else {
                    String::new()
                }
            };
            let y_fmt = |v: &f64| {
                let step = (y1 - y0) / 6.0;
                let digits = (-step.log10().floor()).clamp(0.0, 6.0) as usize;
                format!("{v:.digits$}")
            };
            chart
                .configure_mesh()
                .x_labels(epochs_span.clamp(2, 10))
                .y_labels(7)
                .x_label_formatter(&x_fmt)
                .y_label_formatter(&y_fmt)
                .x_desc("Epochs")
                .y_desc(metric.as_str())
                .label_style((FONT, 13))
                .axis_desc_style((FONT, 14))
                .max_light_lines(1)
                .light_line_style(RGBColor(240, 240, 240))
                .bold_line_style(RGBColor(215, 215, 215))
                .draw()
                .map_err(draw_err)?;
            // Data to SVG units, exactly (plotters' own mapping rounds to whole pixels).
            let (px, py) = chart.plotting_area().get_pixel_range();
            let map = |x: f64, y: f64| {
                (
                    px.start as f64 + (x - x0) / (x1 - x0) * (px.end - px.start) as f64,
                    py.end as f64 - (y - y0) / (y1 - y0) * (py.end - py.start) as f64,
                )
            };
            for (i, run) in runs.iter().enumerate() {
                for (key, split, dash) in [
                    (metric.as_str(), "train", ""),
                    (val_key.as_str(), "val", " stroke-dasharray=\"7 4\""),
                ] {
                    let Some(vals) = run.get(key) else { continue };
                    let d = path_data(
                        run.epochs
                            .iter()
                            .zip(vals)
                            .map(|(&e, &v)| v.is_finite().then(|| map(e, v))),
                    );
                    curves.push_str(&format!(
                        "<path class=\"curve\" data-run=\"{}\" data-metric=\"{}\" data-split=\"{split}\" d=\"{d}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" stroke-linecap=\"round\" stroke-linejoin=\"round\"{dash}/>\n",
                        escape(&run.name),
                        escape(metric),
                        colour(i)
                    ));
                }
            }
        }
        root.present().map_err(draw_err)?;
    }
    let end = svg
        .rfind("</svg>")
        .ok_or_else(|| draw_err("the SVG backend wrote no </svg>"))?;
    svg.insert_str(end, &curves);
    Ok(svg)
}

/// Reads each history file ([`read_history`]) and writes their curves to `to_file`: `.svg`,
/// or `.png` rendered at `opts.dpi`.
pub fn plot_history<P: AsRef<Path>>(files: &[P], to_file: impl AsRef<Path>, opts: &CurveOptions) -> Result<()> {
    let runs = files.iter().map(read_history).collect::<Result<Vec<_>>>()?;
    plot_runs(&runs, to_file, opts)
}

/// Writes the curves of `runs` (e.g. [`RunHistory::from_history`] of `fit`'s result) to
/// `to_file` (`.svg` or `.png`).
pub fn plot_runs(runs: &[RunHistory], to_file: impl AsRef<Path>, opts: &CurveOptions) -> Result<()> {
    let path = to_file.as_ref();
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    if !matches!(ext.as_deref(), Some("svg" | "png")) {
        return Err(KerasError::Invalid(format!(
            "plot_history: output {}: expected a .svg or .png file name",
            path.display()
        )));
    }
    if opts.dpi == 0 {
        return Err(KerasError::Invalid(
            "plot_history: dpi: expected a positive resolution. Received: dpi=0".into(),
        ));
    }
    let svg = history_svg(runs, opts)?;
    let bytes = if ext.as_deref() == Some("png") {
        svg_to_png(&svg, opts.dpi as f32 / 72.0)?.bytes
    } else {
        svg.into_bytes()
    };
    write(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_split_the_path_and_lone_points_are_dots() {
        let pts = [Some((0.0, 1.0)), Some((1.0, 2.0)), None, Some((3.0, 4.0)), None];
        assert_eq!(path_data(pts.into_iter()), "M0.00 1.00 L1.00 2.00 M3.00 4.00 l 0 0");
    }

    #[test]
    fn y_range_pads_and_ignores_nan() {
        assert_eq!(y_range([1.0, f64::NAN, 3.0].into_iter()), (0.9, 3.1));
        assert_eq!(y_range([f64::NAN].into_iter()), (0.0, 1.0));
    }
}
