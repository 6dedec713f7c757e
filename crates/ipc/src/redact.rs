//! Keeping keys out of config text shown to clients, and putting them back on save.
//!
//! Private keys leave the service only through an explicit export (DESIGN.md,
//! "Service and IPC"), so the text an editor shows has each `PrivateKey` and
//! `PresharedKey` value replaced by [`REDACTED`]. When the user saves that text, the
//! service calls [`restore_redacted_keys`] so the placeholders become the stored keys
//! again: editing a peer's AllowedIPs must not require re-entering the private key.
//!
//! Both work on lines, not on a parsed config, so that text which does not parse (the
//! very text an editor is showing errors for) is still redacted.

use zeroize::Zeroizing;

use crate::types::ConfigText;

/// What replaces a key's value. Not base64, so a placeholder that cannot be restored
/// makes the config fail to parse instead of silently becoming a key.
pub const REDACTED: &str = "(hidden)";

/// `text` with the value of every `PrivateKey` and `PresharedKey` line replaced by
/// [`REDACTED`], keeping everything else byte for byte.
///
/// Keys are matched as wg-quick does (case-insensitively, `#` starting a comment).
/// Commented-out keys (`# PrivateKey = ...`, a common way to keep an old key) and
/// malformed lines (`PrivateKey abc`, no `=`) are redacted too: this errs on the side
/// of hiding.
pub fn redact_config_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let (body, ending) = split_ending(line);
        match body.find('#') {
            Some(hash) => {
                redact_segment(&body[..hash], &mut out);
                out.push('#');
                redact_segment(&body[hash + 1..], &mut out);
            }
            None => redact_segment(body, &mut out),
        }
        out.push_str(ending);
    }
    out
}

/// `edited` with each [`REDACTED`] placeholder replaced by the key it hid in `stored`.
///
/// The `[Interface]` `PrivateKey` comes from the stored interface; a `[Peer]`'s
/// `PresharedKey` comes from the stored peer with the same `PublicKey`, so peers can be
/// reordered, added or removed. A placeholder with nothing to restore (a new peer, a
/// changed public key) is left as it is, and parsing then reports it as an invalid key
/// on its line. Everything else in `edited` is kept byte for byte.
pub fn restore_redacted_keys(edited: &str, stored: &str) -> ConfigText {
    let stored_sections = sections(stored);
    let private_key = stored_sections
        .iter()
        .find(|s| s.kind == SectionKind::Interface)
        .and_then(|s| s.private_key);
    let preshared_for = |public: &str| {
        stored_sections
            .iter()
            .filter(|s| s.kind == SectionKind::Peer)
            .find(|s| s.public_key == Some(public))
            .and_then(|s| s.preshared_key)
    };

    let edited_sections = sections(edited);
    let mut out = Zeroizing::new(String::with_capacity(edited.len() + 64));
    let mut current: Option<&Section<'_>> = None;
    let mut index = 0;
    for line in edited.split_inclusive('\n') {
        let (body, _) = split_ending(line);
        let restored = match classify(body) {
            LineKind::Header(_) => {
                current = edited_sections.get(index);
                index += 1;
                None
            }
            LineKind::Key { key, value, range } if value == REDACTED => {
                let key_value = match current.map(|s| s.kind) {
                    Some(SectionKind::Interface) if key.eq_ignore_ascii_case("privatekey") => {
                        private_key
                    }
                    Some(SectionKind::Peer) if key.eq_ignore_ascii_case("presharedkey") => {
                        current.and_then(|s| s.public_key).and_then(preshared_for)
                    }
                    _ => None,
                };
                key_value.map(|k| (range, k))
            }
            _ => None,
        };
        match restored {
            Some((range, key)) => {
                out.push_str(&line[..range.start]);
                out.push_str(key);
                out.push_str(&line[range.end..]);
            }
            None => out.push_str(line),
        }
    }
    ConfigText::new(std::mem::take(&mut *out))
}

fn split_ending(line: &str) -> (&str, &str) {
    let body = line.strip_suffix('\n').unwrap_or(line);
    let body = body.strip_suffix('\r').unwrap_or(body);
    (body, &line[body.len()..])
}

fn is_blank(c: char) -> bool {
    c.is_whitespace() || c == '\u{feff}'
}

/// Length of a leading `privatekey` / `presharedkey` (any case) in `s`.
fn secret_word_len(s: &str) -> Option<usize> {
    ["privatekey", "presharedkey"]
        .into_iter()
        .find(|w| s.get(..w.len()).is_some_and(|p| p.eq_ignore_ascii_case(w)))
        .map(str::len)
}

fn redact_segment(seg: &str, out: &mut String) {
    let start = seg.len() - seg.trim_start_matches(is_blank).len();
    let Some(word) = secret_word_len(&seg[start..]) else {
        out.push_str(seg);
        return;
    };
    let after_word = start + word;
    let tail = &seg[after_word..];
    // The `=` must come right after the word (and blanks): base64 values end in `=`,
    // so `PrivateKey abc=` has an `=` that is part of the key.
    let spaced = tail.trim_start();
    let value_start = match spaced.strip_prefix('=') {
        Some(v) => seg.len() - v.trim_start().len(),
        None => seg.len() - spaced.len(),
    };
    let value = seg[value_start..].trim_end();
    if value.is_empty() {
        out.push_str(seg);
        return;
    }
    out.push_str(&seg[..value_start]);
    if value_start == after_word {
        out.push(' ');
    }
    out.push_str(REDACTED);
    out.push_str(&seg[value_start + value.len()..]);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SectionKind {
    Interface,
    Peer,
    Other,
}

#[derive(Debug)]
struct Section<'a> {
    kind: SectionKind,
    private_key: Option<&'a str>,
    public_key: Option<&'a str>,
    preshared_key: Option<&'a str>,
}

