//! Imports from files, QR images and the clipboard, one tunnel at a time so that a
//! name that is taken can be asked about: the tunnel waits here (its text never goes
//! to the window) until the person chooses Replace, Keep both or Skip.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use culvert_config::{TunnelName, import_zip};
use culvert_ipc::{
    ClientError, ConfigText, ImportFile, ImportedTunnel, IpcErrorKind, OnConflict, Request,
    ResponseBody, config_from_qr, read_import_file,
};
use serde::{Deserialize, Serialize};

use crate::backend::{Backend, lock};
use crate::error::CommandError;

/// What an import did: stored, waiting for a decision, or refused.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    pub imported: Vec<ImportedTunnel>,
    pub conflicts: Vec<Conflict>,
    pub failed: Vec<Failed>,
}

/// A tunnel whose name is taken; answer with [`Backend::resolve_conflict`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Conflict {
    pub id: u64,
    pub name: TunnelName,
    pub source: String,
}

/// Something that was not imported, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failed {
    pub source: String,
    pub kind: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<Vec<String>>,
}

impl Failed {
    fn new(source: &str, error: CommandError) -> Self {
        Failed {
            source: source.to_owned(),
            kind: error.kind,
            message: error.message,
            diagnostics: error.diagnostics,
        }
    }
}

/// The person's answer to a [`Conflict`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictAction {
    Replace,
    /// Keep both: import under a free name.
    Rename,
    Skip,
}

/// An image handed over by the window: a file's bytes, or pixels from a canvas.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum QrImage {
    Encoded {
        base64: String,
    },
    Rgba {
        width: u32,
        height: u32,
        base64: String,
    },
}

struct Waiting {
    name: TunnelName,
    text: ConfigText,
    source: String,
}

/// Tunnels waiting for a decision, by conflict id.
#[derive(Default)]
pub struct PendingImports {
    next_id: AtomicU64,
    waiting: Mutex<HashMap<u64, Waiting>>,
}

impl std::fmt::Debug for PendingImports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The waiting configs hold keys: only their number is shown.
        let waiting = lock(&self.waiting).len();
        f.debug_struct("PendingImports")
            .field("waiting", &waiting)
            .finish()
    }
}

impl Backend {
    /// Imports `.conf` files, zip archives and QR code images, each tunnel on its own.
    pub fn import_files(&self, paths: &[String]) -> ImportReport {
        let mut report = ImportReport::default();
        for path in paths {
            match read_import_file(Path::new(path)) {
                Ok(ImportFile::Conf { name, text }) => {
                    self.import_one(name, text, path, &mut report)
                }
                Ok(ImportFile::Zip { bytes }) => {
                    self.import_archive(bytes.as_bytes(), path, &mut report)
                }
                Err(e) => report
                    .failed
                    .push(Failed::new(path, CommandError::from(&e))),
            }
        }
        report
    }

    /// Every `.conf` of an archive, unpacked here so that each entry's name conflict
    /// can be asked about on its own.
    fn import_archive(&self, bytes: &[u8], source: &str, report: &mut ImportReport) {
        let entries = match import_zip(bytes) {
            Ok(entries) => entries,
            Err(e) => {
                report.failed.push(Failed::new(
                    source,
                    CommandError::invalid_input(e.to_string()),
                ));
                return;
            }
        };
        if entries.is_empty() {
            let error = CommandError::invalid_input("the archive holds no .conf files");
            report.failed.push(Failed::new(source, error));
        }
        for entry in entries {
            let entry_source = format!("{source}: {}", entry.path);
            match entry.outcome {
                Ok(tunnel) => {
                    let text = ConfigText::new(tunnel.text.as_str());
                    self.import_one(tunnel.name, text, &entry_source, report);
                }
                Err(e) => {
                    let error = CommandError::invalid_input(e.to_string());
                    report.failed.push(Failed::new(&entry_source, error));
                }
            }
        }
    }

