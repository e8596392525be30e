//! Pictures of what [`super::visualize`] computes, as RGB arrays `(height, width, 3)` with
//! values 0–255 (write them with `utils::save_img` and `scale: false`):
//! [`feature_grid`] (one tile per channel, each min-max scaled and coloured with viridis,
//! 1-pixel white gaps, a near-square grid), [`filter_tiles`] (RGB tiles for kernels over 3
//! input channels, otherwise one grey tile per filter and input channel) and
//! [`grad_cam_overlay`] (the keras.io example's `save_and_display_gradcam`: the heatmap in
//! matplotlib's jet, resized to the image with Pillow's bicubic filter, `0.4·jet + image`,
//! rescaled by `array_to_img`).
//!
//! ```
//! use rkeras::insight::pictures::{feature_grid, GAP};
//! use rkeras::prelude::Tensor;
//! let maps = Tensor::new(&[2, 2, 3], (0..12).map(|v| v as f32).collect()).unwrap();
//! let grid = feature_grid(&maps, None, 1).unwrap(); // 3 channels: 2 × 2 grid of 2 × 2 tiles
//! assert_eq!(grid.shape(), &[2 * 2 + GAP, 2 * 2 + GAP, 3]);
//! ```

use crate::error::{KerasError, Result};
use crate::preprocessing::image_io::{array_to_img, ArrayToImgOptions};
use crate::preprocessing::pil::{self, PilFilter};
use tensor::Tensor;

/// Pixels between tiles.
pub const GAP: usize = 1;
/// Colour of the gaps and empty cells.
const BACKGROUND: [f32; 3] = [255.0; 3];

/// matplotlib's `jet` at `t ∈ [0, 1]` (its segment data, linearly interpolated).
pub fn jet(t: f64) -> [f64; 3] {
    const R: &[(f64, f64)] = &[(0.0, 0.0), (0.35, 0.0), (0.66, 1.0), (0.89, 1.0), (1.0, 0.5)];
    const G: &[(f64, f64)] = &[
        (0.0, 0.0),
        (0.125, 0.0),
        (0.375, 1.0),
        (0.64, 1.0),
        (0.91, 0.0),
        (1.0, 0.0),
    ];
    const B: &[(f64, f64)] = &[(0.0, 0.5), (0.11, 1.0), (0.34, 1.0), (0.65, 0.0), (1.0, 0.0)];
    let t = t.clamp(0.0, 1.0);
    let seg = |pts: &[(f64, f64)]| {
        let k = pts.iter().position(|p| p.0 >= t).unwrap_or(pts.len() - 1).max(1);
        let ((x0, y0), (x1, y1)) = (pts[k - 1], pts[k]);
        y0 + (t - x0) / (x1 - x0) * (y1 - y0)
    };
    [seg(R), seg(G), seg(B)]
}

/// viridis-like colour at `t ∈ [0, 1]`: a degree-6 polynomial fit of matplotlib's viridis
/// (within a few levels of its table; at most 4 off at the ends).
pub fn viridis(t: f64) -> [f64; 3] {
    const C: [[f64; 3]; 7] = [
        [
            0.277_727_327_223_417_7,
            0.005_407_344_544_966_578,
            0.334_099_805_335_306_1,
        ],
        [0.105_093_043_108_577_4, 1.404_613_529_898_575, 1.384_590_162_594_685],
        [
            -0.330_861_828_725_556_3,
            0.214_847_559_468_213,
            0.095_095_163_028_236_59,
        ],
        [-4.634_230_498_983_486, -5.799_100_973_351_585, -19.332_440_956_279_87],
        [6.228_269_936_347_081, 14.179_933_366_805_09, 56.690_552_600_681_05],
        [4.776_384_997_670_288, -13.745_145_377_746_01, -65.353_032_633_372_34],
        [-5.435_455_855_934_631, 4.645_852_612_178_535, 26.312_435_249_583_2],
    ];
    let t = t.clamp(0.0, 1.0);
    let mut out = [0.0; 3];
    for (k, o) in out.iter_mut().enumerate() {
        *o = C.iter().rev().fold(0.0, |acc, c| acc * t + c[k]).clamp(0.0, 1.0);
    }
    out
}