enum LineKind<'a> {
    Header(SectionKind),
    Key {
        key: &'a str,
        value: &'a str,
        /// Byte range of the value within the line.
        range: std::ops::Range<usize>,
    },
    Other,
}

fn classify(body: &str) -> LineKind<'_> {
    let content = body.find('#').map_or(body, |i| &body[..i]);
    let trimmed = content.trim_matches(is_blank);
    if let Some(header) = trimmed.strip_prefix('[') {
        let name = header.split(']').next().unwrap_or(header).trim();
        let kind = if name.eq_ignore_ascii_case("interface") {
            SectionKind::Interface
        } else if name.eq_ignore_ascii_case("peer") {
            SectionKind::Peer
        } else {
            SectionKind::Other
        };
        return LineKind::Header(kind);
    }
    let Some(eq) = content.find('=') else {
        return LineKind::Other;
    };
    let key = content[..eq].trim_matches(is_blank);
    let raw = &content[eq + 1..];
    let start = eq + 1 + (raw.len() - raw.trim_start().len());
    let value = raw.trim();
    LineKind::Key {
        key,
        value,
        range: start..start + value.len(),
    }
}

/// The sections of `text`, in order, with the keys [`restore_redacted_keys`] needs.
fn sections(text: &str) -> Vec<Section<'_>> {
    let mut out: Vec<Section<'_>> = Vec::new();
    for line in text.split_inclusive('\n') {
        match classify(split_ending(line).0) {
            LineKind::Header(kind) => out.push(Section {
                kind,
                private_key: None,
                public_key: None,
                preshared_key: None,
            }),
            LineKind::Key { key, value, .. } => {
                let Some(section) = out.last_mut() else {
                    continue;
                };
                // The first occurrence wins; a duplicate is a parse error anyway.
                let slot = if key.eq_ignore_ascii_case("privatekey") {
                    &mut section.private_key
                } else if key.eq_ignore_ascii_case("publickey") {
                    &mut section.public_key
                } else if key.eq_ignore_ascii_case("presharedkey") {
                    &mut section.preshared_key
                } else {
                    continue;
                };
                slot.get_or_insert(value);
            }
            LineKind::Other => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRIV: &str = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
    const PSK: &str = "FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE=";
    const PUB: &str = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";

    fn conf() -> String {
        format!(
            "[Interface]\r\nPrivateKey = {PRIV}\r\nAddress = 10.0.0.2/32\n\n\
             [Peer]\nPublicKey = {PUB}\npresharedkey={PSK} # the psk\nAllowedIPs = 0.0.0.0/0\n"
        )
    }

    #[test]
    fn hides_keys_and_keeps_the_rest() {
        let red = redact_config_text(&conf());
        assert!(!red.contains(PRIV) && !red.contains(PSK), "{red}");
        assert!(red.contains(PUB));
        assert_eq!(
            red,
            format!(
                "[Interface]\r\nPrivateKey = (hidden)\r\nAddress = 10.0.0.2/32\n\n\
                 [Peer]\nPublicKey = {PUB}\npresharedkey=(hidden) # the psk\nAllowedIPs = 0.0.0.0/0\n"
            )
        );
        assert_eq!(redact_config_text(&red), red, "idempotent");
    }

    #[test]
    fn hides_commented_and_malformed_keys() {
        let text = format!(
            "\u{feff}  PRIVATEKEY  =  {PRIV}  \n# PrivateKey = {PRIV}\nPrivateKey {PRIV}\nPrivateKey =\n"
        );
        let red = redact_config_text(&text);
        assert!(!red.contains(PRIV), "{red}");
        assert_eq!(
            red,
            "\u{feff}  PRIVATEKEY  =  (hidden)  \n# PrivateKey = (hidden)\nPrivateKey (hidden)\nPrivateKey =\n"
        );
    }

    #[test]
    fn restores_keys_by_section_and_peer() {
        let stored = conf();
        let other_pub = "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=";
        // The user reordered things and added a peer whose psk placeholder cannot be
        // restored.
        let edited = format!(
            "[Peer]\nPublicKey = {other_pub}\nPresharedKey = (hidden)\n\n\
             [Interface]\nPrivateKey = (hidden)\nAddress = 10.0.0.3/32\n\n\
             [Peer]\nPresharedKey = (hidden)\nPublicKey = {PUB}\n"
        );
        let restored = restore_redacted_keys(&edited, &stored);
        assert_eq!(
            restored.as_str(),
            format!(
                "[Peer]\nPublicKey = {other_pub}\nPresharedKey = (hidden)\n\n\
                 [Interface]\nPrivateKey = {PRIV}\nAddress = 10.0.0.3/32\n\n\
                 [Peer]\nPresharedKey = {PSK}\nPublicKey = {PUB}\n"
            )
        );
    }

    #[test]
    fn redact_then_restore_is_identity() {
        let stored = conf();
        let restored = restore_redacted_keys(&redact_config_text(&stored), &stored);
        assert_eq!(restored.as_str(), stored);
        assert!(culvert_config::parse(restored.as_str()).is_ok());
    }

    #[test]
    fn a_new_key_is_kept() {
        let stored = conf();
        let new = "QKb7GhQ9ZmsTXn3Vo7gYEk8qCNRwfpBJB6d6pKvO+2k=";
        let edited = redact_config_text(&stored)
            .replace("PrivateKey = (hidden)", &format!("PrivateKey = {new}"));
        let restored = restore_redacted_keys(&edited, &stored);
        assert!(restored.as_str().contains(new) && !restored.as_str().contains(PRIV));
    }
}
