//! Linux: rtnetlink for addresses, routes and rules (wg-quick's fwmark + policy table +
//! `suppress_prefixlength 0` for full tunnel), DNS through systemd-resolved, resolvconf
//! or the resolv.conf file ([`crate::dns`]). The kill switch is the service's, not a
//! tunnel's: one nftables table ([`enforce_kill_switch`]).

mod netlink;

use crate::dns::{self, DnsBackend, DnsSystem};
use crate::journal::{Journal, Recovery, Undo};
use crate::killswitch::{self, Guard};
use crate::{Error, POLICY_TABLE, Paths, Routing, TunnelNetwork};
use ipnet::IpNet;
use netlink::{Netlink, RuleKind};
use std::path::Path;

const RT_TABLE_MAIN: u32 = 254;
/// Our two policy rules, just before the main table's (32766): main without its default
/// route first, so the local network stays reachable, then everything unmarked to ours.
const PRIORITY_MAIN_WITHOUT_DEFAULT: u32 = 32760;
const PRIORITY_TO_TUNNEL_TABLE: u32 = 32761;
const SRC_VALID_MARK: &str = "/proc/sys/net/ipv4/conf/all/src_valid_mark";
/// wg-quick's overhead allowance: the largest IPv6 + UDP + WireGuard header.
const TUNNEL_OVERHEAD: u32 = 80;

pub(crate) struct Applied {
    netlink: Netlink,
    journal: Journal,
    network: TunnelNetwork,
    paths: Paths,
    dns_system: DnsSystem,
    dns: Option<dns::Configured>,
}

impl Applied {
    /// Applies `network`, journaling into `journal` (opened by the façade).
    pub(crate) fn apply(
        journal: Journal,
        paths: &Paths,
        dns_system: &DnsSystem,
        network: &TunnelNetwork,
    ) -> Result<Self, Error> {
        let netlink = Netlink::new()?;
        let mut applied = Self {
            netlink,
            journal,
            network: network.clone(),
            paths: paths.clone(),
            dns_system: dns_system.clone(),
            dns: None,
        };
        if let Err(error) = applied.apply_all() {
            // Leave nothing half-done behind.
            let _ = applied.revert();
            return Err(error);
        }
        Ok(applied)
    }

    fn apply_all(&mut self) -> Result<(), Error> {
        let index = self.netlink.link_index(&self.network.interface)?;
        let mtu = match self.network.mtu {
            Some(mtu) => mtu,
            None => self
                .netlink
                .default_route_mtu()
                .map_or(1420, |m| m.saturating_sub(TUNNEL_OVERHEAD).max(1280)),
        };
        // Addresses and MTU go away with the interface: nothing to journal.
        self.netlink.set_mtu_and_up(index, mtu)?;
        for address in &self.network.addresses {
            self.netlink.add_address(index, *address)?;
        }
        self.apply_routing(index)?;
        if let Some(dns) = self.network.dns.clone().filter(|d| !d.servers.is_empty()) {
            let backend = DnsBackend::detect(&self.paths.resolv_conf, &self.dns_system);
            let full = matches!(self.network.routing, Routing::Full(_));
            self.dns = Some(dns::Configured::apply(
                &mut self.journal,
                backend,
                &self.paths,
                (&self.network.interface, index),
                dns,
                full,
            )?);
        }
        Ok(())
    }

    fn apply_routing(&mut self, index: u32) -> Result<(), Error> {
        match self.network.routing.clone() {
            Routing::Split(prefixes) if self.split_by_policy() => {
                self.add_routes(index, prefixes, POLICY_TABLE)?;
                self.add_policy_rules(false)
            }
            Routing::Split(prefixes) => self.add_routes(index, prefixes, RT_TABLE_MAIN),
            Routing::Table { table, prefixes } => self.add_routes(index, prefixes, table),
            Routing::Full(mut prefixes) => {
                // An IPv4-only tunnel still takes IPv6 into the tunnel, where it dies
                // instead of leaking past it.
                if !prefixes.iter().any(|p| matches!(p, IpNet::V6(_))) {
                    prefixes.push("::/0".parse().expect("valid prefix"));
                }
                self.add_routes(index, prefixes, POLICY_TABLE)?;
                self.add_policy_rules(true)
            }
        }
    }