/// The integer zoom that makes a `size`-pixel tile about `target` pixels (at least 1).
pub fn auto_zoom(size: usize, target: usize) -> usize {
    (target / size.max(1)).max(1)
}

/// A grid of `tiles` (each `th × tw × 3`, values 0–255) in `cols` columns, each tile zoomed
/// by `zoom` (nearest), `GAP` pixels apart.
fn grid(tiles: &[Vec<f32>], (th, tw): (usize, usize), cols: usize, zoom: usize) -> Result<Tensor> {
    let cols = cols.max(1);
    let rows = tiles.len().div_ceil(cols).max(1);
    let (zh, zw) = (th * zoom, tw * zoom);
    let (height, width) = (rows * zh + (rows - 1) * GAP, cols * zw + (cols - 1) * GAP);
    let mut out: Vec<f32> = BACKGROUND.iter().copied().cycle().take(height * width * 3).collect();
    for (k, tile) in tiles.iter().enumerate() {
        let (y0, x0) = ((k / cols) * (zh + GAP), (k % cols) * (zw + GAP));
        for y in 0..zh {
            for x in 0..zw {
                let src = ((y / zoom) * tw + x / zoom) * 3;
                let dst = ((y0 + y) * width + x0 + x) * 3;
                out[dst..dst + 3].copy_from_slice(&tile[src..src + 3]);
            }
        }
    }
    Ok(Tensor::new(&[height, width, 3], out)?)
}

/// Columns of a near-square grid of `n` tiles.
fn square_cols(n: usize) -> usize {
    (n as f64).sqrt().ceil().max(1.0) as usize
}

/// The channels of one sample's feature maps `(H, W, C)` (or `(1, H, W, C)`) as a grid of
/// viridis tiles, each channel min-max scaled on its own (a constant channel is drawn at the
/// bottom of the scale); the first `max_channels` channels only when given; tiles zoomed by
/// `zoom`.
pub fn feature_grid(maps: &Tensor, max_channels: Option<usize>, zoom: usize) -> Result<Tensor> {
    let s = maps.shape();
    let (h, w, c) = match s {
        [h, w, c] | [1, h, w, c] => (*h, *w, *c),
        _ => {
            return Err(KerasError::Invalid(format!(
                "feature_grid: expected feature maps (height, width, channels) of one sample, received shape {s:?}"
            )))
        }
    };
    let shown = max_channels.map_or(c, |m| m.min(c)).max(1).min(c);
    let data = maps.data();
    let tiles: Vec<Vec<f32>> = (0..shown)
        .map(|ch| {
            let v: Vec<f32> = (0..h * w).map(|p| data[p * c + ch]).collect();
            let lo = v.iter().copied().fold(f32::INFINITY, f32::min);
            let hi = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            v.iter()
                .flat_map(|&x| {
                    let t = if hi > lo { ((x - lo) / (hi - lo)) as f64 } else { 0.0 };
                    viridis(t).map(|u| (u * 255.0).round() as f32)
                })
                .collect()
        })
        .collect();
    grid(&tiles, (h, w), square_cols(shown), zoom.max(1))
}

