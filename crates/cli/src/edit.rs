//! `culvert edit NAME`: the redacted config in the user's editor, checked locally
//! with culvert-config, re-edited until it is right, then sent.
//!
//! The text comes from the service with its keys replaced by `(hidden)` and goes
//! back that way: the service restores the stored keys (culvert-ipc's
//! `restore_redacted_keys`), so no private key ever reaches this process. To check
//! the text locally, the placeholders are restored the same way from a copy of the
//! original in which they are stand-in keys: a placeholder the service could restore
//! passes, one it could not (a `(hidden)` pasted into a new peer) fails here exactly
//! as it would there.

use std::fs;
use std::io::Write as _;

use anyhow::{Context as _, anyhow};
use culvert_config::TunnelName;
use culvert_ipc::{
    ClientError, ConfigText, IpcErrorKind, REDACTED, Request, ResponseBody, restore_redacted_keys,
};
use tempfile::NamedTempFile;

use crate::commands::{Ctx, call, unexpected};
use crate::console::confirm;
use crate::error::request_failed;
use crate::format;
use crate::service::Service;

pub(crate) fn edit(ctx: &mut Ctx<'_>, name: &TunnelName) -> anyhow::Result<()> {
    let service = ctx.connect()?;
    let original = match call(&*service, Request::GetTunnel { name: name.clone() })? {
        ResponseBody::Tunnel(detail) => detail.config_text.as_str().to_owned(),
        other => return Err(unexpected("tunnel", &other)),
    };
    let file = temp_file(name, &original)?;
    loop {
        ctx.console.edit(file.path())?;
        let edited = fs::read_to_string(file.path())
            .with_context(|| format!("could not read {} back", file.path().display()))?;
        if edited == original {
            writeln!(ctx.out, "no changes; {name} was not changed")?;
            return Ok(());
        }
        let problems = match check(&original, &edited) {
            Ok(()) => match save(ctx, &*service, name, edited) {
                Ok(None) => return Ok(()),
                Ok(Some(problems)) => problems,
                Err(e) => return Err(keep(ctx, file, e)),
            },
            Err(problems) => problems,
        };
        let err = ctx.console.err();
        writeln!(err, "{name}: {}:", format::count(problems.errors, "error"))?;
        write!(err, "{}", format::diagnostics(&problems.lines))?;
        let again = ctx.console.stdin_is_terminal() && confirm(ctx.console, "Edit again?", true)?;
        if !again {
            let e = anyhow!("{name} was not changed: its config has errors");
            return Err(keep(ctx, file, e));
        }
    }
}

/// Sends the edit: `None` once saved, the problems when the service found some
/// (it checks too, against the stored keys; they are fixed in the same loop).
fn save(
    ctx: &mut Ctx<'_>,
    service: &dyn Service,
    name: &TunnelName,
    edited: String,
) -> anyhow::Result<Option<Problems>> {
    let request = Request::UpdateTunnel {
        name: name.clone(),
        config_text: ConfigText::new(edited),
    };
    match service.request(request) {
        Ok(ResponseBody::Updated { warnings }) => {
            for warning in &warnings {
                ctx.note(warning)?;
            }
            writeln!(ctx.out, "saved {name}")?;
            Ok(None)
        }
        Ok(other) => Err(unexpected("updated", &other)),
        Err(ClientError::Service(e)) => match e.kind {
            IpcErrorKind::InvalidConfig { diagnostics } => Ok(Some(Problems {
                errors: diagnostics
                    .iter()
                    .filter(|d| !d.contains(": warning: "))
                    .count(),
                lines: diagnostics,
            })),
            _ => Err(ClientError::Service(e).into()),
        },
        Err(e) => Err(request_failed(e)),
    }
}

/// What is wrong with an edited config: every diagnostic as text (warnings too, so
/// line numbers the user sees are complete), and how many are errors.
#[derive(Debug)]
struct Problems {
    errors: usize,
    lines: Vec<String>,
}

/// Any 32 bytes are a valid key of either kind (these spell
/// `culvert-cli stand-in key 0123456`). Fixed rather than random, so the check is
/// reproducible and needs no randomness.
const STAND_IN_KEY: &str = "Y3VsdmVydC1jbGkgc3RhbmQtaW4ga2V5IDAxMjM0NTY=";

/// Checks `edited` as the service will once it has restored the keys `original`
/// hid (see the module comment).
fn check(original: &str, edited: &str) -> Result<(), Problems> {
    let stored = original.replace(REDACTED, STAND_IN_KEY);
    let restored = restore_redacted_keys(edited, &stored);
    match culvert_config::parse(restored.as_str()) {
        Ok(_) => Ok(()),
        Err(errors) => Err(Problems {
            errors: errors.errors().count(),
            lines: errors
                .diagnostics()
                .iter()
                .map(ToString::to_string)
                .collect(),
        }),
    }
}

/// A private (0600) temporary `.conf` holding `text`, removed when dropped. The
/// `.conf` suffix lets editors pick their syntax highlighting.
fn temp_file(name: &TunnelName, text: &str) -> anyhow::Result<NamedTempFile> {
    let mut file = tempfile::Builder::new()
        .prefix(&format!("culvert-{name}-"))
        .suffix(".conf")
        .tempfile()
        .context("could not create a temporary file to edit")?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.flush())
        .with_context(|| format!("could not write {}", file.path().display()))?;
    Ok(file)
}

/// Keeps the edited file (it holds no key) when the edit was not saved, so the
/// user's work is not lost, and says where it is.
fn keep(ctx: &mut Ctx<'_>, file: NamedTempFile, error: anyhow::Error) -> anyhow::Error {
    if let Ok((_, path)) = file.keep() {
        let _ = ctx.note(&format!("your edits are kept in {}", path.display()));
    }
    error
}
