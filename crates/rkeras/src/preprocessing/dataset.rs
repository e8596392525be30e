//! `keras.utils.image_dataset_from_directory`: a folder of images (one sub-folder per class,
//! or explicit labels) as a streaming dataset of `(images, labels)` batches, with Keras 3's
//! arguments, defaults and messages ("Found 120 files belonging to 3 classes.").
//!
//! ```no_run
//! use rkeras::utils::{image_dataset_from_directory, DirectoryOptions};
//! let o = DirectoryOptions { image_size: (180, 180), validation_split: Some(0.2),
//!     subset: Some("both".into()), seed: Some(1337), ..Default::default() };
//! let (train, val) = image_dataset_from_directory("PetImages", &o)?.both()?;
//! println!("{:?}", train.class_names());
//! for batch in train.epoch(0) { let (x, y) = batch?; /* x: [32, 180, 180, 3] f32 0..255 */ }
//! # Ok::<(), rkeras::KerasError>(())
//! ```
//!
//! The file list, its shuffle (NumPy's `RandomState(seed).shuffle`) and the training /
//! validation split are Keras's exactly, so `file_paths` match Keras for the same seed.
//! Pixels follow `tf.image.decode_image` + `tf.image.resize` (half-pixel bilinear by default,
//! no antialias; every Keras `interpolation`: see [`super::tf_resize`]). Differences: the per-epoch `shuffle(buffer_size = 8·batch_size)` of tf.data
//! uses this crate's RNG, so the order of samples inside an epoch is not TensorFlow's (it is
//! seeded and reproducible). Images are decoded batch by batch on rayon's threads while the
//! previous batch trains (two batches prefetched); nothing else is held in memory.

use super::image_io::{decode_bytes_format, MAX_FILE_BYTES};
use super::tf_image::{self, TfMethod};
use crate::datasets::mt19937::Mt19937;
use crate::error::{KerasError, Result};
use image::{DynamicImage, ImageFormat};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use tensor::Tensor;

/// Keras's `ALLOWLIST_FORMATS`.
pub const ALLOWLIST_FORMATS: [&str; 5] = [".bmp", ".gif", ".jpeg", ".jpg", ".png"];

/// `labels`: `"inferred"` (sub-folder names), `None`, or one integer per file (in the sorted
/// order of the paths).
#[derive(Debug, Clone, PartialEq)]
pub enum Labels {
    /// From the sub-folder names.
    Inferred,
    /// No labels: the dataset yields images only.
    None,
    /// Explicit integer labels.
    List(Vec<i64>),
}

/// `image_dataset_from_directory`'s arguments, with Keras 3's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct DirectoryOptions {
    /// `"inferred"` (default), none, or a list.
    pub labels: Labels,
    /// `"int"` (default), `"categorical"`, `"binary"` or `None`.
    pub label_mode: Option<String>,
    /// Sub-folders to use, in this order (only with inferred labels).
    pub class_names: Option<Vec<String>>,
    /// `"rgb"` (default), `"rgba"` or `"grayscale"`.
    pub color_mode: String,
    /// Batch size (32); `None` yields single images.
    pub batch_size: Option<usize>,
    /// `(height, width)` of the images (256, 256).
    pub image_size: (usize, usize),
    /// Shuffle (true).
    pub shuffle: bool,
    /// Seed of the shuffles (required with `validation_split` and `shuffle`).
    pub seed: Option<u32>,
    /// Fraction held out for validation.
    pub validation_split: Option<f64>,
    /// `"training"`, `"validation"` or `"both"` (with `validation_split`).
    pub subset: Option<String>,
    /// `"bilinear"` (default), `"nearest"`, `"bicubic"`, `"area"`, `"lanczos3"`,
    /// `"lanczos5"`, `"gaussian"` or `"mitchellcubic"` (the last two not with
    /// `crop_to_aspect_ratio`, as Keras).
    pub interpolation: String,
    /// Follow symbolic links to sub-folders (false).
    pub follow_links: bool,
    /// Crop the centre to the target aspect ratio before resizing (false).
    pub crop_to_aspect_ratio: bool,
    /// Pad to the target aspect ratio after resizing (false).
    pub pad_to_aspect_ratio: bool,
    /// Print Keras's "Found … files" and "Using … files" lines (true).
    pub verbose: bool,
}

