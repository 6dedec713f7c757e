//! Offloads between the engine and a TUN that speaks the virtio-net header: the kernel
//! hands over TCP (and UDP) super-packets of up to 64 KiB, which [`split`] cuts into
//! wire-sized packets with their checksums; and [`Coalescer`] joins the TCP segments a
//! peer sent back into super-packets before they go to the kernel, as GRO would.
//!
//! Pure code over byte slices: the TUN implementation decides whether to use it.

mod checksum;
mod coalesce;
mod split;
#[cfg(test)]
mod tests;

pub(crate) use coalesce::Coalescer;
pub(crate) use split::{SplitError, complete_checksum, split};

/// `struct virtio_net_hdr` (without `num_buffers`), as the TUN reads and writes it.
pub(crate) const VNET_HDR_LEN: usize = 10;

pub(crate) const VIRTIO_NET_HDR_F_NEEDS_CSUM: u8 = 1;
pub(crate) const VIRTIO_NET_HDR_GSO_NONE: u8 = 0;
pub(crate) const VIRTIO_NET_HDR_GSO_TCPV4: u8 = 1;
pub(crate) const VIRTIO_NET_HDR_GSO_TCPV6: u8 = 4;
pub(crate) const VIRTIO_NET_HDR_GSO_UDP_L4: u8 = 5;
const VIRTIO_NET_HDR_GSO_ECN: u8 = 0x80;

const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const TCP_FIN: u8 = 0x01;
const TCP_PSH: u8 = 0x08;
const TCP_ACK: u8 = 0x10;
const TCP_CWR: u8 = 0x80;

/// The offload work the kernel left for us (or we leave for it) on one packet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct VirtioNetHdr {
    pub(crate) flags: u8,
    pub(crate) gso_type: u8,
    pub(crate) hdr_len: u16,
    pub(crate) gso_size: u16,
    pub(crate) csum_start: u16,
    pub(crate) csum_offset: u16,
}

impl VirtioNetHdr {
    /// The header in the host's byte order, which is what a TUN without TUNSETVNETLE uses
    /// on a little-endian host (every host we build for).
    pub(crate) fn parse(bytes: &[u8]) -> Option<Self> {
        let bytes: &[u8; VNET_HDR_LEN] = bytes.get(..VNET_HDR_LEN)?.try_into().ok()?;
        let u16_at = |i: usize| u16::from_ne_bytes([bytes[i], bytes[i + 1]]);
        Some(Self {
            flags: bytes[0],
            gso_type: bytes[1] & !VIRTIO_NET_HDR_GSO_ECN,
            hdr_len: u16_at(2),
            gso_size: u16_at(4),
            csum_start: u16_at(6),
            csum_offset: u16_at(8),
        })
    }

    pub(crate) fn to_bytes(self) -> [u8; VNET_HDR_LEN] {
        let mut bytes = [0u8; VNET_HDR_LEN];
        bytes[0] = self.flags;
        bytes[1] = self.gso_type;
        bytes[2..4].copy_from_slice(&self.hdr_len.to_ne_bytes());
        bytes[4..6].copy_from_slice(&self.gso_size.to_ne_bytes());
        bytes[6..8].copy_from_slice(&self.csum_start.to_ne_bytes());
        bytes[8..10].copy_from_slice(&self.csum_offset.to_ne_bytes());
        bytes
    }
}

fn be16(bytes: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([bytes[at], bytes[at + 1]])
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn put16(bytes: &mut [u8], at: usize, value: u16) {
    bytes[at..at + 2].copy_from_slice(&value.to_be_bytes());
}

/// The source and destination addresses of an IPv4 or IPv6 header.
fn addresses(packet: &[u8]) -> (&[u8], &[u8]) {
    if packet[0] >> 4 == 6 {
        (&packet[8..24], &packet[24..40])
    } else {
        (&packet[12..16], &packet[16..20])
    }
}

/// Sets the IP header's length field for a packet of `total` bytes (IPv4: and its
/// header checksum).
fn set_ip_length(packet: &mut [u8], total: usize) {
    if packet[0] >> 4 == 6 {
        put16(packet, 4, (total - 40) as u16);
    } else {
        put16(packet, 2, total as u16);
        let ihl = usize::from(packet[0] & 0x0f) * 4;
        checksum::fix_ipv4_header(&mut packet[..ihl]);
    }
}

/// The transport checksum (TCP or UDP) of `packet` whose transport header starts at
/// `l4`, computed from scratch and stored at `l4 + field`.
fn fill_transport_checksum(packet: &mut [u8], l4: usize, protocol: u8, field: usize) {
    packet[l4 + field..l4 + field + 2].fill(0);
    let (source, destination) = addresses(packet);
    let seed = checksum::pseudo_header(source, destination, protocol, packet.len() - l4);
    let mut value = checksum::finish(checksum::sum(&packet[l4..], seed));
    if protocol == PROTO_UDP && value == 0 {
        value = 0xffff;
    }
    put16(packet, l4 + field, value);
}
