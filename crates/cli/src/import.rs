//! `culvert import FILE...`: `.conf` files, `.zip` archives of them, and PNG or JPEG
//! images of QR codes.
//!
//! Every file is read, every QR code decoded and every config checked with
//! culvert-config before the service is asked anything, so a typo in one file (or an
//! image without a code) imports nothing and shows every diagnostic. A config read
//! from a QR code is then imported exactly as a `.conf` file is. Then each file is sent; a refusal of one (a taken name) does not stop
//! the others, and the command fails at the end if any was refused.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail};
use culvert_config::{DiagnosticCode, MAX_CONF_BYTES, MAX_IMAGE_BYTES};
use culvert_ipc::{
    ClientError, ConfigText, ImportedTunnel, IpcError, IpcErrorKind, MAX_FRAME, OnConflict,
    Request, ResponseBody, SecretBytes, TunnelName,
};
use zeroize::{Zeroize as _, Zeroizing};

use crate::commands::{Ctx, unexpected};
use crate::error::request_failed;
use crate::files::read_at_most;
use crate::format;
use crate::service::Service;

/// Room left in a frame for the request around an archive's base64.
const ENVELOPE: usize = 1024;

/// The largest archive that fits in one request: base64 makes 4 bytes of 3.
pub(crate) const MAX_ZIP_SEND: usize = (MAX_FRAME - ENVELOPE) / 4 * 3;

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
enum Input {
    Conf {
        path: PathBuf,
        name: TunnelName,
        text: Zeroizing<String>,
    },
    Zip {
        path: PathBuf,
        bytes: SecretBytes,
    },
}

pub(crate) fn import(
    ctx: &mut Ctx<'_>,
    files: &[PathBuf],
    on_conflict: OnConflict,
) -> anyhow::Result<()> {
    let mut inputs = Vec::new();
    let mut problems = Vec::new();
    for path in files {
        match read_input(path) {
            Ok(input) => inputs.push(input),
            Err(e) => problems.push(e),
        }
    }
    if !problems.is_empty() {
        let summary = format!(
            "{} of {} files cannot be imported; nothing was imported",
            problems.len(),
            files.len()
        );
        return Err(several(ctx, problems, summary));
    }

    let service = ctx.connect()?;
    let mut outcome = Outcome::default();
    for input in inputs {
        match input {
            Input::Conf { path, name, text } => {
                import_conf(
                    ctx,
                    &*service,
                    &path,
                    name,
                    &text,
                    on_conflict,
                    &mut outcome,
                )?;
            }
            Input::Zip { path, bytes } => {
                import_archive(ctx, &*service, &path, bytes, on_conflict, &mut outcome)?;
            }
        }
    }
    match outcome.failures.len() {
        0 => Ok(()),
        1 => Err(outcome.failures.remove(0)),
        n => {
            let summary = format!("{n} of {} tunnels were not imported", outcome.total);
            Err(several(ctx, outcome.failures, summary))
        }
    }
}

#[derive(Default)]
struct Outcome {
    /// Tunnels tried: one per `.conf`, one per entry of an archive.
    total: usize,
    failures: Vec<anyhow::Error>,
}

/// One error as it is; several listed on standard error, then `summary`.
fn several(ctx: &mut Ctx<'_>, mut errors: Vec<anyhow::Error>, summary: String) -> anyhow::Error {
    if errors.len() == 1 {
        return errors.remove(0);
    }
    for e in &errors {
        let _ = writeln!(ctx.console.err(), "error: {e:#}");
    }
    anyhow!(summary)
}

fn read_input(path: &Path) -> anyhow::Result<Input> {
    let shown = path.display();
    let mut bytes = read_at_most(path, MAX_READ as u64)?;
    let is_zip = has_extension(path, &["zip"])
        || bytes.starts_with(b"PK\x03\x04")
        || bytes.starts_with(b"PK\x05\x06");
    if is_zip {
        if bytes.len() > MAX_ZIP_SEND {
            bail!(
                "{shown} is over {} KiB, more than culvertd takes in one archive; unzip it \
                 and import its .conf files",
                MAX_ZIP_SEND / 1024
            );
        }
        let bytes = SecretBytes::new(std::mem::take(&mut *bytes));
        return Ok(Input::Zip {
            path: path.to_owned(),
            bytes,
        });
    }
    let file_name = path
        .file_name()
        .map_or_else(|| shown.to_string(), |n| n.to_string_lossy().into_owned());
    let is_image = has_extension(path, &IMAGE_EXTENSIONS)
        || bytes.starts_with(PNG_MAGIC)
        || bytes.starts_with(JPEG_MAGIC);
    if is_image {
        return read_qr_image(path, &bytes, &file_name);
    }
    if bytes.len() as u64 > MAX_CONF_BYTES {
        bail!(
            "{shown} is over {} KiB, too large for a tunnel config; is it the right file?",
            MAX_CONF_BYTES / 1024
        );
    }
    let text = match String::from_utf8(std::mem::take(&mut *bytes)) {
        Ok(text) => Zeroizing::new(text),
        Err(e) => {
            e.into_bytes().zeroize();
            bail!("{shown} is not a text file (not UTF-8), so not a wg-quick .conf");
        }
    };
    if let Err(errors) = culvert_config::parse(&text) {
        let count = errors.errors().count();
        bail!(
            "{shown} is not a valid tunnel config ({}):\n{}",
            format::count(count, "error"),
            format::diagnostics(errors.diagnostics()).trim_end()
        );
    }
    Ok(Input::Conf {
        path: path.to_owned(),
        name: TunnelName::from_file_name(&file_name),
        text,
    })
}

