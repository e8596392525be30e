//! The engine's one error enum. Messages say what was expected and what was received.

use thiserror::Error;

/// Everything an engine op can refuse.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum TensorError {
    /// Two shapes do not fit together for an op.
    #[error("{op}: {detail}")]
    Shape {
        /// The op (`conv2d`, `matmul`, `add`, …).
        op: &'static str,
        /// What was expected and what was received, with the arithmetic.
        detail: String,
    },
    /// An argument is out of range (stride 0, groups not dividing channels, …).
    #[error("{op}: argument `{arg}`: expected {expected}, received {received}")]
    Argument {
        /// The op.
        op: &'static str,
        /// The argument's name, as Keras spells it.
        arg: &'static str,
        /// What is allowed.
        expected: String,
        /// What was given.
        received: String,
    },
    /// A data buffer does not hold as many values as the shape says.
    #[error("tensor: shape {shape:?} needs {expected} values, received {received}")]
    DataLength {
        /// The shape asked for.
        shape: Vec<usize>,
        /// Its element count.
        expected: usize,
        /// The buffer's length.
        received: usize,
    },
    /// A tape variable that does not belong to this tape, or a backward call without a scalar.
    #[error("autograd: {0}")]
    Autograd(String),
}

/// Result with [`TensorError`].
pub type Result<T> = std::result::Result<T, TensorError>;

/// Shorthand for a [`TensorError::Shape`].
pub(crate) fn shape_err<T>(op: &'static str, detail: impl Into<String>) -> Result<T> {
    Err(TensorError::Shape {
        op,
        detail: detail.into(),
    })
}

/// Shorthand for a [`TensorError::Argument`].
pub(crate) fn arg_err<T>(
    op: &'static str,
    arg: &'static str,
    expected: impl Into<String>,
    received: impl std::fmt::Display,
) -> Result<T> {
    Err(TensorError::Argument {
        op,
        arg,
        expected: expected.into(),
        received: received.to_string(),
    })
}
