//! `kill -9` of culvertd at random moments of activate, deactivate, routing-mode and
//! kill-switch switches and config saves, again and again (20 times in CI, more under
//! `cargo xtask soak`). After every crash and restart: the network (rules, routes,
//! nftables, resolv.conf) is what it was once the tunnel is down, every config file is
//! one complete version of what was saved, and the state file is valid JSON. Needs root.
#![cfg(target_os = "linux")]

mod common;

use culvert_config::TunnelName;
use culvert_ipc::{Client, ConfigText, OnConflict, Request, RoutingMode};
use culvert_netlab::{Keys, Kind, Lab, PeerSetup, TUNNEL_V4, UNDERLAY_V4, can_run, wait_for};
use culvert_selftest::{Culvertd, scale, scratch_dir};
use std::collections::HashSet;
use std::time::Duration;

/// Everything a tunnel may change in host 0's namespace, as text.
fn network_snapshot(lab: &Lab, resolv_conf: &std::path::Path) -> String {
    let mut all = String::new();
    for args in [
        &["ip", "rule"][..],
        &["ip", "-6", "rule"],
        &["ip", "route", "show", "table", "all"],
        &["ip", "-6", "route", "show", "table", "all"],
        &["ip", "-o", "link"],
        &["nft", "list", "ruleset"],
    ] {
        all.push_str(&format!("$ {}\n", args.join(" ")));
        // Link-local routes come and go with IPv6 autoconfiguration, not with us.
        for line in String::from_utf8_lossy(&lab.exec(0, args).stdout).lines() {
            if !line.contains("fe80::") {
                all.push_str(line);
                all.push('\n');
            }
        }
    }
    all.push_str("$ resolv.conf\n");
    all.push_str(&std::fs::read_to_string(resolv_conf).unwrap_or_default());
    all
}

fn config(keys: &Keys, revision: u32) -> String {
    format!(
        "# revision {revision}\n[Interface]\nPrivateKey = {}\nAddress = {}/24\nDNS = 10.200.0.53\n\n\
         [Peer]\nPublicKey = {}\nPresharedKey = {}\nAllowedIPs = {}/32\nEndpoint = {}:51001\n",
        keys.private[0],
        TUNNEL_V4[0],
        keys.public[1],
        keys.psk.as_ref().unwrap(),
        TUNNEL_V4[1],
        UNDERLAY_V4[1]
    )
}

/// A small deterministic random stream (the seed is printed, so a failure replays).
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % sides
    }
}

#[test]
fn kill_9_at_random_moments_loses_nothing_and_leaves_no_trace() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new("/nonexistent/culvert-engine");
    lab.start(1, Kind::WireguardGo);
    let keys = Keys::generate(true);
    lab.configure(1, &keys, PeerSetup::default());
    lab.add_internet_host();
    let dir = scratch_dir("crash");
    let mut daemon = Culvertd::start(&lab.ns[0], &dir, &dir.join("etc"), "debug");
    let original = network_snapshot(&lab, &daemon.resolv_conf);

    let name = TunnelName::new(&lab.iface[0]).unwrap();
    let mut saved: HashSet<String> = HashSet::new();
    let first = config(&keys, 0);
    daemon
        .client()
        .request(Request::ImportTunnel {
            name: name.clone(),
            config_text: ConfigText::new(first.clone()),
            on_conflict: OnConflict::Fail,
        })
        .unwrap();
    saved.insert(first);

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    println!("crash-restart seed {seed}");
    let mut dice = Dice(seed);
    let iterations = 20 * scale();
    let mut crashes_while_active = 0;
    for iteration in 1..=iterations {
        let client = daemon.client();
        // Half the time the tunnel is up when the crash comes.
        if dice.roll(2) == 0 {
            let _ = client.activate(&name);
        }
        let request = match dice.roll(6) {
            0 => Request::Activate { name: name.clone() },
            1 => Request::Deactivate { name: name.clone() },
            2 => Request::SetRoutingMode {
                name: name.clone(),
                mode: [
                    RoutingMode::Split,
                    RoutingMode::Full,
                    RoutingMode::ExcludePrivate,
                ][dice.roll(3) as usize],
            },
            3 => Request::SetKillSwitch {
                name: name.clone(),
                enabled: dice.roll(2) == 0,
            },
            _ => {
                let text = config(&keys, iteration);
                saved.insert(text.clone());
                Request::UpdateTunnel {
                    name: name.clone(),
                    config_text: ConfigText::new(text),
                }
            }
        };
        let kind = request.type_name();
        let delay = Duration::from_millis(dice.roll(400));
        let in_flight = std::thread::spawn(move || {
            let _ = client.request_with_timeout(request, Duration::from_secs(10));
        });
        std::thread::sleep(delay);
        daemon.kill9();
        let _ = in_flight.join();

        daemon.restart();
        let client = daemon.client();
        check_files(&daemon, &name, &saved, iteration, kind);
        let active = client.status().unwrap().active;
        if active.contains(&name) {
            crashes_while_active += 1;
            client.deactivate(&name).unwrap();
        }
        assert_eq!(
            network_snapshot(&lab, &daemon.resolv_conf),
            original,
            "iteration {iteration} (seed {seed}): killed {delay:?} into {kind}; the network \
             differs once the tunnel is down"
        );
    }
    println!(
        "{iterations} crash-restarts survived ({crashes_while_active} with the tunnel restored \
         at restart), nothing lost"
    );

    // And it all still works.
    let client = daemon.client();
    client.activate(&name).unwrap();
    lab.ping(0, TUNNEL_V4[1]);
    client.deactivate(&name).unwrap();
    assert_eq!(network_snapshot(&lab, &daemon.resolv_conf), original);
    drop(client);
    daemon.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

fn check_files(
    daemon: &Culvertd,
    name: &TunnelName,
    saved: &HashSet<String>,
    iteration: u32,
    kind: &str,
) {
    let path = daemon
        .config_dir
        .join("tunnels")
        .join(format!("{}.conf", name.as_str()));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "iteration {iteration} ({kind}): {} lost: {e}",
            path.display()
        )
    });
    assert!(
        saved.contains(&text),
        "iteration {iteration} ({kind}): the config is not a version that was saved:\n{text}"
    );
    let state = daemon.state_dir.join("state.json");
    if let Ok(bytes) = std::fs::read(&state) {
        serde_json::from_slice::<serde_json::Value>(&bytes).unwrap_or_else(|e| {
            panic!(
                "iteration {iteration} ({kind}): state file is not JSON ({e}):\n{}",
                String::from_utf8_lossy(&bytes)
            )
        });
    }
    wait_for("culvertd to answer", Duration::from_secs(10), || {
        Client::connect(&daemon.socket).is_ok()
    });
}
