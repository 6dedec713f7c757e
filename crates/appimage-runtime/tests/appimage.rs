//! Builds a tiny AppImage around a test payload (this crate's runtime + an image made
//! by `mksquashfs`) and runs it every way the runtime offers.
//!
//! The tests share a lock: an executable written while another test forks can be
//! "busy" (ETXTBSY) when run, a classic flake of tests that write programs.
#![cfg(target_os = "linux")]

use std::fs;
use std::os::unix::fs::{PermissionsExt as _, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const APP_RUN: &str = r#"#!/bin/sh
printf 'APPIMAGE=%s\nAPPDIR=%s\nARGV0=%s\nOWD=%s\nARGS=%s\n' "$APPIMAGE" "$APPDIR" "$ARGV0" "$OWD" "$*"
cat "$APPDIR/usr/share/test/payload.txt"
exit 7
"#;

/// Makes `dir/Test.AppImage` and returns its path.
fn build_appimage(dir: &Path) -> PathBuf {
    let appdir = dir.join("AppDir");
    fs::create_dir_all(appdir.join("usr/share/test")).unwrap();
    fs::create_dir_all(appdir.join("usr/bin")).unwrap();
    fs::write(appdir.join("AppRun"), APP_RUN).unwrap();
    fs::set_permissions(appdir.join("AppRun"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(appdir.join("usr/share/test/payload.txt"), "the payload\n").unwrap();
    fs::write(appdir.join("usr/share/test/private.txt"), "owner only\n").unwrap();
    fs::set_permissions(
        appdir.join("usr/share/test/private.txt"),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    symlink("../share/test/payload.txt", appdir.join("usr/bin/payload")).unwrap();

    let image = dir.join("image.squashfs");
    let made = Command::new("mksquashfs")
        .arg(&appdir)
        .arg(&image)
        .args([
            "-root-owned",
            "-noappend",
            "-comp",
            "gzip",
            "-quiet",
            "-no-progress",
        ])
        .status()
        .expect("mksquashfs is needed (Debian: squashfs-tools; `cargo xtask test` installs it)");
    assert!(made.success());

    let mut bytes = fs::read(env!("CARGO_BIN_EXE_appimage-runtime")).unwrap();
    bytes[8..11].copy_from_slice(b"AI\x02");
    bytes.extend_from_slice(&fs::read(&image).unwrap());
    let appimage = dir.join("Test.AppImage");
    fs::write(&appimage, bytes).unwrap();
    fs::set_permissions(&appimage, fs::Permissions::from_mode(0o755)).unwrap();
    appimage
}

fn runtime_len() -> u64 {
    fs::metadata(env!("CARGO_BIN_EXE_appimage-runtime"))
        .unwrap()
        .len()
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn value<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {key}= in {text}"))
}

#[test]
fn the_offset_is_where_the_runtime_ends() {
    let _one = ONE_AT_A_TIME.lock().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let appimage = build_appimage(dir.path());
    let output = Command::new(&appimage)
        .arg("--appimage-offset")
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(text(&output).trim(), runtime_len().to_string());
}

#[test]
fn extract_and_run_sets_the_environment_and_reuses_the_extraction() {
    let _one = ONE_AT_A_TIME.lock().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let appimage = build_appimage(dir.path());
    let cache = dir.path().join("cache");
    let run = || {
        Command::new(&appimage)
            .args(["--flag", "two words"])
            .current_dir(dir.path())
            .env("APPIMAGE_EXTRACT_AND_RUN", "1")
            .env("XDG_CACHE_HOME", &cache)
            .output()
            .unwrap()
    };
    let first = run();
    assert_eq!(
        first.status.code(),
        Some(7),
        "AppRun's exit code comes back"
    );
    let out = text(&first);
    assert_eq!(value(&out, "APPIMAGE"), appimage.to_str().unwrap());
    assert_eq!(value(&out, "ARGV0"), appimage.to_str().unwrap());
    assert_eq!(value(&out, "OWD"), dir.path().to_str().unwrap());
    assert_eq!(value(&out, "ARGS"), "--flag two words");
    assert!(out.contains("the payload"), "{out}");
    let appdir = PathBuf::from(value(&out, "APPDIR"));
    assert!(
        appdir.starts_with(cache.join("appimage-run")),
        "{}",
        appdir.display()
    );

    let second = run();
    assert_eq!(value(&text(&second), "APPDIR"), appdir.to_str().unwrap());
    let entries = fs::read_dir(cache.join("appimage-run")).unwrap().count();
    assert_eq!(
        entries, 1,
        "the second start used the first one's extraction"
    );
}

#[test]
fn appimage_extract_writes_squashfs_root_with_modes_and_links() {
    let _one = ONE_AT_A_TIME.lock().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let appimage = build_appimage(dir.path());
    let output = Command::new(&appimage)
        .arg("--appimage-extract")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(text(&output).contains("squashfs-root/AppRun"));
    let root = dir.path().join("squashfs-root");
    let mode = |p: &str| fs::metadata(root.join(p)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("AppRun"), 0o755);
    assert_eq!(mode("usr/share/test/private.txt"), 0o600);
    assert_eq!(
        fs::read_link(root.join("usr/bin/payload")).unwrap(),
        Path::new("../share/test/payload.txt")
    );
    assert_eq!(
        fs::read_to_string(root.join("usr/bin/payload")).unwrap(),
        "the payload\n"
    );

    // With a prefix, only what is under it.
    fs::remove_dir_all(&root).unwrap();
    let output = Command::new(&appimage)
        .args(["--appimage-extract", "usr/share"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(root.join("usr/share/test/payload.txt").exists());
    assert!(!root.join("AppRun").exists());
}

#[test]
fn a_runtime_without_an_image_says_so() {
    let _one = ONE_AT_A_TIME.lock().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_appimage-runtime"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(error.contains("no squashfs image follows"), "{error}");
}

#[test]
fn squashfuse_mounts_the_image_and_unmounts_it_afterwards() {
    let _one = ONE_AT_A_TIME.lock().unwrap();
    let squashfuse = Command::new("squashfuse").arg("--help").output().is_ok();
    if !squashfuse || !Path::new("/dev/fuse").exists() {
        eprintln!("skipped: needs squashfuse and /dev/fuse (extract-and-run is tested instead)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let appimage = build_appimage(dir.path());
    let output = Command::new(&appimage)
        .env_remove("APPIMAGE_EXTRACT_AND_RUN")
        .env("XDG_RUNTIME_DIR", dir.path())
        .env("XDG_CACHE_HOME", dir.path().join("cache"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(7), "{output:?}");
    let appdir = PathBuf::from(value(&text(&output), "APPDIR"));
    if appdir.starts_with(dir.path().join("cache")) {
        // FUSE is there but refused us (e.g. a container without the capability).
        eprintln!("skipped: squashfuse could not mount here; the runtime extracted instead");
        return;
    }
    assert!(
        appdir.starts_with(dir.path()) && appdir.to_str().unwrap().contains(".mount_Test."),
        "{}",
        appdir.display()
    );
    assert!(!appdir.exists(), "the mount point is removed after the run");
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap();
    assert!(!mounts.contains(appdir.to_str().unwrap()));
}
