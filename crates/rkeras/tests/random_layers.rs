//! The random augmentation layers, one by one: what each draw may do (Keras's ranges), that
//! the draws happen only in training, and that they are reproducible — with `seed`, and
//! without it from the session's generator. Keras draws from its own SeedGenerator, so the
//! values are not TensorFlow's; the ranges, the training-only behaviour and the inference
//! outputs are Keras's (`tests/image_layers.rs` compares those with Keras's numbers).

use rkeras::layers::CallCtx;
use rkeras::prelude::*;
use rkeras::preprocessing::transforms;
use tensor::{Rng, Tape};

fn build(cfg: &AugmentConfig, shape: &[usize]) -> Box<dyn rkeras::layers::Layer> {
    let s: Vec<Option<usize>> = std::iter::once(None)
        .chain(shape[1..].iter().map(|&d| Some(d)))
        .collect();
    rkeras::layers::LayerConfig::build(cfg, "probe", &[s], &mut Rng::new(0)).unwrap()
}

fn run(l: &dyn rkeras::layers::Layer, x: &Tensor, training: bool, seed: u64) -> Tensor {
    let mut tape = Tape::new();
    let v = tape.param(x.clone());
    let mut rng = Rng::new(seed);
    let mut ctx = CallCtx::new(&mut tape, &mut rng, training);
    let out = l.call(&mut ctx, &[v], &[]).unwrap();
    tape.value(out[0]).clone()
}

/// `n` images `h × w × c` with distinct values 0, 1, 2, … (so a pixel's value names it).
fn distinct(n: usize, h: usize, w: usize, c: usize) -> Tensor {
    Tensor::arange(&[n, h, w, c])
}

/// Sample `b` of an `(n, h, w, c)` tensor as rows of pixels.
fn sample(t: &Tensor, b: usize) -> Vec<f32> {
    let per = t.len() / t.shape()[0];
    t.data()[b * per..(b + 1) * per].to_vec()
}

/// `x[b]` flipped: left-right and/or up-down.
fn flipped(x: &Tensor, b: usize, lr: bool, ud: bool) -> Vec<f32> {
    let s = x.shape();
    let (h, w, c) = (s[1], s[2], s[3]);
    let src = sample(x, b);
    let mut out = Vec::with_capacity(h * w * c);
    for y in 0..h {
        for xx in 0..w {
            let (sy, sx) = (if ud { h - 1 - y } else { y }, if lr { w - 1 - xx } else { xx });
            out.extend_from_slice(&src[(sy * w + sx) * c..(sy * w + sx + 1) * c]);
        }
    }
    out
}

#[test]
fn random_flip_is_one_of_the_flips_its_mode_allows() {
    let x = distinct(8, 3, 4, 2);
    for (mode, allowed) in [
        ("horizontal", vec![(false, false), (true, false)]),
        ("vertical", vec![(false, false), (false, true)]),
        (
            "horizontal_and_vertical",
            vec![(false, false), (true, false), (false, true), (true, true)],
        ),
    ] {
        let l = build(&RandomFlip::new(mode).seed(5), x.shape());
        let mut seen = std::collections::HashSet::new();
        for _ in 0..6 {
            let y = run(l.as_ref(), &x, true, 0);
            for b in 0..8 {
                let got = sample(&y, b);
                let which = allowed.iter().find(|&&(lr, ud)| flipped(&x, b, lr, ud) == got);
                seen.insert(*which.unwrap_or_else(|| panic!("{mode}: sample {b} is not an allowed flip")));
            }
        }
        assert_eq!(
            seen.len(),
            allowed.len(),
            "{mode}: every allowed flip occurs in 48 draws"
        );
        assert_eq!(run(l.as_ref(), &x, false, 0), x, "{mode}: identity at inference");
    }
}

#[test]
fn geometric_draws_stay_in_their_factor_ranges() {
    let mut rng = Rng::new(1);
    let mut u = |(lo, hi): (f64, f64)| rng.uniform_range(lo, hi) as f32;
    // RandomRotation(0.1): angle within ±0.1·2π.
    let r = transforms::rotation((-0.1, 0.1), 500, (9, 7), &mut u);
    let angles: Vec<f32> = r.iter().map(|t| t[3].atan2(t[0])).collect();
    let lim = 0.1 * 2.0 * std::f32::consts::PI + 1e-5;
    assert!(angles.iter().all(|a| a.abs() <= lim));
    assert!(angles.iter().any(|&a| a > 0.8 * lim) && angles.iter().any(|&a| a < -0.8 * lim));
    // RandomZoom(0.3) (width follows height) and RandomZoom((-0.2, 0.1), (0.4, 0.5)).
    for t in transforms::zoom((-0.3, 0.3), None, 500, (9, 7), &mut u) {
        assert!((0.7..=1.3).contains(&t[4]) && t[0] == t[4], "{t:?}");
    }
    for t in transforms::zoom((-0.2, 0.1), Some((0.4, 0.5)), 500, (9, 7), &mut u) {
        assert!((0.8..=1.1).contains(&t[4]) && (1.4..=1.5).contains(&t[0]), "{t:?}");
    }
    // RandomTranslation(0.3, 0.2) on 10 × 20: |dy| ≤ 3 rows, |dx| ≤ 4 columns.
    for t in transforms::translation((-0.3, 0.3), (-0.2, 0.2), 500, (10, 20), &mut u) {
        assert!(t[5].abs() <= 3.0 + 1e-5 && t[2].abs() <= 4.0 + 1e-5, "{t:?}");
    }
}

