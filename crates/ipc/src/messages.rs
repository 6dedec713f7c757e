//! The protocol's messages. Pure data: serde to and from JSON, no I/O.
//!
//! A connection is a sequence of frames (see [`crate::frame`]), each one JSON object
//! with a `kind`:
//!
//! 1. client -> service: `hello` ([`Hello`]). The service answers `welcome`
//!    ([`Welcome`]), `version_mismatch` or `rejected`, and closes after the last two.
//!    These three shapes never change between protocol versions, so that any client
//!    and any service can tell each other that they do not match.
//! 2. client -> service: `request`s ([`RequestEnvelope`]), each with a client-chosen
//!    `id`; the service answers each with exactly one `response` ([`Response`]) with
//!    that `id`, not necessarily in order.
//! 3. service -> client: `event`s ([`Event`]) of the kinds the client subscribed to,
//!    interleaved with responses.
//!
//! Inner enums are tagged by `type` (requests, response bodies, events), errors by
//! `kind`, tunnel states by `status`: every JSON object says what it is, which is what
//! a TypeScript discriminated union wants.

use std::collections::BTreeSet;

use culvert_config::TunnelName;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::IpcError;
use crate::types::{
    ConfigText, EventKind, ImportedTunnel, LogLine, OnConflict, PeerStats, RoutingMode,
    SecretBytes, ServiceStatus, SkippedEntry, TunnelDetail, TunnelState, TunnelSummary,
};

/// The protocol this crate speaks. Bumped on any change to a message's shape; the
/// service accepts only its own version (a client and its service ship together).
pub const PROTOCOL_VERSION: u32 = 1;

/// Everything a client sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ClientMessage {
    Hello(Hello),
    Request(RequestEnvelope),
}

/// Everything the service sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ServerMessage {
    Welcome(Welcome),
    /// The client's [`Hello::version`] is not the service's; the service closes.
    VersionMismatch {
        service: u32,
        client: u32,
    },
    /// The service will not serve this connection (not authorised, shutting down, no
    /// `hello` first); it closes after sending this.
    Rejected {
        error: IpcError,
    },
    Response(Response),
    Event(Event),
}

/// The first message on a connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub version: u32,
    /// Who is asking, for the service's log: `culvert-cli 0.1.0`, `culvert-gui 0.1.0`.
    pub client: String,
}

/// The service's answer to a matching [`Hello`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    pub version: u32,
    /// The service's crate version, such as `0.1.0`.
    pub service_version: String,
}

impl Hello {
    /// A hello for this crate's [`PROTOCOL_VERSION`].
    pub fn new(client: impl Into<String>) -> Self {
        Hello {
            version: PROTOCOL_VERSION,
            client: client.into(),
        }
    }

    /// What the service answers: [`ServerMessage::Welcome`] when the versions match,
    /// [`ServerMessage::VersionMismatch`] otherwise.
    pub fn answer(&self, service_version: &str) -> ServerMessage {
        if self.version == PROTOCOL_VERSION {
            ServerMessage::Welcome(Welcome {
                version: PROTOCOL_VERSION,
                service_version: service_version.to_owned(),
            })
        } else {
            ServerMessage::VersionMismatch {
                service: PROTOCOL_VERSION,
                client: self.version,
            }
        }
    }
}

/// A request with its id: `{"kind":"request","id":7,"type":"get_tunnel","name":"wg0"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestEnvelope {
    /// Chosen by the client, unique among its requests in flight; echoed in the
    /// [`Response`]. Keep ids under 2^53 so JavaScript reads them exactly.
    pub id: u64,
    #[serde(flatten)]
    pub request: Request,
}

