//! PNG pictures from the SVG pictures rkeras draws (`plot_model`, training curves), in pure
//! Rust: usvg parses the SVG, resvg rasterizes it with tiny-skia, and text is set in DejaVu
//! Sans (regular and bold) embedded in the binary. Those two fonts are the only fonts loaded:
//! no system font is read, so a PNG comes out the same on every machine, and every
//! `font-family` (named or generic) resolves to DejaVu Sans.
//!
//! Sizes follow Graphviz, which Keras's `plot_model` runs: SVG units are points (1/72 inch),
//! so a picture at `dpi` is `dpi / 72` times its SVG size in pixels, and a picture that would
//! be larger than [`MAX_SIDE`] pixels on a side or [`MAX_PIXELS`] in all is scaled down to
//! fit, as Graphviz's cairo renderer does ("scaling by … to fit"); [`Raster::scale`] says the
//! scale used.
//!
//! ```
//! use rkeras::insight::render::svg_to_png;
//! let svg = r#"<svg xmlns="http://www.w3.org/2000/svg" width="60" height="20">
//!   <text x="2" y="15" font-family="Helvetica" font-size="12">Dense</text></svg>"#;
//! let png = svg_to_png(svg, 2.0).unwrap();
//! assert_eq!((png.width, png.height), (120, 40));
//! assert!(png.bytes.starts_with(b"\x89PNG"));
//! ```

use super::plot::PlotOptions;
use super::svg::to_svg;
use crate::error::{KerasError, Result};
use crate::model::Model;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// The family name of the embedded fonts.
pub const FONT_FAMILY: &str = "DejaVu Sans";
/// Largest side of a PNG in pixels (cairo's limit, which Graphviz scales pictures down to).
pub const MAX_SIDE: u32 = 32_767;
/// Largest PNG in pixels (about 400 MB of RGBA while it is drawn).
pub const MAX_PIXELS: u64 = 100_000_000;

static REGULAR: &[u8] = include_bytes!("../../data/fonts/DejaVuSans.ttf");
static BOLD: &[u8] = include_bytes!("../../data/fonts/DejaVuSans-Bold.ttf");

