//! Two peers in memory for ten simulated minutes over a network that loses, duplicates
//! and reorders datagrams. Every data packet the network did not drop arrives exactly
//! once, every duplicate is refused as a replay, sessions rotate, and the passive
//! keepalive answers data. Deterministic: each seed replays the same run.

mod common;

use common::{BUF_LEN, Pair, Side, ipv4_packet, pair};
use culvert_proto::messages::{INITIATION_LEN, KEEPALIVE_LEN, MessageKind, classify};
use culvert_proto::{Decapsulated, Device, Encapsulated, Error, PeerId};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

struct InFlight {
    at: Instant,
    seq: u64,
    to: Side,
    bytes: Vec<u8>,
}

impl PartialEq for InFlight {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for InFlight {}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for InFlight {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

#[derive(Default, Debug)]
struct Tally {
    data_sent: u64,
    data_dropped_by_network: u64,
    delivered: HashSet<(Side, u64)>,
    duplicates_refused: u64,
    keepalives_from_b: u64,
    initiations: u64,
    handshakes_a: Vec<Instant>,
}

struct Sim {
    start: Instant,
    now: Instant,
    pair: Pair,
    rng: ChaCha8Rng,
    network: BinaryHeap<Reverse<InFlight>>,
    seq: u64,
    seen_transport: HashSet<Vec<u8>>,
    tally: Tally,
    loss_percent: u32,
    duplicate_percent: u32,
}

impl Sim {
    fn device(&mut self, side: Side) -> (&mut Device, PeerId) {
        self.pair.device(side)
    }

    fn addr(&self, side: Side) -> SocketAddr {
        self.pair.addr(side)
    }

    fn percent(&mut self, p: u32) -> bool {
        self.rng.next_u32() % 100 < p
    }

    /// Puts a datagram on the wire: 1–40 ms of delay reorders packets sent close together.
    fn send(&mut self, from: Side, dst: SocketAddr, bytes: &[u8]) {
        assert_eq!(
            dst,
            self.addr(other(from)),
            "datagrams go to the other side's address"
        );
        if classify(bytes) == Ok(MessageKind::Initiation) {
            self.tally.initiations += 1;
        }
        if from == Side::B && bytes.len() == KEEPALIVE_LEN {
            self.tally.keepalives_from_b += 1;
        }
        if self.percent(self.loss_percent) {
            if bytes.len() > KEEPALIVE_LEN && classify(bytes) == Ok(MessageKind::Transport) {
                self.tally.data_dropped_by_network += 1;
            }
            return;
        }
        let copies = if self.percent(self.duplicate_percent) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let delay = Duration::from_micros(1_000 + u64::from(self.rng.next_u32() % 39_000));
            self.seq += 1;
            self.network.push(Reverse(InFlight {
                at: self.now + delay,
                seq: self.seq,
                to: other(from),
                bytes: bytes.to_vec(),
            }));
        }
    }

    fn flush(&mut self, side: Side) {
        let mut buf = vec![0u8; BUF_LEN];
        let now = self.now;
        while let Some(t) = self.device(side).0.poll_transmit(now, &mut buf) {
            let bytes = buf[..t.len].to_vec();
            self.send(side, t.dst, &bytes);
        }
    }

