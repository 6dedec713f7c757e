//! The `culvert` CLI's commands against a real culvertd in a namespace with a
//! wireguard-go peer: import, up, show (handshake, counters advancing), mode full and
//! back to split, down. Needs root.
#![cfg(target_os = "linux")]

mod common;

use clap::Parser;
use common::{client_config, server_lab, start_culvertd};
use culvert_cli::{Cli, IpcConnector, Terminal};
use culvert_netlab::{INTERNET_HOST, TUNNEL_V4, can_run};
use std::path::Path;

/// Runs one `culvert` command line and returns what it printed.
fn culvert(socket: &Path, args: &[&str]) -> String {
    let mut argv = vec!["culvert", "--socket", socket.to_str().unwrap()];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    let mut out = Vec::new();
    culvert_cli::run(
        cli,
        &mut out,
        &mut IpcConnector::default(),
        &mut Terminal::new(),
    )
    .unwrap_or_else(|e| panic!("{argv:?} failed: {e:#}"));
    String::from_utf8(out).unwrap()
}

fn rx_bytes(socket: &Path, name: &str) -> u64 {
    let json: serde_json::Value =
        serde_json::from_str(&culvert(socket, &["show", name, "--json"])).unwrap();
    let peers = json
        .pointer("/peers")
        .or_else(|| json.pointer("/0/peers"))
        .expect("peers in show --json");
    peers[0]["rx_bytes"].as_u64().unwrap()
}

#[test]
fn import_up_show_mode_down() {
    if !can_run() {
        return;
    }
    let (mut lab, keys) = server_lab();
    let dir = std::env::temp_dir().join(format!("culvert-cli-e2e-{}", lab.id));
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("culvertd.sock");
    start_culvertd(&mut lab, &socket, &dir);

    let name = lab.iface[0].clone();
    let file = dir.join(format!("{name}.conf"));
    std::fs::write(&file, client_config(&keys)).unwrap();
    culvert(&socket, &["import", file.to_str().unwrap()]);
    assert!(culvert(&socket, &["list"]).contains(&name));
    culvert(&socket, &["up", &name]);
    lab.ping(0, TUNNEL_V4[1]);
    let shown = culvert(&socket, &["show", &name]);
    assert!(
        shown.contains("latest handshake") && shown.contains("transfer"),
        "{shown}"
    );
    assert!(
        !shown.contains(&keys.private[0]),
        "show never prints the private key"
    );
    let before = rx_bytes(&socket, &name);
    lab.ping(0, TUNNEL_V4[1]);
    assert!(rx_bytes(&socket, &name) > before, "the counters advance");

    culvert(&socket, &["mode", &name, "full"]);
    assert_eq!(lab.route_device(0, INTERNET_HOST), name);
    lab.ping(0, INTERNET_HOST);
    culvert(&socket, &["mode", &name, "split"]);
    assert_eq!(lab.route_device(0, INTERNET_HOST), "uplink");

    culvert(&socket, &["down", &name]);
    assert!(
        !lab.try_exec(0, &["ip", "link", "show", &name])
            .status
            .success(),
        "the interface is gone"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
