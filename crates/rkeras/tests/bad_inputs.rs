//! Bad input gets a clear error and never a panic: each case below is a mistake a user can
//! make (a layer argument, a shape that does not fit, a malformed graph, a broken config
//! file, wrong arrays), the error it must give (substrings that name the layer or file, the
//! argument, what was expected and what was received), all run under `catch_unwind`.

use rkeras::io::keras_json::model_from_json;
use rkeras::kshape::Shape;
use rkeras::layers::custom::{Builder, Custom, CustomLayer, Handles};
use rkeras::prelude::*;
use tensor::Var;

type Case = (&'static str, Box<dyn Fn() -> Result<()>>, &'static [&'static str]);

fn seq(input: &[usize], layer: impl rkeras::model::sequential::SequentialItem + 'static) -> Result<()> {
    clear_session();
    Sequential::new()
        .add(InputLayer::new(input))
        .add(layer)
        .build()
        .map(|_| ())
}

fn pair(a: &[usize], b: &[usize], merge: fn(&KerasTensor, &KerasTensor) -> Result<KerasTensor>) -> Result<()> {
    clear_session();
    let x = Input(a)?;
    let y = Input(b)?;
    merge(&x, &y).map(|_| ())
}

fn json(text: &'static str) -> Result<()> {
    clear_session();
    model_from_json(text).map(|_| ())
}

const CONV_JSON: &str = r#"{"class_name": "Sequential", "config": {"name": "s", "layers": [
 {"class_name": "InputLayer", "config": {"batch_shape": [null, 8, 8, 3], "name": "in"}},
 {"class_name": "Conv2D", "config": {"name": "c", "filters": 4, "kernel_size": KS, "padding": "valid"}}]}}"#;

#[derive(Clone)]
struct BadInit;

impl CustomLayer for BadInit {
    fn class_name(&self) -> &str {
        "BadInit"
    }
    fn build(&mut self, _input: &[Shape], b: &mut Builder) -> Result<()> {
        b.add_weight("kernel", &[2, 2], "glorot_unifrom", true).map(|_| ())
    }
    fn compute_output_shape(&self, input: &[Shape]) -> Result<Vec<Shape>> {
        Ok(input.to_vec())
    }
    fn call(&self, _ctx: &mut CallCtx, x: &[Var], _h: &Handles) -> Result<Vec<Var>> {
        Ok(x.to_vec())
    }
}