/// Filters `(kh, kw, in, filters)` scaled to `[0, 1]` ([`super::visualize::filters`]) as
/// tiles: with 3 input channels, one RGB tile per filter in a near-square grid; otherwise one
/// grey tile per filter (row) and input channel (column), or, with one input channel, one
/// grey tile per filter in a near-square grid. At most `max_channels` filters (and
/// input channels) are drawn; tiles zoomed by `zoom`.
pub fn filter_tiles(filters: &Tensor, max_channels: Option<usize>, zoom: usize) -> Result<Tensor> {
    let [kh, kw, cin, cout] = *filters.shape() else {
        return Err(KerasError::Invalid(format!(
            "filter_tiles: expected a kernel (kh, kw, in, filters), received shape {:?}",
            filters.shape()
        )));
    };
    let cap = |n: usize| max_channels.map_or(n, |m| m.clamp(1, n.max(1)));
    let d = filters.data();
    let at =
        |y: usize, x: usize, i: usize, f: usize| (d[((y * kw + x) * cin + i) * cout + f] * 255.0).clamp(0.0, 255.0);
    let zoom = zoom.max(1);
    if cin == 3 {
        let n = cap(cout);
        let tiles: Vec<Vec<f32>> = (0..n)
            .map(|f| {
                (0..kh * kw)
                    .flat_map(|p| (0..3).map(move |i| (p / kw, p % kw, i)))
                    .map(|(y, x, i)| at(y, x, i, f))
                    .collect()
            })
            .collect();
        return grid(&tiles, (kh, kw), square_cols(n), zoom);
    }
    let (nf, ni) = (cap(cout), cap(cin));
    let tiles: Vec<Vec<f32>> = (0..nf)
        .flat_map(|f| (0..ni).map(move |i| (f, i)))
        .map(|(f, i)| (0..kh * kw).flat_map(|p| [at(p / kw, p % kw, i, f); 3]).collect())
        .collect();
    let cols = if ni == 1 { square_cols(nf) } else { ni };
    grid(&tiles, (kh, kw), cols, zoom)
}

/// An RGB image `(H, W, 3)` enlarged `zoom` times (nearest), e.g. a 28 × 28 digit before
/// [`grad_cam_overlay`] so that the heatmap is resized to a picture one can see.
pub fn enlarge(image: &Tensor, zoom: usize) -> Result<Tensor> {
    let [h, w, 3] = *image.shape() else {
        return Err(KerasError::Invalid(format!(
            "enlarge: expected an RGB image (height, width, 3), received shape {:?}",
            image.shape()
        )));
    };
    grid(&[image.data().to_vec()], (h, w), 1, zoom.max(1))
}

