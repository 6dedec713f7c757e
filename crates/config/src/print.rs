//! Printing a config back to wg-quick text.
//!
//! A parsed config keeps its source: the text, where each section lies in it, and the
//! model each section parsed to. Printing compares the current model with those
//! snapshots instead of tracking edits, so no setter can forget to mark a change:
//! - nothing changed: the text comes back byte for byte (comments, order, spacing, CRLF);
//! - something changed: sections that did not change keep their text; a changed
//!   section keeps the comments above it and is rewritten canonically; new peers are
//!   appended; removed ones disappear with their comments.
//!
//! Every path prints text that parses back to the same model, as long as the model holds
//! only values a `.conf` can carry (see [`crate::Config::validate`]).

use std::fmt::Write as _;
use std::ops::Range;

use zeroize::Zeroizing;

use crate::error::{Diagnostic, DiagnosticCode, ParseErrors, Severity};
use crate::model::{Config, Interface, Peer};

/// The text a config was parsed from.
pub(crate) struct Source {
    pub(crate) text: Zeroizing<String>,
    /// Whether the text used CRLF line endings, which rewritten sections then follow.
    pub(crate) crlf: bool,
    pub(crate) interface: SourceSection<Interface>,
    /// How many peers came before `[Interface]` in the text.
    pub(crate) interface_position: usize,
    pub(crate) peers: Vec<SourceSection<Peer>>,
    /// Blank and comment lines after the last section.
    pub(crate) epilogue: Range<usize>,
}

/// A section's text: `lead` is the blank and comment lines above the header, `body`
/// runs from the header to the end of the section's last key line.
pub(crate) struct SourceSection<T> {
    pub(crate) value: T,
    pub(crate) lead: Range<usize>,
    pub(crate) body: Range<usize>,
}

impl Source {
    pub(crate) fn matches(&self, config: &Config) -> bool {
        config.interface == self.interface.value
            && config.peers.len() == self.peers.len()
            && config
                .peers
                .iter()
                .zip(&self.peers)
                .all(|(p, s)| *p == s.value)
    }

    fn slice(&self, range: &Range<usize>) -> &str {
        self.text.get(range.clone()).unwrap_or_default()
    }
}

pub(crate) fn to_text(config: &Config) -> String {
    let Some(source) = config.source.as_deref() else {
        return canonical(config, "\n");
    };
    if source.matches(config) {
        return source.text.to_string();
    }
    let nl = if source.crlf { "\r\n" } else { "\n" };
    let mut out = String::with_capacity(source.text.len() + 256);
    let mut used = vec![false; source.peers.len()];
    for (n, peer) in config.peers.iter().enumerate() {
        // The interface keeps its place among the peers (usually first).
        if n == source.interface_position {
            write_interface_section(&mut out, config, source, nl);
        }
        let original = source
            .peers
            .iter()
            .enumerate()
            .find(|(i, s)| !used[*i] && s.value.public_key == peer.public_key);
        end_line(&mut out, nl);
        match original {
            Some((i, section)) => {
                used[i] = true;
                out.push_str(source.slice(&section.lead));
                if section.value == *peer {
                    out.push_str(source.slice(&section.body));
                } else {
                    write_peer(&mut out, peer, nl);
                }
            }
            None => {
                if !out.is_empty() && !out.ends_with(&format!("{nl}{nl}")) {
                    out.push_str(nl);
                }
                write_peer(&mut out, peer, nl);
            }
        }
    }
    if config.peers.len() <= source.interface_position {
        write_interface_section(&mut out, config, source, nl);
    }
    end_line(&mut out, nl);
    out.push_str(source.slice(&source.epilogue));
    out
}

fn write_interface_section(out: &mut String, config: &Config, source: &Source, nl: &str) {
    end_line(out, nl);
    out.push_str(source.slice(&source.interface.lead));
    if config.interface == source.interface.value {
        out.push_str(source.slice(&source.interface.body));
    } else {
        write_interface(out, &config.interface, nl);
    }
}

/// wg-quick's layout, with keys in the order of `wg-quick(8)`.
pub(crate) fn canonical(config: &Config, nl: &str) -> String {
    let mut out = String::with_capacity(256 + 192 * config.peers.len());
    write_interface(&mut out, &config.interface, nl);
    for peer in &config.peers {
        out.push_str(nl);
        write_peer(&mut out, peer, nl);
    }
    out
}

