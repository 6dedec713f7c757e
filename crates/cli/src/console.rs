//! Everything a command needs from the person at the terminal besides standard
//! output: whether anyone is there to ask, asking, what is piped into standard input
//! (`culvert pubkey`), messages on standard error, the clock (for "1 minute ago") and
//! the editor. The real one is [`Terminal`]; tests
//! substitute a scripted one.

use std::io::{self, BufRead as _, IsTerminal as _, Read as _, Write};
use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

use anyhow::{Context as _, bail};
use zeroize::Zeroizing;

pub trait Console {
    /// Whether standard input is a terminal, so a question can be answered.
    fn stdin_is_terminal(&self) -> bool;

    /// Shows `prompt` on standard error and reads one line from standard input
    /// (without its line ending); `None` at end of input.
    fn ask(&mut self, prompt: &str) -> io::Result<Option<String>>;

    /// All of standard input, but at most `limit + 1` bytes (more than `limit` means
    /// too much). Zeroed when dropped: it may be a private key.
    fn read_input(&mut self, limit: usize) -> io::Result<Zeroizing<Vec<u8>>>;

    /// Standard error: warnings, diagnostics, questions.
    fn err(&mut self) -> &mut dyn Write;

    fn now(&self) -> SystemTime;

    /// Opens `path` in the user's editor and waits until it is closed.
    fn edit(&mut self, path: &Path) -> anyhow::Result<()>;
}

/// The real terminal: standard input and error, the system clock, `$VISUAL`.
#[derive(Debug)]
pub struct Terminal {
    stderr: io::Stderr,
}

impl Terminal {
    pub fn new() -> Self {
        Terminal {
            stderr: io::stderr(),
        }
    }
}

impl Default for Terminal {
    fn default() -> Self {
        Self::new()
    }
}

impl Console for Terminal {
    fn stdin_is_terminal(&self) -> bool {
        io::stdin().is_terminal()
    }

    fn ask(&mut self, prompt: &str) -> io::Result<Option<String>> {
        write!(self.stderr, "{prompt}")?;
        self.stderr.flush()?;
        let mut line = String::new();
        if io::stdin().lock().read_line(&mut line)? == 0 {
            // End of input: leave the cursor on a fresh line.
            writeln!(self.stderr)?;
            return Ok(None);
        }
        Ok(Some(line.trim_end_matches(['\n', '\r']).to_owned()))
    }

    fn read_input(&mut self, limit: usize) -> io::Result<Zeroizing<Vec<u8>>> {
        let limit = limit.saturating_add(1);
        // Room for all of it up front, so no copy of a key is left behind by a
        // reallocation.
        let mut bytes = Zeroizing::new(Vec::with_capacity(limit));
        io::stdin()
            .lock()
            .take(limit as u64)
            .read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    fn err(&mut self) -> &mut dyn Write {
        &mut self.stderr
    }

    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn edit(&mut self, path: &Path) -> anyhow::Result<()> {
        launch_editor(&editor_command(), path)
    }
}

/// The editor to run, as git chooses it: `$VISUAL`, then `$EDITOR`, then `vi`
/// (`notepad` on Windows).
pub fn editor_command() -> String {
    ["VISUAL", "EDITOR"]
        .iter()
        .filter_map(|var| std::env::var(var).ok())
        .find(|value| !value.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_EDITOR.to_owned())
}

#[cfg(not(windows))]
const DEFAULT_EDITOR: &str = "vi";
#[cfg(windows)]
const DEFAULT_EDITOR: &str = "notepad";

/// Runs `command` (which may carry arguments, as in `code --wait`) on `path` and
/// waits for it. An editor that cannot be started or fails is an error.
pub fn launch_editor(command: &str, path: &Path) -> anyhow::Result<()> {
    let status = editor_process(command, path).status().with_context(|| {
        format!("could not start the editor `{command}`; set $VISUAL or $EDITOR")
    })?;
    if !status.success() {
        bail!("the editor `{command}` failed ({status})");
    }
    Ok(())
}

/// Through the shell, as git does, so `$EDITOR` may hold arguments and quotes.
#[cfg(not(windows))]
fn editor_process(command: &str, path: &Path) -> Command {
    let mut process = Command::new("sh");
    process
        .arg("-c")
        .arg(format!("{command} \"$1\""))
        .arg(command)
        .arg(path);
    process
}

/// No shell to lean on: the command is split on white space.
#[cfg(windows)]
fn editor_process(command: &str, path: &Path) -> Command {
    let mut words = command.split_whitespace();
    let mut process = Command::new(words.next().unwrap_or(DEFAULT_EDITOR));
    process.args(words).arg(path);
    process
}

/// Asks a yes/no question; an empty answer is `default`, end of input is no.
pub fn confirm(console: &mut dyn Console, question: &str, default: bool) -> anyhow::Result<bool> {
    let hint = if default { "[Y/n]" } else { "[y/N]" };
    loop {
        let Some(answer) = console
            .ask(&format!("{question} {hint} "))
            .context("could not read the answer")?
        else {
            return Ok(false);
        };
        match answer.trim().to_ascii_lowercase().as_str() {
            "" => return Ok(default),
            "y" | "yes" => return Ok(true),
            "n" | "no" => return Ok(false),
            _ => writeln!(console.err(), "Please answer y or n.")?,
        }
    }
}
