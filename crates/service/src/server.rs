//! The IPC server: who may connect, the hello exchange, one response per request, and
//! events to subscribers. A thread per client; requests that change tunnels go through
//! the manager one at a time, and endpoint names are looked up before the manager is
//! locked, so a dead resolver stalls only the request that needs it.

use crate::hub::{Hub, Subscription};
use crate::logring::LogRing;
use crate::manager::Manager;
use crate::resolve::{Resolved, Resolver};
use culvert_ipc::{
    ClientMessage, Event, IpcError, Listener, PROTOCOL_VERSION, Request, Response, ResponseBody,
    SERVICE_GROUP, ServerMessage, ServiceStatus, Stream, authorize, decode, read_frame, request_id,
    write_frame,
};
use std::sync::mpsc::{RecvTimeoutError, Sender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Outgoing messages a client may have queued before it counts as too slow.
const CLIENT_QUEUE: usize = 256;
/// Clients served at once; more are refused with a reason, so no one can exhaust the
/// service's threads and descriptors.
const MAX_CLIENTS: usize = 64;
/// A client must say hello within this.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a request's endpoint names are looked up again when its config changed
/// while they were being looked up, before the request fails with "try again".
const RESOLVE_ROUNDS: usize = 3;

pub struct Server {
    manager: Mutex<Manager>,
    resolver: Arc<dyn Resolver>,
    hub: Arc<Hub>,
    log: Arc<LogRing>,
    started: Instant,
    group: String,
    clients: std::sync::atomic::AtomicUsize,
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
        Arc::new(Self {
            resolver: manager.resolver(),
            manager: Mutex::new(manager),
            hub,
            log,
            started: Instant::now(),
            group: SERVICE_GROUP.into(),
            clients: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// Accepts clients until the listener fails.
    pub fn serve(self: &Arc<Self>, listener: Listener) {
        loop {
            match listener.accept() {
                Ok(mut stream) => {
                    use std::sync::atomic::Ordering;
                    if self.clients.fetch_add(1, Ordering::SeqCst) >= MAX_CLIENTS {
                        self.clients.fetch_sub(1, Ordering::SeqCst);
                        let error = IpcError::new(
                            culvert_ipc::IpcErrorKind::Busy,
                            "too many clients are connected",
                        );
                        let _ = write_frame(&mut stream, &ServerMessage::Rejected { error });
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

    /// Publishes every active tunnel's counters once a second, and re-resolves stale
    /// DNS-named endpoints every 30 seconds, forever.
    pub fn publish_stats(self: &Arc<Self>) {
        for tick in 1u64.. {
            std::thread::sleep(Duration::from_secs(1));
            if tick % 30 == 0 {
                self.refresh_endpoints();
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
                let mut stream = stream;
                let _ = write_frame(&mut stream, &ServerMessage::Rejected { error });
                return;
            }
        };
        // The hello must come soon; after it a client may stay as long as it likes.
        let (Ok(mut reader), Ok(watched), mut writer) =
            (stream.try_clone(), stream.try_clone(), stream)
        else {
            return;
        };
        let Ok(said_hello) = hello_deadline(watched) else {
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
        let _ = said_hello.send(());
        if write_frame(&mut writer, &answer).is_err() || !welcomed {
            return;
        }
        tracing::debug!(client = %hello.client, %identity, "client connected");

        let (queue, outgoing) = sync_channel::<ServerMessage>(CLIENT_QUEUE);
        let subscription = self.hub.register(queue.clone());
        let writer_thread =
            std::thread::Builder::new()
                .name("ipc-writer".into())
                .spawn(move || {
                    for message in outgoing {
                        if write_frame(&mut writer, &message).is_err() {
                            break;
                        }
                    }
                });
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

/// Ends `stream` unless the returned sender fires within [`HELLO_TIMEOUT`], so a client
/// cannot hold one of the service's slots without saying hello. A watchdog rather than a
/// read timeout, which named pipes do not have. Dropping the sender ends it too.
fn hello_deadline(stream: Stream) -> std::io::Result<Sender<()>> {
    let (said_hello, wait) = std::sync::mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("ipc-hello".into())
        .spawn(move || {
            if let Err(RecvTimeoutError::Timeout) = wait.recv_timeout(HELLO_TIMEOUT) {
                let _ = stream.shutdown();
            }
        })?;
    Ok(said_hello)
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

    #[test]
    fn other_clients_are_answered_while_an_activation_waits_for_dns() {
        let dir = std::env::temp_dir().join(format!("culvertd-server-dns-{}", std::process::id()));
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
        let mut manager = Manager::open(&paths).unwrap();
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
}
