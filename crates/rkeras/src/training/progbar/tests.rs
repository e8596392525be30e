//! The progress bar against Keras 3.15's own `Progbar` output: the expected strings were
//! captured from `keras.utils.Progbar` with `time.time` patched to the same instants and
//! `_dynamic_display=True` (the script is quoted in `tools/fixtures/make_progbar_refs.py`).

use super::*;
use std::sync::{Arc, Mutex};

fn bar(target: Option<usize>, verbose: u8, dynamic: bool) -> (Progbar, Arc<Mutex<Vec<u8>>>) {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let p = Progbar::with_output(target, verbose, dynamic, Box::new(SharedSink(buf.clone())));
    (p, buf)
}

fn text(buf: &Arc<Mutex<Vec<u8>>>) -> String {
    String::from_utf8(buf.lock().unwrap().clone()).unwrap()
}

#[test]
fn verbose1_redraws_like_keras() {
    let (mut p, buf) = bar(Some(469), 1, true);
    p.update_at(1, &[("accuracy", 0.5), ("loss", 1.25)], false, 0.5);
    p.update_at(2, &[("accuracy", 0.6), ("loss", 1.0)], false, 0.52);
    p.update_at(200, &[("accuracy", 0.8), ("loss", 0.00012345)], false, 1.7);
    let end = [
        ("accuracy", 0.9012345),
        ("loss", 0.3301),
        ("val_accuracy", 0.95),
        ("val_loss", 0.2),
    ];
    p.update_at(469, &end, true, 3.4);
    assert_eq!(text(&buf), V1);
}

#[test]
fn verbose1_eta_formats_and_tiny_values() {
    let (mut p, buf) = bar(Some(10000), 1, true);
    p.update_at(1, &[("loss", 2.0)], false, 0.2);
    p.update_at(100, &[("loss", -0.5)], false, 100.2);
    p.update_at(10000, &[("loss", 0.0)], true, 200.0);
    assert_eq!(text(&buf), V1_ETA);
}

#[test]
fn verbose2_one_line_and_unknown_target() {
    let (mut p, buf) = bar(Some(188), 2, true);
    p.update_at(1, &[("loss", 1.0)], false, 0.1);
    p.update_at(188, &[("accuracy", 0.97), ("loss", -0.0001)], true, 2.9);
    assert_eq!(text(&buf), V2);
    let (mut p, buf) = bar(None, 1, true);
    p.update_at(5, &[("loss", 1.0)], false, 0.3);
    assert_eq!(text(&buf), UNKNOWN);
}

#[test]
fn not_a_terminal_prints_only_the_finished_line_without_colours() {
    let (mut p, buf) = bar(Some(469), 1, false);
    p.update_at(1, &[("loss", 1.25)], false, 0.5);
    p.update_at(200, &[("loss", 0.5)], false, 1.7);
    p.update_at(469, &[("accuracy", 0.9012345), ("loss", 0.3301)], true, 3.4);
    assert_eq!(
        text(&buf),
        "469/469 ━━━━━━━━━━━━━━━━━━━━ 3s 6ms/step - loss: 0.3301 - accuracy: 0.9012\n"
    );
}

#[test]
fn logger_prints_epoch_headers_and_stays_silent_during_validation() {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let mut l = ProgbarLogger::to_buffer(2, buf.clone());
    let mut m = crate::applications::by_name("LeNet5", &Default::default()).unwrap();
    l.set_params(&CallbackParams {
        verbose: 2,
        epochs: 2,
        steps: 3,
    });
    l.on_train_begin(&mut m, &Logs::new()).unwrap();
    for epoch in 0..2 {
        l.on_epoch_begin(&mut m, epoch, &Logs::new()).unwrap();
        for b in 0..3 {
            l.on_train_batch_end(&mut m, b, &[("loss", 1.0)].into_iter().collect())
                .unwrap();
        }
        l.on_test_begin(&mut m, &Logs::new()).unwrap();
        l.on_test_batch_end(&mut m, 0, &[("loss", 9.0)].into_iter().collect())
            .unwrap();
        l.on_test_end(&mut m, &[("loss", 9.0)].into_iter().collect()).unwrap();
        let mut logs: Logs = [("loss", 0.5), ("val_loss", 0.25)].into_iter().collect();
        l.on_epoch_end(&mut m, epoch, &mut logs).unwrap();
    }
    let t = text(&buf);
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines.len(), 4, "{t}");
    assert_eq!(lines[0], "Epoch 1/2");
    assert!(
        lines[1].starts_with("3/3 - 0s - ") && lines[1].ends_with("step - loss: 0.5000 - val_loss: 0.2500"),
        "{t}"
    );
    assert_eq!(lines[2], "Epoch 2/2");
}

#[test]
fn python_exponent_format() {
    assert_eq!(py_exp(0.00012345), "1.2345e-04");
    assert_eq!(py_exp(-3e-7), "-3.0000e-07");
    assert_eq!(py_exp(1e-120), "1.0000e-120");
    assert_eq!(fmt_value(f64::NAN, true), "nan");
    assert_eq!(fmt_value(f64::NEG_INFINITY, false), "-inf");
}

const V1: &str = "\r\x1b[1m  1/469\x1b[0m \x1b[37m━━━━━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m3:54\x1b[0m 500ms/step - accuracy: 0.5000 - loss: 1.2500\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\r\x1b[1m200/469\x1b[0m \x1b[32m━━━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━\x1b[0m \x1b[1m1s\x1b[0m 6ms/step - accuracy: 0.8000 - loss: 1.2345e-04\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\r\x1b[1m469/469\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m3s\x1b[0m 6ms/step - accuracy: 0.9012 - loss: 0.3301 - val_accuracy: 0.9500 - val_loss: 0.2000\n";
const V1_ETA: &str = "\r\x1b[1m    1/10000\x1b[0m \x1b[37m━━━━━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m33:19\x1b[0m 200ms/step - loss: 2.0000\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\r\x1b[1m  100/10000\x1b[0m \x1b[37m━━━━━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m2:46:40\x1b[0m 1s/step - loss: -0.5000\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\r\x1b[1m10000/10000\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m200s\x1b[0m 20ms/step - loss: 0.0000e+00\n";
const V2: &str = "188/188 - 3s - 15ms/step - loss: -1.0000e-04 - accuracy: 0.9700\n";
const UNKNOWN: &str = "\r      5/Unknown \x1b[1m0s\x1b[0m 60ms/step - loss: 1.0000";
