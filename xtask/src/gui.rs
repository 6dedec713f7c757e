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
/// The part of the tree whose test packages the app's e2e and benchmark need.
pub(crate) const APP_PART: &str = "src-tauri/Cargo.toml";

pub(crate) fn main(args: &[String]) -> anyhow::Result<()> {
    if let Some(arg) = args.first() {
        bail!("`cargo xtask e2e` takes no arguments (got `{arg}`)");
    }
    sys::ensure_apt_packages(crate::test::packages_of(APP_PART))?;
    e2e(&sys::workspace_root())
}

/// The app as `tauri build` makes it: the front end built, then the release binary with
/// the app's `custom-protocol` feature (`tauri build` turns Tauri's on; without it the app
/// would load the dev server's URL instead of the embedded front end).
pub(crate) fn build_release_app(root: &Path) -> anyhow::Result<PathBuf> {
    build_front_end(root)?;
    run(cargo().args([
        "build",
        "--release",
        "-p",
        "culvert-app",
        "--features",
        "custom-protocol",
    ]))?;
    Ok(root.join("target/release/culvert-app"))
}

/// `ui/dist`, which the app's binary embeds.
pub(crate) fn build_front_end(root: &Path) -> anyhow::Result<()> {
    let ui = root.join("ui");
    sys::ensure_npm_packages(&ui)?;
    run(Command::new("npm").args(["run", "build"]).current_dir(&ui))
}

/// Runs the end-to-end test; its screenshots land in `target/e2e/`.
pub(crate) fn e2e(root: &Path) -> anyhow::Result<()> {
    if !culvert_netlab::can_run() {
        println!("GUI end-to-end test skipped: it needs root for its network namespaces");
        return Ok(());
    }
    sys::ensure_cargo_tool("tauri-driver", TAURI_DRIVER_VERSION)?;
    // The app and culvertd of the tests' build (a no-op after `cargo xtask test`'s): an
    // optimised build of the app would compile Tauri a second time for a test that
    // measures no speed.
    build_front_end(root)?;
    crate::test::build_workspace()?;
    let app = root.join("target/debug/culvert-app");
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
    lab.spawn(
        0,
        &culvert_netlab::culvertd_command(&culvertd, &socket, &out),
    );
    wait("culvertd's socket", || socket.exists())?;
    // Traffic both ways once the app brings the tunnel up (until then, no route).
    // (A lone ping would exit at once on "network unreachable".)
    let pinger = format!(
        "while :; do ping -q -c 4 -i 0.5 {} >/dev/null 2>&1 || sleep 0.5; done",
        TUNNEL_V4[1]
    );
    lab.spawn(0, &["sh", "-c", &pinger]);

    let driver = Driver::start(&socket, &out)?;
    let mut node = Command::new("node")
        .arg("e2e/app.e2e.mjs")
        .current_dir(root.join("ui"))
        .env("CULVERT_APP", &app)
        .env("E2E_CONF", &conf)
        .env("E2E_QR", &qr)
        .env("E2E_SCREENSHOTS", out.join("screenshots"))
        .env("E2E_DISPLAY", &driver.display)
        .env("E2E_XAUTHORITY", &driver.xauthority)
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
        Some(status) if status.success() => check_qr_on_screen(&out, &keys),
        Some(status) => bail!(
            "the GUI end-to-end test failed ({status}); screenshots in {}",
            out.display()
        ),
        None => bail!("the GUI end-to-end test hung for {TEST_DEADLINE:?} and was stopped"),
    }
}

/// `tauri-driver` under a virtual display and a private session bus, stopped (with
/// the WebKitWebDriver and app it started) when dropped.
pub(crate) struct Driver {
    child: Child,
    /// The virtual display the app shows on (`:N`) and the cookie file that opens it,
    /// for screenshots of the window.
    pub(crate) display: String,
    pub(crate) xauthority: PathBuf,
}