/// The keras.io Grad-CAM picture: `heatmap` `(h, w)` in `[0, 1]` to bytes
/// (`uint8(255·heatmap)`), coloured with jet, rescaled by `array_to_img`, resized to the
/// image with Pillow's bicubic filter, then `alpha·jet + image` rescaled to 0–255 by
/// `array_to_img`. `image` is `(H, W, 3)` (or `(H, W, 1)`, drawn as grey RGB), values 0–255,
/// the original picture at its own size.
pub fn grad_cam_overlay(image: &Tensor, heatmap: &Tensor, alpha: f32) -> Result<Tensor> {
    let (ih, iw, ic) = match *image.shape() {
        [h, w, c @ (1 | 3)] => (h, w, c),
        _ => {
            return Err(KerasError::Invalid(format!(
                "grad_cam_overlay: expected an image (height, width, 3 or 1), received shape {:?}",
                image.shape()
            )))
        }
    };
    let [hh, hw] = *heatmap.shape() else {
        return Err(KerasError::Invalid(format!(
            "grad_cam_overlay: expected a heatmap (height, width), received shape {:?}",
            heatmap.shape()
        )));
    };
    let lut: Vec<[f32; 3]> = (0..256).map(|i| jet(i as f64 / 255.0).map(|v| v as f32)).collect();
    let colored: Vec<f32> = heatmap
        .data()
        .iter()
        .flat_map(|&v| lut[(255.0 * v).clamp(0.0, 255.0) as u8 as usize])
        .collect();
    let scaled = array_to_img(&Tensor::new(&[hh, hw, 3], colored)?, &ArrayToImgOptions::default())?;
    let bytes = scaled.bytes().unwrap_or_default();
    let resized = pil::resize(bytes, (hh, hw, 3), (ih, iw), PilFilter::Bicubic, None);
    let img = image.data();
    let sum: Vec<f32> = resized
        .iter()
        .enumerate()
        .map(|(i, &j)| j as f32 * alpha + img[(i / 3) * ic + if ic == 3 { i % 3 } else { 0 }])
        .collect();
    let out = array_to_img(&Tensor::new(&[ih, iw, 3], sum)?, &ArrayToImgOptions::default())?;
    let px = out.bytes().unwrap_or_default().iter().map(|&b| b as f32).collect();
    Ok(Tensor::new(&[ih, iw, 3], px)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jet_matches_matplotlib_at_hand_computed_points() {
        // matplotlib: jet(0) = (0, 0, 0.5), jet(255) = (0.5, 0, 0); at x = 128/255 red and
        // blue are on their ramps: (x − 0.35)/0.31 and 1 − (x − 0.34)/0.31.
        assert_eq!(jet(0.0), [0.0, 0.0, 0.5]);
        assert_eq!(jet(1.0), [0.5, 0.0, 0.0]);
        let x = 128.0 / 255.0;
        let c = jet(x);
        assert!((c[0] - (x - 0.35) / 0.31).abs() < 1e-12);
        assert_eq!(c[1], 1.0);
        assert!((c[2] - (1.0 - (x - 0.34) / 0.31)).abs() < 1e-12);
    }

    #[test]
    fn viridis_ends_are_near_matplotlibs() {
        // matplotlib's viridis(0) = #440154, viridis(1) = #fde725; the fit gives
        // (71, 1, 85) and (252, 231, 33).
        let to_u8 = |c: [f64; 3]| c.map(|v| (v * 255.0).round() as i32);
        let (lo, hi) = (to_u8(viridis(0.0)), to_u8(viridis(1.0)));
        for (a, b) in lo
            .iter()
            .zip([0x44, 0x01, 0x54])
            .chain(hi.iter().zip([0xfd, 0xe7, 0x25]))
        {
            assert!((a - b).abs() <= 4, "{lo:?} {hi:?}");
        }
    }

    #[test]
    fn feature_grid_scales_each_channel_and_leaves_white_gaps() {
        // Channel 0 = 0..4, channel 1 = 10·(0..4): both span the whole colour scale.
        let d: Vec<f32> = (0..4).flat_map(|i| [i as f32, 10.0 * i as f32]).collect();
        let g = feature_grid(&Tensor::new(&[2, 2, 2], d).unwrap(), None, 2).unwrap();
        assert_eq!(g.shape(), &[4, 2 * 4 + GAP, 3]);
        let px = |y: usize, x: usize| g.data()[(y * 9 + x) * 3..(y * 9 + x) * 3 + 3].to_vec();
        assert_eq!(px(0, 0), px(0, 5), "same position, same scaled value");
        assert_eq!(px(3, 3), px(3, 8));
        assert_eq!(px(0, 4), vec![255.0; 3], "gap");
        assert_ne!(px(0, 0), px(3, 3));
    }

    #[test]
    fn filter_tiles_rgb_for_three_inputs_grey_otherwise() {
        let rgb = filter_tiles(&Tensor::ones(&[2, 2, 3, 5]), None, 1).unwrap();
        assert_eq!(rgb.shape(), &[2 * 2 + GAP, 3 * 2 + 2 * GAP, 3]);
        let grey = filter_tiles(&Tensor::full(&[3, 3, 2, 4], 0.5), Some(3), 1).unwrap();
        assert_eq!(grey.shape(), &[3 * 3 + 2 * GAP, 2 * 3 + GAP, 3]);
        assert_eq!(&grey.data()[..3], &[127.5; 3]);
    }

    #[test]
    fn overlay_has_the_image_size_and_spans_the_byte_range() {
        let img = Tensor::new(&[5, 7, 3], (0..105).map(|v| (v * 2) as f32).collect()).unwrap();
        let heat = Tensor::new(&[2, 2], vec![0.0, 0.25, 0.5, 1.0]).unwrap();
        let out = grad_cam_overlay(&img, &heat, 0.4).unwrap();
        assert_eq!(out.shape(), &[5, 7, 3]);
        let max = out.data().iter().copied().fold(0.0, f32::max);
        let min = out.data().iter().copied().fold(255.0, f32::min);
        assert_eq!((min, max), (0.0, 255.0));
    }
}
