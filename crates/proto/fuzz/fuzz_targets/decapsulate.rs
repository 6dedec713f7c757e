//! Arbitrary datagrams against a device that has a live session, so every message type's
//! path is reachable: `cargo +nightly fuzz run decapsulate` in crates/proto/fuzz.
#![no_main]

use culvert_proto::{Device, PeerConfig, PrivateKey};
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    let now = Instant::now();
    let unix = Duration::from_secs(1_780_000_000);
    let a_key = PrivateKey::from_bytes([1; 32]);
    let b_key = PrivateKey::from_bytes([2; 32]);
    let a_addr = "192.0.2.1:1".parse().unwrap();
    let b_addr = "192.0.2.2:2".parse().unwrap();
    let mut a = Device::new(Some(a_key.clone()), now, unix);
    let mut b = Device::new(Some(b_key.clone()), now, unix);
    let b_in_a = a
        .add_peer(PeerConfig {
            endpoint: Some(b_addr),
            ..PeerConfig::new(b_key.public_key())
        })
        .unwrap();
    b.add_peer(PeerConfig::new(a_key.public_key())).unwrap();
    let mut buf = vec![0u8; 2048];
    let _ = a.encapsulate(
        b_in_a,
        &[
            0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ],
        &mut buf,
        now,
    );
    if let Some(t) = a.poll_transmit(now, &mut buf) {
        if let Ok(culvert_proto::Decapsulated::Reply(reply)) =
            b.decapsulate(a_addr, &mut buf[..t.len], now)
        {
            let mut reply = reply.to_vec();
            let _ = a.decapsulate(b_addr, &mut reply, now);
        }
    }
    // The input, as is and with its first byte forced to each message type.
    for kind in [None, Some(1u8), Some(2), Some(3), Some(4)] {
        let mut datagram = data.to_vec();
        if let (Some(kind), Some(first)) = (kind, datagram.first_mut()) {
            *first = kind;
        }
        let _ = b.decapsulate(a_addr, &mut datagram, now);
        let _ = a.decapsulate(b_addr, &mut datagram.clone(), now);
    }
    b.handle_timeout(now + Duration::from_secs(600));
});
