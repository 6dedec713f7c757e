//! The commands that are one or two requests each, and what every command shares:
//! [`Ctx`], connecting, sending a request, printing JSON, asking for confirmation.

use std::io::Write;
use std::path::Path;
use std::time::UNIX_EPOCH;

use anyhow::{Context as _, anyhow, bail};
use culvert_ipc::{
    ClientError, IpcErrorKind, Request, ResponseBody, RoutingMode, TunnelDetail, TunnelName,
    TunnelSummary,
};
use serde::Serialize;

use crate::console::{Console, confirm};
use crate::error::{Unreachable, UsageError, request_failed};
use crate::format;
use crate::service::{Connector, Service};
use culvert_ipc::write_private;

/// What a command works with.
pub(crate) struct Ctx<'a> {
    pub(crate) out: &'a mut dyn Write,
    pub(crate) console: &'a mut dyn Console,
    pub(crate) connector: &'a mut dyn Connector,
    pub(crate) socket: &'a Path,
}

impl Ctx<'_> {
    /// Connects to culvertd; any failure is [`Unreachable`] (exit code 3).
    pub(crate) fn connect(&mut self) -> anyhow::Result<Box<dyn Service>> {
        self.connector
            .connect(self.socket)
            .map_err(|e| Unreachable(e).into())
    }

    /// Seconds since the Unix epoch, by the console's clock.
    pub(crate) fn now_unix(&self) -> u64 {
        self.console
            .now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    pub(crate) fn print_json<T: Serialize + ?Sized>(&mut self, value: &T) -> anyhow::Result<()> {
        serde_json::to_writer_pretty(&mut *self.out, value)?;
        writeln!(self.out)?;
        Ok(())
    }

    /// A warning or note on standard error.
    pub(crate) fn note(&mut self, text: &str) -> anyhow::Result<()> {
        writeln!(self.console.err(), "{text}")?;
        Ok(())
    }

    /// Asks before something that cannot be undone or that shows a secret, unless
    /// `yes`. Without a terminal to ask on, refuses as a usage error; a "no" is an
    /// error too, so a script sees that nothing happened.
    pub(crate) fn check_confirmation(
        &mut self,
        yes: bool,
        what: &str,
        question: &str,
    ) -> anyhow::Result<Confirmation> {
        if yes {
            return Ok(Confirmation::Given);
        }
        if !self.console.stdin_is_terminal() {
            return Err(UsageError(format!(
                "refusing to {what} without confirmation: standard input is not a terminal; \
                 pass --yes"
            ))
            .into());
        }
        Ok(Confirmation::Ask(question.to_owned()))
    }

    /// Asks the question of [`Ctx::check_confirmation`], once connected.
    pub(crate) fn confirmed(
        &mut self,
        confirmation: Confirmation,
        declined: &str,
    ) -> anyhow::Result<()> {
        match confirmation {
            Confirmation::Given => Ok(()),
            Confirmation::Ask(question) => {
                if confirm(self.console, &question, false)? {
                    Ok(())
                } else {
                    bail!("{declined}")
                }
            }
        }
    }
}

/// Whether a confirmation is still to be asked. Checked before connecting (a
/// refusal needs no service), asked after (a question about a service that is not
/// running is a waste of the user's time).
pub(crate) enum Confirmation {
    Given,
    Ask(String),
}

/// Sends `request`; a refusal by the service is the error.
pub(crate) fn call(service: &dyn Service, request: Request) -> anyhow::Result<ResponseBody> {
    service.request(request).map_err(request_failed)
}

/// Sends a request whose answer is `done`.
pub(crate) fn call_done(service: &dyn Service, request: Request) -> anyhow::Result<()> {
    match call(service, request)? {
        ResponseBody::Done => Ok(()),
        other => Err(unexpected("done", &other)),
    }
}

pub(crate) fn unexpected(expected: &str, got: &ResponseBody) -> anyhow::Error {
    anyhow!(
        "culvertd answered with {} where {expected} was expected; this is a bug",
        got.type_name()
    )
}

pub(crate) fn list_tunnels(service: &dyn Service) -> anyhow::Result<Vec<TunnelSummary>> {
    match call(service, Request::ListTunnels)? {
        ResponseBody::TunnelList { tunnels } => Ok(tunnels),
        other => Err(unexpected("tunnel_list", &other)),
    }
}

