//! IDX bytes (MNIST's format), gzip-compressed or not, as `datasets::idx::read_idx` reads a
//! file: an error or an array, never a panic; memory bounded by the input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rkeras::datasets::idx::{maybe_gunzip, read_idx_bytes, MAX_IDX_BYTES};

fuzz_target!(|data: &[u8]| {
    if let Ok(bytes) = maybe_gunzip("fuzz.idx", data.to_vec(), MAX_IDX_BYTES) {
        let _ = read_idx_bytes("fuzz.idx", &bytes);
    }
});
