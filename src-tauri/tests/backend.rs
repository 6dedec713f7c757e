//! The app's commands (through `Backend`, which they wrap) against a real culvertd:
//! tunnel management without a network, and a live tunnel in namespaces with a
//! wireguard-go peer when root.
#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use culvert_app::backend::{Backend, Sink};
use culvert_app::connection::ConnectionStatus;
use culvert_app::import::{ConflictAction, QrImage};
use culvert_config::{PrivateKey, TunnelName};
use culvert_ipc::{Event, RoutingMode, TunnelState};
use culvert_netlab::{Keys, Kind, Lab, PeerSetup, TUNNEL_V4, UNDERLAY_V4, can_run};

const DEADLINE: Duration = Duration::from_secs(30);

/// What the backend handed to its sink, for the tests to wait on.
#[derive(Default)]
struct Recorder {
    seen: Mutex<(Vec<ConnectionStatus>, Vec<Event>)>,
    changed: Condvar,
}

impl Sink for Recorder {
    fn connection_changed(&self, status: &ConnectionStatus) {
        self.seen.lock().unwrap().0.push(status.clone());
        self.changed.notify_all();
    }

    fn service_event(&self, event: &Event) {
        self.seen.lock().unwrap().1.push(event.clone());
        self.changed.notify_all();
    }
}

impl Recorder {
    /// Waits until `check` holds for what was recorded.
    fn wait(&self, what: &str, check: impl Fn(&[ConnectionStatus], &[Event]) -> bool) {
        let end = Instant::now() + DEADLINE;
        let mut seen = self.seen.lock().unwrap();
        while !check(&seen.0, &seen.1) {
            let left = end.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "timed out waiting for {what}");
            seen = self.changed.wait_timeout(seen, left).unwrap().0;
        }
    }
}

fn name(n: &str) -> TunnelName {
    TunnelName::new(n).unwrap()
}

