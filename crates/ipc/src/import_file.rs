//! Reading what a person asks to import — a `.conf` file, a `.zip` of them, or an
//! image of a QR code — into what the service takes, checked before the service is
//! asked anything. The CLI and the GUI share it, so both accept and refuse the same
//! files with the same words.

use std::io;
use std::path::Path;

use culvert_config::{
    Diagnostic, DiagnosticCode, MAX_CONF_BYTES, MAX_IMAGE_BYTES, QrError, TunnelName,
};
use zeroize::{Zeroize as _, Zeroizing};

use crate::files::read_at_most;
use crate::frame::MAX_FRAME;
use crate::types::{ConfigText, SecretBytes};

/// Room left in a frame for the request around an archive's base64.
const ENVELOPE: usize = 1024;

/// The largest archive that fits in one request: base64 makes 4 bytes of 3.
pub const MAX_ZIP_SEND: usize = (MAX_FRAME - ENVELOPE) / 4 * 3;

/// Files are read up to the largest kind accepted: an image.
const MAX_READ: usize = if MAX_IMAGE_BYTES > MAX_ZIP_SEND {
    MAX_IMAGE_BYTES
} else {
    MAX_ZIP_SEND
};

/// Extensions of the images a QR code is read from (any case).
const IMAGE_EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];
const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";
const JPEG_MAGIC: &[u8] = b"\xff\xd8\xff";

/// A file read and checked, ready to send. A QR code image becomes a `Conf`.
#[derive(Debug)]
pub enum ImportFile {
    /// One tunnel, named after the file (`office.conf`, `office.png` → `office`).
    Conf { name: TunnelName, text: ConfigText },
    /// An archive, sent whole: the service names the tunnels after its entries.
    Zip { bytes: SecretBytes },
}

/// Why a file cannot be imported. `Display` names the file and says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportFileError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error(
        "{path} is over {} KiB, more than culvertd takes in one archive; unzip it and \
         import its .conf files", MAX_ZIP_SEND / 1024
    )]
    ZipTooLarge { path: String },
    #[error(
        "{path} is over {} KiB, too large for a tunnel config; is it the right file?",
        MAX_CONF_BYTES / 1024
    )]
    ConfTooLarge { path: String },
    #[error("{path} is not a text file (not UTF-8), so not a wg-quick .conf")]
    NotText { path: String },
    /// `what` is the file, or "the QR code in" the file.
    #[error("{what} is not a valid tunnel config ({}):\n{}", count_errors(.diagnostics), render(.diagnostics))]
    InvalidConfig {
        what: String,
        diagnostics: Vec<Diagnostic>,
    },
    /// The decoder's reason is part of the message, not a separate cause, so that
    /// `{:#}` does not print it twice.
    #[error("{path}: {reason}")]
    Qr { path: String, reason: QrError },
    #[error("the QR code in {path} is not a tunnel config (it has no [Interface] section)")]
    QrNotATunnel { path: String },
}

impl ImportFileError {
    /// The parser's diagnostics, when the file held a config that does not parse.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            ImportFileError::InvalidConfig { diagnostics, .. } => diagnostics,
            _ => &[],
        }
    }
}

fn count_errors(diagnostics: &[Diagnostic]) -> String {
    match diagnostics.iter().filter(|d| d.is_error()).count() {
        1 => "1 error".to_owned(),
        n => format!("{n} errors"),
    }
}

/// One diagnostic per line, indented, no trailing newline.
fn render(diagnostics: &[Diagnostic]) -> String {
    let lines: Vec<String> = diagnostics.iter().map(|d| format!("  {d}")).collect();
    lines.join("\n")
}

/// Reads `path` and decides by its extension or its first bytes what it is.
pub fn read_import_file(path: &Path) -> Result<ImportFile, ImportFileError> {
    let shown = path.display().to_string();
    let mut bytes = read_at_most(path, MAX_READ as u64)?;
    let is_zip = has_extension(path, &["zip"])
        || bytes.starts_with(b"PK\x03\x04")
        || bytes.starts_with(b"PK\x05\x06");
    if is_zip {
        if bytes.len() > MAX_ZIP_SEND {
            return Err(ImportFileError::ZipTooLarge { path: shown });
        }
        let bytes = SecretBytes::new(std::mem::take(&mut *bytes));
        return Ok(ImportFile::Zip { bytes });
    }
    let file_name = path
        .file_name()
        .map_or_else(|| shown.clone(), |n| n.to_string_lossy().into_owned());
    let is_image = has_extension(path, &IMAGE_EXTENSIONS)
        || bytes.starts_with(PNG_MAGIC)
        || bytes.starts_with(JPEG_MAGIC);
    if is_image {
        let text = config_from_qr(culvert_config::decode_qr(&bytes), &shown)?;
        let name = TunnelName::from_file_name(strip_image_extension(&file_name));
        return Ok(ImportFile::Conf { name, text });
    }
    if bytes.len() as u64 > MAX_CONF_BYTES {
        return Err(ImportFileError::ConfTooLarge { path: shown });
    }
    let text = match String::from_utf8(std::mem::take(&mut *bytes)) {
        Ok(text) => ConfigText::new(text),
        Err(e) => {
            e.into_bytes().zeroize();
            return Err(ImportFileError::NotText { path: shown });
        }
    };
    check(&text, shown)?;
    Ok(ImportFile::Conf {
        name: TunnelName::from_file_name(&file_name),
        text,
    })
}

