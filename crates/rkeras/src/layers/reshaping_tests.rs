//! Tests of `ZeroPadding2D`, `Cropping2D`, `Flatten`, `Reshape` and `Permute`. Expected
//! shapes are Keras's (reference/keras/seed/index.json: `k_zeropad_*`, `k_reshape*`,
//! `k_flatten`).

use super::*;
use crate::layers::test_util::{forward, grad_check, img};
use serde_json::json;
use tensor::Tensor;

fn out(cfg: &dyn LayerConfig, input: Vec<Shape>) -> Shape {
    let l = cfg.build("r", &input, &mut Rng::new(0)).unwrap();
    l.compute_output_shape(&input).unwrap().remove(0)
}

fn err(cfg: &dyn LayerConfig, input: Vec<Shape>) -> String {
    cfg.build("reshape_2", &input, &mut Rng::new(0))
        .err()
        .expect("an error")
        .to_string()
}

fn reader<'a>(class: &'a str, v: &'a Value) -> ConfigReader<'a> {
    ConfigReader::new(class, v).unwrap()
}

#[test]
fn shapes_match_keras() {
    let b = crate::kshape::batched;
    assert_eq!(out(&ZeroPadding2D::new(1), img(5, 5, 3)), b(&[7, 7, 3]));
    assert_eq!(out(&ZeroPadding2D::new(((1, 0), (1, 0))), img(5, 5, 3)), b(&[6, 6, 3]));
    assert_eq!(out(&ZeroPadding2D::new((2, 1)), img(5, 5, 3)), b(&[9, 7, 3]));
    assert_eq!(
        out(
            &ZeroPadding2D::new(1).data_format("channels_first"),
            vec![b(&[3, 5, 4])]
        ),
        b(&[3, 7, 6])
    );
    assert_eq!(out(&Cropping2D::new(((1, 2), (0, 1))), img(5, 5, 3)), b(&[2, 4, 3]));
    assert_eq!(
        out(&Cropping2D::new(1), vec![vec![None, None, Some(5), Some(3)]]),
        vec![None, None, Some(3), Some(3)]
    );
    assert_eq!(out(&Flatten::new(), img(4, 4, 3)), b(&[48]));
    assert_eq!(
        out(&Flatten::new(), vec![vec![None, None, Some(4), Some(3)]]),
        vec![None, None]
    );
    assert_eq!(out(&Flatten::new(), vec![vec![None]]), b(&[1]));
    assert_eq!(out(&Reshape::new(&[16, 3]), img(4, 4, 3)), b(&[16, 3]));
    assert_eq!(out(&Reshape::new(&[-1]), img(4, 4, 3)), b(&[48]));
    assert_eq!(out(&Reshape::new(&[2, -1, 3]), img(4, 4, 3)), b(&[2, 8, 3]));
    assert_eq!(
        out(&Reshape::new(&[-1, 3]), vec![vec![None, None, Some(4), Some(3)]]),
        vec![None, None, Some(3)]
    );
    assert_eq!(out(&Permute::new(&[2, 1]), vec![b(&[10, 64])]), b(&[64, 10]));
    assert_eq!(out(&Permute::new(&[3, 1, 2]), img(4, 5, 6)), b(&[6, 4, 5]));
}

#[test]
fn errors_name_the_layer_and_argument() {
    let e = err(&Reshape::new(&[5, -1]), img(4, 4, 3));
    assert!(
        e.starts_with("reshape_2: the total size must be unchanged") && e.contains("(None, 4, 4, 3)"),
        "{e}"
    );
    let e = err(&Reshape::new(&[16, 4]), img(4, 4, 3));
    assert!(e.contains("[16, 4]"), "{e}");
    let e = err(&Reshape::new(&[-1, -1]), img(4, 4, 3));
    assert!(
        e.contains("argument `target_shape`") && e.contains("at most one -1"),
        "{e}"
    );
    let e = err(&Permute::new(&[0, 1]), vec![crate::kshape::batched(&[2, 3])]);
    assert!(e.contains("argument `dims`") && e.contains("[0, 1]"), "{e}");
    let e = err(&Permute::new(&[2, 1]), img(2, 3, 4));
    assert!(e.contains("permute 2 axes") && e.contains("has 3"), "{e}");
    let e = err(&Cropping2D::new(((2, 3), (0, 0))), img(5, 5, 3));
    assert!(e.contains("cropping 2 + 3 from height 5 leaves nothing"), "{e}");
    let e = err(&ZeroPadding2D::new(1), vec![crate::kshape::batched(&[5, 5])]);
    assert!(e.contains("expected a 4-D input"), "{e}");
}

