//! Windows: culvertd as a service of the service control manager (SCM). `culvertd
//! install` registers it (LocalSystem, automatic start, a description, restart on
//! failure) and starts it; `culvertd uninstall` stops and removes it. The SCM starts
//! `culvertd.exe` with no arguments, and [`run`] hands the process to the SCM's
//! dispatcher, which calls [`service_main`] on a thread of its own. Before anything is
//! read from its folders (the tunnels, the settings, the journals recovery obeys as
//! SYSTEM) they are made private, or refused if someone else owns them (`at_rest`).
//!
//! Compiles for x86_64-pc-windows-gnu; the defaults are tested under wine. UNVERIFIED on
//! real Windows (wine has no service control manager to speak of): install / start /
//! stop / uninstall with `sc`, that Stop and a shutdown take the tunnels down, that
//! waking from sleep logs the re-resolution, that killing the process makes the SCM
//! restart it, and that a refused folder stops the start with service-specific error 1
//! (the reason is in the log only, which nothing keeps once the service has stopped).
// `define_windows_service!` expands to the FFI entry point, which holds an unsafe block.
#![allow(unsafe_code)]

use super::{Defaults, ServiceCommand};
use crate::daemon::{Daemon, DaemonError, DaemonOptions};
use crate::hub::Hub;
use crate::logring::LogRing;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use windows_service::service::{
    PowerEventParam, ServiceAccess, ServiceAction, ServiceActionType, ServiceControl,
    ServiceControlAccept, ServiceDependency, ServiceErrorControl, ServiceExitCode,
    ServiceFailureActions, ServiceFailureResetPeriod, ServiceInfo, ServiceStartType, ServiceState,
    ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};
use windows_service::{define_windows_service, service_dispatcher};
use windows_sys::Win32::Foundation::{
    ERROR_FAILED_SERVICE_CONTROLLER_CONNECT, ERROR_SERVICE_DOES_NOT_EXIST,
};

/// The SCM's name for the service (`sc start culvertd`, as culvert-ipc's hint says).
const SERVICE_NAME: &str = "culvertd";
const DISPLAY_NAME: &str = "Culvert WireGuard service";
const DESCRIPTION: &str = "Runs Culvert's WireGuard tunnels and configures the network for \
                           them. The Culvert app and the culvert command control it.";
const SERVICE_TYPE: ServiceType = ServiceType::OWN_PROCESS;
/// How long starting may take (restoring tunnels resolves their endpoints).
const START_WAIT: Duration = Duration::from_secs(60);
const STOP_WAIT: Duration = Duration::from_secs(20);

/// What [`service_main`] runs with: the dispatcher calls it without arguments of ours.
static LAUNCH: OnceLock<Launch> = OnceLock::new();

struct Launch {
    options: DaemonOptions,
    hub: Arc<Hub>,
    log: Arc<LogRing>,
}

pub(super) fn defaults() -> Defaults {
    let program_data = std::env::var_os("ProgramData")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(r"C:\ProgramData"));
    let base = program_data.join("Culvert");
    Defaults {
        socket: culvert_ipc::DEFAULT_ADDRESS.into(),
        state_dir: base.join("state"),
        // Not used on Windows (DNS is set per interface); kept so the paths are whole.
        resolv_conf: base.join("state").join("resolv.conf"),
        config_dir: base,
    }
}

pub(super) fn run(
    options: DaemonOptions,
    hub: Arc<Hub>,
    log: Arc<LogRing>,
) -> Result<(), DaemonError> {
    if LAUNCH.set(Launch { options, hub, log }).is_err() {
        return Err(DaemonError::Service("culvertd is running already".into()));
    }
    // Blocks until the service has stopped.
    service_dispatcher::start(SERVICE_NAME, ffi_service_main).map_err(|error| match error {
        windows_service::Error::Winapi(e)
            if e.raw_os_error() == Some(ERROR_FAILED_SERVICE_CONTROLLER_CONNECT as i32) =>
        {
            DaemonError::Service(
                "culvertd runs as a Windows service, not from a console: register it with \
                 `culvertd install` in an administrator's console (it starts at once and at \
                 every boot), or start it with `sc start culvertd`"
                    .into(),
            )
        }
        other => scm("start the service dispatcher")(other),
    })
}

define_windows_service!(ffi_service_main, service_main);

/// The service itself, called by the dispatcher on its own thread.
fn service_main(_arguments: Vec<OsString>) {
    if let Err(error) = serve() {
        tracing::error!(%error, "culvertd stopped on an error");
    }
}

/// What the SCM asks, passed from its handler to [`serve`].
enum Control {
    Stop,
    Resumed,
}

