//! Residual blocks: an identity shortcut, and a strided block whose shortcut is a 1×1
//! projection with stride 2 so both branches meet at 16×16×128.
//!
//! `cargo run -p rkeras --example residual_block`

use rkeras::summary::SummaryOptions;

fn main() -> rkeras::Result<()> {
    for (filters, stride) in [(64, 1), (128, 2)] {
        rkeras::clear_session();
        let model = rkeras::tutorials::residual_block(filters, stride)?;
        print!(
            "{}",
            model.summary(&SummaryOptions {
                explain: true,
                ..SummaryOptions::default()
            })?
        );
    }
    Ok(())
}

#[test]
fn runs() {
    main().unwrap();
}
