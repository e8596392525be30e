//! Pillow's pixel arithmetic, which `keras.utils.load_img` inherits: mode conversion
//! (`Image.convert`: `L = (19595·R + 38470·G + 7471·B + 2¹⁵) >> 16`) and `Image.resize`
//! (nearest: Pillow's affine scale with its accumulated source position; bilinear, bicubic,
//! lanczos, box, hamming: the two-pass convolution with 22-bit fixed-point coefficients,
//! RGBA resized premultiplied, the vertical pass first when the height shrinks more than twice
//! as much as the width, as Pillow 13.0.0). Images here are `h × w × c` bytes, rows top to bottom.

use crate::error::{KerasError, Result};

/// A Pillow resampling filter (Keras's `interpolation` names for `load_img`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PilFilter {
    /// `"nearest"` (Keras's default for `load_img`).
    Nearest,
    /// `"bilinear"`.
    Bilinear,
    /// `"bicubic"`.
    Bicubic,
    /// `"lanczos"`.
    Lanczos,
    /// `"box"`.
    Box,
    /// `"hamming"`.
    Hamming,
}

impl PilFilter {
    /// Keras's name → filter; anything else is Keras's error.
    pub fn parse(name: &str) -> Result<PilFilter> {
        Ok(match name {
            "nearest" => PilFilter::Nearest,
            "bilinear" => PilFilter::Bilinear,
            "bicubic" => PilFilter::Bicubic,
            "lanczos" => PilFilter::Lanczos,
            "box" => PilFilter::Box,
            "hamming" => PilFilter::Hamming,
            _ => {
                return Err(KerasError::Invalid(format!(
                    "load_img: Invalid interpolation method {name} specified. Supported methods are \
                     nearest, bilinear, bicubic, lanczos, box, hamming"
                )))
            }
        })
    }

    fn support(self) -> f64 {
        match self {
            PilFilter::Nearest | PilFilter::Box => 0.5,
            PilFilter::Bilinear | PilFilter::Hamming => 1.0,
            PilFilter::Bicubic => 2.0,
            PilFilter::Lanczos => 3.0,
        }
    }

    fn weight(self, x: f64) -> f64 {
        let sinc = |x: f64| {
            if x == 0.0 {
                1.0
            } else {
                let x = x * std::f64::consts::PI;
                x.sin() / x
            }
        };
        match self {
            PilFilter::Nearest | PilFilter::Box => f64::from(u8::from(x > -0.5 && x <= 0.5)),
            PilFilter::Bilinear => (1.0 - x.abs()).max(0.0),
            PilFilter::Hamming => {
                let x = x.abs();
                if x == 0.0 {
                    1.0
                } else if x >= 1.0 {
                    0.0
                } else {
                    let p = x * std::f64::consts::PI;
                    p.sin() / p * (0.54f32 as f64 + 0.46f32 as f64 * p.cos())
                }
            }
            PilFilter::Bicubic => {
                let (a, x) = (-0.5, x.abs());
                if x < 1.0 {
                    ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
                } else if x < 2.0 {
                    (((x - 5.0) * x + 8.0) * x - 4.0) * a
                } else {
                    0.0
                }
            }
            PilFilter::Lanczos => {
                if (-3.0..3.0).contains(&x) {
                    sinc(x) * sinc(x / 3.0)
                } else {
                    0.0
                }
            }
        }
    }
}

/// Pillow's `L24`: the luma of an RGB triple, as `convert("L")` computes it.
pub fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((r as u32 * 19595 + g as u32 * 38470 + b as u32 * 7471 + 0x8000) >> 16) as u8
}

/// Pillow's `convert` between `L` (1), `LA` (2), `RGB` (3) and `RGBA` (4) channels: colour to
/// grey by [`luma`], grey to colour by copying, alpha dropped or set to 255.
pub fn convert(px: &[u8], from: usize, to: usize) -> Vec<u8> {
    if from == to {
        return px.to_vec();
    }
    let mut out = Vec::with_capacity(px.len() / from * to);
    for p in px.chunks_exact(from) {
        let (rgb, a) = match from {
            1 => ([p[0]; 3], 255),
            2 => ([p[0]; 3], p[1]),
            3 => ([p[0], p[1], p[2]], 255),
            _ => ([p[0], p[1], p[2]], p[3]),
        };
        let grey = if from <= 2 {
            rgb[0]
        } else {
            luma(rgb[0], rgb[1], rgb[2])
        };
        match to {
            1 => out.push(grey),
            2 => out.extend([grey, a]),
            3 => out.extend(rgb),
            _ => out.extend([rgb[0], rgb[1], rgb[2], a]),
        }
    }
    out
}

