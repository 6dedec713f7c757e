//! The Windows MSI, built on Linux: `installers/windows/culvert.wxs` through wixl
//! (msitools), and a test of the tables in the result.
//!
//! WiX 3 builds the release MSI from the same source on Windows (`windows-msi` in
//! .github/workflows/installers.yml). Here Debian 12's wixl 0.101 builds it. wixl
//! implements a subset of WiX, and two elements the MSI needs are outside it:
//! `Environment` (culvert.exe's folder on the system PATH) and `ShortcutProperty` (the
//! app's AppUserModelID, under which its notifications appear). culvert.wxs hides them
//! from wixl behind `<?ifndef var.Wixl?>`; [`build`] adds their rows with msibuild,
//! translated from the wxs as WiX's compiler translates them.
//!
//! [`check`] reads the MSI back with `msiinfo export` and checks the rows Windows
//! Installer acts on: files, the service and its control events, PATH, the Start menu
//! shortcut, upgrades and downgrades, the `culvertd recover` custom action, per-machine
//! scope, and that the embedded cabinet holds what the File table says. What it cannot
//! check is anything Windows does with them: see installers/windows/README.md.

mod checks;
mod tables;
mod wixl;

use super::stage::fresh_dir;
use crate::sys;
use anyhow::{Context, bail, ensure};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The WiX source, relative to the workspace root (wixl runs there: culvert.wxs names
/// `icons/icon.ico` relative to it).
const WXS: &str = "installers/windows/culvert.wxs";
/// The programs every MSI holds, all from `BinDir`.
const PROGRAMS: [&str; 3] = ["culvertd.exe", "culvert.exe", "culvert-app.exe"];
const WINTUN: &str = "wintun.dll";
/// How culvert.wxs names a build without wintun.dll.
const TEST_BUILD_MARK: &str = "(test build, no Wintun)";

/// Builds the MSI into `out` with wixl and returns its path. `bin_dir` holds
/// culvertd.exe, culvert.exe and culvert-app.exe; without `wintun` (wintun.dll, amd64)
/// the MSI is a test build, named so, that must not be released. The files unpacked from
/// the result are compared with these inputs byte for byte.
pub(crate) fn build(
    root: &Path,
    bin_dir: &Path,
    wintun: Option<&Path>,
    version: &str,
    out: &Path,
) -> anyhow::Result<PathBuf> {
    sys::ensure_apt_packages(&["wixl", "msitools"])?;
    msi_version(version)?;
    let wxs = root.join(WXS);
    let mut inputs: Vec<(&str, PathBuf)> = PROGRAMS
        .iter()
        .map(|name| (*name, bin_dir.join(name)))
        .collect();
    if let Some(dll) = wintun {
        inputs.push((WINTUN, dll.to_path_buf()));
    }
    let missing: Vec<String> = [wxs.clone(), root.join("icons/icon.ico")]
        .iter()
        .chain(inputs.iter().map(|(_, path)| path))
        .filter(|path| !path.is_file())
        .map(|path| path.display().to_string())
        .collect();
    if !missing.is_empty() {
        bail!("cannot build the MSI, missing: {}", missing.join(", "));
    }

    let name = match wintun {
        Some(_) => format!("Culvert-{version}-x64.msi"),
        None => format!("Culvert-{version}-x64-test-no-wintun.msi"),
    };
    fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let work = out.join(format!("{name}.work"));
    fresh_dir(&work)?;
    let partial = work.join(&name);

    // wixl 0.101 with GLib >= 2.71 cannot open a File/@Source given as an absolute path
    // (a failed g_path_is_absolute assertion, fixed in later msitools): hand it paths
    // relative to the root, where it runs.
    let mut defines = vec![
        format!("Version={version}"),
        format!("BinDir={}", relative(root, bin_dir)?.display()),
    ];
    if let Some(dll) = wintun {
        defines.push(format!("WintunDll={}", relative(root, dll)?.display()));
    }
    let wixl = |extra: &[&str]| {
        let mut command = Command::new("wixl");
        command.current_dir(root).args(["-a", "x64"]);
        for define in &defines {
            command.arg("-D").arg(define);
        }
        command.args(extra).arg(WXS);
        command
    };
    // The source as WiX's compiler would see it (Wixl undefined), for the rows wixl
    // cannot build; then the MSI itself, without them.
    let (preprocessed, _) = output(&mut wixl(&["-E"]))?;
    let (_, log) = output(&mut wixl(&[
        "-D",
        "Wixl=1",
        "-o",
        &partial.to_string_lossy(),
    ]))?;
    // wixl exits 0 after a GLib CRITICAL, having dropped the row it was adding.
    let alarms: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("CRITICAL") || line.contains("WARNING"))
        .collect();
    if !alarms.is_empty() {
        bail!(
            "wixl reported problems (it still exits 0, but rows may be missing):\n{}",
            alarms.join("\n")
        );
    }
    wixl::add_rows(&preprocessed, &partial, &work)
        .with_context(|| format!("adding what wixl cannot build from {}", wxs.display()))?;
    same_files(&partial, &inputs, &work.join("unpacked"))?;

    let msi = out.join(&name);
    fs::rename(&partial, &msi)
        .with_context(|| format!("cannot move {} to {}", partial.display(), msi.display()))?;
    fs::remove_dir_all(&work).with_context(|| format!("cannot remove {}", work.display()))?;
    Ok(msi)
}