impl Default for DirectoryOptions {
    fn default() -> Self {
        DirectoryOptions {
            labels: Labels::Inferred,
            label_mode: Some("int".into()),
            class_names: None,
            color_mode: "rgb".into(),
            batch_size: Some(32),
            image_size: (256, 256),
            shuffle: true,
            seed: None,
            validation_split: None,
            subset: None,
            interpolation: "bilinear".into(),
            follow_links: false,
            crop_to_aspect_ratio: false,
            pad_to_aspect_ratio: false,
            verbose: true,
        }
    }
}

/// What `image_dataset_from_directory` returns: one dataset, or training and validation for
/// `subset="both"`.
#[derive(Debug, Clone)]
pub enum DatasetSplit {
    /// One dataset.
    One(ImageDataset),
    /// `(training, validation)`.
    Both(ImageDataset, ImageDataset),
}

impl DatasetSplit {
    /// The one dataset (an error for `subset="both"`).
    pub fn one(self) -> Result<ImageDataset> {
        match self {
            DatasetSplit::One(d) => Ok(d),
            DatasetSplit::Both(..) => Err(KerasError::Invalid(
                "image_dataset_from_directory: subset=\"both\" returns two datasets: use .both()".into(),
            )),
        }
    }
    /// `(training, validation)` (an error unless `subset="both"`).
    pub fn both(self) -> Result<(ImageDataset, ImageDataset)> {
        match self {
            DatasetSplit::Both(t, v) => Ok((t, v)),
            DatasetSplit::One(_) => Err(KerasError::Invalid(
                "image_dataset_from_directory: only subset=\"both\" returns two datasets: use .one()".into(),
            )),
        }
    }
}

#[derive(Debug)]
struct Spec {
    paths: Vec<String>,
    labels: Option<Vec<i64>>,
    class_names: Option<Vec<String>>,
    label_mode: Option<String>,
    num_classes: usize,
    size: (usize, usize),
    channels: usize,
    method: TfMethod,
    crop: bool,
    pad: bool,
    batch_size: Option<usize>,
    shuffle_buffer: Option<usize>,
    seed: u64,
}

/// A streaming dataset of image batches (`x`: `(batch, height, width, channels)` f32, 0–255;
/// `y`: labels as `label_mode` says, or `None`).
#[derive(Debug, Clone)]
pub struct ImageDataset {
    spec: Arc<Spec>,
}

fn invalid(msg: String) -> KerasError {
    KerasError::Invalid(msg)
}

