//! Endpoint names to addresses, apart from the manager's lock: a dead resolver may take
//! its whole timeout, and no other client may wait for it. The server asks the manager
//! which names a request needs, resolves them with the lock released, then hands the
//! answers ([`Resolved`]) to the manager, which never resolves while it is locked.

use culvert_config::{Config, Host};
use std::collections::{BTreeMap, HashMap};
use std::net::{SocketAddr, ToSocketAddrs};

/// A host name and port, as a config's `Endpoint = name:port` gives them.
pub type HostPort = (String, u16);

/// Looks names up. The system's resolver in the service; tests put in their own.
pub trait Resolver: Send + Sync {
    /// The address to use for `host:port` (the first the resolver gives).
    fn resolve(&self, host: &str, port: u16) -> Result<SocketAddr, String>;
}

/// The system's resolver (getaddrinfo), with its own timeouts.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve(&self, host: &str, port: u16) -> Result<SocketAddr, String> {
        (host, port)
            .to_socket_addrs()
            .map_err(|e| e.to_string())?
            .next()
            .ok_or_else(|| "no address".to_owned())
    }
}

/// Answers for the names one piece of work needs, failures included.
#[derive(Debug, Default, Clone)]
pub struct Resolved {
    answers: HashMap<HostPort, Result<SocketAddr, String>>,
}

impl Resolved {
    /// Resolves every name of `names` with `resolver`, here and now (so: never with a
    /// lock held).
    pub fn resolve_all(&mut self, resolver: &dyn Resolver, names: Vec<HostPort>) {
        for (host, port) in names {
            let answer = resolver.resolve(&host, port);
            self.answers.insert((host, port), answer);
        }
    }

    /// The names of `wanted` that have no answer yet.
    pub fn missing(&self, wanted: Vec<HostPort>) -> Vec<HostPort> {
        let mut missing: Vec<HostPort> = wanted
            .into_iter()
            .filter(|name| !self.answers.contains_key(name))
            .collect();
        missing.sort();
        missing.dedup();
        missing
    }

    /// Every name that was answered with an address, as `(name:port, address)`.
    pub fn addresses(&self) -> impl Iterator<Item = (String, SocketAddr)> + '_ {
        self.answers.iter().filter_map(|((host, port), answer)| {
            answer
                .as_ref()
                .ok()
                .map(|a| (last_address_key(host, *port), *a))
        })
    }

    /// Answers the names that failed with the address they had last time, if `last`
    /// knows one; returns those names.
    pub fn fall_back_to(&mut self, last: &BTreeMap<String, SocketAddr>) -> Vec<HostPort> {
        let mut fell_back = Vec::new();
        for ((host, port), answer) in &mut self.answers {
            if let (Err(_), Some(address)) = (&answer, last.get(&last_address_key(host, *port))) {
                *answer = Ok(*address);
                fell_back.push((host.clone(), *port));
            }
        }
        fell_back
    }

    /// The answer for `host:port`; `None` when it was never asked.
    pub fn get(&self, host: &str, port: u16) -> Option<&Result<SocketAddr, String>> {
        self.answers.get(&(host.to_owned(), port))
    }
}

/// How [`crate::state::ServiceState::last_addresses`] names an endpoint.
pub(crate) fn last_address_key(host: &str, port: u16) -> String {
    format!("{host}:{port}")
}

/// The endpoints of `config` that are names rather than addresses.
pub(crate) fn named_endpoints(config: &Config) -> Vec<HostPort> {
    config
        .peers
        .iter()
        .filter_map(|peer| {
            let endpoint = peer.endpoint.as_ref()?;
            match &endpoint.host {
                Host::Name(host) => Some((host.clone(), endpoint.port)),
                Host::Ip(_) => None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_missing_names_are_resolved_and_failures_are_kept() {
        struct Fixed;
        impl Resolver for Fixed {
            fn resolve(&self, host: &str, port: u16) -> Result<SocketAddr, String> {
                match host {
                    "vpn.test" => Ok(SocketAddr::from(([192, 0, 2, 1], port))),
                    _ => Err(format!("{host}: no such host")),
                }
            }
        }
        let mut resolved = Resolved::default();
        let wanted = vec![
            ("vpn.test".to_owned(), 51820),
            ("gone.test".to_owned(), 51820),
            ("vpn.test".to_owned(), 51820),
        ];
        let missing = resolved.missing(wanted.clone());
        assert_eq!(missing.len(), 2, "each name once: {missing:?}");
        resolved.resolve_all(&Fixed, missing);
        assert!(resolved.missing(wanted).is_empty());
        assert_eq!(
            resolved.get("vpn.test", 51820),
            Some(&Ok("192.0.2.1:51820".parse().unwrap()))
        );
        assert!(resolved.get("gone.test", 51820).unwrap().is_err());
        assert_eq!(resolved.get("vpn.test", 1), None);
        assert!(
            SystemResolver
                .resolve("localhost", 51820)
                .is_ok_and(|a| a.ip().is_loopback() && a.port() == 51820)
        );
    }

    #[test]
    fn names_that_fail_fall_back_to_their_last_address_and_only_those() {
        struct Down;
        impl Resolver for Down {
            fn resolve(&self, host: &str, port: u16) -> Result<SocketAddr, String> {
                match host {
                    "up.test" => Ok(SocketAddr::from(([192, 0, 2, 3], port))),
                    _ => Err("resolver unreachable".into()),
                }
            }
        }
        let mut resolved = Resolved::default();
        let names = ["up.test", "known.test", "never.test"];
        resolved.resolve_all(
            &Down,
            names.iter().map(|n| (n.to_string(), 51820)).collect(),
        );
        let last: BTreeMap<String, SocketAddr> = [
            ("known.test:51820", "198.51.100.8:51820"),
            ("up.test:51820", "198.51.100.9:51820"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.parse().unwrap()))
        .collect();
        assert_eq!(
            resolved.fall_back_to(&last),
            vec![("known.test".to_owned(), 51820)]
        );
        assert_eq!(
            resolved.get("known.test", 51820),
            Some(&Ok("198.51.100.8:51820".parse().unwrap()))
        );
        assert_eq!(
            resolved.get("up.test", 51820),
            Some(&Ok("192.0.2.3:51820".parse().unwrap())),
            "a fresh answer wins over the last one"
        );
        assert!(resolved.get("never.test", 51820).unwrap().is_err());
        let mut addresses: Vec<_> = resolved.addresses().collect();
        addresses.sort();
        assert_eq!(addresses.len(), 2);
    }

    #[test]
    fn only_named_endpoints_need_resolving() {
        let key = culvert_config::PrivateKey::generate();
        let peer = |endpoint: &str| {
            format!(
                "[Peer]\nPublicKey = {}\nAllowedIPs = 10.0.0.0/24\n{endpoint}\n",
                culvert_config::PrivateKey::generate().public_key()
            )
        };
        let text = format!(
            "[Interface]\nPrivateKey = {}\n\n{}\n{}\n{}",
            &*key.to_base64(),
            peer("Endpoint = vpn.example.com:51820"),
            peer("Endpoint = 192.0.2.7:51820"),
            peer("")
        );
        let config = Config::parse(&text).unwrap().config;
        assert_eq!(
            named_endpoints(&config),
            vec![("vpn.example.com".to_owned(), 51820)]
        );
    }
}
