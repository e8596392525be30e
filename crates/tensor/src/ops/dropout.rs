//! Inverted dropout, as Keras (`tf.nn.dropout`): in training each value is kept with
//! probability `1 − rate` (uniform draw `≥ rate`) and scaled by `1 / (1 − rate)`, so the
//! expected value is unchanged and inference is the identity. `noise_shape` draws a smaller
//! mask that is broadcast over the input: `(n, 1, 1, c)` on NHWC drops whole channels
//! (`SpatialDropout2D`). The layer resolves Keras's `None` entries of `noise_shape` to the
//! input's sizes before calling the op.
//!
//! Backward multiplies the gradient by the same mask.

use crate::autograd::{Tape, Var};
use crate::error::{arg_err, Result};
use crate::ops::elementwise::mul;
use crate::rng::Rng;
use crate::tensor::{numel, Tensor};

/// Checks `0 ≤ rate < 1`.
pub fn check_rate(rate: f32) -> Result<()> {
    if !(0.0..1.0).contains(&rate) {
        return arg_err("dropout", "rate", "a number in [0, 1)", rate);
    }
    Ok(())
}

/// The mask's shape: `noise_shape`, checked to broadcast to the input (same rank, each axis
/// 1 or the input's size), or the input's own shape.
pub fn mask_shape(x_shape: &[usize], noise_shape: Option<&[usize]>) -> Result<Vec<usize>> {
    let Some(ns) = noise_shape else {
        return Ok(x_shape.to_vec());
    };
    if ns.len() != x_shape.len() || ns.iter().zip(x_shape).any(|(&m, &d)| m != 1 && m != d) {
        return arg_err(
            "dropout",
            "noise_shape",
            format!(
                "a shape of rank {} whose axes are 1 or equal to the input's {x_shape:?}",
                x_shape.len()
            ),
            format!("{ns:?}"),
        );
    }
    Ok(ns.to_vec())
}

/// A scaled keep-mask: each value `1 / (1 − rate)` with probability `1 − rate`, else 0.
pub fn dropout_mask(x_shape: &[usize], rate: f32, noise_shape: Option<&[usize]>, rng: &mut Rng) -> Result<Tensor> {
    check_rate(rate)?;
    let shape = mask_shape(x_shape, noise_shape)?;
    // TensorFlow computes the scale in the input's dtype.
    let keep = 1.0f32 / (1.0f32 - rate);
    // `rng.uniform() >= rate` on the draw's 53 bits, as integers: uniform is `k·2⁻⁵³` exactly,
    // so `k·2⁻⁵³ ≥ rate` ⇔ `k ≥ ⌈rate·2⁵³⌉` (the product is exact: a power-of-two scale).
    let threshold = (f64::from(rate) * (1u64 << 53) as f64).ceil() as u64;
    let mut data = Vec::with_capacity(numel(&shape));
    data.extend((0..numel(&shape)).map(|_| if rng.next_u64() >> 11 >= threshold { keep } else { 0.0 }));
    Tensor::new(&shape, data)
}

/// Dropout of `x`; the identity when not training or when `rate` is 0 (no draw is made).
pub fn dropout(x: &Tensor, rate: f32, noise_shape: Option<&[usize]>, rng: &mut Rng, training: bool) -> Result<Tensor> {
    check_rate(rate)?;
    mask_shape(x.shape(), noise_shape)?;
    if !training || rate == 0.0 {
        return Ok(x.clone());
    }
    mul(x, &dropout_mask(x.shape(), rate, noise_shape, rng)?)
}

/// Gradient of dropout: the output's gradient times the mask (broadcast).
pub fn dropout_backward(grad: &Tensor, mask: &Tensor) -> Result<Tensor> {
    mul(grad, mask)
}

