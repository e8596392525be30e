//! TensorBoard event files: a real `fit` writes `train/` and `validation/` files that our
//! reader decodes (CRCs checked), and a committed file made by rkeras
//! (`tests/fixtures/tensorboard/`) decodes to the values TensorBoard's own reader showed for
//! it (`tools/check_tensorboard.py`, run by hand with the `tensorboard` package).
//!
//! Regenerate the fixture: `RKERAS_WRITE_TB_FIXTURE=1 cargo test -p rkeras --test tensorboard`.

use rkeras::callbacks::tensorboard::reader::{read_events, scalars, SummaryValue};
use rkeras::callbacks::tensorboard::{TensorBoard, UpdateFreq};
use rkeras::prelude::*;
use rkeras::training::FitOptions;
use std::path::{Path, PathBuf};

fn event_file(dir: &Path) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("events.out.tfevents.")
        })
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

fn train_tiny(log_dir: &Path) -> (rkeras::training::History, Model) {
    clear_session();
    set_random_seed(3);
    let mut m = Sequential::new()
        .add(InputLayer::new(&[2]))
        .add(Dense::new(4).activation("relu"))
        .add(Dense::new(1).activation("sigmoid"))
        .build()
        .unwrap();
    m.compile("adam", "binary_crossentropy", &["accuracy"]).unwrap();
    let x = Tensor::new(&[8, 2], (0..16).map(|i| (i % 3) as f32).collect()).unwrap();
    let y = Tensor::new(&[8, 1], vec![0., 1., 1., 0., 1., 0., 0., 1.]).unwrap();
    let tb = TensorBoard::new(log_dir)
        .histogram_freq(1)
        .update_freq(UpdateFreq::Batches(2));
    let h = m
        .fit(
            &x,
            &y,
            FitOptions::default()
                .epochs(2)
                .batch_size(4)
                .shuffle(false)
                .verbose(0)
                .validation_data(&x, &y)
                .callback(tb),
        )
        .unwrap();
    (h, m)
}

#[test]
fn fit_writes_keras_layout_that_reads_back() {
    let dir = std::env::temp_dir().join(format!("rkeras-tb-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (h, _) = train_tiny(&dir);
    let train = read_events(&event_file(&dir.join("train"))).unwrap();
    let val = read_events(&event_file(&dir.join("validation"))).unwrap();
    assert_eq!(train[0].file_version.as_deref(), Some("brain.Event:2"));
    for (events, prefix) in [(&train, ""), (&val, "val_")] {
        for metric in ["loss", "accuracy"] {
            let s = scalars(events, &format!("epoch_{metric}"));
            let want: Vec<(i64, f64)> = h
                .get(&format!("{prefix}{metric}"))
                .unwrap()
                .iter()
                .enumerate()
                .map(|(i, v)| (i as i64, *v as f32 as f64))
                .collect();
            assert_eq!(s, want, "{prefix}{metric}");
        }
    }
    assert_eq!(scalars(&train, "epoch_learning_rate").len(), 2);
    // update_freq=2: batch scalars at global batches 2 and 4.
    assert_eq!(
        scalars(&train, "batch_loss").iter().map(|s| s.0).collect::<Vec<_>>(),
        [2, 4]
    );
    // After each validation: evaluation_<metric>_vs_iterations at the optimizer's iterations.
    assert_eq!(
        scalars(&val, "evaluation_loss_vs_iterations")
            .iter()
            .map(|s| s.0)
            .collect::<Vec<_>>(),
        [2, 4]
    );
    let hist: Vec<&str> = train[1..]
        .iter()
        .flat_map(|e| e.values.iter())
        .filter(|(_, v)| matches!(v, SummaryValue::Histogram(_)))
        .map(|(t, _)| t.as_str())
        .collect();
    assert_eq!(hist.len(), 8, "4 weights × 2 epochs: {hist:?}");
    assert!(hist.contains(&"dense/kernel/histogram") && hist.contains(&"dense_1/bias/histogram"));
    let graph = train
        .iter()
        .flat_map(|e| e.values.iter())
        .find(|(t, _)| t == "keras")
        .unwrap();
    match &graph.1 {
        SummaryValue::Text { text, plugin } => {
            assert_eq!(plugin, "graph_keras_model");
            assert!(
                text.starts_with("{\"module\":\"keras\",\"class_name\":\"Sequential\""),
                "{text}"
            );
        }
        other => panic!("{other:?}"),
    }
    if std::env::var_os("RKERAS_WRITE_TB_FIXTURE").is_some() {
        let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tensorboard");
        for sub in ["train", "validation"] {
            std::fs::create_dir_all(out.join(sub)).unwrap();
            std::fs::copy(
                event_file(&dir.join(sub)),
                out.join(sub).join("events.out.tfevents.rkeras.v2"),
            )
            .unwrap();
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// What TensorBoard's EventAccumulator reported for the committed files
/// (`tools/check_tensorboard.py crates/rkeras/tests/fixtures/tensorboard`).
#[test]
fn committed_fixture_decodes_to_what_tensorboard_read() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tensorboard");
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("tensorboard_reader.json")).unwrap()).unwrap();
    for sub in ["train", "validation"] {
        let events = read_events(&root.join(sub).join("events.out.tfevents.rkeras.v2")).unwrap();
        let want = expected[sub]["scalars"].as_object().unwrap();
        for (tag, series) in want {
            let got = scalars(&events, tag);
            let series: Vec<(i64, f64)> = series
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p[0].as_i64().unwrap(), p[1].as_f64().unwrap()))
                .collect();
            assert_eq!(got, series, "{sub} {tag}");
        }
        let hist_tags: Vec<String> = serde_json::from_value(expected[sub]["histograms"].clone()).unwrap();
        for tag in hist_tags {
            assert!(
                events.iter().flat_map(|e| e.values.iter()).any(|(t, _)| *t == tag),
                "{tag}"
            );
        }
    }
    // A flipped byte is caught by the CRC.
    let mut bytes = std::fs::read(root.join("train/events.out.tfevents.rkeras.v2")).unwrap();
    let n = bytes.len();
    bytes[n - 10] ^= 0x40;
    let e = rkeras::callbacks::tensorboard::reader::read_events_bytes("x", &bytes)
        .unwrap_err()
        .to_string();
    assert!(e.contains("CRC mismatch"), "{e}");
}

/// Every truncation of an event file and every byte flip inside its records' payloads (past
/// the CRC, straight into the protobuf decoder) is an error or a value, never a panic.
#[test]
fn damaged_event_files_never_panic() {
    use rkeras::callbacks::tensorboard::reader::{decode_event, read_events_bytes};
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tensorboard");
    let bytes = std::fs::read(root.join("train/events.out.tfevents.rkeras.v2")).unwrap();
    for n in 0..bytes.len() {
        let _ = read_events_bytes("t", &bytes[..n]);
    }
    let mut pos = 0;
    while pos + 12 <= bytes.len() {
        let len = u64::from_le_bytes(bytes[pos..pos + 8].try_into().unwrap()) as usize;
        let payload = &bytes[pos + 12..pos + 12 + len];
        for i in 0..payload.len().min(600) {
            for flip in [0xff, 0x01, 0x80, 0x7f] {
                let mut p = payload.to_vec();
                p[i] ^= flip;
                let _ = decode_event(&p);
            }
        }
        pos += 12 + len + 4;
    }
}
