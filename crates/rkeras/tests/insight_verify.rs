//! `rkeras::insight::verify`: every layer's fast kernels against the engine's naive reference
//! kernels and its gradients against finite differences. Real models pass (LeNet-5,
//! MobileNetV2 and ResNet50 at small input sizes here; every application by hand, see
//! `rkeras verify`); a layer with a deliberately broken forward kernel (correlation turned
//! into convolution: the kernel flipped) or a broken backward rule (kernel gradient doubled)
//! fails, and only that layer.

use rkeras::applications::{by_name, AppOptions};
use rkeras::insight::verify::{render, verify, VerifyOptions};
use rkeras::kshape::Shape;
use rkeras::layers::custom::{Builder, Custom, CustomLayer, Handles};
use rkeras::prelude::*;
use serde_json::{json, Value};
use tensor::ops::conv::{conv2d, conv2d_backward, Conv2dParams};
use tensor::{Padding, Var};

fn small(name: &str, side: usize) -> Model {
    clear_session();
    let opts = AppOptions {
        include_top: false,
        input_shape: Some((side, side, 3)),
        ..AppOptions::default()
    };
    by_name(name, &opts).unwrap()
}

#[test]
fn real_models_pass() {
    clear_session();
    let lenet = by_name("LeNet5", &AppOptions::default()).unwrap();
    for m in [lenet, small("MobileNetV2", 32), small("ResNet50", 32)] {
        let checks = verify(&m, &VerifyOptions::default()).unwrap();
        let text = render(&checks, &VerifyOptions::default());
        assert!(checks.iter().all(|c| c.passed), "{}\n{text}", m.name());
        assert!(text.ends_with("PASS: every layer\n"), "{text}");
        // Every layer of these models has a naive reference and something to differentiate.
        assert!(
            checks.iter().all(|c| c.forward.is_some() && c.gradient.is_some()),
            "{text}"
        );
        assert_eq!(checks.len(), m.all_layers().len() - 1, "{}", m.name());
    }
}

/// MobileNetV3's hard sigmoid is `ReLU(6)(x + 3.0) * (1/6)`: Keras 3 operations with a
/// constant operand, which the reference must apply (it once passed `x` through unchanged and
/// every such layer failed by exactly the constant).
#[test]
fn operations_with_a_constant_have_references_and_pass() {
    let m = small("MobileNetV3Small", 32);
    let checks = verify(&m, &VerifyOptions::default()).unwrap();
    let text = render(&checks, &VerifyOptions::default());
    assert!(checks.iter().all(|c| c.passed), "{text}");
    assert!(checks.iter().all(|c| c.forward.is_some()), "{text}");
    let ops = ["Add", "Multiply"]
        .iter()
        .map(|class| text.lines().filter(|l| l.contains(&format!("({class})"))).count())
        .sum::<usize>();
    assert!(ops > 20, "{ops} Add/Multiply rows\n{text}");
}

/// `k` (kh, kw, ·, ·) flipped in both spatial axes.
fn flipped(k: &Tensor) -> rkeras::Result<Tensor> {
    let s = k.shape().to_vec();
    let (kh, kw, inner) = (s[0], s[1], s[2] * s[3]);
    let mut out = vec![0.0; k.len()];
    for i in 0..kh {
        for j in 0..kw {
            let (from, to) = ((i * kw + j) * inner, ((kh - 1 - i) * kw + (kw - 1 - j)) * inner);
            out[to..to + inner].copy_from_slice(&k.data()[from..from + inner]);
        }
    }
    Ok(Tensor::new(&s, out)?)
}

/// A 3×3 `valid` Conv2D with bias, written by hand, with one of two bugs.
#[derive(Clone)]
struct BrokenConv {
    bug: Bug,
}

#[derive(Clone, Copy, PartialEq)]
enum Bug {
    /// The kernel flipped in both spatial axes (convolution instead of correlation).
    FlippedKernel,
    /// The right forward pass, but the kernel's gradient doubled.
    DoubledKernelGradient,
}