/// The table test: reads `msi`'s tables and checks them against what culvert.wxs
/// means (see the module doc). Returns a short summary; on any mismatch fails with every
/// mismatch found.
pub(crate) fn check(msi: &Path, expect_wintun: bool) -> anyhow::Result<String> {
    static CHECKS: AtomicUsize = AtomicUsize::new(0);
    let scratch = std::env::temp_dir().join(format!(
        "culvert-msi-check-{}-{}",
        std::process::id(),
        CHECKS.fetch_add(1, Ordering::Relaxed)
    ));
    let result = check_in(msi, expect_wintun, &scratch);
    let _ = fs::remove_dir_all(&scratch);
    result
}

/// [`check`], with `scratch` for msiinfo's and msiextract's output.
fn check_in(msi: &Path, expect_wintun: bool, scratch: &Path) -> anyhow::Result<String> {
    let root = sys::workspace_root();
    let wxs = fs::read_to_string(root.join(WXS))
        .with_context(|| format!("cannot read {}", root.join(WXS).display()))?;
    let upgrade_code = wixl::xml_elements(&wxs)?
        .into_iter()
        .find(|e| e.name == "Product")
        .and_then(|e| e.attr("UpgradeCode").map(str::to_owned))
        .with_context(|| format!("{WXS} has no Product/@UpgradeCode"))?;
    let conf = root.join("src-tauri/tauri.conf.json");
    let app_id = serde_json::from_str::<serde_json::Value>(
        &fs::read_to_string(&conf).with_context(|| format!("cannot read {}", conf.display()))?,
    )?["identifier"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("{} has no identifier", conf.display()))?;

    let exports = scratch.join("exports");
    fresh_dir(&exports)?;
    let tables = tables::Tables::open(msi, &exports)?;
    let mut problems = checks::Problems::default();
    let files = checks::files(&tables, &mut problems, expect_wintun)?;
    let key = |name: &str| files.iter().find(|f| f.name == name);
    let (Some(daemon), Some(cli), Some(app)) = (
        key("culvertd.exe"),
        key("culvert.exe"),
        key("culvert-app.exe"),
    ) else {
        bail!("{} lacks programs:\n{problems}", msi.display());
    };
    let icon = root.join("icons/icon.ico");
    let product = checks::product(&tables, &mut problems, &upgrade_code, &icon, expect_wintun)?;
    checks::service(&tables, &mut problems, daemon)?;
    checks::path(&tables, &mut problems, cli)?;
    checks::shortcut(&tables, &mut problems, app, &app_id)?;
    checks::recover(&tables, &mut problems, daemon)?;
    compare_unpacked(&tables, &mut problems, &files, &scratch.join("unpacked"))?;
    if !problems.0.is_empty() {
        bail!(
            "{} does not hold what {WXS} says:\n{problems}",
            msi.display()
        );
    }

    let mut summary = format!(
        "{}: {} {}, {:.2} MB; {} files:",
        msi.display(),
        product.name,
        product.version,
        fs::metadata(msi).map_or(0, |m| m.len()) as f64 / 1_000_000.0,
        files.len()
    );
    for file in &files {
        let _ = write!(
            summary,
            " {} {:.1} kB,",
            file.name,
            file.size as f64 / 1000.0
        );
    }
    summary.pop();
    summary.push_str(
        "; service culvertd (auto, LocalSystem, after Nsi and TcpIp; started at install, \
         stopped and removed at uninstall); culvert.exe's folder on the system PATH; Start \
         menu shortcut; `culvertd recover` at uninstall; upgrades older, refuses newer",
    );
    if !expect_wintun {
        summary.push_str("; TEST BUILD without wintun.dll: not for release");
    }
    Ok(summary)
}

