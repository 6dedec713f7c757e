//! The UAPI socket: `/var/run/wireguard/<iface>.sock` on Unix, the named pipe
//! `\\.\pipe\ProtectedPrefix\Administrators\WireGuard\<iface>` on Windows (as
//! wireguard-go), a thread per client. Malformed input gets an `errno` reply or a
//! closed connection, never a crash. The per-OS endpoint is in `unix.rs` and
//! `windows.rs`.

use super::imp;
use super::protocol::{
    DeviceInfo, EPROTO, MAX_LINE_LEN, SetRequest, UapiError, format_get, parse_set,
};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the socket serves: an interface, or a test double.
pub trait Handler: Send + Sync + 'static {
    fn get(&self) -> DeviceInfo;
    fn set(&self, request: &SetRequest) -> Result<(), UapiError>;
}

impl Handler for crate::Interface {
    fn get(&self) -> DeviceInfo {
        self.info()
    }

    fn set(&self, request: &SetRequest) -> Result<(), UapiError> {
        self.apply(request)
    }
}

/// At most this many clients are served at once; more are disconnected unserved.
const MAX_CLIENTS: usize = 16;
/// A client that sends nothing for this long is disconnected.
const CLIENT_IDLE: Duration = Duration::from_secs(30);

/// Where the UAPI of `interface` is served: `<directory>/<interface>.sock` on Unix,
/// `<directory>\<interface>` on Windows.
pub fn socket_path(directory: &Path, interface: &str) -> PathBuf {
    imp::endpoint_path(directory, interface)
}

/// Serves one connection until the client closes it or sends something unusable.
pub fn handle_connection(stream: impl Read + Write, handler: &dyn Handler) -> io::Result<()> {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        let Some(operation) = read_line(&mut reader, &mut line)? else {
            return Ok(());
        };
        match operation.as_str() {
            "get=1" => {
                if read_line(&mut reader, &mut line)?.as_deref() != Some("") {
                    return reply_error(reader.get_mut(), EPROTO);
                }
                reader
                    .get_mut()
                    .write_all(format_get(&handler.get()).as_bytes())?;
            }
            "set=1" => {
                let mut lines = Vec::new();
                loop {
                    match read_line(&mut reader, &mut line)? {
                        Some(l) if l.is_empty() => break,
                        Some(l) => lines.push(l),
                        None => return Ok(()),
                    }
                }
                let result = parse_set(lines.iter().map(String::as_str))
                    .and_then(|request| handler.set(&request));
                let errno = match result {
                    Ok(()) => 0,
                    Err(error) => {
                        tracing::info!(%error, "UAPI set refused");
                        error.errno
                    }
                };
                write!(reader.get_mut(), "errno={errno}\n\n")?;
            }
            _ => return Ok(()),
        }
        reader.get_mut().flush()?;
    }
}

fn reply_error(stream: &mut impl Write, errno: i32) -> io::Result<()> {
    write!(stream, "errno={errno}\n\n")?;
    stream.flush()
}

/// One line without its newline; None at end of input. Over-long or non-UTF-8 lines are
/// errors that end the connection.
fn read_line(reader: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<Option<String>> {
    line.clear();
    let read = reader
        .take(MAX_LINE_LEN as u64 + 1)
        .read_until(b'\n', line)?;
    if read == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "UAPI line too long or unterminated",
        ));
    }
    line.pop();
    String::from_utf8(std::mem::take(line))
        .map(Some)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "UAPI line is not UTF-8"))
}

