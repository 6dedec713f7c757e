//! `culvertd`: the privileged Culvert service. Serves culvert-ipc on its socket, keeps
//! the tunnels, restores the active ones at start and undoes a crashed run's network
//! changes. SIGINT/SIGTERM take the tunnels down (they come back at the next start).

use anyhow::Context;
use culvert_ipc::{Listener, SERVICE_GROUP, SOCKET_PATH};
use culvertd::{Hub, LogLayer, LogRing, Manager, ManagerPaths, Server};
use std::path::PathBuf;
use std::sync::Arc;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

struct Options {
    socket: PathBuf,
    paths: ManagerPaths,
}

fn options() -> anyhow::Result<Options> {
    let mut socket = PathBuf::from(SOCKET_PATH);
    let mut config_dir = PathBuf::from("/etc/culvert");
    let mut state_dir = PathBuf::from("/var/lib/culvert");
    let mut resolv_conf = PathBuf::from("/etc/resolv.conf");
    let mut args = std::env::args().skip(1);
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
                     defaults: {SOCKET_PATH}, /etc/culvert (tunnels in DIR/tunnels), /var/lib/culvert, /etc/resolv.conf"
                );
                std::process::exit(0);
            }
            other => anyhow::bail!("unknown argument {other:?} (see culvertd --help)"),
        }
    }
    Ok(Options {
        socket,
        paths: ManagerPaths {
            settings: config_dir.join("culvertd.toml"),
            tunnels: config_dir.join("tunnels"),
            state: state_dir.join("state.json"),
            netconf: culvert_netconf::Paths {
                journal_dir: state_dir.join("netconf"),
                resolv_conf,
            },
        },
    })
}

fn main() -> anyhow::Result<()> {
    let options = options()?;
    let hub = Arc::new(Hub::default());
    let log = Arc::new(LogRing::default());
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::EnvFilter::try_from_env("CULVERT_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(LogLayer {
            ring: Arc::clone(&log),
            hub: Arc::clone(&hub),
        })
        .init();

    let mut manager = Manager::open(&options.paths).context("cannot open the tunnel store")?;
    let listener = Listener::bind(&options.socket, SERVICE_GROUP)
        .with_context(|| format!("cannot listen on {}", options.socket.display()))?;
    manager.restore();
    let server = Server::new(manager, hub, log);
    tracing::info!(socket = %options.socket.display(), "culvertd running");

    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])?;
    {
        let server = Arc::clone(&server);
        std::thread::Builder::new()
            .name("stats".into())
            .spawn(move || server.publish_stats())?;
    }
    {
        let server = Arc::clone(&server);
        std::thread::Builder::new()
            .name("ipc".into())
            .spawn(move || server.serve(listener))?;
    }
    if let Some(signal) = signals.forever().next() {
        tracing::info!(signal, "stopping");
    }
    server.shutdown();
    let _ = std::fs::remove_file(&options.socket);
    Ok(())
}