/// `keras.utils.image_dataset_from_directory(directory, …)`.
pub fn image_dataset_from_directory(directory: impl AsRef<Path>, o: &DirectoryOptions) -> Result<DatasetSplit> {
    let directory = directory.as_ref();
    let dir_s = directory.to_string_lossy().into_owned();
    if let Labels::List(_) = o.labels {
        if o.class_names.is_some() {
            return Err(invalid(format!(
                "You can only pass `class_names` if `labels=\"inferred\"`. Received: labels={:?}, and class_names={:?}",
                o.labels, o.class_names
            )));
        }
    }
    let label_mode = match o.label_mode.as_deref() {
        None => None,
        Some(m @ ("int" | "categorical" | "binary")) => Some(m.to_string()),
        Some(m) => {
            return Err(invalid(format!(
                "`label_mode` argument must be one of \"int\", \"categorical\", \"binary\", or None. Received: label_mode={m}"
            )))
        }
    };
    let (labels_arg, label_mode) = if o.labels == Labels::None || label_mode.is_none() {
        (Labels::None, None)
    } else {
        (o.labels.clone(), label_mode)
    };
    let channels = match o.color_mode.as_str() {
        "rgb" => 3,
        "rgba" => 4,
        "grayscale" => 1,
        m => {
            return Err(invalid(format!(
                "`color_mode` must be one of {{\"rgb\", \"rgba\", \"grayscale\"}}. Received: color_mode={m}"
            )))
        }
    };
    if o.image_size.0 == 0 || o.image_size.1 == 0 {
        return Err(invalid(format!(
            "Invalid `image_size` value. Expected a tuple of 2 positive integers. Received: image_size={:?}",
            o.image_size
        )));
    }
    let method = TfMethod::parse("image_dataset_from_directory", &o.interpolation)?;
    if o.crop_to_aspect_ratio && matches!(method, TfMethod::Gaussian | TfMethod::MitchellCubic) {
        // Keras crops with smart_resize, which resizes through its backend's `resize`, and
        // that takes fewer methods than tf.image.resize.
        return Err(invalid(format!(
            "image_dataset_from_directory: Invalid value for argument `interpolation`. Expected of one \
             ('bilinear', 'nearest', 'lanczos3', 'lanczos5', 'bicubic', 'area'). Received: interpolation={} \
             (with crop_to_aspect_ratio=True)",
            method.name()
        )));
    }
    if o.crop_to_aspect_ratio && o.pad_to_aspect_ratio {
        return Err(invalid(
            "Only one of `pad_to_aspect_ratio`, `crop_to_aspect_ratio` can be set to `True`.".into(),
        ));
    }
    check_validation_split_arg(o.validation_split, o.subset.as_deref(), o.shuffle, o.seed)?;
    if o.batch_size == Some(0) {
        return Err(invalid(
            "image_dataset_from_directory: batch_size must be at least 1. Received: batch_size=0".into(),
        ));
    }
    let seed = o.seed.unwrap_or_else(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        (t % 1_000_000) as u32
    });
    let (paths, labels, class_names) = index_directory(
        directory,
        &labels_arg,
        o.class_names.as_deref(),
        o.shuffle,
        seed,
        o.follow_links,
        o.verbose,
    )?;
    if label_mode.as_deref() == Some("binary") && class_names.as_ref().map_or(0, Vec::len) != 2 {
        return Err(invalid(format!(
            "When passing `label_mode=\"binary\"`, there must be exactly 2 class_names. Received: class_names={:?}",
            class_names.unwrap_or_default()
        )));
    }
    let num_classes = class_names.as_ref().map_or(0, Vec::len);
    let make = |paths: Vec<String>, labels: Option<Vec<i64>>, shuffle: bool| ImageDataset {
        spec: Arc::new(Spec {
            paths,
            labels,
            class_names: class_names.clone(),
            label_mode: label_mode.clone(),
            num_classes,
            size: o.image_size,
            channels,
            method,
            crop: o.crop_to_aspect_ratio,
            pad: o.pad_to_aspect_ratio,
            batch_size: o.batch_size,
            shuffle_buffer: shuffle.then(|| o.batch_size.map_or(1024, |b| b * 8)),
            seed: seed as u64,
        }),
    };
    let allowed = format!("{ALLOWLIST_FORMATS:?}")
        .replace('[', "(")
        .replace(']', ")")
        .replace('"', "'");
    if o.subset.as_deref() == Some("both") {
        let split = o.validation_split.unwrap_or(0.0);
        let (tp, tl) = split_subset(&paths, labels.as_deref(), split, "training")?;
        let (vp, vl) = split_subset(&paths, labels.as_deref(), split, "validation")?;
        if tp.is_empty() {
            return Err(invalid(format!(
                "No training images found in directory {dir_s}. Allowed formats: {allowed}"
            )));
        }
        if vp.is_empty() {
            return Err(invalid(format!(
                "No validation images found in directory {dir_s}. Allowed formats: {allowed}"
            )));
        }
        return Ok(DatasetSplit::Both(make(tp, tl, o.shuffle), make(vp, vl, false)));
    }
    let (p, l) = match (o.validation_split, o.subset.as_deref()) {
        (Some(s), Some(sub)) if s > 0.0 => split_subset(&paths, labels.as_deref(), s, sub)?,
        _ => (paths, labels),
    };
    if p.is_empty() {
        return Err(invalid(format!(
            "No images found in directory {dir_s}. Allowed formats: {allowed}"
        )));
    }
    Ok(DatasetSplit::One(make(p, l, o.shuffle)))
}

