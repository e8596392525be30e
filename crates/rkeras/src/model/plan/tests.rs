//! The plan against the tape: every application (small inputs, random BatchNormalization
//! statistics so folding changes numbers), the fusions each one must get, fallbacks, weight
//! changes, several inputs and outputs, and arena reuse.

use super::{ConvWeights, StepKind};
use crate::applications::{by_name, AppOptions, Pooling};
use crate::prelude::*;
use tensor::kernels::winograd::Variant;
use tensor::Rng;

fn random(rng: &mut Rng, shape: &[usize], lo: f64, hi: f64) -> Tensor {
    let n = shape.iter().product();
    Tensor::new(shape, (0..n).map(|_| rng.uniform_range(lo, hi) as f32).collect()).unwrap()
}

/// Random moving statistics and affine parameters for every BatchNormalization.
fn randomize_bn(model: &mut Model, rng: &mut Rng) {
    let mut values = model.get_weights();
    let names: Vec<String> = model
        .all_layers()
        .iter()
        .flat_map(|l| l.weights().into_iter().map(|w| w.name.clone()).collect::<Vec<_>>())
        .collect();
    let mut seen = std::collections::HashSet::new();
    let ids: Vec<u64> = model
        .all_layers()
        .iter()
        .flat_map(|l| l.weights().into_iter().map(|w| w.id))
        .collect();
    let mut k = 0;
    for (name, id) in names.iter().zip(&ids) {
        if !seen.insert(*id) {
            continue;
        }
        let v = &mut values[k];
        let s = v.shape().to_vec();
        match name.as_str() {
            "moving_mean" | "beta" => *v = random(rng, &s, -0.5, 0.5),
            "moving_variance" => *v = random(rng, &s, 0.5, 2.0),
            "gamma" => *v = random(rng, &s, 0.5, 1.5),
            _ => {}
        }
        k += 1;
    }
    model.set_weights(&values).unwrap();
}

fn assert_plan_matches_tape(model: &Model, inputs: &[Tensor], what: &str) {
    let want = model.forward_tape(inputs, false).unwrap();
    let got = model.forward(inputs, false).unwrap();
    assert_eq!(want.len(), got.len(), "{what}");
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(w.shape(), g.shape(), "{what}");
        let scale = w.data().iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-3);
        for (i, (a, b)) in g.data().iter().zip(w.data()).enumerate() {
            assert!(
                (a - b).abs() <= 1e-5 * scale + 1e-5 * b.abs(),
                "{what}: element {i}: plan {a} vs tape {b} (max |tape| {scale})"
            );
        }
    }
}

fn app(name: &str, shape: (usize, usize, usize), top: bool) -> Model {
    clear_session();
    let opts = AppOptions {
        include_top: top,
        input_shape: Some(shape),
        pooling: if top { None } else { Some(Pooling::Avg) },
        classes: if top { Some(7) } else { None },
        ..Default::default()
    };
    by_name(name, &opts).unwrap()
}

#[test]
fn every_application_runs_the_same_through_the_plan() {
    let mut rng = Rng::new(42);
    let cases: &[(&str, (usize, usize, usize), bool)] = &[
        ("LeNet5", (28, 28, 1), true),
        ("VGG16", (32, 32, 3), false),
        ("ResNet50", (32, 32, 3), false),
        ("ResNet50V2", (32, 32, 3), false),
        ("InceptionV3", (75, 75, 3), false),
        // Its 35×35 blocks at 15×15 (64 tiles of 2×2): F(2×2, 5×5) in a whole model.
        ("InceptionV3", (139, 139, 3), false),
        ("MobileNet", (32, 32, 3), true),
        ("MobileNetV2", (32, 32, 3), true),
        ("Xception", (71, 71, 3), false),
        ("DenseNet121", (32, 32, 3), false),
    ];
    for &(name, (h, w, c), top) in cases {
        let mut model = app(name, (h, w, c), top);
        randomize_bn(&mut model, &mut rng);
        for batch in [1, 2] {
            let x = random(&mut rng, &[batch, h, w, c], 0.0, 1.0);
            assert_plan_matches_tape(&model, &[x], &format!("{name} batch {batch}"));
        }
        let plan = model.inference_plan(&[vec![1, h, w, c]]).unwrap();
        assert!(
            plan.fallback_layers().is_empty(),
            "{name}: fallbacks {:?}",
            plan.fallback_layers()
        );
    }
}

