//! culvertd: the privileged Culvert service — the tunnel manager (config store, state
//! file, active tunnels: engine + network) behind the culvert-ipc server, with a log
//! ring clients can read and follow; [`Daemon`] runs it all, and [`os`] is the glue to
//! systemd, launchd and the Windows service control manager.

mod at_rest;
mod daemon;
mod hub;
mod logring;
mod manager;
pub mod os;
mod resolve;
mod routing;
mod scripts;
mod server;
mod slots;
mod state;
mod store;
mod tunnel;

pub use at_rest::{Plaintext, SealError, Sealer, platform_sealer};
pub use daemon::{Daemon, DaemonError, DaemonOptions};
pub use hub::Hub;
pub use logring::{LogLayer, LogRing, stderr_fields};
pub use manager::{Manager, ManagerPaths};
pub use resolve::{HostPort, Resolved, Resolver, SystemResolver};
pub use routing::{RoutingMode, extra_allowed_ips, routing};
pub use scripts::{Hook, Settings};
pub use server::{ConnectionLimits, Server};
pub use slots::SlotLimits;
pub use state::{ServiceState, StateFile};
pub use store::{ConfigStore, StoreError};
pub use tunnel::{ActiveTunnel, TunnelError, TunnelOptions};
