//! The kill switch: one firewall of the service's own for every tunnel the user wants up
//! with the kill switch on. Nothing leaves, enters or is forwarded but through those
//! tunnels, to and from their endpoints (and the engine's marked packets), on loopback,
//! and DHCP / IPv6 neighbour discovery — so nothing leaks while a tunnel is down,
//! reconnecting, being edited, or while the service itself is stopped or restarting.
//!
//! On Linux it is one nftables table, replaced as a whole in one atomic transaction
//! whenever what it guards changes, and removed only when nothing is guarded. It is not
//! journaled: it outlives a crash on purpose, and the service puts it back from its state
//! at start before anything else. macOS and Windows still keep a kill switch per tunnel
//! inside [`crate::NetConf`] (pf anchor, WFP filters); there this is a no-op.

use std::fmt::Write as _;
use std::net::SocketAddr;

// Windows' kill switch is WFP filters; which ones is pure data, so it is computed and
// tested on every system and only translated into WFP calls on Windows.
#[cfg(any(target_os = "windows", test))]
#[path = "windows/filters.rs"]
pub(crate) mod windows_filters;

/// The nftables table (family `inet`) that holds the kill switch.
pub const TABLE: &str = "culvert";

/// What the kill switch lets through for one tunnel: its interface (by name, so the rule
/// holds before the interface exists), its peers' endpoints, and the engine's mark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guard {
    pub interface: String,
    pub endpoints: Vec<SocketAddr>,
    pub fwmark: u32,
}

/// Makes the firewall guard exactly `guards`: blocking everything else while there are
/// any, gone when there are none. Idempotent.
pub fn enforce(guards: &[Guard]) -> Result<(), crate::Error> {
    #[cfg(target_os = "linux")]
    return crate::imp::enforce_kill_switch(guards);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = guards;
        Ok(())
    }
}

/// Whether a kill switch is in place (one this service left, or an earlier run's).
pub fn is_enforced() -> bool {
    #[cfg(target_os = "linux")]
    return crate::imp::kill_switch_table_exists();
    #[cfg(not(target_os = "linux"))]
    false
}

/// The nft script that makes the table guard `guards` (and removes it for none).
pub fn script(guards: &[Guard]) -> String {
    // Declaring then deleting makes the replacement work whether or not it exists; the
    // whole script is one transaction, so there is no moment without the table.
    let mut out = format!("table inet {TABLE} {{}}\ndelete table inet {TABLE}\n");
    if guards.is_empty() {
        return out;
    }
    let interfaces = set_of(guards.iter().map(|g| format!("\"{}\"", g.interface)));
    let marks = set_of(
        guards
            .iter()
            .filter(|g| g.fwmark != 0)
            .map(|g| g.fwmark.to_string()),
    );
    let endpoints: Vec<SocketAddr> = {
        let mut all: Vec<SocketAddr> = guards.iter().flat_map(|g| g.endpoints.clone()).collect();
        all.sort();
        all.dedup();
        all
    };
    let _ = writeln!(out, "table inet {TABLE} {{");
    let _ = writeln!(
        out,
        "  chain output {{\n    type filter hook output priority filter; policy drop;\n    \
         oifname \"lo\" accept\n    oifname {interfaces} accept"
    );
    if !marks.is_empty() {
        let _ = writeln!(out, "    meta mark {marks} accept");
    }
    for endpoint in &endpoints {
        let _ = writeln!(
            out,
            "    {} daddr {} udp dport {} accept",
            family(endpoint),
            endpoint.ip(),
            endpoint.port()
        );
    }
    out.push_str("    udp sport 68 udp dport 67 accept\n    udp sport 546 udp dport 547 accept\n");
    out.push_str("    icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } accept\n  }\n");
    let _ = writeln!(
        out,
        "  chain input {{\n    type filter hook input priority filter; policy drop;\n    \
         iifname \"lo\" accept\n    iifname {interfaces} accept"
    );
    for endpoint in &endpoints {
        let _ = writeln!(
            out,
            "    {} saddr {} udp sport {} accept",
            family(endpoint),
            endpoint.ip(),
            endpoint.port()
        );
    }
    out.push_str("    udp sport 67 udp dport 68 accept\n    udp sport 547 udp dport 546 accept\n");
    out.push_str("    icmpv6 type { nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept\n  }\n");
    // Containers and VMs behind this host: into a tunnel, and the answers back, only.
    let _ = writeln!(
        out,
        "  chain forward {{\n    type filter hook forward priority filter; policy drop;\n    \
         oifname {interfaces} accept\n    iifname {interfaces} ct state established,related accept\n  }}\n}}"
    );
    out
}

fn family(endpoint: &SocketAddr) -> &'static str {
    if endpoint.is_ipv4() { "ip" } else { "ip6" }
}

/// An nft anonymous set (`{ a, b }`), or the bare element when there is one.
fn set_of(items: impl Iterator<Item = String>) -> String {
    let mut items: Vec<String> = items.collect();
    items.sort();
    items.dedup();
    match items.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        many => format!("{{ {} }}", many.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(interface: &str, endpoints: &[&str], fwmark: u32) -> Guard {
        Guard {
            interface: interface.into(),
            endpoints: endpoints.iter().map(|e| e.parse().unwrap()).collect(),
            fwmark,
        }
    }

    #[test]
    fn one_table_lets_every_guarded_tunnel_and_endpoint_through() {
        let text = script(&[
            guard("wg-0", &["192.0.2.2:51820", "[2001:db8::2]:51820"], 51820),
            guard("wg_0", &["198.51.100.7:4500"], 51821),
        ]);
        assert!(text.starts_with("table inet culvert {}\ndelete table inet culvert\n"));
        assert_eq!(text.matches("table inet culvert {\n").count(), 1);
        // Names that differ only in punctuation stay two interfaces.
        assert!(text.contains("oifname { \"wg-0\", \"wg_0\" } accept"));
        assert!(text.contains("iifname { \"wg-0\", \"wg_0\" } accept"));
        assert!(text.contains("ip daddr 192.0.2.2 udp dport 51820 accept"));
        assert!(text.contains("ip6 daddr 2001:db8::2 udp dport 51820 accept"));
        assert!(text.contains("ip saddr 198.51.100.7 udp sport 4500 accept"));
        assert!(text.contains("meta mark { 51820, 51821 } accept"));
        assert_eq!(text.matches("policy drop").count(), 3);
        assert!(text.contains("hook forward"));
        assert!(
            text.contains("iifname { \"wg-0\", \"wg_0\" } ct state established,related accept")
        );
    }

    #[test]
    fn a_guard_without_endpoints_still_blocks_and_none_removes_the_table() {
        let text = script(&[guard("office", &[], 51820)]);
        assert!(text.contains("oifname \"office\" accept"));
        assert!(!text.contains("daddr"));
        assert_eq!(text.matches("policy drop").count(), 3);
        assert_eq!(
            script(&[]),
            "table inet culvert {}\ndelete table inet culvert\n"
        );
    }
}
