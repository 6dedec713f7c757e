//! `cargo xtask run [--demo | --no-demo]`: installs what Culvert needs, builds it,
//! starts culvertd (as root, through sudo when needed) and then the desktop app. With
//! no display, it leaves the service running and says how to
//! use the CLI. On Linux, when no tunnel exists yet, it offers a local demo: a WireGuard
//! peer in a network namespace of its own and a ready "demo" tunnel.

use crate::sys::{self, as_root, cargo, run};
use anyhow::{Context, bail};
use std::io::{BufRead, IsTerminal, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SOCKET: &str = "/run/culvert/culvertd.sock";
const DEMO_NS: &str = "culvert-demo";
/// The demo's addresses: a /30 between the host and the demo namespace, and the tunnel.
const DEMO_HOST: &str = "10.254.77.1";
const DEMO_PEER: &str = "10.254.77.2";
const DEMO_TUNNEL_HOST: &str = "10.254.78.1";
const DEMO_TUNNEL_PEER: &str = "10.254.78.2";

/// What the service and its demo need at run time (building needs build-essential too).
const RUN_PACKAGES: &[&str] = &[
    "build-essential",
    "pkg-config",
    "iproute2",
    "iputils-ping",
    "nftables",
    "wireguard-tools",
];

pub(crate) fn main(args: &[String]) -> anyhow::Result<()> {
    let demo = match args.first().map(String::as_str) {
        None => None,
        Some("--demo") => Some(true),
        Some("--no-demo") => Some(false),
        Some(other) => bail!("usage: cargo xtask run [--demo | --no-demo] (got `{other}`)"),
    };
    let root = sys::workspace_root();
    sys::ensure_apt_packages(RUN_PACKAGES)?;
    let ui = root.join("ui");
    if ui.join("package.json").exists() {
        sys::ensure_npm_packages(&ui)?;
    }
    run(cargo().args([
        "build",
        "--release",
        "-p",
        "culvertd",
        "-p",
        "culvert-cli",
        "-p",
        "culvert-engine",
    ]))?;
    let bin = root.join("target/release");

    start_service(&bin)?;
    let tunnels = cli(&bin, &["list"])?;
    if cfg!(target_os = "linux") && tunnels.lines().filter(|l| !l.trim().is_empty()).count() <= 1 {
        let wanted = match demo {
            Some(choice) => choice,
            None => ask(
                "No tunnel yet. Set up a local demo (a WireGuard peer in its own network namespace)? [Y/n] ",
            )?,
        };
        if wanted {
            demo_tunnel(&bin)?;
        }
    }
    let display =
        std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    if !display {
        println!("\nNo display here, so no app; the service keeps running.");
    } else {
        let app = crate::gui::build_release_app(&root)?;
        let log = std::env::temp_dir().join("culvert-app.log");
        let output = std::fs::File::create(&log)?;
        // Detached: the app lives in the tray and outlives this command.
        Command::new(&app)
            .stdin(std::process::Stdio::null())
            .stdout(output.try_clone()?)
            .stderr(output)
            .spawn()
            .with_context(|| format!("starting {}", app.display()))?;
        println!(
            "\nThe Culvert app is starting (log: {}); it stays in the tray when its window \
             is closed. A user outside group culvert sees how to join it.",
            log.display()
        );
    }
    println!(
        "\nUse the CLI: {0} list | {0} show NAME | {0} up NAME | {0} down NAME | {0} --help\n\
         (as root, or as a member of group culvert). Stop the service: sudo pkill culvertd",
        bin.join("culvert").display()
    );
    Ok(())
}

fn ask(question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        println!("{question}(not a terminal: no; pass --demo to set it up)");
        return Ok(false);
    }
    print!("{question}");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(!matches!(answer.trim().to_lowercase().as_str(), "n" | "no"))
}

