//! The built `culvert` binary against a minimal culvertd speaking the real protocol
//! over a real Unix socket (hello, framed requests and responses, pushed events).
#![cfg(unix)]

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;

use common::*;
use culvert_ipc::*;

type Handler = dyn Fn(&Request) -> Result<ResponseBody, IpcError> + Send + Sync;

/// What the server saw: each connection's hello client name and requests.
#[derive(Default)]
struct Seen {
    hellos: Vec<String>,
    requests: Vec<Request>,
}

struct Server {
    socket: PathBuf,
    seen: Arc<Mutex<Seen>>,
}

impl Server {
    /// Serves connections one after the other: answers the hello (with a version
    /// mismatch when `mismatch`), each request with `handler`, and after the
    /// request that follows a `subscribe` pushes `events` and hangs up.
    fn start(dir: &TempDir, handler: Box<Handler>, events: Vec<Event>, mismatch: bool) -> Server {
        let socket = dir.join("culvertd.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let shared = Arc::clone(&seen);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                serve(stream, &*handler, &events, mismatch, &shared);
            }
        });
        Server { socket, seen }
    }

    fn requests(&self) -> Vec<Request> {
        self.seen.lock().unwrap().requests.clone()
    }
}

fn serve(
    mut stream: UnixStream,
    handler: &Handler,
    events: &[Event],
    mismatch: bool,
    seen: &Mutex<Seen>,
) {
    let Ok(Some(payload)) = read_frame(&mut stream) else {
        return;
    };
    let Ok(ClientMessage::Hello(hello)) = decode::<ClientMessage>(&payload) else {
        return;
    };
    seen.lock().unwrap().hellos.push(hello.client.clone());
    if mismatch {
        let answer = ServerMessage::VersionMismatch {
            service: PROTOCOL_VERSION + 1,
            client: hello.version,
        };
        let _ = write_frame(&mut stream, &answer);
        return;
    }
    write_frame(&mut stream, &hello.answer("0.1.0")).unwrap();
    let mut subscribed = false;
    while let Ok(Some(payload)) = read_frame(&mut stream) {
        let Ok(ClientMessage::Request(RequestEnvelope { id, request })) = decode(&payload) else {
            return;
        };
        seen.lock().unwrap().requests.push(request.clone());
        let response = match handler(&request) {
            Ok(body) => Response::ok(id, body),
            Err(e) => Response::error(id, e),
        };
        if write_frame(&mut stream, &ServerMessage::Response(response)).is_err() {
            return;
        }
        if subscribed && !events.is_empty() {
            for event in events {
                let _ = write_frame(&mut stream, &ServerMessage::Event(event.clone()));
            }
            // Gone: the follower must notice and end.
            return;
        }
        subscribed |= matches!(request, Request::Subscribe { .. });
    }
}

fn culvert(socket: &Path, args: &[&str]) -> Output {
    culvert_with(socket, args, &[])
}

fn culvert_with(socket: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_culvert"))
        .arg("--socket")
        .arg(socket)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn list_prints_the_table() {
    let dir = TempDir::new("e2e-list");
    let server = Server::start(
        &dir,
        Box::new(|request| match request {
            Request::ListTunnels => Ok(ResponseBody::TunnelList {
                tunnels: vec![
                    summary("wg0", TunnelState::Active, RoutingMode::Full, true),
                    summary(
                        "office",
                        TunnelState::Inactive,
                        RoutingMode::ExcludePrivate,
                        false,
                    ),
                ],
            }),
            _ => Err(IpcError::invalid_request("unexpected")),
        }),
        vec![],
        false,
    );
    let out = culvert(&server.socket, &["list"]);
    assert_eq!(text(&out.stderr), "");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        "NAME    STATE     ROUTING          KILL SWITCH\n\
         wg0     active    full             on\n\
         office  inactive  exclude-private  off\n"
    );
    assert_eq!(server.requests(), vec![Request::ListTunnels]);
    let hellos = server.seen.lock().unwrap().hellos.clone();
    assert_eq!(
        hellos,
        vec![format!("culvert-cli {}", env!("CARGO_PKG_VERSION"))]
    );
}

