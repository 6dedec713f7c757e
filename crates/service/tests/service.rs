//! culvertd end to end, in a namespace of its own, driven over its socket by the real
//! client: import, activate against a wireguard-go server, live stats events, then
//! `kill -9` and a restart that undoes the crashed run's network changes and brings the
//! tunnel back. Needs root.
#![cfg(target_os = "linux")]

mod common;

use common::{kill9, start_culvertd};
use culvert_config::TunnelName;
use culvert_ipc::{
    Client, ConfigText, Event, EventKind, OnConflict, Request, ResponseBody, TunnelState,
};
use culvert_netlab::{Keys, Kind, Lab, PeerSetup, TUNNEL_V4, UNDERLAY_V4, can_run, wait_for};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn connect(socket: &Path) -> Client {
    culvert_ipc::connect_with_retry(socket, 50, Duration::from_millis(100))
        .expect("culvertd answers")
}

fn rules(lab: &Lab) -> String {
    String::from_utf8(lab.ip(0, &["rule"]).stdout).unwrap()
}

#[test]
fn import_activate_crash_and_come_back() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new("/nonexistent/culvert-engine");
    lab.start(1, Kind::WireguardGo);
    let keys = Keys::generate(false);
    lab.configure(1, &keys, PeerSetup::default());
    let dir: PathBuf = std::env::temp_dir().join(format!("culvertd-e2e-{}", lab.id));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("resolv.conf"), "nameserver 192.0.2.53\n").unwrap();
    let socket = dir.join("culvertd.sock");
    let rules_before = rules(&lab);

    let daemon = start_culvertd(&mut lab, &socket, &dir);
    let client = connect(&socket);
    let name = TunnelName::new(&lab.iface[0]).unwrap();
    let text = format!(
        "[Interface]\nPrivateKey = {}\nAddress = {}/24\nDNS = 10.200.0.53\n\n[Peer]\nPublicKey = {}\n\
         AllowedIPs = {}/32\nEndpoint = {}:51001\n",
        keys.private[0], TUNNEL_V4[0], keys.public[1], TUNNEL_V4[1], UNDERLAY_V4[1]
    );
    let imported = client
        .request(Request::ImportTunnel {
            name: name.clone(),
            config_text: ConfigText::new(text),
            on_conflict: OnConflict::Fail,
        })
        .unwrap();
    assert!(matches!(imported, ResponseBody::Imported(_)));
    client
        .subscribe([EventKind::Tunnels, EventKind::Stats].into())
        .unwrap();
    client
        .request(Request::SetRoutingMode {
            name: name.clone(),
            mode: culvert_ipc::RoutingMode::Full,
        })
        .unwrap();
    client.activate(&name).unwrap();
    lab.ping(0, TUNNEL_V4[1]);

    // State changes and per-second statistics arrive as events.
    let mut saw_active = false;
    let mut saw_traffic = false;
    wait_for("state and stats events", Duration::from_secs(15), || {
        while let Ok(Some(event)) = client.next_event(Duration::from_millis(100)) {
            match event {
                Event::TunnelState {
                    state: TunnelState::Active,
                    ..
                } => saw_active = true,
                Event::Stats { peers, .. } => {
                    saw_traffic |= peers
                        .iter()
                        .any(|p| p.rx_bytes > 0 && p.latest_handshake_unix.is_some())
                }
                _ => {}
            }
        }
        saw_active && saw_traffic
    });
    let detail = client.get_tunnel(&name).unwrap();
    assert!(
        !detail.config_text.as_str().contains(&keys.private[0]),
        "the private key never leaves unasked"
    );
    assert!(detail.peers[0].latest_handshake_unix.is_some());
    assert_ne!(rules(&lab), rules_before, "full tunnel added policy rules");
    let resolver = std::fs::read_to_string(dir.join("resolv.conf")).unwrap();
    assert!(resolver.contains("10.200.0.53"), "{resolver}");

    // SIGHUP re-resolves stale endpoints; it does not stop the service.
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &daemon.to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    wait_for(
        "culvertd to log the SIGHUP",
        Duration::from_secs(10),
        || {
            let log = client.request(Request::ReadLog {
                since: None,
                limit: 1000,
            });
            matches!(log, Ok(ResponseBody::LogLines { lines })
            if lines.iter().any(|l| l.message.contains("SIGHUP")))
        },
    );
    assert!(client.status().unwrap().active.contains(&name));
    drop(client);

    // A crash: nothing is cleaned up by the dying process.
    kill9(daemon);
    wait_for(
        "the interface to vanish with its process",
        Duration::from_secs(10),
        || {
            !lab.try_exec(0, &["ip", "link", "show", name.as_str()])
                .status
                .success()
        },
    );
    assert_ne!(rules(&lab), rules_before, "the crash left the rules behind");

    // The next start undoes them, then restores the tunnel that was active.
    let _daemon = start_culvertd(&mut lab, &socket, &dir);
    let client = connect(&socket);
    wait_for("the tunnel to come back", Duration::from_secs(20), || {
        client
            .status()
            .map(|s| s.active.contains(&name))
            .unwrap_or(false)
    });
    lab.ping(0, TUNNEL_V4[1]);
    client.deactivate(&name).unwrap();
    assert_eq!(
        rules(&lab),
        rules_before,
        "deactivation left the rules as they were"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("resolv.conf")).unwrap(),
        "nameserver 192.0.2.53\n"
    );
    let tunnels = client.list_tunnels().unwrap();
    assert_eq!(tunnels.len(), 1);
    assert_eq!(
        tunnels[0].routing_mode,
        culvert_ipc::RoutingMode::Full,
        "the mode was kept"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
