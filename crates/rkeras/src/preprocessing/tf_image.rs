//! TensorFlow's image arithmetic, which `image_dataset_from_directory` and the `Resizing` layer
//! inherit: `tf.image.resize` without antialias (`bilinear`, `nearest`, half-pixel centres,
//! here; `bicubic`, `area`, `lanczos3`, `lanczos5`, `gaussian`, `mitchellcubic` in
//! [`super::tf_resize`]),
//! Keras's `smart_resize` crop (`crop_to_aspect_ratio`) and `tf.image.resize_with_pad`
//! (`pad_to_aspect_ratio`), and the channel conversions of `tf.image.decode_image`.
//! Images are `h × w × c` f32, rows top to bottom.

use crate::error::{KerasError, Result};

/// A `tf.image.resize` method (Keras's `interpolation` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TfMethod {
    /// `"bilinear"` (Keras's default).
    Bilinear,
    /// `"nearest"`.
    Nearest,
    /// `"bicubic"` (Keys' cubic, `a = −0.5`).
    Bicubic,
    /// `"area"` (the mean of the covered input area).
    Area,
    /// `"lanczos3"`.
    Lanczos3,
    /// `"lanczos5"`.
    Lanczos5,
    /// `"gaussian"` (radius 1.5, σ = 0.5).
    Gaussian,
    /// `"mitchellcubic"`.
    MitchellCubic,
}

impl TfMethod {
    /// Keras's `interpolation` name → method (case-insensitive, as
    /// `image_dataset_from_directory` lowers it); anything else is Keras's error.
    pub fn parse(what: &str, name: &str) -> Result<TfMethod> {
        Ok(match name.to_lowercase().as_str() {
            "bilinear" => TfMethod::Bilinear,
            "nearest" => TfMethod::Nearest,
            "bicubic" => TfMethod::Bicubic,
            "area" => TfMethod::Area,
            "lanczos3" => TfMethod::Lanczos3,
            "lanczos5" => TfMethod::Lanczos5,
            "gaussian" => TfMethod::Gaussian,
            "mitchellcubic" => TfMethod::MitchellCubic,
            n => {
                return Err(KerasError::Invalid(format!(
                    "{what}: Argument `interpolation` should be one of ('bilinear', 'nearest', 'bicubic', 'area', \
                     'lanczos3', 'lanczos5', 'gaussian', 'mitchellcubic'). Received: interpolation={n}"
                )))
            }
        })
    }

    /// Keras's name of the method.
    pub fn name(self) -> &'static str {
        match self {
            TfMethod::Bilinear => "bilinear",
            TfMethod::Nearest => "nearest",
            TfMethod::Bicubic => "bicubic",
            TfMethod::Area => "area",
            TfMethod::Lanczos3 => "lanczos3",
            TfMethod::Lanczos5 => "lanczos5",
            TfMethod::Gaussian => "gaussian",
            TfMethod::MitchellCubic => "mitchellcubic",
        }
    }
}