/// A rendered PNG file.
#[derive(Debug, Clone)]
pub struct Raster {
    /// The PNG file's bytes.
    pub bytes: Vec<u8>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Pixels per SVG unit actually used (below the requested one when the picture was
    /// scaled down to fit [`MAX_SIDE`] and [`MAX_PIXELS`]).
    pub scale: f32,
}

/// The font database: the embedded fonts only, DejaVu Sans for every generic family.
fn fonts() -> Arc<resvg::usvg::fontdb::Database> {
    static DB: OnceLock<Arc<resvg::usvg::fontdb::Database>> = OnceLock::new();
    DB.get_or_init(|| {
        let mut db = resvg::usvg::fontdb::Database::new();
        db.load_font_data(REGULAR.to_vec());
        db.load_font_data(BOLD.to_vec());
        db.set_serif_family(FONT_FAMILY);
        db.set_sans_serif_family(FONT_FAMILY);
        db.set_monospace_family(FONT_FAMILY);
        db.set_cursive_family(FONT_FAMILY);
        db.set_fantasy_family(FONT_FAMILY);
        Arc::new(db)
    })
    .clone()
}

/// The scale at which a `w × h` picture fits [`MAX_SIDE`] and [`MAX_PIXELS`] (at most `scale`).
fn fitted(w: f32, h: f32, scale: f32) -> f32 {
    let side = MAX_SIDE as f32 / w.max(h);
    let area = (MAX_PIXELS as f64 / (w as f64 * h as f64)).sqrt() as f32;
    scale.min(side).min(area)
}

/// Renders `svg` at `scale` pixels per SVG unit (`dpi / 72` for `plot_model`'s dpi).
pub fn svg_to_png(svg: &str, scale: f32) -> Result<Raster> {
    if !(scale.is_finite() && scale > 0.0) {
        return Err(KerasError::Invalid(format!(
            "render: scale: expected a positive number of pixels per SVG unit. Received: {scale}"
        )));
    }
    let opts = resvg::usvg::Options {
        font_family: FONT_FAMILY.to_string(),
        fontdb: fonts(),
        ..resvg::usvg::Options::default()
    };
    let tree = resvg::usvg::Tree::from_str(svg, &opts)
        .map_err(|e| KerasError::Invalid(format!("render: the SVG does not parse: {e}")))?;
    let size = tree.size();
    let scale = fitted(size.width(), size.height(), scale);
    // `min`: rounding must not push a fitted side past the limit.
    let width = ((size.width() * scale).ceil() as u32).clamp(1, MAX_SIDE);
    let height = ((size.height() * scale).ceil() as u32).clamp(1, MAX_SIDE);
    let mut pixmap = resvg::tiny_skia::Pixmap::new(width, height)
        .ok_or_else(|| KerasError::Invalid(format!("render: cannot make a {width}×{height} pixel image")))?;
    pixmap.fill(resvg::tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    let bytes = pixmap
        .encode_png()
        .map_err(|e| KerasError::Invalid(format!("render: PNG encoding failed: {e}")))?;
    Ok(Raster {
        bytes,
        width,
        height,
        scale,
    })
}

/// `plot_model` as a PNG at `opts.dpi` (SVG points × `dpi / 72`).
pub fn plot_png(model: &Model, opts: &PlotOptions) -> Result<Raster> {
    if opts.dpi == 0 {
        return Err(KerasError::Invalid(
            "plot_model: dpi: expected a positive resolution. Received: dpi=0".into(),
        ));
    }
    svg_to_png(&to_svg(model, opts), opts.dpi as f32 / 72.0)
}

/// `keras.utils.plot_model(model, to_file, …)`: writes `to_file` as the extension says:
/// `.png` (rendered here at `opts.dpi`), `.svg` (the pure-Rust layout) or `.dot`
/// (Keras's `model_to_dot` text, for Graphviz). Returns the PNG's scale for `.png`.
pub fn plot_model(model: &Model, to_file: impl AsRef<Path>, opts: &PlotOptions) -> Result<Option<f32>> {
    let path = to_file.as_ref();
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let (bytes, scale) = match ext.as_deref() {
        Some("png") => {
            let r = plot_png(model, opts)?;
            (r.bytes, Some(r.scale))
        }
        Some("svg") => (to_svg(model, opts).into_bytes(), None),
        Some("dot") => (super::plot::to_dot(model, opts).into_bytes(), None),
        _ => {
            return Err(KerasError::Invalid(format!(
                "plot_model: to_file {}: expected a .png, .svg or .dot file name",
                path.display()
            )))
        }
    };
    write(path, &bytes)?;
    Ok(scale)
}

/// Writes a file, naming it in the error.
pub(crate) fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|source| KerasError::Io {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_drawn_with_the_embedded_font() {
        // Black text on white: some pixels are dark only if a font was found.
        let svg = r#"<svg xmlns="http://www.w3.org/2000/svg" width="80" height="20"><text x="2" y="15" font-family="NoSuchFont" font-size="14" font-weight="bold">Conv2D</text></svg>"#;
        let r = svg_to_png(svg, 1.0).unwrap();
        let img = image_dark_pixels(&r.bytes);
        assert!(img > 30, "{img} dark pixels");
        let blank = svg_to_png(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="80" height="20"/>"#,
            1.0,
        )
        .unwrap();
        assert_eq!(image_dark_pixels(&blank.bytes), 0);
    }

    fn image_dark_pixels(png: &[u8]) -> usize {
        let img = image::load_from_memory(png).unwrap().to_luma8();
        img.pixels().filter(|p| p.0[0] < 128).count()
    }

    #[test]
    fn huge_pictures_are_scaled_down_to_fit() {
        assert_eq!(fitted(100.0, 50.0, 2.0), 2.0);
        let s = fitted(1000.0, 40_000.0, 200.0 / 72.0);
        assert!((s - MAX_SIDE as f32 / 40_000.0).abs() < 1e-6, "{s}");
        let s = fitted(20_000.0, 20_000.0, 1.0);
        assert!(20_000.0 * 20_000.0 * (s as f64).powi(2) <= MAX_PIXELS as f64 * 1.0001);
    }

    #[test]
    fn bad_input_is_an_error() {
        let e = svg_to_png("<svg", 1.0).unwrap_err().to_string();
        assert!(e.contains("does not parse"), "{e}");
        let e = svg_to_png(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1\" height=\"1\"/>",
            0.0,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("Received: 0"), "{e}");
    }
}
