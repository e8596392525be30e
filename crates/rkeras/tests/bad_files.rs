//! Hostile files are bad input: truncated or corrupt npy/npz/safetensors/JSON/zip/HDF5, a
//! dataset that claims a huge shape, a weight count that does not match the architecture, a
//! `Lambda` or unknown custom layer, a zip bomb, path-traversal member names, cyclic HDF5
//! groups. Every case must give an error that names the file and says what is wrong — never
//! a panic — and allocate no more than a small multiple of the file's size (measured by a
//! counting allocator). Corrupt variants are made here from good fixtures (truncation at
//! several offsets, flipped bytes, patched header fields); the hostile Keras/HDF5 files are
//! made with real Keras and h5py by tools/fixtures/make_bad_files.py.

use rkeras::io::npy::{npy_bytes, read_npy, read_npz, write_npz};
use rkeras::io::safetensors::{load_safetensors, safetensors_bytes};
use rkeras::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts live heap bytes and their peak, so a case can show its allocation is bounded.
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = System.alloc(l);
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = System.realloc(p, l, new);
        if !q.is_null() {
            LIVE.fetch_sub(l.size(), Ordering::Relaxed);
            let now = LIVE.fetch_add(new, Ordering::Relaxed) + new;
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(fixture(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The model the weight files are for: Input (4,), Dense(3, relu) "dense", Dense(2) "dense_1".
fn dense_model() -> Model {
    clear_session();
    let inp = Input(&[4]).unwrap();
    let x = Dense::new(3).activation("relu").name("dense").call(&inp).unwrap();
    let out = Dense::new(2).name("dense_1").call(&x).unwrap();
    Model::new(&[&inp], &[&out], Some("dense_model")).unwrap()
}

type Loader = fn(&Path) -> rkeras::Result<()>;

fn load_npy(p: &Path) -> rkeras::Result<()> {
    read_npy(p.to_str().unwrap()).map(drop)
}
fn load_npz(p: &Path) -> rkeras::Result<()> {
    read_npz(p.to_str().unwrap()).map(drop)
}
fn load_st(p: &Path) -> rkeras::Result<()> {
    load_safetensors(&mut dense_model(), p)
}
/// A JSON config file as the CLI reads one: the library parses text, the caller names the
/// file.
fn load_json(p: &Path) -> rkeras::Result<()> {
    let text = std::fs::read_to_string(p).map_err(|source| KerasError::Io {
        path: p.display().to_string(),
        source,
    })?;
    rkeras::io::keras_json::model_from_json(&text)
        .map(drop)
        .map_err(|e| KerasError::Invalid(format!("{}: {e}", p.display())))
}

struct Case {
    name: String,
    /// File name (its extension selects nothing: the loader does).
    file: String,
    bytes: Vec<u8>,
    load: Loader,
    /// Must appear in the error message (besides the file name). `None`: the variant may
    /// load (a flipped byte inside weight data is still a valid file); it must not panic.
    needle: Option<&'static str>,
}

fn case(name: impl Into<String>, file: &str, bytes: Vec<u8>, load: Loader, needle: &'static str) -> Case {
    Case {
        name: name.into(),
        file: file.to_string(),
        bytes,
        load,
        needle: Some(needle),
    }
}

/// A variant that may load or fail, but must not panic and must stay bounded.
fn either(name: impl Into<String>, file: &str, bytes: Vec<u8>, load: Loader) -> Case {
    Case {
        needle: None,
        ..case(name, file, bytes, load, "")
    }
}

/// Replaces the first occurrence of `from` in `bytes` by `to` (same length or not).
fn patch(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .unwrap_or_else(|| panic!("pattern {:?} not found", String::from_utf8_lossy(from)));
    let mut out = bytes[..at].to_vec();
    out.extend_from_slice(to);
    out.extend_from_slice(&bytes[at + from.len()..]);
    out
}

fn flip(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[at] ^= 0xff;
    b
}

fn npz_of(arrays: &[(&str, Tensor)]) -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!("rkeras_bad_npz_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("a.npz");
    let named: Vec<(String, Tensor)> = arrays.iter().map(|(n, t)| (n.to_string(), t.clone())).collect();
    write_npz(p.to_str().unwrap(), &named).unwrap();
    let b = std::fs::read(&p).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    b
}

/// Sets the uncompressed size of every member (local headers and central directory) of a
/// small zip to `size`: what a zip bomb declares.
fn zip_claim_size(bytes: &[u8], size: u32) -> Vec<u8> {
    let mut b = bytes.to_vec();
    let mut i = 0;
    while i + 46 <= b.len() {
        match &b[i..i + 4] {
            [0x50, 0x4b, 0x03, 0x04] => b[i + 22..i + 26].copy_from_slice(&size.to_le_bytes()),
            [0x50, 0x4b, 0x01, 0x02] => b[i + 24..i + 28].copy_from_slice(&size.to_le_bytes()),
            _ => {}
        }
        i += 1;
    }
    b
}

fn npy_cases() -> Vec<Case> {
    let good = npy_bytes(&Tensor::arange(&[3, 4]));
    let mut v = Vec::new();
    for cut in [0, 5, 9, 30, good.len() - 1] {
        v.push(case(
            format!("npy truncated at {cut}"),
            "x.npy",
            good[..cut].to_vec(),
            load_npy,
            "not a valid .npy",
        ));
    }
    v.push(case("npy magic flipped", "x.npy", flip(&good, 1), load_npy, "magic"));
    v.push(case(
        "npy huge shape",
        "x.npy",
        patch(&good, b"(3, 4)", b"(99999999, 99999)"),
        load_npy,
        "needs",
    ));
    v.push(case(
        "npy shape overflows usize",
        "x.npy",
        patch(&good, b"(3, 4)", b"(4294967296, 4294967296, 4294967296)"),
        load_npy,
        "overflows",
    ));
    v.push(case(
        "npy header length past the end",
        "x.npy",
        {
            let mut b = good.clone();
            b[8] = 0xff;
            b[9] = 0xff;
            b
        },
        load_npy,
        "truncated header",
    ));
    v.push(case(
        "npy complex dtype",
        "x.npy",
        patch(&good, b"<f4", b"<c8"),
        load_npy,
        "unsupported dtype",
    ));
    v.push(case(
        "npy version 9",
        "x.npy",
        {
            let mut b = good.clone();
            b[6] = 9;
            b
        },
        load_npy,
        "version 9",
    ));
    v
}

fn npz_cases() -> Vec<Case> {
    let good = npz_of(&[("a", Tensor::arange(&[2, 3])), ("b", Tensor::ones(&[4]))]);
    let mut v = Vec::new();
    for cut in [3, good.len() / 2, good.len() - 10] {
        v.push(case(
            format!("npz truncated at {cut}"),
            "x.npz",
            good[..cut].to_vec(),
            load_npz,
            "not a valid .npz",
        ));
    }
    v.push(case(
        "npz zip bomb (declared 4 GiB)",
        "x.npz",
        zip_claim_size(&good, 0xffff_fff0),
        load_npz,
        "zip bomb",
    ));
    v.push(case(
        "npz member is not npy",
        "x.npz",
        patch(&good, b"\x93NUMPY", b"\x93NUMPX"),
        load_npz,
        "magic",
    ));
    v
}

/// Rewrites a safetensors header (keeping the length field right).
fn st_edit(bytes: &[u8], edit: impl Fn(&mut serde_json::Value)) -> Vec<u8> {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut h: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    edit(&mut h);
    let h = h.to_string();
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(&bytes[8 + n..]);
    out
}

fn st_cases() -> Vec<Case> {
    clear_session();
    let good = safetensors_bytes(&dense_model()).unwrap();
    let mut v = Vec::new();
    for cut in [0, 7, 8, 40, good.len() - 1] {
        v.push(case(
            format!("safetensors truncated at {cut}"),
            "w.safetensors",
            good[..cut].to_vec(),
            load_st,
            "not a valid safetensors",
        ));
    }
    v.push(case(
        "safetensors header length 2^60",
        "w.safetensors",
        {
            let mut b = good.clone();
            b[..8].copy_from_slice(&(1u64 << 60).to_le_bytes());
            b
        },
        load_st,
        "header too large",
    ));
    v.push(case(
        "safetensors huge shape",
        "w.safetensors",
        st_edit(&good, |h| {
            h["dense/bias"]["shape"] = serde_json::json!([99999999999u64, 99999999u64])
        }),
        load_st,
        "not a valid safetensors",
    ));
    v.push(case(
        "safetensors offsets past the end",
        "w.safetensors",
        st_edit(&good, |h| {
            h["dense/bias"]["data_offsets"] = serde_json::json!([0, 1u64 << 40])
        }),
        load_st,
        "not a valid safetensors",
    ));
    v.push(case(
        "safetensors mis-shaped tensor",
        "w.safetensors",
        patch(&good, b"\"shape\":[4,3]", b"\"shape\":[3,4]"),
        load_st,
        "tensor dense/kernel has shape [3, 4], the weight dense/kernel of model dense_model has shape [4, 3]",
    ));
    v.push(case(
        "safetensors renamed tensor",
        "w.safetensors",
        patch(&good, b"dense_1/bias", b"dense_9/bias"),
        load_st,
        "no tensor for 1 weight(s) of model dense_model: dense_1/bias [2]",
    ));
    v
}

fn json_cases() -> Vec<Case> {
    clear_session();
    let good = rkeras::io::keras_json::model_to_json(&dense_model()).into_bytes();
    let mut v = Vec::new();
    for cut in [1, good.len() / 2] {
        v.push(case(
            format!("json truncated at {cut}"),
            "m.json",
            good[..cut].to_vec(),
            load_json,
            "config",
        ));
    }
    v.push(case(
        "json Lambda layer",
        "m.json",
        patch(&good, b"\"Dense\"", b"\"Lambda\""),
        load_json,
        "never executes code",
    ));
    v.push(case(
        "json unknown custom layer",
        "m.json",
        patch(&good, b"\"Dense\"", b"\"evil>MyLayer\""),
        load_json,
        "unknown layer class",
    ));
    v.push(case(
        "json nested 100000 deep",
        "m.json",
        "[".repeat(100_000).into_bytes(),
        load_json,
        "config",
    ));
    v.push(case(
        "json not UTF-8",
        "m.json",
        vec![0xff, 0xfe, 0x00],
        load_json,
        "m.json",
    ));
    v
}

fn load_model_file(p: &Path) -> rkeras::Result<()> {
    rkeras::load_model(p).map(drop)
}
fn load_weights_file(p: &Path) -> rkeras::Result<()> {
    dense_model().load_weights(p)
}

/// The members of a zip, in order.
fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    use std::io::Read;
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            let mut b = Vec::new();
            f.read_to_end(&mut b).unwrap();
            (f.name().unwrap().to_string(), b)
        })
        .collect()
}

