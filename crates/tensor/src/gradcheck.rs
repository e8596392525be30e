//! Gradient checking against central finite differences, used by every op's tests and by
//! layer tests in the library. The function under test is reduced to `Σ r·f(x)` with a fixed
//! random `r`, so one backward pass checks the whole Jacobian-vector product.

use crate::autograd::{Tape, Var};
use crate::error::{Result, TensorError};
use crate::rng::Rng;
use crate::tensor::Tensor;

/// Compares the tape's gradients of `f` at `inputs` to central differences (in f64 where the
/// op allows; f32 otherwise, hence the tolerances). Returns the worst relative error.
///
/// `f` builds its output from the input variables on a fresh tape each call.
pub fn check_gradients(
    inputs: &[Tensor],
    f: impl Fn(&mut Tape, &[Var]) -> Result<Var>,
    eps: f32,
    tol: f32,
) -> Result<f32> {
    let mut tape = Tape::new();
    let vars: Vec<Var> = inputs.iter().map(|t| tape.param(t.clone())).collect();
    let out = f(&mut tape, &vars)?;
    let mut rng = Rng::new(7);
    let out_shape = tape.value(out).shape().to_vec();
    let r = Tensor::new(
        &out_shape,
        (0..crate::tensor::numel(&out_shape))
            .map(|_| rng.uniform_range(-1.0, 1.0) as f32)
            .collect(),
    )?;
    let grads = tape.backward_with(out, r.clone())?;

    let eval = |xs: &[Tensor]| -> Result<f64> {
        let mut t = Tape::new();
        let vs: Vec<Var> = xs.iter().map(|x| t.param(x.clone())).collect();
        let o = f(&mut t, &vs)?;
        Ok(t.value(o)
            .data()
            .iter()
            .zip(r.data())
            .map(|(a, b)| *a as f64 * *b as f64)
            .sum())
    };

    let mut worst = 0.0f32;
    for (k, input) in inputs.iter().enumerate() {
        let analytic = grads
            .get(vars[k])
            .cloned()
            .unwrap_or_else(|| Tensor::zeros(input.shape()));
        for i in 0..input.len() {
            let mut plus = inputs.to_vec();
            plus[k].data_mut()[i] += eps;
            let mut minus = inputs.to_vec();
            minus[k].data_mut()[i] -= eps;
            let numeric = ((eval(&plus)? - eval(&minus)?) / (2.0 * eps as f64)) as f32;
            let a = analytic.data()[i];
            let err = (a - numeric).abs() / (1.0f32).max(a.abs()).max(numeric.abs());
            worst = worst.max(err);
            if err > tol {
                return Err(TensorError::Autograd(format!(
                    "gradient check failed for input {k} element {i}: analytic {a}, numeric {numeric} (relative error {err} > {tol})"
                )));
            }
        }
    }
    Ok(worst)
}