/// An MSI ProductVersion: major.minor.build, at most 255.255.65535 (a fourth field is
/// allowed and ignored by Windows Installer).
fn msi_version(version: &str) -> anyhow::Result<()> {
    let limits = [255, 255, 65535, 65535];
    let fields: Vec<&str> = version.split('.').collect();
    let valid = (3..=4).contains(&fields.len())
        && fields.iter().zip(limits).all(|(field, limit)| {
            !field.is_empty()
                && field.bytes().all(|b| b.is_ascii_digit())
                && field.parse::<u32>().is_ok_and(|n| n <= limit)
        });
    ensure!(
        valid,
        "`{version}` is not an MSI version: it must be major.minor.build with numbers only \
         (at most 255.255.65535); a pre-release suffix cannot be expressed"
    );
    Ok(())
}

/// `path` relative to `base` (both must exist).
fn relative(base: &Path, path: &Path) -> anyhow::Result<PathBuf> {
    let canonical =
        |p: &Path| fs::canonicalize(p).with_context(|| format!("cannot resolve {}", p.display()));
    let (base, path) = (canonical(base)?, canonical(path)?);
    let base: Vec<_> = base.components().collect();
    let path: Vec<_> = path.components().collect();
    let common = base.iter().zip(&path).take_while(|(a, b)| a == b).count();
    let mut relative = PathBuf::new();
    for _ in common..base.len() {
        relative.push("..");
    }
    relative.extend(&path[common..]);
    Ok(relative)
}

/// Runs `command`, echoing it, and returns its stdout and stderr; fails unless it exits 0.
fn output(command: &mut Command) -> anyhow::Result<(String, String)> {
    output_echoed(command, true)
}

/// [`output`], echoing the command only if `echo` (msiinfo is called for every table).
fn output_echoed(command: &mut Command, echo: bool) -> anyhow::Result<(String, String)> {
    let shown = std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|part| part.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    if echo {
        println!("$ {shown}");
    }
    let out = command
        .output()
        .with_context(|| format!("could not start `{shown}`"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        bail!("`{shown}` failed ({}):\n{stderr}{stdout}", out.status);
    }
    Ok((stdout, stderr))
}

/// Unpacks `msi` into `dir` with msiextract; returns the files by name.
fn unpack(msi: &Path, dir: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    fresh_dir(dir)?;
    output(Command::new("msiextract").arg("-C").arg(dir).arg(msi))?;
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in
            fs::read_dir(&next).with_context(|| format!("cannot read {}", next.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push((entry_name(&path), path));
            }
        }
    }
    found.sort();
    Ok(found)
}

fn entry_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The files unpacked from `msi` are exactly `inputs`, byte for byte.
fn same_files(msi: &Path, inputs: &[(&str, PathBuf)], dir: &Path) -> anyhow::Result<()> {
    let unpacked = unpack(msi, dir)?;
    let names: BTreeSet<&str> = unpacked.iter().map(|(name, _)| name.as_str()).collect();
    let wanted: BTreeSet<&str> = inputs.iter().map(|(name, _)| *name).collect();
    ensure!(
        names == wanted,
        "{} unpacks to {names:?}, expected {wanted:?}",
        msi.display()
    );
    for (name, input) in inputs {
        let (_, inside) = unpacked
            .iter()
            .find(|(n, _)| n == name)
            .context("checked above")?;
        let read = |p: &Path| fs::read(p).with_context(|| format!("cannot read {}", p.display()));
        ensure!(
            read(inside)? == read(input)?,
            "{name} in {} differs from {}",
            msi.display(),
            input.display()
        );
    }
    Ok(())
}

/// The embedded cabinet unpacks (into `dir`) to the File table's files, with its sizes
/// and (where MsiFileHash has them) MD5s.
fn compare_unpacked(
    tables: &tables::Tables,
    problems: &mut checks::Problems,
    files: &[checks::FileRow],
    dir: &Path,
) -> anyhow::Result<()> {
    let unpacked = unpack(&tables.msi, dir)?;
    let hashes = if tables.has("MsiFileHash") {
        Some(tables.get(
            "MsiFileHash",
            &["File_", "HashPart1", "HashPart2", "HashPart3", "HashPart4"],
        )?)
    } else {
        None
    };
    let names: BTreeSet<&str> = unpacked.iter().map(|(n, _)| n.as_str()).collect();
    let listed: BTreeSet<&str> = files.iter().map(|f| f.name.as_str()).collect();
    if names != listed {
        let problem = format!("msiextract gives {names:?}, the File table lists {listed:?}");
        problems.0.push(problem);
    }
    for (name, path) in &unpacked {
        let Some(file) = files.iter().find(|f| &f.name == name) else {
            continue;
        };
        let bytes = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        if bytes.len() as u64 != file.size {
            let (unpacked, listed) = (bytes.len(), file.size);
            let problem =
                format!("{name}: {unpacked} bytes unpacked, the File table says {listed}");
            problems.0.push(problem);
        }
        if let Some(row) = hashes.and_then(|h| h.find("File_", &file.key).first().copied()) {
            let listed: Vec<i64> = (1..=4)
                .filter_map(|i| row.int(&format!("HashPart{i}")))
                .collect();
            let actual = md5_parts(path)?;
            if listed != actual {
                let problem =
                    format!("{name}: MD5 {actual:?} unpacked, MsiFileHash says {listed:?}");
                problems.0.push(problem);
            }
        }
    }
    Ok(())
}

