//! How things look on the terminal: durations and byte counts as `wg show` prints
//! them, tables, tunnel details, service status, log lines and events. Pure
//! functions from data (and a `now` where time matters) to text.

use std::fmt::Write as _;

use culvert_ipc::{
    Event, LogLevel, LogLine, MAX_LOGGED_CHARS, PeerInfo, PeerStats, RoutingMode, ServiceStatus,
    TunnelDetail, TunnelState, TunnelSummary, printable,
};

/// A duration the way `wg show` writes it: `1 minute, 3 seconds`,
/// `2 days, 1 hour`. Zero parts are left out; zero itself is `0 seconds`.
pub fn duration(secs: u64) -> String {
    const UNITS: [(u64, &str); 5] = [
        (365 * 24 * 3600, "year"),
        (24 * 3600, "day"),
        (3600, "hour"),
        (60, "minute"),
        (1, "second"),
    ];
    if secs == 0 {
        return "0 seconds".to_owned();
    }
    let mut left = secs;
    let mut parts = Vec::new();
    for (size, unit) in UNITS {
        let n = left / size;
        left %= size;
        if n > 0 {
            let plural = if n == 1 { "" } else { "s" };
            parts.push(format!("{n} {unit}{plural}"));
        }
    }
    parts.join(", ")
}

/// How long ago `then` was, both in seconds since the Unix epoch: `Now`,
/// `1 minute, 3 seconds ago`, or `in the future` when the clocks disagree.
pub fn time_ago(then: u64, now: u64) -> String {
    match now.checked_sub(then) {
        Some(0) => "Now".to_owned(),
        Some(secs) => format!("{} ago", duration(secs)),
        None => "in the future (check this computer's clock)".to_owned(),
    }
}

/// A byte count the way `wg show` writes it: `92 B`, `1.21 KiB`, `3.50 MiB`, up to TiB.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.2} {}", UNITS[unit])
}

/// `1 error`, `2 errors`.
pub fn count(n: usize, thing: &str) -> String {
    let plural = if n == 1 { "" } else { "s" };
    format!("{n} {thing}{plural}")
}

/// One diagnostic per line, indented: `  line 2, column 14: ...`.
pub fn diagnostics<T: std::fmt::Display>(diagnostics: &[T]) -> String {
    diagnostics.iter().map(|d| format!("  {d}\n")).collect()
}

/// Left-aligned columns two spaces apart, headers first, no trailing spaces.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header_row: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header_row).chain(rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            let pad = width.saturating_sub(cell.chars().count());
            line.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The `culvert list` table, then the reason for each tunnel in error.
pub fn tunnel_table(tunnels: &[TunnelSummary]) -> String {
    if tunnels.is_empty() {
        return NO_TUNNELS.to_owned();
    }
    let rows: Vec<Vec<String>> = tunnels
        .iter()
        .map(|t| {
            vec![
                t.name.to_string(),
                state_name(&t.state).to_owned(),
                routing_mode(t.routing_mode).to_owned(),
                on_off(t.kill_switch).to_owned(),
            ]
        })
        .collect();
    let mut out = table(&["NAME", "STATE", "ROUTING", "KILL SWITCH"], &rows);
    for t in tunnels {
        if let TunnelState::Error { message } = &t.state {
            let _ = writeln!(out, "{}: {message}", t.name);
        }
    }
    out
}

/// One word per state.
pub fn state_name(state: &TunnelState) -> &'static str {
    match state {
        TunnelState::Inactive => "inactive",
        TunnelState::Activating => "activating",
        TunnelState::Active => "active",
        TunnelState::Deactivating => "deactivating",
        TunnelState::Error { .. } => "error",
    }
}

/// The state with the reason of an error: `error: no route`.
pub fn state(state: &TunnelState) -> String {
    match state {
        TunnelState::Error { message } => format!("error: {message}"),
        other => state_name(other).to_owned(),
    }
}

/// As typed on the command line.
pub fn routing_mode(mode: RoutingMode) -> &'static str {
    match mode {
        RoutingMode::Split => "split",
        RoutingMode::Full => "full",
        RoutingMode::ExcludePrivate => "exclude-private",
    }
}

pub fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

/// `culvert list` and `culvert show` without tunnels.
const NO_TUNNELS: &str = "No tunnels yet; add one with: culvert import FILE.conf\n";

