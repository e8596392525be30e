//! Archive extraction for [`super::get_file`]: tar (plain or gzip) and zip, into a
//! temporary folder renamed into place once complete. Members that are links or devices,
//! or whose path would leave the folder (absolute, `..`), are skipped, as Keras's
//! `filter_safe_paths`.

use super::get_file::io_error;
use crate::error::{KerasError, Result};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

/// Extracts a tar (plain or gzip) or zip archive into `dir` through a temporary folder,
/// streaming (memory stays small whatever the archive expands to).
pub fn extract_archive(archive: &Path, dir: &Path) -> Result<()> {
    let f = std::fs::File::open(archive).map_err(|source| io_error(archive, source))?;
    extract_into(&archive.display().to_string(), std::io::BufReader::new(f), dir)
}

/// [`extract_archive`] of an archive held in memory; `name` names it in errors.
pub fn extract_archive_bytes(name: &str, bytes: &[u8], dir: &Path) -> Result<()> {
    extract_into(name, std::io::Cursor::new(bytes), dir)
}

fn extract_into<R: Read + Seek>(name: &str, mut reader: R, dir: &Path) -> Result<()> {
    let bad = |e: std::io::Error| KerasError::Invalid(format!("{name}: cannot read the archive: {e}"));
    let mut magic = Vec::with_capacity(4);
    (&mut reader).take(4).read_to_end(&mut magic).map_err(bad)?;
    reader.seek(SeekFrom::Start(0)).map_err(bad)?;
    let tmp = dir.with_file_name(format!(
        ".{}.extracting-{}",
        dir.file_name().map_or("archive".into(), |n| n.to_string_lossy()),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    let result = (|| {
        std::fs::create_dir_all(&tmp).map_err(|source| io_error(&tmp, source))?;
        if magic.starts_with(b"PK\x03\x04") {
            extract_zip(name, reader, &tmp)?;
        } else if magic.starts_with(&[0x1f, 0x8b]) {
            extract_tar(name, flate2::read::MultiGzDecoder::new(reader), &tmp)?;
        } else {
            extract_tar(name, reader, &tmp)?;
        }
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(|source| io_error(dir, source))?;
        }
        std::fs::rename(&tmp, dir).map_err(|source| io_error(dir, source))
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

/// A member path kept only when it stays inside the folder (no root, no `..`).
fn safe_member(name: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in name.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

fn extract_tar(name: &str, reader: impl Read, into: &Path) -> Result<()> {
    let bad = |e: std::io::Error| KerasError::Invalid(format!("{name}: not a valid tar archive: {e}"));
    let mut tar = tar::Archive::new(reader);
    let mut members = 0usize;
    for entry in tar.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let kind = entry.header().entry_type();
        let Some(rel) = entry.path().ok().and_then(|p| safe_member(&p)) else {
            continue;
        };
        let dest = into.join(rel);
        if kind.is_dir() {
            std::fs::create_dir_all(&dest).map_err(|source| io_error(&dest, source))?;
        } else if kind.is_file() {
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).map_err(|source| io_error(parent, source))?;
            }
            let mut out = std::fs::File::create(&dest).map_err(|source| io_error(&dest, source))?;
            std::io::copy(&mut entry, &mut out).map_err(bad)?;
            members += 1;
        }
    }
    if members == 0 {
        return Err(KerasError::Invalid(format!("{name}: no files in the archive")));
    }
    Ok(())
}

fn extract_zip(name: &str, reader: impl Read + Seek, into: &Path) -> Result<()> {
    let bad = |e: zip::result::ZipError| KerasError::Invalid(format!("{name}: not a valid zip archive: {e}"));
    let mut zip = zip::ZipArchive::new(reader).map_err(bad)?;
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).map_err(bad)?;
        let Some(rel) = f.enclosed_name().and_then(|p| safe_member(&p)) else {
            continue;
        };
        let dest = into.join(rel);
        if f.is_dir() {
            std::fs::create_dir_all(&dest).map_err(|source| io_error(&dest, source))?;
        } else if f.is_file() {
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).map_err(|source| io_error(parent, source))?;
            }
            let mut out = std::fs::File::create(&dest).map_err(|source| io_error(&dest, source))?;
            std::io::copy(&mut f, &mut out)
                .map_err(|e| KerasError::Invalid(format!("{name}: member {}: {e}", dest.display())))?;
        }
    }
    Ok(())
}
