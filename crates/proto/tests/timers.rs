//! Each timer of the whitepaper fires at its simulated time, and not before.

mod common;

use common::{Side, established, established_and_quiet, ipv4_packet, pair};
use culvert_proto::messages::{INITIATION_LEN, KEEPALIVE_LEN};
use culvert_proto::{
    Encapsulated, Error, KEEPALIVE_TIMEOUT, MAX_HANDSHAKE_ATTEMPTS, PresharedKey,
    REJECT_AFTER_TIME, REKEY_ATTEMPT_TIME, REKEY_TIMEOUT, REKEY_TIMEOUT_JITTER_MAX,
    ZERO_KEYS_AFTER,
};
use std::time::{Duration, Instant};

const MS: Duration = Duration::from_millis(1);

fn lens(datagrams: &[Vec<u8>]) -> Vec<usize> {
    datagrams.iter().map(Vec::len).collect()
}

#[test]
fn passive_keepalive_answers_data_after_ten_seconds_and_only_data() {
    let (mut p, t0) = established_and_quiet(Instant::now(), 1);
    let t1 = t0 + Duration::from_secs(1);
    let data = p.seal(Side::A, &ipv4_packet(b"ping"), t1);
    assert!(p.deliver(Side::B, data, t1).unwrap().is_some());

    assert_eq!(p.b.next_timeout(), Some(t1 + KEEPALIVE_TIMEOUT));
    p.b.handle_timeout(t1 + KEEPALIVE_TIMEOUT - MS);
    assert!(p.poll(Side::B, t1 + KEEPALIVE_TIMEOUT - MS).is_empty());
    let t2 = t1 + KEEPALIVE_TIMEOUT;
    p.b.handle_timeout(t2);
    let keepalive = p.poll(Side::B, t2);
    assert_eq!(lens(&keepalive), [KEEPALIVE_LEN]);
    assert_eq!(p.deliver(Side::A, keepalive[0].clone(), t2), Ok(None));

    // A keepalive is not data: A does not answer it, now or later.
    let later = t2 + Duration::from_secs(30);
    p.a.handle_timeout(later);
    assert!(p.poll(Side::A, later).is_empty());
}

#[test]
fn initiator_rekeys_when_sending_after_rekey_after_time() {
    let t0 = Instant::now();
    let mut p = established(t0, 2);
    let before = t0 + Duration::from_secs(119);
    let _ = p.seal(Side::A, &ipv4_packet(b"x"), before);
    assert!(p.poll(Side::A, before).is_empty(), "no rekey before 120 s");
    let after = t0 + Duration::from_secs(121);
    let _ = p.seal(Side::A, &ipv4_packet(b"x"), after);
    assert_eq!(lens(&p.poll(Side::A, after)), [INITIATION_LEN]);
}

#[test]
fn responder_never_rekeys_on_send_but_initiator_rekeys_before_keys_expire_on_receive() {
    let t0 = Instant::now();
    let mut p = established(t0, 3);
    let t1 = t0 + Duration::from_secs(130);
    let data = p.seal(Side::B, &ipv4_packet(b"x"), t1);
    assert!(
        p.poll(Side::B, t1).is_empty(),
        "the responder leaves rekeying to the initiator"
    );
    p.deliver(Side::A, data, t1).unwrap();
    assert!(
        p.poll(Side::A, t1).is_empty(),
        "130 s is not yet last-minute"
    );
    // REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT = 165 s.
    let t2 = t0 + Duration::from_secs(166);
    let data = p.seal(Side::B, &ipv4_packet(b"x"), t2);
    p.deliver(Side::A, data, t2).unwrap();
    assert_eq!(lens(&p.poll(Side::A, t2)), [INITIATION_LEN]);
}

