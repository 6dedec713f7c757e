//! Putting files into a package's tree: binaries (stripped), icons, the desktop entry.

use super::Built;
use crate::sys::run;
use anyhow::Context;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh, empty `dir`.
pub(super) fn fresh_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

/// Copies `from` to `to` (making its directory) with `mode`.
pub(super) fn copy(from: &Path, to: &Path, mode: u32) -> anyhow::Result<()> {
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    fs::copy(from, to)
        .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    fs::set_permissions(to, fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot chmod {}", to.display()))
}

/// Writes `text` to `to` with `mode`.
pub(super) fn write(to: &Path, text: &[u8], mode: u32) -> anyhow::Result<()> {
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    fs::write(to, text).with_context(|| format!("cannot write {}", to.display()))?;
    fs::set_permissions(to, fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot chmod {}", to.display()))
}

/// A release binary, without its symbol tables (as Debian's dh_strip does): a third
/// of the size.
pub(super) fn binary(from: &Path, to: &Path) -> anyhow::Result<()> {
    copy(from, to, 0o755)?;
    run(Command::new("strip").arg("--strip-unneeded").arg(to))
}

/// `installers/linux/NAME`.
pub(super) fn linux_file(built: &Built, name: &str) -> PathBuf {
    built.root.join("installers/linux").join(name)
}

/// The hicolor icon theme's sizes of the app icon under `share/icons/hicolor`.
pub(super) fn icons(built: &Built, share: &Path) -> anyhow::Result<()> {
    let source = built.root.join("icons/hicolor");
    for size in
        fs::read_dir(&source).with_context(|| format!("cannot read {}", source.display()))?
    {
        let size = size?.file_name();
        for icon in ["culvert.png", "culvert.svg"] {
            let from = source.join(&size).join("apps").join(icon);
            if from.exists() {
                copy(
                    &from,
                    &share
                        .join("icons/hicolor")
                        .join(&size)
                        .join("apps")
                        .join(icon),
                    0o644,
                )?;
            }
        }
    }
    Ok(())
}

/// The app, its desktop entry and icons under `usr`.
pub(super) fn app(built: &Built, usr: &Path) -> anyhow::Result<()> {
    let Some(app) = &built.app else {
        return Ok(());
    };
    binary(app, &usr.join("bin/culvert-app"))?;
    copy(
        &linux_file(built, "culvert.desktop"),
        &usr.join("share/applications/culvert.desktop"),
        0o644,
    )?;
    icons(built, &usr.join("share"))
}

/// Total size of the files under `dir`, in KiB (a .deb's Installed-Size).
pub(super) fn size_kib(dir: &Path) -> anyhow::Result<u64> {
    let mut bytes = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                pending.push(entry.path());
            } else {
                bytes += meta.len();
            }
        }
    }
    Ok(bytes.div_ceil(1024))
}
