//! PNG pictures and training curves: `plot_model` rendered with the embedded font (text
//! drawn inside the boxes, edges drawn between them, Graphviz's size rules), and
//! `plot_history` over the `rkeras train --history-json` files in
//! `tests/fixtures/insight/history/` (LeNet5 and a smaller and a bigger variant trained on the
//! embedded MNIST subset, commands in `docs/curves/README.md`) and a real `CSVLogger` file.

use rkeras::applications::{by_name, AppOptions};
use rkeras::insight::history_file::{read_history, RunHistory};
use rkeras::insight::history_plot::{history_svg, plot_history, plot_runs, CurveOptions};
use rkeras::insight::plot::PlotOptions;
use rkeras::insight::render::{plot_png, MAX_SIDE};
use rkeras::insight::svg::to_svg;
use std::path::{Path, PathBuf};

#[path = "common/svg.rs"]
mod svg_check;

fn history(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/insight/history")
        .join(name)
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rkeras-pictures-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The numbers after `key="` in `tag`.
fn attr(tag: &str, key: &str) -> f64 {
    let at = tag
        .find(&format!(" {key}=\""))
        .unwrap_or_else(|| panic!("{key} in {tag}"))
        + key.len()
        + 3;
    tag[at..].split('"').next().unwrap().parse().unwrap()
}

/// Every box of LeNet5's PNG has light (text) pixels inside its black title bar and dark
/// (text) pixels in its white rows, and every edge is dark half-way along.
#[test]
fn plot_png_draws_text_inside_boxes_and_the_edges() {
    rkeras::clear_session();
    let m = by_name("LeNet5", &AppOptions::default()).unwrap();
    let opts = PlotOptions {
        show_shapes: true,
        ..PlotOptions::default()
    };
    let svg = to_svg(&m, &opts);
    let png = plot_png(&m, &opts).unwrap();
    let scale = 200.0 / 72.0;
    assert!((png.scale - scale as f32).abs() < 1e-6);
    let svg_w = attr(&svg[..svg.find('>').unwrap()], "width");
    assert_eq!(png.width, (svg_w * scale).ceil() as u32);
    let img = image::load_from_memory(&png.bytes).unwrap().to_luma8();
    let count = |x0: f64, y0: f64, w: f64, h: f64, pred: &dyn Fn(u8) -> bool| {
        let (x0, y0) = ((x0 * scale) as u32 + 2, (y0 * scale) as u32 + 2);
        let (x1, y1) = (x0 + (w * scale) as u32 - 4, y0 + (h * scale) as u32 - 4);
        (y0..y1)
            .flat_map(|y| (x0..x1).map(move |x| (x, y)))
            .filter(|&(x, y)| pred(img.get_pixel(x, y).0[0]))
            .count()
    };
    let mut boxes = 0;
    for node in svg.split("<g class=\"node\"").skip(1) {
        let rects: Vec<&str> = node.split("<rect").skip(1).collect();
        let (outer, title) = (rects[0], rects[1]);
        let (x, y, w, h) = (
            attr(outer, "x"),
            attr(outer, "y"),
            attr(outer, "width"),
            attr(outer, "height"),
        );
        let th = attr(title, "height");
        let light = count(x, y, w, th, &|v| v > 160);
        let dark_rows = count(x, y + th, w, h - th, &|v| v < 96);
        assert!(
            light > 200 && dark_rows > 400,
            "box at {x},{y}: {light} light, {dark_rows} dark pixels"
        );
        boxes += 1;
    }
    assert_eq!(boxes, 8);
    for edge in svg.split("<polyline class=\"edge\"").skip(1) {
        let pts: Vec<f64> = edge
            .split("points=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .split([' ', ','])
            .map(|v| v.parse().unwrap())
            .collect();
        let (mx, my) = ((pts[0] + pts[2]) / 2.0 * scale, (pts[1] + pts[3]) / 2.0 * scale);
        assert!(img.get_pixel(mx as u32, my as u32).0[0] < 96, "edge at {mx},{my}");
    }
}

/// `plot_model` writes PNG, SVG or DOT by extension; a deep model is scaled down to fit as
/// Graphviz does; dpi scales the PNG.
#[test]
fn plot_model_writes_by_extension_and_fits_deep_models() {
    rkeras::clear_session();
    let m = by_name("LeNet5", &AppOptions::default()).unwrap();
    let dir = tmp("plot");
    let opts = PlotOptions::default();
    for (ext, magic) in [("png", &b"\x89PNG"[..]), ("svg", b"<svg"), ("dot", b"digraph G")] {
        let f = dir.join(format!("m.{ext}"));
        rkeras::utils::plot_model(&m, &f, &opts).unwrap();
        assert!(std::fs::read(&f).unwrap().starts_with(magic), "{ext}");
    }
    let e = rkeras::utils::plot_model(&m, dir.join("m.jpg"), &opts)
        .unwrap_err()
        .to_string();
    assert!(e.contains("expected a .png, .svg or .dot file name"), "{e}");
    let at = |dpi| {
        plot_png(
            &m,
            &PlotOptions {
                dpi,
                ..PlotOptions::default()
            },
        )
        .unwrap()
    };
    let (p72, p144) = (at(72), at(144));
    assert!(p144.width.abs_diff(2 * p72.width) <= 1 && p144.height.abs_diff(2 * p72.height) <= 1);
    let e = plot_png(
        &m,
        &PlotOptions {
            dpi: 0,
            ..PlotOptions::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("dpi=0"), "{e}");
    rkeras::clear_session();
    let dense = by_name("DenseNet121", &AppOptions::default()).unwrap();
    let p = plot_png(
        &dense,
        &PlotOptions {
            show_shapes: true,
            ..PlotOptions::default()
        },
    )
    .unwrap();
    assert_eq!(p.height, MAX_SIDE);
    assert!(p.scale < 200.0 / 72.0 && p.width > 100, "{p:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn runs() -> Vec<RunHistory> {
    ["baseline.json", "smaller.json", "bigger.json"]
        .iter()
        .map(|f| read_history(history(f)).unwrap())
        .collect()
}

#[test]
fn curves_have_one_path_per_series_and_a_legend_of_the_file_stems() {
    let runs = runs();
    assert_eq!(runs[0].name, "baseline");
    assert_eq!(runs[0].epochs.first(), Some(&1.0));
    let svg = history_svg(&runs, &CurveOptions::default()).unwrap();
    svg_check::assert_well_formed(&svg, "curves");
    // loss and accuracy, training and validation, for each of the three runs.
    assert_eq!(svg.matches("<path class=\"curve\"").count(), 3 * 2 * 2);
    for run in ["baseline", "smaller", "bigger"] {
        for metric in ["loss", "accuracy"] {
            for split in ["train", "val"] {
                let tag = format!("data-run=\"{run}\" data-metric=\"{metric}\" data-split=\"{split}\"");
                assert_eq!(svg.matches(&tag).count(), 1, "{tag}");
            }
        }
    }
    let dashed = svg.split("<path class=\"curve\"").skip(1).filter(|p| {
        let tag = &p[..p.find("/>").unwrap()];
        tag.contains("stroke-dasharray") != tag.contains("data-split=\"train\"")
    });
    assert_eq!(dashed.count(), 12, "validation dashed, training solid");
    let texts = svg_check::texts(&svg);
    let legend: Vec<&str> = texts.iter().map(String::as_str).take(5).collect();
    assert_eq!(legend, ["baseline", "smaller", "bigger", "training", "validation"]);
    assert!(texts.iter().any(|t| t == "Training and validation loss"), "{texts:?}");
    // One colour per run, the same in every panel.
    let colour = |run: &str| {
        let p = svg.split(&format!("data-run=\"{run}\"")).nth(1).unwrap();
        p.split("stroke=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string()
    };
    assert_ne!(colour("baseline"), colour("smaller"));
    assert_ne!(colour("smaller"), colour("bigger"));
}

#[test]
fn curves_render_to_png_at_the_dpi() {
    let dir = tmp("curves");
    let files = [history("baseline.json"), history("bigger.json")];
    let png = dir.join("c.png");
    plot_history(
        &files,
        &png,
        &CurveOptions {
            dpi: 72,
            ..CurveOptions::default()
        },
    )
    .unwrap();
    let img = image::open(&png).unwrap();
    let o = CurveOptions::default();
    assert_eq!(img.width(), 2 * o.panel_width);
    assert!(img.height() > o.panel_height);
    let svg = dir.join("c.svg");
    plot_history(&files, &svg, &o).unwrap();
    assert!(std::fs::read_to_string(&svg)
        .unwrap()
        .contains("Training and validation accuracy"));
    let e = plot_history(&files, dir.join("c.pdf"), &o).unwrap_err().to_string();
    assert!(e.contains("expected a .svg or .png file name"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A file `CSVLogger` wrote during a real `fit` reads as the same run as `fit`'s `History`.
#[test]
fn csv_logger_files_read_as_the_history() {
    use rkeras::callbacks::CSVLogger;
    use rkeras::prelude::*;
    use rkeras::training::FitOptions;
    let dir = tmp("csv");
    rkeras::clear_session();
    set_random_seed(1);
    let mut m = Sequential::new()
        .add(InputLayer::new(&[2]))
        .add(Dense::new(3).activation("relu"))
        .add(Dense::new(1).activation("sigmoid"))
        .build()
        .unwrap();
    m.compile("sgd", "binary_crossentropy", &["accuracy"]).unwrap();
    let x = Tensor::new(&[8, 2], (0..16).map(|i| (i % 5) as f32 / 4.0).collect()).unwrap();
    let y = Tensor::new(&[8, 1], vec![0., 1., 0., 1., 1., 0., 1., 0.]).unwrap();
    let csv = dir.join("tiny.csv");
    let h = m
        .fit(
            &x,
            &y,
            FitOptions::default()
                .epochs(3)
                .verbose(0)
                .validation_split(0.25)
                .callback(CSVLogger::new(&csv)),
        )
        .unwrap();
    let run = read_history(&csv).unwrap();
    assert_eq!(run.name, "tiny");
    assert_eq!(run.epochs, [1.0, 2.0, 3.0]);
    let want = RunHistory::from_history("tiny", &h).unwrap();
    for key in ["loss", "accuracy", "val_loss", "val_accuracy"] {
        let (a, b) = (run.get(key).unwrap(), want.get(key).unwrap());
        assert!(
            a.iter().zip(b).all(|(a, b)| (a - b).abs() < 1e-6),
            "{key}: {a:?} vs {b:?}"
        );
    }
    // A CSV run and a JSON run on one chart.
    let svg = history_svg(
        &[run, read_history(history("smaller.json")).unwrap()],
        &CurveOptions::default(),
    )
    .unwrap();
    assert_eq!(svg.matches("<path class=\"curve\"").count(), 2 * 2 * 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn nan_values_leave_gaps() {
    let dir = tmp("nan");
    // Python's json.dump(history.history) writes NaN bare; rkeras writes null.
    let f = write(
        &dir,
        "py.json",
        r#"{"loss": [1.0, 0.5, NaN, 0.25, 0.2], "val_loss": [1.1, null, 0.7, 0.6, Infinity]}"#,
    );
    let run = read_history(&f).unwrap();
    assert!(run.get("loss").unwrap()[2].is_nan() && run.get("val_loss").unwrap()[4].is_nan());
    let svg = history_svg(&[run], &CurveOptions::default()).unwrap();
    let d = |split: &str| {
        let p = svg.split(&format!("data-split=\"{split}\" d=\"")).nth(1).unwrap();
        p.split('"').next().unwrap().to_string()
    };
    // loss: epochs 1–2, gap, 4–5; val_loss: epoch 1 alone (a dot), gap, 3–4.
    assert_eq!(
        (d("train").matches('M').count(), d("train").matches('L').count()),
        (2, 2)
    );
    assert_eq!((d("val").matches('M').count(), d("val").matches('L').count()), (2, 1));
    assert!(d("val").contains("l 0 0"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_history_files_are_errors_that_name_the_file() {
    let dir = tmp("bad");
    let o = CurveOptions::default();
    let out = dir.join("c.svg");
    let err = |files: &[PathBuf]| plot_history(files, &out, &o).unwrap_err().to_string();
    let e = err(&[dir.join("missing.json")]);
    assert!(e.contains("missing.json") && e.contains("No such file"), "{e}");
    let e = err(&[write(&dir, "bad.json", "{\"history\": {\"loss\": [1.0,")]);
    assert!(e.contains("bad.json: not a JSON history file"), "{e}");
    let e = err(&[write(&dir, "text.json", "{\"history\": {\"loss\": [\"low\"]}}")]);
    assert!(
        e.contains("history key `loss`: expected numbers. Received: \"low\""),
        "{e}"
    );
    let e = err(&[write(&dir, "noepoch.csv", "step,loss\n0,1.0\n")]);
    assert!(e.contains("noepoch.csv: expected an `epoch` column"), "{e}");
    let e = err(&[write(&dir, "short.csv", "epoch,loss,val_loss\n0,1.0,1.2\n1,0.5\n")]);
    assert!(
        e.contains("row 3: expected 3 fields as the header has. Received 2"),
        "{e}"
    );
    let e = err(&[write(
        &dir,
        "len.json",
        "{\"history\": {\"loss\": [1, 0.5, 0.4], \"val_loss\": [1, 0.6]}}",
    )]);
    assert!(
        e.contains("len.json: `val_loss` has 2 values, expected one per epoch (3 epochs, as `loss`)"),
        "{e}"
    );
    let e = err(&[write(&dir, "empty.json", "{\"history\": {}}")]);
    assert!(e.contains("the history is empty"), "{e}");
    let a = write(&dir, "a.json", "{\"loss\": [1.0, 0.5]}");
    let b = write(&dir, "b.csv", "epoch,mae\n0,3.0\n1,2.0\n");
    let e = err(&[a.clone(), b]);
    assert!(
        e.contains("the runs share no metric to compare") && e.contains("b: [\"mae\"]"),
        "{e}"
    );
    let e = plot_runs(&[], &out, &o).unwrap_err().to_string();
    assert!(e.contains("expected at least one history"), "{e}");
    let e = plot_history(&[a], dir.join("c.jpeg"), &o).unwrap_err().to_string();
    assert!(e.contains("c.jpeg: expected a .svg or .png file name"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
