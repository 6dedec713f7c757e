//! The IPC server: who may connect, the hello exchange, one response per request, and
//! events to subscribers. A thread per client; requests that change tunnels go through
//! the manager one at a time.

use crate::hub::{Hub, Subscription};
use crate::logring::LogRing;
use crate::manager::Manager;
use culvert_ipc::{
    ClientMessage, Event, IpcError, Listener, PROTOCOL_VERSION, Request, Response, ResponseBody,
    SERVICE_GROUP, ServerMessage, ServiceStatus, Stream, authorize, decode, read_frame, request_id,
    write_frame,
};
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Outgoing messages a client may have queued before it counts as too slow.
const CLIENT_QUEUE: usize = 256;
/// Clients served at once; more are refused with a reason, so no one can exhaust the
/// service's threads and descriptors.
const MAX_CLIENTS: usize = 64;
/// A client must say hello within this.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Server {
    manager: Mutex<Manager>,
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
                self.manager().refresh_endpoints();
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
        let stream = std::os::unix::net::UnixStream::from(stream);
        let _ = stream.set_read_timeout(Some(HELLO_TIMEOUT));
        let (Ok(mut reader), mut writer) = (stream.try_clone(), stream) else {
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
        if write_frame(&mut writer, &answer).is_err() || !welcomed {
            return;
        }
        tracing::debug!(client = %hello.client, %identity, "client connected");

        let (queue, outgoing) = sync_channel::<ServerMessage>(CLIENT_QUEUE);
        let subscription = self.hub.register(queue.clone());
        let _ = reader.set_read_timeout(None);
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
                let mut manager = self.manager();
                let result = manager.handle(other, caller_is_root);
                let events = manager.take_events();
                drop(manager);
                for event in events {
                    self.hub.publish(event);
                }
                result
            }
        }
    }
}
