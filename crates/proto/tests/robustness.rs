//! No datagram can make the device panic: random bytes, and real messages with bits
//! flipped or cut short. The `cargo fuzz` target (crates/proto/fuzz) explores further.

mod common;

use common::{BUF_LEN, Side, established_and_quiet, ipv4_packet};
use proptest::prelude::*;
use std::time::Instant;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_datagrams_are_refused_without_panic(
        kind in 0u8..6,
        body in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let (mut p, now) = established_and_quiet(Instant::now(), 41);
        let mut datagram = body;
        if let Some(first) = datagram.first_mut() {
            *first = kind;
        }
        let src = p.a_addr;
        prop_assert!(p.b.decapsulate(src, &mut datagram, now).is_err());
    }

    #[test]
    fn damaged_real_messages_are_refused(which in 0usize..3, flip in any::<prop::sample::Index>(), cut in any::<bool>()) {
        let (mut p, now) = established_and_quiet(Instant::now(), 42);
        let data = p.seal(Side::A, &ipv4_packet(b"payload"), now);
        p.a.set_persistent_keepalive(p.b_in_a, Some(25)).unwrap();
        let keepalive = p.poll(Side::A, now).remove(0);
        p.a.set_preshared_key(p.b_in_a, culvert_proto::PresharedKey::from_bytes([9; 32])).unwrap();
        let mut buf = vec![0u8; BUF_LEN];
        let len = p.a.poll_transmit(now, &mut buf).unwrap().len;
        let initiation = buf[..len].to_vec();
        let mut datagram = [data, initiation, keepalive][which].clone();
        if cut {
            datagram.truncate(flip.index(datagram.len()));
        } else {
            // Everything is authenticated but an initiation's mac2, which a responder
            // not under load ignores (whitepaper 5.4.7).
            let covered = if which == 1 { datagram.len() - 16 } else { datagram.len() };
            let at = flip.index(covered);
            datagram[at] ^= 0x01;
        }
        let src = p.a_addr;
        prop_assert!(p.b.decapsulate(src, &mut datagram, now).is_err());
    }
}