fn serve() -> Result<(), DaemonError> {
    let launch = LAUNCH
        .get()
        .ok_or_else(|| DaemonError::Service("started without options".into()))?;
    let (control, controls) = mpsc::channel();
    // The handler must answer at once: it only passes the request on.
    let handler = move |event| match event {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            let _ = control.send(Control::Stop);
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::PowerEvent(
            PowerEventParam::ResumeAutomatic | PowerEventParam::ResumeSuspend,
        ) => {
            let _ = control.send(Control::Resumed);
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::PowerEvent(_) | ServiceControl::Interrogate => {
            ServiceControlHandlerResult::NoError
        }
        _ => ServiceControlHandlerResult::NotImplemented,
    };
    let status = service_control_handler::register(SERVICE_NAME, handler)
        .map_err(scm("register the control handler"))?;
    if let Err(error) = ensure_own_recovery_actions() {
        // Serving matters more than being restarted after a later crash.
        tracing::warn!(%error, "culvertd may not be restarted after a crash");
    }
    let report = |state, accepted, exit_code, wait_hint| {
        status
            .set_service_status(ServiceStatus {
                service_type: SERVICE_TYPE,
                current_state: state,
                controls_accepted: accepted,
                exit_code,
                checkpoint: 0,
                wait_hint,
                process_id: None,
            })
            .map_err(scm("report the service's state"))
    };
    let none = ServiceControlAccept::empty();
    report(
        ServiceState::StartPending,
        none,
        ServiceExitCode::NO_ERROR,
        START_WAIT,
    )?;
    let started = secure_directories(&launch.options).and_then(|()| {
        Daemon::start(
            &launch.options,
            Arc::clone(&launch.hub),
            Arc::clone(&launch.log),
        )
    });
    let daemon = match started {
        Ok(daemon) => daemon,
        Err(error) => {
            // A non-zero exit counts as a failure, so the recovery actions restart us.
            let _ = report(
                ServiceState::Stopped,
                none,
                ServiceExitCode::ServiceSpecific(1),
                Duration::ZERO,
            );
            return Err(error);
        }
    };
    report(
        ServiceState::Running,
        ServiceControlAccept::STOP
            | ServiceControlAccept::SHUTDOWN
            | ServiceControlAccept::POWER_EVENT,
        ServiceExitCode::NO_ERROR,
        Duration::ZERO,
    )?;
    // A closed channel (the handler is gone) also means stop.
    for control in &controls {
        match control {
            Control::Stop => break,
            Control::Resumed => {
                // After sleep the sessions are stale, and the server may have moved.
                tracing::info!("woke up: re-resolving the endpoints of stale sessions");
                daemon.refresh_endpoints_soon();
            }
        }
    }
    report(
        ServiceState::StopPending,
        none,
        ServiceExitCode::NO_ERROR,
        STOP_WAIT,
    )?;
    daemon.stop();
    report(
        ServiceState::Stopped,
        none,
        ServiceExitCode::NO_ERROR,
        Duration::ZERO,
    )
}

/// Makes the service's folders private (SYSTEM and Administrators only), the base one
/// first, so each is checked before anything is made inside it; refuses one someone
/// else owns. Runs before recovery, which obeys the journals in the state folder.
fn secure_directories(options: &DaemonOptions) -> Result<(), DaemonError> {
    let paths = &options.paths;
    let folders = [
        paths.settings.parent(),
        paths.state.parent(),
        Some(paths.netconf.journal_dir.as_path()),
        Some(paths.tunnels.as_path()),
    ];
    for folder in folders.into_iter().flatten() {
        crate::at_rest::create_private_dir(folder).map_err(|error| {
            DaemonError::Service(format!("cannot use {}: {error}", folder.display()))
        })?;
    }
    Ok(())
}

pub(super) fn manage(command: ServiceCommand) -> Result<(), DaemonError> {
    match command {
        ServiceCommand::Install => install(),
        ServiceCommand::Uninstall => uninstall(),
    }
}

fn install() -> Result<(), DaemonError> {
    let manager = ServiceManager::local_computer(
        None::<&str>,
        ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE,
    )
    .map_err(scm(
        "open the service manager (run this as an administrator)",
    ))?;
    let executable = std::env::current_exe()
        .map_err(|e| DaemonError::Service(format!("cannot find culvertd.exe itself: {e}")))?;
    let info = ServiceInfo {
        name: SERVICE_NAME.into(),
        display_name: DISPLAY_NAME.into(),
        service_type: SERVICE_TYPE,
        start_type: ServiceStartType::AutoStart,
        error_control: ServiceErrorControl::Normal,
        executable_path: executable,
        launch_arguments: Vec::new(),
        // The network stack must be up before tunnels are restored (as wireguard-windows).
        dependencies: vec![
            ServiceDependency::Service("Nsi".into()),
            ServiceDependency::Service("TcpIp".into()),
        ],
        // LocalSystem.
        account_name: None,
        account_password: None,
    };
    let service = manager
        .create_service(
            &info,
            ServiceAccess::CHANGE_CONFIG | ServiceAccess::START | ServiceAccess::QUERY_STATUS,
        )
        .map_err(scm("register the service"))?;
    service
        .set_description(DESCRIPTION)
        .map_err(scm("describe the service"))?;
    set_recovery_actions(&service)?;
    service.start::<&str>(&[]).map_err(scm(
        "start the service (it is registered; try `sc start culvertd`)",
    ))?;
    println!("culvertd is registered as a service and started; it starts at every boot");
    Ok(())
}

/// Restart after a crash or an error exit: 2 s, 10 s, then 60 s; a day without failures
/// starts the count afresh.
fn set_recovery_actions(service: &windows_service::service::Service) -> Result<(), DaemonError> {
    let restart = |seconds| ServiceAction {
        action_type: ServiceActionType::Restart,
        delay: Duration::from_secs(seconds),
    };
    service
        .update_failure_actions(ServiceFailureActions {
            reset_period: ServiceFailureResetPeriod::After(Duration::from_secs(24 * 60 * 60)),
            reboot_msg: None,
            command: None,
            actions: Some(vec![restart(2), restart(10), restart(60)]),
        })
        .map_err(scm("set the service's recovery actions"))?;
    // Also when culvertd stops with an error rather than crashing.
    service
        .set_failure_actions_on_non_crash_failures(true)
        .map_err(scm("set the service's recovery actions"))
}

/// The MSI registers the service without recovery actions (neither wixl nor plain WiX
/// can express them), so the service sets its own at every start.
fn ensure_own_recovery_actions() -> Result<(), DaemonError> {
    let manager = ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT)
        .map_err(scm("open the service manager"))?;
    let service = manager
        .open_service(SERVICE_NAME, ServiceAccess::CHANGE_CONFIG)
        .map_err(scm("open its own service"))?;
    set_recovery_actions(&service)
}

