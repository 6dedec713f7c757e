//! A responder under a flood of initiations: junk costs a hash, valid-mac1 initiations get
//! cookie replies instead of Diffie-Hellman work, cookie holders are rate limited per
//! address, and a legitimate peer still completes its handshake through the cookie.

mod common;

use blake2::digest::consts::U16;
use blake2::digest::{Digest, FixedOutput, Mac};
use blake2::{Blake2s256, Blake2sMac};
use common::{Side, ipv4_packet, pair};
use culvert_proto::messages::{COOKIE_REPLY_LEN, INITIATION_LEN, RESPONSE_LEN};
use culvert_proto::{Decapsulated, Device, Error, PeerConfig, PrivateKey, PublicKey};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// An initiation-shaped datagram with a valid mac1 for `responder` and random contents,
/// computed independently of culvert-proto.
fn forged_initiation(responder: &PublicKey, rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut message = vec![0u8; INITIATION_LEN];
    rng.fill_bytes(&mut message[4..116]);
    message[0] = 1;
    let key = Blake2s256::new()
        .chain_update(b"mac1----")
        .chain_update(responder.as_bytes())
        .finalize();
    let mut mac = <Blake2sMac<U16> as Mac>::new_from_slice(&key).unwrap();
    Mac::update(&mut mac, &message[..116]);
    message[116..132].copy_from_slice(&mac.finalize_fixed());
    message
}

fn flooder(n: u32) -> SocketAddr {
    SocketAddr::from((
        [10, (n >> 16) as u8, (n >> 8) as u8, n as u8],
        1024 + (n % 50_000) as u16,
    ))
}

#[derive(Default, Debug)]
struct Outcomes {
    cookie_replies: usize,
    dh_refusals: usize,
    invalid_mac1: usize,
    rate_limited: usize,
}

fn hit(
    device: &mut Device,
    src: SocketAddr,
    mut datagram: Vec<u8>,
    now: Instant,
    out: &mut Outcomes,
) {
    match device.decapsulate(src, &mut datagram, now) {
        Ok(Decapsulated::Reply(reply)) if reply.len() == COOKIE_REPLY_LEN => {
            out.cookie_replies += 1
        }
        Err(Error::HandshakeFailed | Error::UnknownPeer) => out.dh_refusals += 1,
        Err(Error::InvalidMac1) => out.invalid_mac1 += 1,
        Err(Error::RateLimited) => out.rate_limited += 1,
        other => panic!("unexpected outcome of a flood packet: {other:?}"),
    }
}

#[test]
fn flood_switches_to_cookies_and_the_legitimate_peer_gets_through() {
    let t0 = Instant::now();
    let mut p = pair(t0, 21);
    let b_public = p.b.public_key().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut outcomes = Outcomes::default();

    // One second of 2,000 forged initiations from as many addresses, plus junk.
    for n in 0..2_000u32 {
        let now = t0 + Duration::from_micros(u64::from(n) * 500);
        hit(
            &mut p.b,
            flooder(n),
            forged_initiation(&b_public, &mut rng),
            now,
            &mut outcomes,
        );
        let mut junk = vec![0u8; INITIATION_LEN];
        rng.fill_bytes(&mut junk);
        junk[..4].copy_from_slice(&[1, 0, 0, 0]);
        hit(&mut p.b, flooder(n), junk, now, &mut outcomes);
    }
    assert_eq!(outcomes.invalid_mac1, 2_000, "junk never gets past mac1");
    // Before the load is detected the responder does the work; after, only cookies.
    assert!(
        outcomes.dh_refusals <= culvert_proto::HANDSHAKES_PER_SECOND_UNDER_LOAD as usize,
        "{outcomes:?}"
    );
    assert!(outcomes.cookie_replies >= 1_700, "{outcomes:?}");
    let flood_end = t0 + Duration::from_secs(1);
    assert!(p.b.is_under_load(flood_end));

    // The legitimate peer starts its handshake in the middle of the flood.
    let t1 = flood_end;
    let mut out = vec![0u8; common::BUF_LEN];
    p.a.encapsulate(p.b_in_a, &ipv4_packet(b"through the flood"), &mut out, t1)
        .unwrap();
    let mut initiation = p.poll(Side::A, t1).remove(0);
    let Ok(Decapsulated::Reply(cookie)) = p.b.decapsulate(p.a_addr, &mut initiation, t1) else {
        panic!("under load, an initiation without mac2 gets a cookie")
    };
    let mut cookie = cookie.to_vec();
    assert_eq!(cookie.len(), COOKIE_REPLY_LEN);
    // The cookie reply is not authenticated: it must not move A's idea of B's endpoint.
    let spoofed: SocketAddr = "203.0.113.99:9".parse().unwrap();
    assert_eq!(
        p.a.decapsulate(spoofed, &mut cookie, t1),
        Ok(Decapsulated::Done)
    );
    assert_eq!(p.a.stats(p.b_in_a).unwrap().endpoint, Some(p.b_addr));

    // The flood goes on while A waits for its retry.
    let retry = p.a.next_timeout().unwrap();
    let mut n = 10_000;
    let mut now = t1;
    while now < retry {
        hit(
            &mut p.b,
            flooder(n),
            forged_initiation(&b_public, &mut rng),
            now,
            &mut outcomes,
        );
        n += 1;
        now += Duration::from_millis(2);
    }
    assert!(p.b.is_under_load(retry));
    p.a.handle_timeout(retry);
    let mut initiation = p.poll(Side::A, retry).remove(0);
    let Ok(Decapsulated::Reply(response)) = p.b.decapsulate(p.a_addr, &mut initiation, retry)
    else {
        panic!("with a valid mac2 the initiation is answered")
    };
    assert_eq!(response.len(), RESPONSE_LEN);
    let response = response.to_vec();
    p.deliver(Side::A, response, retry).unwrap();
    let data = p.poll(Side::A, retry).remove(0);
    assert_eq!(
        p.deliver(Side::B, data, retry).unwrap(),
        Some(ipv4_packet(b"through the flood"))
    );
}

