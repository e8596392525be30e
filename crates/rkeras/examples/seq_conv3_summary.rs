//! The tutorials' first model: three Conv2D layers on 28×28×1, its summary in both Keras
//! styles, then rkeras's `--explain` of every number (`(3·3·32 + 1)·64 = 18,496`).
//!
//! `cargo run -p rkeras --example seq_conv3_summary`

use rkeras::summary::{SummaryOptions, SummaryStyle};

fn main() -> rkeras::Result<()> {
    let model = rkeras::tutorials::seq_conv3()?;
    print!("{}", model.summary(&SummaryOptions::default())?);
    print!(
        "{}",
        model.summary(&SummaryOptions {
            style: SummaryStyle::Keras2,
            ..SummaryOptions::default()
        })?
    );
    print!(
        "{}",
        model.summary(&SummaryOptions {
            explain: true,
            ..SummaryOptions::default()
        })?
    );
    assert_eq!(model.count_params(), 92_672);
    Ok(())
}

#[test]
fn runs() {
    main().unwrap();
}
