//! Models nest as layers: `model3 = Sequential([model, model2])` where `model2` itself holds
//! `model`. Shared variables count once (6 parameters in all), as in Keras.
//!
//! `cargo run -p rkeras --example nested_sequential`

use rkeras::summary::SummaryOptions;

fn main() -> rkeras::Result<()> {
    rkeras::clear_session();
    let (_, _, model3) = rkeras::tutorials::nested()?;
    print!(
        "{}",
        model3.summary(&SummaryOptions {
            expand_nested: true,
            ..SummaryOptions::default()
        })?
    );
    assert_eq!(model3.count_params(), 6);
    Ok(())
}

#[test]
fn runs() {
    main().unwrap();
}
