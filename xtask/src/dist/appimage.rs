//! The AppImage: our runtime (crates/appimage-runtime) followed by a squashfs image of
//! the AppDir. No linuxdeploy, appimagetool or downloaded runtime: the type-2 format
//! is an ELF file with `AI\x02` at offset 8 and the image appended after its last byte.
//!
//! AppDir: AppRun (installers/linux/appimage/AppRun: offers the service install, then
//! starts the app), culvert.desktop + culvert.png + .DirIcon at the top as the format
//! asks, usr/bin/{culvert-app,culvert,culvertd}, usr/lib/ (see `libs.rs`),
//! usr/share/culvert/ (what the service install copies), icons and the desktop entry.

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
    stage::binary(&built.bin.join("culvertd"), &usr.join("bin/culvertd"))?;
    stage::binary(&built.bin.join("culvert"), &usr.join("bin/culvert"))?;
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
