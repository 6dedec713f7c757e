//! Running a system program with input on its stdin (resolvconf, nft, scutil, pfctl):
//! the one place that spawns, feeds, waits and reads its output.

use std::ffi::OsStr;
use std::io::{Read, Write as _};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

/// How long a system program may take before it is stopped: a hung nft or resolvconf
/// must not hold up the service (and every client waiting on it) for ever.
const DEADLINE: Duration = Duration::from_secs(20);

/// Runs `program` with `input` (if any) on its stdin; its (stdout, stderr) on success.
pub(crate) fn run_with_input(
    program: impl AsRef<OsStr>,
    args: &[&str],
    input: Option<&str>,
) -> Result<(String, String), Failure> {
    run_with_deadline(program, args, input, DEADLINE)
}

fn run_with_deadline(
    program: impl AsRef<OsStr>,
    args: &[&str],
    input: Option<&str>,
    deadline: Duration,
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
    // Drained on threads of their own, so a program that prints a lot never blocks.
    let stdout = drain(child.stdout.take().expect("stdout is piped"));
    let stderr = drain(child.stderr.take().expect("stderr is piped"));
    let stop_at = Instant::now() + deadline;
    let status = loop {
        match child.try_wait().map_err(Failure::CannotRun)? {
            Some(status) => break status,
            None if Instant::now() >= stop_at => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Failure::Failed(format!(
                    "did not finish within {deadline:?} and was stopped"
                )));
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    if !status.success() {
        return Err(Failure::Failed(stderr.trim().to_owned()));
    }
    Ok((stdout, stderr))
}

fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
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
    fn a_program_that_hangs_is_stopped_at_its_deadline() {
        let started = Instant::now();
        let failure =
            run_with_deadline("sleep", &["30"], None, Duration::from_millis(200)).unwrap_err();
        assert!(
            matches!(&failure, Failure::Failed(m) if m.contains("did not finish")),
            "{failure:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "it was stopped"
        );
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
