//! The wg-quick parser: text in, a typed [`crate::Config`] and its source layout out, or every
//! problem found, each at its line and column.
//!
//! It follows wg-quick where wg-quick is lenient (case-insensitive keys, `#` comments
//! anywhere, lists split on commas and spaces, CRLF, a BOM) and is stricter where
//! wg-quick would fail later with a less helpful message (bad values, unknown keys), or
//! silently keep only the last value (a single-valued key given twice is an error).

use std::collections::HashMap;
use std::num::NonZeroU16;
use std::ops::Range;

use ipnet::IpNet;

use crate::error::{Diagnostic, DiagnosticCode as Code, ParseErrors, Severity};
use crate::keys::{PresharedKey, PrivateKey, PublicKey};
use crate::model::{Endpoint, Parsed};
use crate::suggest::{Key, nearest};
use crate::values::{self, DnsEntry, quote};

mod finish;

/// Parses the text of a `.conf` file.
///
/// On success the config remembers `text`, so [`crate::Config::to_text`] gives it back
/// unchanged until the config is edited. On failure every error and warning is returned.
pub fn parse(text: &str) -> Result<Parsed, ParseErrors> {
    let mut parser = Parser::new(text);
    for line in lines(text) {
        parser.line(&line);
    }
    parser.finish()
}

/// One line of input, without its line ending.
struct Line<'a> {
    number: usize,
    /// Byte offset of the line's first character in the whole text.
    start: usize,
    text: &'a str,
    /// Byte offset just past the line ending.
    end: usize,
    /// Whether columns equal byte offsets, which spares counting characters on every
    /// diagnostic of a long line.
    ascii: bool,
}

/// The length of a leading byte-order mark, which editors on Windows like to add.
fn bom_len(text: &str) -> usize {
    if text.starts_with('\u{feff}') {
        '\u{feff}'.len_utf8()
    } else {
        0
    }
}

fn lines(text: &str) -> impl Iterator<Item = Line<'_>> {
    let bom = bom_len(text);
    let mut offset = bom;
    text[bom..]
        .split_inclusive('\n')
        .enumerate()
        .map(move |(i, chunk)| {
            let start = offset;
            offset += chunk.len();
            let body = chunk.strip_suffix('\n').unwrap_or(chunk);
            let body = body.strip_suffix('\r').unwrap_or(body);
            Line {
                number: i + 1,
                start,
                text: body,
                end: offset,
                ascii: body.is_ascii(),
            }
        })
}

/// Where a diagnostic points.
#[derive(Clone)]
struct At {
    line: usize,
    column: usize,
    span: Range<usize>,
}

impl At {
    fn new(line: &Line<'_>, offset: usize, len: usize) -> At {
        At {
            line: line.number,
            column: if line.ascii {
                offset + 1
            } else {
                line.text[..offset].chars().count() + 1
            },
            span: line.start + offset..line.start + offset + len,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    None,
    Interface,
    Peer(usize),
    /// An unknown or duplicate section, already reported: its lines are skipped.
    Skip,
}

#[derive(Default)]
struct InterfaceDraft {
    private_key: Option<PrivateKey>,
    listen_port: Option<u16>,
    fwmark: Option<std::num::NonZeroU32>,
    addresses: Vec<IpNet>,
    dns: Vec<std::net::IpAddr>,
    dns_search: Vec<String>,
    mtu: Option<u16>,
    table: Option<crate::model::Table>,
    hooks: [Vec<String>; 4],
    save_config: bool,
}

#[derive(Default)]
struct PeerDraft {
    /// Index of this peer's section in `Parser::spans`.
    span: usize,
    public_key: Option<(PublicKey, At)>,
    preshared_key: Option<PresharedKey>,
    allowed_ips: Vec<(IpNet, At)>,
    endpoint: Option<Endpoint>,
    keepalive: Option<(NonZeroU16, At)>,
}

/// A section's place in the text, for printing it back.
struct Span {
    header: At,
    lead: Range<usize>,
    body_start: usize,
    body_end: usize,
    /// Keys seen so far, with their line, to refuse single-valued keys given twice.
    seen: HashMap<Key, usize>,
}

struct Parser<'a> {
    text: &'a str,
    diagnostics: Vec<Diagnostic>,
    section: Section,
    interface: Option<InterfaceDraft>,
    peers: Vec<PeerDraft>,
    spans: Vec<Span>,
    interface_span: Option<usize>,
    /// Byte offset just past the last line that was not blank or a comment.
    content_end: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser {
            text,
            diagnostics: Vec::new(),
            section: Section::None,
            interface: None,
            peers: Vec::new(),
            spans: Vec::new(),
            interface_span: None,
            content_end: bom_len(text),
        }
    }

