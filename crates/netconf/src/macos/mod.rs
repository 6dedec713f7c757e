//! macOS (unverified: written without a Mac to run it on): addresses and MTU with
//! `ifconfig`, routes with `route` (a full tunnel as the two halves of the default
//! route plus host routes keeping the endpoints on the original gateway), DNS as a
//! resolver of our own in the dynamic store (`scutil`), the kill switch as a pf anchor.

mod commands;

use crate::journal::{Journal, Recovery, Undo};
use crate::{DnsSystem, Error, Paths, Routing, TunnelNetwork};
use ipnet::IpNet;
use std::net::SocketAddr;

/// wg-quick's overhead allowance: the largest IPv6 + UDP + WireGuard header.
const DEFAULT_MTU: u32 = 1420;

pub(crate) struct Applied {
    journal: Journal,
    network: TunnelNetwork,
}

impl Applied {
    /// Applies `network`, journaling into `journal` (opened by the façade).
    pub(crate) fn apply(
        journal: Journal,
        _paths: &Paths,
        _dns_system: &DnsSystem,
        network: &TunnelNetwork,
    ) -> Result<Self, Error> {
        let mut applied = Self {
            journal,
            network: network.clone(),
        };
        if let Err(error) = applied.apply_all() {
            let _ = applied.revert();
            return Err(error);
        }
        Ok(applied)
    }

    fn apply_all(&mut self) -> Result<(), Error> {
        let interface = self.network.interface.clone();
        // Addresses and MTU go away with the utun: nothing to journal.
        let mtu = self.network.mtu.unwrap_or(DEFAULT_MTU).to_string();
        run("ifconfig", &[&interface, "mtu", &mtu, "up"], None)?;
        for address in &self.network.addresses {
            let text = address.to_string();
            match address {
                // A point-to-point utun needs a destination: itself, as wg-quick does.
                IpNet::V4(v4) => run(
                    "ifconfig",
                    &[&interface, "inet", &text, &v4.addr().to_string(), "alias"],
                    None,
                )?,
                IpNet::V6(_) => run("ifconfig", &[&interface, "inet6", &text, "alias"], None)?,
            }
        }
        self.apply_routing()?;
        if self.network.kill_switch {
            self.apply_kill_switch()?;
        }
        if let Some(dns) = self.network.dns.clone().filter(|d| !d.servers.is_empty()) {
            let key = commands::dns_key(&interface);
            self.journal.record(Undo::RemoveScutilKey { key })?;
            let full = matches!(self.network.routing, Routing::Full(_));
            scutil(&commands::scutil_set_dns(&interface, &dns, full))?;
        }
        Ok(())
    }

    fn apply_routing(&mut self) -> Result<(), Error> {
        let interface = self.network.interface.clone();
        let (prefixes, full) = match &self.network.routing {
            // `Table = N` is Linux's (the service refuses it here).
            Routing::Split(prefixes) | Routing::Table { prefixes, .. } => (prefixes.clone(), false),
            Routing::Full(prefixes) => (prefixes.clone(), true),
        };
        if full {
            self.route_endpoints_outside(&self.network.endpoints.clone())?;
        }
        for destination in crate::prefixes::tunnel_prefixes(&prefixes, full) {
            self.add_route(destination, Some(interface.clone()), None)?;
        }
        Ok(())
    }

    /// Host routes via the original default gateway, so the tunnel's own packets do not
    /// loop into the tunnel once it takes the default route.
    fn route_endpoints_outside(&mut self, endpoints: &[SocketAddr]) -> Result<(), Error> {
        for endpoint in endpoints {
            let family = if endpoint.is_ipv4() {
                "-inet"
            } else {
                "-inet6"
            };
            let output = capture("route", &["-n", "get", family, "default"])?;
            let (gateway, interface) = commands::parse_route_get(&output);
            if gateway.is_none() && interface.is_none() {
                tracing::warn!(%endpoint, "no default route to keep the endpoint on");
                continue;
            }
            let host = IpNet::from(endpoint.ip());
            self.add_route(host, interface.filter(|_| gateway.is_none()), gateway)?;
        }
        Ok(())
    }

    fn add_route(
        &mut self,
        destination: IpNet,
        interface: Option<String>,
        gateway: Option<std::net::IpAddr>,
    ) -> Result<(), Error> {
        let undo = Undo::DeleteSystemRoute {
            destination,
            interface: interface.clone(),
            gateway,
        };
        if self.journal.entries().contains(&undo) {
            return Ok(());
        }
        self.journal.record(undo)?;
        let args = commands::route_args(true, destination, interface.as_deref(), gateway);
        run_route(&args)
    }

    fn apply_kill_switch(&mut self) -> Result<(), Error> {
        let anchor = commands::pf_anchor(&self.network.interface);
        let flush = Undo::FlushPfAnchor {
            anchor: anchor.clone(),
        };
        if !self.journal.entries().contains(&flush) {
            self.journal.record(flush)?;
        }
        self.load_kill_switch()?;
        if !self
            .journal
            .entries()
            .iter()
            .any(|u| matches!(u, Undo::ReleasePfToken { .. }))
        {
            // pf counts references: ours is released on undo, so pf goes off again only
            // if nobody else wants it on.
            let output = capture_all("pfctl", &["-E"])?;
            match commands::parse_pf_token(&output) {
                Some(token) => self.journal.record(Undo::ReleasePfToken { token })?,
                None => tracing::warn!("pfctl -E gave no token; pf stays enabled"),
            }
        }
        Ok(())
    }

