//! Printing: exact text for unedited configs, section-wise edits, the canonical form.

use std::num::NonZeroU16;

use culvert_config::{
    Config, DiagnosticCode, Endpoint, Host, Interface, Peer, PrivateKey, PublicKey, Table, parse,
};

const SERVER_PRIVATE: &str = "iPCuFiRCvk2w1b0yPMeCpM2pzAbuV6VpaQ+LtBa1Jkw=";
const CLIENT_PUBLIC: &str = "mYckSOFCVKnTxkL5EPKhdCKIBm6O892er9co9w11TCs=";
const OTHER_PUBLIC: &str = "Syt2XNgua/kjwURD5cBfab5mVROkPkj0CxsWOw13twM=";

fn messy() -> String {
    format!(
        "# Office tunnel, written by hand.\n\
         [Interface]  # us\n\
         privatekey   =   {SERVER_PRIVATE}\n\
         # the port the firewall opens\n\
         ListenPort=51820\n\
         \n\
         # Alice's laptop\n\
         [Peer]\n\
         PublicKey = {CLIENT_PUBLIC}\n\
         allowedips = 10.0.0.2/32   # laptop\n\
         \n\
         # Bob's phone\n\
         [Peer]\n\
         PublicKey = {OTHER_PUBLIC}\n\
         AllowedIPs = 10.0.0.3/32\n\
         \n\
         # end of file\n"
    )
}

fn parsed(text: &str) -> Config {
    parse(text).unwrap_or_else(|e| panic!("{e}")).config
}

#[test]
fn an_unedited_config_prints_exactly_as_written() {
    let text = messy();
    let config = parsed(&text);
    assert!(!config.is_edited());
    assert_eq!(config.to_text(), text);
    let crlf = text.replace('\n', "\r\n");
    assert_eq!(parsed(&crlf).to_text(), crlf);
    // An edit that is undone is no edit.
    let mut c = parsed(&text);
    c.interface.listen_port = Some(1);
    assert!(c.is_edited());
    c.interface.listen_port = Some(51820);
    assert_eq!(c.to_text(), text);
}

#[test]
fn editing_a_peer_rewrites_only_that_peer() {
    let mut config = parsed(&messy());
    config.peers[1].persistent_keepalive = NonZeroU16::new(25);
    config.peers[1].endpoint = Some("phone.example.net:51820".parse().unwrap());
    let text = config.to_text();
    let expected = format!(
        "# Office tunnel, written by hand.\n\
         [Interface]  # us\n\
         privatekey   =   {SERVER_PRIVATE}\n\
         # the port the firewall opens\n\
         ListenPort=51820\n\
         \n\
         # Alice's laptop\n\
         [Peer]\n\
         PublicKey = {CLIENT_PUBLIC}\n\
         allowedips = 10.0.0.2/32   # laptop\n\
         \n\
         # Bob's phone\n\
         [Peer]\n\
         PublicKey = {OTHER_PUBLIC}\n\
         AllowedIPs = 10.0.0.3/32\n\
         Endpoint = phone.example.net:51820\n\
         PersistentKeepalive = 25\n\
         \n\
         # end of file\n"
    );
    assert_eq!(text, expected);
    assert_eq!(parsed(&text), config);
}

#[test]
fn editing_the_interface_keeps_the_comments_above_it_and_the_peers() {
    let mut config = parsed(&messy());
    config.interface.mtu = Some(1380);
    let text = config.to_text();
    assert!(text.starts_with(&format!(
        "# Office tunnel, written by hand.\n[Interface]\nPrivateKey = {SERVER_PRIVATE}\n\
         ListenPort = 51820\nMTU = 1380\n\n# Alice's laptop\n[Peer]\n"
    )));
    assert!(text.contains("allowedips = 10.0.0.2/32   # laptop\n"));
    assert!(text.ends_with("# end of file\n"));
    assert_eq!(parsed(&text), config);
}

#[test]
fn adding_removing_and_reordering_peers() {
    let mut config = parsed(&messy());
    let bob = config.peers.remove(1);
    let mut carol = Peer::new(PrivateKey::generate().public_key());
    carol.allowed_ips = vec!["10.0.0.4/32".parse().unwrap()];
    config.peers.insert(0, bob);
    config.peers.push(carol);
    let text = config.to_text();
    // Bob moved up with his comment; Alice kept hers; Carol is new, after a blank line.
    let bob_at = text.find("# Bob's phone").unwrap();
    let alice_at = text.find("# Alice's laptop").unwrap();
    assert!(bob_at < alice_at);
    assert!(text.contains("allowedips = 10.0.0.2/32   # laptop\n"));
    assert!(text.contains("\n\n[Peer]\nPublicKey = "), "{text}");
    assert_eq!(parsed(&text), config);

    config.peers.truncate(1);
    let text = config.to_text();
    assert!(!text.contains("Alice"));
    assert_eq!(parsed(&text), config);
}

#[test]
fn a_last_section_without_a_final_newline_is_continued_safely() {
    let text =
        format!("[Interface]\nPrivateKey = {SERVER_PRIVATE}\n[Peer]\nPublicKey = {CLIENT_PUBLIC}");
    let mut config = parsed(&text);
    config
        .peers
        .push(Peer::new(PublicKey::from_base64(OTHER_PUBLIC).unwrap()));
    let printed = config.to_text();
    assert!(printed.starts_with(&text));
    assert_eq!(parsed(&printed), config);
}

