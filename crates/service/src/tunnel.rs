//! One active tunnel: its engine interface (served to `wg` over the UAPI too) and its
//! network configuration, brought up and down as one.

use crate::resolve::{HostPort, Resolved, last_address_key};
use crate::routing::{RoutingMode, extra_allowed_ips, routing};
use culvert_config::{Config, Host, TunnelName};
use culvert_engine::uapi::{PeerChange, SetRequest, UapiServer};
use culvert_engine::{Interface, UAPI_DIRECTORY, tun};
use culvert_netconf::{DEFAULT_FWMARK, Dns, Guard, NetConf, Paths, Routing, TunnelNetwork};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The runtime choices of a tunnel, kept in the state file, never in its config.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TunnelOptions {
    pub mode: RoutingMode,
    pub kill_switch: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum TunnelError {
    #[error("cannot create interface {name}: {source}")]
    Interface {
        name: String,
        source: std::io::Error,
    },
    #[error("cannot resolve the endpoint {host}:{port} of a peer: {reason}")]
    Endpoint {
        host: String,
        port: u16,
        reason: String,
    },
    #[error("{0}")]
    Routing(String),
    #[error("the engine refused the configuration: {0}")]
    Engine(#[from] culvert_engine::uapi::UapiError),
    #[error("configuring the network failed: {0}")]
    Network(#[from] culvert_netconf::Error),
}

pub struct ActiveTunnel {
    name: TunnelName,
    config: Config,
    options: TunnelOptions,
    endpoints: Vec<Option<SocketAddr>>,
    interface: Arc<Interface>,
    uapi: Option<UapiServer>,
    netconf: Option<NetConf>,
}

impl std::fmt::Debug for ActiveTunnel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActiveTunnel")
            .field("name", &self.name.as_str())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl ActiveTunnel {
    /// Creates the interface `name`, configures the engine from `config`, and applies the
    /// network for `options`; named endpoints take their addresses from `resolved`
    /// (looked up beforehand, see [`crate::resolve`]). On failure nothing is left behind.
    pub fn activate(
        name: &TunnelName,
        config: &Config,
        options: TunnelOptions,
        resolved: &Resolved,
        paths: &Paths,
    ) -> Result<Self, TunnelError> {
        let endpoints = endpoint_addresses(config, resolved)?;
        let routing = routing(config, options.mode).map_err(TunnelError::Routing)?;
        let tun = tun::create(name.as_str()).map_err(|source| TunnelError::Interface {
            name: name.as_str().into(),
            source,
        })?;
        let interface =
            Arc::new(
                Interface::start(tun).map_err(|source| TunnelError::Interface {
                    name: name.as_str().into(),
                    source,
                })?,
            );
        interface.apply(&engine_request(config, &endpoints, options.mode))?;
        // `wg show` works on Culvert tunnels too; a failure here costs only that.
        let uapi = UapiServer::start(
            Path::new(UAPI_DIRECTORY),
            name.as_str(),
            Arc::clone(&interface) as _,
        )
        .inspect_err(|error| tracing::warn!(tunnel = name.as_str(), %error, "no UAPI socket"))
        .ok();
        let network = network(name, config, &endpoints, routing, options);
        let netconf = NetConf::apply(paths, &network)?;
        Ok(Self {
            name: name.clone(),
            config: config.clone(),
            options,
            endpoints,
            interface,
            uapi,
            netconf: Some(netconf),
        })
    }

    pub fn name(&self) -> &TunnelName {
        &self.name
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn options(&self) -> TunnelOptions {
        self.options
    }

    pub fn interface(&self) -> &Interface {
        &self.interface
    }

    /// Whether this tunnel routes through the host's one policy table.
    pub fn needs_policy_routing(&self) -> bool {
        let endpoints: Vec<SocketAddr> = self.endpoints.iter().flatten().copied().collect();
        routing(&self.config, self.options.mode).is_ok_and(|r| r.needs_policy(&endpoints))
    }

    /// What the kill switch must let through for this tunnel now.
    pub fn guard(&self) -> Guard {
        Guard {
            interface: self.name.as_str().to_owned(),
            endpoints: self.endpoints.iter().flatten().copied().collect(),
            fwmark: fwmark(&self.config),
        }
    }

    /// Switches between split, full and exclude-private without dropping the session.
    pub fn set_mode(&mut self, mode: RoutingMode) -> Result<(), TunnelError> {
        let routing = routing(&self.config, mode).map_err(TunnelError::Routing)?;
        let mut request = engine_request(&self.config, &self.endpoints, mode);
        // Only the peers' routes change: keys, endpoints and sessions stay.
        request.private_key = None;
        request.listen_port = None;
        request.replace_peers = false;
        for peer in &mut request.peers {
            peer.update_only = true;
        }
        self.interface.apply(&request)?;
        if let Some(netconf) = &mut self.netconf {
            netconf.set_routing(routing)?;
        }
        self.options.mode = mode;
        Ok(())
    }

    pub fn set_kill_switch(&mut self, enabled: bool) -> Result<(), TunnelError> {
        if let Some(netconf) = &mut self.netconf {
            netconf.set_kill_switch(enabled)?;
        }
        self.options.kill_switch = enabled;
        Ok(())
    }

    /// The DNS-named endpoints of peers that have not completed a handshake recently
    /// (wg-quick's reresolve-dns): the names [`Self::refresh_endpoints`] wants answers for.
    pub fn stale_named_endpoints(&self, unix_now: Duration) -> Vec<HostPort> {
        self.stale_peers(unix_now)
            .into_iter()
            .map(|(_, host, port)| (host, port))
            .collect()
    }

    /// Moves the stale peers' endpoints to their addresses in `resolved`, so a server
    /// whose address changed is found again. Peers that made a handshake since the names
    /// were looked up are left alone. Returns how many endpoints moved.
    pub fn refresh_endpoints(&mut self, unix_now: Duration, resolved: &Resolved) -> usize {
        let mut moved = Vec::new();
        for (i, host, port) in self.stale_peers(unix_now) {
            let Some(Ok(address)) = resolved.get(&host, port) else {
                continue;
            };
            if self.endpoints.get(i).copied().flatten() != Some(*address) {
                moved.push((i, *self.config.peers[i].public_key.as_bytes(), *address));
            }
        }
        for (i, public_key, address) in &moved {
            let change = PeerChange {
                public_key: *public_key,
                update_only: true,
                endpoint: Some(*address),
                ..Default::default()
            };
            let request = SetRequest {
                peers: vec![change],
                ..Default::default()
            };
            if self.interface.apply(&request).is_ok() {
                self.endpoints[*i] = Some(*address);
                tracing::info!(
                    tunnel = self.name.as_str(),
                    "an endpoint was re-resolved to a new address"
                );
                tracing::debug!(tunnel = self.name.as_str(), endpoint = %address, "new endpoint");
            }
        }
        if let Some(netconf) = self.netconf.as_mut().filter(|_| !moved.is_empty()) {
            let endpoints = self.endpoints.iter().flatten().copied().collect();
            if let Err(error) = netconf.set_endpoints(endpoints) {
                tracing::error!(tunnel = self.name.as_str(), %error, "the kill switch does not know the new endpoint");
            }
        }
        moved.len()
    }

    fn stale_peers(&self, unix_now: Duration) -> Vec<(usize, String, u16)> {
        let info = self.interface.info();
        let mut stale = Vec::new();
        for (i, peer) in self.config.peers.iter().enumerate() {
            let Some(endpoint) = &peer.endpoint else {
                continue;
            };
            let Host::Name(host) = &endpoint.host else {
                continue;
            };
            let live = info
                .peers
                .iter()
                .find(|p| p.public_key == *peer.public_key.as_bytes());
            if needs_refresh(live.map(|p| p.last_handshake), unix_now) {
                stale.push((i, host.clone(), endpoint.port));
            }
        }
        stale
    }

    /// Undoes the network changes, then removes the interface.
    pub fn deactivate(mut self) -> Result<(), TunnelError> {
        let reverted = self.netconf.take().map(NetConf::revert).transpose();
        drop(self.uapi.take());
        match Arc::try_unwrap(self.interface) {
            Ok(interface) => interface.shutdown(),
            Err(_) => tracing::warn!(
                tunnel = self.name.as_str(),
                "interface still referenced; it goes when released"
            ),
        }
        reverted?;
        Ok(())
    }
}

/// Whether `config` in `options` would route through the host's one policy table, with
/// its named endpoints at their addresses in `resolved`.
pub(crate) fn would_need_policy_routing(
    config: &Config,
    options: TunnelOptions,
    resolved: &Resolved,
) -> bool {
    let endpoints: Vec<SocketAddr> = endpoint_addresses(config, resolved)
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect();
    routing(config, options.mode).is_ok_and(|r| r.needs_policy(&endpoints))
}

/// What the kill switch must let through for `name` while it is not up (its config, if
/// it still has a readable one): the endpoints given as addresses, and the addresses the
/// named ones had last.
pub(crate) fn guard_while_down(
    name: &str,
    config: Option<&Config>,
    last_addresses: &BTreeMap<String, SocketAddr>,
) -> Guard {
    let endpoints = config
        .iter()
        .flat_map(|config| &config.peers)
        .filter_map(|peer| {
            let endpoint = peer.endpoint.as_ref()?;
            match &endpoint.host {
                Host::Ip(ip) => Some(SocketAddr::new(*ip, endpoint.port)),
                Host::Name(host) => last_addresses
                    .get(&last_address_key(host, endpoint.port))
                    .copied(),
            }
        })
        .collect();
    Guard {
        interface: name.to_owned(),
        endpoints,
        fwmark: config.map_or(DEFAULT_FWMARK, fwmark),
    }
}

/// The mark on the engine's packets, which policy routing lets past the tunnel.
fn fwmark(config: &Config) -> u32 {
    config.interface.fwmark.map_or(DEFAULT_FWMARK, |m| m.get())
}

/// Endpoints as addresses; names take the answers looked up for them before.
fn endpoint_addresses(
    config: &Config,
    resolved: &Resolved,
) -> Result<Vec<Option<SocketAddr>>, TunnelError> {
    config
        .peers
        .iter()
        .map(|peer| {
            let Some(endpoint) = &peer.endpoint else {
                return Ok(None);
            };
            let host = match &endpoint.host {
                Host::Ip(ip) => return Ok(Some(SocketAddr::new(*ip, endpoint.port))),
                Host::Name(host) => host,
            };
            let failed = |reason: String| TunnelError::Endpoint {
                host: host.clone(),
                port: endpoint.port,
                reason,
            };
            match resolved.get(host, endpoint.port) {
                Some(Ok(address)) => Ok(Some(*address)),
                Some(Err(reason)) => Err(failed(reason.clone())),
                // Only when the config changed while its names were being looked up.
                None => Err(failed(
                    "the config changed while its endpoints were being resolved; try again".into(),
                )),
            }
        })
        .collect()
}

/// wg-quick's rule: re-resolve when the last handshake is older than 135 s (a session
/// would have been renewed by then) or there never was one.
fn needs_refresh(last_handshake: Option<Duration>, unix_now: Duration) -> bool {
    match last_handshake {
        Some(at) if at > Duration::ZERO => unix_now.saturating_sub(at) > Duration::from_secs(135),
        _ => true,
    }
}

/// The whole engine configuration for `config` in `mode`.
fn engine_request(
    config: &Config,
    endpoints: &[Option<SocketAddr>],
    mode: RoutingMode,
) -> SetRequest {
    let main_peer = endpoints.iter().position(Option::is_some).unwrap_or(0);
    let peers = config
        .peers
        .iter()
        .zip(endpoints)
        .enumerate()
        .map(|(i, (peer, endpoint))| {
            let mut allowed_ips: Vec<_> = peer.allowed_ips.iter().map(|net| net.trunc()).collect();
            if i == main_peer {
                allowed_ips.extend(extra_allowed_ips(mode));
            }
            PeerChange {
                public_key: *peer.public_key.as_bytes(),
                preshared_key: Some(
                    peer.preshared_key
                        .as_ref()
                        .map_or([0; 32], |k| *k.as_bytes()),
                ),
                endpoint: *endpoint,
                persistent_keepalive: Some(peer.persistent_keepalive.map_or(0, |k| k.get())),
                replace_allowed_ips: true,
                allowed_ips,
                ..Default::default()
            }
        })
        .collect();
    SetRequest {
        private_key: Some(Some(*config.interface.private_key.as_bytes())),
        listen_port: config.interface.listen_port,
        // The mark keeps the tunnel's own packets out of the tunnel in full mode.
        fwmark: Some(fwmark(config)),
        replace_peers: true,
        peers,
    }
}

fn network(
    name: &TunnelName,
    config: &Config,
    endpoints: &[Option<SocketAddr>],
    routing: Routing,
    options: TunnelOptions,
) -> TunnelNetwork {
    let interface = &config.interface;
    TunnelNetwork {
        interface: name.as_str().to_owned(),
        addresses: interface.addresses.clone(),
        mtu: interface.mtu.map(u32::from),
        routing,
        fwmark: fwmark(config),
        endpoints: endpoints.iter().flatten().copied().collect(),
        dns: (!interface.dns.is_empty()).then(|| Dns {
            servers: interface.dns.clone(),
            search: interface.dns_search.clone(),
        }),
        kill_switch: options.kill_switch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_re_resolved_only_for_stale_sessions() {
        let now = Duration::from_secs(1_800_000_000);
        assert!(needs_refresh(None, now));
        assert!(needs_refresh(Some(Duration::ZERO), now));
        assert!(!needs_refresh(Some(now - Duration::from_secs(60)), now));
        assert!(needs_refresh(Some(now - Duration::from_secs(136)), now));
    }
}
