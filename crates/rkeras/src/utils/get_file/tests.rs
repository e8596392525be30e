//! `get_file` against a small HTTP server on 127.0.0.1 (no network needed): cache reuse,
//! hash checks (md5 and sha256, Keras's "auto"), re-download of a stale file, HTTP errors,
//! a refused connection, a short body, Keras's paths for `extract`, and tar/zip extraction
//! that keeps members inside the folder.

use super::*;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A server answering `routes` (path → body; others 404) until the test ends; returns its
/// base URL and the number of requests served. A body under the key `"/short"` is sent with
/// a Content-Length one byte longer than the body.
pub(crate) fn serve(routes: HashMap<String, Vec<u8>>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut line = String::new();
            while reader.read_line(&mut line).map(|n| n > 2).unwrap_or(false) {
                line.clear();
            }
            counter.fetch_add(1, Ordering::SeqCst);
            let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let (status, body, extra) = match routes.get(&path) {
                Some(b) if path == "/short" => ("200 OK", b.clone(), 1),
                Some(b) => ("200 OK", b.clone(), 0),
                None => ("404 Not Found", b"not here".to_vec(), 0),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len() + extra
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    (base, hits)
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rkeras-getfile-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn routes(pairs: &[(&str, &[u8])]) -> HashMap<String, Vec<u8>> {
    pairs.iter().map(|(p, b)| (p.to_string(), b.to_vec())).collect()
}

const BODY: &[u8] = b"hello keras";
// `printf 'hello keras' | sha256sum` and `| md5sum`.
const BODY_SHA256: &str = "d526119833066c42f6cb9c1f4621f12e0b553a93868532e6d863220a60ada3f8";
const BODY_MD5: &str = "1ca67a5656d6e71e45c705c29b6f3353";

#[test]
fn hashes_are_md5_and_sha256_hex_and_auto_goes_by_length() {
    let dir = temp("hash");
    let p = dir.join("f");
    std::fs::write(&p, BODY).unwrap();
    let sha = hash_file(&p, HashAlgorithm::Sha256).unwrap();
    let md5 = hash_file(&p, HashAlgorithm::Md5).unwrap();
    assert_eq!((sha.as_str(), md5.as_str()), (BODY_SHA256, BODY_MD5));
    // Known vectors: the empty file.
    let e = dir.join("empty");
    std::fs::write(&e, b"").unwrap();
    assert_eq!(
        hash_file(&e, HashAlgorithm::Sha256).unwrap(),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        hash_file(&e, HashAlgorithm::Md5).unwrap(),
        "d41d8cd98f00b204e9800998ecf8427e"
    );
    assert!(validate_file(&p, &sha, HashAlgorithm::Auto).unwrap());
    assert!(validate_file(&p, &md5.to_uppercase(), HashAlgorithm::Auto).unwrap());
    assert!(!validate_file(&e, BODY_SHA256, HashAlgorithm::Auto).unwrap());
    assert!(!validate_file(&e, BODY_MD5, HashAlgorithm::Md5).unwrap());
    assert_eq!(HashAlgorithm::Auto.resolve(&sha), HashAlgorithm::Sha256);
    assert_eq!(HashAlgorithm::Auto.resolve(&md5), HashAlgorithm::Md5);
    assert!(HashAlgorithm::parse("sha1")
        .unwrap_err()
        .to_string()
        .contains("Received: hash_algorithm=sha1"));
}

#[test]
fn downloads_once_then_uses_the_cache_and_redownloads_a_stale_copy() {
    let cache = temp("cache");
    let (base, hits) = serve(routes(&[("/data/file.bin", BODY)]));
    let g = GetFile::new(format!("{base}/data/file.bin"))
        .file_hash(BODY_SHA256)
        .cache_dir(&cache)
        .verbose(false);
    let p = g.get().unwrap();
    assert_eq!(p, cache.join("datasets/file.bin"));
    assert_eq!(std::fs::read(&p).unwrap(), BODY);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    g.get().unwrap();
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "a good cached copy is not downloaded again"
    );
    std::fs::write(&p, b"stale").unwrap();
    g.get().unwrap();
    assert_eq!(
        hits.load(Ordering::SeqCst),
        2,
        "a copy with the wrong hash is downloaded again"
    );
    assert_eq!(std::fs::read(&p).unwrap(), BODY);
    g.clone().force_download(true).get().unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    // No hash: whatever is cached is used, as Keras.
    std::fs::write(&p, b"anything").unwrap();
    let unhashed = GetFile::new(format!("{base}/data/file.bin"))
        .cache_dir(&cache)
        .verbose(false);
    assert_eq!(std::fs::read(unhashed.get().unwrap()).unwrap(), b"anything");
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    // cache_subdir and fname as Keras's applications pass them.
    let m = GetFile::new(format!("{base}/data/file.bin"))
        .fname("weights.h5")
        .cache_subdir("models")
        .cache_dir(&cache)
        .verbose(false)
        .get()
        .unwrap();
    assert_eq!(m, cache.join("models/weights.h5"));
    std::fs::remove_dir_all(&cache).unwrap();
}

#[test]
fn a_wrong_hash_an_http_error_a_short_body_or_no_server_keep_nothing_and_say_where() {
    let cache = temp("errors");
    let (base, _) = serve(routes(&[("/f.bin", BODY), ("/short", BODY)]));
    let wrong = "0".repeat(64);
    let e = GetFile::new(format!("{base}/f.bin"))
        .file_hash(&wrong)
        .cache_dir(&cache)
        .verbose(false)
        .get()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(
            "Incomplete or corrupted file detected. The sha256 file hash does not match the provided value of 0000"
        ),
        "{e}"
    );
    let e = GetFile::new(format!("{base}/missing.h5"))
        .cache_dir(&cache)
        .verbose(false)
        .get()
        .unwrap_err()
        .to_string();
    assert!(e.contains("URL fetch failure on") && e.contains("404"), "{e}");
    assert!(
        e.contains(&cache.join("datasets/missing.h5").display().to_string()),
        "{e}"
    );
    let e = GetFile::new(format!("{base}/short"))
        .cache_dir(&cache)
        .verbose(false)
        .get()
        .unwrap_err()
        .to_string();
    assert!(e.contains("URL fetch failure"), "{e}");
    // A port nobody listens on: what an offline machine sees.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let e = GetFile::new(format!("http://{closed}/vgg16.h5"))
        .cache_subdir("models")
        .cache_dir(&cache)
        .verbose(false)
        .get()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("URL fetch failure on http://") && e.contains("models/vgg16.h5"),
        "{e}"
    );
    let left: Vec<String> = walk(&cache);
    assert!(left.is_empty(), "nothing is left behind: {left:?}");
    std::fs::remove_dir_all(&cache).unwrap();
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path().display().to_string());
        }
    }
    out
}