#[test]
fn mobilenet_v2_is_fully_fused() {
    let model = app("MobileNetV2", (32, 32, 3), true);
    let plan = model.inference_plan(&[vec![1, 32, 32, 3]]).unwrap();
    let d = plan.describe();
    // Every BatchNormalization folded, every ReLU6 in an epilogue, every Add a residual,
    // every ZeroPadding2D in a convolution's padding.
    assert!(!d.contains("affine"), "{d}");
    assert!(!d.contains("pad"), "{d}");
    assert!(!d.contains(": add"), "{d}");
    assert_eq!(d.matches("+residual").count(), 10, "{d}");
    // The expansions larger than a band (the tests' 24 KiB; 1 MiB in a release) are made
    // band by band inside their depthwise step: at 32×32, the stem (Conv1, 3×3/2 from 3
    // channels, 16×16×32) and blocks 1–3 (16×16×96, 8×8×144 ×2), with bands of one output
    // row, so rows carried from band to band are exercised (the numbers are checked against
    // the tape in `every_application_runs_the_same_through_the_plan`).
    assert!(!d.contains("Conv1:"), "{d}");
    assert_eq!(d.matches("expand+depthwise+clamp").count(), 4, "{d}");
    // The depthwise outputs of at least the band size hand each band to their projection
    // (which writes the step's output, with its residual): the first three blocks', at 32×32.
    assert_eq!(d.matches("+project").count(), 3, "{d}");
    assert!(
        d.contains("expanded_conv_depthwise: expand+depthwise+clamp+project [1, 16, 16, 16]"),
        "{d}"
    );
    assert!(
        d.contains("block_1_depthwise: expand+depthwise+clamp+project [1, 8, 8, 24]"),
        "{d}"
    );
    assert!(
        d.contains("block_2_depthwise: expand+depthwise+clamp+project +residual"),
        "{d}"
    );
    // 52 convolutions and depthwise convolutions less the stem, the 3 expansions and 3
    // projections banded, the pooling, the classifier and its softmax.
    assert_eq!(plan.live_steps(), 52 - 4 - 3 + 1 + 1 + 1, "{d}");
}

#[test]
fn resnet50_and_inception_fusions() {
    let model = app("ResNet50", (32, 32, 3), false);
    let d = model.inference_plan(&[vec![1, 32, 32, 3]]).unwrap().describe();
    assert_eq!(d.matches("+residual").count(), 16, "{d}");
    assert!(!d.contains("affine"), "{d}");
    // conv1_pad into the stem's convolution, pool1_pad into the max pooling's zeros.
    assert!(!d.contains("pad"), "{d}");
    let model = app("InceptionV3", (75, 75, 3), false);
    let d = model.inference_plan(&[vec![1, 75, 75, 3]]).unwrap().describe();
    assert!(!d.contains("affine"), "{d}");
    // Branch convolutions write their slices of the concatenations in place.
    assert!(d.contains("→[64..] of 256"), "{d}");
}

#[test]
fn densenet_blocks_share_one_buffer() {
    // Each dense block's concatenations are the leading channels of the block's last one:
    // the only copy a block makes is of the pooling output it starts from (4 blocks).
    let model = app("DenseNet121", (32, 32, 3), false);
    let d = model.inference_plan(&[vec![1, 32, 32, 3]]).unwrap().describe();
    assert_eq!(d.matches(": copy").count(), 4, "{d}");
    // Each layer's BatchNormalization + ReLU over the concatenation is its bottleneck 1×1
    // convolution's input map (58 layers and 3 transitions), read from the shared buffer.
    assert_eq!(d.matches(": affine+conv").count(), 61, "{d}");
    assert!(
        d.contains("conv2_block2_1_conv: affine+conv+clamp [1, 8, 8, 128]"),
        "{d}"
    );
    assert!(d.contains("pool2_conv: affine+conv [1, 8, 8, 128]"), "{d}");
    // The first block grows 64 → 256 channels in one buffer.
    assert!(
        d.contains("conv2_block6_2_conv: conv [1, 8, 8, 32] →[224..] of 256"),
        "{d}"
    );
    assert!(!d.contains("pad"), "{d}");
}

