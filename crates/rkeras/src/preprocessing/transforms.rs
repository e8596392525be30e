//! The random geometry of Keras's augmentation layers: per sample, the 8-number projective
//! transform (`[a0, a1, a2, b0, b1, b2, c0, c1]`, output `(x, y)` reads input
//! `(a0·x + a1·y + a2, b0·x + b1·y + b2)`, as TensorFlow's `ImageProjectiveTransformV3` and
//! [`super::pixel_map::PixelMap::projective`]) that `RandomFlip`, `RandomRotation`,
//! `RandomZoom` and `RandomTranslation` draw, and `RandomCrop`'s inference window. Each
//! function takes the layer's uniform draw `u((lo, hi))` and draws in a fixed order, one
//! sample after another, so a seeded layer repeats itself.
//!
//! ```
//! use rkeras::preprocessing::transforms;
//! // Translation by uniform(0.5, 0.5)·size: output x reads input x − 2 on a 4-wide image.
//! let t = transforms::translation((0.0, 0.0), (0.5, 0.5), 1, (3, 4), &mut |(lo, _)| lo as f32);
//! assert_eq!(t[0][2], -2.0);
//! ```

/// The layer's uniform draw in `[lo, hi)`.
pub type Draw<'a> = dyn FnMut((f64, f64)) -> f32 + 'a;

/// `RandomFlip(mode)`: each sample flipped left-right (unless `mode` is `"vertical"`) and
/// up-down (unless `"horizontal"`) with probability ½ — one draw per flip the mode allows.
pub fn flip(mode: &str, n: usize, (h, w): (usize, usize), u: &mut Draw) -> Vec<[f32; 8]> {
    let (hf, wf) = ((h - 1) as f32, (w - 1) as f32);
    (0..n)
        .map(|_| {
            let fh = mode != "vertical" && u((0.0, 1.0)) < 0.5;
            let fv = mode != "horizontal" && u((0.0, 1.0)) < 0.5;
            let (a, c) = if fh { (-1.0, wf) } else { (1.0, 0.0) };
            let (e, f) = if fv { (-1.0, hf) } else { (1.0, 0.0) };
            [a, 0.0, c, 0.0, e, f, 0.0, 0.0]
        })
        .collect()
}

/// `RandomRotation`: angle `uniform(r)·2π` about the image centre.
pub fn rotation(r: (f64, f64), n: usize, (h, w): (usize, usize), u: &mut Draw) -> Vec<[f32; 8]> {
    let (hf, wf) = ((h - 1) as f32, (w - 1) as f32);
    (0..n)
        .map(|_| {
            let t = u(r) * 2.0 * std::f32::consts::PI;
            let (c, s) = (t.cos(), t.sin());
            let xo = (wf - (c * wf - s * hf)) / 2.0;
            let yo = (hf - (s * wf + c * hf)) / 2.0;
            [c, -s, xo, s, c, yo, 0.0, 0.0]
        })
        .collect()
}

/// `RandomZoom`: zoom `1 + uniform(hr)` in height and `1 + uniform(wr)` in width (the
/// height's when `wr` is `None`) about the centre.
pub fn zoom(hr: (f64, f64), wr: Option<(f64, f64)>, n: usize, (h, w): (usize, usize), u: &mut Draw) -> Vec<[f32; 8]> {
    let (hf, wf) = ((h - 1) as f32, (w - 1) as f32);
    (0..n)
        .map(|_| {
            let zy = 1.0 + u(hr);
            let zx = wr.map_or(zy, |r| 1.0 + u(r));
            [zx, 0.0, wf / 2.0 * (1.0 - zx), 0.0, zy, hf / 2.0 * (1.0 - zy), 0.0, 0.0]
        })
        .collect()
}

/// `RandomTranslation`: shift by `uniform(hr)·h` rows and `uniform(wr)·w` columns.
pub fn translation(hr: (f64, f64), wr: (f64, f64), n: usize, (h, w): (usize, usize), u: &mut Draw) -> Vec<[f32; 8]> {
    (0..n)
        .map(|_| {
            let (dy, dx) = (u(hr) * h as f32, u(wr) * w as f32);
            [1.0, 0.0, -dx, 0.0, 1.0, -dy, 0.0, 0.0]
        })
        .collect()
}

/// `RandomCrop` at inference (or on an image no larger than the crop): the centred window of
/// the target's aspect ratio, `(top, left, height, width)`, as Keras's `smart_resize` takes it.
pub fn centre_aspect_window((h, w): (usize, usize), (ch, cw): (usize, usize)) -> (usize, usize, usize, usize) {
    let (ch0, cw0) = (
        (((w * ch) as f64 / cw as f64) as usize).min(h).max(1),
        (((h * cw) as f64 / ch as f64) as usize).min(w).max(1),
    );
    (
        ((h - ch0) as f64 / 2.0) as usize,
        ((w - cw0) as f64 / 2.0) as usize,
        ch0,
        cw0,
    )
}
