//! The desktop app end to end: the release binary in the real webview (tauri-driver +
//! WebKitWebDriver under Xvfb), driven by `ui/e2e/app.e2e.mjs`, against a real
//! culvertd in a network namespace whose tunnel reaches a wireguard-go peer.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use culvert_netlab::{Keys, Kind, Lab, PeerSetup, TUNNEL_V4, UNDERLAY_V4};

use crate::sys::{self, cargo, run};

pub(crate) const TAURI_DRIVER_VERSION: &str = "2.1.0";
const DRIVER_PORT: u16 = 4444;
const DEADLINE: Duration = Duration::from_secs(60);
/// The whole WebDriver script (about a minute when all is well).
const TEST_DEADLINE: Duration = Duration::from_secs(600);

/// `cargo xtask e2e`: only the end-to-end test (`cargo xtask test` runs it too).
pub(crate) fn main(args: &[String]) -> anyhow::Result<()> {
    if let Some(arg) = args.first() {
        bail!("`cargo xtask e2e` takes no arguments (got `{arg}`)");
    }
    e2e(&sys::workspace_root())
}

/// The app as `tauri build` makes it: the front end built, then the binary with
/// `tauri/custom-protocol` (Tauri's CLI adds that feature; without it the app would
/// load the dev server's URL instead of the embedded front end).
pub(crate) fn build_release_app(root: &Path) -> anyhow::Result<PathBuf> {
    let ui = root.join("ui");
    sys::ensure_npm_packages(&ui)?;
    run(Command::new("npm").args(["run", "build"]).current_dir(&ui))?;
    run(cargo().args([
        "build",
        "--release",
        "-p",
        "culvert-app",
        "--features",
        "tauri/custom-protocol",
    ]))?;
    Ok(root.join("target/release/culvert-app"))
}

