//! The library's one error enum. A message names the layer (or file) and the argument, what
//! was expected and what was received.

use thiserror::Error;

/// Everything rkeras can refuse.
#[derive(Debug, Error)]
pub enum KerasError {
    /// A layer argument is invalid (`filters=0`, unknown activation name, …).
    #[error("{layer}: argument `{arg}`: expected {expected}. Received: {arg}={received}")]
    Argument {
        /// Layer name (or class name before a name is known).
        layer: String,
        /// Keras's argument name.
        arg: String,
        /// What is allowed.
        expected: String,
        /// What was given, as Keras echoes it.
        received: String,
    },
    /// A layer cannot take the shapes it is given.
    #[error("{layer}: {detail}")]
    Shape {
        /// Layer name.
        layer: String,
        /// Expected vs received, with the arithmetic.
        detail: String,
    },
    /// A model graph is malformed (cycle, dangling input, unknown layer reference).
    #[error("model {model}: {detail}")]
    Graph {
        /// Model name.
        model: String,
        /// What is wrong.
        detail: String,
    },
    /// A Keras config (JSON) cannot be read.
    #[error("config: {0}")]
    Config(String),
    /// An engine op failed.
    #[error(transparent)]
    Tensor(#[from] tensor::TensorError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Any other invalid input (bad npy/npz data, …), with its message.
    #[error("{0}")]
    Invalid(String),
}

/// Result with [`KerasError`].
pub type Result<T> = std::result::Result<T, KerasError>;

/// An argument error for `layer`.
pub fn arg_error(layer: &str, arg: &str, expected: impl Into<String>, received: impl std::fmt::Display) -> KerasError {
    KerasError::Argument {
        layer: layer.to_string(),
        arg: arg.to_string(),
        expected: expected.into(),
        received: received.to_string(),
    }
}

/// A shape error for `layer`.
pub fn shape_error(layer: &str, detail: impl Into<String>) -> KerasError {
    KerasError::Shape {
        layer: layer.to_string(),
        detail: detail.into(),
    }
}

/// Re-labels an engine error with the layer that raised it.
pub fn in_layer(layer: &str) -> impl Fn(tensor::TensorError) -> KerasError + '_ {
    move |e| KerasError::Shape {
        layer: layer.to_string(),
        detail: e.to_string(),
    }
}
