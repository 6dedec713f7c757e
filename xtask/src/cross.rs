//! `cargo xtask cross`: Windows and macOS compiled, linted and (Windows) tested on this
//! Linux machine, offline.
//!
//! - **Compiler**: Debian's rustc-web (1.96) with its standard library's source
//!   (rust-web-src), so `-Zbuild-std` builds std for any target (`RUSTC_BOOTSTRAP=1`,
//!   for these builds only). The pinned toolchain stays for everything else; the cross
//!   builds have their own target directory, `target/cross`, so the two compilers never
//!   share artefacts.
//! - **Lint**: `cargo clippy --all-targets -- -D warnings` over the workspace (xtask, the
//!   Linux build host's tool, aside) for x86_64-pc-windows-gnu, aarch64-apple-darwin and
//!   x86_64-apple-darwin in one cargo run, so build scripts and proc macros are built
//!   once.
//! - **Windows, built and run**: mingw-w64 links; the test executables of the crates that
//!   need no driver run under wine64 (a stand-in `bcryptprimitives.dll` gives wine 8 the
//!   `ProcessPrng` Rust's std needs: test tooling, never shipped); then culvertd.exe,
//!   culvert.exe, culvert-engine.exe and the app's .exe, and the MSI from them (wixl),
//!   whose tables are checked (`dist/msi.rs`).
//! - **macOS, type-checked**: nothing can be linked without Apple's SDK. The only C on
//!   the way is ring's: it is compiled with Debian's clang for the Apple target against
//!   newlib's portable libc headers and a stand-in `TargetConditionals.h`
//!   (`cross/apple-sdk-stub/`), which lets the Rust on top be checked. Rust type-checked
//!   and linted; C compiled against stand-in headers; nothing linked or run.

use crate::sys::{self, run};
use anyhow::{Context, bail};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub(crate) const WINDOWS: &str = "x86_64-pc-windows-gnu";
const MACOS: [&str; 2] = ["aarch64-apple-darwin", "x86_64-apple-darwin"];

/// Debian packages of the cross builds: the compiler and std source, clippy for it,
/// mingw, clang + newlib for ring's C on Apple targets, wine, and the MSI tools.
const PACKAGES: &[&str] = &[
    "rustc-web",
    "cargo-web",
    "rust-web-src",
    "rust-web-clippy",
    "gcc-mingw-w64-x86-64",
    "binutils-mingw-w64-x86-64",
    "clang",
    "llvm",
    "libnewlib-dev",
    "wine64",
    "wixl",
    "msitools",
];

/// Crates whose tests run as Windows executables under wine: everything that needs no
/// driver. What only a real Windows can check is in [`ONLY_ON_WINDOWS`].
const WINE_TESTED: &[&str] = &[
    "culvert-proto",
    "culvert-config",
    "culvert-ipc",
    "culvert-engine",
    "culvert-netconf",
    "culvertd",
    "culvert-cli",
];

/// Said in the output and README: the Windows parts no test here can reach.
const ONLY_ON_WINDOWS: &str = "Wintun's driver and the TUN data path, WFP filters, IP \
     Helper routes and addresses, DNS settings on an interface, the service control manager \
     (install, start, stop, restart on failure), DACLs enforced by NTFS, installing the MSI";

const USAGE: &str = "usage: cargo xtask cross [--lint-only]
  clippy -D warnings for Windows (x86_64-pc-windows-gnu) and macOS (aarch64 and x86_64),
  then the Windows tests under wine, the Windows binaries and the MSI (checked)
  --lint-only   only the clippy part";

pub(crate) fn main(args: &[String]) -> anyhow::Result<()> {
    let mut lint_only = false;
    for arg in args {
        match arg.as_str() {
            "--lint-only" => lint_only = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => bail!("unexpected argument `{other}`\n{USAGE}"),
        }
    }
    let root = sys::workspace_root();
    ensure_tools()?;
    lint(&root)?;
    if !lint_only {
        let counts = wine_tests(&root)?;
        let bin = build_windows_binaries(&root, Profile::Debug)?;
        let msi = crate::dist::msi::build(&root, &bin, None, env!("CARGO_PKG_VERSION"), &bin)?;
        println!("{}", crate::dist::msi::check(&msi, false)?);
        println!(
            "\nWindows under wine: {} passed, {} failed, {} ignored\nonly a real Windows \
             verifies: {ONLY_ON_WINDOWS}",
            counts.passed, counts.failed, counts.ignored
        );
    }
    Ok(())
}

/// Installs the Debian packages of the cross builds.
pub(crate) fn ensure_tools() -> anyhow::Result<()> {
    sys::ensure_apt_packages(PACKAGES)
}