/// A file's MD5 as MsiFileHash stores it: four little-endian signed 32-bit parts.
fn md5_parts(path: &Path) -> anyhow::Result<Vec<i64>> {
    let out = Command::new("md5sum")
        .arg(path)
        .output()
        .with_context(|| format!("cannot run md5sum on {}", path.display()))?;
    ensure!(out.status.success(), "md5sum {} failed", path.display());
    let text = String::from_utf8_lossy(&out.stdout);
    let hex = text.split_whitespace().next().unwrap_or("");
    ensure!(hex.len() == 32, "md5sum printed `{text}`");
    let bytes: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16))
        .collect::<Result<_, _>>()
        .with_context(|| format!("md5sum printed `{text}`"))?;
    Ok(bytes
        .chunks(4)
        .map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msi_versions() {
        assert!(msi_version("0.1.0").is_ok());
        assert!(msi_version("255.255.65535.1").is_ok());
        for bad in [
            "0.1",
            "0.1.0-rc.1",
            "256.0.0",
            "1.2.65536",
            "1..0",
            "1.2.3.4.5",
        ] {
            assert!(msi_version(bad).is_err(), "{bad}");
        }
    }

    /// Builds both kinds of MSI from stand-in programs and checks them, and each against
    /// the other's expectation. Needs wixl and msitools (Debian: wixl, msitools).
    #[test]
    fn builds_and_checks_msis() {
        let tools = ["wixl", "msibuild", "msiinfo", "msiextract"];
        if let Some(tool) = tools
            .iter()
            .find(|t| Command::new(t).arg("--version").output().is_err())
        {
            println!("skipped: {tool} is not installed (Debian packages wixl, msitools)");
            return;
        }
        let dir = std::env::temp_dir().join(format!("culvert-msi-test-{}", std::process::id()));
        fresh_dir(&dir).unwrap();
        let bin = dir.join("bin");
        for name in PROGRAMS.iter().chain([&WINTUN]) {
            let bytes = format!("MZ stand-in for {name}\n").repeat(100);
            stage_file(&bin.join(name), bytes.as_bytes());
        }
        let root = sys::workspace_root();
        let out = dir.join("out");

        let test_build = build(&root, &bin, None, "0.1.0", &out).unwrap();
        assert!(entry_name(&test_build).contains("test-no-wintun"));
        let summary = check(&test_build, false).unwrap();
        assert!(summary.contains("TEST BUILD"), "{summary}");
        let error = check(&test_build, true).unwrap_err().to_string();
        assert!(error.contains("wintun.dll"), "{error}");

        let release = build(&root, &bin, Some(&bin.join(WINTUN)), "1.2.3", &out).unwrap();
        let summary = check(&release, true).unwrap();
        assert!(
            summary.contains("4 files") && !summary.contains("TEST"),
            "{summary}"
        );
        let error = check(&release, false).unwrap_err().to_string();
        assert!(error.contains("wintun.dll is in a build"), "{error}");

        let missing = build(&root, &dir, None, "0.1.0", &out)
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("culvertd.exe") && missing.contains("culvert-app.exe"),
            "{missing}"
        );
        assert!(build(&root, &bin, None, "0.1.0-rc.1", &out).is_err());
        fs::remove_dir_all(&dir).unwrap();
    }

    fn stage_file(path: &Path, bytes: &[u8]) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    }

    #[test]
    fn relative_paths() {
        let root = sys::workspace_root();
        assert_eq!(
            relative(&root, &root.join("xtask/src")).unwrap(),
            Path::new("xtask/src")
        );
        let up = relative(&root.join("xtask/src"), &root.join("installers")).unwrap();
        assert_eq!(up, Path::new("../../installers"));
    }
}
