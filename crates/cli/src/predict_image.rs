//! `rkeras predict MODEL --image FILE [--image FILE …] [--top 5]`: the Keras example "load
//! ResNet50 with ImageNet weights, feed it an elephant photo" in one command. Each image is
//! read and resized to the model's input as `keras.utils.load_img(path, target_size=(h, w))`
//! (nearest, RGB; grayscale for a one-channel model), turned into an array
//! (`img_to_array`), preprocessed with the family's `preprocess_input` (from the application
//! name, or from the model's name for a file; `--preprocess` chooses), and the predictions
//! are printed as `decode_predictions` gives them: rank, class name, wnid, probability. A
//! model with another number of outputs than ImageNet's 1,000 prints class indices.

use crate::modelfile;
use crate::predict::PredictArgs;
use rkeras::applications::imagenet_utils::{
    decode_predictions, mode_for, mode_for_model_name, parse_mode, preprocess_with, Mode,
};
use rkeras::prelude::Tensor;
use rkeras::utils::{img_to_array, load_img, LoadImgOptions};
use rkeras::{KerasError, Result};

/// The rows to print for one image: `(rank, label, wnid or "", score)`.
pub fn top_rows(scores: &[f32], top: usize) -> Result<Vec<(usize, String, String, f32)>> {
    if scores.len() == 1000 {
        let t = Tensor::new(&[1, 1000], scores.to_vec())?;
        let d = decode_predictions(&t, top)?;
        return Ok(d[0]
            .iter()
            .enumerate()
            .map(|(i, (wnid, name, s))| (i + 1, name.clone(), wnid.clone(), *s))
            .collect());
    }
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    Ok(idx
        .into_iter()
        .take(top)
        .enumerate()
        .map(|(i, c)| (i + 1, format!("class {c}"), String::new(), scores[c]))
        .collect())
}

/// The preprocessing of `--image` inputs: `--preprocess` when given, else the application's
/// (from MODEL's name), else — for a file — the one its model name implies.
pub fn preprocess_mode(model_arg: &str, model: &rkeras::Model, preprocess: Option<&str>) -> Result<Mode> {
    match preprocess {
        Some(m) => parse_mode(m),
        None if modelfile::is_file_arg(model_arg) => mode_for_model_name(model.name()),
        None => Ok(mode_for(model_arg).unwrap_or(Mode::PassThrough)),
    }
}

/// Image files as one batch `(n, h, w, c)` of 0–255 pixels at the model's input size (or
/// `size`), read as `keras.utils.load_img(path, color_mode, target_size=(h, w))` (nearest;
/// grayscale, rgb or rgba after the model's channels) and `img_to_array`.
pub fn load_batch(
    model_arg: &str,
    model: &rkeras::Model,
    paths: &[String],
    size: Option<(usize, usize)>,
) -> Result<Tensor> {
    let shapes = model.input_shapes();
    let [shape] = shapes.as_slice() else {
        return Err(KerasError::Invalid(format!(
            "{model_arg}: --image needs a model with one image input, this one has {}",
            shapes.len()
        )));
    };
    let (h, w, c) = match (shape.as_slice(), size) {
        ([_, _, _, Some(c)], Some((h, w))) => (h, w, *c),
        ([_, Some(h), Some(w), Some(c)], None) => (*h, *w, *c),
        _ => {
            return Err(KerasError::Invalid(format!(
                "{model_arg}: --image needs a fixed input size (height, width, channels); the model's input is {shape:?} (give --image-size H,W to predict, or an application --input-shape H,W,C)"
            )))
        }
    };
    let color_mode = match c {
        1 => "grayscale",
        3 => "rgb",
        4 => "rgba",
        _ => {
            return Err(KerasError::Invalid(format!(
                "{model_arg}: --image needs 1, 3 or 4 input channels, the model has {c}"
            )))
        }
    };
    let opts = LoadImgOptions {
        color_mode: color_mode.into(),
        target_size: Some((h, w)),
        ..LoadImgOptions::default()
    };
    let mut data = Vec::with_capacity(paths.len() * h * w * c);
    for path in paths {
        data.extend_from_slice(img_to_array(&load_img(path, &opts)?).data());
    }
    Ok(Tensor::new(&[paths.len(), h, w, c], data)?)
}

/// The `--image` files as [`load_batch`] reads them, then the family's `preprocess_input`
/// ([`preprocess_mode`]): the same input whether the scores are printed or written. With
/// `any_model`, a model that is no application (one `rkeras train` made) gets the 0–255
/// pixels unless `--preprocess` says otherwise; without it that is an error.
pub fn load_preprocessed(
    a: &PredictArgs,
    model: &rkeras::Model,
    size: Option<(usize, usize)>,
    any_model: bool,
) -> Result<Tensor> {
    let mode = match preprocess_mode(&a.model, model, a.preprocess.as_deref()) {
        Err(_) if any_model && a.preprocess.is_none() => Mode::PassThrough,
        mode => mode?,
    };
    let x = load_batch(&a.model, model, &a.images, size)?;
    Ok(if mode == Mode::PassThrough {
        x
    } else {
        preprocess_with(mode, &x)?
    })
}

/// Runs `rkeras predict … --image`.
pub fn run_with(a: &PredictArgs, model: &rkeras::Model) -> Result<()> {
    if a.top == 0 {
        return Err(KerasError::Invalid(
            "--top: expected a positive integer, received 0".into(),
        ));
    }
    let x = load_preprocessed(a, model, None, false)?;
    let y = model
        .predict(&[x], a.batch_size)
        .map_err(|e| KerasError::Invalid(format!("{}: {e}", a.model)))?
        .remove(0);
    let per = y.len() / a.images.len().max(1);
    for (path, scores) in a.images.iter().zip(y.data().chunks(per.max(1))) {
        println!("{path}:");
        for (rank, label, wnid, s) in top_rows(scores, a.top)? {
            println!("{rank:>4}  {label:<30} {wnid:<10} {s:.6}");
        }
    }
    Ok(())
}
