//! The client library of the CLI and the GUI.
//!
//! Blocking and thread-safe: a reader thread owns the receiving half of the
//! connection, files each [`Response`] under its request id and queues [`Event`]s,
//! so [`Client::request`] can be called from several threads at once (Tauri commands
//! run concurrently) while another thread waits in [`Client::next_event`]. Every wait
//! has a timeout; a service that stops answering is an error, never a hang.
//!
//! Writing to a connection the service has closed raises SIGPIPE on Unix. Rust
//! programs ignore SIGPIPE from start-up, so this surfaces as an error; a host that is
//! not a Rust program must ignore SIGPIPE itself.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use culvert_config::TunnelName;
use zeroize::Zeroize as _;

use crate::error::{ClientError, FrameError, IpcError};
use crate::frame::{FrameDecoder, encode};
use crate::messages::{
    ClientMessage, Event, Hello, PROTOCOL_VERSION, Request, RequestEnvelope, Response,
    ResponseBody, ServerMessage, Welcome,
};
use crate::transport::Stream;
use crate::types::{EventKind, ServiceStatus, TunnelDetail, TunnelSummary};

/// How a [`Client`] connects and how long it waits.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Sent in [`Hello::client`] for the service's log.
    pub client_name: String,
    /// Connection attempts while the service is not (yet) running or restarting.
    pub connect_attempts: u32,
    /// Pause between attempts.
    pub retry_delay: Duration,
    /// How long to wait for the answer to [`Hello`].
    pub handshake_timeout: Duration,
    /// How long [`Client::request`] waits for a response.
    pub request_timeout: Duration,
    /// Events kept for [`Client::next_event`]; beyond that the oldest are dropped and
    /// counted in [`Client::dropped_events`].
    pub max_queued_events: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            client_name: concat!("culvert-ipc ", env!("CARGO_PKG_VERSION")).to_owned(),
            connect_attempts: 1,
            retry_delay: Duration::from_millis(200),
            handshake_timeout: Duration::from_secs(5),
            // Activation waits for the interface and routes, not for a handshake.
            request_timeout: Duration::from_secs(30),
            max_queued_events: 1024,
        }
    }
}

/// A connection to `culvertd` that has completed the handshake.
#[derive(Debug)]
pub struct Client {
    address: PathBuf,
    welcome: Welcome,
    options: ClientOptions,
    writer: Mutex<Stream>,
    shared: Arc<Shared>,
    next_id: AtomicU64,
}

/// Connects to `address`, trying `attempts` times `delay` apart while the service is
/// not running (it may be starting), then reports why it could not: not running,
/// not allowed, or a version mismatch. Five attempts 200 ms apart cover the second a
/// freshly started service needs.
pub fn connect_with_retry(
    address: impl AsRef<Path>,
    attempts: u32,
    delay: Duration,
) -> Result<Client, ClientError> {
    let options = ClientOptions {
        connect_attempts: attempts,
        retry_delay: delay,
        ..ClientOptions::default()
    };
    Client::connect_with(address, options)
}

impl Client {
    /// One attempt with the default options.
    pub fn connect(address: impl AsRef<Path>) -> Result<Client, ClientError> {
        Client::connect_with(address, ClientOptions::default())
    }

    pub fn connect_with(
        address: impl AsRef<Path>,
        options: ClientOptions,
    ) -> Result<Client, ClientError> {
        let address = address.as_ref();
        let attempts = options.connect_attempts.max(1);
        let mut attempt = 1;
        loop {
            match Client::connect_once(address, options.clone()) {
                Err(e) if e.is_transient() && attempt < attempts => {
                    attempt += 1;
                    // A pause between attempts, not synchronisation: the service may
                    // be starting.
                    thread::sleep(options.retry_delay);
                }
                result => return result,
            }
        }
    }

