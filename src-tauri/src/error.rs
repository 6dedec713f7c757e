//! The error every command rejects with: the service's error kinds plus a few local
//! ones, as `{kind, message, diagnostics?}` for the front end.

use culvert_ipc::{ClientError, ImportFileError, IpcError, IpcErrorKind};
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CommandError {
    /// A service kind (`not_found`, `invalid_config`, ...) or a local one:
    /// `not_connected`, `io`, `invalid_input`.
    pub kind: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<Vec<String>>,
}

impl CommandError {
    pub fn new(kind: &str, message: impl Into<String>) -> Self {
        CommandError {
            kind: kind.to_owned(),
            message: message.into(),
            diagnostics: None,
        }
    }

    pub fn not_connected(message: impl Into<String>) -> Self {
        CommandError::new("not_connected", message)
    }

    pub fn invalid_input(message: impl Into<String>) -> Self {
        CommandError::new("invalid_input", message)
    }

    pub fn io(error: &std::io::Error) -> Self {
        CommandError::new("io", error.to_string())
    }

    pub fn unexpected(expected: &str, got: &str) -> Self {
        CommandError::new(
            "internal",
            format!("culvertd answered {got} where {expected} was expected"),
        )
    }
}

impl From<&IpcError> for CommandError {
    fn from(error: &IpcError) -> Self {
        let kind = serde_json::to_value(&error.kind)
            .ok()
            .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_owned))
            .unwrap_or_else(|| "unknown".to_owned());
        let diagnostics = match &error.kind {
            IpcErrorKind::InvalidConfig { diagnostics } => Some(diagnostics.clone()),
            _ => None,
        };
        CommandError {
            kind,
            message: error.message.clone(),
            diagnostics,
        }
    }
}

impl From<ClientError> for CommandError {
    fn from(error: ClientError) -> Self {
        match error.service_error() {
            Some(service) => CommandError::from(service),
            None => CommandError::not_connected(error.to_string()),
        }
    }
}

/// A file or image that cannot be imported, with the parser's diagnostics if any.
impl From<&ImportFileError> for CommandError {
    fn from(error: &ImportFileError) -> Self {
        let diagnostics: Vec<String> = error
            .diagnostics()
            .iter()
            .map(ToString::to_string)
            .collect();
        let kind = match error {
            ImportFileError::Io(_) => "io",
            _ => "invalid_input",
        };
        CommandError {
            kind: kind.to_owned(),
            message: error.to_string(),
            diagnostics: (!diagnostics.is_empty()).then_some(diagnostics),
        }
    }
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for CommandError {}
