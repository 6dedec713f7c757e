//! The Windows kill switch as plain data: which WFP filters, at which layers, with what
//! action, weight and conditions. Nothing here touches Windows, so the policy is computed
//! and tested on every system (natively and under wine); `wfp.rs` only translates it into
//! `FWPM_FILTER0`s.
//!
//! Every filter sits in one sublayer of ours, at the ALE connect and receive-accept layers
//! of both families. Within a sublayer the matching filter of highest weight decides, so
//! the weights are the policy (wireguard-windows orders its filters the same way):
//!
//! | weight | action | what                                                              |
//! |--------|--------|-------------------------------------------------------------------|
//! | 15     | permit | the peers' endpoints (UDP, their ports); full tunnel: DNS to the  |
//! |        |        | tunnel's servers through the tunnel                               |
//! | 14     | block  | full tunnel: every other DNS (port 53, UDP and TCP), through the  |
//! |        |        | tunnel, on loopback or outside                                    |
//! | 12     | permit | the tunnel, loopback, DHCPv4/v6, ND and router discovery          |
//! | 0      | block  | everything else                                                   |
//!
//! Conditions on different fields must all hold; conditions on the same field are
//! alternatives (WFP's rule): that is how one filter takes UDP or TCP, or any of several
//! DNS servers.

use ipnet::IpNet;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// The endpoints, and in a full tunnel the DNS servers the tunnel names: above the DNS
/// lock, so an endpoint on port 53 still gets through.
pub(crate) const WEIGHT_EXCEPTIONS: u8 = 15;
/// The DNS lock: above every general permit, so port 53 through the tunnel or on
/// loopback is blocked too unless it goes to the tunnel's servers.
pub(crate) const WEIGHT_DNS_BLOCK: u8 = 14;
pub(crate) const WEIGHT_PERMIT: u8 = 12;
pub(crate) const WEIGHT_BLOCK_ALL: u8 = 0;

const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_ICMPV6: u8 = 58;
const DNS_PORT: u16 = 53;

/// The ALE layers the kill switch filters at: a connection's first packet out
/// (connect) or in (receive-accept), per family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layer {
    ConnectV4,
    RecvAcceptV4,
    ConnectV6,
    RecvAcceptV6,
}

impl Layer {
    pub(crate) const ALL: [Layer; 4] = [
        Layer::ConnectV4,
        Layer::RecvAcceptV4,
        Layer::ConnectV6,
        Layer::RecvAcceptV6,
    ];

    /// Both directions of one family.
    fn of(v6: bool) -> [Layer; 2] {
        if v6 {
            [Layer::ConnectV6, Layer::RecvAcceptV6]
        } else {
            [Layer::ConnectV4, Layer::RecvAcceptV4]
        }
    }

    #[cfg(test)]
    fn is_v6(self) -> bool {
        matches!(self, Layer::ConnectV6 | Layer::RecvAcceptV6)
    }

