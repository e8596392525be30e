//! What the convolution and pooling layers share: Keras's int-or-tuple arguments ([`Pair`]),
//! `data_format` ([`DataFormat`]: `channels_first` inputs are transposed NCHW → NHWC around
//! the engine op and back, [`DataFormat::run_nhwc`]), the window arguments checked once
//! ([`Window`], which also writes them to a config), the arguments every convolution config
//! reads alike (`read_conv_args!`), and initializer arguments given by name or value
//! ([`InitializerArg`]). The helpers every layer family uses (single inputs, engine errors,
//! reading and writing regularizers and constraints) live in `common.rs` and are re-exported
//! here under their former paths.

pub use super::common::{
    constraint_json, engine_err, read_activation, read_constraint, read_init, read_reg, reg_json, single, single_var,
};
use crate::config::ConfigReader;
use crate::error::{arg_error, shape_error, Result};
use crate::explain::axis_line;
use crate::initializers::Initializer;
use crate::kshape::{format_shape, Shape};
use serde_json::{json, Map, Value};
use tensor::shape::{absorb_zeros, window_axis, AxisGeometry, Padding};
use tensor::{Tape, TensorError, Var};

/// Keras's int-or-tuple argument (`kernel_size=3` or `kernel_size=(3, 5)`): `(height, width)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pair(pub usize, pub usize);

impl From<usize> for Pair {
    fn from(v: usize) -> Pair {
        Pair(v, v)
    }
}

impl From<(usize, usize)> for Pair {
    fn from((a, b): (usize, usize)) -> Pair {
        Pair(a, b)
    }
}

impl From<[usize; 2]> for Pair {
    fn from([a, b]: [usize; 2]) -> Pair {
        Pair(a, b)
    }
}

impl Pair {
    /// As a tuple.
    pub fn tuple(self) -> (usize, usize) {
        (self.0, self.1)
    }

    /// Keras 3 JSON (`[3, 3]`).
    pub fn to_json(self) -> Value {
        json!([self.0, self.1])
    }

    fn show(self) -> String {
        format!("({}, {})", self.0, self.1)
    }
}

/// Keras's `data_format`: where the channel axis of a 4-D image batch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataFormat {
    /// `(batch, height, width, channels)`, Keras's default and the engine's layout.
    ChannelsLast,
    /// `(batch, channels, height, width)`.
    ChannelsFirst,
}

impl DataFormat {
    /// Reads `"channels_last"` / `"channels_first"` (case-insensitive, as Keras).
    pub fn parse(layer: &str, s: &str) -> Result<DataFormat> {
        match s.to_ascii_lowercase().as_str() {
            "channels_last" => Ok(DataFormat::ChannelsLast),
            "channels_first" => Ok(DataFormat::ChannelsFirst),
            _ => Err(arg_error(
                layer,
                "data_format",
                "one of \"channels_last\", \"channels_first\"",
                s,
            )),
        }
    }

