//! culvert-ipc: how `culvertd` and its clients (the `culvert` CLI and the GUI) talk.
//!
//! - [`messages`]: the typed, versioned protocol. [`ClientMessage`] goes to the
//!   service ([`Hello`] first, then [`RequestEnvelope`]s); [`ServerMessage`] comes
//!   back ([`Welcome`] or a refusal, then [`Response`]s and pushed [`Event`]s). Pure
//!   data: no I/O, usable from the GUI and in tests.
//! - [`types`]: what the messages carry (tunnel summaries and details, peer stats,
//!   log lines) and the wrappers that keep secrets out of `Debug` output.
//! - [`printable`]: outside text made safe to log and to print in a terminal.
//! - [`redact`]: hides private and pre-shared keys in config text, and puts them back
//!   when an edited, redacted config is saved.
//! - [`frame`]: 4-byte big-endian length + JSON, with a sans-IO [`FrameDecoder`],
//!   [`encode`], blocking helpers and (feature `tokio`) a `tokio_util` codec.
//! - [`transport`]: the Unix socket / Windows named pipe façade: [`Listener`] for the
//!   service, [`Stream`] for both ends, and [`authorize`] to check who connected.
//! - [`auth`]: the pure rule deciding who may use the service.
//! - [`client`]: the blocking [`Client`] shared by the CLI and the GUI, with
//!   [`connect_with_retry`] and errors a person can act on.
//! - [`import_file`] and [`files`]: what both clients do with the user's files —
//!   read `.conf`, `.zip` and QR images for an import, write exports privately.
//!
//! Nothing here is privileged: the GUI links this crate, and only `culvertd` calls
//! [`Listener::bind`] and [`authorize`].

pub mod auth;
pub mod client;
mod error;
pub mod files;
pub mod frame;
pub mod import_file;
pub mod messages;
pub mod printable;
pub mod redact;
pub mod transport;
pub mod types;

pub use auth::{Credentials, Grant, PeerIdentity};
pub use client::{Client, ClientOptions, connect_with_retry};
pub use error::{ClientError, FrameError, IpcError, IpcErrorKind, TransportError};
pub use files::{read_at_most, write_private};
#[cfg(feature = "tokio")]
pub use frame::FrameCodec;
pub use frame::{FrameDecoder, HEADER_LEN, MAX_FRAME, decode, encode, read_frame, write_frame};
pub use import_file::{
    ImportFile, ImportFileError, MAX_ZIP_SEND, config_from_qr, read_import_file,
};
pub use messages::{
    ClientMessage, Event, Hello, PROTOCOL_VERSION, Request, RequestEnvelope, Response,
    ResponseBody, ServerMessage, Welcome, request_id,
};
pub use printable::{MAX_LOGGED_CHARS, printable};
pub use redact::{REDACTED, redact_config_text, restore_redacted_keys};
pub use transport::{
    DEFAULT_ADDRESS, JOIN_GROUP_HINT, Listener, PIPE_NAME, SERVICE_GROUP, SOCKET_PATH,
    START_SERVICE_HINT, Stream, authorize,
};
pub use types::{
    ConfigText, EventKind, ImportedTunnel, InterfaceInfo, LogLevel, LogLine, OnConflict, PeerInfo,
    PeerStats, RedactedConfigText, RoutingMode, SecretBytes, ServiceStatus, SkippedEntry,
    TunnelDetail, TunnelState, TunnelSummary,
};

/// Tunnel names in messages are validated wg-quick names; re-exported so a client
/// need not depend on culvert-config just to build a request.
pub use culvert_config::TunnelName;