    fn deliver(&mut self, datagram: InFlight) {
        let to = datagram.to;
        let src = self.addr(other(to));
        let mut bytes = datagram.bytes;
        let kind = classify(&bytes).expect("only WireGuard messages are sent");
        let first_copy =
            kind != MessageKind::Transport || self.seen_transport.insert(bytes.clone());
        let now = self.now;
        let len = bytes.len();
        let result = self.device(to).0.decapsulate(src, &mut bytes, now);
        match (kind, result) {
            (_, Ok(Decapsulated::Reply(reply))) => {
                let reply = reply.to_vec();
                self.send(to, src, &reply);
            }
            (MessageKind::Transport, Ok(Decapsulated::Packet { packet, .. })) => {
                assert!(
                    first_copy,
                    "a duplicated transport message was accepted twice"
                );
                let id = u64::from_le_bytes(packet[20..28].try_into().unwrap());
                let sender = if packet[28] == 0 { Side::A } else { Side::B };
                assert_eq!(packet, &app_packet(sender, id)[..], "packet arrived intact");
                assert!(
                    self.tally.delivered.insert((sender, id)),
                    "packet {id} delivered twice"
                );
            }
            (MessageKind::Transport, Ok(Decapsulated::Done)) => assert!(first_copy),
            (MessageKind::Transport, Err(Error::Replayed)) if !first_copy => {
                self.tally.duplicates_refused += 1
            }
            (MessageKind::Transport, other) => panic!(
                "legitimate transport message of {} bytes to {to:?} refused at {:?}: {other:?}; handshakes at {:?}",
                len,
                self.now - self.start,
                self.tally
                    .handshakes_a
                    .iter()
                    .map(|t| *t - self.start)
                    .collect::<Vec<_>>()
            ),
            // Handshake messages may be superseded, replayed by the network or too close.
            (_, Ok(Decapsulated::Done)) => {}
            (
                _,
                Err(
                    Error::UnexpectedMessage
                    | Error::ReplayedInitiation
                    | Error::InitiationFlood
                    | Error::UnknownIndex,
                ),
            ) => {}
            (kind, other) => panic!("{kind:?} handled as {other:?}"),
        }
    }

