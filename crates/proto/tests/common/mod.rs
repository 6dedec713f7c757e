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
