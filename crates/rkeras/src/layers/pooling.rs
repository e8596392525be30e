//! Pooling: `MaxPooling2D` and `AveragePooling2D` (`pool_size` default 2, `strides` default
//! `pool_size`, TensorFlow's `valid`/`same`: a padded cell never wins a maximum and is not
//! counted in an average), and `GlobalAveragePooling2D` / `GlobalMaxPooling2D` (`keepdims`).
//!
//! Shapes: `(n, h, w, c)` → `(n, oh, ow, c)`; global pools → `(n, c)`, or `(n, 1, 1, c)` with
//! `keepdims` (`channels_first`: `(n, c, 1, 1)`). No weights.
//!
//! ```
//! use rkeras::prelude::*;
//! clear_session();
//! let x = Input(&[7, 7, 3]).unwrap();
//! let y = MaxPooling2D::new(3).strides(2).padding("same").call(&x).unwrap();
//! assert_eq!(y.shape(), &vec![None, Some(4), Some(4), Some(3)]);
//! let g = GlobalAveragePooling2D::new().call(&y).unwrap();
//! assert_eq!(g.shape(), &vec![None, Some(3)]);
//! ```

use super::common::{config_name, layer_core, opt_setters, plain_setters, setters, LayerCore};
use super::conv_args::*;
use super::{CallCtx, Layer, LayerConfig};
use crate::config::ConfigReader;
use crate::error::{shape_error, Result};
use crate::kshape::Shape;
use crate::model::plan::InferenceOp;
use serde_json::{json, Value};
use tensor::{Rng, Var};

/// Which reduction a pooling layer takes over its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolKind {
    /// The maximum.
    Max,
    /// The mean.
    Average,
}

impl PoolKind {
    fn from_class(class: &str) -> PoolKind {
        if class.contains("Max") {
            PoolKind::Max
        } else {
            PoolKind::Average
        }
    }
}

/// `MaxPooling2D` / `AveragePooling2D` arguments with Keras 3's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Pooling2DConfig {
    /// Max or average.
    pub kind: PoolKind,
    /// Name; automatic (`max_pooling2d`, `average_pooling2d`, …) when `None`.
    pub name: Option<String>,
    /// Keras's `trainable` flag (no weights).
    pub trainable: bool,
    /// Window `(ph, pw)`, default 2.
    pub pool_size: Pair,
    /// Default `None`: the pool size.
    pub strides: Option<Pair>,
    /// `"valid"` (default) or `"same"`.
    pub padding: String,
    /// `"channels_last"` (default) or `"channels_first"`.
    pub data_format: String,
}

/// Keras's `MaxPooling2D`: its constructor.
pub struct MaxPooling2D;

/// Keras's `AveragePooling2D`: its constructor.
pub struct AveragePooling2D;

impl MaxPooling2D {
    /// `MaxPooling2D(pool_size)` (Keras's default is 2).
    #[allow(clippy::new_ret_no_self)]
    pub fn new(pool_size: impl Into<Pair>) -> Pooling2DConfig {
        Pooling2DConfig::new(PoolKind::Max, pool_size.into())
    }
}

impl AveragePooling2D {
    /// `AveragePooling2D(pool_size)` (Keras's default is 2).
    #[allow(clippy::new_ret_no_self)]
    pub fn new(pool_size: impl Into<Pair>) -> Pooling2DConfig {
        Pooling2DConfig::new(PoolKind::Average, pool_size.into())
    }
}

impl Pooling2DConfig {
    fn new(kind: PoolKind, pool_size: Pair) -> Pooling2DConfig {
        Pooling2DConfig {
            kind,
            name: None,
            trainable: true,
            pool_size,
            strides: None,
            padding: "valid".into(),
            data_format: "channels_last".into(),
        }
    }

    setters!(padding: String, data_format: String);
    plain_setters!(trainable: bool);
    opt_setters!(name: String, strides: Pair);

    /// Keras's class name for the kind.
    pub fn class(&self) -> &'static str {
        match self.kind {
            PoolKind::Max => "MaxPooling2D",
            PoolKind::Average => "AveragePooling2D",
        }
    }

    /// Checks the arguments.
    pub fn validate(&self, layer: &str) -> Result<Window> {
        let strides = self.strides.unwrap_or(self.pool_size);
        Window::new(
            layer,
            "pool_size",
            self.pool_size,
            strides,
            Pair(1, 1),
            &self.padding,
            &self.data_format,
        )
    }

    /// Reads a Keras 3 or tf-keras 2 config; the class name picks max or average.
    pub fn from_keras(r: &ConfigReader) -> Result<Pooling2DConfig> {
        r.check_dtype()?;
        let mut c = Pooling2DConfig::new(
            PoolKind::from_class(r.class_name),
            r.pair("pool_size")?.map_or(Pair(2, 2), Pair::from),
        );
        c.name = r.name();
        c.trainable = r.trainable()?;
        c.strides = r.pair("strides")?.map(Pair::from);
        c.padding = read_padding(r)?;
        c.data_format = read_data_format(r)?;
        c.validate(&r.layer)?;
        Ok(c)
    }
}

