//! Windows: addresses, routes, the interface metric and DNS through IP Helper
//! ([`iphlp`]), the kill switch as persistent WFP filters ([`wfp`]) computed by
//! `killswitch::windows_filters`. A full tunnel takes the halves of the default routes,
//! with host routes keeping the endpoints on the interface that reached them before, and
//! the tunnel's interface metric 0 so its DNS servers are asked first. Every change is
//! journaled before it is made, the kill switch included, so [`recover`] (culvertd's
//! start, `culvertd recover`) undoes what a crashed run left.
//!
//! UNVERIFIED on real Windows (this compiles for x86_64-pc-windows-gnu and its pure
//! parts run under wine, which has neither WFP nor a network stack to configure): the
//! order of operations against a live Wintun adapter, and recovery after a killed
//! service with the kill switch on.

mod iphlp;
mod trust;
mod wfp;

use crate::journal::{Journal, Recovery, Undo};
use crate::killswitch::windows_filters::{self, Spec};
use crate::{DnsSystem, Error, Paths, Routing, TunnelNetwork};
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

/// wg-quick's overhead allowance off a 1500-byte link.
const DEFAULT_MTU: u32 = 1420;

pub(crate) struct Applied {
    journal: Journal,
    network: TunnelNetwork,
    luid: u64,
    /// The kill switch's WFP objects while it is on (journaled before they were added).
    kill_switch: Option<wfp::Keys>,
}

impl Applied {
    /// Applies `network`, journaling into `journal` (opened by the façade).
    pub(crate) fn apply(
        journal: Journal,
        _paths: &Paths,
        _dns_system: &DnsSystem,
        network: &TunnelNetwork,
    ) -> Result<Self, Error> {
        let luid = match iphlp::luid_of(&network.interface) {
            Ok(luid) => luid,
            Err(error) => {
                let _ = journal.undo_all(&mut perform);
                return Err(error);
            }
        };
        let mut applied = Self {
            journal,
            network: network.clone(),
            luid,
            kill_switch: None,
        };
        if let Err(error) = applied.apply_all() {
            let _ = applied.revert();
            return Err(error);
        }
        Ok(applied)
    }

    fn apply_all(&mut self) -> Result<(), Error> {
        // Addresses, MTU and metric go away with the Wintun adapter: nothing to journal.
        self.set_interface()?;
        for address in &self.network.addresses {
            iphlp::add_address(self.luid, *address)?;
        }
        self.apply_routing()?;
        if self.network.kill_switch {
            self.enable_kill_switch()?;
        }
        if let Some(dns) = self.network.dns.clone().filter(|d| !d.servers.is_empty()) {
            let guid = iphlp::guid_of(self.luid)?;
            self.journal
                .record(Undo::ClearInterfaceDns { guid: guid.clone() })?;
            iphlp::set_dns(&guid, Some(&dns))?;
        }
        Ok(())
    }

    /// The kill switch's filters for the network as it is now: the DNS lock follows the
    /// routing mode, the endpoint permits the endpoints.
    fn kill_switch_filters(&self) -> Vec<windows_filters::Filter> {
        let dns: Vec<IpAddr> = self
            .network
            .dns
            .as_ref()
            .map(|dns| dns.servers.clone())
            .unwrap_or_default();
        windows_filters::filters(&Spec {
            interface: &self.network.interface,
            luid: self.luid,
            endpoints: &self.network.endpoints,
            full: matches!(self.network.routing, Routing::Full(_)),
            dns: &dns,
        })
    }

    fn enable_kill_switch(&mut self) -> Result<(), Error> {
        if self.kill_switch.is_some() {
            return self.reload_kill_switch();
        }
        let keys = wfp::Keys::generate()?;
        // Journaled before the objects exist: whatever a crash leaves, recovery finds.
        let undo = keys.undo();
        self.journal.record(undo.clone())?;
        if let Err(error) =
            wfp::install(&keys, &self.network.interface, &self.kill_switch_filters())
        {
            // The transaction was aborted; this only makes sure, then drops the entry.
            if wfp::remove(&keys).is_ok() {
                let _ = self.journal.forget(|u| *u == undo);
            }
            return Err(error);
        }
        self.kill_switch = Some(keys);
        Ok(())
    }

    /// Replaces the filters, in one transaction, when what they permit changed.
    fn reload_kill_switch(&self) -> Result<(), Error> {
        match &self.kill_switch {
            Some(keys) => wfp::replace(keys, &self.kill_switch_filters()),
            None => Ok(()),
        }
    }

    fn disable_kill_switch(&mut self) -> Result<(), Error> {
        let Some(keys) = self.kill_switch else {
            return Ok(());
        };
        let undo = keys.undo();
        perform(&undo)?;
        self.kill_switch = None;
        self.journal.forget(|u| *u == undo)
    }

    /// Metric 0 in full mode: Windows asks every interface's DNS servers, the
    /// lowest metric's first.
    fn set_interface(&self) -> Result<(), Error> {
        let full = matches!(self.network.routing, Routing::Full(_));
        let mtu = self.network.mtu.unwrap_or(DEFAULT_MTU);
        iphlp::set_interface(self.luid, mtu, full.then_some(0))
    }

