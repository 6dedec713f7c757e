//! Live validation for the editor: culvert-config's diagnostics, located, and the
//! public key derived from the private key as it is typed.

use culvert_config::{Diagnostic, PrivateKey, Severity};
use culvert_ipc::REDACTED;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Validation {
    /// No error (warnings allowed): the config can be saved.
    pub ok: bool,
    pub diagnostics: Vec<EditorDiagnostic>,
    /// Derived from `PrivateKey`; `None` when it is missing, invalid or hidden.
    pub public_key: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EditorDiagnostic {
    pub line: usize,
    pub column: usize,
    pub span: Span,
    pub key: Option<String>,
    pub severity: Severity,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// A stand-in for a hidden key while parsing: the service puts the stored key back
/// on save, so the placeholder must not be reported as an invalid key.
const STAND_IN_KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

pub fn validate(text: &str) -> Validation {
    // The stand-in is longer than the placeholder: report spans of the user's text.
    let stand_ins: Vec<usize> = text.match_indices(REDACTED).map(|(at, _)| at).collect();
    let parsed_text = text.replace(REDACTED, STAND_IN_KEY);
    let diagnostics = match culvert_config::parse(&parsed_text) {
        Ok(parsed) => parsed.warnings,
        Err(errors) => errors.into_diagnostics(),
    };
    let diagnostics: Vec<EditorDiagnostic> = diagnostics
        .into_iter()
        .map(|d| located(d, &stand_ins))
        .collect();
    Validation {
        ok: !diagnostics.iter().any(|d| d.severity == Severity::Error),
        diagnostics,
        public_key: derived_public_key(text),
    }
}

/// `d` with its byte span moved back from the parsed text to the user's.
fn located(d: Diagnostic, stand_ins: &[usize]) -> EditorDiagnostic {
    let grown = STAND_IN_KEY.len() - REDACTED.len();
    let back = |offset: usize| {
        let before = stand_ins
            .iter()
            .enumerate()
            .filter(|(i, at)| **at + i * grown < offset)
            .count();
        offset.saturating_sub(before * grown)
    };
    EditorDiagnostic {
        line: d.line,
        column: d.column,
        span: Span {
            start: back(d.span.start),
            end: back(d.span.end),
        },
        key: d.key,
        severity: d.severity,
        message: d.message,
    }
}

/// The public key of the `[Interface]`'s `PrivateKey`, read straight from the text
/// so that it shows while other lines still have errors.
fn derived_public_key(text: &str) -> Option<String> {
    let mut in_interface = false;
    let mut found = None;
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.starts_with('[') {
            in_interface = line.eq_ignore_ascii_case("[interface]");
            continue;
        }
        if let Some((key, value)) = line.split_once('=')
            && in_interface
            && key.trim().eq_ignore_ascii_case("privatekey")
        {
            found = Some(value.trim());
        }
    }
    let key = PrivateKey::from_base64(found?).ok()?;
    Some(key.public_key().to_base64())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRIVATE: &str = "YNqHbfBQKaGvzefSSgsXh2eEfP2QTiDY8wJbrWbxwlM=";

    #[test]
    fn a_good_config_is_ok_with_its_public_key() {
        let text = format!("[Interface]\nPrivateKey = {PRIVATE}\nAddress = 10.0.0.2/32\n");
        let v = validate(&text);
        assert!(v.ok, "{v:?}");
        let expected = PrivateKey::from_base64(PRIVATE)
            .unwrap()
            .public_key()
            .to_base64();
        assert_eq!(v.public_key.as_deref(), Some(expected.as_str()));
    }

    #[test]
    fn errors_are_located_and_block_saving() {
        let text = format!("[Interface]\nPrivateKey = {PRIVATE}\nAdress = 10.0.0.2/32\n");
        let v = validate(&text);
        assert!(!v.ok);
        let d = v
            .diagnostics
            .iter()
            .find(|d| d.severity == Severity::Error)
            .unwrap();
        assert_eq!((d.line, d.column), (3, 1), "{d:?}");
        assert_eq!(&text[d.span.start..d.span.end], "Adress");
        // The key is still derived while another line is wrong.
        assert!(v.public_key.is_some());
    }

    #[test]
    fn hidden_keys_are_accepted_and_spans_stay_in_the_users_text() {
        let text = format!(
            "[Interface]\nPrivateKey = {REDACTED}\n\n[Peer]\nPublicKey = {}\nPresharedKey = {REDACTED}\nAllowedIPs = 10.0.0.0/33\n",
            PrivateKey::from_base64(PRIVATE)
                .unwrap()
                .public_key()
                .to_base64()
        );
        let v = validate(&text);
        assert!(!v.ok);
        assert_eq!(v.public_key, None, "a hidden key derives nothing");
        let d = &v.diagnostics[0];
        assert_eq!(d.line, 7, "{v:?}");
        assert!(text[d.span.start..d.span.end].contains("33"), "{d:?}");

        let fixed = text.replace("/33", "/24");
        assert!(validate(&fixed).ok, "{:?}", validate(&fixed));
    }

    #[test]
    fn nonsense_is_refused_without_a_panic() {
        for text in [
            "",
            "\u{feff}",
            "[Peer]",
            "=\n=",
            "[Interface]\nPrivateKey = (hidden)(hidden)",
        ] {
            let v = validate(text);
            assert!(!v.ok, "{text:?} {v:?}");
        }
    }
}
