//! `.npz` bytes (a zip of `.npy` members): an error or arrays, never a panic; memory bounded
//! by the input (zip bombs refused).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rkeras::io::npy::read_npz_bytes("fuzz.npz", data);
});