    /// Keras's name.
    pub fn name(self) -> &'static str {
        match self {
            DataFormat::ChannelsLast => "channels_last",
            DataFormat::ChannelsFirst => "channels_first",
        }
    }

    /// `[n, h, w, c]` of a rank-4 symbolic shape in this format.
    pub fn split(self, layer: &str, shape: &[Option<usize>]) -> Result<[Option<usize>; 4]> {
        if shape.len() != 4 {
            let layout = match self {
                DataFormat::ChannelsLast => "(batch, height, width, channels)",
                DataFormat::ChannelsFirst => "(batch, channels, height, width)",
            };
            return Err(shape_error(
                layer,
                format!(
                    "expected a 4-D input {layout}, received input shape {} of rank {}",
                    format_shape(shape),
                    shape.len()
                ),
            ));
        }
        Ok(match self {
            DataFormat::ChannelsLast => [shape[0], shape[1], shape[2], shape[3]],
            DataFormat::ChannelsFirst => [shape[0], shape[2], shape[3], shape[1]],
        })
    }

    /// The shape in this format of `[n, h, w, c]`.
    pub fn join(self, [n, h, w, c]: [Option<usize>; 4]) -> Shape {
        match self {
            DataFormat::ChannelsLast => vec![n, h, w, c],
            DataFormat::ChannelsFirst => vec![n, c, h, w],
        }
    }

    /// The channel axis in this format.
    pub fn channel_axis(self) -> usize {
        match self {
            DataFormat::ChannelsLast => 3,
            DataFormat::ChannelsFirst => 1,
        }
    }

    /// An input in this format as NHWC, the engine's layout (a transpose for `channels_first`).
    pub fn to_nhwc(self, tape: &mut Tape, x: Var) -> tensor::Result<Var> {
        match self {
            DataFormat::ChannelsLast => Ok(x),
            DataFormat::ChannelsFirst => tape.transpose(x, &[0, 2, 3, 1]),
        }
    }

    /// An NHWC result back in this format.
    pub fn from_nhwc(self, tape: &mut Tape, y: Var) -> tensor::Result<Var> {
        match self {
            DataFormat::ChannelsLast => Ok(y),
            DataFormat::ChannelsFirst => tape.transpose(y, &[0, 3, 1, 2]),
        }
    }

    /// Runs an NHWC engine op on a layer input in this format: `x` to NHWC, `op`, back.
    pub(crate) fn run_nhwc(
        self,
        tape: &mut Tape,
        layer: &str,
        x: Var,
        op: impl FnOnce(&mut Tape, Var) -> tensor::Result<Var>,
    ) -> Result<Var> {
        let err = engine_err(layer);
        let xs = self.to_nhwc(tape, x).map_err(&err)?;
        let y = op(tape, xs).map_err(&err)?;
        self.from_nhwc(tape, y).map_err(&err)
    }
}

/// Reads Keras's `padding` name (`"valid"`, `"same"`, case-insensitive).
pub fn parse_padding(layer: &str, s: &str) -> Result<Padding> {
    match s.to_ascii_lowercase().as_str() {
        "valid" => Ok(Padding::Valid),
        "same" => Ok(Padding::Same),
        _ => Err(arg_error(layer, "padding", "one of \"valid\", \"same\"", s)),
    }
}

/// Keras's name of a `valid`/`same` padding.
pub fn padding_name(p: Padding) -> String {
    p.name()
}

/// `[n, oh, ow, c]` (NHWC order) and the height/width geometry (`None` where unknown).
pub type WindowOutput = ([Option<usize>; 4], [Option<AxisGeometry>; 2]);

/// The window arguments of a convolution or pooling layer, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Kernel (pool) size `(kh, kw)`.
    pub kernel: (usize, usize),
    /// Strides.
    pub strides: (usize, usize),
    /// Dilation rate.
    pub dilation: (usize, usize),
    /// `valid` or `same`.
    pub padding: Padding,
    /// Channel position.
    pub data_format: DataFormat,
}

impl Window {
    /// Checks Keras's window arguments; `kernel_arg` is `kernel_size` or `pool_size`.
    pub fn new(
        layer: &str,
        kernel_arg: &str,
        kernel: Pair,
        strides: Pair,
        dilation: Pair,
        padding: &str,
        data_format: &str,
    ) -> Result<Window> {
        for (arg, p) in [(kernel_arg, kernel), ("strides", strides), ("dilation_rate", dilation)] {
            if p.0 == 0 || p.1 == 0 {
                return Err(arg_error(
                    layer,
                    arg,
                    "positive integers (it cannot contain 0)",
                    p.show(),
                ));
            }
        }
        if strides.0.max(strides.1) > 1 && dilation.0.max(dilation.1) > 1 {
            return Err(arg_error(
                layer,
                "strides",
                "strides of 1 when dilation_rate > 1 (Keras does not support `strides > 1` with `dilation_rate > 1`)",
                format!("{} and dilation_rate={}", strides.show(), dilation.show()),
            ));
        }
        Ok(Window {
            kernel: kernel.tuple(),
            strides: strides.tuple(),
            dilation: dilation.tuple(),
            padding: parse_padding(layer, padding)?,
            data_format: DataFormat::parse(layer, data_format)?,
        })
    }

