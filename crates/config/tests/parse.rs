//! Parsing: the article's configs, wg-quick's syntax, and every diagnostic.

use std::net::IpAddr;
use std::num::{NonZeroU16, NonZeroU32};

use culvert_config::{
    Diagnostic, DiagnosticCode, Host, IpNet, ParseErrors, Parsed, PrivateKey, PublicKey, Severity,
    Table, parse,
};

const SERVER_PRIVATE: &str = "iPCuFiRCvk2w1b0yPMeCpM2pzAbuV6VpaQ+LtBa1Jkw=";
const SERVER_PUBLIC: &str = "XNNO4Pin2Zjh8+OHu8l1KWf0eBPwuE3ucLCEXKyKBls=";
const CLIENT_PRIVATE: &str = "4E8tBN64xGX641R4Aaz58ss3/aCNWc5ioap8xcHBjlk=";
const CLIENT_PUBLIC: &str = "mYckSOFCVKnTxkL5EPKhdCKIBm6O892er9co9w11TCs=";
const OTHER_PUBLIC: &str = "Syt2XNgua/kjwURD5cBfab5mVROkPkj0CxsWOw13twM=";
const PSK: &str = "7ZKEyK6nKO5k3iCLa2HQAVJ7tdwqS29AAYVQFWzeDbs=";

fn ok(text: &str) -> Parsed {
    match parse(text) {
        Ok(parsed) => parsed,
        Err(e) => panic!("expected the config to parse, got:\n{e}"),
    }
}

