//! The service's life, the same on every OS: open the store (undoing a crashed run's
//! network changes), listen, bring the active tunnels back, serve; and stop. The OS glue
//! (`crate::os`) decides when.

use crate::hub::Hub;
use crate::logring::LogRing;
use crate::manager::{Manager, ManagerPaths};
use crate::server::Server;
use crate::store::StoreError;
use culvert_ipc::{Listener, SERVICE_GROUP, TransportError};
use std::path::PathBuf;
use std::sync::Arc;

/// Where the service listens and keeps things.
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    pub socket: PathBuf,
    pub paths: ManagerPaths,
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("cannot open the tunnel store: {0}")]
    Store(#[from] StoreError),
    #[error("cannot listen on {}: {source}", path.display())]
    Listen {
        path: PathBuf,
        source: TransportError,
    },
    #[error("cannot start the {what} thread: {source}")]
    Thread {
        what: &'static str,
        source: std::io::Error,
    },
    /// The OS's service manager refused something; the text says what to do.
    #[error("{0}")]
    Service(String),
}

/// A running service.
#[derive(Debug)]
pub struct Daemon {
    server: Arc<Server>,
    socket: PathBuf,
}

impl Daemon {
    /// Starts serving; returns once clients can connect and the tunnels that were active
    /// at the last stop are back (or have logged why not).
    pub fn start(
        options: &DaemonOptions,
        hub: Arc<Hub>,
        log: Arc<LogRing>,
    ) -> Result<Daemon, DaemonError> {
        let mut manager = Manager::open(&options.paths)?;
        let listener = Listener::bind(&options.socket, SERVICE_GROUP).map_err(|source| {
            DaemonError::Listen {
                path: options.socket.clone(),
                source,
            }
        })?;
        manager.restore();
        let server = Server::new(manager, hub, log);
        spawn("stats", {
            let server = Arc::clone(&server);
            move || server.publish_stats()
        })?;
        spawn("ipc", {
            let server = Arc::clone(&server);
            move || server.serve(listener)
        })?;
        tracing::info!(socket = %options.socket.display(), "culvertd running");
        Ok(Daemon {
            server,
            socket: options.socket.clone(),
        })
    }

    /// Whether the administrator allows hook scripts (`allow_scripts`).
    pub fn scripts_enabled(&self) -> bool {
        self.server.scripts_enabled()
    }

    /// Re-resolves stale DNS-named endpoints now, on a thread of its own so whoever asks
    /// (a signal or power-event loop) is not held up by a slow resolver.
    pub fn refresh_endpoints_soon(&self) {
        let server = Arc::clone(&self.server);
        if let Err(error) = spawn("refresh", move || server.refresh_endpoints()) {
            tracing::warn!(%error, "endpoints not re-resolved");
        }
    }

    /// Takes the tunnels down (they come back at the next start) and removes the socket.
    pub fn stop(self) {
        tracing::info!("stopping");
        self.server.shutdown();
        // A named pipe has no file; only a socket is left behind.
        let _ = std::fs::remove_file(&self.socket);
    }
}

fn spawn(what: &'static str, work: impl FnOnce() + Send + 'static) -> Result<(), DaemonError> {
    std::thread::Builder::new()
        .name(what.into())
        .spawn(work)
        .map(drop)
        .map_err(|source| DaemonError::Thread { what, source })
}
