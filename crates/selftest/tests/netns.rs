//! Network scenarios after the Linux kernel's WireGuard selftest (netns.sh), with
//! Culvert on one or both sides, in namespaces of their own: both directions over both
//! families, a small underlay MTU, a lossy / duplicating / reordering path, replayed
//! packets, roaming, a peer restarting with the same and with new keys, and keepalives
//! through a NAT whose mapping is lost. Needs root.
#![cfg(target_os = "linux")]

mod common;

use common::{endpoint_of, key_file, new_lab, receive, udp_in};
use culvert_netlab::{
    Family, Keys, Kind, PeerSetup, TUNNEL_V4, TUNNEL_V6, UNDERLAY_V4, can_run, wait_for,
};
use culvert_selftest::{ImpairingRelay, Impairment, scale, scratch_dir};
use std::time::Duration;

fn megabytes(n: usize) -> usize {
    (n * scale() as usize) << 20
}

#[test]
fn ping_and_tcp_both_ways_over_both_families_on_an_ipv6_underlay() {
    if !can_run() {
        return;
    }
    let mut lab = new_lab();
    lab.start(0, Kind::Culvert);
    lab.start(1, Kind::Culvert);
    let keys = Keys::generate(true);
    lab.configure(
        0,
        &keys,
        PeerSetup {
            endpoint: Some(Family::V6),
            keepalive: None,
        },
    );
    lab.configure(1, &keys, PeerSetup::default());
    for (from, to) in [(0, 1), (1, 0)] {
        lab.ping(from, TUNNEL_V4[to]);
        lab.ping(from, TUNNEL_V6[to]);
        lab.tcp_transfer(from, TUNNEL_V4[to], megabytes(8));
        lab.tcp_transfer(from, TUNNEL_V6[to], megabytes(8));
    }
    assert!(
        endpoint_of(&lab, 1, &lab.iface[1]).starts_with("[2001:db8:c0::1]"),
        "the responder learned the IPv6 endpoint"
    );
}