    fn describe(self) -> &'static str {
        match self {
            Layer::ConnectV4 => "IPv4 out",
            Layer::RecvAcceptV4 => "IPv4 in",
            Layer::ConnectV6 => "IPv6 out",
            Layer::RecvAcceptV6 => "IPv6 in",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Permit,
    Block,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Condition {
    /// The local interface is the one with this LUID.
    Interface(u64),
    /// The traffic is on loopback (a flag of the connection).
    Loopback,
    Protocol(u8),
    /// The remote address is in this prefix (a host: /32 or /128).
    RemoteAddress(IpNet),
    RemotePort(u16),
    LocalPort(u16),
    /// An ICMP type. At the ALE layers WFP carries it in the local port's field, so it
    /// is an alternative to a [`Condition::LocalPort`], never an addition.
    IcmpType(u8),
}

/// The WFP condition fields: what decides whether two conditions are alternatives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    LocalInterface,
    Flags,
    Protocol,
    RemoteAddress,
    RemotePort,
    LocalPort,
}

impl Condition {
    pub(crate) fn field(self) -> Field {
        match self {
            Condition::Interface(_) => Field::LocalInterface,
            Condition::Loopback => Field::Flags,
            Condition::Protocol(_) => Field::Protocol,
            Condition::RemoteAddress(_) => Field::RemoteAddress,
            Condition::RemotePort(_) => Field::RemotePort,
            Condition::LocalPort(_) | Condition::IcmpType(_) => Field::LocalPort,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Filter {
    /// What `netsh wfp show filters` shows for it.
    pub(crate) name: String,
    pub(crate) layer: Layer,
    pub(crate) action: Action,
    pub(crate) weight: u8,
    pub(crate) conditions: Vec<Condition>,
}

/// What the kill switch is for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spec<'a> {
    /// The tunnel's name, for the filters' names.
    pub(crate) interface: &'a str,
    pub(crate) luid: u64,
    pub(crate) endpoints: &'a [SocketAddr],
    /// A full tunnel locks DNS to `dns`; split routing leaves DNS to the catch-all.
    pub(crate) full: bool,
    pub(crate) dns: &'a [IpAddr],
}

/// The kill switch's filters for `spec`.
pub(crate) fn filters(spec: &Spec<'_>) -> Vec<Filter> {
    let mut out = Vec::new();
    let mut add = |what: &str, layers: &[Layer], action, weight, conditions: &[Condition]| {
        for &layer in layers {
            out.push(Filter {
                name: format!(
                    "Culvert kill switch ({}): {what} ({})",
                    spec.interface,
                    layer.describe()
                ),
                layer,
                action,
                weight,
                conditions: conditions.to_vec(),
            });
        }
    };
    use Action::{Block, Permit};
    use Condition::{
        IcmpType, Interface, LocalPort, Loopback, Protocol, RemoteAddress, RemotePort,
    };

    for endpoint in spec.endpoints {
        add(
            "permit a peer's endpoint",
            &Layer::of(endpoint.is_ipv6()),
            Permit,
            WEIGHT_EXCEPTIONS,
            &[
                Protocol(IPPROTO_UDP),
                RemoteAddress(IpNet::from(endpoint.ip())),
                RemotePort(endpoint.port()),
            ],
        );
    }

    if spec.full && !spec.dns.is_empty() {
        let dns = [
            RemotePort(DNS_PORT),
            Protocol(IPPROTO_UDP),
            Protocol(IPPROTO_TCP),
        ];
        for v6 in [false, true] {
            let servers: Vec<Condition> = spec
                .dns
                .iter()
                .filter(|server| server.is_ipv6() == v6)
                .map(|server| RemoteAddress(IpNet::from(*server)))
                .collect();
            if servers.is_empty() {
                continue;
            }
            let mut conditions = dns.to_vec();
            conditions.push(Interface(spec.luid));
            conditions.extend(servers);
            add(
                "permit DNS to the tunnel's servers through the tunnel",
                &Layer::of(v6),
                Permit,
                WEIGHT_EXCEPTIONS,
                &conditions,
            );
        }
        add(
            "block every other DNS",
            &Layer::ALL,
            Block,
            WEIGHT_DNS_BLOCK,
            &dns,
        );
    }

    add(
        "permit the tunnel",
        &Layer::ALL,
        Permit,
        WEIGHT_PERMIT,
        &[Interface(spec.luid)],
    );
    add(
        "permit loopback",
        &Layer::ALL,
        Permit,
        WEIGHT_PERMIT,
        &[Loopback],
    );
    // DHCP, client port to server port; in and out, as the Linux kill switch.
    for (v6, client, server) in [(false, 68, 67), (true, 546, 547)] {
        add(
            "permit DHCP",
            &Layer::of(v6),
            Permit,
            WEIGHT_PERMIT,
            &[Protocol(IPPROTO_UDP), LocalPort(client), RemotePort(server)],
        );
    }
    // Neighbour discovery, as wireguard-windows narrows it: router solicitations out to
    // the all-routers group, advertisements and redirects in from link-local routers,
    // neighbour solicitations and advertisements both ways.
    let all_routers = IpNet::from(IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2)));
    let link_local: IpNet = "fe80::/10".parse().expect("a valid prefix");
    let nd: [(u8, &str, &[Layer], Option<IpNet>); 5] = [
        (
            133,
            "permit router solicitations",
            &[Layer::ConnectV6],
            Some(all_routers),
        ),
        (
            134,
            "permit router advertisements",
            &[Layer::RecvAcceptV6],
            Some(link_local),
        ),
        (
            135,
            "permit neighbour solicitations",
            &Layer::of(true),
            None,
        ),
        (
            136,
            "permit neighbour advertisements",
            &Layer::of(true),
            None,
        ),
        (
            137,
            "permit redirects",
            &[Layer::RecvAcceptV6],
            Some(link_local),
        ),
    ];
    for (icmp_type, what, layers, remote) in nd {
        let mut conditions = vec![Protocol(IPPROTO_ICMPV6), IcmpType(icmp_type)];
        conditions.extend(remote.map(RemoteAddress));
        add(what, layers, Permit, WEIGHT_PERMIT, &conditions);
    }

