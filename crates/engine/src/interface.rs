//! A running WireGuard interface: one TUN, one UDP socket, and three threads around the
//! sans-IO core — TUN to UDP (`send.rs`), UDP to TUN (`receive.rs`), and timers.
//!
//! The core is behind one mutex, held only while it computes, once per batch: every
//! read, write and send happens after the lock is released.

use crate::allowed_ips::AllowedIps;
use crate::receive::udp_to_tun;
use crate::send::tun_to_udp;
use crate::tun::Tun;
use crate::uapi::{DeviceInfo, PeerInfo, SetRequest, UapiError};
use crate::udp::Udp;
use culvert_proto::{Device, PeerConfig, PresharedKey, PrivateKey, PublicKey};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

/// How long a blocked read may take before its thread checks whether to stop.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// The timer thread looks at the core at least this often, so deadlines that packets
/// set meanwhile are met within this margin.
const TIMER_TICK: Duration = Duration::from_millis(50);
const BUF_LEN: usize = crate::tun::MAX_PACKET + 64;

pub struct Interface {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Interface {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interface")
            .field("name", &self.shared.tun.name())
            .finish_non_exhaustive()
    }
}

pub(crate) struct Shared {
    pub(crate) tun: Box<dyn Tun>,
    state: Mutex<State>,
    udp: RwLock<Arc<Udp>>,
    /// Held by whichever thread reads from the TUN, until what it read is sent.
    tun_reader: Mutex<()>,
    stop: AtomicBool,
    wake: Condvar,
}

pub(crate) struct State {
    pub(crate) device: Device,
    pub(crate) routes: AllowedIps,
    fwmark: u32,
}

impl Interface {
    /// Starts an interface on `tun` with no key and no peers, listening on a free port.
    pub fn start(tun: Box<dyn Tun>) -> std::io::Result<Self> {
        let now = Instant::now();
        let mut device = Device::new(None, now, unix_now());
        device.set_mtu(tun.mtu().ok());
        let udp = Udp::bind(0, 0, POLL_INTERVAL)?;
        let shared = Arc::new(Shared {
            tun,
            state: Mutex::new(State {
                device,
                routes: AllowedIps::default(),
                fwmark: 0,
            }),
            udp: RwLock::new(Arc::new(udp)),
            tun_reader: Mutex::new(()),
            stop: AtomicBool::new(false),
            wake: Condvar::new(),
        });
        let mut threads = Vec::new();
        for (name, run) in [
            ("tun-to-udp", tun_to_udp as fn(&Shared)),
            ("udp-to-tun", udp_to_tun),
            ("timers", timers),
        ] {
            let shared = Arc::clone(&shared);
            threads.push(
                std::thread::Builder::new()
                    .name(name.into())
                    .spawn(move || run(&shared))?,
            );
        }
        Ok(Self { shared, threads })
    }

    pub fn name(&self) -> &str {
        self.shared.tun.name()
    }

    pub fn listen_port(&self) -> u16 {
        self.shared.udp().port()
    }

    /// Applies a UAPI set request. Other peers' sessions are untouched.
    pub fn apply(&self, request: &SetRequest) -> Result<(), UapiError> {
        let shared = &self.shared;
        let mut state = shared.lock();
        if request.listen_port.is_some() || request.fwmark.is_some() {
            let fwmark = request.fwmark.unwrap_or(state.fwmark);
            let current = shared.udp();
            match request.listen_port {
                Some(port) if port != current.port() => {
                    let udp = Udp::bind(port, fwmark, POLL_INTERVAL).map_err(|e| UapiError {
                        errno: crate::uapi::EADDRINUSE,
                        message: format!("cannot listen on port {port}: {e}"),
                    })?;
                    *shared.udp.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(udp);
                }
                _ => current.set_fwmark(fwmark).map_err(|e| UapiError {
                    errno: crate::uapi::EIO,
                    message: format!("cannot set fwmark {fwmark}: {e}"),
                })?,
            }
            state.fwmark = fwmark;
        }
        let State { device, routes, .. } = &mut *state;
        if let Some(key) = request.private_key {
            let key = key.map(PrivateKey::from_bytes);
            if let Some(own) = key.as_ref().and_then(|k| device.peer_id(&k.public_key())) {
                routes.remove_peer(own);
            }
            device.set_private_key(key);
        }
        if request.replace_peers {
            let all: Vec<_> = device.peers().map(|(id, _)| id).collect();
            for id in all {
                device.remove_peer(id);
                routes.remove_peer(id);
            }
        }
        for change in &request.peers {
            let public_key = PublicKey::from_bytes(change.public_key);
            let existing = device.peer_id(&public_key);
            if change.remove {
                if let Some(id) = existing {
                    device.remove_peer(id);
                    routes.remove_peer(id);
                }
                continue;
            }
            let id = match existing {
                Some(id) => id,
                None if change.update_only => continue,
                // A peer with our own public key is ignored, as wireguard-go does.
                None => match device.add_peer(PeerConfig::new(public_key)) {
                    Ok(id) => id,
                    Err(_) => continue,
                },
            };
            let peer_gone = |_| UapiError::invalid("peer vanished during the update");
            if let Some(psk) = change.preshared_key {
                device
                    .set_preshared_key(id, PresharedKey::from_bytes(psk))
                    .map_err(peer_gone)?;
            }
            if let Some(endpoint) = change.endpoint {
                device.set_endpoint(id, endpoint).map_err(peer_gone)?;
            }
            if let Some(seconds) = change.persistent_keepalive {
                device
                    .set_persistent_keepalive(id, Some(seconds))
                    .map_err(peer_gone)?;
            }
            if change.replace_allowed_ips {
                routes.remove_peer(id);
            }
            for net in &change.allowed_ips {
                routes.insert(*net, id);
            }
        }
        // Whatever the change made due (a keepalive, a handshake) goes out now.
        let mut outbox = Outbox::default();
        outbox.collect(device, Instant::now());
        drop(state);
        outbox.send(&shared.udp());
        shared.wake.notify_all();
        Ok(())
    }

