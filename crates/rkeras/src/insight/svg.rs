//! `plot_model` as SVG, laid out in pure Rust: a small Sugiyama layering of
//! [`super::plot::graph`]. Layers by longest path from the inputs; an edge spanning several
//! layers gets a dummy point in each, so it runs between boxes; a few barycentre sweeps
//! order each layer to reduce crossings; boxes are placed side by side and centred; nested
//! models (with `expand_nested`) are dashed rectangles around their boxes. `rankdir` `LR`
//! swaps the axes. Text is measured with the advance widths of DejaVu Sans, the font PNGs
//! are drawn with ([`super::text_width`]); ranks are 36 pt apart (Graphviz's `ranksep`).

use super::plot::{graph, Cell, Cluster, Item, PlotNode, PlotOptions};
use super::text_width::text_width;
use crate::model::Model;
use std::collections::HashMap;

const TITLE: f64 = 16.0;
const ROW: f64 = 14.0;
const PAD: f64 = 10.0;
const GAP_MAJOR: f64 = 36.0;
const GAP_MINOR: f64 = 24.0;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The text lines of a box: (text, font size, bold, fill colour, background).
fn lines(n: &PlotNode) -> Vec<(String, f64, &'static str)> {
    let title = match &n.name {
        Some(name) => format!("{name} ({})", n.class_name),
        None => n.class_name.clone(),
    };
    let mut out = vec![(title, TITLE, "title")];
    if let Some(a) = &n.activation {
        out.push((format!("Activation: {a}"), ROW, "row"));
    }
    let cells: Vec<String> = n
        .cells
        .iter()
        .map(|c| match c {
            Cell::InputShape(s) => format!("Input shape: {s}"),
            Cell::OutputShape(s) => format!("Output shape: {s}"),
            Cell::Dtype(s) => format!("Output dtype: {s}"),
            Cell::Trainable(true) => "Trainable".into(),
            Cell::Trainable(false) => "Non-trainable".into(),
        })
        .collect();
    for c in cells {
        out.push((c, ROW, "row"));
    }
    out
}

fn size(n: &PlotNode) -> (f64, f64) {
    let ls = lines(n);
    let w = ls
        .iter()
        .map(|(t, s, kind)| text_width(t, *s, *kind == "title"))
        .fold(0.0, f64::max)
        + 2.0 * PAD;
    let h = ls.iter().map(|(_, s, _)| s * 1.5).sum::<f64>() + PAD;
    (w, h)
}

fn clusters<'a>(c: &'a Cluster, depth: usize, out: &mut Vec<(&'a Cluster, usize)>) {
    for i in &c.items {
        if let Item::Cluster(sub) = i {
            out.push((sub, depth));
            clusters(sub, depth + 1, out);
        }
    }
}

