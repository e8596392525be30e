//! Image files in and out, as `keras.utils` has them (Keras 3 on Pillow):
//! [`load_img`] → [`Img`] → [`img_to_array`] (`(height, width, channels)` f32, values 0–255,
//! channels_last), and [`array_to_img`] / [`save_img`] back. Stable API (other modules and the
//! CLI read images through it):
//!
//! ```no_run
//! use rkeras::utils::{img_to_array, load_img, LoadImgOptions};
//! let img = load_img("cat.png", &LoadImgOptions { target_size: Some((180, 180)), ..Default::default() })?;
//! let x = img_to_array(&img); // Tensor [180, 180, 3], 0..255
//! # Ok::<(), rkeras::KerasError>(())
//! ```
//!
//! Formats: PNG, JPEG, BMP, GIF (first frame), WebP, recognised by content as Pillow does.
//! Decoding is memory-bounded: a file over 256 MiB, an image over Pillow's decompression-bomb
//! limit (178,956,970 pixels) or a decoder wanting more than 512 MiB is refused with an error
//! naming the file, before the pixels are allocated. Pixel values follow Pillow: PNG exact;
//! JPEG from a different decoder (zune-jpeg vs libjpeg-turbo), within a few levels; 16-bit
//! colour PNGs keep the high byte; a 16-bit grey PNG in `grayscale` stays 16-bit (`I;16`).

use super::pil::{self, PilFilter};
use crate::error::{KerasError, Result};
use image::{DynamicImage, ImageDecoder, ImageFormat};
use std::path::Path;
use tensor::Tensor;

/// Largest file read (bytes).
pub const MAX_FILE_BYTES: u64 = 256 << 20;
/// Pillow's `Image.MAX_IMAGE_PIXELS · 2`: above it Pillow raises `DecompressionBombError`.
pub const MAX_PIXELS: u64 = 2 * 89_478_485;
/// The most a decoder may allocate (bytes).
pub const MAX_ALLOC: u64 = 512 << 20;

/// A decoded image in one of Pillow's modes: `L`, `LA`, `RGB`, `RGBA` (8-bit) or `I;16`.
#[derive(Debug, Clone, PartialEq)]
pub struct Img {
    width: usize,
    height: usize,
    mode: &'static str,
    px: Pixels,
}

#[derive(Debug, Clone, PartialEq)]
enum Pixels {
    U8(Vec<u8>),
    U16(Vec<u16>),
}

impl Img {
    /// An 8-bit image from `h × w × c` bytes (`c` = 1, 2, 3, 4: `L`, `LA`, `RGB`, `RGBA`).
    pub fn from_bytes(height: usize, width: usize, channels: usize, px: Vec<u8>) -> Result<Img> {
        let mode = match channels {
            1 => "L",
            2 => "LA",
            3 => "RGB",
            4 => "RGBA",
            _ => {
                return Err(KerasError::Invalid(format!(
                    "Img: channels must be 1, 2, 3 or 4, received {channels}"
                )))
            }
        };
        if px.len() != height * width * channels {
            return Err(KerasError::Invalid(format!(
                "Img: {height}×{width}×{channels} needs {} bytes, received {}",
                height * width * channels,
                px.len()
            )));
        }
        Ok(Img {
            width,
            height,
            mode,
            px: Pixels::U8(px),
        })
    }
    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }
    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }
    /// Pillow's mode name.
    pub fn mode(&self) -> &'static str {
        self.mode
    }
    /// Channels per pixel.
    pub fn channels(&self) -> usize {
        match self.mode {
            "L" | "I;16" => 1,
            "LA" => 2,
            "RGB" => 3,
            _ => 4,
        }
    }
    /// The 8-bit pixels, rows top to bottom (`None` for `I;16`).
    pub fn bytes(&self) -> Option<&[u8]> {
        match &self.px {
            Pixels::U8(v) => Some(v),
            Pixels::U16(_) => None,
        }
    }

    /// Pillow's `convert` to `L`, `RGB` or `RGBA` (`I;16` clips to 255 as Pillow's `I;16 → L`).
    fn convert(self, channels: usize) -> Img {
        let from = self.channels();
        let bytes = match self.px {
            Pixels::U8(v) if from == channels => {
                return Img {
                    px: Pixels::U8(v),
                    ..self
                }
            }
            Pixels::U8(v) => pil::convert(&v, from, channels),
            Pixels::U16(v) => {
                let l: Vec<u8> = v.iter().map(|&x| x.min(255) as u8).collect();
                pil::convert(&l, 1, channels)
            }
        };
        Img::from_bytes(self.height, self.width, channels, bytes).unwrap_or_else(|_| unreachable!())
    }
}

