//! The pure formatting: exact strings.

mod common;

use common::*;
use culvert_cli::format::*;
use culvert_ipc::*;

#[test]
fn durations_read_like_wg() {
    assert_eq!(duration(0), "0 seconds");
    assert_eq!(duration(1), "1 second");
    assert_eq!(duration(59), "59 seconds");
    assert_eq!(duration(60), "1 minute");
    assert_eq!(duration(63), "1 minute, 3 seconds");
    assert_eq!(duration(3600), "1 hour");
    assert_eq!(duration(7322), "2 hours, 2 minutes, 2 seconds");
    assert_eq!(duration(86_400 + 1), "1 day, 1 second");
    assert_eq!(duration(365 * 86_400), "1 year");
    assert_eq!(
        duration(2 * 365 * 86_400 + 3 * 86_400 + 4 * 3600 + 5 * 60 + 6),
        "2 years, 3 days, 4 hours, 5 minutes, 6 seconds"
    );
    assert!(duration(u64::MAX).starts_with("584942417355 years, "));
}

#[test]
fn time_ago_reads_like_wg() {
    assert_eq!(time_ago(NOW - 63, NOW), "1 minute, 3 seconds ago");
    assert_eq!(time_ago(NOW - 1, NOW), "1 second ago");
    assert_eq!(time_ago(NOW, NOW), "Now");
    assert_eq!(
        time_ago(NOW + 5, NOW),
        "in the future (check this computer's clock)"
    );
    assert_eq!(
        time_ago(0, NOW),
        "53 years, 330 days, 22 hours, 13 minutes, 20 seconds ago"
    );
}

#[test]
fn bytes_read_like_wg() {
    assert_eq!(bytes(0), "0 B");
    assert_eq!(bytes(92), "92 B");
    assert_eq!(bytes(1023), "1023 B");
    assert_eq!(bytes(1024), "1.00 KiB");
    assert_eq!(bytes(1240), "1.21 KiB");
    assert_eq!(bytes(1024 * 1024 - 1), "1024.00 KiB");
    assert_eq!(bytes(1024 * 1024), "1.00 MiB");
    assert_eq!(bytes(3 * 1024 * 1024 + 512 * 1024), "3.50 MiB");
    assert_eq!(bytes(5 << 30), "5.00 GiB");
    assert_eq!(bytes(1 << 40), "1.00 TiB");
    assert_eq!(bytes(u64::MAX), "16777216.00 TiB");
}

#[test]
fn tables_align_columns_without_trailing_space() {
    let rows = vec![
        vec!["a".to_owned(), "long value".to_owned(), "x".to_owned()],
        vec!["longer".to_owned(), "v".to_owned(), String::new()],
    ];
    assert_eq!(
        table(&["H1", "H2", "H3"], &rows),
        "H1      H2          H3\n\
         a       long value  x\n\
         longer  v\n"
    );
    assert_eq!(table(&["ONLY"], &[]), "ONLY\n");
}

#[test]
fn the_tunnel_list() {
    let tunnels = vec![
        summary("wg0", TunnelState::Active, RoutingMode::Full, true),
        summary("office", TunnelState::Inactive, RoutingMode::Split, false),
        summary(
            "home-lab",
            TunnelState::Activating,
            RoutingMode::ExcludePrivate,
            false,
        ),
        summary(
            "broken",
            TunnelState::Error {
                message: "could not create the TUN device".to_owned(),
            },
            RoutingMode::Split,
            true,
        ),
    ];
    assert_eq!(
        tunnel_table(&tunnels),
        "NAME      STATE       ROUTING          KILL SWITCH\n\
         wg0       active      full             on\n\
         office    inactive    split            off\n\
         home-lab  activating  exclude-private  off\n\
         broken    error       split            on\n\
         broken: could not create the TUN device\n"
    );
    assert_eq!(
        tunnel_table(&[]),
        "No tunnels yet; add one with: culvert import FILE.conf\n"
    );
}

#[test]
fn a_tunnel_in_detail() {
    assert_eq!(
        tunnel_detail(&detail(), NOW),
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
             \x20 persistent keepalive: every 25 seconds\n"
        )
    );
}