pub(crate) fn list(ctx: &mut Ctx<'_>, json: bool) -> anyhow::Result<()> {
    let service = ctx.connect()?;
    let tunnels = list_tunnels(&*service)?;
    if json {
        return ctx.print_json(&tunnels);
    }
    write!(ctx.out, "{}", format::tunnel_table(&tunnels))?;
    Ok(())
}

/// One tunnel, or every tunnel when `name` is `None` (a JSON array then).
pub(crate) fn show(ctx: &mut Ctx<'_>, name: Option<&TunnelName>, json: bool) -> anyhow::Result<()> {
    let service = ctx.connect()?;
    let Some(name) = name else {
        return show_all(ctx, &*service, json);
    };
    let request = Request::GetTunnel { name: name.clone() };
    let detail = match call(&*service, request)? {
        ResponseBody::Tunnel(detail) => detail,
        other => return Err(unexpected("tunnel", &other)),
    };
    if json {
        return ctx.print_json(&detail);
    }
    let now = ctx.now_unix();
    write!(ctx.out, "{}", format::tunnel_detail(&detail, now))?;
    Ok(())
}

/// Every tunnel listed, each as `show NAME` shows it. A tunnel deleted between the
/// list and its turn is left out.
fn show_all(ctx: &mut Ctx<'_>, service: &dyn Service, json: bool) -> anyhow::Result<()> {
    let mut details: Vec<TunnelDetail> = Vec::new();
    for tunnel in list_tunnels(service)? {
        match service.request(Request::GetTunnel { name: tunnel.name }) {
            Ok(ResponseBody::Tunnel(detail)) => details.push(detail),
            Ok(other) => return Err(unexpected("tunnel", &other)),
            Err(ClientError::Service(e)) if e.kind == IpcErrorKind::NotFound => {}
            Err(e) => return Err(request_failed(e)),
        }
    }
    if json {
        return ctx.print_json(&details);
    }
    let now = ctx.now_unix();
    write!(ctx.out, "{}", format::tunnel_details(&details, now))?;
    Ok(())
}

pub(crate) fn status(ctx: &mut Ctx<'_>, json: bool) -> anyhow::Result<()> {
    let service = ctx.connect()?;
    let status = match call(&*service, Request::ServiceStatus)? {
        ResponseBody::Status(status) => status,
        other => return Err(unexpected("status", &other)),
    };
    if json {
        return ctx.print_json(&status);
    }
    let address = crate::display_address(ctx.socket);
    write!(ctx.out, "{}", format::service_status(&status, &address))?;
    Ok(())
}

pub(crate) fn up(ctx: &mut Ctx<'_>, name: &TunnelName) -> anyhow::Result<()> {
    let service = ctx.connect()?;
    call_done(&*service, Request::Activate { name: name.clone() })?;
    writeln!(ctx.out, "{name} is up")?;
    Ok(())
}

pub(crate) fn down(ctx: &mut Ctx<'_>, name: &TunnelName) -> anyhow::Result<()> {
    let service = ctx.connect()?;
    call_done(&*service, Request::Deactivate { name: name.clone() })?;
    writeln!(ctx.out, "{name} is down")?;
    Ok(())
}

pub(crate) fn mode(ctx: &mut Ctx<'_>, name: &TunnelName, mode: RoutingMode) -> anyhow::Result<()> {
    let service = ctx.connect()?;
    let request = Request::SetRoutingMode {
        name: name.clone(),
        mode,
    };
    call_done(&*service, request)?;
    writeln!(
        ctx.out,
        "{name}: routing mode {}",
        format::routing_mode(mode)
    )?;
    Ok(())
}

pub(crate) fn kill_switch(
    ctx: &mut Ctx<'_>,
    name: &TunnelName,
    enabled: bool,
) -> anyhow::Result<()> {
    let service = ctx.connect()?;
    let request = Request::SetKillSwitch {
        name: name.clone(),
        enabled,
    };
    call_done(&*service, request)?;
    writeln!(ctx.out, "{name}: kill switch {}", format::on_off(enabled))?;
    if enabled {
        // A kill switch that does nothing must not look like protection.
        let tunnels = list_tunnels(&*service)?;
        if let Some(t) = tunnels
            .iter()
            .find(|t| &t.name == name && t.routing_mode != RoutingMode::Full)
        {
            let note = format!(
                "note: the kill switch applies in full routing mode only; {name} is in {} mode \
                 (switch with: culvert mode {name} full)",
                format::routing_mode(t.routing_mode)
            );
            ctx.note(&note)?;
        }
    }
    Ok(())
}

