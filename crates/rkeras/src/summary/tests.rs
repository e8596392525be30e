//! Byte-for-byte checks of both renderers against real Keras.
//!
//! `tests/fixtures/seed/summary_cases.json` holds, per case, the `SummaryTable` rows that
//! Keras 3.15.1 / tf-keras 2.21.0 walk, the options, and the text `model.summary()` printed;
//! it is made by `tests/fixtures/seed/make_summary_cases.py` (run by hand). The reference
//! summaries from `/work/shared/reference/keras` are compared with `include_str!` as well.

use super::*;

const CASES: &str = include_str!("../../tests/fixtures/seed/summary_cases.json");

#[derive(serde::Deserialize)]
struct Case {
    case: String,
    options: SummaryOptions,
    table: SummaryTable,
    /// `None` for the applications, whose texts are the committed `apps/` fixtures.
    expected: Option<String>,
    /// The terminal's width when it was narrower than the table (`COLUMNS`).
    terminal: Option<usize>,
}

impl Case {
    fn render(&self) -> Result<String, SummaryError> {
        match self.terminal {
            Some(columns) => render_for_terminal(&self.table, &self.options, columns),
            None => render(&self.table, &self.options),
        }
    }
}

fn cases() -> Vec<Case> {
    serde_json::from_str(CASES).expect("summary_cases.json parses")
}

fn case(name: &str) -> (SummaryTable, SummaryOptions) {
    let found = cases().into_iter().find(|c| c.case == name);
    let found = found.unwrap_or_else(|| panic!("no case {name} in summary_cases.json"));
    (found.table, found.options)
}

/// Panics with the first differing line, both ways, so a failure is readable.
fn assert_same(name: &str, got: &str, want: &str) {
    if got == want {
        return;
    }
    let (g, w): (Vec<&str>, Vec<&str>) = (got.split('\n').collect(), want.split('\n').collect());
    let at = g
        .iter()
        .zip(&w)
        .position(|(a, b)| a != b)
        .unwrap_or(g.len().min(w.len()));
    panic!(
        "{name}: line {} differs\n got: {:?}\nwant: {:?}\n--- got ---\n{got}\n--- want ---\n{want}",
        at + 1,
        g.get(at),
        w.get(at)
    );
}

fn check(name: &str, want: &str) {
    let (table, opts) = case(name);
    let got = render(&table, &opts).expect("renders");
    assert_same(name, &got, want);
}

#[test]
fn every_recorded_case_matches_keras() {
    let all = cases();
    assert!(all.len() >= 100, "only {} cases", all.len());
    let mut failed = Vec::new();
    for c in &all {
        let Some(want) = &c.expected else { continue };
        match c.render() {
            Ok(got) if &got == want => {}
            Ok(got) => failed.push((c.case.clone(), got, want.clone())),
            Err(e) => failed.push((c.case.clone(), e.to_string(), want.clone())),
        }
    }
    if let Some((name, got, want)) = failed.first() {
        let names: Vec<&str> = failed.iter().map(|f| f.0.as_str()).collect();
        eprintln!("{} of {} cases differ: {names:?}", failed.len(), all.len());
        assert_same(name, got, want);
    }
}

macro_rules! seed {
    ($file:literal) => {
        include_str!(concat!("../../tests/fixtures/seed/", $file))
    };
}

#[test]
fn seq_conv3_both_styles() {
    check("a_seq_conv3.k3", seed!("a_seq_conv3.k3.summary.txt"));
    check("a_seq_conv3.k2", seed!("a_seq_conv3.k2.summary.txt"));
}

#[test]
fn resblock_wraps_names_classes_and_connections() {
    check(
        "h_resblock_stride2_proj.k3",
        seed!("h_resblock_stride2_proj.k3.summary.txt"),
    );
    check(
        "h_resblock_stride2_proj.k2",
        seed!("h_resblock_stride2_proj.k2.summary.txt"),
    );
}

#[test]
fn lenet5_show_trainable() {
    check(
        "f_lenet5.k3.show_trainable",
        seed!("f_lenet5.k3.summary_show_trainable.txt"),
    );
    check(
        "f_lenet5.k2.show_trainable",
        seed!("f_lenet5.k2.summary_show_trainable.txt"),
    );
}

#[test]
fn nested_model_expand_nested() {
    check(
        "i_nested_model3.k3.expand_nested",
        seed!("i_nested_model3.k3.summary_expand_nested.txt"),
    );
    check(
        "i_nested_model3.k2.expand_nested",
        seed!("i_nested_model3.k2.summary_expand_nested.txt"),
    );
    check("i_nested_model3.k3", seed!("i_nested_model3.k3.summary.txt"));
}

