//! `tf.image.resize`'s methods beyond `bilinear` / `nearest`, as separable resizes (one pass
//! per axis, each output index a weighted sum of input indices along that axis):
//! `bicubic` (TensorFlow's `ResizeBicubic` with half-pixel centres: Keys' cubic, `a = −0.5`,
//! read from its 1024-entry coefficient table, taps outside the image dropped and the rest
//! renormalized), `area` (`ResizeArea`: each output pixel the mean of the input area it covers,
//! partial pixels weighted by their covered fraction), and the `ScaleAndTranslate` kernels
//! (`lanczos3`, `lanczos5`, `gaussian`, `mitchellcubic`; with `antialias=True` also the
//! `bilinear` → triangle and `bicubic` → Keys-cubic kernels, stretched by the shrink factor).
//! The arithmetic is TensorFlow's, in f32 and in its order (rows first except for `area`), so
//! the outputs match `tf.image.resize` to rounding. Images are `(n, h, w, c)` f32, NHWC.
//!
//! ```
//! use rkeras::preprocessing::{tf_image::TfMethod, tf_resize};
//! // tf.image.resize([[0, 10, 20, 30]] (1×4), (1, 2), "area") = [5, 25]
//! let y = tf_resize::resize(&[0.0, 10.0, 20.0, 30.0], (1, 4, 1), (1, 2), TfMethod::Area, false);
//! assert_eq!(y, [5.0, 25.0]);
//! ```

use super::tf_image::TfMethod;
use std::sync::Arc;
use tensor::{Result as TResult, Tape, Tensor, Var};

/// One axis of a separable resize: the `(input index, weight)` taps of every output index.
#[derive(Debug, Clone, PartialEq)]
pub struct AxisTaps {
    /// Input length along the axis.
    pub in_len: usize,
    /// Per output index, its taps (empty: the output is 0).
    pub taps: Vec<Vec<(u32, f32)>>,
}

impl AxisTaps {
    /// An empty input: every output is 0.
    fn empty(out_len: usize) -> AxisTaps {
        AxisTaps {
            in_len: 0,
            taps: vec![Vec::new(); out_len],
        }
    }
}

/// A `ScaleAndTranslate` sampling kernel (`sampling_kernels.h`), in f32 as TensorFlow has it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kernel {
    Triangle,
    KeysCubic,
    MitchellCubic,
    Lanczos(f32),
    Gaussian,
}

impl Kernel {
    fn radius(self) -> f32 {
        match self {
            Kernel::Triangle => 1.0,
            Kernel::KeysCubic | Kernel::MitchellCubic => 2.0,
            Kernel::Lanczos(r) => r,
            Kernel::Gaussian => 1.5,
        }
    }

    fn weight(self, x: f32) -> f32 {
        let x = x.abs();
        match self {
            Kernel::Triangle => {
                if x < 1.0 {
                    1.0 - x
                } else {
                    0.0
                }
            }
            Kernel::KeysCubic => {
                if x >= 2.0 {
                    0.0
                } else if x >= 1.0 {
                    ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0
                } else {
                    ((1.5 * x - 2.5) * x) * x + 1.0
                }
            }
            Kernel::MitchellCubic => {
                if x >= 2.0 {
                    0.0
                } else if x >= 1.0 {
                    (((-7.0 / 18.0) * x + 2.0) * x - 10.0 / 3.0) * x + 16.0 / 9.0
                } else {
                    (((7.0 / 6.0) * x - 2.0) * x) * x + 8.0 / 9.0
                }
            }
            Kernel::Lanczos(r) => {
                // TensorFlow's `kPI = 3.14159265359` rounds to the same f32 as `f32::consts::PI`.
                use std::f32::consts::PI;
                if x > r {
                    0.0
                } else if x <= 1e-3 {
                    1.0
                } else {
                    r * (PI * x).sin() * (PI * x / r).sin() / (PI * PI * x * x)
                }
            }
            Kernel::Gaussian => {
                // sigma = radius / 3 = 0.5; the exponent in f64, as `2.0 * sigma * sigma` is.
                if x >= 1.5 {
                    0.0
                } else {
                    let sigma = 1.5f32 / 3.0;
                    ((-x * x) as f64 / (2.0 * sigma as f64 * sigma as f64)).exp() as f32
                }
            }
        }
    }
}

