//! Linux: `/dev/net/tun` in IFF_TUN | IFF_NO_PI | IFF_VNET_HDR mode. With TUNSETOFFLOAD
//! the kernel hands over TCP and UDP super-packets of up to 64 KiB, which are split here,
//! and takes coalesced TCP super-packets back; every packet carries a virtio-net header.
//! The descriptor is non-blocking; reads wait in poll(2) so they can time out.
#![allow(unsafe_code)]

use super::{MAX_PACKET, Tun};
use crate::batch::PacketBatch;
use crate::offload::{self, SplitError, VNET_HDR_LEN, VirtioNetHdr};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const IFNAMSIZ: usize = 16;
/// Spare room a batch needs before another read: a super-packet cut at a small MSS
/// repeats its headers many times.
const READ_ROOM: usize = 2 * (MAX_PACKET + 1);
/// A coalesced write: the virtio-net header, the first packet, and up to 63 payloads.
const MAX_IOVECS: usize = 66;

/// `struct ifreq` with the flags member of its union (the union is 24 bytes).
#[repr(C)]
struct IfReqFlags {
    name: [u8; IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// `struct ifreq` with the MTU member of its union.
#[repr(C)]
struct IfReqMtu {
    name: [u8; IFNAMSIZ],
    mtu: libc::c_int,
    _pad: [u8; 20],
}

struct LinuxTun {
    file: File,
    name: String,
    /// The kernel accepted TSO (so it may send super-packets and we may send it some).
    offload: bool,
}

pub(super) fn create(name: &str) -> io::Result<Box<dyn Tun>> {
    if name.is_empty() || name.len() >= IFNAMSIZ || name.contains(['/', '\0']) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid interface name {name:?}"),
        ));
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open("/dev/net/tun")?;
    let mut request = IfReqFlags {
        name: [0; IFNAMSIZ],
        flags: (libc::IFF_TUN | libc::IFF_NO_PI | libc::IFF_VNET_HDR) as libc::c_short,
        _pad: [0; 22],
    };
    request.name[..name.len()].copy_from_slice(name.as_bytes());
    // SAFETY: TUNSETIFF reads and writes a `struct ifreq`, which `IfReqFlags` lays out
    // exactly (40 bytes); the fd is open for the duration of the call.
    if unsafe { libc::ioctl(file.as_raw_fd(), TUNSETIFF as _, &mut request) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let len = request
        .name
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(IFNAMSIZ);
    let name = String::from_utf8_lossy(&request.name[..len]).into_owned();
    let offload = enable_offloads(&file);
    tracing::debug!(interface = %name, offload, "TUN created");
    Ok(Box::new(LinuxTun {
        file,
        name,
        offload,
    }))
}

/// TSO for both families, and USO where the kernel has it (6.2 and later).
/// `CULVERT_OFFLOAD=0` leaves them off, to compare or to rule them out.
fn enable_offloads(file: &File) -> bool {
    if std::env::var_os("CULVERT_OFFLOAD").is_some_and(|v| v == "0") {
        return false;
    }
    let tso = libc::TUN_F_CSUM | libc::TUN_F_TSO4 | libc::TUN_F_TSO6;
    let uso = libc::TUN_F_USO4 | libc::TUN_F_USO6;
    [tso | uso, tso].into_iter().any(|flags| {
        // SAFETY: TUNSETOFFLOAD takes its flags as the ioctl argument itself.
        let status = unsafe {
            libc::ioctl(
                file.as_raw_fd(),
                libc::TUNSETOFFLOAD as _,
                flags as libc::c_ulong,
            )
        };
        status == 0
    })
}

impl LinuxTun {
    /// Waits until the TUN is readable; false when `timeout` passed first.
    fn poll_readable(&self, timeout: Duration) -> io::Result<bool> {
        let mut fd = libc::pollfd {
            fd: self.file.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let millis = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: one valid pollfd, for the duration of the call.
        match unsafe { libc::poll(&mut fd, 1, millis) } {
            0 => Ok(false),
            n if n < 0 => {
                let error = io::Error::last_os_error();
                if error.kind() == io::ErrorKind::Interrupted {
                    Ok(false)
                } else {
                    Err(error)
                }
            }
            _ => Ok(true),
        }
    }

    /// One non-blocking read of a virtio-net header and its packet; Ok(None) when
    /// nothing is waiting.
    fn read_raw(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        // SAFETY: reads at most `buf.len()` bytes into `buf`, valid for the call.
        let n = unsafe { libc::read(self.file.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(Some(n as usize));
        }
        let error = io::Error::last_os_error();
        match error.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(None),
            _ => Err(error),
        }
    }

    fn writev(&self, parts: &[libc::iovec]) -> io::Result<()> {
        // SAFETY: every iovec points into a slice borrowed for the duration of the call.
        let n = unsafe { libc::writev(self.file.as_raw_fd(), parts.as_ptr(), parts.len() as _) };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }
}

fn iovec(bytes: &[u8]) -> libc::iovec {
    libc::iovec {
        iov_base: bytes.as_ptr() as *mut libc::c_void,
        iov_len: bytes.len(),
    }
}

impl Tun for LinuxTun {
    fn name(&self) -> &str {
        &self.name
    }

