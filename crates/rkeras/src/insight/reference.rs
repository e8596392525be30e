//! Naive reference forward passes for `rkeras verify`: each layer recomputed from its Keras
//! config and weights with the engine's loop-over-windows reference kernels
//! (`conv2d_naive`, `depthwise_conv2d_naive`, `conv2d_transpose_naive`, `linear_naive`,
//! `max_pool2d_naive`, …) and plain loops (Reshape, Permute, LayerScale, CustomScaleLayer), never with the fast kernels the layer itself runs. NHWC (`channels_last`)
//! inputs; a layer with no reference here is reported as such, not passed.

use super::geometry::pair;
use crate::activations::ActivationKind;
use crate::error::{KerasError, Result};
use crate::layers::Layer;
use serde_json::Value;
use tensor::ops::conv::{conv2d_naive, Conv2dParams};
use tensor::ops::conv_transpose::{conv2d_transpose_naive, Conv2dTransposeParams};
use tensor::ops::depthwise::{depthwise_conv2d_naive, DepthwiseParams};
use tensor::ops::elementwise::{binary_naive, BinaryOp};
use tensor::ops::matmul::linear_naive;
use tensor::ops::pad::pad_naive;
use tensor::ops::pool::{avg_pool2d_naive, max_pool2d_naive};
use tensor::ops::reduce::{reduce_naive, ReduceOp};
use tensor::ops::shape_ops::concat_naive;
use tensor::ops::softmax::softmax_naive;
use tensor::{Padding, Tensor};

fn weight<'a>(layer: &'a dyn Layer, name: &str) -> Result<&'a Tensor> {
    layer
        .weights()
        .into_iter()
        .find(|w| w.name == name)
        .map(|w| &w.value)
        .ok_or_else(|| KerasError::Invalid(format!("verify: layer {}: no weight {name:?}", layer.name())))
}

fn bias<'a>(layer: &'a dyn Layer, config: &Value) -> Result<Option<&'a Tensor>> {
    if config.get("use_bias").and_then(Value::as_bool).unwrap_or(false) {
        Ok(Some(weight(layer, "bias")?))
    } else {
        Ok(None)
    }
}

fn padding(config: &Value) -> Padding {
    match config.get("padding").and_then(Value::as_str) {
        Some("same") => Padding::Same,
        _ => Padding::Valid,
    }
}

fn f64_of(config: &Value, key: &str, default: f64) -> f64 {
    config.get(key).and_then(Value::as_f64).unwrap_or(default)
}

/// The layer's activation applied to a reference pre-activation (softmax by its naive twin).
fn activate(layer: &str, config: &Value, x: Tensor) -> Result<Tensor> {
    let name = config.get("activation").and_then(Value::as_str).unwrap_or("linear");
    if name == "softmax" {
        return Ok(softmax_naive(&x, -1, false)?);
    }
    let kind = ActivationKind::from_name(name)
        .ok_or_else(|| KerasError::Invalid(format!("verify: layer {layer}: unknown activation {name:?}")))?;
    Ok(kind.apply_tensor(&x)?)
}

fn map(x: &Tensor, f: impl Fn(f32) -> f32) -> Result<Tensor> {
    Ok(Tensor::new(x.shape(), x.data().iter().map(|&v| f(v)).collect())?)
}