/// Multiplies by the reciprocal of the sum, as TensorFlow renormalizes (when the sum is not
/// vanishingly small).
fn renormalize(w: &mut [(u32, f32)]) {
    let sum: f32 = w.iter().map(|t| t.1).sum();
    if sum.abs() >= 1000.0 * f32::MIN_POSITIVE {
        let inv = 1.0 / sum;
        for t in w {
            t.1 *= inv;
        }
    }
}

/// `ComputeSpansCore` for scale `out/in`, no translation.
fn spans(kernel: Kernel, antialias: bool, in_len: usize, out_len: usize) -> AxisTaps {
    if in_len == 0 {
        return AxisTaps::empty(out_len);
    }
    let scale = out_len as f32 / in_len as f32;
    let inv_scale = (1.0 / scale as f64) as f32;
    let kernel_scale = if antialias { inv_scale.max(1.0) } else { 1.0 };
    let reach = kernel.radius() * kernel_scale;
    let one_over = 1.0 / kernel_scale;
    let last = in_len as i64 - 1;
    let taps = (0..out_len)
        .map(|x| {
            let sample = (x as f32 + 0.5) * inv_scale;
            if sample < 0.0 || sample > in_len as f32 {
                return Vec::new();
            }
            let start = ((sample - reach - 0.5).ceil() as i64).clamp(0, last);
            let end = ((sample + reach - 0.5).floor() as i64).clamp(0, last) + 1;
            let mut w: Vec<(u32, f32)> = (start..end)
                .map(|s| (s as u32, kernel.weight((s as f32 + 0.5 - sample) * one_over)))
                .collect();
            renormalize(&mut w);
            w
        })
        .collect();
    AxisTaps { in_len, taps }
}

/// `ResizeBicubic` (half-pixel centres, Keys' cubic from the 1024-step table, taps outside
/// the image dropped and the rest renormalized).
fn bicubic(in_len: usize, out_len: usize) -> AxisTaps {
    if in_len == 0 {
        return AxisTaps::empty(out_len);
    }
    const TABLE: usize = 1024;
    let a = -0.5f64;
    // InitCoeffsTable: x in f32, each polynomial in f64, stored as f32.
    let table: Vec<[f32; 2]> = (0..=TABLE)
        .map(|i| {
            let x = (i as f64 / TABLE as f64) as f32;
            let x0 = x as f64;
            let near = (((a + 2.0) * x0 - (a + 3.0)) * x0 * x0 + 1.0) as f32;
            let x1 = (x as f64 + 1.0) as f32 as f64;
            let far = (((a * x1 - 5.0 * a) * x1 + 8.0 * a) * x1 - 4.0 * a) as f32;
            [near, far]
        })
        .collect();
    let scale = in_len as f32 / out_len as f32;
    let last = in_len as i64 - 1;
    let taps = (0..out_len)
        .map(|o| {
            let f = (o as f32 + 0.5) * scale - 0.5;
            let i = f.floor() as i64;
            // lrintf: round half to even.
            let off = ((f - i as f32) * TABLE as f32).round_ties_even() as usize;
            let cand = [
                (i - 1, table[off][1]),
                (i, table[off][0]),
                (i + 1, table[TABLE - off][0]),
                (i + 2, table[TABLE - off][1]),
            ];
            let mut w: Vec<(u32, f32)> = cand
                .iter()
                .map(|&(j, wt)| {
                    let b = j.clamp(0, last);
                    (b as u32, if b == j { wt } else { 0.0 })
                })
                .collect();
            renormalize(&mut w);
            w
        })
        .collect();
    AxisTaps { in_len, taps }
}

/// `ResizeArea` along one axis: the covered fraction of every input pixel under the output
/// pixel's span `[o·s, (o + 1)·s)`, `s = in/out` (indices past the end clamped, as
/// TensorFlow's `Bound`); the `1/(s_h·s_w)` factor is applied after both passes.
fn area(in_len: usize, out_len: usize) -> AxisTaps {
    if in_len == 0 {
        return AxisTaps::empty(out_len);
    }
    let s = in_len as f32 / out_len as f32;
    let last = in_len as i64 - 1;
    let taps = (0..out_len)
        .map(|o| {
            let (lo, hi) = (o as f32 * s, (o + 1) as f32 * s);
            (lo.floor() as i64..hi.ceil() as i64)
                .map(|i| {
                    let fi = i as f32;
                    let wt = if fi < lo {
                        if (i + 1) as f32 > hi {
                            s
                        } else {
                            (i + 1) as f32 - lo
                        }
                    } else if (i + 1) as f32 > hi {
                        hi - fi
                    } else {
                        1.0
                    };
                    (i.clamp(0, last) as u32, wt)
                })
                .collect()
        })
        .collect();
    AxisTaps { in_len, taps }
}

