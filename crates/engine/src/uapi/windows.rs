//! The UAPI endpoint on Windows: a named pipe, as wireguard-go serves it and `wg.exe`
//! expects it: `\\.\pipe\ProtectedPrefix\Administrators\WireGuard\<interface>`,
//! owned by SYSTEM (`wg.exe` refuses any other owner) and open to SYSTEM and
//! Administrators only. The pipe itself is culvert-ipc's ([`PipeListener`]), the one
//! implementation of overlapped pipes in the project.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use culvert_ipc::transport::pipe::{PipeListener, PipeStream};

/// wireguard-go's UAPI descriptor: owner SYSTEM; protected DACL: SYSTEM and
/// Administrators all access; a High mandatory label that keeps processes of lower
/// integrity (an administrator's unelevated programs) from reading or writing it.
const SDDL: &str = "O:SYD:P(A;;GA;;;SY)(A;;GA;;;BA)S:(ML;;NWNRNX;;;HI)";

/// A client connection.
pub(super) type Client = PipeStream;

/// The listening pipe; closing it wakes the accept loop.
#[derive(Debug)]
pub(super) struct Endpoint(PipeListener);

pub(super) fn endpoint_path(directory: &Path, interface: &str) -> PathBuf {
    directory.join(interface)
}

impl Endpoint {
    /// `directory` is a pipe prefix: there is no directory to create.
    pub(super) fn bind(directory: &Path, path: &Path) -> io::Result<Endpoint> {
        let is_pipe = directory
            .to_str()
            .and_then(|d| d.get(..9))
            .is_some_and(|p| p.eq_ignore_ascii_case(r"\\.\pipe\"));
        if !is_pipe {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} is not a named-pipe prefix (\\\\.\\pipe\\...): on Windows the UAPI \
                     is served on a named pipe",
                    directory.display()
                ),
            ));
        }
        PipeListener::bind(path, SDDL)
            .map(Endpoint)
            .map_err(|e| match e.kind() {
                io::ErrorKind::AddrInUse => io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!(
                        "{} is in use: is the interface already running?",
                        path.display()
                    ),
                ),
                _ => e,
            })
    }

    /// The next client; after [`Endpoint::close`], an error.
    pub(super) fn accept(&self) -> io::Result<Option<Client>> {
        self.0.accept().map(Some)
    }

    pub(super) fn close(&self) {
        self.0.close();
    }
}

pub(super) fn set_idle_timeout(client: &Client, idle: Duration) -> io::Result<()> {
    client.set_read_timeout(Some(idle))
}

