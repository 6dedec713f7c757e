//! The tunnel manager: every request a client can make, against the config store, the
//! state file and the active tunnels. Synchronous; the IPC server serialises access.
//! Endpoint names are looked up before a request is handled ([`Manager::names_to_resolve`],
//! then [`Manager::handle_resolved`]), so the server can do it without holding the lock.

use crate::resolve::{HostPort, Resolved, Resolver, SystemResolver, named_endpoints};
use crate::routing::RoutingMode;
use crate::scripts::{self, Hook, Settings};
use crate::state::{ServiceState, StateFile};
use crate::store::{ConfigStore, StoreError};
use crate::tunnel::{ActiveTunnel, TunnelOptions, guard_while_down, would_need_policy_routing};
use culvert_config::{Config, PrefixSet, TunnelName};
use culvert_ipc::{
    ConfigText, Event, ImportedTunnel, InterfaceInfo, IpcError, IpcErrorKind, OnConflict, PeerInfo,
    PeerStats, RedactedConfigText, Request, ResponseBody, SecretBytes, SkippedEntry, TunnelDetail,
    TunnelState, TunnelSummary, redact_config_text, restore_redacted_keys,
};
use culvert_netconf::{Guard, Paths, killswitch};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Where the manager keeps things.
#[derive(Debug, Clone)]
pub struct ManagerPaths {
    /// The service's own settings (`culvertd.toml`).
    pub settings: std::path::PathBuf,
    pub tunnels: std::path::PathBuf,
    pub state: std::path::PathBuf,
    pub netconf: Paths,
}

