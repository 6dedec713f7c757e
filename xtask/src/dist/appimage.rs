//! The AppImage: our runtime (crates/appimage-runtime) followed by a squashfs image of
//! the AppDir. No linuxdeploy, appimagetool or downloaded runtime: the type-2 format
//! is an ELF file with `AI\x02` at offset 8 and the image appended after its last byte.
//!
//! AppDir: AppRun (installers/linux/appimage/AppRun: offers the service install, then
//! starts the app), culvert.desktop + culvert.png + .DirIcon at the top as the format
//! asks, usr/bin/{culvert-app,culvert,culvertd}, usr/lib/ (see `libs.rs`),
//! usr/share/culvert/ (what the service install copies, `install-as-root.sh` that checks
//! and installs it as root, and their `SHA256SUMS`), icons and the desktop entry.

use super::{Built, libs, stage};
use crate::sys::run;
use anyhow::Context;
use std::path::PathBuf;
use std::process::Command;

/// `AI` and type 2, in the ELF identification's padding (offset 8), as the AppImage
/// specification places it (crates/appimage-runtime/src/elf.rs reads it).
const MAGIC: &[u8; 3] = b"AI\x02";

/// Builds `target/dist/Culvert-VERSION-ARCH.AppImage`.
pub(super) fn build(built: &Built) -> anyhow::Result<PathBuf> {
    let appdir = built.out.join("Culvert.AppDir");
    stage::fresh_dir(&appdir)?;
    let usr = appdir.join("usr");
    let share = usr.join("share/culvert");
    stage::copy(
        &stage::linux_file(built, "appimage/AppRun"),
        &appdir.join("AppRun"),
        0o755,
    )?;
    stage::copy(
        &stage::linux_file(built, "appimage/service.sh"),
        &share.join("service.sh"),
        0o755,
    )?;
    stage::copy(
        &stage::linux_file(built, "culvertd.service"),
        &share.join("culvertd.service"),
        0o644,
    )?;
    stage::copy(
        &stage::linux_file(built, "culvert.sysusers"),
        &share.join("culvert.sysusers"),
        0o644,
    )?;
    stage::copy(
        &stage::linux_file(built, "appimage/install-as-root.sh"),
        &share.join("install-as-root.sh"),
        0o644,
    )?;
    stage::binary(&built.bin.join("culvertd"), &usr.join("bin/culvertd"))?;
    stage::binary(&built.bin.join("culvert"), &usr.join("bin/culvert"))?;
    // What the root side of the service install checks its copies against.
    let installed: Vec<PathBuf> = ["service.sh", "culvertd.service", "culvert.sysusers"]
        .iter()
        .map(|name| share.join(name))
        .chain(
            ["culvertd", "culvert"]
                .iter()
                .map(|name| usr.join("bin").join(name)),
        )
        .collect();
    stage::write(
        &share.join("SHA256SUMS"),
        sha256sums(&installed)?.as_bytes(),
        0o644,
    )?;
    stage::app(built, &usr)?;
    stage::copy(
        &stage::linux_file(built, "culvert.desktop"),
        &appdir.join("culvert.desktop"),
        0o644,
    )?;
    let icon = built.root.join("icons/hicolor/256x256/apps/culvert.png");
    stage::copy(&icon, &appdir.join("culvert.png"), 0o644)?;
    std::os::unix::fs::symlink("culvert.png", appdir.join(".DirIcon"))
        .context("cannot link .DirIcon")?;

    let binaries: Vec<PathBuf> = ["culvert-app", "culvert", "culvertd"]
        .iter()
        .map(|name| usr.join("bin").join(name))
        .filter(|path| path.exists())
        .collect();
    let bundled = libs::bundle(&binaries, &usr.join("lib"))?;
    println!(
        "AppImage bundles: {}",
        if bundled.is_empty() {
            "no libraries (all are the system's)".to_owned()
        } else {
            bundled.join(", ")
        }
    );

    let image = built.out.join("Culvert.squashfs");
    let _ = std::fs::remove_file(&image);
    run(Command::new("mksquashfs")
        .arg(&appdir)
        .arg(&image)
        // gzip: the runtime's in-process extractor reads it, and so does every squashfuse.
        .args(["-root-owned", "-noappend", "-comp", "gzip", "-b", "1M", "-no-progress", "-quiet"]))?;

    let runtime_copy = built.out.join("appimage-runtime");
    stage::binary(&built.bin.join("appimage-runtime"), &runtime_copy)?;
    let mut bytes = std::fs::read(&runtime_copy)?;
    bytes[8..11].copy_from_slice(MAGIC);
    bytes.extend_from_slice(&std::fs::read(&image)?);
    let appimage = built.out.join(format!(
        "Culvert-{}-{}.AppImage",
        built.version,
        std::env::consts::ARCH
    ));
    stage::write(&appimage, &bytes, 0o755)?;
    std::fs::remove_file(&image)?;
    std::fs::remove_file(&runtime_copy)?;
    Ok(appimage)
}

