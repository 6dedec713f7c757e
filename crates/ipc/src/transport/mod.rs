//! The local transport: a Unix socket, or a named pipe on Windows.
//!
//! One façade over a private `imp` per OS (DESIGN.md rule 2); `#[cfg(target_os)]` and
//! `#[cfg(unix/windows)]` live only under this module. The service binds a
//! [`Listener`] and checks each caller with [`authorize`]; clients [`Stream::connect`].
//! Both ends are blocking std streams; the tokio service can convert them (on Unix,
//! `Stream` and `Listener` convert to and from the std socket types, which tokio
//! adopts with `from_std`), and [`authorize`] takes anything that has a socket or pipe
//! handle, tokio's streams included.
//!
//! On Windows, [`pipe`] holds the named-pipe primitives (overlapped I/O, a listener
//! with a security descriptor, the owner check's query) that the façade is built on;
//! culvert-engine serves its UAPI pipe with them too.

use std::io::{self, Read, Write};
use std::path::Path;
use std::time::Duration;

use crate::auth::PeerIdentity;
use crate::error::{IpcError, TransportError};

#[cfg(unix)]
mod unix;
#[cfg(unix)]
mod unix_sys;
#[cfg(unix)]
use unix as imp;

// Cross-compiled for x86_64-pc-windows-gnu and tested under wine
// (tests/windows_pipe.rs); what only a real Windows shows is listed there.
#[cfg(windows)]
pub mod pipe;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as imp;

/// Where `culvertd` listens on Linux (and other Unixes but macOS).
#[cfg(not(target_os = "macos"))]
pub const SOCKET_PATH: &str = "/run/culvert/culvertd.sock";
/// Where `culvertd` listens on macOS, which has no `/run` (UNVERIFIED: never built here).
#[cfg(target_os = "macos")]
pub const SOCKET_PATH: &str = "/var/run/culvert/culvertd.sock";

/// Where `culvertd` listens on Windows.
pub const PIPE_NAME: &str = r"\\.\pipe\culvert\culvertd";

/// The group whose members may use the service (besides root).
pub const SERVICE_GROUP: &str = "culvert";

/// This platform's address: [`SOCKET_PATH`] or [`PIPE_NAME`].
#[cfg(unix)]
pub const DEFAULT_ADDRESS: &str = SOCKET_PATH;
#[cfg(windows)]
pub const DEFAULT_ADDRESS: &str = PIPE_NAME;

/// Anything [`authorize`] can ask the OS about: a socket (`AsFd`) on Unix, a pipe
/// (`AsHandle`) on Windows; std's and tokio's streams both qualify.
#[cfg(unix)]
pub use std::os::fd::AsFd as PeerHandle;
#[cfg(windows)]
pub use std::os::windows::io::AsHandle as PeerHandle;

/// How to start the service, as the clients' errors advise it on this OS.
#[cfg(target_os = "linux")]
pub const START_SERVICE_HINT: &str = "start it with: sudo systemctl start culvertd";
#[cfg(target_os = "macos")]
pub const START_SERVICE_HINT: &str =
    "start it with: sudo launchctl kickstart -k system/org.culvert.culvertd";
#[cfg(windows)]
pub const START_SERVICE_HINT: &str = "start the Culvert service (Services, or: sc start culvertd)";
#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
pub const START_SERVICE_HINT: &str = "start the culvertd service";

/// How to be allowed to use the service, as the clients' errors advise it on this OS.
#[cfg(target_os = "macos")]
pub const JOIN_GROUP_HINT: &str = "you are not in group culvert \
     (sudo dseditgroup -o edit -a $USER -t user culvert, then log in again)";
#[cfg(windows)]
pub const JOIN_GROUP_HINT: &str = "you are not an administrator or a member of \
     Network Configuration Operators (join it, then log in again)";
#[cfg(not(any(target_os = "macos", windows)))]
pub const JOIN_GROUP_HINT: &str =
    "you are not in group culvert (sudo usermod -aG culvert $USER, then log in again)";