#[test]
fn an_inactive_tunnel_in_detail() {
    let mut d = detail();
    d.summary = summary("wg0", TunnelState::Inactive, RoutingMode::Split, true);
    d.interface.addresses.clear();
    d.interface.dns.clear();
    d.interface.listen_port = None;
    d.interface.mtu = Some(1380);
    let peer = &mut d.peers[0];
    peer.has_preshared_key = false;
    peer.endpoint = None;
    peer.latest_handshake_unix = None;
    peer.rx_bytes = 0;
    peer.tx_bytes = 0;
    peer.persistent_keepalive = None;
    assert_eq!(
        tunnel_detail(&d, NOW),
        format!(
            "interface: wg0\n\
             \x20 state: inactive\n\
             \x20 routing: split, kill switch on (it applies in full mode only)\n\
             \x20 public key: {PUB}\n\
             \x20 addresses: none\n\
             \x20 dns: none\n\
             \x20 listening port: automatic\n\
             \x20 mtu: 1380\n\
             \n\
             peer: {PEER}\n\
             \x20 allowed ips: 0.0.0.0/0, ::/0\n"
        )
    );
    d.peers.clear();
    d.summary.state = TunnelState::Error {
        message: "no route to host".to_owned(),
    };
    let text = tunnel_detail(&d, NOW);
    assert!(
        text.contains("  state: error: no route to host\n"),
        "{text}"
    );
    assert!(
        text.ends_with("\nNo peers yet; add one with: culvert edit wg0\n"),
        "{text}"
    );
}

#[test]
fn the_service_status() {
    let status = ServiceStatus {
        service_version: "0.1.0".to_owned(),
        protocol_version: 1,
        pid: 1234,
        uptime_secs: 86_400 + 120,
        tunnels: 3,
        active: vec![name("wg0"), name("office")],
        clients: 2,
        scripts_enabled: false,
    };
    assert_eq!(
        service_status(&status, "/run/culvert/culvertd.sock"),
        "culvertd 0.1.0 (protocol 1), pid 1234, up 1 day, 2 minutes\n\
         socket: /run/culvert/culvertd.sock\n\
         tunnels: 3 stored, 2 active: wg0, office\n\
         clients: 2 connected\n\
         scripts: disabled\n"
    );
}

#[test]
fn log_lines_and_timestamps() {
    let line = LogLine {
        seq: 42,
        unix_millis: 1_700_000_000_123,
        level: LogLevel::Warn,
        target: "culvertd::tunnel".to_owned(),
        message: "handshake did not complete".to_owned(),
    };
    assert_eq!(
        log_line(&line),
        "2023-11-14T22:13:20.123Z  WARN culvertd::tunnel: handshake did not complete"
    );
    assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(utc_timestamp(951_782_400_007), "2000-02-29T00:00:00.007Z");
    assert_eq!(utc_timestamp(4_107_542_399_999), "2100-02-28T23:59:59.999Z");
    assert_eq!(utc_timestamp(1_709_251_199_000), "2024-02-29T23:59:59.000Z");
}

#[test]
fn events() {
    let state = Event::TunnelState {
        name: name("wg0"),
        state: TunnelState::Active,
    };
    assert_eq!(event(&state, NOW), "wg0: active\n");
    let error = Event::TunnelState {
        name: name("wg0"),
        state: TunnelState::Error {
            message: "no route".to_owned(),
        },
    };
    assert_eq!(event(&error, NOW), "wg0: error: no route\n");
    assert_eq!(
        event(&Event::TunnelsChanged, NOW),
        "the tunnel list changed\n"
    );
    let stats = Event::Stats {
        name: name("wg0"),
        peers: vec![
            PeerStats {
                public_key: PEER.to_owned(),
                endpoint: Some("192.0.2.1:51820".to_owned()),
                latest_handshake_unix: Some(NOW - 5),
                rx_bytes: 2048,
                tx_bytes: 92,
            },
            PeerStats {
                public_key: PUB.to_owned(),
                endpoint: None,
                latest_handshake_unix: None,
                rx_bytes: 0,
                tx_bytes: 0,
            },
        ],
    };
    assert_eq!(
        event(&stats, NOW),
        format!(
            "wg0: peer {PEER}, endpoint 192.0.2.1:51820, latest handshake 5 seconds ago, \
             2.00 KiB received, 92 B sent\n\
             wg0: peer {PUB}, latest handshake none yet, 0 B received, 0 B sent\n"
        )
    );
}

#[test]
fn counts_and_diagnostics() {
    assert_eq!(count(1, "error"), "1 error");
    assert_eq!(count(0, "error"), "0 errors");
    assert_eq!(count(2, "tunnel"), "2 tunnels");
    assert_eq!(
        diagnostics(&["line 1, column 2: a", "line 3, column 4: warning: b"]),
        "  line 1, column 2: a\n  line 3, column 4: warning: b\n"
    );
}

#[test]
fn every_tunnels_details_are_separated_by_a_blank_line() {
    assert_eq!(
        tunnel_details(&[], NOW),
        "No tunnels yet; add one with: culvert import FILE.conf\n"
    );
    assert_eq!(
        tunnel_details(&[detail()], NOW),
        tunnel_detail(&detail(), NOW)
    );
    let mut second = detail();
    second.summary.name = name("office");
    assert_eq!(
        tunnel_details(&[detail(), second.clone()], NOW),
        format!(
            "{}\n{}",
            tunnel_detail(&detail(), NOW),
            tunnel_detail(&second, NOW)
        )
    );
}
