//! The `rkeras` command-line tool.
//!
//! ```text
//! rkeras summary VGG16 --style keras2
//! rkeras summary LeNet5 --explain
//! rkeras summary VGG16 --receptive-field --flops --memory --batch-size 64
//! rkeras summary model.json --expand-nested
//! rkeras summary model.keras
//! rkeras predict model.keras --input x.npy --output y.npy --batch-size 64
//! rkeras predict ResNet50 --weights imagenet --input images.npy --output probs.npy
//! rkeras convert model.h5 model.keras
//! rkeras plot InceptionV3 -o inception.svg --show-shapes
//! rkeras plot-history baseline.json smaller.json bigger.csv -o curves.png
//! rkeras verify ResNet50 --input-shape 64,64,3 --no-top
//! rkeras visualize lenet.keras --image digit.png --rescale 1/255 --grad-cam -o cam.png
//! rkeras train LeNet5 --dataset mnist --epochs 3 --logdir logs --save lenet.keras
//! rkeras fit model.keras --x x.npy --y y.npy --loss sparse_categorical_crossentropy
//! rkeras evaluate lenet.keras --dataset mnist
//! ```
//!
//! A bad argument or file gives a one-line error on stderr and exit code 2, never a panic.

mod app_args;
mod convert;
mod fit;
mod modelfile;
mod plot;
mod predict;
mod predict_image;
mod train;
mod train_folder;
mod verify;
mod visualize;

use clap::{Parser, Subcommand, ValueEnum};
use rkeras::insight::report::InsightOptions;
use rkeras::summary::{SummaryOptions, SummaryStyle};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "rkeras",
    version,
    about = "Keras for Rust: build, inspect, verify and train CNNs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Style {
    /// Keras 3's box table.
    Keras3,
    /// tf-keras 2's fixed-width table.
    Keras2,
}

#[derive(Subcommand)]
enum Command {
    /// Print a model's summary exactly as Keras does (and, with --explain, the arithmetic).
    Summary {
        /// An application name as Keras spells it (VGG16, ResNet50, MobileNetV2, …, or
        /// LeNet5; case-insensitive) or a model file: `.keras`, `.h5`, or a Keras JSON
        /// config (`model.to_json()`).
        model: String,
        /// Which Keras's summary to reproduce.
        #[arg(long, value_enum, default_value = "keras3")]
        style: Style,
        /// Under each layer, its parameter formula and output-size arithmetic.
        #[arg(long)]
        explain: bool,
        /// Show the layers of nested models.
        #[arg(long)]
        expand_nested: bool,
        /// Add the Trainable column.
        #[arg(long)]
        show_trainable: bool,
        /// Total width of the table.
        #[arg(long)]
        line_length: Option<usize>,
        /// After the summary, each layer's receptive field (size, jump, start).
        #[arg(long)]
        receptive_field: bool,
        /// After the summary, FLOPs (as TensorFlow's profiler counts) and MACs (torchinfo).
        #[arg(long)]
        flops: bool,
        /// After the summary, parameter and activation bytes and a training-step estimate.
        #[arg(long)]
        memory: bool,
        /// Batch size of the --memory training-step estimate.
        #[arg(long, default_value_t = 32)]
        batch_size: u64,
        /// Optimizer of the --memory training-step estimate (sgd, rmsprop, adam, …).
        #[arg(long, default_value = "adam")]
        optimizer: String,
        #[command(flatten)]
        app: app_args::AppArgs,
    },
    /// Run a saved model on arrays (`model.predict`): .npy in, .npy or .npz out.
    Predict(predict::PredictArgs),
    /// Convert between .keras, .h5, .weights.h5, .safetensors and .json, by extension.
    Convert(convert::ConvertArgs),
    /// Train a model on a dataset (the tutorials' program): summary, fit with the progress
    /// bar, test accuracy, save.
    Train(train::TrainArgs),
    /// Train a saved model on arrays (`model.fit`).
    Fit(fit::FitArgs),
    /// Evaluate a saved model on a dataset's test split or on arrays (`model.evaluate`).
    Evaluate(fit::EvaluateArgs),
    /// Check every layer's fast kernels against naive reference kernels and its gradients
    /// against finite differences (exit code 1 on a failure).
    Verify(verify::VerifyArgs),
    /// Draw a model as Keras's plot_model does: .svg (pure Rust) or .dot (Graphviz).
    Plot(plot::PlotArgs),
    /// Draw training curves (loss and metrics per epoch) of --history-json or CSVLogger files.
    PlotHistory(plot::HistoryArgs),
    /// Feature maps, filters or Grad-CAM of a layer as a picture (`--feature-maps`, `--filters`, `--grad-cam [CLASS]`).
    Visualize(visualize::VisualizeArgs),
}

/// Runs a command; `Ok(false)` means it ran and found a failure (exit code 1).
fn run(cli: Cli) -> rkeras::Result<bool> {
    match cli.command {
        Command::Summary {
            model,
            style,
            explain,
            expand_nested,
            show_trainable,
            line_length,
            receptive_field,
            flops,
            memory,
            batch_size,
            optimizer,
            app,
        } => {
            let m = if modelfile::is_file_arg(&model) {
                modelfile::load(&model)?
            } else {
                app.build(&model, None)?
            };
            let summary = SummaryOptions {
                style: match style {
                    Style::Keras3 => SummaryStyle::Keras3,
                    Style::Keras2 => SummaryStyle::Keras2,
                },
                line_length,
                expand_nested,
                show_trainable,
                explain,
                ..SummaryOptions::default()
            };
            let insight = InsightOptions {
                receptive_field,
                flops,
                memory,
                batch_size,
                optimizer,
            };
            print!("{}", rkeras::insight::report::summary(&m, &summary, &insight)?);
            Ok(true)
        }
        Command::Predict(args) => predict::run(args).map(|()| true),
        Command::Convert(args) => convert::run(args).map(|()| true),
        Command::Train(args) => train::run(args).map(|()| true),
        Command::Fit(args) => fit::run_fit(args).map(|()| true),
        Command::Evaluate(args) => fit::run_evaluate(args).map(|()| true),
        Command::Verify(args) => verify::run(args),
        Command::Plot(args) => plot::run(args).map(|()| true),
        Command::PlotHistory(args) => plot::run_history(args).map(|()| true),
        Command::Visualize(args) => visualize::run(args).map(|()| true),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if e.use_stderr() => {
            // One line: clap's message (a missing argument is named on the lines after
            // the first), without its usage block.
            let text = e.render().to_string();
            let message: Vec<&str> = text
                .lines()
                .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            let message = message.join(" ");
            eprintln!(
                "rkeras: {}",
                if message.is_empty() {
                    "invalid arguments"
                } else {
                    message.trim_start_matches("error: ")
                }
            );
            return ExitCode::from(2);
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
    };
    match run(cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("rkeras: error: {e}");
            ExitCode::from(2)
        }
    }
}
