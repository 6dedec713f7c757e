//! Windows: a Wintun adapter (`wintun` crate, `wintun.dll` shipped beside the service).
//! UNVERIFIED: written carefully but never compiled here; the `wintun` dependency is
//! a Windows-only dependency in Cargo.toml.
#![allow(unsafe_code)]

use super::Tun;
use std::io;
use std::sync::Arc;
use std::time::Duration;

struct WintunTun {
    session: Arc<wintun::Session>,
    _adapter: Arc<wintun::Adapter>,
    name: String,
}

pub(super) fn create(name: &str) -> io::Result<Box<dyn Tun>> {
    // SAFETY: loads wintun.dll from the service's own directory, where the installer
    // puts the signed DLL; nothing else is loaded.
    let wintun = unsafe { wintun::load() }.map_err(io::Error::other)?;
    let adapter =
        wintun::Adapter::create(&wintun, name, "Culvert", None).map_err(io::Error::other)?;
    let session = adapter
        .start_session(wintun::MAX_RING_CAPACITY)
        .map_err(io::Error::other)?;
    Ok(Box::new(WintunTun {
        session: Arc::new(session),
        _adapter: adapter,
        name: name.to_owned(),
    }))
}

impl Tun for WintunTun {
    fn name(&self) -> &str {
        &self.name
    }

    fn mtu(&self) -> io::Result<usize> {
        Ok(1420)
    }

    fn read(&self, buf: &mut [u8], _timeout: Duration) -> io::Result<usize> {
        match self.session.try_receive().map_err(io::Error::other)? {
            Some(packet) => {
                let bytes = packet.bytes();
                let len = bytes.len().min(buf.len());
                buf[..len].copy_from_slice(&bytes[..len]);
                Ok(len)
            }
            None => {
                // Wintun signals readiness through an event; a short sleep keeps this
                // simple until the Windows data path is tuned.
                std::thread::sleep(Duration::from_millis(1));
                Ok(0)
            }
        }
    }

    fn write(&self, packet: &[u8]) -> io::Result<()> {
        let len = u16::try_from(packet.len()).map_err(io::Error::other)?;
        let mut out = self
            .session
            .allocate_send_packet(len)
            .map_err(io::Error::other)?;
        out.bytes_mut().copy_from_slice(packet);
        self.session.send_packet(out);
        Ok(())
    }
}