/// The underlay carries 1,280 bytes while the tunnel MTU is 1,420: full-size tunnel
/// packets only cross as fragmented UDP. A sender that set DF on its socket would
/// black-hole them; inside the tunnel, DF packets over the tunnel MTU get the local
/// "message too long" (the kernel's frag-needed) instead of vanishing.
#[test]
fn a_small_underlay_mtu_fragments_outer_packets_and_never_blackholes() {
    if !can_run() {
        return;
    }
    let mut lab = new_lab();
    for side in 0..2 {
        lab.ip(side, &["link", "set", "uplink", "mtu", "1280"]);
    }
    lab.connect([Kind::Culvert, Kind::Culvert], false);
    lab.ping(0, TUNNEL_V4[1]);
    // 1,392 bytes of ICMP payload + 28 of headers = exactly the tunnel MTU, DF set.
    for (from, to) in [(0, 1), (1, 0)] {
        let out = lab.try_exec(
            from,
            &[
                "ping",
                "-c",
                "3",
                "-i",
                "0.2",
                "-w",
                "10",
                "-M",
                "do",
                "-s",
                "1392",
                TUNNEL_V4[to],
            ],
        );
        assert!(
            out.status.success(),
            "a full-MTU DF ping from side {from} crossed the 1280-byte underlay:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    // Larger than the tunnel MTU with DF: refused at once, with the MTU named.
    let out = lab.try_exec(
        0,
        &[
            "ping",
            "-c",
            "1",
            "-W",
            "2",
            "-M",
            "do",
            "-s",
            "1500",
            TUNNEL_V4[1],
        ],
    );
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.status.success() && said.contains("mtu=1420"),
        "DF over the tunnel MTU is refused with the MTU:\n{said}"
    );
}

/// Bursts of full-size tunnel packets over the 1,280-byte underlay: fragmented large
/// ICMP messages and a TCP transfer. The engine sends equal-sized runs with UDP GSO,
/// and the kernel refuses a GSO segment larger than the route MTU (EINVAL: segments are
/// never fragmented); the engine must fall back to single datagrams, which the kernel
/// fragments. (Found here: the fallback once covered only EIO.)
#[test]
fn bursts_over_a_small_underlay_mtu_are_fragmented_not_dropped() {
    if !can_run() {
        return;
    }
    let mut lab = new_lab();
    for side in 0..2 {
        lab.ip(side, &["link", "set", "uplink", "mtu", "1280"]);
    }
    lab.connect([Kind::Culvert, Kind::Culvert], false);
    lab.ping(0, TUNNEL_V4[1]);
    for to in [TUNNEL_V4[1], TUNNEL_V6[1]] {
        let out = lab.try_exec(
            0,
            &["ping", "-c", "3", "-i", "0.2", "-w", "10", "-s", "8000", to],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    lab.tcp_transfer(0, TUNNEL_V4[1], megabytes(4));
    lab.tcp_transfer(1, TUNNEL_V6[0], megabytes(4));
}

/// 5% loss, 5% duplication and 10% reordering each way on the underlay: transfers
/// complete with every byte checked, duplicates are rejected by the replay window and
/// reordered packets are not.
#[test]
fn transfers_complete_over_a_lossy_duplicating_reordering_path() {
    if !can_run() {
        return;
    }
    let mut lab = new_lab();
    lab.start(0, Kind::Culvert);
    lab.start(1, Kind::Culvert);
    let keys = Keys::generate(false);
    lab.configure(0, &keys, PeerSetup::default());
    lab.configure(1, &keys, PeerSetup::default());
    let relay = lab
        .in_ns(1, || {
            ImpairingRelay::start(
                "192.0.2.2:61001".parse().unwrap(),
                "192.0.2.2:51001".parse().unwrap(),
                Impairment {
                    loss_percent: 5,
                    duplicate_percent: 5,
                    reorder_percent: 10,
                    seed: 11,
                },
            )
        })
        .join()
        .unwrap();
    let iface = lab.iface[0].clone();
    lab.wg(
        0,
        &[
            "set",
            &iface,
            "peer",
            &keys.public[1],
            "endpoint",
            &relay.front().to_string(),
        ],
    );
    lab.ping(0, TUNNEL_V4[1]);
    lab.ping(1, TUNNEL_V6[0]);
    lab.tcp_transfer(0, TUNNEL_V4[1], megabytes(4));
    lab.tcp_transfer(1, TUNNEL_V4[0], megabytes(4));
    let counts = relay.counts();
    assert!(
        counts.dropped > 0 && counts.duplicated > 0 && counts.reordered > 0,
        "the path was impaired: {counts:?}"
    );
}

/// An encrypted data packet captured on the underlay and sent again is dropped: the
/// payload is not delivered twice, the receive counter does not move and the endpoint
/// stays; the next legitimate packet still arrives.
#[test]
fn a_replayed_data_packet_is_dropped_and_the_next_real_one_is_not() {
    if !can_run() {
        return;
    }
    let mut lab = new_lab();
    lab.connect([Kind::Culvert, Kind::Culvert], true);
    lab.ping(0, TUNNEL_V4[1]);
    lab.wait_for_handshake();
    let listener = udp_in(&lab, 1, &format!("{}:7000", TUNNEL_V4[1]));
    let sender = udp_in(&lab, 0, &format!("{}:0", TUNNEL_V4[0]));
    let capture = lab.in_ns(0, underlay_capture::open).join().unwrap();

    let marker = b"culvert replay marker 1".to_vec();
    sender
        .send_to(&marker, format!("{}:7000", TUNNEL_V4[1]))
        .unwrap();
    assert_eq!(
        receive(&listener, Duration::from_secs(10)).as_deref(),
        Some(&marker[..])
    );
    let datagram = underlay_capture::next_transport_to(&capture, 51_001)
        .expect("the encrypted packet was seen on the underlay");
    wait_for(
        "the receive counter to settle",
        Duration::from_secs(5),
        || {
            let first = lab.transfer(1).0;
            std::thread::sleep(Duration::from_millis(200));
            first == lab.transfer(1).0
        },
    );
    let rx_before = lab.transfer(1).0;

    // The attacker's copies come from another port of the same host.
    let attacker = udp_in(&lab, 0, &format!("{}:0", UNDERLAY_V4[0]));
    for _ in 0..3 {
        attacker
            .send_to(&datagram, format!("{}:51001", UNDERLAY_V4[1]))
            .unwrap();
    }
    assert_eq!(
        receive(&listener, Duration::from_secs(2)),
        None,
        "a replayed packet was delivered"
    );
    assert_eq!(lab.transfer(1).0, rx_before, "replays counted as received");
    assert!(
        endpoint_of(&lab, 1, &lab.iface[1]).ends_with(":51000"),
        "a replay moved the endpoint: {}",
        endpoint_of(&lab, 1, &lab.iface[1])
    );

    let next = b"culvert replay marker 2".to_vec();
    sender
        .send_to(&next, format!("{}:7000", TUNNEL_V4[1]))
        .unwrap();
    assert_eq!(
        receive(&listener, Duration::from_secs(10)).as_deref(),
        Some(&next[..])
    );
}

/// Culvert's own underlay address changes (a laptop changing networks): its packets
/// leave from the new address and the peer (wireguard-go) follows.
#[test]
fn culvert_roams_and_the_peer_follows() {
    if !can_run() {
        return;
    }
    let mut lab = new_lab();
    lab.connect([Kind::Culvert, Kind::WireguardGo], false);
    lab.ping(0, TUNNEL_V4[1]);
    let peer_iface = lab.iface[1].clone();
    assert!(endpoint_of(&lab, 1, &peer_iface).starts_with("192.0.2.1:"));
    lab.ip(0, &["addr", "del", "192.0.2.1/24", "dev", "uplink"]);
    lab.ip(0, &["addr", "add", "192.0.2.9/24", "dev", "uplink"]);
    lab.ping(0, TUNNEL_V4[1]);
    lab.tcp_transfer(1, TUNNEL_V4[0], megabytes(2));
    assert!(
        endpoint_of(&lab, 1, &peer_iface).starts_with("192.0.2.9:"),
        "the peer follows Culvert: {}",
        endpoint_of(&lab, 1, &peer_iface)
    );
}

/// The initiator restarts with the same keys (a reboot: its new handshake must be
/// accepted over the old session), then the responder comes back with a new key set
/// and the initiator is told only its new public key.
#[test]
fn a_peer_restarting_with_the_same_and_with_new_keys_is_reached_again() {
    if !can_run() {
        return;
    }
    let mut lab = new_lab();
    let keys = lab.connect([Kind::Culvert, Kind::Culvert], true);
    lab.ping(0, TUNNEL_V4[1]);
    lab.wait_for_handshake();

    lab.stop(0);
    lab.start(0, Kind::Culvert);
    lab.configure(0, &keys, PeerSetup::initiator());
    lab.ping(0, TUNNEL_V4[1]);
    lab.ping(1, TUNNEL_V6[0]);

    lab.stop(1);
    lab.start(1, Kind::Culvert);
    let fresh = Keys::generate(false);
    let mixed = Keys {
        private: [keys.private[0].clone(), fresh.private[1].clone()],
        public: [keys.public[0].clone(), fresh.public[1].clone()],
        psk: None,
    };
    lab.configure(1, &mixed, PeerSetup::default());
    let iface = lab.iface[0].clone();
    let allowed = format!("{}/32,{}/128", TUNNEL_V4[1], TUNNEL_V6[1]);
    let endpoint = format!("{}:51001", UNDERLAY_V4[1]);
    lab.wg(
        0,
        &[
            "set",
            &iface,
            "peer",
            &keys.public[1],
            "remove",
            "peer",
            &mixed.public[1],
            "allowed-ips",
            &allowed,
            "endpoint",
            &endpoint,
        ],
    );
    lab.ping(0, TUNNEL_V4[1]);
    lab.tcp_transfer(1, TUNNEL_V4[0], megabytes(2));
    assert_eq!(
        lab.wg(0, &["show", &iface, "peers"]).trim(),
        mixed.public[1],
        "only the new key is a peer"
    );
}

/// Culvert behind a masquerading NAT, with a persistent keepalive, talks to a Culvert
/// "server" on the far side. The NAT loses its state (conntrack flushed): the server's
/// next packets die at the NAT until the client's keepalive makes a new mapping (a new
/// port), which the server follows, so the server reaches the client again unprompted.
#[test]
fn keepalives_restore_the_path_through_a_nat_that_lost_its_mapping() {
    if !can_run() {
        return;
    }
    let mut lab = new_lab();
    let far = lab.add_internet_host();
    let server_iface = format!("cvc{}", lab.id);
    let dir = scratch_dir("nat");
    lab.start(0, Kind::Culvert);
    common::start_engine_on(&mut lab, 2, &server_iface);
    let keys = Keys::generate(true);
    let psk = key_file(&dir, "psk", keys.psk.as_ref().unwrap());
    let client_iface = lab.iface[0].clone();
    lab.wg(
        0,
        &[
            "set",
            &client_iface,
            "private-key",
            &key_file(&dir, "client.key", &keys.private[0]),
            "listen-port",
            "51000",
            "peer",
            &keys.public[1],
            "preshared-key",
            &psk,
            "allowed-ips",
            "10.200.0.2/32",
            "endpoint",
            &format!("{far}:51002"),
            "persistent-keepalive",
            "1",
        ],
    );
    lab.ip(0, &["addr", "add", "10.200.0.1/24", "dev", &client_iface]);
    lab.ip(0, &["link", "set", &client_iface, "up"]);
    lab.wg(
        2,
        &[
            "set",
            &server_iface,
            "private-key",
            &key_file(&dir, "server.key", &keys.private[1]),
            "listen-port",
            "51002",
            "peer",
            &keys.public[0],
            "preshared-key",
            &psk,
            "allowed-ips",
            "10.200.0.1/32",
        ],
    );
    lab.ip(2, &["addr", "add", "10.200.0.2/24", "dev", &server_iface]);
    lab.ip(2, &["link", "set", &server_iface, "up"]);

    lab.ping(0, "10.200.0.2");
    lab.ping(2, "10.200.0.1");
    let before = endpoint_of(&lab, 2, &server_iface);
    assert!(before.starts_with("198.51.100.1:"), "{before}");

    // The NAT forgets; the server speaks first into the void, which also takes the
    // client's old port on the NAT for that stray flow.
    lab.exec(1, &["conntrack", "-F"]);
    let _ = lab.try_exec(2, &["ping", "-c", "1", "-W", "1", "10.200.0.1"]);
    // No traffic from the client but its keepalives: the server reaches it again.
    let out = lab.try_exec(
        2,
        &["ping", "-c", "3", "-i", "0.5", "-w", "15", "10.200.0.1"],
    );
    assert!(
        out.status.success(),
        "the server reaches the client again through the NAT:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Reads UDP datagrams as the underlay carries them, from an AF_PACKET socket in one
/// namespace (both directions, every interface).
mod underlay_capture {
    use socket2::{Domain, Protocol, Socket, Type};
    use std::io::Read;
    use std::time::{Duration, Instant};

    pub(crate) fn open() -> Socket {
        // ETH_P_ALL: sockets for one protocol see only what arrives, not what leaves.
        let eth_p_all = (libc::ETH_P_ALL as u16).to_be();
        let socket = Socket::new(
            Domain::PACKET,
            Type::DGRAM,
            Some(Protocol::from(i32::from(eth_p_all))),
        )
        .expect("AF_PACKET socket (needs root)");
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        socket
    }

    /// The UDP payload of the next WireGuard transport message carrying data (not a
    /// keepalive) sent to `port`, looking for ten seconds at most.
    pub(crate) fn next_transport_to(mut socket: &Socket, port: u16) -> Option<Vec<u8>> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut buf = vec![0u8; 65_536];
        while Instant::now() < deadline {
            let Ok(n) = socket.read(&mut buf) else {
                continue;
            };
            let packet = &buf[..n];
            if packet.len() < 28 || packet[0] >> 4 != 4 || packet[9] != 17 {
                continue;
            }
            let header = usize::from(packet[0] & 0x0f) * 4;
            let Some(udp) = packet.get(header..) else {
                continue;
            };
            if udp.len() < 8 || u16::from_be_bytes([udp[2], udp[3]]) != port {
                continue;
            }
            let payload = &udp[8..];
            if payload.len() > 32 && payload[..4] == [4, 0, 0, 0] {
                return Some(payload.to_vec());
            }
        }
        None
    }
}
