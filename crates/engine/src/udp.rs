//! The UDP socket: dual-stack when the host has IPv6, with the fwmark on Linux.

use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::Duration;

#[derive(Debug)]
pub(crate) struct Udp {
    socket: UdpSocket,
    dual_stack: bool,
    port: u16,
}

impl Udp {
    /// Binds `port` (0: any free port) on all addresses, IPv6 and IPv4 together when the
    /// host has IPv6. `timeout` bounds each receive so the reader can notice a stop.
    pub(crate) fn bind(port: u16, fwmark: u32, timeout: Duration) -> io::Result<Self> {
        let (socket, dual_stack) = match Self::socket(Domain::IPV6, port) {
            Ok(socket) => (socket, true),
            Err(_) => (Self::socket(Domain::IPV4, port)?, false),
        };
        set_mark(&socket, fwmark)?;
        socket.set_read_timeout(Some(timeout))?;
        let socket: UdpSocket = socket.into();
        let port = socket.local_addr()?.port();
        Ok(Self {
            socket,
            dual_stack,
            port,
        })
    }

    fn socket(domain: Domain, port: u16) -> io::Result<Socket> {
        let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
        let address: SocketAddr = if domain == Domain::IPV6 {
            socket.set_only_v6(false)?;
            (Ipv6Addr::UNSPECIFIED, port).into()
        } else {
            ([0, 0, 0, 0], port).into()
        };
        // Large buffers absorb bursts between the reader thread's wake-ups.
        let _ = socket.set_recv_buffer_size(4 << 20);
        let _ = socket.set_send_buffer_size(4 << 20);
        socket.bind(&address.into())?;
        Ok(socket)
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn set_fwmark(&self, mark: u32) -> io::Result<()> {
        set_mark(&socket2::SockRef::from(&self.socket), mark)
    }

    /// Receives a datagram; IPv4-mapped sources come back as IPv4. `Ok(None)` on timeout.
    pub(crate) fn recv(&self, buf: &mut [u8]) -> io::Result<Option<(usize, SocketAddr)>> {
        match self.socket.recv_from(buf) {
            Ok((len, src)) => Ok(Some((len, unmap(src)))),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    pub(crate) fn send(&self, datagram: &[u8], dst: SocketAddr) -> io::Result<()> {
        let dst = match (dst, self.dual_stack) {
            (SocketAddr::V4(v4), true) => {
                SocketAddr::new(IpAddr::V6(v4.ip().to_ipv6_mapped()), v4.port())
            }
            _ => dst,
        };
        self.socket.send_to(datagram, dst).map(|_| ())
    }
}

fn unmap(address: SocketAddr) -> SocketAddr {
    match address {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => address,
        },
        v4 => v4,
    }
}

#[cfg(target_os = "linux")]
fn set_mark(socket: &Socket, mark: u32) -> io::Result<()> {
    socket.set_mark(mark)
}

#[cfg(not(target_os = "linux"))]
fn set_mark(_socket: &Socket, mark: u32) -> io::Result<()> {
    if mark == 0 {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "fwmark exists only on Linux",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_round_trip_in_both_families() {
        let a = Udp::bind(0, 0, Duration::from_secs(5)).unwrap();
        let b = Udp::bind(0, 0, Duration::from_secs(5)).unwrap();
        assert_ne!(a.port(), 0);
        for ip in ["127.0.0.1", "::1"] {
            let dst = SocketAddr::new(ip.parse().unwrap(), b.port());
            if a.send(b"hello", dst).is_err() {
                eprintln!("skipping {ip}: this host cannot send to it");
                continue;
            }
            let mut buf = [0u8; 16];
            let (len, src) = b.recv(&mut buf).unwrap().unwrap();
            assert_eq!(&buf[..len], b"hello");
            assert_eq!(
                src.ip(),
                dst.ip(),
                "IPv4-mapped sources are reported as IPv4"
            );
            assert_eq!(src.port(), a.port());
        }
    }
}
