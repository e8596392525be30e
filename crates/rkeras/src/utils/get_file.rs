//! `keras.utils.get_file`: a file from a URL, kept in Keras's cache (`$KERAS_HOME` or
//! `~/.keras`, then `cache_subdir`), checked against an md5 or sha256 hash, and extracted
//! when it is an archive — the same file names and places Keras uses, so a file Keras
//! downloaded is found, and a file rkeras downloads is found by Keras.
//!
//! ```no_run
//! use rkeras::utils::get_file::GetFile;
//! let path = GetFile::new("https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz")
//!     .file_hash("731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1")
//!     .get()
//!     .unwrap(); // ~/.keras/datasets/mnist.npz
//! ```
//!
//! Differences from Keras, all on the safe side: the download goes to a temporary file in
//! the cache folder and is renamed into place only once complete and hash-checked, so an
//! interrupted download never leaves a file that looks cached; an archive is extracted into
//! a temporary folder and renamed, and is not extracted again when its folder exists and the
//! archive was not downloaded anew; archive members that are links, devices or paths leaving
//! the folder are skipped (Keras's `filter_safe_paths`).

use crate::error::{KerasError, Result};
pub use crate::utils::archive::extract_archive;
use md5::Md5;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Keras's `hash_algorithm`: `"auto"` takes sha256 for a 64-character hash, md5 otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm {
    /// By the hash's length, as Keras's `"auto"`.
    Auto,
    /// MD5 (what `keras.applications` gives).
    Md5,
    /// SHA-256 (what `keras.datasets` gives).
    Sha256,
}

impl HashAlgorithm {
    /// Parses Keras's spellings `"auto"`, `"md5"`, `"sha256"`.
    pub fn parse(s: &str) -> Result<HashAlgorithm> {
        match s {
            "auto" => Ok(HashAlgorithm::Auto),
            "md5" => Ok(HashAlgorithm::Md5),
            "sha256" => Ok(HashAlgorithm::Sha256),
            _ => Err(crate::error::arg_error(
                "get_file",
                "hash_algorithm",
                "'auto', 'md5' or 'sha256'",
                s,
            )),
        }
    }

    /// The algorithm for `file_hash` (`Auto` resolved by length, as Keras's `resolve_hasher`).
    pub fn resolve(self, file_hash: &str) -> HashAlgorithm {
        match self {
            HashAlgorithm::Auto if file_hash.len() == 64 => HashAlgorithm::Sha256,
            HashAlgorithm::Auto => HashAlgorithm::Md5,
            a => a,
        }
    }

    fn name(self) -> &'static str {
        match self {
            HashAlgorithm::Sha256 => "sha256",
            _ => "md5",
        }
    }
}

/// `get_file`'s arguments, Keras's names and defaults; [`GetFile::get`] runs it.
#[derive(Debug, Clone)]
pub struct GetFile {
    /// URL of the file.
    pub origin: String,
    /// Local file name (for `extract`, the extraction folder's); default the URL's last part.
    pub fname: Option<String>,
    /// Expected md5 or sha256 of the downloaded file (hex).
    pub file_hash: Option<String>,
    /// Folder under the cache dir (default `"datasets"`; applications use `"models"`); an
    /// absolute path is used as it is.
    pub cache_subdir: String,
    /// How to read `file_hash` (default [`HashAlgorithm::Auto`]).
    pub hash_algorithm: HashAlgorithm,
    /// Extract the archive (tar, tar.gz or zip) and return the folder.
    pub extract: bool,
    /// The cache dir (default Keras's home, `$KERAS_HOME` or `~/.keras`).
    pub cache_dir: Option<PathBuf>,
    /// Download even when a good copy is cached.
    pub force_download: bool,
    /// Print "Downloading data from …" and a progress bar, as Keras (default true).
    pub verbose: bool,
}

/// Where [`GetFile`] keeps its file (and, with `extract`, the folder it returns).
#[derive(Debug, Clone, PartialEq)]
pub struct CachePaths {
    /// The downloaded file.
    pub download_target: PathBuf,
    /// The extraction folder, with `extract`.
    pub extraction_dir: Option<PathBuf>,
}

impl GetFile {
    /// `get_file(origin=origin)` with every other argument at Keras's default.
    pub fn new(origin: impl Into<String>) -> GetFile {
        GetFile {
            origin: origin.into(),
            fname: None,
            file_hash: None,
            cache_subdir: "datasets".into(),
            hash_algorithm: HashAlgorithm::Auto,
            extract: false,
            cache_dir: None,
            force_download: false,
            verbose: true,
        }
    }

    /// Sets `fname`.
    pub fn fname(mut self, fname: impl Into<String>) -> GetFile {
        self.fname = Some(fname.into());
        self
    }

    /// Sets `file_hash`.
    pub fn file_hash(mut self, hash: impl Into<String>) -> GetFile {
        self.file_hash = Some(hash.into());
        self
    }

    /// Sets `cache_subdir`.
    pub fn cache_subdir(mut self, subdir: impl Into<String>) -> GetFile {
        self.cache_subdir = subdir.into();
        self
    }

