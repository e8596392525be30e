//! HDF5 bytes through rkeras's reader layer (`io::hdf5`, over `hdf5-reader`): open, walk the
//! groups (depth- and count-bounded, so a cyclic file cannot loop the walker itself), read
//! every dataset and the string attributes Keras uses. An error or values, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rkeras::io::hdf5::H5Reader;

fn walk(r: &H5Reader, path: &str, depth: usize, budget: &mut usize) {
    if depth > 8 || *budget == 0 {
        return;
    }
    *budget -= 1;
    for attr in ["layer_names", "weight_names", "model_config", "keras_version", "backend"] {
        let _ = r.attr_strings(path, attr);
    }
    let Ok((groups, datasets)) = r.members(path) else { return };
    for d in datasets.iter().take(64) {
        let p = if path.is_empty() { d.clone() } else { format!("{path}/{d}") };
        let _ = r.dataset_shape(&p);
        let _ = r.read_tensor(&p);
    }
    for g in groups.iter().take(64) {
        let p = if path.is_empty() { g.clone() } else { format!("{path}/{g}") };
        walk(r, &p, depth + 1, budget);
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = H5Reader::from_bytes("fuzz.h5", data.to_vec()) {
        let mut budget = 256;
        walk(&r, "", 0, &mut budget);
    }
});
