//! The `rkeras` command-line tool.
//!
//! ```text
//! rkeras summary VGG16 --style keras2
//! rkeras summary LeNet5 --explain
//! rkeras summary model.json --expand-nested
//! rkeras summary model.keras
//! rkeras predict model.keras --input x.npy --output y.npy --batch-size 64
//! rkeras predict ResNet50 --weights imagenet --input images.npy --output probs.npy
//! rkeras convert model.h5 model.keras
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
mod predict;
mod train;
mod train_folder;

use clap::{Parser, Subcommand, ValueEnum};
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
}

fn run(cli: Cli) -> rkeras::Result<()> {
    match cli.command {
        Command::Summary {
            model,
            style,
            explain,
            expand_nested,
            show_trainable,
            line_length,
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
            print!("{}", m.summary(&summary)?);
            Ok(())
        }
        Command::Predict(args) => predict::run(args),
        Command::Convert(args) => convert::run(args),
        Command::Train(args) => train::run(args),
        Command::Fit(args) => fit::run_fit(args),
        Command::Evaluate(args) => fit::run_evaluate(args),
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
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rkeras: error: {e}");
            ExitCode::from(2)
        }
    }
}
