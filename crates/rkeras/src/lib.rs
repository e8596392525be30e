//! rkeras: Keras for Rust. Build, inspect, verify and train convolutional networks with
//! Keras's names, numbers and file formats, on a native engine ([`tensor`]).
//!
//! ```
//! use rkeras::prelude::*;
//! clear_session();
//! let model = Sequential::new()
//!     .add(InputLayer::new(&[28, 28, 1]))
//!     .add(Conv2D::new(32, 3).activation("relu"))
//!     .build()
//!     .unwrap();
//! assert_eq!(model.count_params(), (3 * 3 * 1 + 1) * 32);
//! ```
#![warn(missing_docs)]

pub mod activations;
pub mod applications;
pub mod callbacks;
pub mod config;
pub mod constraints;
pub mod datasets;
pub mod distribute;
pub mod error;
pub mod explain;
pub mod initializers;
pub mod io;
pub mod kshape;
pub mod layers;
pub mod model;
pub mod preprocessing;
pub mod regularizers;
pub mod summary;
pub mod training;
pub mod tutorials;
pub mod utils;

pub use error::{KerasError, Result};
pub use model::saving::load_model;
pub use model::{clear_session, KerasTensor, Model, Sequential};

/// Everything a model-building program needs.
pub mod prelude {
    pub use crate::error::{KerasError, Result};
    pub use crate::layers::input::{Input, InputLayer};
    pub use crate::layers::*;
    pub use crate::model::functional::set_random_seed;
    pub use crate::model::{clear_session, Call, KerasTensor, Model, Sequential, Shared};
    pub use tensor::Tensor;
}
