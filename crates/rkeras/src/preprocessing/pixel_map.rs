//! The image ops the preprocessing and augmentation layers share, as differentiable tape ops:
//! a [`PixelMap`] (every output pixel a weighted sum of at most four input pixels plus a
//! constant fill: crops, flips, `tf.image.resize`, and TensorFlow's
//! `ImageProjectiveTransformV3` for rotation / zoom / translation with Keras's fill modes
//! `reflect`, `wrap`, `constant`, `nearest` and `nearest` / `bilinear` interpolation), and the
//! per-sample affine-and-clip of `RandomContrast` / `RandomBrightness`. Images are NHWC.

use std::sync::Arc;
use tensor::{Result as TResult, Tape, Tensor, Var};

/// Where out-of-range source coordinates go (Keras's `fill_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FillMode {
    /// `dcba|abcd|dcba`.
    Reflect,
    /// `abcd|abcd|abcd`.
    Wrap,
    /// `kkkk|abcd|kkkk` with `fill_value`.
    Constant,
    /// `aaaa|abcd|dddd`.
    Nearest,
}

impl FillMode {
    /// Keras's name.
    pub fn parse(s: &str) -> Option<FillMode> {
        Some(match s {
            "reflect" => FillMode::Reflect,
            "wrap" => FillMode::Wrap,
            "constant" => FillMode::Constant,
            "nearest" => FillMode::Nearest,
            _ => return None,
        })
    }

    /// TensorFlow's `MapCoordinate` for this mode.
    fn map(self, v: f32, len: usize) -> f32 {
        let l = len as i64;
        let clamp = |x: f32| x.clamp(0.0, (len - 1) as f32);
        match self {
            FillMode::Constant => v,
            FillMode::Nearest => clamp(v),
            FillMode::Reflect => {
                let mut c = v;
                if len <= 1 {
                    return 0.0;
                }
                let sz2 = 2 * l;
                if c < 0.0 {
                    if c < sz2 as f32 {
                        c += (sz2 * ((-c / sz2 as f32) as i64)) as f32;
                    }
                    c = if c < -(l as f32) { c + sz2 as f32 } else { -c - 1.0 };
                } else if c > (l - 1) as f32 {
                    c -= (sz2 * ((c / sz2 as f32) as i64)) as f32;
                    if c >= l as f32 {
                        c = sz2 as f32 - c - 1.0;
                    }
                }
                clamp(c)
            }
            FillMode::Wrap => {
                let mut c = v;
                if len <= 1 {
                    return 0.0;
                }
                let sz = l - 1;
                if c < 0.0 {
                    c += (l * ((-c / sz as f32) as i64 + 1)) as f32;
                } else if c > (l - 1) as f32 {
                    c -= (l * ((c / sz as f32) as i64)) as f32;
                }
                clamp(c)
            }
        }
    }
}

/// Per sample (or one for the whole batch), per output pixel: up to four `(source pixel,
/// weight)` taps and the weight of the constant fill.
#[derive(Debug, Clone)]
pub struct PixelMap {
    in_hw: (usize, usize),
    out_hw: (usize, usize),
    maps: usize,
    taps: Vec<[(u32, f32); 4]>,
    fill: Vec<f32>,
    fill_value: f32,
}

impl PixelMap {
    fn new(in_hw: (usize, usize), out_hw: (usize, usize), maps: usize, fill_value: f32) -> PixelMap {
        let n = maps * out_hw.0 * out_hw.1;
        PixelMap {
            in_hw,
            out_hw,
            maps,
            taps: vec![[(0, 0.0); 4]; n],
            fill: vec![0.0; n],
            fill_value,
        }
    }

    /// The window `top..top+h`, `left..left+w` of every image.
    pub fn crop(in_hw: (usize, usize), top: usize, left: usize, h: usize, w: usize) -> PixelMap {
        let mut m = PixelMap::new(in_hw, (h, w), 1, 0.0);
        for y in 0..h {
            for x in 0..w {
                m.taps[y * w + x][0] = (((y + top) * in_hw.1 + x + left) as u32, 1.0);
            }
        }
        m
    }

