//! tf-keras legacy full-model `.h5` bytes (`model_config` attribute + `model_weights`)
//! through `load_model`'s reader: an error or a model, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rkeras::io::legacy_h5::model_from_h5_bytes("fuzz.h5", data.to_vec());
});
