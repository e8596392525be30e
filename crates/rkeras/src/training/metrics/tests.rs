//! Metric unit tests: accuracy choice, running means, top-k ties, confusion metrics, names.

use super::*;

fn t(shape: &[usize], v: &[f32]) -> Tensor {
    Tensor::new(shape, v.to_vec()).unwrap()
}

#[test]
fn accuracy_choice_follows_shapes() {
    assert_eq!(
        resolve_accuracy("accuracy", &[32], &[32, 10]).f,
        MetricFn::SparseCategoricalAccuracy
    );
    assert_eq!(
        resolve_accuracy("accuracy", &[32, 1], &[32, 10]).f,
        MetricFn::SparseCategoricalAccuracy
    );
    assert_eq!(
        resolve_accuracy("accuracy", &[32, 10], &[32, 10]).f,
        MetricFn::CategoricalAccuracy
    );
    assert_eq!(
        resolve_accuracy("accuracy", &[32, 1], &[32, 1]).f,
        MetricFn::BinaryAccuracy { threshold: 0.5 }
    );
}

#[test]
fn running_mean_weighs_batches_by_size() {
    let mut m = MeanMetric::new("acc", MetricFn::SparseCategoricalAccuracy);
    let p = t(&[3, 2], &[0.9, 0.1, 0.2, 0.8, 0.6, 0.4]);
    m.update_state(&t(&[3], &[0.0, 1.0, 1.0]), &p, None).unwrap(); // 2/3
    m.update_state(&t(&[1], &[1.0]), &t(&[1, 2], &[0.0, 1.0]), None)
        .unwrap(); // 1/1
    assert!((m.result() - 0.75).abs() < 1e-7);
    m.reset_state();
    let sw = t(&[3], &[1.0, 0.0, 2.0]);
    m.update_state(&t(&[3], &[0.0, 1.0, 1.0]), &p, Some(&sw)).unwrap();
    assert!((m.result() - 1.0 / 3.0).abs() < 1e-7);
}

#[test]
fn top_k_counts_ties_in() {
    let f = MetricFn::SparseTopKCategoricalAccuracy { k: 1 };
    let v = f
        .values(&t(&[2], &[1.0, 2.0]), &t(&[2, 3], &[0.5, 0.5, 0.0, 0.1, 0.2, 0.3]))
        .unwrap();
    assert_eq!(v, vec![1.0, 1.0]);
    let f = MetricFn::TopKCategoricalAccuracy { k: 2 };
    let v = f
        .values(&t(&[1, 3], &[1.0, 0.0, 0.0]), &t(&[1, 3], &[0.1, 0.5, 0.4]))
        .unwrap();
    assert_eq!(v, vec![0.0]);
}

#[test]
fn precision_recall_auc() {
    let y = t(&[4, 1], &[1.0, 0.0, 1.0, 1.0]);
    let p = t(&[4, 1], &[0.9, 0.8, 0.3, 0.7]);
    let mut pr = ConfusionMetric::precision();
    pr.update_state(&y, &p, None).unwrap();
    assert!((pr.result() - 2.0 / 3.0).abs() < 1e-6);
    let mut re = ConfusionMetric::recall();
    re.update_state(&y, &p, None).unwrap();
    assert!((re.result() - 2.0 / 3.0).abs() < 1e-6);
    // Perfect ranking → AUC 1; the negative ranked above two of three positives → 1/3.
    let mut auc = ConfusionMetric::auc(200, false).unwrap();
    auc.update_state(&y, &t(&[4, 1], &[0.9, 0.1, 0.8, 0.7]), None).unwrap();
    assert!((auc.result() - 1.0).abs() < 1e-5, "{}", auc.result());
    auc.reset_state();
    auc.update_state(&y, &p, None).unwrap();
    assert!((auc.result() - 1.0 / 3.0).abs() < 1e-2, "{}", auc.result());
}

#[test]
fn metric_names_and_errors() {
    assert_eq!(get("mse").unwrap().name(), "mse");
    assert_eq!(get("binary_crossentropy").unwrap().name(), "binary_crossentropy");
    assert_eq!(get("AUC").unwrap().name(), "AUC");
    assert!(get("f7").is_err());
    let mut m = get("categorical_accuracy").unwrap();
    assert!(m
        .update_state(&t(&[2], &[0.0, 1.0]), &t(&[2, 2], &[0.0; 4]), None)
        .is_err());
}