    /// The geometry of one spatial axis (`None` where the size is unknown).
    pub fn axis(&self, layer: &str, which: usize, input: Option<usize>) -> Result<Option<AxisGeometry>> {
        let (k, s, d, label) = match which {
            0 => (self.kernel.0, self.strides.0, self.dilation.0, "height"),
            _ => (self.kernel.1, self.strides.1, self.dilation.1, "width"),
        };
        match input {
            None => Ok(None),
            Some(n) => window_axis("window", n, k, s, d, self.padding)
                .map(Some)
                .map_err(|e| match e {
                    TensorError::Shape { detail, .. } => shape_error(layer, format!("{label}: {detail}")),
                    other => engine_err(layer)(other),
                }),
        }
    }

    /// `[n, oh, ow, c_in]` and the two axes' geometry for an input shape in this format.
    pub fn output(&self, layer: &str, input: &[Option<usize>]) -> Result<WindowOutput> {
        let [n, h, w, c] = self.data_format.split(layer, input)?;
        let rows = self.axis(layer, 0, h)?;
        let cols = self.axis(layer, 1, w)?;
        Ok(([n, rows.map(|g| g.output), cols.map(|g| g.output), c], [rows, cols]))
    }

    /// `x` and the paddings `(rows, cols)` with which this window, on the NHWC input `x` that
    /// a `ZeroPadding2D` of `zeros` (`(top, bottom), (left, right)`) would have padded first,
    /// reads the same values from `x` itself (the zeros taken into its own padding). `None`
    /// where the channels are not last, `x` is not on the tape or the window does not fit.
    pub(crate) fn absorbing(
        &self,
        tape: &Tape,
        x: Var,
        zeros: ((usize, usize), (usize, usize)),
    ) -> Option<(Var, (Padding, Padding))> {
        let (&[_, h, w, _], DataFormat::ChannelsLast) = (tape.try_value(x).ok()?.shape(), self.data_format) else {
            return None;
        };
        let ((t, b), (l, r)) = zeros;
        let axis = |size: usize, k: usize, s: usize, d: usize, z: (usize, usize)| {
            absorb_zeros(self.padding, size + z.0 + z.1, k, s, d, z)
        };
        let rows = axis(h, self.kernel.0, self.strides.0, self.dilation.0, (t, b))?;
        let cols = axis(w, self.kernel.1, self.strides.1, self.dilation.1, (l, r))?;
        Some((x, (rows, cols)))
    }

    /// A convolution's window arguments in Keras's order: `kernel_size`, `strides`, `padding`,
    /// `extra` (Conv2DTranspose's `output_padding`), `data_format`, `dilation_rate`.
    pub(crate) fn write_config(&self, m: &mut Map<String, Value>, extra: Option<(&str, Value)>) {
        m.insert("kernel_size".into(), Pair::from(self.kernel).to_json());
        m.insert("strides".into(), Pair::from(self.strides).to_json());
        m.insert("padding".into(), json!(padding_name(self.padding)));
        if let Some((k, v)) = extra {
            m.insert(k.into(), v);
        }
        m.insert("data_format".into(), json!(self.data_format.name()));
        m.insert("dilation_rate".into(), Pair::from(self.dilation).to_json());
    }

    /// `--explain` lines of the output-size arithmetic for a layer's first input, if any.
    pub(crate) fn explain_inputs(&self, layer: &str, inputs: &[Shape]) -> Vec<String> {
        inputs.first().map(|x| self.explain(layer, x)).unwrap_or_default()
    }

    /// `--explain` lines of the output-size arithmetic.
    pub fn explain(&self, layer: &str, input: &[Option<usize>]) -> Vec<String> {
        match self.output(layer, input) {
            Ok((_, [rows, cols])) => {
                let mut lines = Vec::new();
                if let Some(g) = rows {
                    lines.push(axis_line("H", &g, self.padding, ("top", "bottom")));
                }
                if let Some(g) = cols {
                    lines.push(axis_line("W", &g, self.padding, ("left", "right")));
                }
                lines
            }
            Err(e) => vec![e.to_string()],
        }
    }
}