/// A connection between a client and the service.
#[derive(Debug)]
pub struct Stream {
    inner: imp::Stream,
}

/// The service's listening endpoint.
#[derive(Debug)]
pub struct Listener {
    inner: imp::Listener,
}

impl Stream {
    /// Connects to the service. The errors keep their `io::ErrorKind` (`NotFound`,
    /// `ConnectionRefused`, `PermissionDenied`) so [`crate::Client`] can say what to do.
    pub fn connect(address: impl AsRef<Path>) -> io::Result<Stream> {
        imp::Stream::connect(address.as_ref()).map(|inner| Stream { inner })
    }

    /// A second handle on the same connection, for a reader thread.
    pub fn try_clone(&self) -> io::Result<Stream> {
        self.inner.try_clone().map(|inner| Stream { inner })
    }

    /// Ends the connection both ways; a thread blocked reading it wakes up. On Windows
    /// the peer sees the end once every clone of this stream is dropped (which closes
    /// the pipe handle), as culvertd's and the client's threads do when they wake.
    pub fn shutdown(&self) -> io::Result<()> {
        self.inner.shutdown()
    }

    /// Bounds how long a write may block on a peer that does not read; the write then
    /// fails with [`io::ErrorKind::TimedOut`] (on Windows, once it has been cancelled).
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.inner.set_write_timeout(timeout)
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl Listener {
    /// Binds the service's endpoint, readable and writable only by root and `group`.
    ///
    /// Unix: creates the parent directory (0755) if needed; removes a stale socket
    /// left by a crash, but only when nothing answers on it
    /// ([`TransportError::InUse`] otherwise) and never a file that is not a socket;
    /// binds; sets mode 0660 and group `group` when that group exists (otherwise the
    /// socket stays root-only). Windows: creates the pipe with a security descriptor
    /// admitting SYSTEM, Administrators and Network Configuration Operators.
    pub fn bind(address: impl AsRef<Path>, group: &str) -> Result<Listener, TransportError> {
        imp::Listener::bind(address.as_ref(), group).map(|inner| Listener { inner })
    }

    /// Waits for the next client. Check it with [`authorize`] before serving it.
    pub fn accept(&self) -> io::Result<Stream> {
        self.inner.accept().map(|inner| Stream { inner })
    }
}

/// Who is on the other end of `conn`, if they may use the service: root or a member of
/// `group` (see [`crate::auth`]). The error is a
/// [`crate::IpcErrorKind::PermissionDenied`] to send back in
/// [`crate::ServerMessage::Rejected`] before closing.
pub fn authorize(conn: &impl PeerHandle, group: &str) -> Result<PeerIdentity, IpcError> {
    imp::authorize(conn, group)
}

#[cfg(unix)]
mod std_conversions {
    use std::os::fd::{AsFd, BorrowedFd};
    use std::os::unix::net::{UnixListener, UnixStream};

    use super::{Listener, Stream, imp};

    impl From<UnixStream> for Stream {
        fn from(s: UnixStream) -> Self {
            Stream {
                inner: imp::Stream::from(s),
            }
        }
    }

    impl From<Stream> for UnixStream {
        fn from(s: Stream) -> Self {
            s.inner.into()
        }
    }

    impl From<Listener> for UnixListener {
        /// For the tokio service: `set_nonblocking(true)`, then
        /// `tokio::net::UnixListener::from_std`.
        fn from(l: Listener) -> Self {
            l.inner.into()
        }
    }

    impl AsFd for Stream {
        fn as_fd(&self) -> BorrowedFd<'_> {
            self.inner.as_fd()
        }
    }
}

#[cfg(windows)]
mod std_conversions {
    use std::os::windows::io::{AsHandle, BorrowedHandle};

    use super::Stream;

    impl AsHandle for Stream {
        fn as_handle(&self) -> BorrowedHandle<'_> {
            self.inner.as_handle()
        }
    }
}
