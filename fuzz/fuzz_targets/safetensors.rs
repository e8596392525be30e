//! safetensors bytes: read every tensor, then load them into a small model (strict name and
//! shape checks). An error or success, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rkeras::prelude::*;
use std::sync::OnceLock;

fn model() -> &'static Model {
    static M: OnceLock<Model> = OnceLock::new();
    M.get_or_init(|| {
        Sequential::new()
            .add(InputLayer::new(&[4, 4, 1]))
            .add(Conv2D::new(2, 3))
            .add(BatchNormalization::new())
            .add(Flatten::new())
            .add(Dense::new(2))
            .build()
            .expect("model")
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = rkeras::io::safetensors::read_safetensors_bytes("fuzz.safetensors", data);
    let mut m = model().clone();
    let _ = rkeras::io::safetensors::load_safetensors_bytes(&mut m, "fuzz.safetensors", data);
});
