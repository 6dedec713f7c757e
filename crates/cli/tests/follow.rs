//! `culvert log [-f]` and `culvert watch`: what is asked, what is printed, and how
//! following ends when the service goes away.

mod common;

use common::*;
use culvert_ipc::*;

fn line(seq: u64, message: &str) -> LogLine {
    LogLine {
        seq,
        unix_millis: 1_700_000_000_000 + seq * 1000,
        level: LogLevel::Info,
        target: "culvertd".to_owned(),
        message: message.to_owned(),
    }
}

fn printed(seq: u64, message: &str) -> String {
    format!("{}\n", culvert_cli::format::log_line(&line(seq, message)))
}

#[test]
fn log_prints_the_last_lines() {
    let fake = Fake::new().respond(ResponseBody::LogLines {
        lines: vec![line(7, "a"), line(8, "b")],
    });
    let o = run_cli(&["log", "-n", "2"], &fake).ok();
    assert_eq!(
        o.sent,
        vec![Request::ReadLog {
            since: None,
            limit: 2
        }]
    );
    assert_eq!(
        o.out,
        "2023-11-14T22:13:27.000Z  INFO culvertd: a\n2023-11-14T22:13:28.000Z  INFO culvertd: b\n"
    );

    let fake = Fake::new().respond(ResponseBody::LogLines {
        lines: vec![line(7, "a")],
    });
    let o = run_cli(&["log", "--json"], &fake).ok();
    assert_eq!(
        o.sent,
        vec![Request::ReadLog {
            since: None,
            limit: 20
        }]
    );
    assert_eq!(
        serde_json::from_str::<LogLine>(o.out.trim_end()).unwrap(),
        line(7, "a")
    );
    assert_eq!(o.out.lines().count(), 1);
}

#[test]
fn log_follow_subscribes_first_prints_each_line_once_and_fills_gaps() {
    let fake = Fake::new()
        .respond(ResponseBody::Done)
        .respond(ResponseBody::LogLines { lines: vec![line(1, "one"), line(2, "two")] })
        // Missed while the queue was full: 4 and 5.
        .respond(ResponseBody::LogLines { lines: vec![line(4, "four"), line(5, "five")] })
        // Already printed by the first read.
        .push(Event::Log(line(2, "two")))
        .push(Event::Log(line(3, "three")))
        .push(Event::TunnelsChanged)
        .push(Event::Log(line(6, "six")));
    let o = run_cli(&["log", "-f", "-n", "5"], &fake);
    assert_eq!(
        o.sent,
        vec![
            Request::Subscribe {
                events: [EventKind::Log].into()
            },
            Request::ReadLog {
                since: None,
                limit: 5
            },
            Request::ReadLog {
                since: Some(3),
                limit: 2
            },
        ]
    );
    let expected: String = [
        (1, "one"),
        (2, "two"),
        (3, "three"),
        (4, "four"),
        (5, "five"),
        (6, "six"),
    ]
    .iter()
    .map(|(seq, m)| printed(*seq, m))
    .collect();
    assert_eq!(o.out, expected);
    // Following ends when the service goes away.
    assert_eq!(o.code(), 3);
    assert_eq!(
        o.error(),
        "the connection to culvertd was closed (end of the script); if the service was \
         restarted, connect again"
    );
}

#[test]
fn watch_prints_the_current_states_then_what_changes() {
    let stats = Event::Stats {
        name: name("wg0"),
        peers: vec![PeerStats {
            public_key: PEER.to_owned(),
            endpoint: None,
            latest_handshake_unix: Some(NOW - 2),
            rx_bytes: 10,
            tx_bytes: 20,
        }],
    };
    let fake = Fake::new()
        .respond(ResponseBody::Done)
        .respond(ResponseBody::TunnelList {
            tunnels: vec![
                summary("wg0", TunnelState::Inactive, RoutingMode::Split, false),
                summary("office", TunnelState::Active, RoutingMode::Full, true),
            ],
        })
        .push(Event::TunnelState {
            name: name("wg0"),
            state: TunnelState::Activating,
        })
        .push(Event::TunnelState {
            name: name("wg0"),
            state: TunnelState::Active,
        })
        .push(stats.clone())
        .push(Event::TunnelsChanged);
    let o = run_cli(&["watch"], &fake);
    assert_eq!(
        o.sent,
        vec![
            Request::Subscribe {
                events: [EventKind::Tunnels, EventKind::Stats].into()
            },
            Request::ListTunnels,
        ]
    );
    assert_eq!(
        o.out,
        format!(
            "wg0: inactive\noffice: active\nwg0: activating\nwg0: active\n\
             wg0: peer {PEER}, latest handshake 2 seconds ago, 10 B received, 20 B sent\n\
             the tunnel list changed\n"
        )
    );
    assert_eq!(o.code(), 3);
}

#[test]
fn watch_name_shows_only_that_tunnel() {
    let fake = Fake::new()
        .respond(ResponseBody::Done)
        .respond(ResponseBody::TunnelList {
            tunnels: vec![
                summary("wg0", TunnelState::Inactive, RoutingMode::Split, false),
                summary("office", TunnelState::Active, RoutingMode::Full, true),
            ],
        })
        .push(Event::TunnelState {
            name: name("office"),
            state: TunnelState::Deactivating,
        })
        .push(Event::TunnelState {
            name: name("wg0"),
            state: TunnelState::Active,
        })
        .push(Event::Stats {
            name: name("office"),
            peers: vec![],
        });
    let o = run_cli(&["watch", "wg0", "--json"], &fake);
    let events: Vec<Event> = o
        .out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        events,
        vec![
            Event::TunnelState {
                name: name("wg0"),
                state: TunnelState::Inactive
            },
            Event::TunnelState {
                name: name("wg0"),
                state: TunnelState::Active
            },
        ]
    );
}

#[test]
fn watch_of_an_unknown_tunnel_fails_at_once() {
    let fake = Fake::new()
        .respond(ResponseBody::Done)
        .respond(ResponseBody::TunnelList { tunnels: vec![] })
        .push(Event::TunnelsChanged);
    let o = run_cli(&["watch", "nope"], &fake);
    assert_eq!(o.code(), 1);
    assert_eq!(o.error(), "there is no tunnel named `nope`");
    assert_eq!(o.out, "");
}
