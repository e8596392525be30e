//! Tests of the pooling layers. Expected shapes are Keras's (reference/keras/seed/index.json:
//! `k_maxpool_*`, `k_avgpool_*`, `k_gap`, `k_gmp`).

use super::*;
use crate::layers::test_util::{forward, grad_check, img};
use tensor::Tensor;

fn out(cfg: &dyn LayerConfig, input: Vec<Shape>) -> Shape {
    let l = cfg.build("p", &input, &mut Rng::new(0)).unwrap();
    assert_eq!(l.count_params(), 0);
    l.compute_output_shape(&input).unwrap().remove(0)
}

#[test]
fn shapes_match_keras() {
    let b = crate::kshape::batched;
    assert_eq!(out(&MaxPooling2D::new(2), img(7, 7, 3)), b(&[3, 3, 3]));
    assert_eq!(
        out(&MaxPooling2D::new(3).strides(2).padding("same"), img(7, 7, 3)),
        b(&[4, 4, 3])
    );
    assert_eq!(
        out(&AveragePooling2D::new(3).strides(2).padding("same"), img(7, 7, 3)),
        b(&[4, 4, 3])
    );
    assert_eq!(out(&AveragePooling2D::new(2), img(7, 7, 3)), b(&[3, 3, 3]));
    assert_eq!(out(&Pooling2DConfig::default(), img(28, 28, 32)), b(&[14, 14, 32]));
    assert_eq!(
        out(&MaxPooling2D::new((2, 3)).strides((1, 2)), img(5, 8, 1)),
        b(&[4, 3, 1])
    );
    assert_eq!(
        out(&MaxPooling2D::new(2).data_format("channels_first"), vec![b(&[3, 6, 4])]),
        b(&[3, 3, 2])
    );
    assert_eq!(
        out(&MaxPooling2D::new(2), vec![vec![None, None, Some(6), Some(2)]]),
        vec![None, None, Some(3), Some(2)]
    );
    assert_eq!(out(&GlobalAveragePooling2D::new(), img(5, 5, 3)), b(&[3]));
    assert_eq!(out(&GlobalMaxPooling2D::new(), img(5, 5, 3)), b(&[3]));
    assert_eq!(
        out(&GlobalMaxPooling2D::new().keepdims(true), img(5, 5, 3)),
        b(&[1, 1, 3])
    );
    let cf = GlobalAveragePooling2D::new()
        .keepdims(true)
        .data_format("channels_first");
    assert_eq!(out(&cf, vec![b(&[3, 5, 5])]), b(&[3, 1, 1]));
    assert_eq!(
        out(&GlobalAveragePooling2D::new(), vec![vec![None, None, None, Some(8)]]),
        b(&[8])
    );
}

#[test]
fn errors_name_the_layer_and_argument() {
    let e = MaxPooling2D::new(4)
        .build("max_pooling2d_1", &img(3, 3, 1), &mut Rng::new(0))
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.starts_with("max_pooling2d_1: height:") && e.contains("(3 + 0 − 4)/4 + 1 < 1"),
        "{e}"
    );
    let e = MaxPooling2D::new(0)
        .build("m", &img(3, 3, 1), &mut Rng::new(0))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("argument `pool_size`") && e.contains("(0, 0)"), "{e}");
    let e = AveragePooling2D::new(2)
        .padding("full")
        .build("a", &img(3, 3, 1), &mut Rng::new(0))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("argument `padding`") && e.contains("full"), "{e}");
    let e = GlobalMaxPooling2D::new()
        .build("g", &[crate::kshape::batched(&[3, 3])], &mut Rng::new(0))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("expected a 4-D input"), "{e}");
}

