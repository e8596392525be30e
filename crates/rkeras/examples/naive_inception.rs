//! The naive inception block: parallel 1×1, 3×3 and 5×5 convolutions and a 3×3 max pooling
//! on the same input, concatenated on the channels (64 + 128 + 32 + 3 = 227).
//!
//! `cargo run -p rkeras --example naive_inception`

use rkeras::summary::SummaryOptions;

fn main() -> rkeras::Result<()> {
    rkeras::clear_session();
    let model = rkeras::tutorials::naive_inception()?;
    print!(
        "{}",
        model.summary(&SummaryOptions {
            explain: true,
            ..SummaryOptions::default()
        })?
    );
    assert_eq!(model.output_shapes()[0], vec![None, Some(28), Some(28), Some(227)]);
    Ok(())
}

#[test]
fn runs() {
    main().unwrap();
}