    fn connect_once(address: &Path, options: ClientOptions) -> Result<Client, ClientError> {
        let stream = Stream::connect(address).map_err(|e| connect_error(address, e))?;
        let reader = stream.try_clone().map_err(|e| connect_error(address, e))?;
        // Never let a write block forever on a stuck service; best effort (see
        // transport/windows.rs).
        let _ = stream.set_write_timeout(Some(options.request_timeout));
        let shared = Arc::new(Shared::new(options.max_queued_events));
        {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("culvert-ipc-reader".to_owned())
                .spawn(move || read_loop(reader, &shared))
                .map_err(|e| connect_error(address, e))?;
        }
        let writer = Mutex::new(stream);
        let hello = ClientMessage::Hello(Hello::new(options.client_name.clone()));
        // A write error is not reported yet: a service that refuses the connection
        // may have sent why before closing, which the reader thread will have.
        let _ = send(&writer, &hello);
        let answer = shared.wait_handshake(options.handshake_timeout);
        let answer = match answer {
            Ok(answer) => answer,
            Err(e) => {
                let _ = lock(&writer).shutdown();
                return Err(e);
            }
        };
        let welcome = match answer {
            ServerMessage::Welcome(w) if w.version == PROTOCOL_VERSION => Ok(w),
            ServerMessage::Welcome(w) => Err(ClientError::VersionMismatch {
                service: w.version,
                client: PROTOCOL_VERSION,
            }),
            ServerMessage::VersionMismatch { service, client } => {
                Err(ClientError::VersionMismatch { service, client })
            }
            // A refusal by the service carries its own advice (which group, what to
            // run), so it is shown as is.
            ServerMessage::Rejected { error } => Err(ClientError::Rejected(error)),
            ServerMessage::Response(_) | ServerMessage::Event(_) => Err(ClientError::Frame(
                FrameError::Message("the service did not answer the hello first".to_owned()),
            )),
        };
        let welcome = welcome.inspect_err(|_| {
            let _ = lock(&writer).shutdown();
        })?;
        Ok(Client {
            address: address.to_owned(),
            welcome,
            options,
            writer,
            shared,
            next_id: AtomicU64::new(1),
        })
    }

    /// Sends `request` and waits for its response, up to the request timeout.
    pub fn request(&self, request: Request) -> Result<ResponseBody, ClientError> {
        self.request_with_timeout(request, self.options.request_timeout)
    }