/// `tf.image.resize(img, (out_h, out_w), method)`, `antialias=False`: TensorFlow's
/// `ResizeBilinear` / `ResizeNearestNeighbor` with `half_pixel_centers=True`, the other
/// methods by [`super::tf_resize`].
pub fn resize(px: &[f32], (h, w, c): (usize, usize, usize), (out_h, out_w): (usize, usize), m: TfMethod) -> Vec<f32> {
    let (sy, sx) = (h as f32 / out_h as f32, w as f32 / out_w as f32);
    let mut out = vec![0f32; out_h * out_w * c];
    match m {
        TfMethod::Bicubic
        | TfMethod::Area
        | TfMethod::Lanczos3
        | TfMethod::Lanczos5
        | TfMethod::Gaussian
        | TfMethod::MitchellCubic => return super::tf_resize::resize(px, (h, w, c), (out_h, out_w), m, false),
        TfMethod::Nearest => {
            let idx = |o: usize, s: f32, n: usize| (((o as f32 + 0.5) * s).floor() as usize).min(n - 1);
            for y in 0..out_h {
                let iy = idx(y, sy, h);
                for x in 0..out_w {
                    let ix = idx(x, sx, w);
                    out[(y * out_w + x) * c..(y * out_w + x + 1) * c]
                        .copy_from_slice(&px[(iy * w + ix) * c..(iy * w + ix + 1) * c]);
                }
            }
        }
        TfMethod::Bilinear => {
            // compute_interpolation_weights: in = (o + 0.5)·scale − 0.5, lower clamped at 0.
            let weights = |o: usize, s: f32, n: usize| {
                let v = (o as f32 + 0.5) * s - 0.5;
                let f = v.floor();
                let lo = (f as i64).max(0) as usize;
                let hi = (v.ceil() as i64).min(n as i64 - 1).max(0) as usize;
                (lo.min(n - 1), hi, v - f)
            };
            let xs: Vec<_> = (0..out_w).map(|x| weights(x, sx, w)).collect();
            for y in 0..out_h {
                let (y0, y1, ly) = weights(y, sy, h);
                for (x, &(x0, x1, lx)) in xs.iter().enumerate() {
                    for ch in 0..c {
                        let p = |yy: usize, xx: usize| px[(yy * w + xx) * c + ch];
                        let top = p(y0, x0) + (p(y0, x1) - p(y0, x0)) * lx;
                        let bottom = p(y1, x0) + (p(y1, x1) - p(y1, x0)) * lx;
                        out[(y * out_w + x) * c + ch] = top + (bottom - top) * ly;
                    }
                }
            }
        }
    }
    out
}

/// Keras's `smart_resize` on a tensor of unknown shape (the dataset path): the centred crop
/// with the target's aspect ratio (float32 arithmetic, as Keras's graph ops), then resize.
pub fn crop_resize(px: &[f32], (h, w, c): (usize, usize, usize), (th, tw): (usize, usize), m: TfMethod) -> Vec<f32> {
    let crop_h = (((w * th) as f32 / tw as f32) as usize).min(h).max(1);
    let crop_w = (((h * tw) as f32 / th as f32) as usize).min(w).max(1);
    let hs = ((h - crop_h) as f32 / 2.0) as usize;
    let ws = ((w - crop_w) as f32 / 2.0) as usize;
    let mut crop = Vec::with_capacity(crop_h * crop_w * c);
    for y in hs..hs + crop_h {
        crop.extend_from_slice(&px[(y * w + ws) * c..(y * w + ws + crop_w) * c]);
    }
    resize(&crop, (crop_h, crop_w, c), (th, tw), m)
}

/// `tf.image.resize_with_pad(img, th, tw, method)`: resize keeping the aspect ratio, then pad
/// with zeros to `th × tw` (the odd pixel at the bottom/right).
pub fn pad_resize(px: &[f32], (h, w, c): (usize, usize, usize), (th, tw): (usize, usize), m: TfMethod) -> Vec<f32> {
    let (fh, fw, fth, ftw) = (h as f32, w as f32, th as f32, tw as f32);
    let ratio = (fw / ftw).max(fh / fth);
    let (rhf, rwf) = (fh / ratio, fw / ratio);
    let (rh, rw) = (rhf.floor() as usize, rwf.floor() as usize);
    let ph = ((fth - rhf) / 2.0).floor().max(0.0) as usize;
    let pw = ((ftw - rwf) / 2.0).floor().max(0.0) as usize;
    let resized = resize(px, (h, w, c), (rh.max(1), rw.max(1)), m);
    let mut out = vec![0f32; th * tw * c];
    for y in 0..rh.max(1).min(th.saturating_sub(ph)) {
        let n = rw.max(1).min(tw.saturating_sub(pw)) * c;
        let dst = ((y + ph) * tw + pw) * c;
        out[dst..dst + n].copy_from_slice(&resized[y * rw.max(1) * c..y * rw.max(1) * c + n]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bilinear_half_pixel_centres() {
        // tf.image.resize([[0, 10]] (1×2), (1, 4)) = [0, 2.5, 7.5, 10]
        let r = resize(&[0.0, 10.0], (1, 2, 1), (1, 4), TfMethod::Bilinear);
        assert_eq!(r, [0.0, 2.5, 7.5, 10.0]);
        // nearest 4 → 2 picks 1 and 3
        let r = resize(&[0.0, 1.0, 2.0, 3.0], (1, 4, 1), (1, 2), TfMethod::Nearest);
        assert_eq!(r, [1.0, 3.0]);
    }
}