fn uninstall() -> Result<(), DaemonError> {
    let manager = ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT)
        .map_err(scm(
            "open the service manager (run this as an administrator)",
        ))?;
    let service = match manager.open_service(
        SERVICE_NAME,
        ServiceAccess::QUERY_STATUS | ServiceAccess::STOP | ServiceAccess::DELETE,
    ) {
        Ok(service) => service,
        Err(windows_service::Error::Winapi(e))
            if e.raw_os_error() == Some(ERROR_SERVICE_DOES_NOT_EXIST as i32) =>
        {
            println!("culvertd is not registered as a service");
            return Ok(());
        }
        Err(other) => return Err(scm("open the service")(other)),
    };
    // Removed once stopped and every handle to it is closed.
    service.delete().map_err(scm("remove the service"))?;
    let state = service
        .query_status()
        .map_err(scm("ask the service's state"))?
        .current_state;
    if state != ServiceState::Stopped {
        service
            .stop()
            .map_err(scm("stop the service (it goes at the next reboot)"))?;
    }
    println!(
        "culvertd is stopped and unregistered; tunnels and settings stay in %ProgramData%\\Culvert"
    );
    Ok(())
}

fn scm(what: &'static str) -> impl Fn(windows_service::Error) -> DaemonError {
    move |error| {
        // The crate's own text for a Windows error hides which one it was.
        let reason = match &error {
            windows_service::Error::Winapi(e) => e.to_string(),
            other => other.to_string(),
        };
        DaemonError::Service(format!("cannot {what}: {reason}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_keep_everything_under_program_data_and_are_made_private() {
        let defaults = defaults();
        assert!(defaults.config_dir.ends_with("Culvert"), "{defaults:?}");
        assert!(defaults.state_dir.starts_with(&defaults.config_dir));
        assert_eq!(
            defaults.socket.to_str(),
            Some(culvert_ipc::DEFAULT_ADDRESS),
            "the service listens where clients look"
        );
        let options = defaults.options();
        assert!(options.paths.tunnels.starts_with(&defaults.config_dir));
        assert!(
            options
                .paths
                .netconf
                .journal_dir
                .starts_with(&defaults.state_dir)
        );

        // The same layout under a temp folder: every folder is made, the base first.
        let base = std::env::temp_dir().join(format!("culvertd-os-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let options = Defaults {
            socket: culvert_ipc::DEFAULT_ADDRESS.into(),
            config_dir: base.join("Culvert"),
            state_dir: base.join("Culvert").join("state"),
            resolv_conf: base.join("Culvert").join("state").join("resolv.conf"),
        }
        .options();
        secure_directories(&options).unwrap();
        assert!(options.paths.tunnels.is_dir() && options.paths.netconf.journal_dir.is_dir());
        // A file where a folder belongs is refused, with the folder named.
        let tunnels = &options.paths.tunnels;
        std::fs::remove_dir(tunnels).unwrap();
        std::fs::write(tunnels, b"x").unwrap();
        let error = secure_directories(&options).unwrap_err().to_string();
        assert!(
            error.contains(&tunnels.display().to_string()) && error.contains("not a folder"),
            "{error}"
        );
        let _ = std::fs::remove_dir_all(&base);
    }
}
