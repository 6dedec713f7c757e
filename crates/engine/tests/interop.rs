//! Culvert against wireguard-go (Debian) and boringtun (crates.io), in both roles, in
//! network namespaces of its own. Needs root; CI runs it as root.
#![cfg(target_os = "linux")]

use culvert_netlab as lab;
use lab::{Family, Keys, Kind, PeerSetup, TUNNEL_V4, TUNNEL_V6, can_run, wait_for};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

const TRANSFER: usize = 50 << 20;

fn new_lab() -> lab::Lab {
    lab::Lab::new(env!("CARGO_BIN_EXE_culvert-engine"))
}

/// Side 0 runs Culvert, side 1 runs `other`. The initiator is the side that knows the
/// other's endpoint.
fn interop(other: Kind, culvert_initiates: bool, underlay: Family, with_psk: bool) {
    if !can_run() {
        return;
    }
    let mut lab = new_lab();
    lab.start(0, Kind::Culvert);
    lab.start(1, other);
    let keys = Keys::generate(with_psk);
    let (culvert, peer) = if culvert_initiates {
        (
            PeerSetup {
                endpoint: Some(underlay),
                ..Default::default()
            },
            PeerSetup::default(),
        )
    } else {
        (
            PeerSetup::default(),
            PeerSetup {
                endpoint: Some(underlay),
                ..Default::default()
            },
        )
    };
    lab.configure(0, &keys, culvert);
    lab.configure(1, &keys, peer);
    let initiator = if culvert_initiates { 0 } else { 1 };
    lab.ping(initiator, TUNNEL_V4[1 - initiator]);
    lab.wait_for_handshake();
    lab.ping(1 - initiator, TUNNEL_V4[initiator]);
    lab.ping(0, TUNNEL_V6[1]);
    lab.ping(1, TUNNEL_V6[0]);
    lab.tcp_transfer(0, TUNNEL_V4[1], TRANSFER);
    lab.tcp_transfer(1, TUNNEL_V4[0], TRANSFER);
    lab.tcp_transfer(0, TUNNEL_V6[1], TRANSFER / 10);

    // `wg show` on the Culvert interface reports the peer, its handshake and traffic.
    let shown = lab.wg(0, &["show", &lab.iface[0]]);
    for expected in [
        keys.public[1].as_str(),
        "latest handshake",
        "transfer",
        "allowed ips",
    ] {
        assert!(
            shown.contains(expected),
            "wg show lacks {expected:?}:\n{shown}"
        );
    }
    let (rx, tx) = lab.transfer(0);
    assert!(
        rx > TRANSFER as u64 && tx > TRANSFER as u64,
        "rx {rx}, tx {tx}"
    );
}

#[test]
fn culvert_initiates_to_wireguard_go_over_ipv4_with_psk() {
    interop(Kind::WireguardGo, true, Family::V4, true);
}

#[test]
fn wireguard_go_initiates_to_culvert_over_ipv6() {
    interop(Kind::WireguardGo, false, Family::V6, false);
}

#[test]
fn culvert_initiates_to_boringtun_over_ipv6_with_psk() {
    interop(Kind::Boringtun, true, Family::V6, true);
}

#[test]
fn boringtun_initiates_to_culvert_over_ipv4() {
    interop(Kind::Boringtun, false, Family::V4, false);
}

#[test]
fn culvert_to_culvert() {
    interop(Kind::Culvert, true, Family::V4, true);
}

/// The peer's underlay address changes mid-transfer; Culvert follows it.
fn roaming(peer: Kind) {
    if !can_run() {
        return;
    }
    let mut lab = new_lab();
    lab.start(0, Kind::Culvert);
    lab.start(1, peer);
    let keys = Keys::generate(false);
    // The peer knows Culvert's endpoint; Culvert learns the peer's from its packets.
    lab.configure(0, &keys, PeerSetup::default());
    lab.configure(
        1,
        &keys,
        PeerSetup {
            endpoint: Some(Family::V4),
            ..Default::default()
        },
    );
    lab.ping(1, TUNNEL_V4[0]);
    let endpoint = |lab: &lab::Lab| lab.wg(0, &["show", &lab.iface[0], "endpoints"]);
    assert!(endpoint(&lab).contains("192.0.2.2:"), "{}", endpoint(&lab));

    let roam = {
        let ns = lab.ns[1].clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            // Deleting a primary address takes its secondaries along, so the old one
            // goes first, as when a laptop changes networks.
            lab::run(&[
                "ip",
                "-n",
                &ns,
                "addr",
                "del",
                "192.0.2.2/24",
                "dev",
                "uplink",
            ]);
            lab::run(&[
                "ip",
                "-n",
                &ns,
                "addr",
                "add",
                "192.0.2.3/24",
                "dev",
                "uplink",
            ]);
        })
    };
    lab.tcp_transfer(1, TUNNEL_V4[0], TRANSFER);
    roam.join().unwrap();
    lab.tcp_transfer(0, TUNNEL_V4[1], TRANSFER / 10);
    assert!(
        endpoint(&lab).contains("192.0.2.3:"),
        "Culvert follows the peer: {}",
        endpoint(&lab)
    );
}