/// `Image.resize((out_w, out_h), filter, box)` of an `h × w × c` byte image; `bbox` is
/// Pillow's `(left, upper, right, lower)` source box (the whole image when `None`).
pub fn resize(
    px: &[u8],
    (h, w, c): (usize, usize, usize),
    (out_h, out_w): (usize, usize),
    filter: PilFilter,
    bbox: Option<[f64; 4]>,
) -> Vec<u8> {
    let bbox = bbox.unwrap_or([0.0, 0.0, w as f64, h as f64]);
    if (out_h, out_w) == (h, w) && bbox == [0.0, 0.0, w as f64, h as f64] {
        return px.to_vec();
    }
    let integral = bbox.iter().all(|v| v.fract() == 0.0);
    if integral && bbox[2] - bbox[0] == out_w as f64 && bbox[3] - bbox[1] == out_h as f64 {
        // Pillow's `_resize`: an integral box of the target's size is a crop.
        let (x0, y0) = (bbox[0] as usize, bbox[1] as usize);
        return (y0..y0 + out_h)
            .flat_map(|y| px[(y * w + x0) * c..(y * w + x0 + out_w) * c].iter().copied())
            .collect();
    }
    if filter == PilFilter::Nearest {
        return nearest(px, (h, w, c), (out_h, out_w), bbox);
    }
    // Pillow resizes LA and RGBA premultiplied (`La`, `RGBa`), then divides back.
    let alpha = c == 2 || c == 4;
    let src = if alpha { premultiply(px, c) } else { px.to_vec() };
    let horiz = coeffs(w, bbox[0], bbox[2], out_w, filter);
    let mut vert = coeffs(h, bbox[1], bbox[3], out_h, filter);
    let need_h = out_w != w || bbox[0] != 0.0 || bbox[2] != out_w as f64;
    let need_v = out_h != h || bbox[1] != 0.0 || bbox[3] != out_h as f64;
    // Pillow 13: "If height is being scaled down more than twice the amount the width is,
    // run the vertical pass first" (the passes round to 8 bits in between, so order shows).
    let (dh, dw) = (h as i64 - out_h as i64, w as i64 - out_w as i64);
    let horizontal_first = !(dh > 0 && dh > dw * 2);
    let (mut img, mut cur_h, mut cur_w) = (src, h, w);
    if horizontal_first {
        if need_h {
            let first = vert.bounds[0].0;
            let last = vert.bounds[out_h - 1].0 + vert.bounds[out_h - 1].1;
            for b in &mut vert.bounds {
                b.0 -= first;
            }
            img = pass_horizontal(&img, cur_w, c, first, last - first, &horiz);
            (cur_h, cur_w) = (last - first, out_w);
        }
        if need_v {
            img = pass_vertical(&img, cur_w, c, &vert);
            cur_h = out_h;
        }
    } else {
        if need_v {
            img = pass_vertical(&img, cur_w, c, &vert);
            cur_h = out_h;
        }
        if need_h {
            img = pass_horizontal(&img, cur_w, c, 0, cur_h, &horiz);
            cur_w = out_w;
        }
    }
    debug_assert_eq!(img.len(), cur_h * cur_w * c);
    if alpha {
        unpremultiply(&mut img, c);
    }
    img
}

const PRECISION: u32 = 32 - 8 - 2;

/// `ImagingResampleHorizontal_8bpc`: rows `first..first + rows` of a `cur_w`-wide image.
fn pass_horizontal(img: &[u8], cur_w: usize, c: usize, first: usize, rows: usize, k: &Coeffs) -> Vec<u8> {
    let out_w = k.bounds.len();
    let mut out = vec![0u8; rows * out_w * c];
    for y in 0..rows {
        let row = &img[(y + first) * cur_w * c..(y + first + 1) * cur_w * c];
        for (x, &(xmin, xn)) in k.bounds.iter().enumerate() {
            let kx = &k.k[x * k.ksize..x * k.ksize + xn];
            for ch in 0..c {
                let mut ss = 1i64 << (PRECISION - 1);
                for (i, &kv) in kx.iter().enumerate() {
                    ss += row[(xmin + i) * c + ch] as i64 * kv as i64;
                }
                out[(y * out_w + x) * c + ch] = clip8(ss);
            }
        }
    }
    out
}

/// `ImagingResampleVertical_8bpc` of a `cur_w`-wide image.
fn pass_vertical(img: &[u8], cur_w: usize, c: usize, k: &Coeffs) -> Vec<u8> {
    let out_h = k.bounds.len();
    let mut out = vec![0u8; out_h * cur_w * c];
    for (y, &(ymin, yn)) in k.bounds.iter().enumerate() {
        let ky = &k.k[y * k.ksize..y * k.ksize + yn];
        for x in 0..cur_w * c {
            let mut ss = 1i64 << (PRECISION - 1);
            for (i, &kv) in ky.iter().enumerate() {
                ss += img[(ymin + i) * cur_w * c + x] as i64 * kv as i64;
            }
            out[y * cur_w * c + x] = clip8(ss);
        }
    }
    out
}

