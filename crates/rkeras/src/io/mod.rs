//! Keras files: JSON model configs (Keras 3 and tf-keras 2), and the arrays tests and the
//! CLI exchange (`.npy`, `.npz`).

pub mod atomic;
pub mod hdf5;
pub mod hdf5_write;
pub mod keras2_json;
pub mod keras_file;
pub mod keras_json;
pub mod legacy_h5;
pub mod npy;
pub mod safetensors;
pub mod weights_layout;
