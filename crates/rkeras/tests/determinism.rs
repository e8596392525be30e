//! Deterministic mode (`rkeras::config::enable_determinism()`, Keras 3's name): an epoch of
//! LeNet-5 (MNIST digits) and of the Keras CIFAR-10 example CNN (random images, dropout on)
//! gives bit-identical weights in two runs and with 1 and 2 rayon threads.

mod common;

use rkeras::training::Optimizer;
use rkeras::Model;
use tensor::Tensor;

/// Weights after one epoch in a pool of `threads` rayon threads.
fn train(threads: usize, build: fn(u64) -> Model, data: &(Tensor, Tensor), optimizer: Optimizer) -> Vec<Tensor> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    pool.install(|| {
        let mut model = build(3);
        model
            .compile(optimizer, "sparse_categorical_crossentropy", &["accuracy"])
            .unwrap();
        model.fit(&data.0, &data.1, common::quiet(32, 1)).unwrap();
        model.get_weights()
    })
}

fn bits(w: &[Tensor]) -> Vec<Vec<u32>> {
    w.iter()
        .map(|t| t.data().iter().map(|v| v.to_bits()).collect())
        .collect()
}

fn check(name: &str, build: fn(u64) -> Model, data: (Tensor, Tensor), optimizer: Optimizer) {
    rkeras::config::enable_determinism();
    assert!(rkeras::config::is_determinism_enabled());
    let a = bits(&train(2, build, &data, optimizer.clone()));
    let b = bits(&train(2, build, &data, optimizer.clone()));
    let c = bits(&train(1, build, &data, optimizer.clone()));
    assert_eq!(a, b, "{name}: two runs with 2 threads differ");
    assert_eq!(a, c, "{name}: 1 thread and 2 threads differ");
    // The epoch trained: weights moved away from the initial ones.
    let init = bits(&build(3).get_weights());
    assert_ne!(a, init, "{name}: the weights did not move");
}

#[test]
fn lenet5_epoch_is_bit_identical_across_runs_and_thread_counts() {
    check("LeNet-5", common::lenet, common::mnist(512), Optimizer::adam());
}

#[test]
fn lenet5_with_batch_norm_is_bit_identical() {
    check("LeNet-5 + BN", common::lenet_bn, common::mnist(256), Optimizer::sgd());
}

#[test]
fn cifar10_cnn_epoch_is_bit_identical_across_runs_and_thread_counts() {
    check(
        "CIFAR-10 CNN",
        common::cifar_cnn,
        common::cifar_like(128),
        Optimizer::rmsprop().learning_rate(1e-4),
    );
}
