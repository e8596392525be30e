//! Weight files (`.weights.h5` Keras 3 layout, or legacy `.h5` weights) loaded into a fixed
//! model (Input (4,), Dense(3) "dense", Dense(2) "dense_1": the seeds' model), plainly and
//! with `by_name` + `skip_mismatch`. An error or loaded weights, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rkeras::io::hdf5::H5Reader;
use rkeras::model::saving::LoadWeightsOptions;
use rkeras::prelude::*;
use std::sync::OnceLock;

fn model() -> &'static Model {
    static M: OnceLock<Model> = OnceLock::new();
    M.get_or_init(|| {
        let inp = Input(&[4]).expect("input");
        let x = Dense::new(3).name("dense").call(&inp).expect("dense");
        let y = Dense::new(2).name("dense_1").call(&x).expect("dense_1");
        Model::new(&[&inp], &[&y], Some("dense_model")).expect("model")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(r) = H5Reader::from_bytes("fuzz.weights.h5", data.to_vec()) else { return };
    let mut m = model().clone();
    let _ = m.load_weights_from(&r, LoadWeightsOptions::default());
    let mut m = model().clone();
    let opts = LoadWeightsOptions {
        by_name: true,
        skip_mismatch: true,
    };
    let _ = m.load_weights_from(&r, opts);
});
