//! `culvert edit`: the temporary file, the local check and the re-edit loop, what is
//! sent, and the real editor launcher.
#![cfg(unix)]

mod common;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use common::*;
use culvert_ipc::*;

/// The config as the service shows it: keys hidden.
fn redacted() -> String {
    redact_config_text(&conf())
}

/// An editor that writes each of `versions` in turn (one per launch) and records what
/// it found in the file and the file's mode.
struct ScriptedEditor {
    seen: Rc<RefCell<Vec<(String, u32)>>>,
    paths: Rc<RefCell<Vec<PathBuf>>>,
}

fn editor(console: &mut FakeConsole, versions: Vec<String>) -> ScriptedEditor {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let paths = Rc::new(RefCell::new(Vec::new()));
    let mut versions = VecDeque::from(versions);
    let (s, p) = (Rc::clone(&seen), Rc::clone(&paths));
    console.editor = Box::new(move |path: &Path| {
        let mode = fs::metadata(path)?.permissions().mode() & 0o777;
        s.borrow_mut().push((fs::read_to_string(path)?, mode));
        p.borrow_mut().push(path.to_owned());
        let next = versions
            .pop_front()
            .expect("the editor was opened once too often");
        fs::write(path, next)?;
        Ok(())
    });
    ScriptedEditor { seen, paths }
}

fn get_tunnel() -> ResponseBody {
    ResponseBody::Tunnel(detail())
}

#[test]
fn an_edit_is_sent_with_the_keys_still_hidden() {
    let edited = redacted().replace("AllowedIPs = 0.0.0.0/0", "AllowedIPs = 10.0.0.0/8");
    let mut console = FakeConsole::new();
    let ed = editor(&mut console, vec![edited.clone()]);
    let fake = Fake::new()
        .respond(get_tunnel())
        .respond(ResponseBody::Updated { warnings: vec![] });
    let o = run_with(&["edit", "wg0"], &fake, &mut console).ok();

    // The editor saw the redacted text, in a private file.
    let seen = ed.seen.borrow();
    assert_eq!(seen.as_slice(), &[(redacted(), 0o600)]);
    assert!(seen[0].0.contains("PrivateKey = (hidden)"));
    assert!(ed.paths.borrow()[0].to_string_lossy().ends_with(".conf"));
    assert_eq!(
        o.sent,
        vec![
            Request::GetTunnel { name: name("wg0") },
            Request::UpdateTunnel {
                name: name("wg0"),
                config_text: edited.into()
            },
        ]
    );
    assert_eq!(o.out, "saved wg0\n");
    // The temporary file is gone.
    assert!(!ed.paths.borrow()[0].exists());
}

#[test]
fn the_services_warnings_are_shown() {
    let edited = format!("{}PersistentKeepalive = 25\n", redacted());
    let mut console = FakeConsole::new();
    let _ed = editor(&mut console, vec![edited]);
    let fake = Fake::new()
        .respond(get_tunnel())
        .respond(ResponseBody::Updated {
            warnings: vec!["line 10, column 1: warning: something odd".to_owned()],
        });
    let o = run_with(&["edit", "wg0"], &fake, &mut console).ok();
    assert_eq!(o.err, "line 10, column 1: warning: something odd\n");
}

#[test]
fn no_change_sends_nothing() {
    let mut console = FakeConsole::new();
    let _ed = editor(&mut console, vec![redacted()]);
    let fake = Fake::new().respond(get_tunnel());
    let o = run_with(&["edit", "wg0"], &fake, &mut console).ok();
    assert_eq!(o.sent, vec![Request::GetTunnel { name: name("wg0") }]);
    assert_eq!(o.out, "no changes; wg0 was not changed\n");
}

