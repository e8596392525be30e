//! Inputs found by fuzzing or by hand while fuzzing (`fuzz/README.md`), kept in
//! `fuzz/regressions/`: each must be refused with an error naming the problem, never a panic
//! or an abort (or a leak). A test is `#[ignore]`d while its bug is open, with the reason (none
//! is open: weights are size-checked before allocation, `initializers::weight_elements`; a
//! pickle that contains itself is refused, and an array's size is checked for overflow).

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

fn pickle(name: &str) -> rkeras::Result<()> {
    let bytes = std::fs::read(regression(name)).unwrap();
    let v = rkeras::datasets::pickle::load(&bytes, name)?;
    // What the IMDB reader does with the value: its integers.
    v.to_ints(name).map(drop)
}

/// Found by the `pickle` fuzz target (LeakSanitizer): a list appended to itself through the
/// memo (`] q0 h0 a`, or DUP) is a reference cycle, which `Rc` never frees; every such input
/// leaked, whether it loaded, failed later, or dropped the cycle before the end.
#[test]
fn pickle_with_a_list_holding_itself_is_an_error() {
    let e = refused(|| pickle("pickle-list-holds-itself.pkl"));
    assert!(
        e.contains("pickle-list-holds-itself.pkl") && e.contains("contains itself"),
        "{e}"
    );
    // A cycle dropped from the stack before the result, and one left behind by an error.
    let garbage = rkeras::datasets::pickle::load(b"\x80\x02]q\x00h\x00a0N.", "garbage.pkl");
    assert!(garbage.unwrap_err().to_string().contains("contains itself"));
    let truncated = rkeras::datasets::pickle::load(b"\x80\x02]q\x00h\x00a", "truncated.pkl");
    assert!(truncated.unwrap_err().to_string().contains("truncated"));
}

/// Found by reading the code while writing the `pickle` target (its 10-minute run did not
/// reach it): a uint8 array of shape `(2**62, 4)` holding no bytes; its
/// size (`shape.iter().product()`) overflowed, a panic with overflow checks (a wrong size
/// without them) when its values were read.
#[test]
fn pickle_with_an_overflowing_array_shape_is_an_error() {
    let e = refused(|| pickle("pickle-overflowing-array-shape.pkl"));
    assert!(
        e.contains("pickle-overflowing-array-shape.pkl") && e.contains("more than 2^64 bytes"),
        "{e}"
    );
}