fn errors(text: &str) -> Vec<Diagnostic> {
    match parse(text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e.errors().cloned().collect(),
    }
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn interface(extra: &str) -> String {
    format!("[Interface]\nPrivateKey = {SERVER_PRIVATE}\n{extra}")
}

#[test]
fn article_server_config_parses() {
    let text = include_str!("data/server.conf");
    let Parsed { config, warnings } = ok(text);
    assert!(warnings.is_empty(), "{warnings:?}");
    let i = &config.interface;
    assert_eq!(i.public_key().to_base64(), SERVER_PUBLIC);
    assert_eq!(i.addresses, vec![net("10.100.0.1/16")]);
    assert!(i.save_config);
    assert_eq!(i.listen_port, Some(51820));
    assert_eq!(
        i.post_up,
        vec![
            "iptables -A FORWARD -i %i -j ACCEPT; iptables -t nat -A POSTROUTING -o eth0 -j \
             MASQUERADE"
        ]
    );
    assert_eq!(i.post_down.len(), 1);
    assert!(i.post_down[0].starts_with("iptables -D FORWARD"));
    assert_eq!(config.peers.len(), 1);
    assert_eq!(config.peers[0].public_key.to_base64(), CLIENT_PUBLIC);
    assert_eq!(config.peers[0].allowed_ips, vec![net("10.100.0.2/32")]);
    assert_eq!(config.to_text(), text);
}

#[test]
fn article_client_config_parses_with_the_host_bits_warning() {
    let text = include_str!("data/client.conf");
    let Parsed { config, warnings } = ok(text);
    assert_eq!(
        config.interface.dns,
        vec!["1.1.1.1".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(config.interface.addresses, vec![net("10.100.0.2/32")]);
    let peer = &config.peers[0];
    assert_eq!(peer.public_key.to_base64(), SERVER_PUBLIC);
    let endpoint = peer.endpoint.as_ref().unwrap();
    assert_eq!(endpoint.host, Host::Name("vpn.example.com".into()));
    assert_eq!(endpoint.port, 51820);
    assert_eq!(
        peer.allowed_ips,
        vec![net("10.100.0.0/16"), net("172.17.0.11/20")]
    );
    assert_eq!(peer.persistent_keepalive, NonZeroU16::new(25));

    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let w = &warnings[0];
    assert_eq!(w.severity, Severity::Warning);
    assert_eq!(w.code, DiagnosticCode::HostBitsSet);
    assert_eq!((w.line, w.column), (9, 28));
    assert_eq!(w.key.as_deref(), Some("AllowedIPs"));
    assert_eq!(&text[w.span.clone()], "172.17.0.11/20");
    assert!(w.message.contains("172.17.0.0/20"), "{}", w.message);
    assert_eq!(
        w.to_string(),
        format!("line 9, column 28: warning: {}", w.message),
        "warnings render with their position"
    );
    // The set the peer actually routes drops the host bits.
    assert!(
        peer.allowed_ips_set()
            .contains("172.17.15.255".parse().unwrap())
    );
    assert!(
        !peer
            .allowed_ips_set()
            .contains("172.17.16.0".parse().unwrap())
    );
}

#[test]
fn the_article_configs_are_each_others_peer() {
    let server = ok(include_str!("data/server.conf")).config;
    let client = ok(include_str!("data/client.conf")).config;
    assert_eq!(
        client.interface.private_key.to_base64().as_str(),
        CLIENT_PRIVATE
    );
    assert_eq!(server.peers[0].public_key, client.interface.public_key());
    assert_eq!(client.peers[0].public_key, server.interface.public_key());
}

#[test]
fn accepts_what_wg_quick_accepts() {
    // BOM, CRLF, comments everywhere, odd case, spacing, trailing spaces and tabs,
    // repeated and space-separated lists, hex fwmark, `off` values.
    let text = format!(
        "\u{feff}# my tunnel\r\n\r\n  [interface]   # the local side\r\n\
         privatekey={SERVER_PRIVATE}\t \r\n\
         ADDRESS = 10.0.0.1/24 , fd00::1/64\r\n\
         Address=10.0.1.1\r\n\
         dns = 1.1.1.1 2606:4700:4700::1111, corp.example.com,home.arpa.\r\n\
         Mtu = 1420\r\nTable = off\r\nFwMark = 0xCA6C\r\nListenPort = 0\r\n\
         PreUp = echo one\r\nPreUp = echo two # comment after a value\r\n\
         SaveConfig = FALSE\r\n\
         [PEER]\r\npublickey = {CLIENT_PUBLIC}   \r\n\
         presharedKEY = {PSK}\r\n\
         allowedips = 10.0.0.2/32,fd00::2/128\r\nAllowedIPs = 192.168.5.0/24\r\n\
         endpoint = [2001:db8::7]:51820\r\npersistentkeepalive = off\r\n\
         [Peer]\r\nPublicKey = {OTHER_PUBLIC}\r\nEndpoint = 203.0.113.9:1\r\n\
         PersistentKeepalive = 0\r\n# trailing comment"
    );
    let Parsed { config, warnings } = ok(&text);
    assert!(warnings.is_empty(), "{warnings:?}");
    let i = &config.interface;
    assert_eq!(
        i.addresses,
        vec![net("10.0.0.1/24"), net("fd00::1/64"), net("10.0.1.1/32")]
    );
    assert_eq!(i.dns.len(), 2);
    assert_eq!(i.dns_search, vec!["corp.example.com", "home.arpa."]);
    assert_eq!(i.mtu, Some(1420));
    assert_eq!(i.table, Some(Table::Off));
    assert_eq!(i.fwmark, NonZeroU32::new(0xca6c));
    assert_eq!(i.listen_port, Some(0));
    assert_eq!(i.pre_up, vec!["echo one", "echo two"]);
    assert!(!i.save_config);
    let p = &config.peers[0];
    assert_eq!(p.preshared_key.as_ref().unwrap().to_base64().as_str(), PSK);
    assert_eq!(p.allowed_ips.len(), 3);
    assert_eq!(
        p.endpoint.as_ref().unwrap().to_string(),
        "[2001:db8::7]:51820"
    );
    assert_eq!(p.persistent_keepalive, None);
    assert_eq!(config.peers[1].endpoint.as_ref().unwrap().port, 1);
    assert_eq!(config.peers[1].persistent_keepalive, None);
    assert_eq!(
        config.to_text(),
        text,
        "unedited text is printed back byte for byte"
    );
}

#[test]
fn table_values() {
    for (value, table) in [
        ("auto", Table::Auto),
        ("OFF", Table::Off),
        ("1234", Table::Id(1234)),
        ("main", Table::Name("main".into())),
    ] {
        let c = ok(&interface(&format!("Table = {value}\n"))).config;
        assert_eq!(c.interface.table, Some(table));
    }
}

#[test]
fn an_interface_without_peers_is_valid() {
    let c = ok(&interface("ListenPort = 51820\n")).config;
    assert!(c.peers.is_empty());
}

#[test]
fn unknown_keys_get_a_suggestion() {
    let e = errors(&interface("Adress = 10.0.0.1/24\n"));
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].code, DiagnosticCode::UnknownKey);
    assert_eq!((e[0].line, e[0].column), (3, 1));
    assert_eq!(
        e[0].to_string(),
        "line 3, column 1: unknown key `Adress` in [Interface]; did you mean `Address`?"
    );

    let e = errors(&format!(
        "{}[Peer]\nPublicKey = {CLIENT_PUBLIC}\n  AllowedIP = 10.0.0.0/8\n",
        interface("")
    ));
    assert_eq!((e[0].line, e[0].column), (5, 3));
    assert!(
        e[0].message.contains("did you mean `AllowedIPs`?"),
        "{}",
        e[0].message
    );

    let e = errors(&interface("Colour = blue\n"));
    assert!(
        e[0].message
            .contains("the keys of [Interface] are PrivateKey"),
        "{}",
        e[0].message
    );
}

#[test]
fn keys_in_the_wrong_section_say_where_they_belong() {
    let e = errors(&interface("Endpoint = 1.2.3.4:5\n"));
    assert_eq!(e[0].code, DiagnosticCode::KeyInWrongSection);
    assert_eq!(
        e[0].message,
        "`Endpoint` belongs in [Peer], not in [Interface]"
    );
}

#[test]
fn missing_sections_and_keys() {
    let e = errors("");
    assert_eq!(e[0].code, DiagnosticCode::MissingInterface);
    assert_eq!((e[0].line, e[0].column), (1, 1));

    let e = errors(&format!("[Peer]\nPublicKey = {CLIENT_PUBLIC}\n"));
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].code, DiagnosticCode::MissingInterface);

    let e = errors("# comment\n[Interface]\nListenPort = 1\n");
    assert_eq!(e[0].code, DiagnosticCode::MissingPrivateKey);
    assert_eq!((e[0].line, e[0].column), (2, 1));
    assert_eq!(e[0].key.as_deref(), Some("PrivateKey"));

    let e = errors(&format!(
        "{}\n[Peer]\nAllowedIPs = 10.0.0.0/8\n",
        interface("")
    ));
    assert_eq!(e[0].code, DiagnosticCode::MissingPublicKey);
    assert_eq!(e[0].line, 4);
}