pub struct Manager {
    store: ConfigStore,
    state_file: StateFile,
    state: ServiceState,
    netconf: Paths,
    settings: Settings,
    active: BTreeMap<String, ActiveTunnel>,
    /// Tunnels the user wants up (`state.active`) that are not, and why.
    failed: BTreeMap<String, String>,
    /// What the kill switch guards as far as this run knows (None: not set yet).
    guarded: Option<Vec<Guard>>,
    resolver: Arc<dyn Resolver>,
    /// Events for subscribers, drained by the server after each request.
    events: Vec<Event>,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("active", &self.active.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Manager {
    /// Opens the store and the state, puts the kill switch the state asks for in place
    /// (a crashed run's is replaced in one step, so nothing slips out meanwhile), then
    /// undoes the other network changes of a crashed run.
    pub fn open(paths: &ManagerPaths) -> Result<Self, StoreError> {
        let mut manager = Self {
            store: ConfigStore::open(&paths.tunnels)?,
            state_file: StateFile::new(&paths.state),
            state: StateFile::new(&paths.state).load(),
            netconf: paths.netconf.clone(),
            settings: Settings::load(&paths.settings),
            active: BTreeMap::new(),
            failed: BTreeMap::new(),
            guarded: None,
            resolver: Arc::new(SystemResolver),
            events: Vec::new(),
        };
        if let Err(error) = manager.enforce_kill_switch() {
            tracing::error!(%error, "the kill switch could not be put in place");
        }
        match culvert_netconf::recover(&paths.netconf) {
            Ok(recovery) => {
                if !recovery.undone.is_empty() {
                    tracing::warn!(
                        recovered = ?recovery.undone,
                        "undid the network changes of a previous run that did not stop cleanly"
                    );
                }
                // Each failure was logged with its reason; activating the interface
                // tries again.
            }
            Err(error) => {
                tracing::error!(%error, "could not undo a previous run's network changes")
            }
        }
        Ok(manager)
    }

    /// Replaces the system's resolver (tests use one they control).
    pub fn set_resolver(&mut self, resolver: Arc<dyn Resolver>) {
        self.resolver = resolver;
    }

    /// The resolver, for looking names up without the manager.
    pub fn resolver(&self) -> Arc<dyn Resolver> {
        Arc::clone(&self.resolver)
    }

    /// Brings up the tunnels that were active when the service last stopped (at start,
    /// before any client is served, so names are looked up here). One that cannot come
    /// up stays wanted: its kill switch keeps blocking, and [`Self::retry`] tries again.
    pub fn restore(&mut self) {
        for name in self.wanted_but_down() {
            let resolved = self.resolve_now(self.activation_names(&name));
            self.retry(&name, resolved);
        }
    }

    /// The tunnels the user wants up that are not (their restore or an edit failed).
    pub fn wanted_but_down(&self) -> Vec<TunnelName> {
        self.state
            .active
            .iter()
            .filter(|name| !self.active.contains_key(name.as_str()))
            .filter_map(|name| TunnelName::new(name).ok())
            .collect()
    }

    /// Tries to bring up `name`, wanted but down, with its endpoint names looked up in
    /// `resolved`; a name that cannot be looked up now (the kill switch blocks the
    /// resolver's way out) takes the address it had last. Logs a failure once, not at
    /// every try.
    pub fn retry(&mut self, name: &TunnelName, mut resolved: Resolved) {
        for (host, port) in resolved.fall_back_to(&self.state.last_addresses) {
            tracing::warn!(tunnel = %name.as_str(), host, port, "endpoint name not resolved now; using the address it had last");
        }
        let before = self.failed.get(name.as_str()).cloned();
        match self.activate(name, &resolved) {
            Ok(()) => tracing::info!(tunnel = %name.as_str(), "restored"),
            Err(error) if before.as_deref() == Some(error.message.as_str()) => {
                tracing::debug!(tunnel = %name.as_str(), %error, "still cannot come up")
            }
            Err(error) => tracing::error!(tunnel = %name.as_str(), %error, "cannot come up"),
        }
    }

    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    pub fn active_names(&self) -> Vec<TunnelName> {
        self.active.values().map(|t| t.name().clone()).collect()
    }

    /// The DNS-named endpoints of active tunnels whose sessions are stale.
    pub fn stale_endpoint_names(&self) -> Vec<HostPort> {
        let now = unix_now();
        self.active
            .values()
            .flat_map(|tunnel| tunnel.stale_named_endpoints(now))
            .collect()
    }

    /// Moves stale endpoints to the addresses their names now have in `resolved`, and
    /// the kill switch with them.
    pub fn refresh_endpoints(&mut self, resolved: &Resolved) {
        let now = unix_now();
        let mut moved = 0;
        for tunnel in self.active.values_mut() {
            moved += tunnel.refresh_endpoints(now, resolved);
        }
        if moved > 0 {
            self.state.last_addresses.extend(resolved.addresses());
            if let Err(error) = self.commit_state() {
                tracing::error!(error = %error.message, "after endpoints moved");
            }
        }
    }

    pub fn scripts_enabled(&self) -> bool {
        self.settings.allow_scripts
    }

    pub fn tunnel_count(&self) -> usize {
        self.store.list().map(|l| l.len()).unwrap_or(0)
    }

    /// Handles everything but subscriptions and status, which are the server's, looking
    /// up the endpoint names it needs first. `caller_is_root` says who asks: storing hook
    /// scripts is root's alone, since they run as root once scripts are enabled.
    pub fn handle(
        &mut self,
        request: Request,
        caller_is_root: bool,
    ) -> Result<ResponseBody, IpcError> {
        let resolved = self.resolve_now(self.names_to_resolve(&request));
        self.handle_resolved(request, caller_is_root, &resolved)
    }

    /// The endpoint names `request` would bring up a tunnel with (an activation, or the
    /// update of an active tunnel). Empty when there are none, or when the request will
    /// fail anyway (it reports why when handled).
    pub fn names_to_resolve(&self, request: &Request) -> Vec<HostPort> {
        match request {
            Request::Activate { name } => self.activation_names(name),
            Request::UpdateTunnel { name, config_text } if self.is_active(name) => {
                let Ok(stored) = self.store.load(name) else {
                    return Vec::new();
                };
                let text = restore_redacted_keys(config_text.as_str(), &stored);
                Config::parse(text.as_str())
                    .map(|p| named_endpoints(&p.config))
                    .unwrap_or_default()
            }
            _ => Vec::new(),
        }
    }

    /// [`Self::handle`] with the endpoint names already looked up in `resolved`; never
    /// resolves a name itself. A name `resolved` lacks (the config changed since
    /// [`Self::names_to_resolve`]) fails the activation with "try again".
    pub fn handle_resolved(
        &mut self,
        request: Request,
        caller_is_root: bool,
        resolved: &Resolved,
    ) -> Result<ResponseBody, IpcError> {
        match request {
            Request::ListTunnels => {
                let tunnels = self
                    .store
                    .list()
                    .map_err(store_error)?
                    .iter()
                    .map(|n| self.summary(n))
                    .collect();
                Ok(ResponseBody::TunnelList { tunnels })
            }
            Request::GetTunnel { name } => self.detail(&name).map(ResponseBody::Tunnel),
            Request::ImportTunnel {
                name,
                config_text,
                on_conflict,
            } => self
                .import(
                    name,
                    config_text.as_str(),
                    on_conflict,
                    "import",
                    caller_is_root,
                )
                .map(ResponseBody::Imported),
            Request::ImportZip { bytes, on_conflict } => {
                self.import_zip(bytes.as_bytes(), on_conflict, caller_is_root)
            }
            Request::CreateTunnel { name } => {
                let key = culvert_config::PrivateKey::generate();
                let text = format!("[Interface]\nPrivateKey = {}\n", &*key.to_base64());
                // The protocol promises the new tunnel's detail: its public key is
                // what the person hands to the other side.
                self.import(name, &text, OnConflict::Fail, "created", caller_is_root)
                    .and_then(|created| self.detail(&created.name))
                    .map(ResponseBody::Tunnel)
            }
            Request::UpdateTunnel { name, config_text } => {
                self.update(&name, config_text.as_str(), resolved, caller_is_root)
            }
            Request::RenameTunnel { from, to } => {
                if self.active.contains_key(from.as_str()) {
                    return Err(IpcError::new(
                        IpcErrorKind::Busy,
                        format!("deactivate `{from}` before renaming it"),
                    ));
                }
                // A renamed config is stored anew: under its new name it is the caller's.
                let text = self.store.load(&from).map_err(store_error)?;
                self.admit(&from, &text, caller_is_root)?;
                self.store.rename(&from, &to).map_err(store_error)?;
                // A tunnel that failed to come back at start is not revived under a new
                // name, and its kill switch goes with it.
                self.state.active.retain(|n| n != from.as_str());
                self.failed.remove(from.as_str());
                if let Some(options) = self.state.options.remove(from.as_str()) {
                    self.state.options.insert(to.as_str().into(), options);
                }
                self.commit_state()?;
                self.events.push(Event::TunnelsChanged);
                Ok(ResponseBody::Done)
            }
            Request::DeleteTunnel { name } => {
                self.deactivate(&name)?;
                self.store.delete(&name).map_err(store_error)?;
                self.state.options.remove(name.as_str());
                self.commit_state()?;
                self.events.push(Event::TunnelsChanged);
                Ok(ResponseBody::Done)
            }
            Request::Activate { name } => {
                self.activate(&name, resolved).map(|()| ResponseBody::Done)
            }
            Request::Deactivate { name } => self.deactivate(&name).map(|()| ResponseBody::Done),
            Request::SetRoutingMode { name, mode } => {
                // A mode its config cannot be routed in (`Table = N` and full) is refused
                // now, not at the next activation.
                if let Err(reason) = crate::routing::routing(&self.load(&name)?, mode) {
                    return Err(IpcError::invalid_request(reason));
                }
                // Only one active tunnel can use the policy routing table (a full tunnel,
                // or split with its endpoint inside its AllowedIPs).
                if mode != RoutingMode::Split && self.active.contains_key(name.as_str()) {
                    let taken = self.active.iter().find(|(other, tunnel)| {
                        other.as_str() != name.as_str() && tunnel.needs_policy_routing()
                    });
                    if let Some((other, _)) = taken {
                        return Err(IpcError::new(
                            IpcErrorKind::Conflict,
                            format!(
                                "the active `{other}` already uses the policy routing table \
                                 (it takes the default route, or its endpoint lies inside its \
                                 AllowedIPs); set it to split or deactivate it first"
                            ),
                        ));
                    }
                }
                self.change_options(&name, |o| o.mode = mode, |t| t.set_mode(mode))
            }
            Request::SetKillSwitch { name, enabled } => self.change_options(
                &name,
                |o| o.kill_switch = enabled,
                |t| t.set_kill_switch(enabled),
            ),
            Request::ExportTunnel {
                name,
                include_private_key,
            } => {
                let text = self.store.load(&name).map_err(store_error)?;
                let text = if include_private_key {
                    ConfigText::new(text.as_str())
                } else {
                    ConfigText::new(redact_config_text(&text))
                };
                tracing::info!(tunnel = %name.as_str(), with_key = include_private_key, "exported");
                Ok(ResponseBody::Exported { text })
            }
            Request::ExportAllZip {
                include_private_keys,
            } => self.export_all(include_private_keys),
            Request::ReadLog { .. }
            | Request::Subscribe { .. }
            | Request::Unsubscribe
            | Request::ServiceStatus => Err(IpcError::internal("handled by the server")),
        }
    }

    fn summary(&self, name: &TunnelName) -> TunnelSummary {
        let options = self.options(name);
        let state = if self.active.contains_key(name.as_str()) {
            TunnelState::Active
        } else if let Some(reason) = self.failed.get(name.as_str()) {
            TunnelState::Error {
                message: reason.clone(),
            }
        } else {
            TunnelState::Inactive
        };
        TunnelSummary {
            name: name.clone(),
            state,
            routing_mode: options.mode,
            kill_switch: options.kill_switch,
        }
    }

    fn options(&self, name: &TunnelName) -> TunnelOptions {
        self.state
            .options
            .get(name.as_str())
            .copied()
            .unwrap_or_default()
    }

    fn load(&self, name: &TunnelName) -> Result<Config, IpcError> {
        let text = self.store.load(name).map_err(store_error)?;
        Config::parse(&text)
            .map(|p| p.config)
            .map_err(|errors| IpcError::invalid_config(name, &errors))
    }

    fn detail(&self, name: &TunnelName) -> Result<TunnelDetail, IpcError> {
        let text = self.store.load(name).map_err(store_error)?;
        let config = Config::parse(&text)
            .map(|p| p.config)
            .map_err(|errors| IpcError::invalid_config(name, &errors))?;
        let stats = self.peer_stats(name);
        let interface = &config.interface;
        let peers = config
            .peers
            .iter()
            .map(|peer| {
                let public_key = peer.public_key.to_string();
                let live = stats.iter().find(|s| s.public_key == public_key);
                PeerInfo {
                    endpoint: live
                        .and_then(|s| s.endpoint.clone())
                        .or_else(|| peer.endpoint.as_ref().map(endpoint_text)),
                    allowed_ips: peer.allowed_ips.clone(),
                    has_preshared_key: peer.preshared_key.is_some(),
                    latest_handshake_unix: live.and_then(|s| s.latest_handshake_unix),
                    rx_bytes: live.map_or(0, |s| s.rx_bytes),
                    tx_bytes: live.map_or(0, |s| s.tx_bytes),
                    persistent_keepalive: peer.persistent_keepalive.map(|k| k.get()),
                    public_key,
                }
            })
            .collect();
        Ok(TunnelDetail {
            summary: self.summary(name),
            config_text: RedactedConfigText::new(&text),
            interface: InterfaceInfo {
                public_key: interface.private_key.public_key().to_string(),
                addresses: interface.addresses.clone(),
                dns: interface
                    .dns
                    .iter()
                    .map(ToString::to_string)
                    .chain(interface.dns_search.iter().cloned())
                    .collect(),
                listen_port: interface.listen_port,
                mtu: interface.mtu,
            },
            peers,
        })
    }

    /// Live per-peer counters of an active tunnel (empty when it is not active).
    pub fn peer_stats(&self, name: &TunnelName) -> Vec<PeerStats> {
        let Some(tunnel) = self.active.get(name.as_str()) else {
            return Vec::new();
        };
        tunnel
            .interface()
            .info()
            .peers
            .iter()
            .map(|peer| PeerStats {
                public_key: culvert_config::PublicKey::from_bytes(peer.public_key).to_string(),
                endpoint: peer.endpoint.map(|e| e.to_string()),
                latest_handshake_unix: (peer.last_handshake > Duration::ZERO)
                    .then_some(peer.last_handshake.as_secs()),
                rx_bytes: peer.rx_bytes,
                tx_bytes: peer.tx_bytes,
            })
            .collect()
    }

    fn import(
        &mut self,
        name: TunnelName,
        text: &str,
        on_conflict: OnConflict,
        source: &str,
        caller_is_root: bool,
    ) -> Result<ImportedTunnel, IpcError> {
        let parsed = self.admit(&name, text, caller_is_root)?;
        let exists = self.store.exists(&name);
        let name = match (exists, on_conflict) {
            (false, _) | (true, OnConflict::Replace) => name,
            (true, OnConflict::Fail) => return Err(IpcError::tunnel_exists(&name)),
            (true, OnConflict::Rename) => self.free_name(&name)?,
        };
        if exists && on_conflict == OnConflict::Replace && self.active.contains_key(name.as_str()) {
            return Err(IpcError::new(
                IpcErrorKind::Busy,
                format!("deactivate `{name}` before replacing it"),
            ));
        }
        self.store.save(&name, text).map_err(store_error)?;
        if let Err(error) = self.enforce_kill_switch() {
            tracing::error!(%error, "the kill switch does not follow the replaced config");
        }
        self.events.push(Event::TunnelsChanged);
        tracing::info!(tunnel = %name.as_str(), source, "stored");
        Ok(ImportedTunnel {
            replaced: exists && on_conflict == OnConflict::Replace,
            warnings: parsed.warnings.iter().map(ToString::to_string).collect(),
            source: source.to_owned(),
            name,
        })
    }

    /// `name-2`, `name-3`, ... cut to wg-quick's 15 characters.
    fn free_name(&self, name: &TunnelName) -> Result<TunnelName, IpcError> {
        (2..1000)
            .filter_map(|n| {
                let suffix = format!("-{n}");
                let base: String = name.as_str().chars().take(15 - suffix.len()).collect();
                TunnelName::new(&format!("{base}{suffix}")).ok()
            })
            .find(|candidate| !self.store.exists(candidate))
            .ok_or_else(|| IpcError::tunnel_exists(name))
    }

    fn import_zip(
        &mut self,
        bytes: &[u8],
        on_conflict: OnConflict,
        caller_is_root: bool,
    ) -> Result<ResponseBody, IpcError> {
        let files = culvert_config::import_zip(bytes).map_err(|e| {
            IpcError::invalid_request(format!("the archive cannot be imported: {e}"))
        })?;
        let (mut imported, mut skipped) = (Vec::new(), Vec::new());
        for file in files {
            let result = match file.outcome {
                Ok(entry) => self.import(
                    entry.name,
                    &entry.text,
                    on_conflict,
                    &file.path,
                    caller_is_root,
                ),
                Err(error) => Err(IpcError::invalid_request(error.to_string())),
            };
            match result {
                Ok(tunnel) => imported.push(tunnel),
                Err(error) => skipped.push(SkippedEntry {
                    path: file.path,
                    error,
                }),
            }
        }
        Ok(ResponseBody::ZipImported { imported, skipped })
    }

    fn update(
        &mut self,
        name: &TunnelName,
        edited: &str,
        resolved: &Resolved,
        caller_is_root: bool,
    ) -> Result<ResponseBody, IpcError> {
        let stored = self.store.load(name).map_err(store_error)?;
        // The text that will be stored, hidden keys put back, is the one judged.
        let text = restore_redacted_keys(edited, &stored);
        let parsed = self.admit(name, text.as_str(), caller_is_root)?;
        self.store.save(name, text.as_str()).map_err(store_error)?;
        // A saved change takes effect at once, as in the official clients. The tunnel
        // stays wanted throughout, so its kill switch never opens: not while it restarts,
        // and not if the new config cannot come up.
        if let Some(tunnel) = self.active.remove(name.as_str()) {
            let down = self.bring_down(name, tunnel);
            let up = self.activate(name, resolved);
            down.and(up).map_err(|e| {
                IpcError::new(
                    e.kind,
                    format!(
                        "`{name}` was saved, but could not come back up: {}",
                        e.message
                    ),
                )
            })?;
        } else if let Err(error) = self.enforce_kill_switch() {
            tracing::error!(%error, "the kill switch does not follow the edited config");
        }
        self.events.push(Event::TunnelsChanged);
        Ok(ResponseBody::Updated {
            warnings: parsed.warnings.iter().map(ToString::to_string).collect(),
        })
    }

    /// The one gate of every config that is stored (import, zip, create, update, rename):
    /// `text` exactly as it will be stored must parse, and hooks, which run as root, are
    /// root's alone and only while the administrator allows scripts.
    fn admit(
        &self,
        name: &TunnelName,
        text: &str,
        caller_is_root: bool,
    ) -> Result<culvert_config::Parsed, IpcError> {
        let parsed = culvert_config::parse(text)
            .map_err(|errors| IpcError::invalid_config(name, &errors))?;
        if has_hooks(&parsed.config) {
            let refusal = if !caller_is_root {
                "PreUp/PostUp/PreDown/PostDown run as root: only root may store a config that has them"
            } else if !self.settings.allow_scripts {
                "this config has PreUp/PostUp/PreDown/PostDown, and scripts are disabled \
                 (allow_scripts = true in culvertd.toml enables them)"
            } else {
                return Ok(parsed);
            };
            return Err(IpcError::new(IpcErrorKind::PermissionDenied, refusal));
        }
        Ok(parsed)
    }

    fn is_active(&self, name: &TunnelName) -> bool {
        self.active.contains_key(name.as_str())
    }

    /// The endpoint names activating `name` needs (none when it is up already).
    pub fn activation_names(&self, name: &TunnelName) -> Vec<HostPort> {
        if self.is_active(name) {
            return Vec::new();
        }
        self.load(name)
            .map(|config| named_endpoints(&config))
            .unwrap_or_default()
    }

    /// Looks `names` up on this thread: only for callers that hold no lock.
    fn resolve_now(&self, names: Vec<HostPort>) -> Resolved {
        let mut resolved = Resolved::default();
        resolved.resolve_all(&*self.resolver, names);
        resolved
    }

    /// Brings `name` up. When it fails and the tunnel is still wanted (a restore, a
    /// retry, an edit), it is remembered as failed, with the reason.
    fn activate(&mut self, name: &TunnelName, resolved: &Resolved) -> Result<(), IpcError> {
        self.bring_up(name, resolved).map_err(|error| {
            let mut message = error.message;
            if self.state.active.iter().any(|n| n == name.as_str()) {
                if self.options(name).kill_switch {
                    message
                        .push_str("; the kill switch blocks traffic until it is up or turned off");
                }
                self.failed.insert(name.as_str().into(), message.clone());
            }
            self.events.push(Event::TunnelState {
                name: name.clone(),
                state: TunnelState::Error {
                    message: message.clone(),
                },
            });
            IpcError::new(error.kind, message)
        })
    }

    fn bring_up(&mut self, name: &TunnelName, resolved: &Resolved) -> Result<(), IpcError> {
        if self.active.contains_key(name.as_str()) {
            return Ok(());
        }
        let config = self.load(name)?;
        // Two tunnels may not claim the same destinations or addresses.
        let options = self.options(name);
        let needs_policy = would_need_policy_routing(&config, options, resolved);
        for (other, tunnel) in &self.active {
            // The config that is up, as the tunnel holds it: no second read from disk.
            let conflict =
                conflict(&config, options, tunnel.config(), tunnel.options()).or_else(|| {
                    (needs_policy && tunnel.needs_policy_routing()).then(|| {
                        "both need the policy routing table (a full tunnel, or an endpoint \
                         inside the tunnel's own AllowedIPs)"
                            .to_owned()
                    })
                });
            if let Some(conflict) = conflict {
                return Err(IpcError::new(
                    IpcErrorKind::Conflict,
                    format!("`{name}` cannot be active with `{other}`: {conflict}"),
                ));
            }
        }
        let hook_failed = |e: String| IpcError::internal(format!("cannot activate `{name}`: {e}"));
        scripts::run(
            Hook::PreUp,
            &config.interface.pre_up,
            name.as_str(),
            self.settings,
        )
        .map_err(hook_failed)?;
        // Wanted from here on: with the kill switch on, it guards this tunnel from its
        // first packet, endpoints included, and goes on guarding if it cannot come up.
        let was_wanted = self.state.active.iter().any(|n| n == name.as_str());
        if !was_wanted {
            self.state.active.push(name.as_str().into());
        }
        self.state.last_addresses.extend(resolved.addresses());
        if let Err(error) = self.commit_state() {
            if !was_wanted {
                self.state.active.retain(|n| n != name.as_str());
                self.commit_state_or_log();
            }
            return Err(error);
        }
        self.events.push(Event::TunnelState {
            name: name.clone(),
            state: TunnelState::Activating,
        });
        match ActiveTunnel::activate(name, &config, options, resolved, &self.netconf) {
            Ok(tunnel) => {
                self.active.insert(name.as_str().into(), tunnel);
                self.failed.remove(name.as_str());
                self.commit_state()?;
                self.events.push(Event::TunnelState {
                    name: name.clone(),
                    state: TunnelState::Active,
                });
                tracing::info!(tunnel = %name.as_str(), "active");
                let post_up = scripts::run(
                    Hook::PostUp,
                    &config.interface.post_up,
                    name.as_str(),
                    self.settings,
                );
                if let Err(error) = post_up {
                    // As wg-quick: a failed PostUp takes the tunnel down again.
                    let _ = self.deactivate(name);
                    return Err(hook_failed(error));
                }
                Ok(())
            }
            Err(error) => {
                // A first try that failed is not wanted; a restore, retry or edit still is.
                if !was_wanted {
                    self.state.active.retain(|n| n != name.as_str());
                    self.commit_state_or_log();
                }
                Err(IpcError::internal(format!(
                    "cannot activate `{name}`: {error}"
                )))
            }
        }
    }

    /// Takes `name` down and forgets it is wanted: its kill switch opens.
    fn deactivate(&mut self, name: &TunnelName) -> Result<(), IpcError> {
        self.state.active.retain(|n| n != name.as_str());
        self.failed.remove(name.as_str());
        let result = match self.active.remove(name.as_str()) {
            Some(tunnel) => self.bring_down(name, tunnel),
            None => Ok(()),
        };
        // The network is put back first: a state file that cannot be written must not
        // leave routes or DNS behind.
        self.commit_state_or_log();
        result
    }

    /// Takes `tunnel` down with its hooks, leaving whether it is wanted (and so its kill
    /// switch) as it is.
    fn bring_down(&mut self, name: &TunnelName, tunnel: ActiveTunnel) -> Result<(), IpcError> {
        // The hooks of the config that is up, not of one saved since.
        let interface = tunnel.config().interface.clone();
        let settings = self.settings;
        let hook = |hook, commands: &Vec<String>| {
            if let Err(error) = scripts::run(hook, commands, name.as_str(), settings) {
                tracing::error!(tunnel = %name.as_str(), %error, "going down anyway");
            }
        };
        hook(Hook::PreDown, &interface.pre_down);
        self.events.push(Event::TunnelState {
            name: name.clone(),
            state: TunnelState::Deactivating,
        });
        let result = tunnel.deactivate();
        hook(Hook::PostDown, &interface.post_down);
        self.events.push(Event::TunnelState {
            name: name.clone(),
            state: TunnelState::Inactive,
        });
        tracing::info!(tunnel = %name.as_str(), "inactive");
        result.map_err(|e| IpcError::internal(format!("`{name}` went down, but: {e}")))
    }

    fn commit_state_or_log(&mut self) {
        if let Err(error) = self.commit_state() {
            tracing::error!(error = %error.message, "the service state is not saved");
        }
    }

    fn change_options(
        &mut self,
        name: &TunnelName,
        change: impl FnOnce(&mut TunnelOptions),
        live: impl FnOnce(&mut ActiveTunnel) -> Result<(), crate::TunnelError>,
    ) -> Result<ResponseBody, IpcError> {
        if !self.store.exists(name) {
            return Err(IpcError::tunnel_not_found(name));
        }
        if let Some(tunnel) = self.active.get_mut(name.as_str()) {
            live(tunnel)
                .map_err(|e| IpcError::internal(format!("cannot change `{name}` live: {e}")))?;
        }
        let mut options = self.options(name);
        change(&mut options);
        self.state.options.insert(name.as_str().into(), options);
        self.commit_state()?;
        self.events.push(Event::TunnelsChanged);
        Ok(ResponseBody::Done)
    }

    fn export_all(&self, include_private_keys: bool) -> Result<ResponseBody, IpcError> {
        let mut tunnels = Vec::new();
        for name in self.store.list().map_err(store_error)? {
            let text = self.store.load(&name).map_err(store_error)?;
            let text = if include_private_keys {
                text
            } else {
                zeroize::Zeroizing::new(redact_config_text(&text))
            };
            tunnels.push((name, text));
        }
        // The stored text as the user wrote it (keys hidden unless asked for): a redacted
        // config no longer parses, so it is never round-tripped through the parser here.
        let bytes = culvert_config::export_zip_texts(tunnels.iter().map(|(n, t)| (n, t.as_str())))
            .map_err(|e| IpcError::internal(format!("cannot build the archive: {e}")))?;
        Ok(ResponseBody::Zip {
            bytes: SecretBytes::new(bytes),
        })
    }

    /// Saves the state, then makes the kill switch guard what it now asks for (even when
    /// saving failed: the switch follows the user's wish in this run regardless).
    fn commit_state(&mut self) -> Result<(), IpcError> {
        let saved = self
            .state_file
            .save(&self.state)
            .map_err(|e| IpcError::internal(format!("cannot save the service state: {e}")));
        let enforced = self
            .enforce_kill_switch()
            .map_err(|e| IpcError::internal(format!("the kill switch was not changed: {e}")));
        saved.and(enforced)
    }

    /// The kill switch as the state asks for it: none unless a tunnel the user wants up
    /// has the kill switch on; then every tunnel the user wants up (whether it has the
    /// switch or not: a tunnel is never a leak), up or not (yet), with the endpoints it
    /// has or last had.
    fn guards(&self) -> Vec<Guard> {
        let wanted = &self.state.active;
        let kill_switch =
            |name: &String| self.state.options.get(name).is_some_and(|o| o.kill_switch);
        if !wanted.iter().any(kill_switch) {
            return Vec::new();
        }
        wanted
            .iter()
            .map(|name| match self.active.get(name) {
                Some(tunnel) => tunnel.guard(),
                None => {
                    let config = TunnelName::new(name).ok().and_then(|n| self.load(&n).ok());
                    guard_while_down(name, config.as_ref(), &self.state.last_addresses)
                }
            })
            .collect()
    }

    fn enforce_kill_switch(&mut self) -> Result<(), culvert_netconf::Error> {
        let guards = self.guards();
        if self.guarded.as_ref() == Some(&guards) {
            return Ok(());
        }
        killswitch::enforce(&guards)?;
        self.guarded = Some(guards);
        Ok(())
    }

    /// Takes every tunnel down (the service is stopping), keeping them marked active so
    /// they come back at the next start.
    pub fn shutdown(&mut self) {
        for (name, tunnel) in std::mem::take(&mut self.active) {
            if let Err(error) = tunnel.deactivate() {
                tracing::error!(tunnel = %name, %error, "stopping");
            }
        }
    }
}

fn unix_now() -> Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

/// Whether a config has any PreUp/PostUp/PreDown/PostDown.
fn has_hooks(config: &Config) -> bool {
    let i = &config.interface;
    !(i.pre_up.is_empty()
        && i.post_up.is_empty()
        && i.pre_down.is_empty()
        && i.post_down.is_empty())
}

/// Why two tunnels cannot be up together, if they cannot: their routes or their
/// addresses overlap, or both want the default route.
fn conflict(
    config: &Config,
    options: TunnelOptions,
    other: &Config,
    other_options: TunnelOptions,
) -> Option<String> {
    let routes = config.overlap(other);
    if !routes.is_empty() {
        return Some(format!("both route {}", list(&routes)));
    }
    let addresses =
        |c: &Config| -> PrefixSet { c.interface.addresses.iter().map(|a| a.trunc()).collect() };
    let shared = addresses(config).intersection(&addresses(other));
    if !shared.is_empty() {
        return Some(format!("their addresses overlap in {}", list(&shared)));
    }
    if options.mode != RoutingMode::Split && other_options.mode != RoutingMode::Split {
        return Some("both take over the default route (set one to split)".into());
    }
    None
}

fn list(set: &PrefixSet) -> String {
    set.prefixes()
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn endpoint_text(endpoint: &culvert_config::Endpoint) -> String {
    match &endpoint.host {
        culvert_config::Host::Ip(ip) => std::net::SocketAddr::new(*ip, endpoint.port).to_string(),
        culvert_config::Host::Name(name) => format!("{name}:{}", endpoint.port),
    }
}

fn store_error(error: StoreError) -> IpcError {
    match error {
        StoreError::NotFound(name) => IpcError::new(
            IpcErrorKind::NotFound,
            format!("there is no tunnel named `{name}`"),
        ),
        StoreError::AlreadyExists(name) => IpcError::new(
            IpcErrorKind::AlreadyExists,
            format!("a tunnel named `{name}` exists already"),
        ),
        StoreError::Invalid { name, errors } => match TunnelName::new(&name) {
            Ok(name) => IpcError::invalid_config(&name, &errors),
            Err(_) => IpcError::invalid_request(errors.to_string()),
        },
        other => IpcError::internal(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(address: &str, allowed: &str) -> Config {
        let key = culvert_config::PrivateKey::generate();
        let peer = culvert_config::PrivateKey::generate().public_key();
        let text = format!(
            "[Interface]\nPrivateKey = {}\nAddress = {address}\n\n[Peer]\nPublicKey = {peer}\nAllowedIPs = {allowed}\n",
            &*key.to_base64()
        );
        Config::parse(&text).unwrap().config
    }

    fn manager(tag: &str) -> (Manager, std::path::PathBuf) {
        manager_with_settings(tag, "")
    }

    /// A manager whose administrator wrote `settings` into culvertd.toml.
    fn manager_with_settings(tag: &str, settings: &str) -> (Manager, std::path::PathBuf) {
        let dir =
            std::env::temp_dir().join(format!("culvertd-manager-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("culvertd.toml"), settings).unwrap();
        let paths = ManagerPaths {
            settings: dir.join("culvertd.toml"),
            tunnels: dir.join("tunnels"),
            state: dir.join("state.json"),
            netconf: Paths {
                journal_dir: dir.join("netconf"),
                resolv_conf: dir.join("resolv.conf"),
            },
        };
        (Manager::open(&paths).unwrap(), dir)
    }

    /// What a client sends to save an edit of `name`.
    fn update(text: String, name: &str) -> Request {
        Request::UpdateTunnel {
            name: TunnelName::new(name).unwrap(),
            config_text: ConfigText::new(text),
        }
    }

    /// `text` with a PostUp line in its [Interface] section.
    fn with_post_up(text: &str) -> String {
        text.replace("[Peer]", "PostUp = id > /tmp/owned\n\n[Peer]")
    }

    fn stored_text(manager: &Manager, name: &str) -> Option<String> {
        manager
            .store
            .load(&TunnelName::new(name).unwrap())
            .ok()
            .map(|text| text.to_string())
    }

    fn import(text: String, name: &str) -> Request {
        Request::ImportTunnel {
            name: TunnelName::new(name).unwrap(),
            config_text: ConfigText::new(text),
            on_conflict: OnConflict::Fail,
        }
    }

    /// What the kill switch guards follows the state alone: nothing until a wanted
    /// tunnel has it, then every wanted tunnel (up or not), with its endpoints as
    /// addresses and the addresses its names had last.
    #[test]
    fn the_kill_switch_guards_every_wanted_tunnel_once_one_has_it() {
        let (mut manager, dir) = manager("guards");
        let mut named = config("10.6.0.2/24", "10.6.0.0/24").to_text();
        named = named.replace("[Peer]\n", "[Peer]\nEndpoint = vpn.example.test:51820\n");
        let mut plain = config("10.7.0.2/24", "10.7.0.0/24").to_text();
        plain = plain.replace("[Peer]\n", "[Peer]\nEndpoint = 192.0.2.9:4500\n");
        for (text, name) in [(named, "named"), (plain, "plain")] {
            manager.handle(import(text, name), true).unwrap();
        }
        manager.state.active = vec!["named".into(), "plain".into()];
        manager.state.last_addresses.insert(
            "vpn.example.test:51820".into(),
            "198.51.100.4:51820".parse().unwrap(),
        );
        assert_eq!(
            manager.guards(),
            Vec::new(),
            "no tunnel has the kill switch"
        );

        manager.state.options.insert(
            "plain".into(),
            TunnelOptions {
                kill_switch: true,
                ..Default::default()
            },
        );
        let guards = manager.guards();
        let endpoints: Vec<(&str, Vec<String>)> = guards
            .iter()
            .map(|g| {
                let endpoints = g.endpoints.iter().map(ToString::to_string).collect();
                (g.interface.as_str(), endpoints)
            })
            .collect();
        assert_eq!(
            endpoints,
            vec![
                ("named", vec!["198.51.100.4:51820".to_owned()]),
                ("plain", vec!["192.0.2.9:4500".to_owned()]),
            ]
        );
        assert!(
            guards
                .iter()
                .all(|g| g.fwmark == culvert_netconf::DEFAULT_FWMARK)
        );

        manager.state.active = vec!["named".into()];
        assert_eq!(
            manager.guards(),
            Vec::new(),
            "the tunnel with the kill switch is no longer wanted"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn only_root_stores_hook_scripts_and_only_while_scripts_are_allowed() {
        let text = with_post_up(&config("10.5.0.2/24", "10.5.0.0/24").to_text());
        let (mut manager, dir) = manager_with_settings("hooks", "allow_scripts = true\n");
        let refused = manager
            .handle(import(text.clone(), "hooked"), false)
            .unwrap_err();
        assert_eq!(refused.kind, IpcErrorKind::PermissionDenied);
        assert_eq!(stored_text(&manager, "hooked"), None);
        assert!(manager.handle(import(text.clone(), "hooked"), true).is_ok());
        let _ = std::fs::remove_dir_all(&dir);

        let (mut manager, dir) = manager_with_settings("hooks-off", "");
        let refused = manager.handle(import(text, "hooked"), true).unwrap_err();
        assert_eq!(refused.kind, IpcErrorKind::PermissionDenied);
        assert!(
            refused.message.contains("allow_scripts"),
            "{}",
            refused.message
        );
        assert_eq!(stored_text(&manager, "hooked"), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_member_cannot_add_hooks_by_editing_with_the_key_hidden() {
        let (mut manager, dir) = manager_with_settings("hooks-edit", "allow_scripts = true\n");
        let original = config("10.5.1.2/24", "10.5.1.0/24").to_text();
        manager
            .handle(import(original.clone(), "edited"), false)
            .unwrap();
        // What `culvert edit` and the app send: the key hidden, a line added.
        let edited = with_post_up(&redact_config_text(&original));
        assert!(edited.contains(culvert_ipc::REDACTED));
        let refused = manager.handle(update(edited, "edited"), false).unwrap_err();
        assert_eq!(refused.kind, IpcErrorKind::PermissionDenied);
        assert_eq!(stored_text(&manager, "edited").as_deref(), Some(&*original));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_member_cannot_store_hooks_through_a_zip() {
        let (mut manager, dir) = manager_with_settings("hooks-zip", "allow_scripts = true\n");
        let hooked = with_post_up(&config("10.5.2.2/24", "10.5.2.0/24").to_text());
        let plain = config("10.5.3.2/24", "10.5.3.0/24").to_text();
        let (a, b) = (
            TunnelName::new("hooked").unwrap(),
            TunnelName::new("plain").unwrap(),
        );
        let zip = culvert_config::export_zip_texts([(&a, hooked.as_str()), (&b, plain.as_str())])
            .unwrap();
        let Ok(ResponseBody::ZipImported { imported, skipped }) = manager.handle(
            Request::ImportZip {
                bytes: SecretBytes::new(zip),
                on_conflict: OnConflict::Fail,
            },
            false,
        ) else {
            panic!("the archive itself is fine");
        };
        assert_eq!(imported.len(), 1);
        assert_eq!(imported[0].name.as_str(), "plain");
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].error.kind, IpcErrorKind::PermissionDenied);
        assert_eq!(stored_text(&manager, "hooked"), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_member_cannot_take_over_roots_hooks_by_renaming() {
        let (mut manager, dir) = manager_with_settings("hooks-rename", "allow_scripts = true\n");
        let hooked = with_post_up(&config("10.5.4.2/24", "10.5.4.0/24").to_text());
        manager
            .handle(import(hooked.clone(), "roots"), true)
            .unwrap();
        let rename = Request::RenameTunnel {
            from: TunnelName::new("roots").unwrap(),
            to: TunnelName::new("mine").unwrap(),
        };
        let refused = manager.handle(rename.clone(), false).unwrap_err();
        assert_eq!(refused.kind, IpcErrorKind::PermissionDenied);
        assert_eq!(stored_text(&manager, "roots").as_deref(), Some(&*hooked));
        assert_eq!(stored_text(&manager, "mine"), None);
        assert!(manager.handle(rename, true).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn text_that_does_not_parse_is_never_stored() {
        let (mut manager, dir) = manager("unparsable");
        let original = config("10.5.5.2/24", "10.5.5.0/24").to_text();
        manager
            .handle(import(original.clone(), "kept"), false)
            .unwrap();
        let broken = format!("{}\nPostUp\n", redact_config_text(&original));
        let refused = manager.handle(update(broken, "kept"), false).unwrap_err();
        assert!(matches!(refused.kind, IpcErrorKind::InvalidConfig { .. }));
        assert_eq!(stored_text(&manager, "kept").as_deref(), Some(&*original));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn export_all_without_keys_keeps_every_tunnel_and_hides_keys() {
        let (mut manager, dir) = manager("export");
        let a = config("10.6.0.2/24", "10.6.0.0/24");
        let key = a.interface.private_key.to_base64().to_string();
        manager.handle(import(a.to_text(), "one"), false).unwrap();
        manager
            .handle(
                import(config("10.7.0.2/24", "10.7.0.0/24").to_text(), "two"),
                false,
            )
            .unwrap();
        let Ok(ResponseBody::Zip { bytes }) = manager.handle(
            Request::ExportAllZip {
                include_private_keys: false,
            },
            false,
        ) else {
            panic!("a zip")
        };
        let entries = culvert_config::import_zip(bytes.as_bytes()).unwrap();
        assert_eq!(entries.len(), 2);
        for entry in entries {
            let tunnel = entry.outcome.unwrap();
            assert!(!tunnel.text.contains(&key) && tunnel.text.contains("(hidden)"));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn handed_answers_the_manager_never_looks_names_up_itself() {
        struct Refusing;
        impl Resolver for Refusing {
            fn resolve(&self, host: &str, _: u16) -> Result<std::net::SocketAddr, String> {
                panic!("the manager looked up {host} itself")
            }
        }
        let (mut manager, dir) = manager("resolved");
        let text = config("10.8.0.2/24", "10.8.0.0/24")
            .to_text()
            .replace("[Peer]\n", "[Peer]\nEndpoint = vpn.example.invalid:51820\n");
        manager.handle(import(text, "named"), true).unwrap();
        let name = TunnelName::new("named").unwrap();
        let activate = Request::Activate { name: name.clone() };
        assert_eq!(
            manager.names_to_resolve(&activate),
            vec![("vpn.example.invalid".to_owned(), 51820)]
        );
        manager.set_resolver(Arc::new(Refusing));
        // As when the config changed after its names were looked up.
        let error = manager
            .handle_resolved(activate, true, &Resolved::default())
            .unwrap_err();
        assert!(error.message.contains("try again"), "{error}");
        assert!(manager.active_names().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn conflicts_name_what_overlaps() {
        let split = TunnelOptions::default();
        let full = TunnelOptions {
            mode: RoutingMode::Full,
            kill_switch: false,
        };
        let a = config("10.1.0.2/24", "10.1.0.0/24");
        let b = config("10.2.0.2/24", "10.2.0.0/24");
        assert_eq!(conflict(&a, split, &b, split), None);
        assert_eq!(conflict(&a, full, &b, split), None);
        let routes = config("10.3.0.2/24", "10.1.0.128/25");
        assert_eq!(
            conflict(&a, split, &routes, split).unwrap(),
            "both route 10.1.0.128/25"
        );
        let addresses = config("10.2.0.9/24", "192.0.2.0/24");
        assert_eq!(
            conflict(&b, split, &addresses, split).unwrap(),
            "their addresses overlap in 10.2.0.0/24"
        );
        assert!(
            conflict(&a, full, &b, full)
                .unwrap()
                .contains("default route")
        );
    }
}
