//! `rkeras visualize`: the three pictures from the Keras-made fixture model of
//! `tests/insight_visualize.rs` (a 16×16×3 CNN, `tools/fixtures/make_visualize_refs.py`), with
//! the sizes the layers and the image imply, and the one-line errors.

use std::path::PathBuf;
use std::process::{Command, Output};

fn rkeras(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rkeras"))
        .args(args)
        .output()
        .expect("run rkeras")
}

fn fixture(rel: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../rkeras/tests/fixtures")
        .join(rel)
        .display()
        .to_string()
}

fn out(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("rkeras-visualize-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name).display().to_string()
}

/// Width and height of a PNG, read from its IHDR chunk.
fn png_size(path: &str) -> (u32, u32) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n", "{path} is not a PNG");
    let be = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    (be(16), be(20))
}

fn ok(args: &[&str]) -> String {
    let o = rkeras(args);
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn fails(args: &[&str]) -> String {
    let o = rkeras(args);
    assert_eq!(o.status.code(), Some(2), "{args:?} should fail");
    let e = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(!e.contains("panicked"), "{e}");
    e
}

#[test]
fn visualize_writes_feature_maps_filters_and_grad_cam() {
    let model = fixture("visualize/visualize.keras");
    let image = fixture("images/files/photo1.jpg");
    // conv1: 14×14×4 → a 2×2 grid of 14·6 = 84-pixel tiles, 1-pixel gaps.
    let fm = out("fm.png");
    ok(&[
        "visualize",
        &model,
        "--image",
        &image,
        "--layer",
        "conv1",
        "--feature-maps",
        "-o",
        &fm,
    ]);
    assert_eq!(png_size(&fm), (2 * 84 + 1, 2 * 84 + 1));
    // --max-channels 3 keeps a 2×2 grid; --zoom 1 keeps the maps' size.
    ok(&[
        "visualize",
        &model,
        "--image",
        &image,
        "--layer",
        "conv1",
        "--feature-maps",
        "--max-channels",
        "3",
        "--zoom",
        "1",
        "-o",
        &fm,
    ]);
    assert_eq!(png_size(&fm), (2 * 14 + 1, 2 * 14 + 1));
    // conv1's kernel 3×3×3×4: four RGB tiles of 3·16 = 48 pixels in a 2×2 grid.
    let f = out("filters.png");
    let s = ok(&["visualize", &model, "--filters", "-o", &f]);
    assert!(s.contains("filters of conv1, kernel [3, 3, 3, 4]"), "{s}");
    assert_eq!(png_size(&f), (2 * 48 + 1, 2 * 48 + 1));
    // conv2's kernel 3×3×4×4: grey tiles, one row per filter and one column per input.
    ok(&[
        "visualize",
        &model,
        "--filters",
        "--layer",
        "conv2",
        "--zoom",
        "2",
        "-o",
        &f,
    ]);
    assert_eq!(png_size(&f), (4 * 6 + 3, 4 * 6 + 3));
    // Grad-CAM: the overlay has the image's own size; the default layer is the last 4-D one.
    let cam = out("cam.png");
    let s = ok(&["visualize", &model, "--image", &image, "--grad-cam", "-o", &cam]);
    assert!(s.contains("at bn (7×7 heatmap)"), "{s}");
    let (w, h) = png_size(&cam);
    let photo = rkeras::utils::load_img(&image, &Default::default()).unwrap();
    assert_eq!((w as usize, h as usize), (photo.width(), photo.height()));
    let s = ok(&[
        "visualize",
        &model,
        "--image",
        &image,
        "--grad-cam",
        "2",
        "--layer",
        "conv3",
        "--zoom",
        "2",
        "-o",
        &cam,
    ]);
    assert!(s.contains("Grad-CAM of class 2 at conv3"), "{s}");
    assert_eq!(png_size(&cam), (2 * w, 2 * h));
    let decoded = rkeras::utils::load_img(&cam, &Default::default()).unwrap();
    assert_eq!(decoded.height(), 2 * h as usize);
}

#[test]
fn visualize_errors_are_one_line() {
    let model = fixture("visualize/visualize.keras");
    let image = fixture("images/files/photo1.jpg");
    let o = out("x.png");
    let e = fails(&[
        "visualize",
        &model,
        "--image",
        &image,
        "--layer",
        "conv9",
        "--feature-maps",
        "-o",
        &o,
    ]);
    assert!(e.contains("no layer named \"conv9\"") && e.contains("conv1"), "{e}");
    let e = fails(&[
        "visualize",
        &model,
        "--image",
        &image,
        "--layer",
        "flatten",
        "--feature-maps",
        "-o",
        &o,
    ]);
    assert!(e.contains("not 4-D"), "{e}");
    let e = fails(&["visualize", &model, "--filters", "--layer", "bn", "-o", &o]);
    assert!(e.contains("has no convolution kernel"), "{e}");
    let e = fails(&["visualize", &model, "--image", &image, "--grad-cam", "9", "-o", &o]);
    assert!(e.contains("class index 9 is out of range"), "{e}");
    let e = fails(&["visualize", &model, "--image", "missing.png", "--grad-cam", "-o", &o]);
    assert!(e.contains("missing.png"), "{e}");
    let e = fails(&[
        "visualize",
        &model,
        "--image",
        &fixture("visualize/index.json"),
        "--grad-cam",
        "-o",
        &o,
    ]);
    assert!(
        e.contains("index.json") && e.contains("cannot identify image file"),
        "{e}"
    );
    let e = fails(&["visualize", &model, "--grad-cam", "-o", &o]);
    assert!(e.contains("--grad-cam needs --image FILE"), "{e}");
    let e = fails(&["visualize", &model, "--image", &image, "--feature-maps", "-o", &o]);
    assert!(
        e.contains("--feature-maps needs --layer NAME") && e.contains("conv3, bn"),
        "{e}"
    );
    let e = fails(&["visualize", &model, "--image", &image, "-o", &o]);
    assert!(e.contains("--feature-maps") || e.contains("required"), "{e}");
    let e = fails(&["visualize", &model, "--filters", "-o", &out("x.tiff")]);
    assert!(e.contains("unknown file format"), "{e}");
}
