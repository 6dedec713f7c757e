//! No private or pre-shared key in anything culvertd writes, at the most verbose level:
//! culvertd runs with CULVERT_LOG=trace (and RUST_LOG=trace), imports a tunnel, brings
//! it up against a wireguard-go server, carries traffic, edits, exports and takes it
//! down; then everything it printed and its log ring are searched for the keys in
//! base64 and in hex (the UAPI's form). Needs root.
#![cfg(target_os = "linux")]

mod common;

use culvert_config::TunnelName;
use culvert_ipc::{ConfigText, OnConflict, Request, ResponseBody};
use culvert_netlab::{Keys, Kind, Lab, PeerSetup, TUNNEL_V4, UNDERLAY_V4, can_run};
use culvert_selftest::{Culvertd, scratch_dir};

fn forms(base64_key: &str) -> Vec<String> {
    let bytes = culvert_config::PresharedKey::from_base64(base64_key)
        .unwrap()
        .as_bytes()
        .to_vec();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    vec![base64_key.to_owned(), hex.clone(), hex.to_uppercase()]
}

#[test]
fn no_key_appears_in_any_log_at_trace_level() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new("/nonexistent/culvert-engine");
    lab.start(1, Kind::WireguardGo);
    let keys = Keys::generate(true);
    lab.configure(1, &keys, PeerSetup::default());
    let dir = scratch_dir("secrets");
    let daemon = Culvertd::start(&lab.ns[0], &dir, &dir.join("etc"), "trace");
    let client = daemon.client();
    let name = TunnelName::new(&lab.iface[0]).unwrap();
    let psk = keys.psk.clone().unwrap();
    let text = format!(
        "[Interface]\nPrivateKey = {}\nAddress = {}/24\n\n[Peer]\nPublicKey = {}\nPresharedKey = {}\n\
         AllowedIPs = {}/32\nEndpoint = {}:51001\nPersistentKeepalive = 1\n",
        keys.private[0], TUNNEL_V4[0], keys.public[1], psk, TUNNEL_V4[1], UNDERLAY_V4[1]
    );
    client
        .request(Request::ImportTunnel {
            name: name.clone(),
            config_text: ConfigText::new(text.clone()),
            on_conflict: OnConflict::Fail,
        })
        .unwrap();
    client.activate(&name).unwrap();
    lab.ping(0, TUNNEL_V4[1]);
    client
        .request(Request::UpdateTunnel {
            name: name.clone(),
            config_text: ConfigText::new(text.replace("PersistentKeepalive = 1", "")),
        })
        .unwrap();
    lab.ping(0, TUNNEL_V4[1]);
    let exported = client
        .request(Request::ExportTunnel {
            name: name.clone(),
            include_private_key: true,
        })
        .unwrap();
    assert!(
        matches!(&exported, ResponseBody::Exported { text } if text.as_str().contains(&keys.private[0])),
        "the explicit export carries the key"
    );
    client.deactivate(&name).unwrap();

    let mut everything = daemon.log_text();
    let lines = match client
        .request(Request::ReadLog {
            since: None,
            limit: 100_000,
        })
        .unwrap()
    {
        ResponseBody::LogLines { lines, .. } => lines,
        other => panic!("{other:?}"),
    };
    assert!(!lines.is_empty(), "the ring has lines");
    for line in &lines {
        everything.push_str(&line.message);
        everything.push('\n');
    }
    assert!(
        everything.lines().count() > 20,
        "trace logging was on:\n{everything}"
    );
    for (what, key) in [("private key", &keys.private[0]), ("pre-shared key", &psk)] {
        for form in forms(key) {
            if let Some(at) = everything.find(&form) {
                let start = at.saturating_sub(200);
                panic!(
                    "the {what} ({form}) is in the logs:\n...{}",
                    &everything[start..(at + form.len()).min(everything.len())]
                );
            }
        }
    }
    drop(client);
    drop(daemon);
    let _ = std::fs::remove_dir_all(&dir);
}
