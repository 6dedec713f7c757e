//! `culvertd`: the privileged Culvert service. Serves culvert-ipc on its socket (a named
//! pipe on Windows), keeps the tunnels, restores the active ones at start and undoes a
//! crashed run's network changes. The OS stops it (SIGTERM, or the Windows service
//! control manager) and the tunnels go down, to come back at the next start.
//! `culvertd install|uninstall` registers it with the Windows service control manager.

use anyhow::Context;
use culvertd::os::{self, ServiceCommand};
use culvertd::{DaemonOptions, Hub, LogLayer, LogRing};
use std::sync::Arc;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

enum Action {
    Run(DaemonOptions),
    Manage(ServiceCommand),
}

fn action() -> anyhow::Result<Action> {
    let defaults = os::defaults();
    let (mut socket, mut config_dir, mut state_dir, mut resolv_conf) = (
        defaults.socket.clone(),
        defaults.config_dir.clone(),
        defaults.state_dir.clone(),
        defaults.resolv_conf.clone(),
    );
    let mut args = std::env::args().skip(1).peekable();
    match args.peek().map(String::as_str) {
        Some("install") => return Ok(Action::Manage(ServiceCommand::Install)),
        Some("uninstall") => return Ok(Action::Manage(ServiceCommand::Uninstall)),
        _ => {}
    }
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--socket" => socket = value()?.into(),
            "--config-dir" => config_dir = value()?.into(),
            "--state-dir" => state_dir = value()?.into(),
            "--resolv-conf" => resolv_conf = value()?.into(),
            "-h" | "--help" => {
                println!(
                    "usage: culvertd [--socket PATH] [--config-dir DIR] [--state-dir DIR] [--resolv-conf FILE]\n\
                     \x20      culvertd install|uninstall   (Windows: register with the service manager)\n\
                     defaults: {}, {} (tunnels in DIR/tunnels), {}, {}",
                    defaults.socket.display(),
                    defaults.config_dir.display(),
                    defaults.state_dir.display(),
                    defaults.resolv_conf.display()
                );
                std::process::exit(0);
            }
            other => anyhow::bail!("unknown argument {other:?} (see culvertd --help)"),
        }
    }
    Ok(Action::Run(
        os::Defaults {
            socket,
            config_dir,
            state_dir,
            resolv_conf,
        }
        .options(),
    ))
}

fn main() -> anyhow::Result<()> {
    let options = match action()? {
        Action::Manage(command) => return Ok(os::manage(command)?),
        Action::Run(options) => options,
    };
    let hub = Arc::new(Hub::default());
    let log = Arc::new(LogRing::default());
    tracing_subscriber::registry()
        .with(
            // netlink-packet-route warns about every attribute a newer kernel grew
            // (each interface change): noise in the log a person reads.
            tracing_subscriber::EnvFilter::try_from_env("CULVERT_LOG")
                .unwrap_or_else(|_| "info,netlink_packet_route=error".into()),
        )
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(LogLayer {
            ring: Arc::clone(&log),
            hub: Arc::clone(&hub),
        })
        .init();
    os::run(options, hub, log)?;
    Ok(())
}
