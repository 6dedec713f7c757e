//! Addresses, MTU, routes and policy rules through rtnetlink. Each call blocks on a
//! private single-threaded runtime: the callers are synchronous and rare.

use crate::Error;
use futures::TryStreamExt;
use ipnet::IpNet;
use rtnetlink::packet_route::rule::{RuleAction, RuleAttribute, RuleFlags, RuleMessage};
use rtnetlink::{Handle, IpVersion, LinkUnspec, RouteMessageBuilder};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub(crate) struct Netlink {
    runtime: tokio::runtime::Runtime,
    handle: Handle,
}

/// A policy rule we add: either wg-quick's `not fwmark M lookup T`, or `lookup main
/// suppress_prefixlength 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum RuleKind {
    NotFwmarkToTable { fwmark: u32, table: u32 },
    MainWithoutDefault,
}

const RT_TABLE_MAIN: u32 = 254;

impl Netlink {
    pub(crate) fn new() -> Result<Self, Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .map_err(Error::io("netlink runtime"))?;
        let (connection, handle, _) = runtime
            .block_on(async { rtnetlink::new_connection() })
            .map_err(Error::io("netlink socket"))?;
        runtime.spawn(connection);
        Ok(Self { runtime, handle })
    }

    pub(crate) fn link_index(&self, name: &str) -> Result<u32, Error> {
        self.runtime.block_on(async {
            let mut links = self
                .handle
                .link()
                .get()
                .match_name(name.to_owned())
                .execute();
            match links.try_next().await {
                Ok(Some(link)) => Ok(link.header.index),
                Ok(None) | Err(_) => Err(Error::NoSuchInterface(name.to_owned())),
            }
        })
    }

    pub(crate) fn set_mtu_and_up(&self, index: u32, mtu: u32) -> Result<(), Error> {
        let message = LinkUnspec::new_with_index(index).mtu(mtu).up().build();
        self.runtime
            .block_on(self.handle.link().set(message).execute())
            .map_err(Error::netlink("set MTU and up"))
    }

    pub(crate) fn add_address(&self, index: u32, address: IpNet) -> Result<(), Error> {
        let request = self
            .handle
            .address()
            .add(index, address.addr(), address.prefix_len());
        ignore_exists(self.runtime.block_on(request.execute()))
            .map_err(Error::netlink("add address"))
    }

    pub(crate) fn route(
        &self,
        add: bool,
        index: u32,
        destination: IpNet,
        table: u32,
    ) -> Result<(), Error> {
        let message = match destination {
            IpNet::V4(net) => RouteMessageBuilder::<Ipv4Addr>::new()
                .destination_prefix(net.addr(), net.prefix_len())
                .output_interface(index)
                .table_id(table)
                .build(),
            IpNet::V6(net) => RouteMessageBuilder::<Ipv6Addr>::new()
                .destination_prefix(net.addr(), net.prefix_len())
                .output_interface(index)
                .table_id(table)
                .build(),
        };
        self.runtime.block_on(async {
            if add {
                let added = self.handle.route().add(message).execute().await;
                // The kernel says EEXIST for an IPv4 route of the same destination and
                // metric through any interface: unless it is ours, this destination's
                // traffic would not enter the tunnel.
                if errno(&added) == Some(libc_eexist()) {
                    return if self.has_route(index, destination, table).await {
                        Ok(())
                    } else {
                        Err(Error::RouteTaken { destination, table })
                    };
                }
                added.map_err(Error::netlink("add route"))
            } else {
                ignore_missing(self.handle.route().del(message).execute().await)
                    .map_err(Error::netlink("delete route"))
            }
        })
    }

    pub(crate) fn add_rule(&self, v6: bool, priority: u32, kind: RuleKind) -> Result<(), Error> {
        self.runtime.block_on(async {
            let request = self
                .handle
                .rule()
                .add()
                .priority(priority)
                .action(RuleAction::ToTable);
            let result = match (v6, kind) {
                (false, RuleKind::NotFwmarkToTable { fwmark, table }) => {
                    let mut r = request.table_id(table).fw_mark(fwmark).v4();
                    r.message_mut().header.flags |= RuleFlags::Invert;
                    r.execute().await
                }
                (true, RuleKind::NotFwmarkToTable { fwmark, table }) => {
                    let mut r = request.table_id(table).fw_mark(fwmark).v6();
                    r.message_mut().header.flags |= RuleFlags::Invert;
                    r.execute().await
                }
                (false, RuleKind::MainWithoutDefault) => {
                    let mut r = request.table_id(RT_TABLE_MAIN).v4();
                    r.message_mut()
                        .attributes
                        .push(RuleAttribute::SuppressPrefixLen(0));
                    r.execute().await
                }
                (true, RuleKind::MainWithoutDefault) => {
                    let mut r = request.table_id(RT_TABLE_MAIN).v6();
                    r.message_mut()
                        .attributes
                        .push(RuleAttribute::SuppressPrefixLen(0));
                    r.execute().await
                }
            };
            ignore_exists(result).map_err(Error::netlink("add rule"))
        })
    }

    /// Deletes every rule of that family at `priority` (ours are the only ones there).
    pub(crate) fn delete_rules(&self, v6: bool, priority: u32) -> Result<(), Error> {
        self.runtime.block_on(async {
            let version = if v6 { IpVersion::V6 } else { IpVersion::V4 };
            let rules: Vec<RuleMessage> = self
                .handle
                .rule()
                .get(version)
                .execute()
                .try_collect()
                .await
                .map_err(Error::netlink("list rules"))?;
            for rule in rules {
                if rule.attributes.contains(&RuleAttribute::Priority(priority)) {
                    ignore_missing(self.handle.rule().del(rule).execute().await)
                        .map_err(Error::netlink("delete rule"))?;
                }
            }
            Ok(())
        })
    }
}

