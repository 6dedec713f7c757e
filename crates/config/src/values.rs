//! Parsers for single values. Each returns a message fit to follow "`Key`: ", never
//! echoing anything that might be a secret.

use std::net::{IpAddr, Ipv4Addr};
use std::num::{NonZeroU16, NonZeroU32};

use ipnet::IpNet;

use crate::model::{Endpoint, Host, Table};

pub(crate) const MTU_MIN: u16 = 576;

/// One element of a comma- or space-separated list, with its byte offset in the value.
/// wg-quick splits `Address` and `DNS` on both (`${value//,/ }` then word splitting);
/// we do the same for `AllowedIPs`, where `wg` drops all whitespace anyway.
pub(crate) fn split_list(value: &str) -> Vec<(usize, &str)> {
    let mut items = Vec::new();
    let mut start = None;
    for (i, c) in value.char_indices() {
        let sep = c == ',' || c.is_whitespace();
        match (sep, start) {
            (true, Some(s)) => {
                items.push((s, &value[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        items.push((s, &value[s..]));
    }
    items
}

/// `s` in backquotes for a message, unless it could hold key material: a run of 20 or
/// more base64 characters, which messages never repeat, even from a malformed line.
pub(crate) fn quote(s: &str) -> String {
    let mut run = 0;
    for b in s.bytes() {
        run = if b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=') {
            run + 1
        } else {
            0
        };
        if run >= 20 {
            return "this value".to_owned();
        }
    }
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        format!("`{s}`")
    } else {
        let cut: String = s.chars().take(MAX).collect();
        format!("`{cut}…`")
    }
}

pub(crate) fn number<T: TryFrom<u64>>(s: &str, range: &str) -> Result<T, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{} is not a number; expected {range}", quote(s)));
    }
    let digits = s.trim_start_matches('0');
    // More than 20 digits overflows u64: it is out of range whatever T is.
    let n: u64 = if digits.is_empty() {
        0
    } else {
        digits.parse().unwrap_or(u64::MAX)
    };
    T::try_from(n).map_err(|_| format!("{} is out of range; expected {range}", quote(s)))
}

pub(crate) fn listen_port(s: &str) -> Result<u16, String> {
    number::<u16>(s, "a port from 0 to 65535 (0 picks a random port)")
}

pub(crate) fn mtu(s: &str) -> Result<u16, String> {
    let range = "an MTU from 576 to 65535";
    let mtu = number::<u16>(s, range)?;
    if mtu < MTU_MIN {
        return Err(format!("{mtu} is out of range; expected {range}"));
    }
    Ok(mtu)
}

pub(crate) fn fwmark(s: &str) -> Result<Option<NonZeroU32>, String> {
    let range = "`off`, a number or a 0x hex number up to 0xffffffff";
    if s.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let mark = if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "{} is not a hex number; expected {range}",
                quote(s)
            ));
        }
        let digits = hex.trim_start_matches('0');
        if digits.is_empty() {
            0
        } else {
            u32::from_str_radix(digits, 16)
                .map_err(|_| format!("{} is out of range; expected {range}", quote(s)))?
        }
    } else {
        number::<u32>(s, range)?
    };
    Ok(NonZeroU32::new(mark))
}

pub(crate) fn keepalive(s: &str) -> Result<Option<NonZeroU16>, String> {
    if s.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    number::<u16>(s, "`off` or a number of seconds from 0 to 65535").map(NonZeroU16::new)
}

pub(crate) fn boolean(s: &str) -> Result<bool, String> {
    // wg-quick's read_bool: an empty value is false.
    if s.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if s.eq_ignore_ascii_case("false") || s.is_empty() {
        Ok(false)
    } else {
        Err(format!("{} is neither `true` nor `false`", quote(s)))
    }
}

pub(crate) fn table(s: &str) -> Result<Table, String> {
    if s.eq_ignore_ascii_case("off") {
        Ok(Table::Off)
    } else if s.eq_ignore_ascii_case("auto") {
        Ok(Table::Auto)
    } else if s.bytes().all(|b| b.is_ascii_digit()) && !s.is_empty() {
        number::<u32>(s, "`off`, `auto`, a table number or a table name").map(Table::Id)
    } else if is_table_name(s) {
        Ok(Table::Name(s.to_owned()))
    } else {
        Err(format!(
            "{} is not a routing table; expected `off`, `auto`, a number or a name \
             such as `main`",
            quote(s)
        ))
    }
}

