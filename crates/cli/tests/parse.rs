//! The command line: every command parses to what it should, bad input is a usage
//! error (exit code 2), help and version exit 0.

use std::path::PathBuf;

use clap::Parser as _;
use clap::error::ErrorKind;
use culvert_cli::cli::{Json, Mode, Switch};
use culvert_cli::{Cli, Command};
use culvert_ipc::{DEFAULT_ADDRESS, TunnelName};

fn parse(args: &[&str]) -> Cli {
    Cli::try_parse_from(std::iter::once("culvert").chain(args.iter().copied()))
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn command(args: &[&str]) -> Command {
    parse(args).command
}

fn usage_error(args: &[&str]) -> clap::Error {
    match Cli::try_parse_from(std::iter::once("culvert").chain(args.iter().copied())) {
        Ok(cli) => panic!("{args:?} parsed as {cli:?}"),
        Err(e) => {
            assert_eq!(e.exit_code(), 2, "{args:?}: {e}");
            e
        }
    }
}

fn name(s: &str) -> TunnelName {
    TunnelName::new(s).unwrap()
}

const NO_JSON: Json = Json { json: false };
const JSON: Json = Json { json: true };

#[test]
fn the_socket_defaults_to_the_ipc_crates_address_and_can_go_anywhere() {
    assert_eq!(parse(&["list"]).socket, PathBuf::from(DEFAULT_ADDRESS));
    assert_eq!(
        parse(&["--socket", "/tmp/a.sock", "list"]).socket,
        PathBuf::from("/tmp/a.sock")
    );
    assert_eq!(
        parse(&["list", "--socket", "/tmp/b.sock"]).socket,
        PathBuf::from("/tmp/b.sock")
    );
    assert_eq!(
        parse(&["up", "wg0", "--socket=/tmp/c"]).socket,
        PathBuf::from("/tmp/c")
    );
}

#[test]
fn list_show_status() {
    assert_eq!(command(&["list"]), Command::List(NO_JSON));
    assert_eq!(command(&["list", "--json"]), Command::List(JSON));
    assert_eq!(
        command(&["show", "wg0"]),
        Command::Show {
            name: Some(name("wg0")),
            json: NO_JSON
        }
    );
    assert_eq!(
        command(&["show", "--json", "wg0"]),
        Command::Show {
            name: Some(name("wg0")),
            json: JSON
        }
    );
    assert_eq!(
        command(&["show"]),
        Command::Show {
            name: None,
            json: NO_JSON
        }
    );
    assert_eq!(
        command(&["show", "--json"]),
        Command::Show {
            name: None,
            json: JSON
        }
    );
    assert_eq!(command(&["status"]), Command::Status(NO_JSON));
    assert_eq!(command(&["status", "--json"]), Command::Status(JSON));
}

#[test]
fn up_down_mode_killswitch() {
    assert_eq!(command(&["up", "wg0"]), Command::Up { name: name("wg0") });
    assert_eq!(
        command(&["down", "a.b-c_d=e+f"]),
        Command::Down {
            name: name("a.b-c_d=e+f")
        }
    );
    for (word, mode) in [
        ("split", Mode::Split),
        ("full", Mode::Full),
        ("exclude-private", Mode::ExcludePrivate),
    ] {
        assert_eq!(
            command(&["mode", "wg0", word]),
            Command::Mode {
                name: name("wg0"),
                mode
            }
        );
    }
    assert_eq!(
        command(&["killswitch", "wg0", "on"]),
        Command::KillSwitch {
            name: name("wg0"),
            state: Switch::On
        }
    );
    assert_eq!(
        command(&["killswitch", "wg0", "off"]),
        Command::KillSwitch {
            name: name("wg0"),
            state: Switch::Off
        }
    );
}

#[test]
fn import_create_edit_rename_delete() {
    assert_eq!(
        command(&["import", "a.conf", "b.zip"]),
        Command::Import {
            files: vec!["a.conf".into(), "b.zip".into()],
            replace: false,
            rename: false,
        }
    );
    assert_eq!(
        command(&["import", "--replace", "a.conf"]),
        Command::Import {
            files: vec!["a.conf".into()],
            replace: true,
            rename: false
        }
    );
    assert_eq!(
        command(&["import", "a.conf", "--rename"]),
        Command::Import {
            files: vec!["a.conf".into()],
            replace: false,
            rename: true
        }
    );
    assert_eq!(
        command(&["create", "new"]),
        Command::Create { name: name("new") }
    );
    assert_eq!(
        command(&["edit", "wg0"]),
        Command::Edit { name: name("wg0") }
    );
    assert_eq!(
        command(&["rename", "a", "b"]),
        Command::Rename {
            from: name("a"),
            to: name("b")
        }
    );
    assert_eq!(
        command(&["delete", "wg0"]),
        Command::Delete {
            name: name("wg0"),
            yes: false
        }
    );
    assert_eq!(
        command(&["delete", "-y", "wg0"]),
        Command::Delete {
            name: name("wg0"),
            yes: true
        }
    );
    assert_eq!(
        command(&["delete", "wg0", "--yes"]),
        Command::Delete {
            name: name("wg0"),
            yes: true
        }
    );
}

#[test]
fn export_export_all_qr() {
    assert_eq!(
        command(&["export", "wg0"]),
        Command::Export {
            name: name("wg0"),
            private_key: false,
            output: None,
            qr: false,
            yes: false,
            json: NO_JSON,
        }
    );
    assert_eq!(
        command(&["export", "wg0", "--private-key", "-o", "wg0.conf"]),
        Command::Export {
            name: name("wg0"),
            private_key: true,
            output: Some("wg0.conf".into()),
            qr: false,
            yes: false,
            json: NO_JSON,
        }
    );
    assert_eq!(
        command(&["export", "wg0", "--output", "x"]),
        Command::Export {
            name: name("wg0"),
            private_key: false,
            output: Some("x".into()),
            qr: false,
            yes: false,
            json: NO_JSON,
        }
    );
    assert_eq!(
        command(&["export", "wg0", "--json"]),
        Command::Export {
            name: name("wg0"),
            private_key: false,
            output: None,
            qr: false,
            yes: false,
            json: JSON,
        }
    );
    assert_eq!(
        command(&["export", "wg0", "--qr"]),
        Command::Export {
            name: name("wg0"),
            private_key: false,
            output: None,
            qr: true,
            yes: false,
            json: NO_JSON,
        }
    );
    assert_eq!(
        command(&["export", "-y", "--qr", "wg0"]),
        Command::Export {
            name: name("wg0"),
            private_key: false,
            output: None,
            qr: true,
            yes: true,
            json: NO_JSON,
        }
    );
    assert_eq!(
        command(&["export-all", "-o", "all.zip"]),
        Command::ExportAll {
            output: "all.zip".into(),
            private_keys: false
        }
    );
    assert_eq!(
        command(&["export-all", "--private-keys", "--output", "all.zip"]),
        Command::ExportAll {
            output: "all.zip".into(),
            private_keys: true
        }
    );
    assert_eq!(
        command(&["qr", "wg0"]),
        Command::Qr {
            name: name("wg0"),
            yes: false
        }
    );
    assert_eq!(
        command(&["qr", "wg0", "--yes"]),
        Command::Qr {
            name: name("wg0"),
            yes: true
        }
    );
}

#[test]
fn log_and_watch() {
    assert_eq!(
        command(&["log"]),
        Command::Log {
            lines: 20,
            follow: false,
            json: NO_JSON
        }
    );
    assert_eq!(
        command(&["log", "-n", "5", "-f", "--json"]),
        Command::Log {
            lines: 5,
            follow: true,
            json: JSON
        }
    );
    assert_eq!(
        command(&["log", "--lines", "100", "--follow"]),
        Command::Log {
            lines: 100,
            follow: true,
            json: NO_JSON
        }
    );
    assert_eq!(
        command(&["watch"]),
        Command::Watch {
            name: None,
            json: NO_JSON
        }
    );
    assert_eq!(
        command(&["watch", "wg0", "--json"]),
        Command::Watch {
            name: Some(name("wg0")),
            json: JSON
        }
    );
}

#[test]
fn genkey_pubkey_genpsk() {
    assert_eq!(command(&["genkey"]), Command::Genkey);
    assert_eq!(command(&["pubkey"]), Command::Pubkey);
    assert_eq!(command(&["genpsk"]), Command::Genpsk);
    for args in [
        &["genkey", "x"][..],
        &["pubkey", "key"],
        &["genpsk", "--json"],
    ] {
        assert_eq!(
            usage_error(args).kind(),
            ErrorKind::UnknownArgument,
            "{args:?}"
        );
    }
}

#[test]
fn export_flags_that_do_not_go_together_are_usage_errors() {
    for args in [
        &["export", "wg0", "--qr", "-o", "x.conf"][..],
        &["export", "wg0", "--qr", "--json"],
        &["export", "wg0", "--json", "-o", "x.conf"],
    ] {
        assert_eq!(
            usage_error(args).kind(),
            ErrorKind::ArgumentConflict,
            "{args:?}"
        );
    }
    let e = usage_error(&["export", "wg0", "--yes"]);
    assert_eq!(e.kind(), ErrorKind::MissingRequiredArgument);
    assert!(e.to_string().contains("--qr"), "{e}");
}

#[test]
fn usage_errors_exit_with_2_and_say_what_is_wrong() {
    assert_eq!(
        usage_error(&[]).kind(),
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    assert_eq!(
        usage_error(&["frobnicate"]).kind(),
        ErrorKind::InvalidSubcommand
    );
    assert_eq!(
        usage_error(&["up"]).kind(),
        ErrorKind::MissingRequiredArgument
    );
    assert_eq!(
        usage_error(&["up", "a", "b"]).kind(),
        ErrorKind::UnknownArgument
    );
    assert_eq!(
        usage_error(&["mode", "wg0", "everything"]).kind(),
        ErrorKind::InvalidValue
    );
    assert_eq!(
        usage_error(&["killswitch", "wg0", "yes"]).kind(),
        ErrorKind::InvalidValue
    );
    assert_eq!(
        usage_error(&["import"]).kind(),
        ErrorKind::MissingRequiredArgument
    );
    assert_eq!(
        usage_error(&["import", "a.conf", "--replace", "--rename"]).kind(),
        ErrorKind::ArgumentConflict
    );
    assert_eq!(
        usage_error(&["export-all"]).kind(),
        ErrorKind::MissingRequiredArgument
    );
    assert_eq!(
        usage_error(&["log", "-n", "0"]).kind(),
        ErrorKind::ValueValidation
    );
    assert_eq!(
        usage_error(&["log", "-n", "many"]).kind(),
        ErrorKind::ValueValidation
    );
    assert_eq!(
        usage_error(&["up", "wg0", "--json"]).kind(),
        ErrorKind::UnknownArgument
    );

    // Tunnel names are checked while parsing, with the rule spelled out.
    let e = usage_error(&["up", "my tunnel"]);
    assert_eq!(e.kind(), ErrorKind::ValueValidation);
    assert!(
        e.to_string().contains(
            "tunnel name `my tunnel` contains ` `; use only letters, digits and _ = + . -"
        ),
        "{e}"
    );
    let e = usage_error(&["show", "a-very-long-tunnel-name"]);
    assert!(
        e.to_string().contains("too long: at most 15 characters"),
        "{e}"
    );
    assert_eq!(
        usage_error(&["rename", "ok", ""]).kind(),
        ErrorKind::ValueValidation
    );
}

#[test]
fn help_and_version_exit_0() {
    for args in [
        &["--help"][..],
        &["-h"],
        &["help"],
        &["help", "import"],
        &["import", "--help"],
        &["help", "pubkey"],
        &["export", "--help"],
        &["--version"],
    ] {
        let e = Cli::try_parse_from(std::iter::once("culvert").chain(args.iter().copied()))
            .expect_err("help is reported through the error path");
        assert_eq!(e.exit_code(), 0, "{args:?}");
    }
}

#[test]
fn every_command_has_help_text() {
    use clap::CommandFactory as _;
    let cmd = Cli::command();
    cmd.clone().debug_assert();
    for sub in cmd.get_subcommands() {
        assert!(
            sub.get_about().is_some(),
            "`{}` has no help",
            sub.get_name()
        );
        for arg in sub.get_arguments() {
            assert!(
                arg.get_help().is_some(),
                "`{} {}` has no help",
                sub.get_name(),
                arg.get_id()
            );
        }
    }
}

#[test]
fn the_binary_exits_2_on_a_usage_error() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_culvert"))
        .args(["mode", "wg0", "everything"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: invalid value 'everything'"),
        "{stderr}"
    );
    assert!(
        stderr.contains("[possible values: split, full, exclude-private]"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}