    /// Sets `extract`.
    pub fn extract(mut self, extract: bool) -> GetFile {
        self.extract = extract;
        self
    }

    /// Sets `cache_dir`.
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> GetFile {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Sets `verbose`.
    pub fn verbose(mut self, verbose: bool) -> GetFile {
        self.verbose = verbose;
        self
    }

    /// Sets `force_download`.
    pub fn force_download(mut self, force: bool) -> GetFile {
        self.force_download = force;
        self
    }

    /// The paths Keras uses for these arguments, without touching the disk or network.
    pub fn paths(&self) -> Result<CachePaths> {
        let base = self.cache_dir.clone().unwrap_or_else(crate::datasets::keras_home);
        self.paths_in(&base)
    }

    /// `paths()` under `base`, as `"file"` or `"archive -> folder"` (tests elsewhere).
    #[cfg(test)]
    pub(crate) fn paths_in_for_test(&self, base: &str) -> String {
        let p = self.paths_in(Path::new(base)).unwrap();
        match p.extraction_dir {
            None => p.download_target.display().to_string(),
            Some(d) => format!("{} -> {}", p.download_target.display(), d.display()),
        }
    }

    fn paths_in(&self, base: &Path) -> Result<CachePaths> {
        let datadir = base.join(&self.cache_subdir);
        let provided = self.fname.is_some();
        let fname = match &self.fname {
            Some(f) if f.contains('/') || f.contains(std::path::MAIN_SEPARATOR) || f == "." || f == ".." => {
                return Err(KerasError::Invalid(format!(
                    "get_file: Paths are no longer accepted as the `fname` argument. To specify the file's \
                     parent directory, use the `cache_dir` argument. Received: fname={f}"
                )))
            }
            Some(f) if !f.is_empty() => f.clone(),
            _ => url_file_name(&self.origin)?,
        };
        if !self.extract {
            return Ok(CachePaths {
                download_target: datadir.join(&fname),
                extraction_dir: None,
            });
        }
        // Keras: a given name with an extension names the archive and `<stem>_extracted`;
        // without one it names the folder, and the archive is `<name>_archive`.
        let (download_target, extraction_dir) = match fname.find('.') {
            Some(dot) if provided => (
                datadir.join(&fname),
                datadir.join(format!("{}_extracted", &fname[..dot])),
            ),
            _ => (datadir.join(format!("{fname}_archive")), datadir.join(&fname)),
        };
        Ok(CachePaths {
            download_target,
            extraction_dir: Some(extraction_dir),
        })
    }

    /// Runs `get_file`: the cached file when present (and matching `file_hash`), else a
    /// download checked against `file_hash`; with `extract`, the extracted folder.
    pub fn get(&self) -> Result<PathBuf> {
        let base = writable_base(self.cache_dir.clone().unwrap_or_else(crate::datasets::keras_home));
        let paths = self.paths_in(&base)?;
        let target = &paths.download_target;
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir).map_err(|source| io_error(dir, source))?;
        }
        let algorithm = self.file_hash.as_deref().map(|h| self.hash_algorithm.resolve(h));
        let mut download = self.force_download || !target.is_file();
        if !download {
            if let (Some(hash), Some(alg)) = (&self.file_hash, algorithm) {
                if !validate_file(target, hash, alg)? {
                    if self.verbose {
                        println!(
                            "A local file was found, but it seems to be incomplete or outdated because the {} \
                             file hash does not match the original value of {hash} so we will re-download the data.",
                            alg.name()
                        );
                    }
                    download = true;
                }
            }
        }
        if download {
            self.download(target, algorithm)?;
        }
        match &paths.extraction_dir {
            None => Ok(paths.download_target),
            Some(dir) => {
                if download || !dir.is_dir() {
                    extract_archive(target, dir)?;
                }
                Ok(dir.clone())
            }
        }
    }

    /// Downloads `origin` to a temporary file beside `target`, checks the hash, renames.
    fn download(&self, target: &Path, algorithm: Option<HashAlgorithm>) -> Result<()> {
        if self.verbose {
            println!("Downloading data from {}", self.origin);
        }
        let tmp = target.with_file_name(format!(
            ".{}.part-{}",
            target.file_name().map_or("download".into(), |n| n.to_string_lossy()),
            std::process::id()
        ));
        let result = self.fetch_to(&tmp, target, algorithm).and_then(|digest| {
            if let (Some(hash), Some(alg), Some(got)) = (&self.file_hash, algorithm, digest) {
                if !got.eq_ignore_ascii_case(hash) {
                    return Err(KerasError::Invalid(format!(
                        "{}: Incomplete or corrupted file detected. The {} file hash does not match the provided \
                         value of {hash} (received {got}); nothing was kept at {}",
                        self.origin,
                        alg.name(),
                        target.display()
                    )));
                }
            }
            std::fs::rename(&tmp, target).map_err(|source| io_error(target, source))
        });
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    /// Streams the body into `tmp`, hashing as it goes; returns the hex digest.
    fn fetch_to(&self, tmp: &Path, target: &Path, algorithm: Option<HashAlgorithm>) -> Result<Option<String>> {
        let fail = |reason: String| {
            KerasError::Invalid(format!(
                "URL fetch failure on {}: {reason}. Without network access, put the file at {} \
                 (Keras's cache: `$KERAS_HOME` or ~/.keras) and it is used from there",
                self.origin,
                target.display()
            ))
        };
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            // The system's trust store, as Python's `ssl` (and so Keras) uses: a proxy's or a
            // company's own CA installed there is trusted here too.
            .tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::PlatformVerifier)
                    .build(),
            )
            .build();
        let agent: ureq::Agent = config.into();
        let response = agent.get(&self.origin).call().map_err(|e| fail(e.to_string()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(fail(format!(
                "{} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            )));
        }
        let total = response
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut reader = response.into_body().into_reader();
        let mut file = std::fs::File::create(tmp).map_err(|source| io_error(tmp, source))?;
        let mut hasher = algorithm.map(Hasher::new);
        let mut bar = self.verbose.then(|| crate::training::progbar::Progbar::new(total, 1));
        let mut buf = vec![0u8; 1 << 16];
        let mut done = 0usize;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(fail(format!("connection lost after {done} bytes: {e}"))),
            };
            file.write_all(&buf[..n]).map_err(|source| io_error(tmp, source))?;
            if let Some(h) = &mut hasher {
                h.update(&buf[..n]);
            }
            done += n;
            if let Some(b) = &mut bar {
                b.update(done, &[], false);
            }
        }
        if let Some(t) = total.filter(|&t| t != done) {
            return Err(fail(format!("the server announced {t} bytes but sent {done}")));
        }
        if let Some(b) = &mut bar {
            b.update(done, &[], true);
        }
        file.sync_all().map_err(|source| io_error(tmp, source))?;
        Ok(hasher.map(Hasher::hex))
    }
}