/// Starts culvertd in the background unless one already answers on the socket.
fn start_service(bin: &Path) -> anyhow::Result<()> {
    if cli(bin, &["status"]).is_ok() {
        println!("culvertd is already running");
        return Ok(());
    }
    let log = sys::workspace_root().join("target/culvertd.log");
    let log_file =
        std::fs::File::create(&log).with_context(|| format!("cannot write {}", log.display()))?;
    println!("starting culvertd (log: {})", log.display());
    as_root(&bin.join("culvertd").to_string_lossy())
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        // Its own process group: it outlives this command and the terminal's ^C.
        .process_group(0)
        .spawn()
        .context("cannot start culvertd")?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while cli(bin, &["status"]).is_err() {
        if Instant::now() > deadline {
            bail!("culvertd did not come up; see {}", log.display());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

/// Runs the CLI (as root when we are not, since group membership needs a new login).
fn cli(bin: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = as_root(&bin.join("culvert").to_string_lossy())
        .args(["--socket", SOCKET])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("cannot run the culvert CLI")?;
    if !out.status.success() {
        bail!(
            "culvert {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn root_cmd(args: &[&str]) -> anyhow::Result<()> {
    run(as_root(args[0]).args(&args[1..]))
}

fn wg_key(args: &[&str], input: Option<&str>) -> anyhow::Result<String> {
    let mut child = Command::new("wg")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    if let Some(input) = input {
        child
            .stdin
            .take()
            .expect("piped")
            .write_all(input.as_bytes())?;
    }
    drop(child.stdin.take());
    Ok(String::from_utf8(child.wait_with_output()?.stdout)?
        .trim()
        .to_owned())
}

/// The demo: a namespace with a Culvert engine as the "server", joined to the host by a
/// veth pair, and a tunnel "demo" in culvertd pointing at it.
fn demo_tunnel(bin: &Path) -> anyhow::Result<()> {
    let _ = as_root("ip")
        .args(["netns", "del", DEMO_NS])
        .stderr(Stdio::null())
        .status();
    root_cmd(&["ip", "netns", "add", DEMO_NS])?;
    root_cmd(&[
        "ip", "link", "add", "cvdemo0", "type", "veth", "peer", "name", "cvdemo1", "netns", DEMO_NS,
    ])?;
    root_cmd(&[
        "ip",
        "addr",
        "add",
        &format!("{DEMO_HOST}/30"),
        "dev",
        "cvdemo0",
    ])?;
    root_cmd(&["ip", "link", "set", "cvdemo0", "up"])?;
    for args in [
        vec!["addr", "add", &format!("{DEMO_PEER}/30"), "dev", "cvdemo1"][..].to_vec(),
        vec!["link", "set", "cvdemo1", "up"],
        vec!["link", "set", "lo", "up"],
    ] {
        let mut all = vec!["ip", "-n", DEMO_NS];
        all.extend(args);
        root_cmd(&all)?;
    }
    let server_key = wg_key(&["genkey"], None)?;
    let client_key = wg_key(&["genkey"], None)?;
    let server_public = wg_key(&["pubkey"], Some(&server_key))?;
    let client_public = wg_key(&["pubkey"], Some(&client_key))?;

    let engine = bin.join("culvert-engine");
    let log = std::fs::File::create(sys::workspace_root().join("target/demo-peer.log"))?;
    as_root("ip")
        .args(["netns", "exec", DEMO_NS])
        .arg(&engine)
        .arg("demo-peer")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .context("cannot start the demo peer")?;
    let socket = Path::new("/var/run/wireguard/demo-peer.sock");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !socket.exists() {
        if Instant::now() > deadline {
            bail!("the demo peer did not start; see target/demo-peer.log");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let dir = sys::workspace_root().join("target/demo");
    std::fs::create_dir_all(&dir)?;
    let key_file = dir.join("peer.key");
    write_private(&key_file, &server_key)?;
    root_cmd(&[
        "ip",
        "netns",
        "exec",
        DEMO_NS,
        "wg",
        "set",
        "demo-peer",
        "private-key",
        &key_file.to_string_lossy(),
        "listen-port",
        "51820",
        "peer",
        &client_public,
        "allowed-ips",
        &format!("{DEMO_TUNNEL_HOST}/32"),
    ])?;
    root_cmd(&[
        "ip",
        "-n",
        DEMO_NS,
        "addr",
        "add",
        &format!("{DEMO_TUNNEL_PEER}/24"),
        "dev",
        "demo-peer",
    ])?;
    root_cmd(&["ip", "-n", DEMO_NS, "link", "set", "demo-peer", "up"])?;

    let conf = dir.join("demo.conf");
    write_private(
        &conf,
        &format!(
            "# A local demo: the peer runs in network namespace {DEMO_NS}.\n[Interface]\nPrivateKey = {client_key}\n\
             Address = {DEMO_TUNNEL_HOST}/24\n\n[Peer]\nPublicKey = {server_public}\nEndpoint = {DEMO_PEER}:51820\n\
             AllowedIPs = {DEMO_TUNNEL_PEER}/32\nPersistentKeepalive = 25\n"
        ),
    )?;
    cli(bin, &["import", &conf.to_string_lossy()])?;
    cli(bin, &["up", "demo"])?;
    let _ = as_root("ping")
        .args(["-c", "3", "-i", "0.3", DEMO_TUNNEL_PEER])
        .status();
    println!("{}", cli(bin, &["show", "demo"])?);
    println!(
        "The demo tunnel is up: ping {DEMO_TUNNEL_PEER} goes through it. Remove the demo with: sudo ip netns del {DEMO_NS}"
    );
    Ok(())
}

fn write_private(path: &PathBuf, contents: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}
