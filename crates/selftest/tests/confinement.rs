//! culvertd confines itself: started as the unit starts it (with the unit's capability
//! bounding set, see `Culvertd`), it holds no capability beyond those four, has
//! no_new_privs set while hook scripts are off, and can write no core dump. The other
//! self-tests show the bounded set is enough for everything it does. Needs root.
#![cfg(target_os = "linux")]

use culvert_netlab::{Lab, can_run};
use culvert_selftest::{Culvertd, scratch_dir};

/// CAP_CHOWN (0), CAP_NET_BIND_SERVICE (10), CAP_NET_ADMIN (12), CAP_NET_RAW (13).
const UNIT_CAPABILITIES: u64 = 1 | 1 << 10 | 1 << 12 | 1 << 13;

fn field<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find_map(|line| line.strip_prefix(name))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
}

#[test]
fn culvertd_keeps_to_the_units_capabilities_gains_no_privileges_and_dumps_no_core() {
    if !can_run() {
        return;
    }
    let lab = Lab::new("/nonexistent/culvert-engine");
    let dir = scratch_dir("confinement");
    let mut daemon = Culvertd::start(&lab.ns[0], &dir, &dir.join("etc"), "info");
    // It answers: the start (kill switch, recovery, socket group) went through.
    daemon.client().status().unwrap();

    let status = std::fs::read_to_string(format!("/proc/{}/status", daemon.pid())).unwrap();
    let effective = u64::from_str_radix(field(&status, "CapEff:"), 16).unwrap();
    assert_eq!(
        effective & !UNIT_CAPABILITIES,
        0,
        "capabilities beyond the unit's:\n{status}"
    );
    assert_eq!(field(&status, "NoNewPrivs:"), "1", "scripts are off");
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", daemon.pid())).unwrap();
    let core = limits
        .lines()
        .find(|line| line.starts_with("Max core file size"))
        .unwrap();
    let words: Vec<&str> = core.split_whitespace().collect();
    assert_eq!(&words[4..6], ["0", "0"], "{core}");
    daemon.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
