//! The kill switch fails closed, proven as a leak would show: host 0 pings "the
//! internet" every 20 ms while culvertd is killed with SIGKILL, starts again, cannot
//! restore its tunnel because the endpoint's name no longer resolves, saves edits (one
//! that cannot come up), and runs two tunnels; host 1 counts on its uplink every packet
//! from host 0 that is not WireGuard. The count stays 0 throughout. Needs root.
#![cfg(target_os = "linux")]

mod common;

use culvert_config::TunnelName;
use culvert_ipc::{Client, ConfigText, OnConflict, Request, RoutingMode, TunnelState};
use culvert_netlab::{
    INTERNET_HOST, Keys, Lab, TUNNEL_V4, UNDERLAY_V4, can_run, socket_path, wait_for,
};
use culvert_selftest::{Culvertd, scratch_dir};
use std::path::PathBuf;
use std::time::Duration;

const PATIENCE: Duration = Duration::from_secs(60);
/// Echo requests to send while a state lasts before the leak counter is read.
const PINGS_PER_STATE: u64 = 25;

/// `ip netns exec` mounts /etc/netns/NS/{hosts,resolv.conf} over /etc for what it runs:
/// names culvertd resolves come from this hosts file, and no query leaves the lab.
struct Names {
    dir: PathBuf,
}

impl Names {
    fn new(lab: &Lab) -> Self {
        let dir = PathBuf::from("/etc/netns").join(&lab.ns[0]);
        std::fs::create_dir_all(&dir).unwrap();
        // An address of the lab's that nothing answers on.
        std::fs::write(dir.join("resolv.conf"), "nameserver 192.0.2.53\n").unwrap();
        let names = Self { dir };
        names.set(&[]);
        names
    }

    /// Only `names` resolve (to the server's underlay address) from now on.
    fn set(&self, names: &[&str]) {
        let mut hosts = String::from("127.0.0.1 localhost\n");
        for name in names {
            hosts.push_str(&format!("{} {name}\n", UNDERLAY_V4[1]));
        }
        std::fs::write(self.dir.join("hosts"), hosts).unwrap();
    }
}

impl Drop for Names {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Host 0 pings the internet host every 20 ms until the lab goes; a counter before any
/// filter counts the attempts, so a test can wait for pings to be tried in a state.
struct Pinger<'a> {
    lab: &'a Lab,
}

impl<'a> Pinger<'a> {
    fn start(lab: &'a mut Lab) -> Self {
        lab.nft(
            0,
            &format!(
                "table inet culvert_lab_probe {{
 counter attempts {{}}
 chain out {{
  type filter hook output priority raw - 10;
  ip daddr {INTERNET_HOST} icmp type echo-request counter name attempts
 }}
}}
"
            ),
        );
        lab.spawn(0, &["ping", "-q", "-i", "0.02", INTERNET_HOST]);
        Self { lab }
    }

    fn attempts(&self) -> u64 {
        self.lab.counter(0, "culvert_lab_probe", "attempts")
    }

    /// Waits for [`PINGS_PER_STATE`] more pings, then checks nothing leaked.
    fn hold(&self, state: &str) {
        let from = self.attempts();
        wait_for(&format!("pings while {state}"), PATIENCE, || {
            self.attempts() >= from + PINGS_PER_STATE
        });
        assert_eq!(
            self.lab.leaks(1),
            0,
            "packets left host 0 outside the tunnel while {state}"
        );
    }
}

fn config(keys: &Keys, endpoint: &str, extra: &str) -> String {
    format!(
        "[Interface]\nPrivateKey = {}\nAddress = {}/24\n{extra}\n[Peer]\nPublicKey = {}\n\
         PresharedKey = {}\nAllowedIPs = {}/32\nEndpoint = {endpoint}\n",
        keys.private[0],
        TUNNEL_V4[0],
        keys.public[1],
        keys.psk.as_ref().unwrap(),
        TUNNEL_V4[1],
    )
}

fn import(client: &Client, name: &TunnelName, text: String) {
    client
        .request(Request::ImportTunnel {
            name: name.clone(),
            config_text: ConfigText::new(text),
            on_conflict: OnConflict::Replace,
        })
        .unwrap();
}

