//! The messages: round trips of every variant, the pinned JSON shapes, forward
//! compatibility, bad input, and keys kept out of `Debug`.

mod common;

use common::*;
use culvert_ipc::*;
use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn round_trip<T>(message: &T)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let json = serde_json::to_string(message).unwrap();
    let back: T = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(&back, message, "{json}");
    // And through the framing.
    let mut decoder = FrameDecoder::new();
    decoder.feed(&encode(message).unwrap());
    assert_eq!(decoder.next_message::<T>().unwrap().as_ref(), Some(message));
    assert_eq!(decoder.buffered(), 0);
}

#[test]
fn every_client_message_round_trips() {
    let messages = client_messages();
    assert_eq!(messages.len(), 21);
    for m in &messages {
        round_trip(m);
    }
}

#[test]
fn every_server_message_round_trips() {
    let messages = server_messages();
    assert_eq!(messages.len(), 27);
    for m in &messages {
        round_trip(m);
    }
}

#[test]
fn type_names_match_the_json() {
    let type_of = |v: serde_json::Value| v["type"].as_str().unwrap().to_owned();
    for r in requests() {
        assert_eq!(r.type_name(), type_of(serde_json::to_value(&r).unwrap()));
    }
    for b in bodies() {
        assert_eq!(b.type_name(), type_of(serde_json::to_value(&b).unwrap()));
    }
    let kinds: Vec<EventKind> = events().iter().map(Event::kind).collect();
    use EventKind::*;
    assert_eq!(kinds, [Tunnels, Tunnels, Tunnels, Stats, Log]);
}

/// The wire format, pinned: a change here is a protocol change (bump
/// PROTOCOL_VERSION and tell the GUI).
#[test]
fn json_shapes_are_pinned() {
    let json = |m: &dyn erased::Json| m.json();
    let cases: Vec<(Box<dyn erased::Json>, &str)> = vec![
        (
            Box::new(ClientMessage::Hello(Hello::new("culvert-cli 0.1.0"))),
            r#"{"kind":"hello","version":1,"client":"culvert-cli 0.1.0"}"#,
        ),
        (
            Box::new(Hello::new("x").answer("0.1.0")),
            r#"{"kind":"welcome","version":1,"service_version":"0.1.0"}"#,
        ),
        (
            Box::new(ServerMessage::VersionMismatch {
                service: 2,
                client: 1,
            }),
            r#"{"kind":"version_mismatch","service":2,"client":1}"#,
        ),
        (
            Box::new(ServerMessage::Rejected {
                error: IpcError::new(IpcErrorKind::PermissionDenied, "no"),
            }),
            r#"{"kind":"rejected","error":{"kind":"permission_denied","message":"no"}}"#,
        ),
        (
            Box::new(ClientMessage::Request(RequestEnvelope {
                id: 7,
                request: Request::GetTunnel { name: name("wg0") },
            })),
            r#"{"kind":"request","id":7,"type":"get_tunnel","name":"wg0"}"#,
        ),
        (
            Box::new(ClientMessage::Request(RequestEnvelope {
                id: 8,
                request: Request::ImportZip {
                    bytes: vec![1, 2, 3].into(),
                    on_conflict: OnConflict::Rename,
                },
            })),
            r#"{"kind":"request","id":8,"type":"import_zip","bytes":"AQID","on_conflict":"rename"}"#,
        ),
        (
            Box::new(ClientMessage::Request(RequestEnvelope {
                id: 9,
                request: Request::Subscribe {
                    events: [EventKind::Stats, EventKind::Tunnels].into(),
                },
            })),
            r#"{"kind":"request","id":9,"type":"subscribe","events":["tunnels","stats"]}"#,
        ),
        (
            Box::new(ServerMessage::Response(Response::ok(7, ResponseBody::Done))),
            r#"{"kind":"response","id":7,"ok":{"type":"done"}}"#,
        ),
        (
            Box::new(ServerMessage::Response(Response::ok(
                1,
                ResponseBody::TunnelList {
                    tunnels: vec![summary()],
                },
            ))),
            r#"{"kind":"response","id":1,"ok":{"type":"tunnel_list","tunnels":[{"name":"wg0","state":{"status":"active"},"routing_mode":"full","kill_switch":true}]}}"#,
        ),
        (
            Box::new(ServerMessage::Response(Response::error(
                2,
                invalid_config_error(),
            ))),
            r#"{"kind":"response","id":2,"error":{"kind":"invalid_config","diagnostics":["line 2, column 14: `PrivateKey`: not a valid key: expected 44 characters of base64 (32 bytes, as printed by `wg genkey`), found 4 characters"],"message":"the config for `wg0` has 1 error"}}"#,
        ),
        (
            Box::new(ServerMessage::Event(Event::TunnelState {
                name: name("wg0"),
                state: TunnelState::Error {
                    message: "no route".into(),
                },
            })),
            r#"{"kind":"event","type":"tunnel_state","name":"wg0","state":{"status":"error","message":"no route"}}"#,
        ),
        (
            Box::new(ServerMessage::Event(Event::Stats {
                name: name("wg0"),
                peers: vec![peer_stats()],
            })),
            r#"{"kind":"event","type":"stats","name":"wg0","peers":[{"public_key":"xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=","endpoint":"192.0.2.1:51820","latest_handshake_unix":null,"rx_bytes":0,"tx_bytes":92}]}"#,
        ),
        (
            Box::new(ServerMessage::Event(Event::Log(log_line()))),
            r#"{"kind":"event","type":"log","seq":42,"unix_millis":1700000000123,"level":"warn","target":"culvertd::tunnel","message":"handshake with peer did not complete after 5 seconds"}"#,
        ),
    ];
    for (message, expected) in &cases {
        assert_eq!(json(message.as_ref()), *expected);
    }
}

