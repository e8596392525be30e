//! Shape arithmetic, written once: the kernels, the layers, the graph builder, the summary
//! and `--explain` all call these, so an output size is computed in exactly one place.
//!
//! `same` padding is TensorFlow's: total padding `max((out − 1)·s + (k − 1)·d + 1 − in, 0)`,
//! with the odd extra pixel at the bottom/right.

use crate::error::{arg_err, shape_err, Result};

/// Padding mode of a convolution or pooling window along one axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// No padding: windows must fit inside the input.
    Valid,
    /// TensorFlow's `same`: output size `⌈in / stride⌉`.
    Same,
    /// Explicit padding before and after (used by composite ops and by transposed convs).
    Explicit(usize, usize),
}

impl Padding {
    /// Keras's name for the mode (`valid`, `same`); explicit shows its numbers.
    pub fn name(&self) -> String {
        match self {
            Padding::Valid => "valid".into(),
            Padding::Same => "same".into(),
            Padding::Explicit(a, b) => format!("({a}, {b})"),
        }
    }
}

/// How one spatial axis of a window op maps input to output; the numbers `--explain` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AxisGeometry {
    /// Input size.
    pub input: usize,
    /// Kernel (window) size.
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
    /// Dilation.
    pub dilation: usize,
    /// Padding added before (top/left).
    pub pad_before: usize,
    /// Padding added after (bottom/right).
    pub pad_after: usize,
    /// Output size.
    pub output: usize,
}

impl AxisGeometry {
    /// The dilated kernel extent `(k − 1)·d + 1`.
    pub fn effective_kernel(&self) -> usize {
        (self.kernel - 1) * self.dilation + 1
    }
}

/// Output size of a strided, dilated, padded window along one axis.
///
/// `op` names the caller in errors (a layer name or an op name).
pub fn window_axis(
    op: &'static str,
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    padding: Padding,
) -> Result<AxisGeometry> {
    if kernel == 0 {
        return arg_err(op, "kernel_size", "a positive integer", kernel);
    }
    if stride == 0 {
        return arg_err(op, "strides", "a positive integer", stride);
    }
    if dilation == 0 {
        return arg_err(op, "dilation_rate", "a positive integer", dilation);
    }
    let eff = (kernel - 1) * dilation + 1;
    let (pad_before, pad_after, output) = match padding {
        Padding::Same => {
            let out = input.div_ceil(stride);
            let total = ((out.max(1) - 1) * stride + eff).saturating_sub(input);
            (total / 2, total - total / 2, out)
        }
        Padding::Valid | Padding::Explicit(..) => {
            let (pb, pa) = if let Padding::Explicit(a, b) = padding { (a, b) } else { (0, 0) };
            let padded = input + pb + pa;
            if padded < eff {
                return shape_err(
                    op,
                    format!(
                        "kernel {kernel} (dilated extent {eff}) does not fit input {input} with padding '{}': ({input} + {} − {eff})/{stride} + 1 < 1",
                        padding.name(),
                        pb + pa
                    ),
                );
            }
            (pb, pa, (padded - eff) / stride + 1)
        }
    };
    Ok(AxisGeometry { input, kernel, stride, dilation, pad_before, pad_after, output })
}

/// Output size of a transposed convolution along one axis, as Keras's `deconv_output_length`.
///
/// Returns `(output, pad_before)` where `pad_before` is the number of leading rows cropped from
/// the full (`valid`, no output padding) transposed result.
pub fn transpose_axis(
    op: &'static str,
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    padding: Padding,
    output_padding: Option<usize>,
) -> Result<(usize, usize)> {
    if kernel == 0 {
        return arg_err(op, "kernel_size", "a positive integer", kernel);
    }
    if stride == 0 {
        return arg_err(op, "strides", "a positive integer", stride);
    }
    if dilation == 0 {
        return arg_err(op, "dilation_rate", "a positive integer", dilation);
    }
    let eff = (kernel - 1) * dilation + 1;
    let pad = match padding {
        Padding::Valid => 0,
        Padding::Same => eff / 2,
        Padding::Explicit(a, _) => a,
    };
    let out = match output_padding {
        None => match padding {
            Padding::Valid => input * stride + eff.saturating_sub(stride),
            Padding::Same => input * stride,
            Padding::Explicit(a, b) => ((input - 1) * stride + eff).saturating_sub(a + b),
        },
        Some(op_) => {
            if op_ >= stride {
                return arg_err(op, "output_padding", format!("less than strides ({stride})"), op_);
            }
            ((input.max(1) - 1) * stride + eff + op_).saturating_sub(2 * pad)
        }
    };
    if out == 0 {
        return shape_err(op, format!("transposed convolution of input {input} gives an empty output"));
    }
    // Leading crop relative to the full result of size (input − 1)·s + eff.
    let full = (input.max(1) - 1) * stride + eff;
    let crop_before = match padding {
        Padding::Valid => 0,
        Padding::Same | Padding::Explicit(..) => {
            if full + output_padding.unwrap_or(0) >= out {
                // TensorFlow places the extra row at the end: crop floor(total/2) in front.
                let total = (full + output_padding.unwrap_or(0)).saturating_sub(out);
                if output_padding.is_some() { pad } else { total / 2 }
            } else {
                0
            }
        }
    };
    Ok((out, crop_before))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_and_same_match_tensorflow() {
        let g = window_axis("t", 28, 3, 1, 1, Padding::Valid).unwrap();
        assert_eq!((g.output, g.pad_before, g.pad_after), (26, 0, 0));
        // 7 with stride 2, k 3: out 4, total pad (4−1)·2+3−7 = 2 → 1/1.
        let g = window_axis("t", 7, 3, 2, 1, Padding::Same).unwrap();
        assert_eq!((g.output, g.pad_before, g.pad_after), (4, 1, 1));
        // 8 with stride 2, k 3: out 4, total pad 1 → 0 before, 1 after (bottom/right).
        let g = window_axis("t", 8, 3, 2, 1, Padding::Same).unwrap();
        assert_eq!((g.output, g.pad_before, g.pad_after), (4, 0, 1));
        // dilation 2, k 3 → extent 5.
        let g = window_axis("t", 10, 3, 1, 2, Padding::Valid).unwrap();
        assert_eq!(g.output, 6);
    }

    #[test]
    fn errors_name_the_argument() {
        let e = window_axis("conv2d_3", 3, 5, 1, 1, Padding::Valid).unwrap_err().to_string();
        assert!(e.contains("conv2d_3") && e.contains("(3 + 0 − 5)/1 + 1 < 1"), "{e}");
        let e = window_axis("c", 3, 3, 0, 1, Padding::Valid).unwrap_err().to_string();
        assert!(e.contains("strides") && e.contains("received 0"), "{e}");
    }

    #[test]
    fn transpose_sizes_match_keras() {
        assert_eq!(transpose_axis("t", 7, 3, 2, 1, Padding::Valid, None).unwrap().0, 15);
        assert_eq!(transpose_axis("t", 7, 3, 2, 1, Padding::Same, None).unwrap().0, 14);
        assert_eq!(transpose_axis("t", 7, 3, 1, 1, Padding::Valid, None).unwrap().0, 9);
    }
}
