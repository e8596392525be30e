//! rkeras: Keras for Rust.
pub mod summary;
