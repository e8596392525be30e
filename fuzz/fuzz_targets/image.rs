//! Image file bytes (PNG, JPEG, BMP, GIF, WebP): `preprocessing::image_io::decode_bytes` under
//! its memory limits, then what `load_img` does with the pixels (Pillow-style conversion to
//! L / RGB / RGBA, then resizes with every Pillow filter, one with a source box as
//! `keep_aspect_ratio` makes) and what `image_dataset_from_directory` and `Resizing` do
//! (`tf.image.resize` with every method, antialias, the aspect-ratio crop and pad): an error or
//! an image, never a panic or a huge allocation.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rkeras::preprocessing::tf_image::TfMethod;
use rkeras::preprocessing::{image_io, pil, tf_image, tf_resize};

fuzz_target!(|data: &[u8]| {
    let Ok(img) = image_io::decode_bytes(data) else { return };
    let img = image_io::to_img(img);
    let x = image_io::img_to_array(&img);
    let (h, w, c) = (img.height(), img.width(), img.channels());
    if let Some(px) = img.bytes() {
        for to in [1, 3, 4] {
            let conv = pil::convert(px, c, to);
            let _ = pil::resize(&conv, (h, w, to), (7, 5), pil::PilFilter::Nearest, None);
            let _ = pil::resize(&conv, (h, w, to), (3, 9), pil::PilFilter::Bilinear, None);
        }
        for f in [
            pil::PilFilter::Bicubic,
            pil::PilFilter::Lanczos,
            pil::PilFilter::Box,
            pil::PilFilter::Hamming,
        ] {
            let _ = pil::resize(px, (h, w, c), (4, 6), f, None);
        }
        let bbox = [0.5, 0.25, w as f64 - 0.5, h as f64 * 0.75];
        let _ = pil::resize(px, (h, w, c), (5, 5), pil::PilFilter::Lanczos, Some(bbox));
    }
    let dims = (h, w, c);
    let _ = tf_image::resize(x.data(), dims, (6, 4), TfMethod::Bilinear);
    for (m, aa) in [
        (TfMethod::Bicubic, false),
        (TfMethod::Area, false),
        (TfMethod::Lanczos5, true),
        (TfMethod::Gaussian, false),
        (TfMethod::Bilinear, true),
    ] {
        let _ = tf_resize::resize(x.data(), dims, (5, 3), m, aa);
    }
    let _ = tf_image::crop_resize(x.data(), dims, (4, 9), TfMethod::Area);
    let _ = tf_image::pad_resize(x.data(), dims, (9, 4), TfMethod::Bicubic);
});