#[test]
fn culvert_follows_a_roaming_culvert_peer() {
    roaming(Kind::Culvert);
}

/// wireguard-go keeps sending from the address it lost until its 15-second
/// new-handshake timer clears it, so this one takes about half a minute. (boringtun
/// keeps its old source address for good, so it is not tested roaming.)
#[test]
fn culvert_follows_a_roaming_wireguard_go_peer() {
    roaming(Kind::WireguardGo);
}

#[test]
fn persistent_keepalive_is_on_the_wire() {
    if !can_run() {
        return;
    }
    let mut lab = new_lab();
    lab.start(0, Kind::Culvert);
    lab.start(1, Kind::WireguardGo);
    let keys = Keys::generate(false);
    lab.configure(
        0,
        &keys,
        PeerSetup {
            endpoint: Some(Family::V4),
            keepalive: Some(1),
        },
    );
    lab.configure(1, &keys, PeerSetup::default());
    // No traffic at all: the keepalive alone brings the tunnel up and keeps arriving.
    lab.wait_for_handshake();
    let (rx_before, _) = lab.transfer(1);
    wait_for(
        "three more keepalives at the peer",
        Duration::from_secs(15),
        || lab.transfer(1).0 >= rx_before + 3 * 32,
    );
    let shown = lab.wg(0, &["show", &lab.iface[0]]);
    assert!(
        shown.contains("persistent keepalive: every 1 second"),
        "{shown}"
    );
}

#[test]
fn a_peer_with_the_wrong_key_never_completes_a_handshake() {
    if !can_run() {
        return;
    }
    let mut lab = new_lab();
    lab.start(0, Kind::Culvert);
    lab.start(1, Kind::WireguardGo);
    let mut keys = Keys::generate(false);
    // Culvert expects a key the peer does not have.
    let wrong = Keys::generate(false);
    keys.public[1] = wrong.public[1].clone();
    lab.configure(
        0,
        &keys,
        PeerSetup {
            endpoint: Some(Family::V4),
            keepalive: Some(1),
        },
    );
    lab.configure(1, &keys, PeerSetup::default());
    let out = lab.try_exec(0, &["ping", "-c", "2", "-W", "1", TUNNEL_V4[1]]);
    assert!(!out.status.success(), "no traffic without a handshake");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(lab.latest_handshake(0), 0);
    assert_eq!(lab.latest_handshake(1), 0);
}

#[test]
fn malformed_uapi_requests_are_refused_and_the_interface_lives_on() {
    if !can_run() {
        return;
    }
    let mut lab = new_lab();
    lab.start(0, Kind::Culvert);
    let socket = lab::socket_path(&lab.iface[0]);
    let ask = |request: &[u8]| -> String {
        let mut stream = UnixStream::connect(&socket).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.write_all(request).unwrap();
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        let mut reply = String::new();
        let _ = stream.read_to_string(&mut reply);
        reply
    };
    assert_eq!(ask(b"set=1\nprivate_key=nothex\n\n"), "errno=-22\n\n");
    assert_eq!(ask(b"set=1\nlisten_port=99999\n\n"), "errno=-22\n\n");
    assert_eq!(ask(b"\x00\xff garbage\n"), "");
    assert_eq!(ask(&[b'a'; 100_000]), "");
    let reply = ask(b"get=1\n\n");
    assert!(reply.ends_with("errno=0\n\n"), "{reply}");
    // `wg` itself still works against it.
    let keys = Keys::generate(false);
    lab.configure(0, &keys, PeerSetup::default());
    let shown = lab.wg(0, &["show", &lab.iface[0]]);
    assert!(shown.contains(&keys.public[1]), "{shown}");
}

#[test]
fn live_changes_leave_the_running_session_alone() {
    if !can_run() {
        return;
    }
    let mut lab = new_lab();
    let keys = lab.connect([Kind::Culvert, Kind::WireguardGo], true);
    lab.ping(0, TUNNEL_V4[1]);
    lab.wait_for_handshake();
    let handshake = lab.latest_handshake(0);
    let iface = lab.iface[0].clone();
    let other = Keys::generate(false).public[0].clone();
    // Add a peer, give it routes, move one of them, remove it; change fwmark and our
    // peer's routes: the live session never restarts.
    lab.wg(
        0,
        &[
            "set",
            &iface,
            "peer",
            &other,
            "allowed-ips",
            "10.99.0.0/24,10.98.0.0/24",
        ],
    );
    lab.wg(
        0,
        &[
            "set",
            &iface,
            "peer",
            &keys.public[1],
            "allowed-ips",
            &format!("{}/32,10.98.0.0/24", TUNNEL_V4[1]),
        ],
    );
    let routes = lab.wg(0, &["show", &iface, "allowed-ips"]);
    assert!(
        routes
            .lines()
            .any(|l| l.starts_with(&keys.public[1]) && l.contains("10.98.0.0/24")),
        "{routes}"
    );
    lab.wg(
        0,
        &["set", &iface, "fwmark", "0x1234", "peer", &other, "remove"],
    );
    assert_eq!(lab.wg(0, &["show", &iface, "fwmark"]).trim(), "0x1234");
    assert_eq!(lab.wg(0, &["show", &iface, "peers"]).trim(), keys.public[1]);
    lab.ping(0, TUNNEL_V4[1]);
    lab.tcp_transfer(0, TUNNEL_V4[1], TRANSFER / 10);
    assert_eq!(
        lab.latest_handshake(0),
        handshake,
        "no new handshake was needed"
    );
}

