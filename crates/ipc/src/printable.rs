//! Text that came from outside (a zip entry's path, a name or message a client sent)
//! on its way to where a person reads it: the service's log, a root terminal running
//! `culvert log`. A newline in it would forge a log line, an escape sequence would drive
//! the terminal, a bidirectional override would make it read differently, and 64 KiB of
//! it would bury everything else; so such characters are escaped and the text is cut.

use std::borrow::Cow;
use std::fmt::Write as _;

/// The most characters of one logged value (a message, or one field of it).
pub const MAX_LOGGED_CHARS: usize = 1024;

/// `text` with control and bidirectional-formatting characters escaped (`\n`, `\t`,
/// `\u{1b}`, ...) and cut after `max_chars` characters, with what was cut said. Text
/// that needs neither comes back as it is; escaping an escaped text changes nothing.
pub fn printable(text: &str, max_chars: usize) -> Cow<'_, str> {
    let clean = text.chars().take(max_chars + 1).all(|c| !needs_escape(c));
    let long = text.chars().nth(max_chars).is_some();
    if clean && !long {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len().min(max_chars * 2) + 24);
    let mut kept_bytes = 0;
    for c in text.chars().take(max_chars) {
        kept_bytes += c.len_utf8();
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    if long {
        let _ = write!(out, "… ({} more bytes)", text.len() - kept_bytes);
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_kept_as_it_is() {
        let text = "imported `wg0` from C:\\Users\\ana\\Tunnels\\wg0.conf (ünïcode ok)";
        assert!(matches!(printable(text, 200), Cow::Borrowed(t) if t == text));
    }

    #[test]
    fn lines_and_terminal_controls_cannot_be_forged() {
        let forged = "a.conf\n2026-01-01T00:00:00.000Z  INFO culvertd: all fine\x1b[2J\r\u{202e}";
        let shown = printable(forged, 200);
        assert!(!shown.chars().any(needs_escape), "{shown}");
        assert_eq!(
            shown,
            "a.conf\\n2026-01-01T00:00:00.000Z  INFO culvertd: all fine\\u{1b}[2J\\r\\u{202e}"
        );
        assert_eq!(
            printable(&shown, 200),
            shown,
            "escaping twice changes nothing"
        );
    }

    #[test]
    fn long_text_is_cut_and_says_so() {
        let long = "é".repeat(70_000);
        let shown = printable(&long, 10);
        assert_eq!(shown, format!("{}… (139980 more bytes)", "é".repeat(10)));
        assert_eq!(printable(&"x".repeat(10), 10), "x".repeat(10));
    }
}