/// Full tunnel with the kill switch, up.
fn guarded_and_up(client: &Client, name: &TunnelName) {
    client
        .request(Request::SetRoutingMode {
            name: name.clone(),
            mode: RoutingMode::Full,
        })
        .unwrap();
    client
        .request(Request::SetKillSwitch {
            name: name.clone(),
            enabled: true,
        })
        .unwrap();
    client.activate(name).unwrap();
}

fn state_of(client: &Client, name: &TunnelName) -> TunnelState {
    client
        .list_tunnels()
        .unwrap()
        .into_iter()
        .find(|t| t.name == *name)
        .expect("the tunnel is listed")
        .state
}

fn wait_until_active(daemon: &Culvertd, name: &TunnelName) {
    wait_for("the tunnel to be active", PATIENCE, || {
        Client::connect(&daemon.socket)
            .ok()
            .and_then(|c| c.status().ok())
            .is_some_and(|s| s.active.contains(name))
    });
}

fn kill_switch_table(lab: &Lab) -> bool {
    let tables = String::from_utf8(lab.exec(0, &["nft", "list", "tables"]).stdout).unwrap();
    tables.lines().any(|l| l.trim() == "table inet culvert")
}

#[test]
fn the_kill_switch_holds_through_kill_9_a_restart_and_a_restore_that_fails() {
    if !can_run() {
        return;
    }
    let (mut lab, keys) = Lab::with_server();
    let names = Names::new(&lab);
    names.set(&["vpn.culvert.test"]);
    let dir = scratch_dir("kill-switch-crash");
    let mut daemon = Culvertd::start(&lab.ns[0], &dir, &dir.join("etc"), "info");
    let name = TunnelName::new(&lab.iface[0]).unwrap();
    let client = daemon.client();
    import(&client, &name, config(&keys, "vpn.culvert.test:51001", ""));
    guarded_and_up(&client, &name);
    drop(client);
    lab.ping(0, INTERNET_HOST);
    lab.watch_for_leaks(1, &[51001]);
    let pinger = Pinger::start(&mut lab);
    let lab = pinger.lab;
    pinger.hold("the tunnel is up");

    daemon.kill9();
    pinger.hold("culvertd is dead");
    daemon.restart();
    wait_until_active(&daemon, &name);
    pinger.hold("culvertd started again");
    lab.ping(0, INTERNET_HOST);

    // The endpoint's name changes while the service is down, to one that does not
    // resolve: the restore fails, says why, and the block stays.
    daemon.kill9();
    let stored = daemon
        .config_dir
        .join("tunnels")
        .join(format!("{}.conf", name.as_str()));
    std::fs::write(&stored, config(&keys, "moved.culvert.test:51001", "")).unwrap();
    daemon.restart();
    let client = daemon.client();
    wait_for("the restore to fail", PATIENCE, || {
        matches!(state_of(&client, &name), TunnelState::Error { .. })
    });
    let TunnelState::Error { message } = state_of(&client, &name) else {
        unreachable!()
    };
    assert!(
        message.contains("moved.culvert.test") && message.contains("kill switch"),
        "{message}"
    );
    pinger.hold("the restore failed");
    assert!(kill_switch_table(lab));

    // The name resolves again: the tunnel comes up, through the block.
    names.set(&["vpn.culvert.test", "moved.culvert.test"]);
    client.activate(&name).unwrap();
    lab.ping(0, INTERNET_HOST);
    pinger.hold("the tunnel is back");
    drop(client);

    // No name resolves at all at the next start (the block keeps the resolver from
    // going out): the address the name had last brings the tunnel back.
    daemon.kill9();
    names.set(&[]);
    daemon.restart();
    wait_until_active(&daemon, &name);
    lab.ping(0, INTERNET_HOST);
    pinger.hold("restored from the address the name had last");
    assert!(
        daemon.log_text().contains("using the address it had last"),
        "the fallback is logged"
    );

    // Only the user opens it.
    let client = daemon.client();
    client
        .request(Request::SetKillSwitch {
            name: name.clone(),
            enabled: false,
        })
        .unwrap();
    assert!(!kill_switch_table(lab));
    client.deactivate(&name).unwrap();
    drop(client);
    daemon.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A second wireguard-go server on host 1 (interface `cvs<lab>`, UDP 51002, 10.201.0.2)
/// that accepts `client` from 10.201.0.1; returns the text of host 0's config for it.
fn second_server(lab: &mut Lab, dir: &std::path::Path) -> String {
    let keys = Keys::generate(false);
    let iface = format!("cvs{}", lab.id);
    let log = dir.join("second-server.log");
    lab.spawn(
        1,
        &[
            "sh",
            "-c",
            &format!(
                "WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 exec wireguard-go -f {iface} >{} 2>&1",
                log.display()
            ),
        ],
    );
    let socket = socket_path(&iface);
    wait_for("the second server's UAPI socket", PATIENCE, || {
        socket.exists()
    });
    let key = common::key_file(dir, "second.key", &keys.private[1]);
    lab.wg(
        1,
        &[
            "set",
            &iface,
            "private-key",
            &key,
            "listen-port",
            "51002",
            "peer",
            &keys.public[0],
            "allowed-ips",
            "10.201.0.1/32",
        ],
    );
    lab.ip(1, &["addr", "add", "10.201.0.2/24", "dev", &iface]);
    lab.ip(1, &["link", "set", &iface, "up"]);
    format!(
        "[Interface]\nPrivateKey = {}\nAddress = 10.201.0.1/24\n\n[Peer]\nPublicKey = {}\n\
         AllowedIPs = 10.201.0.2/32\nEndpoint = {}:51002\n",
        keys.private[0], keys.public[1], UNDERLAY_V4[1]
    )
}

#[test]
fn the_kill_switch_holds_while_edits_are_saved_and_lets_every_tunnel_through() {
    if !can_run() {
        return;
    }
    let (mut lab, keys) = Lab::with_server();
    // No name resolves; no query leaves the lab.
    let _names = Names::new(&lab);
    let dir = scratch_dir("kill-switch-edit");
    let second = second_server(&mut lab, &dir);
    let guest = lab.add_guest(0);
    let mut daemon = Culvertd::start(&lab.ns[0], &dir, &dir.join("etc"), "info");
    let name = TunnelName::new(&lab.iface[0]).unwrap();
    let endpoint = format!("{}:51001", UNDERLAY_V4[1]);
    let client = daemon.client();
    import(&client, &name, config(&keys, &endpoint, ""));
    guarded_and_up(&client, &name);
    lab.ping(0, INTERNET_HOST);
    lab.watch_for_leaks(1, &[51001, 51002]);
    let pinger = Pinger::start(&mut lab);
    let lab = pinger.lab;
    pinger.hold("the tunnel is up");

    // An edit of the active tunnel takes it down and up again behind the block.
    let edit = |text: String| {
        client.request(Request::UpdateTunnel {
            name: name.clone(),
            config_text: ConfigText::new(text),
        })
    };
    edit(config(&keys, &endpoint, "MTU = 1380\n")).unwrap();
    wait_until_active(&daemon, &name);
    lab.ping(0, INTERNET_HOST);
    pinger.hold("an edit was saved");

    // An edit that cannot come up is saved, the tunnel stays down, the block stays.
    let refused = edit(config(&keys, "nowhere.culvert.test:51001", "")).unwrap_err();
    assert!(
        refused.to_string().contains("could not come back up"),
        "{refused}"
    );
    assert!(matches!(
        state_of(&client, &name),
        TunnelState::Error { .. }
    ));
    pinger.hold("an edit could not come up");
    edit(config(&keys, &endpoint, "")).unwrap();
    wait_until_active(&daemon, &name);
    lab.ping(0, INTERNET_HOST);

    // A second tunnel, split and without a kill switch of its own, works beside it.
    let other = TunnelName::new(&format!("cvt{}", lab.id)).unwrap();
    import(&client, &other, second);
    client.activate(&other).unwrap();
    lab.ping(0, "10.201.0.2");
    pinger.hold("two tunnels are up");

    // With culvertd dead, neither this host nor a guest it forwards for gets out.
    drop(client);
    daemon.kill9();
    let out = lab.try_exec(
        guest,
        &["ping", "-c", "5", "-i", "0.2", "-W", "1", INTERNET_HOST],
    );
    assert!(!out.status.success(), "the guest got out");
    pinger.hold("culvertd is dead and a guest tries to get out");
    daemon.restart();
    wait_until_active(&daemon, &name);
    wait_until_active(&daemon, &other);
    lab.ping(0, "10.201.0.2");
    pinger.hold("both tunnels are back");

    let client = daemon.client();
    client.deactivate(&other).unwrap();
    client.deactivate(&name).unwrap();
    assert!(
        !kill_switch_table(lab),
        "deactivating lifts the kill switch"
    );
    drop(client);
    daemon.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
