//! Everything the app asks of culvertd, with no Tauri in it: one connection (made
//! again whenever it drops), the requests behind each command, and a pump that hands
//! the service's events to a [`Sink`]. The Tauri commands are thin wrappers around
//! this, so the tests drive it against a real culvertd without a window.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use culvert_config::TunnelName;
use culvert_ipc::{
    Client, ClientError, ClientOptions, EventKind, LogLine, Request, ResponseBody, RoutingMode,
    ServiceStatus, TunnelDetail, TunnelSummary, write_private,
};
use zeroize::Zeroizing;

use crate::connection::ConnectionStatus;
use crate::error::CommandError;
use crate::import::PendingImports;

/// Where the service's events and the connection's changes go: the window, the tray
/// and the notifications in the app, a recorder in tests.
pub trait Sink: Send + Sync {
    fn connection_changed(&self, status: &ConnectionStatus);
    fn service_event(&self, event: &culvert_ipc::Event);
}

/// How often the pump tries the service again while it is unreachable.
const RECONNECT_EVERY: Duration = Duration::from_secs(2);
/// How long the pump waits for an event before checking the connection again.
const EVENT_WAIT: Duration = Duration::from_millis(500);

pub struct Backend {
    address: PathBuf,
    client_name: String,
    client: Mutex<Option<Arc<Client>>>,
    status: Mutex<ConnectionStatus>,
    /// Wakes the pump early: a command reconnected or noticed a drop.
    wake: Condvar,
    pub(crate) pending: PendingImports,
    sink: Arc<dyn Sink>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("address", &self.address)
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

impl Backend {
    pub fn new(address: impl Into<PathBuf>, sink: Arc<dyn Sink>) -> Arc<Backend> {
        Arc::new(Backend {
            address: address.into(),
            client_name: concat!("culvert-app ", env!("CARGO_PKG_VERSION")).to_owned(),
            client: Mutex::new(None),
            status: Mutex::new(ConnectionStatus::Connecting),
            wake: Condvar::new(),
            pending: PendingImports::default(),
            sink,
        })
    }

    pub fn address(&self) -> &Path {
        &self.address
    }

    pub fn status(&self) -> ConnectionStatus {
        lock(&self.status).clone()
    }

    /// Connects now (a few quick attempts: the service may be starting) unless
    /// connected, subscribes to every event, and reports the outcome.
    pub fn connect(&self) -> ConnectionStatus {
        if let Some(client) = lock(&self.client).as_ref()
            && client.is_connected()
        {
            return self.status();
        }
        let options = ClientOptions {
            client_name: self.client_name.clone(),
            connect_attempts: 5,
            retry_delay: Duration::from_millis(200),
            ..ClientOptions::default()
        };
        let socket = self.address.display().to_string();
        let status = match Client::connect_with(&self.address, options)
            .and_then(|client| client.subscribe(EventKind::all()).map(|()| client))
        {
            Ok(client) => {
                let version = client.welcome().service_version.clone();
                *lock(&self.client) = Some(Arc::new(client));
                ConnectionStatus::Connected {
                    service_version: version,
                }
            }
            Err(e) => ConnectionStatus::from_error(&e, &socket),
        };
        self.set_status(status.clone());
        self.wake.notify_all();
        status
    }

    fn set_status(&self, status: ConnectionStatus) {
        let changed = {
            let mut current = lock(&self.status);
            let changed = *current != status;
            *current = status.clone();
            changed
        };
        if changed {
            self.sink.connection_changed(&status);
        }
    }

    /// The connection dropped: forget it and say so.
    fn disconnected(&self, error: &ClientError) {
        *lock(&self.client) = None;
        let socket = self.address.display().to_string();
        self.set_status(ConnectionStatus::from_error(error, &socket));
        self.wake.notify_all();
    }

    fn client(&self) -> Result<Arc<Client>, CommandError> {
        match lock(&self.client).as_ref() {
            Some(client) if client.is_connected() => Ok(Arc::clone(client)),
            _ => Err(CommandError::not_connected(
                "not connected to culvertd; see the connection screen",
            )),
        }
    }

    /// One request; a lost connection is noticed here as well as by the pump.
    pub fn request(&self, request: Request) -> Result<ResponseBody, CommandError> {
        let client = self.client()?;
        client.request(request).map_err(|e| {
            if matches!(e, ClientError::Disconnected { .. }) {
                self.disconnected(&e);
            }
            match e {
                ClientError::TooLarge(frame) => CommandError::invalid_input(frame.to_string()),
                other => CommandError::from(other),
            }
        })
    }

    /// A request whose success is [`ResponseBody::Done`].
    fn done(&self, request: Request) -> Result<(), CommandError> {
        match self.request(request)? {
            ResponseBody::Done => Ok(()),
            other => Err(CommandError::unexpected("done", other.type_name())),
        }
    }

    pub fn list_tunnels(&self) -> Result<Vec<TunnelSummary>, CommandError> {
        match self.request(Request::ListTunnels)? {
            ResponseBody::TunnelList { tunnels } => Ok(tunnels),
            other => Err(CommandError::unexpected("tunnel_list", other.type_name())),
        }
    }

    pub fn get_tunnel(&self, name: TunnelName) -> Result<TunnelDetail, CommandError> {
        match self.request(Request::GetTunnel { name })? {
            ResponseBody::Tunnel(detail) => Ok(detail),
            other => Err(CommandError::unexpected("tunnel", other.type_name())),
        }
    }