    fn load_kill_switch(&self) -> Result<(), Error> {
        let anchor = commands::pf_anchor(&self.network.interface);
        let rules = commands::pf_rules(&self.network.interface, &self.network.endpoints);
        run("pfctl", &["-a", &anchor, "-f", "-"], Some(&rules))
            .map_err(|e| Error::Firewall(e.to_string()))
    }

    pub(crate) fn set_routing(&mut self, routing: Routing) -> Result<(), Error> {
        let routes: Vec<Undo> = self
            .journal
            .entries()
            .iter()
            .filter(|u| matches!(u, Undo::DeleteSystemRoute { .. }))
            .cloned()
            .collect();
        for undo in routes.iter().rev() {
            perform(undo)?;
        }
        self.journal.forget(|u| routes.contains(u))?;
        let full = matches!(routing, Routing::Full(_));
        self.network.routing = routing;
        self.apply_routing()?;
        if let Some(dns) = self.network.dns.clone().filter(|d| !d.servers.is_empty()) {
            scutil(&commands::scutil_set_dns(
                &self.network.interface,
                &dns,
                full,
            ))?;
        }
        Ok(())
    }

    pub(crate) fn set_endpoints(&mut self, endpoints: Vec<SocketAddr>) -> Result<(), Error> {
        if matches!(self.network.routing, Routing::Full(_)) {
            self.route_endpoints_outside(&endpoints)?;
        }
        self.network.endpoints = endpoints;
        if self.network.kill_switch {
            self.load_kill_switch()?;
        }
        Ok(())
    }

    pub(crate) fn set_kill_switch(&mut self, enabled: bool) -> Result<(), Error> {
        self.network.kill_switch = enabled;
        if enabled {
            return self.apply_kill_switch();
        }
        let pf: Vec<Undo> = self
            .journal
            .entries()
            .iter()
            .filter(|u| matches!(u, Undo::FlushPfAnchor { .. } | Undo::ReleasePfToken { .. }))
            .cloned()
            .collect();
        for undo in pf.iter().rev() {
            perform(undo)?;
        }
        self.journal.forget(|u| pf.contains(u))
    }

    pub(crate) fn revert(self) -> Result<(), Error> {
        self.journal.undo_all(&mut perform)
    }
}

pub(crate) fn recover(paths: &Paths, only: Option<&str>) -> Result<Recovery, Error> {
    crate::journal::recover_all(&paths.journal_dir, only, &mut perform)
}

fn perform(undo: &Undo) -> Result<(), Error> {
    match undo {
        Undo::DeleteSystemRoute {
            destination,
            interface,
            gateway,
        } => run_route(&commands::route_args(
            false,
            *destination,
            interface.as_deref(),
            *gateway,
        )),
        Undo::RemoveScutilKey { key } => scutil(&commands::scutil_remove(key)),
        Undo::FlushPfAnchor { anchor } => run("pfctl", &["-a", anchor, "-F", "all"], None),
        Undo::ReleasePfToken { token } => {
            // A token already released (or from before a reboot) is simply unknown.
            if let Err(error) = run("pfctl", &["-X", token], None) {
                tracing::debug!(%error, "pf token not released");
            }
            Ok(())
        }
        Undo::Tunnel { .. } => Ok(()),
        // Linux's and Windows' undos never appear in a macOS journal.
        Undo::DeleteRoute { .. }
        | Undo::DeleteRules { .. }
        | Undo::DeleteFirewallTable { .. }
        | Undo::RestoreFile { .. }
        | Undo::RestoreSysctl { .. }
        | Undo::RevertResolvedLink { .. }
        | Undo::DeleteResolvconfRecord { .. }
        | Undo::DeleteIpForwardEntry { .. }
        | Undo::ClearInterfaceDns { .. }
        | Undo::DeleteWfpObjects { .. } => Ok(()),
    }
}

/// `route add` of what exists, or `route delete` of what is gone, is success: undo and
/// redo stay idempotent.
fn run_route(args: &[String]) -> Result<(), Error> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match run("route", &args, None) {
        Err(Error::Command { message, .. })
            if message.contains("not in table") || message.contains("File exists") =>
        {
            Ok(())
        }
        result => result,
    }
}

fn scutil(script: &str) -> Result<(), Error> {
    run("scutil", &[], Some(script))
}

fn run(program: &str, args: &[&str], input: Option<&str>) -> Result<(), Error> {
    output(program, args, input).map(drop)
}

fn capture(program: &str, args: &[&str]) -> Result<String, Error> {
    output(program, args, None).map(|(stdout, _)| stdout)
}

/// stdout and stderr together (pfctl prints its token on stderr).
fn capture_all(program: &str, args: &[&str]) -> Result<String, Error> {
    output(program, args, None).map(|(stdout, stderr)| stdout + &stderr)
}

fn output(program: &str, args: &[&str], input: Option<&str>) -> Result<(String, String), Error> {
    crate::process::run_with_input(program, args, input).map_err(|failure| Error::Command {
        command: format!("{program} {}", args.join(" ")),
        message: failure.to_string(),
    })
}