    add(
        "block everything else",
        &Layer::ALL,
        Block,
        WEIGHT_BLOCK_ALL,
        &[],
    );
    out
}

/// A WFP object key (a GUID held as its 128-bit value, as `windows_sys`'s
/// `GUID::from_u128` takes it) in the registry form `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`,
/// which is how the journal names it and `netsh wfp show` prints it.
pub(crate) fn guid_text(key: u128) -> String {
    let hex = format!("{key:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The key [`guid_text`] wrote (braces and case are forgiven).
pub(crate) fn parse_guid(text: &str) -> Option<u128> {
    let text = text.trim().trim_start_matches('{').trim_end_matches('}');
    let groups: Vec<&str> = text.split('-').collect();
    let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    if lengths != [8, 4, 4, 4, 12]
        || !groups
            .iter()
            .all(|g| g.chars().all(|c| c.is_ascii_hexdigit()))
    {
        return None;
    }
    u128::from_str_radix(&groups.concat(), 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TUNNEL: u64 = 0x0011_2233_4455_6677;
    const WIFI: u64 = 0x0099_0000_0000_0001;

    /// One connection's first packet as the ALE layers see it.
    #[derive(Debug, Clone, Copy)]
    struct Packet {
        layer: Layer,
        interface: u64,
        loopback: bool,
        protocol: u8,
        remote: IpAddr,
        remote_port: u16,
        /// The local port; for ICMP, the type.
        local_port: u16,
    }

    fn packet(layer: Layer, interface: u64, protocol: u8, remote: &str, port: u16) -> Packet {
        Packet {
            layer,
            interface,
            loopback: false,
            protocol,
            remote: remote.parse().unwrap(),
            remote_port: port,
            local_port: 50_000,
        }
    }

    fn matches(condition: Condition, packet: &Packet) -> bool {
        match condition {
            Condition::Interface(luid) => packet.interface == luid,
            Condition::Loopback => packet.loopback,
            Condition::Protocol(protocol) => packet.protocol == protocol,
            Condition::RemoteAddress(prefix) => prefix.contains(&packet.remote),
            Condition::RemotePort(port) => packet.remote_port == port,
            Condition::LocalPort(port) => packet.local_port == port,
            Condition::IcmpType(icmp) => packet.local_port == u16::from(icmp),
        }
    }

    /// WFP's arbitration inside one sublayer: same field any, different fields all; the
    /// matching filter of highest weight decides. Two matching filters of one weight but
    /// different actions would leave the order to WFP: a test failure.
    fn decide(filters: &[Filter], packet: &Packet) -> Action {
        let applies = |filter: &&Filter| {
            filter.layer == packet.layer
                && filter.conditions.iter().all(|c| {
                    filter
                        .conditions
                        .iter()
                        .filter(|other| other.field() == c.field())
                        .any(|other| matches(*other, packet))
                })
        };
        let matching: Vec<&Filter> = filters.iter().filter(applies).collect();
        let top = matching
            .iter()
            .max_by_key(|f| f.weight)
            .unwrap_or_else(|| panic!("no filter for {packet:?}: the catch-all is missing"));
        assert!(
            matching
                .iter()
                .all(|f| f.weight != top.weight || f.action == top.action),
            "a tie between a permit and a block for {packet:?}"
        );
        top.action
    }

    fn spec<'a>(endpoints: &'a [SocketAddr], full: bool, dns: &'a [IpAddr]) -> Spec<'a> {
        Spec {
            interface: "wg0",
            luid: TUNNEL,
            endpoints,
            full,
            dns,
        }
    }

    #[test]
    fn a_full_tunnel_with_dns_10_0_0_1_permits_53_only_to_it_through_the_tunnel() {
        let dns = ["10.0.0.1".parse().unwrap()];
        let filters = filters(&spec(&[], true, &dns));
        let out = Layer::ConnectV4;
        for protocol in [IPPROTO_UDP, IPPROTO_TCP] {
            let to = |interface, remote| packet(out, interface, protocol, remote, 53);
            assert_eq!(decide(&filters, &to(TUNNEL, "10.0.0.1")), Action::Permit);
            assert_eq!(decide(&filters, &to(WIFI, "10.0.0.1")), Action::Block);
            assert_eq!(decide(&filters, &to(TUNNEL, "9.9.9.9")), Action::Block);
            assert_eq!(decide(&filters, &to(WIFI, "9.9.9.9")), Action::Block);
            let mut local = to(0, "127.0.0.1");
            local.loopback = true;
            assert_eq!(decide(&filters, &local), Action::Block, "no local resolver");
        }
        let v6 = packet(Layer::ConnectV6, TUNNEL, IPPROTO_UDP, "2620:fe::fe", 53);
        assert_eq!(decide(&filters, &v6), Action::Block, "no IPv6 server named");
        // Everything else through the tunnel is the tunnel's business.
        let web = packet(out, TUNNEL, IPPROTO_TCP, "9.9.9.9", 443);
        assert_eq!(decide(&filters, &web), Action::Permit);
        let web = packet(out, WIFI, IPPROTO_TCP, "9.9.9.9", 443);
        assert_eq!(decide(&filters, &web), Action::Block);
    }

    #[test]
    fn split_routing_has_no_dns_lock() {
        let dns = ["10.0.0.1".parse().unwrap()];
        let filters = filters(&spec(&[], false, &dns));
        let through = packet(Layer::ConnectV4, TUNNEL, IPPROTO_UDP, "9.9.9.9", 53);
        assert_eq!(decide(&filters, &through), Action::Permit);
        let outside = packet(Layer::ConnectV4, WIFI, IPPROTO_UDP, "10.0.0.1", 53);
        assert_eq!(decide(&filters, &outside), Action::Block);
        assert!(filters.iter().all(|f| f.weight != WEIGHT_DNS_BLOCK));
    }

    #[test]
    fn ipv6_dns_servers_get_their_own_permit() {
        let dns = ["10.0.0.1".parse().unwrap(), "fd00::53".parse().unwrap()];
        let filters = filters(&spec(&[], true, &dns));
        let v6 = packet(Layer::ConnectV6, TUNNEL, IPPROTO_TCP, "fd00::53", 53);
        assert_eq!(decide(&filters, &v6), Action::Permit);
        let crossed = packet(Layer::ConnectV6, TUNNEL, IPPROTO_UDP, "::ffff:10.0.0.1", 53);
        assert_eq!(decide(&filters, &crossed), Action::Block);
    }

    #[test]
    fn nd_router_discovery_and_dhcp_are_permitted_outside_the_tunnel() {
        let filters = filters(&spec(&[], true, &["10.0.0.1".parse().unwrap()]));
        let icmp = |layer, remote: &str, icmp_type: u16| Packet {
            local_port: icmp_type,
            remote_port: 0,
            ..packet(layer, WIFI, IPPROTO_ICMPV6, remote, 0)
        };
        let (out, inbound) = (Layer::ConnectV6, Layer::RecvAcceptV6);
        assert_eq!(decide(&filters, &icmp(out, "ff02::2", 133)), Action::Permit);
        assert_eq!(
            decide(&filters, &icmp(out, "2001:db8::1", 133)),
            Action::Block
        );
        assert_eq!(
            decide(&filters, &icmp(inbound, "fe80::1", 134)),
            Action::Permit
        );
        assert_eq!(
            decide(&filters, &icmp(inbound, "2001:db8::1", 134)),
            Action::Block
        );
        for layer in [out, inbound] {
            for nd in [135, 136] {
                let any = icmp(layer, "2001:db8::1", nd);
                assert_eq!(decide(&filters, &any), Action::Permit, "{nd} {layer:?}");
            }
        }
        assert_eq!(
            decide(&filters, &icmp(inbound, "fe80::1", 137)),
            Action::Permit
        );
        assert_eq!(
            decide(&filters, &icmp(out, "2001:db8::1", 128)),
            Action::Block,
            "ping"
        );

        let dhcp = |layer, protocol, remote, local_port, remote_port| Packet {
            local_port,
            ..packet(layer, WIFI, protocol, remote, remote_port)
        };
        for layer in [Layer::ConnectV4, Layer::RecvAcceptV4] {
            let v4 = dhcp(layer, IPPROTO_UDP, "255.255.255.255", 68, 67);
            assert_eq!(decide(&filters, &v4), Action::Permit);
            let tcp = dhcp(layer, IPPROTO_TCP, "192.0.2.1", 68, 67);
            assert_eq!(decide(&filters, &tcp), Action::Block);
        }
        for layer in [out, inbound] {
            let v6 = dhcp(layer, IPPROTO_UDP, "ff02::1:2", 546, 547);
            assert_eq!(decide(&filters, &v6), Action::Permit);
        }
        let spoof = dhcp(Layer::ConnectV4, IPPROTO_UDP, "192.0.2.1", 50_000, 67);
        assert_eq!(
            decide(&filters, &spoof),
            Action::Block,
            "only the client port"
        );
    }

    #[test]
    fn the_endpoint_is_permitted_only_for_udp_to_its_port() {
        let endpoints = [
            "192.0.2.2:51820".parse().unwrap(),
            "[2001:db8::2]:53".parse().unwrap(),
        ];
        let dns = ["10.0.0.1".parse().unwrap()];
        let filters = filters(&spec(&endpoints, true, &dns));
        for layer in [Layer::ConnectV4, Layer::RecvAcceptV4] {
            let udp = packet(layer, WIFI, IPPROTO_UDP, "192.0.2.2", 51820);
            assert_eq!(decide(&filters, &udp), Action::Permit);
            let tcp = packet(layer, WIFI, IPPROTO_TCP, "192.0.2.2", 51820);
            assert_eq!(decide(&filters, &tcp), Action::Block);
            let port = packet(layer, WIFI, IPPROTO_UDP, "192.0.2.2", 51821);
            assert_eq!(decide(&filters, &port), Action::Block);
            let host = packet(layer, WIFI, IPPROTO_UDP, "192.0.2.3", 51820);
            assert_eq!(decide(&filters, &host), Action::Block);
        }
        // An endpoint on the DNS port (to pass captive firewalls) outranks the DNS lock.
        let on_53 = packet(Layer::ConnectV6, WIFI, IPPROTO_UDP, "2001:db8::2", 53);
        assert_eq!(decide(&filters, &on_53), Action::Permit);
        let tcp_53 = packet(Layer::ConnectV6, WIFI, IPPROTO_TCP, "2001:db8::2", 53);
        assert_eq!(decide(&filters, &tcp_53), Action::Block);
        // No IPv4 filter names the IPv6 endpoint, nor the other way round.
        for filter in &filters {
            for condition in &filter.conditions {
                if let Condition::RemoteAddress(prefix) = condition {
                    assert_eq!(
                        matches!(prefix, IpNet::V6(_)),
                        filter.layer.is_v6(),
                        "{}",
                        filter.name
                    );
                }
            }
        }
    }

    #[test]
    fn loopback_and_the_tunnel_pass_and_everything_else_is_blocked() {
        let filters = filters(&spec(&[], false, &[]));
        for layer in Layer::ALL {
            let remote = if layer.is_v6() {
                "2001:db8::9"
            } else {
                "198.51.100.9"
            };
            let mut local = packet(layer, 1, IPPROTO_TCP, remote, 8080);
            local.loopback = true;
            assert_eq!(decide(&filters, &local), Action::Permit);
            let tunnel = packet(layer, TUNNEL, IPPROTO_TCP, remote, 22);
            assert_eq!(decide(&filters, &tunnel), Action::Permit);
            let outside = packet(layer, WIFI, IPPROTO_UDP, remote, 443);
            assert_eq!(decide(&filters, &outside), Action::Block);
        }
    }

    #[test]
    fn the_weights_order_the_catch_all_the_dns_lock_and_the_permits() {
        let endpoints = ["192.0.2.2:51820".parse().unwrap()];
        let dns = ["10.0.0.1".parse().unwrap(), "fd00::53".parse().unwrap()];
        let filters = filters(&spec(&endpoints, true, &dns));
        let weights = |action, lock: bool| -> Vec<u8> {
            filters
                .iter()
                .filter(|f| f.action == action)
                .filter(|f| f.conditions.contains(&Condition::RemotePort(53)) == lock)
                .map(|f| f.weight)
                .collect()
        };
        let (catch_all, dns_block) = (weights(Action::Block, false), weights(Action::Block, true));
        let (dns_permits, permits) = (
            weights(Action::Permit, true),
            weights(Action::Permit, false),
        );
        assert!(!dns_block.is_empty() && !dns_permits.is_empty());
        // Every block-all is below every permit.
        let lowest_permit = permits.iter().chain(&dns_permits).min().unwrap();
        assert!(catch_all.iter().all(|w| w < lowest_permit));
        // The DNS lock is above the general permits (tunnel, loopback, DHCP, ND) and below
        // the permits for the tunnel's DNS servers and the endpoints.
        let endpoint_weights: Vec<u8> = filters
            .iter()
            .filter(|f| f.name.contains("endpoint"))
            .map(|f| f.weight)
            .collect();
        let general: Vec<u8> = filters
            .iter()
            .filter(|f| f.action == Action::Permit && !f.name.contains("endpoint"))
            .filter(|f| !f.conditions.contains(&Condition::RemotePort(53)))
            .map(|f| f.weight)
            .collect();
        for block in &dns_block {
            assert!(general.iter().all(|w| w < block));
            assert!(
                dns_permits
                    .iter()
                    .chain(&endpoint_weights)
                    .all(|w| w > block)
            );
        }
        // Every layer ends in a catch-all block.
        for layer in Layer::ALL {
            assert!(
                filters.iter().any(|f| f.layer == layer
                    && f.action == Action::Block
                    && f.conditions.is_empty())
            );
        }
    }

    #[test]
    fn guids_round_trip_through_their_text() {
        let key = 0x6375_6c76_0123_4567_89ab_cdef_0011_2233_u128;
        let text = guid_text(key);
        assert_eq!(text, "63756c76-0123-4567-89ab-cdef00112233");
        assert_eq!(parse_guid(&text), Some(key));
        assert_eq!(
            parse_guid(&format!("{{{}}}", text.to_uppercase())),
            Some(key)
        );
        assert_eq!(parse_guid("63756c76-0123-4567-89ab"), None);
        assert_eq!(parse_guid("63756c76-0123-4567-89ab-cdef0011223g"), None);
    }
}
