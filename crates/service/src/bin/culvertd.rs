//! `culvertd`: the privileged Culvert service. Serves culvert-ipc on its socket (a named
//! pipe on Windows), keeps the tunnels, restores the active ones at start and undoes a
//! crashed run's network changes. The OS stops it (SIGTERM, or the Windows service
//! control manager) and the tunnels go down, to come back at the next start.
//! `culvertd install|uninstall` registers it with the Windows service control manager.
//! `culvertd recover` undoes the network changes a previous culvertd left (routes, DNS)
//! and lifts the kill switch, which outlives a stopped service on purpose, then exits:
//! for an uninstaller that must not leave the machine cut off, or a person after a
//! crash. The next start puts the kill switch back if a tunnel still wants it.

use anyhow::Context;
use culvertd::os::{self, ServiceCommand};
use culvertd::{DaemonOptions, Hub, LogLayer, LogRing};
use std::sync::Arc;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

enum Action {
    Run(DaemonOptions),
    Manage(ServiceCommand),
    Recover(DaemonOptions),
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
    // `recover` takes the same places as a run, so it finds that run's journals.
    let recover = args.next_if(|arg| arg == "recover").is_some();
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--socket" => socket = value()?.into(),
            "--config-dir" => config_dir = value()?.into(),
            "--state-dir" => state_dir = value()?.into(),
            "--resolv-conf" => resolv_conf = value()?.into(),
            "-h" | "--help" => {
                println!(
                    "usage: culvertd [recover] [--socket PATH] [--config-dir DIR] [--state-dir DIR] [--resolv-conf FILE]\n\
                     \x20      culvertd install|uninstall   (Windows: register with the service manager)\n\
                     recover: undo the network changes a previous culvertd left (routes, DNS), lift the kill switch, then exit\n\
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
    let options = os::Defaults {
        socket,
        config_dir,
        state_dir,
        resolv_conf,
    }
    .options();
    Ok(if recover {
        Action::Recover(options)
    } else {
        Action::Run(options)
    })
}

/// `culvertd recover`: undoes what the journals of earlier runs hold, as the service's
/// start does, lifts the kill switch, and says what it undid.
fn recover(options: &DaemonOptions) -> anyhow::Result<()> {
    // A running culvertd owns the journals of its active tunnels: undoing them under it
    // would take its tunnels' network away while it thinks they are up.
    if culvert_ipc::Stream::connect(&options.socket).is_ok() {
        anyhow::bail!(
            "culvertd is running (it answers on {}): stop it first; it undoes its own \
             changes when it stops",
            options.socket.display()
        );
    }
    let journals = &options.paths.netconf.journal_dir;
    let recovery = culvert_netconf::recover(&options.paths.netconf)
        .with_context(|| format!("cannot read the journals in {}", journals.display()))?;
    if !recovery.undone.is_empty() {
        println!(
            "undid the network changes an earlier culvertd left for {}",
            recovery.undone.join(", ")
        );
    }
    for (interface, error) in &recovery.failed {
        eprintln!("could not undo all the network changes left for {interface}: {error}");
    }
    if !recovery.failed.is_empty() {
        anyhow::bail!(
            "what could not be undone stays journaled in {} for the next try",
            journals.display()
        );
    }
    let blocking = culvert_netconf::killswitch::is_enforced();
    if blocking {
        culvert_netconf::killswitch::enforce(&[]).context("cannot lift the kill switch")?;
        println!(
            "lifted the kill switch (culvertd puts it back when it starts, if a tunnel that \
             has it is still wanted up)"
        );
    }
    if recovery.undone.is_empty() && !blocking {
        println!(
            "nothing to undo: no network changes of an earlier culvertd are journaled in {}",
            journals.display()
        );
    }
    Ok(())
}

fn init_logging(log: Option<(&Arc<LogRing>, &Arc<Hub>)>) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CULVERT_LOG")
        // netlink-packet-route warns about every attribute a newer kernel grew (each
        // interface change): noise in the log a person reads.
        .unwrap_or_else(|_| "info,netlink_packet_route=error".into());
    let registry = tracing_subscriber::registry().with(filter).with(
        tracing_subscriber::fmt::layer()
            .fmt_fields(culvertd::stderr_fields())
            .with_writer(std::io::stderr),
    );
    match log {
        Some((ring, hub)) => registry
            .with(LogLayer {
                ring: Arc::clone(ring),
                hub: Arc::clone(hub),
            })
            .init(),
        None => registry.init(),
    }
}

fn main() -> anyhow::Result<()> {
    let options = match action()? {
        Action::Manage(command) => return Ok(os::manage(command)?),
        Action::Recover(options) => {
            // Each undo that fails is logged with its reason.
            init_logging(None);
            return recover(&options);
        }
        Action::Run(options) => options,
    };
    let hub = Arc::new(Hub::default());
    let log = Arc::new(LogRing::default());
    init_logging(Some((&log, &hub)));
    os::run(options, hub, log)?;
    Ok(())
}
