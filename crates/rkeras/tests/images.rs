//! Image I/O parity with Keras 3 (Pillow): `img_to_array(load_img(...))` for every file and
//! option set in `tests/fixtures/images/refs.npz`, made by `tools/fixtures/make_image_refs.py`
//! (and Pillow's other filters in grayscale / RGBA: `pil_filter_refs.npz`,
//! `tools/fixtures/make_pil_filter_refs.py`).
//! PNG, BMP, GIF and lossless WebP must be exact; JPEG (zune-jpeg vs libjpeg-turbo) within
//! 2/255 on at least 99.9% of the values for the real photos (crops of ImageNet samples) and
//! the grey file; `noise.jpg` (synthetic, ±6 noise on every pixel, 4:2:0 chroma) is the decoders'
//! worst case and only reported.

use rkeras::io::npy::read_npz;
use rkeras::prelude::Tensor;
use rkeras::utils::{array_to_img, img_to_array, load_img, save_img, ArrayToImgOptions, LoadImgOptions};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/images");

fn options(key: &str) -> (String, LoadImgOptions) {
    let p: Vec<&str> = key.split('|').collect();
    let (h, w) = p[2].split_once('x').unwrap();
    let (h, w): (usize, usize) = (h.parse().unwrap(), w.parse().unwrap());
    let o = LoadImgOptions {
        color_mode: p[1].into(),
        target_size: (h > 0).then_some((h, w)),
        interpolation: p[3].into(),
        keep_aspect_ratio: p[4] == "1",
    };
    (p[0].to_string(), o)
}

#[test]
fn load_img_equals_keras() {
    let refs = read_npz(&format!("{DIR}/refs.npz")).unwrap();
    assert!(refs.len() > 300, "{} references", refs.len());
    let (mut exact, mut jpeg_values, mut jpeg_off) = (0, 0usize, 0usize);
    let mut worst_jpeg = 0f32;
    for (key, want) in &refs {
        let (file, o) = options(key);
        let got = img_to_array(&load_img(format!("{DIR}/files/{file}"), &o).unwrap());
        assert_eq!(got.shape(), want.shape(), "{key}");
        if file == "noise.jpg" {
            let off = got
                .data()
                .iter()
                .zip(want.data())
                .filter(|(a, b)| (*a - *b).abs() > 2.0)
                .count();
            eprintln!(
                "{key}: {:.2}% within 2/255",
                100.0 * (1.0 - off as f64 / got.len() as f64)
            );
        } else if file.ends_with(".jpg") {
            for (a, b) in got.data().iter().zip(want.data()) {
                let d = (a - b).abs();
                worst_jpeg = worst_jpeg.max(d);
                jpeg_values += 1;
                jpeg_off += usize::from(d > 2.0);
            }
        } else {
            assert_eq!(
                got.data(),
                want.data(),
                "{key}: max diff {}",
                got.max_abs_diff(want).unwrap()
            );
            exact += 1;
        }
    }
    let share = 1.0 - jpeg_off as f64 / jpeg_values as f64;
    eprintln!(
        "{exact} exact; JPEG: {jpeg_values} values, {:.4}% within 2/255, worst {worst_jpeg}",
        share * 100.0
    );
    assert!(jpeg_values > 1000 && share >= 0.999, "JPEG within 2/255: {share}");
}

/// Pillow's bicubic, lanczos, box and hamming filters in grayscale and RGBA (premultiplied
/// alpha), both sizes, with and without keep_aspect_ratio's source box
/// (`pil_filter_refs.npz`, made by `tools/fixtures/make_pil_filter_refs.py`): exact.
#[test]
fn load_img_filters_in_grey_and_rgba_equal_keras() {
    let refs = read_npz(&format!("{DIR}/pil_filter_refs.npz")).unwrap();
    assert_eq!(refs.len(), 8 * 2 * 2 * 4 * 2);
    for (key, want) in &refs {
        let (file, o) = options(key);
        let got = img_to_array(&load_img(format!("{DIR}/files/{file}"), &o).unwrap());
        assert_eq!(got.shape(), want.shape(), "{key}");
        assert_eq!(
            got.data(),
            want.data(),
            "{key}: max diff {}",
            got.max_abs_diff(want).unwrap()
        );
    }
}

#[test]
fn array_to_img_and_save_img_round_trip() {
    // Keras: array_to_img(x) scales (x - min) · 255 / max and truncates to uint8.
    let x = Tensor::new(&[1, 3, 1], vec![-1.0, 0.0, 1.0]).unwrap();
    let img = array_to_img(&x, &ArrayToImgOptions::default()).unwrap();
    assert_eq!((img.mode(), img.bytes().unwrap()), ("L", &[0u8, 127, 255][..]));
    let dir = std::env::temp_dir().join(format!("rkeras_save_img_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rgb = Tensor::new(&[2, 3, 3], (0..18).map(|v| (v * 14) as f32).collect()).unwrap();
    let raw = ArrayToImgOptions {
        scale: false,
        ..Default::default()
    };
    for ext in ["png", "bmp", "webp"] {
        let p = dir.join(format!("x.{ext}"));
        save_img(&p, &rgb, None, &raw).unwrap();
        assert_eq!(
            img_to_array(&load_img(&p, &LoadImgOptions::default()).unwrap()).data(),
            rgb.data(),
            "{ext}"
        );
    }
    let e = save_img(dir.join("x.tiff"), &rgb, None, &raw).unwrap_err().to_string();
    assert!(e.contains("x.tiff") && e.contains("unknown file format"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_images_are_errors_naming_the_file() {
    let dir = std::env::temp_dir().join(format!("rkeras_bad_img_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let png = std::fs::read(format!("{DIR}/files/rgb.png")).unwrap();
    // Truncated PNG.
    let t = dir.join("truncated.png");
    std::fs::write(&t, &png[..png.len() / 2]).unwrap();
    // A PNG whose header claims 100000 × 100000 pixels (CRC fixed so the header is valid).
    let mut huge = png.clone();
    huge[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    huge[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let crc = crc32(&huge[12..29]);
    huge[29..33].copy_from_slice(&crc.to_be_bytes());
    let h = dir.join("huge.png");
    std::fs::write(&h, &huge).unwrap();
    let n = dir.join("notes.png");
    std::fs::write(&n, b"not an image at all").unwrap();
    for (p, says) in [
        (&t, "cannot decode"),
        (&h, "decompression bomb"),
        (&n, "cannot identify image file"),
    ] {
        let e = load_img(p, &LoadImgOptions::default()).unwrap_err().to_string();
        assert!(e.contains(&p.display().to_string()) && e.contains(says), "{e}");
    }
    let e = load_img(dir.join("missing.png"), &LoadImgOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.png"), "{e}");
    let o = LoadImgOptions {
        interpolation: "cubic".into(),
        ..Default::default()
    };
    let e = load_img(&t, &o).unwrap_err().to_string();
    assert!(e.contains("Invalid interpolation method cubic"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

fn crc32(b: &[u8]) -> u32 {
    let mut c = !0u32;
    for &x in b {
        c ^= x as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 { (c >> 1) ^ 0xEDB8_8320 } else { c >> 1 };
        }
    }
    !c
}
