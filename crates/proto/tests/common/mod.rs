//! Two devices that know each other, for the integration tests and the benchmarks.
#![allow(dead_code, unreachable_pub)]

use culvert_proto::{Device, PeerConfig, PeerId, PresharedKey, PrivateKey};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub const A_ADDR: &str = "192.0.2.1:51820";
pub const B_ADDR: &str = "198.51.100.2:51821";
/// Wall-clock time at the simulation's start (any fixed date works).
pub const UNIX_START: Duration = Duration::from_secs(1_780_000_000);

pub fn rng(seed: u64) -> Box<ChaCha20Rng> {
    Box::new(ChaCha20Rng::seed_from_u64(seed))
}

pub struct Pair {
    pub a: Device,
    pub b: Device,
    /// B as seen by A, and A as seen by B.
    pub b_in_a: PeerId,
    pub a_in_b: PeerId,
    pub a_addr: SocketAddr,
    pub b_addr: SocketAddr,
}

/// A and B with a pre-shared key; A knows B's endpoint, B learns A's from its handshake.
pub fn pair(start: Instant, seed: u64) -> Pair {
    let mut keys = rng(seed ^ 0xfeed);
    let a_key = PrivateKey::generate(&mut *keys);
    let b_key = PrivateKey::generate(&mut *keys);
    let psk = PresharedKey::generate(&mut *keys);
    let a_addr: SocketAddr = A_ADDR.parse().unwrap();
    let b_addr: SocketAddr = B_ADDR.parse().unwrap();
    let mut a = Device::with_rng(Some(a_key.clone()), start, UNIX_START, rng(seed));
    let mut b = Device::with_rng(Some(b_key.clone()), start, UNIX_START, rng(seed + 1));
    let b_in_a = a
        .add_peer(PeerConfig {
            preshared_key: psk.clone(),
            endpoint: Some(b_addr),
            ..PeerConfig::new(b_key.public_key())
        })
        .unwrap();
    let a_in_b = b
        .add_peer(PeerConfig {
            preshared_key: psk,
            ..PeerConfig::new(a_key.public_key())
        })
        .unwrap();
    Pair {
        a,
        b,
        b_in_a,
        a_in_b,
        a_addr,
        b_addr,
    }
}

/// A minimal IPv4 packet whose payload is `payload` (the checksum is not checked by
/// WireGuard, so it is left zero).
pub fn ipv4_packet(payload: &[u8]) -> Vec<u8> {
    let mut packet = vec![0u8; 20];
    packet[0] = 0x45;
    packet[2..4].copy_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    packet[8] = 64;
    packet[9] = 17;
    packet[12..16].copy_from_slice(&[10, 0, 0, 1]);
    packet[16..20].copy_from_slice(&[10, 0, 0, 2]);
    packet.extend_from_slice(payload);
    packet
}

pub const BUF_LEN: usize = 65_535 + 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    A,
    B,
}

impl Pair {
    pub fn device(&mut self, side: Side) -> (&mut Device, PeerId) {
        match side {
            Side::A => (&mut self.a, self.b_in_a),
            Side::B => (&mut self.b, self.a_in_b),
        }
    }

    pub fn addr(&self, side: Side) -> SocketAddr {
        match side {
            Side::A => self.a_addr,
            Side::B => self.b_addr,
        }
    }

    /// Encrypts `packet` from `side` and returns the datagram (panics without a session).
    pub fn seal(&mut self, side: Side, packet: &[u8], now: Instant) -> Vec<u8> {
        let mut out = vec![0u8; BUF_LEN];
        let (device, peer) = self.device(side);
        match device.encapsulate(peer, packet, &mut out, now).unwrap() {
            culvert_proto::Encapsulated::Datagram { len, .. } => out[..len].to_vec(),
            culvert_proto::Encapsulated::Queued => panic!("{side:?} has no session"),
        }
    }

    /// Hands `datagram` to `to`, as if it came from the other side's address, and sends
    /// any reply straight back. Returns the decrypted packet, if it carried one.
    pub fn deliver(
        &mut self,
        to: Side,
        mut datagram: Vec<u8>,
        now: Instant,
    ) -> Result<Option<Vec<u8>>, culvert_proto::Error> {
        let from = if to == Side::A { Side::B } else { Side::A };
        let src = self.addr(from);
        let (device, _) = self.device(to);
        match device.decapsulate(src, &mut datagram, now)? {
            culvert_proto::Decapsulated::Packet { packet, .. } => Ok(Some(packet.to_vec())),
            culvert_proto::Decapsulated::Reply(reply) => {
                let reply = reply.to_vec();
                self.deliver(from, reply, now)?;
                Ok(None)
            }
            culvert_proto::Decapsulated::Done => Ok(None),
        }
    }

    /// What `side` wants to send now.
    pub fn poll(&mut self, side: Side, now: Instant) -> Vec<Vec<u8>> {
        let mut buf = vec![0u8; BUF_LEN];
        let (device, _) = self.device(side);
        let mut sent = Vec::new();
        while let Some(t) = device.poll_transmit(now, &mut buf) {
            sent.push(buf[..t.len].to_vec());
        }
        sent
    }

    /// Delivers everything both sides want to send until both are quiet.
    pub fn settle(&mut self, now: Instant) {
        for _ in 0..20 {
            let from_a = self.poll(Side::A, now);
            let from_b = self.poll(Side::B, now);
            if from_a.is_empty() && from_b.is_empty() {
                return;
            }
            for d in from_a {
                let _ = self.deliver(Side::B, d, now);
            }
            for d in from_b {
                let _ = self.deliver(Side::A, d, now);
            }
        }
        panic!("the pair never went quiet");
    }
}

/// A pair with a session confirmed in both directions, A the initiator.
pub fn established(start: Instant, seed: u64) -> Pair {
    let mut p = pair(start, seed);
    let mut out = vec![0u8; BUF_LEN];
    let queued =
        p.a.encapsulate(p.b_in_a, &ipv4_packet(b"hello"), &mut out, start)
            .unwrap();
    assert_eq!(queued, culvert_proto::Encapsulated::Queued);
    p.settle(start);
    assert!(p.a.stats(p.b_in_a).unwrap().last_handshake.is_some());
    assert!(p.b.stats(p.a_in_b).unwrap().last_handshake.is_some());
    p
}

impl Pair {
    /// Runs both devices' timers up to `until`, delivering everything they send.
    pub fn run_until(&mut self, until: Instant) {
        while let Some(next) = [self.a.next_timeout(), self.b.next_timeout()]
            .into_iter()
            .flatten()
            .min()
        {
            if next > until {
                break;
            }
            self.a.handle_timeout(next);
            self.b.handle_timeout(next);
            self.settle(next);
        }
    }
}

/// [`established`], then quiet: the passive keepalive answering the first packet has
/// been sent, and no timer is due before a few minutes. Returns the pair and the time.
pub fn established_and_quiet(start: Instant, seed: u64) -> (Pair, Instant) {
    let mut p = established(start, seed);
    let quiet = start + Duration::from_secs(11);
    p.run_until(quiet);
    (p, quiet)
}
