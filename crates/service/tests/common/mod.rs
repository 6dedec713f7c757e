//! Starting culvertd for the end-to-end tests.
#![allow(dead_code, unreachable_pub)]

use culvert_netlab::{Lab, wait_for};
use std::path::Path;
use std::time::Duration;

/// Starts culvertd in `lab`'s host 0 with everything under `dir`; returns its pid (the
/// lab kills it when dropped).
pub fn start_culvertd(lab: &mut Lab, socket: &Path, dir: &Path) -> u32 {
    let _ = std::fs::remove_file(socket);
    let arg = |p: std::path::PathBuf| p.to_string_lossy().into_owned();
    let (etc, var, resolv) = (
        arg(dir.join("etc")),
        arg(dir.join("var")),
        arg(dir.join("resolv.conf")),
    );
    let socket_arg = socket.to_string_lossy().into_owned();
    let pid = lab.spawn(
        0,
        &[
            env!("CARGO_BIN_EXE_culvertd"),
            "--socket",
            &socket_arg,
            "--config-dir",
            &etc,
            "--state-dir",
            &var,
            "--resolv-conf",
            &resolv,
        ],
    );
    wait_for("culvertd's socket", Duration::from_secs(20), || {
        socket.exists()
    });
    pid
}

pub fn kill9(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}
