//! Linux and macOS: systemd or launchd start culvertd and stop it with SIGTERM.

use super::{Defaults, ServiceCommand};
use crate::daemon::{Daemon, DaemonError, DaemonOptions};
use crate::hub::Hub;
use crate::logring::LogRing;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use std::sync::Arc;

#[cfg(not(target_os = "macos"))]
pub(super) fn defaults() -> Defaults {
    Defaults {
        socket: culvert_ipc::DEFAULT_ADDRESS.into(),
        config_dir: "/etc/culvert".into(),
        state_dir: "/var/lib/culvert".into(),
        resolv_conf: "/etc/resolv.conf".into(),
    }
}

/// Apple's places for a system daemon: settings and data under
/// `/Library/Application Support` (DESIGN.md), the socket under `/var/run`, which is
/// emptied at boot (`/run` does not exist on macOS).
#[cfg(target_os = "macos")]
pub(super) fn defaults() -> Defaults {
    let support = std::path::PathBuf::from("/Library/Application Support/Culvert");
    Defaults {
        socket: culvert_ipc::DEFAULT_ADDRESS.into(),
        state_dir: support.join("state"),
        config_dir: support,
        resolv_conf: "/etc/resolv.conf".into(),
    }
}

pub(super) fn run(
    options: DaemonOptions,
    hub: Arc<Hub>,
    log: Arc<LogRing>,
) -> Result<(), DaemonError> {
    // Signals are caught before the tunnels come up, so none is missed.
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|e| DaemonError::Service(format!("cannot catch signals: {e}")))?;
    let daemon = Daemon::start(&options, hub, log)?;
    for signal in signals.forever() {
        if signal == SIGHUP {
            tracing::info!("SIGHUP: re-resolving the endpoints of stale sessions");
            daemon.refresh_endpoints_soon();
            continue;
        }
        tracing::info!(signal, "asked to stop");
        break;
    }
    daemon.stop();
    Ok(())
}

pub(super) fn manage(command: ServiceCommand) -> Result<(), DaemonError> {
    let (how, unit) = if cfg!(target_os = "macos") {
        ("launchd", "installers/macos/org.culvert.culvertd.plist")
    } else {
        ("systemd", "installers/linux/culvertd.service")
    };
    let verb = match command {
        ServiceCommand::Install => "registers",
        ServiceCommand::Uninstall => "unregisters",
    };
    Err(DaemonError::Service(format!(
        "on this system {how} runs culvertd: the package {verb} it with {unit}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_points_at_the_package_and_the_defaults_lay_out_the_paths() {
        let error = manage(ServiceCommand::Install).unwrap_err().to_string();
        assert!(error.contains("installers/"), "{error}");
        let defaults = defaults();
        assert_eq!(
            defaults.socket.to_str(),
            Some(culvert_ipc::DEFAULT_ADDRESS),
            "the service listens where clients look"
        );
        let options = defaults.options();
        assert_eq!(options.paths.tunnels, defaults.config_dir.join("tunnels"));
        assert_eq!(options.paths.state, defaults.state_dir.join("state.json"));
        assert!(
            options
                .paths
                .netconf
                .journal_dir
                .starts_with(&defaults.state_dir)
        );
        assert!(defaults.config_dir.is_absolute() && defaults.state_dir.is_absolute());
    }
}
