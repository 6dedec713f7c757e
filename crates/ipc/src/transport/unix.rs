//! Unix socket transport (Linux, macOS).

use std::fs::{self, DirBuilder};
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{DirBuilderExt as _, FileTypeExt as _, MetadataExt as _, lchown};
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
    /// Creates the service's socket at `path`: mode 0660 from the moment it exists,
    /// group `group` when that group exists, in a directory only its owner (root for
    /// the real service) can change, so nobody else can swap the socket for something
    /// else or make the service chmod/chown a file of their choosing.
    ///
    /// Sets the process-wide umask for the duration of `bind()`: call it at startup,
    /// before other threads create files (as culvertd does).
    pub(super) fn bind(path: &Path, group: &str) -> Result<Listener, TransportError> {
        let parent = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(parent) => parent,
            None => Path::new("."),
        };
        // 0755: anyone may reach the socket; the socket's own mode decides who may
        // connect. An existing directory keeps its mode (systemd may manage it).
        DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(parent)
            .map_err(|e| TransportError::io("create the directory", parent, e))?;
        check_directory(parent, unix_sys::effective_uid())?;
        remove_stale(path)?;
        let listener = {
            // 0777 & !0o117 = 0660: the socket is never wider than its final mode.
            let _umask = Umask::set(0o117);
            UnixListener::bind(path)
        }
        .map_err(|e| match e.kind() {
            io::ErrorKind::AddrInUse => TransportError::InUse { path: path.into() },
            _ => TransportError::io("bind the socket", path, e),
        })?;
        // Linux cannot fchmod/fchown a socket through its descriptor, so the path is
        // used, never following a symlink, and only while it is still the socket just
        // created (the directory check means only its owner could have replaced it).
        let created = bound_socket(path)?;
        if created.mode() & 0o7777 != 0o660 {
            // A default ACL on the directory overrides the umask.
            unix_sys::chmod_nofollow(path, 0o660)
                .map_err(|e| TransportError::io("set the mode of", path, e))?;
        }
        let gid = unix_sys::group_gid(group)
            .map_err(|e| TransportError::io("look up the group of", path, e))?;
        if let Some(gid) = gid {
            same_socket(path, &created)?;
            lchown(path, None, Some(gid))
                .map_err(|e| TransportError::io("set the group of", path, e))?;
        }
        let done = same_socket(path, &created)?;
        if done.mode() & 0o7777 != 0o660 {
            return Err(TransportError::io(
                "set the mode of",
                path,
                io::Error::other(format!("it is {:o}, not 660", done.mode() & 0o7777)),
            ));
        }
        Ok(Listener(listener))
    }

    pub(super) fn accept(&self) -> io::Result<Stream> {
        self.0.accept().map(|(s, _)| Stream(s))
    }
}

/// Sets the process's umask, and sets the old one back when dropped.
struct Umask(u32);

impl Umask {
    fn set(mask: u32) -> Umask {
        Umask(unix_sys::set_umask(mask))
    }
}

impl Drop for Umask {
    fn drop(&mut self) {
        unix_sys::set_umask(self.0);
    }
}

/// Refuses a socket directory that someone other than `uid` (root for the real
/// service) owns or that group or others may write to: whoever can write there can
/// replace the socket, or put a symlink where the service is about to chmod/chown.
fn check_directory(dir: &Path, uid: u32) -> Result<(), TransportError> {
    let meta = fs::symlink_metadata(dir).map_err(|e| TransportError::io("inspect", dir, e))?;
    let owner = if uid == 0 {
        "root".to_owned()
    } else {
        format!("uid {uid} (the user culvertd runs as)")
    };
    let chown_to = if uid == 0 {
        "root".to_owned()
    } else {
        uid.to_string()
    };
    let fix = format!(
        "make it a directory owned by {owner} and writable by nobody else \
         (chown {chown_to} {d} && chmod go-w {d}), or use another path",
        d = dir.display()
    );
    let insecure = |problem: String| TransportError::InsecureDirectory {
        path: dir.into(),
        problem,
        fix: fix.clone(),
    };
    if !meta.file_type().is_dir() {
        return Err(insecure(
            "it is not a directory (a symlink is not followed)".into(),
        ));
    }
    if meta.uid() != uid {
        return Err(insecure(format!(
            "it is owned by uid {}, not by {owner}",
            meta.uid()
        )));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(insecure(format!(
            "its mode {:o} lets group or others write to it",
            meta.mode() & 0o7777
        )));
    }
    Ok(())
}

/// The metadata of the socket just bound at `path`, checked to be a socket (not a
/// link, not anything else) owned by this process's uid.
fn bound_socket(path: &Path) -> Result<fs::Metadata, TransportError> {
    let meta = fs::symlink_metadata(path).map_err(|e| TransportError::io("inspect", path, e))?;
    if !meta.file_type().is_socket() || meta.uid() != unix_sys::effective_uid() {
        return Err(TransportError::Replaced { path: path.into() });
    }
    Ok(meta)
}

/// Checks that `path` is still the socket `created` (same device and inode).
fn same_socket(path: &Path, created: &fs::Metadata) -> Result<fs::Metadata, TransportError> {
    let now = bound_socket(path)?;
    if (now.dev(), now.ino()) != (created.dev(), created.ino()) {
        return Err(TransportError::Replaced { path: path.into() });
    }
    Ok(now)
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
