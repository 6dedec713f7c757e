//! `culvert log [-f]` and `culvert watch`: what the service pushes, printed as it
//! comes until Ctrl-C (the default SIGINT action ends the process; nothing needs
//! cleaning up) or until the service goes away (exit code 3).

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::bail;
use culvert_ipc::{Event, EventKind, IpcError, LogLine, Request, ResponseBody, TunnelName};

use crate::commands::{Ctx, call, call_done, list_tunnels, unexpected};
use crate::error::request_failed;
use crate::format;
use crate::service::Service;

/// How long one wait for an event lasts; the loop waits again, so this only bounds
/// how late a closed connection is noticed.
const POLL: Duration = Duration::from_secs(1);

pub(crate) fn log(ctx: &mut Ctx<'_>, lines: u32, follow: bool, json: bool) -> anyhow::Result<()> {
    let service = ctx.connect()?;
    if follow {
        // Subscribed before reading, so no line falls between the two; lines that
        // come both ways are printed once, by their sequence number.
        subscribe(&*service, [EventKind::Log])?;
    }
    let recent = read_log(&*service, None, lines)?;
    let mut last = None;
    for line in &recent {
        print_log_line(ctx, line, json)?;
        last = Some(line.seq);
    }
    if !follow {
        return Ok(());
    }
    loop {
        let Some(event) = service.next_event(POLL).map_err(request_failed)? else {
            continue;
        };
        let Event::Log(line) = event else { continue };
        match last {
            Some(seen) if line.seq <= seen => continue,
            // Lines missed while the client's queue was full: ask for them.
            Some(seen) if line.seq > seen.saturating_add(1) => {
                let missing = u32::try_from(line.seq - seen - 1).unwrap_or(u32::MAX);
                for missed in read_log(&*service, Some(seen), missing)? {
                    if missed.seq < line.seq {
                        print_log_line(ctx, &missed, json)?;
                    }
                }
            }
            _ => {}
        }
        print_log_line(ctx, &line, json)?;
        last = Some(line.seq);
    }
}

fn read_log(service: &dyn Service, since: Option<u64>, limit: u32) -> anyhow::Result<Vec<LogLine>> {
    match call(service, Request::ReadLog { since, limit })? {
        ResponseBody::LogLines { lines } => Ok(lines),
        other => Err(unexpected("log_lines", &other)),
    }
}

fn print_log_line(ctx: &mut Ctx<'_>, line: &LogLine, json: bool) -> anyhow::Result<()> {
    if json {
        serde_json::to_writer(&mut *ctx.out, line)?;
        writeln!(ctx.out)?;
    } else {
        writeln!(ctx.out, "{}", format::log_line(line))?;
    }
    ctx.out.flush()?;
    Ok(())
}

pub(crate) fn watch(
    ctx: &mut Ctx<'_>,
    name: Option<&TunnelName>,
    json: bool,
) -> anyhow::Result<()> {
    let service = ctx.connect()?;
    subscribe(&*service, [EventKind::Tunnels, EventKind::Stats])?;
    // Where things stand, then what changes.
    let tunnels = list_tunnels(&*service)?;
    if let Some(name) = name
        && !tunnels.iter().any(|t| &t.name == name)
    {
        bail!(IpcError::tunnel_not_found(name));
    }
    for t in tunnels
        .into_iter()
        .filter(|t| name.is_none_or(|n| n == &t.name))
    {
        let event = Event::TunnelState {
            name: t.name,
            state: t.state,
        };
        print_event(ctx, &event, json)?;
    }
    loop {
        let Some(event) = service.next_event(POLL).map_err(request_failed)? else {
            continue;
        };
        let wanted = match (&event, name) {
            (Event::TunnelState { name: n, .. } | Event::Stats { name: n, .. }, Some(name)) => {
                n == name
            }
            _ => true,
        };
        if wanted {
            print_event(ctx, &event, json)?;
        }
    }
}

fn print_event(ctx: &mut Ctx<'_>, event: &Event, json: bool) -> anyhow::Result<()> {
    if json {
        serde_json::to_writer(&mut *ctx.out, event)?;
        writeln!(ctx.out)?;
    } else {
        let now = ctx.now_unix();
        write!(ctx.out, "{}", format::event(event, now))?;
    }
    ctx.out.flush()?;
    Ok(())
}

fn subscribe<const N: usize>(service: &dyn Service, kinds: [EventKind; N]) -> anyhow::Result<()> {
    let events: BTreeSet<EventKind> = kinds.into();
    call_done(service, Request::Subscribe { events })
}
