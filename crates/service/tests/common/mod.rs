//! Starting culvertd for the end-to-end tests.
#![allow(dead_code, unreachable_pub)]

use culvert_netlab::{Keys, Lab, TUNNEL_V4, UNDERLAY_V4, culvertd_command, wait_for};
use std::path::Path;
use std::time::Duration;

/// Starts culvertd in `lab`'s host 0 with everything under `dir`; returns its pid (the
/// lab kills it when dropped).
pub fn start_culvertd(lab: &mut Lab, socket: &Path, dir: &Path) -> u32 {
    let _ = std::fs::remove_file(socket);
    let command = culvertd_command(Path::new(env!("CARGO_BIN_EXE_culvertd")), socket, dir);
    let pid = lab.spawn(0, &command);
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

/// A lab whose host 1 is a wireguard-go server for host 0 ([`Lab::with_server`]).
pub fn server_lab() -> (Lab, Keys) {
    Lab::with_server()
}

/// Host 0's tunnel config for [`server_lab`]: split routing to the server's address.
pub fn client_config(keys: &Keys) -> String {
    format!(
        "[Interface]\nPrivateKey = {}\nAddress = {}/24\n\n[Peer]\nPublicKey = {}\nPresharedKey = {}\n\
         AllowedIPs = {}/32\nEndpoint = {}:51001\n",
        keys.private[0],
        TUNNEL_V4[0],
        keys.public[1],
        keys.psk.as_ref().expect("server_lab keys have a PSK"),
        TUNNEL_V4[1],
        UNDERLAY_V4[1]
    )
}