#[test]
fn functional_add_and_inception_concat() {
    check("c_func_add_mlp.k3", seed!("c_func_add_mlp.k3.summary.txt"));
    check("c_func_add_mlp.k2", seed!("c_func_add_mlp.k2.summary.txt"));
    check("g_naive_inception.k3", seed!("g_naive_inception.k3.summary.txt"));
    check("g_naive_inception.k2", seed!("g_naive_inception.k2.summary.txt"));
}

#[test]
fn applications() {
    macro_rules! app {
        ($file:literal) => {
            include_str!(concat!("../../tests/fixtures/apps/", $file))
        };
    }
    check("VGG16.k3", app!("VGG16.k3.summary.txt"));
    check("VGG16.k2", app!("VGG16.k2.summary.txt"));
    check("ResNet50.k3", app!("ResNet50.k3.summary.txt"));
    check("ResNet50.k2", app!("ResNet50.k2.summary.txt"));
    check("MobileNetV2.k3", app!("MobileNetV2.k3.summary.txt"));
    check("MobileNetV2.k2", app!("MobileNetV2.k2.summary.txt"));
}

#[test]
fn long_names_are_cut_with_an_ellipsis() {
    let (table, opts) = case("x_long_names.k3");
    let text = render(&table, &opts).expect("renders");
    assert!(text.contains("│ a_convolution_whose_name_is_… │"), "{text}");
    assert!(text.contains("│ an_input_with_a_rather_lo… │"), "{text}");
}

/// The a_seq_conv3 table typed in by hand (values from `seed/index.json`).
fn seq_conv3() -> SummaryTable {
    let conv = |name: &str, hw: usize, c: usize, params: u64| SummaryRow {
        name: name.into(),
        class_name: "Conv2D".into(),
        output_shapes: vec![vec![None, Some(hw), Some(hw), Some(c)]],
        params,
        ..SummaryRow::default()
    };
    SummaryTable {
        model_name: "sequential".into(),
        sequential_like: true,
        is_sequential: true,
        rows: vec![
            SummaryRow {
                name: "input_layer".into(),
                class_name: "InputLayer".into(),
                output_shapes: vec![vec![None, Some(28), Some(28), Some(1)]],
                ..SummaryRow::default()
            },
            conv("conv2d", 26, 32, 320),
            conv("conv2d_1", 24, 64, 18_496),
            conv("conv2d_2", 22, 128, 73_856),
        ],
        total_params: 92_672,
        trainable_params: 92_672,
        non_trainable_params: 0,
        optimizer: None,
        extra_bytes: [0; 3],
    }
}

#[test]
fn hand_built_table_hides_a_sequential_input_layer() {
    let table = seq_conv3();
    let k3 = SummaryOptions::default();
    assert_same(
        "k3",
        &render(&table, &k3).expect("renders"),
        seed!("a_seq_conv3.k3.summary.txt"),
    );
    let k2 = SummaryOptions {
        style: SummaryStyle::Keras2,
        ..SummaryOptions::default()
    };
    assert_same(
        "k2",
        &render(&table, &k2).expect("renders"),
        seed!("a_seq_conv3.k2.summary.txt"),
    );
}

#[test]
fn explain_lines_keras3() {
    let mut table = seq_conv3();
    table.rows[1].explain = vec!["(3·3·1 + 1)·32 = 320".into(), "⌊(28 + 0 − 3)/1⌋ + 1 = 26".into()];
    let opts = SummaryOptions {
        explain: true,
        ..SummaryOptions::default()
    };
    let text = render(&table, &opts).expect("renders");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[4],
        "│ conv2d (Conv2D)                      │ (None, 26, 26, 32)          │             320 │"
    );
    // The text area inside the borders is 38 + 29 + 17 + 2 = 86 characters.
    let span = |s: &str| format!("│{s}{}│", " ".repeat(86 - s.chars().count()));
    assert_eq!(lines[5], span("   ↳ (3·3·1 + 1)·32 = 320"));
    assert_eq!(lines[6], span("   ↳ ⌊(28 + 0 − 3)/1⌋ + 1 = 26"));
    assert!(lines[7].starts_with("├"));
    assert!(lines.iter().all(|l| l.chars().count() <= 88));
    // Off: byte-identical to Keras even though the rows carry explain lines.
    let off = render(&table, &SummaryOptions::default()).expect("renders");
    assert_same("explain off", &off, seed!("a_seq_conv3.k3.summary.txt"));
}

