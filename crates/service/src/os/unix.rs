//! Linux and macOS: systemd or launchd start culvertd and stop it with SIGTERM.
#![allow(unsafe_code)]

use super::{Defaults, ServiceCommand};
use crate::daemon::{Daemon, DaemonError, DaemonOptions};
use crate::hub::Hub;
use crate::logring::LogRing;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// launchd's label for culvertd (installers/macos), which it passes to the job as
/// `XPC_SERVICE_NAME`.
#[cfg(target_os = "macos")]
const LAUNCHD_LABEL: &str = "org.culvert.culvertd";

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
    #[cfg(target_os = "macos")]
    if std::env::var_os("XPC_SERVICE_NAME").is_some_and(|label| label == LAUNCHD_LABEL) {
        refuse_a_replaceable_program()?;
    }
    keep_secrets_in_memory();
    // Signals are caught before the tunnels come up, so none is missed.
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|e| DaemonError::Service(format!("cannot catch signals: {e}")))?;
    let daemon = Daemon::start(&options, hub, log)?;
    if !daemon.scripts_enabled() {
        forbid_new_privileges();
    }
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

/// As launchd's root daemon, culvertd must not run from a file that someone other than
/// root could replace (say, inside an app bundle a user may write to): the next start
/// would run their program as root. install-service.sh copies it to
/// /Library/PrivilegedHelperTools; this refuses anything else.
#[cfg(target_os = "macos")]
fn refuse_a_replaceable_program() -> Result<(), DaemonError> {
    let program = std::env::current_exe()
        .map_err(|e| DaemonError::Service(format!("cannot find culvertd's own file: {e}")))?;
    match replaceable_by_others(&program) {
        None => Ok(()),
        Some(weak) => Err(DaemonError::Service(format!(
            "{} could be replaced by someone other than root ({} is not root's alone), so \
             culvertd will not run from it as a system daemon: install it with \
             install-service.sh, which copies it to /Library/PrivilegedHelperTools",
            program.display(),
            weak.display()
        ))),
    }
}

/// The first of `program` and its directories up to `/` that is not owned by root or is
/// writable by its group or others (sticky directories included: strict is simpler), or
/// that cannot be inspected. None: only root can replace `program`.
#[cfg_attr(not(target_os = "macos"), allow(dead_code))]
pub(crate) fn replaceable_by_others(program: &Path) -> Option<PathBuf> {
    program.ancestors().find_map(|path| {
        let safe =
            std::fs::metadata(path).is_ok_and(|meta| meta.uid() == 0 && meta.mode() & 0o022 == 0);
        (!safe).then(|| path.to_path_buf())
    })
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

/// Private keys live in this process: no core dump may carry them (whatever the unit's
/// LimitCORE says, when culvertd was started some other way), and no other process of
/// root's may read its memory through /proc without CAP_SYS_PTRACE.
fn keep_secrets_in_memory() {
    let no_core = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: setrlimit with a valid, initialised struct.
    if unsafe { libc::setrlimit(libc::RLIMIT_CORE, &no_core) } != 0 {
        tracing::warn!(error = %std::io::Error::last_os_error(), "core dumps stay allowed");
    }
    #[cfg(target_os = "linux")]
    // SAFETY: prctl(PR_SET_DUMPABLE, 0) takes no pointers.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
        tracing::warn!(error = %std::io::Error::last_os_error(), "the process stays dumpable");
    }
}

/// Without hook scripts nothing culvertd runs (nft, resolvconf) ever needs to gain
/// privileges through a setuid program: take that away for good, children included.
fn forbid_new_privileges() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS, 1) takes no pointers.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        tracing::warn!(error = %std::io::Error::last_os_error(), "no_new_privs not set");
    }
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

    #[test]
    fn a_program_others_could_replace_is_found_out() {
        use std::os::unix::fs::PermissionsExt as _;
        let set_mode = |path: &Path, mode| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
        };
        let dir = std::env::temp_dir().join(format!("culvertd-owner-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let program = dir.join("culvertd");
        std::fs::write(&program, "").unwrap();
        set_mode(&program, 0o755);
        let as_root = std::fs::metadata(&program).unwrap().uid() == 0;
        // A directory its group may write to, as a user's app bundle is for its admins.
        set_mode(&dir, 0o775);
        let in_shared_dir = replaceable_by_others(&program);
        set_mode(&dir, 0o755);
        let in_private_dir = replaceable_by_others(&program);
        std::fs::remove_dir_all(&dir).unwrap();

        if as_root {
            assert_eq!(in_shared_dir, Some(dir.clone()));
            // Now the directory passes; what is named, if anything, is further up (the
            // temporary directory itself is usually writable by all).
            assert!(
                in_private_dir
                    .as_deref()
                    .is_none_or(|weak| weak != dir && dir.starts_with(weak)),
                "{in_private_dir:?}"
            );
        } else {
            assert_eq!(in_shared_dir, Some(program.clone()), "not root's file");
        }
        // A missing file cannot be vouched for; the system's own programs are root's.
        let missing = Path::new("/nonexistent/culvertd");
        assert_eq!(replaceable_by_others(missing).as_deref(), Some(missing));
        assert_eq!(replaceable_by_others(Path::new("/bin/sh")), None);
    }
}
