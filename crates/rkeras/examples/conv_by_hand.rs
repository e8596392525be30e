//! One Conv2D checked against the loop a student writes by hand: for every output pixel and
//! filter, the sum over the 3×3 window and the input channels, plus the bias, through a
//! sigmoid. Done for 1 and 3 input channels and several filters.
//!
//! `cargo run -p rkeras --example conv_by_hand`

use rkeras::prelude::*;

/// `out[n, i, j, f] = sigmoid(b[f] + Σ_{di, dj, c} x[n, i+di, j+dj, c] · w[di, dj, c, f])`.
fn conv_loop(x: &Tensor, w: &Tensor, b: &Tensor) -> Vec<f32> {
    let (n, h, wd, c) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
    let (kh, kw, f) = (w.shape()[0], w.shape()[1], w.shape()[3]);
    let (oh, ow) = (h - kh + 1, wd - kw + 1);
    let mut out = Vec::with_capacity(n * oh * ow * f);
    for img in 0..n {
        for i in 0..oh {
            for j in 0..ow {
                for filt in 0..f {
                    let mut s = b.data()[filt];
                    for di in 0..kh {
                        for dj in 0..kw {
                            for ch in 0..c {
                                s += x.data()[((img * h + i + di) * wd + j + dj) * c + ch]
                                    * w.data()[((di * kw + dj) * c + ch) * f + filt];
                            }
                        }
                    }
                    out.push(1.0 / (1.0 + (-s).exp()));
                }
            }
        }
    }
    out
}

fn check(channels: usize, filters: usize) -> Result<f32> {
    clear_session();
    let mut model = Sequential::new()
        .add(InputLayer::new(&[6, 6, channels]))
        .add(Conv2D::new(filters, 3).activation("sigmoid"))
        .build()?;
    let x = Tensor::new(
        &[2, 6, 6, channels],
        (0..2 * 36 * channels)
            .map(|i| ((i * 7) % 11) as f32 / 10.0 - 0.5)
            .collect(),
    )?;
    // A non-zero bias, so the check covers it too.
    let mut w = model.get_weights();
    w[1] = Tensor::new(&[filters], (0..filters).map(|i| 0.1 * i as f32 - 0.2).collect())?;
    model.set_weights(&w)?;
    let y = model.predict(std::slice::from_ref(&x), 8)?;
    let by_hand = conv_loop(&x, &w[0], &w[1]);
    let err = y[0]
        .data()
        .iter()
        .zip(&by_hand)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    println!(
        "{channels} channel(s), {filters} filters: output {:?}, max |rkeras − loop| = {err:e}",
        y[0].shape()
    );
    Ok(err)
}

fn main() -> Result<()> {
    for (c, f) in [(1, 1), (1, 4), (3, 2), (3, 8)] {
        assert!(check(c, f)? < 1e-5);
    }
    Ok(())
}

#[test]
fn runs() {
    main().unwrap();
}