impl Default for Pooling2DConfig {
    /// `MaxPooling2D()`: 2×2 windows, stride 2.
    fn default() -> Self {
        Pooling2DConfig::new(PoolKind::Max, Pair(2, 2))
    }
}

/// A built pooling layer.
#[derive(Debug, Clone)]
pub struct Pooling2D {
    core: LayerCore,
    kind: PoolKind,
    window: Window,
}

impl LayerConfig for Pooling2DConfig {
    fn class_name(&self) -> &'static str {
        self.class()
    }
    config_name!();
    fn build(&self, name: &str, inputs: &[Shape], _rng: &mut Rng) -> Result<Box<dyn Layer>> {
        let window = self.validate(name)?;
        window.output(name, single(name, inputs)?)?;
        Ok(Box::new(Pooling2D {
            core: LayerCore::new(name, self.trainable, Vec::new()),
            kind: self.kind,
            window,
        }))
    }
}

impl Layer for Pooling2D {
    layer_core!();
    fn inference_op(&self) -> Option<InferenceOp> {
        let w = &self.window;
        (w.data_format == DataFormat::ChannelsLast).then_some(InferenceOp::Pool {
            max: self.kind == PoolKind::Max,
            pool_size: w.kernel,
            strides: w.strides,
            padding: w.padding,
        })
    }
    fn class_name(&self) -> &str {
        match self.kind {
            PoolKind::Max => "MaxPooling2D",
            PoolKind::Average => "AveragePooling2D",
        }
    }
    fn compute_output_shape(&self, inputs: &[Shape]) -> Result<Vec<Shape>> {
        let (out, _) = self.window.output(&self.core.name, single(&self.core.name, inputs)?)?;
        Ok(vec![self.window.data_format.join(out)])
    }
    fn call(&self, ctx: &mut CallCtx, inputs: &[Var], weights: &[Var]) -> Result<Vec<Var>> {
        let x = self.core.input(inputs, weights)?;
        let w = &self.window;
        let y = w
            .data_format
            .run_nhwc(ctx.tape, &self.core.name, x, |t, xs| match self.kind {
                PoolKind::Max => t.max_pool2d(xs, w.kernel, w.strides, w.padding),
                PoolKind::Average => t.avg_pool2d(xs, w.kernel, w.strides, w.padding),
            })?;
        Ok(vec![y])
    }
    fn config(&self) -> Value {
        let w = &self.window;
        let entries = [
            ("pool_size", Pair::from(w.kernel).to_json()),
            ("padding", json!(padding_name(w.padding))),
            ("strides", Pair::from(w.strides).to_json()),
            ("data_format", json!(w.data_format.name())),
        ];
        Value::Object(self.core.config_with(None, entries))
    }
    fn explain(&self, inputs: &[Shape]) -> Vec<String> {
        self.window.explain_inputs(&self.core.name, inputs)
    }
}

/// `GlobalAveragePooling2D` / `GlobalMaxPooling2D` arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct GlobalPooling2DConfig {
    /// Max or average.
    pub kind: PoolKind,
    /// Name; automatic (`global_average_pooling2d`, …) when `None`.
    pub name: Option<String>,
    /// Keras's `trainable` flag (no weights).
    pub trainable: bool,
    /// `"channels_last"` (default) or `"channels_first"`.
    pub data_format: String,
    /// Keep the spatial axes as size 1 (default false).
    pub keepdims: bool,
}

/// Keras's `GlobalAveragePooling2D`: its constructor.
pub struct GlobalAveragePooling2D;

/// Keras's `GlobalMaxPooling2D`: its constructor.
pub struct GlobalMaxPooling2D;

impl GlobalAveragePooling2D {
    /// `GlobalAveragePooling2D()`.
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> GlobalPooling2DConfig {
        GlobalPooling2DConfig::new(PoolKind::Average)
    }
}

impl GlobalMaxPooling2D {
    /// `GlobalMaxPooling2D()`.
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> GlobalPooling2DConfig {
        GlobalPooling2DConfig::new(PoolKind::Max)
    }
}

