//! `cargo xtask dist test-appimage`: starts the AppImage on a virtual display (Xvfb)
//! on a machine without the Culvert service, and checks that it says so: AppRun prints
//! the missing service and offers the install (a zenity question, screenshot
//! `target/dist/appimage-offer.png`; the runtime mounts the image with squashfuse
//! where FUSE works); declined, the app starts and shows its connection screen
//! (screenshot `target/dist/appimage-app.png`; the runtime extracts and runs).

use super::Built;
use crate::sys::run;
use anyhow::{Context, bail, ensure};
use std::fs;
use std::io::{BufRead as _, BufReader};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SCREEN: (u32, u32) = (1280, 800);
const MISSING_SERVICE: &str = "the Culvert service (culvertd) is not installed";

pub(super) fn check_all(built: &Built, appimage: &Path) -> anyhow::Result<()> {
    if [
        "/run/culvert/culvertd.sock",
        "/usr/sbin/culvertd",
        "/lib/systemd/system/culvertd.service",
    ]
    .iter()
    .any(|p| Path::new(p).exists())
    {
        bail!("a Culvert service is installed here; this test needs a machine without one");
    }
    crate::sys::ensure_apt_packages(&["zenity"])?;
    let home = built.out.join("appimage-test-home");
    super::stage::fresh_dir(&home)?;
    let xvfb = Xvfb::start()?;
    println!("Xvfb on {}", xvfb.display);

    // 1. The offer, as a first start shows it.
    let offer = built.out.join("appimage-offer.png");
    let mut first = start(
        appimage,
        &xvfb,
        &home,
        false,
        &built.out.join("appimage-offer.log"),
    )?;
    let shown = wait_for_window(&xvfb, &mut first.child, "Culvert");
    let shot = shown.and_then(|()| stable_screenshot(&xvfb, &offer));
    first.stop();
    shot?;
    let log = fs::read_to_string(&first.log)?;
    ensure!(
        log.contains(MISSING_SERVICE),
        "AppRun did not report the missing service: {log}"
    );
    println!(
        "AppRun said: {}",
        log.lines()
            .find(|l| l.contains(MISSING_SERVICE))
            .unwrap_or("")
    );
    println!("screenshot of the offer: {}", offer.display());

    // 2. The app itself, the question skipped: its connection screen.
    let app_shot = built.out.join("appimage-app.png");
    let mut second = start(
        appimage,
        &xvfb,
        &home,
        true,
        &built.out.join("appimage-app.log"),
    )?;
    let shown = wait_for_window(&xvfb, &mut second.child, "Culvert");
    let shot = shown.and_then(|()| stable_screenshot(&xvfb, &app_shot));
    second.stop();
    shot?;
    ensure!(
        home.join(".cache/appimage-run").is_dir(),
        "the extract-and-run start left no extraction in the cache"
    );
    println!("screenshot of the app: {}", app_shot.display());
    Ok(())
}

/// A started AppImage: its own process group, so it and everything it started (the
/// app, WebKit's helpers, zenity) stop together.
struct Started {
    child: Child,
    log: PathBuf,
}

impl Started {
    fn stop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.child.wait();
    }
}

fn start(
    appimage: &Path,
    xvfb: &Xvfb,
    home: &Path,
    skip_offer: bool,
    log: &Path,
) -> anyhow::Result<Started> {
    let output = fs::File::create(log)?;
    let mut command = Command::new(appimage);
    command
        .env("DISPLAY", &xvfb.display)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("CULVERT_NO_SERVICE_OFFER")
        .stdin(Stdio::null())
        .stdout(output.try_clone()?)
        .stderr(output)
        .process_group(0);
    if skip_offer {
        // The second start also takes the runtime's other path: extract, then run.
        command
            .env("CULVERT_NO_SERVICE_OFFER", "1")
            .env("APPIMAGE_EXTRACT_AND_RUN", "1");
    }
    let child = command
        .spawn()
        .with_context(|| format!("cannot start {}", appimage.display()))?;
    Ok(Started {
        child,
        log: log.to_owned(),
    })
}

fn wait_for_window(xvfb: &Xvfb, child: &mut Child, title: &str) -> anyhow::Result<()> {
    let quoted = format!("\"{title}\"");
    let end = Instant::now() + Duration::from_secs(60);
    while Instant::now() < end {
        let tree = Command::new("xwininfo")
            .args(["-root", "-tree", "-display", &xvfb.display])
            .output()
            .context("cannot run xwininfo (Debian: x11-utils)")?;
        if String::from_utf8_lossy(&tree.stdout).contains(&quoted) {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            bail!("the AppImage exited ({status}) before a window titled {quoted} appeared");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!("no window titled {quoted} appeared within 60 s")
}

/// Takes screenshots until two in a row are equal and not blank (the window has
/// finished drawing), then saves the last as a PNG.
fn stable_screenshot(xvfb: &Xvfb, to: &Path) -> anyhow::Result<()> {
    let raw = to.with_extension("rgb");
    let mut previous: Option<Vec<u8>> = None;
    let end = Instant::now() + Duration::from_secs(60);
    while Instant::now() < end {
        // `import` takes the display from DISPLAY; its -display option is not enough.
        run(Command::new("import")
            .env("DISPLAY", &xvfb.display)
            .args(["-silent", "-window", "root", "-depth", "8"])
            .arg(format!("rgb:{}", raw.display())))?;
        let pixels = fs::read(&raw)?;
        let blank = pixels.windows(3).step_by(3).all(|p| p == &pixels[..3]);
        if !blank && previous.as_ref() == Some(&pixels) {
            let size = format!("{}x{}", SCREEN.0, SCREEN.1);
            run(Command::new("/usr/bin/convert")
                .args(["-size", &size, "-depth", "8"])
                .arg(format!("rgb:{}", raw.display()))
                .arg(to))?;
            fs::remove_file(&raw)?;
            return Ok(());
        }
        previous = Some(pixels);
        std::thread::sleep(Duration::from_millis(500));
    }
    bail!("the screen did not settle within 60 s")
}

/// A virtual X display of our own, stopped on drop.
struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    fn start() -> anyhow::Result<Self> {
        let screen = format!("{}x{}x24", SCREEN.0, SCREEN.1);
        // -displayfd 1: Xvfb picks a free display and writes its number to stdout.
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                &screen,
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start Xvfb (Debian: xvfb)")?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().context("no stdout")?).read_line(&mut line)?;
        let number = line.trim();
        if number.is_empty() {
            let _ = child.kill();
            bail!("Xvfb did not start");
        }
        Ok(Self {
            display: format!(":{number}"),
            child,
        })
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
