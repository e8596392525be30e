//! LeNet-5 built three ways — Sequential, Functional API, and a subclass — with the same
//! parameter count (61,706) and, given the same weights, the same predictions (to float
//! rounding: the Sequential and Functional models run the inference plan's fused kernels, the
//! subclass's custom layer runs its own ops on the tape).
//!
//! `cargo run -p rkeras --example lenet5_three_ways`

use rkeras::prelude::*;
use rkeras::summary::SummaryOptions;
use rkeras::tutorials;

fn main() -> Result<()> {
    clear_session();
    let seq = tutorials::lenet5_sequential()?;
    let mut func = tutorials::lenet5_functional()?;
    let mut sub = tutorials::lenet5_subclass()?;
    for m in [&seq, &func, &sub] {
        print!("{}", m.summary(&SummaryOptions::default())?);
    }
    func.set_weights(&seq.get_weights())?;
    sub.set_weights(&seq.get_weights())?;
    let x = Tensor::new(
        &[4, 28, 28, 1],
        (0..4 * 784).map(|i| ((i * 31) % 256) as f32 / 255.0).collect(),
    )?;
    let (a, b, c) = (
        seq.predict(std::slice::from_ref(&x), 32)?,
        func.predict(std::slice::from_ref(&x), 32)?,
        sub.predict(&[x], 32)?,
    );
    let (ab, ac) = (a[0].max_abs_diff(&b[0])?, a[0].max_abs_diff(&c[0])?);
    assert!(ab <= 1e-6 && ac <= 1e-6, "predictions differ: {ab} {ac}");
    println!(
        "Sequential, Functional and subclassed LeNet-5: {} parameters each, the same predictions (largest difference {:.1e})",
        seq.count_params(),
        ab.max(ac)
    );
    Ok(())
}

#[test]
fn runs() {
    main().unwrap();
}
