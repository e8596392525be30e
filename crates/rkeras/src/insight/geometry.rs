//! What a layer does to the spatial grid, read from its Keras config and input shape: a
//! sliding window (kernel, stride, dilation, the padding before), a shift (zero padding,
//! cropping), nothing (pointwise layers), the whole input (flatten, global pooling), or
//! something the receptive-field algebra does not cover (transposed convolutions, reshapes).

use crate::error::{KerasError, Result};
use crate::kshape::Shape;
use serde_json::Value;
use tensor::shape::{window_axis, AxisGeometry, Padding};

/// One layer's effect on the spatial axes (height, width).
#[derive(Debug, Clone, PartialEq)]
pub enum SpatialOp {
    /// Each output position depends on the same input position only.
    Pointwise,
    /// A window slid over the input.
    Window {
        /// Height axis.
        h: AxisGeometry,
        /// Width axis.
        w: AxisGeometry,
    },
    /// The grid moves: zero padding (`top`, `left` added) or cropping (negative).
    Shift {
        /// Rows added on top (negative: cropped).
        top: i64,
        /// Columns added on the left (negative: cropped).
        left: i64,
    },
    /// Every output depends on the whole input (Flatten, global pooling, Dense on vectors).
    Global,
    /// Not a translation-equivariant map the algebra covers; the reason is shown.
    Unsupported(&'static str),
}

/// Spatial `(h, w)` of an image shape for a layer's `data_format`.
pub fn spatial_dims(config: &Value, shape: &Shape) -> Option<(usize, usize)> {
    if shape.len() != 4 {
        return None;
    }
    let first = config.get("data_format").and_then(Value::as_str) == Some("channels_first");
    let (h, w) = if first {
        (shape[2], shape[3])
    } else {
        (shape[1], shape[2])
    };
    Some((h?, w?))
}

/// Channels of an image (or vector) shape for a layer's `data_format`.
pub fn channels(config: &Value, shape: &Shape) -> Option<usize> {
    let first = config.get("data_format").and_then(Value::as_str) == Some("channels_first");
    if first && shape.len() == 4 {
        shape[1]
    } else {
        *shape.last()?
    }
}

/// A `[a, b]` pair (or a single number) from a config.
pub fn pair(config: &Value, key: &str) -> Option<(usize, usize)> {
    match config.get(key)? {
        Value::Array(v) if v.len() == 2 => Some((v[0].as_u64()? as usize, v[1].as_u64()? as usize)),
        Value::Number(n) => {
            let n = n.as_u64()? as usize;
            Some((n, n))
        }
        _ => None,
    }
}

/// `[[top, bottom], [left, right]]` from a ZeroPadding2D/Cropping2D config.
fn sides(config: &Value, key: &str) -> Option<((i64, i64), (i64, i64))> {
    let v = config.get(key)?.as_array()?;
    let side = |x: &Value| -> Option<(i64, i64)> {
        let a = x.as_array()?;
        Some((a.first()?.as_i64()?, a.get(1)?.as_i64()?))
    };
    Some((side(v.first()?)?, side(v.get(1)?)?))
}

fn padding(config: &Value) -> Padding {
    match config.get("padding").and_then(Value::as_str) {
        Some("same") => Padding::Same,
        _ => Padding::Valid,
    }
}

fn bad(layer: &str, what: &str) -> KerasError {
    KerasError::Invalid(format!("insight: layer {layer}: cannot read {what} from its config"))
}

/// The spatial effect of one call of a layer of class `class` with `config`, on `input`.
pub fn spatial_op(layer: &str, class: &str, config: &Value, input: &Shape) -> Result<SpatialOp> {
    let window = |kernel_key: &str, strides_default_kernel: bool| -> Result<SpatialOp> {
        let Some((ih, iw)) = spatial_dims(config, input) else {
            return Ok(SpatialOp::Unsupported("the spatial input size is not known"));
        };
        let k = pair(config, kernel_key).ok_or_else(|| bad(layer, kernel_key))?;
        let s = match pair(config, "strides") {
            Some(s) => s,
            None if strides_default_kernel => k,
            None => (1, 1),
        };
        let d = pair(config, "dilation_rate").unwrap_or((1, 1));
        let p = padding(config);
        let h = window_axis("insight", ih, k.0, s.0, d.0, p)?;
        let w = window_axis("insight", iw, k.1, s.1, d.1, p)?;
        Ok(SpatialOp::Window { h, w })
    };
    Ok(match class {
        "Conv2D" | "DepthwiseConv2D" | "SeparableConv2D" => window("kernel_size", false)?,
        "MaxPooling2D" | "AveragePooling2D" => window("pool_size", true)?,
        "ZeroPadding2D" => {
            let ((t, _), (l, _)) = sides(config, "padding").ok_or_else(|| bad(layer, "padding"))?;
            SpatialOp::Shift { top: t, left: l }
        }
        "Cropping2D" => {
            let ((t, _), (l, _)) = sides(config, "cropping").ok_or_else(|| bad(layer, "cropping"))?;
            SpatialOp::Shift { top: -t, left: -l }
        }
        "Flatten" | "GlobalAveragePooling2D" | "GlobalMaxPooling2D" => SpatialOp::Global,
        "Dense" if input.len() == 2 => SpatialOp::Global,
        "Reshape" | "Permute" => SpatialOp::Unsupported("a reshape moves pixels"),
        "Conv2DTranspose" => SpatialOp::Unsupported("a transposed convolution spreads each pixel"),
        _ => SpatialOp::Pointwise,
    })
}
