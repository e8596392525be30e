//! Counting work and bytes per layer call, with the arithmetic `--explain` prints.
//!
//! - **FLOPs** as TensorFlow's profiler counts the Keras model's inference graph at batch 1
//!   (`tf.compat.v1.profiler`, `float_operation()`, what keras-flops reports): a
//!   convolution `2·kh·kw·c_in·(output elements)` plus one per output for the bias, a dense
//!   layer `2·in·units` plus the bias, a transposed convolution
//!   `⌊2·kh·kw·c_in·filters·oh·ow / (sh·sw)⌋` plus the bias (TensorFlow's
//!   `Conv2DBackpropInput` rule; dilated ones as tf-keras runs them), pooling `kh·kw` per output, global average pooling
//!   one per input, merges one per output and extra input, softmax five per element.
//!   BatchNormalization (folded into one fused op), ReLU, sigmoid, tanh, padding, cropping,
//!   global max pooling and concatenation count nothing there, nor does a grouped Conv2D's
//!   convolution (only its bias). Checked against the profiler by
//!   `tools/fixtures/make_insight_refs.py`.
//! - **MACs** as torchinfo's "Mult-Adds": a convolution's weights and biases times the
//!   output positions (any class with "Conv" in its name, so ConvTranspose2d too: its
//!   parameters times its output positions, not its input positions), a Dense or BatchNormalization layer's weights and biases (gamma and
//!   beta) once per sample; everything else none.
//! - **Activations**: output elements per sample (forward), at 4 bytes each (float32).

use super::geometry::{channels, pair, spatial_dims};
use crate::explain::thousands;
use crate::kshape::Shape;
use crate::layers::Layer;
use serde_json::Value;

/// Elements per sample of a batch-first shape (`None` when a dimension is unknown).
pub fn per_sample(shape: &Shape) -> Option<u64> {
    shape.iter().skip(1).try_fold(1u64, |acc, d| d.map(|d| acc * d as u64))
}

/// A count and the line that shows how it was reached.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Counted {
    /// The count; `None` when no rule covers the layer.
    pub value: Option<u64>,
    /// `--explain` text, empty for a layer that counts nothing.
    pub line: String,
}

impl Counted {
    fn zero() -> Counted {
        Counted {
            value: Some(0),
            line: String::new(),
        }
    }
    fn of(label: &str, terms: Vec<(String, u64)>) -> Counted {
        let total: u64 = terms.iter().map(|t| t.1).sum();
        let shown: Vec<&str> = terms.iter().map(|t| t.0.as_str()).collect();
        let line = if terms.is_empty() {
            String::new()
        } else if terms.len() == 1 && !terms[0].0.contains('·') && !terms[0].0.contains('+') {
            format!("{label}: {}", thousands(total))
        } else {
            format!("{label}: {} = {}", shown.join(" + "), thousands(total))
        };
        Counted {
            value: Some(total),
            line,
        }
    }
}

/// FLOPs TensorFlow's profiler counts for an activation applied to `n` elements.
fn activation_flops(name: &str, n: u64) -> Option<(String, u64)> {
    let per = match name {
        "softmax" => 5,
        "silu" | "swish" => 2,
        "gelu" | "hard_sigmoid" => 4,
        _ => return None,
    };
    Some((format!("{per}·{} ({name})", thousands(n)), per * n))
}

/// TensorFlow's rule for `Conv2DBackpropInput` (the op of a Keras Conv2DTranspose):
/// `2·(backprop output elements)·(kernel elements) / (filters·sh·sw)`, truncated, i.e.
/// `⌊2·kh·kw·c_in·filters·oh·ow / (sh·sw)⌋`. A dilated layer goes through tf-keras's
/// `atrous_conv2d_transpose`: stride 1 on an output padded by `(k − 1)·d` for `same` and
/// rounded up to a multiple of `d`, plus 11 scalar index ops the profiler counts.
fn conv_transpose_flops(config: &Value, (kh, kw): (u64, u64), cin: u64, output: &Shape) -> Vec<(String, u64)> {
    let (Some((oh, ow)), Some(cout)) = (spatial_dims(config, output), channels(config, output)) else {
        return Vec::new();
    };
    let (oh, ow, cout) = (oh as u64, ow as u64, cout as u64);
    let (sh, sw) = pair(config, "strides").map_or((1, 1), |(a, b)| (a as u64, b as u64));
    let d = pair(config, "dilation_rate").map_or(1, |(a, _)| a as u64);
    if d <= 1 {
        let per = 2 * kh * kw * cin * cout;
        return vec![(
            format!("2·{kh}·{kw}·{cin}·{cout}·{oh}·{ow} / ({sh}·{sw})"),
            per * oh * ow / (sh * sw).max(1),
        )];
    }
    let same = config.get("padding").and_then(Value::as_str) == Some("same");
    let padded = |o: u64, k: u64| (o + if same { k.saturating_sub(1) * d } else { 0 }).div_ceil(d) * d;
    let (ph, pw) = (padded(oh, kh), padded(ow, kw));
    vec![
        (
            format!("2·{kh}·{kw}·{cin}·{cout}·{ph}·{pw} (atrous, padded output)"),
            2 * kh * kw * cin * cout * ph * pw,
        ),
        ("11 (atrous index arithmetic)".into(), 11),
    ]
}