/// An initializer argument as Keras takes it: a name (`"he_normal"`) or an initializer.
#[derive(Debug, Clone, PartialEq)]
pub enum InitializerArg {
    /// A Keras name, resolved when the layer is built.
    Name(String),
    /// An initializer.
    Value(Initializer),
}

impl From<&str> for InitializerArg {
    fn from(s: &str) -> InitializerArg {
        InitializerArg::Name(s.to_string())
    }
}

impl From<String> for InitializerArg {
    fn from(s: String) -> InitializerArg {
        InitializerArg::Name(s)
    }
}

impl From<Initializer> for InitializerArg {
    fn from(i: Initializer) -> InitializerArg {
        InitializerArg::Value(i)
    }
}

impl InitializerArg {
    /// The initializer, or an error naming the layer and argument.
    pub fn resolve(&self, layer: &str, arg: &str) -> Result<Initializer> {
        match self {
            InitializerArg::Value(i) => Ok(i.clone()),
            InitializerArg::Name(n) => Initializer::from_keras(layer, arg, &Value::String(n.clone())),
        }
    }
}

/// A string argument, checked by `check` (so bad names fail when the config is read).
pub fn read_name(
    r: &ConfigReader,
    key: &str,
    default: &str,
    check: impl Fn(&str, &str) -> Result<()>,
) -> Result<String> {
    let s = r.string(key)?.unwrap_or_else(|| default.to_string());
    check(&r.layer, &s)?;
    Ok(s.to_ascii_lowercase())
}

/// Refuses a `groups` other than 1 (tf-keras 2 writes `groups: 1` for layers without groups).
pub fn check_no_groups(r: &ConfigReader, why: &str) -> Result<()> {
    match r.usize("groups")? {
        Some(g) if g != 1 => Err(arg_error(&r.layer, "groups", format!("1 ({why})"), g)),
        _ => Ok(()),
    }
}

/// Reads the arguments every convolution config has into the fields of the same names:
/// `name`, `trainable`, `strides`, `padding`, `data_format`, `dilation_rate`, `activation`,
/// `use_bias` (defaults where absent).
macro_rules! read_conv_args {
    ($r:expr, $c:ident) => {
        $c.name = $r.name();
        $c.trainable = $r.trainable()?;
        $c.strides = $r.pair("strides")?.map_or($c.strides, $crate::layers::Pair::from);
        $c.padding = $crate::layers::conv_args::read_padding($r)?;
        $c.data_format = $crate::layers::conv_args::read_data_format($r)?;
        $c.dilation_rate = $r
            .pair("dilation_rate")?
            .map_or($c.dilation_rate, $crate::layers::Pair::from);
        $c.activation = $crate::layers::common::read_activation($r)?;
        $c.use_bias = $r.bool("use_bias")?.unwrap_or(true);
    };
}
pub(crate) use read_conv_args;

/// The checked `(Window, ActivationKind)` of a convolution config, from its fields of Keras's
/// names (`kernel_size`, `strides`, `dilation_rate`, `padding`, `data_format`, `activation`).
macro_rules! conv_window {
    ($c:expr, $layer:expr) => {
        $crate::layers::conv_args::Window::new(
            $layer,
            "kernel_size",
            $c.kernel_size,
            $c.strides,
            $c.dilation_rate,
            &$c.padding,
            &$c.data_format,
        )
        .and_then(|w| $crate::activations::parse_activation($layer, "activation", &$c.activation).map(|a| (w, a)))
    };
}
pub(crate) use conv_window;

/// `padding` of a config (default `valid`), checked.
pub fn read_padding(r: &ConfigReader) -> Result<String> {
    read_name(r, "padding", "valid", |l, s| parse_padding(l, s).map(|_| ()))
}

/// `data_format` of a config (default `channels_last`), checked.
pub fn read_data_format(r: &ConfigReader) -> Result<String> {
    read_name(r, "data_format", "channels_last", |l, s| {
        DataFormat::parse(l, s).map(|_| ())
    })
}

#[cfg(test)]
#[path = "conv_args_tests.rs"]
mod tests;