#[test]
fn keys_must_be_base64_of_32_bytes() {
    let e = errors("[Interface]\nPrivateKey = abc\n");
    assert_eq!(
        e.len(),
        1,
        "an invalid key is not also reported as missing: {e:?}"
    );
    assert_eq!(e[0].code, DiagnosticCode::InvalidKey);
    assert_eq!((e[0].line, e[0].column), (2, 14));
    assert!(
        e[0].message
            .starts_with("`PrivateKey`: not a valid key: expected 44"),
        "{}",
        e[0].message
    );

    let damaged = format!("{}==", &CLIENT_PUBLIC[..42]);
    let e = errors(&format!("{}[Peer]\nPublicKey = {damaged}\n", interface("")));
    assert_eq!(e[0].code, DiagnosticCode::InvalidKey);
    assert_eq!(e[0].key.as_deref(), Some("PublicKey"));
    let e = errors(&format!(
        "{}[Peer]\nPublicKey = {CLIENT_PUBLIC}\nPresharedKey = {}\n",
        interface(""),
        "A".repeat(44)
    ));
    assert!(e[0].message.contains("33 bytes"), "{}", e[0].message);
}

#[test]
fn duplicate_peers_and_the_own_key() {
    let text = format!(
        "{}[Peer]\nPublicKey = {CLIENT_PUBLIC}\n\n[Peer]\nPublicKey = {CLIENT_PUBLIC}\n\
         [Peer]\nPublicKey = {SERVER_PUBLIC}\n",
        interface("")
    );
    let e = errors(&text);
    assert_eq!(e.len(), 2, "{e:?}");
    assert_eq!(e[0].code, DiagnosticCode::DuplicatePeer);
    assert_eq!((e[0].line, e[0].column), (7, 13));
    assert!(
        e[0].message.contains("the peer on line 3"),
        "{}",
        e[0].message
    );
    assert_eq!(e[1].code, DiagnosticCode::OwnPublicKey);
    assert_eq!(e[1].line, 9);
}

