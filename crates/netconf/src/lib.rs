//! culvert-netconf: everything a tunnel changes in the operating system's network —
//! addresses and MTU, routes (split, or the default route through the tunnel) and DNS,
//! applied and undone as one unit; and the kill switch, which outlives them
//! ([`killswitch`]).
//!
//! Every change is journaled on disk before it is made ([`journal`]), so after a crash
//! [`recover`] undoes whatever a previous run left. Linux is implemented and tested;
//! macOS and Windows are written but have never run; other systems get
//! [`Error::Unsupported`].

mod dns;
pub mod journal;
pub mod killswitch;
#[cfg(any(target_os = "macos", target_os = "windows", test))]
mod prefixes;
#[cfg(any(target_os = "linux", target_os = "macos"))]
mod process;

#[cfg(target_os = "linux")]
#[path = "linux/mod.rs"]
mod imp;
#[cfg(target_os = "macos")]
#[path = "macos/mod.rs"]
mod imp;
#[cfg(target_os = "windows")]
#[path = "windows/mod.rs"]
mod imp;
// The macOS command texts are pure: checked on every system.
#[cfg(all(test, not(target_os = "macos")))]
#[path = "macos/commands.rs"]
mod macos_commands;

#[cfg(target_os = "linux")]
pub use dns::DnsBackend;
pub use dns::{Dns, DnsSystem};
use ipnet::IpNet;
pub use journal::{Recovery, write_atomically};
pub use killswitch::Guard;
use std::net::SocketAddr;
use std::path::PathBuf;

/// wg-quick's fwmark: the mark the engine puts on its own packets.
pub const DEFAULT_FWMARK: u32 = 51820;
/// The routing table of policy routing (wg-quick's number). Not the fwmark, as in
/// wg-quick: a mark is any number, and `FwMark = 255` must not route into the kernel's
/// local table.
pub const POLICY_TABLE: u32 = 51820;

/// Which destinations go through the tunnel.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Routing {
    /// Routes for these prefixes (the peers' AllowedIPs) in the main table. When an
    /// endpoint lies inside them, they are policy-routed as [`Routing::Full`] is, so the
    /// engine's own packets to it stay outside the tunnel instead of looping into it.
    Split(Vec<IpNet>),
    /// wg-quick's `Table = N`: routes for these prefixes in table `table`, and nothing
    /// else (which traffic looks there is the administrator's policy). Linux only.
    Table { table: u32, prefixes: Vec<IpNet> },
    /// The tunnel takes over the default route for these prefixes: 0.0.0.0/0 and ::/0
    /// for a full tunnel, or the "exclude private IPs" list. The engine's own packets,
    /// marked with the fwmark, and the local network stay outside.
    Full(Vec<IpNet>),
}

impl Routing {
    /// Whether this routing needs the policy table and its rules (of which a host has
    /// one set, so one tunnel at a time): a full tunnel, and split routing with an
    /// endpoint inside its prefixes, where the engine's own packets must get past the
    /// tunnel by their mark.
    pub fn needs_policy(&self, endpoints: &[SocketAddr]) -> bool {
        match self {
            Routing::Full(_) => true,
            Routing::Split(prefixes) => endpoints
                .iter()
                .any(|endpoint| prefixes.iter().any(|p| p.contains(&endpoint.ip()))),
            Routing::Table { .. } => false,
        }
    }
}

/// What one tunnel needs from the network.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TunnelNetwork {
    pub interface: String,
    pub addresses: Vec<IpNet>,
    /// None: the default route's MTU minus 80, as wg-quick.
    pub mtu: Option<u32>,
    pub routing: Routing,
    /// The mark the engine puts on its UDP socket, which policy routing lets past the
    /// tunnel.
    pub fwmark: u32,
    /// The peers' endpoints, which the kill switch lets through.
    pub endpoints: Vec<SocketAddr>,
    pub dns: Option<Dns>,
    /// Where the kill switch is still per tunnel (macOS, Windows), whether this one has
    /// it. On Linux it is the service's ([`killswitch::enforce`]) and this is not read.
    pub kill_switch: bool,
}

/// Where netconf keeps its journals and which resolver file it manages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub journal_dir: PathBuf,
    pub resolv_conf: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Self {
            journal_dir: "/var/lib/culvert/netconf".into(),
            resolv_conf: "/etc/resolv.conf".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("netlink request failed ({what}): {message}")]
    Netlink { what: &'static str, message: String },
    #[error("nftables refused the kill switch: {0}")]
    Firewall(String),
    #[error("setting DNS failed: {0}")]
    Resolver(String),
    #[error("`{command}` failed: {message}")]
    Command { command: String, message: String },
    #[error("{what} failed: {message}")]
    System { what: &'static str, message: String },
    #[error(
        "a route to {destination} (table {table}) exists already through another \
         interface, so its traffic would not enter the tunnel; remove that route or take \
         {destination} out of AllowedIPs"
    )]
    RouteTaken { destination: IpNet, table: u32 },
    #[error("there is no network interface {0}")]
    NoSuchInterface(String),
    #[error(
        "{} holds changes of an earlier run that could not be undone (`culvertd recover` \
         tries again): {reason}",
        .path.display()
    )]
    NeedsRecovery { path: PathBuf, reason: String },
    #[error("configuring the network is not implemented on this system yet")]
    Unsupported,
}

