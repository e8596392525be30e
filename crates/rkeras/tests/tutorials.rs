//! The tutorials' models built with the Rust API (Sequential, Functional, subclass) give the
//! same summaries as real Keras, byte for byte, in both styles (references in
//! `fixtures/seed/`, made with a fresh session per model as here).

use rkeras::summary::{SummaryOptions, SummaryStyle};
use rkeras::tutorials;
use rkeras::{clear_session, Model, Result};

fn reference(case: &str, suffix: &str) -> String {
    let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/seed/{case}.{suffix}"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn check(case: &str, build: impl Fn() -> Result<Model>) {
    for (style, tag) in [(SummaryStyle::Keras3, "k3"), (SummaryStyle::Keras2, "k2")] {
        clear_session();
        let model = build().unwrap_or_else(|e| panic!("{case}: {e}"));
        let got = model
            .summary(&SummaryOptions {
                style,
                ..SummaryOptions::default()
            })
            .unwrap();
        let want = reference(case, &format!("{tag}.summary.txt"));
        assert_eq!(got, want, "{case} {tag}:\n{got}");
    }
}

#[test]
fn seq_conv3() {
    check("a_seq_conv3", tutorials::seq_conv3);
}

#[test]
fn mlp() {
    check("b_mlp", tutorials::mlp);
}

#[test]
fn func_add_mlp() {
    check("c_func_add_mlp", tutorials::func_add_mlp);
}

#[test]
fn imdb() {
    check("d_imdb", tutorials::imdb);
}

#[test]
fn dense_nobias() {
    check("e_dense_nobias", tutorials::dense_ones);
}

#[test]
fn lenet5_sequential_and_functional() {
    check("f_lenet5", tutorials::lenet5_sequential);
    clear_session();
    let f = tutorials::lenet5_functional().unwrap();
    assert_eq!(f.count_params(), 61_706);
    clear_session();
    let s = tutorials::lenet5_subclass().unwrap();
    assert_eq!(s.count_params(), 61_706);
}

#[test]
fn lenet5_three_ways_predict_the_same() {
    clear_session();
    let seq = tutorials::lenet5_sequential().unwrap();
    let mut func = tutorials::lenet5_functional().unwrap();
    let mut sub = tutorials::lenet5_subclass().unwrap();
    func.set_weights(&seq.get_weights()).unwrap();
    sub.set_weights(&seq.get_weights()).unwrap();
    let x = rkeras::prelude::Tensor::new(
        &[2, 28, 28, 1],
        (0..2 * 784).map(|i| ((i * 37) % 255) as f32 / 255.0).collect(),
    )
    .unwrap();
    let a = seq.predict(std::slice::from_ref(&x), 32).unwrap();
    let b = func.predict(std::slice::from_ref(&x), 32).unwrap();
    let c = sub.predict(&[x], 32).unwrap();
    // Sequential and Functional run the inference plan; the subclass's custom layer runs its
    // ops on the tape: the same function, equal to float rounding.
    assert_eq!(a[0], b[0], "Sequential and Functional run the same plan");
    assert!(a[0].max_abs_diff(&c[0]).unwrap() <= 1e-6, "{:?} vs {:?}", a[0], c[0]);
    let sums: Vec<f32> = a[0].data().chunks(10).map(|r| r.iter().sum()).collect();
    assert!(
        sums.iter().all(|s| (s - 1.0).abs() < 1e-5),
        "softmax rows sum to 1: {sums:?}"
    );
}

#[test]
fn lenet5_show_trainable() {
    for (style, tag) in [(SummaryStyle::Keras3, "k3"), (SummaryStyle::Keras2, "k2")] {
        clear_session();
        let model = tutorials::lenet5_sequential().unwrap();
        let got = model
            .summary(&SummaryOptions {
                style,
                show_trainable: true,
                ..SummaryOptions::default()
            })
            .unwrap();
        assert_eq!(got, reference("f_lenet5", &format!("{tag}.summary_show_trainable.txt")));
    }
}

#[test]
fn naive_inception() {
    check("g_naive_inception", tutorials::naive_inception);
}

#[test]
fn residual_blocks() {
    check("h_resblock_identity", || tutorials::residual_block(64, 1));
    check("h_resblock_stride2_proj", || tutorials::residual_block(128, 2));
}

