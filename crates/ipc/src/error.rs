//! Errors: what the service answers ([`IpcError`], on the wire), what breaks a
//! connection ([`FrameError`]), what a client sees ([`ClientError`]) and what can go
//! wrong setting up the service's endpoint ([`TransportError`]).
//!
//! Every message says what failed and what to do; none contains a key.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use culvert_config::{ParseErrors, TunnelName};
use serde::{Deserialize, Serialize};

use crate::transport::{JOIN_GROUP_HINT, START_SERVICE_HINT};

/// An error answer from the service: a kind a program can match on, and a message for
/// a person.
///
/// JSON: `{"kind":"not_found","message":"..."}`; an invalid config adds
/// `"diagnostics":["line 3, column 14: ..."]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpcError {
    #[serde(flatten)]
    pub kind: IpcErrorKind,
    pub message: String,
}

/// What kind of [`IpcError`] this is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum IpcErrorKind {
    /// No tunnel of that name (or no such log position, ...).
    NotFound,
    /// A tunnel of that name exists already.
    AlreadyExists,
    /// The config text does not parse: every diagnostic, rendered as
    /// `line N, column M: message` (warnings as `line N, column M: warning: ...`).
    InvalidConfig { diagnostics: Vec<String> },
    /// The request itself is malformed: bad JSON, an unknown type, an invalid name.
    InvalidRequest,
    /// The request contradicts the current state (rename while active, ...).
    Conflict,
    /// The caller may not do this.
    PermissionDenied,
    /// The service is busy with something that excludes this request; try again.
    Busy,
    /// Not possible on this platform or in this configuration.
    Unsupported,
    /// A bug or an OS failure in the service; the message and the service log say more.
    Internal,
    /// A kind this client does not know (a newer service); read the message.
    #[serde(other)]
    Unknown,
}

impl IpcError {
    pub fn new(kind: IpcErrorKind, message: impl Into<String>) -> Self {
        IpcError {
            kind,
            message: message.into(),
        }
    }

    pub fn tunnel_not_found(name: &TunnelName) -> Self {
        Self::new(
            IpcErrorKind::NotFound,
            format!("there is no tunnel named `{name}`"),
        )
    }

    pub fn tunnel_exists(name: &TunnelName) -> Self {
        Self::new(
            IpcErrorKind::AlreadyExists,
            format!(
                "a tunnel named `{name}` already exists; choose another name, or import \
                 with replace or rename"
            ),
        )
    }

