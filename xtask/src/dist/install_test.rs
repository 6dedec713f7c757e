//! `cargo xtask dist test`: installs the .deb on this machine and checks what a user
//! gets: the unit enabled, the service up with its socket root:culvert 0660, a member
//! of group culvert served and a non-member refused, an active tunnel taken down
//! cleanly by `dpkg -r`, and nothing of it left after `dpkg -P`.
//!
//! Where systemd is not PID 1 (containers, this project's CI), the service is started
//! the way the unit says (its ExecStart, Environment and RuntimeDirectory), inside a
//! network namespace of its own so the test tunnel never touches the host's network;
//! the output says so. Users, namespace and package are removed even when a check fails.

use super::Built;
use super::deb::PACKAGE;
use crate::sys::run;
use anyhow::{Context, bail, ensure};
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const SOCKET: &str = "/run/culvert/culvertd.sock";
const DAEMON: &str = "/usr/sbin/culvertd";
const UNIT: &str = "/lib/systemd/system/culvertd.service";
const TUNNEL: &str = "disttest";
/// A tunnel with an address and a peer but no endpoint: it comes up without any
/// network around it (its address only ever exists inside the test's namespace).
fn tunnel_conf() -> anyhow::Result<String> {
    let key = |input: Option<&str>| -> anyhow::Result<String> {
        let mut command = Command::new("culvert");
        command.arg(if input.is_some() { "pubkey" } else { "genkey" });
        command.stdin(Stdio::piped()).stdout(Stdio::piped());
        let mut child = command.spawn().context("cannot run culvert genkey")?;
        if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
            stdin.write_all(text.as_bytes())?;
        }
        let out = child.wait_with_output()?;
        ensure!(out.status.success(), "culvert genkey/pubkey failed");
        Ok(String::from_utf8(out.stdout)?.trim().to_owned())
    };
    let private = key(None)?;
    let peer = key(Some(&key(None)?))?;
    Ok(format!(
        "[Interface]\nPrivateKey = {private}\nAddress = 10.200.77.1/32\n\n\
         [Peer]\nPublicKey = {peer}\nAllowedIPs = 10.200.77.2/32\n"
    ))
}

pub(super) fn check_all(built: &Built, deb: &Path) -> anyhow::Result<()> {
    if !fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
        bail!("`cargo xtask dist test` installs a package: run it as root");
    }
    if installed() {
        bail!(
            "package {PACKAGE} is already installed here; this test would remove it \
             (dpkg -P {PACKAGE} first if that is what you want)"
        );
    }
    let tag = std::process::id();
    let mut lab = Cleanup {
        // Debian keeps a system group after purge; a test leaves the machine as it was.
        remove_group: group_id("culvert").is_err(),
        users: Vec::new(),
        netns: None,
        daemon: None,
    };
    let result = steps(built, deb, tag, &mut lab);
    drop(lab);
    match &result {
        Ok(()) => println!("\ndist test: every check passed"),
        Err(_) => {
            let log = built.out.join("culvertd-test.log");
            if let Ok(text) = fs::read_to_string(&log) {
                eprintln!("culvertd's output ({}):\n{text}", log.display());
            }
        }
    }
    result
}