#[test]
fn cookie_holders_are_rate_limited_per_source_address() {
    let t0 = Instant::now();
    let mut p = pair(t0, 22);
    let b_public = p.b.public_key().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let mut outcomes = Outcomes::default();
    for n in 0..400u32 {
        hit(
            &mut p.b,
            flooder(n),
            forged_initiation(&b_public, &mut rng),
            t0,
            &mut outcomes,
        );
    }
    assert!(p.b.is_under_load(t0));

    // An attacker with a real address and a key B does not know gets a cookie, then
    // replays its stamped initiation: mac2 is valid, so only the rate limit stops it.
    let attacker_addr: SocketAddr = "198.18.0.1:6666".parse().unwrap();
    let mut attacker = Device::new(Some(PrivateKey::generate(&mut rng)), t0, common::UNIX_START);
    let target = attacker
        .add_peer(PeerConfig {
            endpoint: Some(p.b_addr),
            ..PeerConfig::new(b_public)
        })
        .unwrap();
    let mut out = vec![0u8; common::BUF_LEN];
    attacker
        .encapsulate(target, &ipv4_packet(b"x"), &mut out, t0)
        .unwrap();
    let len = attacker.poll_transmit(t0, &mut out).unwrap().len;
    let mut first = out[..len].to_vec();
    let Ok(Decapsulated::Reply(cookie)) = p.b.decapsulate(attacker_addr, &mut first, t0) else {
        panic!()
    };
    let mut cookie = cookie.to_vec();
    attacker.decapsulate(p.b_addr, &mut cookie, t0).unwrap();
    let retry = attacker.next_timeout().unwrap();
    attacker.handle_timeout(retry);
    let len = attacker.poll_transmit(retry, &mut out).unwrap().len;
    let stamped = out[..len].to_vec();

    for n in 400..800u32 {
        hit(
            &mut p.b,
            flooder(n),
            forged_initiation(&b_public, &mut rng),
            retry,
            &mut outcomes,
        );
    }
    assert!(p.b.is_under_load(retry), "the flood goes on");
    let mut replays = Outcomes::default();
    for _ in 0..50 {
        hit(
            &mut p.b,
            attacker_addr,
            stamped.clone(),
            retry,
            &mut replays,
        );
    }
    assert_eq!(
        replays.dh_refusals,
        culvert_proto::RATE_LIMIT_BURST as usize,
        "{replays:?}"
    );
    assert_eq!(
        replays.rate_limited,
        50 - culvert_proto::RATE_LIMIT_BURST as usize
    );
    // The limit is per address: the legitimate peer is not affected by it.
    let mut legit = Outcomes::default();
    p.a.encapsulate(p.b_in_a, &ipv4_packet(b"x"), &mut out, retry)
        .unwrap();
    let initiation = p.poll(Side::A, retry).remove(0);
    hit(&mut p.b, p.a_addr, initiation, retry, &mut legit);
    assert_eq!(legit.cookie_replies, 1);
}

#[test]
fn without_load_no_cookie_is_demanded() {
    let t0 = Instant::now();
    let mut p = pair(t0, 23);
    let mut out = vec![0u8; common::BUF_LEN];
    p.a.encapsulate(p.b_in_a, &ipv4_packet(b"x"), &mut out, t0)
        .unwrap();
    let mut initiation = p.poll(Side::A, t0).remove(0);
    assert!(!p.b.is_under_load(t0));
    let Ok(Decapsulated::Reply(reply)) = p.b.decapsulate(p.a_addr, &mut initiation, t0) else {
        panic!()
    };
    assert_eq!(reply.len(), RESPONSE_LEN);
    // A backlog reported by the I/O shell puts the device under load too.
    p.b.report_handshake_backlog(128, 1024, t0);
    assert!(p.b.is_under_load(t0) && !p.b.is_under_load(t0 + Duration::from_secs(2)));
}
