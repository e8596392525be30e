//! `Dense(2, use_bias=False, kernel_initializer="ones")`: every output is the sum of the
//! inputs, so `[[1, 2], [2, 3], [3, 4]]` predicts `[[3, 3], [5, 5], [7, 7]]`.
//!
//! `cargo run -p rkeras --example dense_ones`

use rkeras::prelude::*;

fn main() -> Result<()> {
    clear_session();
    let model = rkeras::tutorials::dense_ones()?;
    let x = Tensor::new(&[3, 2], vec![1.0, 2.0, 2.0, 3.0, 3.0, 4.0])?;
    let y = model.predict(&[x], 32)?;
    println!("{:?}", y[0].data().chunks(2).collect::<Vec<_>>());
    assert_eq!(y[0].data(), &[3.0, 3.0, 5.0, 5.0, 7.0, 7.0]);
    Ok(())
}

#[test]
fn runs() {
    main().unwrap();
}