#[test]
fn forward_values_by_hand() {
    let x = Tensor::arange(&[1, 2, 2, 1]);
    let p = ZeroPadding2D::new(((1, 0), (0, 1)))
        .build("z", &img(2, 2, 1), &mut Rng::new(0))
        .unwrap();
    assert_eq!(
        forward(p.as_ref(), x.clone()).data(),
        &[0., 0., 0., 0., 1., 0., 2., 3., 0.]
    );
    let c = Cropping2D::new(((1, 0), (0, 1)))
        .build("c", &img(2, 2, 1), &mut Rng::new(0))
        .unwrap();
    assert_eq!(forward(c.as_ref(), x.clone()).data(), &[2.]);
    // channels_first: pad and crop act on the last two axes.
    let xcf = Tensor::arange(&[1, 2, 2, 2]);
    let cf = |cfg: Border2DConfig| {
        cfg.data_format("channels_first")
            .build("b", &[crate::kshape::batched(&[2, 2, 2])], &mut Rng::new(0))
            .unwrap()
    };
    let y = forward(cf(Cropping2D::new(((0, 1), (1, 0)))).as_ref(), xcf.clone());
    assert_eq!((y.shape(), y.data()), (&[1usize, 2, 1, 1][..], &[1., 5.][..]));
    let y = forward(cf(ZeroPadding2D::new(((0, 0), (1, 0)))).as_ref(), xcf.clone());
    assert_eq!(y.data(), &[0., 0., 1., 0., 2., 3., 0., 4., 5., 0., 6., 7.]);
    // Flatten channels_first moves channels last first: (c, h, w) → (h, w, c) order.
    let f = Flatten::new()
        .data_format("channels_first")
        .build("f", &[crate::kshape::batched(&[2, 2, 2])], &mut Rng::new(0))
        .unwrap();
    assert_eq!(
        forward(f.as_ref(), xcf.clone()).data(),
        &[0., 4., 1., 5., 2., 6., 3., 7.]
    );
    let f = Flatten::new()
        .build("f", &[crate::kshape::batched(&[2, 2, 2])], &mut Rng::new(0))
        .unwrap();
    assert_eq!(
        forward(f.as_ref(), xcf.clone()).data(),
        &[0., 1., 2., 3., 4., 5., 6., 7.]
    );
    let r = Reshape::new(&[-1, 2])
        .build("r", &[crate::kshape::batched(&[2, 2, 2])], &mut Rng::new(0))
        .unwrap();
    assert_eq!(forward(r.as_ref(), Tensor::arange(&[3, 2, 2, 2])).shape(), &[3, 4, 2]);
    let p = Permute::new(&[2, 1])
        .build("p", &[crate::kshape::batched(&[2, 3])], &mut Rng::new(0))
        .unwrap();
    assert_eq!(
        forward(p.as_ref(), Tensor::arange(&[1, 2, 3])).data(),
        &[0., 3., 1., 4., 2., 5.]
    );
}