/// A name `ip route` would accept and that cannot be read back as something else.
pub(crate) fn is_table_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && !s.bytes().all(|b| b.is_ascii_digit())
        && !s.eq_ignore_ascii_case("off")
        && !s.eq_ignore_ascii_case("auto")
}

/// An address with an optional prefix length; without one it is a host (/32, /128).
pub(crate) fn cidr(s: &str) -> Result<IpNet, String> {
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let ip: IpAddr = addr.parse().map_err(|_| {
        if addr.contains(':') {
            format!("{} is not a valid IPv6 address", quote(addr))
        } else {
            format!("{} is not a valid IPv4 address", quote(addr))
        }
    })?;
    let max: u8 = if ip.is_ipv4() { 32 } else { 128 };
    let family = if ip.is_ipv4() { "IPv4" } else { "IPv6" };
    let len = match len {
        None => max,
        Some(l) => {
            let range = format!("a prefix length from 0 to {max} after `/`");
            let n = number::<u8>(l, &range)?;
            if n > max {
                return Err(format!(
                    "prefix length /{n} is too long for an {family} address (at most /{max})"
                ));
            }
            n
        }
    };
    IpNet::new(ip, len).map_err(|_| format!("{} is not a valid prefix", quote(s)))
}

/// `DNS` entries: IP addresses are servers, anything else is a search domain, as in
/// wg-quick, except that IP-looking text that does not parse is an error rather than a
/// server `resolvconf` would reject later.
pub(crate) enum DnsEntry {
    Server(IpAddr),
    Search(String),
}

pub(crate) fn dns_entry(s: &str) -> Result<DnsEntry, String> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(DnsEntry::Server(ip));
    }
    if s.contains(':') {
        return Err(format!("{} is not a valid IPv6 address", quote(s)));
    }
    if looks_like_ipv4(s) {
        return Err(format!("{} is not a valid IPv4 address", quote(s)));
    }
    if is_domain(s) {
        Ok(DnsEntry::Search(s.to_owned()))
    } else {
        Err(format!(
            "{} is neither an IP address nor a search domain (letters, digits, `-` and \
             `.`); separate entries with commas",
            quote(s)
        ))
    }
}

