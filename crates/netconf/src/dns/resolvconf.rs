//! `resolvconf`: the tunnel's servers as a record of their own (`-a`, the lines on
//! stdin), deleted with `-d`. openresolv also gets metric 0, and in full mode `-x`
//! (exclusive: only this record's servers are used).

use super::{Dns, render};
use crate::Error;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// The record's name. The `tun.` prefix puts it first in Debian's interface-order
/// (`tun*` comes before the physical interfaces), so its servers are asked first, as
/// wg-quick does.
pub(crate) fn record_name(interface: &str) -> String {
    format!("tun.{interface}.culvert")
}

/// Adds the record, or replaces it (a mode switch).
pub(crate) fn add(
    program: &Path,
    openresolv: bool,
    interface: &str,
    dns: &Dns,
    full: bool,
) -> Result<(), Error> {
    let record = record_name(interface);
    let mut args = vec!["-a", record.as_str()];
    if openresolv {
        args.extend(["-m", "0"]);
        if full {
            args.push("-x");
        }
    }
    run(program, &args, Some(&render(interface, dns)))
}

/// Idempotent: deleting a record that is gone succeeds (openresolv needs `-f` for it).
pub(crate) fn delete(program: &Path, record: &str, openresolv: bool) -> Result<(), Error> {
    let mut args = Vec::new();
    if openresolv {
        args.push("-f");
    }
    args.extend(["-d", record]);
    run(program, &args, None)
}

fn run(program: &Path, args: &[&str], input: Option<&str>) -> Result<(), Error> {
    let failed = |message: String| {
        Error::Resolver(format!(
            "{} {}: {message}",
            program.display(),
            args.join(" ")
        ))
    };
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(e.to_string()))?;
    let mut stdin = child.stdin.take().expect("piped");
    if let Some(input) = input {
        stdin
            .write_all(input.as_bytes())
            .map_err(|e| failed(e.to_string()))?;
    }
    drop(stdin);
    let output = child
        .wait_with_output()
        .map_err(|e| failed(e.to_string()))?;
    if !output.status.success() {
        return Err(failed(
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        ));
    }
    Ok(())
}