/// The reference output of `layer` on `inputs`, or `None` when no reference covers it.
pub fn forward(layer: &dyn Layer, inputs: &[Tensor]) -> Result<Option<Tensor>> {
    let config = layer.config();
    let name = layer.name();
    if config.get("data_format").and_then(Value::as_str) == Some("channels_first") {
        return Ok(None);
    }
    let x = &inputs[0];
    let strides = pair(&config, "strides").unwrap_or((1, 1));
    let dilation = pair(&config, "dilation_rate").unwrap_or((1, 1));
    let y = match layer.class_name() {
        "Conv2D" => {
            let p = Conv2dParams {
                strides,
                padding: (padding(&config), padding(&config)),
                dilation,
                groups: config.get("groups").and_then(Value::as_u64).unwrap_or(1) as usize,
            };
            let y = conv2d_naive(x, weight(layer, "kernel")?, bias(layer, &config)?, &p)?;
            activate(name, &config, y)?
        }
        "DepthwiseConv2D" => {
            let p = DepthwiseParams {
                strides,
                padding: (padding(&config), padding(&config)),
                dilation,
            };
            let k = weight(layer, "kernel").or_else(|_| weight(layer, "depthwise_kernel"))?;
            let y = depthwise_conv2d_naive(x, k, bias(layer, &config)?, &p)?;
            activate(name, &config, y)?
        }
        "SeparableConv2D" => {
            let p = DepthwiseParams {
                strides,
                padding: (padding(&config), padding(&config)),
                dilation,
            };
            let d = depthwise_conv2d_naive(x, weight(layer, "depthwise_kernel")?, None, &p)?;
            let y = conv2d_naive(
                &d,
                weight(layer, "pointwise_kernel")?,
                bias(layer, &config)?,
                &Conv2dParams::default(),
            )?;
            activate(name, &config, y)?
        }
        "Conv2DTranspose" => {
            let mut p = Conv2dTransposeParams::new(strides, padding(&config)).with_dilation(dilation);
            p.output_padding = pair(&config, "output_padding");
            let y = conv2d_transpose_naive(x, weight(layer, "kernel")?, bias(layer, &config)?, &p)?;
            activate(name, &config, y)?
        }
        "Dense" => {
            let k = weight(layer, "kernel")?;
            let inner = k.shape()[0];
            let rows = x.len() / inner.max(1);
            let y = linear_naive(&x.reshape(&[rows, inner])?, k, bias(layer, &config)?)?;
            let mut shape = x.shape().to_vec();
            *shape.last_mut().unwrap_or(&mut 0) = k.shape()[1];
            activate(name, &config, y.reshape(&shape)?)?
        }
        "MaxPooling2D" | "AveragePooling2D" => {
            let k = pair(&config, "pool_size").unwrap_or((2, 2));
            let s = pair(&config, "strides").unwrap_or(k);
            if layer.class_name() == "MaxPooling2D" {
                max_pool2d_naive(x, k, s, padding(&config))?
            } else {
                avg_pool2d_naive(x, k, s, padding(&config))?
            }
        }
        "GlobalAveragePooling2D" | "GlobalMaxPooling2D" => {
            let op = if layer.class_name() == "GlobalMaxPooling2D" {
                ReduceOp::Max
            } else {
                ReduceOp::Mean
            };
            let keep = config.get("keepdims").and_then(Value::as_bool).unwrap_or(false);
            reduce_naive(op, x, &[1, 2], keep)?
        }
        "ZeroPadding2D" | "Cropping2D" => {
            let key = if layer.class_name() == "ZeroPadding2D" {
                "padding"
            } else {
                "cropping"
            };
            let s = config.get(key).and_then(Value::as_array).cloned().unwrap_or_default();
            let side =
                |i: usize, j: usize| s.get(i).and_then(|a| a.get(j)).and_then(Value::as_u64).unwrap_or(0) as usize;
            let (t, b, l, r) = (side(0, 0), side(0, 1), side(1, 0), side(1, 1));
            if key == "padding" {
                pad_naive(x, &[(0, 0), (t, b), (l, r), (0, 0)], 0.0)?
            } else {
                crop(x, t, b, l, r)?
            }
        }
        "Add" | "Subtract" | "Multiply" | "TrueDivide" | "Maximum" | "Minimum" | "Average" => {
            let op = match layer.class_name() {
                "Subtract" => BinaryOp::Sub,
                "Multiply" => BinaryOp::Mul,
                "TrueDivide" => BinaryOp::Div,
                "Maximum" => BinaryOp::Maximum,
                "Minimum" => BinaryOp::Minimum,
                _ => BinaryOp::Add,
            };
            // An operation with a constant (Keras 3's `x + 3.0`, `2.0 - x`, as MobileNetV3's
            // hard sigmoid) keeps it among its saved arguments.
            let constant = layer.keras_op_args(vec![Value::Null]).and_then(|args| {
                let at = args.iter().position(Value::is_number)?;
                Some((Tensor::scalar(args[at].as_f64()? as f32), at == 0))
            });
            if let Some((c, left)) = constant {
                return Ok(Some(if left {
                    binary_naive(op, &c, x)?
                } else {
                    binary_naive(op, x, &c)?
                }));
            }
            let mut acc = inputs[0].clone();
            for t in &inputs[1..] {
                acc = binary_naive(op, &acc, t)?;
            }
            if layer.class_name() == "Average" {
                let n = inputs.len() as f32;
                acc = map(&acc, |v| v / n)?;
            }
            acc
        }
        "Concatenate" => {
            let axis = config.get("axis").and_then(Value::as_i64).unwrap_or(-1) as isize;
            let refs: Vec<&Tensor> = inputs.iter().collect();
            concat_naive(&refs, axis)?
        }
        "Activation" => activate(name, &config, x.clone())?,
        "Softmax" => {
            let axis = config.get("axis").and_then(Value::as_i64).unwrap_or(-1) as isize;
            softmax_naive(x, axis, false)?
        }
        "ReLU" => {
            let max = config.get("max_value").and_then(Value::as_f64).map(|m| m as f32);
            let slope = f64_of(&config, "negative_slope", 0.0) as f32;
            let th = f64_of(&config, "threshold", 0.0) as f32;
            map(x, |v| {
                let y = if v >= th { v } else { slope * (v - th) };
                max.map_or(y, |m| y.min(m))
            })?
        }
        "BatchNormalization" => batch_norm(layer, &config, x)?,
        "Rescaling" => {
            let (s, o) = (
                f64_of(&config, "scale", 1.0) as f32,
                f64_of(&config, "offset", 0.0) as f32,
            );
            map(x, |v| v * s + o)?
        }
        "Flatten" => {
            let n = x.shape()[0];
            x.reshape(&[n, x.len() / n.max(1)])?
        }
        "Dropout" | "StochasticDepth" => x.clone(),
        "Reshape" => reshape(name, &config, x)?,
        "Permute" => permute(name, &config, x)?,
        "LayerScale" => {
            let g = weight(layer, "gamma")?.data();
            let c = g.len().max(1);
            Tensor::new(
                x.shape(),
                x.data().iter().enumerate().map(|(i, &v)| v * g[i % c]).collect(),
            )?
        }
        "CustomScaleLayer" => {
            let scale = f64_of(&config, "scale", 1.0) as f32;
            let (a, b) = (x, inputs.get(1).unwrap_or(x));
            Tensor::new(
                a.shape(),
                a.data().iter().zip(b.data()).map(|(&p, &q)| p + q * scale).collect(),
            )?
        }
        _ => return Ok(None),
    };
    Ok(Some(y))
}

