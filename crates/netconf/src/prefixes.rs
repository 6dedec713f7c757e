//! macOS and Windows have no policy routing: a full tunnel takes the two halves of
//! each default route, which win over the system's default by being longer without
//! replacing it.

use ipnet::IpNet;

/// The prefixes to route through the tunnel. As on Linux, an IPv4-only full tunnel
/// still takes IPv6, which dies in the tunnel instead of leaking past it.
pub(crate) fn tunnel_prefixes(prefixes: &[IpNet], full: bool) -> Vec<IpNet> {
    let halves = |a: &str, b: &str| [a, b].map(|p| p.parse::<IpNet>().expect("prefix"));
    let mut out = Vec::new();
    for prefix in prefixes {
        match prefix {
            IpNet::V4(v4) if v4.prefix_len() == 0 => out.extend(halves("0.0.0.0/1", "128.0.0.0/1")),
            IpNet::V6(v6) if v6.prefix_len() == 0 => out.extend(halves("::/1", "8000::/1")),
            other => out.push(*other),
        }
    }
    if full && !prefixes.iter().any(|p| matches!(p, IpNet::V6(_))) {
        out.extend(halves("::/1", "8000::/1"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_tunnel_routes_are_halves_and_take_ipv6_too() {
        let prefixes = tunnel_prefixes(&["0.0.0.0/0".parse().unwrap()], true);
        let text: Vec<String> = prefixes.iter().map(ToString::to_string).collect();
        assert_eq!(text, ["0.0.0.0/1", "128.0.0.0/1", "::/1", "8000::/1"]);
        let excluded = tunnel_prefixes(
            &["10.0.0.0/8".parse().unwrap(), "::/0".parse().unwrap()],
            true,
        );
        let text: Vec<String> = excluded.iter().map(ToString::to_string).collect();
        assert_eq!(text, ["10.0.0.0/8", "::/1", "8000::/1"]);
        let split = tunnel_prefixes(&["10.0.0.0/8".parse().unwrap()], false);
        assert_eq!(split, ["10.0.0.0/8".parse::<IpNet>().unwrap()]);
    }
}
