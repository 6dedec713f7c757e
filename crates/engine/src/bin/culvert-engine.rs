//! `culvert-engine [-f] IFACE`: a WireGuard interface in the foreground, configured only
//! through the UAPI (`wg setconf IFACE FILE`, `wg set IFACE ...`), as `wireguard-go -f`.
//! SIGINT or SIGTERM removes the interface and its socket.

use anyhow::{Context, bail};
use culvert_engine::uapi::UapiServer;
use culvert_engine::{Interface, UAPI_DIRECTORY, tun};
use signal_hook::consts::{SIGINT, SIGTERM};
use std::path::Path;
use std::sync::Arc;

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CULVERT_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "-f" && a != "--foreground")
        .collect();
    let [name] = args.as_slice() else {
        bail!("usage: culvert-engine [-f] INTERFACE");
    };
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    let tun = tun::create(name).with_context(|| format!("cannot create interface {name}"))?;
    let name = tun.name().to_owned();
    let interface = Arc::new(Interface::start(tun).context("cannot start the interface")?);
    let server = UapiServer::start(
        Path::new(UAPI_DIRECTORY),
        &name,
        Arc::clone(&interface) as _,
    )
    .with_context(|| format!("cannot serve the UAPI for {name}"))?;
    tracing::info!(interface = %name, socket = %server.path().display(), port = interface.listen_port(), "running");
    if let Some(signal) = signals.forever().next() {
        tracing::info!(signal, "stopping");
    }
    drop(server);
    match Arc::try_unwrap(interface) {
        Ok(interface) => interface.shutdown(),
        Err(_) => tracing::warn!("a UAPI client still holds the interface; exiting anyway"),
    }
    Ok(())
}
