//! `.npy` bytes: an error or an array, never a panic; memory bounded by the input.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rkeras::io::npy::read_npy_bytes("fuzz.npy", data);
});
