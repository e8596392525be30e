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
            let (pb, pa) = if let Padding::Explicit(a, b) = padding {
                (a, b)
            } else {
                (0, 0)
            };
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
    Ok(AxisGeometry {
        input,
        kernel,
        stride,
        dilation,
        pad_before,
        pad_after,
        output,
    })
}

/// One axis of a window op whose input was zero-padded by `zeros = (before, after)` first, as
/// one explicit padding of the unpadded input: the op's own `padding` computed on the padded
/// size `input_padded`, plus the zeros (the same windows over the same values, so a
/// `ZeroPadding2D` before a convolution need not be materialized). `None` where the window
/// does not fit the padded input.
pub fn absorb_zeros(
    padding: Padding,
    input_padded: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    zeros: (usize, usize),
) -> Option<Padding> {
    let g = window_axis("absorb_zeros", input_padded, kernel, stride, dilation, padding).ok()?;
    Some(Padding::Explicit(g.pad_before + zeros.0, g.pad_after + zeros.1))
}

/// Output size of a transposed convolution along one axis, as Keras's `deconv_output_length`.
///
/// Returns `(output, crop_before)`: the transposed convolution scatters input pixel `i` through
/// kernel tap `k` to output row `i·stride + k·dilation − crop_before` (rows outside
/// `[0, output)` are dropped). Keras runs `tf.nn.conv_transpose`, the gradient of a forward
/// convolution whose *input* has `output` rows with the same `padding`, so `crop_before` is
/// that forward convolution's leading pad: 0 for `valid`; for `same`, `⌊total/2⌋` with
/// `total = max((in − 1)·s + eff − out, 0)` (TensorFlow's split, the odd row at the end; note
/// this is not Keras's `eff // 2` once `output_padding` is given). `Explicit(a, b)` crops `a`
/// in front and `b` behind.
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
    if input == 0 {
        return shape_err(op, "transposed convolution of an empty input (size 0)");
    }
    if let Some(p) = output_padding {
        if p >= stride {
            return arg_err(op, "output_padding", format!("less than strides ({stride})"), p);
        }
    }
    let eff = (kernel - 1) * dilation + 1;
    // The full ('valid', no output padding) result: every tap of every input pixel lands.
    let full = (input - 1) * stride + eff;
    let out = match (padding, output_padding) {
        (Padding::Valid, None) => input * stride + eff.saturating_sub(stride),
        (Padding::Same, None) => input * stride,
        (Padding::Valid, Some(p)) => full + p,
        // Keras: (in − 1)·s + eff − 2·(eff // 2) + output_padding.
        (Padding::Same, Some(p)) => (input - 1) * stride + eff % 2 + p,
        (Padding::Explicit(a, b), p) => (full + p.unwrap_or(0)).saturating_sub(a + b),
    };
    if out == 0 {
        return shape_err(
            op,
            format!("transposed convolution of input {input} gives an empty output"),
        );
    }
    let crop_before = match padding {
        Padding::Valid => 0,
        Padding::Same => {
            // TensorFlow requires the forward 'same' convolution of `out` rows to give back
            // `input` rows: ⌈out/s⌉ = in. It fails for an even extent with output_padding 0.
            if out.div_ceil(stride) != input {
                return shape_err(
                    op,
                    format!(
                        "padding 'same' with output_padding {} gives output {out}, but ⌈{out}/{stride}⌉ = {} ≠ input {input} (TensorFlow refuses this too)",
                        output_padding.unwrap_or(0),
                        out.div_ceil(stride)
                    ),
                );
            }
            full.saturating_sub(out) / 2
        }
        Padding::Explicit(a, _) => a,
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
        let e = window_axis("conv2d_3", 3, 5, 1, 1, Padding::Valid)
            .unwrap_err()
            .to_string();
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

    #[test]
    fn transpose_crop_is_tensorflows_same_split() {
        // k 3, s 2, same: out 2·in = 14, full 15 → total 1 → crop 0 (odd row at the end).
        assert_eq!(transpose_axis("t", 7, 3, 2, 1, Padding::Same, None).unwrap(), (14, 0));
        // k 3, s 1, same: out 7, full 9 → crop 1.
        assert_eq!(transpose_axis("t", 7, 3, 1, 1, Padding::Same, None).unwrap(), (7, 1));
        // k 3, s 2, same, output_padding 1: out (7−1)·2 + 3 − 2 + 1 = 14, full 15 → crop 0
        // (Keras's formula would say eff // 2 = 1, TensorFlow computes 0).
        assert_eq!(
            transpose_axis("t", 7, 3, 2, 1, Padding::Same, Some(1)).unwrap(),
            (14, 0)
        );
        // k 3, s 2, same, output_padding 0: out 13, full 15 → crop 1.
        assert_eq!(
            transpose_axis("t", 7, 3, 2, 1, Padding::Same, Some(0)).unwrap(),
            (13, 1)
        );
        // k 4, s 2, valid, output_padding 1: out (3−1)·2 + 4 + 1 = 9, crop 0.
        assert_eq!(
            transpose_axis("t", 3, 4, 2, 1, Padding::Valid, Some(1)).unwrap(),
            (9, 0)
        );
        // k 1, s 3, valid: out 3·in, the two trailing rows get nothing.
        assert_eq!(transpose_axis("t", 4, 1, 3, 1, Padding::Valid, None).unwrap(), (12, 0));
        // k 4, s 2, same: out 2·in = 10, full 12 → crop 1.
        assert_eq!(transpose_axis("t", 5, 4, 2, 1, Padding::Same, None).unwrap(), (10, 1));
    }

    #[test]
    fn transpose_errors() {
        let e = transpose_axis("t", 5, 3, 2, 1, Padding::Same, Some(2))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("output_padding") && e.contains("less than strides (2)"),
            "{e}"
        );
        // Even extent, output_padding 0: ⌈8/2⌉ = 4 ≠ 5.
        let e = transpose_axis("t", 5, 4, 2, 1, Padding::Same, Some(0))
            .unwrap_err()
            .to_string();
        assert!(e.contains("≠ input 5"), "{e}");
        assert!(transpose_axis("t", 0, 3, 1, 1, Padding::Valid, None).is_err());
    }
}
