//! Linux: `/dev/net/tun` in IFF_TUN | IFF_NO_PI mode, polled so reads can time out.
#![allow(unsafe_code)]

use super::Tun;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const IFNAMSIZ: usize = 16;

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
        .custom_flags(libc::O_CLOEXEC)
        .open("/dev/net/tun")?;
    let mut request = IfReqFlags {
        name: [0; IFNAMSIZ],
        flags: (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short,
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
    Ok(Box::new(LinuxTun { file, name }))
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

    fn read(&self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        let mut fd = libc::pollfd {
            fd: self.file.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let millis = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: one valid pollfd, for the duration of the call.
        let ready = unsafe { libc::poll(&mut fd, 1, millis) };
        match ready {
            0 => Ok(0),
            n if n < 0 => {
                let error = io::Error::last_os_error();
                if error.kind() == io::ErrorKind::Interrupted {
                    Ok(0)
                } else {
                    Err(error)
                }
            }
            _ => (&self.file).read(buf),
        }
    }

    fn write(&self, packet: &[u8]) -> io::Result<()> {
        (&self.file).write(packet).map(|_| ())
    }
}
