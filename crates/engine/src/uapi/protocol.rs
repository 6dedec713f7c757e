//! The cross-platform userspace API's wire format, without I/O: parsing `set=1` requests
//! completely before anything is applied, and printing `get=1` replies.
//!
//! Keys are lowercase hex; errors are negative errno values, as wireguard-go sends them
//! and the `wg` tool reads them.

use ipnet::IpNet;
use std::fmt::Write as _;
use std::net::SocketAddr;

pub const EINVAL: i32 = -22;
pub const EPROTO: i32 = -71;
pub const EADDRINUSE: i32 = -98;
pub const EIO: i32 = -5;

/// A request line longer than this is refused (a line carries one key and value).
pub const MAX_LINE_LEN: usize = 4096;
/// A set request with more lines than this is refused: it bounds what one client can
/// make the service hold in memory.
pub const MAX_SET_LINES: usize = 1 << 20;

/// A refused request: the errno for the reply and what was wrong, for the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (errno {errno})")]
pub struct UapiError {
    pub errno: i32,
    pub message: String,
}

impl UapiError {
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            errno: EINVAL,
            message: message.into(),
        }
    }
}

/// Everything a `set=1` request asks for, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetRequest {
    /// `Some(None)`: remove the private key (all zeros).
    pub private_key: Option<Option<[u8; 32]>>,
    pub listen_port: Option<u16>,
    /// `Some(0)` removes the mark.
    pub fwmark: Option<u32>,
    pub replace_peers: bool,
    pub peers: Vec<PeerChange>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerChange {
    pub public_key: [u8; 32],
    pub remove: bool,
    pub update_only: bool,
    /// `Some([0; 32])` removes the pre-shared key.
    pub preshared_key: Option<[u8; 32]>,
    pub endpoint: Option<SocketAddr>,
    /// `Some(0)` turns the keepalive off.
    pub persistent_keepalive: Option<u16>,
    pub replace_allowed_ips: bool,
    pub allowed_ips: Vec<IpNet>,
}

/// Parses the lines of a set request (without `set=1` and the blank line).
pub fn parse_set<'a>(lines: impl IntoIterator<Item = &'a str>) -> Result<SetRequest, UapiError> {
    let mut request = SetRequest::default();
    for (number, line) in lines.into_iter().enumerate() {
        if number >= MAX_SET_LINES {
            return Err(UapiError::invalid("set request has too many lines"));
        }
        let (key, value) = line.split_once('=').ok_or_else(|| UapiError {
            errno: EPROTO,
            message: format!("line without '=': {line:?}"),
        })?;
        let peer = request.peers.last_mut();
        match (key, peer) {
            ("public_key", _) => request.peers.push(PeerChange {
                public_key: hex_key(key, value)?,
                ..Default::default()
            }),
            ("private_key", None) => {
                let key = hex_key(key, value)?;
                request.private_key = Some((key != [0; 32]).then_some(key));
            }
            ("listen_port", None) => request.listen_port = Some(number_value(key, value)?),
            ("fwmark", None) => request.fwmark = Some(number_value(key, value)?),
            ("replace_peers", None) => request.replace_peers = true_value(key, value)?,
            ("remove", Some(peer)) => peer.remove = true_value(key, value)?,
            ("update_only", Some(peer)) => peer.update_only = true_value(key, value)?,
            ("preshared_key", Some(peer)) => peer.preshared_key = Some(hex_key(key, value)?),
            ("endpoint", Some(peer)) => {
                peer.endpoint = Some(
                    value
                        .parse()
                        .map_err(|_| UapiError::invalid(format!("invalid endpoint {value:?}")))?,
                )
            }
            ("persistent_keepalive_interval", Some(peer)) => {
                peer.persistent_keepalive = Some(number_value(key, value)?)
            }
            ("replace_allowed_ips", Some(peer)) => {
                peer.replace_allowed_ips = true_value(key, value)?
            }
            ("allowed_ip", Some(peer)) => {
                let net: IpNet = value
                    .parse()
                    .map_err(|_| UapiError::invalid(format!("invalid allowed_ip {value:?}")))?;
                peer.allowed_ips.push(net.trunc());
            }
            ("protocol_version", Some(_)) if value == "1" => {}
            ("protocol_version", Some(_)) => {
                return Err(UapiError::invalid(format!(
                    "unsupported protocol_version {value:?}"
                )));
            }
            (key, _) => {
                return Err(UapiError::invalid(format!(
                    "unknown or misplaced key {key:?}"
                )));
            }
        }
    }
    Ok(request)
}

fn hex_key(key: &str, value: &str) -> Result<[u8; 32], UapiError> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(value, &mut bytes)
        .map_err(|_| UapiError::invalid(format!("{key} is not 64 hex digits")))?;
    Ok(bytes)
}

fn number_value<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, UapiError> {
    value
        .parse()
        .map_err(|_| UapiError::invalid(format!("invalid {key} {value:?}")))
}

fn true_value(key: &str, value: &str) -> Result<bool, UapiError> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(UapiError::invalid(format!(
            "{key} must be true or false, not {value:?}"
        ))),
    }
}

/// What a `get=1` reply reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceInfo {
    pub private_key: Option<[u8; 32]>,
    pub listen_port: u16,
    pub fwmark: u32,
    pub peers: Vec<PeerInfo>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerInfo {
    pub public_key: [u8; 32],
    pub preshared_key: [u8; 32],
    pub endpoint: Option<SocketAddr>,
    /// Since the Unix epoch; zero when there was no handshake.
    pub last_handshake: std::time::Duration,
    pub tx_bytes: u64,
    pub rx_bytes: u64,
    pub persistent_keepalive: u16,
    pub allowed_ips: Vec<IpNet>,
}