#[test]
fn layers_without_a_kernel_fall_back_to_their_call() {
    clear_session();
    let model = Sequential::new()
        .add(InputLayer::new(&[6, 6, 3]))
        .add(Conv2D::new(4, 3).padding("same"))
        .add(BatchNormalization::new())
        .add(Permute::new(&[2, 1, 3]))
        .add(Conv2DTranspose::new(5, 3).strides(2))
        .add(ELU::new())
        .add(Flatten::new())
        .add(Dropout::new(0.5))
        .add(Dense::new(3).activation("softmax"))
        .build()
        .unwrap();
    let mut rng = Rng::new(1);
    let mut model = model;
    randomize_bn(&mut model, &mut rng);
    let x = random(&mut rng, &[2, 6, 6, 3], -1.0, 1.0);
    assert_plan_matches_tape(&model, &[x], "fallbacks");
    let plan = model.inference_plan(&[vec![2, 6, 6, 3]]).unwrap();
    let fb = plan.fallback_layers();
    assert_eq!(fb.len(), 3, "{fb:?}\n{}", plan.describe());
}

#[test]
fn several_inputs_outputs_shared_values_and_merges() {
    clear_session();
    let a = Input(&[8, 8, 4]).unwrap();
    let b = Input(&[8, 8, 4]).unwrap();
    let x = Conv2D::new(4, 3).padding("same").call(&a).unwrap();
    let y = Add::new().call_many(&[&x, &b]).unwrap();
    let z = ReLU::new().call(&y).unwrap();
    let m = Multiply::new().call_many(&[&z, &x]).unwrap();
    let avg = Average::new().call_many(&[&m, &a, &b]).unwrap();
    let c = Concatenate::new(-1).call_many(&[&avg, &x, &b]).unwrap();
    let p = MaxPooling2D::new(2).call(&c).unwrap();
    let g = GlobalAveragePooling2D::new().call(&c).unwrap();
    let model = Model::new(&[&a, &b], &[&p, &g, &x], None).unwrap();
    let mut rng = Rng::new(5);
    let ins = [
        random(&mut rng, &[3, 8, 8, 4], -1.0, 1.0),
        random(&mut rng, &[3, 8, 8, 4], -1.0, 1.0),
    ];
    assert_plan_matches_tape(&model, &ins, "graph");
}

/// After a change of `model`'s weights: new outputs for `x` (`before` were the old ones), the
/// plan's equal to the tape's, and the stale plan dropped.
fn assert_a_new_plan(model: &Model, x: Tensor, before: &[Tensor], what: &str) {
    let after = model.predict(std::slice::from_ref(&x), 1).unwrap();
    assert!(
        before[0].max_abs_diff(&after[0]).unwrap() > 1e-4,
        "{what}: new weights, new outputs"
    );
    assert_plan_matches_tape(model, &[x], what);
    assert_eq!(model.plans.len(), 1, "{what}: the stale plan was dropped");
}

#[test]
fn a_weight_change_makes_a_new_plan() {
    let mut model = app("MobileNetV2", (32, 32, 3), true);
    let mut rng = Rng::new(3);
    let x = random(&mut rng, &[1, 32, 32, 3], 0.0, 1.0);
    let before = model.predict(std::slice::from_ref(&x), 1).unwrap();
    assert_eq!(model.plans.len(), 1);
    randomize_bn(&mut model, &mut rng);
    assert_a_new_plan(&model, x, &before, "after set_weights");
}

#[test]
fn an_in_place_edit_through_layer_mut_makes_a_new_plan() {
    // No new tensor: the kernel's values are written where they are, so only the epoch of
    // the layers tells the plan apart.
    let mut model = app("MobileNetV2", (32, 32, 3), true);
    let mut rng = Rng::new(4);
    randomize_bn(&mut model, &mut rng);
    let x = random(&mut rng, &[1, 32, 32, 3], 0.0, 1.0);
    let before = model.predict(std::slice::from_ref(&x), 1).unwrap();
    let i = (0..model.layers.len())
        .find(|&i| model.layers[i].name() == "predictions")
        .unwrap();
    let layer = model.layer_mut(i).unwrap();
    for v in layer.weights_mut()[0].value.data_mut() {
        *v *= -0.5;
    }
    assert_a_new_plan(&model, x, &before, "after an in-place edit of the classifier");
}

#[test]
fn the_arena_reuses_buffers() {
    let model = app("ResNet50", (64, 64, 3), false);
    let plan = model.inference_plan(&[vec![2, 64, 64, 3]]).unwrap();
    let all: usize = plan.values.iter().map(|v| v.len()).sum::<usize>() * 4;
    assert!(
        plan.arena_bytes() * 4 < all,
        "arena {} bytes vs {} bytes of activations",
        plan.arena_bytes(),
        all
    );
}

