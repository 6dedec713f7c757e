//! Linux batches: sendmsg with UDP_SEGMENT (GSO) sends a run of equal-sized datagrams
//! to one destination in one call, and recvmmsg with UDP_GRO receives runs the kernel
//! joined, so a 64 KiB burst costs a syscall rather than forty.
#![allow(unsafe_code)]

use super::{PacketBatch, Socket, Udp, io, unmap};
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};

const SOL_UDP: libc::c_int = 17;
const UDP_SEGMENT: libc::c_int = 103;
const UDP_GRO: libc::c_int = 104;
/// The kernel's limit on segments per GSO send (UDP_MAX_SEGMENTS).
const MAX_SEGMENTS: usize = 64;
/// Bytes per GSO send: below the 65,507 an IPv4 datagram may carry.
const MAX_GSO_BYTES: usize = 65_000;
/// A receive slot holds what GRO may join: up to 64 KiB.
const SLOT: usize = 1 << 16;
const MAX_MESSAGES: usize = 8;
/// Room for one UDP_GRO control message (an int), aligned for `cmsghdr`.
type Control = [u64; 8];

#[derive(Debug)]
pub(super) struct Offload {
    /// Cleared for good the first time the kernel refuses a GSO send.
    gso: AtomicBool,
}

impl Offload {
    pub(super) fn enable(socket: &Socket) -> Self {
        let on: libc::c_int = 1;
        // SAFETY: setsockopt reads an int from a valid pointer for the call.
        let gro = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                SOL_UDP,
                UDP_GRO,
                (&on as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        } == 0;
        let gso = std::env::var_os("CULVERT_OFFLOAD").is_none_or(|v| v != "0");
        tracing::debug!(gro, gso, "UDP offloads");
        Self {
            gso: AtomicBool::new(gso),
        }
    }
}

pub(super) fn set_buffer_sizes(socket: &Socket, bytes: usize) {
    let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    for (forced, plain) in [
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
    ] {
        let set = |option| {
            // SAFETY: setsockopt reads an int from a valid pointer for the call.
            let status = unsafe {
                libc::setsockopt(
                    socket.as_raw_fd(),
                    libc::SOL_SOCKET,
                    option,
                    (&value as *const libc::c_int).cast(),
                    size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            status == 0
        };
        // The forced variant needs CAP_NET_ADMIN; otherwise up to net.core.*mem_max.
        if !set(forced) {
            set(plain);
        }
    }
}

pub(super) fn recv_batch(
    udp: &Udp,
    batch: &mut PacketBatch,
    sources: &mut Vec<SocketAddr>,
) -> io::Result<()> {
    let (buf, ranges, end) = batch.raw_parts();
    let start = *end;
    let count = ((buf.len() - start) / SLOT).min(MAX_MESSAGES);
    if count == 0 {
        return Ok(());
    }
    // SAFETY: all-zero is a valid value of these plain C structs.
    let mut names: [libc::sockaddr_storage; MAX_MESSAGES] = unsafe { zeroed() };
    let mut controls: [Control; MAX_MESSAGES] = [[0; 8]; MAX_MESSAGES];
    // SAFETY: as above.
    let mut iovecs: [libc::iovec; MAX_MESSAGES] = unsafe { zeroed() };
    // SAFETY: as above.
    let mut messages: [libc::mmsghdr; MAX_MESSAGES] = unsafe { zeroed() };
    let slots = buf[start..].chunks_mut(SLOT);
    for (i, slot) in slots.take(count).enumerate() {
        iovecs[i] = libc::iovec {
            iov_base: slot.as_mut_ptr().cast(),
            iov_len: slot.len(),
        };
        let header = &mut messages[i].msg_hdr;
        header.msg_name = (&mut names[i] as *mut libc::sockaddr_storage).cast();
        header.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        header.msg_iov = &mut iovecs[i];
        header.msg_iovlen = 1;
        header.msg_control = controls[i].as_mut_ptr().cast();
        header.msg_controllen = size_of::<Control>() as _;
    }
    // SAFETY: `count` messages, each pointing at its own name, control and iovec, which
    // points into `buf`; all outlive the call. MSG_WAITFORONE: block (up to the socket's
    // timeout) for the first only.
    let received = unsafe {
        libc::recvmmsg(
            udp.socket.as_raw_fd(),
            messages.as_mut_ptr(),
            count as libc::c_uint,
            libc::MSG_WAITFORONE,
            std::ptr::null_mut(),
        )
    };
    if received < 0 {
        let error = io::Error::last_os_error();
        return match error.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted => {
                Ok(())
            }
            _ => Err(error),
        };
    }
    let received = received as usize;
    for (i, message) in messages[..received].iter().enumerate() {
        let len = message.msg_len as usize;
        let header = &message.msg_hdr;
        if header.msg_flags & (libc::MSG_TRUNC | libc::MSG_CTRUNC) != 0 {
            continue;
        }
        let Some(src) = socket_addr(&names[i]) else {
            continue;
        };
        let stride = gro_segment_size(header).unwrap_or(len).max(1);
        let base = start + i * SLOT;
        for offset in (0..len).step_by(stride) {
            ranges.push(base + offset..base + (offset + stride).min(len));
            sources.push(unmap(src));
        }
    }
    *end = start + received * SLOT;
    Ok(())
}

/// The segment size of a datagram GRO joined, from its UDP_GRO control message.
fn gro_segment_size(header: &libc::msghdr) -> Option<usize> {
    // SAFETY: the control buffer was filled by recvmmsg and `msg_controllen` bounds it;
    // the CMSG macros stay within it.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(header);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == SOL_UDP && (*cmsg).cmsg_type == UDP_GRO {
                let data = libc::CMSG_DATA(cmsg).cast::<libc::c_int>().read_unaligned();
                return usize::try_from(data).ok().filter(|&size| size > 0);
            }
            cmsg = libc::CMSG_NXTHDR(header, cmsg);
        }
    }
    None
}

