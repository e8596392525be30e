//! What a convolutional network computes, as arrays, the way the Keras tutorials look inside:
//! [`feature_maps`] (a layer's activations, `keras.Model(model.inputs,
//! model.get_layer(name).output)(x)`: `(N, H, W, C)`), [`filters`] (a convolution's kernel
//! `(kh, kw, in, filters)`, each filter min-max scaled to `[0, 1]`) and [`grad_cam`] (the
//! class-activation heatmap `(H', W')` of <https://keras.io/examples/vision/grad_cam/>).
//! [`super::pictures`] turns them into images.
//!
//! ```
//! use rkeras::insight::visualize::{feature_maps, filters, grad_cam};
//! use rkeras::prelude::*;
//! clear_session();
//! let inp = Input(&[8, 8, 3]).unwrap();
//! let c = Conv2D::new(4, 3).activation("relu").name("conv").call(&inp).unwrap();
//! let f = Flatten::new().call(&c).unwrap();
//! let y = Dense::new(3).activation("softmax").call(&f).unwrap();
//! let model = Model::new(&[&inp], &[&y], None).unwrap();
//! let x = Tensor::ones(&[1, 8, 8, 3]);
//! assert_eq!(feature_maps(&model, &x, "conv").unwrap().shape(), &[1, 6, 6, 4]);
//! assert_eq!(filters(&model, "conv").unwrap().shape(), &[3, 3, 3, 4]);
//! let heat = grad_cam(&model, &x, "conv", None).unwrap();
//! assert_eq!(heat.shape(), &[6, 6]);
//! assert!(heat.data().iter().all(|v| (0.0..=1.0).contains(v)));
//! ```

use crate::error::{KerasError, Result};
use crate::layers::Layer;
use crate::model::Model;
use tensor::Tensor;

/// `keras.Model(model.inputs, model.get_layer(layer_name).output)(x)` for a layer whose output
/// is 4-D: its activations `(N, H, W, C)` on `x` (inference mode).
pub fn feature_maps(model: &Model, x: &Tensor, layer_name: &str) -> Result<Tensor> {
    let out = four_d_output(model, layer_name, "feature maps")?;
    let run = model.forward_watching(std::slice::from_ref(x), &[out], false)?;
    Ok(run.tape.value(run.watched[0]).clone())
}

/// The convolution kernel of `layer_name` (`kernel`, or `depthwise_kernel` for a depthwise
/// convolution), `(kh, kw, in, filters)`, each filter (last axis) scaled to `[0, 1]` by its
/// own minimum and maximum; a constant filter becomes zeros.
pub fn filters(model: &Model, layer_name: &str) -> Result<Tensor> {
    let layer = find_layer(model, layer_name)?;
    let kernel = conv_kernel(layer).ok_or_else(|| {
        let with: Vec<&str> = model
            .layers()
            .into_iter()
            .filter(|l| conv_kernel(*l).is_some())
            .map(|l| l.name())
            .take(10)
            .collect();
        KerasError::Invalid(format!(
            "filters: layer {layer_name} ({}) has no convolution kernel (a 4-D weight (kh, kw, in, filters)); \
             layers with one: {}",
            layer.class_name(),
            if with.is_empty() {
                "none".to_string()
            } else {
                with.join(", ")
            }
        ))
    })?;
    let cout = kernel.shape()[3];
    let mut lo = vec![f32::INFINITY; cout];
    let mut hi = vec![f32::NEG_INFINITY; cout];
    for (i, &v) in kernel.data().iter().enumerate() {
        lo[i % cout] = lo[i % cout].min(v);
        hi[i % cout] = hi[i % cout].max(v);
    }
    let data = kernel
        .data()
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let f = i % cout;
            if hi[f] > lo[f] {
                (v - lo[f]) / (hi[f] - lo[f])
            } else {
                0.0
            }
        })
        .collect();
    Ok(Tensor::new(kernel.shape(), data)?)
}