    pub fn request_with_timeout(
        &self,
        request: Request,
        timeout: Duration,
    ) -> Result<ResponseBody, ClientError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let what = format!("request `{}`", request.type_name());
        {
            let mut state = self.shared.lock();
            if let Some(reason) = &state.closed {
                return Err(ClientError::Disconnected {
                    reason: reason.clone(),
                });
            }
            state.waiting.insert(id);
        }
        let message = ClientMessage::Request(RequestEnvelope { id, request });
        if let Err(e) = send(&self.writer, &message) {
            self.shared.lock().waiting.remove(&id);
            return Err(match e {
                FrameError::TooLarge { .. } => ClientError::TooLarge(e),
                FrameError::Io(e) => ClientError::Disconnected {
                    reason: Some(e.to_string()),
                },
                e => ClientError::Frame(e),
            });
        }
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            if let Some(result) = state.responses.remove(&id) {
                return result.map_err(ClientError::Service);
            }
            if let Some(reason) = &state.closed {
                return Err(ClientError::Disconnected {
                    reason: reason.clone(),
                });
            }
            let now = Instant::now();
            if now >= deadline {
                // A late response for this id will be dropped by the reader.
                state.waiting.remove(&id);
                return Err(ClientError::Timeout {
                    what,
                    after: timeout,
                });
            }
            state = self.shared.wait(state, deadline - now);
        }
    }

    /// The next pushed event, waiting up to `timeout` (`Ok(None)` when none came).
    /// Events queued before the connection closed are still returned; after them, a
    /// closed connection is [`ClientError::Disconnected`].
    pub fn next_event(&self, timeout: Duration) -> Result<Option<Event>, ClientError> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            if let Some(event) = state.events.pop_front() {
                return Ok(Some(event));
            }
            if let Some(reason) = &state.closed {
                return Err(ClientError::Disconnected {
                    reason: reason.clone(),
                });
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            state = self.shared.wait(state, deadline - now);
        }
    }

    /// What the service said in its [`Welcome`].
    pub fn welcome(&self) -> &Welcome {
        &self.welcome
    }

    pub fn address(&self) -> &Path {
        &self.address
    }

    /// Events dropped because nobody took them in time (see
    /// [`ClientOptions::max_queued_events`]).
    pub fn dropped_events(&self) -> u64 {
        self.shared.lock().dropped_events
    }

    /// Whether the connection is still up, as far as the reader has seen.
    pub fn is_connected(&self) -> bool {
        self.shared.lock().closed.is_none()
    }

    pub fn list_tunnels(&self) -> Result<Vec<TunnelSummary>, ClientError> {
        match self.request(Request::ListTunnels)? {
            ResponseBody::TunnelList { tunnels } => Ok(tunnels),
            other => Err(unexpected("tunnel_list", &other)),
        }
    }

    pub fn get_tunnel(&self, name: &TunnelName) -> Result<TunnelDetail, ClientError> {
        let name = name.clone();
        match self.request(Request::GetTunnel { name })? {
            ResponseBody::Tunnel(detail) => Ok(detail),
            other => Err(unexpected("tunnel", &other)),
        }
    }

    pub fn activate(&self, name: &TunnelName) -> Result<(), ClientError> {
        let name = name.clone();
        self.request(Request::Activate { name }).and_then(done)
    }

    pub fn deactivate(&self, name: &TunnelName) -> Result<(), ClientError> {
        let name = name.clone();
        self.request(Request::Deactivate { name }).and_then(done)
    }

    pub fn subscribe(&self, events: BTreeSet<EventKind>) -> Result<(), ClientError> {
        self.request(Request::Subscribe { events }).and_then(done)
    }

    pub fn status(&self) -> Result<ServiceStatus, ClientError> {
        match self.request(Request::ServiceStatus)? {
            ResponseBody::Status(status) => Ok(status),
            other => Err(unexpected("status", &other)),
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // Wakes the reader thread, which then ends.
        let _ = lock(&self.writer).shutdown();
    }
}

fn done(body: ResponseBody) -> Result<(), ClientError> {
    match body {
        ResponseBody::Done => Ok(()),
        other => Err(unexpected("done", &other)),
    }
}

fn unexpected(expected: &'static str, got: &ResponseBody) -> ClientError {
    ClientError::UnexpectedResponse {
        expected,
        got: got.type_name(),
    }
}