/// The config in the QR code of an image, checked as a `.conf` file is, named after
/// the image without its extension (`My Phone.png` is `My_Phone`).
fn read_qr_image(path: &Path, bytes: &[u8], file_name: &str) -> anyhow::Result<Input> {
    let shown = path.display();
    if bytes.len() > MAX_IMAGE_BYTES {
        bail!(
            "{shown} is over {} MiB, too large for an image of a QR code",
            MAX_IMAGE_BYTES / (1024 * 1024)
        );
    }
    let text =
        Zeroizing::new(culvert_config::decode_qr(bytes).map_err(|e| anyhow!("{shown}: {e}"))?);
    if let Err(errors) = culvert_config::parse(&text) {
        if errors
            .errors()
            .any(|d| d.code == DiagnosticCode::MissingInterface)
        {
            bail!("the QR code in {shown} is not a tunnel config (it has no [Interface] section)");
        }
        let count = errors.errors().count();
        bail!(
            "the QR code in {shown} is not a valid tunnel config ({}):\n{}",
            format::count(count, "error"),
            format::diagnostics(errors.diagnostics()).trim_end()
        );
    }
    Ok(Input::Conf {
        path: path.to_owned(),
        name: TunnelName::from_file_name(strip_image_extension(file_name)),
        text,
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

fn import_conf(
    ctx: &mut Ctx<'_>,
    service: &dyn Service,
    path: &Path,
    name: TunnelName,
    text: &str,
    on_conflict: OnConflict,
    outcome: &mut Outcome,
) -> anyhow::Result<()> {
    outcome.total += 1;
    let from = path.display().to_string();
    let request = Request::ImportTunnel {
        name: name.clone(),
        config_text: ConfigText::new(text),
        on_conflict,
    };
    match service.request(request) {
        Ok(ResponseBody::Imported(tunnel)) => report(ctx, &tunnel, &from, Some(&name)),
        Ok(other) => Err(unexpected("imported", &other)),
        Err(ClientError::Service(e)) => {
            outcome.failures.push(anyhow!("{from}: {}", explain(&e)));
            Ok(())
        }
        Err(e) => Err(request_failed(e)),
    }
}

fn import_archive(
    ctx: &mut Ctx<'_>,
    service: &dyn Service,
    path: &Path,
    bytes: SecretBytes,
    on_conflict: OnConflict,
    outcome: &mut Outcome,
) -> anyhow::Result<()> {
    let shown = path.display().to_string();
    match service.request(Request::ImportZip { bytes, on_conflict }) {
        Ok(ResponseBody::ZipImported { imported, skipped }) => {
            outcome.total += imported.len() + skipped.len();
            for tunnel in &imported {
                report(ctx, tunnel, &format!("{shown}: {}", tunnel.source), None)?;
            }
            for entry in skipped {
                let e = anyhow!("{shown}: {}: {}", entry.path, explain(&entry.error));
                outcome.failures.push(e);
            }
            if imported.is_empty() && outcome.failures.is_empty() {
                ctx.note(&format!("{shown}: no .conf files inside"))?;
            }
            Ok(())
        }
        Ok(other) => Err(unexpected("zip_imported", &other)),
        Err(ClientError::Service(e)) => {
            outcome.total += 1;
            outcome.failures.push(anyhow!("{shown}: {}", explain(&e)));
            Ok(())
        }
        Err(e) => Err(request_failed(e)),
    }
}

/// One line per stored tunnel, its warnings on standard error.
fn report(
    ctx: &mut Ctx<'_>,
    tunnel: &ImportedTunnel,
    from: &str,
    requested: Option<&TunnelName>,
) -> anyhow::Result<()> {
    let name = &tunnel.name;
    match requested {
        _ if tunnel.replaced => {
            writeln!(
                ctx.out,
                "imported {name} from {from}, replacing the old {name}"
            )?;
        }
        Some(wanted) if wanted != name => {
            writeln!(ctx.out, "imported {name} from {from} ({wanted} was taken)")?;
        }
        _ => writeln!(ctx.out, "imported {name} from {from}")?,
    }
    for warning in &tunnel.warnings {
        ctx.note(&format!("{from}: {warning}"))?;
    }
    Ok(())
}

/// The service's refusal, with a taken name explained in this command's terms.
fn explain(error: &IpcError) -> String {
    match error.kind {
        IpcErrorKind::AlreadyExists => {
            // The service's advice names the protocol's options; these are the flags.
            let what = error.message.split(';').next().unwrap_or(&error.message);
            format!("{what}; use --replace to overwrite it or --rename to import under a free name")
        }
        _ => error.to_string(),
    }
}
