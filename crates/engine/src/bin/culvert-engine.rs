//! `culvert-engine [-f] IFACE`: a WireGuard interface in the foreground, configured only
//! through the UAPI (`wg setconf IFACE FILE`, `wg set IFACE ...`), as `wireguard-go -f`.
//! SIGINT or SIGTERM (on Windows: Ctrl+C, Ctrl+Break or closing the console) removes
//! the interface and its UAPI socket or pipe.

use anyhow::{Context, bail};
use culvert_engine::uapi::UapiServer;
use culvert_engine::{Interface, UAPI_DIRECTORY, tun};
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
    // Before anything is created, so a stop asked for during start-up is not lost.
    let stop = stop::Requests::install().context("cannot watch for a stop request")?;
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
    let why = stop.wait();
    tracing::info!(signal = why, "stopping");
    drop(server);
    match Arc::try_unwrap(interface) {
        Ok(interface) => interface.shutdown(),
        Err(_) => tracing::warn!("a UAPI client still holds the interface; exiting anyway"),
    }
    Ok(())
}

#[cfg(unix)]
mod stop {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::iterator::Signals;

    /// SIGINT and SIGTERM, queued from installation on.
    pub(crate) struct Requests(Signals);

    impl Requests {
        pub(crate) fn install() -> std::io::Result<Requests> {
            Signals::new([SIGINT, SIGTERM]).map(Requests)
        }

        /// Waits for the first request; its name, for the log.
        pub(crate) fn wait(mut self) -> &'static str {
            match self.0.forever().next() {
                Some(SIGINT) => "SIGINT",
                Some(SIGTERM) => "SIGTERM",
                _ => "the end of signal delivery",
            }
        }
    }
}

/// Console control events: Ctrl+C and Ctrl+Break, and the console window closing
/// (or the user logging off, or the machine shutting down, when run as a service's
/// child), which end the process as soon as the handler returns: for those the handler
/// does not return, and the process ends when `main` has taken the interface down (or
/// when Windows stops waiting, about 5 s after a close).
#[cfg(windows)]
#[allow(unsafe_code)]
mod stop {
    use std::sync::{Condvar, Mutex, MutexGuard};
    use windows_sys::Win32::System::Console::{
        CTRL_BREAK_EVENT, CTRL_C_EVENT, CTRL_CLOSE_EVENT, CTRL_LOGOFF_EVENT, CTRL_SHUTDOWN_EVENT,
        SetConsoleCtrlHandler,
    };
    use windows_sys::core::BOOL;

    /// The first control event seen.
    static REQUESTED: Mutex<Option<u32>> = Mutex::new(None);
    static CHANGED: Condvar = Condvar::new();

    pub(crate) struct Requests(());

    impl Requests {
        pub(crate) fn install() -> std::io::Result<Requests> {
            // An administrator may run this by hand from an elevated prompt: the UAPI
            // pipe must be owned by SYSTEM (wg.exe checks), which such a process may
            // only set with SeRestorePrivilege. As LocalSystem nothing changes; if the
            // privilege is missing, creating the pipe says so.
            if let Err(error) = culvert_ipc::transport::pipe::enable_restore_privilege() {
                tracing::debug!(%error, "SeRestorePrivilege not enabled");
            }
            // SAFETY: `on_control` is a plain function that lives as long as the
            // process; adding a handler has no other precondition.
            if unsafe { SetConsoleCtrlHandler(Some(on_control), 1) } == 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(Requests(()))
        }

        /// Waits for the first request; its name, for the log.
        pub(crate) fn wait(self) -> &'static str {
            let mut requested = lock();
            loop {
                if let Some(event) = *requested {
                    return match event {
                        CTRL_C_EVENT => "Ctrl+C",
                        CTRL_BREAK_EVENT => "Ctrl+Break",
                        CTRL_CLOSE_EVENT => "console closed",
                        CTRL_LOGOFF_EVENT => "logoff",
                        CTRL_SHUTDOWN_EVENT => "shutdown",
                        _ => "console control event",
                    };
                }
                requested = CHANGED.wait(requested).unwrap_or_else(|p| p.into_inner());
            }
        }
    }

    fn lock() -> MutexGuard<'static, Option<u32>> {
        REQUESTED.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs on a thread Windows creates for the event.
    unsafe extern "system" fn on_control(event: u32) -> BOOL {
        lock().get_or_insert(event);
        CHANGED.notify_all();
        if matches!(event, CTRL_C_EVENT | CTRL_BREAK_EVENT) {
            // Handled: the process lives on until main has stopped the engine.
            return 1;
        }
        // Returning would end the process now, before the interface is removed.
        loop {
            std::thread::park();
        }
    }
}