/// `cargo SUBCOMMAND` of Debian's toolchain for `targets`, building std from source into
/// `target/cross`.
fn cross_cargo(root: &Path, subcommand: &str, targets: &[&str]) -> Command {
    let mut command = Command::new("/usr/bin/cargo");
    let path = std::env::var("PATH").unwrap_or_default();
    // The rustup toolchain that runs xtask must not leak into the other compiler's build;
    // /usr/bin first finds Debian's cargo-clippy and clippy-driver.
    for leaked in [
        "CARGO",
        "RUSTUP_TOOLCHAIN",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET_DIR",
    ] {
        command.env_remove(leaked);
    }
    let stub = root.join("xtask/src/cross/apple-sdk-stub");
    let apple_cflags = format!("-isystem {} -isystem /usr/include/newlib", stub.display());
    command
        .current_dir(root)
        .env("PATH", format!("/usr/bin:{path}"))
        .env("RUSTC", "/usr/bin/rustc")
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER", "x86_64-w64-mingw32-gcc")
        // ring's C for Apple targets (see the module's comment); SDKROOT keeps cc from
        // asking xcrun for an SDK.
        .env("SDKROOT", &stub)
        .arg(subcommand)
        // No debug info: the Windows app's debug .exe is 400 MB with it, and the test
        // builds link several times faster without.
        .args(["--config", "profile.dev.debug=0"])
        .arg("-Zbuild-std=std,panic_abort")
        .arg("--target-dir")
        .arg(root.join("target/cross"));
    for target in targets {
        let var = target.replace('-', "_");
        if target.contains("apple") {
            command
                .env(format!("CC_{var}"), root.join("xtask/src/cross/apple-cc"))
                .env(format!("AR_{var}"), "llvm-ar")
                .env(format!("CFLAGS_{var}"), &apple_cflags);
        }
        command.args(["--target", target]);
    }
    command
}

/// clippy -D warnings over the workspace for the three targets, in one cargo run.
fn lint(root: &Path) -> anyhow::Result<()> {
    let targets = [WINDOWS, MACOS[0], MACOS[1]];
    run(cross_cargo(root, "clippy", &targets).args([
        "--workspace",
        "--exclude",
        "xtask",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))
}

#[derive(Debug, Default)]
struct Counts {
    passed: u64,
    failed: u64,
    ignored: u64,
}

/// Builds the Windows test executables of [`WINE_TESTED`] and runs each under wine,
/// failing if any test fails; returns the totals.
fn wine_tests(root: &Path) -> anyhow::Result<Counts> {
    let mut build = cross_cargo(root, "test", &[WINDOWS]);
    build.args(["--no-run", "--message-format=json-render-diagnostics"]);
    for krate in WINE_TESTED {
        build.args(["-p", krate]);
    }
    let executables = test_executables(&mut build)?;
    let prefix = wine_prefix(root)?;
    let mut totals = Counts::default();
    let mut failures = Vec::new();
    for (exe, name) in &executables {
        println!("$ wine {}", exe.display());
        let output = Command::new("wine")
            .arg(exe)
            .env("WINEPREFIX", &prefix)
            .env("WINEDEBUG", "-all")
            .current_dir(root)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("could not start wine for {}", exe.display()))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        print!("{stdout}");
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
        let counts = parse_results(&stdout);
        match counts {
            Some(counts) if output.status.success() && counts.failed == 0 => {
                totals.passed += counts.passed;
                totals.ignored += counts.ignored;
            }
            _ => {
                totals.failed += counts.map_or(1, |c| c.failed.max(1));
                failures.push(name.clone());
            }
        }
    }
    if !failures.is_empty() {
        bail!(
            "Windows tests failed under wine: {} ({} passed, {} failed)",
            failures.join(", "),
            totals.passed,
            totals.failed
        );
    }
    Ok(totals)
}

/// Runs a `--message-format=json` cargo build and returns its test executables, each
/// once (cargo may report one more than once) with a name (crate and target), failing
/// when the build does.
fn test_executables(build: &mut Command) -> anyhow::Result<BTreeMap<PathBuf, String>> {
    println!("$ {build:?}");
    let mut child = build
        .stdout(Stdio::piped())
        .spawn()
        .context("could not start Debian's cargo (/usr/bin/cargo)")?;
    let mut executables = BTreeMap::new();
    let stdout = child.stdout.take().context("cargo's stdout")?;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let is_test = message["profile"]["test"].as_bool() == Some(true);
        if let (true, Some(exe)) = (is_test, message["executable"].as_str()) {
            let package = message["package_id"].as_str().unwrap_or_default();
            let package = package
                .rsplit('/')
                .next()
                .unwrap_or(package)
                .split(['#', '@'])
                .next()
                .unwrap_or_default();
            let target = message["target"]["name"].as_str().unwrap_or_default();
            let kind = message["target"]["kind"][0].as_str().unwrap_or_default();
            executables.insert(PathBuf::from(exe), format!("{package} {kind} {target}"));
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("building the Windows tests failed ({status})");
    }
    Ok(executables)
}

