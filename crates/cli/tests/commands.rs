//! Each one-request command against a scripted service: the exact request sent, the
//! exact output, the exit code.

mod common;

use common::*;
use culvert_ipc::*;

#[test]
fn list_prints_the_table() {
    let fake = Fake::new().respond(ResponseBody::TunnelList {
        tunnels: vec![
            summary("wg0", TunnelState::Active, RoutingMode::Full, true),
            summary("office", TunnelState::Inactive, RoutingMode::Split, false),
        ],
    });
    let o = run_cli(&["list"], &fake).ok();
    assert_eq!(o.sent, vec![Request::ListTunnels]);
    assert_eq!(
        o.out,
        "NAME    STATE     ROUTING  KILL SWITCH\n\
         wg0     active    full     on\n\
         office  inactive  split    off\n"
    );
    assert_eq!(o.err, "");
}

#[test]
fn list_json_is_the_protocols_summaries() {
    let tunnels = vec![summary(
        "wg0",
        TunnelState::Active,
        RoutingMode::ExcludePrivate,
        false,
    )];
    let fake = Fake::new().respond(ResponseBody::TunnelList {
        tunnels: tunnels.clone(),
    });
    let o = run_cli(&["list", "--json"], &fake).ok();
    let parsed: Vec<TunnelSummary> = serde_json::from_str(&o.out).unwrap();
    assert_eq!(parsed, tunnels);
    assert!(
        o.out.contains("\"routing_mode\": \"exclude_private\""),
        "{}",
        o.out
    );
}

#[test]
fn show_prints_interface_and_peers() {
    let fake = Fake::new().respond(ResponseBody::Tunnel(detail()));
    let o = run_cli(&["show", "wg0"], &fake).ok();
    assert_eq!(o.sent, vec![Request::GetTunnel { name: name("wg0") }]);
    assert_eq!(o.out, culvert_cli::format::tunnel_detail(&detail(), NOW));
    assert!(
        o.out
            .contains("  latest handshake: 1 minute, 3 seconds ago\n")
    );
    assert!(o.out.contains("  transfer: 1.21 KiB received, 92 B sent\n"));
    assert!(!o.out.contains(PRIV) && !o.out.contains(PSK));

    let fake = Fake::new().respond(ResponseBody::Tunnel(detail()));
    let o = run_cli(&["show", "wg0", "--json"], &fake).ok();
    let parsed: TunnelDetail = serde_json::from_str(&o.out).unwrap();
    assert_eq!(parsed, detail());
}

#[test]
fn show_of_a_missing_tunnel_is_the_services_error() {
    let fake = Fake::new().fail(ClientError::Service(IpcError::tunnel_not_found(&name(
        "nope",
    ))));
    let o = run_cli(&["show", "nope"], &fake);
    assert_eq!(o.code(), 1);
    assert_eq!(o.error(), "there is no tunnel named `nope`");
    assert_eq!(o.out, "");
}

#[test]
fn status_prints_the_service() {
    let status = ServiceStatus {
        service_version: "0.1.0".to_owned(),
        protocol_version: PROTOCOL_VERSION,
        pid: 77,
        uptime_secs: 65,
        tunnels: 1,
        active: vec![],
        clients: 1,
        scripts_enabled: true,
    };
    let fake = Fake::new().respond(ResponseBody::Status(status.clone()));
    let o = run_cli(&["--socket", "/tmp/test.sock", "status"], &fake).ok();
    assert_eq!(o.sent, vec![Request::ServiceStatus]);
    assert_eq!(
        o.out,
        "culvertd 0.1.0 (protocol 1), pid 77, up 1 minute, 5 seconds\n\
         socket: /tmp/test.sock\n\
         tunnels: 1 stored, none active\n\
         clients: 1 connected\n\
         scripts: enabled (PreUp/PostUp/PreDown/PostDown run as root)\n"
    );
    let fake = Fake::new().respond(ResponseBody::Status(status.clone()));
    let o = run_cli(&["status", "--json"], &fake).ok();
    assert_eq!(
        serde_json::from_str::<ServiceStatus>(&o.out).unwrap(),
        status
    );
}