#[test]
fn stopping_the_daemon_removes_the_interface_and_its_socket() {
    if !can_run() {
        return;
    }
    let mut lab = new_lab();
    lab.start(0, Kind::Culvert);
    let iface = lab.iface[0].clone();
    assert!(
        lab.try_exec(0, &["ip", "link", "show", &iface])
            .status
            .success()
    );
    lab.stop(0);
    let socket = lab::socket_path(&iface);
    wait_for("the socket to go", Duration::from_secs(10), || {
        !socket.exists()
    });
    wait_for("the interface to go", Duration::from_secs(10), || {
        !lab.try_exec(0, &["ip", "link", "show", &iface])
            .status
            .success()
    });
}

/// The offloads under real traffic: Culvert's TUN takes TCP super-packets from the kernel
/// (TSO) and hands coalesced ones back (GRO); large transfers both ways, over IPv4 and
/// IPv6, arrive byte for byte, and neither kernel counts a checksum error.
fn offloads_keep_transfers_intact(other: Kind) {
    if !can_run() {
        return;
    }
    let mut lab = new_lab();
    lab.connect([Kind::Culvert, other], false);
    lab.ping(0, TUNNEL_V4[1]);
    let before = tun_counters(&lab, 0);
    lab.tcp_transfer(0, TUNNEL_V4[1], TRANSFER);
    lab.tcp_transfer(0, TUNNEL_V6[1], TRANSFER / 5);
    let sent = tun_counters(&lab, 0);
    lab.tcp_transfer(1, TUNNEL_V4[0], TRANSFER);
    lab.tcp_transfer(1, TUNNEL_V6[0], TRANSFER / 5);
    let received = tun_counters(&lab, 0);
    // The kernel's view of the TUN: what it sent us came in super-packets, and what we
    // wrote to it went in coalesced ones, both far above the 1,420-byte MTU on average.
    let average = |bytes: u64, packets: u64| bytes / packets.max(1);
    let tso = average(
        sent.tx_bytes - before.tx_bytes,
        sent.tx_packets - before.tx_packets,
    );
    let gro = average(
        received.rx_bytes - sent.rx_bytes,
        received.rx_packets - sent.rx_packets,
    );
    assert!(
        tso > 4 * 1420,
        "average packet from the kernel {tso} bytes: no TSO?"
    );
    assert!(
        gro > 4 * 1420,
        "average packet to the kernel {gro} bytes: no coalescing?"
    );
    for side in 0..2 {
        assert_eq!(checksum_errors(&lab, side), 0, "side {side}");
    }
}

#[test]
fn offloads_keep_transfers_intact_with_wireguard_go() {
    offloads_keep_transfers_intact(Kind::WireguardGo);
}

#[test]
fn offloads_keep_transfers_intact_between_culverts() {
    offloads_keep_transfers_intact(Kind::Culvert);
}

#[derive(Debug, Clone, Copy)]
struct TunCounters {
    rx_bytes: u64,
    rx_packets: u64,
    tx_bytes: u64,
    tx_packets: u64,
}

fn tun_counters(lab: &lab::Lab, side: usize) -> TunCounters {
    let read = |name: &str| -> u64 {
        let path = format!("/sys/class/net/{}/statistics/{name}", lab.iface[side]);
        let out = lab.exec(side, &["cat", &path]);
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    TunCounters {
        rx_bytes: read("rx_bytes"),
        rx_packets: read("rx_packets"),
        tx_bytes: read("tx_bytes"),
        tx_packets: read("tx_packets"),
    }
}

/// TCP and UDP segments the namespace's kernel dropped for a bad checksum.
fn checksum_errors(lab: &lab::Lab, side: usize) -> u64 {
    let snmp = String::from_utf8(lab.exec(side, &["cat", "/proc/net/snmp"]).stdout).unwrap();
    let mut total = 0;
    for protocol in ["Tcp:", "Udp:"] {
        let mut lines = snmp.lines().filter(|l| l.starts_with(protocol));
        let (Some(names), Some(values)) = (lines.next(), lines.next()) else {
            panic!("no {protocol} counters in /proc/net/snmp");
        };
        let column = names
            .split_whitespace()
            .position(|n| n == "InCsumErrors")
            .expect("InCsumErrors counter");
        total += values
            .split_whitespace()
            .nth(column)
            .and_then(|v| v.parse::<u64>().ok())
            .expect("a counter value");
    }
    total
}
