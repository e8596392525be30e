//! Helpers shared by the integration tests: `mod common;` in a test file, then
//! `common::npy::load(common::fixture("case.input.npy"))`.
#![allow(dead_code)]

pub mod npy;

use std::path::PathBuf;

/// Path of a file in `crates/tensor/tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name)
}