fn steps(built: &Built, deb: &Path, tag: u32, lab: &mut Cleanup) -> anyhow::Result<()> {
    run(Command::new("dpkg").arg("-i").arg(deb))?;

    step("files in place");
    for path in [
        DAEMON,
        "/usr/bin/culvert",
        UNIT,
        "/usr/share/man/man1/culvert.1.gz",
    ] {
        ensure!(Path::new(path).exists(), "{path} is missing");
    }
    if built.app.is_some() {
        for path in [
            "/usr/bin/culvert-app",
            "/usr/share/applications/culvert.desktop",
        ] {
            ensure!(Path::new(path).exists(), "{path} is missing");
        }
    }
    let wants = "/etc/systemd/system/multi-user.target.wants/culvertd.service";
    ensure!(
        fs::symlink_metadata(wants).is_ok(),
        "the unit is not enabled for boot ({wants} is missing)"
    );
    let gid = group_id("culvert")?;
    let etc = fs::metadata("/etc/culvert").context("/etc/culvert is missing")?;
    ensure!(
        etc.uid() == 0 && etc.gid() == gid && etc.permissions().mode() & 0o7777 == 0o750,
        "/etc/culvert is {}:{} {:o}, not root:culvert 0750",
        etc.uid(),
        etc.gid(),
        etc.permissions().mode() & 0o7777
    );

    let systemd = Path::new("/run/systemd/system").is_dir();
    if systemd {
        step("systemd runs: waiting for culvertd.service to be active");
        wait("culvertd.service active", Duration::from_secs(30), || {
            output(Command::new("systemctl").args(["is-active", "culvertd.service"]))
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "active")
        })?;
    } else {
        let init = fs::read_to_string("/proc/1/comm").unwrap_or_default();
        let netns = format!("culvert-dist-{tag}");
        run(Command::new("ip").args(["netns", "add", &netns]))?;
        lab.netns = Some(netns.clone());
        step(&format!(
            "systemd is NOT running here (PID 1 is `{}`), so postinst could not start the \
             unit: starting culvertd as {UNIT} says (ExecStart, Environment, \
             RuntimeDirectory), in network namespace {netns}",
            init.trim()
        ));
        lab.daemon = Some(start_like_the_unit(built, &netns)?);
    }

    step("the socket: root:culvert, mode 0660");
    wait("the socket", Duration::from_secs(30), || {
        Path::new(SOCKET).exists()
    })?;
    let socket = fs::metadata(SOCKET)?;
    ensure!(
        socket.uid() == 0 && socket.gid() == gid && socket.permissions().mode() & 0o777 == 0o660,
        "{SOCKET} is {}:{} {:o}, not root:culvert 660",
        socket.uid(),
        socket.gid(),
        socket.permissions().mode() & 0o777
    );

    step("a member of group culvert may use it, a non-member may not");
    let member = format!("cvt-m{tag}");
    let outsider = format!("cvt-o{tag}");
    add_user(lab, &member, true)?;
    add_user(lab, &outsider, false)?;
    let listed = output(Command::new("runuser").args(["-u", &member, "--", "culvert", "list"]))?;
    ensure!(
        listed.status.success(),
        "`culvert list` as a member failed: {}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let refused = output(Command::new("runuser").args(["-u", &outsider, "--", "culvert", "list"]))?;
    let why = String::from_utf8_lossy(&refused.stderr);
    ensure!(
        !refused.status.success() && why.to_lowercase().contains("permission denied"),
        "a non-member was not refused: {:?} {why}",
        refused.status
    );
    println!("  member: ok; non-member: {}", why.trim());

    let tunnel_netns = lab.netns.clone();
    if let Some(netns) = &tunnel_netns {
        step("an active tunnel, to be taken down by the removal");
        let conf = built.out.join(format!("{TUNNEL}.conf"));
        let _ = fs::remove_file(&conf);
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600) // it holds a private key
            .open(&conf)?
            .write_all(tunnel_conf()?.as_bytes())?;
        let imported = run(Command::new("culvert").arg("import").arg(&conf));
        let _ = fs::remove_file(&conf);
        imported?;
        run(Command::new("culvert").args(["up", TUNNEL]))?;
        ensure!(
            link_exists(netns, TUNNEL),
            "interface {TUNNEL} did not appear"
        );
    }

    step("dpkg -r: the service stops, the tunnel goes down, nothing keeps running");
    run(Command::new("dpkg").args(["-r", PACKAGE]))?;
    if let Some(daemon) = lab.daemon.as_mut() {
        let status = wait_exit(daemon, Duration::from_secs(30))?;
        ensure!(status.success(), "culvertd did not exit cleanly: {status}");
    }
    if systemd {
        let active = output(Command::new("systemctl").args(["is-active", "culvertd.service"]))?;
        ensure!(!active.status.success(), "culvertd.service is still active");
    }
    let left = running_daemons();
    ensure!(
        left.is_empty(),
        "culvertd still runs after removal: pids {left:?}"
    );
    if let Some(netns) = &tunnel_netns {
        ensure!(
            !link_exists(netns, TUNNEL),
            "interface {TUNNEL} is still up"
        );
    }
    ensure!(!Path::new(SOCKET).exists(), "{SOCKET} is left behind");
    ensure!(
        Path::new("/etc/culvert").exists(),
        "removal (not purge) must keep /etc/culvert"
    );

    step("dpkg -P: the configuration and state are gone");
    run(Command::new("dpkg").args(["-P", PACKAGE]))?;
    for path in ["/etc/culvert", "/var/lib/culvert", wants] {
        ensure!(
            fs::symlink_metadata(path).is_err(),
            "{path} is left after purge"
        );
    }
    Ok(())
}