#[test]
fn handshake_retries_with_jitter_then_gives_up_after_rekey_attempt_time() {
    let t0 = Instant::now();
    let mut p = pair(t0, 4);
    let mut out = vec![0u8; common::BUF_LEN];
    assert_eq!(
        p.a.encapsulate(p.b_in_a, &ipv4_packet(b"x"), &mut out, t0),
        Ok(Encapsulated::Queued)
    );
    assert_eq!(lens(&p.poll(Side::A, t0)), [INITIATION_LEN]);
    let mut sent_at = vec![t0];
    let mut gaps = Vec::new();
    loop {
        let next = p.a.next_timeout().expect("a timer is pending");
        p.a.handle_timeout(next);
        let sent = p.poll(Side::A, next);
        if sent.is_empty() {
            break;
        }
        assert_eq!(lens(&sent), [INITIATION_LEN]);
        gaps.push(next - *sent_at.last().unwrap());
        sent_at.push(next);
    }
    for gap in &gaps {
        assert!(
            *gap >= REKEY_TIMEOUT && *gap < REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX,
            "{gap:?}"
        );
    }
    assert!(
        gaps.windows(2).any(|w| w[0] != w[1]),
        "retries are jittered"
    );
    // The first initiation plus MAX_HANDSHAKE_ATTEMPTS + 1 retries, as wireguard-go.
    assert_eq!(sent_at.len() as u32, MAX_HANDSHAKE_ATTEMPTS + 2);
    assert!(*sent_at.last().unwrap() - t0 >= REKEY_ATTEMPT_TIME);
    // Given up: the waiting packet was dropped and nothing is retried any more.
    let much_later = t0 + Duration::from_secs(300);
    p.a.handle_timeout(much_later);
    assert!(p.poll(Side::A, much_later).is_empty());
}

#[test]
fn unanswered_data_starts_a_handshake_after_fifteen_seconds() {
    let (mut p, t0) = established_and_quiet(Instant::now(), 5);
    let t1 = t0 + Duration::from_secs(2);
    let _lost = p.seal(Side::A, &ipv4_packet(b"x"), t1);
    let deadline = p.a.next_timeout().unwrap();
    let base = t1 + KEEPALIVE_TIMEOUT + REKEY_TIMEOUT;
    assert!(
        deadline >= base && deadline < base + REKEY_TIMEOUT_JITTER_MAX,
        "{:?}",
        deadline - t1
    );
    p.a.handle_timeout(deadline - MS);
    assert!(p.poll(Side::A, deadline - MS).is_empty());
    p.a.handle_timeout(deadline);
    assert_eq!(lens(&p.poll(Side::A, deadline)), [INITIATION_LEN]);
}

#[test]
fn persistent_keepalive_every_interval_while_idle() {
    let (mut p, t0) = established_and_quiet(Instant::now(), 6);
    p.a.set_persistent_keepalive(p.b_in_a, Some(25)).unwrap();
    // Announced at once, then every 25 s of silence.
    assert_eq!(lens(&p.poll(Side::A, t0)), [KEEPALIVE_LEN]);
    let mut now = t0;
    for _ in 0..3 {
        let next = p.a.next_timeout().unwrap();
        assert_eq!(next, now + Duration::from_secs(25));
        p.a.handle_timeout(next);
        let sent = p.poll(Side::A, next);
        assert_eq!(lens(&sent), [KEEPALIVE_LEN]);
        for d in sent {
            assert_eq!(p.deliver(Side::B, d, next), Ok(None));
        }
        now = next;
    }
    p.a.set_persistent_keepalive(p.b_in_a, None).unwrap();
    p.a.handle_timeout(now + Duration::from_secs(25));
    assert!(p.poll(Side::A, now + Duration::from_secs(25)).is_empty());
}

