//! `rkeras verify MODEL`: each layer's fast kernels against the naive reference kernels on
//! random inputs of the model's shapes, and its gradients against finite differences; a
//! table of errors with PASS/FAIL, exit code 1 when a layer fails.

use crate::{app_args, modelfile};
use clap::Args;
use rkeras::insight::verify::{render, verify, VerifyOptions};

/// Arguments of `rkeras verify`.
#[derive(Args)]
pub struct VerifyArgs {
    /// An application name (VGG16, ResNet50, LeNet5, …) or a model file (.keras, .h5, .json).
    pub model: String,
    /// Batch size of the random inputs.
    #[arg(long, default_value_t = 2)]
    pub batch_size: usize,
    /// Seed of the random inputs.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Forward passes only (no finite differences).
    #[arg(long)]
    pub no_gradients: bool,
    #[command(flatten)]
    pub app: app_args::AppArgs,
}

/// Runs the checks and prints the table; `Ok(false)` when a layer failed.
pub fn run(args: VerifyArgs) -> rkeras::Result<bool> {
    let model = if modelfile::is_file_arg(&args.model) {
        modelfile::load(&args.model)?
    } else {
        args.app.build(&args.model, None)?
    };
    let opts = VerifyOptions {
        batch: args.batch_size.max(1),
        seed: args.seed,
        gradients: !args.no_gradients,
        ..VerifyOptions::default()
    };
    let checks = verify(&model, &opts)?;
    print!("{}", render(&checks, &opts));
    Ok(checks.iter().all(|c| c.passed))
}
