//! Coalescing, as GRO does: consecutive TCP segments of one flow that a peer sent become
//! one super-packet for the kernel, with a virtio-net header asking it to finish the
//! checksum. Segments join only when the kernel could have cut them from one packet:
//! same addresses, ports, IP fields, ACK, window and options; in sequence; all but the
//! last full-sized; plain ACK (PSH allowed on the last); a valid checksum each, since
//! the kernel will not check the checksums of what it is asked to finish.

use super::checksum;
use super::{
    PROTO_TCP, TCP_ACK, TCP_PSH, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4,
    VIRTIO_NET_HDR_GSO_TCPV6, VirtioNetHdr, addresses, be16, be32, set_ip_length,
};
use crate::batch::PacketBatch;

/// At most this many segments in one super-packet.
const MAX_SEGMENTS: usize = 64;
/// How many of the latest groups a segment looks through for its flow.
const FLOWS_SEARCHED: usize = 16;
const NO_NEXT: u32 = u32::MAX;

/// Reusable bookkeeping: groups of packets that will go to the kernel as one write each.
#[derive(Debug, Default)]
pub(crate) struct Coalescer {
    groups: Vec<Group>,
    /// The next packet of the same group, per packet index.
    next: Vec<u32>,
}

#[derive(Debug, Clone, Copy)]
struct Group {
    first: usize,
    last: usize,
    count: usize,
    /// The TCP layout of the first packet, or None for a packet sent on its own.
    tcp: Option<Segment>,
    /// Bytes of the super-packet so far.
    total: usize,
    next_seq: u32,
    /// No more segments may join (the last one was short or carried PSH).
    closed: bool,
}

#[derive(Debug, Clone, Copy)]
struct Segment {
    v6: bool,
    l4: usize,
    headers: usize,
    payload: usize,
    seq: u32,
    flags: u8,
}

/// One write to the kernel: a virtio-net header, then the first packet whole, then the
/// payloads of the packets that joined it.
#[derive(Debug)]
pub(crate) struct Write<'a> {
    pub(crate) header: [u8; super::VNET_HDR_LEN],
    pub(crate) first: &'a [u8],
    coalescer: &'a Coalescer,
    batch: &'a PacketBatch,
    group: Group,
}

impl<'a> Write<'a> {
    /// The payloads after the first packet, in order.
    pub(crate) fn payloads(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let headers = self.group.tcp.map_or(0, |t| t.headers);
        let coalescer = self.coalescer;
        let batch = self.batch;
        let mut index = coalescer.next[self.group.first];
        std::iter::from_fn(move || {
            if index == NO_NEXT {
                return None;
            }
            let packet = batch.packet(index as usize);
            index = coalescer.next[index as usize];
            Some(&packet[headers..])
        })
    }

    #[cfg(test)]
    pub(crate) fn segments(&self) -> usize {
        self.group.count
    }
}

impl Coalescer {
    /// Groups the packets of `batch` and rewrites each group's first packet's headers
    /// for the super-packet it leads. Then [`Coalescer::writes`] lists the writes.
    pub(crate) fn plan(&mut self, batch: &mut PacketBatch) {
        self.groups.clear();
        self.next.clear();
        self.next.resize(batch.len(), NO_NEXT);
        for index in 0..batch.len() {
            let packet = batch.packet(index);
            let segment = parse(packet).filter(|s| checksum_valid(packet, s));
            if let Some(segment) = segment
                && self.join(batch, index, segment)
            {
                continue;
            }
            self.groups.push(Group {
                first: index,
                last: index,
                count: 1,
                tcp: segment,
                total: packet.len(),
                next_seq: segment.map_or(0, |s| s.seq.wrapping_add(s.payload as u32)),
                closed: segment.is_none_or(|s| s.flags & TCP_PSH != 0 || s.payload == 0),
            });
        }
        for group in &self.groups {
            if group.count > 1 {
                let psh = batch.packet(group.last)[group.tcp.expect("tcp").l4 + 13] & TCP_PSH;
                let first = batch.packet_mut(group.first);
                rewrite_headers(first, group, psh);
            }
        }
    }

    /// The writes planned, in order.
    pub(crate) fn writes<'a>(&'a self, batch: &'a PacketBatch) -> impl Iterator<Item = Write<'a>> {
        self.groups.iter().map(move |group| Write {
            header: vnet_header(group),
            first: batch.packet(group.first),
            coalescer: self,
            batch,
            group: *group,
        })
    }

