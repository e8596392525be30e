//! `summary()` byte for byte against real Keras (3.15 box style and tf-keras 2.21), for every
//! seed model and every application reference, built from the JSON configs Keras wrote.
//! References: `fixtures/seed/` (the shared reference set) and `fixtures/apps/` (made by
//! `tools/fixtures/make_app_refs.py`).

use rkeras::io::keras_json::model_from_json;
use rkeras::summary::{SummaryOptions, SummaryStyle};
use std::path::{Path, PathBuf};

fn fixtures(sub: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(sub)
}

/// Cases: every `<case>.k3.json` in the folder.
fn cases(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("fixture dir")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".k3.json"))
                .map(str::to_string)
        })
        .collect();
    v.sort();
    v
}

fn render(dir: &Path, case: &str, json: &str, opts: &SummaryOptions) -> Result<String, String> {
    let text = std::fs::read_to_string(dir.join(format!("{case}.{json}.json"))).map_err(|e| e.to_string())?;
    rkeras::clear_session();
    let model = model_from_json(&text).map_err(|e| format!("build from {json} JSON: {e}"))?;
    model.summary(opts).map_err(|e| e.to_string())
}

/// First differing line, for a readable failure.
fn diff(got: &str, want: &str) -> String {
    for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        if g != w {
            return format!("line {}:\n  got:  {g:?}\n  want: {w:?}", i + 1);
        }
    }
    format!(
        "line counts differ: got {}, want {}",
        got.lines().count(),
        want.lines().count()
    )
}

/// Compares every case; returns failures.
fn check_dir(sub: &str) -> (usize, Vec<String>) {
    let dir = fixtures(sub);
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in cases(&dir) {
        // (reference file suffix, JSON it is built from, options)
        let mut runs: Vec<(String, &str, SummaryOptions)> = Vec::new();
        for (style, tag) in [(SummaryStyle::Keras3, "k3"), (SummaryStyle::Keras2, "k2")] {
            let base = SummaryOptions {
                style,
                ..SummaryOptions::default()
            };
            // tf-keras names DenseNet's stem `conv1/conv` where Keras 3 says `conv1_conv`, and
            // names from a config are kept: its Keras 2 text comes only from its Keras 2 JSON.
            if !(tag == "k2" && case.starts_with("DenseNet")) {
                runs.push((format!("{tag}.summary.txt"), "k3", base.clone()));
            }
            if tag == "k2" {
                runs.push((format!("{tag}.summary.txt"), "k2", base.clone()));
            }
            runs.push((
                format!("{tag}.summary_show_trainable.txt"),
                "k3",
                SummaryOptions {
                    show_trainable: true,
                    ..base.clone()
                },
            ));
            runs.push((
                format!("{tag}.summary_expand_nested.txt"),
                "k3",
                SummaryOptions {
                    expand_nested: true,
                    ..base.clone()
                },
            ));
        }
        for (suffix, json, opts) in runs {
            let reference = dir.join(format!("{case}.{suffix}"));
            let json_file = dir.join(format!("{case}.{json}.json"));
            if !reference.exists() || !json_file.exists() {
                continue;
            }
            let want = std::fs::read_to_string(&reference).expect("reference");
            checked += 1;
            match render(&dir, &case, json, &opts) {
                Ok(got) if got == want => {}
                Ok(got) => failures.push(format!("{case}.{suffix} (from {json} JSON): {}", diff(&got, &want))),
                Err(e) => failures.push(format!("{case}.{suffix} (from {json} JSON): {e}")),
            }
        }
    }
    (checked, failures)
}

#[test]
fn seed_models_summaries_equal_keras() {
    let (checked, failures) = check_dir("seed");
    assert!(checked >= 100, "expected the seed references, checked {checked}");
    assert!(
        failures.is_empty(),
        "{} of {checked} summaries differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn application_summaries_from_json_equal_keras() {
    let (checked, failures) = check_dir("apps");
    assert!(checked >= 100, "expected the application references, checked {checked}");
    assert!(
        failures.is_empty(),
        "{} of {checked} summaries differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