#[test]
fn up_and_down() {
    let fake = Fake::new().respond(ResponseBody::Done);
    let o = run_cli(&["up", "wg0"], &fake).ok();
    assert_eq!(o.sent, vec![Request::Activate { name: name("wg0") }]);
    assert_eq!(o.out, "wg0 is up\n");

    let fake = Fake::new().respond(ResponseBody::Done);
    let o = run_cli(&["down", "wg0"], &fake).ok();
    assert_eq!(o.sent, vec![Request::Deactivate { name: name("wg0") }]);
    assert_eq!(o.out, "wg0 is down\n");
}

#[test]
fn up_failing_in_the_service_exits_1_with_its_message() {
    let fake = Fake::new().fail(service_error(
        IpcErrorKind::Internal,
        "could not create the TUN device: permission denied",
    ));
    let o = run_cli(&["up", "wg0"], &fake);
    assert_eq!(o.code(), 1);
    assert_eq!(
        o.error(),
        "could not create the TUN device: permission denied"
    );
}

#[test]
fn mode() {
    for (word, mode) in [
        ("split", RoutingMode::Split),
        ("full", RoutingMode::Full),
        ("exclude-private", RoutingMode::ExcludePrivate),
    ] {
        let fake = Fake::new().respond(ResponseBody::Done);
        let o = run_cli(&["mode", "wg0", word], &fake).ok();
        assert_eq!(
            o.sent,
            vec![Request::SetRoutingMode {
                name: name("wg0"),
                mode
            }]
        );
        assert_eq!(o.out, format!("wg0: routing mode {word}\n"));
    }
}

#[test]
fn killswitch_on_in_split_mode_says_it_does_nothing_yet() {
    let fake = Fake::new()
        .respond(ResponseBody::Done)
        .respond(ResponseBody::TunnelList {
            tunnels: vec![summary(
                "wg0",
                TunnelState::Active,
                RoutingMode::Split,
                true,
            )],
        });
    let o = run_cli(&["killswitch", "wg0", "on"], &fake).ok();
    assert_eq!(
        o.sent,
        vec![
            Request::SetKillSwitch {
                name: name("wg0"),
                enabled: true
            },
            Request::ListTunnels,
        ]
    );
    assert_eq!(o.out, "wg0: kill switch on\n");
    assert_eq!(
        o.err,
        "note: the kill switch applies in full routing mode only; wg0 is in split mode \
         (switch with: culvert mode wg0 full)\n"
    );

    let fake = Fake::new()
        .respond(ResponseBody::Done)
        .respond(ResponseBody::TunnelList {
            tunnels: vec![summary("wg0", TunnelState::Active, RoutingMode::Full, true)],
        });
    let o = run_cli(&["killswitch", "wg0", "on"], &fake).ok();
    assert_eq!(o.err, "");

    let fake = Fake::new().respond(ResponseBody::Done);
    let o = run_cli(&["killswitch", "wg0", "off"], &fake).ok();
    assert_eq!(
        o.sent,
        vec![Request::SetKillSwitch {
            name: name("wg0"),
            enabled: false
        }]
    );
    assert_eq!(o.out, "wg0: kill switch off\n");
}

#[test]
fn create_prints_the_new_public_key() {
    let mut d = detail();
    d.summary = summary("new", TunnelState::Inactive, RoutingMode::Split, false);
    d.peers.clear();
    let fake = Fake::new().respond(ResponseBody::Tunnel(d));
    let o = run_cli(&["create", "new"], &fake).ok();
    assert_eq!(o.sent, vec![Request::CreateTunnel { name: name("new") }]);
    assert_eq!(
        o.out,
        format!("created new\npublic key: {PUB}\nadd its peers with: culvert edit new\n")
    );
}

#[test]
fn rename() {
    let fake = Fake::new().respond(ResponseBody::Done);
    let o = run_cli(&["rename", "a", "b"], &fake).ok();
    assert_eq!(
        o.sent,
        vec![Request::RenameTunnel {
            from: name("a"),
            to: name("b")
        }]
    );
    assert_eq!(o.out, "renamed a to b\n");

    let fake = Fake::new().fail(service_error(
        IpcErrorKind::Conflict,
        "`a` is active; deactivate it first (culvert down a)",
    ));
    let o = run_cli(&["rename", "a", "b"], &fake);
    assert_eq!(o.code(), 1);
    assert_eq!(
        o.error(),
        "`a` is active; deactivate it first (culvert down a)"
    );
}