    /// A QR code from the window: an image file's bytes or a camera frame.
    pub fn import_qr_image(&self, image: &QrImage, name: Option<TunnelName>) -> ImportReport {
        use base64::Engine as _;
        let decode = |text: &str| base64::engine::general_purpose::STANDARD.decode(text);
        let decoded = match image {
            QrImage::Encoded { base64 } => match decode(base64) {
                Ok(bytes) => culvert_config::decode_qr(&bytes),
                Err(e) => {
                    return failed(
                        "image",
                        CommandError::invalid_input(format!("not base64: {e}")),
                    );
                }
            },
            QrImage::Rgba {
                width,
                height,
                base64,
            } => match decode(base64) {
                Ok(pixels) => culvert_config::decode_qr_rgba(*width, *height, &pixels),
                Err(e) => {
                    return failed(
                        "image",
                        CommandError::invalid_input(format!("not base64: {e}")),
                    );
                }
            },
        };
        self.import_decoded_qr(decoded, "the image", name)
    }

    /// A config read from a QR code, checked as a file is, then imported.
    pub fn import_decoded_qr(
        &self,
        decoded: Result<String, culvert_config::QrError>,
        source: &str,
        name: Option<TunnelName>,
    ) -> ImportReport {
        match config_from_qr(decoded, source) {
            Ok(text) => {
                let mut report = ImportReport::default();
                let name = name.unwrap_or_else(|| TunnelName::from_file_name("qr-import"));
                self.import_one(name, text, source, &mut report);
                report
            }
            Err(e) => failed(source, CommandError::from(&e)),
        }
    }

    /// Stores one tunnel; a taken name waits for [`Backend::resolve_conflict`].
    fn import_one(
        &self,
        name: TunnelName,
        text: ConfigText,
        source: &str,
        report: &mut ImportReport,
    ) {
        match self.send_import(&name, &text, OnConflict::Fail) {
            Ok(imported) => report.imported.push(imported),
            Err(Some(error)) => report.failed.push(Failed::new(source, error)),
            Err(None) => {
                let id = self.pending.next_id.fetch_add(1, Ordering::Relaxed) + 1;
                report.conflicts.push(Conflict {
                    id,
                    name: name.clone(),
                    source: source.to_owned(),
                });
                let waiting = Waiting {
                    name,
                    text,
                    source: source.to_owned(),
                };
                lock(&self.pending.waiting).insert(id, waiting);
            }
        }
    }

    /// `Err(None)`: the name is taken.
    fn send_import(
        &self,
        name: &TunnelName,
        text: &ConfigText,
        on_conflict: OnConflict,
    ) -> Result<ImportedTunnel, Option<CommandError>> {
        let request = Request::ImportTunnel {
            name: name.clone(),
            config_text: text.clone(),
            on_conflict,
        };
        match self.request(request) {
            Ok(ResponseBody::Imported(imported)) => Ok(imported),
            Ok(other) => Err(Some(CommandError::unexpected(
                "imported",
                other.type_name(),
            ))),
            Err(e) if e.kind == "already_exists" && on_conflict == OnConflict::Fail => Err(None),
            Err(e) => Err(Some(e)),
        }
    }

    /// Carries out the person's answer to conflict `id`.
    pub fn resolve_conflict(
        &self,
        id: u64,
        action: ConflictAction,
    ) -> Result<ImportReport, CommandError> {
        let waiting = lock(&self.pending.waiting)
            .remove(&id)
            .ok_or_else(|| CommandError::new("not_found", "that import was already answered"))?;
        let mut report = ImportReport::default();
        let on_conflict = match action {
            ConflictAction::Skip => return Ok(report),
            ConflictAction::Replace => OnConflict::Replace,
            ConflictAction::Rename => OnConflict::Rename,
        };
        match self.send_import(&waiting.name, &waiting.text, on_conflict) {
            Ok(imported) => report.imported.push(imported),
            Err(error) => {
                let error = error.unwrap_or_else(|| {
                    CommandError::from(ClientError::Service(culvert_ipc::IpcError::new(
                        IpcErrorKind::AlreadyExists,
                        "the name is still taken",
                    )))
                });
                report.failed.push(Failed::new(&waiting.source, error));
            }
        }
        Ok(report)
    }
}

fn failed(source: &str, error: CommandError) -> ImportReport {
    ImportReport {
        failed: vec![Failed::new(source, error)],
        ..ImportReport::default()
    }
}
