//! Running the application: mount the image with squashfuse when the system can (the
//! fast path: nothing is copied), else extract it once into a per-user cache and run
//! it from there. Either way `AppRun` gets the AppImage specification's environment.

use crate::Error;
use crate::extract::Payload;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::fs::DirBuilderExt as _;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long squashfuse gets to show the image's contents.
const MOUNT_DEADLINE: Duration = Duration::from_secs(10);

/// Runs the image's `AppRun` with `args`; returns its exit code. With `force_extract`
/// (or `APPIMAGE_EXTRACT_AND_RUN=1`) squashfuse is not tried.
pub fn run(
    payload: &Payload,
    argv0: &OsStr,
    args: &[OsString],
    force_extract: bool,
) -> Result<i32, Error> {
    let force_extract =
        force_extract || std::env::var_os("APPIMAGE_EXTRACT_AND_RUN").is_some_and(|v| v == "1");
    if !force_extract && let Some(mount) = Mount::try_new(payload) {
        let status = run_until_exit(app_run(payload, &mount.dir, argv0, args))
            .map_err(Error::io(mount.dir.join("AppRun")));
        drop(mount);
        return status.map(exit_code);
    }
    let appdir = extract_to_cache(payload)?;
    // Nothing to clean up afterwards: become the application.
    let error = app_run(payload, &appdir, argv0, args).exec();
    Err(Error::Io {
        path: appdir.join("AppRun"),
        source: error,
    })
}

/// Runs `command` to its end. A SIGTERM, SIGINT or SIGHUP meanwhile is passed on to
/// it instead of ending the runtime, which must outlive the app to unmount the image.
fn run_until_exit(mut command: Command) -> std::io::Result<ExitStatus> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGTERM, SIGINT, SIGHUP] {
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }
    let mut child = command.spawn()?;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if stop.swap(false, Ordering::Relaxed) {
            let _ = Command::new("kill")
                .arg(child.id().to_string())
                .stderr(Stdio::null())
                .status();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `AppRun` in `appdir`, with APPIMAGE, APPDIR, ARGV0 and OWD set.
pub fn app_run(payload: &Payload, appdir: &Path, argv0: &OsStr, args: &[OsString]) -> Command {
    let mut command = Command::new(appdir.join("AppRun"));
    command
        .args(args)
        .env("APPIMAGE", &payload.path)
        .env("APPDIR", appdir)
        .env("ARGV0", argv0);
    if let Ok(cwd) = std::env::current_dir() {
        command.env("OWD", cwd);
    }
    command
}

/// The image extracted under the user's cache directory, extracting it first unless
/// an earlier start did. A half-done extraction is never used: it happens in a
/// temporary directory renamed into place when complete.
pub fn extract_to_cache(payload: &Payload) -> Result<PathBuf, Error> {
    let root = cache_root().join("appimage-run");
    let appdir = root.join(payload.cache_key()?);
    if appdir.join("AppRun").exists() {
        return Ok(appdir);
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&root)
        .map_err(Error::io(&root))?;
    let partial = root.join(format!(".partial-{}", std::process::id()));
    let _ = fs::remove_dir_all(&partial);
    payload.extract_to(&partial, None, |_| {})?;
    if let Err(error) = fs::rename(&partial, &appdir) {
        let _ = fs::remove_dir_all(&partial);
        // Another start of the same AppImage got there first.
        if !appdir.join("AppRun").exists() {
            return Err(Error::Io {
                path: appdir,
                source: error,
            });
        }
    }
    Ok(appdir)
}

fn cache_root() -> PathBuf {
    let non_empty = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    non_empty("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| non_empty("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
}

/// A squashfuse mount of the image, unmounted on drop.
#[derive(Debug)]
struct Mount {
    dir: PathBuf,
    squashfuse: Child,
}

impl Mount {
    /// None when this system cannot mount it (no FUSE, no squashfuse, not permitted):
    /// the caller extracts instead.
    fn try_new(payload: &Payload) -> Option<Self> {
        let squashfuse = find_program("squashfuse")?;
        if !Path::new("/dev/fuse").exists() {
            return None;
        }
        let base = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|dir| dir.is_dir())
            .unwrap_or_else(std::env::temp_dir);
        let stem = payload.path.file_stem().unwrap_or(OsStr::new("appimage"));
        let mut name = OsString::from(".mount_");
        name.push(stem);
        name.push(format!(".{}", std::process::id()));
        let dir = base.join(name);
        fs::DirBuilder::new().mode(0o700).create(&dir).ok()?;
        let child = Command::new(squashfuse)
            .arg("-f")
            .arg("-o")
            .arg(format!("offset={}", payload.offset))
            .arg(&payload.path)
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let Ok(squashfuse) = child else {
            let _ = fs::remove_dir(&dir);
            return None;
        };
        let mut mount = Self { dir, squashfuse };
        let deadline = Instant::now() + MOUNT_DEADLINE;
        while Instant::now() < deadline {
            if mount.dir.join("AppRun").exists() {
                return Some(mount);
            }
            if !matches!(mount.squashfuse.try_wait(), Ok(None)) {
                break; // squashfuse gave up: no permission, or no FUSE in this kernel
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        mount.unmount();
        None
    }

    fn unmount(&mut self) {
        let unmounted = ["fusermount3", "fusermount", "umount"]
            .into_iter()
            .filter_map(find_program)
            .any(|tool| {
                let mut command = Command::new(&tool);
                if !tool.ends_with("umount") {
                    command.arg("-u");
                }
                command
                    .arg(&self.dir)
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            });
        if !unmounted {
            let _ = self.squashfuse.kill();
        }
        let _ = self.squashfuse.wait();
        let _ = fs::remove_dir(&self.dir);
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        self.unmount();
    }
}

/// `name` in PATH.
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The shell's convention: 128 + the signal for a killed child.
fn exit_code(status: ExitStatus) -> i32 {
    status
        .code()
        .or_else(|| status.signal().map(|signal| 128 + signal))
        .unwrap_or(1)
}
