//! `.keras` bytes (zip of config.json, metadata.json, model.weights.h5) through
//! `load_model`'s reader: an error or a model with its weights, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rkeras::io::keras_file::model_from_keras_bytes("fuzz.keras", data);
});