fn errno(result: &Result<(), rtnetlink::Error>) -> Option<i32> {
    match result {
        Err(rtnetlink::Error::NetlinkError(message)) => message.code.map(|c| -c.get()),
        _ => None,
    }
}

/// Adding what is already there is success: undo and redo must be idempotent.
fn ignore_exists(result: Result<(), rtnetlink::Error>) -> Result<(), rtnetlink::Error> {
    if errno(&result) == Some(libc_eexist()) {
        Ok(())
    } else {
        result
    }
}

/// Deleting what is gone (the interface vanished with its routes) is success too.
fn ignore_missing(result: Result<(), rtnetlink::Error>) -> Result<(), rtnetlink::Error> {
    match errno(&result) {
        Some(code) if [2, 3, 19].contains(&code) => Ok(()), // ENOENT, ESRCH, ENODEV
        _ => result,
    }
}

const fn libc_eexist() -> i32 {
    17
}

impl Netlink {
    /// Whether `table` has a route to exactly `destination` through interface `index`.
    async fn has_route(&self, index: u32, destination: IpNet, table: u32) -> bool {
        use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute};
        let dump = match destination {
            IpNet::V4(_) => RouteMessageBuilder::<Ipv4Addr>::new().build(),
            IpNet::V6(_) => RouteMessageBuilder::<Ipv6Addr>::new().build(),
        };
        let Ok(routes) = self
            .handle
            .route()
            .get(dump)
            .execute()
            .try_collect::<Vec<_>>()
            .await
        else {
            return false;
        };
        routes.iter().any(|route| {
            let attribute = |pick: &dyn Fn(&RouteAttribute) -> Option<u32>| {
                route.attributes.iter().find_map(pick)
            };
            let route_table = attribute(&|a| match a {
                RouteAttribute::Table(t) => Some(*t),
                _ => None,
            })
            .unwrap_or(u32::from(route.header.table));
            let oif = attribute(&|a| match a {
                RouteAttribute::Oif(i) => Some(*i),
                _ => None,
            });
            let address = route.attributes.iter().find_map(|a| match a {
                RouteAttribute::Destination(RouteAddress::Inet(v4)) => Some(IpAddr::V4(*v4)),
                RouteAttribute::Destination(RouteAddress::Inet6(v6)) => Some(IpAddr::V6(*v6)),
                _ => None,
            });
            route.header.destination_prefix_length == destination.prefix_len()
                && address == Some(destination.addr())
                && route_table == table
                && oif == Some(index)
        })
    }

    /// The MTU of the interface that carries the IPv4 default route, as wg-quick bases
    /// its automatic MTU on.
    pub(crate) fn default_route_mtu(&self) -> Option<u32> {
        use rtnetlink::packet_route::link::LinkAttribute;
        use rtnetlink::packet_route::route::RouteAttribute;
        self.runtime.block_on(async {
            let routes: Vec<_> = self
                .handle
                .route()
                .get(RouteMessageBuilder::<Ipv4Addr>::new().build())
                .execute()
                .try_collect()
                .await
                .ok()?;
            let oif = routes
                .iter()
                .filter(|r| r.header.destination_prefix_length == 0)
                .find_map(|r| {
                    r.attributes.iter().find_map(|a| match a {
                        RouteAttribute::Oif(index) => Some(*index),
                        _ => None,
                    })
                })?;
            let link = self
                .handle
                .link()
                .get()
                .match_index(oif)
                .execute()
                .try_next()
                .await
                .ok()??;
            link.attributes.iter().find_map(|a| match a {
                LinkAttribute::Mtu(mtu) => Some(*mtu),
                _ => None,
            })
        })
    }
}
