//! PreUp / PostUp / PreDown / PostDown. They run as root, so they run only when the
//! administrator says so in the service's own config file (`allow_scripts = true` in
//! `culvertd.toml`); otherwise a tunnel still works and the log says they were skipped.

use std::path::Path;

/// A hook that runs longer than this is stopped: the service must not hang on one.
const HOOK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    PreUp,
    PostUp,
    PreDown,
    PostDown,
}

/// The service's own settings, from `culvertd.toml`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settings {
    pub allow_scripts: bool,
}

impl Settings {
    /// Reads `path`; a missing file means the defaults. Only `key = value` lines are
    /// understood; anything else is reported and ignored, never fatal.
    pub fn load(path: &Path) -> Self {
        let Ok(text) = std::fs::read_to_string(path) else {
            return Self::default();
        };
        let mut settings = Self::default();
        for (number, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            match line.split_once('=').map(|(k, v)| (k.trim(), v.trim())) {
                Some(("allow_scripts", "true")) => settings.allow_scripts = true,
                Some(("allow_scripts", "false")) => settings.allow_scripts = false,
                _ => {
                    tracing::warn!(path = %path.display(), line = number + 1, "not understood: {line}")
                }
            }
        }
        settings
    }
}

/// Runs `commands` for `hook` with `%i` replaced by the interface name, in order, each
/// with the OS's shell ([`crate::os::shell`]); stops at the first failure.
pub(crate) fn run(
    hook: Hook,
    commands: &[String],
    interface: &str,
    settings: Settings,
) -> Result<(), String> {
    run_with_timeout(hook, commands, interface, settings, HOOK_TIMEOUT)
}

fn run_with_timeout(
    hook: Hook,
    commands: &[String],
    interface: &str,
    settings: Settings,
    timeout: std::time::Duration,
) -> Result<(), String> {
    if commands.is_empty() {
        return Ok(());
    }
    if !settings.allow_scripts {
        tracing::warn!(
            tunnel = interface,
            ?hook,
            "skipped: scripts are disabled (allow_scripts = true in culvertd.toml enables them)"
        );
        return Ok(());
    }
    for (number, command) in commands.iter().enumerate() {
        let command = command.replace("%i", interface);
        // Commands may carry secrets: their text stays out of logs and replies.
        let what = format!("{hook:?} command {}", number + 1);
        tracing::info!(tunnel = interface, "running {what}");
        tracing::debug!(tunnel = interface, %command, "{what}");
        let mut child = crate::os::shell(&command)
            .spawn()
            .map_err(|e| format!("{what}: {e}"))?;
        let deadline = std::time::Instant::now() + timeout;
        let status = loop {
            match child.try_wait().map_err(|e| format!("{what}: {e}"))? {
                Some(status) => break status,
                None if std::time::Instant::now() > deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "{what} did not finish within {timeout:?} and was stopped"
                    ));
                }
                None => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        };
        if !status.success() {
            return Err(format!("{what} failed ({status})"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_run_only_when_allowed_with_the_interface_name() {
        let dir = std::env::temp_dir().join(format!("culvertd-scripts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let marker = dir.join("ran");
        let commands = vec![format!("echo %i > {}", marker.display())];
        run(Hook::PostUp, &commands, "wg7", Settings::default()).unwrap();
        assert!(!marker.exists(), "disabled by default");
        run(
            Hook::PostUp,
            &commands,
            "wg7",
            Settings {
                allow_scripts: true,
            },
        )
        .unwrap();
        // cmd's echo keeps the space before `>` and ends the line with CRLF.
        assert_eq!(std::fs::read_to_string(&marker).unwrap().trim_end(), "wg7");
        assert!(
            run(
                Hook::PreUp,
                &["exit 3".into()],
                "wg7",
                Settings {
                    allow_scripts: true
                }
            )
            .is_err()
        );

        let slow = vec![format!("{} secret-token", crate::os::ENDLESS_COMMAND)];
        let error = run_with_timeout(
            Hook::PreUp,
            &slow,
            "wg7",
            Settings {
                allow_scripts: true,
            },
            std::time::Duration::from_millis(200),
        )
        .unwrap_err();
        assert!(error.contains("did not finish"), "{error}");
        assert!(
            !error.contains("secret-token"),
            "command text stays out of errors: {error}"
        );

        let toml = dir.join("culvertd.toml");
        assert_eq!(Settings::load(&toml), Settings::default());
        std::fs::write(&toml, "# admin\nallow_scripts = true\nbogus\n").unwrap();
        assert!(Settings::load(&toml).allow_scripts);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