    /// Pads every image by `top` rows above and below and `left` columns on both sides, with
    /// `fill_value`.
    pub fn pad(in_hw: (usize, usize), top: usize, left: usize, fill_value: f32) -> PixelMap {
        let (h, w) = in_hw;
        let (oh, ow) = (h + 2 * top, w + 2 * left);
        let mut m = PixelMap::new(in_hw, (oh, ow), 1, fill_value);
        for y in 0..oh {
            for x in 0..ow {
                let o = y * ow + x;
                if (top..top + h).contains(&y) && (left..left + w).contains(&x) {
                    m.taps[o][0] = (((y - top) * w + x - left) as u32, 1.0);
                } else {
                    m.fill[o] = 1.0;
                }
            }
        }
        m
    }

    /// `tf.image.resize` with `nearest` or `bilinear` (half-pixel centres, no antialias) as
    /// taps; the other methods need more taps per pixel ([`super::tf_resize::Separable`]).
    pub fn resize(in_hw: (usize, usize), out_hw: (usize, usize), nearest: bool) -> PixelMap {
        let ((h, w), (oh, ow)) = (in_hw, out_hw);
        let (sy, sx) = (h as f32 / oh as f32, w as f32 / ow as f32);
        let mut m = PixelMap::new(in_hw, out_hw, 1, 0.0);
        let lin = |o: usize, s: f32, n: usize| {
            let v = (o as f32 + 0.5) * s - 0.5;
            let f = v.floor();
            let lo = ((f as i64).max(0) as usize).min(n - 1);
            let hi = (v.ceil() as i64).clamp(0, n as i64 - 1) as usize;
            (lo, hi, v - f)
        };
        let near = |o: usize, s: f32, n: usize| (((o as f32 + 0.5) * s).floor() as usize).min(n - 1);
        for y in 0..oh {
            for x in 0..ow {
                let t = &mut m.taps[y * ow + x];
                if nearest {
                    t[0] = ((near(y, sy, h) * w + near(x, sx, w)) as u32, 1.0);
                } else {
                    let ((y0, y1, ly), (x0, x1, lx)) = (lin(y, sy, h), lin(x, sx, w));
                    let at = |yy: usize, xx: usize| (yy * w + xx) as u32;
                    *t = [
                        (at(y0, x0), (1.0 - ly) * (1.0 - lx)),
                        (at(y0, x1), (1.0 - ly) * lx),
                        (at(y1, x0), ly * (1.0 - lx)),
                        (at(y1, x1), ly * lx),
                    ];
                }
            }
        }
        m
    }

    /// TensorFlow's `ImageProjectiveTransformV3`: output `(x, y)` reads input
    /// `((a0·x + a1·y + a2)/k, (b0·x + b1·y + b2)/k)`, `k = c0·x + c1·y + 1`, one transform per
    /// sample, same output size.
    pub fn projective(
        hw: (usize, usize),
        transforms: &[[f32; 8]],
        bilinear: bool,
        fill: FillMode,
        fill_value: f32,
    ) -> PixelMap {
        let (h, w) = hw;
        let mut m = PixelMap::new(hw, hw, transforms.len(), fill_value);
        for (n, t) in transforms.iter().enumerate() {
            for oy in 0..h {
                for ox in 0..w {
                    let o = n * h * w + oy * w + ox;
                    let (xf, yf) = (ox as f32, oy as f32);
                    let k = t[6] * xf + t[7] * yf + 1.0;
                    if k == 0.0 {
                        m.fill[o] = 1.0;
                        continue;
                    }
                    let x = fill.map((t[0] * xf + t[1] * yf + t[2]) / k, w);
                    let y = fill.map((t[3] * xf + t[4] * yf + t[5]) / k, h);
                    let mut taps = [(0u32, 0f32); 4];
                    let mut fw = 0.0;
                    let mut put = |slot: usize, yy: f32, xx: f32, wt: f32| {
                        let (yi, xi) = (yy as i64, xx as i64);
                        if yy >= 0.0 && xx >= 0.0 && yi < h as i64 && xi < w as i64 {
                            taps[slot] = ((yi as usize * w + xi as usize) as u32, wt);
                        } else {
                            fw += wt;
                        }
                    };
                    if bilinear {
                        let (y0, x0) = (y.floor(), x.floor());
                        let (y1, x1) = (y0 + 1.0, x0 + 1.0);
                        put(0, y0, x0, (y1 - y) * (x1 - x));
                        put(1, y0, x1, (y1 - y) * (x - x0));
                        put(2, y1, x0, (y - y0) * (x1 - x));
                        put(3, y1, x1, (y - y0) * (x - x0));
                    } else {
                        // std::round (half away from zero), as TensorFlow's nearest interpolation.
                        put(0, y.round(), x.round(), 1.0);
                    }
                    m.taps[o] = taps;
                    m.fill[o] = fw;
                }
            }
        }
        m
    }