/// `dyn Serialize` for the table above.
mod erased {
    pub(crate) trait Json {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap()
        }
    }
}

#[test]
fn optional_fields_have_defaults() {
    let m: ClientMessage =
        decode(br#"{"kind":"request","id":1,"type":"import_tunnel","name":"a","config_text":"x"}"#)
            .unwrap();
    let ClientMessage::Request(RequestEnvelope {
        request: Request::ImportTunnel { on_conflict, .. },
        ..
    }) = m
    else {
        panic!("{m:?}")
    };
    assert_eq!(on_conflict, OnConflict::Fail);
    let m: ClientMessage =
        decode(br#"{"kind":"request","id":1,"type":"read_log","limit":5}"#).unwrap();
    assert!(matches!(
        m,
        ClientMessage::Request(RequestEnvelope {
            request: Request::ReadLog {
                since: None,
                limit: 5
            },
            ..
        })
    ));
}

#[test]
fn handshake_is_readable_across_versions() {
    // A future client's hello, with a field this version does not know.
    let hello: ClientMessage =
        decode(br#"{"kind":"hello","version":9,"client":"future","features":["x"]}"#).unwrap();
    let ClientMessage::Hello(hello) = hello else {
        panic!()
    };
    assert_eq!(
        hello.answer("0.1.0"),
        ServerMessage::VersionMismatch {
            service: PROTOCOL_VERSION,
            client: 9
        }
    );
    // A future service's error kind.
    let m: ServerMessage = decode(
        br#"{"kind":"response","id":3,"error":{"kind":"quota_exceeded","message":"too many"}}"#,
    )
    .unwrap();
    let ServerMessage::Response(Response {
        id: 3,
        result: Err(e),
    }) = m
    else {
        panic!("{m:?}")
    };
    assert_eq!(e.kind, IpcErrorKind::Unknown);
    assert_eq!(e.to_string(), "too many");
}

#[test]
fn bad_requests_are_clear_errors_with_a_salvageable_id() {
    let bad_name = br#"{"kind":"request","id":12,"type":"activate","name":"no spaces allowed"}"#;
    let e = decode::<ClientMessage>(bad_name).unwrap_err();
    assert!(matches!(e, FrameError::Message(_)), "{e:?}");
    assert!(e.to_string().contains("contains ` `"), "{e}");
    assert_eq!(request_id(bad_name), Some(12));

    let unknown = br#"{"kind":"request","id":13,"type":"frobnicate"}"#;
    let e = decode::<ClientMessage>(unknown).unwrap_err();
    assert!(
        e.to_string().contains("unknown variant `frobnicate`"),
        "{e}"
    );
    assert_eq!(request_id(unknown), Some(13));

    let e = decode::<ClientMessage>(b"{\"kind\":").unwrap_err();
    assert!(matches!(e, FrameError::Json(_)), "{e:?}");
    assert_eq!(request_id(b"{\"kind\":"), None);
    assert_eq!(request_id(b"[1,2]"), None);
    assert_eq!(request_id(br#"{"kind":"hello"}"#), None);

    let e = decode::<ClientMessage>(br#"{"kind":"shout"}"#).unwrap_err();
    assert!(e.to_string().contains("unknown variant `shout`"), "{e}");
    let e = decode::<ServerMessage>(br#"{"kind":"response","id":1}"#).unwrap_err();
    assert!(matches!(e, FrameError::Message(_)), "{e:?}");
}

#[test]
fn a_key_in_the_wrong_field_is_not_echoed_in_errors() {
    let payload = format!(
        r#"{{"kind":"request","id":1,"type":"set_kill_switch","name":"wg0","enabled":"{PRIV}"}}"#
    );
    let e = decode::<ClientMessage>(payload.as_bytes()).unwrap_err();
    assert!(!e.to_string().contains(PRIV), "{e}");
    assert!(e.to_string().contains("expected a boolean"), "{e}");
    let payload = format!(r#"{{"kind":"request","id":1,"type":"import_zip","bytes":"{PRIV}!"}}"#);
    let e = decode::<ClientMessage>(payload.as_bytes()).unwrap_err();
    assert!(!e.to_string().contains(PRIV), "{e}");
}

#[test]
fn debug_never_shows_keys() {
    let conf = conf();
    assert!(conf.contains(PRIV) && conf.contains(PSK));
    let mut printed = Vec::new();
    for m in client_messages() {
        printed.push(format!("{m:?}"));
        printed.push(format!("{m:#?}"));
    }
    for m in server_messages() {
        printed.push(format!("{m:?}"));
    }
    for p in &printed {
        assert!(!p.contains(PRIV) && !p.contains(PSK), "{p}");
    }
    let import = format!("{:?}", requests()[2]);
    assert!(import.contains("ConfigText(<"), "{import}");
    let zip = format!("{:?}", bodies()[7]);
    assert_eq!(zip, "Zip { bytes: SecretBytes(<5 bytes, not shown>) }");
}

#[test]
fn tunnel_detail_cannot_carry_a_key() {
    // Built from unredacted text, or received with one: redacted either way.
    let detail = detail();
    assert!(!detail.config_text.as_str().contains(PRIV));
    let json = serde_json::to_string(&detail).unwrap();
    assert!(!json.contains(PRIV) && !json.contains(PSK));
    let forged = json.replace("PrivateKey = (hidden)", &format!("PrivateKey = {PRIV}"));
    assert!(forged.contains(PRIV));
    let back: TunnelDetail = serde_json::from_str(&forged).unwrap();
    assert!(!back.config_text.as_str().contains(PRIV));
    assert_eq!(back, detail);
}

#[test]
fn ipc_error_display_lists_diagnostics() {
    let e = invalid_config_error();
    assert_eq!(
        e.to_string(),
        "the config for `wg0` has 1 error\n  line 2, column 14: `PrivateKey`: not a valid key: \
         expected 44 characters of base64 (32 bytes, as printed by `wg genkey`), found 4 characters"
    );
    let IpcErrorKind::InvalidConfig { diagnostics } = &e.kind else {
        panic!()
    };
    assert!(diagnostics[0].starts_with("line 2, column 14: "));
}

#[test]
fn secret_bytes_predicts_its_encoded_size() {
    for n in [0, 1, 2, 3, 4, 100, 1000] {
        let b = SecretBytes::new(vec![7; n]);
        let json = serde_json::to_string(&b).unwrap();
        assert_eq!(json.len() - 2, b.encoded_len());
    }
}

fn arb_name() -> impl Strategy<Value = TunnelName> {
    "[a-zA-Z0-9_=+.-]{1,15}".prop_map(|s| TunnelName::new(&s).unwrap())
}

fn arb_state() -> impl Strategy<Value = TunnelState> {
    prop_oneof![
        Just(TunnelState::Inactive),
        Just(TunnelState::Activating),
        Just(TunnelState::Active),
        Just(TunnelState::Deactivating),
        any::<String>().prop_map(|message| TunnelState::Error { message }),
    ]
}

fn arb_on_conflict() -> impl Strategy<Value = OnConflict> {
    prop_oneof![
        Just(OnConflict::Fail),
        Just(OnConflict::Replace),
        Just(OnConflict::Rename)
    ]
}

fn arb_request() -> impl Strategy<Value = Request> {
    let mode = prop_oneof![
        Just(RoutingMode::Split),
        Just(RoutingMode::Full),
        Just(RoutingMode::ExcludePrivate)
    ];
    let kinds = proptest::collection::btree_set(
        prop_oneof![
            Just(EventKind::Tunnels),
            Just(EventKind::Stats),
            Just(EventKind::Log)
        ],
        0..3,
    );
    prop_oneof![
        Just(Request::ListTunnels),
        arb_name().prop_map(|name| Request::GetTunnel { name }),
        (arb_name(), any::<String>(), arb_on_conflict()).prop_map(|(name, t, on_conflict)| {
            Request::ImportTunnel {
                name,
                config_text: t.into(),
                on_conflict,
            }
        }),
        (any::<Vec<u8>>(), arb_on_conflict()).prop_map(|(b, on_conflict)| Request::ImportZip {
            bytes: b.into(),
            on_conflict
        }),
        (arb_name(), any::<String>()).prop_map(|(name, t)| Request::UpdateTunnel {
            name,
            config_text: t.into()
        }),
        (arb_name(), arb_name()).prop_map(|(from, to)| Request::RenameTunnel { from, to }),
        (arb_name(), mode).prop_map(|(name, mode)| Request::SetRoutingMode { name, mode }),
        (arb_name(), any::<bool>())
            .prop_map(|(name, enabled)| Request::SetKillSwitch { name, enabled }),
        (any::<Option<u64>>(), any::<u32>())
            .prop_map(|(since, limit)| Request::ReadLog { since, limit }),
        kinds.prop_map(|events| Request::Subscribe { events }),
    ]
}

fn arb_event() -> impl Strategy<Value = Event> {
    let stats = (
        any::<String>(),
        any::<Option<String>>(),
        any::<Option<u64>>(),
        any::<u64>(),
        any::<u64>(),
    )
        .prop_map(
            |(public_key, endpoint, latest_handshake_unix, rx_bytes, tx_bytes)| PeerStats {
                public_key,
                endpoint,
                latest_handshake_unix,
                rx_bytes,
                tx_bytes,
            },
        );
    prop_oneof![
        (arb_name(), arb_state()).prop_map(|(name, state)| Event::TunnelState { name, state }),
        Just(Event::TunnelsChanged),
        (arb_name(), proptest::collection::vec(stats, 0..4))
            .prop_map(|(name, peers)| Event::Stats { name, peers }),
        (any::<u64>(), any::<u64>(), any::<String>(), any::<String>()).prop_map(
            |(seq, unix_millis, target, message)| Event::Log(LogLine {
                seq,
                unix_millis,
                level: LogLevel::Info,
                target,
                message
            })
        ),
    ]
}

proptest! {
    #[test]
    fn any_request_round_trips(id in any::<u64>(), request in arb_request()) {
        let m = ClientMessage::Request(RequestEnvelope { id, request });
        let back: ClientMessage = decode(&serde_json::to_vec(&m).unwrap()).unwrap();
        prop_assert_eq!(back, m);
    }

    #[test]
    fn any_event_and_response_round_trips(id in any::<u64>(), event in arb_event(), message in any::<String>()) {
        let m = ServerMessage::Event(event);
        let back: ServerMessage = decode(&serde_json::to_vec(&m).unwrap()).unwrap();
        prop_assert_eq!(back, m);
        let r = ServerMessage::Response(Response::error(id, IpcError::new(IpcErrorKind::Busy, message)));
        let back: ServerMessage = decode(&serde_json::to_vec(&r).unwrap()).unwrap();
        prop_assert_eq!(back, r);
    }

    #[test]
    fn redaction_hides_any_key_value(key in "[A-Za-z0-9+/]{43}=", spaces in "[ \t]{0,3}", case in any::<bool>()) {
        let word = if case { "PRIVATEKEY" } else { "PresharedKey" };
        let text = format!("[Interface]\n{spaces}{word}{spaces}={spaces}{key}{spaces}\n");
        let red = redact_config_text(&text);
        prop_assert!(!red.contains(&key), "{}", red);
        let restored = restore_redacted_keys(&red, &text);
        if case {
            prop_assert_eq!(restored.as_str(), text.as_str());
        }
    }
}