/// What a client can ask. Each gets exactly one [`Response`]; the body each
/// success carries is noted per variant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    /// -> [`ResponseBody::TunnelList`].
    ListTunnels,
    /// -> [`ResponseBody::Tunnel`].
    GetTunnel { name: TunnelName },
    /// Store a wg-quick config. -> [`ResponseBody::Imported`]; an invalid config is an
    /// [`crate::IpcErrorKind::InvalidConfig`] error.
    ImportTunnel {
        name: TunnelName,
        config_text: ConfigText,
        #[serde(default)]
        on_conflict: OnConflict,
    },
    /// Store every `.conf` of a zip archive; names come from the file names.
    /// -> [`ResponseBody::ZipImported`]. The archive must fit in one frame, that is
    /// about 750 KiB before base64.
    ImportZip {
        bytes: SecretBytes,
        #[serde(default)]
        on_conflict: OnConflict,
    },
    /// A new tunnel with a fresh key pair generated by the service, no peers.
    /// -> [`ResponseBody::Tunnel`] (with the new public key).
    CreateTunnel { name: TunnelName },
    /// Replace a tunnel's config. `config_text` may keep the [`crate::REDACTED`]
    /// placeholders of [`TunnelDetail::config_text`]: the service puts the stored keys
    /// back (see [`crate::restore_redacted_keys`]). An active tunnel is reconfigured.
    /// -> [`ResponseBody::Updated`].
    UpdateTunnel {
        name: TunnelName,
        config_text: ConfigText,
    },
    /// -> [`ResponseBody::Done`]; an active tunnel is a
    /// [`crate::IpcErrorKind::Conflict`].
    RenameTunnel { from: TunnelName, to: TunnelName },
    /// Deactivates the tunnel first if needed. -> [`ResponseBody::Done`].
    DeleteTunnel { name: TunnelName },
    /// Starts activating. -> [`ResponseBody::Done`] once it is active; failures are
    /// errors and also a [`TunnelState::Error`] event.
    Activate { name: TunnelName },
    /// -> [`ResponseBody::Done`] once it is inactive.
    Deactivate { name: TunnelName },
    /// A runtime choice, applied live to an active tunnel. -> [`ResponseBody::Done`].
    SetRoutingMode { name: TunnelName, mode: RoutingMode },
    /// Only effective in [`RoutingMode::Full`]. -> [`ResponseBody::Done`].
    SetKillSwitch { name: TunnelName, enabled: bool },
    /// The explicit export: the only way a private key leaves the service.
    /// -> [`ResponseBody::Exported`].
    ExportTunnel {
        name: TunnelName,
        include_private_key: bool,
    },
    /// Every tunnel as `NAME.conf` in a zip. -> [`ResponseBody::Zip`].
    ExportAllZip { include_private_keys: bool },
    /// Log lines with `seq` greater than `since` (the newest ones when `None`), at most
    /// `limit` of them and no more than fit in half a frame, the newest kept. Each value
    /// in a line is escaped and cut to [`crate::MAX_LOGGED_CHARS`] characters
    /// ([`crate::printable`]). -> [`ResponseBody::LogLines`].
    ReadLog {
        #[serde(default)]
        since: Option<u64>,
        limit: u32,
    },
    /// Replace this connection's subscriptions. -> [`ResponseBody::Done`], then
    /// [`Event`]s of those kinds.
    Subscribe { events: BTreeSet<EventKind> },
    /// Stop all events on this connection. -> [`ResponseBody::Done`].
    Unsubscribe,
    /// -> [`ResponseBody::Status`].
    ServiceStatus,
}

impl Request {
    /// The JSON `type`, for logs: requests are logged by type, never by content.
    pub fn type_name(&self) -> &'static str {
        match self {
            Request::ListTunnels => "list_tunnels",
            Request::GetTunnel { .. } => "get_tunnel",
            Request::ImportTunnel { .. } => "import_tunnel",
            Request::ImportZip { .. } => "import_zip",
            Request::CreateTunnel { .. } => "create_tunnel",
            Request::UpdateTunnel { .. } => "update_tunnel",
            Request::RenameTunnel { .. } => "rename_tunnel",
            Request::DeleteTunnel { .. } => "delete_tunnel",
            Request::Activate { .. } => "activate",
            Request::Deactivate { .. } => "deactivate",
            Request::SetRoutingMode { .. } => "set_routing_mode",
            Request::SetKillSwitch { .. } => "set_kill_switch",
            Request::ExportTunnel { .. } => "export_tunnel",
            Request::ExportAllZip { .. } => "export_all_zip",
            Request::ReadLog { .. } => "read_log",
            Request::Subscribe { .. } => "subscribe",
            Request::Unsubscribe => "unsubscribe",
            Request::ServiceStatus => "service_status",
        }
    }
}

