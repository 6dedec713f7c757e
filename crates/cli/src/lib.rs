//! culvert-cli: the `culvert` command. It talks to culvertd only through
//! culvert-ipc and validates configs with the pure culvert-config (DESIGN.md rule 3:
//! it never links the engine or netconf).
//!
//! [`run`] is the whole program behind a seam: the parsed command line, standard
//! output, a [`Connector`] (culvert-ipc's client, or a fake in tests) and a
//! [`Console`] (the terminal, or a script in tests). `main.rs` only wires the real
//! ones and turns errors into exit codes ([`exit_code`]).
//!
//! - `cli.rs`: the clap definitions.
//! - `service.rs`: the [`Service`] / [`Connector`] seam.
//! - `console.rs`: the [`Console`] seam: questions, standard error, clock, editor.
//! - `commands.rs`: the commands that are one request each (list, up, export, ...).
//! - `import.rs`, `edit.rs`, `follow.rs` (log, watch): the longer ones.
//! - `keys.rs`: genkey, pubkey, genpsk, which never connect.
//! - `format.rs`: pure formatting (reading imports and writing private files is
//!   culvert-ipc's, shared with the GUI).

pub mod cli;
mod commands;
pub mod console;
mod edit;
mod error;
mod follow;
pub mod format;
mod import;
mod keys;
pub mod service;

use std::io::Write;
use std::path::Path;

pub use cli::{Cli, Command};
pub use console::{Console, Terminal};
pub use culvert_ipc::write_private;
pub use error::{
    EXIT_FAILURE, EXIT_UNREACHABLE, EXIT_USAGE, Unreachable, UsageError, exit_code, is_broken_pipe,
};
pub use service::{Connector, IpcConnector, Service};

/// Runs one command. Output goes to `out`; questions, warnings and diagnostics to
/// `console`. The error, printed as `error: {error:#}`, is one clear message, and
/// [`exit_code`] gives its exit code.
pub fn run(
    cli: Cli,
    out: &mut dyn Write,
    connector: &mut dyn Connector,
    console: &mut dyn Console,
) -> anyhow::Result<()> {
    let mut ctx = commands::Ctx {
        out,
        console,
        connector,
        socket: &cli.socket,
    };
    dispatch(cli.command, &mut ctx)
}

fn dispatch(command: Command, ctx: &mut commands::Ctx<'_>) -> anyhow::Result<()> {
    match command {
        Command::List(json) => commands::list(ctx, json.json),
        Command::Show { name, json } => commands::show(ctx, name.as_ref(), json.json),
        Command::Status(json) => commands::status(ctx, json.json),
        Command::Up { name } => commands::up(ctx, &name),
        Command::Down { name } => commands::down(ctx, &name),
        Command::Mode { name, mode } => commands::mode(ctx, &name, mode.into()),
        Command::KillSwitch { name, state } => commands::kill_switch(ctx, &name, state.enabled()),
        Command::Import {
            files,
            replace,
            rename,
        } => import::import(ctx, &files, cli::on_conflict(replace, rename)),
        Command::Create { name } => commands::create(ctx, &name),
        Command::Edit { name } => edit::edit(ctx, &name),
        Command::Rename { from, to } => commands::rename(ctx, &from, &to),
        Command::Delete { name, yes } => commands::delete(ctx, &name, yes),
        Command::Export {
            name,
            qr: true,
            yes,
            ..
        } => commands::qr(ctx, &name, yes),
        Command::Export {
            name,
            private_key,
            output,
            qr: false,
            yes: _,
            json,
        } => commands::export(ctx, &name, private_key, output.as_deref(), json.json),
        Command::ExportAll {
            output,
            private_keys,
        } => commands::export_all(ctx, &output, private_keys),
        Command::Qr { name, yes } => commands::qr(ctx, &name, yes),
        Command::Log {
            lines,
            follow,
            json,
        } => follow::log(ctx, lines, follow, json.json),
        Command::Watch { name, json } => follow::watch(ctx, name.as_ref(), json.json),
        Command::Genkey => keys::genkey(ctx),
        Command::Pubkey => keys::pubkey(ctx),
        Command::Genpsk => keys::genpsk(ctx),
    }
}

/// The socket path as shown in messages.
fn display_address(path: &Path) -> String {
    path.display().to_string()
}
