//! netconf on a real network of three namespaces: a client running a userspace WireGuard
//! (wireguard-go, so these tests do not depend on our engine), a server that forwards and
//! NATs, and an "internet" host behind it. Needs root; CI runs it as root.
#![cfg(target_os = "linux")]

use culvert_netconf::journal::{Journal, Undo};
use culvert_netconf::{
    Dns, Guard, NetConf, POLICY_TABLE, Paths, Routing, TunnelNetwork, killswitch, recover,
};
use culvert_netlab::{INTERNET_HOST, Kind, Lab, TUNNEL_V4, UNDERLAY_V4, can_run};
use std::path::PathBuf;
use std::time::Duration;

const FWMARK: u32 = 51820;

struct Setup {
    lab: Lab,
    paths: Paths,
    network: TunnelNetwork,
}

fn setup(name: &str) -> Setup {
    let mut lab = Lab::new("/nonexistent/culvert-engine");
    let keys = lab.connect([Kind::WireguardGo, Kind::WireguardGo], false);
    lab.add_internet_host();
    let iface = lab.iface[0].clone();
    // The client sends everything to the server, and marks the tunnel's own packets.
    lab.wg(
        0,
        &[
            "set",
            &iface,
            "fwmark",
            &FWMARK.to_string(),
            "peer",
            &keys.public[1],
            "allowed-ips",
            "0.0.0.0/0,::/0",
        ],
    );
    lab.ping(0, TUNNEL_V4[1]);
    let dir = std::env::temp_dir().join(format!("culvert-netconf-{name}-{}", lab.id));
    std::fs::create_dir_all(&dir).unwrap();
    let resolv_conf = dir.join("resolv.conf");
    std::fs::write(&resolv_conf, "nameserver 192.0.2.53\n").unwrap();
    let paths = Paths {
        journal_dir: dir.join("journal"),
        resolv_conf,
    };
    let network = TunnelNetwork {
        interface: iface,
        addresses: vec![format!("{}/24", TUNNEL_V4[0]).parse().unwrap()],
        mtu: None,
        routing: Routing::Split(vec![format!("{}/32", TUNNEL_V4[1]).parse().unwrap()]),
        fwmark: FWMARK,
        endpoints: vec![format!("{}:51001", UNDERLAY_V4[1]).parse().unwrap()],
        dns: Some(Dns {
            servers: vec!["10.200.0.53".parse().unwrap()],
            search: vec!["tunnel.test".into()],
        }),
        kill_switch: false,
    };
    Setup {
        lab,
        paths,
        network,
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        if let Some(dir) = self.paths.journal_dir.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn full() -> Routing {
    Routing::Full(vec!["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()])
}

/// Runs `f` inside the client's namespace (netlink sockets and nft follow the thread).
fn in_client<T: Send + 'static>(lab: &Lab, f: impl FnOnce() -> T + Send + 'static) -> T {
    lab.in_ns(0, f).join().expect("netconf thread panicked")
}

/// Applies the setup's network in the client's namespace.
fn apply(setup: &Setup) -> NetConf {
    let (paths, network) = (setup.paths.clone(), setup.network.clone());
    in_client(&setup.lab, move || {
        NetConf::apply(&paths, &network).unwrap()
    })
}

/// Reverts `netconf` in the client's namespace; everything is as `before` again.
fn revert_to(setup: &Setup, netconf: NetConf, before: &str) {
    in_client(&setup.lab, move || netconf.revert().unwrap());
    assert_eq!(snapshot(setup), before, "revert restores everything");
}

/// Pings `to` from the client and checks the pings went through the tunnel (WireGuard
/// counted at least their bytes).
fn ping_through_tunnel(lab: &Lab, to: &str) {
    let (_, tx_before) = lab.transfer(0);
    lab.ping(0, to);
    let (_, tx_after) = lab.transfer(0);
    assert!(
        tx_after >= tx_before + 3 * 84,
        "the pings to {to} went through the tunnel: {tx_before} -> {tx_after}"
    );
}

/// Everything netconf may touch in the client's namespace, to compare before and after.
fn snapshot(setup: &Setup) -> String {
    let lab = &setup.lab;
    let mut all = String::new();
    for args in [
        &["rule"][..],
        &["-6", "rule"],
        &["route", "show", "table", "all"],
        &["-6", "route", "show", "table", "all"],
    ] {
        let text = String::from_utf8(lab.ip(0, args).stdout).unwrap();
        // Link-local addresses come and go with the kernel's own timing, not ours.
        for line in text.lines().filter(|l| !l.contains("fe80:")) {
            all.push_str(line);
            all.push('\n');
        }
    }
    all.push_str(&String::from_utf8(lab.exec(0, &["nft", "list", "ruleset"]).stdout).unwrap());
    all.push_str(&std::fs::read_to_string(&setup.paths.resolv_conf).unwrap());
    all.push_str(
        &String::from_utf8(
            lab.exec(0, &["cat", "/proc/sys/net/ipv4/conf/all/src_valid_mark"])
                .stdout,
        )
        .unwrap(),
    );
    all
}

#[test]
fn split_then_full_then_split_live_and_back_exactly() {
    if !can_run() {
        return;
    }
    let setup = setup("modes");
    let lab = &setup.lab;
    let before = snapshot(&setup);
    let netconf = apply(&setup);

    // Split: the overlay through the tunnel, the internet directly.
    assert_eq!(lab.route_device(0, TUNNEL_V4[1]), lab.iface[0]);
    assert_eq!(lab.route_device(0, INTERNET_HOST), "uplink");
    lab.ping(0, INTERNET_HOST);
    let dns = std::fs::read_to_string(&setup.paths.resolv_conf).unwrap();
    assert!(
        dns.contains("nameserver 10.200.0.53") && dns.contains("search tunnel.test"),
        "{dns}"
    );

    // Full, live: the internet through the tunnel, counted by WireGuard, the endpoint
    // still reached outside it.
    let netconf = in_client(lab, move || {
        let mut netconf = netconf;
        netconf.set_routing(full()).unwrap();
        netconf
    });
    assert_eq!(lab.route_device(0, INTERNET_HOST), lab.iface[0]);
    ping_through_tunnel(lab, INTERNET_HOST);
    // An IPv4-only tunnel still swallows IPv6 instead of leaking it.
    assert_eq!(lab.route_device(0, "2001:db8:ffff::1"), lab.iface[0]);

    let netconf = in_client(lab, move || {
        let mut netconf = netconf;
        netconf
            .set_routing(Routing::Split(vec!["10.200.0.2/32".parse().unwrap()]))
            .unwrap();
        netconf
    });
    assert_eq!(lab.route_device(0, INTERNET_HOST), "uplink");
    revert_to(&setup, netconf, &before);
}

/// Pings `to` from `side` a few times; whether any answer came.
fn answered(lab: &Lab, side: usize, to: &str) -> bool {
    lab.try_exec(side, &["ping", "-c", "3", "-i", "0.2", "-W", "1", to])
        .status
        .success()
}

#[test]
fn kill_switch_lets_nothing_out_but_its_tunnels_even_with_none_up() {
    if !can_run() {
        return;
    }
    let mut setup = setup("kill");
    setup.network.routing = full();
    let guest = setup.lab.add_guest(0);
    let lab = &setup.lab;
    lab.watch_for_leaks(1, &[51001]);
    let ours = Guard {
        interface: setup.network.interface.clone(),
        endpoints: setup.network.endpoints.clone(),
        fwmark: FWMARK,
    };
    // A second tunnel the user wants up with the kill switch, which is not up (yet):
    // it must not blackhole the first.
    let other = Guard {
        interface: "wg-other".into(),
        endpoints: vec!["203.0.113.9:51820".parse().unwrap()],
        fwmark: FWMARK + 1,
    };
    let guards = vec![ours, other];
    let enforce = move |guards: Vec<Guard>| {
        in_client(lab, move || killswitch::enforce(&guards).unwrap());
    };
    enforce(guards.clone());
    let netconf = apply(&setup);
    lab.ping(0, INTERNET_HOST);

    // The tunnel goes down (as after a crash: the kill switch is still there) and the
    // server goes silent: nothing falls back to the physical interface, from this host
    // or from a guest it forwards for, not even to the server's own address.
    in_client(lab, move || netconf.revert().unwrap());
    enforce(guards.clone());
    assert!(!answered(lab, 0, INTERNET_HOST));
    assert!(!answered(lab, 0, UNDERLAY_V4[1]));
    assert!(!answered(lab, guest, INTERNET_HOST));
    assert_eq!(lab.leaks(1), 0, "packets left outside the tunnel");

    // Guarding nothing removes the table, and everything flows again.
    enforce(Vec::new());
    assert!(answered(lab, 0, INTERNET_HOST));
    assert!(
        lab.leaks(1) > 0,
        "the counter sees traffic outside a tunnel"
    );
    let rules = String::from_utf8(lab.exec(0, &["nft", "list", "tables"]).stdout).unwrap();
    assert!(!rules.contains(killswitch::TABLE), "{rules}");
}

fn routes(lab: &Lab, args: &[&str]) -> String {
    String::from_utf8(lab.ip(0, args).stdout).unwrap()
}

/// The mark is only a mark: `FwMark = 255` once made 255 the policy table too, which is
/// the kernel's local table, and took the host offline.
#[test]
fn a_mark_of_255_routes_through_the_policy_table_and_leaves_the_local_one_alone() {
    if !can_run() {
        return;
    }
    let mut setup = setup("mark255");
    setup.network.routing = full();
    setup.network.fwmark = 255;
    let lab = &setup.lab;
    lab.wg(0, &["set", &setup.network.interface, "fwmark", "255"]);
    let before = snapshot(&setup);
    let local = routes(lab, &["route", "show", "table", "local"]);
    let netconf = apply(&setup);
    assert_eq!(routes(lab, &["route", "show", "table", "local"]), local);
    let policy = routes(lab, &["route", "show", "table", &POLICY_TABLE.to_string()]);
    assert!(
        policy.contains(&format!("default dev {}", lab.iface[0])),
        "{policy}"
    );
    assert_eq!(lab.route_device(0, INTERNET_HOST), lab.iface[0]);
    ping_through_tunnel(lab, INTERNET_HOST);
    revert_to(&setup, netconf, &before);
}

/// Split routing for a prefix holding the endpoint: in the main table the engine's own
/// packets to the endpoint would loop into the tunnel; policy routing lets them past.
#[test]
fn a_split_tunnel_whose_endpoint_lies_in_its_prefixes_does_not_loop() {
    if !can_run() {
        return;
    }
    let mut setup = setup("loop");
    let server: ipnet::IpNet = format!("{}/32", UNDERLAY_V4[1]).parse().unwrap();
    setup.network.routing = Routing::Split(vec![server]);
    let lab = &setup.lab;
    let before = snapshot(&setup);
    let netconf = apply(&setup);
    assert_eq!(lab.route_device(0, UNDERLAY_V4[1]), lab.iface[0]);
    let marked = routes(
        lab,
        &["route", "get", UNDERLAY_V4[1], "mark", &FWMARK.to_string()],
    );
    assert!(
        marked.contains("dev uplink"),
        "the engine's packets: {marked}"
    );
    assert_eq!(
        lab.route_device(0, INTERNET_HOST),
        "uplink",
        "only the prefix"
    );
    ping_through_tunnel(lab, UNDERLAY_V4[1]);
    revert_to(&setup, netconf, &before);
}

/// wg-quick's `Table = N`: the routes go into table N and no rule is added.
#[test]
fn a_table_of_its_own_gets_the_routes_and_no_rules() {
    if !can_run() {
        return;
    }
    let mut setup = setup("table");
    let peer: ipnet::IpNet = format!("{}/32", TUNNEL_V4[1]).parse().unwrap();
    setup.network.routing = Routing::Table {
        table: 1234,
        prefixes: vec![peer],
    };
    let lab = &setup.lab;
    let before = snapshot(&setup);
    let rules = routes(lab, &["rule"]);
    let netconf = apply(&setup);
    let table = routes(lab, &["route", "show", "table", "1234"]);
    assert!(
        table.contains(&format!("{} dev {}", TUNNEL_V4[1], lab.iface[0])),
        "{table}"
    );
    assert_eq!(routes(lab, &["rule"]), rules);
    revert_to(&setup, netconf, &before);
}

/// IPv4 answers EEXIST for a route of the same destination and metric through another
/// interface: taking that for success left the destination outside the tunnel.
#[test]
fn a_split_route_another_interface_holds_is_an_error_not_a_leak() {
    if !can_run() {
        return;
    }
    let mut setup = setup("taken");
    // TEST-NET-2, only ever inside this namespace.
    let taken: ipnet::IpNet = "198.51.100.0/24".parse().unwrap();
    setup
        .lab
        .ip(0, &["route", "add", "198.51.100.0/24", "dev", "lo"]);
    setup.network.routing = Routing::Split(vec![taken]);
    let before = snapshot(&setup);
    let (paths, network) = (setup.paths.clone(), setup.network.clone());
    let refused = in_client(&setup.lab, move || {
        NetConf::apply(&paths, &network)
            .and_then(NetConf::revert)
            .map_err(|e| e.to_string())
    })
    .unwrap_err();
    assert!(
        refused.contains("198.51.100.0/24") && refused.contains("another interface"),
        "{refused}"
    );
    assert_eq!(snapshot(&setup), before, "the failed activation was undone");
}

/// A journal an earlier run left for the interface, which the recovery at start could
/// not undo: the activation tries it again, refuses with the reason while it still
/// fails, and goes ahead once it can be undone (no restart needed).
#[test]
fn an_activation_first_undoes_what_an_earlier_run_left_for_its_interface() {
    if !can_run() {
        return;
    }
    let setup = setup("stale");
    let left_behind = setup
        .paths
        .journal_dir
        .with_file_name("later")
        .join("setting");
    let mut journal = Journal::create(&setup.paths.journal_dir, &setup.network.interface).unwrap();
    journal
        .record(Undo::RestoreSysctl {
            path: left_behind.clone(),
            value: "1\n".into(),
        })
        .unwrap();
    drop(journal);

    let apply_and_revert = || {
        let (paths, network) = (setup.paths.clone(), setup.network.clone());
        in_client(&setup.lab, move || {
            NetConf::apply(&paths, &network)
                .and_then(NetConf::revert)
                .map_err(|e| e.to_string())
        })
    };
    let refused = apply_and_revert().unwrap_err();
    assert!(
        refused.contains("could not be undone") && refused.contains("restoring a sysctl"),
        "{refused}"
    );
    std::fs::create_dir_all(left_behind.parent().unwrap()).unwrap();
    apply_and_revert().expect("the earlier run's change is undone now, and the tunnel comes up");
    assert_eq!(std::fs::read_to_string(&left_behind).unwrap(), "1\n");
}

/// A child of this test binary applies everything, then is killed with SIGKILL; the
/// next recovery puts the namespace back as it was.
#[test]
fn recovery_after_kill_9_restores_everything() {
    if std::env::var_os("CULVERT_NETCONF_CRASH_CHILD").is_some() {
        return crash_child();
    }
    if !can_run() {
        return;
    }
    let mut setup = setup("crash");
    setup.network.routing = full();
    let before = snapshot(&setup);
    let spec = setup.paths.journal_dir.parent().unwrap().join("spec.json");
    std::fs::write(
        &spec,
        serde_json::json!({ "network": setup.network, "journal_dir": setup.paths.journal_dir, "resolv_conf": setup.paths.resolv_conf })
            .to_string(),
    )
    .unwrap();
    let ready = spec.with_extension("ready");
    let exe = std::env::current_exe().unwrap();
    let mut child = std::process::Command::new("ip")
        .args(["netns", "exec", &setup.lab.ns[0]])
        .arg(&exe)
        .args([
            "--exact",
            "recovery_after_kill_9_restores_everything",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("CULVERT_NETCONF_CRASH_CHILD", &spec)
        .spawn()
        .unwrap();
    culvert_netlab::wait_for(
        "the child to apply its changes",
        Duration::from_secs(30),
        || ready.exists(),
    );
    assert_ne!(snapshot(&setup), before, "the child changed the network");
    assert_eq!(setup.lab.route_device(0, INTERNET_HOST), setup.lab.iface[0]);
    child.kill().unwrap();
    child.wait().unwrap();

    let paths = setup.paths.clone();
    let recovered = in_client(&setup.lab, move || recover(&paths).unwrap().undone);
    assert_eq!(recovered, vec![setup.network.interface.clone()]);
    assert_eq!(
        snapshot(&setup),
        before,
        "recovery restores routes, rules, nftables and DNS"
    );
    let paths = setup.paths.clone();
    assert!(
        in_client(&setup.lab, move || recover(&paths).unwrap().undone).is_empty(),
        "recovery is idempotent"
    );
}

fn crash_child() {
    let spec = PathBuf::from(std::env::var_os("CULVERT_NETCONF_CRASH_CHILD").unwrap());
    let value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&spec).unwrap()).unwrap();
    let network: TunnelNetwork = serde_json::from_value(value["network"].clone()).unwrap();
    let paths = Paths {
        journal_dir: serde_json::from_value(value["journal_dir"].clone()).unwrap(),
        resolv_conf: serde_json::from_value(value["resolv_conf"].clone()).unwrap(),
    };
    let netconf = NetConf::apply(&paths, &network).unwrap();
    std::fs::write(spec.with_extension("ready"), "").unwrap();
    std::thread::sleep(Duration::from_secs(600));
    drop(netconf);
}