pub(crate) fn create(ctx: &mut Ctx<'_>, name: &TunnelName) -> anyhow::Result<()> {
    let service = ctx.connect()?;
    let detail = match call(&*service, Request::CreateTunnel { name: name.clone() })? {
        ResponseBody::Tunnel(detail) => detail,
        other => return Err(unexpected("tunnel", &other)),
    };
    writeln!(ctx.out, "created {}", detail.summary.name)?;
    writeln!(ctx.out, "public key: {}", detail.interface.public_key)?;
    writeln!(
        ctx.out,
        "add its peers with: culvert edit {}",
        detail.summary.name
    )?;
    Ok(())
}

pub(crate) fn rename(ctx: &mut Ctx<'_>, from: &TunnelName, to: &TunnelName) -> anyhow::Result<()> {
    let service = ctx.connect()?;
    let request = Request::RenameTunnel {
        from: from.clone(),
        to: to.clone(),
    };
    call_done(&*service, request)?;
    writeln!(ctx.out, "renamed {from} to {to}")?;
    Ok(())
}

pub(crate) fn delete(ctx: &mut Ctx<'_>, name: &TunnelName, yes: bool) -> anyhow::Result<()> {
    let confirmation = ctx.check_confirmation(
        yes,
        &format!("delete {name}"),
        &format!("Delete tunnel {name} and its keys? This cannot be undone."),
    )?;
    let service = ctx.connect()?;
    ctx.confirmed(confirmation, &format!("{name} was not deleted"))?;
    call_done(&*service, Request::DeleteTunnel { name: name.clone() })?;
    writeln!(ctx.out, "deleted {name}")?;
    Ok(())
}

/// `culvert export NAME --json`.
#[derive(Serialize)]
struct ExportedJson<'a> {
    name: &'a TunnelName,
    include_private_key: bool,
    text: &'a str,
}

pub(crate) fn export(
    ctx: &mut Ctx<'_>,
    name: &TunnelName,
    include_private_key: bool,
    output: Option<&Path>,
    json: bool,
) -> anyhow::Result<()> {
    let service = ctx.connect()?;
    let request = Request::ExportTunnel {
        name: name.clone(),
        include_private_key,
    };
    let text = match call(&*service, request)? {
        ResponseBody::Exported { text } => text,
        other => return Err(unexpected("exported", &other)),
    };
    match output {
        Some(path) => {
            write_private(path, text.as_str().as_bytes())?;
            writeln!(ctx.out, "wrote {name} to {}", path.display())?;
        }
        None if json => {
            let exported = ExportedJson {
                name,
                include_private_key,
                text: text.as_str(),
            };
            ctx.print_json(&exported)?;
        }
        None => {
            ctx.out.write_all(text.as_str().as_bytes())?;
            if !text.as_str().ends_with('\n') {
                writeln!(ctx.out)?;
            }
        }
    }
    Ok(())
}

pub(crate) fn export_all(
    ctx: &mut Ctx<'_>,
    output: &Path,
    include_private_keys: bool,
) -> anyhow::Result<()> {
    let service = ctx.connect()?;
    let request = Request::ExportAllZip {
        include_private_keys,
    };
    let bytes = match call(&*service, request)? {
        ResponseBody::Zip { bytes } => bytes,
        other => return Err(unexpected("zip", &other)),
    };
    write_private(output, bytes.as_bytes())?;
    writeln!(ctx.out, "wrote every tunnel to {}", output.display())?;
    Ok(())
}

/// `culvert export NAME --qr`, and its older spelling `culvert qr NAME`.
pub(crate) fn qr(ctx: &mut Ctx<'_>, name: &TunnelName, yes: bool) -> anyhow::Result<()> {
    let confirmation = ctx.check_confirmation(
        yes,
        &format!("show the private key of {name}"),
        &format!(
            "The QR code holds the private key of {name}: anyone who sees or photographs it \
             can use the tunnel. Show it?"
        ),
    )?;
    let service = ctx.connect()?;
    ctx.confirmed(confirmation, "the QR code was not shown")?;
    let request = Request::ExportTunnel {
        name: name.clone(),
        include_private_key: true,
    };
    let text = match call(&*service, request)? {
        ResponseBody::Exported { text } => text,
        other => return Err(unexpected("exported", &other)),
    };
    let code = culvert_config::qr_terminal(text.as_str())
        .with_context(|| format!("could not draw {name} as a QR code"))?;
    writeln!(ctx.out, "{code}")?;
    ctx.note(
        "Scan it in the WireGuard app (add a tunnel, scan from QR code), then clear the screen.",
    )?;
    Ok(())
}