#[test]
fn errors_are_shown_and_the_file_reopened_until_it_is_right() {
    // First a typo and a bad address, then the fix.
    let broken = redacted()
        .replace("Address = 10.0.0.2/32", "Adress = 10.0.0.2/32")
        .replace("AllowedIPs = 0.0.0.0/0", "AllowedIPs = 0.0.0.0/99");
    let fixed = redacted().replace("DNS = 1.1.1.1", "DNS = 9.9.9.9");
    let mut console = FakeConsole::tty(&[""]);
    let ed = editor(&mut console, vec![broken.clone(), fixed.clone()]);
    let fake = Fake::new()
        .respond(get_tunnel())
        .respond(ResponseBody::Updated { warnings: vec![] });
    let o = run_with(&["edit", "wg0"], &fake, &mut console).ok();

    let err_lines: Vec<&str> = o.err.lines().collect();
    assert_eq!(err_lines[0], "wg0: 2 errors:");
    assert!(
        err_lines[1].starts_with("  line 3, column 1: "),
        "{}",
        o.err
    );
    assert!(
        err_lines[2].starts_with("  line 9, column 14: "),
        "{}",
        o.err
    );
    assert_eq!(err_lines.len(), 3, "{}", o.err);
    assert_eq!(o.asked, vec!["Edit again? [Y/n] "]);
    // The second opening shows what the user wrote, not the original.
    assert_eq!(ed.seen.borrow()[1].0, broken);
    assert_eq!(
        o.sent,
        vec![
            Request::GetTunnel { name: name("wg0") },
            Request::UpdateTunnel {
                name: name("wg0"),
                config_text: fixed.into()
            },
        ]
    );
}

#[test]
fn declining_to_re_edit_keeps_the_edits_and_fails() {
    let broken = redacted().replace("[Peer]", "[Peers]");
    let mut console = FakeConsole::tty(&["n"]);
    let ed = editor(&mut console, vec![broken.clone()]);
    let fake = Fake::new().respond(get_tunnel());
    let o = run_with(&["edit", "wg0"], &fake, &mut console);
    assert_eq!(o.code(), 1);
    assert_eq!(o.error(), "wg0 was not changed: its config has errors");
    assert_eq!(o.sent, vec![Request::GetTunnel { name: name("wg0") }]);
    let path = ed.paths.borrow()[0].clone();
    assert!(
        o.err
            .ends_with(&format!("your edits are kept in {}\n", path.display())),
        "{}",
        o.err
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), broken);
    fs::remove_file(path).unwrap();
}

#[test]
fn without_a_terminal_an_invalid_edit_fails_at_once() {
    let broken = redacted().replace("DNS = 1.1.1.1", "DNS = 1.1.1");
    let mut console = FakeConsole::new();
    let ed = editor(&mut console, vec![broken]);
    let fake = Fake::new().respond(get_tunnel());
    let o = run_with(&["edit", "wg0"], &fake, &mut console);
    assert_eq!(o.code(), 1);
    assert!(o.asked.is_empty());
    assert!(
        o.err.starts_with("wg0: 1 error:\n  line 4, column 7: "),
        "{}",
        o.err
    );
    let _ = fs::remove_file(&ed.paths.borrow()[0]);
}

#[test]
fn a_hidden_key_pasted_where_nothing_can_be_restored_is_an_error_here_as_there() {
    // A new peer whose PresharedKey is a placeholder: the service has no key for it.
    let added = format!(
        "{}\n[Peer]\nPublicKey = {PUB}\nPresharedKey = (hidden)\nAllowedIPs = 10.9.0.0/16\n",
        redacted()
    );
    let mut console = FakeConsole::new();
    let ed = editor(&mut console, vec![added]);
    let fake = Fake::new().respond(get_tunnel());
    let o = run_with(&["edit", "wg0"], &fake, &mut console);
    assert_eq!(o.code(), 1);
    assert!(
        o.err.starts_with("wg0: 1 error:\n  line 14, column 16: "),
        "{}",
        o.err
    );
    assert_eq!(o.sent.len(), 1);
    let _ = fs::remove_file(&ed.paths.borrow()[0]);

    // Moving the existing peer below a new one keeps its key: the placeholder follows
    // the peer's public key.
    let reordered = format!(
        "[Interface]\nPrivateKey = (hidden)\nAddress = 10.0.0.2/32\n\n\
         [Peer]\nPublicKey = {PUB}\nAllowedIPs = 10.9.0.0/16\n\n\
         [Peer]\nPublicKey = {PEER}\nPresharedKey = (hidden)\nAllowedIPs = 0.0.0.0/0\n"
    );
    let mut console = FakeConsole::new();
    let _ed = editor(&mut console, vec![reordered.clone()]);
    let fake = Fake::new()
        .respond(get_tunnel())
        .respond(ResponseBody::Updated { warnings: vec![] });
    let o = run_with(&["edit", "wg0"], &fake, &mut console).ok();
    assert_eq!(
        o.sent[1],
        Request::UpdateTunnel {
            name: name("wg0"),
            config_text: reordered.into()
        }
    );
}