fn cases() -> Vec<Case> {
    vec![
        // Convolution arguments.
        (
            "zero filters",
            Box::new(|| seq(&[8, 8, 3], Conv2D::new(0, 3))),
            &["conv2d", "filters", "0"],
        ),
        (
            "kernel larger than the input",
            Box::new(|| seq(&[3, 3, 1], Conv2D::new(4, 5))),
            &["conv2d", "5", "3"],
        ),
        (
            "kernel larger than padded input",
            Box::new(|| seq(&[4, 4, 1], Conv2D::new(4, (3, 7)))),
            &["conv2d", "7"],
        ),
        (
            "stride 0",
            Box::new(|| seq(&[8, 8, 3], Conv2D::new(4, 3).strides(0))),
            &["conv2d", "strides", "0"],
        ),
        (
            "dilation 0",
            Box::new(|| seq(&[8, 8, 3], Conv2D::new(4, 3).dilation_rate(0))),
            &["conv2d", "dilation_rate"],
        ),
        (
            "groups not dividing channels",
            Box::new(|| seq(&[8, 8, 3], Conv2D::new(4, 3).groups(2))),
            &["conv2d", "groups", "3"],
        ),
        (
            "groups not dividing filters",
            Box::new(|| seq(&[8, 8, 4], Conv2D::new(3, 3).groups(2))),
            &["conv2d", "groups"],
        ),
        (
            "unknown activation",
            Box::new(|| seq(&[8, 8, 3], Conv2D::new(4, 3).activation("relux"))),
            &["conv2d", "activation", "relux"],
        ),
        (
            "unknown padding",
            Box::new(|| seq(&[8, 8, 3], Conv2D::new(4, 3).padding("vaild"))),
            &["conv2d", "padding", "vaild"],
        ),
        (
            "unknown initializer",
            Box::new(|| seq(&[8, 8, 3], Conv2D::new(4, 3).kernel_initializer("glorot_unifrom"))),
            &["conv2d", "kernel_initializer", "glorot_unifrom"],
        ),
        (
            "unknown data_format",
            Box::new(|| seq(&[8, 8, 3], Conv2D::new(4, 3).data_format("channels_middle"))),
            &["conv2d", "data_format", "channels_middle"],
        ),
        (
            "Conv2D on a flat input",
            Box::new(|| seq(&[10], Conv2D::new(4, 3))),
            &["conv2d", "rank", "(None, 10)"],
        ),
        (
            "zero depth multiplier",
            Box::new(|| seq(&[8, 8, 3], DepthwiseConv2D::new(3).depth_multiplier(0))),
            &["depthwise_conv2d", "depth_multiplier"],
        ),
        (
            "separable zero filters",
            Box::new(|| seq(&[8, 8, 3], SeparableConv2D::new(0, 3))),
            &["separable_conv2d", "filters"],
        ),
        (
            "output_padding not below strides",
            Box::new(|| seq(&[8, 8, 3], Conv2DTranspose::new(4, 3).strides(2).output_padding(2))),
            &["conv2d_transpose", "output_padding"],
        ),
        // Dense.
        (
            "zero units",
            Box::new(|| seq(&[4], Dense::new(0))),
            &["dense", "units", "0"],
        ),
        (
            "Dense on an unknown last dimension",
            Box::new(|| {
                clear_session();
                let x = InputLayer::with_dims(&[None]).tensor()?;
                Dense::new(3).call(&x).map(|_| ())
            }),
            &["dense", "last", "None"],
        ),
        (
            "Dense unknown activation",
            Box::new(|| seq(&[4], Dense::new(2).activation("softmaxx"))),
            &["dense", "activation", "softmaxx"],
        ),
        // Pooling and reshaping.
        (
            "pool larger than input",
            Box::new(|| seq(&[2, 2, 1], MaxPooling2D::new(3))),
            &["max_pooling2d", "3", "2"],
        ),
        (
            "pool size 0",
            Box::new(|| seq(&[4, 4, 1], MaxPooling2D::new(0))),
            &["max_pooling2d", "pool_size"],
        ),
        (
            "average pooling stride 0",
            Box::new(|| seq(&[4, 4, 1], AveragePooling2D::new(2).strides(0))),
            &["average_pooling2d", "strides"],
        ),
        (
            "ZeroPadding2D on a flat input",
            Box::new(|| seq(&[10], ZeroPadding2D::new(1))),
            &["zero_padding2d", "(None, 10)"],
        ),
        (
            "cropping more than the input",
            Box::new(|| seq(&[4, 4, 1], Cropping2D::new(2))),
            &["cropping2d", "4"],
        ),
        (
            "Reshape to a different size",
            Box::new(|| seq(&[4, 4, 1], Reshape::new(&[5, 3]))),
            &["reshape", "(None, 4, 4, 1)", "target_shape", "[5, 3]"],
        ),
        (
            "Reshape with two -1",
            Box::new(|| seq(&[4, 4, 1], Reshape::new(&[-1, -1]))),
            &["reshape", "-1"],
        ),
        (
            "Permute with a bad axis",
            Box::new(|| seq(&[4, 4, 1], Permute::new(&[1, 1, 2]))),
            &["permute", "dims"],
        ),
        (
            "dropout rate ≥ 1",
            Box::new(|| seq(&[4], Dropout::new(1.5))),
            &["dropout", "rate", "1.5"],
        ),
        (
            "BatchNormalization axis out of range",
            Box::new(|| seq(&[4, 4, 2], BatchNormalization::new().axis(7))),
            &["batch_normalization", "axis", "7"],
        ),
        // Merging.
        (
            "Add with mismatched shapes",
            Box::new(|| pair(&[4], &[5], |a, b| Add::new().call_many(&[a, b]))),
            &["add", "(None, 4)", "(None, 5)"],
        ),
        (
            "Add with one input",
            Box::new(|| {
                clear_session();
                let x = Input(&[4])?;
                Add::new().call_many(&[&x]).map(|_| ())
            }),
            &["add", "2"],
        ),
        (
            "Subtract with three inputs",
            Box::new(|| {
                clear_session();
                let x = Input(&[4])?;
                Subtract::new().call_many(&[&x, &x, &x]).map(|_| ())
            }),
            &["subtract", "2", "3"],
        ),
        (
            "Concatenate axis mismatch",
            Box::new(|| pair(&[4, 4, 2], &[5, 4, 3], |a, b| Concatenate::new(-1).call_many(&[a, b]))),
            &["concatenate", "axis"],
        ),
        (
            "Concatenate axis out of range",
            Box::new(|| pair(&[4, 2], &[4, 3], |a, b| Concatenate::new(5).call_many(&[a, b]))),
            &["concatenate", "axis"],
        ),
        (
            "symbolic + with mismatched shapes",
            Box::new(|| pair(&[4], &[5], |a, b| a + b)),
            &["add", "4 vs 5"],
        ),
        (
            "ReLU with a negative max_value",
            Box::new(|| seq(&[4], ReLU::new().max_value(-1.0))),
            &["re_lu", "max_value"],
        ),
        // Graphs.
        (
            "graph disconnected (dangling input)",
            Box::new(|| {
                clear_session();
                let a = Input(&[4])?;
                let b = Input(&[4])?;
                let y = Add::new().call_many(&[&a, &b])?;
                Model::new(&[&a], &[&y], None).map(|_| ())
            }),
            &["disconnected", "input_layer_1"],
        ),
        (
            "model input that is not an Input",
            Box::new(|| {
                clear_session();
                let a = Input(&[4])?;
                let h = Dense::new(2).call(&a)?;
                let y = Dense::new(2).call(&h)?;
                Model::new(&[&h], &[&y], None).map(|_| ())
            }),
            &["input 0", "InputLayer"],
        ),
        (
            "duplicate layer names",
            Box::new(|| {
                clear_session();
                let a = Input(&[4])?;
                let h = Dense::new(2).name("d").call(&a)?;
                let y = Dense::new(2).name("d").call(&h)?;
                Model::new(&[&a], &[&y], None).map(|_| ())
            }),
            &["\"d\"", "unique"],
        ),
        (
            "Sequential without an input",
            Box::new(|| {
                clear_session();
                Sequential::new().add(Dense::new(2)).build().map(|_| ())
            }),
            &["sequential", "input shape"],
        ),
        (
            "model without outputs",
            Box::new(|| {
                clear_session();
                let a = Input(&[4])?;
                Model::new(&[&a], &[], None).map(|_| ())
            }),
            &["output"],
        ),
        (
            "custom layer with an unknown initializer",
            Box::new(|| seq(&[4], Custom::new(BadInit))),
            &["bad_init", "initializer", "glorot_unifrom"],
        ),
        // Config files.
        (
            "malformed JSON",
            Box::new(|| json("{\"class_name\": \"Sequential\", ")),
            &["malformed JSON"],
        ),
        ("not a model", Box::new(|| json("[1, 2]")), &["class_name"]),
        (
            "unknown layer class",
            Box::new(|| {
                json(
                    r#"{"class_name": "Sequential", "config": {"name": "s", "layers": [
            {"class_name": "InputLayer", "config": {"batch_shape": [null, 4], "name": "in"}},
            {"class_name": "Densee", "config": {"name": "d", "units": 2}}]}}"#,
                )
            }),
            &["d", "unknown layer class", "Densee"],
        ),
        (
            "Lambda layer refused",
            Box::new(|| {
                json(
                    r#"{"class_name": "Sequential", "config": {"name": "s", "layers": [
            {"class_name": "InputLayer", "config": {"batch_shape": [null, 4], "name": "in"}},
            {"class_name": "Lambda", "config": {"name": "lam", "function": "..."}}]}}"#,
                )
            }),
            &["lam", "Lambda", "never executes code"],
        ),
        (
            "missing required field",
            Box::new(|| {
                json(
                    r#"{"class_name": "Sequential", "config": {"name": "s", "layers": [
            {"class_name": "InputLayer", "config": {"batch_shape": [null, 4], "name": "in"}},
            {"class_name": "Dense", "config": {"name": "d"}}]}}"#,
                )
            }),
            &["d", "units"],
        ),
        (
            "wrong type of argument",
            Box::new(|| json(Box::leak(CONV_JSON.replace("KS", "\"abc\"").into_boxed_str()))),
            &["c", "kernel_size", "abc"],
        ),
        (
            "shape that does not fit, from a file",
            Box::new(|| json(Box::leak(CONV_JSON.replace("KS", "[9, 9]").into_boxed_str()))),
            &["c", "9", "8"],
        ),
        (
            "float16 dtype",
            Box::new(|| {
                json(
                    r#"{"class_name": "Sequential", "config": {"name": "s", "layers": [
            {"class_name": "InputLayer", "config": {"batch_shape": [null, 4], "name": "in"}},
            {"class_name": "Dense", "config": {"name": "d", "units": 2, "dtype": "float16"}}]}}"#,
                )
            }),
            &["d", "dtype", "float16"],
        ),
        (
            "reference to a missing layer",
            Box::new(|| {
                json(
                    r#"{"class_name": "Functional", "config": {"name": "f", "layers": [
            {"class_name": "InputLayer", "config": {"batch_shape": [null, 4], "name": "in"}, "name": "in", "inbound_nodes": []},
            {"class_name": "Dense", "config": {"name": "d", "units": 2}, "name": "d", "inbound_nodes": [[["ghost", 0, 0, {}]]]}],
            "input_layers": [["in", 0, 0]], "output_layers": [["d", 0, 0]]}}"#,
                )
            }),
            &["f", "d", "never produced"],
        ),
        (
            "cycle between layers",
            Box::new(|| {
                json(
                    r#"{"class_name": "Functional", "config": {"name": "f", "layers": [
            {"class_name": "InputLayer", "config": {"batch_shape": [null, 4], "name": "in"}, "name": "in", "inbound_nodes": []},
            {"class_name": "Dense", "config": {"name": "a", "units": 4}, "name": "a", "inbound_nodes": [[["b", 0, 0, {}]]]},
            {"class_name": "Dense", "config": {"name": "b", "units": 4}, "name": "b", "inbound_nodes": [[["a", 0, 0, {}]]]}],
            "input_layers": [["in", 0, 0]], "output_layers": [["b", 0, 0]]}}"#,
                )
            }),
            &["f", "cycle"],
        ),
        (
            "output refers to nothing",
            Box::new(|| {
                json(
                    r#"{"class_name": "Functional", "config": {"name": "f", "layers": [
            {"class_name": "InputLayer", "config": {"batch_shape": [null, 4], "name": "in"}, "name": "in", "inbound_nodes": []}],
            "input_layers": [["in", 0, 0]], "output_layers": [["nope", 0, 0]]}}"#,
                )
            }),
            &["f", "nope"],
        ),
        // Arrays and weights.
        (
            "predict with the wrong shape",
            Box::new(|| {
                clear_session();
                let m = rkeras::tutorials::mlp()?;
                m.predict(&[Tensor::zeros(&[2, 783])], 32).map(|_| ())
            }),
            &["sequential", "(None, 784)", "(2, 783)"],
        ),
        (
            "predict with two inputs for one",
            Box::new(|| {
                clear_session();
                let m = rkeras::tutorials::mlp()?;
                m.predict(&[Tensor::zeros(&[2, 784]), Tensor::zeros(&[2, 784])], 32)
                    .map(|_| ())
            }),
            &["1 input", "received 2"],
        ),
        (
            "set_weights with a missing array",
            Box::new(|| {
                clear_session();
                let mut m = rkeras::tutorials::mlp()?;
                let mut w = m.get_weights();
                w.pop();
                m.set_weights(&w)
            }),
            &["6 weights", "received 5"],
        ),
        (
            "set_weights with a wrong shape",
            Box::new(|| {
                clear_session();
                let mut m = rkeras::tutorials::mlp()?;
                let mut w = m.get_weights();
                w[0] = Tensor::zeros(&[784, 63]);
                m.set_weights(&w)
            }),
            &["dense/kernel", "[784, 64]", "[784, 63]"],
        ),
        (
            "get_layer with an unknown name",
            Box::new(|| {
                clear_session();
                let m = rkeras::tutorials::mlp()?;
                m.get_layer("dense_9").map(|_| ())
            }),
            &["dense_9", "dense_1"],
        ),
        (
            "truncated npy file",
            Box::new(|| {
                rkeras::io::npy::read_npy_bytes("x.npy", b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f4'").map(|_| ())
            }),
            &["x.npy"],
        ),
    ]
}

#[test]
fn every_bad_input_gives_a_clear_error_and_no_panic() {
    let cases = cases();
    assert!(cases.len() >= 40, "the table has {} cases", cases.len());
    let mut failures = Vec::new();
    for (what, f, needles) in &cases {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        match outcome {
            Err(_) => failures.push(format!("{what}: PANICKED")),
            Ok(Ok(())) => failures.push(format!("{what}: accepted, expected an error")),
            Ok(Err(e)) => {
                let msg = e.to_string();
                let missing: Vec<&&str> = needles.iter().filter(|n| !msg.contains(**n)).collect();
                if missing.is_empty() {
                    println!("{what}: {msg}");
                } else {
                    failures.push(format!("{what}: message {msg:?} lacks {missing:?}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
