//! Unix socket transport (Linux, macOS).

use std::fs::{self, DirBuilder, Permissions};
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{DirBuilderExt as _, FileTypeExt as _, PermissionsExt as _, chown};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::Duration;

use super::unix_sys;
use crate::auth::{self, Credentials, PeerIdentity};
use crate::error::{IpcError, TransportError};

#[derive(Debug)]
pub(super) struct Stream(UnixStream);

#[derive(Debug)]
pub(super) struct Listener(UnixListener);

impl Stream {
    pub(super) fn connect(path: &Path) -> io::Result<Stream> {
        UnixStream::connect(path).map(Stream)
    }

    pub(super) fn try_clone(&self) -> io::Result<Stream> {
        self.0.try_clone().map(Stream)
    }

    pub(super) fn shutdown(&self) -> io::Result<()> {
        match self.0.shutdown(Shutdown::Both) {
            // The other side was faster; the connection is down either way.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            r => r,
        }
    }

    pub(super) fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.0.set_write_timeout(timeout)
    }

    pub(super) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }

    pub(super) fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    pub(super) fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }

    pub(super) fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl From<UnixStream> for Stream {
    fn from(s: UnixStream) -> Self {
        Stream(s)
    }
}

impl From<Stream> for UnixStream {
    fn from(s: Stream) -> Self {
        s.0
    }
}

impl From<Listener> for UnixListener {
    fn from(l: Listener) -> Self {
        l.0
    }
}

impl Listener {
    pub(super) fn bind(path: &Path, group: &str) -> Result<Listener, TransportError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            // 0755: anyone may reach the socket; the socket's own mode decides who may
            // connect. An existing directory keeps its mode (systemd may manage it).
            DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(parent)
                .map_err(|e| TransportError::io("create the directory", parent, e))?;
        }
        remove_stale(path)?;
        let listener = UnixListener::bind(path).map_err(|e| match e.kind() {
            io::ErrorKind::AddrInUse => TransportError::InUse { path: path.into() },
            _ => TransportError::io("bind the socket", path, e),
        })?;
        // Between bind and chmod the socket has the umask's mode (0755 under the
        // usual 022: nobody else may write, so nobody else may connect).
        fs::set_permissions(path, Permissions::from_mode(0o660))
            .map_err(|e| TransportError::io("set the mode of", path, e))?;
        let gid = unix_sys::group_gid(group)
            .map_err(|e| TransportError::io("look up the group of", path, e))?;
        if let Some(gid) = gid {
            chown(path, None, Some(gid))
                .map_err(|e| TransportError::io("set the group of", path, e))?;
        }
        Ok(Listener(listener))
    }

    pub(super) fn accept(&self) -> io::Result<Stream> {
        self.0.accept().map(|(s, _)| Stream(s))
    }
}

/// Removes a socket left behind by a service that died, never a live one nor a file
/// that is not a socket.
fn remove_stale(path: &Path) -> Result<(), TransportError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(TransportError::io("inspect", path, e)),
    };
    if !meta.file_type().is_socket() {
        return Err(TransportError::NotASocket { path: path.into() });
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(TransportError::InUse { path: path.into() }),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => match fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(TransportError::io("remove the stale socket", path, e))
            }
            _ => Ok(()),
        },
        Err(e) => Err(TransportError::io("probe the existing socket", path, e)),
    }
}

pub(super) fn authorize(conn: &impl AsFd, group: &str) -> Result<PeerIdentity, IpcError> {
    let creds = peer_credentials(conn.as_fd())
        .map_err(|e| IpcError::internal(format!("could not read the caller's credentials: {e}")))?;
    let gid = unix_sys::group_gid(group)
        .map_err(|e| IpcError::internal(format!("could not look up group `{group}`: {e}")))?;
    auth::decide(&creds, group, gid)
}

#[cfg(target_os = "linux")]
fn peer_credentials(fd: BorrowedFd<'_>) -> io::Result<Credentials> {
    let cred = unix_sys::peer_cred(fd)?;
    let pid = u32::try_from(cred.pid).ok().filter(|&p| p > 0);
    let groups = match unix_sys::peer_groups(fd) {
        Ok(groups) => groups,
        // Kernels before 4.13: the process's groups now, rather than at connect().
        Err(e) if e.raw_os_error() == Some(libc::ENOPROTOOPT) => {
            let pid = pid.ok_or_else(|| io::Error::other("the kernel reported no peer pid"))?;
            let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
            parse_status_groups(&status)
                .ok_or_else(|| io::Error::other("no Groups: line in /proc/PID/status"))?
        }
        Err(e) => return Err(e),
    };
    Ok(Credentials {
        uid: cred.uid,
        gid: cred.gid,
        groups,
        pid,
    })
}

#[cfg(target_os = "macos")]
fn peer_credentials(fd: BorrowedFd<'_>) -> io::Result<Credentials> {
    let (uid, groups) = unix_sys::peer_xucred(fd)?;
    Ok(Credentials {
        uid,
        gid: groups.first().copied().unwrap_or(u32::MAX),
        groups,
        pid: None,
    })
}

/// Other Unixes (UNVERIFIED): only the primary gid is known, so membership through a
/// supplementary group is not seen; such users need `culvert` as primary group.
#[cfg(all(not(target_os = "linux"), not(target_os = "macos")))]
fn peer_credentials(fd: BorrowedFd<'_>) -> io::Result<Credentials> {
    let (uid, gid) = unix_sys::peer_eid(fd)?;
    Ok(Credentials {
        uid,
        gid,
        groups: Vec::new(),
        pid: None,
    })
}

/// The gids of a `Groups:` line of `/proc/PID/status` (`Groups:\t4 24 27 \n`).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn parse_status_groups(status: &str) -> Option<Vec<u32>> {
    let line = status.lines().find_map(|l| l.strip_prefix("Groups:"))?;
    line.split_whitespace().map(|g| g.parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_status_groups() {
        let status = "Name:\tbash\nUid:\t1000\t1000\t1000\t1000\nGroups:\t4 24 27 990 \nNgid:\t0\n";
        assert_eq!(parse_status_groups(status), Some(vec![4, 24, 27, 990]));
        assert_eq!(parse_status_groups("Groups:\t\n"), Some(vec![]));
        assert_eq!(parse_status_groups("Name:\tx\n"), None);
        assert_eq!(parse_status_groups("Groups:\tabc\n"), None);
    }
}