#[test]
fn delete_with_yes_does_not_ask() {
    let fake = Fake::new().respond(ResponseBody::Done);
    let o = run_cli(&["delete", "wg0", "--yes"], &fake).ok();
    assert_eq!(o.sent, vec![Request::DeleteTunnel { name: name("wg0") }]);
    assert_eq!(o.out, "deleted wg0\n");
    assert!(o.asked.is_empty());
}

#[test]
fn delete_refuses_without_yes_when_stdin_is_not_a_terminal() {
    let fake = Fake::new();
    let o = run_cli(&["delete", "wg0"], &fake);
    assert_eq!(o.code(), 2);
    assert_eq!(
        o.error(),
        "refusing to delete wg0 without confirmation: standard input is not a terminal; \
         pass --yes"
    );
    assert!(o.sent.is_empty());
    assert_eq!(o.connects, 0, "a refusal needs no service");
}

#[test]
fn delete_asks_on_a_terminal() {
    let fake = Fake::new().respond(ResponseBody::Done);
    let o = run_with(&["delete", "wg0"], &fake, &mut FakeConsole::tty(&["y"])).ok();
    assert_eq!(
        o.asked,
        vec!["Delete tunnel wg0 and its keys? This cannot be undone. [y/N] "]
    );
    assert_eq!(o.sent, vec![Request::DeleteTunnel { name: name("wg0") }]);
    assert_eq!(o.out, "deleted wg0\n");

    // No, an empty answer (the default is no) and end of input all keep it.
    for answers in [&["n"][..], &[""], &[]] {
        let fake = Fake::new();
        let o = run_with(&["delete", "wg0"], &fake, &mut FakeConsole::tty(answers));
        assert_eq!(o.code(), 1);
        assert_eq!(o.error(), "wg0 was not deleted");
        assert!(o.sent.is_empty());
    }

    // Something else is asked again.
    let fake = Fake::new().respond(ResponseBody::Done);
    let o = run_with(
        &["delete", "wg0"],
        &fake,
        &mut FakeConsole::tty(&["maybe", "YES"]),
    )
    .ok();
    assert_eq!(o.asked.len(), 2);
    assert_eq!(o.err, "Please answer y or n.\n");
    assert_eq!(o.sent, vec![Request::DeleteTunnel { name: name("wg0") }]);
}

#[test]
fn export_to_standard_output_keeps_the_key_hidden_unless_asked() {
    let redacted = redact_config_text(&conf());
    let fake = Fake::new().respond(ResponseBody::Exported {
        text: redacted.clone().into(),
    });
    let o = run_cli(&["export", "wg0"], &fake).ok();
    assert_eq!(
        o.sent,
        vec![Request::ExportTunnel {
            name: name("wg0"),
            include_private_key: false
        }]
    );
    assert_eq!(o.out, redacted);

    let fake = Fake::new().respond(ResponseBody::Exported {
        text: conf().into(),
    });
    let o = run_cli(&["export", "wg0", "--private-key"], &fake).ok();
    assert_eq!(
        o.sent,
        vec![Request::ExportTunnel {
            name: name("wg0"),
            include_private_key: true
        }]
    );
    assert_eq!(o.out, conf());

    // A missing final newline is added for the terminal's sake.
    let fake = Fake::new().respond(ResponseBody::Exported {
        text: "[Interface]".into(),
    });
    assert_eq!(run_cli(&["export", "wg0"], &fake).ok().out, "[Interface]\n");
}