fn dims_of(layer: &str, config: &Value, key: &str) -> Result<Vec<i64>> {
    config
        .get(key)
        .and_then(Value::as_array)
        .and_then(|a| a.iter().map(Value::as_i64).collect::<Option<Vec<i64>>>())
        .ok_or_else(|| {
            KerasError::Invalid(format!(
                "verify: layer {layer}: config {key:?}: expected a list of integers"
            ))
        })
}

/// Reshape by a copy: element `i` of the row-major input is element `i` of the output,
/// whose shape is `target_shape` (one `-1` resolved) after the batch.
fn reshape(layer: &str, config: &Value, x: &Tensor) -> Result<Tensor> {
    let target = dims_of(layer, config, "target_shape")?;
    let n = x.shape()[0];
    let per = x.len() / n.max(1);
    let known: i64 = target.iter().filter(|&&d| d != -1).product();
    let mut shape = vec![n];
    for &d in &target {
        shape.push(if d == -1 {
            per / (known.max(1) as usize)
        } else {
            d as usize
        });
    }
    Ok(Tensor::new(&shape, x.data().to_vec())?)
}

/// Permute by an index loop: output position `(b, o₁, …, o_k)` reads input position `p`
/// with `p[dims[j]] = o_j` (Keras's 1-based `dims`, batch fixed).
fn permute(layer: &str, config: &Value, x: &Tensor) -> Result<Tensor> {
    let dims: Vec<usize> = dims_of(layer, config, "dims")?.iter().map(|&d| d as usize).collect();
    let s = x.shape();
    if dims.len() + 1 != s.len() || dims.iter().any(|&d| d == 0 || d >= s.len()) {
        return Err(KerasError::Invalid(format!(
            "verify: layer {layer}: dims {dims:?} do not permute the non-batch axes of an input of shape {s:?}"
        )));
    }
    let mut strides = vec![1usize; s.len()];
    for k in (0..s.len() - 1).rev() {
        strides[k] = strides[k + 1] * s[k + 1];
    }
    let mut out_shape = vec![s[0]];
    out_shape.extend(dims.iter().map(|&d| s[d]));
    let mut out = Vec::with_capacity(x.len());
    let mut idx = vec![0usize; s.len()];
    for _ in 0..x.len() {
        let mut at = idx[0] * strides[0];
        for (j, &d) in dims.iter().enumerate() {
            at += idx[j + 1] * strides[d];
        }
        out.push(x.data()[at]);
        for k in (0..s.len()).rev() {
            idx[k] += 1;
            if idx[k] < out_shape[k] {
                break;
            }
            idx[k] = 0;
        }
    }
    Ok(Tensor::new(&out_shape, out)?)
}

