//! `rkeras predict FILE.keras --image …` end to end on real pictures, with an application
//! whose output depends on the picture: MobileNetV2 (alpha 0.35, 96×96, 1000 classes) built
//! by rkeras's builder, every weight set from the integer hash of
//! `tools/fixtures/make_cli_predict_hash_ref.py` (the same bits as Keras's), saved as
//! `.keras`, and run by the binary on two photos and a small PNG; every printed probability
//! is compared with Keras 3's (`fixtures/apps2_predict/cli_hash_mobilenetv2.npy`).

use rkeras::applications::{decode_predictions, mobilenet_v2, AppOptions};
use rkeras::io::npy::read_npy;
use rkeras::prelude::Tensor;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::Command;

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../rkeras/tests/fixtures")
        .join(path)
}

/// The script's `hash_u`: weight number `k`, flat index `i` → a value in [-0.5, 0.5).
fn hash_u(i: u64, k: u64) -> f64 {
    let mut x = i.wrapping_mul(2_654_435_761).wrapping_add(k * 40503 + 12345) & 0xFFFF_FFFF;
    x ^= x >> 16;
    x = x.wrapping_mul(0x45D_9F3B) & 0xFFFF_FFFF;
    x ^= x >> 16;
    x as f64 / 4_294_967_296.0 - 0.5
}

/// The script's `hash_weight`: the values of weight number `k` (float64, then float32).
fn hash_weight(k: usize, name: &str, shape: &[usize], depthwise: bool) -> Vec<f32> {
    let n: usize = shape.iter().product();
    (0..n)
        .map(|i| {
            let u = hash_u(i as u64, k as u64);
            let v = if shape.len() >= 2 {
                let fan: usize = if depthwise {
                    shape[..2].iter().product()
                } else {
                    shape[..shape.len() - 1].iter().product()
                };
                u * (12.0 * 2.0 / fan as f64).sqrt()
            } else if name == "gamma" {
                1.0 + 0.2 * u
            } else if name == "moving_variance" {
                1.0 + 0.5 * u
            } else {
                0.2 * u
            };
            v as f32
        })
        .collect()
}

/// The printed rows per image: wnid → probability, and the wnids in printed order.
fn parse(stdout: &str, images: &[String]) -> Vec<(HashMap<String, f64>, Vec<String>)> {
    let mut out: Vec<(HashMap<String, f64>, Vec<String>)> = Vec::new();
    for line in stdout.lines() {
        if let Some(img) = line.strip_suffix(':') {
            assert_eq!(img, images[out.len()], "{stdout}");
            out.push((HashMap::new(), Vec::new()));
            continue;
        }
        let mut t = line.split_whitespace().rev();
        let (p, wnid) = (t.next().expect("score"), t.next().expect("wnid"));
        let last = out.last_mut().expect("an image line first");
        last.0.insert(wnid.to_string(), p.parse().expect("probability"));
        last.1.push(wnid.to_string());
    }
    out
}

#[test]
fn predict_image_on_hash_weighted_mobilenetv2_equals_keras_and_depends_on_the_picture() {
    let opts = AppOptions {
        input_shape: Some((96, 96, 3)),
        alpha: 0.35,
        ..AppOptions::default()
    };
    let mut model = mobilenet_v2(&opts).expect("build MobileNetV2");
    let depthwise: HashSet<u64> = model
        .layers()
        .iter()
        .filter(|l| l.class_name() == "DepthwiseConv2D")
        .flat_map(|l| l.weights().into_iter().map(|w| w.id))
        .collect();
    let values: Vec<Tensor> = model
        .weights()
        .iter()
        .enumerate()
        .map(|(k, w)| {
            let shape = w.value.shape().to_vec();
            let v = hash_weight(k, &w.name, &shape, depthwise.contains(&w.id));
            Tensor::new(&shape, v).expect("weight")
        })
        .collect();
    assert_eq!(values.len(), 262, "MobileNetV2's weight count (Keras: 262)");
    model.set_weights(&values).expect("set weights");
    let tmp = std::env::temp_dir().join(format!("rkeras_cli_hash_{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let path = tmp.join("mobilenetv2.keras");
    model.save(&path).expect("save .keras");

    let images: Vec<String> = ["photo1.png", "photo2.png", "rgb.png"]
        .iter()
        .map(|f| fixture("images/files").join(f).to_string_lossy().into_owned())
        .collect();
    let mut args = vec!["predict".to_string(), path.to_string_lossy().into_owned()];
    for img in &images {
        args.extend(["--image".to_string(), img.clone()]);
    }
    args.extend(["--top".to_string(), "1000".to_string()]);
    let out = Command::new(env!("CARGO_BIN_EXE_rkeras"))
        .args(&args)
        .output()
        .expect("run rkeras");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let got = parse(&stdout, &images);
    assert_eq!(got.len(), 3, "{stdout}");

    let want = read_npy(fixture("apps2_predict/cli_hash_mobilenetv2.npy").to_str().unwrap()).expect("reference");
    assert_eq!(want.shape(), [3, 1000]);
    let keras = decode_predictions(&want, 1000).expect("decode");
    let mut max_err = 0f64;
    for ((map, order), k) in got.iter().zip(&keras) {
        assert_eq!(map.len(), 1000, "1000 distinct wnids printed");
        for (rank, (wnid, _, p)) in k.iter().enumerate() {
            let err = (map[wnid] - f64::from(*p)).abs();
            max_err = max_err.max(err);
            assert!(err <= 1e-4, "{wnid}: rkeras {} vs Keras {p}", map[wnid]);
            // Ranks agree wherever Keras's scores are not within 2e-4 of a neighbour.
            let gap = |j: usize| k.get(j).map_or(1.0, |n| (n.2 - *p).abs());
            if gap(rank + 1) > 2e-4 && (rank == 0 || gap(rank - 1) > 2e-4) {
                assert_eq!(&order[rank], wnid, "rank {}", rank + 1);
            }
        }
    }
    eprintln!("max |p - Keras| over 3 × 1000 probabilities: {max_err:.2e}");
    // The pictures matter: the top classes and the probabilities differ between images.
    for (a, b) in [(0, 1), (0, 2), (1, 2)] {
        let d = got[a]
            .0
            .iter()
            .map(|(w, p)| (p - got[b].0[w]).abs())
            .fold(0f64, f64::max);
        assert!(d > 0.05, "images {a} and {b}: max difference {d}");
    }
    assert_ne!(got[0].1[..3], got[2].1[..3], "photo1 and rgb.png share their top 3");

    // `--output` writes the same scores (the same preprocess_input) as the printed table.
    let y_path = tmp.join("y.npy");
    let mut args = args[..args.len() - 2].to_vec();
    args.extend(["--output".to_string(), y_path.to_string_lossy().into_owned()]);
    let out = Command::new(env!("CARGO_BIN_EXE_rkeras"))
        .args(&args)
        .output()
        .expect("run rkeras");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let y = read_npy(y_path.to_str().unwrap()).expect("written scores");
    assert_eq!(y.shape(), [3, 1000]);
    let worst = y
        .data()
        .iter()
        .zip(want.data())
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(worst <= 1e-4, "--output differs from Keras by {worst}");
    let _ = std::fs::remove_dir_all(&tmp);
}
