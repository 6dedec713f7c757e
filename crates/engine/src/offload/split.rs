//! Segmentation: one super-packet from the TUN into packets that fit the tunnel's MTU,
//! each with its IP length, IPv4 id and header checksum, TCP sequence number and flags,
//! and transport checksum set as the kernel's own TSO/USO would set them.

use super::checksum;
use super::{
    PROTO_TCP, PROTO_UDP, TCP_CWR, TCP_FIN, TCP_PSH, VIRTIO_NET_HDR_F_NEEDS_CSUM,
    VIRTIO_NET_HDR_GSO_NONE, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6,
    VIRTIO_NET_HDR_GSO_UDP_L4, VirtioNetHdr, be16, be32, fill_transport_checksum, put16,
    set_ip_length,
};
use crate::batch::PacketBatch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SplitError {
    /// The segments do not fit in the batch's spare room; nothing was added.
    BatchFull,
    /// The header or the packet is inconsistent; the packet cannot be sent.
    Malformed(&'static str),
}

/// Appends the packets `packet` stands for to `out`: itself, with its checksum filled
/// in when the kernel left that to us, or its segments when it is a super-packet.
/// `packet` is modified in place (the checksum of a packet sent whole).
pub(crate) fn split(
    header: &VirtioNetHdr,
    packet: &mut [u8],
    out: &mut PacketBatch,
) -> Result<(), SplitError> {
    match header.gso_type {
        VIRTIO_NET_HDR_GSO_NONE => {
            if header.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM != 0 {
                complete_checksum(header, packet)?;
            }
            if out.push(packet) {
                Ok(())
            } else {
                Err(SplitError::BatchFull)
            }
        }
        VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_TCPV6 => segment(header, packet, out, true),
        VIRTIO_NET_HDR_GSO_UDP_L4 => segment(header, packet, out, false),
        _ => Err(SplitError::Malformed("unknown GSO type")),
    }
}

/// The kernel left the pseudo-header's sum in the checksum field: summing from
/// `csum_start` to the end and complementing gives the checksum.
pub(crate) fn complete_checksum(
    header: &VirtioNetHdr,
    packet: &mut [u8],
) -> Result<(), SplitError> {
    let start = usize::from(header.csum_start);
    let field = start + usize::from(header.csum_offset);
    if field + 2 > packet.len() {
        return Err(SplitError::Malformed("checksum offset beyond the packet"));
    }
    let mut value = checksum::finish(checksum::sum(&packet[start..], 0));
    if header.csum_offset == 6 && value == 0 {
        // UDP sends a computed zero as all ones (zero means "no checksum").
        value = 0xffff;
    }
    put16(packet, field, value);
    Ok(())
}

fn segment(
    header: &VirtioNetHdr,
    packet: &[u8],
    out: &mut PacketBatch,
    tcp: bool,
) -> Result<(), SplitError> {
    let malformed = |what| Err(SplitError::Malformed(what));
    let l4 = usize::from(header.csum_start);
    let Some(&first) = packet.first() else {
        return malformed("empty packet");
    };
    let ip_header_len = match first >> 4 {
        4 => usize::from(first & 0x0f) * 4,
        6 => 40,
        _ => return malformed("not IPv4 or IPv6"),
    };
    if ip_header_len < 20 || l4 != ip_header_len || packet.len() < l4 + 8 {
        return malformed("transport header not right after the IP header");
    }
    let protocol = if first >> 4 == 6 {
        packet[6]
    } else {
        packet[9]
    };
    let transport_header_len = if tcp {
        if protocol != PROTO_TCP || packet.len() < l4 + 20 {
            return malformed("TCP segmentation of a packet that is not TCP");
        }
        usize::from(packet[l4 + 12] >> 4) * 4
    } else {
        if protocol != PROTO_UDP {
            return malformed("UDP segmentation of a packet that is not UDP");
        }
        8
    };
    let headers = l4 + transport_header_len;
    let mss = usize::from(header.gso_size);
    if transport_header_len < 8 || headers > packet.len() || mss == 0 {
        return malformed("bad transport header length or segment size");
    }
    let payload = &packet[headers..];
    let count = payload.len().div_ceil(mss).max(1);
    if out.spare() < count * headers + payload.len() {
        return Err(SplitError::BatchFull);
    }
    let first_id = be16(packet, 4);
    let first_seq = if tcp { be32(packet, l4 + 4) } else { 0 };
    for (i, chunk) in payload.chunks(mss).enumerate() {
        let last = i + 1 == count;
        out.push_with(headers + chunk.len(), |seg| {
            seg[..headers].copy_from_slice(&packet[..headers]);
            seg[headers..].copy_from_slice(chunk);
            if first >> 4 == 4 {
                // IPv4 ids go up by one per segment, as the kernel's TSO does.
                put16(seg, 4, first_id.wrapping_add(i as u16));
            }
            set_ip_length(seg, seg.len());
            if tcp {
                let seq = first_seq.wrapping_add((i * mss) as u32);
                seg[l4 + 4..l4 + 8].copy_from_slice(&seq.to_be_bytes());
                if !last {
                    seg[l4 + 13] &= !(TCP_FIN | TCP_PSH);
                }
                if i != 0 {
                    seg[l4 + 13] &= !TCP_CWR;
                }
                fill_transport_checksum(seg, l4, PROTO_TCP, 16);
            } else {
                put16(seg, l4 + 4, (seg.len() - l4) as u16);
                fill_transport_checksum(seg, l4, PROTO_UDP, 6);
            }
            Some(seg.len())
        })
        .ok_or(SplitError::BatchFull)?;
    }
    Ok(())
}
