//! A real culvertd serving several clients at once: events reach every subscriber, and
//! malformed, oversized, out-of-order and wrong-version traffic gets a clear answer (or
//! a closed connection) while the service keeps serving everyone else. Needs root (the
//! socket admits root and group culvert only).
#![cfg(target_os = "linux")]

use culvert_config::TunnelName;
use culvert_ipc::{
    ClientMessage, ConfigText, Event, EventKind, Hello, OnConflict, Request, RequestEnvelope,
    ServerMessage, decode, encode, read_frame,
};
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Daemon {
    child: Child,
    dir: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start() -> Option<(Daemon, PathBuf)> {
    if !culvert_netlab::can_run() {
        return None;
    }
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("culvertd-protocol-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("culvertd.sock");
    let command = culvert_netlab::culvertd_command(
        std::path::Path::new(env!("CARGO_BIN_EXE_culvertd")),
        &socket,
        &dir,
    );
    let child = Command::new(&command[0])
        .args(&command[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let daemon = Daemon { child, dir };
    culvert_netlab::wait_for("culvertd's socket", Duration::from_secs(20), || {
        socket.exists()
    });
    Some((daemon, socket))
}

fn raw(socket: &Path) -> UnixStream {
    let stream = UnixStream::connect(socket).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

fn send(stream: &mut UnixStream, message: &ClientMessage) {
    stream.write_all(&encode(message).unwrap()).unwrap();
}

fn receive(stream: &mut UnixStream) -> Option<ServerMessage> {
    read_frame(stream)
        .ok()
        .flatten()
        .map(|frame| decode(&frame).unwrap())
}

fn hello(stream: &mut UnixStream) {
    send(stream, &ClientMessage::Hello(Hello::new("protocol-test")));
    assert!(matches!(receive(stream), Some(ServerMessage::Welcome(_))));
}

fn config() -> String {
    let key = culvert_config::PrivateKey::generate();
    let peer = culvert_config::PrivateKey::generate().public_key();
    format!(
        "[Interface]\nPrivateKey = {}\nAddress = 10.9.0.2/32\n\n[Peer]\nPublicKey = {peer}\nAllowedIPs = 10.9.0.0/24\n",
        &*key.to_base64()
    )
}

#[test]
fn two_clients_see_the_same_events() {
    let Some((_daemon, socket)) = start() else {
        return;
    };
    let a = culvert_ipc::connect_with_retry(&socket, 20, Duration::from_millis(100)).unwrap();
    let b = culvert_ipc::connect_with_retry(&socket, 20, Duration::from_millis(100)).unwrap();
    a.subscribe([EventKind::Tunnels].into()).unwrap();
    b.subscribe([EventKind::Tunnels].into()).unwrap();
    let name = TunnelName::new("shared").unwrap();
    a.request(Request::ImportTunnel {
        name,
        config_text: ConfigText::new(config()),
        on_conflict: OnConflict::Fail,
    })
    .unwrap();
    for client in [&a, &b] {
        let event = client.next_event(Duration::from_secs(10)).unwrap();
        assert!(matches!(event, Some(Event::TunnelsChanged)), "{event:?}");
    }
    assert_eq!(b.list_tunnels().unwrap().len(), 1);
}

#[test]
fn bad_traffic_is_answered_and_others_are_still_served() {
    let Some((_daemon, socket)) = start() else {
        return;
    };
    let good = culvert_ipc::connect_with_retry(&socket, 20, Duration::from_millis(100)).unwrap();

    // A future client: told the versions, not left hanging.
    let mut stream = raw(&socket);
    send(
        &mut stream,
        &ClientMessage::Hello(Hello {
            version: 99,
            client: "future".into(),
        }),
    );
    assert!(matches!(
        receive(&mut stream),
        Some(ServerMessage::VersionMismatch {
            service: 1,
            client: 99
        })
    ));

    // A request before the hello is refused with a reason.
    let mut stream = raw(&socket);
    send(
        &mut stream,
        &ClientMessage::Request(RequestEnvelope {
            id: 1,
            request: Request::ListTunnels,
        }),
    );
    assert!(matches!(
        receive(&mut stream),
        Some(ServerMessage::Rejected { .. })
    ));

    // A request that cannot be read still gets an answer with its id.
    let mut stream = raw(&socket);
    hello(&mut stream);
    let payload = br#"{"kind":"request","id":7,"type":"no_such_request"}"#;
    stream
        .write_all(&(payload.len() as u32).to_be_bytes())
        .unwrap();
    stream.write_all(payload).unwrap();
    match receive(&mut stream) {
        Some(ServerMessage::Response(response)) => {
            assert_eq!(response.id, 7);
            assert!(response.result.is_err());
        }
        other => panic!("{other:?}"),
    }

    // An oversized frame ends that connection without the service reading 2 GiB.
    let mut stream = raw(&socket);
    hello(&mut stream);
    stream.write_all(&(2_000_000_000u32).to_be_bytes()).unwrap();
    let _ = stream.write_all(&[b'{'; 1024]);
    assert!(receive(&mut stream).is_none(), "the connection is closed");

    // Garbage instead of a hello.
    let mut stream = raw(&socket);
    stream.write_all(b"\x00\x00\x00\x05hello").unwrap();
    assert!(matches!(
        receive(&mut stream),
        Some(ServerMessage::Rejected { .. }) | None
    ));

    // Everyone else is still served.
    assert!(good.list_tunnels().unwrap().is_empty());
    assert!(good.status().unwrap().pid > 0);
}
