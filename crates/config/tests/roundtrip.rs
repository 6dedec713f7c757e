//! Property tests: print/parse round trips on generated configs, exact reprinting of
//! styled text, edits, and no panic on any input.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::num::{NonZeroU16, NonZeroU32};

use culvert_config::{
    Config, Endpoint, Host, Interface, IpNet, Peer, PresharedKey, PrivateKey, PublicKey, Table,
    decode_qr, import_zip, parse, qr_png,
};
use proptest::prelude::*;

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<u32>().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a))),
        any::<u128>().prop_map(|a| IpAddr::V6(Ipv6Addr::from(a))),
    ]
}

fn net() -> impl Strategy<Value = IpNet> {
    (ip(), any::<u8>()).prop_map(|(ip, len)| {
        let max = if ip.is_ipv4() { 33 } else { 129 };
        IpNet::new(ip, len % max).unwrap()
    })
}

fn domain() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_-]{0,8}(\\.[a-z0-9][a-z0-9-]{0,8}){0,3}\\.?"
}

/// Any text a hook can hold: no `#`, no line break, no spaces at the ends.
fn hook() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 %;'\"$/_.=:,\\[\\]-]{0,40}".prop_map(|s| s.trim().to_owned())
}

fn table() -> impl Strategy<Value = Table> {
    prop_oneof![
        Just(Table::Off),
        Just(Table::Auto),
        any::<u32>().prop_map(Table::Id),
        "[a-z_][a-z0-9_.-]{0,12}"
            .prop_filter("not a keyword", |s| s != "off" && s != "auto")
            .prop_map(Table::Name),
    ]
}

fn endpoint() -> impl Strategy<Value = Endpoint> {
    let host = prop_oneof![ip().prop_map(Host::Ip), domain().prop_map(Host::Name)];
    (host, 1u16..).prop_map(|(host, port)| Endpoint { host, port })
}

fn peer() -> impl Strategy<Value = Peer> {
    (
        any::<[u8; 32]>(),
        proptest::option::of(any::<[u8; 32]>()),
        prop::collection::vec(net(), 0..4),
        proptest::option::of(endpoint()),
        proptest::option::of(1u16..),
    )
        .prop_map(|(key, psk, allowed_ips, endpoint, keepalive)| Peer {
            public_key: PublicKey::from_bytes(key),
            preshared_key: psk.map(PresharedKey::from_bytes),
            allowed_ips,
            endpoint,
            persistent_keepalive: keepalive.and_then(NonZeroU16::new),
        })
}

fn interface() -> impl Strategy<Value = Interface> {
    let basics = (
        any::<[u8; 32]>(),
        proptest::option::of(any::<u16>()),
        proptest::option::of(1u32..),
        prop::collection::vec(net(), 0..4),
        prop::collection::vec(ip(), 0..3),
        prop::collection::vec(domain(), 0..3),
        proptest::option::of(576u16..),
        proptest::option::of(table()),
    );
    let hooks = (
        prop::collection::vec(prop::collection::vec(hook(), 0..3), 4),
        any::<bool>(),
    );
    (basics, hooks).prop_map(
        |((key, port, mark, addresses, dns, search, mtu, table), (hooks, save))| {
            let mut i = Interface::new(PrivateKey::from_bytes(key));
            i.listen_port = port;
            i.fwmark = mark.and_then(NonZeroU32::new);
            i.addresses = addresses;
            i.dns = dns;
            i.dns_search = search;
            i.mtu = mtu;
            i.table = table;
            let [a, b, c, d]: [Vec<String>; 4] = hooks.try_into().unwrap();
            (i.pre_up, i.post_up, i.pre_down, i.post_down) = (a, b, c, d);
            i.save_config = save;
            i
        },
    )
}

fn config() -> impl Strategy<Value = Config> {
    (interface(), prop::collection::vec(peer(), 0..4)).prop_map(|(interface, peers)| {
        let own = interface.public_key();
        let mut config = Config::new(interface);
        for p in peers {
            if p.public_key != own && config.peers.iter().all(|q| q.public_key != p.public_key) {
                config.peers.push(p);
            }
        }
        config
    })
}