/// The listening socket (a named pipe on Windows) and its accept thread, which serves
/// each client on a thread of its own; the endpoint goes away on drop.
pub struct UapiServer {
    path: PathBuf,
    endpoint: Arc<imp::Endpoint>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for UapiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UapiServer")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl UapiServer {
    /// Serves `handler` at [`socket_path`]`(directory, interface)`, where `wg` looks:
    /// on Unix a socket readable by root only (`directory` is created if needed), on
    /// Windows a named pipe for SYSTEM and Administrators (`directory` is a pipe
    /// prefix, `\\.\pipe\ProtectedPrefix\Administrators\WireGuard` for `wg.exe`).
    /// A running interface of that name is an [`io::ErrorKind::AddrInUse`] error.
    pub fn start(directory: &Path, interface: &str, handler: Arc<dyn Handler>) -> io::Result<Self> {
        let path = socket_path(directory, interface);
        let endpoint = Arc::new(imp::Endpoint::bind(directory, &path)?);
        let stop = Arc::new(AtomicBool::new(false));
        let clients = Arc::new(AtomicUsize::new(0));
        let thread = {
            let stop = Arc::clone(&stop);
            let endpoint = Arc::clone(&endpoint);
            std::thread::Builder::new()
                .name("uapi".into())
                .spawn(move || accept_loop(&endpoint, &stop, &clients, &handler))?
        };
        Ok(Self {
            path,
            endpoint,
            stop,
            thread: Some(thread),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for UapiServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.endpoint.close();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn accept_loop(
    endpoint: &imp::Endpoint,
    stop: &AtomicBool,
    clients: &Arc<AtomicUsize>,
    handler: &Arc<dyn Handler>,
) {
    while !stop.load(Ordering::Relaxed) {
        match endpoint.accept() {
            Ok(Some(client)) if clients.load(Ordering::SeqCst) < MAX_CLIENTS => {
                let handler = Arc::clone(handler);
                let served_clients = Arc::clone(clients);
                clients.fetch_add(1, Ordering::SeqCst);
                let spawned = std::thread::Builder::new()
                    .name("uapi-client".into())
                    .spawn(move || {
                        let served = imp::set_idle_timeout(&client, CLIENT_IDLE)
                            .and_then(|()| handle_connection(&client, handler.as_ref()));
                        if let Err(error) = served {
                            tracing::debug!(%error, "UAPI client dropped");
                        }
                        served_clients.fetch_sub(1, Ordering::SeqCst);
                    });
                if spawned.is_err() {
                    clients.fetch_sub(1, Ordering::SeqCst);
                }
            }
            // Too many: this one is closed unserved.
            Ok(Some(client)) => drop(client),
            Ok(None) => {}
            Err(_) if stop.load(Ordering::Relaxed) => break,
            Err(error) => {
                tracing::warn!(%error, "UAPI accept failed");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A test double: answers `get` with port 51820, refuses `listen_port=1`, records
    /// every other `set`.
    #[derive(Default)]
    pub(in crate::uapi) struct Recorder(pub(in crate::uapi) Mutex<Vec<SetRequest>>);

    impl Handler for Recorder {
        fn get(&self) -> DeviceInfo {
            DeviceInfo {
                listen_port: 51820,
                ..Default::default()
            }
        }

        fn set(&self, request: &SetRequest) -> Result<(), UapiError> {
            if request.listen_port == Some(1) {
                return Err(UapiError {
                    errno: super::super::EADDRINUSE,
                    message: "in use".into(),
                });
            }
            self.0.lock().unwrap().push(request.clone());
            Ok(())
        }
    }

    /// A stream over fixed input that records what is written.
    struct Duplex {
        input: io::Cursor<Vec<u8>>,
        output: Vec<u8>,
    }

    impl Read for Duplex {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.input.read(buf)
        }
    }

    impl Write for Duplex {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.output.write(buf)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn converse(input: &str, handler: &Recorder) -> (io::Result<()>, String) {
        let mut duplex = Duplex {
            input: io::Cursor::new(input.as_bytes().to_vec()),
            output: Vec::new(),
        };
        let result = handle_connection(&mut duplex, handler);
        (result, String::from_utf8(duplex.output).unwrap())
    }

    #[test]
    fn several_requests_on_one_connection() {
        let handler = Recorder::default();
        let (result, output) = converse(
            "get=1\n\nset=1\nlisten_port=5\n\nset=1\nlisten_port=1\n\nset=1\nbogus=2\n\n",
            &handler,
        );
        assert!(result.is_ok());
        assert_eq!(
            output,
            "listen_port=51820\nerrno=0\n\nerrno=0\n\nerrno=-98\n\nerrno=-22\n\n"
        );
        assert_eq!(handler.0.lock().unwrap().len(), 1);
    }

    #[test]
    fn garbage_closes_the_connection_without_applying_anything() {
        let handler = Recorder::default();
        let (_, output) = converse("hello\n", &handler);
        assert_eq!(output, "");
        let (result, _) = converse(
            &format!("set=1\n{}\n\n", "a".repeat(MAX_LINE_LEN + 10)),
            &handler,
        );
        assert!(result.is_err());
        let (_, output) = converse("get=1\nextra\n", &handler);
        assert_eq!(output, "errno=-71\n\n");
        let (result, _) = converse("set=1\nlisten_port=5\n", &handler);
        assert!(result.is_ok(), "a request cut short is not applied");
        assert!(handler.0.lock().unwrap().is_empty());
    }
}
