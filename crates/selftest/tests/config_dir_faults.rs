//! culvertd's config directory on a full disk and on a read-only one (a tiny tmpfs,
//! filled or remounted read-only): saves fail with an error through the IPC that says
//! what failed and why, the stored configs stay intact, and the service keeps serving.
//! Needs root.
#![cfg(target_os = "linux")]

mod common;

use common::new_lab;
use culvert_config::{PrivateKey, TunnelName};
use culvert_ipc::{Client, ConfigText, OnConflict, Request};
use culvert_netlab::can_run;
use culvert_selftest::{Culvertd, Tmpfs, scratch_dir};

fn config(comment: &str) -> String {
    format!(
        "# {comment}\n[Interface]\nPrivateKey = {}\nAddress = 10.9.0.2/32\n\n[Peer]\nPublicKey = {}\n\
         AllowedIPs = 10.9.0.0/24\n",
        &*PrivateKey::generate().to_base64(),
        PrivateKey::generate().public_key()
    )
}

fn import(client: &Client, name: &str, text: &str) -> Result<(), String> {
    client
        .request(Request::ImportTunnel {
            name: TunnelName::new(name).unwrap(),
            config_text: ConfigText::new(text.to_owned()),
            on_conflict: OnConflict::Fail,
        })
        .map(drop)
        .map_err(|e| e.to_string())
}

fn update(client: &Client, name: &str, text: &str) -> Result<(), String> {
    client
        .request(Request::UpdateTunnel {
            name: TunnelName::new(name).unwrap(),
            config_text: ConfigText::new(text.to_owned()),
        })
        .map(drop)
        .map_err(|e| e.to_string())
}

#[test]
fn a_full_config_disk_gives_a_clear_error_and_keeps_what_was_stored() {
    if !can_run() {
        return;
    }
    let lab = new_lab();
    let dir = scratch_dir("diskfull");
    let disk = Tmpfs::mount(&dir.join("etc"), "64k");
    let daemon = Culvertd::start(&lab.ns[0], &dir, disk.path(), "info");
    let client = daemon.client();
    let kept = config("kept");
    import(&client, "kept", &kept).unwrap();

    // Fill the disk to the last byte.
    let filler = disk.path().join("filler");
    let mut file = std::fs::File::create(&filler).unwrap();
    let block = vec![0u8; 4096];
    while std::io::Write::write_all(&mut file, &block).is_ok() {}
    drop(file);

    let error = import(&client, "another", &config("new")).unwrap_err();
    assert!(
        error.contains("No space left on device"),
        "the error says why: {error}"
    );
    let error = update(&client, "kept", &config("edited")).unwrap_err();
    assert!(error.contains("No space left on device"), "{error}");
    let stored = disk.path().join("tunnels/kept.conf");
    assert_eq!(std::fs::read_to_string(&stored).unwrap(), kept);
    assert!(
        !disk.path().join("tunnels/another.conf").exists(),
        "no partial file"
    );
    assert_eq!(client.list_tunnels().unwrap().len(), 1, "still serving");

    // Room again: saving works again.
    std::fs::remove_file(&filler).unwrap();
    import(&client, "another", &config("new")).unwrap();
    drop(client);
    drop(daemon);
    drop(disk);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_read_only_config_directory_gives_a_clear_error_and_keeps_what_was_stored() {
    if !can_run() {
        return;
    }
    let lab = new_lab();
    let dir = scratch_dir("readonly");
    let disk = Tmpfs::mount(&dir.join("etc"), "1m");
    let daemon = Culvertd::start(&lab.ns[0], &dir, disk.path(), "info");
    let client = daemon.client();
    let kept = config("kept");
    import(&client, "kept", &kept).unwrap();
    disk.remount_read_only();

    for (what, result) in [
        ("import", import(&client, "another", &config("new"))),
        ("update", update(&client, "kept", &config("edited"))),
    ] {
        let error = result.unwrap_err();
        assert!(
            error.contains("Read-only file system"),
            "{what}: the error says why: {error}"
        );
    }
    let error = client
        .request(Request::DeleteTunnel {
            name: TunnelName::new("kept").unwrap(),
        })
        .unwrap_err()
        .to_string();
    assert!(error.contains("Read-only file system"), "delete: {error}");
    assert_eq!(
        std::fs::read_to_string(disk.path().join("tunnels/kept.conf")).unwrap(),
        kept
    );
    assert_eq!(client.list_tunnels().unwrap().len(), 1, "still serving");
    drop(client);
    drop(daemon);
    drop(disk);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Rule 5 of the house: an error says what failed and where — the file of the tunnel
/// that could not be saved (it once read only "temporary file: No space left on device").
#[test]
fn a_full_disk_error_names_the_tunnel_it_could_not_save() {
    if !can_run() {
        return;
    }
    let lab = new_lab();
    let dir = scratch_dir("diskfull-name");
    let disk = Tmpfs::mount(&dir.join("etc"), "64k");
    let daemon = Culvertd::start(&lab.ns[0], &dir, disk.path(), "info");
    let client = daemon.client();
    let mut file = std::fs::File::create(disk.path().join("filler")).unwrap();
    while std::io::Write::write_all(&mut file, &[0u8; 4096]).is_ok() {}
    let error = import(&client, "another", &config("new")).unwrap_err();
    assert!(error.contains("another"), "{error}");
}
