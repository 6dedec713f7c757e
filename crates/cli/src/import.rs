//! `culvert import FILE...`: `.conf` files, `.zip` archives of them, and PNG or JPEG
//! images of QR codes.
//!
//! Every file is read, every QR code decoded and every config checked with
//! culvert-config before the service is asked anything, so a typo in one file (or an
//! image without a code) imports nothing and shows every diagnostic. A config read
//! from a QR code is then imported exactly as a `.conf` file is. Then each file is sent; a refusal of one (a taken name) does not stop
//! the others, and the command fails at the end if any was refused.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use culvert_ipc::{
    ClientError, ConfigText, ImportFile, ImportedTunnel, IpcError, IpcErrorKind, OnConflict,
    Request, ResponseBody, SecretBytes, TunnelName, read_import_file,
};

use crate::commands::{Ctx, unexpected};
use crate::error::request_failed;
use crate::service::Service;

/// A file read and checked, ready to send, with where it came from.
struct Input {
    path: PathBuf,
    file: ImportFile,
}

pub(crate) fn import(
    ctx: &mut Ctx<'_>,
    files: &[PathBuf],
    on_conflict: OnConflict,
) -> anyhow::Result<()> {
    let mut inputs = Vec::new();
    let mut problems = Vec::new();
    for path in files {
        match read_import_file(path) {
            Ok(file) => inputs.push(Input {
                path: path.clone(),
                file,
            }),
            Err(e) => problems.push(anyhow::Error::new(e)),
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
    for Input { path, file } in inputs {
        match file {
            ImportFile::Conf { name, text } => {
                import_conf(ctx, &*service, &path, name, text, on_conflict, &mut outcome)?;
            }
            ImportFile::Zip { bytes } => {
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

fn import_conf(
    ctx: &mut Ctx<'_>,
    service: &dyn Service,
    path: &Path,
    name: TunnelName,
    config_text: ConfigText,
    on_conflict: OnConflict,
    outcome: &mut Outcome,
) -> anyhow::Result<()> {
    outcome.total += 1;
    let from = path.display().to_string();
    let request = Request::ImportTunnel {
        name: name.clone(),
        config_text,
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
