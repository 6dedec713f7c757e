//! `culvert`: the command-line client of culvertd. Everything is in the library
//! (`culvert_cli::run`); this wires the real terminal and connection and turns the
//! outcome into an exit code.

use std::io::{self, Write as _};
use std::process::ExitCode;

use clap::Parser as _;
use culvert_cli::{Cli, IpcConnector, Terminal, exit_code, is_broken_pipe, run};

fn main() -> ExitCode {
    // Usage errors exit with 2, --help and --version with 0.
    let cli = Cli::parse();
    let mut out = io::stdout().lock();
    let result = run(
        cli,
        &mut out,
        &mut IpcConnector::default(),
        &mut Terminal::new(),
    );
    let flushed = out.flush();
    match result.and_then(|()| Ok(flushed?)) {
        Ok(()) => ExitCode::SUCCESS,
        // `culvert log -f | head`: the reader is gone, which is not an error.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit_code(&e))
        }
    }
}