#[test]
fn gradients_flow_back() {
    let cases: Vec<(Box<dyn Layer>, Vec<usize>)> = vec![
        (
            ZeroPadding2D::new(((1, 0), (2, 1)))
                .build("z", &img(2, 3, 2), &mut Rng::new(0))
                .unwrap(),
            vec![1, 2, 3, 2],
        ),
        (
            Cropping2D::new(1)
                .data_format("channels_first")
                .build("c", &img(2, 3, 4), &mut Rng::new(0))
                .unwrap(),
            vec![1, 2, 3, 4],
        ),
        (
            Permute::new(&[3, 1, 2])
                .build("p", &img(2, 3, 2), &mut Rng::new(0))
                .unwrap(),
            vec![1, 2, 3, 2],
        ),
        (
            Flatten::new()
                .data_format("channels_first")
                .build("f", &img(2, 3, 2), &mut Rng::new(0))
                .unwrap(),
            vec![2, 2, 3, 2],
        ),
    ];
    for (l, shape) in cases {
        grad_check(l.as_ref(), &[Tensor::arange(&shape)], true);
    }
}

#[test]
fn configs_round_trip_and_read_keras2() {
    let z = ZeroPadding2D::new((1, 2))
        .build("zero_padding2d", &img(5, 5, 3), &mut Rng::new(0))
        .unwrap();
    let j = z.config();
    assert_eq!(j["padding"], json!([[1, 1], [2, 2]]));
    let again = Border2DConfig::from_keras(&reader("ZeroPadding2D", &j)).unwrap();
    assert_eq!(
        again
            .build("zero_padding2d", &img(5, 5, 3), &mut Rng::new(0))
            .unwrap()
            .config(),
        j
    );
    // Keras accepts an int, a pair of ints, or a pair of pairs.
    for (v, want) in [
        (json!(3), Sides((3, 3), (3, 3))),
        (json!([1, 2]), Sides((1, 1), (2, 2))),
        (json!([[1, 0], [0, 1]]), Sides((1, 0), (0, 1))),
    ] {
        let c = Border2DConfig::from_keras(&reader("Cropping2D", &json!({"name": "c", "cropping": v}))).unwrap();
        assert_eq!((c.kind, c.sides), (BorderKind::Crop, want));
    }
    let e = Border2DConfig::from_keras(&reader("Cropping2D", &json!({"name": "c", "cropping": [1, 2, 3]})))
        .unwrap_err()
        .to_string();
    assert!(e.contains("argument `cropping`") && e.contains("[1,2,3]"), "{e}");
    for (class, cfg, input) in [
        (
            "Reshape",
            json!({"name": "reshape", "trainable": true, "dtype": "float32", "target_shape": [16, 3]}),
            img(4, 4, 3),
        ),
        (
            "Reshape",
            json!({"name": "reshape", "target_shape": [-1]}),
            img(4, 4, 3),
        ),
        (
            "Flatten",
            json!({"name": "flatten", "dtype": "float32", "data_format": "channels_last"}),
            img(4, 4, 3),
        ),
        ("Permute", json!({"name": "permute", "dims": [2, 1, 3]}), img(4, 4, 3)),
    ] {
        let c = ShapeOpConfig::from_keras(&reader(class, &cfg)).unwrap();
        let l = c.build("x", &input, &mut Rng::new(0)).unwrap();
        assert_eq!(l.class_name(), class);
        let j = l.config();
        let again = ShapeOpConfig::from_keras(&reader(class, &j)).unwrap();
        assert_eq!(again.build("x", &input, &mut Rng::new(0)).unwrap().config(), j);
    }
    let f = Flatten::new().build("f", &img(26, 26, 32), &mut Rng::new(0)).unwrap();
    assert_eq!(f.explain(&img(26, 26, 32)), vec!["26·26·32 = 21,632"]);
    let r = Reshape::new(&[-1, 3])
        .build("r", &img(4, 4, 3), &mut Rng::new(0))
        .unwrap();
    assert_eq!(r.explain(&img(4, 4, 3)), vec!["-1 = 48/(3) = 16"]);
    assert_eq!(z.explain(&img(5, 5, 3)), vec!["H: 1 + 5 + 1 = 7", "W: 2 + 5 + 2 = 9"]);
}
