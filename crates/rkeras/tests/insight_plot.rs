//! `rkeras::insight::plot`: the `.dot` text equals Keras 3.15's
//! `keras.utils.model_to_dot(model, …).to_string()` (pydot 4.0.1) for the seed models with
//! four option sets, made by `tools/fixtures/make_insight_dot.py` (node ids renumbered in
//! order of appearance, where Keras writes Python's `id(layer)`).

use rkeras::insight::plot::{to_dot, PlotOptions};
use rkeras::io::keras_json::model_from_json;
use std::path::PathBuf;

#[path = "common/svg.rs"]
mod svg_check;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn options(name: &str) -> PlotOptions {
    let d = PlotOptions::default();
    match name {
        "default" => d,
        "all" => PlotOptions {
            show_shapes: true,
            show_dtype: true,
            show_layer_activations: true,
            show_trainable: true,
            rankdir: "LR".into(),
            dpi: 96,
            ..d
        },
        "shapes_nonames" => PlotOptions {
            show_shapes: true,
            show_layer_names: false,
            ..d
        },
        "nested" => PlotOptions {
            show_shapes: true,
            expand_nested: true,
            ..d
        },
        other => panic!("unknown option set {other}"),
    }
}

#[test]
fn dot_equals_keras_model_to_dot() {
    let dir = fixtures().join("insight/dot");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut compared = 0;
    let mut bad = Vec::new();
    for f in &files {
        let stem = f.file_name().unwrap().to_str().unwrap().trim_end_matches(".dot");
        let (case, opt) = stem.split_once('.').unwrap();
        let json = std::fs::read_to_string(fixtures().join(format!("seed/{case}.k3.json"))).unwrap();
        rkeras::clear_session();
        let model = model_from_json(&json).unwrap();
        let want = std::fs::read_to_string(f).unwrap();
        let got = to_dot(&model, &options(opt));
        if got != want {
            bad.push(format!("{stem}:\n--- rkeras\n{got}\n--- keras\n{want}"));
        }
        compared += 1;
    }
    assert_eq!(compared, 36);
    assert!(
        bad.is_empty(),
        "{} of {compared} differ:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

/// The SVG is well-formed XML (tags balanced, attributes quoted), has one box per layer and
/// one arrow per graph edge, each joining the right boxes.
#[test]
fn svg_has_every_layer_and_every_edge() {
    use rkeras::applications::{by_name, AppOptions};
    use rkeras::insight::plot::graph;
    use rkeras::insight::svg::to_svg;
    for name in ["LeNet5", "InceptionV3", "DenseNet121"] {
        rkeras::clear_session();
        let m = by_name(name, &AppOptions::default()).unwrap();
        let opts = PlotOptions {
            show_shapes: true,
            ..PlotOptions::default()
        };
        let svg = to_svg(&m, &opts);
        svg_check::assert_well_formed(&svg, name);
        let g = graph(&m, &opts);
        let drawn = m.all_layers().len() - usize::from(name == "LeNet5");
        assert_eq!(svg.matches("<g class=\"node\"").count(), drawn, "{name}");
        assert_eq!(g.nodes().len(), drawn, "{name}");
        let edges = g.all_edges();
        assert_eq!(svg.matches("<polyline class=\"edge\"").count(), edges.len(), "{name}");
        for (a, b) in &edges {
            assert!(
                svg.contains(&format!("data-from=\"{a}\" data-to=\"{b}\"")),
                "{name}: edge {a}->{b}"
            );
        }
        let calls: usize = m.nodes().iter().map(|n| n.inputs.len()).sum();
        assert!(
            edges.len() <= calls && edges.len() + 1 >= drawn,
            "{name}: {} edges",
            edges.len()
        );
    }
}