/// `load_img`'s arguments, with Keras's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadImgOptions {
    /// `"grayscale"`, `"rgb"` (default) or `"rgba"`.
    pub color_mode: String,
    /// `(height, width)` to resize to; `None` keeps the file's size.
    pub target_size: Option<(usize, usize)>,
    /// Pillow filter: `"nearest"` (default), `"bilinear"`, `"bicubic"`, `"lanczos"`, `"box"`,
    /// `"hamming"`.
    pub interpolation: String,
    /// Crop the centre to the target's aspect ratio before resizing.
    pub keep_aspect_ratio: bool,
}

impl Default for LoadImgOptions {
    fn default() -> Self {
        LoadImgOptions {
            color_mode: "rgb".into(),
            target_size: None,
            interpolation: "nearest".into(),
            keep_aspect_ratio: false,
        }
    }
}

fn bad(path: &Path, what: impl std::fmt::Display) -> KerasError {
    KerasError::Invalid(format!("{}: {what}", path.display()))
}

/// Reads and decodes an image file with bounded memory: the decoded image as the codec gives
/// it. Errors name the file.
pub fn decode_file(path: &Path) -> Result<DynamicImage> {
    Ok(decode_file_format(path)?.0)
}

/// [`decode_file`] with the format the content was recognised as.
pub fn decode_file_format(path: &Path) -> Result<(DynamicImage, ImageFormat)> {
    let io = |source| KerasError::Io {
        path: path.display().to_string(),
        source,
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_FILE_BYTES {
        return Err(bad(
            path,
            format!("image file of {len} bytes is over the {MAX_FILE_BYTES}-byte limit"),
        ));
    }
    let bytes = std::fs::read(path).map_err(io)?;
    decode_bytes_format(&bytes).map_err(|e| bad(path, e))
}

/// Decodes image bytes (format from the content) under the limits above; the error is a
/// sentence without the file name.
pub fn decode_bytes(bytes: &[u8]) -> std::result::Result<DynamicImage, String> {
    Ok(decode_bytes_format(bytes)?.0)
}

/// [`decode_bytes`] with the format the content was recognised as.
pub fn decode_bytes_format(bytes: &[u8]) -> std::result::Result<(DynamicImage, ImageFormat), String> {
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    let format = match reader.format() {
        Some(f @ (ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::Bmp | ImageFormat::Gif | ImageFormat::WebP)) => f,
        Some(f) => return Err(format!("cannot identify image file (format {f:?} is not supported)")),
        None => return Err("cannot identify image file (not PNG, JPEG, BMP, GIF or WebP)".into()),
    };
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let decoder = reader.into_decoder().map_err(|e| format!("cannot decode image: {e}"))?;
    let (w, h) = decoder.dimensions();
    if w as u64 * h as u64 > MAX_PIXELS {
        return Err(format!(
            "Image size ({} pixels, {w}×{h}) exceeds limit of {MAX_PIXELS} pixels, could be decompression bomb DOS attack.",
            w as u64 * h as u64
        ));
    }
    if w == 0 || h == 0 {
        return Err(format!("image has no pixels ({w}×{h})"));
    }
    let img = DynamicImage::from_decoder(decoder).map_err(|e| format!("cannot decode image: {e}"))?;
    Ok((img, format))
}

/// The decoded image in Pillow's mode for it (16-bit colour keeps the high byte, as Pillow's
/// PNG reader does).
pub fn to_img(d: DynamicImage) -> Img {
    let (w, h) = (d.width() as usize, d.height() as usize);
    let hi = |v: &[u16]| v.iter().map(|&x| (x >> 8) as u8).collect::<Vec<u8>>();
    let (c, px) = match d {
        DynamicImage::ImageLuma8(b) => (1, b.into_raw()),
        DynamicImage::ImageLumaA8(b) => (2, b.into_raw()),
        DynamicImage::ImageRgb8(b) => (3, b.into_raw()),
        DynamicImage::ImageRgba8(b) => (4, b.into_raw()),
        DynamicImage::ImageLuma16(b) => {
            return Img {
                width: w,
                height: h,
                mode: "I;16",
                px: Pixels::U16(b.into_raw()),
            };
        }
        DynamicImage::ImageLumaA16(b) => (2, hi(&b)),
        DynamicImage::ImageRgb16(b) => (3, hi(&b)),
        DynamicImage::ImageRgba16(b) => (4, hi(&b)),
        other => (4, other.to_rgba8().into_raw()),
    };
    Img::from_bytes(h, w, c, px).unwrap_or_else(|_| unreachable!())
}

/// `keras.utils.load_img(path, color_mode, target_size, interpolation, keep_aspect_ratio)`.
pub fn load_img(path: impl AsRef<Path>, o: &LoadImgOptions) -> Result<Img> {
    let path = path.as_ref();
    let filter = PilFilter::parse(&o.interpolation)?;
    let channels = match o.color_mode.as_str() {
        "grayscale" => 1,
        "rgb" => 3,
        "rgba" => 4,
        m => {
            return Err(KerasError::Invalid(format!(
                "load_img: color_mode must be \"grayscale\", \"rgb\" or \"rgba\". Received: color_mode={m}"
            )))
        }
    };
    let mut img = to_img(decode_file(path)?);
    if !(channels == 1 && img.mode == "I;16") {
        img = img.convert(channels);
    }
    let Some((th, tw)) = o.target_size else { return Ok(img) };
    if th == 0 || tw == 0 {
        return Err(KerasError::Invalid(format!(
            "load_img: target_size must be positive. Received: target_size=({th}, {tw})"
        )));
    }
    if (img.height, img.width) == (th, tw) {
        return Ok(img);
    }
    let (h, w) = (img.height, img.width);
    let bbox = o.keep_aspect_ratio.then(|| {
        let crop_h = ((w * th) / tw).min(h);
        let crop_w = ((h * tw) / th).min(w);
        let (hs, ws) = ((h - crop_h) / 2, (w - crop_w) / 2);
        [ws as f64, hs as f64, (ws + crop_w) as f64, (hs + crop_h) as f64]
    });
    let c = img.channels();
    let px = match &img.px {
        Pixels::U8(v) => pil::resize(v, (h, w, c), (th, tw), filter, bbox),
        Pixels::U16(_) => {
            return Err(bad(
                path,
                "resizing a 16-bit greyscale image is not supported; use color_mode=\"rgb\" or no target_size",
            ))
        }
    };
    Ok(Img {
        width: tw,
        height: th,
        px: Pixels::U8(px),
        ..img
    })
}

/// `keras.utils.img_to_array(img)`: `(height, width, channels)` f32 (channels_last), values as
/// stored (0–255; 0–65535 for `I;16`).
pub fn img_to_array(img: &Img) -> Tensor {
    let data: Vec<f32> = match &img.px {
        Pixels::U8(v) => v.iter().map(|&b| b as f32).collect(),
        Pixels::U16(v) => v.iter().map(|&b| b as f32).collect(),
    };
    Tensor::new(&[img.height, img.width, img.channels()], data).unwrap_or_else(|_| unreachable!())
}

/// `array_to_img` / `save_img` arguments, with Keras's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrayToImgOptions {
    /// `"channels_last"` (default) or `"channels_first"`.
    pub data_format: String,
    /// Rescale to 0–255 (`x − min`, then `· 255 / max`); default true.
    pub scale: bool,
}

