//! DNS from the tunnel's config, set through whatever manages the system's resolver.
//! On Linux the way is chosen when the tunnel comes up ([`DnsBackend::detect`]):
//! systemd-resolved over D-Bus, else `resolvconf`, else `/etc/resolv.conf` rewritten.
//! Every change is journaled before it is made, like the rest of netconf.

#[cfg(target_os = "linux")]
mod backend;
#[cfg(target_os = "linux")]
pub(crate) mod file;
#[cfg(target_os = "linux")]
pub(crate) mod resolvconf;
#[cfg(target_os = "linux")]
pub(crate) mod resolved;

#[cfg(target_os = "linux")]
pub(crate) use backend::Configured;
#[cfg(target_os = "linux")]
pub use backend::DnsBackend;

use std::net::IpAddr;
use std::path::PathBuf;

/// The resolver configuration a tunnel asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Dns {
    pub servers: Vec<IpAddr>,
    pub search: Vec<String>,
}

/// Where the system's resolver managers are found. The defaults are the real ones;
/// tests point them at fakes. (Linux only; other systems ignore it.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsSystem {
    /// The D-Bus address systemd-resolved is reached at; None: the system bus.
    pub resolved_bus: Option<String>,
    /// The `resolvconf` program: a path, or a name looked up in `PATH`.
    pub resolvconf: PathBuf,
}

impl Default for DnsSystem {
    fn default() -> Self {
        Self {
            resolved_bus: None,
            resolvconf: "resolvconf".into(),
        }
    }
}

/// resolv.conf lines for `dns` (also what `resolvconf -a` reads).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) fn render(interface: &str, dns: &Dns) -> String {
    let mut text = format!(
        "# Written by Culvert for {interface}; the original comes back when it goes down.\n"
    );
    for server in &dns.servers {
        text.push_str(&format!("nameserver {server}\n"));
    }
    if !dns.search.is_empty() {
        text.push_str(&format!("search {}\n", dns.search.join(" ")));
    }
    text
}
