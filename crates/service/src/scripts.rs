//! PreUp / PostUp / PreDown / PostDown. They run as root, so they run only when the
//! administrator says so in the service's own config file (`allow_scripts = true` in
//! `culvertd.toml`); otherwise a tunnel still works and the log says they were skipped.

use std::path::Path;
use std::process::Command;

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
/// with `sh -c` as wg-quick does; stops at the first failure.
pub(crate) fn run(
    hook: Hook,
    commands: &[String],
    interface: &str,
    settings: Settings,
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
    for command in commands {
        let command = command.replace("%i", interface);
        tracing::info!(tunnel = interface, ?hook, %command, "running");
        let status = Command::new("sh")
            .arg("-c")
            .arg(&command)
            .status()
            .map_err(|e| format!("{hook:?} `{command}`: {e}"))?;
        if !status.success() {
            return Err(format!("{hook:?} `{command}` failed ({status})"));
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
        assert_eq!(std::fs::read_to_string(&marker).unwrap(), "wg7\n");
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

        let toml = dir.join("culvertd.toml");
        assert_eq!(Settings::load(&toml), Settings::default());
        std::fs::write(&toml, "# admin\nallow_scripts = true\nbogus\n").unwrap();
        assert!(Settings::load(&toml).allow_scripts);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