    /// The output shape for an `(n, h, w, c)` input.
    pub fn out_shape(&self, n: usize, c: usize) -> [usize; 4] {
        [n, self.out_hw.0, self.out_hw.1, c]
    }

    fn map_of(&self, b: usize) -> usize {
        if self.maps == 1 {
            0
        } else {
            b
        }
    }

    /// `y = map(x)` for an `(n, h, w, c)` tensor.
    pub fn apply(&self, x: &Tensor) -> TResult<Tensor> {
        let s = x.shape();
        let (n, c) = (s[0], s[3]);
        let (ip, op) = (self.in_hw.0 * self.in_hw.1, self.out_hw.0 * self.out_hw.1);
        let d = x.data();
        let mut out = vec![0f32; n * op * c];
        for b in 0..n {
            let m = self.map_of(b);
            for p in 0..op {
                let (t, f) = (&self.taps[m * op + p], self.fill[m * op + p]);
                for ch in 0..c {
                    let mut v = f * self.fill_value;
                    for &(src, wt) in t {
                        if wt != 0.0 {
                            v += wt * d[(b * ip + src as usize) * c + ch];
                        }
                    }
                    out[(b * op + p) * c + ch] = v;
                }
            }
        }
        Tensor::new(&self.out_shape(n, c), out)
    }

    /// The gradient of the input: every tap scatters its share back.
    pub fn backward(&self, g: &Tensor, in_shape: &[usize]) -> TResult<Tensor> {
        let (n, c) = (in_shape[0], in_shape[3]);
        let (ip, op) = (self.in_hw.0 * self.in_hw.1, self.out_hw.0 * self.out_hw.1);
        let gd = g.data();
        let mut dx = vec![0f32; n * ip * c];
        for b in 0..n {
            let m = self.map_of(b);
            for p in 0..op {
                for &(src, wt) in &self.taps[m * op + p] {
                    if wt != 0.0 {
                        for ch in 0..c {
                            dx[(b * ip + src as usize) * c + ch] += wt * gd[(b * op + p) * c + ch];
                        }
                    }
                }
            }
        }
        Tensor::new(in_shape, dx)
    }

    /// Records `map(x)` on the tape, with its gradient.
    pub fn record(self, tape: &mut Tape, x: Var) -> TResult<Var> {
        let xv = tape.try_value(x)?;
        let in_shape = xv.shape().to_vec();
        let y = self.apply(xv)?;
        let me = Arc::new(self);
        tape.record(
            y,
            &[x],
            Box::new(move |g, _, _| Ok(vec![Some(me.backward(g, &in_shape)?)])),
        )
    }
}