/// The answer to one request: `{"kind":"response","id":7,"ok":{...}}` or
/// `{"kind":"response","id":7,"error":{...}}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub id: u64,
    pub result: Result<ResponseBody, IpcError>,
}

impl Response {
    pub fn ok(id: u64, body: ResponseBody) -> Self {
        Response {
            id,
            result: Ok(body),
        }
    }

    pub fn error(id: u64, error: IpcError) -> Self {
        Response {
            id,
            result: Err(error),
        }
    }
}

/// What a successful request returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseBody {
    Done,
    TunnelList {
        tunnels: Vec<TunnelSummary>,
    },
    Tunnel(TunnelDetail),
    Imported(ImportedTunnel),
    ZipImported {
        imported: Vec<ImportedTunnel>,
        skipped: Vec<SkippedEntry>,
    },
    /// The parser's warnings about the saved config.
    Updated {
        warnings: Vec<String>,
    },
    /// A tunnel's config; holds the private key when it was asked for.
    Exported {
        text: ConfigText,
    },
    Zip {
        bytes: SecretBytes,
    },
    LogLines {
        lines: Vec<LogLine>,
    },
    Status(ServiceStatus),
}

impl ResponseBody {
    /// The JSON `type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            ResponseBody::Done => "done",
            ResponseBody::TunnelList { .. } => "tunnel_list",
            ResponseBody::Tunnel(_) => "tunnel",
            ResponseBody::Imported(_) => "imported",
            ResponseBody::ZipImported { .. } => "zip_imported",
            ResponseBody::Updated { .. } => "updated",
            ResponseBody::Exported { .. } => "exported",
            ResponseBody::Zip { .. } => "zip",
            ResponseBody::LogLines { .. } => "log_lines",
            ResponseBody::Status(_) => "status",
        }
    }
}

/// Pushed to clients subscribed to its [`Event::kind`]:
/// `{"kind":"event","type":"tunnel_state","name":"wg0","state":{"status":"active"}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    TunnelState {
        name: TunnelName,
        state: TunnelState,
    },
    /// A tunnel was imported, created, renamed or deleted, or its settings changed:
    /// list the tunnels again.
    TunnelsChanged,
    /// Once a second per active tunnel.
    Stats {
        name: TunnelName,
        peers: Vec<PeerStats>,
    },
    Log(LogLine),
}

impl Event {
    /// The subscription this event belongs to.
    pub fn kind(&self) -> EventKind {
        match self {
            Event::TunnelState { .. } | Event::TunnelsChanged => EventKind::Tunnels,
            Event::Stats { .. } => EventKind::Stats,
            Event::Log(_) => EventKind::Log,
        }
    }
}

/// The `id` of a frame that did not decode as a [`ClientMessage`], when it has one,
/// so the service can answer that request with an
/// [`crate::IpcErrorKind::InvalidRequest`] error instead of dropping the connection.
pub fn request_id(payload: &[u8]) -> Option<u64> {
    #[derive(Deserialize)]
    struct IdOnly {
        id: Option<u64>,
    }
    serde_json::from_slice::<IdOnly>(payload).ok()?.id
}

// `Response` on the wire: the id beside an `ok` or `error` key, never both.

#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum ResultRef<'a> {
    Ok(&'a ResponseBody),
    Error(&'a IpcError),
}

#[derive(Serialize)]
struct ResponseRef<'a> {
    id: u64,
    #[serde(flatten)]
    result: ResultRef<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum ResultOwned {
    Ok(ResponseBody),
    Error(IpcError),
}

#[derive(Deserialize)]
struct ResponseOwned {
    id: u64,
    #[serde(flatten)]
    result: ResultOwned,
}

impl Serialize for Response {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let result = match &self.result {
            Ok(body) => ResultRef::Ok(body),
            Err(e) => ResultRef::Error(e),
        };
        ResponseRef {
            id: self.id,
            result,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Response {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = ResponseOwned::deserialize(d)?;
        let result = match r.result {
            ResultOwned::Ok(body) => Ok(body),
            ResultOwned::Error(e) => Err(e),
        };
        Ok(Response { id: r.id, result })
    }
}