/// A separable resize: the taps of both axes, which pass runs first, and a factor applied at
/// the end (`area`'s `1/(s_h·s_w)`, else 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Separable {
    /// Taps along the height.
    pub rows: AxisTaps,
    /// Taps along the width.
    pub cols: AxisTaps,
    /// The height pass runs first (TensorFlow's order for all but `area`).
    pub rows_first: bool,
    /// Multiplies the result.
    pub post: f32,
}

impl Separable {
    /// The resize `tf.image.resize(…, method, antialias)` runs for a method this module
    /// handles (`None` for `bilinear` without antialias and `nearest`, which need at most four
    /// taps per pixel: see [`super::pixel_map::PixelMap::resize`]).
    pub fn new(
        method: TfMethod,
        antialias: bool,
        (h, w): (usize, usize),
        (oh, ow): (usize, usize),
    ) -> Option<Separable> {
        let make = |f: &dyn Fn(usize, usize) -> AxisTaps, rows_first: bool, post: f32| Separable {
            rows: f(h, oh),
            cols: f(w, ow),
            rows_first,
            post,
        };
        let kernel = |k: Kernel| move |i: usize, o: usize| spans(k, antialias, i, o);
        Some(match (method, antialias) {
            (TfMethod::Nearest, _) | (TfMethod::Bilinear, false) => return None,
            (TfMethod::Bilinear, true) => make(&kernel(Kernel::Triangle), true, 1.0),
            (TfMethod::Bicubic, true) => make(&kernel(Kernel::KeysCubic), true, 1.0),
            (TfMethod::Bicubic, false) => make(&bicubic, true, 1.0),
            (TfMethod::Area, _) => {
                let (sh, sw) = (h as f32 / oh as f32, w as f32 / ow as f32);
                let post = if h == 0 || w == 0 {
                    1.0
                } else {
                    (1.0 / (sh * sw) as f64) as f32
                };
                make(&area, false, post)
            }
            (TfMethod::Lanczos3, _) => make(&kernel(Kernel::Lanczos(3.0)), true, 1.0),
            (TfMethod::Lanczos5, _) => make(&kernel(Kernel::Lanczos(5.0)), true, 1.0),
            (TfMethod::Gaussian, _) => make(&kernel(Kernel::Gaussian), true, 1.0),
            (TfMethod::MitchellCubic, _) => make(&kernel(Kernel::MitchellCubic), true, 1.0),
        })
    }

    /// `y = resize(x)` for `(n, h, w, c)` data.
    pub fn apply(&self, x: &[f32], (n, h, w, c): (usize, usize, usize, usize)) -> Vec<f32> {
        let (oh, ow) = (self.rows.taps.len(), self.cols.taps.len());
        let mut y = if self.rows_first {
            let t = pass(x, n, (h, w * c), &self.rows);
            pass(&t, n * oh, (w, c), &self.cols)
        } else {
            let t = pass(x, n * h, (w, c), &self.cols);
            pass(&t, n, (h, ow * c), &self.rows)
        };
        if self.post != 1.0 {
            y.iter_mut().for_each(|v| *v *= self.post);
        }
        y
    }

    /// The gradient of the input for the output gradient `g` of `(n, oh, ow, c)`.
    pub fn backward(&self, g: &[f32], (n, h, w, c): (usize, usize, usize, usize)) -> Vec<f32> {
        let (oh, ow) = (self.rows.taps.len(), self.cols.taps.len());
        let g: Vec<f32> = g.iter().map(|v| v * self.post).collect();
        if self.rows_first {
            let t = pass_t(&g, n * oh, (ow, c), &self.cols);
            pass_t(&t, n, (oh, w * c), &self.rows)
        } else {
            let t = pass_t(&g, n, (oh, ow * c), &self.rows);
            pass_t(&t, n * h, (ow, c), &self.cols)
        }
    }

    /// Records `resize(x)` for an `(n, h, w, c)` tape value, with its gradient.
    pub fn record(self, tape: &mut Tape, x: Var) -> TResult<Var> {
        let xv = tape.try_value(x)?;
        let s = xv.shape().to_vec();
        let dims = (s[0], s[1], s[2], s[3]);
        let (oh, ow) = (self.rows.taps.len(), self.cols.taps.len());
        let y = Tensor::new(&[s[0], oh, ow, s[3]], self.apply(xv.data(), dims))?;
        let me = Arc::new(self);
        tape.record(
            y,
            &[x],
            Box::new(move |g, _, _| Ok(vec![Some(Tensor::new(&s, me.backward(g.data(), dims))?)])),
        )
    }
}