/// Rewrites canonical text the way people write configs: any key case, odd spacing,
/// comments and blank lines anywhere, CRLF, a BOM.
fn styled(canonical: &str, choices: &[u8], crlf: bool, bom: bool) -> String {
    let mut out = String::from(if bom { "\u{feff}" } else { "" });
    let nl = if crlf { "\r\n" } else { "\n" };
    let mut pick = choices.iter().copied().cycle();
    let mut next = || pick.next().unwrap_or(0);
    for line in canonical.lines() {
        match next() % 5 {
            0 => out.push_str(&format!("# a comment{nl}")),
            1 => out.push_str(nl),
            _ => {}
        }
        let (head, tail) = match line.split_once(" = ").or_else(|| line.split_once(" =")) {
            Some((key, value)) => (key.to_owned(), Some(value.to_owned())),
            None => (line.to_owned(), None),
        };
        let head = match next() % 3 {
            0 => head.to_lowercase(),
            1 => head.to_uppercase(),
            _ => head,
        };
        let pad = ["", " ", "\t", "   "];
        out.push_str(pad[usize::from(next() % 4)]);
        out.push_str(&head);
        if let Some(value) = tail {
            out.push_str(pad[usize::from(next() % 4)]);
            out.push('=');
            out.push_str(pad[usize::from(next() % 4)]);
            out.push_str(&value);
        }
        out.push_str(pad[usize::from(next() % 4)]);
        if next() % 4 == 0 {
            out.push_str(" # note");
        }
        out.push_str(nl);
    }
    if next() % 2 == 0 {
        out.push_str("# the end");
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn generated_configs_print_and_parse_back(config in config()) {
        let text = config.to_text();
        let parsed = parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(&parsed.config, &config);
        prop_assert_eq!(parsed.config.to_text(), text);
        prop_assert!(config.validate().is_ok());
    }

    #[test]
    fn styled_text_is_kept_exactly(
        config in config(),
        choices in prop::collection::vec(any::<u8>(), 1..64),
        crlf in any::<bool>(),
        bom in any::<bool>(),
    ) {
        let text = styled(&config.to_canonical_text(), &choices, crlf, bom);
        let parsed = parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(&parsed.config, &config);
        prop_assert_eq!(parsed.config.to_text(), text);
    }

    #[test]
    fn edits_print_text_that_parses_to_the_edited_config(
        config in config(),
        choices in prop::collection::vec(any::<u8>(), 1..64),
        edit in 0u8..6,
        extra in peer(),
    ) {
        let text = styled(&config.to_canonical_text(), &choices, choices[0] % 2 == 0, false);
        let mut edited = parse(&text).unwrap().config;
        match edit {
            0 => edited.interface.mtu = Some(1280),
            1 => { edited.peers.pop(); }
            2 => edited.peers.reverse(),
            3 => if edited.peers.iter().all(|p| p.public_key != extra.public_key) {
                edited.peers.insert(0, extra);
            },
            4 => if let Some(p) = edited.peers.last_mut() { p.persistent_keepalive = None; p.allowed_ips.clear(); },
            _ => edited.interface.post_up.push("echo edited".into()),
        }
        let printed = edited.to_text();
        let reparsed = parse(&printed).map_err(|e| TestCaseError::fail(format!("{e}\n{printed}")))?;
        prop_assert_eq!(reparsed.config, edited);
        // An edit of the interface leaves the peers' text, comments and all, untouched.
        if let (0, Some(first_peer)) = (edit, text.to_lowercase().find("[peer]")) {
            prop_assert!(printed.ends_with(&text[first_peer..]), "{}\n---\n{}", text, printed);
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        check_text(&text)?;
    }

    #[test]
    fn config_like_text_never_panics(text in config_like()) {
        check_text(&text)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_importers(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = import_zip(&bytes);
        let _ = decode_qr(&bytes);
        check_text(&String::from_utf8_lossy(&bytes))?;
    }
}

proptest! {
    // Each case inflates a zip or decodes an image: fewer cases keep the suite fast.
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn damaged_zips_never_panic(flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let server = parse(include_str!("data/server.conf")).unwrap().config;
        let name = culvert_config::TunnelName::new("server").unwrap();
        let mut zip = culvert_config::export_zip([(&name, &server)]).unwrap();
        for (at, byte) in flips {
            let i = at.index(zip.len());
            zip[i] ^= byte;
        }
        let _ = import_zip(&zip);
    }

    #[test]
    fn damaged_images_never_panic(flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut png = qr_png("[Interface]").unwrap();
        // Leave the signature alone so the damage reaches the decoders.
        for (at, byte) in flips {
            let i = 8 + at.index(png.len() - 8);
            png[i] ^= byte;
        }
        let _ = decode_qr(&png);
    }
}

/// No panic; and a config that parses prints back to itself, exactly and canonically.
fn check_text(text: &str) -> Result<(), TestCaseError> {
    if let Ok(parsed) = parse(text) {
        prop_assert_eq!(parsed.config.to_text(), text);
        let canonical = parsed.config.to_canonical_text();
        let again =
            parse(&canonical).map_err(|e| TestCaseError::fail(format!("{e}\n{canonical}")))?;
        prop_assert_eq!(again.config, parsed.config);
    }
    Ok(())
}

/// Mostly valid configs in wg-quick's syntax, with a few lines damaged, so that both
/// the round trip and the error paths see realistic input.
fn config_like() -> impl Strategy<Value = String> {
    const KEY: &str = "iPCuFiRCvk2w1b0yPMeCpM2pzAbuV6VpaQ+LtBa1Jkw=";
    let iface_line = prop::sample::select(vec![
        "Address = 10.0.0.1/24, fd00::1/64",
        "  address=10.1.1.1 # x",
        "DNS = 1.1.1.1 example.com",
        "MTU = 1420",
        "Table = off",
        "FwMark = 0x1f",
        "ListenPort = 51820",
        "PostUp = iptables -A FORWARD -i %i -j ACCEPT; echo done",
        "SaveConfig = true",
        "# comment",
        "",
    ]);
    let peer_line = prop::sample::select(vec![
        "AllowedIPs = 0.0.0.0/0, ::/0",
        "allowedips = 172.17.0.11/20",
        "Endpoint = [::1]:51820",
        "Endpoint = vpn.example.com:51820",
        "PersistentKeepalive = 25",
        "PresharedKey = iPCuFiRCvk2w1b0yPMeCpM2pzAbuV6VpaQ+LtBa1Jkw=",
        "# c",
        "",
    ]);
    let garbage = prop_oneof![
        prop::sample::select(vec![
            "[peer",
            "[Peers]",
            "Adress = x",
            "PublicKey = abc",
            "MTU = 1",
            "= 1",
            "[Interface]"
        ])
        .prop_map(str::to_owned),
        "[ -~]{0,30}",
        any::<String>(),
    ];
    let peers = prop::collection::vec(
        (any::<[u8; 32]>(), prop::collection::vec(peer_line, 0..4)),
        0..3,
    );
    (
        prop::collection::vec(iface_line, 0..5),
        peers,
        prop::collection::vec((any::<prop::sample::Index>(), garbage), 0..3),
        any::<bool>(),
    )
        .prop_map(|(iface, peers, damage, crlf)| {
            let mut lines: Vec<String> = vec!["[Interface]".into(), format!("PrivateKey = {KEY}")];
            lines.extend(iface.into_iter().map(str::to_owned));
            for (key, body) in peers {
                lines.push("[Peer]".into());
                lines.push(format!(
                    "PublicKey = {}",
                    PublicKey::from_bytes(key).to_base64()
                ));
                lines.extend(body.into_iter().map(str::to_owned));
            }
            for (at, line) in damage {
                let i = at.index(lines.len());
                lines[i] = line;
            }
            lines.join(if crlf { "\r\n" } else { "\n" })
        })
}
