//! `rkeras predict MODEL --input X.npy [--input X2.npy …] --output Y.npy [--batch-size N]`:
//! Keras's `model.predict` on arrays from `.npy` files (or every array of an `.npz`, in
//! archive order). One output goes to `Y.npy`; several go to `Y.npy`, `Y_1.npy`, … or, when
//! the output path ends with `.npz`, into one archive as `arr_0`, `arr_1`, … (`np.savez`'s
//! names). Arrays are written as float32.

use crate::modelfile;
use rkeras::io::npy::{read_npy, read_npz, write_npy, write_npz};
use rkeras::prelude::Tensor;
use rkeras::{KerasError, Result};

/// Arguments of `rkeras predict`.
#[derive(clap::Args)]
pub struct PredictArgs {
    /// The model: `.keras`, `.h5`, a Keras JSON config with `--weights`, or an application
    /// name (`ResNet50`, `MobileNetV2`, …) with `--weights imagenet` or a weights file.
    pub model: String,
    /// An input array (`.npy`, or `.npz` for all its arrays); repeat for several inputs.
    #[arg(
        long = "input",
        value_name = "X.npy",
        required_unless_present = "images",
        conflicts_with = "images"
    )]
    pub inputs: Vec<String>,
    /// Where to write the output(s): `Y.npy` (several: `Y.npy`, `Y_1.npy`, …) or `Y.npz`
    /// (optional with `--image`).
    #[arg(long, value_name = "Y.npy", required_unless_present = "images")]
    pub output: Option<String>,
    /// An image file (png, jpeg, bmp, gif, webp); repeat for several. Resized to the model's
    /// input as Keras's `load_img(target_size=…)`. For an ImageNet classifier (1,000 classes:
    /// an application, or its `.keras` file) the family's `preprocess_input` is applied and the
    /// top classes printed as `decode_predictions` gives them; for any other model the raw
    /// 0–255 pixels go in and one line per image gives the class index and its probability.
    #[arg(long = "image", value_name = "FILE")]
    pub images: Vec<String>,
    /// With `--image`: `H,W` to resize to (else the model's input size).
    #[arg(long, value_name = "H,W", requires = "images")]
    pub image_size: Option<String>,
    /// How many classes to print per image (ImageNet classifiers).
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// The preprocessing of `--image` inputs for an ImageNet classifier: `caffe`, `tf`,
    /// `torch` or `none`; default the application's (from its name, or the model's name for
    /// a file).
    #[arg(long, value_name = "MODE")]
    pub preprocess: Option<String>,
    /// Samples per forward pass.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Weights to load into the model first (`.weights.h5`, `.h5`, `.safetensors`); for an
    /// application also `imagenet` (Keras's cached or downloaded file).
    #[arg(long, value_name = "FILE")]
    pub weights: Option<String>,
    /// Options of an application MODEL.
    #[command(flatten)]
    pub app: crate::app_args::AppArgs,
}

/// Output file names for `n` outputs written to `output`.
pub fn output_paths(output: &str, n: usize) -> Vec<String> {
    let stem = output.strip_suffix(".npy").unwrap_or(output);
    (0..n)
        .map(|k| {
            if k == 0 {
                format!("{stem}.npy")
            } else {
                format!("{stem}_{k}.npy")
            }
        })
        .collect()
}

/// Runs `rkeras predict`.
pub fn run(a: PredictArgs) -> Result<()> {
    if a.batch_size == 0 {
        return Err(KerasError::Invalid(
            "--batch-size: expected a positive integer, received 0".to_string(),
        ));
    }
    let output = a.output.clone().unwrap_or_default();
    let npz_out = output.to_ascii_lowercase().ends_with(".npz");
    if a.output.is_some() && !npz_out && !output.to_ascii_lowercase().ends_with(".npy") {
        return Err(KerasError::Invalid(format!(
            "--output {output}: expected a .npy or .npz path"
        )));
    }
    let model = modelfile::load_or_build(&a.model, &a.app, a.weights.as_deref(), true)?;
    if !a.images.is_empty() {
        let imagenet = model.output_shapes().first().and_then(|s| s.last().copied().flatten()) == Some(1000);
        if imagenet && a.image_size.is_none() && a.output.is_none() {
            return crate::predict_image::run_with(&a, &model);
        }
        let y = predict_images(&model, &a)?;
        if a.output.is_some() {
            write_npy(&output, &y)?;
            println!("Wrote {output}");
        }
        return Ok(());
    }
    let mut inputs: Vec<Tensor> = Vec::new();
    for path in &a.inputs {
        if path.to_ascii_lowercase().ends_with(".npz") {
            inputs.extend(read_npz(path)?.into_iter().map(|(_, t)| t));
        } else {
            inputs.push(read_npy(path)?);
        }
    }
    let outputs = model
        .predict(&inputs, a.batch_size)
        .map_err(|e| KerasError::Invalid(format!("{}: {e}", a.model)))?;
    if npz_out {
        let named: Vec<(String, Tensor)> = outputs
            .into_iter()
            .enumerate()
            .map(|(k, t)| (format!("arr_{k}"), t))
            .collect();
        write_npz(&output, &named)?;
        for (name, t) in &named {
            println!("{output}:{name}: shape {:?}", t.shape());
        }
    } else {
        for (path, t) in output_paths(&output, outputs.len()).iter().zip(&outputs) {
            write_npy(path, t)?;
            println!("{path}: shape {:?}", t.shape());
        }
    }
    Ok(())
}

/// `--image` files as one batch at the model's input size; prints one line per image.
fn predict_images(model: &rkeras::Model, a: &PredictArgs) -> Result<Tensor> {
    let size = a
        .image_size
        .as_deref()
        .map(crate::train_folder::parse_size)
        .transpose()?;
    let x = crate::predict_image::load_preprocessed(a, model, size, true)?;
    let y = model
        .predict(&[x], a.batch_size)
        .map_err(|e| KerasError::Invalid(format!("{}: {e}", a.model)))?
        .into_iter()
        .next()
        .ok_or_else(|| KerasError::Invalid(format!("{}: the model has no output", a.model)))?;
    let k = y.len() / a.images.len().max(1);
    for (p, row) in a.images.iter().zip(y.data().chunks(k.max(1))) {
        if k > 1 {
            let (best, prob) = row
                .iter()
                .enumerate()
                .fold((0, f32::MIN), |b, (i, &v)| if v > b.1 { (i, v) } else { b });
            println!("{p}: class {best} (probability {prob:.4})");
        } else {
            println!("{p}: score {:.4}", row.first().copied().unwrap_or(f32::NAN));
        }
    }
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::output_paths;

    #[test]
    fn several_outputs_are_numbered_after_the_first() {
        assert_eq!(
            output_paths("out/y.npy", 3),
            ["out/y.npy", "out/y_1.npy", "out/y_2.npy"]
        );
        assert_eq!(output_paths("y.npy", 1), ["y.npy"]);
    }
}