/// culvertd, built beside this test: `cargo test --workspace` builds it (for its own
/// tests). Cargo cannot be run from here while it runs the tests, so a missing binary
/// is a clear failure rather than a build.
fn culvertd_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join("culvertd");
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p culvertd` first, or `cargo test --workspace`",
        path.display()
    );
    path
}

/// culvertd in this namespace, killed when dropped.
struct Service(Child);

impl Service {
    fn start(socket: &Path, dir: &Path) -> Service {
        let command = culvert_netlab::culvertd_command(&culvertd_binary(), socket, dir);
        let child = Command::new(&command[0])
            .args(&command[1..])
            .spawn()
            .unwrap();
        culvert_netlab::wait_for("culvertd's socket", DEADLINE, || socket.exists());
        Service(child)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn conf(private: &PrivateKey, address: &str) -> String {
    format!(
        "[Interface]\nPrivateKey = {}\nAddress = {address}\n\n[Peer]\n\
         PublicKey = xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=\nAllowedIPs = 10.9.0.0/24\n",
        private.to_base64().as_str()
    )
}

#[test]
fn without_a_service_the_status_says_so_and_commands_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("none.sock");
    let backend = Backend::new(&socket, Arc::new(Recorder::default()));
    let status = backend.connect();
    assert_eq!(
        status,
        ConnectionStatus::ServiceNotRunning {
            socket: socket.display().to_string()
        }
    );
    let error = backend.list_tunnels().unwrap_err();
    assert_eq!(error.kind, "not_connected", "{error:?}");
}

#[test]
fn every_management_command_against_a_real_culvertd() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("culvertd.sock");
    let _service = Service::start(&socket, dir.path());
    let recorder = Arc::new(Recorder::default());
    let backend = Backend::new(&socket, recorder.clone());
    assert!(backend.connect().is_connected());
    backend.start_pump();

    // Imports: a .conf, a zip with a good and a bad entry, a QR image, and junk.
    let files = dir.path().join("files");
    std::fs::create_dir(&files).unwrap();
    let office_key = PrivateKey::generate();
    let office = files.join("office.conf");
    std::fs::write(&office, conf(&office_key, "10.9.0.2/32")).unwrap();
    let zip_path = files.join("bundle.zip");
    let good = conf(&PrivateKey::generate(), "10.9.1.2/32");
    let (home, broken) = (name("home"), name("broken"));
    let zip = culvert_config::export_zip_texts([
        (&home, good.as_str()),
        (&broken, "[Interface]\nPrivateKye = nope\n"),
    ])
    .unwrap();
    std::fs::write(&zip_path, &*zip).unwrap();
    let phone_text = conf(&PrivateKey::generate(), "10.9.2.2/32");
    let qr = files.join("phone.png");
    std::fs::write(&qr, culvert_config::qr_png(&phone_text).unwrap()).unwrap();
    let junk = files.join("junk.conf");
    std::fs::write(&junk, "this is not a config").unwrap();
    let paths: Vec<String> = [&office, &zip_path, &qr, &junk]
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let report = backend.import_files(&paths);
    let mut imported: Vec<&str> = report.imported.iter().map(|t| t.name.as_str()).collect();
    imported.sort_unstable();
    assert_eq!(imported, ["home", "office", "phone"], "{report:?}");
    assert!(report.conflicts.is_empty());
    let failed: Vec<&str> = report.failed.iter().map(|f| f.source.as_str()).collect();
    assert_eq!(failed.len(), 2, "{report:?}");
    assert!(
        failed
            .iter()
            .any(|s| s.ends_with("bundle.zip: broken.conf")),
        "{failed:?}"
    );
    let junk_failure = report
        .failed
        .iter()
        .find(|f| f.source.ends_with("junk.conf"))
        .unwrap();
    assert_eq!(junk_failure.kind, "invalid_input");
    assert!(
        junk_failure
            .diagnostics
            .as_ref()
            .is_some_and(|d| d[0].starts_with("line 1"))
    );
    recorder.wait("a tunnels_changed event", |_, events| {
        events.iter().any(|e| matches!(e, Event::TunnelsChanged))
    });

    // The same file again: asked about, then each answer.
    let again = backend.import_files(std::slice::from_ref(&paths[0]));
    assert!(again.imported.is_empty());
    let conflict = &again.conflicts[0];
    assert_eq!(conflict.name.as_str(), "office");
    let kept = backend
        .resolve_conflict(conflict.id, ConflictAction::Rename)
        .unwrap();
    assert_eq!(kept.imported[0].name.as_str(), "office-2");
    assert!(
        backend
            .resolve_conflict(conflict.id, ConflictAction::Replace)
            .is_err(),
        "an answered conflict is gone"
    );
    let replaced = backend.import_files(std::slice::from_ref(&paths[0]));
    let replaced = backend
        .resolve_conflict(replaced.conflicts[0].id, ConflictAction::Replace)
        .unwrap();
    assert!(replaced.imported[0].replaced);
    let skipped = backend.import_files(std::slice::from_ref(&paths[0]));
    let skipped = backend
        .resolve_conflict(skipped.conflicts[0].id, ConflictAction::Skip)
        .unwrap();
    assert_eq!(skipped, Default::default());

    // A QR code handed over as pixels (a camera frame).
    let frame = image::load_from_memory(&culvert_config::qr_png(&good).unwrap())
        .unwrap()
        .to_rgba8();
    use base64::Engine as _;
    let pixels = QrImage::Rgba {
        width: frame.width(),
        height: frame.height(),
        base64: base64::engine::general_purpose::STANDARD.encode(frame.as_raw()),
    };
    let from_camera = backend.import_qr_image(&pixels, Some(name("camera")));
    assert_eq!(
        from_camera.imported[0].name.as_str(),
        "camera",
        "{from_camera:?}"
    );

    // Create, then edit the redacted text: the hidden key is kept.
    let fresh = backend.create_tunnel(name("fresh")).unwrap();
    let text = fresh.config_text.as_str().to_owned();
    assert!(text.contains(culvert_ipc::REDACTED), "{text}");
    let edited = format!(
        "{text}\n[Peer]\nPublicKey = xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=\nAllowedIPs = 10.50.0.0/24\n"
    );
    assert!(culvert_app::validate::validate(&edited).ok);
    backend.update_tunnel(name("fresh"), edited).unwrap();
    let detail = backend.get_tunnel(name("fresh")).unwrap();
    assert_eq!(detail.peers.len(), 1);
    assert_eq!(detail.interface.public_key, fresh.interface.public_key);
    let bad = backend
        .update_tunnel(name("fresh"), "[Interface]\nAdress = x\n".to_owned())
        .unwrap_err();
    assert_eq!(bad.kind, "invalid_config");
    assert!(bad.diagnostics.is_some());

    // The explicit exports.
    let private = backend.reveal_private_key(name("fresh")).unwrap();
    let derived = PrivateKey::from_base64(&private)
        .unwrap()
        .public_key()
        .to_base64();
    assert_eq!(derived, detail.interface.public_key);
    let svg = backend.tunnel_qr_svg(name("office")).unwrap();
    assert!(svg.contains("<svg"), "{svg:.100}");
    let exported = dir.path().join("office-export.conf");
    backend
        .export_tunnel_file(name("office"), &exported)
        .unwrap();
    let written = std::fs::read_to_string(&exported).unwrap();
    assert!(written.contains(office_key.to_base64().as_str()));
    let all = dir.path().join("all.zip");
    backend.export_all_zip(&all).unwrap();
    let entries = culvert_config::import_zip(&std::fs::read(&all).unwrap()).unwrap();
    assert_eq!(entries.len(), backend.list_tunnels().unwrap().len());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        for path in [&exported, &all] {
            let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", path.display());
        }
    }

    // Rename, delete, log, status.
    backend
        .rename_tunnel(name("office-2"), name("annex"))
        .unwrap();
    backend.delete_tunnel(name("annex")).unwrap();
    let names: Vec<String> = backend
        .list_tunnels()
        .unwrap()
        .iter()
        .map(|t| t.name.as_str().to_owned())
        .collect();
    assert!(!names.contains(&"annex".to_owned()) && names.contains(&"fresh".to_owned()));
    assert_eq!(
        backend.get_tunnel(name("annex")).unwrap_err().kind,
        "not_found"
    );
    assert!(!backend.read_log(None, 100).unwrap().is_empty());
    let status = backend.service_status().unwrap();
    assert_eq!(status.tunnels as usize, names.len());
}

/// Host 1 is a wireguard-go server; host 0 runs culvertd.
fn server_lab() -> (Lab, Keys) {
    let mut lab = Lab::new("/nonexistent/culvert-engine");
    lab.start(1, Kind::WireguardGo);
    let keys = Keys::generate(true);
    lab.configure(1, &keys, PeerSetup::default());
    (lab, keys)
}

#[test]
fn a_live_tunnel_its_stats_and_a_service_restart() {
    if !can_run() {
        eprintln!("skipped: needs root and `ip netns` to run a tunnel in namespaces");
        return;
    }
    let (mut lab, keys) = server_lab();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("culvertd.sock");
    let command = culvert_netlab::culvertd_command(&culvertd_binary(), &socket, dir.path());
    let pid = lab.spawn(0, &command);
    culvert_netlab::wait_for("culvertd's socket", DEADLINE, || socket.exists());

    let recorder = Arc::new(Recorder::default());
    let backend = Backend::new(&socket, recorder.clone());
    assert!(backend.connect().is_connected());
    backend.start_pump();
    let config = format!(
        "[Interface]\nPrivateKey = {}\nAddress = {}/24\n\n[Peer]\nPublicKey = {}\nPresharedKey = {}\n\
         AllowedIPs = {}/32\nEndpoint = {}:51001\nPersistentKeepalive = 1\n",
        keys.private[0],
        TUNNEL_V4[0],
        keys.public[1],
        keys.psk.as_ref().unwrap(),
        TUNNEL_V4[1],
        UNDERLAY_V4[1]
    );
    let conf = dir.path().join("lab.conf");
    std::fs::write(&conf, config).unwrap();
    let report = backend.import_files(&[conf.display().to_string()]);
    assert_eq!(report.imported.len(), 1, "{report:?}");

    backend.activate(name("lab")).unwrap();
    recorder.wait(
        "an active state and a handshake in the stats",
        |_, events| {
            events.iter().any(|e| {
                matches!(e, Event::Stats { name, peers } if name.as_str() == "lab"
                && peers.iter().any(|p| p.latest_handshake_unix.is_some() && p.rx_bytes > 0))
            })
        },
    );
    backend
        .set_routing_mode(name("lab"), RoutingMode::Full)
        .unwrap();
    assert_eq!(
        backend.list_tunnels().unwrap()[0].routing_mode,
        RoutingMode::Full
    );
    backend
        .set_routing_mode(name("lab"), RoutingMode::Split)
        .unwrap();

    // The service goes away: the app says so, then reconnects by itself.
    Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    recorder.wait("the service reported gone", |statuses, _| {
        statuses
            .iter()
            .any(|s| matches!(s, ConnectionStatus::ServiceNotRunning { .. }))
    });
    assert_eq!(backend.list_tunnels().unwrap_err().kind, "not_connected");
    let _ = std::fs::remove_file(&socket);
    lab.spawn(0, &command);
    recorder.wait("reconnected", |statuses, _| {
        statuses.last().is_some_and(ConnectionStatus::is_connected)
    });
    culvert_netlab::wait_for("the tunnel restored", DEADLINE, || {
        backend
            .list_tunnels()
            .is_ok_and(|list| list[0].state == TunnelState::Active)
    });
    backend.deactivate(name("lab")).unwrap();
    assert_eq!(
        backend.list_tunnels().unwrap()[0].state,
        TunnelState::Inactive
    );
}
