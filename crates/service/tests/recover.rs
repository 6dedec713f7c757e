//! `culvertd recover` in a namespace of its own: a journal as a crashed culvertd leaves
//! it (a route, resolv.conf, the kill switch's nftables table) is undone, the journal
//! goes, and a second run finds nothing to do; both exit 0. With a culvertd running on
//! the same places it refuses. Needs root.
#![cfg(target_os = "linux")]

mod common;

use common::start_culvertd;
use culvert_netconf::journal::{Journal, Undo};
use culvert_netlab::{Lab, can_run, culvertd_command};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Output;

/// `culvertd recover` with the places a test culvertd in `dir` would use, in host 0.
fn recover(lab: &Lab, socket: &Path, dir: &Path) -> Output {
    let mut command = culvertd_command(Path::new(env!("CARGO_BIN_EXE_culvertd")), socket, dir);
    command.insert(1, OsString::from("recover"));
    let mut args = vec![OsString::from("ip"), "netns".into(), "exec".into()];
    args.push(lab.ns[0].clone().into());
    args.extend(command);
    std::process::Command::new(&args[0])
        .args(&args[1..])
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn recover_undoes_a_crashed_runs_routes_dns_and_kill_switch() {
    if !can_run() {
        return;
    }
    let lab = Lab::new("/nonexistent/culvert-engine");
    let dir: PathBuf = std::env::temp_dir().join(format!("culvertd-recover-{}", lab.id));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("culvertd.sock");
    let journal_dir = dir.join("var").join("netconf");
    let resolv_conf = dir.join("resolv.conf");
    let table = format!("culvert_rec{}", lab.id);
    let route = "203.0.113.0/24";

    // What the crashed run changed: a route on the uplink, resolv.conf (its original
    // kept as a backup), and the kill switch's table.
    // As netconf adds its routes (static, global scope): a delete matches only those.
    lab.ip(
        0,
        &[
            "route", "add", route, "dev", "uplink", "proto", "static", "scope", "global",
        ],
    );
    lab.nft(
        0,
        &format!(
            "table inet {table} {{\n  chain output {{\n    type filter hook output priority filter; policy accept;\n  }}\n}}\n"
        ),
    );
    std::fs::write(&resolv_conf, "nameserver 10.200.0.53\n").unwrap();
    let backup = journal_dir.join("wgcrash.resolv.conf");
    std::fs::create_dir_all(&journal_dir).unwrap();
    std::fs::write(&backup, "nameserver 192.0.2.53\n").unwrap();
    let mut journal = Journal::create(&journal_dir, "wgcrash").unwrap();
    for undo in [
        Undo::Tunnel {
            interface: "wgcrash".into(),
            dns: vec!["10.200.0.53".parse().unwrap()],
        },
        Undo::DeleteRoute {
            interface: "uplink".into(),
            destination: route.parse().unwrap(),
            table: 254,
        },
        Undo::DeleteFirewallTable {
            name: table.clone(),
        },
        Undo::RestoreFile {
            path: resolv_conf.clone(),
            backup: backup.clone(),
            symlink_target: None,
        },
    ] {
        journal.record(undo).unwrap();
    }
    drop(journal);

    let first = recover(&lab, &socket, &dir);
    assert!(
        first.status.success(),
        "culvertd recover failed: {}",
        text(&first.stderr)
    );
    assert!(
        text(&first.stdout).contains("left for wgcrash"),
        "{}",
        text(&first.stdout)
    );
    let tables = text(&lab.exec(0, &["nft", "list", "tables"]).stdout);
    assert!(
        !tables.contains(&table),
        "the table is still there: {tables}"
    );
    let routes = text(&lab.ip(0, &["route", "show"]).stdout);
    assert!(!routes.contains("203.0.113.0/24"), "{routes}");
    assert_eq!(
        std::fs::read_to_string(&resolv_conf).unwrap(),
        "nameserver 192.0.2.53\n"
    );
    assert!(!Journal::path_for(&journal_dir, "wgcrash").exists());

    // Idempotent: nothing is left to undo, and that is success too.
    let second = recover(&lab, &socket, &dir);
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert!(
        text(&second.stdout).contains("nothing to undo"),
        "{}",
        text(&second.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn recover_leaves_a_running_culvertds_changes_alone() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new("/nonexistent/culvert-engine");
    let dir: PathBuf = std::env::temp_dir().join(format!("culvertd-recover-live-{}", lab.id));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("resolv.conf"), "nameserver 192.0.2.53\n").unwrap();
    let socket = dir.join("culvertd.sock");
    start_culvertd(&mut lab, &socket, &dir);
    let refused = recover(&lab, &socket, &dir);
    assert!(!refused.status.success());
    let stderr = text(&refused.stderr);
    assert!(
        stderr.contains("culvertd is running") && stderr.contains("stop it first"),
        "{stderr}"
    );
    drop(lab);
    let _ = std::fs::remove_dir_all(&dir);
}