#[test]
fn what_the_service_finds_wrong_is_fixed_in_the_same_loop() {
    let first = redacted().replace("DNS = 1.1.1.1", "DNS = 1.0.0.1");
    let second = redacted().replace("DNS = 1.1.1.1", "DNS = 8.8.8.8");
    let mut console = FakeConsole::tty(&["y"]);
    let _ed = editor(&mut console, vec![first.clone(), second.clone()]);
    let refusal = IpcError::new(
        IpcErrorKind::InvalidConfig {
            diagnostics: vec![
                "line 4, column 7: that DNS server is not allowed here".to_owned(),
                "line 9, column 1: warning: hmm".to_owned(),
            ],
        },
        "the config for `wg0` has 1 error",
    );
    let fake = Fake::new()
        .respond(get_tunnel())
        .fail(ClientError::Service(refusal))
        .respond(ResponseBody::Updated { warnings: vec![] });
    let o = run_with(&["edit", "wg0"], &fake, &mut console).ok();
    assert_eq!(
        o.err,
        "wg0: 1 error:\n  line 4, column 7: that DNS server is not allowed here\n  \
         line 9, column 1: warning: hmm\n"
    );
    assert_eq!(o.sent.len(), 3);
    assert_eq!(
        o.sent[2],
        Request::UpdateTunnel {
            name: name("wg0"),
            config_text: second.into()
        }
    );
}

#[test]
fn a_failing_editor_stops_the_edit() {
    let mut console = FakeConsole::new();
    console.editor = Box::new(|_| anyhow::bail!("the editor `vim` failed (exit status: 1)"));
    let fake = Fake::new().respond(get_tunnel());
    let o = run_with(&["edit", "wg0"], &fake, &mut console);
    assert_eq!(o.code(), 1);
    assert_eq!(o.error(), "the editor `vim` failed (exit status: 1)");
    assert_eq!(o.sent.len(), 1);
}

#[test]
fn the_real_launcher_runs_the_command_through_the_shell_with_the_path() {
    let dir = TempDir::new("launcher");
    let script = dir.join("my editor.sh");
    fs::write(
        &script,
        "#!/bin/sh\nprintf '%s|' \"$@\" > \"$(dirname \"$0\")/args\"\necho edited >> \"$2\"\n",
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let file = dir.join("a file.conf");
    fs::write(&file, "original\n").unwrap();
    // An editor command with an argument, and a quoted path with a space, as $EDITOR
    // may hold.
    let command = format!("'{}' --wait", script.display());
    culvert_cli::console::launch_editor(&command, &file).unwrap();
    assert_eq!(fs::read_to_string(&file).unwrap(), "original\nedited\n");
    assert_eq!(
        fs::read_to_string(dir.join("args")).unwrap(),
        format!("--wait|{}|", file.display())
    );

    let e = culvert_cli::console::launch_editor("false", &file).unwrap_err();
    assert_eq!(
        format!("{e:#}"),
        "the editor `false` failed (exit status: 1)"
    );
    let e = culvert_cli::console::launch_editor("/nonexistent/editor", &file).unwrap_err();
    assert!(
        format!("{e:#}").starts_with("the editor `/nonexistent/editor` failed"),
        "{e:#}"
    );
}
