//! The end of a parse: checks that involve more than one line, then the typed config
//! and its source layout.

use std::collections::HashMap;
use std::sync::Arc;

use ipnet::IpNet;
use zeroize::Zeroizing;

use super::{At, InterfaceDraft, Parser, PeerDraft, Span};
use crate::error::{Diagnostic, DiagnosticCode as Code, ParseErrors, Severity};
use crate::keys::{PrivateKey, PublicKey};
use crate::model::{Config, Interface, Parsed, Peer};
use crate::print::{Source, SourceSection};
use crate::suggest::Key;

impl Parser<'_> {
    pub(super) fn finish(mut self) -> Result<Parsed, ParseErrors> {
        self.close_section(self.text.len());
        let epilogue = self.content_end..self.text.len();
        let (Some(mut interface), Some(iface_span)) = (self.interface.take(), self.interface_span)
        else {
            let message = "no `[Interface]` section; a config needs one, with at least a \
                           `PrivateKey`"
                .to_owned();
            let start = At {
                line: 1,
                column: 1,
                span: 0..0,
            };
            self.error(&start, None, Code::MissingInterface, message);
            return Err(ParseErrors::new(self.diagnostics));
        };
        let peers = std::mem::take(&mut self.peers);
        self.check(&interface, iface_span, &peers);
        if self.diagnostics.iter().any(Diagnostic::is_error) {
            return Err(ParseErrors::new(self.diagnostics));
        }
        // Both are present when no error was reported; the `else` arms are unreachable.
        let Some(private_key) = interface.private_key.take() else {
            return Err(ParseErrors::new(self.diagnostics));
        };
        let [pre_up, post_up, pre_down, post_down] = std::mem::take(&mut interface.hooks);
        let interface = Interface {
            private_key,
            listen_port: interface.listen_port,
            fwmark: interface.fwmark,
            addresses: interface.addresses,
            dns: interface.dns,
            dns_search: interface.dns_search,
            mtu: interface.mtu,
            table: interface.table,
            pre_up,
            post_up,
            pre_down,
            post_down,
            save_config: interface.save_config,
        };
        let mut sections = Vec::with_capacity(peers.len());
        for draft in peers {
            let Some((public_key, _)) = draft.public_key else {
                return Err(ParseErrors::new(self.diagnostics));
            };
            let peer = Peer {
                public_key,
                preshared_key: draft.preshared_key,
                allowed_ips: draft.allowed_ips.into_iter().map(|(n, _)| n).collect(),
                endpoint: draft.endpoint,
                persistent_keepalive: draft.keepalive.map(|(k, _)| k),
            };
            sections.push(self.source_section(draft.span, peer));
        }
        let peers = sections.iter().map(|s| s.value.clone()).collect();
        let crlf = self
            .text
            .find('\n')
            .is_some_and(|i| self.text[..i].ends_with('\r'));
        let source = Source {
            text: Zeroizing::new(self.text.to_owned()),
            crlf,
            interface: self.source_section(iface_span, interface.clone()),
            // Without errors the spans are exactly the interface and the peers, in order.
            interface_position: iface_span,
            peers: sections,
            epilogue,
        };
        let mut warnings = self.diagnostics;
        warnings.sort_by_key(|d| (d.line, d.column));
        Ok(Parsed {
            config: Config {
                interface,
                peers,
                source: Some(Arc::new(source)),
            },
            warnings,
        })
    }

    fn source_section<T>(&self, span: usize, value: T) -> SourceSection<T> {
        let (lead, body) = self
            .spans
            .get(span)
            .map_or((0..0, 0..0), |s| (s.lead.clone(), s.body_start..s.body_end));
        SourceSection { value, lead, body }
    }

    /// Checks that involve more than one line: required keys, duplicate peers, and the
    /// warnings about keepalives and AllowedIPs.
    fn check(&mut self, interface: &InterfaceDraft, iface_span: usize, peers: &[PeerDraft]) {
        let header = |spans: &[Span], i: usize| {
            spans.get(i).map_or(
                At {
                    line: 1,
                    column: 1,
                    span: 0..0,
                },
                |s| s.header.clone(),
            )
        };
        let has = |spans: &[Span], i: usize, key: Key| {
            spans.get(i).is_some_and(|s| s.seen.contains_key(&key))
        };
        if interface.private_key.is_none() && !has(&self.spans, iface_span, Key::PrivateKey) {
            let message = "`[Interface]` has no `PrivateKey`; add `PrivateKey = <key>` (a new \
                           one can be generated)"
                .to_owned();
            let at = header(&self.spans, iface_span);
            self.error(&at, Some("PrivateKey"), Code::MissingPrivateKey, message);
        }
        let own_public = interface.private_key.as_ref().map(PrivateKey::public_key);
        let mut by_key: HashMap<PublicKey, usize> = HashMap::new();
        let mut routed: HashMap<IpNet, usize> = HashMap::new();
        for peer in peers {
            let at = header(&self.spans, peer.span);
            match &peer.public_key {
                None if !has(&self.spans, peer.span, Key::PublicKey) => {
                    let message = "`[Peer]` has no `PublicKey`; add `PublicKey = <the peer's \
                                   public key>`"
                        .to_owned();
                    self.error(&at, Some("PublicKey"), Code::MissingPublicKey, message);
                }
                None => {}
                Some((key, key_at)) => {
                    if let Some(first) = by_key.insert(*key, at.line) {
                        let message = format!(
                            "`PublicKey`: the peer on line {first} has the same public key; \
                             each peer must appear once, so merge the two sections"
                        );
                        self.error(key_at, Some("PublicKey"), Code::DuplicatePeer, message);
                    }
                    if Some(*key) == own_public {
                        let message = "`PublicKey`: this is the interface's own public key; a \
                                       peer needs the public key of the other side"
                            .to_owned();
                        self.error(key_at, Some("PublicKey"), Code::OwnPublicKey, message);
                    }
                }
            }
            if let (Some((_, k_at)), None) = (&peer.keepalive, &peer.endpoint)
                && !has(&self.spans, peer.span, Key::Endpoint)
            {
                let message = "`PersistentKeepalive` on a peer with no `Endpoint` does nothing \
                               until the peer contacts us; add an `Endpoint` or remove it"
                    .to_owned();
                let (sev, code) = (Severity::Warning, Code::KeepaliveWithoutEndpoint);
                self.report(k_at, Some("PersistentKeepalive"), sev, code, message);
            }
            for (net, net_at) in &peer.allowed_ips {
                let net = net.trunc();
                match routed.insert(net, at.line) {
                    Some(other) if other != at.line => {
                        let message = format!(
                            "`AllowedIPs`: `{net}` is also an AllowedIP of the peer on line \
                             {other}; WireGuard gives a prefix to one peer only, the last one \
                             configured"
                        );
                        let (sev, code) = (Severity::Warning, Code::AllowedIpOnTwoPeers);
                        self.report(net_at, Some("AllowedIPs"), sev, code, message);
                    }
                    _ => {}
                }
            }
        }
    }
}
