//! `cargo xtask <command>`: the project's own automation.
//!
//! Each command is one small module with a `main(args)`; adding one (bench, dist, fuzz)
//! means adding a module and a row to [`COMMANDS`].

mod bench;
mod cross;
mod dist;
mod fuzz;
mod gui;
mod run;
mod soak;
mod sys;
mod test;

use std::process::ExitCode;

struct Command {
    name: &'static str,
    about: &'static str,
    main: fn(&[String]) -> anyhow::Result<()>,
}

const COMMANDS: &[Command] = &[
    Command {
        name: "run",
        about: "install, build, start culvertd (and the app), and offer a local demo tunnel",
        main: run::main,
    },
    Command {
        name: "test",
        about: "install what the tests need, then fmt, clippy, every Rust test and the front end's",
        main: test::main,
    },
    Command {
        name: "cross",
        about: "Windows and macOS: clippy for both, Windows tests under wine, .exe files and the MSI",
        main: cross::main,
    },
    Command {
        name: "bench",
        about: "throughput, latency and memory of Culvert, wireguard-go and boringtun tunnels",
        main: bench::main,
    },
    Command {
        name: "dist",
        about: "the installers: .deb and AppImage in target/dist (`dist --help`: icons, test)",
        main: dist::main,
    },
    Command {
        name: "fuzz",
        about: "run the fuzz targets on stable Rust: [--seconds N] [TARGET...] (default 300 s each)",
        main: fuzz::main,
    },
    Command {
        name: "soak",
        about: "the reliability self-tests at a larger scale: [--scale N] (default 10)",
        main: soak::main,
    },
    Command {
        name: "e2e",
        about: "the desktop app end to end in its real webview against culvertd (root; part of test)",
        main: gui::main,
    },
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(name) = args.first() else {
        eprintln!("cargo xtask: which command?\n\n{}", usage());
        return ExitCode::from(2);
    };
    if matches!(name.as_str(), "help" | "-h" | "--help") {
        println!("{}", usage());
        return ExitCode::SUCCESS;
    }
    let Some(command) = COMMANDS.iter().find(|c| c.name == name) else {
        eprintln!("cargo xtask: unknown command `{name}`\n\n{}", usage());
        return ExitCode::from(2);
    };
    match (command.main)(&args[1..]) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("cargo xtask {}: {error:#}", command.name);
            ExitCode::FAILURE
        }
    }
}

fn usage() -> String {
    let mut text = String::from("usage: cargo xtask <command>\n\ncommands:\n");
    for command in COMMANDS {
        text.push_str(&format!("  {:<8} {}\n", command.name, command.about));
    }
    text
}
