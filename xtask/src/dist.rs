//! `cargo xtask dist`: the installers people download.
//!
//! On Linux: a Debian package (`deb.rs`) and an AppImage (`appimage.rs`), each with the
//! service, the app and the CLI, in `target/dist/`. Windows' MSI and macOS' DMG are
//! built by `.github/workflows/installers.yml` on those systems (see
//! installers/README.md). `dist icons` regenerates the icons; `dist test` installs the
//! .deb on this machine and checks it (`install_test.rs`); `dist test-appimage` starts
//! the AppImage under Xvfb (`appimage_test.rs`).

mod appimage;
mod appimage_test;
mod deb;
mod install_test;
mod libs;
mod manuals;
// The Windows MSI, built here with wixl, and its table test (`dist msi`, `xtask cross`).
pub(crate) mod msi;
mod stage;

use crate::sys::{self, cargo, run};
use anyhow::{Context, bail};
use std::path::PathBuf;
use std::process::Command;

const USAGE: &str = "usage: cargo xtask dist [deb | appimage | icons | test | test-appimage] \
                     [--skip-build] [--without-app]
  (no command)    build the .deb and the AppImage into target/dist
  deb, appimage   build one of them
  msi             release Windows binaries (mingw) and the MSI, checked; a test build
                  without wintun.dll, not for release (see installers/windows/README.md)
  icons           regenerate icons/ from icons/src/*.svg
  test            build the .deb, install it here (root), check the service, remove it
  test-appimage   build the AppImage and start it under Xvfb (a screenshot)
  --skip-build    package the binaries already in target/release
  --without-app   service and CLI only (e.g. before the app builds on this machine)";

/// What a package is made of: the release binaries and where the results go.
#[derive(Debug)]
pub(crate) struct Built {
    pub(crate) root: PathBuf,
    /// `target/release`.
    pub(crate) bin: PathBuf,
    /// `target/dist`.
    pub(crate) out: PathBuf,
    /// The desktop app's binary, unless `--without-app`.
    pub(crate) app: Option<PathBuf>,
    pub(crate) version: &'static str,
}

#[derive(Debug, Default)]
struct Options {
    command: Option<String>,
    skip_build: bool,
    without_app: bool,
}

pub(crate) fn main(args: &[String]) -> anyhow::Result<()> {
    let mut options = Options::default();
    for arg in args {
        match arg.as_str() {
            "--skip-build" => options.skip_build = true,
            "--without-app" => options.without_app = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            command if options.command.is_none() && !command.starts_with('-') => {
                options.command = Some(command.to_owned());
            }
            other => bail!("unexpected argument `{other}`\n{USAGE}"),
        }
    }
    if options.command.as_deref() == Some("icons") {
        return icons();
    }
    if !cfg!(target_os = "linux") {
        bail!(
            "on this system the installers are built by Tauri's bundler: see \
             .github/workflows/installers.yml and installers/README.md"
        );
    }
    match options.command.as_deref() {
        None => {
            let built = build(&options)?;
            let deb = deb::build(&built)?;
            let appimage = appimage::build(&built)?;
            report_sizes(&[deb, appimage]);
        }
        Some("deb") => report_sizes(&[deb::build(&build(&options)?)?]),
        Some("appimage") => report_sizes(&[appimage::build(&build(&options)?)?]),
        Some("msi") => {
            let root = sys::workspace_root();
            crate::cross::ensure_tools()?;
            if !options.skip_build {
                crate::gui::build_front_end(&root)?;
            }
            let bin = crate::cross::build_release_windows_binaries(&root)?;
            let out = root.join("target/dist");
            let msi = msi::build(&root, &bin, None, env!("CARGO_PKG_VERSION"), &out)?;
            println!("{}", msi::check(&msi, false)?);
            let exes = ["culvertd", "culvert", "culvert-engine", "culvert-app"]
                .map(|name| bin.join(format!("{name}.exe")));
            report_sizes(&[&exes[..], &[msi]].concat());
        }
        Some("test") => {
            let built = build(&options)?;
            let deb = deb::build(&built)?;
            report_sizes(std::slice::from_ref(&deb));
            install_test::check_all(&built, &deb)?;
        }
        Some("test-appimage") => {
            let built = build(&options)?;
            if built.app.is_none() {
                bail!("test-appimage needs the app: drop --without-app");
            }
            let appimage = appimage::build(&built)?;
            report_sizes(std::slice::from_ref(&appimage));
            appimage_test::check_all(&built, &appimage)?;
        }
        Some(other) => bail!("unknown dist command `{other}`\n{USAGE}"),
    }
    Ok(())
}

/// Builds (unless `--skip-build`) the release binaries every package holds.
fn build(options: &Options) -> anyhow::Result<Built> {
    let root = sys::workspace_root();
    let with_app = !options.without_app;
    if with_app && !root.join("src-tauri/Cargo.toml").exists() {
        bail!("src-tauri/ is not in this checkout; use --without-app for service + CLI only");
    }
    sys::ensure_apt_packages(PACKAGES)?;
    if !options.skip_build {
        run(cargo().args([
            "build",
            "--release",
            "-p",
            "culvertd",
            "-p",
            "culvert-cli",
            "-p",
            "culvert-appimage-runtime",
        ]))?;
        if with_app {
            crate::gui::build_release_app(&root)?;
        }
    }
    let bin = root.join("target/release");
    let app = with_app.then(|| bin.join("culvert-app"));
    for needed in ["culvertd", "culvert", "appimage-runtime"]
        .iter()
        .map(|name| bin.join(name))
        .chain(app.clone())
    {
        if !needed.exists() {
            bail!(
                "{} is missing: build without --skip-build",
                needed.display()
            );
        }
    }
    let out = root.join("target/dist");
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    Ok(Built {
        root,
        bin,
        out,
        app,
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// Debian packages `dist` uses: dpkg-shlibdeps, mksquashfs, patchelf, strip, Xvfb and
/// screenshots for the AppImage test.
const PACKAGES: &[&str] = &[
    "binutils",
    "dpkg-dev",
    "squashfs-tools",
    "patchelf",
    "xvfb",
    "x11-utils",
    "imagemagick",
];

/// `cargo xtask dist icons`: regenerate icons/ from its SVG sources.
fn icons() -> anyhow::Result<()> {
    sys::ensure_apt_packages(&["librsvg2-bin", "imagemagick", "icnsutils"])?;
    run(&mut Command::new(
        sys::workspace_root().join("icons/generate.sh"),
    ))
}

fn report_sizes(artefacts: &[PathBuf]) {
    println!("\nartefacts:");
    for artefact in artefacts {
        let size = std::fs::metadata(artefact).map_or(0, |m| m.len());
        println!(
            "  {:>6.2} MB  {}",
            size as f64 / 1_000_000.0,
            artefact.display()
        );
    }
}
