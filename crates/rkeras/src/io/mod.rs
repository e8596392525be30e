//! Keras files: JSON model configs (Keras 3 and tf-keras 2), and the arrays tests and the
//! CLI exchange (`.npy`, `.npz`).

pub mod keras_json;
pub mod npy;
pub mod safetensors;
