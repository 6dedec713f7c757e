//! Hostile local users against a real culvertd: a user outside group `culvert` gets
//! nothing from the socket; a member reads tunnels but never a private or pre-shared key
//! without the explicit export, and cannot read the files; names and archive paths that
//! try to leave the store are refused; a symlink planted in the store is replaced, never
//! written through; files and directories keep their modes. Creates (and always
//! removes) two users and, when missing, the group. Needs root.
#![cfg(target_os = "linux")]

mod common;

use common::new_lab;
use culvert_config::{PresharedKey, PrivateKey, TunnelName};
use culvert_ipc::{ConfigText, OnConflict, Request, SecretBytes};
use culvert_netlab::{can_run, run};
use culvert_selftest::{Culvertd, binary, scratch_dir};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

/// Users (and the group, when this test made it) removed whatever happens.
struct Accounts {
    users: Vec<String>,
    made_group: bool,
}

impl Drop for Accounts {
    fn drop(&mut self) {
        for user in &self.users {
            let _ = Command::new("userdel").arg(user).status();
        }
        if self.made_group {
            let _ = Command::new("groupdel").arg("culvert").status();
        }
    }
}

fn probe(user: &str, args: &[&str]) -> String {
    let out = Command::new("runuser")
        .args(["-u", user, "--"])
        .arg(binary("selftest-probe"))
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn outsiders_get_nothing_members_get_no_keys_and_paths_stay_in_the_store() {
    if !can_run() {
        return;
    }
    let tag = std::process::id() % 100_000;
    let made_group = Command::new("getent")
        .args(["group", "culvert"])
        .output()
        .is_ok_and(|o| !o.status.success());
    let mut accounts = Accounts {
        users: Vec::new(),
        made_group,
    };
    if made_group {
        run(&["groupadd", "--system", "culvert"]);
    }
    let outsider = format!("cvout{tag}");
    let member = format!("cvmem{tag}");
    run(&["useradd", "-M", "-N", "-s", "/usr/sbin/nologin", &outsider]);
    accounts.users.push(outsider.clone());
    run(&[
        "useradd",
        "-M",
        "-N",
        "-G",
        "culvert",
        "-s",
        "/usr/sbin/nologin",
        &member,
    ]);
    accounts.users.push(member.clone());

    let lab = new_lab();
    let dir = scratch_dir("hostile");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let daemon = Culvertd::start(&lab.ns[0], &dir, &dir.join("etc"), "info");
    let socket = daemon.socket.to_str().unwrap().to_owned();
    let client = daemon.client();
    let private = PrivateKey::generate();
    let psk = PresharedKey::generate();
    let text = format!(
        "[Interface]\nPrivateKey = {}\nAddress = 10.9.0.2/32\n\n[Peer]\nPublicKey = {}\n\
         PresharedKey = {}\nAllowedIPs = 10.9.0.0/24\n",
        &*private.to_base64(),
        PrivateKey::generate().public_key(),
        &*psk.to_base64()
    );
    client
        .request(Request::ImportTunnel {
            name: TunnelName::new("secret").unwrap(),
            config_text: ConfigText::new(text.clone()),
            on_conflict: OnConflict::Fail,
        })
        .unwrap();
    let stored = daemon.config_dir.join("tunnels/secret.conf");

    // Outside the group: not even a connection.
    let said = probe(&outsider, &[&socket, "list"]);
    assert!(said.starts_with("denied"), "outsider: {said}");
    let said = probe(&outsider, &["-", "read", stored.to_str().unwrap()]);
    assert!(
        said.starts_with("denied"),
        "outsider reads the file: {said}"
    );

    // A member: tunnels yes, keys no, unless explicitly exported.
    let said = probe(&member, &[&socket, "list"]);
    assert_eq!(said, "ok 1 tunnels");
    let said = probe(&member, &[&socket, "get", "secret"]);
    assert!(said.starts_with("ok"), "member get: {said}");
    for secret in [&*private.to_base64(), &*psk.to_base64()] {
        assert!(!said.contains(secret), "get_tunnel carried a key: {said}");
    }
    let said = probe(&member, &["-", "read", stored.to_str().unwrap()]);
    assert!(said.starts_with("denied"), "member reads the file: {said}");
    assert_eq!(
        probe(&member, &[&socket, "export", "secret"]),
        "ok exported"
    );

    // Modes.
    assert_eq!(mode(&stored), 0o600, "config file");
    assert_eq!(mode(&daemon.config_dir.join("tunnels")), 0o700, "store");
    assert_eq!(mode(&daemon.socket), 0o660, "socket");

    // Names that try to leave the store, sent as raw JSON past the client's checks.
    // ("." and ".." are valid wg-quick names: they become the files `..conf` and
    // `...conf` inside the store.)
    for name in [
        "../escape",
        "a/b",
        "/etc/x",
        "",
        "sixteen-chars-xx",
        "nul\u{0}x",
    ] {
        let reply = raw_request(
            &daemon.socket,
            &serde_json::json!({"kind": "request", "id": 1, "type": "get_tunnel", "name": name}),
        );
        assert!(
            reply.contains("invalid_request") && !reply.contains("\"ok\""),
            "name {name:?}: {reply}"
        );
    }
    // Archive entries with paths: only the base names count, nothing escapes.
    let zip = stored_zip(&[
        ("../escape.conf", &text),
        ("/tmp/culvert-selftest-absolute.conf", &text),
        ("sub/dir/nested.conf", &text),
    ]);
    let _ = client.request(Request::ImportZip {
        bytes: SecretBytes::new(zip),
        on_conflict: OnConflict::Rename,
    });
    assert!(!daemon.config_dir.join("escape.conf").exists());
    assert!(!Path::new("/tmp/culvert-selftest-absolute.conf").exists());
    assert!(!dir.join("escape.conf").exists());
    for entry in std::fs::read_dir(daemon.config_dir.join("tunnels")).unwrap() {
        let entry = entry.unwrap();
        assert!(entry.file_type().unwrap().is_file(), "{entry:?}");
        assert_eq!(mode(&entry.path()), 0o600, "{entry:?}");
    }

    // A symlink planted in the store is replaced by a save, not written through.
    let target = dir.join("precious");
    std::fs::write(&target, "precious\n").unwrap();
    let link = daemon.config_dir.join("tunnels/planted.conf");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    client
        .request(Request::ImportTunnel {
            name: TunnelName::new("planted").unwrap(),
            config_text: ConfigText::new(text.clone()),
            on_conflict: OnConflict::Replace,
        })
        .unwrap();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious\n");
    assert!(!std::fs::symlink_metadata(&link).unwrap().is_symlink());
    assert_eq!(mode(&link), 0o600);

    drop(client);
    drop(daemon);
    let _ = std::fs::remove_dir_all(&dir);
    drop(accounts);
}

/// Sends one request as raw JSON after the hello; the reply frame as text.
fn raw_request(socket: &Path, request: &serde_json::Value) -> String {
    use culvert_ipc::{ClientMessage, Hello, encode, read_frame};
    use std::io::Write;
    let mut stream = std::os::unix::net::UnixStream::connect(socket).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(&encode(&ClientMessage::Hello(Hello::new("selftest"))).unwrap())
        .unwrap();
    read_frame(&mut stream).unwrap().expect("welcome");
    let payload = serde_json::to_vec(request).unwrap();
    stream
        .write_all(&(payload.len() as u32).to_be_bytes())
        .unwrap();
    stream.write_all(&payload).unwrap();
    let frame = read_frame(&mut stream).unwrap().expect("a reply");
    String::from_utf8_lossy(&frame).into_owned()
}

/// A zip archive with `entries` stored uncompressed, names as given (which a normal
/// writer would refuse).
fn stored_zip(entries: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let crc = crc32(data.as_bytes());
        let offset = out.len() as u32;
        let header = |signature: u32, central: bool| {
            let mut h = Vec::new();
            h.extend(signature.to_le_bytes());
            if central {
                h.extend(20u16.to_le_bytes()); // made by
            }
            h.extend(20u16.to_le_bytes()); // needed
            h.extend(0u16.to_le_bytes()); // flags
            h.extend(0u16.to_le_bytes()); // stored
            h.extend(0u32.to_le_bytes()); // time, date
            h.extend(crc.to_le_bytes());
            h.extend((data.len() as u32).to_le_bytes());
            h.extend((data.len() as u32).to_le_bytes());
            h.extend((name.len() as u16).to_le_bytes());
            h.extend(0u16.to_le_bytes()); // extra
            if central {
                h.extend([0u8; 8]); // comment, disk, internal attributes
                h.extend(0u32.to_le_bytes()); // external attributes
                h.extend(offset.to_le_bytes());
            }
            h.extend(name.as_bytes());
            h
        };
        out.extend(header(0x0403_4b50, false));
        out.extend(data.as_bytes());
        central.extend(header(0x0201_4b50, true));
    }
    let central_offset = out.len() as u32;
    out.extend(&central);
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend([0u8; 4]); // disk numbers
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend((central.len() as u32).to_le_bytes());
    out.extend(central_offset.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