pub(crate) fn validate(config: &Config) -> Result<Vec<Diagnostic>, ParseErrors> {
    let text = Zeroizing::new(canonical(config, "\n"));
    let parsed = crate::parse::parse(&text)?;
    if parsed.config == *config {
        return Ok(parsed.warnings);
    }
    // The text parsed, but to something else: a value the format cannot carry.
    let (key, message) = first_difference(config, &parsed.config);
    Err(ParseErrors::new(vec![Diagnostic {
        line: 1,
        column: 1,
        span: 0..0,
        key: Some(key.to_owned()),
        severity: Severity::Error,
        code: DiagnosticCode::InvalidValue,
        message,
    }]))
}

fn first_difference(want: &Config, got: &Config) -> (&'static str, String) {
    let (a, b) = (&want.interface, &got.interface);
    let unwritable = |key: &'static str, what: &str| {
        (
            key,
            format!("`{key}`: {what} cannot be written to a .conf file and read back"),
        )
    };
    let hooks = "a value with `#`, a line break, or spaces at either end";
    let checks: [(bool, &'static str, &str); 6] = [
        (a.pre_up != b.pre_up, "PreUp", hooks),
        (a.post_up != b.post_up, "PostUp", hooks),
        (a.pre_down != b.pre_down, "PreDown", hooks),
        (a.post_down != b.post_down, "PostDown", hooks),
        (
            a.dns_search != b.dns_search || a.dns != b.dns,
            "DNS",
            "a search domain that is not a domain name",
        ),
        (
            a.table != b.table,
            "Table",
            "a table name that is a number, `off`, `auto` or not a name",
        ),
    ];
    if let Some((_, key, what)) = checks.into_iter().find(|c| c.0) {
        return unwritable(key, what);
    }
    if want.peers.len() != got.peers.len() {
        return unwritable("PublicKey", "the set of peers");
    }
    for (p, q) in want.peers.iter().zip(&got.peers) {
        if p.endpoint != q.endpoint {
            return unwritable(
                "Endpoint",
                "a host name that is an IP address or not a name",
            );
        }
    }
    unwritable("Interface", "this config")
}

/// Starts a new line unless `out` is empty or already at the start of one.
fn end_line(out: &mut String, nl: &str) {
    if !out.is_empty() && !out.ends_with('\n') {
        out.push_str(nl);
    }
}

fn line(out: &mut String, key: &str, value: impl std::fmt::Display, nl: &str) {
    // Writing to a String cannot fail.
    let _ = write!(out, "{key} = {value}{nl}");
}

fn list<T: std::fmt::Display>(items: &[T]) -> String {
    let mut s = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "{item}");
    }
    s
}

fn write_interface(out: &mut String, i: &Interface, nl: &str) {
    out.push_str("[Interface]");
    out.push_str(nl);
    line(out, "PrivateKey", &*i.private_key.to_base64(), nl);
    if let Some(port) = i.listen_port {
        line(out, "ListenPort", port, nl);
    }
    if let Some(mark) = i.fwmark {
        line(out, "FwMark", format_args!("{:#x}", mark.get()), nl);
    }
    if !i.addresses.is_empty() {
        line(out, "Address", list(&i.addresses), nl);
    }
    if !i.dns.is_empty() || !i.dns_search.is_empty() {
        let mut entries: Vec<String> = i.dns.iter().map(ToString::to_string).collect();
        entries.extend(i.dns_search.iter().cloned());
        line(out, "DNS", entries.join(", "), nl);
    }
    if let Some(mtu) = i.mtu {
        line(out, "MTU", mtu, nl);
    }
    if let Some(table) = &i.table {
        line(out, "Table", table, nl);
    }
    for (key, hooks) in [
        ("PreUp", &i.pre_up),
        ("PostUp", &i.post_up),
        ("PreDown", &i.pre_down),
        ("PostDown", &i.post_down),
    ] {
        for hook in hooks {
            if hook.is_empty() {
                let _ = write!(out, "{key} ={nl}");
            } else {
                line(out, key, hook, nl);
            }
        }
    }
    if i.save_config {
        line(out, "SaveConfig", "true", nl);
    }
}

fn write_peer(out: &mut String, p: &Peer, nl: &str) {
    out.push_str("[Peer]");
    out.push_str(nl);
    line(out, "PublicKey", p.public_key, nl);
    if let Some(psk) = &p.preshared_key {
        line(out, "PresharedKey", &*psk.to_base64(), nl);
    }
    if !p.allowed_ips.is_empty() {
        line(out, "AllowedIPs", list(&p.allowed_ips), nl);
    }
    if let Some(endpoint) = &p.endpoint {
        line(out, "Endpoint", endpoint, nl);
    }
    if let Some(keepalive) = p.persistent_keepalive {
        line(out, "PersistentKeepalive", keepalive, nl);
    }
}