fn connect_error(address: &Path, e: io::Error) -> ClientError {
    match e.kind() {
        // No socket, or a socket left by a service that died.
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => ClientError::NotRunning {
            path: address.to_owned(),
        },
        io::ErrorKind::PermissionDenied => ClientError::PermissionDenied {
            detail: format!("{}: {e}", address.display()),
        },
        _ => ClientError::Connect {
            path: address.to_owned(),
            source: e,
        },
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves nothing half-updated that matters here.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn send(writer: &Mutex<Stream>, message: &ClientMessage) -> Result<(), FrameError> {
    let mut frame = encode(message)?;
    let written = {
        let mut w = lock(writer);
        w.write_all(&frame).and_then(|()| w.flush())
    };
    frame.zeroize();
    Ok(written?)
}

/// What the reader thread and the callers share.
#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Debug)]
struct State {
    /// The first message of the connection, until `connect` takes it.
    handshake: Option<ServerMessage>,
    handshake_seen: bool,
    /// Requests whose callers are still waiting; responses to others are dropped.
    waiting: HashSet<u64>,
    responses: HashMap<u64, Result<ResponseBody, IpcError>>,
    events: VecDeque<Event>,
    max_events: usize,
    dropped_events: u64,
    /// `Some` once the connection is down, with why when known.
    closed: Option<Option<String>>,
}

impl Shared {
    fn new(max_events: usize) -> Self {
        Shared {
            state: Mutex::new(State {
                handshake: None,
                handshake_seen: false,
                waiting: HashSet::new(),
                responses: HashMap::new(),
                events: VecDeque::new(),
                max_events: max_events.max(1),
                dropped_events: 0,
                closed: None,
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    fn wait<'a>(&self, guard: MutexGuard<'a, State>, timeout: Duration) -> MutexGuard<'a, State> {
        match self.changed.wait_timeout(guard, timeout) {
            Ok((guard, _)) => guard,
            Err(p) => p.into_inner().0,
        }
    }

    fn wait_handshake(&self, timeout: Duration) -> Result<ServerMessage, ClientError> {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        loop {
            if let Some(answer) = state.handshake.take() {
                return Ok(answer);
            }
            if let Some(reason) = &state.closed {
                return Err(ClientError::Disconnected {
                    reason: reason.clone(),
                });
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(ClientError::Timeout {
                    what: "the hello".to_owned(),
                    after: timeout,
                });
            }
            state = self.wait(state, deadline - now);
        }
    }

    fn dispatch(&self, message: ServerMessage) {
        let mut state = self.lock();
        if !state.handshake_seen {
            state.handshake_seen = true;
            state.handshake = Some(message);
        } else {
            match message {
                ServerMessage::Response(Response { id, result }) => {
                    if state.waiting.remove(&id) {
                        state.responses.insert(id, result);
                    }
                }
                ServerMessage::Event(event) => {
                    if state.events.len() >= state.max_events {
                        state.events.pop_front();
                        state.dropped_events += 1;
                    }
                    state.events.push_back(event);
                }
                // The service is going away (shutdown): it says why, then closes.
                ServerMessage::Rejected { error } => state.closed = Some(Some(error.message)),
                ServerMessage::Welcome(_) | ServerMessage::VersionMismatch { .. } => {
                    state.closed = Some(Some("the service repeated its hello answer".to_owned()));
                }
            }
        }
        drop(state);
        self.changed.notify_all();
    }

    fn close(&self, reason: Option<String>) {
        let mut state = self.lock();
        if state.closed.is_none() {
            state.closed = Some(reason);
        }
        drop(state);
        self.changed.notify_all();
    }
}

fn read_loop(mut stream: Stream, shared: &Shared) {
    let mut decoder = FrameDecoder::new();
    let mut buf = vec![0; 16 * 1024];
    let reason = loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => break decoder.finish().err().map(|e| e.to_string()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => break Some(e.to_string()),
        };
        decoder.feed(&buf[..n]);
        let failed = loop {
            match decoder.next_message::<ServerMessage>() {
                Ok(Some(message)) => shared.dispatch(message),
                Ok(None) => break None,
                // A message this client cannot read may be the response a caller
                // waits for: end the connection rather than let the caller time out.
                Err(e) => break Some(e.to_string()),
            }
        };
        if failed.is_some() {
            break failed;
        }
    };
    buf.zeroize();
    let _ = stream.shutdown();
    shared.close(reason);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Client>();
    }

    #[test]
    fn connect_errors_say_what_to_do() {
        let path = Path::new("/run/culvert/culvertd.sock");
        let denied = connect_error(path, io::Error::from(io::ErrorKind::PermissionDenied));
        assert!(denied.is_permission_denied());
        let text = denied.to_string();
        assert!(
            text.starts_with(crate::transport::JOIN_GROUP_HINT),
            "{text}"
        );
        assert!(
            text.ends_with("/run/culvert/culvertd.sock: permission denied"),
            "{text}"
        );
        let refused = connect_error(path, io::Error::from(io::ErrorKind::ConnectionRefused));
        assert!(matches!(refused, ClientError::NotRunning { .. }));
        assert!(refused.is_transient());
        let other = connect_error(path, io::Error::from(io::ErrorKind::InvalidInput));
        assert!(matches!(other, ClientError::Connect { .. }));
        assert!(!other.is_transient());
    }
}