fn looks_like_ipv4(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

/// A DNS name: dot-separated labels of ASCII letters, digits, `-` and `_`, with an
/// optional trailing dot.
pub(crate) fn is_domain(s: &str) -> bool {
    let body = s.strip_suffix('.').unwrap_or(s);
    !body.is_empty()
        && s.len() <= 253
        && !looks_like_ipv4(s)
        && body.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

pub(crate) fn endpoint(s: &str) -> Result<Endpoint, String> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return Err(format!(
                "{} has `[` without `]`; write `[IPv6 address]:port`",
                quote(s)
            ));
        };
        let ip = inside
            .parse::<std::net::Ipv6Addr>()
            .map_err(|_| format!("{} in brackets is not a valid IPv6 address", quote(inside)))?;
        let Some(port) = after.strip_prefix(':') else {
            return Err(format!("{} has no port; write `[address]:port`", quote(s)));
        };
        (Host::Ip(IpAddr::V6(ip)), port)
    } else {
        let Some((host, port)) = s.rsplit_once(':') else {
            return Err(format!(
                "{} has no port; write `host:port`, e.g. `vpn.example.com:51820`",
                quote(s)
            ));
        };
        if host.is_empty() {
            return Err(format!("{} has no host; write `host:port`", quote(s)));
        }
        if host.contains(':') {
            return Err(format!(
                "{} looks like an IPv6 address without brackets; write `[address]:port`",
                quote(s)
            ));
        }
        let host = if let Ok(ip) = host.parse::<Ipv4Addr>() {
            Host::Ip(IpAddr::V4(ip))
        } else if looks_like_ipv4(host) && !host.is_empty() {
            return Err(format!("{} is not a valid IPv4 address", quote(host)));
        } else if is_domain(host) {
            Host::Name(host.to_owned())
        } else {
            return Err(format!(
                "{} is not an IP address or a host name (letters, digits, `-` and `.`)",
                quote(host)
            ));
        };
        (host, port)
    };
    let port = number::<u16>(port, "a port from 1 to 65535")?;
    if port == 0 {
        return Err("port 0 is out of range; expected a port from 1 to 65535".to_owned());
    }
    Ok(Endpoint { host, port })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_split_on_commas_and_spaces() {
        let items = split_list("10.0.0.1/24,  fd00::1/64 ,,192.168.1.1");
        assert_eq!(
            items,
            vec![(0, "10.0.0.1/24"), (14, "fd00::1/64"), (27, "192.168.1.1")]
        );
        assert!(split_list(" , ").is_empty());
    }

    #[test]
    fn numbers_and_ranges() {
        assert_eq!(listen_port("51820"), Ok(51820));
        assert_eq!(listen_port("0"), Ok(0));
        assert!(listen_port("65536").unwrap_err().contains("out of range"));
        assert!(
            listen_port("99999999999999999999999")
                .unwrap_err()
                .contains("out of range")
        );
        assert!(listen_port("-1").unwrap_err().contains("not a number"));
        assert_eq!(mtu("1420"), Ok(1420));
        assert!(mtu("500").is_err());
        assert_eq!(fwmark("0x1f"), Ok(NonZeroU32::new(31)));
        assert_eq!(fwmark("0x0"), Ok(None));
        assert_eq!(fwmark("off"), Ok(None));
        assert_eq!(fwmark("51820"), Ok(NonZeroU32::new(51820)));
        assert!(fwmark("0x1ffffffff").is_err());
        assert_eq!(keepalive("25"), Ok(NonZeroU16::new(25)));
        assert_eq!(keepalive("off"), Ok(None));
        assert_eq!(keepalive("0"), Ok(None));
        assert!(keepalive("65536").is_err());
    }

    #[test]
    fn tables() {
        assert_eq!(table("off"), Ok(Table::Off));
        assert_eq!(table("AUTO"), Ok(Table::Auto));
        assert_eq!(table("1234"), Ok(Table::Id(1234)));
        assert_eq!(table("main"), Ok(Table::Name("main".into())));
        assert!(table("my table").is_err());
    }

    #[test]
    fn endpoints() {
        let e = endpoint("[2001:db8::1]:51820").unwrap();
        assert_eq!(e.host, Host::Ip("2001:db8::1".parse().unwrap()));
        assert_eq!(e.to_string(), "[2001:db8::1]:51820");
        let e = endpoint("vpn.example.com:443").unwrap();
        assert_eq!(e.host, Host::Name("vpn.example.com".into()));
        assert_eq!(
            endpoint("203.0.113.1:51820").unwrap().to_string(),
            "203.0.113.1:51820"
        );
        assert!(
            endpoint("2001:db8::1:51820")
                .unwrap_err()
                .contains("brackets")
        );
        assert!(endpoint("host").unwrap_err().contains("no port"));
        assert!(endpoint("host:0").unwrap_err().contains("out of range"));
        assert!(endpoint("host:70000").unwrap_err().contains("out of range"));
        assert!(
            endpoint("300.1.1.1:1")
                .unwrap_err()
                .contains("not a valid IPv4")
        );
        assert!(endpoint("[::1:1").is_err());
        assert!(endpoint(":51820").is_err());
    }

    #[test]
    fn cidrs() {
        assert_eq!(cidr("10.0.0.1").unwrap().to_string(), "10.0.0.1/32");
        assert_eq!(
            cidr("172.17.0.11/20").unwrap().to_string(),
            "172.17.0.11/20"
        );
        assert!(cidr("10.0.0.0/33").unwrap_err().contains("/33 is too long"));
        assert!(cidr("fd00::/129").unwrap_err().contains("IPv6"));
        assert!(cidr("10.0.0/8").unwrap_err().contains("not a valid IPv4"));
        assert!(cidr("10.0.0.0/").is_err());
        assert!(cidr("10.0.0.0/x").is_err());
    }
}