#[cfg(test)]
mod tests {
    use super::super::server::tests::Recorder;
    use super::super::{UapiServer, socket_path};
    use culvert_ipc::transport::pipe::{self, LOCAL_SYSTEM_SID, PipeStream};
    use std::io::{self, BufRead as _, BufReader, Write as _};
    use std::path::{Path, PathBuf};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A pipe prefix of its own for each test (the real one is
    /// `\\.\pipe\ProtectedPrefix\Administrators\WireGuard`, for administrators only).
    fn unique_directory() -> PathBuf {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        PathBuf::from(format!(
            r"\\.\pipe\culvert-engine-test\{}-{n}",
            std::process::id()
        ))
    }

    /// Starts a server the way the engine does: the pipe is owned by SYSTEM, which an
    /// elevated test may set with SeRestorePrivilege.
    fn start(handler: Arc<Recorder>) -> (UapiServer, PathBuf) {
        pipe::enable_restore_privilege()
            .expect("the UAPI pipe is owned by SYSTEM: run the tests elevated");
        let directory = unique_directory();
        let server = UapiServer::start(&directory, "wg-test", handler).unwrap();
        let path = server.path().to_owned();
        assert_eq!(path, socket_path(&directory, "wg-test"));
        (server, path)
    }

    /// Sends `request`, then reads up to and including the blank line that ends a
    /// reply; an empty string when the server hung up instead.
    fn exchange(stream: &mut BufReader<PipeStream>, request: &str) -> String {
        stream.get_mut().write_all(request.as_bytes()).unwrap();
        let mut reply = String::new();
        loop {
            let mut line = String::new();
            if stream.read_line(&mut line).unwrap() == 0 {
                return reply;
            }
            reply.push_str(&line);
            if line == "\n" {
                return reply;
            }
        }
    }

    #[test]
    fn get_and_set_round_trip_over_the_pipe() {
        let handler = Arc::new(Recorder::default());
        let (server, path) = start(Arc::clone(&handler));
        assert!(
            path.to_str().unwrap().ends_with(r"\wg-test"),
            "{}",
            path.display()
        );
        let client = PipeStream::connect(&path).unwrap();
        // What wg.exe checks before it talks to the pipe.
        assert_eq!(client.owner_sid().unwrap(), LOCAL_SYSTEM_SID);
        let mut client = BufReader::new(client);
        assert_eq!(
            exchange(&mut client, "get=1\n\n"),
            "listen_port=51820\nerrno=0\n\n"
        );
        assert_eq!(
            exchange(&mut client, "set=1\nlisten_port=5\n\n"),
            "errno=0\n\n"
        );
        assert_eq!(handler.0.lock().unwrap()[0].listen_port, Some(5));
        // Refused by the handler: its errno, and the connection lives on.
        assert_eq!(
            exchange(&mut client, "set=1\nlisten_port=1\n\n"),
            "errno=-98\n\n"
        );
        assert_eq!(exchange(&mut client, "set=1\nbogus=2\n\n"), "errno=-22\n\n");
        assert_eq!(handler.0.lock().unwrap().len(), 1);
        drop(server);
    }

    #[test]
    fn malformed_requests_are_refused_through_the_pipe() {
        let handler = Arc::new(Recorder::default());
        let (_server, path) = start(Arc::clone(&handler));
        // Not an operation: the server hangs up without a reply.
        let mut client = BufReader::new(PipeStream::connect(&path).unwrap());
        assert_eq!(exchange(&mut client, "hello\n"), "");
        // `get` must end at once.
        let mut client = BufReader::new(PipeStream::connect(&path).unwrap());
        assert_eq!(exchange(&mut client, "get=1\nextra\n"), "errno=-71\n\n");
        // A line over the limit ends the connection, and nothing was applied.
        let mut client = BufReader::new(PipeStream::connect(&path).unwrap());
        let long = format!("set=1\nlisten_port=5{}\n\n", "0".repeat(5000));
        assert_eq!(exchange(&mut client, &long), "");
        assert!(handler.0.lock().unwrap().is_empty());
        // The server still serves.
        let mut client = BufReader::new(PipeStream::connect(&path).unwrap());
        assert_eq!(
            exchange(&mut client, "get=1\n\n"),
            "listen_port=51820\nerrno=0\n\n"
        );
    }

    #[test]
    fn a_second_server_for_the_interface_is_refused_and_drop_removes_the_pipe() {
        let (server, path) = start(Arc::new(Recorder::default()));
        let directory = path.parent().unwrap().to_owned();
        let e =
            UapiServer::start(&directory, "wg-test", Arc::new(Recorder::default())).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
        assert!(e.to_string().contains("already running"), "{e}");
        drop(server);
        let gone = PipeStream::connect(&path).unwrap_err();
        assert_eq!(gone.kind(), io::ErrorKind::NotFound, "{gone}");
    }

    #[test]
    fn serves_where_wg_exe_looks() {
        // wg.exe's path for an interface; crate::UAPI_DIRECTORY should be this prefix.
        let directory = Path::new(r"\\.\pipe\ProtectedPrefix\Administrators\WireGuard");
        let interface = format!("culvert-test-{}", std::process::id());
        assert_eq!(
            socket_path(directory, &interface).to_str().unwrap(),
            format!(r"\\.\pipe\ProtectedPrefix\Administrators\WireGuard\{interface}")
        );
        pipe::enable_restore_privilege()
            .expect("the UAPI pipe is owned by SYSTEM: run the tests elevated");
        let _server = UapiServer::start(directory, &interface, Arc::new(Recorder::default()))
            .expect("administrators may serve under ProtectedPrefix\\Administrators");
        let mut client =
            BufReader::new(PipeStream::connect(socket_path(directory, &interface)).unwrap());
        assert_eq!(
            exchange(&mut client, "get=1\n\n"),
            "listen_port=51820\nerrno=0\n\n"
        );
    }

    #[test]
    fn the_prefix_must_be_a_pipe_prefix() {
        let e = UapiServer::start(
            Path::new("/var/run/wireguard"),
            "wg0",
            Arc::new(Recorder::default()),
        )
        .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("not a named-pipe prefix"), "{e}");
    }
}
