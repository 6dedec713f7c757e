//! Importing tunnels from a `.zip` of `.conf` files, and exporting them to one.
//!
//! The archive arrives as bytes from whoever sent it, so it is treated as hostile:
//! limits are checked on the declared sizes and again on the bytes actually inflated
//! (an archive may lie about sizes), and entry paths are never trusted.

use std::collections::HashSet;
use std::fmt;
use std::io::{Cursor, Read as _, Write as _};

use ::zip::write::SimpleFileOptions;
use ::zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};
use zeroize::Zeroizing;

use crate::error::{ParseErrors, ZipError};
use crate::model::{Config, Parsed};
use crate::name::{TunnelName, strip_conf_suffix};

/// Archives larger than this are refused (10 MiB).
pub const MAX_ZIP_BYTES: usize = 10 * 1024 * 1024;
/// Archives with more entries than this are refused.
pub const MAX_ZIP_ENTRIES: usize = 1000;
/// A `.conf` entry larger than this (64 KiB) makes the whole archive refused.
pub const MAX_CONF_BYTES: u64 = 64 * 1024;

/// One `.conf` entry of an imported archive.
#[derive(Debug)]
pub struct ImportedFile {
    /// The entry's path inside the archive, as stored.
    pub path: String,
    pub outcome: Result<ImportedTunnel, EntryError>,
}

/// A `.conf` entry that could be read. Its text may still be an invalid config, which
/// `parsed` reports, so an editor can open the text and let the user fix it.
#[derive(Clone)]
pub struct ImportedTunnel {
    /// Derived from the file name (see [`TunnelName::from_file_name`]), unique within
    /// the archive.
    pub name: TunnelName,
    /// The entry's text; it holds a private key, so it is zeroed when dropped.
    pub text: Zeroizing<String>,
    pub parsed: Result<Parsed, ParseErrors>,
}

/// Why one entry was not imported; the other entries are unaffected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("the entry's path is absolute or contains `..`, so it is not imported")]
    UnsafePath,
    #[error("the entry is encrypted; export the archive without a password")]
    Encrypted,
    #[error("the entry is compressed with an unsupported method; use deflate or none")]
    UnsupportedCompression,
    #[error("the entry is not UTF-8 text")]
    NotUtf8,
    #[error("the entry could not be unpacked: {0}")]
    Corrupt(String),
}

/// Reads every `.conf` entry of a zip archive.
///
/// Directories and other files are skipped, as are the `__MACOSX/` and `._name`
/// resource-fork entries macOS adds. Names come from the file names, made valid and
/// then unique (`wg0`, `wg0-2`, ...) so that `a/wg0.conf` and `b/wg0.conf` both import.
pub fn import_zip(bytes: &[u8]) -> Result<Vec<ImportedFile>, ZipError> {
    if bytes.len() > MAX_ZIP_BYTES {
        return Err(ZipError::ArchiveTooLarge {
            size: bytes.len(),
            max: MAX_ZIP_BYTES,
        });
    }
    let mut archive =
        ZipArchive::new(Cursor::new(bytes)).map_err(|e| ZipError::Malformed(e.to_string()))?;
    if archive.len() > MAX_ZIP_ENTRIES {
        return Err(ZipError::TooManyEntries {
            count: archive.len(),
            max: MAX_ZIP_ENTRIES,
        });
    }
    let mut files = Vec::new();
    let mut names = HashSet::new();
    for index in 0..archive.len() {
        let entry = archive
            .by_index_data(index)
            .map_err(|e| ZipError::Malformed(e.to_string()))?;
        // Names are UTF-8 when the archive says so and CP437 otherwise; `name` knows.
        let path = match entry.name() {
            Ok(name) => name.into_owned(),
            Err(_) => String::from_utf8_lossy(entry.name_raw()).into_owned(),
        };
        let file_name = path.rsplit(['/', '\\']).next().unwrap_or(&path);
        if entry.is_dir()
            || strip_conf_suffix(file_name).is_none()
            || path.starts_with("__MACOSX/")
            || file_name.starts_with("._")
        {
            continue;
        }
        if entry.size() > MAX_CONF_BYTES {
            return Err(ZipError::EntryTooLarge {
                path,
                max: MAX_CONF_BYTES,
            });
        }
        let outcome = if !is_safe_path(&path) {
            Err(EntryError::UnsafePath)
        } else if entry.encrypted() {
            Err(EntryError::Encrypted)
        } else if !matches!(
            entry.compression(),
            CompressionMethod::Stored | CompressionMethod::Deflated
        ) {
            Err(EntryError::UnsupportedCompression)
        } else {
            match read_entry(&mut archive, index) {
                Ok(Some(data)) => Ok(data),
                Ok(None) => {
                    return Err(ZipError::EntryTooLarge {
                        path,
                        max: MAX_CONF_BYTES,
                    });
                }
                Err(e) => Err(e),
            }
            .and_then(|data| String::from_utf8(data).map_err(|_| EntryError::NotUtf8))
            .map(|text| {
                let name = unique(TunnelName::from_file_name(file_name), &mut names);
                let parsed = crate::parse::parse(&text);
                ImportedTunnel {
                    name,
                    text: Zeroizing::new(text),
                    parsed,
                }
            })
        };
        files.push(ImportedFile { path, outcome });
    }
    Ok(files)
}

