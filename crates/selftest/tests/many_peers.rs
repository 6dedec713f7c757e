//! One Culvert interface with 100 peers: cryptokey routing sends each destination to
//! the peer that owns it, and a peer cannot spoof another peer's inner address (the
//! source-address check drops what it decrypts from the wrong peer). Needs root.
#![cfg(target_os = "linux")]

mod common;

use common::{new_lab, receive, udp_in};
use culvert_config::PrivateKey;
use culvert_netlab::{Keys, Kind, PeerSetup, TUNNEL_V4, can_run};
use std::time::Duration;

const PEERS: usize = 100;
/// Side 1's place among the peers; every peer i owns 10.201.i.0/24.
const REAL: usize = 42;
const OTHER: usize = 7;

#[test]
fn a_hundred_peers_route_by_key_and_no_peer_spoofs_another() {
    if !can_run() {
        return;
    }
    let mut lab = new_lab();
    lab.start(0, Kind::Culvert);
    lab.start(1, Kind::Culvert);
    let keys = Keys::generate(false);
    lab.configure(0, &keys, PeerSetup::initiator());
    lab.configure(1, &keys, PeerSetup::default());
    let iface = lab.iface[0].clone();

    let fake_keys: Vec<String> = (0..PEERS - 1)
        .map(|_| PrivateKey::generate().public_key().to_string())
        .collect();
    let mut owners: Vec<(String, String)> = Vec::new();
    let mut fakes = fake_keys.iter();
    for i in 0..PEERS {
        let range = format!("10.201.{i}.0/24");
        if i == REAL {
            owners.push((
                keys.public[1].clone(),
                format!("{}/32,{range}", TUNNEL_V4[1]),
            ));
        } else {
            owners.push((fakes.next().unwrap().clone(), range));
        }
    }
    let mut args = vec!["set".to_owned(), iface.clone()];
    for (key, allowed) in &owners {
        args.extend([
            "peer".into(),
            key.clone(),
            "allowed-ips".into(),
            allowed.clone(),
        ]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    lab.wg(0, &args);
    lab.ip(0, &["route", "add", "10.201.0.0/16", "dev", &iface]);
    let peers = lab.wg(0, &["show", &iface, "peers"]);
    assert_eq!(peers.lines().count(), PEERS, "{peers}");

    // Side 1 holds its own inner address and, to try a forgery, another peer's.
    let own = format!("10.201.{REAL}.5");
    let forged = format!("10.201.{OTHER}.5");
    for address in [&own, &forged] {
        lab.ip(
            1,
            &[
                "addr",
                "add",
                &format!("{address}/32"),
                "dev",
                &lab.iface[1],
            ],
        );
    }
    lab.ping(0, TUNNEL_V4[1]);

    // Inbound: from its own range it is heard, from another peer's it is not.
    let listener = udp_in(&lab, 0, &format!("{}:7000", TUNNEL_V4[0]));
    let to = format!("{}:7000", TUNNEL_V4[0]);
    let honest = udp_in(&lab, 1, &format!("{own}:0"));
    let spoofer = udp_in(&lab, 1, &format!("{forged}:0"));
    honest.send_to(b"honest 1", &to).unwrap();
    assert_eq!(
        receive(&listener, Duration::from_secs(10)).as_deref(),
        Some(&b"honest 1"[..])
    );
    for _ in 0..3 {
        spoofer.send_to(b"forged", &to).unwrap();
    }
    honest.send_to(b"honest 2", &to).unwrap();
    assert_eq!(
        receive(&listener, Duration::from_secs(10)).as_deref(),
        Some(&b"honest 2"[..]),
        "a forged inner source was delivered (or the honest one lost)"
    );
    assert_eq!(
        receive(&listener, Duration::from_secs(2)),
        None,
        "nothing else arrives"
    );

    // Outbound: each destination goes to the peer that owns it.
    let sender = udp_in(&lab, 0, &format!("{}:0", TUNNEL_V4[0]));
    let at_own = udp_in(&lab, 1, &format!("{own}:7001"));
    let at_forged = udp_in(&lab, 1, &format!("{forged}:7001"));
    sender
        .send_to(b"to peer 7", format!("{forged}:7001"))
        .unwrap();
    sender
        .send_to(b"to peer 42", format!("{own}:7001"))
        .unwrap();
    assert_eq!(
        receive(&at_own, Duration::from_secs(10)).as_deref(),
        Some(&b"to peer 42"[..])
    );
    assert_eq!(
        receive(&at_forged, Duration::from_secs(2)),
        None,
        "traffic for peer {OTHER}'s range went to peer {REAL}"
    );
}