    fn report(
        &mut self,
        at: &At,
        key: Option<&str>,
        severity: Severity,
        code: Code,
        message: String,
    ) {
        self.diagnostics.push(Diagnostic {
            line: at.line,
            column: at.column,
            span: at.span.clone(),
            key: key.map(str::to_owned),
            severity,
            code,
            message,
        });
    }

    fn error(&mut self, at: &At, key: Option<&str>, code: Code, message: String) {
        self.report(at, key, Severity::Error, code, message);
    }

    fn line(&mut self, line: &Line<'_>) {
        // wg-quick strips from the first `#` (`${line%%\#*}`), even inside a value.
        let content = line.text.find('#').map_or(line.text, |i| &line.text[..i]);
        let trimmed = content.trim();
        if trimmed.is_empty() {
            return;
        }
        let indent = content.len() - content.trim_start().len();
        if trimmed.starts_with('[') {
            self.header(line, indent, trimmed);
        } else {
            self.key_line(line, content, indent, trimmed);
        }
        self.content_end = line.end;
    }

    fn key_line(&mut self, line: &Line<'_>, content: &str, indent: usize, trimmed: &str) {
        let Some(eq) = content.find('=') else {
            let at = At::new(line, indent, trimmed.len());
            let message = match Key::lookup(trimmed) {
                Some(k) => format!("`{}` has no `=`; write `{} = value`", k.name(), k.name()),
                None => "this line has no `=`; expected `Key = value`, an `[Interface]` or \
                         `[Peer]` header, or a comment starting with #"
                    .to_owned(),
            };
            self.error(&at, None, Code::Syntax, message);
            return;
        };
        let key = content[..eq].trim();
        let raw_value = &content[eq + 1..];
        let value = raw_value.trim();
        let value_offset = eq + 1 + (raw_value.len() - raw_value.trim_start().len());
        let key_at = At::new(line, indent, key.len());
        let value_at = At::new(line, value_offset, value.len());
        if key.is_empty() {
            self.error(
                &key_at,
                None,
                Code::Syntax,
                "missing key name before `=`".to_owned(),
            );
            return;
        }
        match self.section {
            Section::None => {
                let message = format!(
                    "{} is outside any section; put it under `[Interface]` or `[Peer]`, or \
                     comment it out with #",
                    quote(key)
                );
                let key = Key::lookup(key).map(Key::name);
                self.error(&key_at, key, Code::TextOutsideSection, message);
            }
            Section::Skip => {}
            Section::Interface | Section::Peer(_) => {
                self.key_value(line, key, &key_at, value, value_offset, &value_at);
            }
        }
    }

    fn header(&mut self, line: &Line<'_>, indent: usize, trimmed: &str) {
        let at = At::new(line, indent, trimmed.len());
        let (name, rest) = match trimmed[1..].split_once(']') {
            Some((name, rest)) => (name.trim(), rest.trim()),
            None => {
                let message = format!("section header {} is missing `]`", quote(trimmed));
                self.error(&at, None, Code::Syntax, message);
                (trimmed[1..].trim(), "")
            }
        };
        if !rest.is_empty() {
            let message = format!("unexpected {} after the section header", quote(rest));
            self.error(&at, None, Code::Syntax, message);
        }
        let section = if name.eq_ignore_ascii_case("interface") {
            if let Some(first) = self.interface_span.and_then(|i| self.spans.get(i)) {
                let message = format!(
                    "a second `[Interface]` section (the first is on line {}); a config has \
                     exactly one, so merge them",
                    first.header.line
                );
                self.error(&at, None, Code::DuplicateInterface, message);
                Section::Skip
            } else {
                self.interface = Some(InterfaceDraft::default());
                self.interface_span = Some(self.spans.len());
                Section::Interface
            }
        } else if name.eq_ignore_ascii_case("peer") {
            self.peers.push(PeerDraft {
                span: self.spans.len(),
                ..PeerDraft::default()
            });
            Section::Peer(self.peers.len() - 1)
        } else {
            let hint = match nearest(name, ["Interface", "Peer"]) {
                Some(s) => format!("did you mean `[{s}]`?"),
                None => "a config has one `[Interface]` and any number of `[Peer]`s".to_owned(),
            };
            let message = format!("unknown section {}; {hint}", quote(&format!("[{name}]")));
            self.error(&at, None, Code::UnknownSection, message);
            Section::Skip
        };
        self.close_section(line.start);
        self.section = section;
        self.spans.push(Span {
            header: at,
            lead: 0..0,
            body_start: line.start,
            body_end: line.start,
            seen: HashMap::new(),
        });
        // Comments and blank lines just above a header belong to the section below.
        let lead_start = self
            .spans
            .iter()
            .rev()
            .nth(1)
            .map_or(bom_len(self.text), |s| s.body_end);
        if let Some(span) = self.spans.last_mut() {
            span.lead = lead_start..line.start;
        }
    }

