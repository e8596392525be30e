//! Application options shared by `summary`, `predict` and `convert` when MODEL is an
//! application name (`VGG16`, `MobileNetV2`, …) rather than a file: Keras's
//! `keras.applications.X(include_top=…, input_shape=…, pooling=…, classes=…, alpha=…,
//! weights=…)`.

use clap::ValueEnum;
use rkeras::applications::{self, AppOptions, Pooling};
use rkeras::{Model, Result};

/// `pooling=` for an application without its top.
#[derive(Clone, Copy, ValueEnum)]
pub enum PoolingArg {
    /// Global average pooling.
    Avg,
    /// Global max pooling.
    Max,
}

/// Arguments that build an application.
#[derive(clap::Args, Clone, Default)]
pub struct AppArgs {
    /// Application input shape `H,W,C`.
    #[arg(long, value_parser = parse_shape)]
    pub input_shape: Option<(usize, usize, usize)>,
    /// Application without its classifier (`include_top=False`).
    #[arg(long)]
    pub no_top: bool,
    /// Global pooling for `--no-top` (`pooling=`).
    #[arg(long, value_enum)]
    pub pooling: Option<PoolingArg>,
    /// Number of classes of the classifier.
    #[arg(long)]
    pub classes: Option<usize>,
    /// MobileNet / MobileNetV2 width multiplier (`alpha=`).
    #[arg(long)]
    pub alpha: Option<f64>,
}

impl AppArgs {
    /// Keras's arguments, with `weights` (`None`, a path, or `"imagenet"`).
    pub fn options(&self, weights: Option<String>) -> AppOptions {
        let d = AppOptions::default();
        AppOptions {
            include_top: !self.no_top,
            input_shape: self.input_shape,
            pooling: self.pooling.map(|p| match p {
                PoolingArg::Avg => Pooling::Avg,
                PoolingArg::Max => Pooling::Max,
            }),
            classes: self.classes,
            alpha: self.alpha.unwrap_or(d.alpha),
            weights,
            ..d
        }
    }

    /// Builds the application `name` with these options and `weights`.
    pub fn build(&self, name: &str, weights: Option<String>) -> Result<Model> {
        applications::by_name(name, &self.options(weights))
    }
}

/// `H,W,C` as three positive integers.
pub fn parse_shape(s: &str) -> std::result::Result<(usize, usize, usize), String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let nums: std::result::Result<Vec<usize>, _> = parts.iter().map(|p| p.parse::<usize>()).collect();
    match nums {
        Ok(v) if v.len() == 3 && v.iter().all(|&d| d > 0) => Ok((v[0], v[1], v[2])),
        _ => Err(format!(
            "expected three positive integers H,W,C (e.g. 224,224,3), received {s:?}"
        )),
    }
}
