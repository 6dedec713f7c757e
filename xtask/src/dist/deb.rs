//! The Debian package, assembled here and packed with `dpkg-deb`.
//!
//! Not Tauri's deb bundler: that one needs the Tauri CLI and rebuilds the app, and its
//! maintainer-script hooks and file list would hold everything below anyway; built
//! here, the service, CLI, scripts and the app share one layout with the AppImage and
//! the package can be built and tested without the app (`--without-app`).
//!
//! Layout: /usr/bin/culvert-app, /usr/bin/culvert, /usr/sbin/culvertd,
//! /lib/systemd/system/culvertd.service, /usr/lib/sysusers.d/culvert.conf, the
//! desktop entry, hicolor icons, man pages culvert(1) culvertd(8), bash/zsh/fish
//! completions; DEBIAN/postinst, prerm, postrm from installers/linux/deb/.

use super::{Built, manuals, stage};
use crate::sys::run;
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

pub(crate) const PACKAGE: &str = "culvert";

/// Builds `target/dist/culvert_VERSION_ARCH.deb`.
pub(super) fn build(built: &Built) -> anyhow::Result<PathBuf> {
    let tree = built.out.join("deb");
    stage::fresh_dir(&tree)?;
    let usr = tree.join("usr");
    stage::binary(&built.bin.join("culvertd"), &usr.join("sbin/culvertd"))?;
    stage::binary(&built.bin.join("culvert"), &usr.join("bin/culvert"))?;
    stage::app(built, &usr)?;
    stage::copy(
        &stage::linux_file(built, "culvertd.service"),
        &tree.join("lib/systemd/system/culvertd.service"),
        0o644,
    )?;
    stage::copy(
        &stage::linux_file(built, "culvert.sysusers"),
        &usr.join("lib/sysusers.d/culvert.conf"),
        0o644,
    )?;
    manuals::install(built, &usr.join("share"))?;
    stage::write(
        &usr.join("share/doc/culvert/copyright"),
        COPYRIGHT.as_bytes(),
        0o644,
    )?;

    let control = tree.join("DEBIAN");
    for script in ["postinst", "prerm", "postrm"] {
        stage::copy(
            &stage::linux_file(built, &format!("deb/{script}")),
            &control.join(script),
            0o755,
        )?;
    }
    let mut binaries = vec![usr.join("sbin/culvertd"), usr.join("bin/culvert")];
    if built.app.is_some() {
        binaries.push(usr.join("bin/culvert-app"));
    }
    let depends = shlib_depends(built, &binaries)?;
    let arch = architecture()?;
    let installed_kib = stage::size_kib(&tree)?;
    let control_text = control_file(built, &arch, &depends, installed_kib);
    stage::write(&control.join("control"), control_text.as_bytes(), 0o644)?;

    let deb = built
        .out
        .join(format!("{PACKAGE}_{}_{arch}.deb", built.version));
    run(Command::new("dpkg-deb")
        .args(["--root-owner-group", "-Zxz", "--build"])
        .arg(&tree)
        .arg(&deb))?;
    Ok(deb)
}

fn control_file(built: &Built, arch: &str, depends: &str, installed_kib: u64) -> String {
    let (recommends, app_line) = if built.app.is_some() {
        (
            // The tray: Tauri loads it at run time, so it is no link-time dependency.
            "Recommends: libayatana-appindicator3-1\n",
            " The desktop app lists, imports, edits and switches tunnels, with a tray icon.\n",
        )
    } else {
        (
            "",
            " This build holds the service and the command line only (no desktop app).\n",
        )
    };
    format!(
        "Package: {PACKAGE}\n\
         Version: {version}\n\
         Architecture: {arch}\n\
         Maintainer: Culvert developers <culvert@culvert.invalid>\n\
         Installed-Size: {installed_kib}\n\
         Depends: {depends}, passwd\n\
         {recommends}\
         Suggests: wireguard-tools\n\
         Section: net\n\
         Priority: optional\n\
         Homepage: https://culvert.invalid/culvert\n\
         Description: WireGuard VPN client: service, desktop app and command line\n \
         Culvert runs WireGuard tunnels in a background service (culvertd), started\n \
         at boot, that members of group culvert control without root.\n\
         {app_line} \
         The culvert command does everything from a terminal or a script.\n",
        version = built.version,
    )
}

/// The libraries' packages, with the versions the binaries need, as
/// `dpkg-shlibdeps` (dh_shlibdeps' engine) finds them.
fn shlib_depends(built: &Built, binaries: &[PathBuf]) -> anyhow::Result<String> {
    // dpkg-shlibdeps wants to run in a source tree: a debian/control is enough.
    let source = built.out.join("shlibdeps");
    stage::fresh_dir(&source.join("debian"))?;
    stage::write(
        &source.join("debian/control"),
        format!("Source: {PACKAGE}\n\nPackage: {PACKAGE}\nArchitecture: any\n").as_bytes(),
        0o644,
    )?;
    let output = Command::new("dpkg-shlibdeps")
        .arg("-O")
        .args(binaries.iter().map(|b| absolute(b)))
        .current_dir(&source)
        .output()
        .context("cannot run dpkg-shlibdeps (Debian: dpkg-dev)")?;
    if !output.status.success() {
        bail!(
            "dpkg-shlibdeps failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let depends = text
        .lines()
        .find_map(|line| line.strip_prefix("shlibs:Depends="))
        .context("dpkg-shlibdeps printed no shlibs:Depends")?;
    Ok(depends.to_owned())
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

fn architecture() -> anyhow::Result<String> {
    let output = Command::new("dpkg")
        .arg("--print-architecture")
        .output()
        .context("cannot run dpkg")?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

const COPYRIGHT: &str = "\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: culvert
Source: https://culvert.invalid/culvert

Files: *
Copyright: the Culvert developers
License: MIT or Apache-2.0
 On Debian systems the Apache License 2.0 is in /usr/share/common-licenses/Apache-2.0.
";