    /// Ends the current section's body after its last content line.
    fn close_section(&mut self, next_header: usize) {
        let end = self.content_end.min(next_header);
        if let Some(span) = self.spans.last_mut() {
            span.body_end = end.max(span.body_start);
        }
    }

    fn key_value(
        &mut self,
        line: &Line<'_>,
        key_text: &str,
        key_at: &At,
        value: &str,
        value_offset: usize,
        value_at: &At,
    ) {
        let in_interface = self.section == Section::Interface;
        let section_name = if in_interface {
            "[Interface]"
        } else {
            "[Peer]"
        };
        let Some(key) = Key::lookup(key_text) else {
            let hint = match nearest(key_text, Key::all_in(in_interface).map(Key::name)) {
                Some(s) => format!("did you mean `{s}`?"),
                None => {
                    let known: Vec<_> = Key::all_in(in_interface).map(Key::name).collect();
                    format!("the keys of {section_name} are {}", known.join(", "))
                }
            };
            let message = format!("unknown key {} in {section_name}; {hint}", quote(key_text));
            let shown = (quote(key_text) != "this value").then_some(key_text);
            self.error(key_at, shown, Code::UnknownKey, message);
            return;
        };
        let name = key.name();
        if key.in_interface() != in_interface {
            let home = if key.in_interface() {
                "[Interface]"
            } else {
                "[Peer]"
            };
            let message = format!("`{name}` belongs in {home}, not in {section_name}");
            self.error(key_at, Some(name), Code::KeyInWrongSection, message);
            return;
        }
        if let Some(span) = self.spans.last_mut() {
            if let Some(&first) = span.seen.get(&key).filter(|_| !key.repeatable()) {
                let message =
                    format!("`{name}` is set twice (first on line {first}); keep only one");
                self.error(key_at, Some(name), Code::DuplicateKey, message);
                return;
            }
            span.seen.entry(key).or_insert(line.number);
        }
        let needs_value = !key.repeatable() && key != Key::SaveConfig;
        if value.is_empty() && needs_value {
            let message = format!("`{name}` has no value");
            self.error(value_at, Some(name), Code::InvalidValue, message);
            return;
        }
        let result = match self.section {
            Section::Interface => self.interface_value(line, key, value, value_offset),
            Section::Peer(i) => self.peer_value(i, line, key, value, value_offset, value_at),
            Section::None | Section::Skip => Ok(()),
        };
        if let Err((code, message)) = result {
            self.error(value_at, Some(name), code, format!("`{name}`: {message}"));
        }
    }

