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
//!
//! Comments (from a line's first `#`) are free text, so a key can sit anywhere in them
//! (`## PrivateKey = K`, `# old PrivateKey = K`, `# backup: K`). In a comment, every
//! 44-character standard-base64 token that decodes to exactly 32 bytes (43 base64
//! characters and one `=`, however it is surrounded) is hidden, and so is the value of a
//! comment that reads `# PrivateKey = ...`. Public keys in comments are hidden too:
//! they cannot be told apart from private ones.
//!
//! Restoring a comment: a comment holding a placeholder gets its keys back only if it
//! is, byte for byte, the redacted form of a comment of the stored text (the comment the
//! editor was shown); it then becomes that stored comment again. Identical redacted
//! comments are paired in order of appearance. So a key only ever returns to a comment
//! that showed its placeholder in the same place, and never moves elsewhere. A comment
//! placeholder that cannot be paired (the comment was edited around it, copied, or
//! typed in) would silently lose the key it stood for, since the parser ignores
//! comments: restoring then inserts a line holding only the placeholder just above that
//! comment, which the parser rejects ("this line has no `=`") at the comment's own line
//! number, so the save fails and the stored text is kept.

use std::collections::{HashMap, VecDeque};
use std::ops::Range;

use zeroize::Zeroizing;

use crate::types::ConfigText;

/// What replaces a key's value. Not base64, so a placeholder that cannot be restored
/// makes the config fail to parse instead of silently becoming a key.
pub const REDACTED: &str = "(hidden)";