#[test]
fn winograd_convolutions_match_the_tape() {
    // 3×3 stride-1 convolutions large enough for Winograd: one with a folded
    // BatchNormalization and the residual it is added to (each worker's own blocks), one
    // writing its slice of a concatenation, and one with many channels (blocks shared by the
    // workers) and an activation outside the clamps; batch 1 and 2.
    clear_session();
    let a = Input(&[32, 32, 3]).unwrap();
    let x = Conv2D::new(64, 3).padding("same").activation("relu").call(&a).unwrap();
    let y = Conv2D::new(64, 3).padding("same").call(&x).unwrap();
    let y = BatchNormalization::new().call(&y).unwrap();
    let z = Add::new().call_many(&[&y, &x]).unwrap();
    let z = ReLU::new().call(&z).unwrap();
    let b1 = Conv2D::new(48, 3).padding("same").activation("relu").call(&z).unwrap();
    let b2 = Conv2D::new(32, 1).call(&z).unwrap();
    let c = Concatenate::new(-1).call_many(&[&b1, &b2]).unwrap();
    let p = MaxPooling2D::new(2).call(&c).unwrap();
    let q = Conv2D::new(256, 1).call(&p).unwrap();
    let q = Conv2D::new(256, 3)
        .padding("same")
        .activation("swish")
        .call(&q)
        .unwrap();
    let v = Conv2D::new(40, 3).activation("relu").call(&q).unwrap();
    let o = GlobalAveragePooling2D::new().call(&v).unwrap();
    let mut model = Model::new(&[&a], &[&o, &b1], None).unwrap();
    let mut rng = Rng::new(11);
    randomize_bn(&mut model, &mut rng);
    for batch in [1, 2] {
        let d = model.inference_plan(&[vec![batch, 32, 32, 3]]).unwrap().describe();
        // The stem (3 channels) and the 256 → 40 `valid` one at batch 1 (9 tiles) stay direct.
        assert_eq!(d.matches(": winograd").count(), if batch == 1 { 3 } else { 4 }, "{d}");
        assert!(d.contains("winograd+clamp +residual"), "{d}");
        assert!(d.contains("winograd+clamp [") && d.contains("→[0..] of 80"), "{d}");
        assert!(d.contains("winograd+act"), "{d}");
        let x = random(&mut rng, &[batch, 32, 32, 3], 0.0, 1.0);
        assert_plan_matches_tape(&model, &[x], &format!("winograd batch {batch}"));
    }
}

#[test]
fn f4_takes_32_channels_only_without_residual_sums() {
    // A 32 → 48 3×3 at 40×40: F(4×4) in a plain chain (InceptionV3's stem), F(2×2) where a
    // residual sum follows (InceptionResNetV2's), whose rounding the sums would amplify.
    for residual in [false, true] {
        clear_session();
        let a = Input(&[40, 40, 3]).unwrap();
        let x = Conv2D::new(32, 3).padding("same").activation("relu").call(&a).unwrap();
        let y = Conv2D::new(48, 3).padding("same").call(&x).unwrap();
        let y = BatchNormalization::new().call(&y).unwrap();
        let y = if residual {
            let s = Conv2D::new(48, 1).call(&x).unwrap();
            Add::new().call_many(&[&y, &s]).unwrap()
        } else {
            y
        };
        let o = GlobalAveragePooling2D::new().call(&y).unwrap();
        let mut model = Model::new(&[&a], &[&o], None).unwrap();
        let mut rng = Rng::new(5);
        randomize_bn(&mut model, &mut rng);
        let plan = model.inference_plan(&[vec![1, 40, 40, 3]]).unwrap();
        let variants: Vec<_> = plan
            .steps
            .iter()
            .filter(|s| !s.dead)
            .filter_map(|s| match &s.kind {
                StepKind::Conv {
                    weights: ConvWeights::Winograd(w),
                    ..
                } => Some(w.variant()),
                _ => None,
            })
            .collect();
        let want = if residual { Variant::F2 } else { Variant::F4 };
        assert_eq!(variants, vec![want], "residual {residual}");
        for batch in [1, 2] {
            let x = random(&mut rng, &[batch, 40, 40, 3], 0.0, 1.0);
            assert_plan_matches_tape(&model, &[x], &format!("residual {residual}, batch {batch}"));
        }
    }
}

