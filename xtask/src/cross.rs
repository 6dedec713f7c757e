//! `cargo xtask cross`: Windows and macOS compiled, linted and (Windows) tested on this
//! Linux machine, offline.
//!
//! - **Compiler**: Debian's rustc-web (1.96) with its standard library's source
//!   (rust-web-src), so `-Zbuild-std` builds std for any target (`RUSTC_BOOTSTRAP=1`,
//!   for these builds only). The pinned toolchain stays for everything else; the cross
//!   builds have their own target directory, `target/cross`, so the two compilers never
//!   share artefacts.
//! - **Lint**: clippy `-D warnings` over every target of the workspace (xtask, the Linux
//!   build host's tool, aside): for aarch64- and x86_64-apple-darwin by `cargo clippy`
//!   (one run for both, so build scripts and proc macros are built once); for
//!   x86_64-pc-windows-gnu while the whole workspace is built for its tests (clippy's
//!   driver compiles our crates, so the lints cost no second compilation).
//! - **Windows, built and run**: mingw-w64 links; the test executables of the crates that
//!   need no driver run under wine64 (a stand-in `bcryptprimitives.dll` gives wine 8 the
//!   `ProcessPrng` Rust's std needs: test tooling, never shipped); the same build makes
//!   culvertd.exe, culvert.exe, culvert-engine.exe and the app's .exe, and the MSI is
//!   made from them (wixl), its tables checked (`dist/msi.rs`).
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
use std::time::Instant;

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
    // wine64 only recommends it, and it has the `wine` and `wineboot` commands.
    "wine",
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
    "culvert-winsec",
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
    if lint_only {
        return lint(&root, &[WINDOWS, MACOS[0], MACOS[1]]);
    }
    lint(&root, &MACOS)?;
    let tests = build_windows(&root)?;
    let counts = wine_tests(&root, &tests)?;
    let bin = windows_binaries(&root.join("target/cross").join(WINDOWS).join("debug"))?;
    let msi = crate::dist::msi::build(&root, &bin, None, env!("CARGO_PKG_VERSION"), &bin)?;
    println!("{}", crate::dist::msi::check(&msi, false)?);
    match counts {
        Some(counts) => println!(
            "\nWindows under wine: {} passed, {} failed, {} ignored",
            counts.passed, counts.failed, counts.ignored
        ),
        None => println!("\nWindows under wine: NOT RUN (wine could not start here, see above)"),
    }
    println!("only a real Windows verifies: {ONLY_ON_WINDOWS}");
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
        .args(["--config", "profile.dev.package.\"*\".debug=0"])
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

