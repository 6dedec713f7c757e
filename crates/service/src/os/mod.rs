//! The OS service glue (DESIGN.md rule 2): where culvertd keeps things by default, and
//! how the OS starts and stops it — signals from systemd or launchd on Unix, the service
//! control manager on Windows. `#[cfg]` for these lives here, in `at_rest` and nowhere
//! else in the crate.

use crate::daemon::{DaemonError, DaemonOptions};
use crate::hub::Hub;
use crate::logring::LogRing;
use std::path::PathBuf;
use std::sync::Arc;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as imp;

// Built for x86_64-pc-windows-gnu; what only a real Windows can show is listed in
// windows.rs.
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as imp;

/// This OS's default places.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defaults {
    /// The socket or named pipe clients connect to.
    pub socket: PathBuf,
    /// The service's settings (`culvertd.toml`) and the tunnels (`tunnels/`).
    pub config_dir: PathBuf,
    /// The state file and the network journals.
    pub state_dir: PathBuf,
    /// The resolver file a tunnel's DNS goes into (Linux without systemd-resolved).
    pub resolv_conf: PathBuf,
}

impl Defaults {
    /// The service's options with these places.
    pub fn options(&self) -> DaemonOptions {
        DaemonOptions {
            socket: self.socket.clone(),
            paths: crate::ManagerPaths {
                settings: self.config_dir.join("culvertd.toml"),
                tunnels: self.config_dir.join("tunnels"),
                state: self.state_dir.join("state.json"),
                netconf: culvert_netconf::Paths {
                    journal_dir: self.state_dir.join("netconf"),
                    resolv_conf: self.resolv_conf.clone(),
                },
            },
        }
    }
}

/// This OS's default places: Linux `/run/culvert/culvertd.sock`, `/etc/culvert`,
/// `/var/lib/culvert`; macOS `/var/run/culvert/culvertd.sock`,
/// `/Library/Application Support/Culvert` (state in its `state/`); Windows the pipe
/// `\\.\pipe\culvert\culvertd` and `%ProgramData%\Culvert` (state in its `state\`).
pub fn defaults() -> Defaults {
    imp::defaults()
}

/// What the command line can ask of the OS's service manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceCommand {
    /// Register culvertd (LocalSystem, automatic start, restart on failure) and start it.
    Install,
    /// Stop culvertd and remove its registration (the tunnels and settings stay).
    Uninstall,
}

/// Runs culvertd as the OS runs services, until the OS stops it: on Unix until SIGINT or
/// SIGTERM (SIGHUP re-resolves endpoints); on Windows under the service control manager
/// (Stop and Shutdown stop it, waking from sleep re-resolves endpoints).
pub fn run(options: DaemonOptions, hub: Arc<Hub>, log: Arc<LogRing>) -> Result<(), DaemonError> {
    imp::run(options, hub, log)
}

/// Registers or unregisters culvertd with the OS's service manager. Windows only: on
/// Linux and macOS the packages install the systemd unit or the launchd plist.
pub fn manage(command: ServiceCommand) -> Result<(), DaemonError> {
    imp::manage(command)
}

/// A hook command as this OS's shell runs it: `sh -c` as wg-quick does, or on Windows
/// `cmd /C` as wireguard-windows does.
pub(crate) fn shell(command: &str) -> std::process::Command {
    #[cfg(unix)]
    let (program, flag) = ("sh", "-c");
    #[cfg(windows)]
    let (program, flag) = ("cmd", "/C");
    let mut shell = std::process::Command::new(program);
    shell.arg(flag).arg(command);
    shell
}

/// For tests: a command [`shell`] runs until it is stopped; what follows it is a comment.
#[cfg(test)]
pub(crate) const ENDLESS_COMMAND: &str = if cfg!(windows) {
    "for /L %n in (0,0,1) do @rem"
} else {
    "sleep 30 #"
};