impl Error {
    pub(crate) fn io(what: &str) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| Self::Io {
            what: what.to_owned(),
            source,
        }
    }

    #[cfg(target_os = "linux")]
    pub(crate) fn netlink(what: &'static str) -> impl FnOnce(rtnetlink::Error) -> Self {
        move |error| Self::Netlink {
            what,
            message: error.to_string(),
        }
    }
}

/// The network state of one active tunnel.
pub struct NetConf {
    #[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
    applied: imp::Applied,
}

impl std::fmt::Debug for NetConf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetConf").finish_non_exhaustive()
    }
}

impl NetConf {
    /// Applies `network`; on failure whatever was done is undone.
    pub fn apply(paths: &Paths, network: &TunnelNetwork) -> Result<Self, Error> {
        Self::apply_with(paths, &DnsSystem::default(), network)
    }

    /// [`NetConf::apply`] with the resolver managers looked for in `dns_system`.
    pub fn apply_with(
        paths: &Paths,
        dns_system: &DnsSystem,
        network: &TunnelNetwork,
    ) -> Result<Self, Error> {
        #[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
        return Ok(Self {
            applied: imp::Applied::apply(
                open_journal(paths, network)?,
                paths,
                dns_system,
                network,
            )?,
        });
        #[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
        {
            let _ = (paths, dns_system, network);
            Err(Error::Unsupported)
        }
    }

    /// Switches between split and full routing without touching the tunnel itself.
    pub fn set_routing(&mut self, routing: Routing) -> Result<(), Error> {
        #[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
        return self.applied.set_routing(routing);
        #[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
        {
            let _ = routing;
            Err(Error::Unsupported)
        }
    }

    /// New endpoint addresses for the kill switch to let through.
    pub fn set_endpoints(&mut self, endpoints: Vec<SocketAddr>) -> Result<(), Error> {
        #[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
        return self.applied.set_endpoints(endpoints);
        #[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
        {
            let _ = endpoints;
            Err(Error::Unsupported)
        }
    }

    pub fn set_kill_switch(&mut self, enabled: bool) -> Result<(), Error> {
        #[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
        return self.applied.set_kill_switch(enabled);
        #[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
        {
            let _ = enabled;
            Err(Error::Unsupported)
        }
    }

    /// Undoes everything this tunnel changed.
    pub fn revert(self) -> Result<(), Error> {
        #[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
        return self.applied.revert();
        #[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
        Err(Error::Unsupported)
    }
}

/// The tunnel's journal, opened with the entry every platform's recovery starts from:
/// which interface it was, and the DNS servers to tell the user about.
#[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
fn open_journal(paths: &Paths, network: &TunnelNetwork) -> Result<journal::Journal, Error> {
    let earlier = journal::Journal::path_for(&paths.journal_dir, &network.interface);
    if earlier.exists() {
        // An earlier run's changes that a recovery could not undo then: try again now,
        // rather than refuse this interface until the service restarts.
        let recovery = imp::recover(paths, Some(&network.interface))?;
        if let Some((_, error)) = recovery.failed.into_iter().next() {
            return Err(Error::NeedsRecovery {
                path: earlier,
                reason: error.to_string(),
            });
        }
    }
    let mut journal = journal::Journal::create(&paths.journal_dir, &network.interface)?;
    journal.record(journal::Undo::Tunnel {
        interface: network.interface.clone(),
        dns: network
            .dns
            .as_ref()
            .map(|d| d.servers.clone())
            .unwrap_or_default(),
    })?;
    Ok(journal)
}

/// Undoes the changes of runs that crashed, journal by journal.
pub fn recover(paths: &Paths) -> Result<Recovery, Error> {
    #[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
    return imp::recover(paths, None);
    #[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
    {
        let _ = paths;
        Ok(Recovery::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_table_is_for_full_tunnels_and_splits_that_hold_their_endpoint() {
        let prefixes = vec!["192.0.2.0/24".parse().unwrap()];
        let inside: SocketAddr = "192.0.2.7:51820".parse().unwrap();
        let outside: SocketAddr = "198.51.100.7:51820".parse().unwrap();
        let split = Routing::Split(prefixes.clone());
        assert!(split.needs_policy(&[outside, inside]));
        assert!(!split.needs_policy(&[outside]));
        assert!(!split.needs_policy(&[]));
        assert!(Routing::Full(prefixes.clone()).needs_policy(&[]));
        let own = Routing::Table {
            table: 1234,
            prefixes,
        };
        assert!(!own.needs_policy(&[inside]), "`Table = N` adds no rules");
    }
}
