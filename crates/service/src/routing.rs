//! The runtime routing choice of a tunnel, and what it means for the engine and the
//! network. The stored config is never rewritten: the mode is applied on top of it.

use culvert_config::{Config, PrefixSet, Table};
use culvert_netconf::Routing;
use ipnet::IpNet;

/// The protocol's routing mode is the service's: one type from the wire to the network.
pub use culvert_ipc::RoutingMode;

/// What goes through the tunnel in `mode`.
pub fn routing(config: &Config, mode: RoutingMode) -> Routing {
    match mode {
        RoutingMode::Split => {
            if config.interface.table == Some(Table::Off) {
                return Routing::Split(Vec::new());
            }
            let allowed = config.allowed_ips_set();
            // A config that already routes a default route gets policy routing, as with
            // wg-quick, so the endpoint stays reachable.
            let default_route = allowed.contains_net(&"0.0.0.0/0".parse().expect("prefix"))
                || allowed.contains_net(&"::/0".parse().expect("prefix"));
            if default_route {
                Routing::Full(allowed.prefixes())
            } else {
                Routing::Split(allowed.prefixes())
            }
        }
        RoutingMode::Full => Routing::Full(PrefixSet::full_tunnel().prefixes()),
        RoutingMode::ExcludePrivate => Routing::Full(PrefixSet::exclude_private().prefixes()),
    }
}

/// The prefixes the engine must accept from and route to the tunnel's main peer (the
/// first with an endpoint) beyond its configured AllowedIPs, in `mode`.
pub fn extra_allowed_ips(mode: RoutingMode) -> Vec<IpNet> {
    match mode {
        RoutingMode::Split => Vec::new(),
        RoutingMode::Full | RoutingMode::ExcludePrivate => PrefixSet::full_tunnel().prefixes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use culvert_config::{Interface, Peer, PrivateKey};

    fn config(allowed: &[&str]) -> Config {
        let mut config = Config::new(Interface::new(PrivateKey::generate()));
        let mut peer = Peer::new(PrivateKey::generate().public_key());
        peer.allowed_ips = allowed.iter().map(|a| a.parse().unwrap()).collect();
        config.peers.push(peer);
        config
    }

    #[test]
    fn modes_choose_the_prefixes_and_never_touch_the_config() {
        let split = config(&["10.100.0.0/16", "172.17.0.11/20"]);
        let before = split.clone();
        assert_eq!(
            routing(&split, RoutingMode::Split),
            Routing::Split(vec![
                "10.100.0.0/16".parse().unwrap(),
                "172.17.0.0/20".parse().unwrap()
            ])
        );
        let Routing::Full(full) = routing(&split, RoutingMode::Full) else {
            panic!()
        };
        assert_eq!(
            full,
            vec![
                "0.0.0.0/0".parse::<IpNet>().unwrap(),
                "::/0".parse().unwrap()
            ]
        );
        let Routing::Full(public) = routing(&split, RoutingMode::ExcludePrivate) else {
            panic!()
        };
        assert!(public.len() > 10 && !public.contains(&"0.0.0.0/0".parse().unwrap()));
        assert_eq!(split, before);
        assert!(matches!(
            routing(&config(&["0.0.0.0/0"]), RoutingMode::Split),
            Routing::Full(_)
        ));
        assert_eq!(extra_allowed_ips(RoutingMode::Split), Vec::<IpNet>::new());
    }
}