    fn mtu(&self) -> io::Result<usize> {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0")
            .or_else(|_| std::net::UdpSocket::bind("[::1]:0"))?;
        let mut request = IfReqMtu {
            name: [0; IFNAMSIZ],
            mtu: 0,
            _pad: [0; 20],
        };
        request.name[..self.name.len()].copy_from_slice(self.name.as_bytes());
        // SAFETY: SIOCGIFMTU fills the MTU member of a `struct ifreq` (`IfReqMtu`, 40
        // bytes); the socket is open for the duration of the call.
        if unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFMTU as _, &mut request) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(usize::try_from(request.mtu).unwrap_or(0))
    }

    /// One packet; a super-packet is refused (read_batch splits them).
    fn read(&self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        let mut staging = vec![0u8; VNET_HDR_LEN + MAX_PACKET];
        let n = match self.read_raw(&mut staging)? {
            Some(n) => n,
            None if self.poll_readable(timeout)? => match self.read_raw(&mut staging)? {
                Some(n) => n,
                None => return Ok(0),
            },
            None => return Ok(0),
        };
        let header = VirtioNetHdr::parse(&staging[..n]).ok_or(io::ErrorKind::InvalidData)?;
        let packet = &mut staging[VNET_HDR_LEN..n];
        if header.gso_type != offload::VIRTIO_NET_HDR_GSO_NONE || packet.len() > buf.len() {
            return Err(io::ErrorKind::InvalidData.into());
        }
        if header.flags & offload::VIRTIO_NET_HDR_F_NEEDS_CSUM != 0 {
            offload::complete_checksum(&header, packet)
                .map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
        }
        buf[..packet.len()].copy_from_slice(packet);
        Ok(packet.len())
    }

    fn write(&self, packet: &[u8]) -> io::Result<()> {
        let header = VirtioNetHdr::default().to_bytes();
        self.writev(&[iovec(&header), iovec(packet)])
    }

    fn wait_readable(&self, timeout: Duration) -> io::Result<bool> {
        self.poll_readable(timeout)
    }

    fn read_batch(&self, batch: &mut PacketBatch, timeout: Duration) -> io::Result<()> {
        let mut staging = std::mem::take(&mut batch.staging);
        staging.resize(VNET_HDR_LEN + MAX_PACKET, 0);
        let result = self.fill(batch, &mut staging, timeout);
        batch.staging = staging;
        result
    }

    fn write_batch(&self, batch: &mut PacketBatch) -> io::Result<()> {
        let mut result = Ok(());
        if !self.offload {
            for packet in batch.iter() {
                if let Err(error) = self.write(packet) {
                    result = Err(error);
                }
            }
            return result;
        }
        let mut coalescer = std::mem::take(&mut batch.coalesce);
        coalescer.plan(batch);
        for write in coalescer.writes(batch) {
            let mut parts = [iovec(&[]); MAX_IOVECS];
            parts[0] = iovec(&write.header);
            parts[1] = iovec(write.first);
            let mut used = 2;
            for payload in write.payloads() {
                parts[used] = iovec(payload);
                used += 1;
            }
            if let Err(error) = self.writev(&parts[..used]) {
                result = Err(error);
            }
        }
        batch.coalesce = coalescer;
        result
    }
}

impl LinuxTun {
    /// Reads and splits into `batch` until it is nearly full or nothing is waiting.
    fn fill(
        &self,
        batch: &mut PacketBatch,
        staging: &mut [u8],
        timeout: Duration,
    ) -> io::Result<()> {
        let mut waited = false;
        while batch.spare() >= READ_ROOM {
            let n = match std::mem::take(&mut batch.staged) {
                0 => match self.read_raw(staging)? {
                    Some(n) => n,
                    None if batch.is_empty() && !waited && !timeout.is_zero() => {
                        waited = true;
                        if self.poll_readable(timeout)? {
                            continue;
                        }
                        return Ok(());
                    }
                    None => return Ok(()),
                },
                staged => staged,
            };
            let Some(header) = VirtioNetHdr::parse(&staging[..n]) else {
                continue;
            };
            match offload::split(&header, &mut staging[VNET_HDR_LEN..n], batch) {
                Ok(()) => {}
                Err(SplitError::BatchFull) if !batch.is_empty() => {
                    // It goes first into the next batch.
                    batch.staged = n;
                    return Ok(());
                }
                Err(error) => tracing::trace!(?error, "packet from the TUN dropped"),
            }
        }
        Ok(())
    }
}
