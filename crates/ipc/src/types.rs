//! What the messages carry: tunnels, peers, stats, log lines, service status.
//!
//! Secrets travel only inside [`ConfigText`] and [`SecretBytes`], whose `Debug` shows a
//! length and never the content, and which are zeroed when dropped; a config shown to a
//! client for display is a [`RedactedConfigText`], which cannot hold a key at all.
//!
//! Public keys, endpoints and DNS entries are strings as `wg` and wg-quick print them:
//! clients only display them, and strings keep the JSON plain for the GUI.

use std::collections::BTreeSet;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use culvert_config::{IpNet, TunnelName};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

use crate::error::IpcError;
use crate::redact::redact_config_text;

/// Where a tunnel is in its life, as the service sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TunnelState {
    Inactive,
    Activating,
    Active,
    Deactivating,
    /// Activation failed or the running tunnel broke; `message` says why and what to do.
    Error {
        message: String,
    },
}

/// Which traffic goes through a tunnel: a runtime choice that never rewrites the
/// stored config (DESIGN.md, "Routing modes").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoutingMode {
    /// The peers' AllowedIPs, as configured.
    #[default]
    Split,
    /// Everything (0.0.0.0/0 and ::/0), the endpoint kept outside the tunnel.
    Full,
    /// Everything except private and link-local ranges, so the LAN stays reachable.
    ExcludePrivate,
}

/// What an import does when a tunnel with the same name exists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnConflict {
    /// Refuse with [`crate::IpcErrorKind::AlreadyExists`].
    #[default]
    Fail,
    /// Overwrite the stored config (an active tunnel is reconfigured).
    Replace,
    /// Import under a free name (`wg0-2`, ...), reported in [`ImportedTunnel::name`].
    Rename,
}

/// The kinds of [`crate::Event`] a client can subscribe to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Tunnel state changes and changes to the tunnel list.
    Tunnels,
    /// Per-peer statistics of active tunnels, once a second.
    Stats,
    /// Service log lines as they are written.
    Log,
}

impl EventKind {
    /// Every kind, for clients that want everything.
    pub fn all() -> BTreeSet<EventKind> {
        [EventKind::Tunnels, EventKind::Stats, EventKind::Log].into()
    }
}

/// One line of the tunnel list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TunnelSummary {
    pub name: TunnelName,
    pub state: TunnelState,
    pub routing_mode: RoutingMode,
    pub kill_switch: bool,
}

/// Everything a client may see about one tunnel: no private or pre-shared key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TunnelDetail {
    pub summary: TunnelSummary,
    /// The stored config with its keys hidden, for an editor (see [`crate::redact`]).
    #[serde(rename = "config_text_redacted")]
    pub config_text: RedactedConfigText,
    pub interface: InterfaceInfo,
    pub peers: Vec<PeerInfo>,
}

/// The `[Interface]` as configured.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceInfo {
    /// Base64, as `wg pubkey` prints it: what the user gives to the other side.
    pub public_key: String,
    pub addresses: Vec<IpNet>,
    /// DNS servers and search domains, as written.
    pub dns: Vec<String>,
    pub listen_port: Option<u16>,
    pub mtu: Option<u16>,
}

/// One `[Peer]` as configured, with its live statistics when the tunnel is active.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerInfo {
    pub public_key: String,
    /// `host:port` as configured, or the address last seen when active.
    pub endpoint: Option<String>,
    pub allowed_ips: Vec<IpNet>,
    /// Whether a pre-shared key is set; the key itself never leaves the service.
    pub has_preshared_key: bool,
    /// Seconds since the Unix epoch of the last completed handshake.
    pub latest_handshake_unix: Option<u64>,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    /// Seconds.
    pub persistent_keepalive: Option<u16>,
}

/// Live statistics of one peer, pushed once a second in [`crate::Event::Stats`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerStats {
    pub public_key: String,
    pub endpoint: Option<String>,
    pub latest_handshake_unix: Option<u64>,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
}

/// Severity of a [`LogLine`], as `tracing` levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