impl Default for ArrayToImgOptions {
    fn default() -> Self {
        ArrayToImgOptions {
            data_format: "channels_last".into(),
            scale: true,
        }
    }
}

/// `keras.utils.array_to_img(x, data_format, scale)`: a 3-D array (1, 3 or 4 channels) to an
/// image; values become bytes by truncation, as NumPy's `astype("uint8")` (out-of-range values
/// saturate where NumPy would wrap).
pub fn array_to_img(x: &Tensor, o: &ArrayToImgOptions) -> Result<Img> {
    if x.rank() != 3 {
        return Err(KerasError::Invalid(format!(
            "array_to_img: Expected image array to have rank 3 (single image). Got array with shape: {:?}",
            x.shape()
        )));
    }
    let (h, w, c, v): (usize, usize, usize, Vec<f32>) = match o.data_format.as_str() {
        "channels_last" => (x.shape()[0], x.shape()[1], x.shape()[2], x.data().to_vec()),
        "channels_first" => {
            let (c, h, w) = (x.shape()[0], x.shape()[1], x.shape()[2]);
            let d = x.data();
            let v = (0..h * w * c).map(|i| d[(i % c) * h * w + i / c]).collect();
            (h, w, c, v)
        }
        f => return Err(KerasError::Invalid(format!("array_to_img: Invalid data_format: {f}"))),
    };
    if !matches!(c, 1 | 3 | 4) {
        return Err(KerasError::Invalid(format!(
            "array_to_img: Unsupported channel number: {c}"
        )));
    }
    let mut v = v;
    if o.scale {
        let min = v.iter().copied().fold(f32::INFINITY, f32::min);
        v.iter_mut().for_each(|a| *a -= min);
        let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        if max != 0.0 {
            v.iter_mut().for_each(|a| *a /= max);
        }
        v.iter_mut().for_each(|a| *a *= 255.0);
    }
    Img::from_bytes(h, w, c, v.iter().map(|&a| a as u8).collect())
}

