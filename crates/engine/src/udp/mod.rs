//! The UDP socket: dual-stack when the host has IPv6, with the fwmark on Linux, and
//! batches both ways: on Linux GSO sends and GRO receives with recvmmsg (`linux.rs`),
//! elsewhere a datagram per call.

use crate::batch::PacketBatch;
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::Duration;

#[derive(Debug)]
pub(crate) struct Udp {
    socket: UdpSocket,
    dual_stack: bool,
    port: u16,
    // Elsewhere than Linux there is no offload state to consult.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    offload: imp::Offload,
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
        let offload = imp::Offload::enable(&socket);
        let socket: UdpSocket = socket.into();
        let port = socket.local_addr()?.port();
        Ok(Self {
            socket,
            dual_stack,
            port,
            offload,
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
        // Large buffers absorb bursts between the reader thread's wake-ups; as root the
        // system's cap (net.core.rmem_max) does not apply.
        imp::set_buffer_sizes(&socket, 8 << 20);
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
    #[cfg_attr(
        target_os = "linux",
        allow(dead_code, reason = "recv_batch serves Linux")
    )]
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
        self.socket.send_to(datagram, self.map(dst)).map(|_| ())
    }

    /// Receives datagrams into `batch` and their sources into `sources`: waits at most
    /// the socket's timeout for the first, then takes what is already waiting.
    pub(crate) fn recv_batch(
        &self,
        batch: &mut PacketBatch,
        sources: &mut Vec<SocketAddr>,
    ) -> io::Result<()> {
        imp::recv_batch(self, batch, sources)
    }

    /// Sends datagram `i` of `batch` to `destinations[i]`, consecutive datagrams to one
    /// destination together.
    pub(crate) fn send_batch(
        &self,
        batch: &PacketBatch,
        destinations: &[SocketAddr],
    ) -> io::Result<()> {
        imp::send_batch(self, batch, destinations)
    }

    /// A dual-stack socket reaches IPv4 destinations by their IPv4-mapped address.
    fn map(&self, dst: SocketAddr) -> SocketAddr {
        match (dst, self.dual_stack) {
            (SocketAddr::V4(v4), true) => {
                SocketAddr::new(IpAddr::V6(v4.ip().to_ipv6_mapped()), v4.port())
            }
            _ => dst,
        }
    }
}

#[cfg(target_os = "linux")]
#[path = "linux.rs"]
mod imp;

#[cfg(not(target_os = "linux"))]
mod imp {
    //! A datagram per call, for systems without GSO and recvmmsg here.
    use super::{PacketBatch, Socket, SocketAddr, Udp, io};

    #[derive(Debug)]
    pub(super) struct Offload;

    impl Offload {
        pub(super) fn enable(_socket: &Socket) -> Self {
            Self
        }
    }

    pub(super) fn set_buffer_sizes(socket: &Socket, bytes: usize) {
        let _ = socket.set_recv_buffer_size(bytes);
        let _ = socket.set_send_buffer_size(bytes);
    }

    pub(super) fn recv_batch(
        udp: &Udp,
        batch: &mut PacketBatch,
        sources: &mut Vec<SocketAddr>,
    ) -> io::Result<()> {
        let mut result = Ok(());
        batch.push_with(batch.spare(), |buf| match udp.recv(buf) {
            Ok(Some((len, src))) => {
                sources.push(src);
                Some(len)
            }
            Ok(None) => None,
            Err(error) => {
                result = Err(error);
                None
            }
        });
        result
    }

    pub(super) fn send_batch(
        udp: &Udp,
        batch: &PacketBatch,
        destinations: &[SocketAddr],
    ) -> io::Result<()> {
        let mut result = Ok(());
        for (datagram, dst) in batch.iter().zip(destinations) {
            if let Err(error) = udp.send(datagram, *dst) {
                result = Err(error);
            }
        }
        result
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
    fn batches_arrive_whole_and_in_order_with_their_sources() {
        let a = Udp::bind(0, 0, Duration::from_secs(5)).unwrap();
        let b = Udp::bind(0, 0, Duration::from_secs(5)).unwrap();
        let dst = SocketAddr::new("127.0.0.1".parse().unwrap(), b.port());
        // Six of 1,200 bytes and a short one: one GSO run where the kernel has GSO.
        let mut batch = PacketBatch::new(1 << 16);
        let mut expected = Vec::new();
        for i in 0..7u8 {
            let len = if i == 6 { 300 } else { 1200 };
            let datagram: Vec<u8> = (0..len).map(|j| i.wrapping_mul(31) ^ j as u8).collect();
            assert!(batch.push(&datagram));
            expected.push(datagram);
        }
        a.send_batch(&batch, &[dst; 7]).unwrap();
        let mut received = PacketBatch::new(8 << 16);
        let mut sources = Vec::new();
        let mut got: Vec<Vec<u8>> = Vec::new();
        while got.len() < expected.len() {
            received.clear();
            sources.clear();
            b.recv_batch(&mut received, &mut sources).unwrap();
            assert!(
                !received.is_empty(),
                "timed out after {} datagrams",
                got.len()
            );
            assert_eq!(sources.len(), received.len());
            assert!(sources.iter().all(|s| s.port() == a.port() && s.is_ipv4()));
            got.extend(received.iter().map(<[u8]>::to_vec));
        }
        assert_eq!(got, expected);

        // Once warm, a batch each way allocates nothing.
        let allocations = culvert_testalloc::allocations_during(|| {
            for _ in 0..5 {
                a.send_batch(&batch, &[dst; 7]).unwrap();
                let mut count = 0;
                while count < 7 {
                    received.clear();
                    sources.clear();
                    b.recv_batch(&mut received, &mut sources).unwrap();
                    assert!(!received.is_empty());
                    count += received.len();
                }
            }
        });
        assert_eq!(allocations, 0);
    }

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
