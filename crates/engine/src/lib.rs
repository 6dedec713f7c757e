//! culvert-engine: a running WireGuard interface — TUN and UDP around culvert-proto,
//! cryptokey routing with the source-address check, and the `wg` UAPI.
//!
//! [`Interface::start`] runs one; [`uapi::UapiServer`] serves it to `wg`;
//! [`tun::create`] makes the TUN device for this OS.

mod allowed_ips;
mod batch;
#[cfg(test)]
mod counting_alloc;
mod interface;
mod offload;
mod receive;
mod send;
pub mod tun;
pub mod uapi;
mod udp;

pub use allowed_ips::{AllowedIps, packet_addresses};
pub use batch::PacketBatch;
pub use interface::Interface;

/// Where `wg` looks for UAPI sockets on Unix.
pub const UAPI_DIRECTORY: &str = "/var/run/wireguard";
