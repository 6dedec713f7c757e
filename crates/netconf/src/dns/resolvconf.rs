//! `resolvconf`: the tunnel's servers as a record of their own (`-a`, the lines on
//! stdin), deleted with `-d`. openresolv also gets metric 0, and in full mode `-x`
//! (exclusive: only this record's servers are used).

use super::{Dns, render};
use crate::Error;
use std::path::Path;

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
    crate::process::run_with_input(program, args, input)
        .map(drop)
        .map_err(|failure| {
            Error::Resolver(format!(
                "{} {}: {failure}",
                program.display(),
                args.join(" ")
            ))
        })
}