impl Driver {
    /// Starts it, with the display's cookie file in `dir`.
    pub(crate) fn start(socket: &Path, dir: &Path) -> anyhow::Result<Driver> {
        if TcpStream::connect(("127.0.0.1", DRIVER_PORT)).is_ok() {
            bail!("something already listens on port {DRIVER_PORT}; stop it first");
        }
        // The first display number no X server holds (as xvfb-run -a would pick), chosen
        // here so that the test can capture the screen too.
        let number = (99..200)
            .find(|n| !Path::new(&format!("/tmp/.X{n}-lock")).exists())
            .context("no free X display number")?;
        let xauthority = dir.join("Xauthority");
        let tauri_driver = sys::cargo_bin("tauri-driver");
        let mut command = Command::new("xvfb-run");
        command
            .arg("-f")
            .arg(&xauthority)
            .args([
                "-n",
                &number.to_string(),
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
        let driver = Driver {
            child: command.spawn().context("starting tauri-driver")?,
            display: format!(":{number}"),
            xauthority,
        };
        wait("tauri-driver", || {
            TcpStream::connect(("127.0.0.1", DRIVER_PORT)).is_ok()
        })?;
        Ok(driver)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
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
/// The QR code the app showed for the tunnel, read from the screenshot as a phone would
/// read the screen: it must carry the tunnel, private key included.
fn check_qr_on_screen(out: &Path, keys: &Keys) -> anyhow::Result<()> {
    let shot = out.join("screenshots/tunnel-qr.png");
    let png = std::fs::read(&shot).with_context(|| format!("reading {}", shot.display()))?;
    let text = culvert_config::decode_qr(&png)
        .map_err(|e| anyhow::anyhow!("the QR code on screen does not decode: {e}"))?;
    let expected = [
        format!("PrivateKey = {}", keys.private[0]),
        format!("Address = {}/24", TUNNEL_V4[0]),
        format!("PublicKey = {}", keys.public[1]),
    ];
    if let Some(missing) = expected.iter().find(|line| !text.contains(line.as_str())) {
        bail!(
            "the QR code on screen lacks `{}`",
            missing.split(" = ").next().unwrap_or("")
        );
    }
    println!("e2e: the QR code on screen reads back as the tunnel");
    Ok(())
}

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

/// The desktop app's figures for `cargo xtask bench`, one per launch.
pub(crate) struct AppFigures {
    /// From asking tauri-driver for a session (which starts the app) to the tunnel view
    /// on screen.
    pub(crate) launch_to_list_ms: Vec<f64>,
    /// The app and its WebKit processes together, ten seconds after the list showed
    /// (window open), then ten seconds after the window was closed to the tray.
    pub(crate) window_open: Memory,
    pub(crate) in_tray: Memory,
}

/// Memory of the app's process tree, once per launch.
#[derive(Default)]
pub(crate) struct Memory {
    /// Proportional set size: each shared page split among its users.
    pub(crate) pss_mib: Vec<f64>,
    /// Each shared page counted in full by every process: an upper bound.
    pub(crate) rss_mib: Vec<f64>,
}

impl Memory {
    fn measure(&mut self, app: &Path, processes: usize) -> anyhow::Result<()> {
        let (count, pss, rss) = tree_memory_kib(app)?;
        if count != processes {
            bail!("expected {processes} processes of the app, found {count}");
        }
        self.pss_mib.push(pss as f64 / 1024.0);
        self.rss_mib.push(rss as f64 / 1024.0);
        Ok(())
    }
}

/// Launches the release app `launches` times against a culvertd with a few tunnels.
pub(crate) fn measure_app(root: &Path, launches: usize) -> anyhow::Result<AppFigures> {
    use std::io::{BufRead as _, BufReader, Write as _};

    sys::ensure_cargo_tool("tauri-driver", TAURI_DRIVER_VERSION)?;
    let app = build_release_app(root)?;
    run(cargo().args(["build", "--release", "-p", "culvertd", "-p", "culvert-cli"]))?;
    let bin = root.join("target/release");
    let out = root.join("target/bench-app");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out)?;
    let socket = out.join("culvertd.sock");
    let command = culvert_netlab::culvertd_command(&bin.join("culvertd"), &socket, &out);
    let mut service = Command::new(&command[0])
        .args(&command[1..])
        .spawn()
        .context("starting culvertd")?;
    let figures = (|| {
        wait("culvertd's socket", || socket.exists())?;
        for name in ["office", "home", "phone"] {
            run(Command::new(bin.join("culvert"))
                .arg("--socket")
                .arg(&socket)
                .args(["create", name]))?;
        }
        let _driver = Driver::start(&socket, &out)?;
        let mut figures = AppFigures {
            launch_to_list_ms: Vec::new(),
            window_open: Memory::default(),
            in_tray: Memory::default(),
        };
        for _ in 0..launches {
            let mut node = Command::new("node")
                .arg("e2e/launch.mjs")
                .current_dir(root.join("ui"))
                .env("CULVERT_APP", &app)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .context("running node")?;
            let stdout = node.stdout.take().context("node's stdout")?;
            let mut stdin = node.stdin.take().context("node's stdin")?;
            for line in BufReader::new(stdout).lines() {
                let line = line?;
                if let Some(ms) = line.strip_prefix("list ") {
                    figures.launch_to_list_ms.push(ms.trim().parse()?);
                    continue;
                }
                match line.as_str() {
                    // The app, WebKit's network and web processes.
                    "idle" => figures.window_open.measure(&app, 3)?,
                    // The app alone: closing the window gave WebKit's memory back.
                    "tray" => figures.in_tray.measure(&app, 1)?,
                    _ => continue,
                }
                stdin.write_all(b"\n")?;
            }
            drop(stdin);
            let status = node.wait()?;
            // In the tray the app has no web view left for the driver to end it by.
            stop_all(&app);
            if !status.success() {
                bail!("launching the app for the benchmark failed");
            }
        }
        Ok(figures)
    })();
    let _ = service.kill();
    let _ = service.wait();
    figures
}

/// Kills every process running `exe`.
fn stop_all(exe: &Path) {
    for pid in processes_running(exe) {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
}

fn processes_running(exe: &Path) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|e| e == exe))
        .collect()
}

/// How many processes run `exe` or descend from one, and their PSS and RSS in KiB
/// (WebKit's web and network processes are among the descendants)
/// (WebKit's web and network processes).
fn tree_memory_kib(exe: &Path) -> anyhow::Result<(usize, u64, u64)> {
    let mut parent_of = Vec::new();
    for entry in std::fs::read_dir("/proc")? {
        let Ok(pid) = entry?.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The parent is the second field after the command, which may hold spaces.
        let after_command = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let parent: u32 = after_command
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        parent_of.push((pid, parent));
    }
    let roots = processes_running(exe);
    if roots.is_empty() {
        bail!("{} is not running", exe.display());
    }
    let mut tree = roots;
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            parent_of
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(pid, _)| *pid),
        );
        i += 1;
    }
    let field = |text: &str, name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let (mut pss, mut rss) = (0, 0);
    for &pid in &tree {
        let rollup =
            std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
        pss += field(&rollup, "Pss:");
        rss += field(&rollup, "Rss:");
    }
    Ok((tree.len(), pss, rss))
}