/// `get_file(fname, origin, file_hash=…, cache_subdir=…)`, the form Keras's own code calls.
pub fn get_file(fname: Option<&str>, origin: &str, file_hash: Option<&str>, cache_subdir: &str) -> Result<PathBuf> {
    let mut g = GetFile::new(origin).cache_subdir(cache_subdir);
    g.fname = fname.map(str::to_string);
    g.file_hash = file_hash.map(str::to_string);
    g.get()
}

/// Keras's `validate_file`: whether the file's hash equals `file_hash`.
pub fn validate_file(path: &Path, file_hash: &str, algorithm: HashAlgorithm) -> Result<bool> {
    Ok(hash_file(path, algorithm.resolve(file_hash))?.eq_ignore_ascii_case(file_hash))
}

/// Keras's `hash_file`: the file's md5 or sha256 in hex (`Auto` means sha256, as Keras).
pub fn hash_file(path: &Path, algorithm: HashAlgorithm) -> Result<String> {
    let alg = if algorithm == HashAlgorithm::Auto {
        HashAlgorithm::Sha256
    } else {
        algorithm
    };
    let mut f = std::fs::File::open(path).map_err(|source| io_error(path, source))?;
    let mut h = Hasher::new(alg);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match f.read(&mut buf) {
            Ok(0) => return Ok(h.hex()),
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(source) => return Err(io_error(path, source)),
        }
    }
}

enum Hasher {
    Md5(Md5),
    Sha256(Sha256),
}

impl Hasher {
    fn new(alg: HashAlgorithm) -> Hasher {
        match alg {
            HashAlgorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            _ => Hasher::Md5(Md5::new()),
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Md5(h) => h.update(bytes),
            Hasher::Sha256(h) => h.update(bytes),
        }
    }

    fn hex(self) -> String {
        let bytes = match self {
            Hasher::Md5(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
        };
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The URL path's last part, refused when it is empty, `.` or `..` (Keras's check).
fn url_file_name(origin: &str) -> Result<String> {
    let path = origin.split(['?', '#']).next().unwrap_or("");
    let path = path
        .split_once("://")
        .map_or(path, |(_, rest)| rest.split_once('/').map_or("", |(_, p)| p));
    let name = path.rsplit('/').next().unwrap_or("");
    if name.is_empty() || name == "." || name == ".." {
        return Err(KerasError::Invalid(format!(
            "get_file: Can't parse the file name from the origin provided: '{origin}'. Please specify the `fname` argument."
        )));
    }
    Ok(name.to_string())
}

/// Keras falls back to `/tmp/.keras` when the cache dir is not writable.
fn writable_base(base: PathBuf) -> PathBuf {
    if std::fs::create_dir_all(&base).is_ok() {
        let probe = base.join(format!(".rkeras-write-test-{}", std::process::id()));
        if std::fs::write(&probe, b"").is_ok() {
            let _ = std::fs::remove_file(&probe);
            return base;
        }
    }
    std::env::temp_dir().join(".keras")
}

pub(crate) fn io_error(path: &Path, source: std::io::Error) -> KerasError {
    KerasError::Io {
        path: path.display().to_string(),
        source,
    }
}

#[cfg(test)]
pub(crate) mod tests;
