//! The TUN façade: one trait every OS implements, and `create` picking the implementation.
//! `#[cfg(target_os)]` lives here and nowhere else in the engine.

use crate::batch::PacketBatch;
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

    /// Waits at most `timeout` until a read would find a packet. A device that cannot
    /// tell says yes at once, and its `read_batch` does the waiting.
    fn wait_readable(&self, timeout: Duration) -> io::Result<bool> {
        let _ = timeout;
        Ok(true)
    }

    /// Reads packets into `batch` while it has room for another of the largest: waits at
    /// most `timeout` for the first, then takes only what is already waiting. A device
    /// with segmentation offload splits its super-packets here.
    fn read_batch(&self, batch: &mut PacketBatch, timeout: Duration) -> io::Result<()> {
        let mut result = Ok(0);
        batch.push_with(MAX_PACKET, |buf| {
            result = self.read(buf, timeout);
            result.as_ref().ok().copied().filter(|&len| len > 0)
        });
        result.map(|_| ())
    }

    /// Writes every packet of `batch`, which it may modify (a device with receive
    /// offload joins segments of one TCP flow into one write).
    fn write_batch(&self, batch: &mut PacketBatch) -> io::Result<()> {
        batch.iter().try_for_each(|packet| self.write(packet))
    }
}

/// The largest IP packet.
pub const MAX_PACKET: usize = 65_535;

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
