//! The IPC server: who may connect, the hello exchange, one response per request, and
//! events to subscribers. A thread per client; requests that change tunnels go through
//! the manager one at a time, and endpoint names are looked up before the manager is
//! locked, so a dead resolver stalls only the request that needs it.

use crate::hub::{Hub, Subscription};
use crate::logring::LogRing;
use crate::manager::Manager;
use crate::resolve::{Resolved, Resolver};
use crate::slots::{SlotLimits, Slots};
use culvert_ipc::{
    ClientMessage, Event, FrameError, IpcError, IpcErrorKind, Listener, PROTOCOL_VERSION, Request,
    Response, ResponseBody, SERVICE_GROUP, ServerMessage, ServiceStatus, Stream, authorize, decode,
    read_frame, request_id, write_frame,
};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Outgoing messages a client may have queued before it counts as too slow.
const CLIENT_QUEUE: usize = 256;
/// How often a request's endpoint names are looked up again when its config changed
/// while they were being looked up, before the request fails with "try again".
const RESOLVE_ROUNDS: usize = 3;

/// How many clients the service serves, and how long a quiet one keeps its place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub slots: SlotLimits,
    /// A client must say hello within this.
    pub hello_timeout: Duration,
    /// A welcomed client that follows no events is let go after this without a request.
    pub idle_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            slots: SlotLimits::default(),
            hello_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
        }
    }
}

pub struct Server {
    manager: Mutex<Manager>,
    resolver: Arc<dyn Resolver>,
    hub: Arc<Hub>,
    log: Arc<LogRing>,
    started: Instant,
    group: String,
    clients: std::sync::atomic::AtomicUsize,
    slots: Arc<Slots>,
    limits: ConnectionLimits,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

impl Server {
    pub fn new(manager: Manager, hub: Arc<Hub>, log: Arc<LogRing>) -> Arc<Self> {
        Self::with_limits(manager, hub, log, ConnectionLimits::default())
    }

    pub fn with_limits(
        manager: Manager,
        hub: Arc<Hub>,
        log: Arc<LogRing>,
        limits: ConnectionLimits,
    ) -> Arc<Self> {
        Arc::new(Self {
            resolver: manager.resolver(),
            manager: Mutex::new(manager),
            hub,
            log,
            started: Instant::now(),
            group: SERVICE_GROUP.into(),
            clients: std::sync::atomic::AtomicUsize::new(0),
            slots: Arc::default(),
            limits,
        })
    }