#[cfg(unix)]
#[test]
fn export_to_a_file_writes_it_0600() {
    use std::fs;
    use std::os::unix::fs::PermissionsExt as _;

    let dir = TempDir::new("export");
    let path = dir.join("wg0.conf");
    // An existing, world-readable file is made private before the key goes in.
    fs::write(
        &path,
        "old contents that are longer than the new ones, to see truncation",
    )
    .unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let fake = Fake::new().respond(ResponseBody::Exported {
        text: conf().into(),
    });
    let o = run_cli(
        &[
            "export",
            "wg0",
            "--private-key",
            "-o",
            &dir.path("wg0.conf"),
        ],
        &fake,
    )
    .ok();
    assert_eq!(o.out, format!("wrote wg0 to {}\n", path.display()));
    assert_eq!(fs::read_to_string(&path).unwrap(), conf());
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let fake = Fake::new().respond(ResponseBody::Exported {
        text: conf().into(),
    });
    let o = run_cli(
        &["export", "wg0", "-o", &dir.path("missing-dir/wg0.conf")],
        &fake,
    );
    assert_eq!(o.code(), 1);
    assert!(o.error().starts_with("could not write "), "{}", o.error());
}

#[cfg(unix)]
#[test]
fn export_all_writes_the_archive_0600() {
    use std::fs;
    use std::os::unix::fs::PermissionsExt as _;

    let dir = TempDir::new("export-all");
    let zip = vec![
        0x50, 0x4b, 5, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let fake = Fake::new().respond(ResponseBody::Zip {
        bytes: zip.clone().into(),
    });
    let o = run_cli(
        &["export-all", "-o", &dir.path("all.zip"), "--private-keys"],
        &fake,
    )
    .ok();
    assert_eq!(
        o.sent,
        vec![Request::ExportAllZip {
            include_private_keys: true
        }]
    );
    assert_eq!(
        o.out,
        format!("wrote every tunnel to {}\n", dir.join("all.zip").display())
    );
    assert_eq!(fs::read(dir.join("all.zip")).unwrap(), zip);
    let mode = fs::metadata(dir.join("all.zip"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let fake = Fake::new().respond(ResponseBody::Zip { bytes: zip.into() });
    let o = run_cli(&["export-all", "-o", &dir.path("public.zip")], &fake).ok();
    assert_eq!(
        o.sent,
        vec![Request::ExportAllZip {
            include_private_keys: false
        }]
    );
}

#[test]
fn qr_renders_the_config_with_its_private_key() {
    let fake = Fake::new().respond(ResponseBody::Exported {
        text: conf().into(),
    });
    let o = run_cli(&["qr", "wg0", "--yes"], &fake).ok();
    assert_eq!(
        o.sent,
        vec![Request::ExportTunnel {
            name: name("wg0"),
            include_private_key: true
        }]
    );
    assert_eq!(
        o.out,
        format!("{}\n", culvert_config::qr_terminal(&conf()).unwrap())
    );
    assert!(o.err.contains("Scan it in the WireGuard app"), "{}", o.err);
}

#[test]
fn qr_asks_first_and_refuses_without_a_terminal() {
    let fake = Fake::new();
    let o = run_cli(&["qr", "wg0"], &fake);
    assert_eq!(o.code(), 2);
    assert_eq!(
        o.error(),
        "refusing to show the private key of wg0 without confirmation: standard input is not \
         a terminal; pass --yes"
    );
    assert_eq!(o.connects, 0);

    let fake = Fake::new();
    let o = run_with(&["qr", "wg0"], &fake, &mut FakeConsole::tty(&["no"]));
    assert_eq!(o.code(), 1);
    assert_eq!(o.error(), "the QR code was not shown");
    assert!(o.sent.is_empty());
    assert!(
        o.asked[0].starts_with("The QR code holds the private key of wg0"),
        "{:?}",
        o.asked
    );

    let fake = Fake::new().respond(ResponseBody::Exported {
        text: conf().into(),
    });
    let o = run_with(&["qr", "wg0"], &fake, &mut FakeConsole::tty(&["yes"])).ok();
    assert_eq!(o.sent.len(), 1);
    assert!(!o.out.is_empty());
}

#[test]
fn qr_of_a_config_too_long_for_a_code_says_so() {
    let long = format!("{}{}", conf(), "# padding\n".repeat(400));
    let fake = Fake::new().respond(ResponseBody::Exported { text: long.into() });
    let o = run_cli(&["qr", "wg0", "--yes"], &fake);
    assert_eq!(o.code(), 1);
    assert!(
        o.error()
            .starts_with("could not draw wg0 as a QR code: the config is "),
        "{}",
        o.error()
    );
}

#[test]
fn an_unreachable_service_exits_3_with_the_clients_advice() {
    let cases = [
        (
            ClientError::NotRunning {
                path: "/run/culvert/culvertd.sock".into(),
            },
            format!(
                "culvertd is not running ({START_SERVICE_HINT}): nothing is listening at \
                 /run/culvert/culvertd.sock"
            ),
        ),
        (
            ClientError::PermissionDenied {
                detail: "/run/culvert/culvertd.sock: denied".into(),
            },
            format!("{JOIN_GROUP_HINT}: /run/culvert/culvertd.sock: denied"),
        ),
        (
            ClientError::VersionMismatch {
                service: 2,
                client: 1,
            },
            "culvertd speaks protocol 2, this client speaks 1: update this client (the culvert \
             CLI or app) to the service's version"
                .to_owned(),
        ),
    ];
    for (error, message) in cases {
        let fake = Fake::new();
        *fake.refuse.borrow_mut() = Some(error);
        let o = run_cli(&["up", "wg0"], &fake);
        assert_eq!(o.code(), 3, "{message}");
        assert_eq!(o.error(), message);
        assert!(o.sent.is_empty());
    }
}

#[test]
fn a_connection_lost_mid_request_exits_3() {
    let fake = Fake::new().fail(ClientError::Disconnected { reason: None });
    let o = run_cli(&["up", "wg0"], &fake);
    assert_eq!(o.code(), 3);
    assert_eq!(
        o.error(),
        "the connection to culvertd was closed; if the service was restarted, connect again"
    );
}

#[test]
fn a_wrong_answer_is_reported_as_a_bug_not_a_panic() {
    let fake = Fake::new().respond(ResponseBody::Done);
    let o = run_cli(&["list"], &fake);
    assert_eq!(o.code(), 1);
    assert_eq!(
        o.error(),
        "culvertd answered with done where tunnel_list was expected; this is a bug"
    );
    let fake = Fake::new().respond(ResponseBody::TunnelList { tunnels: vec![] });
    let o = run_cli(&["up", "wg0"], &fake);
    assert_eq!(
        o.error(),
        "culvertd answered with tunnel_list where done was expected; this is a bug"
    );
}

#[test]
fn exit_codes_follow_the_error_through_context() {
    use anyhow::Context as _;
    use culvert_cli::{Unreachable, UsageError, exit_code, is_broken_pipe};
    let unreachable: anyhow::Error =
        Unreachable(ClientError::NotRunning { path: "/x".into() }).into();
    assert_eq!(exit_code(&unreachable.context("while listing")), 3);
    let usage: anyhow::Error = UsageError("pass --yes".to_owned()).into();
    assert_eq!(exit_code(&usage), 2);
    assert_eq!(exit_code(&anyhow::anyhow!("the service said no")), 1);
    let pipe = Err::<(), _>(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
        .context("writing the table")
        .unwrap_err();
    assert!(is_broken_pipe(&pipe));
    let json_pipe = serde_json::to_writer(BrokenPipe, &[1, 2, 3]).unwrap_err();
    assert!(is_broken_pipe(&anyhow::Error::from(json_pipe)));
    assert!(!is_broken_pipe(&anyhow::anyhow!("other")));
}

/// Standard output of `culvert list --json | head -0`.
struct BrokenPipe;

impl std::io::Write for BrokenPipe {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::ErrorKind::BrokenPipe.into())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A second tunnel for `show` without a name: down, no peers.
fn office() -> TunnelDetail {
    TunnelDetail {
        summary: summary("office", TunnelState::Inactive, RoutingMode::Split, false),
        config_text: RedactedConfigText::new(&format!(
            "[Interface]\nPrivateKey = {PRIV}\nAddress = 10.1.0.2/32\n"
        )),
        interface: InterfaceInfo {
            public_key: PEER.to_owned(),
            addresses: vec!["10.1.0.2/32".parse().unwrap()],
            dns: vec![],
            listen_port: None,
            mtu: Some(1420),
        },
        peers: vec![],
    }
}

#[test]
fn show_without_a_name_shows_every_tunnel() {
    let fake = Fake::new()
        .respond(ResponseBody::TunnelList {
            tunnels: vec![detail().summary, office().summary],
        })
        .respond(ResponseBody::Tunnel(detail()))
        .respond(ResponseBody::Tunnel(office()));
    let o = run_cli(&["show"], &fake).ok();
    assert_eq!(
        o.sent,
        vec![
            Request::ListTunnels,
            Request::GetTunnel { name: name("wg0") },
            Request::GetTunnel {
                name: name("office")
            },
        ]
    );
    assert_eq!(
        o.out,
        format!(
            "interface: wg0\n\
             \x20 state: active\n\
             \x20 routing: full, kill switch on\n\
             \x20 public key: {PUB}\n\
             \x20 addresses: 10.0.0.2/32, fd00::2/128\n\
             \x20 dns: 1.1.1.1, example.com\n\
             \x20 listening port: 51820\n\
             \x20 mtu: automatic\n\
             \n\
             peer: {PEER}\n\
             \x20 preshared key: (hidden)\n\
             \x20 endpoint: 192.0.2.1:51820\n\
             \x20 allowed ips: 0.0.0.0/0, ::/0\n\
             \x20 latest handshake: 1 minute, 3 seconds ago\n\
             \x20 transfer: 1.21 KiB received, 92 B sent\n\
             \x20 persistent keepalive: every 25 seconds\n\
             \n\
             interface: office\n\
             \x20 state: inactive\n\
             \x20 routing: split, kill switch off\n\
             \x20 public key: {PEER}\n\
             \x20 addresses: 10.1.0.2/32\n\
             \x20 dns: none\n\
             \x20 listening port: automatic\n\
             \x20 mtu: 1420\n\
             \n\
             No peers yet; add one with: culvert edit office\n"
        )
    );
    assert_eq!(
        o.out,
        format!(
            "{}\n{}",
            culvert_cli::format::tunnel_detail(&detail(), NOW),
            culvert_cli::format::tunnel_detail(&office(), NOW)
        )
    );
    assert!(!o.out.contains(PRIV) && !o.out.contains(PSK));
}

#[test]
fn show_without_a_name_in_json_is_an_array_of_details() {
    let fake = Fake::new()
        .respond(ResponseBody::TunnelList {
            tunnels: vec![detail().summary, office().summary],
        })
        .respond(ResponseBody::Tunnel(detail()))
        .respond(ResponseBody::Tunnel(office()));
    let o = run_cli(&["show", "--json"], &fake).ok();
    let parsed: Vec<TunnelDetail> = serde_json::from_str(&o.out).unwrap();
    assert_eq!(parsed, vec![detail(), office()]);

    let fake = Fake::new().respond(ResponseBody::TunnelList { tunnels: vec![] });
    assert_eq!(run_cli(&["show", "--json"], &fake).ok().out, "[]\n");
}

#[test]
fn show_without_a_name_skips_a_tunnel_deleted_meanwhile() {
    let fake = Fake::new()
        .respond(ResponseBody::TunnelList {
            tunnels: vec![
                summary("gone", TunnelState::Inactive, RoutingMode::Split, false),
                office().summary,
            ],
        })
        .fail(ClientError::Service(IpcError::tunnel_not_found(&name(
            "gone",
        ))))
        .respond(ResponseBody::Tunnel(office()));
    let o = run_cli(&["show"], &fake).ok();
    assert_eq!(o.sent.len(), 3);
    assert_eq!(o.out, culvert_cli::format::tunnel_detail(&office(), NOW));

    // Any other refusal is the command's error.
    let fake = Fake::new()
        .respond(ResponseBody::TunnelList {
            tunnels: vec![office().summary],
        })
        .fail(service_error(IpcErrorKind::Internal, "the disk is on fire"));
    let o = run_cli(&["show"], &fake);
    assert_eq!(o.code(), 1);
    assert_eq!(o.error(), "the disk is on fire");
}

#[test]
fn show_without_tunnels_says_how_to_add_one() {
    let fake = Fake::new().respond(ResponseBody::TunnelList { tunnels: vec![] });
    let o = run_cli(&["show"], &fake).ok();
    assert_eq!(o.sent, vec![Request::ListTunnels]);
    assert_eq!(
        o.out,
        "No tunnels yet; add one with: culvert import FILE.conf\n"
    );
}

#[test]
fn export_json_holds_the_name_and_the_text() {
    let redacted = redact_config_text(&conf());
    let fake = Fake::new().respond(ResponseBody::Exported {
        text: redacted.clone().into(),
    });
    let o = run_cli(&["export", "wg0", "--json"], &fake).ok();
    assert_eq!(
        o.sent,
        vec![Request::ExportTunnel {
            name: name("wg0"),
            include_private_key: false
        }]
    );
    let value: serde_json::Value = serde_json::from_str(&o.out).unwrap();
    assert_eq!(
        value,
        serde_json::json!({
            "name": "wg0",
            "include_private_key": false,
            "text": redacted,
        })
    );
    assert!(o.out.ends_with("}\n"));

    let fake = Fake::new().respond(ResponseBody::Exported {
        text: conf().into(),
    });
    let o = run_cli(&["export", "--private-key", "--json", "wg0"], &fake).ok();
    let value: serde_json::Value = serde_json::from_str(&o.out).unwrap();
    assert_eq!(value["include_private_key"], true);
    assert_eq!(value["text"], conf());
}

#[test]
fn export_qr_refuses_without_yes_when_stdin_is_not_a_terminal() {
    let fake = Fake::new();
    let o = run_cli(&["export", "wg0", "--qr"], &fake);
    assert_eq!(o.code(), 2);
    assert_eq!(
        o.error(),
        "refusing to show the private key of wg0 without confirmation: standard input is not \
         a terminal; pass --yes"
    );
    assert_eq!(o.out, "");
    assert_eq!(o.connects, 0, "a refusal needs no service");
}

#[test]
fn export_qr_with_yes_prints_the_code_with_the_private_key() {
    let fake = Fake::new().respond(ResponseBody::Exported {
        text: conf().into(),
    });
    let o = run_cli(&["export", "wg0", "--qr", "--yes"], &fake).ok();
    assert_eq!(
        o.sent,
        vec![Request::ExportTunnel {
            name: name("wg0"),
            include_private_key: true
        }]
    );
    let code = culvert_config::qr_terminal(&conf()).unwrap();
    let first_line = code.lines().next().unwrap();
    assert!(!first_line.is_empty());
    assert!(o.out.starts_with(&format!("{first_line}\n")), "{}", o.out);
    assert_eq!(o.out, format!("{code}\n"));
    assert!(
        !o.out.contains(PRIV),
        "the key is in the code, not in the text"
    );
    assert!(o.err.contains("Scan it in the WireGuard app"), "{}", o.err);

    // `qr` is the same command.
    let fake = Fake::new().respond(ResponseBody::Exported {
        text: conf().into(),
    });
    let alias = run_cli(&["qr", "wg0", "-y"], &fake).ok();
    assert_eq!(alias.sent, o.sent);
    assert_eq!(alias.out, o.out);
    assert_eq!(alias.err, o.err);
}

#[test]
fn export_qr_asks_on_a_terminal() {
    let fake = Fake::new();
    let o = run_with(
        &["export", "wg0", "--qr"],
        &fake,
        &mut FakeConsole::tty(&["n"]),
    );
    assert_eq!(o.code(), 1);
    assert_eq!(o.error(), "the QR code was not shown");
    assert!(o.sent.is_empty());
    assert_eq!(
        o.asked,
        vec![
            "The QR code holds the private key of wg0: anyone who sees or photographs it can \
             use the tunnel. Show it? [y/N] "
        ]
    );

    let fake = Fake::new().respond(ResponseBody::Exported {
        text: conf().into(),
    });
    let o = run_with(
        &["export", "wg0", "--qr"],
        &fake,
        &mut FakeConsole::tty(&["y"]),
    )
    .ok();
    assert_eq!(
        o.out,
        format!("{}\n", culvert_config::qr_terminal(&conf()).unwrap())
    );
}
