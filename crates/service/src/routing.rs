//! The runtime routing choice of a tunnel, and what it means for the engine and the
//! network. The stored config is never rewritten: the mode is applied on top of it.

use culvert_config::{Config, PrefixSet, Table};
use culvert_netconf::{POLICY_TABLE, Routing};
use ipnet::IpNet;

/// The protocol's routing mode is the service's: one type from the wire to the network.
pub use culvert_ipc::RoutingMode;

/// What goes through the tunnel in `mode`; refused when the config's `Table` cannot be
/// honoured.
pub fn routing(config: &Config, mode: RoutingMode) -> Result<Routing, String> {
    let allowed = config.allowed_ips_set();
    match (mode, own_table(config.interface.table.as_ref())?) {
        (RoutingMode::Split, OwnTable::Off) => Ok(Routing::Split(Vec::new())),
        (RoutingMode::Split, OwnTable::Number(table)) => Ok(Routing::Table {
            table,
            prefixes: allowed.prefixes(),
        }),
        (RoutingMode::Split, OwnTable::Auto) => {
            // A config that already routes a default route gets policy routing, as with
            // wg-quick, so the endpoint stays reachable.
            let default_route = allowed.contains_net(&"0.0.0.0/0".parse().expect("prefix"))
                || allowed.contains_net(&"::/0".parse().expect("prefix"));
            Ok(if default_route {
                Routing::Full(allowed.prefixes())
            } else {
                Routing::Split(allowed.prefixes())
            })
        }
        (_, OwnTable::Number(table)) => Err(format!(
            "`Table = {table}` routes this tunnel into a table of its own, which full tunnel \
             needs for itself: remove the Table line, or stay in split mode"
        )),
        (RoutingMode::Full, _) => Ok(Routing::Full(PrefixSet::full_tunnel().prefixes())),
        (RoutingMode::ExcludePrivate, _) => {
            Ok(Routing::Full(PrefixSet::exclude_private().prefixes()))
        }
    }
}

/// What wg-quick's `Table` asks for.
enum OwnTable {
    Auto,
    Off,
    Number(u32),
}

fn own_table(table: Option<&Table>) -> Result<OwnTable, String> {
    const MAIN: u32 = 254;
    let number = match table {
        None | Some(Table::Auto) => return Ok(OwnTable::Auto),
        Some(Table::Off) => return Ok(OwnTable::Off),
        Some(Table::Name(name)) if name == "main" => MAIN,
        Some(Table::Name(name)) => {
            return Err(format!(
                "`Table = {name}`: give the table's number (only `main` is known by name)"
            ));
        }
        Some(Table::Id(number)) => *number,
    };
    match number {
        0 | 253 | 255 => Err(format!(
            "`Table = {number}` is reserved (0 is no table, 253 and 255 are the kernel's \
             default and local tables)"
        )),
        POLICY_TABLE => Err(format!(
            "`Table = {number}` is the table Culvert's policy routing uses: choose another"
        )),
        _ if cfg!(target_os = "linux") => Ok(OwnTable::Number(number)),
        _ => Err(format!(
            "`Table = {number}` is honoured on Linux only: remove it, or use `Table = off`"
        )),
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
            routing(&split, RoutingMode::Split).unwrap(),
            Routing::Split(vec![
                "10.100.0.0/16".parse().unwrap(),
                "172.17.0.0/20".parse().unwrap()
            ])
        );
        let Routing::Full(full) = routing(&split, RoutingMode::Full).unwrap() else {
            panic!()
        };
        assert_eq!(
            full,
            vec![
                "0.0.0.0/0".parse::<IpNet>().unwrap(),
                "::/0".parse().unwrap()
            ]
        );
        let Routing::Full(public) = routing(&split, RoutingMode::ExcludePrivate).unwrap() else {
            panic!()
        };
        assert!(public.len() > 10 && !public.contains(&"0.0.0.0/0".parse().unwrap()));
        assert_eq!(split, before);
        assert!(matches!(
            routing(&config(&["0.0.0.0/0"]), RoutingMode::Split).unwrap(),
            Routing::Full(_)
        ));
        assert_eq!(extra_allowed_ips(RoutingMode::Split), Vec::<IpNet>::new());
    }

    #[test]
    fn a_table_of_its_own_is_honoured_in_split_mode_and_reserved_ones_are_refused() {
        let mut own = config(&["10.100.0.0/16", "0.0.0.0/0"]);
        own.interface.table = Some(Table::Id(1234));
        let expected = Routing::Table {
            table: 1234,
            prefixes: own.allowed_ips_set().prefixes(),
        };
        if cfg!(target_os = "linux") {
            assert_eq!(routing(&own, RoutingMode::Split), Ok(expected));
            let refused = routing(&own, RoutingMode::Full).unwrap_err();
            assert!(refused.contains("split mode"), "{refused}");
        } else {
            assert!(routing(&own, RoutingMode::Split).is_err());
        }
        own.interface.table = Some(Table::Off);
        assert_eq!(
            routing(&own, RoutingMode::Split),
            Ok(Routing::Split(Vec::new()))
        );
        for reserved in [0, 253, 255, POLICY_TABLE] {
            own.interface.table = Some(Table::Id(reserved));
            let refused = routing(&own, RoutingMode::Split).unwrap_err();
            assert!(
                refused.contains(&format!("Table = {reserved}")),
                "{refused}"
            );
        }
        own.interface.table = Some(Table::Name("vpn".into()));
        assert!(
            routing(&own, RoutingMode::Split)
                .unwrap_err()
                .contains("number")
        );
    }
}