    /// A config for tunnel `name` that does not parse, with every diagnostic.
    pub fn invalid_config(name: &TunnelName, errors: &ParseErrors) -> Self {
        let count = errors.errors().count();
        let plural = if count == 1 { "" } else { "s" };
        Self::new(
            IpcErrorKind::InvalidConfig {
                diagnostics: errors.diagnostics().iter().map(|d| d.to_string()).collect(),
            },
            format!("the config for `{name}` has {count} error{plural}"),
        )
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(IpcErrorKind::InvalidRequest, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(IpcErrorKind::Internal, message)
    }
}

impl fmt::Display for IpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let IpcErrorKind::InvalidConfig { diagnostics } = &self.kind {
            for d in diagnostics {
                write!(f, "\n  {d}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for IpcError {}

/// A frame that cannot be read or written. Framing errors other than
/// [`FrameError::Json`] and [`FrameError::Message`] leave the stream unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The length prefix (or an outgoing message) is over [`crate::MAX_FRAME`]. The
    /// claimed size is never allocated.
    #[error(
        "a frame of {len} bytes was refused: frames are at most {max} bytes (1 MiB); \
         the other side is not speaking the culvert protocol, or a message is too large"
    )]
    TooLarge { len: u64, max: usize },
    /// The stream ended inside a frame.
    #[error("the connection closed in the middle of a frame ({got} of {expected} bytes arrived)")]
    Truncated { expected: usize, got: usize },
    /// The payload is not JSON.
    #[error("a frame does not hold valid JSON: {0}")]
    Json(String),
    /// The payload is JSON but not a message this side knows (unknown `type`, missing
    /// field, wrong type, invalid tunnel name, ...).
    #[error("unexpected message: {0}")]
    Message(String),
    #[error("could not encode a message: {0}")]
    Encode(String),
    #[error("connection error: {0}")]
    Io(#[from] io::Error),
}

/// Why a client call failed, worded for the person using the CLI or the GUI.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// No socket, or a socket nobody listens on.
    #[error(
        "culvertd is not running ({hint}): nothing is listening at {path}",
        hint = START_SERVICE_HINT, path = path.display()
    )]
    NotRunning { path: PathBuf },
    /// The OS refused to open the socket: the caller is not in the service's group.
    /// (A refusal by the service itself is [`ClientError::Rejected`].)
    #[error("{hint}: {detail}", hint = JOIN_GROUP_HINT)]
    PermissionDenied { detail: String },
    #[error(
        "culvertd speaks protocol {service}, this client speaks {client}: {}",
        version_advice(*service, *client)
    )]
    VersionMismatch { service: u32, client: u32 },
    /// The service refused the connection: not authorised, busy starting, ...
    #[error("culvertd refused the connection: {0}")]
    Rejected(IpcError),
    /// The service answered a request with an error.
    #[error("{0}")]
    Service(IpcError),
    #[error(
        "culvertd did not answer {what} within {} ms; it may be stuck (see its log: \
         journalctl -u culvertd)",
        after.as_millis()
    )]
    Timeout { what: String, after: Duration },
    #[error(
        "the connection to culvertd was closed{}; if the service was restarted, connect again",
        reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()
    )]
    Disconnected { reason: Option<String> },
    #[error("culvertd answered with {got} where {expected} was expected; this is a bug")]
    UnexpectedResponse {
        expected: &'static str,
        got: &'static str,
    },
    /// A request that cannot be sent as one frame (a zip archive over about 750 KiB).
    #[error("the request is too large to send: {0}")]
    TooLarge(FrameError),
    #[error("protocol error talking to culvertd: {0}")]
    Frame(FrameError),
    #[error("could not connect to culvertd at {path}: {source}", path = path.display())]
    Connect { path: PathBuf, source: io::Error },
}

/// Which side to update: the older one.
fn version_advice(service: u32, client: u32) -> &'static str {
    if service > client {
        "update this client (the culvert CLI or app) to the service's version"
    } else {
        "update culvertd, or restart it if it was just upgraded \
         (sudo systemctl restart culvertd)"
    }
}

impl ClientError {
    /// Whether trying again shortly may help: the service may be starting.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ClientError::NotRunning { .. }
                | ClientError::Disconnected { .. }
                | ClientError::Timeout { .. }
        ) || matches!(self, ClientError::Rejected(e) if e.kind == IpcErrorKind::Busy)
    }

    /// Whether the caller lacks the right to use the service, as the OS or the
    /// service said: the GUI shows how to join the group.
    pub fn is_permission_denied(&self) -> bool {
        matches!(self, ClientError::PermissionDenied { .. })
            || matches!(self, ClientError::Rejected(e) if e.kind == IpcErrorKind::PermissionDenied)
    }

    /// The service's error, when the service answered with one.
    pub fn service_error(&self) -> Option<&IpcError> {
        match self {
            ClientError::Service(e) | ClientError::Rejected(e) => Some(e),
            _ => None,
        }
    }
}

/// Setting up the service's endpoint failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    #[error(
        "another culvertd is already listening at {path}; stop it first \
         (sudo systemctl stop culvertd)", path = path.display()
    )]
    InUse { path: PathBuf },
    #[error(
        "{path} exists and is not a socket; culvertd will not remove it: check what it is \
         and remove it yourself", path = path.display()
    )]
    NotASocket { path: PathBuf },
    /// The socket's directory could be changed by someone else, who could then replace
    /// the socket (or put a link where it is about to be created).
    #[error(
        "culvertd will not create its socket in {path}: {problem}; {fix}", path = path.display()
    )]
    InsecureDirectory {
        path: PathBuf,
        problem: String,
        fix: String,
    },
    /// The path changed between creating the socket and setting its owner and mode.
    #[error(
        "{path} changed while culvertd was setting it up (something else is writing to \
         its directory); culvertd did not touch it further", path = path.display()
    )]
    Replaced { path: PathBuf },
    #[error("could not {action} {path}: {source}", path = path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("named pipes and Unix sockets are not available on this platform")]
    Unsupported,
}

impl TransportError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        TransportError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
