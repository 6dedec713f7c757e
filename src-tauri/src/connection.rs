//! How the app stands with the service, as the connection screen shows it.

use culvert_ipc::{ClientError, SERVICE_GROUP};
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnectionStatus {
    Connecting,
    Connected {
        service_version: String,
    },
    /// Nothing listens at `socket`: the service is stopped or not installed.
    ServiceNotRunning {
        socket: String,
    },
    /// The OS or the service refused us: the user is not in `group`.
    PermissionDenied {
        socket: String,
        group: String,
    },
    VersionMismatch {
        service: u32,
        client: u32,
    },
    Failed {
        message: String,
    },
}

impl ConnectionStatus {
    /// Why connecting to the service at `socket` failed, in the screen's terms.
    pub fn from_error(error: &ClientError, socket: &str) -> Self {
        if error.is_permission_denied() {
            return ConnectionStatus::PermissionDenied {
                socket: socket.to_owned(),
                group: SERVICE_GROUP.to_owned(),
            };
        }
        match error {
            ClientError::NotRunning { .. } | ClientError::Disconnected { .. } => {
                ConnectionStatus::ServiceNotRunning {
                    socket: socket.to_owned(),
                }
            }
            ClientError::VersionMismatch { service, client } => ConnectionStatus::VersionMismatch {
                service: *service,
                client: *client,
            },
            other => ConnectionStatus::Failed {
                message: other.to_string(),
            },
        }
    }

    pub fn is_connected(&self) -> bool {
        matches!(self, ConnectionStatus::Connected { .. })
    }
}