#[test]
fn nested_models() {
    check("i_nested_model", || tutorials::nested().map(|m| m.0));
    check("i_nested_model2", || tutorials::nested().map(|m| m.1));
    check("i_nested_model3", || tutorials::nested().map(|m| m.2));
    for (style, tag) in [(SummaryStyle::Keras3, "k3"), (SummaryStyle::Keras2, "k2")] {
        clear_session();
        let (_, _, m3) = tutorials::nested().unwrap();
        let got = m3
            .summary(&SummaryOptions {
                style,
                expand_nested: true,
                ..SummaryOptions::default()
            })
            .unwrap();
        assert_eq!(
            got,
            reference("i_nested_model3", &format!("{tag}.summary_expand_nested.txt")),
            "{tag}"
        );
    }
}

#[test]
fn dense_ones_predicts_sums() {
    clear_session();
    let model = tutorials::dense_ones().unwrap();
    let x = rkeras::prelude::Tensor::new(&[3, 2], vec![1.0, 2.0, 2.0, 3.0, 3.0, 4.0]).unwrap();
    let y = model.predict(&[x], 32).unwrap();
    assert_eq!(y[0].data(), &[3.0, 3.0, 5.0, 5.0, 7.0, 7.0]);
}

#[test]
fn sequential_from_a_list_pop_and_freeze() {
    use rkeras::prelude::*;
    clear_session();
    let mut model = rkeras::sequential![
        InputLayer::new(&[784]),
        Dense::new(64).activation("relu"),
        Dense::new(10)
    ]
    .build()
    .unwrap();
    assert_eq!(model.layers().len(), 2);
    assert_eq!(model.count_params(), 785 * 64 + 65 * 10);
    model.pop().unwrap();
    assert_eq!(model.layers().len(), 1);
    assert_eq!(model.output_shapes()[0], vec![None, Some(64)]);
    let y = model.predict(&[Tensor::ones(&[3, 784])], 2).unwrap();
    assert_eq!(y[0].shape(), &[3, 64]);
    model.get_layer_mut("dense").unwrap().set_trainable(false);
    assert_eq!(model.trainable_weights().len(), 0);
    assert_eq!(model.non_trainable_weights().len(), 2);
    model.pop().unwrap();
    assert!(model.pop().is_err(), "nothing left to pop");
}

/// References made by `tools/fixtures/make_extra_refs.py` (real Keras 3 and tf-keras 2).
fn check_extra(case: &str, build: impl Fn() -> Result<Model>) {
    for (style, tag) in [(SummaryStyle::Keras3, "k3"), (SummaryStyle::Keras2, "k2")] {
        clear_session();
        let model = build().unwrap_or_else(|e| panic!("{case}: {e}"));
        let got = model
            .summary(&SummaryOptions {
                style,
                ..SummaryOptions::default()
            })
            .unwrap();
        let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join(format!("tests/fixtures/extra/{case}.{tag}.summary.txt"));
        assert_eq!(got, std::fs::read_to_string(p).unwrap(), "{case} {tag}:\n{got}");
    }
}

#[test]
fn tensor_arithmetic_rows() {
    check_extra("ops_add", tutorials::ops_add);
    clear_session();
    let m = tutorials::ops_add().unwrap();
    // (d1 + d2)·2 through the graph equals the same arithmetic done by hand.
    let x = rkeras::prelude::Tensor::new(&[1, 784], (0..784).map(|i| (i % 7) as f32 * 0.1).collect()).unwrap();
    let y = m.predict(&[x], 1).unwrap();
    assert_eq!(y[0].shape(), &[1, 10]);
    assert!((y[0].data().iter().sum::<f32>() - 1.0).abs() < 1e-5);
}

#[test]
fn several_inputs_and_outputs() {
    check_extra("multi_io", tutorials::multi_io);
    clear_session();
    let m = tutorials::multi_io().unwrap();
    let img = rkeras::prelude::Tensor::ones(&[3, 28, 28, 1]);
    let meta = rkeras::prelude::Tensor::ones(&[3, 10]);
    let out = m.predict(&[img, meta], 2).unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].shape(), &[3, 10]);
    assert_eq!(out[1].shape(), &[3, 1]);
}

#[test]
fn shared_layer_called_twice() {
    check_extra("shared_dense", tutorials::shared_dense);
    clear_session();
    let m = tutorials::shared_dense().unwrap();
    let a = rkeras::prelude::Tensor::new(&[2, 16], (0..32).map(|i| i as f32 * 0.05).collect()).unwrap();
    // Equal inputs through the shared layer subtract to zero: the output is the bias.
    let out = m.predict(&[a.clone(), a], 2).unwrap();
    let bias = m.get_weights()[3].data()[0];
    assert!(out[0].data().iter().all(|v| (v - bias).abs() < 1e-6));
}
