//! UDP to TUN: a batch of datagrams (GRO runs already cut apart), opened in place under
//! one lock with the source-address check, then written to the TUN, which coalesces
//! TCP segments where it can.

use crate::allowed_ips::packet_addresses;
use crate::batch::PacketBatch;
use crate::interface::{Outbox, Shared, State};
use crate::send::Sender;
use culvert_proto::Decapsulated;
use std::net::SocketAddr;
use std::ops::Range;
use std::time::{Duration, Instant};

/// Eight receive slots of 64 KiB, each a GRO run or a datagram.
const BATCH_BYTES: usize = 8 << 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    ToTun,
    Reply,
    Drop,
}

pub(crate) fn udp_to_tun(shared: &Shared) {
    let mut datagrams = PacketBatch::new(BATCH_BYTES);
    let mut sources: Vec<SocketAddr> = Vec::with_capacity(512);
    let mut verdicts: Vec<Verdict> = Vec::with_capacity(512);
    let mut outbox = Outbox::default();
    let mut answers = Sender::new();
    while !shared.stopping() {
        datagrams.clear();
        sources.clear();
        let udp = shared.udp();
        if let Err(error) = udp.recv_batch(&mut datagrams, &mut sources) {
            tracing::warn!(%error, "receiving from the UDP socket failed");
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        if datagrams.is_empty() {
            continue;
        }
        verdicts.clear();
        let now = Instant::now();
        let mut state = shared.lock();
        let State { device, routes, .. } = &mut *state;
        for (i, &src) in sources.iter().enumerate() {
            let datagram = datagrams.packet_mut(i);
            let base = datagram.as_ptr() as usize;
            let offset = |part: &[u8]| -> Range<usize> {
                let start = part.as_ptr() as usize - base;
                start..start + part.len()
            };
            let (verdict, keep) = match device.decapsulate(src, datagram, now) {
                Ok(Decapsulated::Packet { peer, packet }) => {
                    // The source check: a peer may only send from addresses routed to it.
                    let source_ok = packet_addresses(packet)
                        .is_some_and(|(_, source)| routes.lookup(source) == Some(peer));
                    if source_ok {
                        (Verdict::ToTun, offset(packet))
                    } else {
                        tracing::trace!(%src, "inner source address not allowed for this peer");
                        (Verdict::Drop, 0..0)
                    }
                }
                Ok(Decapsulated::Reply(reply)) => (Verdict::Reply, offset(reply)),
                Ok(Decapsulated::Done) => (Verdict::Drop, 0..0),
                Err(error) => {
                    tracing::trace!(%src, %error, "datagram dropped");
                    (Verdict::Drop, 0..0)
                }
            };
            datagrams.narrow(i, keep);
            verdicts.push(verdict);
        }
        outbox.collect(device, now);
        drop(state);
        for (i, verdict) in verdicts.iter().enumerate() {
            if *verdict == Verdict::Reply
                && let Err(error) = udp.send(datagrams.packet(i), sources[i])
            {
                tracing::debug!(src = %sources[i], %error, "reply failed");
            }
        }
        datagrams.retain(|i| verdicts[i] == Verdict::ToTun);
        if !datagrams.is_empty() {
            if let Err(error) = shared.tun.write_batch(&mut datagrams) {
                tracing::debug!(%error, "writing to the TUN failed");
            }
            // What the kernel answered is likely queued already: send it from here
            // unless the TUN thread is reading.
            if let Some(_token) = shared.try_tun_reader() {
                answers.pump(shared, Duration::ZERO);
            }
        }
        outbox.send(&udp);
    }
}