#[test]
fn up_against_a_missing_socket_exits_3_saying_culvertd_is_not_running() {
    let dir = TempDir::new("e2e-missing");
    let socket = dir.join("culvertd.sock");
    let out = culvert(&socket, &["up", "x"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        text(&out.stderr),
        format!(
            "error: culvertd is not running (start it with: sudo systemctl start culvertd): \
             nothing is listening at {}\n",
            socket.display()
        )
    );
    assert_eq!(text(&out.stdout), "");
}

#[test]
fn a_stale_socket_is_not_running_either() {
    let dir = TempDir::new("e2e-stale");
    let socket = dir.join("culvertd.sock");
    drop(UnixListener::bind(&socket).unwrap());
    let out = culvert(&socket, &["list"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).starts_with("error: culvertd is not running"));
}

#[test]
fn a_service_of_another_version_exits_3_saying_which_to_update() {
    let dir = TempDir::new("e2e-version");
    let server = Server::start(&dir, Box::new(|_| Ok(ResponseBody::Done)), vec![], true);
    let out = culvert(&server.socket, &["up", "wg0"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        text(&out.stderr),
        format!(
            "error: culvertd speaks protocol {}, this client speaks {PROTOCOL_VERSION}: update \
             this client (the culvert CLI or app) to the service's version\n",
            PROTOCOL_VERSION + 1
        )
    );
}

#[test]
fn a_refusal_by_the_service_exits_1_with_its_message() {
    let dir = TempDir::new("e2e-refusal");
    let server = Server::start(
        &dir,
        Box::new(|request| match request {
            Request::Activate { name } => Err(IpcError::tunnel_not_found(name)),
            _ => Ok(ResponseBody::Done),
        }),
        vec![],
        false,
    );
    let out = culvert(&server.socket, &["up", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "error: there is no tunnel named `nope`\n"
    );
    assert_eq!(
        server.requests(),
        vec![Request::Activate { name: name("nope") }]
    );
}

#[test]
fn delete_without_yes_and_without_a_terminal_exits_2_before_connecting() {
    let dir = TempDir::new("e2e-delete");
    let server = Server::start(&dir, Box::new(|_| Ok(ResponseBody::Done)), vec![], false);
    let out = culvert(&server.socket, &["delete", "wg0"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "error: refusing to delete wg0 without confirmation: standard input is not a \
         terminal; pass --yes\n"
    );
    assert!(server.seen.lock().unwrap().hellos.is_empty());

    let out = culvert(&server.socket, &["delete", "wg0", "--yes"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "deleted wg0\n");
    assert_eq!(
        server.requests(),
        vec![Request::DeleteTunnel { name: name("wg0") }]
    );
}

#[test]
fn edit_runs_visual_and_sends_the_redacted_edit() {
    let dir = TempDir::new("e2e-edit");
    let server = Server::start(
        &dir,
        Box::new(|request| match request {
            Request::GetTunnel { .. } => Ok(ResponseBody::Tunnel(detail())),
            Request::UpdateTunnel { .. } => Ok(ResponseBody::Updated { warnings: vec![] }),
            _ => Err(IpcError::invalid_request("unexpected")),
        }),
        vec![],
        false,
    );
    let script = dir.join("editor.sh");
    fs::write(
        &script,
        "#!/bin/sh\nsed 's/^DNS = 1.1.1.1$/DNS = 9.9.9.9/' \"$1\" > \"$1.new\" && mv \"$1.new\" \"$1\"\n",
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let visual = script.display().to_string();
    let out = culvert_with(
        &server.socket,
        &["edit", "wg0"],
        &[("VISUAL", &visual), ("EDITOR", "false")],
    );
    assert_eq!(text(&out.stderr), "");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "saved wg0\n");
    let expected = redact_config_text(&conf()).replace("DNS = 1.1.1.1", "DNS = 9.9.9.9");
    assert_eq!(
        server.requests(),
        vec![
            Request::GetTunnel { name: name("wg0") },
            Request::UpdateTunnel {
                name: name("wg0"),
                config_text: expected.into()
            },
        ]
    );
}

#[test]
fn log_follow_prints_pushed_lines_until_the_service_goes_away() {
    let dir = TempDir::new("e2e-log");
    let line = |seq: u64, message: &str| LogLine {
        seq,
        unix_millis: 1_700_000_000_000 + seq,
        level: LogLevel::Info,
        target: "culvertd::tunnel".to_owned(),
        message: message.to_owned(),
    };
    let first = line(1, "service started");
    let server = Server::start(
        &dir,
        Box::new(move |request| match request {
            Request::Subscribe { .. } => Ok(ResponseBody::Done),
            Request::ReadLog { .. } => Ok(ResponseBody::LogLines {
                lines: vec![first.clone()],
            }),
            _ => Err(IpcError::invalid_request("unexpected")),
        }),
        vec![
            Event::Log(line(2, "wg0 is up")),
            Event::Log(line(3, "handshake with peer")),
        ],
        false,
    );
    let out = culvert(&server.socket, &["log", "-f", "-n", "1"]);
    assert_eq!(
        text(&out.stdout),
        "2023-11-14T22:13:20.001Z  INFO culvertd::tunnel: service started\n\
         2023-11-14T22:13:20.002Z  INFO culvertd::tunnel: wg0 is up\n\
         2023-11-14T22:13:20.003Z  INFO culvertd::tunnel: handshake with peer\n"
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).starts_with("error: the connection to culvertd was closed"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        server.requests(),
        vec![
            Request::Subscribe {
                events: [EventKind::Log].into()
            },
            Request::ReadLog {
                since: None,
                limit: 1
            },
        ]
    );
}
