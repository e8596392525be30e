//! `weights="imagenet"` resolves Keras's file in Keras's cache: `KERAS_HOME` points at a copy
//! of `tests/fixtures/keras_cache/` (made by `tools/fixtures/make_imagenet_cache.py`: a
//! MobileNetV2 0.35/96 no-top weights file saved by tf-keras under the name Keras looks
//! for, and Keras 3's predictions with `weights="imagenet"` from that same cache). One test
//! in its own binary, because it sets the process's environment.

use rkeras::applications::{imagenet, mobilenet_v2, AppOptions, Pooling};
use rkeras::io::npy::read_npy;
use std::path::PathBuf;

#[test]
fn mobilenet_v2_imagenet_weights_come_from_keras_s_cache_and_predict_as_keras() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keras_cache");
    let home = std::env::temp_dir().join(format!("rkeras-imagenet-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(home.join("models")).unwrap();
    let g = imagenet::weights_file("MobileNetV2", false, 0.35, Some(96), Some(96)).unwrap();
    let fname = g.fname.clone().unwrap();
    std::fs::copy(fixtures.join("models").join(&fname), home.join("models").join(&fname)).unwrap();
    // The only test in this binary: nothing else reads the environment concurrently.
    std::env::set_var("KERAS_HOME", &home);
    assert_eq!(g.paths().unwrap().download_target, home.join("models").join(&fname));

    rkeras::clear_session();
    let opts = AppOptions {
        alpha: 0.35,
        input_shape: Some((96, 96, 3)),
        include_top: false,
        pooling: Some(Pooling::Avg),
        weights: Some("imagenet".into()),
        ..AppOptions::default()
    };
    let m = mobilenet_v2(&opts).unwrap();
    let x = read_npy(fixtures.join("imagenet_mnv2.input.npy").to_str().unwrap()).unwrap();
    let want = read_npy(fixtures.join("imagenet_mnv2.output.npy").to_str().unwrap()).unwrap();
    let got = m.predict(&[x], 8).unwrap();
    assert_eq!(got[0].shape(), want.shape());
    let err = got[0]
        .data()
        .iter()
        .zip(want.data())
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(err <= 1e-5, "MobileNetV2 imagenet weights: max error {err:e}");

    // A file that does not fit the architecture names the file and the layer.
    let top = AppOptions {
        include_top: true,
        input_shape: Some((96, 96, 3)),
        pooling: None,
        ..opts.clone()
    };
    let top_file = imagenet::weights_file("MobileNetV2", true, 0.35, Some(96), Some(96)).unwrap();
    std::fs::copy(
        fixtures.join("models").join(&fname),
        home.join("models").join(top_file.fname.as_ref().unwrap()),
    )
    .unwrap();
    let e = mobilenet_v2(&top).unwrap_err().to_string();
    assert!(
        e.contains("MobileNetV2: ImageNet weights") && e.contains("_0.35_96.h5"),
        "{e}"
    );
    std::fs::remove_dir_all(&home).ok();
}
