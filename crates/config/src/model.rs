//! The typed wg-quick config.
//!
//! A parsed [`Config`] also remembers the text it came from (see `print.rs`), so an
//! unedited config prints back exactly as its author wrote it. Equality compares only
//! the typed model: two configs are equal when they configure the same tunnel.

use std::fmt;
use std::net::IpAddr;
use std::num::{NonZeroU16, NonZeroU32};
use std::str::FromStr;
use std::sync::Arc;

use ipnet::IpNet;

use crate::allowed_ips::PrefixSet;
use crate::error::{Diagnostic, EndpointError, ParseErrors};
use crate::keys::{PresharedKey, PrivateKey, PublicKey};
use crate::print::Source;

/// A whole `.conf` file: one `[Interface]` and any number of `[Peer]`s.
#[derive(Clone)]
pub struct Config {
    pub interface: Interface,
    pub peers: Vec<Peer>,
    /// The text this config was parsed from, with the model it parsed to.
    pub(crate) source: Option<Arc<Source>>,
}

/// A config that parsed, with the warnings found on the way.
#[derive(Clone, Debug)]
pub struct Parsed {
    pub config: Config,
    pub warnings: Vec<Diagnostic>,
}

/// The `[Interface]` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    pub private_key: PrivateKey,
    /// 0 asks for a random port, as in `wg`.
    pub listen_port: Option<u16>,
    /// `off` and 0 are both `None`.
    pub fwmark: Option<NonZeroU32>,
    /// Addresses with their prefix; a bare address is stored as /32 or /128.
    pub addresses: Vec<IpNet>,
    /// `DNS` entries that are IP addresses.
    pub dns: Vec<IpAddr>,
    /// `DNS` entries that are not IP addresses: search domains, as wg-quick treats them.
    pub dns_search: Vec<String>,
    /// 576–65535 (the bounds wireguard-windows checks).
    pub mtu: Option<u16>,
    pub table: Option<Table>,
    pub pre_up: Vec<String>,
    pub post_up: Vec<String>,
    pub pre_down: Vec<String>,
    pub post_down: Vec<String>,
    pub save_config: bool,
}

/// A `[Peer]` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    pub public_key: PublicKey,
    pub preshared_key: Option<PresharedKey>,
    /// As written: host bits are kept (and warned about); see [`Peer::allowed_ips_set`].
    pub allowed_ips: Vec<IpNet>,
    pub endpoint: Option<Endpoint>,
    /// Seconds; `off` and 0 are both `None`.
    pub persistent_keepalive: Option<NonZeroU16>,
}

/// `Endpoint = host:port`; the host is kept as text when it is a DNS name, because
/// resolving it is the service's job, at connection time.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub host: Host,
    /// 1–65535.
    pub port: u16,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Host {
    Ip(IpAddr),
    /// A DNS name: ASCII letters, digits, `-`, `_` and `.`, not an IP address.
    Name(String),
}

/// wg-quick's `Table`: where the routes for AllowedIPs go.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Table {
    /// Add no routes.
    Off,
    /// wg-quick's default: the main table, or a policy table for a default route.
    Auto,
    Id(u32),
    /// A name from `/etc/iproute2/rt_tables`, such as `main`.
    Name(String),
}

impl Config {
    /// A config with no peers and no source text; prints canonically.
    pub fn new(interface: Interface) -> Self {
        Config {
            interface,
            peers: Vec::new(),
            source: None,
        }
    }

    /// Parses wg-quick text; see [`crate::parse`].
    pub fn parse(text: &str) -> Result<Parsed, ParseErrors> {
        crate::parse::parse(text)
    }

    /// The config as text: exactly the parsed text when nothing was edited; otherwise
    /// unedited sections keep their text and comments and edited ones are rewritten.
    pub fn to_text(&self) -> String {
        crate::print::to_text(self)
    }

    /// The config in wg-quick's canonical layout, without the author's comments.
    pub fn to_canonical_text(&self) -> String {
        crate::print::canonical(self, "\n")
    }

    /// Whether the model differs from the text it was parsed from (true when there was
    /// no text).
    pub fn is_edited(&self) -> bool {
        self.source.as_ref().is_none_or(|s| !s.matches(self))
    }

    /// Checks an edited model: prints it and parses it back. Returns the warnings, or
    /// every error (located in the canonical text, and naming the key) when the model
    /// holds values a `.conf` cannot carry, such as a `PostUp` with a `#` in it.
    pub fn validate(&self) -> Result<Vec<Diagnostic>, ParseErrors> {
        crate::print::validate(self)
    }

    /// Everything this tunnel routes: the union of every peer's AllowedIPs.
    pub fn allowed_ips_set(&self) -> PrefixSet {
        self.peers
            .iter()
            .flat_map(|p| p.allowed_ips.iter().copied())
            .collect()
    }

    /// Addresses both tunnels would route; empty when they can run side by side.
    pub fn overlap(&self, other: &Config) -> PrefixSet {
        self.allowed_ips_set()
            .intersection(&other.allowed_ips_set())
    }
}

impl PartialEq for Config {
    fn eq(&self, other: &Self) -> bool {
        self.interface == other.interface && self.peers == other.peers
    }
}

impl Eq for Config {}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The source text holds the private key, so only its presence is shown.
        f.debug_struct("Config")
            .field("interface", &self.interface)
            .field("peers", &self.peers)
            .field("edited", &self.is_edited())
            .finish()
    }
}

impl Interface {
    pub fn new(private_key: PrivateKey) -> Self {
        Interface {
            private_key,
            listen_port: None,
            fwmark: None,
            addresses: Vec::new(),
            dns: Vec::new(),
            dns_search: Vec::new(),
            mtu: None,
            table: None,
            pre_up: Vec::new(),
            post_up: Vec::new(),
            pre_down: Vec::new(),
            post_down: Vec::new(),
            save_config: false,
        }
    }

    pub fn public_key(&self) -> PublicKey {
        self.private_key.public_key()
    }
}

impl Peer {
    pub fn new(public_key: PublicKey) -> Self {
        Peer {
            public_key,
            preshared_key: None,
            allowed_ips: Vec::new(),
            endpoint: None,
            persistent_keepalive: None,
        }
    }

    /// The peer's AllowedIPs as a set (host bits dropped, as WireGuard does).
    pub fn allowed_ips_set(&self) -> PrefixSet {
        self.allowed_ips.iter().copied().collect()
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]:{}", self.port),
            Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}:{}", self.port),
            Host::Name(name) => write!(f, "{name}:{}", self.port),
        }
    }
}

impl FromStr for Endpoint {
    type Err = EndpointError;
    /// Parses `host:port`, `[v6]:port` or `name:port`; the error says what is wrong.
    fn from_str(s: &str) -> Result<Self, EndpointError> {
        crate::values::endpoint(s).map_err(EndpointError)
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Table::Off => f.write_str("off"),
            Table::Auto => f.write_str("auto"),
            Table::Id(id) => write!(f, "{id}"),
            Table::Name(name) => f.write_str(name),
        }
    }
}