fn check_validation_split_arg(
    split: Option<f64>,
    subset: Option<&str>,
    shuffle: bool,
    seed: Option<u32>,
) -> Result<()> {
    let split = split.filter(|&s| s != 0.0);
    if let Some(s) = split {
        if !(s > 0.0 && s < 1.0) {
            return Err(invalid(format!(
                "`validation_split` must be between 0 and 1, received: {s}"
            )));
        }
    }
    if split.is_some() != subset.is_some() {
        return Err(invalid(
            "If `subset` is set, `validation_split` must be set, and inversely.".into(),
        ));
    }
    if let Some(s) = subset.filter(|s| !matches!(*s, "training" | "validation" | "both")) {
        return Err(invalid(format!(
            "`subset` must be either \"training\", \"validation\" or \"both\", received: {s}"
        )));
    }
    if split.is_some() && shuffle && seed.is_none() {
        return Err(invalid(
            "If using `validation_split` and shuffling the data, you must provide a `seed` argument, to make sure \
             that there is no overlap between the training and validation subset."
                .into(),
        ));
    }
    Ok(())
}

type Split = (Vec<String>, Option<Vec<i64>>);

/// Keras's `get_training_or_validation_split` (including `samples[:-0]` being empty).
fn split_subset(paths: &[String], labels: Option<&[i64]>, split: f64, subset: &str) -> Result<Split> {
    let n = paths.len();
    let nval = (split * n as f64) as usize;
    let range = match subset {
        "training" => {
            println!("Using {} files for training.", n - nval);
            0..if nval == 0 { 0 } else { n - nval }
        }
        "validation" => {
            println!("Using {nval} files for validation.");
            if nval == 0 {
                0..n
            } else {
                n - nval..n
            }
        }
        s => {
            return Err(invalid(format!(
                "`subset` must be either \"training\" or \"validation\", received: {s}"
            )))
        }
    };
    Ok((paths[range.clone()].to_vec(), labels.map(|l| l[range].to_vec())))
}

/// Python's `os.path.join(a, b)` for relative `b`.
fn join(a: &str, b: &str) -> String {
    if a.is_empty() || a.ends_with('/') {
        format!("{a}{b}")
    } else {
        format!("{a}/{b}")
    }
}

