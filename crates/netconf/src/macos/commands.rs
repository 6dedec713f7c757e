//! macOS: the text of the commands netconf runs (`route`, `scutil`, `pfctl`), kept pure
//! so it is checked on any system.

use crate::Dns;
use ipnet::IpNet;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

/// The pf anchor of one tunnel's kill switch. Under `com.apple/` because the stock
/// `/etc/pf.conf` evaluates `anchor "com.apple/*"`; an anchor the main ruleset does
/// not name is never evaluated.
pub(crate) fn pf_anchor(interface: &str) -> String {
    format!("com.apple/culvert.{interface}")
}

/// The dynamic-store key of the tunnel's resolver.
pub(crate) fn dns_key(interface: &str) -> String {
    format!("State:/Network/Service/culvert-{interface}/DNS")
}

/// `route` arguments adding (or deleting) `destination` through `interface` or via
/// `gateway`.
pub(crate) fn route_args(
    add: bool,
    destination: IpNet,
    interface: Option<&str>,
    gateway: Option<IpAddr>,
) -> Vec<String> {
    let family = if destination.addr().is_ipv4() {
        "-inet"
    } else {
        "-inet6"
    };
    let mut args: Vec<String> = ["-q", "-n", if add { "add" } else { "delete" }, family]
        .map(String::from)
        .to_vec();
    args.push(destination.to_string());
    match (interface, gateway) {
        (_, Some(gateway)) => args.extend(["-gateway".into(), gateway.to_string()]),
        (Some(interface), None) => args.extend(["-interface".into(), interface.into()]),
        (None, None) => {}
    }
    args
}

/// The gateway and interface of the default route, from `route -n get default`.
pub(crate) fn parse_route_get(output: &str) -> (Option<IpAddr>, Option<String>) {
    let field = |name: &str| {
        output.lines().find_map(|line| {
            let (key, value) = line.trim().split_once(':')?;
            (key.trim() == name).then(|| value.trim().to_owned())
        })
    };
    // An IPv6 link-local gateway comes as fe80::1%en0; the scope goes with -interface.
    let gateway = field("gateway").and_then(|g| g.split('%').next()?.parse().ok());
    (gateway, field("interface"))
}

/// The `scutil` script that sets the tunnel's resolver. Split: a supplemental resolver
/// for the search domains only. Full: the empty match domain, so it answers every name.
pub(crate) fn scutil_set_dns(interface: &str, dns: &Dns, full: bool) -> String {
    let mut out = String::from("d.init\n");
    let servers: Vec<String> = dns.servers.iter().map(IpAddr::to_string).collect();
    let _ = writeln!(out, "d.add ServerAddresses * {}", servers.join(" "));
    if !dns.search.is_empty() {
        let _ = writeln!(out, "d.add SearchDomains * {}", dns.search.join(" "));
    }
    let mut matches: Vec<String> = dns.search.clone();
    if full {
        matches.push("\"\"".into());
    }
    if !matches.is_empty() {
        let _ = writeln!(
            out,
            "d.add SupplementalMatchDomains * {}",
            matches.join(" ")
        );
    }
    let _ = writeln!(out, "set {}\nquit", dns_key(interface));
    out
}

pub(crate) fn scutil_remove(key: &str) -> String {
    format!("remove {key}\nquit\n")
}

/// The kill switch's pf rules: passes first and `quick`, then a `quick` block, so
/// rules after the anchor cannot open a hole.
pub(crate) fn pf_rules(interface: &str, endpoints: &[SocketAddr]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "pass quick on lo0 all\npass quick on {interface} all");
    for endpoint in endpoints {
        let family = if endpoint.is_ipv4() { "inet" } else { "inet6" };
        let (ip, port) = (endpoint.ip(), endpoint.port());
        let _ = writeln!(
            out,
            "pass out quick {family} proto udp from any to {ip} port {port}"
        );
        let _ = writeln!(
            out,
            "pass in quick {family} proto udp from {ip} port {port} to any"
        );
    }
    out.push_str(
        "pass out quick inet proto udp from any port 68 to any port 67\n\
         pass in quick inet proto udp from any port 67 to any port 68\n\
         pass out quick inet6 proto udp from any port 546 to any port 547\n\
         pass in quick inet6 proto udp from any port 547 to any port 546\n\
         pass quick inet6 proto icmp6 all icmp6-type { routersol, routeradv, neighbrsol, neighbradv }\n\
         block drop quick all\n",
    );
    out
}

/// The reference token `pfctl -E` prints ("Token : 123").
pub(crate) fn parse_pf_token(output: &str) -> Option<String> {
    output.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "Token").then(|| value.trim().to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_commands() {
        let prefixes = crate::prefixes::tunnel_prefixes(&["0.0.0.0/0".parse().unwrap()], true);
        assert_eq!(
            route_args(true, prefixes[0], Some("utun3"), None).join(" "),
            "-q -n add -inet 0.0.0.0/1 -interface utun3"
        );
        assert_eq!(
            route_args(
                false,
                "192.0.2.2/32".parse().unwrap(),
                None,
                Some("192.168.1.1".parse().unwrap())
            )
            .join(" "),
            "-q -n delete -inet 192.0.2.2/32 -gateway 192.168.1.1"
        );
    }

    #[test]
    fn route_get_and_pf_token_are_parsed() {
        let out = "   route to: default\ndestination: default\n       mask: default\n    gateway: 192.168.1.1\n  interface: en0\n      flags: <UP,GATEWAY,DONE,STATIC,PRCLONING>\n";
        assert_eq!(
            parse_route_get(out),
            (Some("192.168.1.1".parse().unwrap()), Some("en0".into()))
        );
        let v6 = "    gateway: fe80::1%en0\n  interface: en0\n";
        assert_eq!(parse_route_get(v6).0, Some("fe80::1".parse().unwrap()));
        assert_eq!(
            parse_pf_token("No ALTQ support in kernel\npf enabled\nToken : 12345678901\n"),
            Some("12345678901".into())
        );
    }

    #[test]
    fn scutil_and_pf_scripts() {
        let dns = Dns {
            servers: vec!["10.0.0.53".parse().unwrap()],
            search: vec!["corp.example".into()],
        };
        assert_eq!(
            scutil_set_dns("utun3", &dns, true),
            "d.init\nd.add ServerAddresses * 10.0.0.53\nd.add SearchDomains * corp.example\n\
             d.add SupplementalMatchDomains * corp.example \"\"\n\
             set State:/Network/Service/culvert-utun3/DNS\nquit\n"
        );
        let rules = pf_rules("utun3", &["192.0.2.2:51820".parse().unwrap()]);
        assert!(rules.contains("pass out quick inet proto udp from any to 192.0.2.2 port 51820\n"));
        assert!(rules.ends_with("block drop quick all\n"));
        assert_eq!(pf_anchor("utun3"), "com.apple/culvert.utun3");
        assert_eq!(
            scutil_remove(&dns_key("utun3")),
            "remove State:/Network/Service/culvert-utun3/DNS\nquit\n"
        );
    }
}
