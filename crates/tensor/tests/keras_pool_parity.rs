//! Pooling against real Keras numbers. The fixtures are Keras 3.15.1 `predict()` outputs
//! (tensorflow-cpu 2.21.0) on random float32 inputs, copied from the shared reference set
//! (`reference/keras/fixtures/`, see its README); each case is a one-layer model whose config
//! is quoted above its test.

mod common;

use common::{fixture, npy};
use tensor::ops::pool::{avg_pool2d, global_avg_pool2d, max_pool2d};
use tensor::{Padding, Tensor};

fn case(name: &str) -> (Tensor, Tensor) {
    (
        npy::load(fixture(&format!("{name}.input.npy"))),
        npy::load(fixture(&format!("{name}.output.npy"))),
    )
}

fn assert_close(name: &str, got: &Tensor, want: &Tensor) {
    assert_eq!(got.shape(), want.shape(), "{name}: shape");
    assert!(
        got.allclose(want, 1e-5, 1e-5),
        "{name}: max |diff| {}",
        got.max_abs_diff(want).unwrap()
    );
}

/// `MaxPooling2D(pool_size=(2, 2), strides=(2, 2), padding="valid")` on (2, 7, 7, 3).
#[test]
fn maxpool_2() {
    let (x, y) = case("maxpool_2");
    assert_close(
        "maxpool_2",
        &max_pool2d(&x, (2, 2), (2, 2), Padding::Valid).unwrap(),
        &y,
    );
}

/// `MaxPooling2D(pool_size=(3, 3), strides=(2, 2), padding="same")` on (2, 7, 7, 3).
#[test]
fn maxpool_3s2_same() {
    let (x, y) = case("maxpool_3s2_same");
    assert_close(
        "maxpool_3s2_same",
        &max_pool2d(&x, (3, 3), (2, 2), Padding::Same).unwrap(),
        &y,
    );
}

/// `AveragePooling2D(pool_size=(2, 2), strides=(2, 2), padding="valid")` on (2, 7, 7, 3).
#[test]
fn avgpool_2() {
    let (x, y) = case("avgpool_2");
    assert_close(
        "avgpool_2",
        &avg_pool2d(&x, (2, 2), (2, 2), Padding::Valid).unwrap(),
        &y,
    );
}

/// `AveragePooling2D(pool_size=(3, 3), strides=(2, 2), padding="same")` on (2, 7, 7, 3): the
/// border windows divide by their valid cells only.
#[test]
fn avgpool_3s2_same() {
    let (x, y) = case("avgpool_3s2_same");
    assert_close(
        "avgpool_3s2_same",
        &avg_pool2d(&x, (3, 3), (2, 2), Padding::Same).unwrap(),
        &y,
    );
}

/// `GlobalAveragePooling2D(keepdims=False)` on (2, 5, 5, 3).
#[test]
fn gap() {
    let (x, y) = case("gap");
    assert_close("gap", &global_avg_pool2d(&x, false).unwrap(), &y);
}

#[test]
fn npy_reader_reads_version_2_headers() {
    let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n";
    let mut bytes = b"\x93NUMPY\x02\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u32).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in [1.5f32, -2.0] {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    let t = npy::parse(&bytes).unwrap();
    assert_eq!((t.shape(), t.data()), (&[2usize][..], &[1.5f32, -2.0][..]));
    assert!(npy::parse(b"not numpy").is_err());
}
