//! The named-pipe transport, server and client in one process through the crate's
//! public API: culvertd's pipe as `Listener::bind` creates it (owned by SYSTEM), the
//! real `Client` with its owner check, and the overlapped primitives under both.
//!
//! Run under wine on Linux (see /work/shared/notes/cross-builds.md) or on Windows from
//! an elevated prompt: the service's pipe is owned by SYSTEM, which a test process that
//! is not SYSTEM may only set with `SeRestorePrivilege` enabled. Wine 8 differs from
//! Windows in ways these tests note where they matter: it lets any process set any
//! owner, ignores `FILE_FLAG_FIRST_PIPE_INSTANCE` (the listener's probe still refuses
//! a taken name), and does not serialise synchronous I/O per handle, so the test of
//! events pushed to an idle client passes there even with synchronous handles.
#![cfg(windows)]

mod common;

use std::io::{self, Read as _, Write as _};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Once, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use culvert_ipc::transport::pipe::{self, LOCAL_SYSTEM_SID, PipeListener, PipeStream};
use culvert_ipc::*;

/// A pipe name no other test (nor another run of this binary) uses.
fn unique_name(tag: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    PathBuf::from(format!(
        r"\\.\pipe\culvert-test\{}-{n}-{tag}",
        std::process::id()
    ))
}