    pub fn activate(&self, name: TunnelName) -> Result<(), CommandError> {
        self.done(Request::Activate { name })
    }

    pub fn deactivate(&self, name: TunnelName) -> Result<(), CommandError> {
        self.done(Request::Deactivate { name })
    }

    pub fn set_routing_mode(
        &self,
        name: TunnelName,
        mode: RoutingMode,
    ) -> Result<(), CommandError> {
        self.done(Request::SetRoutingMode { name, mode })
    }

    pub fn set_kill_switch(&self, name: TunnelName, enabled: bool) -> Result<(), CommandError> {
        self.done(Request::SetKillSwitch { name, enabled })
    }

    pub fn create_tunnel(&self, name: TunnelName) -> Result<TunnelDetail, CommandError> {
        match self.request(Request::CreateTunnel { name })? {
            ResponseBody::Tunnel(detail) => Ok(detail),
            other => Err(CommandError::unexpected("tunnel", other.type_name())),
        }
    }

    pub fn update_tunnel(
        &self,
        name: TunnelName,
        text: String,
    ) -> Result<Vec<String>, CommandError> {
        let config_text = text.into();
        match self.request(Request::UpdateTunnel { name, config_text })? {
            ResponseBody::Updated { warnings } => Ok(warnings),
            other => Err(CommandError::unexpected("updated", other.type_name())),
        }
    }

    pub fn rename_tunnel(&self, from: TunnelName, to: TunnelName) -> Result<(), CommandError> {
        self.done(Request::RenameTunnel { from, to })
    }

    pub fn delete_tunnel(&self, name: TunnelName) -> Result<(), CommandError> {
        self.done(Request::DeleteTunnel { name })
    }

    /// The explicit export: the whole config, private key included.
    fn export_text(&self, name: TunnelName) -> Result<Zeroizing<String>, CommandError> {
        let request = Request::ExportTunnel {
            name,
            include_private_key: true,
        };
        match self.request(request)? {
            ResponseBody::Exported { text } => Ok(Zeroizing::new(text.as_str().to_owned())),
            other => Err(CommandError::unexpected("exported", other.type_name())),
        }
    }

    /// The tunnel as a QR code for the WireGuard phone app (it holds the private key).
    pub fn tunnel_qr_svg(&self, name: TunnelName) -> Result<String, CommandError> {
        let text = self.export_text(name)?;
        culvert_config::qr_svg(&text).map_err(|e| CommandError::invalid_input(e.to_string()))
    }

    /// The private key, base64, for a person who asked to see it.
    pub fn reveal_private_key(&self, name: TunnelName) -> Result<String, CommandError> {
        let text = self.export_text(name)?;
        let parsed = culvert_config::parse(&text).map_err(|_| {
            CommandError::new(
                "internal",
                "the stored config does not parse; edit it first",
            )
        })?;
        Ok(parsed.config.interface.private_key.to_base64().to_string())
    }

    /// Writes the tunnel's config, keys included, to `path`, readable by its owner only.
    pub fn export_tunnel_file(&self, name: TunnelName, path: &Path) -> Result<(), CommandError> {
        let text = self.export_text(name)?;
        write_private(path, text.as_bytes()).map_err(|e| CommandError::io(&e))
    }

    /// Every tunnel as `NAME.conf` in a zip at `path`, readable by its owner only.
    pub fn export_all_zip(&self, path: &Path) -> Result<(), CommandError> {
        let request = Request::ExportAllZip {
            include_private_keys: true,
        };
        match self.request(request)? {
            ResponseBody::Zip { bytes } => {
                write_private(path, bytes.as_bytes()).map_err(|e| CommandError::io(&e))
            }
            other => Err(CommandError::unexpected("zip", other.type_name())),
        }
    }

    pub fn read_log(&self, since: Option<u64>, limit: u32) -> Result<Vec<LogLine>, CommandError> {
        match self.request(Request::ReadLog { since, limit })? {
            ResponseBody::LogLines { lines } => Ok(lines),
            other => Err(CommandError::unexpected("log_lines", other.type_name())),
        }
    }

    pub fn service_status(&self) -> Result<ServiceStatus, CommandError> {
        match self.request(Request::ServiceStatus)? {
            ResponseBody::Status(status) => Ok(status),
            other => Err(CommandError::unexpected("status", other.type_name())),
        }
    }

    /// Runs until the process ends: forwards events while connected, tries again
    /// every few seconds while not.
    pub fn pump(self: &Arc<Self>) {
        loop {
            let client = lock(&self.client).clone();
            match client {
                Some(client) => match client.next_event(EVENT_WAIT) {
                    Ok(Some(event)) => self.sink.service_event(&event),
                    Ok(None) => {}
                    Err(e) => self.disconnected(&e),
                },
                None => {
                    if !self.connect().is_connected() {
                        // Waits for a command to reconnect, or the next attempt.
                        let status = lock(&self.status);
                        drop(
                            self.wake
                                .wait_timeout(status, RECONNECT_EVERY)
                                .unwrap_or_else(|e| e.into_inner()),
                        );
                    }
                }
            }
        }
    }

    /// Starts [`Backend::pump`] on its own thread.
    pub fn start_pump(self: &Arc<Self>) {
        let backend = Arc::clone(self);
        std::thread::Builder::new()
            .name("culvert-events".to_owned())
            .spawn(move || backend.pump())
            .expect("spawning the event thread");
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves plain data; keep going.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