fn list_dir(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let rd = std::fs::read_dir(dir).map_err(|source| KerasError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let mut v = Vec::new();
    for e in rd {
        let e = e.map_err(|source| KerasError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        v.push((e.file_name().to_string_lossy().into_owned(), e.path()));
    }
    v.sort();
    Ok(v)
}

/// `os.walk(top)` (top-down; into linked folders only with `follow_links`), as
/// `(root, sorted file names)` sorted by root, the way Keras's `iter_valid_files` orders it.
fn walk(top: &str, follow_links: bool) -> Result<Vec<(String, Vec<String>)>> {
    let mut out = Vec::new();
    let mut stack = vec![top.to_string()];
    while let Some(root) = stack.pop() {
        let mut files = Vec::new();
        let Ok(entries) = list_dir(Path::new(&root)) else {
            continue;
        }; // os.walk skips unreadable folders
        for (name, path) in entries {
            let is_link = std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
            if path.is_dir() {
                if !is_link || follow_links {
                    stack.push(join(&root, &name));
                }
            } else {
                files.push(name);
            }
        }
        out.push((root, files));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// `index_directory`'s result: file paths, their labels, the class names.
pub type Indexed = (Vec<String>, Option<Vec<i64>>, Option<Vec<String>>);

/// Keras's `index_directory`: the file paths, their labels and the class names, shuffled
/// with `RandomState(seed)` when asked (sorted otherwise).
pub fn index_directory(
    directory: &Path,
    labels: &Labels,
    class_names: Option<&[String]>,
    shuffle: bool,
    seed: u32,
    follow_links: bool,
    verbose: bool,
) -> Result<Indexed> {
    let dir = directory.to_string_lossy().into_owned();
    if !directory.is_dir() {
        return Err(invalid(format!("Could not find directory {dir}")));
    }
    let subdirs: Vec<String> = if *labels == Labels::Inferred {
        let found: Vec<String> = list_dir(directory)?
            .into_iter()
            .filter(|(n, p)| p.is_dir() && !n.starts_with('.'))
            .map(|(n, _)| n)
            .collect();
        match class_names {
            Some(c) => {
                if let Some(bad) = c.iter().find(|n| !found.contains(n)) {
                    return Err(invalid(format!(
                        "The `class_names` passed did not match the names of the subdirectories of the target \
                         directory. Expected: {found:?} (or a subset of it), but received: class_names={c:?} \
                         ({bad:?} is not a subdirectory)"
                    )));
                }
                c.to_vec()
            }
            None => found,
        }
    } else {
        if class_names.is_some() {
            return Err(invalid(if *labels == Labels::None {
                "When `labels=None` (no labels), argument `class_names` cannot be specified.".into()
            } else {
                "When argument `labels` is specified, argument `class_names` cannot be specified (the `class_names` \
                 will be the sorted list of labels)."
                    .into()
            }));
        }
        vec![String::new()]
    };
    let mut filenames = Vec::new();
    let mut inferred = Vec::new();
    for (k, sub) in subdirs.iter().enumerate() {
        let dirpath = join(&dir, sub);
        for (root, files) in walk(&dirpath, follow_links)? {
            for f in files {
                let lower = f.to_lowercase();
                if !ALLOWLIST_FORMATS.iter().any(|e| lower.ends_with(e)) {
                    continue;
                }
                let abs = join(&root, &f);
                let rel = abs.strip_prefix(&dirpath).unwrap_or(&abs).trim_start_matches('/');
                filenames.push(join(sub, rel));
                inferred.push(k as i64);
            }
        }
    }
    let (mut labels, class_names) = match labels {
        Labels::Inferred => (Some(inferred), Some(subdirs)),
        Labels::None => (None, None),
        Labels::List(l) => {
            if l.len() != filenames.len() {
                return Err(invalid(format!(
                    "Expected the lengths of `labels` to match the number of files in the target directory. \
                     len(labels) is {} while we found {} files in directory {dir}.",
                    l.len(),
                    filenames.len()
                )));
            }
            let mut names: Vec<i64> = l.clone();
            names.sort();
            names.dedup();
            (Some(l.clone()), Some(names.iter().map(i64::to_string).collect()))
        }
    };
    if verbose {
        match &class_names {
            None => println!("Found {} files.", filenames.len()),
            Some(c) => println!("Found {} files belonging to {} classes.", filenames.len(), c.len()),
        }
    }
    let mut paths: Vec<String> = filenames.iter().map(|f| join(&dir, f)).collect();
    if shuffle {
        Mt19937::new(seed).shuffle(&mut paths);
        if let Some(l) = &mut labels {
            Mt19937::new(seed).shuffle(l);
        }
    }
    Ok((paths, labels, class_names))
}

/// Reads and decodes a file (bounded as `image_io`), keeping its first 32 bytes (PNG's IHDR).
fn decode_file_head(path: &Path) -> Result<(DynamicImage, ImageFormat, Vec<u8>)> {
    let io = |source| KerasError::Io {
        path: path.display().to_string(),
        source,
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_FILE_BYTES {
        return Err(invalid(format!(
            "{}: image file of {len} bytes is over the {MAX_FILE_BYTES}-byte limit",
            path.display()
        )));
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let (img, f) = decode_bytes_format(&bytes).map_err(|e| invalid(format!("{}: {e}", path.display())))?;
    Ok((img, f, bytes[..bytes.len().min(32)].to_vec()))
}

/// `tf.image.decode_image(…, channels, expand_animations=False)` as f32: 16-bit samples keep
/// their high byte; colour to grey as libpng's `rgb_to_gray` (PNG, exact) or BT.601 luma
/// (other formats; libjpeg decodes the Y plane directly, so JPEG differs slightly); grey to
/// colour by copying; alpha dropped or set to 255.
fn decode_tf(path: &str, channels: usize) -> Result<(usize, usize, Vec<f32>)> {
    let (img, format, bytes_head) = decode_file_head(Path::new(path))?;
    let (w, h) = (img.width() as usize, img.height() as usize);
    let (src_c, px16): (usize, Vec<u16>) = match img {
        DynamicImage::ImageLuma8(b) => (1, b.into_raw().into_iter().map(|v| v as u16 * 257).collect()),
        DynamicImage::ImageLumaA8(b) => (2, b.into_raw().into_iter().map(|v| v as u16 * 257).collect()),
        DynamicImage::ImageRgb8(b) => (3, b.into_raw().into_iter().map(|v| v as u16 * 257).collect()),
        DynamicImage::ImageRgba8(b) => (4, b.into_raw().into_iter().map(|v| v as u16 * 257).collect()),
        DynamicImage::ImageLuma16(b) => (1, b.into_raw()),
        DynamicImage::ImageLumaA16(b) => (2, b.into_raw()),
        DynamicImage::ImageRgb16(b) => (3, b.into_raw()),
        DynamicImage::ImageRgba16(b) => (4, b.into_raw()),
        other => (4, other.to_rgba16().into_raw()),
    };
    let png = format == ImageFormat::Png;
    // TensorFlow adds alpha with libpng's filler `(1 << bit_depth) - 1` of the file's depth:
    // 15 for a 4-bit palette PNG, as Keras's batches show.
    let filler = match (png, bytes_head.get(24)) {
        (true, Some(&d)) if d < 8 => ((1u32 << d) - 1) as f32,
        _ => 255.0,
    };
    let mut out = Vec::with_capacity(h * w * channels);
    for p in px16.chunks_exact(src_c) {
        let colour = src_c >= 3;
        let alpha = if src_c % 2 == 0 { p[src_c - 1] } else { 0xffff };
        let grey = if !colour {
            (p[0] >> 8) as f32
        } else if png {
            // libpng's png_set_rgb_to_gray(1, 0.299, 0.587) as TensorFlow calls it: coefficients
            // 9797/19234/3737 of 2^15, truncated; equal channels stay as they are.
            let [r, g, b] = [p[0] >> 8, p[1] >> 8, p[2] >> 8].map(u32::from);
            if r == g && r == b {
                r as f32
            } else {
                ((9797 * r + 19234 * g + 3737 * b) >> 15) as f32
            }
        } else {
            let (r, g, b) = ((p[0] >> 8) as f32, (p[1] >> 8) as f32, (p[2] >> 8) as f32);
            (0.299 * r + 0.587 * g + 0.114 * b).round()
        };
        let rgb = if colour {
            [p[0], p[1], p[2]].map(|v| (v >> 8) as f32)
        } else {
            [grey; 3]
        };
        match channels {
            1 => out.push(grey),
            3 => out.extend(rgb),
            _ => out.extend([
                rgb[0],
                rgb[1],
                rgb[2],
                if src_c % 2 == 0 { (alpha >> 8) as f32 } else { filler },
            ]),
        }
    }
    Ok((h, w, out))
}

impl ImageDataset {
    /// The file of every sample, in order (Keras's `dataset.file_paths`).
    pub fn file_paths(&self) -> &[String] {
        &self.spec.paths
    }
    /// The class names (`None` without labels).
    pub fn class_names(&self) -> Option<&[String]> {
        self.spec.class_names.as_deref()
    }
    /// The integer label of every sample (`None` without labels).
    pub fn labels(&self) -> Option<&[i64]> {
        self.spec.labels.as_deref()
    }
    /// `(height, width, channels)` of every image.
    pub fn element_shape(&self) -> [usize; 3] {
        [self.spec.size.0, self.spec.size.1, self.spec.channels]
    }
    /// The batch size (`None`: single images).
    pub fn batch_size(&self) -> Option<usize> {
        self.spec.batch_size
    }
    /// Number of batches per epoch (Keras's `cardinality`).
    pub fn len(&self) -> usize {
        self.spec.paths.len().div_ceil(self.spec.batch_size.unwrap_or(1))
    }
    /// Whether the dataset holds no file.
    pub fn is_empty(&self) -> bool {
        self.spec.paths.is_empty()
    }
    /// Number of files.
    pub fn num_files(&self) -> usize {
        self.spec.paths.len()
    }

    /// The sample order of `epoch`: tf.data's `shuffle(buffer_size)` algorithm (fill a
    /// buffer, emit a random element, refill) with this crate's seeded RNG.
    pub fn order(&self, epoch: usize) -> Vec<usize> {
        let n = self.spec.paths.len();
        let Some(buf_size) = self.spec.shuffle_buffer else {
            return (0..n).collect();
        };
        let mut rng = tensor::Rng::new(self.spec.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ epoch as u64);
        let mut buf: Vec<usize> = Vec::with_capacity(buf_size);
        let mut out = Vec::with_capacity(n);
        let mut next = 0;
        while out.len() < n {
            while buf.len() < buf_size && next < n {
                buf.push(next);
                next += 1;
            }
            let k = rng.below(buf.len());
            out.push(buf.swap_remove(k));
        }
        out
    }

    /// One image as the dataset yields it: `(height, width, channels)` f32.
    pub fn load(&self, index: usize) -> Result<Tensor> {
        let s = &self.spec;
        let path = s
            .paths
            .get(index)
            .ok_or_else(|| invalid(format!("dataset: no sample {index}")))?;
        let (h, w, px) = decode_tf(path, s.channels)?;
        let c = s.channels;
        let px = if s.crop {
            tf_image::crop_resize(&px, (h, w, c), s.size, s.method)
        } else if s.pad {
            tf_image::pad_resize(&px, (h, w, c), s.size, s.method)
        } else {
            tf_image::resize(&px, (h, w, c), s.size, s.method)
        };
        Ok(Tensor::new(&[s.size.0, s.size.1, c], px)?)
    }

    fn label_tensor(&self, idx: &[usize]) -> Result<Option<Tensor>> {
        let s = &self.spec;
        let (Some(labels), Some(mode)) = (&s.labels, &s.label_mode) else {
            return Ok(None);
        };
        let l: Vec<i64> = idx.iter().map(|&i| labels[i]).collect();
        let (per, data): (Vec<usize>, Vec<f32>) = match mode.as_str() {
            "categorical" => {
                let k = s.num_classes;
                let mut v = vec![0f32; l.len() * k];
                for (i, &c) in l.iter().enumerate() {
                    let c = usize::try_from(c).ok().filter(|&c| c < k).ok_or_else(|| {
                        invalid(format!(
                            "dataset: label {c} is outside the {k} classes of label_mode=\"categorical\""
                        ))
                    })?;
                    v[i * k + c] = 1.0;
                }
                (vec![k], v)
            }
            "binary" => (vec![1], l.iter().map(|&c| c as f32).collect()),
            _ => (vec![], l.iter().map(|&c| c as f32).collect()),
        };
        let mut shape = if s.batch_size.is_some() {
            vec![idx.len()]
        } else {
            vec![]
        };
        shape.extend(per);
        Ok(Some(Tensor::new(&shape, data)?))
    }

    /// The batch of the samples `idx`, decoded in parallel: `(x, y)`.
    pub fn batch(&self, idx: &[usize]) -> Result<(Tensor, Option<Tensor>)> {
        let imgs = idx.par_iter().map(|&i| self.load(i)).collect::<Result<Vec<Tensor>>>()?;
        let [h, w, c] = self.element_shape();
        let x = if self.spec.batch_size.is_some() {
            let mut data = Vec::with_capacity(idx.len() * h * w * c);
            for t in &imgs {
                data.extend_from_slice(t.data());
            }
            Tensor::new(&[idx.len(), h, w, c], data)?
        } else {
            imgs.into_iter()
                .next()
                .ok_or_else(|| invalid("dataset: empty batch".into()))?
        };
        Ok((x, self.label_tensor(idx)?))
    }

    /// The batches of `epoch`, streamed: a background thread decodes up to two batches ahead.
    pub fn epoch(&self, epoch: usize) -> BatchIter {
        let order = self.order(epoch);
        let bs = self.spec.batch_size.unwrap_or(1);
        let (tx, rx) = mpsc::sync_channel(2);
        let me = self.clone();
        std::thread::spawn(move || {
            for idx in order.chunks(bs) {
                if tx.send(me.batch(idx)).is_err() {
                    return;
                }
            }
        });
        BatchIter { rx }
    }
}

/// The batches of one epoch (see [`ImageDataset::epoch`]).
pub struct BatchIter {
    rx: mpsc::Receiver<Result<(Tensor, Option<Tensor>)>>,
}

impl Iterator for BatchIter {
    type Item = Result<(Tensor, Option<Tensor>)>;
    fn next(&mut self) -> Option<Self::Item> {
        self.rx.recv().ok()
    }
}