/// A 1×k → k×1 pair at `hw`×`hw` (Winograd along rows, then columns), with folded
/// BatchNormalizations, the ReLU in the epilogue and the second one added to a residual;
/// batch 1 and 3.
fn factorized_pair_matches_the_tape(k: usize, hw: usize) {
    clear_session();
    let a = Input(&[hw, hw, 64]).unwrap();
    let x = Conv2D::new(96, (1, k))
        .padding("same")
        .use_bias(false)
        .call(&a)
        .unwrap();
    let x = BatchNormalization::new().call(&x).unwrap();
    let x = ReLU::new().call(&x).unwrap();
    let y = Conv2D::new(64, (k, 1)).padding("same").call(&x).unwrap();
    let y = BatchNormalization::new().call(&y).unwrap();
    let z = Add::new().call_many(&[&y, &a]).unwrap();
    let z = ReLU::new().call(&z).unwrap();
    let o = GlobalAveragePooling2D::new().call(&z).unwrap();
    let mut model = Model::new(&[&a], &[&o, &z], None).unwrap();
    let mut rng = Rng::new(5);
    randomize_bn(&mut model, &mut rng);
    for batch in [1, 3] {
        let d = model.inference_plan(&[vec![batch, hw, hw, 64]]).unwrap().describe();
        assert_eq!(d.matches(": winograd").count(), 2, "{d}");
        assert!(d.contains("winograd+clamp +residual"), "{d}");
        let x = random(&mut rng, &[batch, hw, hw, 64], -1.0, 1.0);
        assert_plan_matches_tape(&model, &[x], &format!("1×{k} / {k}×1 batch {batch}"));
    }
}

#[test]
fn five_by_five_convolutions_match_the_tape() {
    // InceptionV3's 5×5 branch (48 → 64, Winograd F(2×2, 5×5)) with a folded
    // BatchNormalization and the ReLU in the epilogue, then a 5×5 added to a residual; at
    // 19×19 the last tiles of each row and column have one pixel of their two inside.
    clear_session();
    let a = Input(&[19, 19, 48]).unwrap();
    let x = Conv2D::new(64, (5, 5))
        .padding("same")
        .use_bias(false)
        .call(&a)
        .unwrap();
    let x = BatchNormalization::new().call(&x).unwrap();
    let x = ReLU::new().call(&x).unwrap();
    let y = Conv2D::new(48, (5, 5)).padding("same").call(&x).unwrap();
    let z = Add::new().call_many(&[&y, &a]).unwrap();
    let o = GlobalAveragePooling2D::new().call(&z).unwrap();
    let mut model = Model::new(&[&a], &[&o, &z], None).unwrap();
    let mut rng = Rng::new(9);
    randomize_bn(&mut model, &mut rng);
    for batch in [1, 3] {
        let d = model.inference_plan(&[vec![batch, 19, 19, 48]]).unwrap().describe();
        assert_eq!(d.matches(": winograd").count(), 2, "{d}");
        assert!(d.contains("winograd +residual"), "{d}");
        let x = random(&mut rng, &[batch, 19, 19, 48], -1.0, 1.0);
        assert_plan_matches_tape(&model, &[x], &format!("5×5 batch {batch}"));
    }
}

#[test]
fn factorized_seven_by_seven_convolutions_match_the_tape() {
    // InceptionV3's 1×7 → 7×1 pair at 17×17 (F(2, 7)): tiles past the right and bottom
    // edges, 17 being odd.
    factorized_pair_matches_the_tape(7, 17);
}

#[test]
fn factorized_three_by_three_convolutions_match_the_tape() {
    // InceptionV3's 1×3 and 3×1 (F(4, 3)), at 10×10: the last tile of each line has 2 of
    // its 4 pixels inside.
    factorized_pair_matches_the_tape(3, 10);
}