    fn send_app_packet(&mut self, from: Side, id: u64) {
        let packet = app_packet(from, id);
        let mut out = vec![0u8; BUF_LEN];
        let now = self.now;
        let (device, peer) = self.device(from);
        let result = device.encapsulate(peer, &packet, &mut out, now);
        self.tally.data_sent += 1;
        match result.expect("encapsulate succeeds") {
            Encapsulated::Datagram { dst, len } => self.send(from, dst, &out[..len]),
            Encapsulated::Queued => {}
        }
    }
}

fn other(side: Side) -> Side {
    match side {
        Side::A => Side::B,
        Side::B => Side::A,
    }
}

fn app_packet(from: Side, id: u64) -> Vec<u8> {
    let mut payload = id.to_le_bytes().to_vec();
    payload.push(from as u8);
    payload.extend(std::iter::repeat_n(0x5a, (id % 200) as usize));
    ipv4_packet(&payload)
}

fn run(seed: u64, loss_percent: u32, duplicate_percent: u32) -> Tally {
    let start = Instant::now();
    let mut sim = Sim {
        start,
        now: start,
        pair: pair(start, seed),
        rng: ChaCha8Rng::seed_from_u64(seed),
        network: BinaryHeap::new(),
        seq: 0,
        seen_transport: HashSet::new(),
        tally: Tally::default(),
        loss_percent,
        duplicate_percent,
    };
    let traffic_end = start + Duration::from_secs(600);
    let end = traffic_end + Duration::from_secs(20);
    let mut next_send = [start, start + Duration::from_millis(7)];
    let mut ids = [0u64; 2];
    let mut last_handshake = None;
    loop {
        sim.flush(Side::A);
        sim.flush(Side::B);
        let mut next = [
            sim.pair.a.next_timeout(),
            sim.pair.b.next_timeout(),
            sim.network.peek().map(|d| d.0.at),
        ]
        .into_iter()
        .flatten()
        .min();
        for at in next_send {
            if at < traffic_end {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        }
        let Some(next) = next.filter(|&n| n <= end) else {
            break;
        };
        sim.now = sim.now.max(next);
        while sim.network.peek().is_some_and(|d| d.0.at <= sim.now) {
            let datagram = sim.network.pop().unwrap().0;
            sim.deliver(datagram);
        }
        let now = sim.now;
        sim.pair.a.handle_timeout(now);
        sim.pair.b.handle_timeout(now);
        for side in [Side::A, Side::B] {
            let i = side as usize;
            if next_send[i] <= now && now < traffic_end {
                // A talks all the time; B only during alternate half-minutes, so that
                // B's passive keepalives answer A's data in between.
                let b_quiet = (now - start).as_secs() / 30 % 2 == 1;
                if side == Side::A || !b_quiet {
                    ids[i] += 1;
                    sim.send_app_packet(side, ids[i]);
                }
                let gap = 20 + u64::from(sim.rng.next_u32() % 280);
                next_send[i] = now + Duration::from_millis(gap);
            }
        }
        let handshake = sim.pair.a.stats(sim.pair.b_in_a).unwrap().last_handshake;
        if handshake != last_handshake {
            last_handshake = handshake;
            sim.tally.handshakes_a.push(now);
        }
    }
    // Nothing is left waiting: the network drained and no packet is queued.
    assert!(sim.network.is_empty());
    sim.tally
}

fn assert_sound(tally: &Tally) {
    let delivered = tally.delivered.len() as u64;
    assert_eq!(
        delivered + tally.data_dropped_by_network,
        tally.data_sent,
        "every data packet is delivered once unless the network dropped it: {tally:?}"
    );
    assert!(
        tally.data_sent > 3_000,
        "the simulation carried real traffic"
    );
    // Sessions rotate: at least one handshake per REKEY_AFTER_TIME over ten minutes, and
    // never so late that the previous session expired while traffic flowed.
    assert!(
        tally.handshakes_a.len() >= 5,
        "handshakes: {}",
        tally.handshakes_a.len()
    );
    for pair in tally.handshakes_a.windows(2) {
        assert!(
            pair[1] - pair[0] < culvert_proto::REJECT_AFTER_TIME,
            "a session outlived its keys"
        );
    }
    assert!(
        tally.keepalives_from_b > 0,
        "B answered A's data with passive keepalives"
    );
}

#[test]
fn ten_minutes_clean_network() {
    let tally = run(1, 0, 0);
    assert_sound(&tally);
    assert_eq!(tally.data_dropped_by_network, 0);
    assert_eq!(tally.duplicates_refused, 0);
    // With no loss, every rekey is one initiation: the first plus one per two minutes.
    assert!(tally.initiations <= 7, "initiations: {}", tally.initiations);
    let first = tally.handshakes_a[0];
    for pair in tally.handshakes_a.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= culvert_proto::REKEY_AFTER_TIME,
            "rekeyed after only {gap:?}"
        );
        assert!(
            gap < culvert_proto::REKEY_AFTER_TIME + Duration::from_secs(1),
            "rekeyed late: {gap:?}"
        );
    }
    assert!(first - first < Duration::from_secs(1));
}

#[test]
fn ten_minutes_with_loss_duplication_and_reordering() {
    for seed in [2, 3, 4] {
        let tally = run(seed, 5, 3);
        assert_sound(&tally);
        assert!(tally.data_dropped_by_network > 0);
        assert!(
            tally.duplicates_refused > 0,
            "duplicates were refused as replays"
        );
    }
}

#[test]
fn heavy_loss_still_converges() {
    let tally = run(9, 25, 5);
    assert_sound(&tally);
    assert!(tally.initiations > 7, "lost handshakes were retried");
}

#[test]
fn initiation_is_the_first_datagram() {
    let start = Instant::now();
    let mut p = pair(start, 7);
    let mut out = vec![0u8; BUF_LEN];
    let result =
        p.a.encapsulate(p.b_in_a, &app_packet(Side::A, 1), &mut out, start)
            .unwrap();
    assert_eq!(result, Encapsulated::Queued);
    let t = p.a.poll_transmit(start, &mut out).unwrap();
    assert_eq!((t.len, t.dst), (INITIATION_LEN, p.b_addr));
}
