//! Which shared libraries the AppImage carries.
//!
//! WebKitGTK cannot usefully be bundled (its helper processes and GStreamer plugins are
//! found at paths fixed at its build; bundling it is why Tauri's own AppImages weigh
//! 70+ MB), so the AppImage needs the system's `libwebkit2gtk-4.1-0`, as the .deb
//! does. Everything WebKitGTK and GTK themselves link to is therefore on the system
//! too, as are glibc and the graphics and session stack. What our binaries need beyond
//! that is copied into `usr/lib`, and the binaries find it through a `$ORIGIN`
//! run path (no LD_LIBRARY_PATH that would leak into programs the app starts).

use crate::sys::run;
use anyhow::{Context, bail};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Libraries every desktop that can run the app has: glibc, the toolchain's runtime,
/// and the graphics, font and session stack (the AppImage project's exclusion list
/// keeps these out for the same reason: bundling them breaks on other systems).
const SYSTEM_PREFIXES: &[&str] = &[
    "linux-vdso",
    "ld-linux",
    "libc.so",
    "libm.so",
    "libdl.so",
    "libpthread.so",
    "librt.so",
    "libresolv.so",
    "libutil.so",
    "libgcc_s.so",
    "libstdc++.so",
    "libz.so",
    "libGL",
    "libEGL",
    "libGLX",
    "libGLdispatch",
    "libdrm",
    "libgbm",
    "libX",
    "libxcb",
    "libwayland",
    "libdbus-1",
    "libsystemd",
    "libudev",
    "libfontconfig",
    "libfreetype",
    "libharfbuzz",
    "libglib-2.0",
    "libgobject-2.0",
    "libgio-2.0",
    "libgmodule-2.0",
    "libgdk",
    "libgtk-3",
    "libpango",
    "libcairo",
    "libatk",
    "libwebkit2gtk",
    "libjavascriptcoregtk",
    "libsoup",
];

/// The libraries whose own dependencies count as the system's.
const SYSTEM_ROOTS: &[&str] = &["libwebkit2gtk-4.1.so.0", "libgtk-3.so.0"];

/// Copies into `lib_dir` the libraries `binaries` need that a system with WebKitGTK
/// may lack, points the binaries at them, and returns their names.
pub(super) fn bundle(binaries: &[PathBuf], lib_dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut needed = BTreeMap::new();
    for binary in binaries {
        needed.extend(resolved_dependencies(binary)?);
    }
    let mut system: BTreeSet<String> = BTreeSet::new();
    for root in SYSTEM_ROOTS {
        if let Some(path) = needed.get(*root) {
            system.extend(resolved_dependencies(path)?.into_keys());
        }
    }
    let bundled: BTreeMap<String, PathBuf> = needed
        .into_iter()
        .filter(|(name, _)| {
            !system.contains(name) && !SYSTEM_PREFIXES.iter().any(|p| name.starts_with(p))
        })
        .collect();
    if bundled.is_empty() {
        return Ok(Vec::new());
    }
    std::fs::create_dir_all(lib_dir)?;
    for (name, path) in &bundled {
        let to = lib_dir.join(name);
        std::fs::copy(path, &to)
            .with_context(|| format!("cannot copy {} into the AppDir", path.display()))?;
        run(Command::new("patchelf")
            .args(["--set-rpath", "$ORIGIN"])
            .arg(&to))?;
    }
    for binary in binaries {
        run(Command::new("patchelf")
            .args(["--set-rpath", "$ORIGIN/../lib"])
            .arg(binary))?;
    }
    Ok(bundled.into_keys().collect())
}

/// Every library `binary` loads, directly or not, by name, as `ldd` resolves them.
fn resolved_dependencies(binary: &Path) -> anyhow::Result<BTreeMap<String, PathBuf>> {
    let output = Command::new("ldd")
        .arg(binary)
        .output()
        .context("cannot run ldd")?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!("ldd {} failed: {text}", binary.display());
    }
    let mut found = BTreeMap::new();
    for line in text.lines() {
        // "\tlibfoo.so.1 => /usr/lib/x86_64-linux-gnu/libfoo.so.1 (0x...)"
        let Some((name, rest)) = line.trim().split_once(" => ") else {
            continue;
        };
        if rest.starts_with("not found") {
            bail!("{} needs {name}, which this system lacks", binary.display());
        }
        if let Some(path) = rest.split_whitespace().next() {
            found.insert(name.to_owned(), PathBuf::from(path));
        }
    }
    Ok(found)
}