    /// Accepts clients until the listener fails.
    pub fn serve(self: &Arc<Self>, listener: Listener) {
        loop {
            match listener.accept() {
                Ok(stream) => {
                    use std::sync::atomic::Ordering;
                    if self.clients.fetch_add(1, Ordering::SeqCst) >= self.limits.slots.total {
                        self.clients.fetch_sub(1, Ordering::SeqCst);
                        let error =
                            IpcError::new(IpcErrorKind::Busy, "too many clients are connected");
                        turn_away(stream, error);
                        continue;
                    }
                    let server = Arc::clone(self);
                    let spawned =
                        std::thread::Builder::new()
                            .name("ipc-client".into())
                            .spawn(move || {
                                Arc::clone(&server).client(stream);
                                server.clients.fetch_sub(1, Ordering::SeqCst);
                            });
                    if let Err(error) = spawned {
                        self.clients.fetch_sub(1, Ordering::SeqCst);
                        tracing::error!(%error, "cannot serve a client");
                    }
                }
                Err(error) => {
                    tracing::error!(%error, "accepting clients failed");
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }

    /// Publishes every active tunnel's counters once a second; every 30 seconds
    /// re-resolves stale DNS-named endpoints and tries again the tunnels that are wanted
    /// but could not come up; forever.
    pub fn publish_stats(self: &Arc<Self>) {
        for tick in 1u64.. {
            std::thread::sleep(Duration::from_secs(1));
            if tick % 30 == 0 {
                self.refresh_endpoints();
                self.retry_wanted();
            }
            let stats: Vec<_> = {
                let manager = self.manager();
                manager
                    .active_names()
                    .into_iter()
                    .map(|name| (manager.peer_stats(&name), name))
                    .collect()
            };
            for (peers, name) in stats {
                self.hub.publish(Event::Stats { name, peers });
            }
        }
    }

    /// Re-resolves the DNS-named endpoints of stale sessions (every 30 s, and when the
    /// machine wakes up or on SIGHUP), looking the names up with the manager unlocked.
    pub fn refresh_endpoints(&self) {
        let names = self.manager().stale_endpoint_names();
        if names.is_empty() {
            return;
        }
        let mut resolved = Resolved::default();
        resolved.resolve_all(&*self.resolver, names);
        self.manager().refresh_endpoints(&resolved);
    }

    /// Tries to bring up each tunnel the user wants up that is not (its restore or an
    /// edit failed), looking its names up with the manager unlocked.
    pub fn retry_wanted(&self) {
        let wanted = self.manager().wanted_but_down();
        for name in wanted {
            let names = self.manager().activation_names(&name);
            let mut resolved = Resolved::default();
            resolved.resolve_all(&*self.resolver, names);
            let mut manager = self.manager();
            manager.retry(&name, resolved);
            let events = manager.take_events();
            drop(manager);
            for event in events {
                self.hub.publish(event);
            }
        }
    }

    pub fn scripts_enabled(&self) -> bool {
        self.manager().scripts_enabled()
    }

    /// Takes all tunnels down for a stop of the service.
    pub fn shutdown(&self) {
        self.manager().shutdown();
    }

    fn manager(&self) -> std::sync::MutexGuard<'_, Manager> {
        self.manager.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn client(self: Arc<Self>, stream: Stream) {
        let identity = match authorize(&stream, &self.group) {
            Ok(identity) => identity,
            Err(error) => {
                tracing::warn!(%error, "refused a client");
                return turn_away(stream, error);
            }
        };
        let _slot = match self.slots.take(&identity, self.limits.slots) {
            Ok(slot) => slot,
            Err(error) => {
                tracing::warn!(%identity, %error, "turned a client away");
                return turn_away(stream, error);
            }
        };
        let (Ok(mut reader), Ok(watched), mut writer) =
            (stream.try_clone(), stream.try_clone(), stream)
        else {
            return;
        };
        let Ok(watchdog) = watchdog(watched, self.limits) else {
            return;
        };
        let hello = match read_frame(&mut reader)
            .ok()
            .flatten()
            .map(|f| decode::<ClientMessage>(&f))
        {
            Some(Ok(ClientMessage::Hello(hello))) => hello,
            _ => {
                let error = IpcError::invalid_request("the first message must be a hello");
                let _ = write_frame(&mut writer, &ServerMessage::Rejected { error });
                return;
            }
        };
        let answer = hello.answer(env!("CARGO_PKG_VERSION"));
        let welcomed = matches!(answer, ServerMessage::Welcome(_));
        let _ = watchdog.send(Heard::Hello);
        if write_frame(&mut writer, &answer).is_err() || !welcomed {
            return;
        }
        tracing::debug!(client = %hello.client, %identity, "client connected");

        let (queue, outgoing) = sync_channel::<ServerMessage>(CLIENT_QUEUE);
        let subscription = self.hub.register(queue.clone());
        let writer_thread = std::thread::Builder::new()
            .name("ipc-writer".into())
            .spawn(move || send_queued(&mut writer, outgoing));
        let Ok(writer_thread) = writer_thread else {
            self.hub.unregister(&subscription);
            return;
        };
        while let Ok(Some(frame)) = read_frame(&mut reader) {
            let envelope = match decode::<ClientMessage>(&frame) {
                Ok(ClientMessage::Request(envelope)) => envelope,
                Ok(ClientMessage::Hello(_)) | Err(_) => match request_id(&frame) {
                    // A request we cannot read still gets its answer.
                    Some(id) => {
                        let error = IpcError::invalid_request("this request could not be read");
                        if queue
                            .send(ServerMessage::Response(Response::error(id, error)))
                            .is_err()
                        {
                            break;
                        }
                        continue;
                    }
                    None => break,
                },
            };
            tracing::debug!(request = envelope.request.type_name(), "request");
            let is_root = matches!(identity.grant, culvert_ipc::Grant::Root);
            let result = self.handle(envelope.request, &subscription, is_root);
            let following = !subscription
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_empty();
            let _ = watchdog.send(Heard::Request { following });
            if queue
                .send(ServerMessage::Response(Response {
                    id: envelope.id,
                    result,
                }))
                .is_err()
            {
                break;
            }
        }
        drop(queue);
        self.hub.unregister(&subscription);
        let _ = writer_thread.join();
    }

    fn handle(
        &self,
        request: Request,
        subscription: &Subscription,
        caller_is_root: bool,
    ) -> Result<ResponseBody, IpcError> {
        match request {
            Request::Subscribe { events } => {
                *subscription.lock().unwrap_or_else(|e| e.into_inner()) = events;
                Ok(ResponseBody::Done)
            }
            Request::Unsubscribe => {
                subscription
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clear();
                Ok(ResponseBody::Done)
            }
            Request::ReadLog { since, limit } => Ok(ResponseBody::LogLines {
                lines: self.log.read(since, limit as usize),
            }),
            Request::ServiceStatus => {
                let manager = self.manager();
                Ok(ResponseBody::Status(ServiceStatus {
                    service_version: env!("CARGO_PKG_VERSION").into(),
                    protocol_version: PROTOCOL_VERSION,
                    pid: std::process::id(),
                    uptime_secs: self.started.elapsed().as_secs(),
                    tunnels: manager.tunnel_count() as u32,
                    active: manager.active_names(),
                    clients: self.hub.clients() as u32,
                    scripts_enabled: manager.scripts_enabled(),
                }))
            }
            other => {
                let resolved = self.resolve_for(&other);
                let mut manager = self.manager();
                let result = manager.handle_resolved(other, caller_is_root, &resolved);
                let events = manager.take_events();
                drop(manager);
                for event in events {
                    self.hub.publish(event);
                }
                result
            }
        }
    }

    /// Looks up the endpoint names `request` needs with the manager unlocked. Asks again
    /// when the config changed meanwhile (another client's update), a few times at most.
    fn resolve_for(&self, request: &Request) -> Resolved {
        let mut resolved = Resolved::default();
        for _ in 0..RESOLVE_ROUNDS {
            let missing = resolved.missing(self.manager().names_to_resolve(request));
            if missing.is_empty() {
                break;
            }
            resolved.resolve_all(&*self.resolver, missing);
        }
        resolved
    }
}

/// Writes each queued message to the client until the queue closes or a write fails.
/// An answer too large for one frame becomes an error answer to the same request, so
/// the client hears why rather than losing the connection; an event that large (none
/// should be) is skipped.
fn send_queued(writer: &mut impl std::io::Write, outgoing: Receiver<ServerMessage>) {
    for message in outgoing {
        let written = match write_frame(writer, &message) {
            Err(FrameError::TooLarge { len, max }) => match message {
                ServerMessage::Response(Response { id, .. }) => {
                    let error = IpcError::new(
                        IpcErrorKind::Unsupported,
                        format!(
                            "the answer would be {len} bytes, more than one message may carry \
                             ({max}): ask for less, such as fewer log lines or one tunnel at a time"
                        ),
                    );
                    write_frame(writer, &ServerMessage::Response(Response::error(id, error)))
                }
                _ => Ok(()),
            },
            other => other,
        };
        if written.is_err() {
            break;
        }
    }
}

/// Tells a client why it is not served, and closes its connection.
fn turn_away(mut stream: Stream, error: IpcError) {
    let _ = write_frame(&mut stream, &ServerMessage::Rejected { error });
}

/// What a connection's watchdog hears from the thread reading it.
enum Heard {
    Hello,
    /// A request was answered; `following`: the client is subscribed to events.
    Request {
        following: bool,
    },
}

/// Ends `stream` when its client goes quiet: no hello within the hello timeout, or,
/// once welcomed, no request for the idle timeout while it follows no events (a
/// follower, such as the app, may stay as long as it likes). A watchdog rather than
/// read timeouts, which named pipes do not have; dropping the sender ends it.
fn watchdog(stream: Stream, limits: ConnectionLimits) -> std::io::Result<Sender<Heard>> {
    let (heard, hears) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("ipc-watchdog".into())
        .spawn(move || {
            let mut wait = limits.hello_timeout;
            let mut following = false;
            loop {
                match hears.recv_timeout(wait) {
                    Ok(Heard::Hello) => wait = limits.idle_timeout,
                    Ok(Heard::Request { following: now }) => {
                        following = now;
                        wait = limits.idle_timeout;
                    }
                    Err(RecvTimeoutError::Timeout) if following => {}
                    Err(RecvTimeoutError::Timeout) => {
                        tracing::debug!("let a quiet client go");
                        let _ = stream.shutdown();
                        return;
                    }
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
        })?;
    Ok(heard)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manager::ManagerPaths;
    use culvert_ipc::{ConfigText, OnConflict, TunnelName, TunnelState};
    use std::net::SocketAddr;
    use std::sync::Condvar;

    /// Holds every lookup until released, then fails it: a resolver that has stopped
    /// answering, under the test's control.
    #[derive(Default)]
    struct HeldResolver {
        /// (a lookup has started, lookups are released)
        state: Mutex<(bool, bool)>,
        changed: Condvar,
    }

    impl HeldResolver {
        fn wait_for_a_lookup(&self, deadline: Duration) -> bool {
            let state = self.state.lock().unwrap();
            let (_state, waited) = self
                .changed
                .wait_timeout_while(state, deadline, |(started, _)| !*started)
                .unwrap();
            !waited.timed_out()
        }

        fn release(&self) {
            self.state.lock().unwrap().1 = true;
            self.changed.notify_all();
        }
    }

    impl Resolver for HeldResolver {
        fn resolve(&self, host: &str, _port: u16) -> Result<SocketAddr, String> {
            let mut state = self.state.lock().unwrap();
            state.0 = true;
            self.changed.notify_all();
            let _released = self
                .changed
                .wait_while(state, |(_, released)| !*released)
                .unwrap();
            Err(format!("{host}: the test resolver knows no names"))
        }
    }

    /// A manager of its own under the temp directory, which the caller removes.
    fn test_manager(tag: &str) -> (Manager, std::path::PathBuf) {
        let dir =
            std::env::temp_dir().join(format!("culvertd-server-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let paths = ManagerPaths {
            settings: dir.join("culvertd.toml"),
            tunnels: dir.join("tunnels"),
            state: dir.join("state.json"),
            netconf: culvert_netconf::Paths {
                journal_dir: dir.join("netconf"),
                resolv_conf: dir.join("resolv.conf"),
            },
        };
        (Manager::open(&paths).unwrap(), dir)
    }

    #[test]
    fn other_clients_are_answered_while_an_activation_waits_for_dns() {
        let (mut manager, dir) = test_manager("dns");
        let resolver = Arc::new(HeldResolver::default());
        manager.set_resolver(Arc::clone(&resolver) as _);
        let name = TunnelName::new("slowdns").unwrap();
        let text = format!(
            "[Interface]\nPrivateKey = {}\nAddress = 10.9.0.2/32\n\n[Peer]\nPublicKey = {}\n\
             AllowedIPs = 10.9.0.0/24\nEndpoint = vpn.example.invalid:51820\n",
            &*culvert_config::PrivateKey::generate().to_base64(),
            culvert_config::PrivateKey::generate().public_key()
        );
        let import = Request::ImportTunnel {
            name: name.clone(),
            config_text: ConfigText::new(text),
            on_conflict: OnConflict::Fail,
        };
        manager.handle(import, true).unwrap();
        let server = Server::new(manager, Arc::default(), Arc::default());

        let activation = {
            let server = Arc::clone(&server);
            let name = name.clone();
            std::thread::spawn(move || {
                server.handle(Request::Activate { name }, &Subscription::default(), true)
            })
        };
        assert!(
            resolver.wait_for_a_lookup(Duration::from_secs(30)),
            "the activation never looked its endpoint up"
        );
        // Another client, while the lookup hangs.
        let (answered, answer) = std::sync::mpsc::channel();
        {
            let server = Arc::clone(&server);
            std::thread::spawn(move || {
                let listed = server.handle(Request::ListTunnels, &Subscription::default(), false);
                let _ = answered.send(listed);
            });
        }
        let listed = answer.recv_timeout(Duration::from_secs(30));
        resolver.release();
        let listed = listed.expect(
            "list_tunnels was not answered while an activation waited for DNS: \
             the manager stayed locked during the lookup",
        );
        let Ok(ResponseBody::TunnelList { tunnels }) = listed else {
            panic!("a tunnel list, not {listed:?}")
        };
        assert_eq!(tunnels.len(), 1);
        assert_eq!(tunnels[0].state, TunnelState::Inactive);

        // Released, the lookup fails and the activation reports it.
        let error = activation.join().unwrap().unwrap_err();
        assert!(
            error.message.contains("vpn.example.invalid:51820")
                && error.message.contains("knows no names"),
            "{error}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_answer_too_large_to_send_becomes_an_error_and_the_connection_goes_on() {
        let (queue, outgoing) = sync_channel(4);
        let huge = ConfigText::new("#".repeat(culvert_ipc::MAX_FRAME + 1));
        queue
            .send(ServerMessage::Response(Response::ok(
                7,
                ResponseBody::Exported { text: huge },
            )))
            .unwrap();
        queue
            .send(ServerMessage::Response(Response::ok(8, ResponseBody::Done)))
            .unwrap();
        drop(queue);
        let mut written = Vec::new();
        send_queued(&mut written, outgoing);

        let mut reader = written.as_slice();
        let mut answers = Vec::new();
        while let Some(frame) = read_frame(&mut reader).unwrap() {
            answers.push(decode::<ServerMessage>(&frame).unwrap());
        }
        let [
            ServerMessage::Response(first),
            ServerMessage::Response(second),
        ] = &answers[..]
        else {
            panic!("two answers, not {answers:?}");
        };
        assert_eq!(first.id, 7);
        let error = first.result.as_ref().unwrap_err();
        assert_eq!(error.kind, IpcErrorKind::Unsupported);
        assert!(error.message.contains("ask for less"), "{error}");
        assert_eq!(second.id, 8);
        assert_eq!(second.result, Ok(ResponseBody::Done));
    }

    #[cfg(unix)]
    #[test]
    fn a_quiet_client_is_let_go_and_a_follower_is_not() {
        use culvert_ipc::{EventKind, Hello, RequestEnvelope};
        use std::os::unix::fs::MetadataExt as _;
        if std::fs::metadata("/proc/self").map_or(true, |m| m.uid() != 0) {
            eprintln!("skipped: the service admits only root and its group, and this is neither");
            return;
        }
        let (manager, dir) = test_manager("idle");
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("culvertd.sock");
        let limits = ConnectionLimits {
            idle_timeout: Duration::from_millis(300),
            ..ConnectionLimits::default()
        };
        let server = Server::with_limits(manager, Arc::default(), Arc::default(), limits);
        let listener = Listener::bind(&socket, "culvert").unwrap();
        std::thread::spawn(move || server.serve(listener));

        let connect = || {
            let mut stream = Stream::connect(&socket).unwrap();
            write_frame(&mut stream, &ClientMessage::Hello(Hello::new("test"))).unwrap();
            let welcome = read_frame(&mut stream).unwrap().unwrap();
            assert!(matches!(decode(&welcome), Ok(ServerMessage::Welcome(_))));
            stream
        };
        let ask = |stream: &mut Stream, id, request| {
            let envelope = ClientMessage::Request(RequestEnvelope { id, request });
            write_frame(stream, &envelope).unwrap();
            let frame = read_frame(stream).unwrap().expect("an answer, not the end");
            let Ok(ServerMessage::Response(response)) = decode(&frame) else {
                panic!("a response");
            };
            response
        };

        let mut follower = connect();
        let events = [EventKind::Tunnels].into_iter().collect();
        assert!(
            ask(&mut follower, 1, Request::Subscribe { events })
                .result
                .is_ok()
        );
        let mut quiet = connect();
        let (ended, end) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = ended.send(read_frame(&mut quiet).map(|frame| frame.is_none()));
        });
        let ended = end.recv_timeout(Duration::from_secs(30));
        assert!(
            matches!(ended, Ok(Ok(true))),
            "a client that said nothing for the idle timeout kept its connection: {ended:?}"
        );
        // The follower has been quiet longer than that, and is still served.
        let listed = ask(&mut follower, 2, Request::ListTunnels);
        assert!(
            matches!(listed.result, Ok(ResponseBody::TunnelList { .. })),
            "{listed:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
