//! culvertd: the privileged Culvert service — the tunnel manager (config store, state
//! file, active tunnels: engine + network) behind the culvert-ipc server, with a log
//! ring clients can read and follow.

mod hub;
mod logring;
mod manager;
mod routing;
mod scripts;
mod server;
mod state;
mod store;
mod tunnel;

pub use hub::Hub;
pub use logring::{LogLayer, LogRing};
pub use manager::{Manager, ManagerPaths};
pub use routing::{RoutingMode, extra_allowed_ips, routing};
pub use scripts::{Hook, Settings};
pub use server::Server;
pub use state::{ServiceState, StateFile};
pub use store::{ConfigStore, StoreError};
pub use tunnel::{ActiveTunnel, TunnelError, TunnelOptions};