    /// Split routing normally goes into the main table; with an endpoint inside its
    /// prefixes that would send the engine's own packets to the endpoint back into the
    /// tunnel, so then it is policy routing, which lets the marked packets past.
    fn split_by_policy(&self) -> bool {
        matches!(self.network.routing, Routing::Split(_))
            && self.network.routing.needs_policy(&self.network.endpoints)
    }

    fn add_routes(&mut self, index: u32, prefixes: Vec<IpNet>, table: u32) -> Result<(), Error> {
        for destination in prefixes {
            self.journal.record(Undo::DeleteRoute {
                interface: self.network.interface.clone(),
                destination,
                table,
            })?;
            self.netlink.route(true, index, destination, table)?;
        }
        Ok(())
    }

    /// wg-quick's rules: everything the engine did not mark looks in the policy table
    /// first; for a full tunnel, the main table without its default route before that,
    /// so the local network stays reachable.
    fn add_policy_rules(&mut self, main_first: bool) -> Result<(), Error> {
        self.enable_src_valid_mark()?;
        for v6 in [false, true] {
            self.journal.record(Undo::DeleteRules {
                v6,
                priority: PRIORITY_TO_TUNNEL_TABLE,
            })?;
            let to_table = RuleKind::NotFwmarkToTable {
                fwmark: self.network.fwmark,
                table: POLICY_TABLE,
            };
            self.netlink
                .add_rule(v6, PRIORITY_TO_TUNNEL_TABLE, to_table)?;
            if main_first {
                self.journal.record(Undo::DeleteRules {
                    v6,
                    priority: PRIORITY_MAIN_WITHOUT_DEFAULT,
                })?;
                self.netlink.add_rule(
                    v6,
                    PRIORITY_MAIN_WITHOUT_DEFAULT,
                    RuleKind::MainWithoutDefault,
                )?;
            }
        }
        Ok(())
    }

    /// Marked packets must pass reverse-path filtering on the way back (wg-quick does
    /// the same).
    fn enable_src_valid_mark(&mut self) -> Result<(), Error> {
        let path = Path::new(SRC_VALID_MARK);
        let current = std::fs::read_to_string(path)
            .unwrap_or_default()
            .trim()
            .to_owned();
        if current != "1" && !current.is_empty() {
            self.journal.record(Undo::RestoreSysctl {
                path: path.to_owned(),
                value: current,
            })?;
            std::fs::write(path, "1").map_err(Error::io("src_valid_mark"))?;
        }
        Ok(())
    }

    /// Switches routing live: the interface, its session and everything else stay.
    pub(crate) fn set_routing(&mut self, routing: Routing) -> Result<(), Error> {
        let index = self.netlink.link_index(&self.network.interface)?;
        let routing_undos: Vec<Undo> = self
            .journal
            .entries()
            .iter()
            .filter(|u| matches!(u, Undo::DeleteRoute { .. } | Undo::DeleteRules { .. }))
            .cloned()
            .collect();
        for undo in routing_undos.iter().rev() {
            perform(&self.netlink, undo)?;
        }
        self.journal.forget(|u| routing_undos.contains(u))?;
        let full = matches!(routing, Routing::Full(_));
        self.network.routing = routing;
        self.apply_routing(index)?;
        match &self.dns {
            Some(dns) => dns.set_full(full),
            None => Ok(()),
        }
    }

    /// The peers' endpoints moved: split routing changes to policy routing (or back)
    /// when one moved into (or out of) its prefixes. The service's kill switch
    /// ([`killswitch::enforce`]) follows them on its own.
    pub(crate) fn set_endpoints(
        &mut self,
        endpoints: Vec<std::net::SocketAddr>,
    ) -> Result<(), Error> {
        let by_policy = self.split_by_policy();
        self.network.endpoints = endpoints;
        if self.split_by_policy() != by_policy {
            return self.set_routing(self.network.routing.clone());
        }
        Ok(())
    }

