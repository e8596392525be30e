//! The rkeras engine: f32 tensors in Keras's layout (NHWC activations, `(kh, kw, in/groups,
//! filters)` kernels, `(in, out)` dense kernels), primitive ops with forward and backward side
//! by side, a tape autograd, fast CPU kernels checked against naive reference kernels, and a
//! seeded RNG. It knows nothing of layers.
#![warn(missing_docs)]

pub mod autograd;
pub mod determinism;
pub mod error;
pub mod gradcheck;
pub mod kernels;
pub mod ops;
pub mod rng;
pub mod shape;
pub mod tensor;

pub use autograd::{BackwardFn, Gradients, Tape, Var};
pub use determinism::{disable_determinism, enable_determinism, is_deterministic};
pub use error::{Result, TensorError};
pub use rng::Rng;
pub use shape::{AxisGeometry, Padding};
pub use tensor::Tensor;