#[test]
fn forward_values_by_hand() {
    let x = Tensor::arange(&[1, 4, 4, 1]);
    let m = MaxPooling2D::new(2)
        .build("m", &img(4, 4, 1), &mut Rng::new(0))
        .unwrap();
    assert_eq!(forward(m.as_ref(), x.clone()).data(), &[5., 7., 13., 15.]);
    let a = AveragePooling2D::new(2)
        .build("a", &img(4, 4, 1), &mut Rng::new(0))
        .unwrap();
    assert_eq!(forward(a.as_ref(), x.clone()).data(), &[2.5, 4.5, 10.5, 12.5]);
    // `same` 3×3 stride 2 on 4×4: padding 1 after; the last window averages only real cells.
    let a = AveragePooling2D::new(3)
        .strides(2)
        .padding("same")
        .build("a", &img(4, 4, 1), &mut Rng::new(0))
        .unwrap();
    assert_eq!(forward(a.as_ref(), x.clone()).data(), &[5., 6.5, 11., 12.5]);
    let g = GlobalAveragePooling2D::new()
        .build("g", &img(4, 4, 1), &mut Rng::new(0))
        .unwrap();
    assert_eq!(forward(g.as_ref(), x.clone()).data(), &[7.5]);
    // channels_first: channel c of (1, 2, 2, 2) = [c, c + 2, c + 4, c + 6]; max per channel.
    let xcf = Tensor::new(&[1, 2, 2, 2], vec![0., 2., 4., 6., 1., 3., 5., 7.]).unwrap();
    let g = GlobalMaxPooling2D::new().keepdims(true).data_format("channels_first");
    let g = g
        .build("g", &[crate::kshape::batched(&[2, 2, 2])], &mut Rng::new(0))
        .unwrap();
    let y = forward(g.as_ref(), xcf.clone());
    assert_eq!((y.shape(), y.data()), (&[1usize, 2, 1, 1][..], &[6., 7.][..]));
    let m = MaxPooling2D::new(2)
        .data_format("channels_first")
        .build("m", &[crate::kshape::batched(&[2, 2, 2])], &mut Rng::new(0))
        .unwrap();
    let y = forward(m.as_ref(), xcf);
    assert_eq!((y.shape(), y.data()), (&[1usize, 2, 1, 1][..], &[6., 7.][..]));
}

#[test]
fn gradients_flow_through_pools() {
    let a = AveragePooling2D::new(3)
        .strides(2)
        .padding("same")
        .data_format("channels_first");
    let a = a
        .build("a", &[crate::kshape::batched(&[2, 5, 4])], &mut Rng::new(0))
        .unwrap();
    let x = Tensor::arange(&[1, 2, 5, 4]).map(|v| (v * 0.9).sin());
    grad_check(a.as_ref(), &[x], true);
}

#[test]
fn config_round_trips_and_reads_keras2() {
    let m = MaxPooling2D::new(3)
        .strides(2)
        .padding("same")
        .build("max_pooling2d", &img(7, 7, 3), &mut Rng::new(0))
        .unwrap();
    let j = m.config();
    assert_eq!(j["strides"], serde_json::json!([2, 2]));
    let again = Pooling2DConfig::from_keras(&ConfigReader::new("MaxPooling2D", &j).unwrap()).unwrap();
    assert_eq!(again.kind, PoolKind::Max);
    assert_eq!(
        again
            .build("max_pooling2d", &img(7, 7, 3), &mut Rng::new(0))
            .unwrap()
            .config(),
        j
    );
    // Keras writes the resolved strides; a missing `strides` means the pool size.
    let k2 = serde_json::json!({"name": "average_pooling2d", "trainable": true, "dtype": "float32", "pool_size": [2, 2],
        "padding": "valid", "strides": null, "data_format": "channels_last"});
    let a = Pooling2DConfig::from_keras(&ConfigReader::new("AveragePooling2D", &k2).unwrap()).unwrap();
    assert_eq!(a.kind, PoolKind::Average);
    let built = a.build("average_pooling2d", &img(7, 7, 3), &mut Rng::new(0)).unwrap();
    assert_eq!(built.class_name(), "AveragePooling2D");
    assert_eq!(built.config()["strides"], serde_json::json!([2, 2]));
    let g = GlobalAveragePooling2D::new()
        .keepdims(true)
        .build("gap", &img(5, 5, 3), &mut Rng::new(0))
        .unwrap();
    let j = g.config();
    let again = GlobalPooling2DConfig::from_keras(&ConfigReader::new("GlobalAveragePooling2D", &j).unwrap()).unwrap();
    assert!(again.keepdims && again.kind == PoolKind::Average);
    assert_eq!(
        g.explain(&img(5, 5, 3)),
        vec!["mean over H·W = 5·5 = 25 positions per channel"]
    );
    assert_eq!(
        m.explain(&img(7, 7, 3))[0],
        "H: same: ⌈7/2⌉ = 4; padding max((4 − 1)·2 + 3 − 7, 0) = 2 → top 1, bottom 1"
    );
}