/// culvertd's pipe, created exactly as the service creates it.
fn service_pipe(tag: &str) -> (PathBuf, Listener) {
    static PRIVILEGE: Once = Once::new();
    PRIVILEGE.call_once(|| {
        pipe::enable_restore_privilege().unwrap_or_else(|e| {
            panic!(
                "the service's pipe is owned by SYSTEM; to create it, run these tests \
                 elevated or as SYSTEM: {e}"
            )
        })
    });
    let path = unique_name(tag);
    let listener = Listener::bind(&path, SERVICE_GROUP).unwrap();
    (path, listener)
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

fn state_event(tunnel: &str) -> Event {
    Event::TunnelState {
        name: name(tunnel),
        state: TunnelState::Active,
    }
}

#[test]
fn frames_cross_the_pipe_both_ways_and_oversize_ones_are_refused() {
    let (path, listener) = service_pipe("frames");
    // Larger than the pipe's 64 KiB buffers: the write completes only as the reader
    // makes room, and the reader gets it in pieces.
    let big_log = LogLine {
        message: "x".repeat(900 * 1024),
        ..log_line()
    };
    let server = {
        let big_log = big_log.clone();
        thread::spawn(move || {
            let mut stream = listener.accept().unwrap();
            let identity = authorize(&stream, SERVICE_GROUP).unwrap();
            assert_eq!(identity.grant, Grant::PipeAcl);
            assert_eq!(identity.uid, None);
            assert_eq!(identity.pid, Some(std::process::id()));
            assert_eq!(
                recv(&mut stream),
                Some(ClientMessage::Hello(Hello::new("raw")))
            );
            send(&mut stream, &ServerMessage::Event(Event::Log(big_log)));
            // A length over 1 MiB is refused from the header, before any allocation.
            match read_frame(&mut stream) {
                Err(FrameError::TooLarge { len, max }) => {
                    assert_eq!(len, MAX_FRAME as u64 + 1);
                    assert_eq!(max, MAX_FRAME);
                }
                other => panic!("expected TooLarge, got {other:?}"),
            }
        })
    };
    let mut client = Stream::connect(&path).unwrap();
    write_frame(&mut client, &ClientMessage::Hello(Hello::new("raw"))).unwrap();
    let frame = read_frame(&mut client).unwrap().unwrap();
    assert_eq!(
        decode::<ServerMessage>(&frame).unwrap(),
        ServerMessage::Event(Event::Log(big_log))
    );
    let header = u32::try_from(MAX_FRAME + 1).unwrap().to_be_bytes();
    client.write_all(&header).unwrap();
    server.join().unwrap();
    // And a frame too large to send is refused before anything is written.
    let huge = ClientMessage::Hello(Hello::new("h".repeat(MAX_FRAME)));
    assert!(matches!(
        write_frame(&mut client, &huge),
        Err(FrameError::TooLarge { .. })
    ));
}

#[test]
fn client_and_server_speak_the_protocol() {
    let (path, listener) = service_pipe("protocol");
    let server = thread::spawn(move || {
        let mut stream = listener.accept().unwrap();
        let Some(ClientMessage::Hello(hello)) = recv(&mut stream) else {
            panic!("no hello first")
        };
        assert_eq!(hello, Hello::new("test-client"));
        send(&mut stream, &hello.answer("9.9.9"));

        // A request, with an event pushed before its response.
        let r = recv_request(&mut stream);
        assert_eq!(r.request, Request::ListTunnels);
        send(&mut stream, &ServerMessage::Event(state_event("wg0")));
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

        // The client hangs up: the end of the stream, not an error.
        assert!(recv(&mut stream).is_none());
    });

    let client = Client::connect_with(&path, options()).unwrap();
    assert_eq!(client.welcome().service_version, "9.9.9");
    assert_eq!(client.welcome().version, PROTOCOL_VERSION);
    assert_eq!(client.address(), path);

    assert_eq!(client.list_tunnels().unwrap(), vec![summary()]);
    assert_eq!(
        client.next_event(Duration::from_secs(5)).unwrap(),
        Some(state_event("wg0"))
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
    assert!(client.is_connected());
    drop(client);
    server.join().unwrap();
}

/// The bug overlapped handles fix: culvertd reads each client on one thread and
/// writes to it on another, through clones of one handle. With a synchronous handle,
/// Windows serialises I/O on the file object, so the writer's WriteFile waits behind
/// the reader's ReadFile, and an idle client gets no events until it next sends
/// something. (Wine does not serialise, so there this passes with either kind.)
#[test]
fn events_reach_a_client_while_the_server_is_blocked_reading_it() {
    let (path, listener) = service_pipe("events");
    let (reader_started, started) = mpsc::channel();
    let server = thread::spawn(move || {
        let (stream, _) = accept_and_welcome(&listener);
        let mut reader = stream.try_clone().unwrap();
        let mut writer = stream;
        writer
            .set_write_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let reader = thread::spawn(move || {
            reader_started.send(()).unwrap();
            // Blocks: the client sends nothing until it has had every event.
            let r = recv_request(&mut reader);
            assert_eq!(r.request, Request::ServiceStatus);
            (reader, r.id)
        });
        started.recv().unwrap();
        // Not synchronisation of the result: gives the reader time to be inside
        // ReadFile, the case under test.
        thread::sleep(Duration::from_millis(300));
        for tunnel in ["a", "b", "c"] {
            send(&mut writer, &ServerMessage::Event(state_event(tunnel)));
        }
        let (_reader, id) = reader.join().unwrap();
        send(
            &mut writer,
            &ServerMessage::Response(Response::error(id, IpcError::internal("done"))),
        );
    });
    // The client's own reader thread is blocked reading too, while it waits.
    let client = Client::connect_with(&path, options()).unwrap();
    for tunnel in ["a", "b", "c"] {
        assert_eq!(
            client.next_event(Duration::from_secs(5)).unwrap(),
            Some(state_event(tunnel)),
            "an event pushed while the server's reader was blocked"
        );
    }
    let e = client.status().unwrap_err();
    assert_eq!(e.service_error().unwrap().message, "done");
    drop(client);
    server.join().unwrap();
}

#[test]
fn version_mismatch_is_a_clear_error_both_ways() {
    for (service, advice) in [
        (PROTOCOL_VERSION + 1, "update this client"),
        (PROTOCOL_VERSION - 1, "update culvertd"),
    ] {
        let (path, listener) = service_pipe("version");
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
fn a_missing_pipe_means_not_running() {
    let path = unique_name("missing");
    let e = Client::connect(&path).unwrap_err();
    assert!(matches!(e, ClientError::NotRunning { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.starts_with(
            "culvertd is not running (start the Culvert service (Services, or: sc start \
             culvertd))"
        ),
        "{text}"
    );
    assert!(text.ends_with(&format!("nothing is listening at {}", path.display())));

    let delay = Duration::from_millis(20);
    let start = Instant::now();
    let e = connect_with_retry(&path, 3, delay).unwrap_err();
    assert!(matches!(e, ClientError::NotRunning { .. }), "{e:?}");
    assert!(start.elapsed() >= delay * 2, "it waited between attempts");
}

#[test]
fn a_second_listener_on_the_same_name_is_refused() {
    let (path, live) = service_pipe("second");
    let e = Listener::bind(&path, SERVICE_GROUP).unwrap_err();
    assert!(matches!(e, TransportError::InUse { .. }), "{e:?}");
    assert!(e.to_string().contains("already listening"), "{e}");
    // Nor may anyone else create the name while the service holds it.
    let e = PipeListener::bind(&path, "D:P(A;;GA;;;WD)").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::AddrInUse, "{e}");
    // The name is free again once the service is gone.
    drop(live);
    let again = Listener::bind(&path, SERVICE_GROUP);
    assert!(again.is_ok(), "{again:?}");
}

#[test]
fn the_service_pipe_is_owned_by_system_and_other_pipes_are_refused() {
    let (path, _listener) = service_pipe("owner");
    let probe = PipeStream::connect(&path).unwrap();
    assert_eq!(probe.owner_sid().unwrap(), LOCAL_SYSTEM_SID);
    drop(probe);

    // A pipe anyone could have created on a free name: owned by whoever made it (the
    // test's user or its Administrators group), open to everyone. It records what
    // each connection sends until it is closed.
    let path = unique_name("squatter");
    let squatter = std::sync::Arc::new(PipeListener::bind(&path, "D:P(A;;GA;;;WD)").unwrap());
    let heard = {
        let squatter = std::sync::Arc::clone(&squatter);
        thread::spawn(move || {
            let mut heard = Vec::new();
            while let Ok(mut stream) = squatter.accept() {
                let mut got = Vec::new();
                stream.read_to_end(&mut got).unwrap();
                heard.push(got);
            }
            heard
        })
    };
    let owner = PipeStream::connect(&path).unwrap().owner_sid().unwrap();
    assert_ne!(owner, LOCAL_SYSTEM_SID);

    let e = Client::connect_with(&path, options()).unwrap_err();
    assert!(matches!(e, ClientError::Connect { .. }), "{e:?}");
    assert!(
        !e.is_permission_denied(),
        "not a matter of joining a group: {e}"
    );
    let text = e.to_string();
    assert!(
        text.contains(&format!(
            "is owned by {owner}, not by LocalSystem (S-1-5-18), so it is not culvertd's"
        )),
        "{text}"
    );
    // Give the squatter time to read the client's connection to its end, then stop it.
    thread::sleep(Duration::from_millis(300));
    squatter.close();
    let heard = heard.join().unwrap();
    // The client's connection at least (the probe's may have come and gone unseen),
    // and nothing on any: refused before the hello.
    assert!(!heard.is_empty());
    assert!(heard.iter().all(Vec::is_empty), "{heard:?}");
}

#[test]
fn shutdown_wakes_a_blocked_reader_and_the_peer_sees_the_end() {
    let (path, listener) = service_pipe("shutdown");
    let accepted = thread::spawn(move || listener.accept().unwrap());
    let client = Stream::connect(&path).unwrap();
    let mut server = accepted.join().unwrap();

    let mut reader = client.try_clone().unwrap();
    let (read_tx, read) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = [0; 16];
        read_tx.send(reader.read(&mut buf).unwrap()).unwrap();
    });
    // Not synchronisation of the result: lets the reader get inside ReadFile.
    thread::sleep(Duration::from_millis(200));
    client.shutdown().unwrap();
    let n = read
        .recv_timeout(Duration::from_secs(5))
        .expect("shutdown did not wake the blocked reader");
    assert_eq!(n, 0, "a shut-down stream reads as ended");
    let mut writer = client.try_clone().unwrap();
    assert_eq!(
        writer.write(b"late").unwrap_err().kind(),
        io::ErrorKind::BrokenPipe
    );
    // The last clone gone, the handle closes and the server reads the end.
    drop((client, writer));
    let mut rest = Vec::new();
    server.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
}

#[test]
fn shutdown_keeps_what_was_written_for_the_peer() {
    let (path, listener) = service_pipe("shutdown-data");
    let accepted = thread::spawn(move || listener.accept().unwrap());
    let mut client = Stream::connect(&path).unwrap();
    let mut server = accepted.join().unwrap();
    // As culvertd refuses a client: a last message, shutdown, gone.
    let error = IpcError::new(IpcErrorKind::Busy, "too many clients are connected");
    send(&mut server, &ServerMessage::Rejected { error });
    server.shutdown().unwrap();
    drop(server);
    let frame = read_frame(&mut client).unwrap().unwrap();
    assert!(matches!(
        decode::<ServerMessage>(&frame).unwrap(),
        ServerMessage::Rejected { .. }
    ));
    assert!(read_frame(&mut client).unwrap().is_none());
}

#[test]
fn a_write_to_a_peer_that_does_not_read_times_out() {
    let (path, listener) = service_pipe("write-timeout");
    let accepted = thread::spawn(move || listener.accept().unwrap());
    let _client = Stream::connect(&path).unwrap();
    let mut server = accepted.join().unwrap();
    server
        .set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let (done_tx, done) = mpsc::channel();
    thread::spawn(move || {
        let chunk = vec![7u8; 256 * 1024];
        let started = Instant::now();
        // The client never reads: the pipe's buffer fills, then a write waits.
        let e = loop {
            if let Err(e) = server.write_all(&chunk) {
                break e;
            }
        };
        done_tx.send((e, started.elapsed(), server)).unwrap();
    });
    let (e, waited, server) = done
        .recv_timeout(Duration::from_secs(10))
        .expect("a write to a peer that does not read never timed out");
    assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    assert!(server.set_write_timeout(Some(Duration::ZERO)).is_err());
}

#[test]
fn a_read_timeout_loses_nothing_that_comes_later() {
    let path = unique_name("read-timeout");
    let listener = PipeListener::bind(&path, "D:P(A;;GA;;;WD)").unwrap();
    let accepted = thread::spawn(move || listener.accept().unwrap());
    let mut client = PipeStream::connect(&path).unwrap();
    let mut server = accepted.join().unwrap();
    server
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = [0; 8];
    let started = Instant::now();
    let e = server.read(&mut buf).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
    assert!(started.elapsed() >= Duration::from_millis(90));
    client.write_all(b"later").unwrap();
    let n = server.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"later");
    assert_eq!(server.client_process_id().unwrap(), std::process::id());
}

#[test]
fn closing_a_listener_wakes_its_accept() {
    let path = unique_name("close");
    let listener = std::sync::Arc::new(PipeListener::bind(&path, "D:P(A;;GA;;;WD)").unwrap());
    assert_eq!(listener.name(), path.to_str().unwrap());
    let waiting = {
        let listener = std::sync::Arc::clone(&listener);
        thread::spawn(move || listener.accept().map(|_| ()))
    };
    thread::sleep(Duration::from_millis(200));
    listener.close();
    let e = waiting.join().unwrap().unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ConnectionAborted, "{e}");
    assert!(listener.accept().is_err());
    let gone = PipeStream::connect(&path).unwrap_err();
    assert_eq!(gone.kind(), io::ErrorKind::NotFound, "{gone}");
}

#[test]
fn many_clients_at_once() {
    let (path, listener) = service_pipe("many");
    const CLIENTS: usize = 8;
    let server = thread::spawn(move || {
        let handlers: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let (mut stream, hello) = accept_and_welcome(&listener);
                thread::spawn(move || {
                    let r = recv_request(&mut stream);
                    let body = ResponseBody::TunnelList {
                        tunnels: vec![TunnelSummary {
                            name: name(&hello.client),
                            ..summary()
                        }],
                    };
                    send(
                        &mut stream,
                        &ServerMessage::Response(Response::ok(r.id, body)),
                    );
                    assert!(recv(&mut stream).is_none());
                })
            })
            .collect();
        for h in handlers {
            h.join().unwrap();
        }
    });
    thread::scope(|s| {
        for i in 0..CLIENTS {
            let path = &path;
            s.spawn(move || {
                let me = format!("client{i}");
                let options = ClientOptions {
                    client_name: me.clone(),
                    ..options()
                };
                let client = Client::connect_with(path, options).unwrap();
                assert_eq!(client.list_tunnels().unwrap()[0].name, name(&me));
            });
        }
    });
    server.join().unwrap();
}

#[test]
fn refusals_and_silences_are_errors_not_hangs() {
    let (path, listener) = service_pipe("refusals");
    let server = thread::spawn(move || {
        // 1. Refused.
        let mut stream = listener.accept().unwrap();
        let error = IpcError::new(IpcErrorKind::PermissionDenied, "not for you");
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
    assert_eq!(
        e.to_string(),
        "culvertd refused the connection: not for you"
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
    let (path, listener) = service_pipe("timeout");
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