impl GlobalPooling2DConfig {
    fn new(kind: PoolKind) -> GlobalPooling2DConfig {
        GlobalPooling2DConfig {
            kind,
            name: None,
            trainable: true,
            data_format: "channels_last".into(),
            keepdims: false,
        }
    }

    setters!(data_format: String);
    plain_setters!(keepdims: bool, trainable: bool);
    opt_setters!(name: String);

    /// Keras's class name for the kind.
    pub fn class(&self) -> &'static str {
        match self.kind {
            PoolKind::Max => "GlobalMaxPooling2D",
            PoolKind::Average => "GlobalAveragePooling2D",
        }
    }

    /// Reads a Keras 3 or tf-keras 2 config; the class name picks max or average.
    pub fn from_keras(r: &ConfigReader) -> Result<GlobalPooling2DConfig> {
        r.check_dtype()?;
        let mut c = GlobalPooling2DConfig::new(PoolKind::from_class(r.class_name));
        c.name = r.name();
        c.trainable = r.trainable()?;
        c.data_format = read_data_format(r)?;
        c.keepdims = r.bool("keepdims")?.unwrap_or(false);
        Ok(c)
    }
}

/// A built global pooling layer.
#[derive(Debug, Clone)]
pub struct GlobalPooling2D {
    core: LayerCore,
    kind: PoolKind,
    data_format: DataFormat,
    keepdims: bool,
}

impl LayerConfig for GlobalPooling2DConfig {
    fn class_name(&self) -> &'static str {
        self.class()
    }
    config_name!();
    fn build(&self, name: &str, inputs: &[Shape], _rng: &mut Rng) -> Result<Box<dyn Layer>> {
        let data_format = DataFormat::parse(name, &self.data_format)?;
        let [_, h, w, _] = data_format.split(name, single(name, inputs)?)?;
        if h == Some(0) || w == Some(0) {
            return Err(shape_error(name, "cannot pool over an empty image (height or width 0)"));
        }
        Ok(Box::new(GlobalPooling2D {
            core: LayerCore::new(name, self.trainable, Vec::new()),
            kind: self.kind,
            data_format,
            keepdims: self.keepdims,
        }))
    }
}

impl Layer for GlobalPooling2D {
    layer_core!();
    fn inference_op(&self) -> Option<InferenceOp> {
        (self.data_format == DataFormat::ChannelsLast).then_some(InferenceOp::GlobalPool {
            max: self.kind == PoolKind::Max,
            keepdims: self.keepdims,
        })
    }
    fn class_name(&self) -> &str {
        match self.kind {
            PoolKind::Max => "GlobalMaxPooling2D",
            PoolKind::Average => "GlobalAveragePooling2D",
        }
    }
    fn compute_output_shape(&self, inputs: &[Shape]) -> Result<Vec<Shape>> {
        let [n, _, _, c] = self
            .data_format
            .split(&self.core.name, single(&self.core.name, inputs)?)?;
        Ok(vec![if self.keepdims {
            self.data_format.join([n, Some(1), Some(1), c])
        } else {
            vec![n, c]
        }])
    }
    fn call(&self, ctx: &mut CallCtx, inputs: &[Var], weights: &[Var]) -> Result<Vec<Var>> {
        let x = self.core.input(inputs, weights)?;
        let err = engine_err(&self.core.name);
        let xs = self.data_format.to_nhwc(ctx.tape, x).map_err(&err)?;
        let y = match self.kind {
            PoolKind::Max => ctx.tape.global_max_pool2d(xs, self.keepdims),
            PoolKind::Average => ctx.tape.global_avg_pool2d(xs, self.keepdims),
        }
        .map_err(&err)?;
        let y = if self.keepdims {
            self.data_format.from_nhwc(ctx.tape, y).map_err(&err)?
        } else {
            y
        };
        Ok(vec![y])
    }
    fn config(&self) -> Value {
        let entries = [
            ("data_format", json!(self.data_format.name())),
            ("keepdims", json!(self.keepdims)),
        ];
        Value::Object(self.core.config_with(None, entries))
    }
    fn explain(&self, inputs: &[Shape]) -> Vec<String> {
        let what = if self.kind == PoolKind::Max { "max" } else { "mean" };
        match inputs.first().map(|x| self.data_format.split(&self.core.name, x)) {
            Some(Ok([_, Some(h), Some(w), _])) => {
                vec![format!("{what} over H·W = {h}·{w} = {} positions per channel", h * w)]
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
#[path = "pooling_tests.rs"]
mod tests;