#[test]
fn paths_follow_keras_for_fname_and_extract() {
    let g = GetFile::new("https://x.org/a/cifar-10-python.tar.gz?x=1").cache_dir("/c");
    let p = g.paths().unwrap();
    assert_eq!(p.download_target, PathBuf::from("/c/datasets/cifar-10-python.tar.gz"));
    let p = g
        .clone()
        .fname("cifar-10-batches-py-target")
        .extract(true)
        .paths()
        .unwrap();
    assert_eq!(
        p.download_target,
        PathBuf::from("/c/datasets/cifar-10-batches-py-target_archive")
    );
    assert_eq!(
        p.extraction_dir,
        Some(PathBuf::from("/c/datasets/cifar-10-batches-py-target"))
    );
    let p = g.clone().fname("data.tar.gz").extract(true).paths().unwrap();
    assert_eq!(p.download_target, PathBuf::from("/c/datasets/data.tar.gz"));
    assert_eq!(p.extraction_dir, Some(PathBuf::from("/c/datasets/data_extracted")));
    let p = g.clone().extract(true).paths().unwrap();
    assert_eq!(
        p.extraction_dir,
        Some(PathBuf::from("/c/datasets/cifar-10-python.tar.gz"))
    );
    let e = g.clone().fname("../x").paths().unwrap_err().to_string();
    assert!(
        e.contains("Paths are no longer accepted as the `fname` argument"),
        "{e}"
    );
    assert!(g.clone().fname("..").paths().is_err());
    for bad in ["https://x.org/", "https://x.org/a/..", "https://x.org"] {
        let e = GetFile::new(bad).paths().unwrap_err().to_string();
        assert!(e.contains("Can't parse the file name from the origin"), "{bad}: {e}");
    }
}

fn tar_gz(members: &[(&str, &[u8])], link: Option<(&str, &str)>) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in members {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        // `append_data` refuses `..`; write the raw name as a hostile archive would.
        let raw = &mut h.as_old_mut().name;
        raw[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    if let Some((name, target)) = link {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, name, target).unwrap();
    }
    let tar = b.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    gz.finish().unwrap()
}

#[test]
fn extract_downloads_the_archive_and_returns_its_folder_keeping_members_inside() {
    let cache = temp("extract");
    let archive = tar_gz(
        &[
            ("cifar-10-batches-py/data_batch_1", b"one"),
            ("cifar-10-batches-py/test_batch", b"two"),
            ("../escaped", b"evil"),
            ("/abs", b"evil"),
        ],
        Some(("cifar-10-batches-py/link", "/etc/passwd")),
    );
    let (base, hits) = serve(routes(&[("/cifar-10-python.tar.gz", &archive)]));
    let g = GetFile::new(format!("{base}/cifar-10-python.tar.gz"))
        .fname("cifar-10-batches-py-target")
        .extract(true)
        .cache_dir(&cache)
        .verbose(false);
    let dir = g.get().unwrap();
    assert_eq!(dir, cache.join("datasets/cifar-10-batches-py-target"));
    assert_eq!(
        std::fs::read(dir.join("cifar-10-batches-py/test_batch")).unwrap(),
        b"two"
    );
    assert!(!dir.join("cifar-10-batches-py/link").exists(), "links are skipped");
    assert!(!cache.join("datasets/escaped").exists() && !cache.join("escaped").exists());
    assert!(cache.join("datasets/cifar-10-batches-py-target_archive").is_file());
    g.get().unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    // A corrupt archive is an error that names it, and leaves no half folder.
    let bad = cache.join("bad.tar.gz");
    std::fs::write(&bad, &archive[..archive.len() / 2]).unwrap();
    let e = extract_archive(&bad, &cache.join("bad")).unwrap_err().to_string();
    assert!(e.contains("bad.tar.gz"), "{e}");
    assert!(!cache.join("bad").exists());
    std::fs::remove_dir_all(&cache).unwrap();
}

#[test]
fn zip_archives_extract_too() {
    let cache = temp("zip");
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file("a/b.txt", zip::write::SimpleFileOptions::default())
        .unwrap();
    w.write_all(b"zipped").unwrap();
    let bytes = w.finish().unwrap().into_inner();
    let z = cache.join("x.zip");
    std::fs::write(&z, bytes).unwrap();
    extract_archive(&z, &cache.join("x")).unwrap();
    assert_eq!(std::fs::read(cache.join("x/a/b.txt")).unwrap(), b"zipped");
    std::fs::remove_dir_all(&cache).unwrap();
}
