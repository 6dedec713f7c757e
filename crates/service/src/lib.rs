//! culvertd: the privileged Culvert service. This first part is the tunnel manager's
//! core — activating a stored config as an engine interface plus its network, switching
//! routing modes and the kill switch live, and taking it all down again. The config
//! store, state file and IPC server build on it.

mod routing;
mod state;
mod store;
mod tunnel;

pub use routing::{RoutingMode, extra_allowed_ips, routing};
pub use state::{ServiceState, StateFile};
pub use store::{ConfigStore, StoreError};
pub use tunnel::{ActiveTunnel, TunnelError, TunnelOptions};