/// One pass along an axis of `outer` blocks of `(len, inner)` values: every output row of
/// `inner` values is `Σ wt·input row`, accumulated in tap order from 0, as TensorFlow's
/// `GatherRows` / `GatherColumns` (with `inner` = `c`, one pixel's channels, for columns).
fn pass(x: &[f32], outer: usize, (len, inner): (usize, usize), taps: &AxisTaps) -> Vec<f32> {
    let out_len = taps.taps.len();
    let mut y = vec![0f32; outer * out_len * inner];
    for b in 0..outer {
        let src = &x[b * len * inner..(b + 1) * len * inner];
        for (o, t) in taps.taps.iter().enumerate() {
            let dst = &mut y[(b * out_len + o) * inner..(b * out_len + o + 1) * inner];
            for &(i, wt) in t {
                let row = &src[i as usize * inner..(i as usize + 1) * inner];
                for (d, &v) in dst.iter_mut().zip(row) {
                    *d += wt * v;
                }
            }
        }
    }
    y
}

/// The transpose of [`pass`]: scatters every output row back onto its taps.
fn pass_t(g: &[f32], outer: usize, (out_len, inner): (usize, usize), taps: &AxisTaps) -> Vec<f32> {
    let len = taps.in_len;
    let mut dx = vec![0f32; outer * len * inner];
    for b in 0..outer {
        for (o, t) in taps.taps.iter().enumerate() {
            let row = &g[(b * out_len + o) * inner..(b * out_len + o + 1) * inner];
            for &(i, wt) in t {
                let dst = &mut dx[(b * len + i as usize) * inner..(b * len + i as usize + 1) * inner];
                for (d, &v) in dst.iter_mut().zip(row) {
                    *d += wt * v;
                }
            }
        }
    }
    dx
}

/// `tf.image.resize(img, (out_h, out_w), method, antialias)` of one `h × w × c` image, for
/// every method ([`super::tf_image::resize`] for `bilinear` / `nearest` without antialias).
pub fn resize(
    px: &[f32],
    (h, w, c): (usize, usize, usize),
    out: (usize, usize),
    method: TfMethod,
    antialias: bool,
) -> Vec<f32> {
    match Separable::new(method, antialias, (h, w), out) {
        Some(s) => s.apply(px, (1, h, w, c)),
        None => super::tf_image::resize(px, (h, w, c), out, method),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_and_bicubic_by_hand() {
        // 4 → 3: scale 4/3; out[0] = (in0 + in1/3)·3/4.
        let a = area(4, 3);
        assert_eq!(a.taps[0][0], (0, 1.0));
        assert_eq!(a.taps[0][1].0, 1);
        assert!((a.taps[0][1].1 - 1.0 / 3.0).abs() < 1e-6);
        // Same size: bicubic is the identity (offset 0: weights 0, 1, 0, 0 after renormalizing).
        let b = bicubic(5, 5);
        for (o, t) in b.taps.iter().enumerate() {
            let w: f32 = t.iter().filter(|x| x.0 as usize == o).map(|x| x.1).sum();
            assert_eq!(w, 1.0, "{o}: {t:?}");
        }
    }

    #[test]
    fn an_empty_image_resizes_to_zeros() {
        for m in [TfMethod::Area, TfMethod::Bicubic, TfMethod::Lanczos3] {
            assert_eq!(resize(&[], (0, 3, 1), (2, 2), m, true), vec![0.0; 4], "{m:?}");
        }
    }

    #[test]
    fn gradient_is_the_transpose() {
        let s = Separable::new(TfMethod::Lanczos3, false, (5, 4), (3, 7)).unwrap();
        let x: Vec<f32> = (0..5 * 4 * 2).map(|v| (v as f32 * 0.37).sin()).collect();
        let g: Vec<f32> = (0..3 * 7 * 2).map(|v| (v as f32 * 0.11).cos()).collect();
        let y = s.apply(&x, (1, 5, 4, 2));
        let dx = s.backward(&g, (1, 5, 4, 2));
        let lhs: f32 = y.iter().zip(&g).map(|(a, b)| a * b).sum();
        let rhs: f32 = x.iter().zip(&dx).map(|(a, b)| a * b).sum();
        assert!((lhs - rhs).abs() < 1e-4, "{lhs} vs {rhs}");
    }
}
