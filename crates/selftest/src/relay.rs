//! A UDP relay that loses, duplicates and reorders datagrams, standing in for `tc
//! netem` (this kernel has no sch_netem). A WireGuard peer sends to the relay's front
//! address; the relay forwards to the real peer from its own back socket, so that peer
//! sees the relay as the endpoint, and answers travel back the same way.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Percentages applied independently to every datagram, in both directions.
#[derive(Debug, Clone, Copy)]
pub struct Impairment {
    pub loss_percent: u32,
    pub duplicate_percent: u32,
    /// Held back and sent after the next datagram.
    pub reorder_percent: u32,
    pub seed: u64,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RelayCounts {
    pub forwarded: u64,
    pub dropped: u64,
    pub duplicated: u64,
    pub reordered: u64,
}

#[derive(Debug, Default)]
struct Counters {
    forwarded: AtomicU64,
    dropped: AtomicU64,
    duplicated: AtomicU64,
    reordered: AtomicU64,
}

#[derive(Debug)]
pub struct ImpairingRelay {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    counters: Arc<Counters>,
    front: SocketAddr,
}

impl ImpairingRelay {
    /// Binds `front` and an ephemeral back socket in the calling thread's network
    /// namespace and relays between the first client to send and `upstream`.
    pub fn start(front: SocketAddr, upstream: SocketAddr, impairment: Impairment) -> Self {
        let front_socket = Arc::new(UdpSocket::bind(front).expect("relay front binds"));
        let back_unspecified: SocketAddr = match upstream {
            SocketAddr::V4(_) => "0.0.0.0:0".parse().unwrap(),
            SocketAddr::V6(_) => "[::]:0".parse().unwrap(),
        };
        let back_socket = Arc::new(UdpSocket::bind(back_unspecified).expect("relay back binds"));
        for socket in [&front_socket, &back_socket] {
            socket
                .set_read_timeout(Some(Duration::from_millis(50)))
                .unwrap();
        }
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let client: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
        let front = front_socket.local_addr().unwrap();

        let outbound = {
            let (from, to) = (Arc::clone(&front_socket), Arc::clone(&back_socket));
            let (stop, counters, client) = (stop.clone(), counters.clone(), client.clone());
            let mut lane = Lane::new(impairment, impairment.seed);
            std::thread::spawn(move || {
                relay_loop(&from, &stop, &mut lane, &counters, |packet, source| {
                    *client.lock().unwrap() = Some(source);
                    let _ = to.send_to(packet, upstream);
                })
            })
        };
        let inbound = {
            let (from, to) = (Arc::clone(&back_socket), Arc::clone(&front_socket));
            let (stop, counters) = (stop.clone(), counters.clone());
            let mut lane = Lane::new(impairment, impairment.seed ^ 0x5555);
            std::thread::spawn(move || {
                relay_loop(&from, &stop, &mut lane, &counters, |packet, _| {
                    if let Some(client) = *client.lock().unwrap() {
                        let _ = to.send_to(packet, client);
                    }
                })
            })
        };
        Self {
            stop,
            threads: vec![outbound, inbound],
            counters,
            front,
        }
    }

    /// Where the client sends.
    pub fn front(&self) -> SocketAddr {
        self.front
    }

    pub fn counts(&self) -> RelayCounts {
        let c = &self.counters;
        RelayCounts {
            forwarded: c.forwarded.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            duplicated: c.duplicated.load(Ordering::Relaxed),
            reordered: c.reordered.load(Ordering::Relaxed),
        }
    }
}

impl Drop for ImpairingRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// One direction's impairment state: its random stream and the datagram held back.
struct Lane {
    impairment: Impairment,
    state: u64,
    held: Option<(Vec<u8>, SocketAddr)>,
}

impl Lane {
    fn new(impairment: Impairment, seed: u64) -> Self {
        Self {
            impairment,
            state: seed | 1,
            held: None,
        }
    }

    fn chance(&mut self, percent: u32) -> bool {
        // xorshift64*
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        (self.state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) % 100 < u64::from(percent)
    }
}

fn relay_loop(
    socket: &UdpSocket,
    stop: &AtomicBool,
    lane: &mut Lane,
    counters: &Counters,
    mut send: impl FnMut(&[u8], SocketAddr),
) {
    let mut buf = vec![0u8; 65_536];
    while !stop.load(Ordering::SeqCst) {
        let (n, source) = match socket.recv_from(&mut buf) {
            Ok(received) => received,
            Err(_) => {
                // Idle: nothing follows a held datagram, so it goes now.
                if let Some((packet, source)) = lane.held.take() {
                    send(&packet, source);
                }
                continue;
            }
        };
        let packet = &buf[..n];
        let impairment = lane.impairment;
        if lane.chance(impairment.loss_percent) {
            counters.dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        if lane.held.is_none() && lane.chance(impairment.reorder_percent) {
            counters.reordered.fetch_add(1, Ordering::Relaxed);
            lane.held = Some((packet.to_vec(), source));
            continue;
        }
        send(packet, source);
        counters.forwarded.fetch_add(1, Ordering::Relaxed);
        if lane.chance(impairment.duplicate_percent) {
            send(packet, source);
            counters.duplicated.fetch_add(1, Ordering::Relaxed);
        }
        if let Some((held, source)) = lane.held.take() {
            send(&held, source);
        }
    }
}
