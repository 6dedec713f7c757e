//! Running a system program with input on its stdin (resolvconf, nft, scutil, pfctl):
//! the one place that spawns, feeds, waits and reads its output.

use std::ffi::OsStr;
use std::io::Write as _;
use std::process::{Command, Stdio};

/// Why a program did not do its job.
#[derive(Debug)]
pub(crate) enum Failure {
    /// It could not be started or fed (not installed, say).
    CannotRun(std::io::Error),
    /// It ran and failed; what it printed on stderr.
    Failed(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::CannotRun(error) => error.fmt(f),
            Self::Failed(stderr) => f.write_str(stderr),
        }
    }
}

/// Runs `program` with `input` (if any) on its stdin; its (stdout, stderr) on success.
pub(crate) fn run_with_input(
    program: impl AsRef<OsStr>,
    args: &[&str],
    input: Option<&str>,
) -> Result<(String, String), Failure> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(Failure::CannotRun)?;
    // Dropping stdin closes it, so a program reading to the end can finish.
    let mut stdin = child.stdin.take().expect("stdin is piped");
    if let Some(input) = input {
        stdin
            .write_all(input.as_bytes())
            .map_err(Failure::CannotRun)?;
    }
    drop(stdin);
    let output = child.wait_with_output().map_err(Failure::CannotRun)?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if !output.status.success() {
        return Err(Failure::Failed(stderr.trim().to_owned()));
    }
    Ok((stdout, stderr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feeds_stdin_and_returns_both_outputs() {
        let (stdout, stderr) =
            run_with_input("sh", &["-c", "cat; echo warn >&2"], Some("fed\n")).unwrap();
        assert_eq!(stdout, "fed\n");
        assert_eq!(stderr, "warn\n");
    }

    #[test]
    fn a_failing_program_reports_its_stderr() {
        let failure =
            run_with_input("sh", &["-c", "echo ' broken ' >&2; exit 3"], None).unwrap_err();
        assert!(
            matches!(&failure, Failure::Failed(m) if m == "broken"),
            "{failure:?}"
        );
    }

    #[test]
    fn a_missing_program_cannot_run() {
        let failure = run_with_input("/nonexistent/culvert-test", &[], None).unwrap_err();
        assert!(matches!(failure, Failure::CannotRun(_)), "{failure:?}");
    }
}
