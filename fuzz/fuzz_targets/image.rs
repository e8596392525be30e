//! Image file bytes (PNG, JPEG, BMP, GIF, WebP): `preprocessing::image_io::decode_bytes` under
//! its memory limits, then what `load_img` does with the pixels (Pillow-style conversion to
//! L / RGB / RGBA, a nearest and a bilinear resize) and what `image_dataset_from_directory`
//! does (`tf.image.resize` bilinear): an error or an image, never a panic or a huge allocation.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rkeras::preprocessing::{image_io, pil, tf_image};

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
    }
    let _ = tf_image::resize(x.data(), (h, w, c), (6, 4), tf_image::TfMethod::Bilinear);
});