#[test]
fn bad_cidrs_and_addresses_are_located_per_item() {
    let text = format!(
        "{}[Peer]\nPublicKey = {CLIENT_PUBLIC}\nAllowedIPs = 10.0.0.0/8, 10.1.0.0/33, 300.0.0.0/8\n",
        interface("Address = 10.0.0.1/24, fd00::1/200\nDNS = 1.1.1, 8.8.8.8;9.9.9.9\n")
    );
    let e = errors(&text);
    let found: Vec<_> = e.iter().map(|d| (d.line, d.column, d.code)).collect();
    assert_eq!(
        found,
        vec![
            (3, 24, DiagnosticCode::InvalidAddress),
            (4, 7, DiagnosticCode::InvalidAddress),
            (4, 14, DiagnosticCode::InvalidAddress),
            (7, 26, DiagnosticCode::InvalidAddress),
            (7, 39, DiagnosticCode::InvalidAddress),
        ]
    );
    assert!(
        e[0].message
            .contains("/200 is too long for an IPv6 address"),
        "{}",
        e[0].message
    );
    assert!(
        e[1].message.contains("`1.1.1` is not a valid IPv4 address"),
        "{}",
        e[1].message
    );
    assert!(
        e[3].message.starts_with("`AllowedIPs`: prefix length /33"),
        "{}",
        e[3].message
    );
}

#[test]
fn ports_out_of_range() {
    let e = errors(&interface("ListenPort = 65536\n"));
    assert_eq!(e[0].code, DiagnosticCode::InvalidPort);
    assert_eq!(
        e[0].to_string(),
        "line 3, column 14: `ListenPort`: `65536` is out of range; expected a port from 0 to \
         65535 (0 picks a random port)"
    );
    let peer = |endpoint: &str| {
        format!(
            "{}[Peer]\nPublicKey = {CLIENT_PUBLIC}\nEndpoint = {endpoint}\n",
            interface("")
        )
    };
    for bad in [
        "host:0",
        "host:65536",
        "host",
        "[::1]",
        "::1:51820",
        "[::1:5",
        "300.1.2.3:5",
        "a b:5",
    ] {
        let e = errors(&peer(bad));
        assert_eq!(e[0].code, DiagnosticCode::InvalidEndpoint, "{bad}");
        assert_eq!((e[0].line, e[0].column), (5, 12), "{bad}");
    }
    let e = errors(&peer("[fd00::1]:99999"));
    assert!(
        e[0].message.contains("`99999` is out of range"),
        "{}",
        e[0].message
    );
}

#[test]
fn other_bad_values() {
    for (line, code, at) in [
        ("MTU = 100", DiagnosticCode::InvalidValue, 3),
        ("MTU = big", DiagnosticCode::InvalidValue, 3),
        ("FwMark = 0xZZ", DiagnosticCode::InvalidValue, 3),
        ("SaveConfig = yes", DiagnosticCode::InvalidValue, 3),
        ("Table = no such table", DiagnosticCode::InvalidValue, 3),
        ("ListenPort =", DiagnosticCode::InvalidValue, 3),
        (
            "ListenPort = 1\nListenPort = 2",
            DiagnosticCode::DuplicateKey,
            4,
        ),
        ("[Interface]", DiagnosticCode::DuplicateInterface, 3),
        ("[Peers]", DiagnosticCode::UnknownSection, 3),
        ("[Peer", DiagnosticCode::Syntax, 3),
        ("just words", DiagnosticCode::Syntax, 3),
        ("= 5", DiagnosticCode::Syntax, 3),
    ] {
        let e = errors(&interface(&format!("{line}\n")));
        assert_eq!(e[0].code, code, "{line}: {e:?}");
        assert_eq!(e[0].line, at, "{line}");
    }
    let e = errors(&interface("[Peers]\n"));
    assert!(
        e[0].message.contains("did you mean `[Peer]`?"),
        "{}",
        e[0].message
    );
}

