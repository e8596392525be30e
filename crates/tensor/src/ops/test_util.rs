//! Helpers the op families' tests share: random tensors, random paddings for property tests
//! over window ops, an elementwise closeness check that names the failing element, and the
//! finite-difference check of a convolution's tape op.

use crate::autograd::{Tape, Var};
use crate::error::Result;
use crate::gradcheck::check_gradients;
use crate::rng::Rng;
use crate::shape::Padding;
use crate::tensor::{numel, Tensor};

/// A tensor of values drawn uniformly from `[lo, hi)`.
pub(crate) fn random_in(rng: &mut Rng, shape: &[usize], lo: f64, hi: f64) -> Tensor {
    let data = (0..numel(shape)).map(|_| rng.uniform_range(lo, hi) as f32).collect();
    Tensor::new(shape, data).expect("the data has the shape's length")
}

/// A tensor of values drawn uniformly from `[-1, 1)`.
pub(crate) fn random(rng: &mut Rng, shape: &[usize]) -> Tensor {
    random_in(rng, shape, -1.0, 1.0)
}

/// `valid` (2 in 5), `same` (2 in 5) or explicit padding of up to `max_explicit − 1` per side.
pub(crate) fn random_padding(rng: &mut Rng, max_explicit: usize) -> Padding {
    match rng.below(5) {
        0 | 1 => Padding::Valid,
        2 | 3 => Padding::Same,
        _ => Padding::Explicit(rng.below(max_explicit), rng.below(max_explicit)),
    }
}

/// Asserts `a ≈ b` elementwise within `1e-4·(1 + |b|)`, naming `what` and the element.
pub(crate) fn assert_close(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= 1e-4 * (1.0 + y.abs()),
            "{what}: element {i}: {x} vs {y}"
        );
    }
}

/// [`assert_close`] for tensors, whose shapes must be equal too.
pub(crate) fn assert_tensors_close(a: &Tensor, b: &Tensor, what: &str) {
    assert_eq!(a.shape(), b.shape(), "{what}");
    assert_close(a.data(), b.data(), what);
}

/// Finite-difference check of a convolution's tape op `op(x, w, bias)` at random `x`, `w` and
/// `bias` of `shapes` (drawn in that order).
pub(crate) fn check_conv_gradients(
    rng: &mut Rng,
    shapes: [&[usize]; 3],
    op: impl Fn(&mut Tape, Var, Var, Var) -> Result<Var>,
) {
    let inputs = shapes.map(|s| random(rng, s));
    let what = format!("{shapes:?}");
    if let Err(e) = check_gradients(&inputs, |t, v| op(t, v[0], v[1], v[2]), 1e-2, 1e-2) {
        panic!("{what}: {e}");
    }
}