    /// Nothing here: the kill switch is the service's ([`killswitch::enforce`]).
    pub(crate) fn set_kill_switch(&mut self, enabled: bool) -> Result<(), Error> {
        self.network.kill_switch = enabled;
        Ok(())
    }

    pub(crate) fn revert(self) -> Result<(), Error> {
        let Self {
            netlink, journal, ..
        } = self;
        journal.undo_all(&mut |undo| perform(&netlink, undo))
    }
}

/// Undoes every journal left in `paths.journal_dir` (after a crash); returns the
/// interfaces they were for.
pub(crate) fn recover(paths: &Paths, only: Option<&str>) -> Result<Recovery, Error> {
    if !paths.journal_dir.exists() {
        return Ok(Recovery::default());
    }
    let netlink = Netlink::new()?;
    crate::journal::recover_all(&paths.journal_dir, only, &mut |undo| {
        perform(&netlink, undo)
    })
}

fn perform(netlink: &Netlink, undo: &Undo) -> Result<(), Error> {
    match undo {
        Undo::DeleteRoute {
            interface,
            destination,
            table,
        } => match netlink.link_index(interface) {
            Ok(index) => netlink.route(false, index, *destination, *table),
            // The interface went, and its routes with it.
            Err(Error::NoSuchInterface(_)) => Ok(()),
            Err(error) => Err(error),
        },
        Undo::DeleteRules { v6, priority } => netlink.delete_rules(*v6, *priority),
        // A table per tunnel, as versions before the service-wide kill switch made.
        Undo::DeleteFirewallTable { name } => {
            // Declaring it first makes the delete succeed whether or not it exists.
            nft(&format!(
                "table inet {name} {{}}\ndelete table inet {name}\n"
            ))
        }
        Undo::RestoreFile {
            path,
            backup,
            symlink_target,
        } => dns::file::restore(path, backup, symlink_target.as_ref()),
        Undo::RevertResolvedLink {
            bus,
            interface,
            index,
        } => match netlink.link_index(interface) {
            Ok(current) if current == *index => dns::resolved::revert(bus.as_deref(), *index),
            // Gone (resolved dropped its settings with it), or the index is someone
            // else's now.
            Ok(_) | Err(Error::NoSuchInterface(_)) => Ok(()),
            Err(error) => Err(error),
        },
        Undo::DeleteResolvconfRecord {
            program,
            record,
            openresolv,
        } => dns::resolvconf::delete(program, record, *openresolv),
        // Other systems' undos never appear in a Linux journal.
        Undo::DeleteSystemRoute { .. }
        | Undo::RemoveScutilKey { .. }
        | Undo::FlushPfAnchor { .. }
        | Undo::ReleasePfToken { .. }
        | Undo::DeleteIpForwardEntry { .. }
        | Undo::ClearInterfaceDns { .. }
        | Undo::DeleteWfpObjects { .. } => Ok(()),
        Undo::RestoreSysctl { path, value } => {
            std::fs::write(path, value).map_err(Error::io("restoring a sysctl"))
        }
        Undo::Tunnel { .. } => Ok(()),
    }
}

/// Replaces the kill switch's table in one transaction. With nothing to guard and no
/// table there, nft is not even asked to change anything.
pub(crate) fn enforce_kill_switch(guards: &[Guard]) -> Result<(), Error> {
    if guards.is_empty() && !kill_switch_table_exists() {
        return Ok(());
    }
    nft(&killswitch::script(guards))
}

pub(crate) fn kill_switch_table_exists() -> bool {
    crate::process::run_with_input("nft", &["list", "table", "inet", killswitch::TABLE], None)
        .is_ok()
}

fn nft(script: &str) -> Result<(), Error> {
    use crate::process::Failure;
    match crate::process::run_with_input("nft", &["-f", "-"], Some(script)) {
        Ok(_) => Ok(()),
        Err(Failure::CannotRun(e)) => Err(Error::Firewall(format!(
            "cannot run nft (is nftables installed?): {e}"
        ))),
        Err(Failure::Failed(stderr)) => Err(Error::Firewall(stderr)),
    }
}
