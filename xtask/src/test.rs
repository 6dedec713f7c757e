//! `cargo xtask test`: everything CI checks, in the order that fails fastest.

use crate::sys::{self, cargo, run};
use anyhow::bail;
use std::path::Path;
use std::process::Command;

/// What the interop tests and the benchmark run against.
pub(crate) const ENGINE_PACKAGES: &[&str] = &[
    "iproute2",
    "iputils-ping",
    "wireguard-tools",
    "wireguard-go",
    "iperf3",
];

/// Debian packages the tests of each part of the tree need, installed only when that
/// part exists in this checkout.
const TEST_PACKAGES: &[(&str, &[&str])] = &[
    ("crates/appimage-runtime", &["squashfs-tools", "squashfuse"]),
    ("crates/config", &["qrencode"]),
    (
        "crates/engine",
        &["iproute2", "wireguard-tools", "wireguard-go", "iperf3"],
    ),
    (
        "crates/netconf",
        &[
            "dbus-daemon",
            "iproute2",
            "iputils-ping",
            "nftables",
            "wireguard-tools",
            "wireguard-go",
        ],
    ),
    (
        "crates/selftest",
        &[
            "conntrack",
            "iputils-ping",
            "nftables",
            "passwd",
            "util-linux",
        ],
    ),
    (
        "src-tauri/Cargo.toml",
        &[
            "libwebkit2gtk-4.1-dev",
            "libayatana-appindicator3-dev",
            "librsvg2-dev",
            "libxdo-dev",
            "libssl-dev",
            // The end-to-end test: a display, a session bus, the WebDriver, a QR code,
            // `import` to capture the window and xclip to fill the clipboard.
            "xvfb",
            "xauth",
            "dbus-daemon",
            "webkit2gtk-driver",
            "qrencode",
            "imagemagick",
            "xclip",
        ],
    ),
];

/// The Debian packages the tests of `part` (a key of [`TEST_PACKAGES`]) need.
pub(crate) fn packages_of(part: &str) -> &'static [&'static str] {
    TEST_PACKAGES
        .iter()
        .find(|(p, _)| *p == part)
        .map_or(&[], |(_, packages)| packages)
}

/// The feature every build of the workspace's tests turns on: the app with its front end
/// embedded, as users get it, so that the end-to-end test drives the tests' build.
pub(crate) const WORKSPACE_FEATURES: &str = "culvert-app/custom-protocol";

/// `cargo SUBCOMMAND` over the whole workspace, linting our crates as it compiles them
/// (clippy `-D warnings`). Every build of `cargo xtask test` goes through here, so none
/// compiles the tree a second time.
fn workspace_cargo(subcommand: &str) -> Command {
    let mut command = cargo();
    command.args([subcommand, "--workspace", "--features", WORKSPACE_FEATURES]);
    sys::lint_while_building(&mut command, &sys::clippy_driver());
    command
}

/// Builds (and lints) every target of the workspace: the test executables, benchmarks
/// and examples, `target/debug/culvertd` and `target/debug/culvert-app`. The app embeds
/// `ui/dist`, which must be built first.
pub(crate) fn build_workspace() -> anyhow::Result<()> {
    run(workspace_cargo("test").args(["--all-targets", "--no-run"]))
}

/// boringtun-cli from crates.io, pinned so interop results are comparable run to run.
pub(crate) const BORINGTUN_VERSION: &str = "0.7.1";

pub(crate) fn main(args: &[String]) -> anyhow::Result<()> {
    if let Some(arg) = args.first() {
        bail!("`cargo xtask test` takes no arguments (got `{arg}`)");
    }
    let root = sys::workspace_root();
    sys::report_disk(&root, "before the tests");
    let outcome = build_and_test(&root);
    sys::report_disk(&root, "after the tests");
    outcome
}

fn build_and_test(root: &Path) -> anyhow::Result<()> {
    let mut packages: Vec<&str> = vec!["build-essential", "pkg-config"];
    for (part, needs) in TEST_PACKAGES {
        if root.join(part).exists() {
            packages.extend_from_slice(needs);
        }
    }
    packages.sort_unstable();
    packages.dedup();
    sys::ensure_apt_packages(&packages)?;
    if root.join("crates/engine").exists() {
        // The interop tests' other userspace implementation.
        sys::ensure_cargo_tool("boringtun-cli", BORINGTUN_VERSION)?;
    }

    // The front end first: the app's Rust build embeds its `dist/`.
    let ui = root.join("ui");
    if ui.join("package.json").exists() {
        sys::ensure_npm_packages(&ui)?;
        for script in ["check", "test", "build"] {
            run(Command::new("npm").args(["run", script]).current_dir(&ui))?;
        }
    }

    run(cargo().args(["fmt", "--all", "--check"]))?;
    // One compilation gives clippy's verdict and the executables the tests run.
    build_workspace()?;
    sys::report_disk(root, "after the Linux build");
    // Windows and macOS: clippy for both, the Windows tests under wine, the .exe files
    // and the MSI.
    crate::cross::main(&[])?;
    sys::report_disk(root, "after the cross builds");
    run(&mut workspace_cargo("test"))?;
    // Builds every fuzz crate (so they cannot rot) and runs each target briefly.
    crate::fuzz::ci(root)?;

    if root.join("src-tauri/Cargo.toml").exists() {
        crate::gui::e2e(root)?;
    }
    Ok(())
}
