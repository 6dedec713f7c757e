//! macOS: a utun device from the kernel control socket. Each packet carries a 4-byte
//! address-family header. UNVERIFIED: written carefully but never compiled here.
#![allow(unsafe_code)]

use super::Tun;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

const UTUN_CONTROL_NAME: &[u8] = b"com.apple.net.utun_control";
const UTUN_OPT_IFNAME: libc::c_int = 2;
const SYSPROTO_CONTROL: libc::c_int = 2;
const AF_SYS_CONTROL: u16 = 2;
const CTLIOCGINFO: libc::c_ulong = 0xc064_4e03;

#[repr(C)]
struct CtlInfo {
    id: u32,
    name: [u8; 96],
}

#[repr(C)]
struct SockaddrCtl {
    len: u8,
    family: u8,
    sysaddr: u16,
    id: u32,
    unit: u32,
    reserved: [u32; 5],
}

struct MacTun {
    fd: OwnedFd,
    name: String,
}

/// `name` must be `utunN` (macOS chooses names); `utun` alone takes the next free unit.
pub(super) fn create(name: &str) -> io::Result<Box<dyn Tun>> {
    let unit: u32 = match name.strip_prefix("utun") {
        Some("") => 0,
        Some(n) => n.parse::<u32>().map(|n| n + 1).map_err(|_| invalid(name))?,
        None => return Err(invalid(name)),
    };
    // SAFETY: plain socket(2); the result is checked before use and owned afterwards.
    let raw = unsafe { libc::socket(libc::PF_SYSTEM, libc::SOCK_DGRAM, SYSPROTO_CONTROL) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut info = CtlInfo {
        id: 0,
        name: [0; 96],
    };
    info.name[..UTUN_CONTROL_NAME.len()].copy_from_slice(UTUN_CONTROL_NAME);
    // SAFETY: CTLIOCGINFO fills a `struct ctl_info`, which `CtlInfo` lays out.
    if unsafe { libc::ioctl(fd.as_raw_fd(), CTLIOCGINFO, &mut info) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let address = SockaddrCtl {
        len: std::mem::size_of::<SockaddrCtl>() as u8,
        family: libc::AF_SYSTEM as u8,
        sysaddr: AF_SYS_CONTROL,
        id: info.id,
        unit,
        reserved: [0; 5],
    };
    // SAFETY: `address` is a valid `sockaddr_ctl` of the length passed.
    let connected = unsafe {
        libc::connect(
            fd.as_raw_fd(),
            (&address as *const SockaddrCtl).cast(),
            address.len as libc::socklen_t,
        )
    };
    if connected < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut name_buf = [0u8; 32];
    let mut len = name_buf.len() as libc::socklen_t;
    // SAFETY: UTUN_OPT_IFNAME writes at most `len` bytes into `name_buf`.
    let got = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            SYSPROTO_CONTROL,
            UTUN_OPT_IFNAME,
            name_buf.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if got < 0 {
        return Err(io::Error::last_os_error());
    }
    let end = name_buf
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(len as usize);
    Ok(Box::new(MacTun {
        fd,
        name: String::from_utf8_lossy(&name_buf[..end]).into_owned(),
    }))
}

fn invalid(name: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("macOS tunnel names are utun or utunN, not {name:?}"),
    )
}

impl Tun for MacTun {
    fn name(&self) -> &str {
        &self.name
    }

    fn mtu(&self) -> io::Result<usize> {
        Ok(1420)
    }

    fn read(&self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        let mut fd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let millis = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: one valid pollfd, for the duration of the call.
        if unsafe { libc::poll(&mut fd, 1, millis) } <= 0 {
            return Ok(0);
        }
        let mut framed = [0u8; 65_535 + 4];
        // SAFETY: reads at most `framed.len()` bytes into `framed`.
        let n = unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                framed.as_mut_ptr().cast(),
                framed.len(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let payload = &framed[4.min(n as usize)..n as usize];
        let len = payload.len().min(buf.len());
        buf[..len].copy_from_slice(&payload[..len]);
        Ok(len)
    }

    fn write(&self, packet: &[u8]) -> io::Result<()> {
        let family: u32 = match packet.first().map(|b| b >> 4) {
            Some(6) => libc::AF_INET6 as u32,
            _ => libc::AF_INET as u32,
        };
        let header = family.to_be_bytes();
        let parts = [
            libc::iovec {
                iov_base: header.as_ptr() as *mut _,
                iov_len: 4,
            },
            libc::iovec {
                iov_base: packet.as_ptr() as *mut _,
                iov_len: packet.len(),
            },
        ];
        // SAFETY: two iovecs pointing at live buffers of the stated lengths.
        if unsafe { libc::writev(self.fd.as_raw_fd(), parts.as_ptr(), 2) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}
