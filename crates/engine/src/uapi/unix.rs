//! The UAPI endpoint on Unix: a socket in `/var/run/wireguard`, root only, as `wg`
//! and wireguard-go have it.

use std::io;
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A client connection.
pub(super) type Client = UnixStream;

/// The listening socket, non-blocking so the accept loop can notice a stop; the
/// socket file is removed on drop.
#[derive(Debug)]
pub(super) struct Endpoint {
    listener: UnixListener,
    path: PathBuf,
}

pub(super) fn endpoint_path(directory: &Path, interface: &str) -> PathBuf {
    directory.join(format!("{interface}.sock"))
}

impl Endpoint {
    pub(super) fn bind(directory: &Path, path: &Path) -> io::Result<Endpoint> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(directory)?;
        if path.exists() {
            if UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!(
                        "{} is in use: is the interface already running?",
                        path.display()
                    ),
                ));
            }
            // Left by an engine that died.
            std::fs::remove_file(path)?;
        }
        let listener = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        listener.set_nonblocking(true)?;
        Ok(Endpoint {
            listener,
            path: path.to_owned(),
        })
    }

    /// The next client, or `None` after a short wait when none came: the caller checks
    /// whether to stop, so a stop is seen within 50 ms.
    pub(super) fn accept(&self) -> io::Result<Option<Client>> {
        match self.listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false)?;
                Ok(Some(stream))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(50));
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Nothing to wake: `accept` polls.
    pub(super) fn close(&self) {}
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

pub(super) fn set_idle_timeout(client: &Client, idle: Duration) -> io::Result<()> {
    client.set_read_timeout(Some(idle))
}
