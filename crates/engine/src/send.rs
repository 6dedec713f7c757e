//! TUN to UDP: a batch of packets from the TUN (super-packets already split), routed
//! and sealed under one lock, then sent with as few syscalls as the socket allows.
//!
//! Two threads may do this: the TUN thread, woken when the TUN has packets, and the
//! UDP-to-TUN thread right after it wrote to the TUN, since what the kernel answers (a
//! TCP ACK, an echo reply) is usually queued by then; sending it at once saves a thread
//! wake-up per round trip. Whoever reads holds the TUN's reader token until the batch
//! is sent, so packets leave in the order they were read.

use crate::allowed_ips::packet_addresses;
use crate::batch::PacketBatch;
use crate::interface::{Outbox, POLL_INTERVAL, Shared, State};
use culvert_proto::{Encapsulated, PeerId};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// Bytes of plaintext read per batch (the TUN stops reading at half of it).
const BATCH_BYTES: usize = 256 << 10;
/// Sealing adds at most 47 bytes a packet; tiny packets more than double.
const SEALED_BYTES: usize = 3 * BATCH_BYTES;
/// Room `encapsulate` asks for beyond the packet.
const SEAL_OVERHEAD: usize = 64;

/// One thread's buffers for reading, sealing and sending a batch.
pub(crate) struct Sender {
    plain: PacketBatch,
    sealed: PacketBatch,
    destinations: Vec<SocketAddr>,
    outbox: Outbox,
}

impl Sender {
    pub(crate) fn new() -> Self {
        Self {
            plain: PacketBatch::new(BATCH_BYTES),
            sealed: PacketBatch::new(SEALED_BYTES),
            destinations: Vec::with_capacity(256),
            outbox: Outbox::default(),
        }
    }

    /// Reads what the TUN has (waiting at most `timeout` for it), seals and sends it.
    /// The caller holds the reader token.
    pub(crate) fn pump(&mut self, shared: &Shared, timeout: Duration) {
        self.plain.clear();
        if let Err(error) = shared.tun.read_batch(&mut self.plain, timeout) {
            tracing::warn!(%error, "reading from the TUN failed");
            std::thread::sleep(Duration::from_millis(10));
            return;
        }
        if self.plain.is_empty() {
            return;
        }
        self.seal(shared);
        let udp = shared.udp();
        if let Err(error) = udp.send_batch(&self.sealed, &self.destinations) {
            tracing::debug!(%error, "send failed");
        }
        self.outbox.send(&udp);
    }

    fn seal(&mut self, shared: &Shared) {
        let Self {
            plain,
            sealed,
            destinations,
            outbox,
        } = self;
        sealed.clear();
        destinations.clear();
        let now = Instant::now();
        let mut state = shared.lock();
        let State { device, routes, .. } = &mut *state;
        // Bulk traffic goes to one address: look it up once per run.
        let mut last: Option<(IpAddr, Option<PeerId>)> = None;
        for packet in plain.iter() {
            let Some((dst, _)) = packet_addresses(packet) else {
                continue;
            };
            let peer = match last {
                Some((address, peer)) if address == dst => peer,
                _ => {
                    let peer = routes.lookup(dst);
                    last = Some((dst, peer));
                    peer
                }
            };
            let Some(peer) = peer else {
                tracing::trace!(%dst, "no peer for this destination");
                continue;
            };
            let mut target = None;
            sealed.push_with(packet.len() + SEAL_OVERHEAD, |out| {
                match device.encapsulate(peer, packet, out, now) {
                    Ok(Encapsulated::Datagram { dst, len }) => {
                        target = Some(dst);
                        Some(len)
                    }
                    Ok(Encapsulated::Queued) => None,
                    Err(error) => {
                        tracing::trace!(%error, "packet not sent");
                        None
                    }
                }
            });
            destinations.extend(target);
        }
        outbox.collect(device, now);
    }
}

pub(crate) fn tun_to_udp(shared: &Shared) {
    let mut sender = Sender::new();
    while !shared.stopping() {
        match shared.tun.wait_readable(POLL_INTERVAL) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(error) => {
                tracing::warn!(%error, "waiting for the TUN failed");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        }
        let _token = shared.tun_reader();
        sender.pump(shared, POLL_INTERVAL);
    }
}