#[test]
fn an_average_pool_before_a_pointwise_convolution_runs_after_it() {
    // InceptionV3's pool branch: a 3×3 `same` average of 64 channels, then a 1×1 to 16 with a
    // folded BatchNormalization and ReLU, written into its slice of the concatenation. The
    // plan runs the 1×1 first and averages 16 channels, the ReLU after the average. Two
    // pools that must stay where they are: one read twice (the concatenation takes it too),
    // one before a 1×1 that widens (64 → 96: the swap would average more channels).
    clear_session();
    let a = Input(&[9, 9, 64]).unwrap();
    let conv_bn_relu = |x: &KerasTensor, c: usize| {
        let y = Conv2D::new(c, 1).use_bias(false).call(x).unwrap();
        let y = BatchNormalization::new().call(&y).unwrap();
        ReLU::new().call(&y).unwrap()
    };
    let pool = || AveragePooling2D::new(3).strides(1).padding("same");
    let b1 = conv_bn_relu(&a, 32);
    let p = pool().call(&a).unwrap();
    let b2 = conv_bn_relu(&p, 16);
    let shared = pool().call(&a).unwrap();
    let b3 = conv_bn_relu(&shared, 8);
    let wide = pool().call(&b1).unwrap();
    let b4 = conv_bn_relu(&wide, 96);
    let m = Concatenate::new(3).call_many(&[&b1, &b2, &b3, &shared, &b4]).unwrap();
    let o = GlobalAveragePooling2D::new().call(&m).unwrap();
    let mut model = Model::new(&[&a], &[&o, &m], None).unwrap();
    let mut rng = Rng::new(13);
    randomize_bn(&mut model, &mut rng);
    for batch in [1, 3] {
        let d = model.inference_plan(&[vec![batch, 9, 9, 64]]).unwrap().describe();
        let lines: Vec<&str> = d.lines().collect();
        let at = |what: &str| {
            lines
                .iter()
                .position(|l| l.contains(what))
                .unwrap_or_else(|| panic!("{what}: {d}"))
        };
        // The branch's 1×1 (16 channels, linear) before its pool, which applies the ReLU and
        // writes the concatenation's channels 32..48.
        let conv = at(&format!("conv [{batch}, 9, 9, 16]"));
        let avg = at("avgpool+clamp");
        assert!(conv < avg, "{d}");
        assert!(
            lines[avg].contains(&format!("[{batch}, 9, 9, 16] →[32..] of 216")),
            "{d}"
        );
        assert_eq!(d.matches("avgpool+clamp").count(), 1, "{d}");
        assert_eq!(d.matches(": avgpool [").count(), 2, "{d}");
        let x = random(&mut rng, &[batch, 9, 9, 64], -1.0, 1.0);
        assert_plan_matches_tape(&model, &[x], &format!("pool branch batch {batch}"));
    }
}

#[test]
fn a_stem_convolution_is_made_band_by_band_in_its_depthwise_step() {
    // A k×k convolution before a depthwise one (a network's stem) runs on the bands of the
    // depthwise step's input rows, each band from the input rows it reaches with its share of
    // the padding (at 41×39, bands of about 12 rows of the tests' 24 KiB): 3×3/2 `same` on an odd image (TensorFlow's split puts the extra padding
    // below), a 3×3/2 `valid` after a ZeroPadding2D (MobileNet's), a dilated 5×5 `same`.
    // (kernel, strides, padding, dilation, ZeroPadding2D first)
    type Stem = (usize, (usize, usize), &'static str, (usize, usize), bool);
    let stems: [Stem; 3] = [
        (3, (2, 2), "same", (1, 1), false),
        (3, (2, 2), "valid", (1, 1), true),
        (5, (1, 1), "same", (2, 2), false),
    ];
    for (i, &(k, strides, padding, dilation, zero_pad)) in stems.iter().enumerate() {
        clear_session();
        let a = Input(&[41, 39, 3]).unwrap();
        let mut x = a.clone();
        if zero_pad {
            x = ZeroPadding2D::new(((0, 1), (0, 1))).call(&x).unwrap();
        }
        let x = Conv2D::new(24, k)
            .strides(strides)
            .padding(padding)
            .dilation_rate(dilation)
            .use_bias(false)
            .call(&x)
            .unwrap();
        let x = BatchNormalization::new().call(&x).unwrap();
        let x = ReLU::new().max_value(6.0).call(&x).unwrap();
        let x = DepthwiseConv2D::new(3).padding("same").call(&x).unwrap();
        let x = BatchNormalization::new().call(&x).unwrap();
        let x = ReLU::new().max_value(6.0).call(&x).unwrap();
        let y = Conv2D::new(8, 1).call(&x).unwrap();
        let mut model = Model::new(&[&a], &[&y], None).unwrap();
        let mut rng = Rng::new(17 + i as u64);
        randomize_bn(&mut model, &mut rng);
        for batch in [1, 2] {
            let d = model.inference_plan(&[vec![batch, 41, 39, 3]]).unwrap().describe();
            assert!(d.contains("expand+depthwise+clamp"), "stem {i}: {d}");
            assert!(!d.contains(": conv+clamp"), "stem {i}: {d}");
            let x = random(&mut rng, &[batch, 41, 39, 3], -1.0, 1.0);
            assert_plan_matches_tape(&model, &[x], &format!("stem {i} batch {batch}"));
        }
    }
}