#[test]
fn crlf_configs_stay_crlf_when_edited() {
    let text = messy().replace('\n', "\r\n");
    let mut config = parsed(&text);
    config.interface.mtu = Some(1400);
    let printed = config.to_text();
    assert_eq!(
        printed.matches('\n').count(),
        printed.matches("\r\n").count()
    );
    assert_eq!(parsed(&printed), config);
}

#[test]
fn the_canonical_form() {
    let key = PrivateKey::from_base64(SERVER_PRIVATE).unwrap();
    let mut interface = Interface::new(key);
    interface.listen_port = Some(51820);
    interface.fwmark = std::num::NonZeroU32::new(0xca6c);
    interface.addresses = vec![
        "10.0.0.1/24".parse().unwrap(),
        "fd00::1/64".parse().unwrap(),
    ];
    interface.dns = vec!["1.1.1.1".parse().unwrap()];
    interface.dns_search = vec!["example.com".into()];
    interface.mtu = Some(1420);
    interface.table = Some(Table::Id(1234));
    interface.pre_up = vec!["true".into()];
    interface.post_up = vec!["echo up".into(), String::new()];
    interface.pre_down = vec!["echo going".into()];
    interface.post_down = vec!["echo down".into()];
    interface.save_config = true;
    let mut config = Config::new(interface);
    let mut peer = Peer::new(PublicKey::from_base64(CLIENT_PUBLIC).unwrap());
    peer.allowed_ips = vec!["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()];
    peer.endpoint = Some(Endpoint {
        host: Host::Ip("2001:db8::1".parse().unwrap()),
        port: 443,
    });
    peer.persistent_keepalive = NonZeroU16::new(25);
    config.peers.push(peer);
    config
        .peers
        .push(Peer::new(PublicKey::from_base64(OTHER_PUBLIC).unwrap()));
    let expected = format!(
        "[Interface]\nPrivateKey = {SERVER_PRIVATE}\nListenPort = 51820\nFwMark = 0xca6c\n\
         Address = 10.0.0.1/24, fd00::1/64\nDNS = 1.1.1.1, example.com\nMTU = 1420\n\
         Table = 1234\nPreUp = true\nPostUp = echo up\nPostUp =\nPreDown = echo going\n\
         PostDown = echo down\nSaveConfig = true\n\n\
         [Peer]\nPublicKey = {CLIENT_PUBLIC}\nAllowedIPs = 0.0.0.0/0, ::/0\n\
         Endpoint = [2001:db8::1]:443\nPersistentKeepalive = 25\n\n\
         [Peer]\nPublicKey = {OTHER_PUBLIC}\n"
    );
    assert!(config.is_edited());
    assert_eq!(config.to_text(), expected);
    assert_eq!(config.to_canonical_text(), expected);
    assert_eq!(parsed(&expected), config);
    assert_eq!(config.validate(), Ok(vec![]));
}

#[test]
fn validate_names_values_a_conf_cannot_carry() {
    let mut config = Config::new(Interface::new(PrivateKey::generate()));
    config.interface.post_up = vec!["echo '#1'".into()];
    let e = config.validate().unwrap_err();
    assert_eq!(e.diagnostics()[0].key.as_deref(), Some("PostUp"));

    let mut config = Config::new(Interface::new(PrivateKey::generate()));
    config.interface.mtu = Some(10);
    let e = config.validate().unwrap_err();
    assert_eq!(e.diagnostics()[0].key.as_deref(), Some("MTU"));

    let mut config = Config::new(Interface::new(PrivateKey::generate()));
    let mut peer = Peer::new(PrivateKey::generate().public_key());
    peer.endpoint = Some(Endpoint {
        host: Host::Name("10.0.0.1".into()),
        port: 1,
    });
    config.peers.push(peer);
    let e = config.validate().unwrap_err();
    assert_eq!(e.diagnostics()[0].key.as_deref(), Some("Endpoint"));

    let mut config = Config::new(Interface::new(PrivateKey::generate()));
    let mut peer = Peer::new(PrivateKey::generate().public_key());
    peer.allowed_ips = vec!["10.1.2.3/8".parse().unwrap()];
    config.peers.push(peer);
    let warnings = config.validate().unwrap();
    assert_eq!(warnings[0].code, DiagnosticCode::HostBitsSet);
}

#[test]
fn peers_written_before_the_interface() {
    let text = format!(
        "[Peer]\nPublicKey = {CLIENT_PUBLIC}\n\n[Interface]\nPrivateKey = {SERVER_PRIVATE}\n"
    );
    let mut config = parsed(&text);
    assert_eq!(config.to_text(), text);
    config.interface.listen_port = Some(51820);
    let printed = config.to_text();
    let expected = format!(
        "[Peer]\nPublicKey = {CLIENT_PUBLIC}\n\n[Interface]\nPrivateKey = {SERVER_PRIVATE}\n\
         ListenPort = 51820\n"
    );
    assert_eq!(
        printed, expected,
        "the interface keeps its place after the peer"
    );
    assert_eq!(parsed(&printed), config);
    config.peers.clear();
    let printed = config.to_text();
    assert!(printed.starts_with("\n[Interface]\n"), "{printed:?}");
    assert_eq!(parsed(&printed), config);
}