#[test]
fn keys_expire_after_reject_after_time_and_are_erased_after_540_s() {
    let t0 = Instant::now();
    let mut p = established(t0, 7);
    let t1 = t0 + Duration::from_secs(1);
    let captured: Vec<_> = (0..3)
        .map(|i| p.seal(Side::A, &ipv4_packet(&[i]), t1))
        .collect();
    let [early, late, after_zero] = captured.try_into().unwrap();
    assert!(
        p.deliver(Side::B, early, t0 + Duration::from_secs(170))
            .unwrap()
            .is_some()
    );
    assert_eq!(
        p.deliver(Side::B, late, t0 + REJECT_AFTER_TIME),
        Err(Error::SessionExpired)
    );
    let mut out = vec![0u8; common::BUF_LEN];
    let expired = t0 + REJECT_AFTER_TIME + MS;
    assert_eq!(
        p.a.encapsulate(p.b_in_a, &ipv4_packet(b"x"), &mut out, expired),
        Ok(Encapsulated::Queued)
    );

    let zero = t0 + ZERO_KEYS_AFTER;
    p.b.handle_timeout(zero);
    assert_eq!(
        p.deliver(Side::B, after_zero, zero),
        Err(Error::UnknownIndex),
        "keys were erased"
    );
}

#[test]
fn packets_in_flight_during_a_rekey_still_decrypt() {
    let t0 = Instant::now();
    let mut p = established(t0, 8);
    let t1 = t0 + Duration::from_secs(121);
    let in_flight: Vec<_> = (0..5)
        .map(|i| p.seal(Side::A, &ipv4_packet(&[i]), t1))
        .collect();
    p.settle(t1);
    let a_stats = p.a.stats(p.b_in_a).unwrap();
    assert_eq!(a_stats.last_handshake, Some(t1), "the rekey completed");
    // They were sealed with the old keys and arrive after the new ones are in use.
    for (i, d) in in_flight.into_iter().enumerate().rev() {
        assert_eq!(
            p.deliver(Side::B, d, t1 + MS).unwrap(),
            Some(ipv4_packet(&[i as u8]))
        );
    }
}

#[test]
fn changed_preshared_key_is_applied_to_the_live_session_at_once() {
    let t0 = Instant::now();
    let mut p = established(t0, 9);
    let new_psk = PresharedKey::from_bytes([42; 32]);
    p.a.set_preshared_key(p.b_in_a, new_psk.clone()).unwrap();
    let t1 = t0 + Duration::from_secs(6);
    let initiation = p.poll(Side::A, t1);
    assert_eq!(lens(&initiation), [INITIATION_LEN]);
    // B still has the old key: A cannot complete this handshake.
    assert_eq!(
        p.deliver(Side::B, initiation[0].clone(), t1),
        Err(Error::HandshakeFailed)
    );
    p.b.set_preshared_key(p.a_in_b, new_psk).unwrap();
    let retry = p.a.next_timeout().unwrap();
    p.a.handle_timeout(retry);
    p.settle(retry);
    assert_eq!(p.a.stats(p.b_in_a).unwrap().last_handshake, Some(retry));
}

#[test]
fn replayed_initiations_are_refused() {
    let t0 = Instant::now();
    let mut p = pair(t0, 10);
    let mut out = vec![0u8; common::BUF_LEN];
    p.a.encapsulate(p.b_in_a, &ipv4_packet(b"x"), &mut out, t0)
        .unwrap();
    let initiation = p.poll(Side::A, t0).remove(0);
    let src = p.a_addr;
    let mut first = initiation.clone();
    assert!(p.b.decapsulate(src, &mut first, t0).is_ok());
    let mut again = initiation.clone();
    assert_eq!(
        p.b.decapsulate(src, &mut again, t0 + 5 * MS),
        Err(Error::ReplayedInitiation)
    );
    let mut later = initiation;
    assert_eq!(
        p.b.decapsulate(src, &mut later, t0 + Duration::from_secs(60)),
        Err(Error::ReplayedInitiation)
    );
}

