//! Exit codes, and the two error types that choose them.
//!
//! 0 success; 1 the service refused or something local failed (a file, the editor);
//! 2 a usage error (clap's own code, also used when a question cannot be asked);
//! 3 culvertd could not be reached (not running, not allowed, another version,
//! connection lost).

use std::fmt;
use std::io;

use culvert_ipc::ClientError;

pub const EXIT_FAILURE: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_UNREACHABLE: u8 = 3;

/// culvertd could not be reached or went away: exit code 3. The client's message
/// already says what to do (start the service, join the group, update).
#[derive(Debug)]
pub struct Unreachable(pub ClientError);

impl fmt::Display for Unreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Unreachable {}

/// A use of the command line that clap cannot catch, such as `delete` without
/// `--yes` when nobody can be asked: exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// The exit code for `error`.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    for cause in error.chain() {
        if cause.is::<Unreachable>() {
            return EXIT_UNREACHABLE;
        }
        if cause.is::<UsageError>() {
            return EXIT_USAGE;
        }
    }
    EXIT_FAILURE
}

/// Whether `error` is standard output closed early (`culvert log | head`), which
/// ends the program quietly.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        let kind = match cause.downcast_ref::<serde_json::Error>() {
            // `--json` output: serde_json keeps the io::Error inside, not as a source.
            Some(e) => e.io_error_kind(),
            None => cause.downcast_ref::<io::Error>().map(io::Error::kind),
        };
        kind == Some(io::ErrorKind::BrokenPipe)
    })
}

/// A failed request: a lost connection is [`Unreachable`], the rest (the
/// service's refusals above all) exit with 1.
pub(crate) fn request_failed(error: ClientError) -> anyhow::Error {
    match error {
        ClientError::Disconnected { .. } => Unreachable(error).into(),
        other => other.into(),
    }
}
