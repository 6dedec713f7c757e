//! The hot paths allocate nothing: encapsulating and decapsulating data, keepalives,
//! and answering a flood with cookie replies or refusing junk.

mod common;

use common::{BUF_LEN, Side, established_and_quiet, ipv4_packet};
use culvert_proto::messages::INITIATION_LEN;
use culvert_proto::{Decapsulated, Encapsulated};
use culvert_testalloc::allocations_during;
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: culvert_testalloc::CountingAllocator = culvert_testalloc::CountingAllocator;

#[test]
fn the_counter_sees_allocations() {
    assert_eq!(
        allocations_during(|| drop(std::hint::black_box(vec![1u8; 10]))),
        1
    );
}

#[test]
fn data_path_allocates_nothing_per_packet() {
    let (mut p, t0) = established_and_quiet(Instant::now(), 31);
    let packet = ipv4_packet(&[0x42; 1400]);
    let mut buf = vec![0u8; BUF_LEN];
    let mut tx = vec![0u8; BUF_LEN];
    let mut exchange = |p: &mut common::Pair, now: Instant| {
        for (from, to) in [(Side::A, Side::B), (Side::B, Side::A)] {
            let (device, peer) = p.device(from);
            let Ok(Encapsulated::Datagram { len, .. }) =
                device.encapsulate(peer, &packet, &mut buf, now)
            else {
                panic!("session is up")
            };
            let src = p.addr(from);
            let (device, _) = p.device(to);
            let Ok(Decapsulated::Packet { packet: inner, .. }) =
                device.decapsulate(src, &mut buf[..len], now)
            else {
                panic!("packet is accepted")
            };
            assert_eq!(inner.len(), packet.len());
            p.a.handle_timeout(now);
            p.b.handle_timeout(now);
            while p.a.poll_transmit(now, &mut tx).is_some() {}
            while p.b.poll_transmit(now, &mut tx).is_some() {}
        }
    };
    exchange(&mut p, t0); // Warm-up: queues reach their working capacity.
    let count = allocations_during(|| {
        for i in 0..2_000u64 {
            exchange(&mut p, t0 + Duration::from_millis(i));
        }
    });
    assert_eq!(count, 0, "allocations on the data path");
}

#[test]
fn flood_handling_allocates_nothing() {
    let (mut p, t0) = established_and_quiet(Instant::now(), 32);
    let mut junk = [7u8; INITIATION_LEN];
    junk[..4].copy_from_slice(&[1, 0, 0, 0]);
    // A real initiation from A, replayed from many addresses: valid mac1, so under load it
    // earns cookie replies, and before that it is refused as a replay.
    let mut out = vec![0u8; BUF_LEN];
    p.a.set_preshared_key(p.b_in_a, culvert_proto::PresharedKey::from_bytes([1; 32]))
        .unwrap();
    let len = p.a.poll_transmit(t0, &mut out).unwrap().len;
    let initiation = out[..len].to_vec();
    let mut datagram = initiation.clone();
    let _ = p.b.decapsulate(p.a_addr, &mut datagram, t0);
    let count = allocations_during(|| {
        for n in 0..3_000u32 {
            let src = std::net::SocketAddr::from(([10, 9, (n >> 8) as u8, n as u8], 4000));
            let now = t0 + Duration::from_micros(u64::from(n) * 100);
            let mut j = junk;
            assert!(p.b.decapsulate(src, &mut j, now).is_err());
            datagram.copy_from_slice(&initiation);
            let _ = p.b.decapsulate(src, &mut datagram, now);
        }
    });
    assert!(p.b.is_under_load(t0 + Duration::from_millis(300)));
    assert_eq!(count, 0, "allocations while flooded");
}