/// `text` with the value of every `PrivateKey` and `PresharedKey` line replaced by
/// [`REDACTED`], keeping everything else byte for byte.
///
/// Keys are matched as wg-quick does (case-insensitively, `#` starting a comment).
/// Malformed lines (`PrivateKey abc`, no `=`) are redacted too, and in comments every
/// token that is a 32-byte base64 key (see the module comment): this errs on the side
/// of hiding.
pub fn redact_config_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let (body, ending) = split_ending(line);
        match body.find('#') {
            Some(hash) => {
                redact_segment(&body[..hash], &mut out);
                out.push('#');
                redact_comment(&body[hash + 1..], &mut out);
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
/// on its line.
///
/// A comment holding placeholders becomes the stored comment it is the redacted form
/// of; one that is the redacted form of no (remaining) stored comment gets a line
/// holding only [`REDACTED`] inserted above it, so that parsing fails on that line
/// rather than the key being lost (see the module comment). Everything else in
/// `edited` is kept byte for byte.
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

    // Redacted comment (which holds no key) -> the stored comments it is the redacted
    // form of, in order.
    let mut stored_comments: HashMap<String, VecDeque<&str>> = HashMap::new();
    for line in stored.split_inclusive('\n') {
        let (body, _) = split_ending(line);
        if let Some(hash) = body.find('#') {
            let comment = &body[hash + 1..];
            let mut redacted = String::with_capacity(comment.len() + 16);
            redact_comment(comment, &mut redacted);
            if redacted.contains(REDACTED) {
                stored_comments
                    .entry(redacted)
                    .or_default()
                    .push_back(comment);
            }
        }
    }

    let edited_sections = sections(edited);
    let mut out = Zeroizing::new(String::with_capacity(edited.len() + 64));
    let mut current: Option<&Section<'_>> = None;
    let mut index = 0;
    for line in edited.split_inclusive('\n') {
        let (body, ending) = split_ending(line);
        let hash = body.find('#');
        let (content, comment) = match hash {
            Some(h) => (&body[..h], Some(&body[h + 1..])),
            None => (body, None),
        };
        let comment = comment.map(|c| {
            if !c.contains(REDACTED) {
                return Some(c);
            }
            stored_comments.get_mut(c).and_then(VecDeque::pop_front)
        });
        if let Some(None) = comment {
            // An unpairable placeholder in a comment: make the parser fail here.
            out.push_str(REDACTED);
            out.push_str(if ending.is_empty() { "\n" } else { ending });
        }
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
                out.push_str(&content[..range.start]);
                out.push_str(key);
                out.push_str(&content[range.end..]);
            }
            None => out.push_str(content),
        }
        if let Some(comment) = comment {
            out.push('#');
            // Unpaired: kept as edited, placeholder and all (the inserted line fails).
            out.push_str(comment.unwrap_or(&body[content.len() + 1..]));
        }
        out.push_str(ending);
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

/// Appends comment text `comment` (what follows a line's first `#`) to `out`, with
/// every key in it replaced by [`REDACTED`] (see the module comment).
fn redact_comment(comment: &str, out: &mut String) {
    let mut spans = key_spans(comment);
    if let Some(value) = secret_value_span(comment) {
        spans.push(value);
    }
    spans.sort_by_key(|r| r.start);
    let mut done = 0;
    for span in spans {
        if span.end <= done {
            continue;
        }
        let start = span.start.max(done);
        out.push_str(&comment[done..start]);
        if start == span.start {
            out.push_str(REDACTED);
        }
        done = span.end;
    }
    out.push_str(&comment[done..]);
}

/// The byte ranges of `s` holding a 32-byte key in standard base64: 43 characters of
/// the base64 alphabet followed by `=`, whatever is around them. The unused low bits
/// of the last character are not checked, so a non-canonical spelling is hidden too.
fn key_spans(s: &str) -> Vec<Range<usize>> {
    const CHARS: usize = 43;
    let bytes = s.as_bytes();
    let is_b64 = |b: u8| b.is_ascii_alphanumeric() || b == b'+' || b == b'/';
    let mut spans = Vec::new();
    for (end, &b) in bytes.iter().enumerate() {
        if b == b'=' && end >= CHARS && bytes[end - CHARS..end].iter().all(|&c| is_b64(c)) {
            spans.push(end - CHARS..end + 1);
        }
    }
    spans
}

/// The range of the value in a comment that reads `PrivateKey = value` (any case,
/// `=` optional), as [`redact_segment`] finds it.
fn secret_value_span(seg: &str) -> Option<Range<usize>> {
    let start = seg.len() - seg.trim_start_matches(is_blank).len();
    let word = secret_word_len(&seg[start..])?;
    let spaced = seg[start + word..].trim_start();
    let value_start = match spaced.strip_prefix('=') {
        Some(v) => seg.len() - v.trim_start().len(),
        None => seg.len() - spaced.len(),
    };
    let value = seg[value_start..].trim_end();
    (!value.is_empty()).then(|| value_start..value_start + value.len())
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

    /// A 44-character token that is not a 32-byte key: no padding (33 bytes) and
    /// double padding (31 bytes).
    const NOT_KEY_33: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    const NOT_KEY_31: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==";

    fn commented() -> String {
        format!(
            "## PrivateKey = {PRIV}\n[Interface]\nPrivateKey = {PRIV} # old PrivateKey = {PSK}\n\
             # backup: {PSK}, kept\r\nAddress = 10.0.0.2/32\n# ids {NOT_KEY_33} {NOT_KEY_31}\n\
             [Peer]\nPublicKey = {PUB}\n# backup: {PSK}, kept\n#again:{PRIV}{PSK}x\n"
        )
    }

    #[test]
    fn hides_every_key_in_comments() {
        let red = redact_config_text(&commented());
        assert_eq!(
            red,
            format!(
                "## PrivateKey = (hidden)\n[Interface]\nPrivateKey = (hidden) # old PrivateKey = (hidden)\n\
                 # backup: (hidden), kept\r\nAddress = 10.0.0.2/32\n# ids {NOT_KEY_33} {NOT_KEY_31}\n\
                 [Peer]\nPublicKey = {PUB}\n# backup: (hidden), kept\n#again:(hidden)(hidden)x\n"
            )
        );
        assert_eq!(redact_config_text(&red), red, "idempotent");
    }

    #[test]
    fn a_non_key_token_in_a_comment_is_left_alone() {
        for token in [NOT_KEY_33, NOT_KEY_31] {
            let text = format!("# token {token} end\n");
            assert_eq!(redact_config_text(&text), text);
        }
    }

    #[test]
    fn restores_comment_keys() {
        let stored = commented();
        let restored = restore_redacted_keys(&redact_config_text(&stored), &stored);
        assert_eq!(restored.as_str(), stored);
        assert!(culvert_config::parse(restored.as_str()).is_ok());

        // Other edits, and identical comments moved past each other, keep every key in
        // the comment that showed its placeholder.
        let edited = redact_config_text(&stored)
            .replace("10.0.0.2/32", "10.0.0.9/32")
            .replace("## PrivateKey = (hidden)\n", "");
        let restored = restore_redacted_keys(&edited, &stored);
        assert_eq!(
            restored.as_str(),
            stored
                .replace("10.0.0.2/32", "10.0.0.9/32")
                .replace(&format!("## PrivateKey = {PRIV}\n"), "")
        );
    }

    #[test]
    fn identical_comments_are_paired_in_order() {
        let k3 = "QKb7GhQ9ZmsTXn3Vo7gYEk8qCNRwfpBJB6d6pKvO+2k=";
        let stored = format!("# old {PRIV}\n# old {k3}\n[Interface]\nPrivateKey = {PSK}\n");
        let edited = "# old (hidden)\n[Interface]\n# old (hidden)\nPrivateKey = (hidden)\n";
        assert_eq!(
            restore_redacted_keys(edited, &stored).as_str(),
            format!("# old {PRIV}\n[Interface]\n# old {k3}\nPrivateKey = {PSK}\n")
        );
    }

    #[test]
    fn an_unpairable_comment_placeholder_fails_to_parse() {
        let stored = commented();
        let red = redact_config_text(&stored);
        for edited in [
            // The comment was edited around the placeholder.
            red.replace(
                "# backup: (hidden), kept\r\n",
                "# backup: (hidden), kept!\r\n",
            ),
            // A third copy of a comment that appears twice.
            format!("{red}# backup: (hidden), kept\n"),
            // Typed in, or pasted from elsewhere.
            format!("{red}# (hidden)\n"),
        ] {
            let restored = restore_redacted_keys(&edited, &stored);
            let errors = culvert_config::parse(restored.as_str()).unwrap_err();
            assert!(errors.errors().count() >= 1, "{}", restored.as_str());
            // No key went anywhere the editor had not shown its placeholder.
            assert!(!restored.as_str().contains(&format!("{PSK}, kept!")));
            assert!(!restored.as_str().contains(&format!("# {PRIV}")));
        }
        // The error is on the comment's own line.
        let edited = format!("# (hidden)\n{red}");
        let restored = restore_redacted_keys(&edited, &stored);
        assert!(restored.as_str().starts_with("(hidden)\n# (hidden)\n"));
        let errors = culvert_config::parse(restored.as_str()).unwrap_err();
        assert_eq!(errors.errors().next().map(|d| d.line), Some(1));
    }

    #[test]
    fn a_placeholder_already_stored_in_a_comment_is_kept() {
        // Text damaged by an earlier version, which stored the placeholder itself.
        let stored = format!("[Interface]\n# PrivateKey = (hidden)\nPrivateKey = {PRIV}\n");
        let red = redact_config_text(&stored);
        assert_eq!(restore_redacted_keys(&red, &stored).as_str(), stored);
    }

    fn key() -> impl proptest::strategy::Strategy<Value = String> {
        use base64::Engine as _;
        use proptest::strategy::Strategy as _;
        proptest::prelude::any::<[u8; 32]>()
            .prop_map(|k| base64::engine::general_purpose::STANDARD.encode(k))
    }

    proptest::proptest! {
        #[test]
        fn redaction_never_shows_a_key(
            private in key(),
            preshared in key(),
            lines in proptest::collection::vec(
                (0..3u8, "[ -~]{0,12}", key(), "[ -~]{0,12}"),
                1..8,
            )
        ) {
            let mut text = format!("[Interface]\nPrivateKey = {private}\n");
            let mut keys = vec![private, preshared.clone()];
            for (i, (kind, before, key, after)) in lines.into_iter().enumerate() {
                match kind {
                    0 => text.push_str(&format!("#{before}{key}{after}\n")),
                    1 => text.push_str(&format!("Address = 10.0.0.1/32 #{before}{key}{after}\n")),
                    _ => text.push_str(&format!("{before}#{key}{after}\n")),
                }
                if i == 0 {
                    text.push_str(&format!(
                        "[Peer]\nPublicKey = {PUB}\nPresharedKey={preshared}#{after}\n"
                    ));
                }
                keys.push(key);
            }
            let red = redact_config_text(&text);
            for key in &keys {
                proptest::prop_assert!(!red.contains(key.as_str()), "{}", red);
            }
            let restored = restore_redacted_keys(&red, &text);
            proptest::prop_assert_eq!(restored.as_str(), text.as_str());
        }
    }
}