impl Tape {
    /// Dropout on the tape; returns `x` itself when not training or when `rate` is 0.
    pub fn dropout(
        &mut self,
        x: Var,
        rate: f32,
        noise_shape: Option<&[usize]>,
        rng: &mut Rng,
        training: bool,
    ) -> Result<Var> {
        check_rate(rate)?;
        let xv = self.try_value(x)?;
        mask_shape(xv.shape(), noise_shape)?;
        if !training || rate == 0.0 {
            return Ok(x);
        }
        let mask = dropout_mask(xv.shape(), rate, noise_shape, rng)?;
        let value = mul(xv, &mask)?;
        self.record(
            value,
            &[x],
            Box::new(move |g, _, _| Ok(vec![Some(dropout_backward(g, &mask)?)])),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::check_gradients;

    #[test]
    fn kept_values_are_scaled_and_the_rate_is_respected() {
        let x = Tensor::ones(&[100, 100]);
        let y = dropout(&x, 0.2, None, &mut Rng::new(1), true).unwrap();
        let kept = y.data().iter().filter(|&&v| v != 0.0).count();
        assert!(
            y.data().iter().all(|&v| v == 0.0 || v == 1.25),
            "values are 0 or 1/(1 − 0.2)"
        );
        assert!((kept as f64 / 1e4 - 0.8).abs() < 0.02, "kept {kept} of 10000");
        // Same seed, same mask.
        assert_eq!(y, dropout(&x, 0.2, None, &mut Rng::new(1), true).unwrap());
        assert_ne!(y, dropout(&x, 0.2, None, &mut Rng::new(2), true).unwrap());
    }

    #[test]
    fn inference_and_rate_zero_are_the_identity() {
        let x = Tensor::arange(&[2, 3]);
        let mut rng = Rng::new(3);
        assert_eq!(dropout(&x, 0.5, None, &mut rng, false).unwrap(), x);
        assert_eq!(dropout(&x, 0.0, None, &mut rng, true).unwrap(), x);
        let mut tape = Tape::new();
        let v = tape.param(x);
        assert_eq!(tape.dropout(v, 0.5, None, &mut rng, false).unwrap(), v);
    }

    #[test]
    fn noise_shape_drops_whole_channels() {
        // NHWC (2, 3, 3, 4) with noise (2, 1, 1, 4): each (n, c) pair is all kept or all dropped.
        let x = Tensor::ones(&[2, 3, 3, 4]);
        let y = dropout(&x, 0.5, Some(&[2, 1, 1, 4]), &mut Rng::new(5), true).unwrap();
        for n in 0..2 {
            for c in 0..4 {
                let first = y.data()[n * 36 + c];
                assert!(first == 0.0 || first == 2.0);
                assert!((0..9).all(|p| y.data()[n * 36 + p * 4 + c] == first));
            }
        }
    }

    #[test]
    fn backward_multiplies_by_the_mask() {
        let mut tape = Tape::new();
        let x = tape.param(Tensor::arange(&[4, 5]));
        let y = tape.dropout(x, 0.5, None, &mut Rng::new(8), true).unwrap();
        let s = tape.sum_all(y).unwrap();
        let g = tape.backward(s).unwrap();
        let mask = dropout_mask(&[4, 5], 0.5, None, &mut Rng::new(8)).unwrap();
        assert_eq!(g.get(x).unwrap(), &mask);
        let xs = Tensor::arange(&[2, 3, 4]);
        check_gradients(
            &[xs],
            |tp, v| tp.dropout(v[0], 0.3, Some(&[2, 1, 4]), &mut Rng::new(4), true),
            1e-2,
            1e-2,
        )
        .unwrap();
    }

    #[test]
    fn bad_rate_and_noise_shape_are_errors() {
        let x = Tensor::ones(&[2, 3]);
        let mut rng = Rng::new(0);
        let e = dropout(&x, 1.0, None, &mut rng, true).unwrap_err().to_string();
        assert_eq!(e, "dropout: argument `rate`: expected a number in [0, 1), received 1");
        assert!(dropout(&x, -0.1, None, &mut rng, false).is_err());
        assert!(dropout(&x, f32::NAN, None, &mut rng, true).is_err());
        let e = dropout(&x, 0.5, Some(&[2, 2]), &mut rng, true).unwrap_err().to_string();
        assert!(e.contains("noise_shape") && e.contains("[2, 2]"), "{e}");
        assert!(dropout(&x, 0.5, Some(&[3]), &mut rng, true).is_err());
        let mut tape = Tape::new();
        let v = tape.param(x);
        assert!(tape.dropout(v, 1.5, None, &mut rng, true).is_err());
    }
}