/// Grad-CAM's choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GradCamOptions {
    /// The class whose score is explained; `None`: the top class of the first sample
    /// (`tf.argmax(preds[0])`).
    pub class_index: Option<usize>,
    /// Explain the pre-activation score, as the keras.io example does by setting
    /// `model.layers[-1].activation = None`: when the model's output comes out of a softmax
    /// or sigmoid, its input (the logits) is the score. `false` keeps the probabilities.
    pub logits: bool,
}

impl Default for GradCamOptions {
    fn default() -> Self {
        GradCamOptions {
            class_index: None,
            logits: true,
        }
    }
}

/// A Grad-CAM result.
#[derive(Debug, Clone, PartialEq)]
pub struct GradCam {
    /// `(H', W')` in `[0, 1]`: `max(h, 0) / max(h)` of `h = conv_output[0] @ pooled_grads`.
    pub heatmap: Tensor,
    /// The class explained.
    pub class_index: usize,
    /// `max(h)` before the division; when it is ≤ 0 no location raises the score and the
    /// heatmap is all zeros (the keras.io code gives `-0.0`s there, or NaNs when it is exactly
    /// 0).
    pub max: f32,
}

/// The keras.io Grad-CAM heatmap `(H', W')` of `layer_name` (a layer with a 4-D output,
/// usually the last convolution) for `class_index` (`None`: the top class), scoring the
/// logits as the example does (see [`GradCamOptions::logits`]).
pub fn grad_cam(model: &Model, x: &Tensor, layer_name: &str, class_index: Option<usize>) -> Result<Tensor> {
    let opts = GradCamOptions {
        class_index,
        ..GradCamOptions::default()
    };
    Ok(grad_cam_with(model, x, layer_name, &opts)?.heatmap)
}

/// Grad-CAM as `make_gradcam_heatmap` of <https://keras.io/examples/vision/grad_cam/>:
/// `grads = d preds[:, class] / d conv_output` (summed over the batch), `pooled_grads` their
/// mean over batch, height and width, `heatmap = conv_output[0] @ pooled_grads`, then
/// `maximum(heatmap, 0) / max(heatmap)` (all zeros when `max(heatmap) ≤ 0`, never NaN).
pub fn grad_cam_with(model: &Model, x: &Tensor, layer_name: &str, opts: &GradCamOptions) -> Result<GradCam> {
    let out = four_d_output(model, layer_name, "grad-cam")?;
    if model.output_shapes().len() != 1 {
        return Err(KerasError::Invalid(format!(
            "grad-cam: model {} has {} outputs; Grad-CAM explains a model with one (class scores)",
            model.name(),
            model.output_shapes().len()
        )));
    }
    if x.shape().first().copied().unwrap_or(0) == 0 {
        return Err(KerasError::Invalid(format!(
            "grad-cam: the input batch is empty (shape {:?})",
            x.shape()
        )));
    }
    let run = model.forward_watching(std::slice::from_ref(x), &[out], true)?;
    let (tape, conv) = (&run.tape, run.watched[0]);
    let preds = run.outputs[0];
    let score = match tape.logits_of(preds) {
        Some((logits, _)) if opts.logits => logits,
        _ => preds,
    };
    let s = tape.value(score);
    let [n, classes] = s.shape() else {
        return Err(KerasError::Invalid(format!(
            "grad-cam: model {}'s output has shape {:?}; Grad-CAM needs class scores (batch, classes)",
            model.name(),
            s.shape()
        )));
    };
    let (n, classes) = (*n, *classes);
    let class_index = match opts.class_index {
        Some(c) if c >= classes => {
            return Err(KerasError::Invalid(format!(
                "grad-cam: class index {c} is out of range: model {} has {classes} classes (0 to {})",
                model.name(),
                classes.saturating_sub(1)
            )))
        }
        Some(c) => c,
        None => argmax(&s.data()[..classes]),
    };
    let mut seed = Tensor::zeros(&[n, classes]);
    for b in 0..n {
        seed.data_mut()[b * classes + class_index] = 1.0;
    }
    let grads = tape.backward_with(score, seed)?;
    let a = tape.value(conv);
    let (h, w, c) = (a.shape()[1], a.shape()[2], a.shape()[3]);
    let mut pooled = vec![0f32; c];
    if let Some(g) = grads.get(conv) {
        for (i, v) in g.data().iter().enumerate() {
            pooled[i % c] += v;
        }
    }
    let count = (a.shape()[0] * h * w) as f32;
    pooled.iter_mut().for_each(|p| *p /= count);
    let heat: Vec<f32> = a.data()[..h * w * c]
        .chunks(c)
        .map(|px| px.iter().zip(&pooled).map(|(v, p)| v * p).sum())
        .collect();
    let max = heat.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let heat = heat
        .into_iter()
        .map(|v| if max > 0.0 { v.max(0.0) / max } else { 0.0 })
        .collect();
    Ok(GradCam {
        heatmap: Tensor::new(&[h, w], heat)?,
        class_index,
        max,
    })
}