    fn interface_value(
        &mut self,
        line: &Line<'_>,
        key: Key,
        value: &str,
        value_offset: usize,
    ) -> Result<(), (Code, String)> {
        let mut list_errors = Vec::new();
        let Some(draft) = self.interface.as_mut() else {
            return Ok(());
        };
        match key {
            Key::PrivateKey => {
                let k = PrivateKey::from_base64(value)
                    .map_err(|e| (Code::InvalidKey, format!("not a valid key: {e}")))?;
                draft.private_key = Some(k);
            }
            Key::ListenPort => {
                draft.listen_port = Some(values::listen_port(value).map_err(port_error)?);
            }
            Key::FwMark => draft.fwmark = values::fwmark(value).map_err(invalid)?,
            Key::Mtu => draft.mtu = Some(values::mtu(value).map_err(invalid)?),
            Key::Table => draft.table = Some(values::table(value).map_err(invalid)?),
            Key::SaveConfig => draft.save_config = values::boolean(value).map_err(invalid)?,
            Key::PreUp | Key::PostUp | Key::PreDown | Key::PostDown => {
                let slot = match key {
                    Key::PreUp => 0,
                    Key::PostUp => 1,
                    Key::PreDown => 2,
                    _ => 3,
                };
                draft.hooks[slot].push(value.to_owned());
            }
            Key::Address => {
                for (offset, item) in values::split_list(value) {
                    match values::cidr(item) {
                        Ok(net) => draft.addresses.push(net),
                        Err(e) => list_errors.push((value_offset + offset, item.len(), e)),
                    }
                }
            }
            Key::Dns => {
                for (offset, item) in values::split_list(value) {
                    match values::dns_entry(item) {
                        Ok(DnsEntry::Server(ip)) => draft.dns.push(ip),
                        Ok(DnsEntry::Search(domain)) => draft.dns_search.push(domain),
                        Err(e) => list_errors.push((value_offset + offset, item.len(), e)),
                    }
                }
            }
            Key::PublicKey
            | Key::PresharedKey
            | Key::AllowedIps
            | Key::Endpoint
            | Key::PersistentKeepalive => {}
        }
        for (offset, len, message) in list_errors {
            let at = At::new(line, offset, len);
            self.error(
                &at,
                Some(key.name()),
                Code::InvalidAddress,
                format!("`{}`: {message}", key.name()),
            );
        }
        Ok(())
    }

    fn peer_value(
        &mut self,
        index: usize,
        line: &Line<'_>,
        key: Key,
        value: &str,
        value_offset: usize,
        value_at: &At,
    ) -> Result<(), (Code, String)> {
        let mut item_diagnostics = Vec::new();
        let Some(draft) = self.peers.get_mut(index) else {
            return Ok(());
        };
        match key {
            Key::PublicKey => {
                let k = PublicKey::from_base64(value)
                    .map_err(|e| (Code::InvalidKey, format!("not a valid key: {e}")))?;
                draft.public_key = Some((k, value_at.clone()));
            }
            Key::PresharedKey => {
                let k = PresharedKey::from_base64(value)
                    .map_err(|e| (Code::InvalidKey, format!("not a valid key: {e}")))?;
                draft.preshared_key = Some(k);
            }
            Key::Endpoint => {
                let e = values::endpoint(value).map_err(|e| (Code::InvalidEndpoint, e))?;
                draft.endpoint = Some(e);
            }
            Key::PersistentKeepalive => {
                if let Some(k) = values::keepalive(value).map_err(invalid)? {
                    draft.keepalive = Some((k, value_at.clone()));
                }
            }
            Key::AllowedIps => {
                for (offset, item) in values::split_list(value) {
                    let at = At::new(line, value_offset + offset, item.len());
                    match values::cidr(item) {
                        Ok(net) => {
                            if net.trunc() != net {
                                let message = format!(
                                    "`AllowedIPs`: `{net}` has host bits set; it means `{}`, \
                                     so write that instead",
                                    net.trunc()
                                );
                                item_diagnostics.push((
                                    at.clone(),
                                    Severity::Warning,
                                    Code::HostBitsSet,
                                    message,
                                ));
                            }
                            draft.allowed_ips.push((net, at));
                        }
                        Err(e) => {
                            let message = format!("`AllowedIPs`: {e}");
                            item_diagnostics.push((
                                at,
                                Severity::Error,
                                Code::InvalidAddress,
                                message,
                            ));
                        }
                    }
                }
            }
            _ => {}
        }
        for (at, severity, code, message) in item_diagnostics {
            self.report(&at, Some("AllowedIPs"), severity, code, message);
        }
        Ok(())
    }
}

fn invalid(message: String) -> (Code, String) {
    (Code::InvalidValue, message)
}

fn port_error(message: String) -> (Code, String) {
    (Code::InvalidPort, message)
}