/// The body of a get reply, `errno=0` and the blank line included.
pub fn format_get(info: &DeviceInfo) -> String {
    let mut out = String::new();
    if let Some(key) = &info.private_key {
        let _ = writeln!(out, "private_key={}", hex::encode(key));
    }
    if info.listen_port != 0 {
        let _ = writeln!(out, "listen_port={}", info.listen_port);
    }
    if info.fwmark != 0 {
        let _ = writeln!(out, "fwmark={}", info.fwmark);
    }
    for peer in &info.peers {
        let _ = writeln!(out, "public_key={}", hex::encode(peer.public_key));
        let _ = writeln!(out, "preshared_key={}", hex::encode(peer.preshared_key));
        let _ = writeln!(out, "protocol_version=1");
        if let Some(endpoint) = peer.endpoint {
            let _ = writeln!(out, "endpoint={endpoint}");
        }
        let _ = writeln!(
            out,
            "last_handshake_time_sec={}",
            peer.last_handshake.as_secs()
        );
        let _ = writeln!(
            out,
            "last_handshake_time_nsec={}",
            peer.last_handshake.subsec_nanos()
        );
        let _ = writeln!(out, "tx_bytes={}", peer.tx_bytes);
        let _ = writeln!(out, "rx_bytes={}", peer.rx_bytes);
        let _ = writeln!(
            out,
            "persistent_keepalive_interval={}",
            peer.persistent_keepalive
        );
        for net in &peer.allowed_ips {
            let _ = writeln!(out, "allowed_ip={net}");
        }
    }
    out.push_str("errno=0\n\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY_A: &str = "e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a";
    const KEY_B: &str = "b85996fecc9c7f1fc6d2572a76eda11d59bcd20be8e543b15ce4bd85a8e75a33";

    #[test]
    fn parses_the_documented_example() {
        let text = format!(
            "private_key={KEY_A}\nlisten_port=12912\nfwmark=0\nreplace_peers=true\n\
             public_key={KEY_B}\npreshared_key={KEY_A}\nreplace_allowed_ips=true\n\
             allowed_ip=192.168.4.4/32\nendpoint=[abcd:23::33%2]:51820\n\
             public_key={KEY_A}\nupdate_only=true\nendpoint=182.122.22.19:3233\n\
             persistent_keepalive_interval=111\nallowed_ip=192.168.4.10/24\nprotocol_version=1\n\
             public_key={KEY_B}\nremove=true"
        );
        let request = parse_set(text.lines()).unwrap();
        assert_eq!(request.listen_port, Some(12912));
        assert_eq!(request.fwmark, Some(0));
        assert!(request.replace_peers);
        assert_eq!(request.peers.len(), 3);
        assert_eq!(
            request.peers[0].allowed_ips,
            vec!["192.168.4.4/32".parse::<IpNet>().unwrap()]
        );
        assert!(request.peers[0].endpoint.unwrap().is_ipv6());
        assert_eq!(request.peers[1].persistent_keepalive, Some(111));
        // Host bits are cleared, as the kernel does.
        assert_eq!(
            request.peers[1].allowed_ips,
            vec!["192.168.4.0/24".parse::<IpNet>().unwrap()]
        );
        assert!(request.peers[2].remove);
    }

    #[test]
    fn a_zero_private_key_means_none() {
        let request = parse_set([format!("private_key={}", "0".repeat(64)).as_str()]).unwrap();
        assert_eq!(request.private_key, Some(None));
    }

    #[test]
    fn bad_requests_get_einval_or_eproto() {
        for bad in [
            "listen_port=70000",
            "private_key=xyz",
            "remove=true",
            "bogus=1",
            "public_key=00",
            &format!("public_key={KEY_A}\nprotocol_version=2"),
            &format!("public_key={KEY_A}\nallowed_ip=10.0.0.0/33"),
            &format!("public_key={KEY_A}\nendpoint=nowhere"),
            &format!("public_key={KEY_A}\nlisten_port=1"),
            &format!("public_key={KEY_A}\nremove=yes"),
        ] {
            let error = parse_set(bad.lines()).unwrap_err();
            assert_eq!(error.errno, EINVAL, "{bad}: {error}");
        }
        assert_eq!(parse_set(["no equals sign"]).unwrap_err().errno, EPROTO);
    }

    #[test]
    fn get_reply_layout() {
        let info = DeviceInfo {
            private_key: Some([1; 32]),
            listen_port: 51820,
            fwmark: 0,
            peers: vec![PeerInfo {
                public_key: [2; 32],
                endpoint: Some("192.0.2.1:51820".parse().unwrap()),
                last_handshake: std::time::Duration::new(1_700_000_000, 5),
                tx_bytes: 10,
                rx_bytes: 20,
                persistent_keepalive: 25,
                allowed_ips: vec!["10.0.0.0/24".parse().unwrap()],
                ..Default::default()
            }],
        };
        let text = format_get(&info);
        let expected = format!(
            "private_key={}\nlisten_port=51820\npublic_key={}\npreshared_key={}\nprotocol_version=1\n\
             endpoint=192.0.2.1:51820\nlast_handshake_time_sec=1700000000\nlast_handshake_time_nsec=5\n\
             tx_bytes=10\nrx_bytes=20\npersistent_keepalive_interval=25\nallowed_ip=10.0.0.0/24\nerrno=0\n\n",
            "01".repeat(32),
            "02".repeat(32),
            "00".repeat(32)
        );
        assert_eq!(text, expected);
    }

    proptest! {
        #[test]
        fn arbitrary_lines_never_panic(lines in proptest::collection::vec(".{0,80}", 0..20)) {
            let _ = parse_set(lines.iter().map(String::as_str));
        }
    }
}