    fn apply_routing(&mut self) -> Result<(), Error> {
        let (prefixes, full) = match &self.network.routing {
            // `Table = N` is Linux's (the service refuses it here).
            Routing::Split(prefixes) | Routing::Table { prefixes, .. } => (prefixes.clone(), false),
            Routing::Full(prefixes) => (prefixes.clone(), true),
        };
        if full {
            self.route_endpoints_outside(&self.network.endpoints.clone())?;
        }
        for destination in crate::prefixes::tunnel_prefixes(&prefixes, full) {
            self.add_route(self.luid, destination, None)?;
        }
        Ok(())
    }

    /// Host routes on the interface and gateway that reach each endpoint now, taken
    /// before the tunnel's routes exist.
    fn route_endpoints_outside(&mut self, endpoints: &[SocketAddr]) -> Result<(), Error> {
        for endpoint in endpoints {
            let (luid, next_hop) = iphlp::best_route(endpoint.ip())?;
            if luid == self.luid {
                // The tunnel has the default route already: where this endpoint went
                // before is unknown. Its packets would loop into the tunnel.
                tracing::warn!(%endpoint, "cannot keep a new endpoint outside the full tunnel");
                continue;
            }
            self.add_route(luid, IpNet::from(endpoint.ip()), next_hop)?;
        }
        Ok(())
    }

    fn add_route(
        &mut self,
        luid: u64,
        destination: IpNet,
        next_hop: Option<std::net::IpAddr>,
    ) -> Result<(), Error> {
        let undo = Undo::DeleteIpForwardEntry {
            luid,
            destination,
            next_hop,
        };
        if self.journal.entries().contains(&undo) {
            return Ok(());
        }
        self.journal.record(undo)?;
        iphlp::route(true, luid, destination, next_hop)
    }

    pub(crate) fn set_routing(&mut self, routing: Routing) -> Result<(), Error> {
        let routes: Vec<Undo> = self
            .journal
            .entries()
            .iter()
            .filter(|u| matches!(u, Undo::DeleteIpForwardEntry { .. }))
            .cloned()
            .collect();
        for undo in routes.iter().rev() {
            perform(undo)?;
        }
        self.journal.forget(|u| routes.contains(u))?;
        self.network.routing = routing;
        self.set_interface()?;
        self.apply_routing()?;
        // The DNS lock is for full tunnels only.
        self.reload_kill_switch()
    }

    pub(crate) fn set_endpoints(&mut self, endpoints: Vec<SocketAddr>) -> Result<(), Error> {
        if matches!(self.network.routing, Routing::Full(_)) {
            self.route_endpoints_outside(&endpoints)?;
        }
        self.network.endpoints = endpoints;
        self.reload_kill_switch()
    }

    pub(crate) fn set_kill_switch(&mut self, enabled: bool) -> Result<(), Error> {
        self.network.kill_switch = enabled;
        if enabled {
            self.enable_kill_switch()
        } else {
            self.disable_kill_switch()
        }
    }

    /// Undoes everything, the kill switch's WFP objects included (they are journaled).
    pub(crate) fn revert(self) -> Result<(), Error> {
        self.journal.undo_all(&mut perform)
    }
}

/// Undoes every journal left in `paths.journal_dir`, the kill switch's WFP objects
/// included; only in a folder no one else controls ([`trust`]).
pub(crate) fn recover(paths: &Paths, only: Option<&str>) -> Result<Recovery, Error> {
    if !paths.journal_dir.exists() {
        return Ok(Recovery::default());
    }
    trust::check_journal_dir(&paths.journal_dir)?;
    crate::journal::recover_all(&paths.journal_dir, only, &mut perform)
}

fn perform(undo: &Undo) -> Result<(), Error> {
    match undo {
        Undo::DeleteIpForwardEntry {
            luid,
            destination,
            next_hop,
        } => iphlp::route(false, *luid, *destination, *next_hop),
        Undo::ClearInterfaceDns { guid } => iphlp::set_dns(guid, None),
        Undo::DeleteWfpObjects { provider, sublayer } => {
            wfp::remove(&wfp::Keys::from_journal(provider, sublayer)?)
        }
        Undo::Tunnel { .. } => Ok(()),
        // Linux's and macOS's undos never appear in a Windows journal.
        Undo::DeleteRoute { .. }
        | Undo::DeleteRules { .. }
        | Undo::DeleteFirewallTable { .. }
        | Undo::RestoreFile { .. }
        | Undo::RestoreSysctl { .. }
        | Undo::RevertResolvedLink { .. }
        | Undo::DeleteResolvconfRecord { .. }
        | Undo::DeleteSystemRoute { .. }
        | Undo::RemoveScutilKey { .. }
        | Undo::FlushPfAnchor { .. }
        | Undo::ReleasePfToken { .. } => Ok(()),
    }
}
