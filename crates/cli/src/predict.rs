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
    /// Where to write the output(s): `Y.npy` (several: `Y.npy`, `Y_1.npy`, …) or `Y.npz`.
    #[arg(long, value_name = "Y.npy", required_unless_present = "images")]
    pub output: Option<String>,
    /// An image file to classify (png, jpeg, bmp, gif, webp); repeat for several. Resized to
    /// the model's input as Keras's `load_img(target_size=…)`, preprocessed with the
    /// family's `preprocess_input`, and the top classes printed (`decode_predictions`).
    #[arg(long = "image", value_name = "FILE")]
    pub images: Vec<String>,
    /// How many classes to print per image.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// The preprocessing of `--image` inputs: `caffe`, `tf`, `torch` or `none`; default the
    /// application's (from its name, or the model's name for a file).
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
    if !a.images.is_empty() {
        return crate::predict_image::run(&a);
    }
    let output = a.output.clone().unwrap_or_default();
    let npz_out = output.to_ascii_lowercase().ends_with(".npz");
    if !npz_out && !output.to_ascii_lowercase().ends_with(".npy") {
        return Err(KerasError::Invalid(format!(
            "--output {output}: expected a .npy or .npz path"
        )));
    }
    let model = modelfile::load_or_build(&a.model, &a.app, a.weights.as_deref(), true)?;
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