/// A stored zip of `members` (as Keras writes `.keras` files).
fn zip_of(members: &[(String, Vec<u8>)]) -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, b) in members {
        w.start_file(name.as_str(), opts).unwrap();
        w.write_all(b).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// `dense.keras` with its members passed through `edit`.
fn keras_edit(edit: impl Fn(Vec<(String, Vec<u8>)>) -> Vec<(String, Vec<u8>)>) -> Vec<u8> {
    zip_of(&edit(unzip(&read("bad/dense.keras"))))
}

fn keras_cases() -> Vec<Case> {
    let good = read("bad/dense.keras");
    let n = good.len();
    let mut v = Vec::new();
    for cut in [0, 100, n / 2, n - 30] {
        v.push(case(
            format!(".keras truncated at {cut}"),
            "m.keras",
            good[..cut].to_vec(),
            load_model_file,
            "m.keras",
        ));
    }
    v.push(case(
        ".keras central directory flipped",
        "m.keras",
        flip(&good, n - 40),
        load_model_file,
        "m.keras",
    ));
    v.push(case(
        ".keras zip bomb (declared 4 GiB)",
        "m.keras",
        zip_claim_size(&good, 0xffff_fff0),
        load_model_file,
        "m.keras",
    ));
    v.push(case(
        ".keras path traversal names",
        "m.keras",
        keras_edit(|m| m.into_iter().map(|(name, b)| (format!("../../{name}"), b)).collect()),
        load_model_file,
        "has no config.json",
    ));
    v.push(case(
        ".keras config.json truncated",
        "m.keras",
        keras_edit(|m| {
            m.into_iter()
                .map(|(name, b)| {
                    if name == "config.json" {
                        (name, b[..b.len() / 2].to_vec())
                    } else {
                        (name, b)
                    }
                })
                .collect()
        }),
        load_model_file,
        "config.json",
    ));
    v.push(case(
        ".keras without model.weights.h5",
        "m.keras",
        keras_edit(|m| m.into_iter().filter(|(name, _)| name != "model.weights.h5").collect()),
        load_model_file,
        "has no model.weights.h5",
    ));
    v.push(case(
        ".keras weights claim a 4 TiB kernel",
        "m.keras",
        keras_edit(|m| {
            m.into_iter()
                .map(|(name, b)| {
                    if name == "model.weights.h5" {
                        (name, read("bad/huge_shape.weights.h5"))
                    } else {
                        (name, b)
                    }
                })
                .collect()
        }),
        load_model_file,
        "dense",
    ));
    v.push(case(
        ".keras Lambda layer",
        "lambda.keras",
        read("bad/lambda.keras"),
        load_model_file,
        "never executes code",
    ));
    v.push(case(
        ".keras unknown custom layer",
        "custom.keras",
        read("bad/custom.keras"),
        load_model_file,
        "unknown layer class",
    ));
    v
}

fn h5_cases() -> Vec<Case> {
    let good = read("bad/dense.h5");
    let n = good.len();
    let mut v = Vec::new();
    for cut in [0, 8, 100, 1000, n / 2] {
        v.push(case(
            format!(".h5 truncated at {cut}"),
            "m.h5",
            good[..cut].to_vec(),
            load_model_file,
            "m.h5",
        ));
    }
    // The last 100 bytes hold nothing the reader needs (h5py refuses the file because the
    // superblock's end-of-file address is past the end; hdf5-reader does not check it).
    v.push(either(
        format!(".h5 truncated at {}", n - 100),
        "m.h5",
        good[..n - 100].to_vec(),
        load_model_file,
    ));
    v.push(case(
        ".h5 signature flipped",
        "m.h5",
        flip(&good, 1),
        load_model_file,
        "m.h5",
    ));
    for k in 1..24 {
        let at = k * n / 24;
        v.push(either(
            format!(".h5 byte {at} flipped"),
            "m.h5",
            flip(&good, at),
            load_model_file,
        ));
    }
    v.push(case(
        ".h5 kernel claims 4 TiB",
        "huge_shape.h5",
        read("bad/huge_shape.h5"),
        load_model_file,
        "dense",
    ));
    v.push(case(
        ".h5 Lambda layer",
        "lambda.h5",
        read("bad/lambda.h5"),
        load_model_file,
        "never executes code",
    ));
    v.push(case(
        ".h5 three weights for a Dense",
        "extra_weight.h5",
        read("bad/extra_weight.h5"),
        load_model_file,
        "dense",
    ));
    v
}

fn weights_h5_cases() -> Vec<Case> {
    let good = read("bad/dense.weights.h5");
    let n = good.len();
    let mut v = Vec::new();
    for cut in [0, 48, n / 3, n - 1] {
        v.push(case(
            format!(".weights.h5 truncated at {cut}"),
            "w.weights.h5",
            good[..cut].to_vec(),
            load_weights_file,
            "w.weights.h5",
        ));
    }
    for k in 1..16 {
        let at = k * n / 16;
        v.push(either(
            format!(".weights.h5 byte {at} flipped"),
            "w.weights.h5",
            flip(&good, at),
            load_weights_file,
        ));
    }
    for (file, needle) in [
        ("huge_shape.weights.h5", "dense"),
        ("huge_chunked.weights.h5", "dense"),
        ("extra_var.weights.h5", "dense"),
        ("wrong_shape.weights.h5", "dense"),
    ] {
        v.push(case(
            file,
            file,
            read(&format!("bad/{file}")),
            load_weights_file,
            needle,
        ));
    }
    // Hard links back to the root: loading must end (it may succeed: Keras's reader looks
    // only at the paths it expects).
    v.push(either(
        "cyclic groups",
        "cycle.weights.h5",
        read("bad/cycle.weights.h5"),
        load_weights_file,
    ));
    v
}

/// One table at a time: the allocation peak is process-wide.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn run(cases: Vec<Case>) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = std::env::temp_dir().join(format!("rkeras_bad_files_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut failures = Vec::new();
    for c in &cases {
        let path = dir.join(&c.file);
        std::fs::write(&path, &c.bytes).unwrap();
        let base = LIVE.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        let result = catch_unwind(AssertUnwindSafe(|| (c.load)(&path)));
        let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
        let bound = (16 << 20) + 64 * c.bytes.len();
        let file = path.display().to_string();
        match result {
            Err(_) => failures.push(format!("{}: PANICKED", c.name)),
            Ok(Ok(())) if c.needle.is_none() => println!("{:<45} {:>9} B peak  (loads)", c.name, peak),
            Ok(Ok(())) => failures.push(format!("{}: loaded without error", c.name)),
            Ok(Err(e)) => {
                let msg = e.to_string();
                println!("{:<45} {:>9} B peak  {msg}", c.name, peak);
                if !msg.contains(&file) {
                    failures.push(format!("{}: message does not name the file {file}: {msg}", c.name));
                } else if let Some(needle) = c.needle.filter(|n| !msg.contains(n)) {
                    failures.push(format!("{}: expected {needle:?} in: {msg}", c.name));
                }
            }
        }
        if peak > bound {
            failures.push(format!(
                "{}: allocated {peak} bytes for a {}-byte file",
                c.name,
                c.bytes.len()
            ));
        }
    }
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn arrays_weights_and_configs() {
    let mut cases = npy_cases();
    cases.extend(npz_cases());
    cases.extend(st_cases());
    cases.extend(json_cases());
    assert!(cases.len() >= 20);
    run(cases);
}

#[test]
fn keras_and_hdf5_files() {
    let mut cases = keras_cases();
    cases.extend(h5_cases());
    cases.extend(weights_h5_cases());
    run(cases);
}