/// TF-profiler FLOPs of one call (batch 1).
pub fn flops(layer: &dyn Layer, config: &Value, inputs: &[Shape], outputs: &[Shape]) -> Counted {
    let class = layer.class_name();
    let (Some(input), Some(output)) = (inputs.first(), outputs.first()) else {
        return Counted::zero();
    };
    let (Some(n_in), Some(n_out)) = (per_sample(input), per_sample(output)) else {
        return Counted {
            value: None,
            line: "FLOPs: unknown (a dimension is not known)".into(),
        };
    };
    let act = config.get("activation").and_then(Value::as_str).unwrap_or("linear");
    let bias = |terms: &mut Vec<(String, u64)>| {
        if config.get("use_bias").and_then(Value::as_bool).unwrap_or(false) {
            terms.push((format!("{} (bias)", thousands(n_out)), n_out));
        }
    };
    let k = pair(config, "kernel_size").map(|(a, b)| (a as u64, b as u64));
    let cin = channels(config, input).unwrap_or(0) as u64;
    let mut t: Vec<(String, u64)> = Vec::new();
    match class {
        "Conv2D" => {
            let (kh, kw) = k.unwrap_or((1, 1));
            let groups = config.get("groups").and_then(Value::as_u64).unwrap_or(1);
            if groups == 1 {
                t.push((
                    format!("2·{kh}·{kw}·{cin}·{}", thousands(n_out)),
                    2 * kh * kw * cin * n_out,
                ));
            }
            bias(&mut t);
        }
        "DepthwiseConv2D" => {
            let (kh, kw) = k.unwrap_or((1, 1));
            t.push((format!("2·{kh}·{kw}·{}", thousands(n_out)), 2 * kh * kw * n_out));
            bias(&mut t);
        }
        "SeparableConv2D" => {
            let (kh, kw) = k.unwrap_or((1, 1));
            let mult = config.get("depth_multiplier").and_then(Value::as_u64).unwrap_or(1);
            let (oh, ow) = spatial_dims(config, output).unwrap_or((0, 0));
            let pos = (oh * ow) as u64;
            let cout = channels(config, output).unwrap_or(0) as u64;
            let dw = pos * cin * mult;
            t.push((format!("2·{kh}·{kw}·{} (depthwise)", thousands(dw)), 2 * kh * kw * dw));
            t.push((
                format!("2·{}·{cout}·{} (pointwise)", cin * mult, thousands(pos)),
                2 * cin * mult * cout * pos,
            ));
            bias(&mut t);
        }
        "Dense" => {
            let inner = *input.last().and_then(|d| d.as_ref()).unwrap_or(&1) as u64;
            let units = config.get("units").and_then(Value::as_u64).unwrap_or(0);
            let rows = n_in / inner.max(1);
            let rows_s = if rows == 1 { String::new() } else { format!("{rows}·") };
            t.push((format!("2·{rows_s}{inner}·{units}"), 2 * rows * inner * units));
            bias(&mut t);
        }
        "MaxPooling2D" | "AveragePooling2D" => {
            let (ph, pw) = pair(config, "pool_size").unwrap_or((1, 1));
            t.push((format!("{ph}·{pw}·{}", thousands(n_out)), (ph * pw) as u64 * n_out));
        }
        "GlobalAveragePooling2D" => t.push((format!("{} (mean over the input)", thousands(n_in)), n_in)),
        "Add" | "Subtract" | "Multiply" | "Maximum" | "Minimum" => {
            let extra = inputs.len().saturating_sub(1) as u64;
            t.push((format!("{extra}·{}", thousands(n_out)), extra * n_out));
        }
        "Average" => {
            let n = inputs.len() as u64;
            t.push((
                format!("{n}·{} ({} adds, 1 division)", thousands(n_out), n - 1),
                n * n_out,
            ));
        }
        "Rescaling" => t.push((format!("2·{} (scale, offset)", thousands(n_out)), 2 * n_out)),
        "Softmax" => t.extend(activation_flops("softmax", n_out)),
        "Conv2DTranspose" => {
            t.extend(conv_transpose_flops(config, k.unwrap_or((1, 1)), cin, output));
            bias(&mut t);
        }
        _ => {}
    }
    t.extend(activation_flops(act, n_out));
    Counted::of("FLOPs", t)
}

/// torchinfo "Mult-Adds" of one call (batch 1).
pub fn macs(layer: &dyn Layer, config: &Value, outputs: &[Shape]) -> Counted {
    let class = layer.class_name();
    let params = layer.count_params();
    match class {
        "Conv2D" | "DepthwiseConv2D" | "SeparableConv2D" | "Conv2DTranspose" => {
            let Some((oh, ow)) = outputs.first().and_then(|o| spatial_dims(config, o)) else {
                return Counted::zero();
            };
            let pos = (oh * ow) as u64;
            Counted::of(
                "MACs",
                vec![(
                    format!("{} params·{oh}·{ow} positions", thousands(params)),
                    params * pos,
                )],
            )
        }
        "Dense" => Counted::of("MACs", vec![(format!("{} params·1", thousands(params)), params)]),
        "BatchNormalization" => {
            let gb: u64 = layer
                .weights()
                .iter()
                .filter(|w| w.name == "gamma" || w.name == "beta")
                .map(|w| w.count())
                .sum();
            Counted::of("MACs", vec![(format!("{} (gamma, beta)·1", thousands(gb)), gb)])
        }
        _ => Counted::zero(),
    }
}

/// Optimizer slot variables per trainable parameter (Keras's optimizers).
pub fn optimizer_slots(optimizer: &str, momentum: bool) -> Option<u64> {
    match optimizer.to_ascii_lowercase().as_str() {
        "sgd" => Some(if momentum { 1 } else { 0 }),
        "rmsprop" | "adagrad" => Some(1),
        "adam" | "adamw" | "nadam" | "adamax" => Some(2),
        _ => None,
    }
}