/// Starts culvertd in `netns` the way culvertd.service would: its ExecStart, with its
/// Environment, after making its RuntimeDirectory.
fn start_like_the_unit(built: &Built, netns: &str) -> anyhow::Result<Child> {
    let unit = fs::read_to_string(UNIT).with_context(|| format!("cannot read {UNIT}"))?;
    let value = |key: &str| {
        unit.lines()
            .filter_map(|line| line.strip_prefix(key)?.strip_prefix('='))
            .map(str::trim)
            .collect::<Vec<_>>()
    };
    let exec = *value("ExecStart")
        .first()
        .context("the unit has no ExecStart")?;
    let mode = value("RuntimeDirectoryMode")
        .first()
        .map_or(Ok(0o755), |m| u32::from_str_radix(m, 8))?;
    for dir in value("RuntimeDirectory") {
        let dir = Path::new("/run").join(dir);
        fs::create_dir_all(&dir)?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(mode))?;
    }
    println!("  ExecStart={exec}");
    let log = fs::File::create(built.out.join("culvertd-test.log"))?;
    let mut command = Command::new("ip");
    command
        .args(["netns", "exec", netns])
        .args(exec.split_whitespace())
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    for assignment in value("Environment") {
        if let Some((key, val)) = assignment.split_once('=') {
            command.env(key, val);
        }
    }
    command.spawn().context("cannot start culvertd")
}

fn add_user(lab: &mut Cleanup, name: &str, member: bool) -> anyhow::Result<()> {
    let mut command = Command::new("useradd");
    command.args([
        "--system",
        "--no-create-home",
        "--shell",
        "/usr/sbin/nologin",
    ]);
    if member {
        command.args(["-G", "culvert"]);
    }
    run(command.arg(name))?;
    lab.users.push(name.to_owned());
    Ok(())
}

fn group_id(name: &str) -> anyhow::Result<u32> {
    let group = output(Command::new("getent").args(["group", name]))?;
    let text = String::from_utf8_lossy(&group.stdout);
    text.split(':')
        .nth(2)
        .and_then(|gid| gid.trim().parse().ok())
        .with_context(|| format!("group {name} does not exist"))
}

fn link_exists(netns: &str, name: &str) -> bool {
    Command::new("ip")
        .args(["-n", netns, "link", "show", name])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Processes running the installed culvertd (not developers' target/ builds).
fn running_daemons() -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            fs::read_link(format!("/proc/{pid}/exe"))
                .is_ok_and(|exe| exe.to_string_lossy().starts_with(DAEMON))
        })
        .collect()
}

fn installed() -> bool {
    output(Command::new("dpkg-query").args(["-W", "-f=${db:Status-Abbrev}", PACKAGE]))
        .is_ok_and(|o| o.status.success() && o.stdout.starts_with(b"ii"))
}

fn output(command: &mut Command) -> anyhow::Result<Output> {
    command
        .output()
        .with_context(|| format!("cannot run {command:?}"))
}

fn step(what: &str) {
    println!("\n== {what}");
}

fn wait(what: &str, deadline: Duration, mut ready: impl FnMut() -> bool) -> anyhow::Result<()> {
    let end = Instant::now() + deadline;
    while Instant::now() < end {
        if ready() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("gave up waiting for {what} after {deadline:?}")
}

fn wait_exit(child: &mut Child, deadline: Duration) -> anyhow::Result<std::process::ExitStatus> {
    let end = Instant::now() + deadline;
    while Instant::now() < end {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!(
        "culvertd (pid {}) did not exit within {deadline:?}",
        child.id()
    )
}

/// What the test made, undone whatever happened.
struct Cleanup {
    remove_group: bool,
    users: Vec<String>,
    netns: Option<String>,
    daemon: Option<Child>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(daemon) = self.daemon.as_mut()
            && daemon.try_wait().ok().flatten().is_none()
        {
            // Ours, by pid: SIGTERM so it undoes its network changes.
            let _ = Command::new("kill").arg(daemon.id().to_string()).status();
            let _ = wait_exit(daemon, Duration::from_secs(30));
        }
        if installed() || PathBuf::from(UNIT).exists() {
            let _ = Command::new("dpkg").args(["-P", PACKAGE]).status();
        }
        for user in &self.users {
            let _ = Command::new("userdel").arg(user).status();
        }
        if self.remove_group {
            let _ = Command::new("groupdel").arg("culvert").status();
        }
        if let Some(netns) = &self.netns {
            let _ = Command::new("ip").args(["netns", "del", netns]).status();
        }
    }
}