/// Writes tunnels to a zip archive as `NAME.conf` entries, deflated.
///
/// Each entry holds [`Config::to_text`], so the user's comments travel with it. The
/// entries are dated 1980-01-01 (this crate reads no clock) and marked 0600, since they
/// hold private keys.
pub fn export_zip<'a>(
    tunnels: impl IntoIterator<Item = (&'a TunnelName, &'a Config)>,
) -> Result<Vec<u8>, ZipError> {
    let texts: Vec<(&TunnelName, Zeroizing<String>)> = tunnels
        .into_iter()
        .map(|(name, config)| (name, Zeroizing::new(config.to_text())))
        .collect();
    export_zip_texts(texts.iter().map(|(name, text)| (*name, text.as_str())))
}

/// Like [`export_zip`], with each tunnel's text as given (the service exports what it
/// stored, or that text with its keys hidden).
pub fn export_zip_texts<'a>(
    tunnels: impl IntoIterator<Item = (&'a TunnelName, &'a str)>,
) -> Result<Vec<u8>, ZipError> {
    let write_error = |e: &dyn fmt::Display| ZipError::Write(e.to_string());
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(DateTime::default())
        .unix_permissions(0o600)
        // The mode travels only in an entry marked as made on Unix; zip's default on
        // Windows (DOS) would drop it, and exports would differ from one OS to another.
        .system(::zip::System::Unix);
    let mut seen = HashSet::new();
    for (name, text) in tunnels {
        if !seen.insert(name.clone()) {
            return Err(ZipError::DuplicateName(name.to_string()));
        }
        if seen.len() > MAX_ZIP_ENTRIES {
            return Err(ZipError::TooManyEntries {
                count: seen.len(),
                max: MAX_ZIP_ENTRIES,
            });
        }
        writer
            .start_file(format!("{name}.conf"), options)
            .map_err(|e| write_error(&e))?;
        writer
            .write_all(text.as_bytes())
            .map_err(|e| write_error(&e))?;
    }
    let cursor = writer.finish().map_err(|e| write_error(&e))?;
    Ok(cursor.into_inner())
}

/// The inflated entry, or `None` if it is larger than [`MAX_CONF_BYTES`] whatever its
/// header claims.
fn read_entry(
    archive: &mut ZipArchive<Cursor<&[u8]>>,
    index: usize,
) -> Result<Option<Vec<u8>>, EntryError> {
    let file = archive
        .by_index(index)
        .map_err(|e| EntryError::Corrupt(e.to_string()))?;
    let mut data = Vec::new();
    file.take(MAX_CONF_BYTES + 1)
        .read_to_end(&mut data)
        .map_err(|e| EntryError::Corrupt(e.to_string()))?;
    Ok((data.len() as u64 <= MAX_CONF_BYTES).then_some(data))
}

/// Refuses absolute paths (`/x`, `\x`, `C:x`) and any `..` component, whichever
/// separator the archiver used.
fn is_safe_path(path: &str) -> bool {
    let absolute = path.starts_with(['/', '\\'])
        || path.as_bytes().get(1) == Some(&b':')
        || path.contains('\0');
    !absolute && !path.split(['/', '\\']).any(|part| part == "..")
}

fn unique(name: TunnelName, taken: &mut HashSet<TunnelName>) -> TunnelName {
    let mut candidate = name.clone();
    let mut n = 2;
    while !taken.insert(candidate.clone()) {
        candidate = name.with_suffix(n);
        n += 1;
    }
    candidate
}

impl fmt::Debug for ImportedTunnel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `text` holds the private key.
        f.debug_struct("ImportedTunnel")
            .field("name", &self.name)
            .field("text", &format_args!("<{} bytes>", self.text.len()))
            .field("parsed", &self.parsed)
            .finish()
    }
}