#[test]
fn text_outside_a_section() {
    let e = errors(&format!("ListenPort = 5\n{}", interface("")));
    assert_eq!(e[0].code, DiagnosticCode::TextOutsideSection);
    assert_eq!((e[0].line, e[0].column), (1, 1));
    assert!(
        e[0].message
            .contains("put it under `[Interface]` or `[Peer]`"),
        "{}",
        e[0].message
    );
}

#[test]
fn every_error_is_collected_in_order() {
    let text = "Stray = 1\n[Interface]\nListenPort = 99999\nMTU = 1\nAdress = x\n[Peer]\n\
                Endpoint = nowhere\n";
    let e: ParseErrors = parse(text).unwrap_err();
    let lines: Vec<_> = e.errors().map(|d| d.line).collect();
    // Stray, ListenPort, MTU, Adress, the missing PrivateKey (at the header), the peer's
    // missing PublicKey (at its header) and its Endpoint.
    assert_eq!(lines, vec![1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(e.to_string().lines().count(), 7);
}

#[test]
fn warnings_do_not_stop_parsing() {
    let text = format!(
        "{}[Peer]\nPublicKey = {CLIENT_PUBLIC}\nPersistentKeepalive = 25\nAllowedIPs = 10.0.0.0/24\n\
         [Peer]\nPublicKey = {OTHER_PUBLIC}\nAllowedIPs = 10.0.0.5/24\n",
        interface("")
    );
    let w = ok(&text).warnings;
    let codes: Vec<_> = w.iter().map(|d| (d.line, d.code)).collect();
    assert_eq!(
        codes,
        vec![
            (5, DiagnosticCode::KeepaliveWithoutEndpoint),
            (9, DiagnosticCode::HostBitsSet),
            (9, DiagnosticCode::AllowedIpOnTwoPeers),
        ]
    );
    // Warnings come back alongside errors too, so an editor can show both.
    let e = parse(&text.replace("AllowedIPs = 10.0.0.0/24", "MTU = 1500")).unwrap_err();
    assert!(
        e.errors()
            .any(|d| d.code == DiagnosticCode::KeyInWrongSection)
    );
    assert!(
        e.warnings()
            .any(|d| d.code == DiagnosticCode::KeepaliveWithoutEndpoint)
    );
}

#[test]
fn columns_count_characters_not_bytes() {
    let e = errors(&interface("# ünïcödé\nAddress = 10.0.0.1/24, bäd, ünï\n"));
    assert_eq!(
        e.iter().map(|d| (d.line, d.column)).collect::<Vec<_>>(),
        vec![(4, 24), (4, 29)]
    );
    let e = errors(&interface("DNS = ü, 1.1.1.1, ö\n"));
    assert_eq!(e.iter().map(|d| d.column).collect::<Vec<_>>(), vec![7, 19]);
}

#[test]
fn secrets_never_appear_in_messages_or_debug() {
    // A key pasted without `=`, outside a section, and under an unknown key name.
    let texts = [
        format!("{SERVER_PRIVATE}\n[Interface]\nPrivateKey = {SERVER_PRIVATE}\n"),
        format!("[Interface]\nPrivateKey: {SERVER_PRIVATE}\n"),
        format!("[Interface]\n{SERVER_PRIVATE}"),
        format!("[Interface]\nPrivateKey = {}\n", &SERVER_PRIVATE[..40]),
        format!("[Interface]\nPrivateKey = {SERVER_PRIVATE}\nDNS = {SERVER_PRIVATE}x\n"),
    ];
    let stem = &SERVER_PRIVATE[..20];
    for text in &texts {
        let e = parse(text).unwrap_err();
        let shown = format!("{e}\n{e:?}");
        assert!(!shown.contains(stem), "{shown}");
    }
    let parsed = ok(&interface(""));
    assert!(!format!("{parsed:?}").contains(stem));
    assert!(!format!("{:?}", PrivateKey::from_base64(SERVER_PRIVATE).unwrap()).contains(stem));
    let _ = PublicKey::from_base64(SERVER_PUBLIC).unwrap();
}
