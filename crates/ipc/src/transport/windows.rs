//! Windows named pipe transport: culvertd's pipe over the overlapped primitives of
//! [`super::pipe`].
//!
//! - The service creates `\\.\pipe\culvert\culvertd` with a security descriptor
//!   ([`SDDL`]) owned by SYSTEM whose protected DACL grants SYSTEM and Administrators
//!   full access and Network Configuration Operators read and write (the operators
//!   group, as wireguard-windows uses it). The kernel enforces it at open time, so
//!   [`authorize`] only records who connected. Remote clients are rejected, and the
//!   first instance is created with `FILE_FLAG_FIRST_PIPE_INSTANCE`, so the service
//!   refuses to start on a name someone else already serves.
//! - The client refuses a pipe not owned by LocalSystem: anyone can create a pipe
//!   with a free name (before the service starts, say), and a fake service could
//!   otherwise receive imported keys. There is no way around the check: tests create
//!   the service's pipe as the service does, owned by SYSTEM (an elevated test enables
//!   `SeRestorePrivilege` for that, see [`super::pipe::enable_restore_privilege`]).

use std::io;
use std::os::windows::io::{AsHandle, BorrowedHandle};
use std::path::Path;
use std::time::Duration;

use super::pipe::{LOCAL_SYSTEM_SID, PipeListener, PipeStream, client_process_id};
use crate::auth::{Grant, PeerIdentity};
use crate::error::{IpcError, TransportError};

/// Owner SYSTEM; protected DACL: SYSTEM and Administrators all access, Network
/// Configuration Operators (`NO`) `0x12008b` = FILE_GENERIC_READ | FILE_WRITE_DATA.
/// Not `GW`: FILE_GENERIC_WRITE includes FILE_APPEND_DATA, which on a pipe is
/// FILE_CREATE_PIPE_INSTANCE, and would let any operator create instances of the
/// service's pipe (same name, same SYSTEM owner) and answer other users' clients.
pub(super) const SDDL: &str = "O:SYD:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;0x12008b;;;NO)";

#[derive(Debug)]
pub(super) struct Stream(PipeStream);

#[derive(Debug)]
pub(super) struct Listener(PipeListener);

impl Stream {
    /// Connects, then refuses the pipe unless LocalSystem owns it, before a byte is
    /// sent. The refusal is not `PermissionDenied`: that would tell the user to join
    /// a group, when the problem is whoever holds the name.
    pub(super) fn connect(path: &Path) -> io::Result<Stream> {
        let stream = PipeStream::connect(path)?;
        let owner = stream.owner_sid()?;
        if owner != LOCAL_SYSTEM_SID {
            return Err(io::Error::other(format!(
                "the pipe {} is owned by {owner}, not by LocalSystem ({LOCAL_SYSTEM_SID}), \
                 so it is not culvertd's (another program may have taken its name); \
                 refusing to talk to it",
                path.display()
            )));
        }
        Ok(Stream(stream))
    }

    pub(super) fn try_clone(&self) -> io::Result<Stream> {
        self.0.try_clone().map(Stream)
    }

    pub(super) fn shutdown(&self) -> io::Result<()> {
        self.0.shutdown()
    }

    pub(super) fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.0.set_write_timeout(timeout)
    }

    pub(super) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        io::Read::read(&mut self.0, buf)
    }

    pub(super) fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        io::Write::write(&mut self.0, buf)
    }

    pub(super) fn flush(&mut self) -> io::Result<()> {
        io::Write::flush(&mut self.0)
    }

    pub(super) fn as_handle(&self) -> BorrowedHandle<'_> {
        self.0.as_handle()
    }
}

impl Listener {
    /// The group is Unix's: on Windows the operators group is part of [`SDDL`].
    pub(super) fn bind(path: &Path, _group: &str) -> Result<Listener, TransportError> {
        PipeListener::bind(path, SDDL)
            .map(Listener)
            .map_err(|e| match e.kind() {
                io::ErrorKind::AddrInUse => TransportError::InUse { path: path.into() },
                _ => TransportError::io("create the pipe", path, e),
            })
    }

    pub(super) fn accept(&self) -> io::Result<Stream> {
        self.0.accept().map(Stream)
    }
}

pub(super) fn authorize(conn: &impl AsHandle, _group: &str) -> Result<PeerIdentity, IpcError> {
    Ok(PeerIdentity {
        uid: None,
        // For the log only; the pipe's DACL has already decided.
        pid: client_process_id(conn.as_handle()).ok(),
        grant: Grant::PipeAcl,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use windows_sys::Win32::Storage::FileSystem::{
        FILE_APPEND_DATA, FILE_GENERIC_READ, FILE_WRITE_DATA,
    };

    #[test]
    fn operators_may_read_and_write_but_not_create_instances() {
        let operators = SDDL
            .split("(A;;")
            .find(|ace| ace.ends_with(";;;NO)"))
            .unwrap();
        let mask = u32::from_str_radix(
            operators
                .trim_start_matches("0x")
                .split(';')
                .next()
                .unwrap(),
            16,
        )
        .unwrap();
        assert_eq!(mask, FILE_GENERIC_READ | FILE_WRITE_DATA);
        assert_eq!(mask, super::super::pipe::CLIENT_ACCESS);
        assert_eq!(mask & FILE_APPEND_DATA, 0, "FILE_CREATE_PIPE_INSTANCE");
    }
}