/// One line of the service's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// Increases by one per line for the life of the service, so a client can ask for
    /// what it missed ([`crate::Request::ReadLog`] `since`).
    pub seq: u64,
    pub unix_millis: u64,
    pub level: LogLevel,
    /// The `tracing` target (module path), such as `culvertd::tunnel`.
    pub target: String,
    pub message: String,
}

/// The answer to [`crate::Request::ServiceStatus`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceStatus {
    /// The service's crate version, such as `0.1.0`.
    pub service_version: String,
    pub protocol_version: u32,
    pub pid: u32,
    pub uptime_secs: u64,
    /// How many tunnels are stored.
    pub tunnels: u32,
    /// The tunnels that are active or activating.
    pub active: Vec<TunnelName>,
    /// Connected clients, this one included.
    pub clients: u32,
    /// Whether the administrator allowed PreUp/PostUp/PreDown/PostDown scripts.
    pub scripts_enabled: bool,
}

/// A tunnel an import stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedTunnel {
    /// The name it was stored under (differs from the requested one after
    /// [`OnConflict::Rename`]).
    pub name: TunnelName,
    /// Where it came from: the requested name, or the entry's path in a zip.
    pub source: String,
    /// Whether it overwrote an existing tunnel ([`OnConflict::Replace`]).
    pub replaced: bool,
    /// The parser's warnings, as `line N, column M: warning: ...`.
    pub warnings: Vec<String>,
}

/// A zip entry an import did not store; the other entries are unaffected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedEntry {
    pub path: String,
    pub error: IpcError,
}

/// Config text that may contain private keys: only in requests that store a config
/// and in the explicit export. `Debug` shows only its length; zeroed when dropped.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ConfigText(Zeroizing<String>);

impl ConfigText {
    pub fn new(text: impl Into<String>) -> Self {
        ConfigText(Zeroizing::new(text.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for ConfigText {
    fn from(text: String) -> Self {
        ConfigText::new(text)
    }
}

impl From<&str> for ConfigText {
    fn from(text: &str) -> Self {
        ConfigText::new(text)
    }
}

impl fmt::Debug for ConfigText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConfigText(<{} bytes, not shown>)", self.0.len())
    }
}

impl Serialize for ConfigText {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ConfigText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(ConfigText::new)
    }
}

/// Config text with every private and pre-shared key replaced by
/// [`crate::REDACTED`]. The only constructor redacts, and so does deserialising, so
/// a key cannot reach a client through it even if the service forgot.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub struct RedactedConfigText(String);

impl RedactedConfigText {
    pub fn new(text: &str) -> Self {
        RedactedConfigText(redact_config_text(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for RedactedConfigText {
    fn from(text: String) -> Self {
        RedactedConfigText::new(&text)
    }
}

impl From<RedactedConfigText> for String {
    fn from(text: RedactedConfigText) -> String {
        text.0
    }
}

/// Bytes that may hold secrets (a zip of configs), base64 in JSON. `Debug` shows
/// only the length; zeroed when dropped.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    pub fn new(bytes: Vec<u8>) -> Self {
        SecretBytes(Zeroizing::new(bytes))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// How many bytes this takes in a frame once base64-encoded, so a client can
    /// refuse an archive that cannot fit in one [`crate::MAX_FRAME`] before sending it.
    pub fn encoded_len(&self) -> usize {
        self.0.len().div_ceil(3) * 4
    }
}

impl From<Vec<u8>> for SecretBytes {
    fn from(bytes: Vec<u8>) -> Self {
        SecretBytes::new(bytes)
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes(<{} bytes, not shown>)", self.0.len())
    }
}

impl Serialize for SecretBytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(self.0.as_slice()))
    }
}

impl<'de> Deserialize<'de> for SecretBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Zeroizing::new(String::deserialize(d)?);
        // Our own message: base64's errors quote the offending byte, and these bytes
        // may be a secret.
        STANDARD
            .decode(text.as_bytes())
            .map(SecretBytes::new)
            .map_err(|_| serde::de::Error::custom("`bytes` is not valid standard base64"))
    }
}
