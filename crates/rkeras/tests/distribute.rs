//! `rkeras::distribute` without MPI: `MirroredStrategy` (N replicas in one process, Keras's
//! semantics: `batch_size` is the global batch, cut into N per-replica batches whose
//! count-weighted gradients are summed) trains as a single process does on the same global
//! batches (LeNet-5, SGD and Adam, within 1e-6, History within 1e-6), and BatchNormalization's
//! moving statistics become the mean of the replicas' updates (hand-checked numbers). The
//! same code runs over MPI in `tests/mpi.rs` (feature `mpi`).

mod common;

use rkeras::distribute::{MirroredStrategy, Strategy};
use rkeras::prelude::*;
use rkeras::training::{FitOptions, Optimizer};

fn run(optimizer: Optimizer, replicas: Option<usize>) -> (Vec<Tensor>, rkeras::training::History) {
    let (x, y) = common::mnist(200);
    let build = || {
        let mut m = common::lenet(4);
        m.compile(optimizer.clone(), "sparse_categorical_crossentropy", &["accuracy"])
            .unwrap();
        m
    };
    let mut model = match replicas {
        Some(n) => MirroredStrategy::new(n).unwrap().scope(build),
        None => build(),
    };
    assert_eq!(model.distribute_strategy().is_some(), replicas.is_some());
    // 200 samples in global batches of 32: six full batches and a short one of 8, which
    // leaves the last replicas of 4 with nothing.
    let h = model.fit(&x, &y, common::quiet(32, 2)).unwrap();
    (model.get_weights(), h)
}

#[test]
fn mirrored_replicas_train_as_one_process_on_the_global_batch() {
    rkeras::config::enable_determinism();
    for optimizer in [Optimizer::sgd().learning_rate(0.05), Optimizer::adam()] {
        let name = optimizer.class_name();
        let (w1, h1) = run(optimizer.clone(), None);
        for replicas in [2, 4] {
            let (wn, hn) = run(optimizer.clone(), Some(replicas));
            let (dw, dh) = (common::max_diff(&w1, &wn), common::history_diff(&h1, &hn));
            assert!(dw < 1e-6, "{name}, {replicas} replicas: weights differ by {dw}");
            assert!(dh < 1e-6, "{name}, {replicas} replicas: history differs by {dh}");
        }
    }
}

#[test]
fn batch_norm_moving_statistics_are_the_mean_of_the_replicas() {
    clear_session();
    let strategy = MirroredStrategy::new(2).unwrap();
    let mut model = strategy.scope(|| {
        let mut m = Sequential::new()
            .add(InputLayer::new(&[1]))
            .add(BatchNormalization::new())
            .build()
            .unwrap();
        m.compile(Optimizer::sgd(), "mse", &[] as &[&str]).unwrap();
        m
    });
    let x = Tensor::new(&[4, 1], vec![1.0, 3.0, 5.0, 11.0]).unwrap();
    let y = Tensor::zeros(&[4, 1]);
    model
        .fit(&x, &y, FitOptions::default().batch_size(4).shuffle(false).verbose(0))
        .unwrap();
    let w = model.get_weights();
    let (mean, var) = (w[2].data()[0], w[3].data()[0]);
    // Replica 0 sees [1, 3] (mean 2, variance 1), replica 1 [5, 11] (mean 8, variance 9);
    // momentum 0.99 from (0, 1): 0.01·(2 + 8)/2 and 0.99 + 0.01·(1 + 9)/2. One process on the
    // whole batch would give 0.05 and 0.99 + 0.01·14 = 1.13.
    assert!((mean - 0.05).abs() < 1e-6, "moving_mean {mean}");
    assert!((var - 1.04).abs() < 1e-6, "moving_variance {var}");
}

#[test]
fn the_global_batch_must_split_evenly() {
    let strategy = MirroredStrategy::new(3).unwrap();
    let mut model = strategy.scope(|| {
        let mut m = common::lenet(1);
        m.compile("sgd", "sparse_categorical_crossentropy", &["accuracy"])
            .unwrap();
        m
    });
    let (x, y) = common::mnist(8);
    let err = model.fit(&x, &y, common::quiet(32, 1)).unwrap_err().to_string();
    assert!(err.contains("batch_size=32, num_replicas_in_sync=3"), "{err}");
}