impl CustomLayer for BrokenConv {
    fn class_name(&self) -> &str {
        "Conv2D"
    }
    fn build(&mut self, input: &[Shape], b: &mut Builder) -> rkeras::Result<()> {
        let c = b.channels(input, 0)?;
        b.add_weight("kernel", &[3, 3, c, 4], "glorot_uniform", true)?;
        b.add_weight("bias", &[4], "random_normal", true)?;
        Ok(())
    }
    fn compute_output_shape(&self, input: &[Shape]) -> rkeras::Result<Vec<Shape>> {
        let s = &input[0];
        Ok(vec![vec![s[0], s[1].map(|h| h - 2), s[2].map(|w| w - 2), Some(4)]])
    }
    fn call(&self, ctx: &mut CallCtx, x: &[Var], h: &Handles) -> rkeras::Result<Vec<Var>> {
        let p = Conv2dParams::new((1, 1), Padding::Valid);
        let (w, b) = (h.weight(0)?, h.weight(1)?);
        let y = match self.bug {
            Bug::FlippedKernel => {
                let wf = ctx.tape.constant(flipped(ctx.tape.value(w))?);
                ctx.tape.conv2d(x[0], wf, Some(b), &p)?
            }
            Bug::DoubledKernelGradient => {
                let value = conv2d(ctx.tape.value(x[0]), ctx.tape.value(w), Some(ctx.tape.value(b)), &p)?;
                ctx.tape.record(
                    value,
                    &[x[0], w, b],
                    Box::new(move |g, ins, _| {
                        let (dx, dw, db) = conv2d_backward(ins[0], ins[1], g, &p)?;
                        Ok(vec![
                            Some(dx),
                            Some(tensor::ops::elementwise::scale(&dw, 2.0)),
                            Some(db),
                        ])
                    }),
                )?
            }
        };
        Ok(vec![y])
    }
    fn get_config(&self) -> Value {
        json!({"filters": 4, "kernel_size": [3, 3], "strides": [1, 1], "padding": "valid",
               "dilation_rate": [1, 1], "groups": 1, "activation": "linear", "use_bias": true})
    }
}

fn with_broken(bug: Bug) -> Model {
    clear_session();
    Sequential::new()
        .add(InputLayer::new(&[9, 9, 2]))
        .add(Conv2D::new(3, 3).padding("same").activation("relu"))
        .add(Custom::new(BrokenConv { bug }).named("broken"))
        .add(MaxPooling2D::new(2))
        .build()
        .unwrap()
}

#[test]
fn a_broken_forward_kernel_fails_loudly() {
    let checks = verify(&with_broken(Bug::FlippedKernel), &VerifyOptions::default()).unwrap();
    let text = render(&checks, &VerifyOptions::default());
    let bad: Vec<&str> = checks.iter().filter(|c| !c.passed).map(|c| c.name.as_str()).collect();
    assert_eq!(bad, ["broken"], "{text}");
    let b = &checks[1];
    assert!(b.forward.unwrap().1 > 1e-2, "{text}");
    assert!(b.gradient.unwrap() > 0.1, "{text}");
    assert!(
        text.contains("broken (Conv2D)") && text.ends_with("FAIL: broken\n"),
        "{text}"
    );
}

#[test]
fn a_broken_backward_rule_fails_loudly() {
    let checks = verify(&with_broken(Bug::DoubledKernelGradient), &VerifyOptions::default()).unwrap();
    let text = render(&checks, &VerifyOptions::default());
    let b = &checks[1];
    assert!(b.forward.unwrap().1 < 1e-5, "{text}");
    assert!(b.gradient.unwrap() > 0.3, "{text}");
    assert!(!b.passed && checks[0].passed && checks[2].passed, "{text}");
}

