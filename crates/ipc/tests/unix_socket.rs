//! The real client against an in-test server over a real Unix socket, the listener's
//! socket setup, and the credential check with real peers of other uids.
#![cfg(unix)]

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use culvert_ipc::*;

/// A directory removed at the end of the test, even a failed one.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let path = std::env::temp_dir().join(format!("culvert-ipc-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        // Reachable by the unprivileged children of `unprivileged_peers_...`.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        TempDir(path)
    }

    fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn is_root() -> bool {
    fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// The gid of `name` in /etc/group.
fn etc_group_gid(name: &str) -> Option<u32> {
    fs::read_to_string("/etc/group")
        .ok()?
        .lines()
        .find_map(|l| {
            let mut f = l.split(':');
            (f.next()? == name).then(|| f.nth(1)?.parse().ok())?
        })
}

fn recv(stream: &mut Stream) -> Option<ClientMessage> {
    read_frame(stream)
        .unwrap()
        .map(|p| decode::<ClientMessage>(&p).unwrap())
}

fn recv_request(stream: &mut Stream) -> RequestEnvelope {
    match recv(stream) {
        Some(ClientMessage::Request(r)) => r,
        other => panic!("expected a request, got {other:?}"),
    }
}

fn send(stream: &mut Stream, message: &ServerMessage) {
    write_frame(stream, message).unwrap();
}

/// Accepts one client and answers its hello; returns the stream for the rest.
fn accept_and_welcome(listener: &Listener) -> (Stream, Hello) {
    let mut stream = listener.accept().unwrap();
    let Some(ClientMessage::Hello(hello)) = recv(&mut stream) else {
        panic!("no hello first")
    };
    send(&mut stream, &hello.answer("9.9.9"));
    (stream, hello)
}

fn options() -> ClientOptions {
    ClientOptions {
        client_name: "test-client".to_owned(),
        handshake_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_secs(10),
        ..ClientOptions::default()
    }
}

#[test]
fn client_and_server_speak_the_protocol() {
    let dir = TempDir::new("protocol");
    let path = dir.join("run/culvert/culvertd.sock");
    let listener = Listener::bind(&path, "culvert-ipc-test-no-such-group").unwrap();
    assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o660);
    assert_eq!(
        fs::metadata(path.parent().unwrap()).unwrap().mode() & 0o777,
        0o755
    );

    let (identity_tx, identity_rx) = mpsc::channel();
    let server = thread::spawn(move || {
        let mut stream = listener.accept().unwrap();
        identity_tx.send(authorize(&stream, SERVICE_GROUP)).unwrap();
        let Some(ClientMessage::Hello(hello)) = recv(&mut stream) else {
            panic!("no hello first")
        };
        assert_eq!(hello, Hello::new("test-client"));
        send(&mut stream, &hello.answer("9.9.9"));

        // A request, with an event pushed before its response.
        let r = recv_request(&mut stream);
        assert_eq!(r.request, Request::ListTunnels);
        send(
            &mut stream,
            &ServerMessage::Event(Event::TunnelState {
                name: name("wg0"),
                state: TunnelState::Active,
            }),
        );
        let list = ResponseBody::TunnelList {
            tunnels: vec![summary()],
        };
        send(
            &mut stream,
            &ServerMessage::Response(Response::ok(r.id, list)),
        );

        // Two requests in flight, answered in the opposite order.
        let first = recv_request(&mut stream);
        let second = recv_request(&mut stream);
        for r in [second, first] {
            let Request::GetTunnel { name } = r.request else {
                panic!("{r:?}")
            };
            let mut d = detail();
            d.summary.name = name;
            send(
                &mut stream,
                &ServerMessage::Response(Response::ok(r.id, ResponseBody::Tunnel(d))),
            );
        }

        // An error answer.
        let r = recv_request(&mut stream);
        let Request::Activate { name } = &r.request else {
            panic!("{r:?}")
        };
        let e = IpcError::tunnel_not_found(name);
        send(
            &mut stream,
            &ServerMessage::Response(Response::error(r.id, e)),
        );

        // The client hangs up.
        assert!(recv(&mut stream).is_none());
    });

    let client = Client::connect_with(&path, options()).unwrap();
    assert_eq!(client.welcome().service_version, "9.9.9");
    assert_eq!(client.welcome().version, PROTOCOL_VERSION);
    assert_eq!(client.address(), path);

    assert_eq!(client.list_tunnels().unwrap(), vec![summary()]);
    // The event that came before the response is waiting.
    assert_eq!(
        client.next_event(Duration::from_secs(5)).unwrap(),
        Some(Event::TunnelState {
            name: name("wg0"),
            state: TunnelState::Active
        })
    );

    let (a, b) = thread::scope(|s| {
        let a = s.spawn(|| client.get_tunnel(&name("alpha")).unwrap());
        let b = s.spawn(|| client.get_tunnel(&name("beta")).unwrap());
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!(a.summary.name, name("alpha"));
    assert_eq!(b.summary.name, name("beta"));

    let e = client.activate(&name("gone")).unwrap_err();
    let ClientError::Service(ipc) = &e else {
        panic!("{e:?}")
    };
    assert_eq!(ipc.kind, IpcErrorKind::NotFound);
    assert_eq!(e.to_string(), "there is no tunnel named `gone`");

    assert_eq!(client.next_event(Duration::ZERO).unwrap(), None);
    assert_eq!(client.dropped_events(), 0);
    assert!(client.is_connected());
    drop(client);
    server.join().unwrap();

    let identity = identity_rx.recv().unwrap();
    if is_root() {
        let identity = identity.unwrap();
        assert_eq!(identity.grant, Grant::Root);
        assert_eq!(identity.uid, Some(0));
        assert_eq!(identity.pid, Some(std::process::id()));
    } else {
        // Not root and (normally) not in a group of that name.
        assert_eq!(identity.unwrap_err().kind, IpcErrorKind::PermissionDenied);
    }
}

#[test]
fn version_mismatch_is_a_clear_error_both_ways() {
    for (service, advice) in [
        (PROTOCOL_VERSION + 1, "update this client"),
        (PROTOCOL_VERSION - 1, "update culvertd"),
    ] {
        let dir = TempDir::new(&format!("version-{service}"));
        let path = dir.join("culvertd.sock");
        let listener = Listener::bind(&path, SERVICE_GROUP).unwrap();
        let server = thread::spawn(move || {
            let mut stream = listener.accept().unwrap();
            let Some(ClientMessage::Hello(hello)) = recv(&mut stream) else {
                panic!()
            };
            let answer = ServerMessage::VersionMismatch {
                service,
                client: hello.version,
            };
            send(&mut stream, &answer);
        });
        let e = Client::connect_with(&path, options()).unwrap_err();
        server.join().unwrap();
        assert!(matches!(e, ClientError::VersionMismatch { .. }), "{e:?}");
        let text = e.to_string();
        assert!(
            text.starts_with(&format!(
                "culvertd speaks protocol {service}, this client speaks {PROTOCOL_VERSION}: {advice}"
            )),
            "{text}"
        );
    }
}

#[test]
fn missing_socket_means_not_running() {
    let dir = TempDir::new("missing");
    let path = dir.join("culvertd.sock");
    let e = Client::connect(&path).unwrap_err();
    assert!(matches!(e, ClientError::NotRunning { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.starts_with("culvertd is not running (start it with: sudo "),
        "{text}"
    );
    assert!(text.ends_with(&format!("nothing is listening at {}", path.display())));
    if cfg!(target_os = "linux") {
        assert!(
            text.starts_with(
                "culvertd is not running (start it with: sudo systemctl start culvertd)"
            ),
            "{text}"
        );
    }

    let delay = Duration::from_millis(20);
    let start = Instant::now();
    let e = connect_with_retry(&path, 3, delay).unwrap_err();
    assert!(matches!(e, ClientError::NotRunning { .. }), "{e:?}");
    assert!(
        start.elapsed() >= delay * 2,
        "it waited between its 3 attempts"
    );
}

#[test]
fn stale_sockets_are_replaced_live_ones_and_files_are_not() {
    let dir = TempDir::new("stale");
    let path = dir.join("culvertd.sock");
    drop(UnixListener::bind(&path).unwrap());
    assert!(path.exists(), "a crashed service leaves its socket");
    let e = Client::connect(&path).unwrap_err();
    assert!(matches!(e, ClientError::NotRunning { .. }), "{e:?}");

    let live = Listener::bind(&path, SERVICE_GROUP).unwrap();
    let e = Listener::bind(&path, SERVICE_GROUP).unwrap_err();
    assert!(matches!(e, TransportError::InUse { .. }), "{e:?}");
    assert!(e.to_string().contains("already listening"), "{e}");
    drop(live);

    let file = dir.join("not-a-socket");
    fs::write(&file, "precious").unwrap();
    let e = Listener::bind(&file, SERVICE_GROUP).unwrap_err();
    assert!(matches!(e, TransportError::NotASocket { .. }), "{e:?}");
    assert_eq!(fs::read_to_string(&file).unwrap(), "precious");
}

/// The process's umask, from /proc (Linux 4.7+).
fn current_umask() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("Umask:"))?;
    u32::from_str_radix(line.trim(), 8).ok()
}

#[test]
fn the_socket_is_0660_from_bind_and_the_umask_is_restored() {
    let dir = TempDir::new("mode");
    let path = dir.join("culvertd.sock");
    let before = current_umask();
    // No such group: no chown, so the mode is what bind itself created.
    let _listener = Listener::bind(&path, "culvert-ipc-test-no-such-group").unwrap();
    let meta = fs::symlink_metadata(&path).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o660);
    assert_eq!(current_umask(), before);
}

#[test]
fn an_insecure_socket_directory_is_refused() {
    let dir = TempDir::new("insecure");
    for (name, mode) in [("group-writable", 0o775), ("world-writable", 0o1777)] {
        let sub = dir.join(name);
        fs::create_dir(&sub).unwrap();
        fs::set_permissions(&sub, fs::Permissions::from_mode(mode)).unwrap();
        let path = sub.join("culvertd.sock");
        let e = Listener::bind(&path, SERVICE_GROUP).unwrap_err();
        assert!(
            matches!(e, TransportError::InsecureDirectory { .. }),
            "{e:?}"
        );
        let message = e.to_string();
        assert!(message.contains(&sub.display().to_string()), "{message}");
        assert!(message.contains("chmod go-w"), "{message}");
        assert!(fs::symlink_metadata(&path).is_err(), "nothing was created");
    }

    // A symlinked directory is not followed.
    let real = dir.join("real");
    fs::create_dir(&real).unwrap();
    let link = dir.join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let e = Listener::bind(link.join("culvertd.sock"), SERVICE_GROUP).unwrap_err();
    assert!(
        matches!(e, TransportError::InsecureDirectory { .. }),
        "{e:?}"
    );

    // Owned by someone else.
    if is_root() {
        let other = dir.join("other-owner");
        fs::create_dir(&other).unwrap();
        std::os::unix::fs::chown(&other, Some(65534), None).unwrap();
        let e = Listener::bind(other.join("culvertd.sock"), SERVICE_GROUP).unwrap_err();
        assert!(e.to_string().contains("owned by uid 65534"), "{e}");
    }
}

#[test]
fn the_socket_belongs_to_the_group_when_it_exists() {
    if !is_root() {
        eprintln!("skipped: chown to another group needs root");
        return;
    }
    let gid = etc_group_gid("daemon").expect("Debian has group daemon");
    let dir = TempDir::new("group");
    let path = dir.join("culvertd.sock");
    let _listener = Listener::bind(&path, "daemon").unwrap();
    let meta = fs::metadata(&path).unwrap();
    assert_eq!(meta.gid(), gid);
    assert_eq!(meta.uid(), 0);
    assert_eq!(meta.mode() & 0o777, 0o660);
}

#[test]
fn refusals_and_silences_are_errors_not_hangs() {
    let dir = TempDir::new("refusals");
    let path = dir.join("culvertd.sock");
    let listener = Listener::bind(&path, SERVICE_GROUP).unwrap();
    let server = thread::spawn(move || {
        // 1. Refused: not in the group.
        let mut stream = listener.accept().unwrap();
        let error = IpcError::new(
            IpcErrorKind::PermissionDenied,
            "uid 1000 is not root and its process is not in group `culvert`",
        );
        send(&mut stream, &ServerMessage::Rejected { error });
        drop(stream);

        // 2. Silent: reads the hello, never answers, until the client gives up.
        let mut stream = listener.accept().unwrap();
        assert!(matches!(recv(&mut stream), Some(ClientMessage::Hello(_))));
        assert!(recv(&mut stream).is_none());

        // 3. Hangs up in the middle of a request.
        let (mut stream, _) = accept_and_welcome(&listener);
        send(&mut stream, &ServerMessage::Event(Event::TunnelsChanged));
        recv_request(&mut stream);
        drop(stream);

        // 4. Busy, then welcome: connect_with_retry tries again.
        let mut stream = listener.accept().unwrap();
        let error = IpcError::new(IpcErrorKind::Busy, "starting up");
        send(&mut stream, &ServerMessage::Rejected { error });
        drop(stream);
        let (mut stream, _) = accept_and_welcome(&listener);
        assert!(recv(&mut stream).is_none());
    });

    let e = Client::connect_with(&path, options()).unwrap_err();
    assert!(e.is_permission_denied(), "{e:?}");
    assert!(!e.is_transient());
    assert_eq!(
        e.to_string(),
        "culvertd refused the connection: uid 1000 is not root and its process is not in \
         group `culvert`"
    );

    let quick = ClientOptions {
        handshake_timeout: Duration::from_millis(200),
        ..options()
    };
    let e = Client::connect_with(&path, quick).unwrap_err();
    assert!(matches!(e, ClientError::Timeout { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("did not answer the hello within 200 ms"),
        "{e}"
    );

    let client = Client::connect_with(&path, options()).unwrap();
    let e = client.request(Request::ListTunnels).unwrap_err();
    assert!(matches!(e, ClientError::Disconnected { .. }), "{e:?}");
    assert!(
        e.to_string().contains("connection to culvertd was closed"),
        "{e}"
    );
    // Events that arrived before the close are still delivered, then the close.
    assert_eq!(
        client.next_event(Duration::from_secs(5)).unwrap(),
        Some(Event::TunnelsChanged)
    );
    assert!(matches!(
        client.next_event(Duration::from_secs(5)),
        Err(ClientError::Disconnected { .. })
    ));
    assert!(!client.is_connected());
    drop(client);

    let retrying = ClientOptions {
        connect_attempts: 3,
        retry_delay: Duration::from_millis(1),
        ..options()
    };
    let client = Client::connect_with(&path, retrying).unwrap();
    assert_eq!(client.welcome().service_version, "9.9.9");
    drop(client);
    server.join().unwrap();
}

#[test]
fn a_request_without_an_answer_times_out() {
    let dir = TempDir::new("timeout");
    let path = dir.join("culvertd.sock");
    let listener = Listener::bind(&path, SERVICE_GROUP).unwrap();
    let server = thread::spawn(move || {
        let (mut stream, _) = accept_and_welcome(&listener);
        let r = recv_request(&mut stream);
        // The client gives up on the first; its late answer must not confuse the next.
        let late = recv_request(&mut stream);
        send(
            &mut stream,
            &ServerMessage::Response(Response::ok(r.id, ResponseBody::Done)),
        );
        let status = ResponseBody::Updated { warnings: vec![] };
        send(
            &mut stream,
            &ServerMessage::Response(Response::ok(late.id, status)),
        );
        assert!(recv(&mut stream).is_none());
    });
    let client = Client::connect_with(&path, options()).unwrap();
    let e = client
        .request_with_timeout(Request::ServiceStatus, Duration::from_millis(100))
        .unwrap_err();
    assert!(matches!(e, ClientError::Timeout { .. }), "{e:?}");
    assert!(e.to_string().contains("request `service_status`"), "{e}");
    let body = client
        .request(Request::UpdateTunnel {
            name: name("wg0"),
            config_text: conf().into(),
        })
        .unwrap();
    assert_eq!(body, ResponseBody::Updated { warnings: vec![] });
    drop(client);
    server.join().unwrap();
}

/// Run by `unprivileged_peers_are_checked_by_their_groups` as another user: connects
/// with the real client and prints the outcome.
#[test]
fn child_client_entry() {
    let Some(path) = std::env::var_os("CULVERT_IPC_CHILD_SOCKET") else {
        return;
    };
    match Client::connect_with(Path::new(&path), options()) {
        Ok(client) => println!("RESULT: connected to {}", client.welcome().service_version),
        Err(e) => println!("RESULT: {e}"),
    }
}

#[test]
fn unprivileged_peers_are_checked_by_their_groups() {
    if !is_root() {
        eprintln!("skipped: running clients as other users needs root");
        return;
    }
    let group_gid = etc_group_gid("daemon").expect("Debian has group daemon");
    let dir = TempDir::new("peers");
    let path = dir.join("culvertd.sock");
    let listener = Listener::bind(&path, "daemon").unwrap();
    // Let everyone reach the service, so its own check is what is tested.
    fs::set_permissions(&path, fs::Permissions::from_mode(0o666)).unwrap();

    let child = |configure: &dyn Fn(&mut Command)| {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "--exact",
            "child_client_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("CULVERT_IPC_CHILD_SOCKET", &path);
        configure(&mut cmd);
        cmd
    };
    let mut cases: Vec<(&str, Command, Option<Grant>)> = vec![
        (
            "other user, other groups",
            child(&|c| {
                c.uid(65534).gid(65534);
            }),
            None,
        ),
        (
            "primary group",
            child(&|c| {
                c.uid(65534).gid(group_gid);
            }),
            Some(Grant::Group {
                name: "daemon".into(),
                gid: group_gid,
            }),
        ),
    ];
    if Path::new("/usr/bin/setpriv").exists() {
        // Supplementary groups need setgroups(), which std's Command does not offer.
        let mut cmd = Command::new("/usr/bin/setpriv");
        cmd.args([
            "--reuid=65534",
            "--regid=65534",
            &format!("--groups={group_gid}"),
        ])
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_client_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("CULVERT_IPC_CHILD_SOCKET", &path);
        let grant = Grant::Group {
            name: "daemon".into(),
            gid: group_gid,
        };
        cases.push(("supplementary group", cmd, Some(grant)));
    } else {
        eprintln!("note: no setpriv, the supplementary-group case is not run");
    }

    for (what, mut cmd, expected) in cases {
        let server = thread::scope(|s| {
            let server = s.spawn(|| {
                let mut stream = listener.accept().unwrap();
                let verdict = authorize(&stream, "daemon");
                match &verdict {
                    Ok(_) => {
                        let Some(ClientMessage::Hello(hello)) = recv(&mut stream) else {
                            panic!()
                        };
                        send(&mut stream, &hello.answer("9.9.9"));
                    }
                    Err(error) => {
                        let error = error.clone();
                        send(&mut stream, &ServerMessage::Rejected { error });
                    }
                }
                verdict
            });
            let out = cmd.output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(out.status.success(), "{what}: {stdout}");
            (server.join().unwrap(), stdout)
        });
        let (verdict, stdout) = server;
        let result = stdout
            .lines()
            .find_map(|l| l.split_once("RESULT: ").map(|(_, r)| r))
            .unwrap_or_else(|| panic!("{what}: no result in {stdout}"));
        match expected {
            Some(grant) => {
                let identity = verdict.unwrap();
                assert_eq!(identity.uid, Some(65534), "{what}");
                assert_eq!(identity.grant, grant, "{what}");
                assert_eq!(result, "connected to 9.9.9", "{what}");
            }
            None => {
                assert_eq!(verdict.unwrap_err().kind, IpcErrorKind::PermissionDenied);
                assert!(
                    result.starts_with(
                        "culvertd refused the connection: uid 65534 is not root and its \
                         process is not in group `daemon` (gid 1); add the user to the group \
                         (sudo usermod -aG daemon $USER) and log in again"
                    ),
                    "{what}: {result}"
                );
            }
        }
    }
}
