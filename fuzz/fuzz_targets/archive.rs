//! Archive bytes (tar, tar.gz, zip) through `utils::archive::extract_archive_bytes`, what
//! `get_file(..., extract=True)` runs on a download: an error or the extracted folder, never a
//! panic; memory bounded whatever the archive expands to. Each input is extracted into a fresh
//! folder `<tmp>/rkeras-fuzz-archive-<pid>/<n>/out`, removed afterwards; anything written
//! beside `out` (in `<n>/` or the per-process root) is a member that escaped the folder — a
//! finding: members that leave the folder (absolute, `..`) and links must be skipped.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn root() -> PathBuf {
    std::env::temp_dir().join(format!("rkeras-fuzz-archive-{}", std::process::id()))
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fuzz_target!(|data: &[u8]| {
    let root = root();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed).to_string();
    let case = root.join(&n);
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&case).expect("create the fuzz folder");
    let out = case.join("out");
    let result = rkeras::utils::archive::extract_archive_bytes("fuzz.archive", data, &out);
    let beside = entries(&case);
    let around = entries(&root);
    let _ = std::fs::remove_dir_all(&root);
    let expected: &[&str] = if result.is_ok() { &["out"] } else { &[] };
    assert_eq!(beside, expected, "written beside the extraction folder ({result:?})");
    assert_eq!(
        around,
        [n.as_str()],
        "written outside the extraction folder ({result:?})"
    );
});