/// Conv2DTranspose (strides, `same`, output_padding, dilation), Permute and Reshape now have
/// naive references: each layer's forward pass is compared, and all pass.
#[test]
fn conv_transpose_permute_reshape_have_references_and_pass() {
    clear_session();
    let m = Sequential::new()
        .add(InputLayer::new(&[6, 6, 3]))
        .add(Conv2DTranspose::new(4, 3).strides(2).padding("same").activation("relu"))
        .add(Conv2DTranspose::new(3, 3).strides(2).output_padding(1))
        .add(Conv2DTranspose::new(2, 3).dilation_rate(2).use_bias(false))
        .add(Permute::new(&[3, 1, 2]))
        .add(Reshape::new(&[30, -1]))
        .build()
        .unwrap();
    let checks = verify(&m, &VerifyOptions::default()).unwrap();
    let text = render(&checks, &VerifyOptions::default());
    assert_eq!(checks.len(), 5, "{text}");
    assert!(checks.iter().all(|c| c.passed && c.forward.is_some()), "{text}");
    assert!(
        text.contains("0 without a naive reference") && text.ends_with("PASS: every layer\n"),
        "{text}"
    );
}

/// A stride-2 `same` Conv2DTranspose whose kernel is flipped, or a Permute that forgets to
/// move the data (a reshape to the permuted shape).
#[derive(Clone)]
enum BrokenShape {
    FlippedTranspose,
    PermuteAsReshape,
}

impl CustomLayer for BrokenShape {
    fn class_name(&self) -> &str {
        match self {
            BrokenShape::FlippedTranspose => "Conv2DTranspose",
            BrokenShape::PermuteAsReshape => "Permute",
        }
    }
    fn build(&mut self, input: &[Shape], b: &mut Builder) -> rkeras::Result<()> {
        if let BrokenShape::FlippedTranspose = self {
            let c = b.channels(input, 0)?;
            b.add_weight("kernel", &[3, 3, 4, c], "glorot_uniform", true)?;
        }
        Ok(())
    }
    fn compute_output_shape(&self, input: &[Shape]) -> rkeras::Result<Vec<Shape>> {
        let s = &input[0];
        Ok(vec![match self {
            BrokenShape::FlippedTranspose => vec![s[0], s[1].map(|h| 2 * h), s[2].map(|w| 2 * w), Some(4)],
            BrokenShape::PermuteAsReshape => vec![s[0], s[2], s[1], s[3]],
        }])
    }
    fn call(&self, ctx: &mut CallCtx, x: &[Var], h: &Handles) -> rkeras::Result<Vec<Var>> {
        let y = match self {
            BrokenShape::FlippedTranspose => {
                let wf = ctx.tape.constant(flipped(ctx.tape.value(h.weight(0)?))?);
                let p = tensor::ops::conv_transpose::Conv2dTransposeParams::new((2, 2), Padding::Same);
                ctx.tape.conv2d_transpose(x[0], wf, None, &p)?
            }
            BrokenShape::PermuteAsReshape => {
                let s = ctx.tape.value(x[0]).shape().to_vec();
                ctx.tape.reshape(x[0], &[s[0], s[2], s[1], s[3]])?
            }
        };
        Ok(vec![y])
    }
    fn get_config(&self) -> Value {
        match self {
            BrokenShape::FlippedTranspose => json!({"filters": 4, "kernel_size": [3, 3], "strides": [2, 2],
                "padding": "same", "dilation_rate": [1, 1], "output_padding": null,
                "activation": "linear", "use_bias": false}),
            BrokenShape::PermuteAsReshape => json!({"dims": [2, 1, 3]}),
        }
    }
}

#[test]
fn a_broken_conv_transpose_or_permute_fails_loudly() {
    for (bug, class) in [
        (BrokenShape::FlippedTranspose, "Conv2DTranspose"),
        (BrokenShape::PermuteAsReshape, "Permute"),
    ] {
        clear_session();
        let m = Sequential::new()
            .add(InputLayer::new(&[5, 7, 2]))
            .add(Custom::new(bug).named("broken"))
            .add(Flatten::new())
            .build()
            .unwrap();
        let checks = verify(&m, &VerifyOptions::default()).unwrap();
        let text = render(&checks, &VerifyOptions::default());
        let bad: Vec<&str> = checks.iter().filter(|c| !c.passed).map(|c| c.name.as_str()).collect();
        assert_eq!(bad, ["broken"], "{text}");
        assert!(checks[0].forward.unwrap().1 > 1e-2, "{text}");
        assert!(
            text.contains(&format!("broken ({class})")) && text.ends_with("FAIL: broken\n"),
            "{text}"
        );
    }
}