#[test]
fn rotation_by_a_quarter_turn_is_rot90_and_nearest_layers_only_move_pixels() {
    // factor (0.25, 0.25): exactly 90° counter-clockwise (np.rot90), with nearest sampling.
    let x = distinct(1, 5, 5, 1);
    // A number draws a sign too; the one-sided range (0.25, 0.25) pins the angle.
    let cfg = {
        let mut c = RandomRotation::new(0.25).seed(1).interpolation("nearest");
        c.kind = rkeras::layers::augmentation::Augment::Rotation((0.25, 0.25));
        c
    };
    let y = run(build(&cfg, x.shape()).as_ref(), &x, true, 0);
    for i in 0..5 {
        for j in 0..5 {
            assert_eq!(y.data()[i * 5 + j], x.data()[j * 5 + (4 - i)], "({i}, {j})");
        }
    }
    // Nearest sampling with reflect / wrap / nearest fill: every output value is an input
    // value; constant fill adds only fill_value.
    let x = distinct(4, 6, 7, 1);
    let values: std::collections::HashSet<u32> = x.data().iter().map(|v| *v as u32).collect();
    for cfg in [
        RandomRotation::new(0.2).seed(2).interpolation("nearest"),
        RandomZoom::new(0.4).seed(2).interpolation("nearest").fill_mode("wrap"),
        RandomTranslation::new(0.4, 0.4)
            .seed(2)
            .interpolation("nearest")
            .fill_mode("nearest"),
        RandomTranslation::new(0.4, 0.4)
            .seed(2)
            .interpolation("nearest")
            .fill_mode("constant"),
    ] {
        let constant = cfg.fill_mode == "constant";
        let l = build(&cfg, x.shape());
        for _ in 0..3 {
            let y = run(l.as_ref(), &x, true, 0);
            assert_eq!(y.shape(), x.shape());
            for v in y.data() {
                assert!(
                    values.contains(&(*v as u32)) && v.fract() == 0.0 || (constant && *v == 0.0),
                    "{v}"
                );
            }
        }
        assert_eq!(run(l.as_ref(), &x, false, 0), x, "identity at inference");
    }
}

#[test]
fn contrast_and_brightness_factors_stay_in_range() {
    // Mid-range values, so nothing is clipped: each sample is (x − mean)·f + mean per channel
    // (RandomContrast) or x + d (RandomBrightness(0.2), |d| ≤ 0.2·255). Keras 3.15 bounds a
    // contrast factor to [0, 1]: a number f gives (lower, upper) = (0, f), so f ∈ [1, 1 + f];
    // a pair (0.3, 0.5) gives f ∈ [0.7, 1.5].
    let (n, h, w, c) = (16, 4, 5, 2);
    let x = Tensor::new(
        &[n, h, w, c],
        (0..n * h * w * c).map(|v| 100.0 + ((v * 37) % 50) as f32).collect(),
    )
    .unwrap();
    let pair = {
        let mut c = RandomContrast::new(0.5).seed(4);
        c.kind = rkeras::layers::augmentation::Augment::Contrast((0.3, 0.5), (0.0, 255.0));
        c
    };
    let mut contrasts = Vec::new();
    for (cfg, lo, hi) in [(RandomContrast::new(0.5).seed(4), 1.0, 1.5), (pair, 0.7, 1.5)] {
        let contrast = build(&cfg, x.shape());
        let y = run(contrast.as_ref(), &x, true, 0);
        let mut factors = Vec::new();
        for b in 0..n {
            let (xs, ys) = (sample(&x, b), sample(&y, b));
            for ch in 0..c {
                let m: f32 = (0..h * w).map(|p| xs[p * c + ch]).sum::<f32>() / (h * w) as f32;
                let f: Vec<f32> = (0..h * w)
                    .filter(|p| (xs[p * c + ch] - m).abs() > 5.0)
                    .map(|p| (ys[p * c + ch] - m) / (xs[p * c + ch] - m))
                    .collect();
                assert!(
                    f.iter().all(|v| (v - f[0]).abs() < 1e-3),
                    "one factor per sample: {f:?}"
                );
                factors.push(f[0]);
            }
        }
        assert!(
            factors.iter().all(|f| (lo - 1e-4..=hi + 1e-4).contains(f)),
            "{factors:?}"
        );
        let spread = (hi - lo) / 4.0;
        assert!(
            factors.iter().any(|&f| f < lo + spread) && factors.iter().any(|&f| f > hi - spread),
            "{factors:?}"
        );
        contrasts.push(contrast);
    }
    let brightness = build(&RandomBrightness::new(0.2).seed(4), x.shape());
    let y = run(brightness.as_ref(), &x, true, 0);
    for b in 0..n {
        let d: Vec<f32> = sample(&y, b).iter().zip(sample(&x, b)).map(|(a, b)| a - b).collect();
        assert!(d.iter().all(|v| (v - d[0]).abs() < 1e-3), "one shift per sample");
        assert!(d[0].abs() <= 0.2 * 255.0 + 1e-3, "{}", d[0]);
    }
    // Clipped to value_range: a large brightness never leaves [0, 255].
    let big = build(&RandomBrightness::new(1.0).seed(4), x.shape());
    let y = run(big.as_ref(), &x, true, 0);
    assert!(y.data().iter().all(|v| (0.0..=255.0).contains(v)));
    for l in contrasts.iter().chain([&brightness, &big]) {
        assert_eq!(run(l.as_ref(), &x, false, 0), x, "identity at inference");
    }
}

