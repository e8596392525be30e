//! The Keras 3 `.keras` file: a zip (stored, like Keras writes it) holding `config.json`
//! (the model's Keras 3 JSON), `metadata.json` (`keras_version`, `date_saved`) and
//! `model.weights.h5` (weights in the Keras 3 layout, see
//! [`weights_layout`](crate::io::weights_layout)). The HDF5 member is read from the zip's
//! bytes in memory, never through a temporary file.
//!
//! Reading is bounded by the archive: a member is read only up to the size its header
//! declares, and a declared size no compression could reach from the stored bytes is refused
//! (a zip bomb), before anything is allocated for it.
//!
//! ```no_run
//! use rkeras::io::keras_file;
//! let bytes = std::fs::read("model.keras").unwrap();
//! let model = keras_file::model_from_keras_bytes("model.keras", &bytes).unwrap();
//! ```

use super::hdf5::H5Reader;
use super::weights_layout::{load_keras3, save_keras3, KERAS3_VERSION};
use crate::error::{KerasError, Result};
use crate::io::keras_json::{model_from_json, model_to_json};
use crate::model::Model;
use std::io::{Cursor, Read, Write};

/// The zip member with the model's Keras 3 JSON.
pub const CONFIG_JSON: &str = "config.json";
/// The zip member with the Keras version and save date.
pub const METADATA_JSON: &str = "metadata.json";
/// The zip member with the weights (HDF5).
pub const WEIGHTS_H5: &str = "model.weights.h5";
const WEIGHTS_NPZ: &str = "model.weights.npz";
/// Deflate's largest expansion is about 1032:1.
const MAX_RATIO: u64 = 1100;

/// The members of a `.keras` file that rkeras uses.
#[derive(Debug, Clone)]
pub struct KerasArchive {
    /// `config.json`.
    pub config: String,
    /// `metadata.json`, when present.
    pub metadata: Option<String>,
    /// `model.weights.h5`.
    pub weights_h5: Vec<u8>,
}

fn zip_err(origin: &str, e: impl std::fmt::Display) -> KerasError {
    KerasError::Invalid(format!("{origin}: not a readable .keras (zip) file: {e}"))
}

fn read_member(origin: &str, zip: &mut zip::ZipArchive<Cursor<&[u8]>>, name: &str) -> Result<Option<Vec<u8>>> {
    let mut f = match zip.by_name(name) {
        Ok(f) => f,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(zip_err(origin, format!("{name}: {e}"))),
    };
    let declared = f.size();
    let stored = f.compressed_size();
    if declared > stored.saturating_mul(MAX_RATIO).saturating_add(1 << 16) {
        return Err(KerasError::Invalid(format!(
            "{origin}: {name} declares {declared} bytes from {stored} stored bytes, more than any compression gives (a zip bomb?)"
        )));
    }
    let mut buf = Vec::with_capacity(usize::try_from(declared.min(1 << 26)).unwrap_or(0));
    (&mut f)
        .take(declared)
        .read_to_end(&mut buf)
        .map_err(|e| zip_err(origin, format!("{name}: {e}")))?;
    if buf.len() as u64 != declared {
        return Err(KerasError::Invalid(format!(
            "{origin}: {name} is truncated: {} of {declared} bytes",
            buf.len()
        )));
    }
    Ok(Some(buf))
}

/// Reads the members of a `.keras` file from its bytes.
pub fn read_archive(origin: &str, bytes: &[u8]) -> Result<KerasArchive> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| zip_err(origin, e))?;
    let text = |b: Vec<u8>, name: &str| {
        String::from_utf8(b).map_err(|_| KerasError::Invalid(format!("{origin}: {name} is not UTF-8 text")))
    };
    let config = read_member(origin, &mut zip, CONFIG_JSON)?
        .ok_or_else(|| KerasError::Invalid(format!("{origin}: the archive has no {CONFIG_JSON}")))?;
    let config = text(config, CONFIG_JSON)?;
    let metadata = read_member(origin, &mut zip, METADATA_JSON)?
        .map(|b| text(b, METADATA_JSON))
        .transpose()?;
    let weights_h5 = match read_member(origin, &mut zip, WEIGHTS_H5)? {
        Some(b) => b,
        None if zip.index_for_name(WEIGHTS_NPZ).is_some() => {
            return Err(KerasError::Invalid(format!(
                "{origin}: weights saved as {WEIGHTS_NPZ} (weights_format=\"npz\") are not supported; save with the default h5 format"
            )))
        }
        None => {
            return Err(KerasError::Invalid(format!(
                "{origin}: the archive has no {WEIGHTS_H5}"
            )))
        }
    };
    Ok(KerasArchive {
        config,
        metadata,
        weights_h5,
    })
}