/// clippy -D warnings over the workspace for `targets`, in one cargo run.
fn lint(root: &Path, targets: &[&str]) -> anyhow::Result<()> {
    run(cross_cargo(root, "clippy", targets).args([
        "--workspace",
        "--exclude",
        "xtask",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))
}

/// Builds every target of the workspace for Windows (xtask aside), linting our crates as
/// they compile (clippy `-D warnings`, as for Linux), and returns the test executables.
/// The binaries the MSI packs come out of the same build (each has integration tests,
/// so cargo builds it for them), with the app's front end embedded.
fn build_windows(root: &Path) -> anyhow::Result<Vec<TestExecutable>> {
    require_front_end(root)?;
    let mut build = cross_cargo(root, "test", &[WINDOWS]);
    build.args([
        "--no-run",
        "--workspace",
        "--exclude",
        "xtask",
        "--all-targets",
        "--features",
        crate::test::WORKSPACE_FEATURES,
        "--message-format=json-render-diagnostics",
        // Unoptimised dependencies: Tauri, WebView2 and the windows crates build in half
        // the time, and the tests under wine are small enough not to mind.
        "--config",
        "profile.dev.package.\"*\".opt-level=0",
    ]);
    sys::lint_while_building(&mut build, Path::new("/usr/bin/clippy-driver"));
    test_executables(&mut build)
}

#[derive(Debug, Default)]
struct Counts {
    passed: u64,
    failed: u64,
    ignored: u64,
}

/// Runs each test executable of [`WINE_TESTED`] under wine, failing if any test fails;
/// returns the totals, or None when wine cannot start on this machine at all.
fn wine_tests(root: &Path, tests: &[TestExecutable]) -> anyhow::Result<Option<Counts>> {
    let Some(prefix) = wine_prefix(root)? else {
        return Ok(None);
    };
    let mut totals = Counts::default();
    let mut failures = Vec::new();
    for test in tests
        .iter()
        .filter(|t| WINE_TESTED.contains(&t.package.as_str()))
    {
        let exe = &test.path;
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
                failures.push(test.label.clone());
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
    Ok(Some(totals))
}

/// A test executable of a cargo build.
struct TestExecutable {
    path: PathBuf,
    /// Its crate's package name.
    package: String,
    /// Crate, kind and target, for messages.
    label: String,
}

/// Runs a `--message-format=json` cargo build and returns its test executables (unit
/// and integration tests; benchmarks and examples are only built), each once (cargo may
/// report one more than once), failing when the build does.
fn test_executables(build: &mut Command) -> anyhow::Result<Vec<TestExecutable>> {
    println!("$ {build:?}");
    let started = Instant::now();
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
        let kind = message["target"]["kind"][0].as_str().unwrap_or_default();
        let runs_tests = matches!(kind, "lib" | "rlib" | "bin" | "test");
        if let (true, true, Some(exe)) = (is_test, runs_tests, message["executable"].as_str()) {
            let package = package_name(message["package_id"].as_str().unwrap_or_default());
            let target = message["target"]["name"].as_str().unwrap_or_default();
            let path = PathBuf::from(exe);
            let test = TestExecutable {
                path: path.clone(),
                package: package.to_owned(),
                label: format!("{package} {kind} {target}"),
            };
            executables.insert(path, test);
        }
    }
    let status = child.wait()?;
    sys::report_time(started);
    if !status.success() {
        bail!("building for Windows failed ({status})");
    }
    Ok(executables.into_values().collect())
}

/// The package name in a cargo package id: `path+file:///…/crates/service#culvertd@0.1.0`,
/// or `path+file:///…/culvert-proto#0.1.0` when the folder has the package's name.
fn package_name(id: &str) -> &str {
    let (location, fragment) = id.rsplit_once('#').unwrap_or((id, ""));
    match fragment.split_once('@') {
        Some((name, _version)) => name,
        None => location.rsplit('/').next().unwrap_or(location),
    }
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
/// stand-in in its system32; None, said on the output with wine's own words, when wine
/// cannot make one on this machine (then nothing Windows can run here).
fn wine_prefix(root: &Path) -> anyhow::Result<Option<PathBuf>> {
    let prefix = root.join("target/cross/wineprefix");
    let shim = prefix.join("drive_c/windows/system32/bcryptprimitives.dll");
    if shim.exists() {
        return Ok(Some(prefix));
    }
    let wine = |program: &str| {
        let mut command = Command::new(program);
        command
            .env("WINEPREFIX", &prefix)
            // wine's errors but not its "fixme" chatter: when a machine cannot run wine,
            // they are all there is to go on.
            .env("WINEDEBUG", "fixme-all")
            // No Mono or Gecko installer prompts: the tests need neither.
            .env("WINEDLLOVERRIDES", "mscoree,mshtml=")
            .stdin(Stdio::null());
        command
    };
    let mut failures = Vec::new();
    for attempt in 1..=2 {
        // A prefix half made by a failed attempt would not be made again.
        let _ = std::fs::remove_dir_all(&prefix);
        std::fs::create_dir_all(prefix.parent().expect("the prefix has a parent"))?;
        println!("$ wineboot --init (attempt {attempt})");
        let started = Instant::now();
        let booted = wine("wineboot").arg("--init").output();
        // wineboot returns before the server has written the registry out.
        let _ = wine("wineserver").arg("--wait").status();
        sys::report_time(started);
        match booted {
            Ok(out) if out.status.success() && prefix.join("drive_c/windows/system32").is_dir() => {
                run(Command::new("x86_64-w64-mingw32-gcc")
                    .args(["-shared", "-O2", "-o"])
                    .arg(&shim)
                    .arg(root.join("xtask/src/cross/processprng.c"))
                    .arg("-ladvapi32"))?;
                return Ok(Some(prefix));
            }
            Ok(out) => failures.push(format!(
                "wineboot --init: {}\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )),
            Err(error) => failures.push(format!("could not start wineboot: {error}")),
        }
        let _ = wine("wineserver").arg("--kill").status();
    }
    println!(
        "SKIPPED: the Windows tests under wine, because wine cannot make a prefix on this \
         machine:\n{}",
        failures.join("\n")
    );
    Ok(None)
}

/// `dir` when it holds culvertd.exe, culvert.exe, culvert-engine.exe and the app's .exe.
fn windows_binaries(dir: &Path) -> anyhow::Result<PathBuf> {
    for exe in ["culvertd", "culvert", "culvert-engine", "culvert-app"] {
        let path = dir.join(format!("{exe}.exe"));
        if !path.is_file() {
            bail!("the build did not make {}", path.display());
        }
    }
    Ok(dir.to_path_buf())
}

fn require_front_end(root: &Path) -> anyhow::Result<()> {
    if !root.join("ui/dist/index.html").exists() {
        bail!("the front end is not built (ui/dist): run `npm run build` in ui/ first");
    }
    Ok(())
}

/// Builds the release culvertd.exe, culvert.exe, culvert-engine.exe and the app's .exe
/// (with the front end embedded: `ui/dist` must be built) and returns their directory.
pub(crate) fn build_release_windows_binaries(root: &Path) -> anyhow::Result<PathBuf> {
    require_front_end(root)?;
    run(cross_cargo(root, "build", &[WINDOWS]).args([
        "--release",
        "-p",
        "culvertd",
        "-p",
        "culvert-cli",
        "-p",
        "culvert-engine",
        "-p",
        "culvert-app",
        "--bins",
        "--features",
        crate::test::WORKSPACE_FEATURES,
    ]))?;
    windows_binaries(&root.join("target/cross").join(WINDOWS).join("release"))
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

    #[test]
    fn package_names_come_from_either_form_of_package_id() {
        assert_eq!(
            package_name("path+file:///w/crates/service#culvertd@0.1.0"),
            "culvertd"
        );
        assert_eq!(
            package_name("path+file:///w/culvert-proto#0.1.0"),
            "culvert-proto"
        );
        assert_eq!(
            package_name("registry+https://github.com/rust-lang/crates.io-index#ring@0.17.14"),
            "ring"
        );
    }
}
