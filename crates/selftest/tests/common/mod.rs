//! What several self-tests share.
#![allow(dead_code, unreachable_pub)]

use culvert_netlab::{Lab, wait_for};
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::Duration;

pub fn new_lab() -> Lab {
    Lab::new(culvert_selftest::binary("culvert-engine"))
}

/// Writes a base64 key to a 0600 file `wg set ... private-key` can read.
pub fn key_file(dir: &Path, name: &str, key: &str) -> String {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(name);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(&mut file, format!("{key}\n").as_bytes()).unwrap();
    path.to_string_lossy().into_owned()
}

/// A UDP socket bound in `side`'s namespace.
pub fn udp_in(lab: &Lab, side: usize, bind: &str) -> UdpSocket {
    let bind: SocketAddr = bind.parse().unwrap();
    lab.in_ns(side, move || UdpSocket::bind(bind).unwrap())
        .join()
        .unwrap()
}

/// Waits for one datagram on `socket`; None when none comes within `patience`.
pub fn receive(socket: &UdpSocket, patience: Duration) -> Option<Vec<u8>> {
    socket.set_read_timeout(Some(patience)).unwrap();
    let mut buf = vec![0u8; 65_536];
    let (n, _) = socket.recv_from(&mut buf).ok()?;
    Some(buf[..n].to_vec())
}

/// Starts a culvert-engine interface named `iface` in namespace `side` (for a third
/// host the lab's own `start` does not cover) and waits for its UAPI socket.
pub fn start_engine_on(lab: &mut Lab, side: usize, iface: &str) {
    let engine = culvert_selftest::binary("culvert-engine");
    lab.spawn(side, &[engine.to_str().unwrap(), iface]);
    let socket = culvert_netlab::socket_path(iface);
    wait_for("the engine's UAPI socket", Duration::from_secs(20), || {
        socket.exists()
    });
}

/// Unix seconds of the latest handshake `iface` in `side` reports with its one peer.
pub fn latest_handshake_of(lab: &Lab, side: usize, iface: &str) -> u64 {
    lab.wg(side, &["show", iface, "latest-handshakes"])
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The endpoint `iface` in `side` has for its (first) peer.
pub fn endpoint_of(lab: &Lab, side: usize, iface: &str) -> String {
    lab.wg(side, &["show", iface, "endpoints"])
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned()
}