#[test]
fn endpoint_follows_authenticated_packets_only() {
    let t0 = Instant::now();
    let mut p = established(t0, 11);
    let roamed = "203.0.113.7:40000".parse().unwrap();
    let mut data = p.seal(Side::A, &ipv4_packet(b"x"), t0);
    let mut forged = data.clone();
    forged[20] ^= 1;
    assert_eq!(
        p.b.decapsulate(roamed, &mut forged, t0),
        Err(Error::DecryptionFailed)
    );
    assert_eq!(
        p.b.stats(p.a_in_b).unwrap().endpoint,
        Some(p.a_addr),
        "a forgery moves nothing"
    );
    assert!(p.b.decapsulate(roamed, &mut data, t0).is_ok());
    assert_eq!(p.b.stats(p.a_in_b).unwrap().endpoint, Some(roamed));
    let reply = p.seal(Side::B, &ipv4_packet(b"y"), t0);
    let _ = reply;
    let stats = p.b.stats(p.a_in_b).unwrap();
    assert!(stats.rx_bytes > 0 && stats.tx_bytes > 0);
}

#[test]
fn persistent_keepalive_keeps_retrying_after_a_handshake_gives_up() {
    let t0 = Instant::now();
    let mut p = pair(t0, 12);
    p.a.set_persistent_keepalive(p.b_in_a, Some(25)).unwrap();
    // B is unreachable: every initiation is lost.
    let mut sent_at = Vec::new();
    let mut now = t0;
    while now < t0 + Duration::from_secs(240) {
        p.a.handle_timeout(now);
        for datagram in p.poll(Side::A, now) {
            assert_eq!(datagram.len(), INITIATION_LEN);
            sent_at.push(now - t0);
        }
        now = p.a.next_timeout().expect("the keepalive timer stays armed");
    }
    let give_up = REKEY_ATTEMPT_TIME + REKEY_TIMEOUT * 3;
    assert!(
        sent_at.iter().any(|at| *at > give_up),
        "after giving up, the persistent keepalive starts a new attempt: {sent_at:?}"
    );
}

#[test]
fn a_responder_does_not_answer_with_an_initiation_of_its_own() {
    let t0 = Instant::now();
    let mut p = pair(t0, 13);
    let mut out = vec![0u8; common::BUF_LEN];
    // B has data waiting but no endpoint; A starts the handshake.
    assert_eq!(
        p.b.encapsulate(p.a_in_b, &ipv4_packet(b"from b"), &mut out, t0),
        Ok(Encapsulated::Queued)
    );
    assert_eq!(
        p.a.encapsulate(p.b_in_a, &ipv4_packet(b"from a"), &mut out, t0),
        Ok(Encapsulated::Queued)
    );
    let mut initiation = p.poll(Side::A, t0).remove(0);
    let src = p.a_addr;
    let response = match p.b.decapsulate(src, &mut initiation, t0) {
        Ok(culvert_proto::Decapsulated::Reply(reply)) => reply.to_vec(),
        other => panic!("{other:?}"),
    };
    assert!(
        p.poll(Side::B, t0).is_empty(),
        "B waits for A to confirm the new session"
    );
    p.deliver(Side::A, response, t0).unwrap();
    let from_a = p.poll(Side::A, t0).remove(0);
    assert_eq!(
        p.deliver(Side::B, from_a, t0).unwrap(),
        Some(ipv4_packet(b"from a"))
    );
    let from_b = p.poll(Side::B, t0).remove(0);
    assert_eq!(
        p.deliver(Side::A, from_b, t0).unwrap(),
        Some(ipv4_packet(b"from b"))
    );
}

#[test]
fn handshakes_survive_the_wall_clock_stepping_back() {
    let t0 = Instant::now();
    let mut p = established(t0, 14);
    let t1 = t0 + Duration::from_secs(121);
    p.a.set_wall_clock(t1, common::UNIX_START - Duration::from_secs(3600));
    let _ = p.seal(Side::A, &ipv4_packet(b"x"), t1);
    p.settle(t1);
    assert_eq!(
        p.a.stats(p.b_in_a).unwrap().last_handshake,
        Some(t1),
        "B accepted the rekey"
    );
}