#[test]
fn explain_lines_wrap_inside_the_table() {
    let mut table = seq_conv3();
    table.rows[1].explain = vec!["word ".repeat(30).trim_end().to_string()];
    let opts = SummaryOptions {
        explain: true,
        ..SummaryOptions::default()
    };
    let text = render(&table, &opts).expect("renders");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[5].starts_with("│   ↳ word word"));
    assert!(lines[6].starts_with("│     word word"));
    assert!(lines[5..7].iter().all(|l| l.chars().count() == 88 && l.ends_with('│')));
    assert!(lines[7].starts_with('├'), "{text}");
}

#[test]
fn explain_lines_keras2() {
    let mut table = seq_conv3();
    table.rows[1].explain = vec!["(3·3·1 + 1)·32 = 320".into()];
    let opts = SummaryOptions {
        style: SummaryStyle::Keras2,
        explain: true,
        ..SummaryOptions::default()
    };
    let text = render(&table, &opts).expect("renders");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[4],
        " conv2d (Conv2D)             (None, 26, 26, 32)        320       "
    );
    assert_eq!(lines[5], format!("   ↳ (3·3·1 + 1)·32 = 320{}", " ".repeat(40)));
    assert_eq!(lines[6], " ".repeat(65));
}

#[test]
fn bad_options_name_the_argument() {
    let table = seq_conv3();
    let k3 = |line_length, positions| SummaryOptions {
        line_length,
        positions,
        ..SummaryOptions::default()
    };
    let err = render(&table, &k3(Some(10), None)).expect_err("too narrow");
    let msg = err.to_string();
    assert!(msg.contains("`line_length`") && msg.contains("line_length=10"), "{msg}");
    assert!(msg.contains("column widths [4, 4, 2]"), "{msg}");
    let err = render(&table, &k3(None, Some(vec![0.5, 1.0]))).expect_err("two stops");
    assert!(err.to_string().contains("3 increasing fractions"), "{err}");
    let err = render(&table, &k3(None, Some(vec![30.0, 60.0, 90.0]))).expect_err("absolute");
    assert!(err.to_string().contains("[30.0, 60.0, 90.0]"), "{err}");

    let k2 = |line_length, positions| SummaryOptions {
        style: SummaryStyle::Keras2,
        line_length,
        positions,
        ..SummaryOptions::default()
    };
    let err = render(&table, &k2(None, Some(vec![20.5, 40.0, 50.0]))).expect_err("fractional");
    assert!(err.to_string().contains("whole character positions"), "{err}");
    // tf-keras itself would loop forever here: a 2-character column cannot hold text.
    let err = render(&table, &k2(Some(6), None)).expect_err("narrow");
    assert!(err.to_string().contains("at least one character"), "{err}");
    for bad in [
        vec![0.5, f64::NAN, 1.0],
        vec![10.0, 1e300, 2e300],
        vec![0.5, -1e300, 1.0],
    ] {
        let err = render(&table, &k2(None, Some(bad.clone()))).expect_err("out of range");
        assert!(err.to_string().contains("`positions`"), "{bad:?}: {err}");
    }
    let err = render(&table, &k2(Some(usize::MAX), None)).expect_err("huge");
    assert!(err.to_string().contains("at most 10000"), "{err}");
    // Zero / empty mean "default", as Python's `or`.
    let same = render(&table, &k2(Some(0), Some(vec![]))).expect("defaults");
    assert_same("defaults", &same, seed!("a_seq_conv3.k2.summary.txt"));
}

#[test]
fn terminal_width_caps_the_keras3_default() {
    let table = seq_conv3();
    let opts = SummaryOptions::default();
    // A wide terminal changes nothing.
    let wide = render_for_terminal(&table, &opts, 200).expect("renders");
    assert_same("wide", &wide, seed!("a_seq_conv3.k3.summary.txt"));
    // At 80 columns Keras 3 draws 76.
    let text = render_for_terminal(&table, &opts, 80).expect("renders");
    assert!(text.lines().skip(1).take(5).all(|l| l.chars().count() == 76), "{text}");
    // An explicit line_length wider than the terminal is cropped by the console.
    let opts = SummaryOptions {
        line_length: Some(100),
        ..SummaryOptions::default()
    };
    let text = render_for_terminal(&table, &opts, 60).expect("renders");
    assert!(text.lines().all(|l| l.chars().count() <= 60), "{text}");
    assert!(render_for_terminal(&table, &SummaryOptions::default(), 10).is_err());
}