/// libtest's summary lines (`test result: ok. 3 passed; 0 failed; 1 ignored; ...`),
/// added up; None when there is none (the program did not get as far as running tests).
fn parse_results(stdout: &str) -> Option<Counts> {
    let mut total: Option<Counts> = None;
    for line in stdout.lines() {
        let Some(rest) = line.strip_prefix("test result: ") else {
            continue;
        };
        let counts = total.get_or_insert_with(Counts::default);
        for part in rest.split([';', '.']) {
            let mut words = part.split_whitespace();
            let (Some(number), Some(what)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(number) = number.parse::<u64>() else {
                continue;
            };
            match what {
                "passed" => counts.passed += number,
                "failed" => counts.failed += number,
                "ignored" => counts.ignored += number,
                _ => {}
            }
        }
    }
    total
}

/// A wine prefix of our own under target/cross, made once, with the `ProcessPrng`
/// stand-in in its system32.
fn wine_prefix(root: &Path) -> anyhow::Result<PathBuf> {
    let prefix = root.join("target/cross/wineprefix");
    let system32 = prefix.join("drive_c/windows/system32");
    let shim = system32.join("bcryptprimitives.dll");
    if shim.exists() {
        return Ok(prefix);
    }
    std::fs::create_dir_all(&prefix)?;
    run(Command::new("wineboot")
        .arg("--init")
        .env("WINEPREFIX", &prefix)
        .env("WINEDEBUG", "-all")
        // No Mono or Gecko installer prompts: the tests need neither.
        .env("WINEDLLOVERRIDES", "mscoree,mshtml="))?;
    run(Command::new("wineserver")
        .arg("--wait")
        .env("WINEPREFIX", &prefix))?;
    run(Command::new("x86_64-w64-mingw32-gcc")
        .args(["-shared", "-O2", "-o"])
        .arg(&shim)
        .arg(root.join("xtask/src/cross/processprng.c"))
        .arg("-ladvapi32"))?;
    Ok(prefix)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Profile {
    Debug,
    Release,
}

/// Builds culvertd.exe, culvert.exe, culvert-engine.exe and the app's .exe (with the
/// front end embedded: `ui/dist` must be built) and returns their directory.
pub(crate) fn build_windows_binaries(root: &Path, profile: Profile) -> anyhow::Result<PathBuf> {
    let release = profile == Profile::Release;
    let mut services = cross_cargo(root, "build", &[WINDOWS]);
    services.args([
        "-p",
        "culvertd",
        "-p",
        "culvert-cli",
        "-p",
        "culvert-engine",
        "--bins",
    ]);
    let mut app = cross_cargo(root, "build", &[WINDOWS]);
    app.args([
        "-p",
        "culvert-app",
        "--bin",
        "culvert-app",
        "--features",
        "tauri/custom-protocol",
    ]);
    if release {
        services.arg("--release");
        app.arg("--release");
    } else {
        // The app's dependencies (Tauri, WebView2, the windows crate) share little with
        // the tests' and are only packed into the test MSI: unoptimised, they build in
        // half the time.
        app.args(["--config", "profile.dev.package.\"*\".opt-level=0"]);
    }
    if !root.join("ui/dist/index.html").exists() {
        bail!("the front end is not built (ui/dist): run `npm run build` in ui/ first");
    }
    run(&mut services)?;
    run(&mut app)?;
    let dir =
        root.join("target/cross")
            .join(WINDOWS)
            .join(if release { "release" } else { "debug" });
    for exe in ["culvertd", "culvert", "culvert-engine", "culvert-app"] {
        let path = dir.join(format!("{exe}.exe"));
        if !path.is_file() {
            bail!("the build did not make {}", path.display());
        }
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtest_summaries_are_added_up() {
        let out = "running 2 tests\ntest a ... ok\n\ntest result: ok. 2 passed; 0 failed; \
                   1 ignored; 0 measured; 0 filtered out; finished in 0.01s\n\
                   test result: FAILED. 5 passed; 2 failed; 0 ignored; 0 measured\n";
        let counts = parse_results(out).unwrap();
        assert_eq!((counts.passed, counts.failed, counts.ignored), (7, 2, 1));
        assert!(parse_results("error: could not load\n").is_none());
    }
}