/// The SVG picture of `model` with Keras's `plot_model` options.
pub fn to_svg(model: &Model, opts: &PlotOptions) -> String {
    let g = graph(model, opts);
    let nodes = g.nodes();
    let edges = g.all_edges();
    let index: HashMap<usize, usize> = nodes.iter().enumerate().map(|(i, n)| (n.id, i)).collect();
    let n = nodes.len();
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut succ: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(a, b) in &edges {
        if let (Some(&a), Some(&b)) = (index.get(&a), index.get(&b)) {
            preds[b].push(a);
            succ[a].push(b);
        }
    }
    // Longest-path layering (Keras orders layers topologically, so one pass suffices).
    let mut rank = vec![0usize; n];
    for i in 0..n {
        for &p in &preds[i] {
            if p < i {
                rank[i] = rank[i].max(rank[p] + 1);
            }
        }
    }
    // Items: real nodes then dummies; `chains` are each edge's points.
    let mut item_rank: Vec<usize> = rank.clone();
    let mut chains: Vec<Vec<usize>> = Vec::new();
    let mut up: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (a, outs) in succ.iter().enumerate() {
        for &b in outs {
            let mut chain = vec![a];
            let mut last = a;
            for r in rank[a] + 1..rank[b].max(rank[a] + 1) {
                item_rank.push(r);
                up.push(vec![last]);
                last = item_rank.len() - 1;
                chain.push(last);
            }
            chain.push(b);
            up[b].push(last);
            chains.push(chain);
        }
    }
    let m = item_rank.len();
    let mut down: Vec<Vec<usize>> = vec![Vec::new(); m];
    for (i, us) in up.iter().enumerate() {
        for &u in us {
            down[u].push(i);
        }
    }
    let layers_n = item_rank.iter().max().map_or(0, |r| r + 1);
    let mut layers: Vec<Vec<usize>> = vec![Vec::new(); layers_n];
    for i in 0..m {
        layers[item_rank[i]].push(i);
    }
    let mut pos = vec![0.0f64; m];
    let reorder = |layers: &mut Vec<Vec<usize>>, pos: &mut Vec<f64>, neigh: &Vec<Vec<usize>>, range: Vec<usize>| {
        for l in range {
            let mut keyed: Vec<(f64, usize)> = layers[l]
                .iter()
                .map(|&i| {
                    let ns = &neigh[i];
                    let b = if ns.is_empty() {
                        pos[i]
                    } else {
                        ns.iter().map(|&j| pos[j]).sum::<f64>() / ns.len() as f64
                    };
                    (b, i)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
            layers[l] = keyed.into_iter().map(|k| k.1).collect();
            for (k, &i) in layers[l].iter().enumerate() {
                pos[i] = k as f64;
            }
        }
    };
    for l in &layers {
        for (k, &i) in l.iter().enumerate() {
            pos[i] = k as f64;
        }
    }
    for _ in 0..4 {
        reorder(&mut layers, &mut pos, &up, (1..layers_n).collect());
        reorder(
            &mut layers,
            &mut pos,
            &down,
            (0..layers_n.saturating_sub(1)).rev().collect(),
        );
    }
    // Sizes along (major) and across (minor) the flow.
    let lr = opts.rankdir.eq_ignore_ascii_case("LR");
    let sizes: Vec<(f64, f64)> = (0..m)
        .map(|i| if i < n { size(nodes[i]) } else { (8.0, 8.0) })
        .collect();
    let major = |s: (f64, f64)| if lr { s.0 } else { s.1 };
    let minor = |s: (f64, f64)| if lr { s.1 } else { s.0 };
    let mut centre = vec![(0.0f64, 0.0f64); m];
    let mut at_major = 0.0;
    let widths: Vec<f64> = layers
        .iter()
        .map(|l| l.iter().map(|&i| minor(sizes[i])).sum::<f64>() + GAP_MINOR * l.len().saturating_sub(1) as f64)
        .collect();
    let span = widths.iter().cloned().fold(0.0, f64::max);
    let mut bands = vec![(0.0f64, 0.0f64); layers.len()];
    for (l, items) in layers.iter().enumerate() {
        let thick = items.iter().map(|&i| major(sizes[i])).fold(0.0, f64::max);
        bands[l] = (at_major, at_major + thick);
        let mut at_minor = (span - widths[l]) / 2.0;
        for &i in items {
            let w = minor(sizes[i]);
            centre[i] = (at_major + thick / 2.0, at_minor + w / 2.0);
            at_minor += w + GAP_MINOR;
        }
        at_major += thick + GAP_MAJOR;
    }
    let margin = 20.0;
    let xy = |c: (f64, f64)| {
        if lr {
            (c.0 + margin, c.1 + margin)
        } else {
            (c.1 + margin, c.0 + margin)
        }
    };
    let (total_w, total_h) = if lr { (at_major, span) } else { (span, at_major) };
    let (w, h) = (total_w + 2.0 * margin, total_h + 2.0 * margin);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" viewBox=\"0 0 {w:.0} {h:.0}\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"black\"/></marker></defs>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    // Nested models: dashed rectangles around their boxes.
    let mut cl = Vec::new();
    clusters(&g, 0, &mut cl);
    for (c, depth) in &cl {
        let ids: Vec<usize> = c.nodes().iter().filter_map(|n| index.get(&n.id).copied()).collect();
        if ids.is_empty() {
            continue;
        }
        let pad = 12.0 - 4.0 * (*depth as f64).min(2.0);
        let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for &i in &ids {
            let (cx, cy) = xy(centre[i]);
            let (bw, bh) = sizes[i];
            x0 = x0.min(cx - bw / 2.0);
            x1 = x1.max(cx + bw / 2.0);
            y0 = y0.min(cy - bh / 2.0);
            y1 = y1.max(cy + bh / 2.0);
        }
        s.push_str(&format!(
            "<g class=\"cluster\"><title>{}</title><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"none\" stroke=\"black\" stroke-dasharray=\"6 4\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\">{}</text></g>\n",
            escape(&c.name),
            x0 - pad,
            y0 - pad - 14.0,
            x1 - x0 + 2.0 * pad,
            y1 - y0 + 2.0 * pad + 14.0,
            x0 - pad + 4.0,
            y0 - pad - 3.0,
            escape(&c.name)
        ));
    }
    for chain in &chains {
        // Within a rank's band an edge runs straight along the flow (beside the boxes, at
        // its dummy's place); it turns only in the gaps between ranks, where no box is.
        let mut pts: Vec<(f64, f64)> = Vec::new();
        for (k, &i) in chain.iter().enumerate() {
            let (c_major, c_minor) = centre[i];
            let (b0, b1) = bands[item_rank[i]];
            let half = major(sizes[i]) / 2.0;
            let along: Vec<f64> = if k == 0 {
                vec![c_major + half, b1]
            } else if k == chain.len() - 1 {
                vec![b0, c_major - half]
            } else {
                vec![b0, b1]
            };
            for a in along {
                if pts.last().is_none_or(|&(p, _)| (a - p).abs() > 0.5) {
                    pts.push((a, c_minor));
                }
            }
        }
        let pts: Vec<(f64, f64)> = pts.into_iter().map(xy).collect();
        let d: Vec<String> = pts.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
        s.push_str(&format!(
            "<polyline class=\"edge\" data-from=\"{}\" data-to=\"{}\" points=\"{}\" fill=\"none\" stroke=\"black\" stroke-width=\"1.5\" marker-end=\"url(#arrow)\"/>\n",
            nodes[chain[0]].id,
            nodes[*chain.last().unwrap_or(&chain[0])].id,
            d.join(" ")
        ));
    }
    for (i, node) in nodes.iter().enumerate() {
        let (cx, cy) = xy(centre[i]);
        let (bw, bh) = sizes[i];
        let (x, mut y) = (cx - bw / 2.0, cy - bh / 2.0);
        s.push_str(&format!(
            "<g class=\"node\" id=\"node{}\"><title>{}</title><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{bh:.1}\" fill=\"white\" stroke=\"black\"/>",
            node.id,
            escape(node.name.as_deref().unwrap_or(&node.class_name))
        ));
        for (k, (text, fs, kind)) in lines(node).iter().enumerate() {
            let row_h = fs * 1.5 + if k == 0 { PAD / 2.0 } else { 0.0 };
            let (bg, fg) = match (*kind, text.as_str()) {
                ("title", _) => ("black", "white"),
                (_, "Trainable") => ("forestgreen", "white"),
                (_, "Non-trainable") => ("firebrick", "white"),
                _ => ("white", "black"),
            };
            if bg != "white" {
                s.push_str(&format!(
                    "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{row_h:.1}\" fill=\"{bg}\"/>"
                ));
            }
            s.push_str(&format!(
                "<text x=\"{cx:.1}\" y=\"{:.1}\" font-size=\"{fs}\" text-anchor=\"middle\" fill=\"{fg}\"{}>{}</text>",
                y + row_h * 0.68,
                if k == 0 { " font-weight=\"bold\"" } else { "" },
                escape(text)
            ));
            y += row_h;
        }
        s.push_str("</g>\n");
    }
    s.push_str("</svg>\n");
    s
}