fn clip8(ss: i64) -> u8 {
    (ss >> PRECISION).clamp(0, 255) as u8
}

struct Coeffs {
    ksize: usize,
    bounds: Vec<(usize, usize)>,
    k: Vec<i32>,
}

/// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc`.
fn coeffs(in_size: usize, in0: f64, in1: f64, out_size: usize, f: PilFilter) -> Coeffs {
    let scale = (in1 - in0) / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = f.support() * filterscale;
    let ksize = support.ceil() as usize * 2 + 1;
    let mut bounds = Vec::with_capacity(out_size);
    let mut k = vec![0i32; out_size * ksize];
    for xx in 0..out_size {
        let center = in0 + (xx as f64 + 0.5) * scale;
        let ss = 1.0 / filterscale;
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
        let n = xmax.saturating_sub(xmin);
        let w: Vec<f64> = (0..n)
            .map(|x| f.weight((x as f64 + xmin as f64 - center + 0.5) * ss))
            .collect();
        let ww: f64 = w.iter().sum();
        for (x, &wx) in w.iter().enumerate() {
            let v = if ww != 0.0 { wx / ww } else { wx };
            let fixed = v * (1u64 << PRECISION) as f64;
            k[xx * ksize + x] = if v < 0.0 {
                (-0.5 + fixed) as i32
            } else {
                (0.5 + fixed) as i32
            };
        }
        bounds.push((xmin, n));
    }
    Coeffs { ksize, bounds, k }
}

/// Pillow's `ImagingScaleAffine` (what `resize(NEAREST)` runs): the source position starts
/// at `box0 + step/2` and grows by `step` per output pixel, truncated.
fn nearest(px: &[u8], (h, w, c): (usize, usize, usize), (out_h, out_w): (usize, usize), bbox: [f64; 4]) -> Vec<u8> {
    let steps = |b0: f64, b1: f64, n: usize, limit: usize| -> Vec<Option<usize>> {
        let a = (b1 - b0) / n as f64;
        let mut pos = b0 + a * 0.5;
        (0..n)
            .map(|_| {
                let i = if pos < 0.0 {
                    None
                } else {
                    Some(pos as usize).filter(|&i| i < limit)
                };
                pos += a;
                i
            })
            .collect()
    };
    let xs = steps(bbox[0], bbox[2], out_w, w);
    let ys = steps(bbox[1], bbox[3], out_h, h);
    let mut out = vec![0u8; out_h * out_w * c];
    for (y, yi) in ys.iter().enumerate() {
        let Some(yi) = yi else { continue };
        for (x, xi) in xs.iter().enumerate() {
            if let Some(xi) = xi {
                let s = (yi * w + xi) * c;
                out[(y * out_w + x) * c..(y * out_w + x + 1) * c].copy_from_slice(&px[s..s + c]);
            }
        }
    }
    out
}

fn muldiv255(a: u8, b: u8) -> u8 {
    let t = a as u32 * b as u32 + 128;
    (((t >> 8) + t) >> 8) as u8
}

/// Pillow's `rgba2rgbA` (and `LA` → `La`).
fn premultiply(px: &[u8], c: usize) -> Vec<u8> {
    let mut out = px.to_vec();
    for p in out.chunks_exact_mut(c) {
        let a = p[c - 1];
        for v in &mut p[..c - 1] {
            *v = muldiv255(*v, a);
        }
    }
    out
}

/// Pillow's `rgbA2rgba`: `255·v / alpha` (integer), clipped; alpha 0 and 255 kept as is.
fn unpremultiply(px: &mut [u8], c: usize) {
    for p in px.chunks_exact_mut(c) {
        let a = p[c - 1] as u32;
        if a != 0 && a != 255 {
            for v in &mut p[..c - 1] {
                *v = (255 * *v as u32 / a).min(255) as u8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luma_and_convert_as_pillow() {
        // Pillow: Image.new("RGB", (1, 1), (10, 200, 30)).convert("L").getpixel((0, 0)) == 124
        assert_eq!(luma(10, 200, 30), 124);
        assert_eq!(convert(&[7, 9], 2, 4), [7, 7, 7, 9]);
        assert_eq!(convert(&[1, 2, 3, 4], 4, 3), [1, 2, 3]);
    }

    #[test]
    fn same_size_is_a_copy_and_nearest_picks_centres() {
        let px: Vec<u8> = (0..16).collect();
        assert_eq!(resize(&px, (4, 4, 1), (4, 4), PilFilter::Bilinear, None), px);
        // 4 → 2: source positions 1.0 and 3.0.
        assert_eq!(resize(&px, (4, 4, 1), (2, 2), PilFilter::Nearest, None), [5, 7, 13, 15]);
    }
}