/// `sha256sum`'s lines for `files`, named by their file names alone (the root side
/// checks its flat copies).
fn sha256sums(files: &[PathBuf]) -> anyhow::Result<String> {
    let mut lines = String::new();
    for file in files {
        let output = Command::new("sha256sum")
            .arg(file)
            .output()
            .context("cannot run sha256sum")?;
        anyhow::ensure!(
            output.status.success(),
            "sha256sum {} failed",
            file.display()
        );
        let text = String::from_utf8_lossy(&output.stdout);
        let hash = text.split_whitespace().next().unwrap_or_default();
        let name = file.file_name().context("a file name")?.to_string_lossy();
        lines.push_str(&format!("{hash}  {name}\n"));
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const FILES: [&str; 5] = [
        "service.sh",
        "culvertd.service",
        "culvert.sysusers",
        "culvertd",
        "culvert",
    ];

    /// A staging folder as AppRun makes it, with a service.sh that only reports where it
    /// runs from; and the sums of those files.
    fn staged(dir: &Path) -> String {
        std::fs::create_dir_all(dir).unwrap();
        for name in FILES {
            std::fs::write(dir.join(name), format!("genuine {name}\n")).unwrap();
        }
        std::fs::write(
            dir.join("service.sh"),
            "echo \"service.sh $1 from $2\"; ls \"$2\"\n",
        )
        .unwrap();
        let files: Vec<PathBuf> = FILES.iter().map(|name| dir.join(name)).collect();
        sha256sums(&files).unwrap()
    }

    /// Runs the root side as AppRun hands it to pkexec.
    fn install_as_root(staging: &Path, sums: &str) -> std::process::Output {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../installers/linux/appimage/install-as-root.sh"
        );
        let text = std::fs::read_to_string(script).unwrap();
        Command::new("sh")
            .args(["-c", &text, "culvert-install", "install"])
            .arg(staging)
            .arg(sums)
            .output()
            .unwrap()
    }

    #[test]
    fn the_root_side_installs_only_its_own_checked_copies() {
        let base = std::env::temp_dir().join(format!("culvert-install-{}", std::process::id()));
        let staging = base.join("staging");
        let sums = staged(&staging);

        let genuine = install_as_root(&staging, &sums);
        let said = String::from_utf8_lossy(&genuine.stdout).into_owned();
        assert!(genuine.status.success(), "{said}");
        let from = said
            .lines()
            .next()
            .and_then(|line| line.strip_prefix("service.sh install from "))
            .unwrap_or_else(|| panic!("service.sh did not run: {said}"));
        assert_ne!(Path::new(from), staging, "it ran from its own copies");
        assert!(FILES.iter().all(|name| said.contains(name)), "{said}");
        assert!(
            !Path::new(from).exists(),
            "the copies are removed afterwards"
        );

        // Another process of the user swaps a file during the password prompt.
        std::fs::write(staging.join("culvertd"), "#!/bin/sh\nid > /tmp/owned\n").unwrap();
        let swapped = install_as_root(&staging, &sums);
        assert!(!swapped.status.success());
        assert!(swapped.stdout.is_empty(), "service.sh never ran");
        let complaint = String::from_utf8_lossy(&swapped.stderr);
        assert!(complaint.contains("nothing was installed"), "{complaint}");

        // A swapped installer script is refused the same way.
        staged(&staging);
        std::fs::write(staging.join("service.sh"), "echo owned\n").unwrap();
        let swapped = install_as_root(&staging, &sums);
        assert!(!swapped.status.success() && swapped.stdout.is_empty());
        let _ = std::fs::remove_dir_all(&base);
    }
}
