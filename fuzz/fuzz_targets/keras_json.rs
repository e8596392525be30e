//! Keras JSON model configs (Keras 3 and tf-keras 2): build the model, and when it builds,
//! write it back and print its summary. An error or a model, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(model) = rkeras::io::keras_json::model_from_json(text) {
        let _ = rkeras::io::keras_json::model_to_json(&model);
        let _ = model.summary(&Default::default());
    }
});