/// The last layer (in execution order) whose output is 4-D — Grad-CAM's usual
/// `last_conv_layer_name`.
pub fn last_4d_layer(model: &Model) -> Result<String> {
    four_d_nodes(model).last().map(|l| l.to_string()).ok_or_else(|| {
        KerasError::Invalid(format!(
            "model {} has no layer with a 4-D output (batch, height, width, channels)",
            model.name()
        ))
    })
}

/// The layers whose output is 4-D as a line for messages: the last ten, after how many more.
pub fn list_4d_layers(model: &Model) -> String {
    let names = four_d_nodes(model);
    let skip = names.len().saturating_sub(10);
    match names.len() {
        0 => "none".into(),
        _ if skip > 0 => format!("{} more, then {}", skip, names[skip..].join(", ")),
        _ => names.join(", "),
    }
}

/// The first layer with a convolution kernel (what [`filters`] draws by default: the
/// tutorials' "first layer's filters").
pub fn first_kernel_layer(model: &Model) -> Result<String> {
    model
        .layers()
        .into_iter()
        .find(|l| conv_kernel(*l).is_some())
        .map(|l| l.name().to_string())
        .ok_or_else(|| {
            KerasError::Invalid(format!(
                "model {} has no layer with a convolution kernel (a 4-D weight (kh, kw, in, filters))",
                model.name()
            ))
        })
}

/// Names of the layers (not inputs) whose output is 4-D, in execution order: the layers
/// [`feature_maps`] and [`grad_cam`] accept.
pub fn layers_with_4d_output(model: &Model) -> Vec<&str> {
    four_d_nodes(model)
}

/// Layers (not inputs) whose first output is 4-D, in execution order.
fn four_d_nodes(model: &Model) -> Vec<&str> {
    model
        .nodes()
        .iter()
        .enumerate()
        .filter(|(i, n)| !model.inputs.contains(i) && n.output_shapes.first().is_some_and(|s| s.len() == 4))
        .map(|(_, n)| model.all_layers()[n.layer].name())
        .collect()
}

/// The graph tensor of `layer_name`'s output, which must be 4-D.
fn four_d_output(model: &Model, layer_name: &str, what: &str) -> Result<(usize, usize)> {
    let (node, idx) = model.layer_output(layer_name)?;
    let shape = &model.nodes()[node].output_shapes[idx];
    if shape.len() != 4 {
        return Err(KerasError::Invalid(format!(
            "{what}: layer {layer_name} has output shape {}, not 4-D (batch, height, width, channels); \
             layers with 4-D outputs: {}",
            crate::kshape::format_shape(shape),
            list_4d_layers(model)
        )));
    }
    Ok((node, idx))
}

fn find_layer<'a>(model: &'a Model, name: &str) -> Result<&'a dyn Layer> {
    model
        .all_layers()
        .iter()
        .find(|l| l.name() == name)
        .map(|l| l.as_ref())
        .ok_or_else(|| model.no_such_layer(name))
}

/// A layer's 4-D convolution kernel.
fn conv_kernel(layer: &dyn Layer) -> Option<&Tensor> {
    let w = layer.weights();
    ["kernel", "depthwise_kernel"].iter().find_map(|name| {
        w.iter()
            .find(|w| w.name == *name && w.value.rank() == 4)
            .map(|w| &w.value)
    })
}

/// Index of the first maximum (`tf.argmax`).
fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}