    /// Appends packet `index` to the latest group of its flow if it continues it.
    fn join(&mut self, batch: &PacketBatch, index: usize, segment: Segment) -> bool {
        let packet = batch.packet(index);
        let start = self.groups.len().saturating_sub(FLOWS_SEARCHED);
        for g in (start..self.groups.len()).rev() {
            let group = &mut self.groups[g];
            let Some(lead) = group.tcp else { continue };
            let first = batch.packet(group.first);
            if !same_flow(first, &lead, packet, &segment) {
                continue;
            }
            let fits = !group.closed
                && group.count < MAX_SEGMENTS
                && segment.payload > 0
                && segment.payload <= lead.payload
                && segment.seq == group.next_seq
                && segment.flags & !TCP_PSH == TCP_ACK
                && lead.flags == TCP_ACK
                && group.total + segment.payload <= usize::from(u16::MAX)
                && same_headers(first, &lead, packet, &segment);
            if !fits {
                // The flow's order holds: a newer group takes over from here.
                group.closed = true;
                return false;
            }
            self.next[group.last] = index as u32;
            group.last = index;
            group.count += 1;
            group.total += segment.payload;
            group.next_seq = segment.seq.wrapping_add(segment.payload as u32);
            group.closed = segment.payload < lead.payload || segment.flags & TCP_PSH != 0;
            return true;
        }
        false
    }
}

/// The TCP layout of a packet that may be coalesced: IPv4 without options or fragments,
/// or IPv6 without extension headers.
fn parse(packet: &[u8]) -> Option<Segment> {
    let version = packet.first()? >> 4;
    let (v6, l4) = match version {
        4 if packet[0] & 0x0f == 5 && packet.len() >= 40 => {
            let fragment = be16(packet, 6) & 0x3fff;
            let length_ok = usize::from(be16(packet, 2)) == packet.len();
            // The header checksum is recomputed for a super-packet: check it first.
            let header_ok = checksum::fold(checksum::sum(&packet[..20], 0)) == 0xffff;
            if packet[9] != PROTO_TCP || fragment != 0 || !length_ok || !header_ok {
                return None;
            }
            (false, 20)
        }
        6 if packet.len() >= 60 => {
            let length_ok = usize::from(be16(packet, 4)) + 40 == packet.len();
            if packet[6] != PROTO_TCP || !length_ok {
                return None;
            }
            (true, 40)
        }
        _ => return None,
    };
    let headers = l4 + usize::from(packet[l4 + 12] >> 4) * 4;
    if headers < l4 + 20 || headers > packet.len() {
        return None;
    }
    Some(Segment {
        v6,
        l4,
        headers,
        payload: packet.len() - headers,
        seq: be32(packet, l4 + 4),
        flags: packet[l4 + 13],
    })
}

fn checksum_valid(packet: &[u8], segment: &Segment) -> bool {
    let (source, destination) = addresses(packet);
    let seed = checksum::pseudo_header(source, destination, PROTO_TCP, packet.len() - segment.l4);
    checksum::fold(checksum::sum(&packet[segment.l4..], seed)) == 0xffff
}

fn same_flow(a: &[u8], sa: &Segment, b: &[u8], sb: &Segment) -> bool {
    sa.v6 == sb.v6 && addresses(a) == addresses(b) && a[sa.l4..sa.l4 + 4] == b[sb.l4..sb.l4 + 4]
}

/// Everything but lengths, ids, checksums, sequence number and PSH agrees.
fn same_headers(a: &[u8], sa: &Segment, b: &[u8], sb: &Segment) -> bool {
    let ip_same = if sa.v6 {
        a[..4] == b[..4] && a[7] == b[7]
    } else {
        a[1] == b[1] && a[6] == b[6] && a[8] == b[8]
    };
    // ACK number; data offset; window; options.
    ip_same
        && sa.headers == sb.headers
        && a[sa.l4 + 8..sa.l4 + 13] == b[sb.l4 + 8..sb.l4 + 13]
        && a[sa.l4 + 14..sa.l4 + 16] == b[sb.l4 + 14..sb.l4 + 16]
        && a[sa.l4 + 20..sa.headers] == b[sb.l4 + 20..sb.headers]
}

/// Turns the group's first packet into the head of the super-packet: the IP length of
/// the whole, PSH from the last segment, and in the checksum field the pseudo-header's
/// sum, which the kernel completes (CHECKSUM_PARTIAL).
fn rewrite_headers(first: &mut [u8], group: &Group, psh: u8) {
    let tcp = group.tcp.expect("only TCP groups grow");
    set_ip_length(first, group.total);
    first[tcp.l4 + 13] |= psh;
    let (source, destination) = addresses(first);
    let seed = checksum::pseudo_header(source, destination, PROTO_TCP, group.total - tcp.l4);
    let partial = checksum::fold(seed);
    first[tcp.l4 + 16..tcp.l4 + 18].copy_from_slice(&partial.to_be_bytes());
}

fn vnet_header(group: &Group) -> [u8; super::VNET_HDR_LEN] {
    match group.tcp {
        Some(tcp) if group.count > 1 => VirtioNetHdr {
            flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
            gso_type: if tcp.v6 {
                VIRTIO_NET_HDR_GSO_TCPV6
            } else {
                VIRTIO_NET_HDR_GSO_TCPV4
            },
            hdr_len: tcp.headers as u16,
            gso_size: tcp.payload as u16,
            csum_start: tcp.l4 as u16,
            csum_offset: 16,
        }
        .to_bytes(),
        _ => VirtioNetHdr::default().to_bytes(),
    }
}