/// `keras.utils.save_img(path, x, data_format, file_format, scale)`: the format from
/// `file_format` or the extension (png, jpg/jpeg, bmp, gif, webp); RGBA to JPEG drops alpha,
/// as Keras does after its warning.
pub fn save_img(path: impl AsRef<Path>, x: &Tensor, file_format: Option<&str>, o: &ArrayToImgOptions) -> Result<()> {
    let path = path.as_ref();
    let img = array_to_img(x, o)?;
    let ext = file_format
        .map(str::to_string)
        .or_else(|| path.extension().map(|e| e.to_string_lossy().into_owned()))
        .unwrap_or_default()
        .to_lowercase();
    let format = ImageFormat::from_extension(&ext)
        .filter(|f| {
            matches!(
                f,
                ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::Bmp | ImageFormat::Gif | ImageFormat::WebP
            )
        })
        .ok_or_else(|| {
            bad(
                path,
                format!("save_img: unknown file format {ext:?} (png, jpg, bmp, gif, webp)"),
            )
        })?;
    let img = if format == ImageFormat::Jpeg && img.mode == "RGBA" {
        eprintln!("WARNING: The JPG format does not support RGBA images, converting to RGB.");
        img.convert(3)
    } else {
        img
    };
    let (w, h) = (img.width as u32, img.height as u32);
    let bytes = img.bytes().unwrap_or_default().to_vec();
    let dynimg = match img.mode {
        "L" => image::GrayImage::from_raw(w, h, bytes).map(DynamicImage::ImageLuma8),
        "RGB" => image::RgbImage::from_raw(w, h, bytes).map(DynamicImage::ImageRgb8),
        _ => image::RgbaImage::from_raw(w, h, bytes).map(DynamicImage::ImageRgba8),
    }
    .ok_or_else(|| bad(path, "save_img: pixel buffer does not match the image size"))?;
    dynimg
        .save_with_format(path, format)
        .map_err(|e| bad(path, format!("save_img: {e}")))
}