    /// Everything a UAPI get reports.
    pub fn info(&self) -> DeviceInfo {
        let state = self.shared.lock();
        let wall = state.device.wall_clock();
        let peers = state
            .device
            .peers()
            .filter_map(|(id, _)| {
                let config = state.device.peer_config(id)?;
                let stats = state.device.stats(id)?;
                Some(PeerInfo {
                    public_key: *config.public_key.as_bytes(),
                    preshared_key: *config.preshared_key.as_bytes(),
                    endpoint: stats.endpoint,
                    last_handshake: stats
                        .last_handshake
                        .map(|at| wall.unix(at))
                        .unwrap_or_default(),
                    tx_bytes: stats.tx_bytes,
                    rx_bytes: stats.rx_bytes,
                    persistent_keepalive: config.persistent_keepalive.unwrap_or(0),
                    allowed_ips: state.routes.of_peer(id),
                })
            })
            .collect();
        DeviceInfo {
            private_key: state.device.private_key().map(|key| *key.to_bytes()),
            listen_port: self.shared.udp().port(),
            fwmark: state.fwmark,
            peers,
        }
    }

    /// Stops the threads; dropping the TUN then removes the interface.
    pub fn shutdown(mut self) {
        self.stop_threads();
    }

    fn stop_threads(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.wake.notify_all();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for Interface {
    fn drop(&mut self) {
        self.stop_threads();
    }
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in one thread must not wedge the others: the state stays usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn tun_reader(&self) -> MutexGuard<'_, ()> {
        self.tun_reader.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn try_tun_reader(&self) -> Option<MutexGuard<'_, ()>> {
        match self.tun_reader.try_lock() {
            Ok(token) => Some(token),
            Err(std::sync::TryLockError::Poisoned(e)) => Some(e.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    pub(crate) fn udp(&self) -> Arc<Udp> {
        Arc::clone(&self.udp.read().unwrap_or_else(|e| e.into_inner()))
    }

    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
}

/// Datagrams the core asked to send, copied out so they go after the lock is released.
/// Its buffers are reused from call to call.
#[derive(Default)]
pub(crate) struct Outbox {
    datagrams: Vec<(SocketAddr, Vec<u8>)>,
    used: usize,
    scratch: Vec<u8>,
}

impl Outbox {
    pub(crate) fn collect(&mut self, device: &mut Device, now: Instant) {
        self.used = 0;
        if self.scratch.len() < BUF_LEN {
            self.scratch.resize(BUF_LEN, 0);
        }
        while let Some(transmit) = device.poll_transmit(now, &mut self.scratch) {
            if self.used == self.datagrams.len() {
                self.datagrams.push((transmit.dst, Vec::new()));
            }
            let (dst, bytes) = &mut self.datagrams[self.used];
            *dst = transmit.dst;
            bytes.clear();
            bytes.extend_from_slice(&self.scratch[..transmit.len]);
            self.used += 1;
        }
    }

    pub(crate) fn send(&self, udp: &Udp) {
        for (dst, bytes) in &self.datagrams[..self.used] {
            if let Err(error) = udp.send(bytes, *dst) {
                tracing::debug!(%dst, %error, "send failed");
            }
        }
    }
}

fn timers(shared: &Shared) {
    let mut outbox = Outbox::default();
    let mut last_refresh = Instant::now();
    let mut state = shared.lock();
    while !shared.stopping() {
        let now = Instant::now();
        if now.duration_since(last_refresh) >= Duration::from_secs(5) {
            // The MTU caps padding; the wall clock may have jumped (suspend, NTP).
            // Asking for the MTU is a few syscalls: not under the lock.
            last_refresh = now;
            drop(state);
            let mtu = shared.tun.mtu().ok();
            state = shared.lock();
            state.device.set_mtu(mtu);
            state.device.set_wall_clock(now, unix_now());
        }
        state.device.handle_timeout(now);
        outbox.collect(&mut state.device, now);
        let wait = state.device.next_timeout().map_or(TIMER_TICK, |at| {
            at.saturating_duration_since(now).min(TIMER_TICK)
        });
        drop(state);
        outbox.send(&shared.udp());
        state = shared.lock();
        if !wait.is_zero() {
            state = shared
                .wake
                .wait_timeout(state, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}