fn socket_addr(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match libc::c_int::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let v4 =
                unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr)),
                u16::from_be(v4.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let v6 = unsafe {
                &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(v6.sin6_addr.s6_addr),
                u16::from_be(v6.sin6_port),
                v6.sin6_flowinfo,
                v6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

pub(super) fn send_batch(
    udp: &Udp,
    batch: &PacketBatch,
    destinations: &[SocketAddr],
) -> io::Result<()> {
    let ranges = batch.ranges();
    let buf = batch.buffer();
    let mut result = Ok(());
    let mut i = 0;
    while i < ranges.len() {
        let dst = destinations[i];
        let size = ranges[i].len();
        let mut j = i + 1;
        if udp.offload.gso.load(Ordering::Relaxed) {
            let mut total = size;
            // A run: one destination, contiguous, every datagram as long as the first
            // but the last, which may be shorter.
            while j < ranges.len()
                && j - i < MAX_SEGMENTS
                && destinations[j] == dst
                && ranges[j].start == ranges[j - 1].end
                && ranges[j].len() <= size
                && total + ranges[j].len() <= MAX_GSO_BYTES
            {
                total += ranges[j].len();
                j += 1;
                if ranges[j - 1].len() < size {
                    break;
                }
            }
        }
        let bytes = &buf[ranges[i].start..ranges[j - 1].end];
        let segment = (j - i > 1).then_some(size as u16);
        match send_segments(udp, bytes, dst, segment) {
            Ok(()) => {}
            Err(error) if segment.is_some() && gso_refused(&error) => {
                // No GSO on this route's device (EIO), or segments larger than the path
                // MTU, which GSO never fragments (EINVAL, EMSGSIZE): send one at a time
                // from now on, and let the kernel fragment as it does for one datagram.
                tracing::debug!(%error, "UDP GSO refused; sending datagrams one by one");
                udp.offload.gso.store(false, Ordering::Relaxed);
                for range in &ranges[i..j] {
                    if let Err(error) = udp.send(&buf[range.clone()], dst) {
                        result = Err(error);
                    }
                }
            }
            Err(error) => result = Err(error),
        }
        i = j;
    }
    result
}

/// Whether a GSO send failed because of GSO itself, so single sends will work.
fn gso_refused(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EIO | libc::EINVAL | libc::EMSGSIZE)
    )
}

/// One sendmsg: `bytes` as datagrams of `segment` bytes (the last may be shorter), or
/// as one datagram.
fn send_segments(udp: &Udp, bytes: &[u8], dst: SocketAddr, segment: Option<u16>) -> io::Result<()> {
    let address = socket2::SockAddr::from(udp.map(dst));
    let mut iov = libc::iovec {
        iov_base: bytes.as_ptr() as *mut libc::c_void,
        iov_len: bytes.len(),
    };
    let mut control: Control = [0; 8];
    // SAFETY: all-zero is a valid msghdr.
    let mut header: libc::msghdr = unsafe { zeroed() };
    header.msg_name = address.as_ptr() as *mut libc::c_void;
    header.msg_namelen = address.len();
    header.msg_iov = &mut iov;
    header.msg_iovlen = 1;
    if let Some(segment) = segment {
        header.msg_control = control.as_mut_ptr().cast();
        // SAFETY: CMSG_SPACE is a pure size computation.
        header.msg_controllen = unsafe { libc::CMSG_SPACE(size_of::<u16>() as u32) } as _;
        // SAFETY: the control buffer (64 bytes, aligned) holds one cmsghdr with a u16.
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&header);
            (*cmsg).cmsg_level = SOL_UDP;
            (*cmsg).cmsg_type = UDP_SEGMENT;
            (*cmsg).cmsg_len = libc::CMSG_LEN(size_of::<u16>() as u32) as _;
            libc::CMSG_DATA(cmsg).cast::<u16>().write_unaligned(segment);
        }
    }
    // SAFETY: the header points at `address`, `iov` (into `bytes`) and `control`, all
    // alive for the call.
    let sent = unsafe { libc::sendmsg(udp.socket.as_raw_fd(), &header, 0) };
    if sent < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
