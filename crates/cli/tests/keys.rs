//! `culvert genkey`, `pubkey`, `genpsk`: keys as `wg` makes them, without the service.

mod common;

use std::io::Write as _;
use std::process::{Command, Stdio};

use common::*;
use culvert_config::{PresharedKey, PrivateKey};

/// RFC 7748 section 6.1: Alice's and Bob's X25519 key pairs, in WireGuard's base64
/// (`77076d0a...2c2a` -> `8520f009...4e6a`, `5dab087e...e0eb` -> `de9edb7d...2b4f`;
/// `wg pubkey` agrees).
const ALICE_PRIVATE: &str = "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=";
const ALICE_PUBLIC: &str = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";
const BOB_PRIVATE: &str = "XasIfmJKikt54X+Lg4AO5m87sSkmGLb9HC+LJ/+I4Os=";
const BOB_PUBLIC: &str = "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08=";

fn pubkey(input: &[u8]) -> Outcome {
    run_with(&["pubkey"], &Fake::new(), &mut FakeConsole::piped(input))
}

/// One key and a newline: 44 characters of padded base64.
#[track_caller]
fn key_line(out: &str) -> &str {
    let key = out.strip_suffix('\n').expect("a newline after the key");
    assert_eq!(key.len(), 44, "{out:?}");
    assert!(key.ends_with('='), "{out:?}");
    assert!(
        key[..43]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/'),
        "{out:?}"
    );
    key
}

#[test]
fn genkey_prints_a_new_clamped_private_key_without_the_service() {
    let fake = Fake::new();
    let first = run_cli(&["genkey"], &fake).ok();
    let second = run_cli(&["genkey"], &fake).ok();
    let (a, b) = (key_line(&first.out), key_line(&second.out));
    assert_ne!(a, b);
    let key = PrivateKey::from_base64(a).unwrap();
    assert_eq!(key.as_bytes()[0] & 7, 0);
    assert_eq!(key.as_bytes()[31] & 0xc0, 0x40);
    assert_eq!(first.err, "", "a key never goes to standard error");
    assert_eq!(*fake.connects.borrow(), 0);
}

#[test]
fn genpsk_prints_a_new_preshared_key_without_the_service() {
    let fake = Fake::new();
    let first = run_cli(&["genpsk"], &fake).ok();
    let second = run_cli(&["genpsk"], &fake).ok();
    let (a, b) = (key_line(&first.out), key_line(&second.out));
    assert_ne!(a, b);
    assert!(PresharedKey::from_base64(a).is_ok());
    assert_eq!(first.err, "");
    assert_eq!(*fake.connects.borrow(), 0);
}

#[test]
fn pubkey_derives_the_rfc7748_public_keys() {
    let o = pubkey(format!("{ALICE_PRIVATE}\n").as_bytes()).ok();
    assert_eq!(o.out, format!("{ALICE_PUBLIC}\n"));
    assert_eq!(o.err, "");
    assert_eq!(o.connects, 0);

    // Without a newline, or with white space around it (a file edited by hand).
    let o = pubkey(BOB_PRIVATE.as_bytes()).ok();
    assert_eq!(o.out, format!("{BOB_PUBLIC}\n"));
    let o = pubkey(format!("  {BOB_PRIVATE}\r\n\n").as_bytes()).ok();
    assert_eq!(o.out, format!("{BOB_PUBLIC}\n"));
}

#[test]
fn pubkey_of_a_new_key_is_its_public_key() {
    let generated = run_cli(&["genkey"], &Fake::new()).ok().out;
    let expected = PrivateKey::from_base64(key_line(&generated))
        .unwrap()
        .public_key()
        .to_base64();
    assert_eq!(
        pubkey(generated.as_bytes()).ok().out,
        format!("{expected}\n")
    );
}

#[test]
fn pubkey_of_garbage_exits_1_with_a_clear_message_that_does_not_repeat_it() {
    let o = pubkey(b"garbage\n");
    assert_eq!(o.code(), 1);
    assert_eq!(
        o.error(),
        "standard input is not a private key: expected 44 characters of base64 (32 bytes, as \
         printed by `wg genkey`), found 7 characters"
    );
    assert_eq!(o.out, "");
    assert_eq!(o.connects, 0);

    // 44 characters, one of them not base64.
    let bad = format!("{}!=", &ALICE_PRIVATE[..42]);
    let o = pubkey(bad.as_bytes());
    assert_eq!(o.code(), 1);
    assert_eq!(
        o.error(),
        "standard input is not a private key: not valid base64 (character 43 is not allowed \
         there); a key is 44 characters of A-Z, a-z, 0-9, + and /, ending in ="
    );
    assert!(!o.error().contains(&ALICE_PRIVATE[..42]));

    let o = pubkey(b"");
    assert_eq!(o.code(), 1);
    assert_eq!(
        o.error(),
        "no private key on standard input; pipe one in, as in: culvert genkey | culvert pubkey"
    );

    let o = pubkey(&[0xff, 0xfe, b'\n']);
    assert_eq!(o.code(), 1);
    assert_eq!(
        o.error(),
        "standard input is not a private key: it is not text"
    );

    let o = pubkey(&[b'A'; 5000]);
    assert_eq!(o.code(), 1);
    assert_eq!(
        o.error(),
        "standard input is over 1024 bytes, not a private key (44 characters of base64, as \
         printed by: culvert genkey)"
    );
}

/// The built binary, through a real pipe, with a socket where nothing listens: the
/// key commands never connect.
#[test]
fn the_binary_pipes_genkey_into_pubkey_without_the_service() {
    let culvert = |args: &[&str], input: &[u8]| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_culvert"))
            .args(["--socket", "/nonexistent/culvertd.sock"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    };

    let generated = culvert(&["genkey"], b"");
    assert_eq!(generated.status.code(), Some(0));
    assert!(generated.stderr.is_empty());
    let private = String::from_utf8(generated.stdout).unwrap();
    let public = PrivateKey::from_base64(key_line(&private))
        .unwrap()
        .public_key();

    let derived = culvert(&["pubkey"], private.as_bytes());
    assert_eq!(derived.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(derived.stdout).unwrap(),
        format!("{public}\n")
    );
    assert!(derived.stderr.is_empty());

    let alice = culvert(&["pubkey"], format!("{ALICE_PRIVATE}\n").as_bytes());
    assert_eq!(
        String::from_utf8(alice.stdout).unwrap(),
        format!("{ALICE_PUBLIC}\n")
    );

    let psk = culvert(&["genpsk"], b"");
    assert_eq!(psk.status.code(), Some(0));
    key_line(std::str::from_utf8(&psk.stdout).unwrap());

    let garbage = culvert(&["pubkey"], b"not a key\n");
    assert_eq!(garbage.status.code(), Some(1));
    assert!(garbage.stdout.is_empty());
    assert_eq!(
        String::from_utf8(garbage.stderr).unwrap(),
        "error: standard input is not a private key: expected 44 characters of base64 (32 \
         bytes, as printed by `wg genkey`), found 9 characters\n"
    );
}