/// `culvert show` without a name: each tunnel as [`tunnel_detail`] writes it, a blank
/// line between two, as `wg show` separates interfaces.
pub fn tunnel_details(details: &[TunnelDetail], now: u64) -> String {
    if details.is_empty() {
        return NO_TUNNELS.to_owned();
    }
    details
        .iter()
        .map(|detail| tunnel_detail(detail, now))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `culvert show NAME`: the interface, then each peer, in the manner of `wg show`.
pub fn tunnel_detail(detail: &TunnelDetail, now: u64) -> String {
    let summary = &detail.summary;
    let interface = &detail.interface;
    let active = summary.state == TunnelState::Active;
    let mut out = String::new();
    let _ = writeln!(out, "interface: {}", summary.name);
    let _ = writeln!(out, "  state: {}", state(&summary.state));
    let mut routing = format!(
        "{}, kill switch {}",
        routing_mode(summary.routing_mode),
        on_off(summary.kill_switch)
    );
    if summary.kill_switch && summary.routing_mode != RoutingMode::Full {
        routing.push_str(" (it applies in full mode only)");
    }
    let _ = writeln!(out, "  routing: {routing}");
    let _ = writeln!(out, "  public key: {}", interface.public_key);
    let _ = writeln!(out, "  addresses: {}", list(&interface.addresses));
    let _ = writeln!(out, "  dns: {}", list(&interface.dns));
    let port = interface.listen_port.filter(|&p| p != 0);
    let _ = writeln!(out, "  listening port: {}", or_automatic(port));
    let _ = writeln!(out, "  mtu: {}", or_automatic(interface.mtu));
    if detail.peers.is_empty() {
        let _ = writeln!(
            out,
            "\nNo peers yet; add one with: culvert edit {}",
            summary.name
        );
    }
    for peer in &detail.peers {
        out.push('\n');
        peer_detail(&mut out, peer, active, now);
    }
    out
}

fn peer_detail(out: &mut String, peer: &PeerInfo, active: bool, now: u64) {
    let _ = writeln!(out, "peer: {}", peer.public_key);
    if peer.has_preshared_key {
        let _ = writeln!(out, "  preshared key: (hidden)");
    }
    if let Some(endpoint) = &peer.endpoint {
        let _ = writeln!(out, "  endpoint: {endpoint}");
    }
    let _ = writeln!(out, "  allowed ips: {}", list(&peer.allowed_ips));
    match peer.latest_handshake_unix {
        Some(at) => {
            let _ = writeln!(out, "  latest handshake: {}", time_ago(at, now));
        }
        None if active => {
            let _ = writeln!(out, "  latest handshake: none yet");
        }
        None => {}
    }
    if active || peer.rx_bytes > 0 || peer.tx_bytes > 0 {
        let _ = writeln!(
            out,
            "  transfer: {} received, {} sent",
            bytes(peer.rx_bytes),
            bytes(peer.tx_bytes)
        );
    }
    if let Some(every) = peer.persistent_keepalive.filter(|&k| k > 0) {
        let _ = writeln!(
            out,
            "  persistent keepalive: every {}",
            duration(every.into())
        );
    }
}

fn list<T: ToString>(items: &[T]) -> String {
    if items.is_empty() {
        return "none".to_owned();
    }
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn or_automatic(value: Option<u16>) -> String {
    value.map_or_else(|| "automatic".to_owned(), |v| v.to_string())
}

/// `culvert status`.
pub fn service_status(status: &ServiceStatus, address: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "culvertd {} (protocol {}), pid {}, up {}",
        status.service_version,
        status.protocol_version,
        status.pid,
        duration(status.uptime_secs)
    );
    let _ = writeln!(out, "socket: {address}");
    let active = if status.active.is_empty() {
        "none active".to_owned()
    } else {
        format!("{} active: {}", status.active.len(), list(&status.active))
    };
    let _ = writeln!(out, "tunnels: {} stored, {active}", status.tunnels);
    let _ = writeln!(out, "clients: {} connected", status.clients);
    let scripts = if status.scripts_enabled {
        "enabled (PreUp/PostUp/PreDown/PostDown run as root)"
    } else {
        "disabled"
    };
    let _ = writeln!(out, "scripts: {scripts}");
    out
}

/// `2023-11-14T22:13:20.123Z  WARN culvertd::tunnel: message`.
pub fn log_line(line: &LogLine) -> String {
    let level = match line.level {
        LogLevel::Error => "ERROR",
        LogLevel::Warn => "WARN",
        LogLevel::Info => "INFO",
        LogLevel::Debug => "DEBUG",
        LogLevel::Trace => "TRACE",
    };
    // The service escapes what it logs; an older or foreign one may not, and this may
    // be a root terminal.
    format!(
        "{} {level:>5} {}: {}",
        utc_timestamp(line.unix_millis),
        printable(&line.target, MAX_LOGGED_CHARS),
        printable(&line.message, MAX_LOGGED_CHARS)
    )
}

/// Milliseconds since the Unix epoch as an RFC 3339 UTC time with milliseconds.
pub fn utc_timestamp(unix_millis: u64) -> String {
    let secs = unix_millis / 1000;
    let (year, month, day) = civil_from_days(secs / 86_400);
    let of_day = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60,
        unix_millis % 1000
    )
}

/// Days since 1970-01-01 as (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`, for days after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// An event as `culvert watch` and `culvert log -f` print it: one line each, and one
/// line per peer for statistics.
pub fn event(event: &Event, now: u64) -> String {
    match event {
        Event::TunnelState { name, state: s } => format!("{name}: {}\n", state(s)),
        Event::TunnelsChanged => "the tunnel list changed\n".to_owned(),
        Event::Stats { name, peers } => peers
            .iter()
            .map(|peer| format!("{name}: {}\n", peer_stats(peer, now)))
            .collect(),
        Event::Log(line) => format!("{}\n", log_line(line)),
    }
}

fn peer_stats(peer: &PeerStats, now: u64) -> String {
    let mut out = format!("peer {}", peer.public_key);
    if let Some(endpoint) = &peer.endpoint {
        let _ = write!(out, ", endpoint {endpoint}");
    }
    let handshake = peer
        .latest_handshake_unix
        .map_or_else(|| "none yet".to_owned(), |at| time_ago(at, now));
    let _ = write!(
        out,
        ", latest handshake {handshake}, {} received, {} sent",
        bytes(peer.rx_bytes),
        bytes(peer.tx_bytes)
    );
    out
}
