//! culvert-engine: a running WireGuard interface — TUN and UDP around culvert-proto,
//! cryptokey routing with the source-address check, and the `wg` UAPI.
//!
//! [`Interface::start`] runs one; [`uapi::UapiServer`] serves it to `wg`;
//! [`tun::create`] makes the TUN device for this OS.

mod allowed_ips;
mod batch;
mod interface;
// Only Linux's TUN speaks virtio-net headers; the code is pure and its tests run on
// every system.
#[cfg_attr(not(target_os = "linux"), allow(dead_code, unused_imports))]
mod offload;
mod receive;
mod send;
pub mod tun;
pub mod uapi;
mod udp;

// The unit tests show the data path allocates nothing per packet.
#[cfg(test)]
#[global_allocator]
static COUNTING_ALLOCATOR: culvert_testalloc::CountingAllocator =
    culvert_testalloc::CountingAllocator;

/// Guards the zero-allocation tests: without the counting allocator they would pass
/// whatever the code does.
#[test]
fn the_counting_allocator_is_installed() {
    assert_eq!(
        culvert_testalloc::allocations_during(|| drop(std::hint::black_box(vec![1u8; 10]))),
        1
    );
}

pub use allowed_ips::{AllowedIps, packet_addresses};
pub use batch::PacketBatch;
pub use interface::Interface;

/// Where `wg` looks for UAPI sockets on Unix.
#[cfg(unix)]
pub const UAPI_DIRECTORY: &str = "/var/run/wireguard";
/// The named-pipe prefix `wg.exe` and wireguard-go use on Windows; only SYSTEM and
/// administrators may create pipes under `ProtectedPrefix\Administrators`.
#[cfg(windows)]
pub const UAPI_DIRECTORY: &str = r"\\.\pipe\ProtectedPrefix\Administrators\WireGuard";
