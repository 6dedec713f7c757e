//! `cargo bench -p culvert-proto`: full handshakes per second, and encapsulate /
//! decapsulate throughput against the raw `ring` ChaCha20-Poly1305 they are built on.

#[path = "../tests/common/mod.rs"]
mod common;

use common::{BUF_LEN, ipv4_packet, pair};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use culvert_proto::{Decapsulated, Encapsulated};
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use std::hint::black_box;
use std::time::{Duration, Instant};

const SIZES: [usize; 2] = [64, 1420];

/// One complete handshake per iteration: initiation, response, and the first data
/// packet that confirms the session. Time moves on by more than REJECT_AFTER_TIME each
/// round so the previous session has expired and a new handshake is due.
fn handshake(c: &mut Criterion) {
    let mut now = Instant::now();
    let mut p = pair(now, 1);
    let packet = ipv4_packet(&[0; 44]);
    let mut buf = vec![0u8; BUF_LEN];
    let mut group = c.benchmark_group("handshake");
    group.throughput(Throughput::Elements(1));
    group.bench_function("full", |b| {
        b.iter(|| {
            now += Duration::from_secs(200);
            let queued = p.a.encapsulate(p.b_in_a, &packet, &mut buf, now).unwrap();
            assert_eq!(queued, Encapsulated::Queued);
            let initiation = p.a.poll_transmit(now, &mut buf).unwrap();
            let response = match p.b.decapsulate(p.a_addr, &mut buf[..initiation.len], now) {
                Ok(Decapsulated::Reply(reply)) => reply.len(),
                other => panic!("{other:?}"),
            };
            p.a.decapsulate(p.b_addr, &mut buf[..response], now)
                .unwrap();
            let data = p.a.poll_transmit(now, &mut buf).unwrap();
            black_box(data);
        })
    });
    group.finish();
}

fn transport(c: &mut Criterion) {
    let now = Instant::now();
    let mut p = pair(now, 2);
    // Establish the session in both directions.
    let mut buf = vec![0u8; BUF_LEN];
    p.a.encapsulate(p.b_in_a, &ipv4_packet(&[]), &mut buf, now)
        .unwrap();
    let init = p.a.poll_transmit(now, &mut buf).unwrap();
    let Ok(Decapsulated::Reply(reply)) = p.b.decapsulate(p.a_addr, &mut buf[..init.len], now)
    else {
        panic!("no response")
    };
    let len = reply.len();
    p.a.decapsulate(p.b_addr, &mut buf[..len], now).unwrap();
    while let Some(t) = p.a.poll_transmit(now, &mut buf) {
        p.b.decapsulate(p.a_addr, &mut buf[..t.len], now).unwrap();
    }

    let mut group = c.benchmark_group("transport");
    for size in SIZES {
        let packet = ipv4_packet(&vec![0x61; size - 20]);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(format!("encapsulate/{size}"), |b| {
            b.iter(|| {
                let result =
                    p.a.encapsulate(p.b_in_a, black_box(&packet), &mut buf, now)
                        .unwrap();
                black_box(result);
            })
        });
        group.bench_function(format!("decapsulate/{size}"), |b| {
            b.iter_batched_ref(
                || {
                    let mut out = vec![0u8; size + 64];
                    let Encapsulated::Datagram { len, .. } =
                        p.a.encapsulate(p.b_in_a, &packet, &mut out, now).unwrap()
                    else {
                        panic!("session is up")
                    };
                    out.truncate(len);
                    out
                },
                |datagram| {
                    let result = p.b.decapsulate(p.a_addr, datagram, now).unwrap();
                    black_box(matches!(result, Decapsulated::Packet { .. }));
                },
                BatchSize::SmallInput,
            )
        });

        // The anchor: ring alone on the same sizes (padding makes our input a multiple of
        // 16 bytes, which 64 and 1420 already are up to 4 bytes).
        let key = LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &[7; 32]).unwrap());
        let mut data = vec![0x61u8; size];
        let mut counter = 0u64;
        group.bench_function(format!("ring_seal/{size}"), |b| {
            b.iter(|| {
                counter += 1;
                let mut nonce = [0u8; 12];
                nonce[4..].copy_from_slice(&counter.to_le_bytes());
                let tag = key
                    .seal_in_place_separate_tag(
                        Nonce::assume_unique_for_key(nonce),
                        Aad::empty(),
                        &mut data,
                    )
                    .unwrap();
                let _ = black_box(tag);
            })
        });
        let mut sealed = vec![0x61u8; size];
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key([0; 12]),
                Aad::empty(),
                &mut sealed,
            )
            .unwrap();
        sealed.extend_from_slice(tag.as_ref());
        group.bench_function(format!("ring_open/{size}"), |b| {
            b.iter_batched_ref(
                || sealed.clone(),
                |buf| {
                    let plain = key
                        .open_in_place(Nonce::assume_unique_for_key([0; 12]), Aad::empty(), buf)
                        .unwrap();
                    black_box(plain.len());
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, handshake, transport);
criterion_main!(benches);
