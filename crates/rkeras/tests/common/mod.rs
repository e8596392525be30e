//! Models and data the determinism and data-parallel tests share: LeNet-5 on the first
//! digits of the embedded MNIST subset, and the Keras CIFAR-10 example CNN
//! (`keras/examples/cifar10_cnn.py`: two 32-filter and two 64-filter 3×3 convolutions, max
//! pooling, dropout, a 512-unit dense layer) on seeded random images.
#![allow(dead_code)]

use rkeras::applications::{lenet5, AppOptions};
use rkeras::prelude::*;
use rkeras::training::FitOptions;
use tensor::{Rng, Tensor};

/// The first `n` embedded MNIST training digits scaled to `[0, 1]`, `(n, 28, 28, 1)`, and
/// their labels.
pub fn mnist(n: usize) -> (Tensor, Tensor) {
    let d = rkeras::datasets::mnist::load_embedded().unwrap();
    let x: Vec<f32> = d.x_train.data()[..n * 784].iter().map(|v| v / 255.0).collect();
    let y = d.y_train.data()[..n].to_vec();
    (Tensor::new(&[n, 28, 28, 1], x).unwrap(), Tensor::new(&[n], y).unwrap())
}

/// `n` seeded random 32×32×3 images in `[0, 1)` and labels in `0..10`.
pub fn cifar_like(n: usize) -> (Tensor, Tensor) {
    let mut rng = Rng::new(5);
    let x = (0..n * 32 * 32 * 3)
        .map(|_| rng.uniform_range(0.0, 1.0) as f32)
        .collect();
    let y = (0..n).map(|_| rng.below(10) as f32).collect();
    (Tensor::new(&[n, 32, 32, 3], x).unwrap(), Tensor::new(&[n], y).unwrap())
}

/// LeNet-5 as `rkeras::applications` builds it, with seeded weights.
pub fn lenet(seed: u64) -> Model {
    clear_session();
    set_random_seed(seed);
    lenet5(&AppOptions::default()).unwrap()
}

/// LeNet-5 with a BatchNormalization after each convolution.
pub fn lenet_bn(seed: u64) -> Model {
    clear_session();
    set_random_seed(seed);
    Sequential::new()
        .add(InputLayer::new(&[28, 28, 1]))
        .add(Conv2D::new(6, 5).padding("same"))
        .add(BatchNormalization::new())
        .add(Activation::new("relu"))
        .add(MaxPooling2D::new(2))
        .add(Conv2D::new(16, 5))
        .add(BatchNormalization::new())
        .add(Activation::new("relu"))
        .add(MaxPooling2D::new(2))
        .add(Flatten::new())
        .add(Dense::new(120).activation("relu"))
        .add(Dense::new(84).activation("relu"))
        .add(Dense::new(10).activation("softmax"))
        .build()
        .unwrap()
}

/// The Keras CIFAR-10 example CNN.
pub fn cifar_cnn(seed: u64) -> Model {
    clear_session();
    set_random_seed(seed);
    Sequential::new()
        .add(InputLayer::new(&[32, 32, 3]))
        .add(Conv2D::new(32, 3).padding("same").activation("relu"))
        .add(Conv2D::new(32, 3).activation("relu"))
        .add(MaxPooling2D::new(2))
        .add(Dropout::new(0.25))
        .add(Conv2D::new(64, 3).padding("same").activation("relu"))
        .add(Conv2D::new(64, 3).activation("relu"))
        .add(MaxPooling2D::new(2))
        .add(Dropout::new(0.25))
        .add(Flatten::new())
        .add(Dense::new(512).activation("relu"))
        .add(Dropout::new(0.5))
        .add(Dense::new(10).activation("softmax"))
        .build()
        .unwrap()
}

/// Fit options for the tests: silent, seeded shuffling.
pub fn quiet(batch: usize, epochs: usize) -> FitOptions<'static> {
    FitOptions::default()
        .batch_size(batch)
        .epochs(epochs)
        .verbose(0)
        .seed(11)
}

/// The largest absolute difference between two lists of arrays.
pub fn max_diff(a: &[Tensor], b: &[Tensor]) -> f32 {
    assert_eq!(a.len(), b.len(), "different numbers of arrays");
    a.iter()
        .zip(b)
        .map(|(x, y)| x.max_abs_diff(y).unwrap())
        .fold(0.0, f32::max)
}

/// The largest absolute difference between two histories (same keys, same epochs).
pub fn history_diff(a: &rkeras::training::History, b: &rkeras::training::History) -> f64 {
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    let mut worst = 0.0f64;
    for k in a.keys() {
        let (x, y) = (a.get(k).unwrap(), b.get(k).unwrap());
        assert_eq!(x.len(), y.len(), "{k}: different numbers of epochs");
        for (p, q) in x.iter().zip(y) {
            worst = worst.max((p - q).abs());
        }
    }
    worst
}
