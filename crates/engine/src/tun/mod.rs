//! The TUN façade: one trait every OS implements, and `create` picking the implementation.
//! `#[cfg(target_os)]` lives here and nowhere else in the engine.

use std::io;
use std::time::Duration;

/// A layer-3 tunnel device: whole IP packets in and out, no link header.
pub trait Tun: Send + Sync {
    /// The interface's name as the OS knows it.
    fn name(&self) -> &str;

    /// The interface MTU.
    fn mtu(&self) -> io::Result<usize>;

    /// Reads one packet, waiting at most `timeout`; `Ok(0)` means nothing came in time,
    /// so the caller can check whether to stop.
    fn read(&self, buf: &mut [u8], timeout: Duration) -> io::Result<usize>;

    /// Writes one packet.
    fn write(&self, packet: &[u8]) -> io::Result<()>;
}

/// Creates the interface `name`. It disappears when the returned value is dropped.
pub fn create(name: &str) -> io::Result<Box<dyn Tun>> {
    imp::create(name)
}

#[cfg(target_os = "linux")]
#[path = "linux.rs"]
mod imp;

#[cfg(target_os = "macos")]
#[path = "macos.rs"]
mod imp;

#[cfg(target_os = "windows")]
#[path = "windows.rs"]
mod imp;
