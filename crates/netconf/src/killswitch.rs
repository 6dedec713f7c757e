//! The kill switch as an nftables table of our own: nothing leaves or enters but through
//! the tunnel, to and from the endpoints (and the engine's marked packets), on loopback,
//! and DHCP / IPv6 neighbour discovery — so nothing leaks while the tunnel is down or
//! reconnecting. Replacing the table is one atomic nft transaction.

use std::fmt::Write as _;
use std::net::SocketAddr;

// Windows' kill switch is WFP filters; which ones is pure data, so it is computed and
// tested on every system and only translated into WFP calls on Windows.
#[cfg(any(target_os = "windows", test))]
#[path = "windows/filters.rs"]
pub(crate) mod windows_filters;

/// The table's name for `interface` (one table per tunnel).
pub fn table_name(interface: &str) -> String {
    let safe: String = interface
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("culvert_{safe}")
}

/// The nft script that (re)creates the kill switch table.
pub fn script(interface: &str, endpoints: &[SocketAddr], fwmark: u32) -> String {
    let table = table_name(interface);
    let mut out = String::new();
    // Declaring then deleting makes the replacement work whether or not it exists.
    let _ = writeln!(
        out,
        "table inet {table} {{}}\ndelete table inet {table}\ntable inet {table} {{"
    );
    let _ = writeln!(
        out,
        "  chain output {{\n    type filter hook output priority filter; policy drop;"
    );
    let _ = writeln!(
        out,
        "    oifname \"lo\" accept\n    oifname \"{interface}\" accept"
    );
    if fwmark != 0 {
        let _ = writeln!(out, "    meta mark {fwmark} accept");
    }
    for endpoint in endpoints {
        let family = if endpoint.is_ipv4() { "ip" } else { "ip6" };
        let _ = writeln!(
            out,
            "    {family} daddr {} udp dport {} accept",
            endpoint.ip(),
            endpoint.port()
        );
    }
    out.push_str("    udp sport 68 udp dport 67 accept\n    udp sport 546 udp dport 547 accept\n");
    out.push_str("    icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } accept\n  }\n");
    let _ = writeln!(
        out,
        "  chain input {{\n    type filter hook input priority filter; policy drop;"
    );
    let _ = writeln!(
        out,
        "    iifname \"lo\" accept\n    iifname \"{interface}\" accept"
    );
    for endpoint in endpoints {
        let family = if endpoint.is_ipv4() { "ip" } else { "ip6" };
        let _ = writeln!(
            out,
            "    {family} saddr {} udp sport {} accept",
            endpoint.ip(),
            endpoint.port()
        );
    }
    out.push_str("    udp sport 67 udp dport 68 accept\n    udp sport 547 udp dport 546 accept\n");
    out.push_str("    icmpv6 type { nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept\n  }\n}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_allows_exactly_the_tunnel_the_endpoints_and_the_basics() {
        let endpoints = [
            "192.0.2.2:51820".parse().unwrap(),
            "[2001:db8::2]:51820".parse().unwrap(),
        ];
        let text = script("wg-0", &endpoints, 51820);
        assert!(text.starts_with("table inet culvert_wg_0 {}\ndelete table inet culvert_wg_0\n"));
        assert!(text.contains("policy drop;"));
        assert!(text.contains("oifname \"wg-0\" accept"));
        assert!(text.contains("ip daddr 192.0.2.2 udp dport 51820 accept"));
        assert!(text.contains("ip6 daddr 2001:db8::2 udp dport 51820 accept"));
        assert!(text.contains("meta mark 51820 accept"));
        assert_eq!(text.matches("policy drop").count(), 2);
    }
}