#[test]
fn random_crop_takes_one_window_in_training_and_the_centre_at_inference() {
    let x = distinct(3, 7, 9, 2);
    let l = build(&RandomCrop::new(4, 5).seed(8), x.shape());
    let mut corners = std::collections::HashSet::new();
    for _ in 0..12 {
        let y = run(l.as_ref(), &x, true, 0);
        assert_eq!(y.shape(), &[3, 4, 5, 2]);
        // The window of sample 0 (its first value names the top-left pixel); the same window
        // for every sample of the batch, and inside the image.
        let first = y.data()[0] as usize / 2;
        let (top, left) = (first / 9, first % 9);
        assert!(top + 4 <= 7 && left + 5 <= 9, "({top}, {left})");
        for b in 0..3 {
            for yy in 0..4 {
                for xx in 0..5 {
                    for ch in 0..2 {
                        let want = x.data()[((b * 7 + top + yy) * 9 + left + xx) * 2 + ch];
                        assert_eq!(y.data()[((b * 4 + yy) * 5 + xx) * 2 + ch], want);
                    }
                }
            }
        }
        corners.insert((top, left));
    }
    assert!(corners.len() > 3, "windows vary: {corners:?}");
    // Inference: the centred crop of the target's aspect ratio, resized (no draw): the same
    // every call, whatever the generator.
    let a = run(l.as_ref(), &x, false, 0);
    assert_eq!(a.shape(), &[3, 4, 5, 2]);
    assert_eq!(run(l.as_ref(), &x, false, 77), a);
}

#[test]
fn unseeded_layers_follow_the_session_generator() {
    let x = Tensor::new(&[4, 6, 6, 3], (0..432).map(|v| (v * 13 % 256) as f32).collect()).unwrap();
    for cfg in [
        RandomFlip::new("horizontal_and_vertical"),
        RandomRotation::new(0.2),
        RandomZoom::new(0.2),
        RandomTranslation::new(0.2, 0.2),
        RandomContrast::new(0.4),
        RandomBrightness::new(0.4),
        RandomCrop::new(3, 4),
    ] {
        let class = rkeras::layers::LayerConfig::class_name(&cfg);
        let l = build(&cfg, x.shape());
        let a = run(l.as_ref(), &x, true, 21);
        assert_eq!(
            run(l.as_ref(), &x, true, 21),
            a,
            "{class}: same generator state, same draw"
        );
        let differs = (22..30).any(|s| run(l.as_ref(), &x, true, s) != a);
        assert!(differs, "{class}: another generator state draws anew");
    }
}

#[test]
fn a_model_applies_random_layers_only_in_training() {
    clear_session();
    let input = Input(&[6, 6, 3]).unwrap();
    let mut h = RandomFlip::new("horizontal").seed(1).call(&input).unwrap();
    h = RandomRotation::new(0.1).seed(1).call(&h).unwrap();
    h = RandomZoom::new(0.1).seed(1).call(&h).unwrap();
    h = RandomTranslation::new(0.1, 0.1).seed(1).call(&h).unwrap();
    h = RandomContrast::new(0.2).seed(1).call(&h).unwrap();
    h = RandomBrightness::new(0.2).seed(1).call(&h).unwrap();
    let model = Model::new(&[&input], &[&h], None).unwrap();
    let x = Tensor::new(&[2, 6, 6, 3], (0..216).map(|v| (v * 5 % 256) as f32).collect()).unwrap();
    let out = model.predict(std::slice::from_ref(&x), 32).unwrap().remove(0);
    assert_eq!(out, x, "predict (inference) leaves the images unchanged");
}