/// Runs the end-to-end test; its screenshots land in `target/e2e/`.
pub(crate) fn e2e(root: &Path) -> anyhow::Result<()> {
    if !culvert_netlab::can_run() {
        println!("GUI end-to-end test skipped: it needs root for its network namespaces");
        return Ok(());
    }
    sys::ensure_cargo_tool("tauri-driver", TAURI_DRIVER_VERSION)?;
    let app = build_release_app(root)?;
    run(cargo().args(["build", "-p", "culvertd", "--bin", "culvertd"]))?;
    let culvertd = root.join("target/debug/culvertd");

    let out = root.join("target/e2e");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out)?;
    let mut lab = Lab::new("/nonexistent/culvert-engine");
    lab.start(1, Kind::WireguardGo);
    let keys = Keys::generate(true);
    lab.configure(1, &keys, PeerSetup::default());

    let conf = out.join("lab.conf");
    std::fs::write(&conf, lab_config(&keys))?;
    let qr = out.join("phone.png");
    write_qr(&qr, &phone_config()?)?;

    let socket = out.join("culvertd.sock");
    let arg = |p: &Path| p.to_string_lossy().into_owned();
    lab.spawn(
        0,
        &[
            &arg(&culvertd),
            "--socket",
            &arg(&socket),
            "--config-dir",
            &arg(&out.join("etc")),
            "--state-dir",
            &arg(&out.join("var")),
            "--resolv-conf",
            &arg(&out.join("resolv.conf")),
        ],
    );
    wait("culvertd's socket", || socket.exists())?;
    // Traffic both ways once the app brings the tunnel up (until then, no route).
    // (A lone ping would exit at once on "network unreachable".)
    let pinger = format!(
        "while :; do ping -q -c 4 -i 0.5 {} >/dev/null 2>&1 || sleep 0.5; done",
        TUNNEL_V4[1]
    );
    lab.spawn(0, &["sh", "-c", &pinger]);

    let driver = Driver::start(&socket)?;
    let mut node = Command::new("node")
        .arg("e2e/app.e2e.mjs")
        .current_dir(root.join("ui"))
        .env("CULVERT_APP", &app)
        .env("E2E_CONF", &conf)
        .env("E2E_QR", &qr)
        .env("E2E_SCREENSHOTS", out.join("screenshots"))
        .env("E2E_REPORT", out.join("report.json"))
        .spawn()
        .context("running node")?;
    // Each step waits at most a minute; a WebDriver call that never returns must not
    // hang CI.
    let started = Instant::now();
    let status = loop {
        if let Some(status) = node.try_wait()? {
            break Some(status);
        }
        if started.elapsed() > TEST_DEADLINE {
            let _ = node.kill();
            let _ = node.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    drop(driver);
    drop(lab);
    match status {
        Some(status) if status.success() => Ok(()),
        Some(status) => bail!(
            "the GUI end-to-end test failed ({status}); screenshots in {}",
            out.display()
        ),
        None => bail!("the GUI end-to-end test hung for {TEST_DEADLINE:?} and was stopped"),
    }
}

/// `tauri-driver` under a virtual display and a private session bus, stopped (with
/// the WebKitWebDriver and app it started) when dropped.
pub(crate) struct Driver(Child);

impl Driver {
    pub(crate) fn start(socket: &Path) -> anyhow::Result<Driver> {
        if TcpStream::connect(("127.0.0.1", DRIVER_PORT)).is_ok() {
            bail!("something already listens on port {DRIVER_PORT}; stop it first");
        }
        let tauri_driver = sys::cargo_bin("tauri-driver");
        let mut command = Command::new("xvfb-run");
        command
            .args([
                "-a",
                "-s",
                "-screen 0 1280x800x24",
                "dbus-run-session",
                "--",
            ])
            .arg(tauri_driver)
            .env("CULVERT_SOCKET", socket)
            .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt as _;
            // Its own process group, so that dropping stops everything it started.
            command.process_group(0);
        }
        let driver = Driver(command.spawn().context("starting tauri-driver")?);
        wait("tauri-driver", || {
            TcpStream::connect(("127.0.0.1", DRIVER_PORT)).is_ok()
        })?;
        Ok(driver)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.0.wait();
    }
}

fn wait(what: &str, mut ready: impl FnMut() -> bool) -> anyhow::Result<()> {
    let start = Instant::now();
    while !ready() {
        if start.elapsed() > DEADLINE {
            bail!("timed out after {DEADLINE:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// Host 0's tunnel to the wireguard-go peer on host 1, talking every second.
fn lab_config(keys: &Keys) -> String {
    format!(
        "[Interface]\nPrivateKey = {}\nAddress = {}/24\n\n[Peer]\nPublicKey = {}\nPresharedKey = {}\n\
         AllowedIPs = {}/32\nEndpoint = {}:51001\nPersistentKeepalive = 1\n",
        keys.private[0],
        TUNNEL_V4[0],
        keys.public[1],
        keys.psk.as_deref().unwrap_or_default(),
        TUNNEL_V4[1],
        UNDERLAY_V4[1]
    )
}

/// A second tunnel, to import from a QR code (it is never activated).
fn phone_config() -> anyhow::Result<String> {
    let keys = Keys::generate(false);
    Ok(format!(
        "[Interface]\nPrivateKey = {}\nAddress = 10.99.0.2/32\n\n[Peer]\nPublicKey = {}\n\
         AllowedIPs = 10.99.0.0/24\nEndpoint = 192.0.2.1:51820\n",
        keys.private[0], keys.public[1]
    ))
}

/// The QR code of `text` as Debian's qrencode draws it (as a phone app would show it).
fn write_qr(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut child = Command::new("qrencode")
        .arg("-o")
        .arg(path)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .context("running qrencode")?;
    child
        .stdin
        .take()
        .context("qrencode's stdin")?
        .write_all(text.as_bytes())?;
    if !child.wait()?.success() {
        bail!("qrencode failed");
    }
    Ok(())
}
