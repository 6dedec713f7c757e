//! Segmentation and coalescing with real packets: every checksum verified, and a
//! super-packet split, coalesced and split again comes out the same.

use super::checksum::{self, finish, pseudo_header, sum};
use super::*;
use crate::batch::PacketBatch;

const SRC4: [u8; 4] = [10, 200, 0, 1];
const DST4: [u8; 4] = [10, 200, 0, 2];
const SRC6: [u8; 16] = [0xfd, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const DST6: [u8; 16] = [0xfd, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
/// TCP options as Linux sends them on a bulk flow: NOP, NOP, timestamps.
const TIMESTAMPS: [u8; 12] = [1, 1, 8, 10, 0, 0, 0x12, 0x34, 0, 0, 0x56, 0x78];

#[derive(Clone)]
struct Tcp {
    v6: bool,
    ip_options: Vec<u8>,
    id: u16,
    seq: u32,
    flags: u8,
    options: Vec<u8>,
    sport: u16,
}

impl Default for Tcp {
    fn default() -> Self {
        Self {
            v6: false,
            ip_options: Vec::new(),
            id: 0x1000,
            seq: 0xffff_f000, // wraps within a few segments
            flags: TCP_ACK,
            options: TIMESTAMPS.to_vec(),
            sport: 40000,
        }
    }
}

impl Tcp {
    /// A packet with every length and checksum right.
    fn packet(&self, payload: &[u8]) -> Vec<u8> {
        let mut p = self.headers(payload.len());
        p.extend_from_slice(payload);
        let l4 = self.l4();
        let (s, d) = (self.src(), self.dst());
        let seed = pseudo_header(&s, &d, 6, p.len() - l4);
        let c = finish(sum(&p[l4..], seed));
        p[l4 + 16..l4 + 18].copy_from_slice(&c.to_be_bytes());
        p
    }

    /// The super-packet the kernel hands a TUN with TSO on, and its virtio-net header.
    fn super_packet(&self, payload: &[u8], mss: u16) -> (VirtioNetHdr, Vec<u8>) {
        let mut p = self.headers(payload.len());
        p.extend_from_slice(payload);
        let l4 = self.l4();
        let seed = pseudo_header(&self.src(), &self.dst(), 6, p.len() - l4);
        p[l4 + 16..l4 + 18].copy_from_slice(&checksum::fold(seed).to_be_bytes());
        let header = VirtioNetHdr {
            flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
            gso_type: if self.v6 {
                VIRTIO_NET_HDR_GSO_TCPV6
            } else {
                VIRTIO_NET_HDR_GSO_TCPV4
            },
            hdr_len: (l4 + 20 + self.options.len()) as u16,
            gso_size: mss,
            csum_start: l4 as u16,
            csum_offset: 16,
        };
        (header, p)
    }

    fn l4(&self) -> usize {
        if self.v6 {
            40
        } else {
            20 + self.ip_options.len()
        }
    }

    fn src(&self) -> Vec<u8> {
        if self.v6 {
            SRC6.to_vec()
        } else {
            SRC4.to_vec()
        }
    }

    fn dst(&self) -> Vec<u8> {
        if self.v6 {
            DST6.to_vec()
        } else {
            DST4.to_vec()
        }
    }

    fn headers(&self, payload: usize) -> Vec<u8> {
        let tcp_len = 20 + self.options.len();
        let mut p = Vec::new();
        if self.v6 {
            p.extend_from_slice(&[0x60, 0, 0, 0]);
            p.extend_from_slice(&((tcp_len + payload) as u16).to_be_bytes());
            p.extend_from_slice(&[6, 64]);
            p.extend_from_slice(&SRC6);
            p.extend_from_slice(&DST6);
        } else {
            let ihl = 20 + self.ip_options.len();
            p.push(0x40 | (ihl / 4) as u8);
            p.push(0);
            p.extend_from_slice(&((ihl + tcp_len + payload) as u16).to_be_bytes());
            p.extend_from_slice(&self.id.to_be_bytes());
            p.extend_from_slice(&[0x40, 0, 64, 6, 0, 0]);
            p.extend_from_slice(&SRC4);
            p.extend_from_slice(&DST4);
            p.extend_from_slice(&self.ip_options);
            checksum::fix_ipv4_header(&mut p[..ihl]);
        }
        p.extend_from_slice(&self.sport.to_be_bytes());
        p.extend_from_slice(&5201u16.to_be_bytes());
        p.extend_from_slice(&self.seq.to_be_bytes());
        p.extend_from_slice(&0x0102_0304u32.to_be_bytes());
        p.push(((tcp_len / 4) as u8) << 4);
        p.push(self.flags);
        p.extend_from_slice(&[0x01, 0xf5, 0, 0, 0, 0]);
        p.extend_from_slice(&self.options);
        p
    }
}

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn transport_checksum_ok(p: &[u8]) -> bool {
    let (l4, protocol) = if p[0] >> 4 == 6 {
        (40, p[6])
    } else {
        (usize::from(p[0] & 0x0f) * 4, p[9])
    };
    let (s, d) = addresses(p);
    let seed = pseudo_header(s, d, protocol, p.len() - l4);
    checksum::fold(sum(&p[l4..], seed)) == 0xffff
}

fn ipv4_header_ok(p: &[u8]) -> bool {
    let ihl = usize::from(p[0] & 0x0f) * 4;
    checksum::fold(sum(&p[..ihl], 0)) == 0xffff
}

fn split_all(header: &VirtioNetHdr, packet: &[u8]) -> Vec<Vec<u8>> {
    let mut batch = PacketBatch::new(1 << 18);
    let mut packet = packet.to_vec();
    split(header, &mut packet, &mut batch).expect("splits");
    batch.iter().map(<[u8]>::to_vec).collect()
}

/// What the kernel's TSO makes of `tcp` with `payload` at `mss`.
fn expected_segments(tcp: &Tcp, payload: &[u8], mss: usize) -> Vec<Vec<u8>> {
    let chunks: Vec<_> = payload.chunks(mss).collect();
    chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| {
            let mut seg = tcp.clone();
            seg.id = tcp.id.wrapping_add(i as u16);
            seg.seq = tcp.seq.wrapping_add((i * mss) as u32);
            if i + 1 != chunks.len() {
                seg.flags &= !(TCP_PSH | TCP_FIN);
            }
            if i != 0 {
                seg.flags &= !TCP_CWR;
            }
            seg.packet(chunk)
        })
        .collect()
}

#[test]
fn tcp_v4_super_packet_splits_like_the_kernel_would() {
    let tcp = Tcp {
        flags: TCP_ACK | TCP_PSH | TCP_CWR,
        ..Tcp::default()
    };
    let data = payload(3 * 1368 + 500); // the last segment is short
    let (header, packet) = tcp.super_packet(&data, 1368);
    let segments = split_all(&header, &packet);
    assert_eq!(segments, expected_segments(&tcp, &data, 1368));
    assert_eq!(segments.len(), 4);
    for seg in &segments {
        assert!(transport_checksum_ok(seg) && ipv4_header_ok(seg));
        assert!(seg.len() <= 1420);
    }
    // Only the last keeps PSH; only the first keeps CWR; the sequence wrapped.
    assert_eq!(segments[0][33], TCP_ACK | TCP_CWR);
    assert_eq!(segments[3][33], TCP_ACK | TCP_PSH);
    assert!(be32(&segments[3], 24) < be32(&segments[0], 24));
}

#[test]
fn tcp_v6_super_packet_splits() {
    let tcp = Tcp {
        v6: true,
        ..Tcp::default()
    };
    let data = payload(5 * 1348);
    let (header, packet) = tcp.super_packet(&data, 1348);
    let segments = split_all(&header, &packet);
    assert_eq!(segments, expected_segments(&tcp, &data, 1348));
    assert!(segments.iter().all(|s| transport_checksum_ok(s)));
}

#[test]
fn ipv4_options_are_copied_into_every_segment() {
    let tcp = Tcp {
        ip_options: vec![1, 1, 1, 0], // NOP NOP NOP EOL
        options: Vec::new(),
        ..Tcp::default()
    };
    let data = payload(2000);
    let (header, packet) = tcp.super_packet(&data, 1000);
    let segments = split_all(&header, &packet);
    assert_eq!(segments, expected_segments(&tcp, &data, 1000));
    assert!(
        segments
            .iter()
            .all(|s| ipv4_header_ok(s) && transport_checksum_ok(s))
    );
}

#[test]
fn a_packet_needing_only_its_checksum_gets_it() {
    let tcp = Tcp::default();
    let data = payload(100);
    let (mut header, packet) = tcp.super_packet(&data, 1368);
    header.gso_type = VIRTIO_NET_HDR_GSO_NONE;
    let segments = split_all(&header, &packet);
    assert_eq!(segments, vec![tcp.packet(&data)]);
    // Without NEEDS_CSUM the packet goes as it is.
    let plain = tcp.packet(&data);
    assert_eq!(split_all(&VirtioNetHdr::default(), &plain), vec![plain]);
}

#[test]
fn udp_super_packets_split_with_udp_checksums() {
    let data = payload(2500);
    let mut packet = vec![0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, 17, 0, 0];
    packet.extend_from_slice(&SRC4);
    packet.extend_from_slice(&DST4);
    packet.extend_from_slice(&[0x13, 0x88, 0x13, 0x89, 0, 0, 0, 0]);
    packet.extend_from_slice(&data);
    let header = VirtioNetHdr {
        flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
        gso_type: VIRTIO_NET_HDR_GSO_UDP_L4,
        hdr_len: 28,
        gso_size: 1200,
        csum_start: 20,
        csum_offset: 6,
    };
    let segments = split_all(&header, &packet);
    assert_eq!(segments.len(), 3);
    for (i, seg) in segments.iter().enumerate() {
        let len = seg.len() - 28;
        assert_eq!(len, if i < 2 { 1200 } else { 100 });
        assert_eq!(usize::from(be16(seg, 24)), len + 8, "UDP length");
        assert_eq!(usize::from(be16(seg, 2)), seg.len(), "IP length");
        assert_eq!(be16(seg, 4), 0x1234 + i as u16, "IP id");
        assert_eq!(&seg[28..], &data[i * 1200..i * 1200 + len]);
        assert!(ipv4_header_ok(seg) && transport_checksum_ok(seg));
    }
}

#[test]
fn inconsistent_super_packets_are_refused_and_a_full_batch_takes_nothing() {
    let tcp = Tcp::default();
    let (header, packet) = tcp.super_packet(&payload(4000), 1368);
    let refuse = |header: VirtioNetHdr, packet: &[u8]| {
        let mut batch = PacketBatch::new(1 << 16);
        let result = split(&header, &mut packet.to_vec(), &mut batch);
        assert!(batch.is_empty());
        result
    };
    let zero_mss = VirtioNetHdr {
        gso_size: 0,
        ..header
    };
    assert!(matches!(
        refuse(zero_mss, &packet),
        Err(SplitError::Malformed(_))
    ));
    let wrong_start = VirtioNetHdr {
        csum_start: 24,
        ..header
    };
    assert!(matches!(
        refuse(wrong_start, &packet),
        Err(SplitError::Malformed(_))
    ));
    let as_udp = VirtioNetHdr {
        gso_type: VIRTIO_NET_HDR_GSO_UDP_L4,
        ..header
    };
    assert!(matches!(
        refuse(as_udp, &packet),
        Err(SplitError::Malformed(_))
    ));
    assert!(matches!(
        refuse(header, &packet[..30]),
        Err(SplitError::Malformed(_))
    ));

    let mut small = PacketBatch::new(4000);
    let result = split(&header, &mut packet.clone(), &mut small);
    assert_eq!(result, Err(SplitError::BatchFull));
    assert!(small.is_empty());
}

/// The bytes of each planned write: the virtio-net header and the packet.
fn coalesce(packets: &[Vec<u8>]) -> Vec<(VirtioNetHdr, Vec<u8>)> {
    let mut batch = PacketBatch::new(1 << 18);
    for p in packets {
        assert!(batch.push(p));
    }
    let mut coalescer = Coalescer::default();
    coalescer.plan(&mut batch);
    coalescer
        .writes(&batch)
        .map(|write| {
            let mut bytes = write.first.to_vec();
            let mut count = 1;
            for more in write.payloads() {
                bytes.extend_from_slice(more);
                count += 1;
            }
            assert_eq!(count, write.segments());
            (VirtioNetHdr::parse(&write.header).unwrap(), bytes)
        })
        .collect()
}

#[test]
fn segments_coalesce_into_the_super_packet_they_came_from() {
    for v6 in [false, true] {
        let tcp = Tcp {
            v6,
            flags: TCP_ACK | TCP_PSH,
            ..Tcp::default()
        };
        let data = payload(40 * 1368 + 99);
        let segments = expected_segments(&tcp, &data, 1368);
        let writes = coalesce(&segments);
        assert_eq!(writes.len(), 1, "v6 {v6}");
        let (header, packet) = &writes[0];
        assert_eq!(header.gso_size, 1368);
        assert_eq!(header.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
        assert_eq!(usize::from(header.hdr_len), tcp.l4() + 32);
        // What the kernel would resegment it into is exactly what was sent.
        assert_eq!(split_all(header, packet), segments, "v6 {v6}");
    }
}

#[test]
fn only_what_continues_a_flow_joins_it() {
    let tcp = Tcp::default();
    let mss = 1000;
    let a = expected_segments(&tcp, &payload(3 * mss), mss);
    let other_flow = Tcp {
        sport: 40001,
        ..Tcp::default()
    };
    let b = expected_segments(&other_flow, &payload(2 * mss), mss);
    // Two flows interleaved: two super-packets.
    let writes = coalesce(&[
        a[0].clone(),
        b[0].clone(),
        a[1].clone(),
        b[1].clone(),
        a[2].clone(),
    ]);
    assert_eq!(writes.len(), 2);
    assert_eq!(split_all(&writes[0].0, &writes[0].1), a);
    assert_eq!(split_all(&writes[1].0, &writes[1].1), b);

    // A gap in the sequence starts a new group.
    let writes = coalesce(&[a[0].clone(), a[2].clone()]);
    assert_eq!(writes.len(), 2);
    assert!(
        writes
            .iter()
            .all(|(h, _)| h.gso_type == VIRTIO_NET_HDR_GSO_NONE)
    );

    // A bad checksum, a SYN, a UDP packet and an ICMP packet each go on their own,
    // untouched.
    let mut corrupt = a[1].clone();
    corrupt[60] ^= 1;
    let syn = Tcp {
        flags: 0x02,
        ..Tcp::default()
    }
    .packet(&[]);
    let mut udp = vec![0x45, 0, 0, 36, 0, 0, 0x40, 0, 64, 17, 0, 0];
    udp.extend_from_slice(&SRC4);
    udp.extend_from_slice(&DST4);
    udp.extend_from_slice(&[0, 53, 0, 53, 0, 16, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
    let icmp = {
        let mut p = udp.clone();
        p[9] = 1;
        p
    };
    let inputs = [
        a[0].clone(),
        corrupt.clone(),
        syn.clone(),
        udp.clone(),
        icmp.clone(),
    ];
    let writes = coalesce(&inputs);
    assert_eq!(writes.len(), 5);
    for ((header, packet), input) in writes.iter().zip(&inputs) {
        assert_eq!(*header, VirtioNetHdr::default());
        assert_eq!(packet, input);
    }
}

#[test]
fn a_short_segment_ends_its_super_packet_and_64_kib_is_the_limit() {
    let tcp = Tcp::default();
    let mss = 1000;
    let first = expected_segments(&tcp, &payload(2 * mss + 10), mss);
    let next = Tcp {
        seq: tcp.seq.wrapping_add((2 * mss + 10) as u32),
        ..Tcp::default()
    };
    let second = expected_segments(&next, &payload(mss), mss);
    let mut all = first.clone();
    all.extend(second.iter().cloned());
    let writes = coalesce(&all);
    assert_eq!(writes.len(), 2, "nothing joins after the short segment");
    assert_eq!(split_all(&writes[0].0, &writes[0].1), first);

    let big = expected_segments(&tcp, &payload(70 * mss), mss);
    let writes = coalesce(&big);
    assert_eq!(writes.len(), 2);
    let resplit: Vec<_> = writes
        .iter()
        .flat_map(|(h, p)| {
            assert!(p.len() <= usize::from(u16::MAX));
            if h.gso_type == VIRTIO_NET_HDR_GSO_NONE {
                vec![p.clone()]
            } else {
                split_all(h, p)
            }
        })
        .collect();
    assert_eq!(resplit, big);
}

#[test]
fn packets_with_ip_options_are_not_coalesced() {
    let tcp = Tcp {
        ip_options: vec![1, 1, 1, 0],
        ..Tcp::default()
    };
    let segments = expected_segments(&tcp, &payload(3000), 1000);
    let writes = coalesce(&segments);
    assert_eq!(writes.len(), 3);
}

#[test]
fn the_virtio_header_round_trips() {
    let header = VirtioNetHdr {
        flags: 1,
        gso_type: 4,
        hdr_len: 72,
        gso_size: 1348,
        csum_start: 40,
        csum_offset: 16,
    };
    assert_eq!(VirtioNetHdr::parse(&header.to_bytes()), Some(header));
    assert_eq!(VirtioNetHdr::parse(&[0; 9]), None);
}

#[test]
fn splitting_and_coalescing_allocate_nothing_once_warm() {
    let tcp = Tcp::default();
    let data = payload(47 * 1368);
    let (header, packet) = tcp.super_packet(&data, 1368);
    let mut staging = packet.clone();
    let mut batch = PacketBatch::new(1 << 18);
    let mut coalescer = Coalescer::default();
    let mut round = |batch: &mut PacketBatch| {
        batch.clear();
        staging.copy_from_slice(&packet);
        split(&header, &mut staging, batch).unwrap();
        coalescer.plan(batch);
        let written: usize = coalescer
            .writes(batch)
            .map(|w| w.first.len() + w.payloads().map(<[u8]>::len).sum::<usize>())
            .sum();
        assert_eq!(written, packet.len());
    };
    round(&mut batch); // the first round sizes the bookkeeping
    let allocations = culvert_testalloc::allocations_during(|| {
        for _ in 0..10 {
            round(&mut batch);
        }
    });
    assert_eq!(allocations, 0);
}