/// The config in a decoded QR code (`decode_qr` or `decode_qr_rgba`'s result), checked
/// as a `.conf` file is; `source` names the image for messages.
pub fn config_from_qr(
    decoded: Result<String, QrError>,
    source: &str,
) -> Result<ConfigText, ImportFileError> {
    let text = Zeroizing::new(decoded.map_err(|reason| ImportFileError::Qr {
        path: source.to_owned(),
        reason,
    })?);
    let text = ConfigText::new(text.as_str());
    match check(&text, format!("the QR code in {source}")) {
        Err(ImportFileError::InvalidConfig { diagnostics, .. })
            if diagnostics
                .iter()
                .any(|d| d.code == DiagnosticCode::MissingInterface) =>
        {
            Err(ImportFileError::QrNotATunnel {
                path: source.to_owned(),
            })
        }
        Err(e) => Err(e),
        Ok(()) => Ok(text),
    }
}

/// Whether `path` names an image a QR code can be read from.
pub fn is_image_path(path: &Path) -> bool {
    has_extension(path, &IMAGE_EXTENSIONS)
}

fn check(text: &ConfigText, what: String) -> Result<(), ImportFileError> {
    culvert_config::parse(text.as_str())
        .map(drop)
        .map_err(|errors| ImportFileError::InvalidConfig {
            what,
            diagnostics: errors.into_diagnostics(),
        })
}

fn has_extension(path: &Path, extensions: &[&str]) -> bool {
    path.extension()
        .is_some_and(|e| extensions.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// `office.png` is `office`; a name without an image extension stays as it is.
fn strip_image_extension(file_name: &str) -> &str {
    match file_name.rsplit_once('.') {
        Some((stem, extension))
            if !stem.is_empty()
                && IMAGE_EXTENSIONS
                    .iter()
                    .any(|x| extension.eq_ignore_ascii_case(x)) =>
        {
            stem
        }
        _ => file_name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = "[Interface]\nPrivateKey = YNqHbfBQKaGvzefSSgsXh2eEfP2QTiDY8wJbrWbxwlM=\n";

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn tells_confs_zips_and_images_apart_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let conf = write(dir.path(), "office.conf", CONF.as_bytes());
        match read_import_file(&conf).unwrap() {
            ImportFile::Conf { name, text } => {
                assert_eq!(name.as_str(), "office");
                assert_eq!(text.as_str(), CONF);
            }
            other => panic!("{other:?}"),
        }
        let zip = write(dir.path(), "no-extension", b"PK\x03\x04rest");
        assert!(matches!(
            read_import_file(&zip).unwrap(),
            ImportFile::Zip { .. }
        ));
        let png = culvert_config::qr_png(CONF).unwrap();
        let image = write(dir.path(), "My Phone.PNG", &png);
        match read_import_file(&image).unwrap() {
            ImportFile::Conf { name, text } => {
                assert_eq!(name.as_str(), "My_Phone");
                assert_eq!(text.as_str(), CONF);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refusals_say_what_and_where() {
        let dir = tempfile::tempdir().unwrap();
        let bad = write(dir.path(), "bad.conf", b"[Interface]\nPrivateKye = x\n");
        let e = read_import_file(&bad).unwrap_err();
        let shown = e.to_string();
        assert!(
            shown.contains("bad.conf is not a valid tunnel config"),
            "{shown}"
        );
        assert!(shown.contains("line 2, column 1"), "{shown}");
        assert!(!e.diagnostics().is_empty());

        let binary = write(dir.path(), "x.conf", &[0xff, 0xfe, 0x00]);
        assert!(matches!(
            read_import_file(&binary),
            Err(ImportFileError::NotText { .. })
        ));
        let not_a_tunnel = culvert_config::qr_png("https://example.invalid").unwrap();
        let image = write(dir.path(), "link.png", &not_a_tunnel);
        assert!(matches!(
            read_import_file(&image),
            Err(ImportFileError::QrNotATunnel { .. })
        ));
        let missing = dir.path().join("missing.conf");
        let e = read_import_file(&missing).unwrap_err();
        assert!(e.to_string().contains("missing.conf"), "{e}");
    }
}
