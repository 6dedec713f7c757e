//! One sample of every message variant, shared by the test files.
#![allow(dead_code, unreachable_pub)]

use culvert_ipc::*;

pub const PRIV: &str = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
pub const PSK: &str = "FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE=";
pub const PUB: &str = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";

pub fn name(s: &str) -> TunnelName {
    TunnelName::new(s).unwrap()
}

pub fn conf() -> String {
    format!(
        "[Interface]\nPrivateKey = {PRIV}\nAddress = 10.0.0.2/32\nDNS = 1.1.1.1\n\n\
         [Peer]\nPublicKey = {PUB}\nPresharedKey = {PSK}\nAllowedIPs = 0.0.0.0/0\n\
         Endpoint = vpn.example.com:51820\n"
    )
}

pub fn summary() -> TunnelSummary {
    TunnelSummary {
        name: name("wg0"),
        state: TunnelState::Active,
        routing_mode: RoutingMode::Full,
        kill_switch: true,
    }
}

pub fn detail() -> TunnelDetail {
    TunnelDetail {
        summary: summary(),
        config_text: RedactedConfigText::new(&conf()),
        interface: InterfaceInfo {
            public_key: PUB.to_owned(),
            addresses: vec!["10.0.0.2/32".parse().unwrap()],
            dns: vec!["1.1.1.1".to_owned(), "example.com".to_owned()],
            listen_port: Some(51820),
            mtu: None,
        },
        peers: vec![PeerInfo {
            public_key: PUB.to_owned(),
            endpoint: Some("vpn.example.com:51820".to_owned()),
            allowed_ips: vec!["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()],
            has_preshared_key: true,
            latest_handshake_unix: Some(1_700_000_000),
            rx_bytes: 1234,
            tx_bytes: u64::MAX,
            persistent_keepalive: Some(25),
        }],
    }
}

pub fn log_line() -> LogLine {
    LogLine {
        seq: 42,
        unix_millis: 1_700_000_000_123,
        level: LogLevel::Warn,
        target: "culvertd::tunnel".to_owned(),
        message: "handshake with peer did not complete after 5 seconds".to_owned(),
    }
}

pub fn peer_stats() -> PeerStats {
    PeerStats {
        public_key: PUB.to_owned(),
        endpoint: Some("192.0.2.1:51820".to_owned()),
        latest_handshake_unix: None,
        rx_bytes: 0,
        tx_bytes: 92,
    }
}

pub fn invalid_config_error() -> IpcError {
    let errors = culvert_config::parse("[Interface]\nPrivateKey = nope\n").unwrap_err();
    IpcError::invalid_config(&name("wg0"), &errors)
}

pub fn requests() -> Vec<Request> {
    vec![
        Request::ListTunnels,
        Request::GetTunnel { name: name("wg0") },
        Request::ImportTunnel {
            name: name("home"),
            config_text: conf().into(),
            on_conflict: OnConflict::Rename,
        },
        Request::ImportZip {
            bytes: vec![0x50, 0x4b, 3, 4, 0, 255].into(),
            on_conflict: OnConflict::Replace,
        },
        Request::CreateTunnel { name: name("new") },
        Request::UpdateTunnel {
            name: name("wg0"),
            config_text: conf().into(),
        },
        Request::RenameTunnel {
            from: name("a"),
            to: name("b.c-d_e=f+g"),
        },
        Request::DeleteTunnel { name: name("wg0") },
        Request::Activate { name: name("wg0") },
        Request::Deactivate { name: name("wg0") },
        Request::SetRoutingMode {
            name: name("wg0"),
            mode: RoutingMode::ExcludePrivate,
        },
        Request::SetKillSwitch {
            name: name("wg0"),
            enabled: false,
        },
        Request::ExportTunnel {
            name: name("wg0"),
            include_private_key: true,
        },
        Request::ExportAllZip {
            include_private_keys: false,
        },
        Request::ReadLog {
            since: Some(41),
            limit: 100,
        },
        Request::ReadLog {
            since: None,
            limit: 0,
        },
        Request::Subscribe {
            events: EventKind::all(),
        },
        Request::Subscribe {
            events: Default::default(),
        },
        Request::Unsubscribe,
        Request::ServiceStatus,
    ]
}

pub fn bodies() -> Vec<ResponseBody> {
    vec![
        ResponseBody::Done,
        ResponseBody::TunnelList {
            tunnels: vec![
                summary(),
                TunnelSummary {
                    name: name("broken"),
                    state: TunnelState::Error {
                        message: "could not create the TUN device".to_owned(),
                    },
                    routing_mode: RoutingMode::Split,
                    kill_switch: false,
                },
            ],
        },
        ResponseBody::Tunnel(detail()),
        ResponseBody::Imported(ImportedTunnel {
            name: name("home-2"),
            source: "home".to_owned(),
            replaced: false,
            warnings: vec!["line 9, column 1: warning: something".to_owned()],
        }),
        ResponseBody::ZipImported {
            imported: vec![ImportedTunnel {
                name: name("office"),
                source: "configs/office.conf".to_owned(),
                replaced: true,
                warnings: vec![],
            }],
            skipped: vec![SkippedEntry {
                path: "bad.conf".to_owned(),
                error: invalid_config_error(),
            }],
        },
        ResponseBody::Updated { warnings: vec![] },
        ResponseBody::Exported {
            text: conf().into(),
        },
        ResponseBody::Zip {
            bytes: vec![1, 2, 3, 4, 5].into(),
        },
        ResponseBody::LogLines {
            lines: vec![log_line()],
        },
        ResponseBody::Status(ServiceStatus {
            service_version: "0.1.0".to_owned(),
            protocol_version: PROTOCOL_VERSION,
            pid: 1234,
            uptime_secs: 86_400,
            tunnels: 3,
            active: vec![name("wg0")],
            clients: 2,
            scripts_enabled: false,
        }),
    ]
}

pub fn events() -> Vec<Event> {
    vec![
        Event::TunnelState {
            name: name("wg0"),
            state: TunnelState::Activating,
        },
        Event::TunnelState {
            name: name("wg0"),
            state: TunnelState::Error {
                message: "no route".to_owned(),
            },
        },
        Event::TunnelsChanged,
        Event::Stats {
            name: name("wg0"),
            peers: vec![peer_stats()],
        },
        Event::Log(log_line()),
    ]
}

pub fn errors() -> Vec<IpcError> {
    vec![
        IpcError::tunnel_not_found(&name("wg0")),
        IpcError::tunnel_exists(&name("wg0")),
        invalid_config_error(),
        IpcError::invalid_request("bad"),
        IpcError::new(IpcErrorKind::Conflict, "deactivate it first"),
        IpcError::new(IpcErrorKind::PermissionDenied, "no"),
        IpcError::new(IpcErrorKind::Busy, "busy"),
        IpcError::new(IpcErrorKind::Unsupported, "not on macOS"),
        IpcError::internal("oops"),
    ]
}

pub fn client_messages() -> Vec<ClientMessage> {
    let mut out = vec![ClientMessage::Hello(Hello::new("culvert-cli 0.1.0"))];
    out.extend(requests().into_iter().enumerate().map(|(i, request)| {
        ClientMessage::Request(RequestEnvelope {
            id: i as u64,
            request,
        })
    }));
    out
}

pub fn server_messages() -> Vec<ServerMessage> {
    let mut out = vec![
        Hello::new("x").answer("0.1.0"),
        ServerMessage::VersionMismatch {
            service: 2,
            client: 1,
        },
        ServerMessage::Rejected {
            error: IpcError::new(IpcErrorKind::PermissionDenied, "not in group"),
        },
    ];
    out.extend(
        bodies()
            .into_iter()
            .enumerate()
            .map(|(i, b)| ServerMessage::Response(Response::ok(i as u64, b))),
    );
    out.extend(
        errors()
            .into_iter()
            .map(|e| ServerMessage::Response(Response::error(u64::MAX, e))),
    );
    out.extend(events().into_iter().map(ServerMessage::Event));
    out
}
