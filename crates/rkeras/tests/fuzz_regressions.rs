//! Inputs found by fuzzing or by hand while fuzzing (`fuzz/README.md`), kept in
//! `fuzz/regressions/`: each must be refused with an error naming the problem, never a panic
//! or an abort. A test is `#[ignore]`d while its bug is open, with the reason (none is open:
//! weights are size-checked before allocation, `initializers::weight_elements`).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

fn regression(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions")
        .join(name)
}

/// Runs `f`; the error message, or a failure for a panic or a success.
fn refused(f: impl FnOnce() -> rkeras::Result<()>) -> String {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Err(e)) => e.to_string(),
        Ok(Ok(())) => panic!("loaded without error"),
        Err(_) => panic!("panicked"),
    }
}

fn json(name: &str) -> rkeras::Result<()> {
    let text = std::fs::read_to_string(regression(name)).unwrap();
    rkeras::io::keras_json::model_from_json(&text).map(drop)
}

/// A 3 KB config with `Dense(units=10**12)`: building the model asks the initializer for
/// 2·10^13 floats (80 TB), and the allocation failure aborts the process
/// (`Initializer::generate` collects into a `Vec` before any size check).
#[test]
fn json_with_a_huge_dense_is_an_error() {
    let e = refused(|| json("keras_json-huge-dense-units.json"));
    assert!(e.contains("dense"), "{e}");
}

/// The same in a `.keras` file (whose weights member holds 3·4 + 3 floats for that layer):
/// `load_model` builds the model before reading the weights, and aborts the same way.
#[test]
fn keras_file_with_a_huge_dense_is_an_error() {
    let e = refused(|| rkeras::load_model(regression("keras_file-huge-dense-units.keras")).map(drop));
    assert!(e.contains("keras_file-huge-dense-units.keras"), "{e}");
}

/// `Dense(units=2**62)` on 4 inputs: the kernel's element count overflows `usize`, which
/// panics with overflow checks on (`shape.iter().product()` in `Initializer::generate`) and
/// wraps to a wrong size without them.
#[test]
fn json_with_an_overflowing_dense_is_an_error() {
    let e = refused(|| json("keras_json-overflowing-dense-units.json"));
    assert!(e.contains("dense"), "{e}");
}
