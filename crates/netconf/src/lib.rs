//! culvert-netconf: everything a tunnel changes in the operating system's network —
//! addresses and MTU, routes (split, or the default route through the tunnel), the kill
//! switch and DNS — applied and undone as one unit.
//!
//! Every change is journaled on disk before it is made ([`journal`]), so after a crash
//! [`recover`] undoes whatever a previous run left. Linux is implemented and tested;
//! other systems get [`Error::Unsupported`] until their façades are written.

mod dns;
pub mod journal;
pub mod killswitch;

#[cfg(target_os = "linux")]
#[path = "linux/mod.rs"]
mod imp;

pub use dns::Dns;
use ipnet::IpNet;
pub use journal::write_atomically;
use std::net::SocketAddr;
use std::path::PathBuf;

/// wg-quick's fwmark and table number for full-tunnel routing.
pub const DEFAULT_FWMARK: u32 = 51820;

/// Which destinations go through the tunnel.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Routing {
    /// Routes for these prefixes (the peers' AllowedIPs) in the main table.
    Split(Vec<IpNet>),
    /// The tunnel takes over the default route for these prefixes: 0.0.0.0/0 and ::/0
    /// for a full tunnel, or the "exclude private IPs" list. The engine's own packets,
    /// marked with the fwmark, and the local network stay outside.
    Full(Vec<IpNet>),
}

/// What one tunnel needs from the network.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TunnelNetwork {
    pub interface: String,
    pub addresses: Vec<IpNet>,
    /// None: the default route's MTU minus 80, as wg-quick.
    pub mtu: Option<u32>,
    pub routing: Routing,
    /// The mark the engine puts on its UDP socket; also the policy table's number.
    pub fwmark: u32,
    /// The peers' endpoints, which the kill switch lets through.
    pub endpoints: Vec<SocketAddr>,
    pub dns: Option<Dns>,
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
    #[error("there is no network interface {0}")]
    NoSuchInterface(String),
    #[error("{} holds changes of an earlier run: recover them first", .0.display())]
    NeedsRecovery(PathBuf),
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
    #[cfg(target_os = "linux")]
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
        #[cfg(target_os = "linux")]
        return Ok(Self {
            applied: imp::Applied::apply(paths, network)?,
        });
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (paths, network);
            Err(Error::Unsupported)
        }
    }

    /// Switches between split and full routing without touching the tunnel itself.
    pub fn set_routing(&mut self, routing: Routing) -> Result<(), Error> {
        #[cfg(target_os = "linux")]
        return self.applied.set_routing(routing);
        #[cfg(not(target_os = "linux"))]
        {
            let _ = routing;
            Err(Error::Unsupported)
        }
    }

    /// New endpoint addresses for the kill switch to let through.
    pub fn set_endpoints(&mut self, endpoints: Vec<SocketAddr>) -> Result<(), Error> {
        #[cfg(target_os = "linux")]
        return self.applied.set_endpoints(endpoints);
        #[cfg(not(target_os = "linux"))]
        {
            let _ = endpoints;
            Err(Error::Unsupported)
        }
    }

    pub fn set_kill_switch(&mut self, enabled: bool) -> Result<(), Error> {
        #[cfg(target_os = "linux")]
        return self.applied.set_kill_switch(enabled);
        #[cfg(not(target_os = "linux"))]
        {
            let _ = enabled;
            Err(Error::Unsupported)
        }
    }

    /// Undoes everything this tunnel changed.
    pub fn revert(self) -> Result<(), Error> {
        #[cfg(target_os = "linux")]
        return self.applied.revert();
        #[cfg(not(target_os = "linux"))]
        Err(Error::Unsupported)
    }
}

/// Undoes the changes of runs that crashed; returns the interfaces they were for.
pub fn recover(paths: &Paths) -> Result<Vec<String>, Error> {
    #[cfg(target_os = "linux")]
    return imp::recover(paths);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = paths;
        Ok(Vec::new())
    }
}