/// Per-sample `clip(scale·(x − mean) + mean + shift, lo, hi)` where `mean` is the per-channel
/// mean over height and width when `centre` (RandomContrast) and 0 otherwise
/// (RandomBrightness: `scale` 1), recorded with its gradient.
pub fn affine_clip(
    tape: &mut Tape,
    x: Var,
    scale: Vec<f32>,
    shift: Vec<f32>,
    centre: bool,
    range: (f32, f32),
) -> TResult<Var> {
    let xv = tape.try_value(x)?.clone();
    let s = xv.shape().to_vec();
    let (n, hw, c) = (s[0], s[1] * s[2], s[3]);
    let d = xv.data();
    let means: Vec<f32> = (0..n * c)
        .map(|bc| {
            if !centre {
                return 0.0;
            }
            let (b, ch) = (bc / c, bc % c);
            (0..hw).map(|p| d[(b * hw + p) * c + ch]).sum::<f32>() / hw as f32
        })
        .collect();
    let mut out = vec![0f32; d.len()];
    for (i, o) in out.iter_mut().enumerate() {
        let (b, ch) = (i / (hw * c), i % c);
        let m = means[b * c + ch];
        *o = ((d[i] - m) * scale[b] + m + shift[b]).clamp(range.0, range.1);
    }
    let y = Tensor::new(&s, out)?;
    tape.record(
        y,
        &[x],
        Box::new(move |g, _, out| {
            let (gd, od) = (g.data(), out.data());
            let mut gx: Vec<f32> = gd
                .iter()
                .zip(od)
                .map(|(&g, &o)| if o > range.0 && o < range.1 { g } else { 0.0 })
                .collect();
            let masked = gx.clone();
            for (i, v) in gx.iter_mut().enumerate() {
                let (b, ch) = (i / (hw * c), i % c);
                let mut dv = *v * scale[b];
                if centre {
                    let mean_g: f32 = (0..hw).map(|p| masked[(b * hw + p) * c + ch]).sum::<f32>() / hw as f32;
                    dv += (1.0 - scale[b]) * mean_g;
                }
                *v = dv;
            }
            Ok(vec![Some(Tensor::new(&s, gx)?)])
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_modes_as_tensorflow() {
        // abcd at -1, -2, 4, 5 (len 4): reflect d c b a → 0 1 3 2; wrap → 3 2 0 1; nearest 0 0 3 3.
        let r: Vec<f32> = [-1.0, -2.0, 4.0, 5.0]
            .iter()
            .map(|&v| FillMode::Reflect.map(v, 4))
            .collect();
        assert_eq!(r, [0.0, 1.0, 3.0, 2.0]);
        let w: Vec<f32> = [-1.0, -2.0, 4.0, 5.0]
            .iter()
            .map(|&v| FillMode::Wrap.map(v, 4))
            .collect();
        assert_eq!(w, [3.0, 2.0, 0.0, 1.0]);
        assert_eq!(FillMode::Nearest.map(-3.0, 4), 0.0);
    }

    #[test]
    fn projective_flip_and_shift_with_gradient() {
        let x = Tensor::arange(&[1, 1, 4, 1]);
        // Horizontal flip: x_in = 3 − x.
        let flip = PixelMap::projective(
            (1, 4),
            &[[-1.0, 0.0, 3.0, 0.0, 1.0, 0.0, 0.0, 0.0]],
            false,
            FillMode::Constant,
            0.0,
        );
        assert_eq!(flip.apply(&x).unwrap().data(), &[3.0, 2.0, 1.0, 0.0]);
        // Shift right by one, constant 7 fills the gap.
        let shift = PixelMap::projective(
            (1, 4),
            &[[1.0, 0.0, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0]],
            true,
            FillMode::Constant,
            7.0,
        );
        assert_eq!(shift.apply(&x).unwrap().data(), &[7.0, 0.0, 1.0, 2.0]);
        let g = shift.backward(&Tensor::ones(&[1, 1, 4, 1]), &[1, 1, 4, 1]).unwrap();
        assert_eq!(g.data(), &[1.0, 1.0, 1.0, 0.0]);
    }
}