/// Cropping2D by loops.
fn crop(x: &Tensor, t: usize, b: usize, l: usize, r: usize) -> Result<Tensor> {
    let s = x.shape();
    let (n, h, w, c) = (s[0], s[1], s[2], s[3]);
    let (oh, ow) = (h - t - b, w - l - r);
    let mut out = Vec::with_capacity(n * oh * ow * c);
    for i in 0..n {
        for y in t..t + oh {
            for xx in l..l + ow {
                let at = ((i * h + y) * w + xx) * c;
                out.extend_from_slice(&x.data()[at..at + c]);
            }
        }
    }
    Ok(Tensor::new(&[n, oh, ow, c], out)?)
}

/// Inference batch normalization over the last axis by the formula, in f64.
fn batch_norm(layer: &dyn Layer, config: &Value, x: &Tensor) -> Result<Tensor> {
    let axis = config
        .get("axis")
        .and_then(|a| a.as_i64().or_else(|| a.as_array()?.first()?.as_i64()))
        .unwrap_or(-1);
    if axis != -1 && axis != x.rank() as i64 - 1 {
        return Err(KerasError::Invalid(format!(
            "verify: layer {}: reference covers the last axis only, received axis {axis}",
            layer.name()
        )));
    }
    let c = *x.shape().last().unwrap_or(&1);
    let eps = f64_of(config, "epsilon", 1e-3);
    let get = |n: &str, default: f32| -> Result<Vec<f32>> {
        match weight(layer, n) {
            Ok(t) => Ok(t.data().to_vec()),
            Err(_) => Ok(vec![default; c]),
        }
    };
    let (g, b, m, v) = (
        get("gamma", 1.0)?,
        get("beta", 0.0)?,
        get("moving_mean", 0.0)?,
        get("moving_variance", 1.0)?,
    );
    let out = x
        .data()
        .iter()
        .enumerate()
        .map(|(i, &val)| {
            let k = i % c;
            ((f64::from(val) - f64::from(m[k])) / (f64::from(v[k]) + eps).sqrt() * f64::from(g[k]) + f64::from(b[k]))
                as f32
        })
        .collect();
    Ok(Tensor::new(x.shape(), out)?)
}