/// Opens the weights member of a `.keras` file.
pub fn weights_reader(origin: &str, archive: KerasArchive) -> Result<H5Reader> {
    H5Reader::from_bytes(&format!("{origin}/{WEIGHTS_H5}"), archive.weights_h5)
}

/// `keras.saving.load_model` for `.keras` bytes: the model from `config.json`, compiled
/// from its `compile_config` when it has one, with the weights (and the optimizer's state)
/// of `model.weights.h5`.
pub fn model_from_keras_bytes(origin: &str, bytes: &[u8]) -> Result<Model> {
    let archive = read_archive(origin, bytes)?;
    // Every error building the model names the file it came from.
    let mut model = model_from_json(&archive.config).map_err(|e| match e {
        KerasError::Config(m) => KerasError::Config(format!("{origin}/{CONFIG_JSON}: {m}")),
        KerasError::Io { .. } => e,
        other => KerasError::Config(format!("{origin}/{CONFIG_JSON}: {other}")),
    })?;
    let compile_config = serde_json::from_str::<serde_json::Value>(&archive.config)
        .ok()
        .and_then(|c| c.get("compile_config").cloned())
        .filter(|c| c.as_object().is_some_and(|o| !o.is_empty()));
    if let Some(cc) = compile_config {
        // As Keras: a model that cannot be compiled from its config loads uncompiled, warned.
        if let Err(e) = model.compile_from_config(&cc) {
            eprintln!("UserWarning: {origin}: compile() was not called as part of model loading: {e}");
        }
    }
    let r = weights_reader(origin, archive)?;
    for w in load_keras3(&mut model, &r, false)? {
        eprintln!("UserWarning: {origin}: {w}");
    }
    Ok(model)
}

/// The `metadata.json` rkeras writes: the Keras version whose format it follows, the date,
/// and rkeras's own version (Keras ignores extra keys).
fn metadata_json() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    serde_json::json!({
        "keras_version": KERAS3_VERSION,
        "date_saved": format_utc(secs),
        "saved_by": format!("rkeras {}", env!("CARGO_PKG_VERSION")),
    })
    .to_string()
}

/// `YYYY-MM-DD@HH:MM:SS` (Keras's `date_saved` format), in UTC.
fn format_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}@{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The bytes of a `.keras` file for `model` (members in Keras's order, stored).
pub fn keras_bytes(model: &Model) -> Result<Vec<u8>> {
    let weights = save_keras3(model)?.to_bytes()?;
    let (metadata, config) = (metadata_json(), model_to_json(model));
    zip_stored(&[
        (METADATA_JSON, metadata.as_bytes()),
        (CONFIG_JSON, config.as_bytes()),
        (WEIGHTS_H5, &weights),
    ])
}

fn zip_stored(members: &[(&str, &[u8])]) -> Result<Vec<u8>> {
    let werr = |e: zip::result::ZipError| KerasError::Invalid(format!("writing .keras zip: {e}"));
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(members.iter().any(|(_, b)| b.len() as u64 >= u32::MAX as u64));
    for (name, bytes) in members {
        zip.start_file(*name, opts).map_err(werr)?;
        zip.write_all(bytes)
            .map_err(|e| KerasError::Invalid(format!("writing .keras zip: {e}")))?;
    }
    Ok(zip.finish().map_err(werr)?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_format_is_keras_s() {
        assert_eq!(format_utc(0), "1970-01-01@00:00:00");
        assert_eq!(format_utc(1_795_412_494), "2026-11-23@05:41:34");
    }
}
