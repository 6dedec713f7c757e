//! Running programs and installing what they need, for every xtask command.

use anyhow::{Context, bail};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The workspace root, whatever directory `cargo xtask` was started from.
pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Runs `command`, echoing it first, and fails unless it exits 0.
pub(crate) fn run(command: &mut Command) -> anyhow::Result<()> {
    println!("$ {}", describe(command));
    let started = Instant::now();
    let status = command
        .status()
        .with_context(|| format!("could not start `{}`", describe(command)))?;
    report_time(started);
    if !status.success() {
        bail!("`{}` failed ({status})", describe(command));
    }
    Ok(())
}

/// How long a step took, when it took long enough to matter: CI's time is budgeted,
/// and its log is where the budget is read.
pub(crate) fn report_time(started: Instant) {
    let took = started.elapsed();
    if took >= Duration::from_secs(5) {
        println!("  (took {:.0} s)", took.as_secs_f64());
    }
}

/// How much room is left where the build writes, with what `label` says of the moment:
/// a full disk fails a build deep inside some crate, so CI's log says how close it came.
pub(crate) fn report_disk(root: &Path, label: &str) {
    let output = Command::new("df")
        .args(["--block-size=1G", "--output=avail,size"])
        .arg(root)
        .output();
    let figures = output.ok().and_then(|output| {
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let line = text.lines().nth(1)?.to_owned();
        let mut fields = line.split_whitespace();
        Some((fields.next()?.to_owned(), fields.next()?.to_owned()))
    });
    match figures {
        Some((free, size)) => println!("disk {label}: {free} GB free of {size} GB"),
        None => println!("disk {label}: `df` could not say"),
    }
}

/// Makes `command` (a cargo build or test) lint the workspace's own crates as it
/// compiles them, as `cargo clippy -- -D warnings` would, with `clippy_driver` (the
/// clippy of the compiler that builds): one compilation gives both the lints and the
/// executables, where `cargo clippy` and then `cargo test` would compile everything
/// twice. Builds that share artefacts must all be made this way.
pub(crate) fn lint_while_building(command: &mut Command, clippy_driver: &Path) {
    command.env("RUSTC_WORKSPACE_WRAPPER", clippy_driver).env(
        "CLIPPY_ARGS",
        "-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__",
    );
}

/// The pinned toolchain's clippy-driver, beside the cargo that runs xtask.
pub(crate) fn clippy_driver() -> PathBuf {
    let cargo = PathBuf::from(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    let beside = cargo.with_file_name("clippy-driver");
    if beside.is_file() {
        beside
    } else {
        PathBuf::from("clippy-driver")
    }
}

fn describe(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|part| part.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

pub(crate) fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(workspace_root());
    command
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0)
}

/// `program` as root: directly when we are root, through sudo otherwise.
pub(crate) fn as_root(program: &str) -> Command {
    if is_root() {
        Command::new(program)
    } else {
        let mut command = Command::new("sudo");
        command.arg(program);
        command
    }
}

/// Installs the Debian packages among `packages` that are not installed yet.
pub(crate) fn ensure_apt_packages(packages: &[&str]) -> anyhow::Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| !apt_installed(p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if Command::new("apt-get").arg("--version").output().is_err() {
        bail!(
            "these packages are missing and this system has no apt-get: {}; install them \
             with your package manager and run the command again",
            missing.join(" ")
        );
    }
    println!("installing missing system packages: {}", missing.join(" "));
    run(as_root("apt-get").arg("update").arg("-qq"))?;
    run(as_root("apt-get")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(&missing))
}

fn apt_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${db:Status-Abbrev}", package])
        .output()
        .is_ok_and(|out| out.status.success() && out.stdout.starts_with(b"ii"))
}

/// `npm ci` in `dir` when its `node_modules` is missing or older than its lock file.
pub(crate) fn ensure_npm_packages(dir: &Path) -> anyhow::Result<()> {
    let modified = |path: PathBuf| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let lock = modified(dir.join("package-lock.json"));
    let installed = modified(dir.join("node_modules/.package-lock.json"));
    if installed.is_some() && installed >= lock {
        return Ok(());
    }
    run(Command::new("npm")
        .arg("ci")
        .arg("--no-audit")
        .arg("--no-fund")
        .current_dir(dir))
}

/// Where `cargo install` put `name`: `$CARGO_HOME/bin`, or `~/.cargo/bin`.
pub(crate) fn cargo_bin(name: &str) -> PathBuf {
    let home = std::env::var_os("CARGO_HOME").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo"),
        PathBuf::from,
    );
    home.join("bin").join(name)
}

/// `cargo install`s `krate` at `version` unless its binary of that name is installed.
pub(crate) fn ensure_cargo_tool(krate: &str, version: &str) -> anyhow::Result<()> {
    let installed = Command::new(cargo().get_program())
        .args(["install", "--list"])
        .output()
        .is_ok_and(|out| {
            String::from_utf8_lossy(&out.stdout).contains(&format!("{krate} v{version}:"))
        });
    if installed {
        return Ok(());
    }
    run(Command::new(cargo().get_program()).args([
        "install",
        "--locked",
        "--version",
        version,
        krate,
    ]))
}
