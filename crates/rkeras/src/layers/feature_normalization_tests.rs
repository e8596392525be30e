//! Tests of `Normalization` (hand-checkable values; Keras's own numbers are compared in
//! `tests/applications_io.rs` from `fixtures/apps2/preprocess.json.gz`).

use super::*;
use crate::kshape::batched;
use crate::layers::test_util::{build, err, grad_check, run};

#[test]
fn adapt_gives_numpy_mean_and_population_variance() {
    let data = Tensor::new(&[3, 2], vec![1.0, 10.0, 2.0, 20.0, 6.0, 60.0]).unwrap();
    let mut c = Normalization::new();
    c.adapt(&data).unwrap();
    let (m, v, s) = c.adapted.clone().unwrap();
    assert_eq!((m, s.clone()), (vec![3.0, 30.0], vec![2]));
    assert!(
        (v[0] - 14.0 / 3.0).abs() < 1e-6 && (v[1] - 1400.0 / 3.0).abs() < 1e-3,
        "{v:?}"
    );
    let l = build(&c, "normalization", batched(&[2])).unwrap();
    let names: Vec<(&str, bool, Vec<usize>)> = l
        .weights()
        .iter()
        .map(|w| (w.name.as_str(), w.trainable, w.value.shape().to_vec()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("mean", false, vec![2]),
            ("variance", false, vec![2]),
            ("count", false, vec![])
        ]
    );
    assert_eq!(l.count_params(), 5);
    let y = run(l.as_ref(), std::slice::from_ref(&data), false)
        .unwrap()
        .out
        .remove(0);
    let want = [-2.0 / (14.0f32 / 3.0).sqrt(), -20.0 / (1400.0f32 / 3.0).sqrt()];
    assert!((y.data()[0] - want[0]).abs() < 1e-5 && (y.data()[1] - want[1]).abs() < 1e-5);
    // axis=None: one mean for everything.
    let mut c = Normalization::new().axis(&[]);
    c.adapt(&data).unwrap();
    assert_eq!(c.adapted.as_ref().unwrap().0, vec![16.5]);
    assert_eq!(c.adapted.as_ref().unwrap().2, Vec::<usize>::new());
}

#[test]
fn given_statistics_invert_and_config() {
    let c = Normalization::new().mean_variance(&[1.0, 2.0, 3.0], &[4.0, 1.0, 0.0]);
    let l = build(&c, "normalization", batched(&[2, 2, 3])).unwrap();
    assert_eq!(l.count_params(), 0);
    let x = Tensor::full(&[1, 2, 2, 3], 5.0);
    let y = run(l.as_ref(), std::slice::from_ref(&x), false).unwrap().out.remove(0);
    assert_eq!(&y.data()[..3], &[2.0, 3.0, 2.0 / 1e-7]);
    grad_check(l.as_ref(), &[Tensor::arange(&[1, 2, 2, 3])], false);
    let inv = build(&c.clone().invert(true), "n", batched(&[2, 2, 3])).unwrap();
    let back = run(inv.as_ref(), &[Tensor::full(&[1, 2, 2, 3], 1.0)], false)
        .unwrap()
        .out
        .remove(0);
    assert_eq!(&back.data()[..3], &[3.0, 3.0, 3.0 + 1e-7]);
    let j = l.config();
    assert_eq!(j["axis"], json!([-1]));
    assert_eq!(j["mean"], json!([1.0, 2.0, 3.0]));
    assert_eq!(j["invert"], json!(false));
    let again = NormalizationConfig::from_keras(&ConfigReader::new("Normalization", &j).unwrap()).unwrap();
    assert_eq!(again.mean, c.mean);
    // Keras 3's EfficientNet stem: axis=[3], mean/variance null.
    let k3 = json!({"name": "normalization", "trainable": true, "dtype": "float32", "axis": [3], "invert": false, "mean": null, "variance": null});
    let c = NormalizationConfig::from_keras(&ConfigReader::new("Normalization", &k3).unwrap()).unwrap();
    assert_eq!((c.axis.clone(), c.mean.clone()), (vec![3], None));
    let l = build(&c, "normalization", batched(&[8, 8, 3])).unwrap();
    assert_eq!(l.count_params(), 7);
}

#[test]
fn errors_name_the_argument() {
    let c = Normalization::new().axis(&[5]);
    let e = err(build(&c, "normalization_2", batched(&[4, 4, 3])));
    assert!(
        e.starts_with("normalization_2: argument `axis`") && e.contains("Received: axis=[5]"),
        "{e}"
    );
    let e = err(build(
        &Normalization::new().axis(&[1]),
        "n",
        vec![None, None, None, Some(3)],
    ));
    assert!(e.contains("known size"), "{e}");
    let mut c = Normalization::new().mean_variance(&[1.0, 2.0], &[1.0, 1.0]);
    c.variance = None;
    assert!(err(build(&c, "n", batched(&[2]))).contains("both `mean` and `variance` must be set"));
    let c = Normalization::new().mean_variance(&[1.0, 2.0], &[1.0, 1.0]);
    assert!(err(build(&c, "n", batched(&[3]))).contains("broadcastable"));
    let mut c = Normalization::new();
    c.adapt(&Tensor::ones(&[2, 4])).unwrap();
    assert!(err(build(&c, "n", batched(&[3]))).contains("adapted on data"));
}
