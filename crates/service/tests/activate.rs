//! A stored config activated by the service core against a wireguard-go server, in a
//! namespace of its own: traffic flows, routing modes switch live without a new
//! handshake, and deactivation leaves the namespace as it was. Needs root.
#![cfg(target_os = "linux")]

mod common;

use common::{client_config, server_lab};
use culvert_config::{Config, TunnelName};
use culvert_netconf::Paths;
use culvert_netlab::{INTERNET_HOST, Lab, TUNNEL_V4, can_run, wait_for};
use culvertd::{ActiveTunnel, Resolved, RoutingMode, TunnelOptions};
use std::time::Duration;

fn rules_and_routes(lab: &Lab) -> String {
    let mut all = String::new();
    for args in [&["rule"][..], &["-6", "rule"], &["route"]] {
        all.push_str(&String::from_utf8(lab.ip(0, args).stdout).unwrap());
    }
    // Our policy table exists only while routes are in it.
    let table = lab.try_exec(0, &["ip", "route", "show", "table", "51820"]);
    all.push_str(&String::from_utf8(table.stdout).unwrap());
    all
}

#[test]
fn activate_switch_modes_and_deactivate() {
    if !can_run() {
        return;
    }
    let (lab, keys) = server_lab();
    let before = rules_and_routes(&lab);
    let text = client_config(&keys);
    let config = Config::parse(&text).unwrap().config;
    let name = TunnelName::new(&lab.iface[0]).unwrap();
    let dir = std::env::temp_dir().join(format!("culvertd-activate-{}", lab.id));
    let paths = Paths {
        journal_dir: dir.join("journal"),
        resolv_conf: dir.join("resolv.conf"),
    };
    let tunnel = {
        let (name, paths) = (name.clone(), paths.clone());
        lab.in_ns(0, move || {
            // The endpoint is an address: nothing to look up.
            let resolved = Resolved::default();
            ActiveTunnel::activate(&name, &config, TunnelOptions::default(), &resolved, &paths)
                .unwrap()
        })
        .join()
        .unwrap()
    };
    lab.ping(0, TUNNEL_V4[1]);
    lab.wait_for_handshake();
    assert_eq!(
        lab.route_device(0, INTERNET_HOST),
        "uplink",
        "split: the internet directly"
    );
    let shown = lab.wg(0, &["show", name.as_str()]);
    assert!(
        shown.contains(&keys.public[1]) && shown.contains("latest handshake"),
        "{shown}"
    );
    let handshake = lab.latest_handshake(0);

    // Full tunnel, live: the internet host is reached through the tunnel.
    let tunnel = lab
        .in_ns(0, move || {
            let mut tunnel = tunnel;
            tunnel.set_mode(RoutingMode::Full).unwrap();
            tunnel
        })
        .join()
        .unwrap();
    assert_eq!(lab.route_device(0, INTERNET_HOST), name.as_str());
    lab.ping(0, INTERNET_HOST);
    let tunnel = lab
        .in_ns(0, move || {
            let mut tunnel = tunnel;
            tunnel.set_mode(RoutingMode::ExcludePrivate).unwrap();
            tunnel
        })
        .join()
        .unwrap();
    // 198.51.100.0/24 is a public (documentation) range: still through the tunnel.
    assert_eq!(lab.route_device(0, INTERNET_HOST), name.as_str());
    assert_eq!(
        lab.route_device(0, "10.1.2.3"),
        "uplink",
        "private ranges stay local"
    );
    lab.ping(0, INTERNET_HOST);
    assert_eq!(
        lab.latest_handshake(0),
        handshake,
        "switching modes kept the session"
    );

    lab.in_ns(0, move || tunnel.deactivate().unwrap())
        .join()
        .unwrap();
    let socket = culvert_netlab::socket_path(name.as_str());
    wait_for(
        "the tunnel's UAPI socket to go",
        Duration::from_secs(10),
        || !socket.exists(),
    );
    assert!(
        !lab.try_exec(0, &["ip", "link", "show", name.as_str()])
            .status
            .success(),
        "interface removed"
    );
    assert_eq!(
        rules_and_routes(&lab),
        before,
        "deactivation restored rules and routes"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
