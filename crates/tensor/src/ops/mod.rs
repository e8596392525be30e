//! The primitive ops, one file per family. Each file holds the fast kernel, the naive
//! reference kernel it is tested against, the backward rule, and the family's `Tape` methods.

pub mod activation;
pub mod batchnorm;
mod broadcast;
pub mod conv;
pub(crate) mod conv_common;
mod conv_direct;
pub mod conv_gemm;
pub mod conv_transpose;
pub mod depthwise;
pub mod dropout;
pub mod elementwise;
pub mod gemm;
pub mod matmul;
pub mod pad;
pub mod pool;
pub mod reduce;
pub mod shape_ops;
pub mod softmax;
#[cfg(test)]
pub(crate) mod test_util;
