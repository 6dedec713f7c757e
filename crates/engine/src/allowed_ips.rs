//! Cryptokey routing: the longest-prefix table from inner addresses to peers, used to pick
//! the peer of an outgoing packet and to check the source of an incoming one.

use culvert_proto::PeerId;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use prefix_trie::PrefixMap;
use std::net::IpAddr;

#[derive(Default)]
pub struct AllowedIps {
    v4: PrefixMap<Ipv4Net, PeerId>,
    v6: PrefixMap<Ipv6Net, PeerId>,
}

impl std::fmt::Debug for AllowedIps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AllowedIps")
            .field("v4", &self.v4.len())
            .field("v6", &self.v6.len())
            .finish()
    }
}

impl AllowedIps {
    /// Routes `net` to `peer`, taking it from whichever peer had it (as WireGuard does).
    pub fn insert(&mut self, net: IpNet, peer: PeerId) {
        match net.trunc() {
            IpNet::V4(net) => drop(self.v4.insert(net, peer)),
            IpNet::V6(net) => drop(self.v6.insert(net, peer)),
        }
    }

    pub fn remove_peer(&mut self, peer: PeerId) {
        self.v4.retain(|_, owner| *owner != peer);
        self.v6.retain(|_, owner| *owner != peer);
    }

    /// The peer whose prefix matches `addr` most specifically.
    pub fn lookup(&self, addr: IpAddr) -> Option<PeerId> {
        match addr {
            IpAddr::V4(ip) => self.v4.get_lpm(&Ipv4Net::from(ip)).map(|(_, peer)| *peer),
            IpAddr::V6(ip) => self.v6.get_lpm(&Ipv6Net::from(ip)).map(|(_, peer)| *peer),
        }
    }

    /// The prefixes routed to `peer`.
    pub fn of_peer(&self, peer: PeerId) -> Vec<IpNet> {
        let v4 = self
            .v4
            .iter()
            .filter(|(_, owner)| **owner == peer)
            .map(|(net, _)| IpNet::V4(*net));
        let v6 = self
            .v6
            .iter()
            .filter(|(_, owner)| **owner == peer)
            .map(|(net, _)| IpNet::V6(*net));
        v4.chain(v6).collect()
    }
}

/// The destination and source addresses of an IP packet, if it is one.
pub fn packet_addresses(packet: &[u8]) -> Option<(IpAddr, IpAddr)> {
    match packet.first()? >> 4 {
        4 if packet.len() >= 20 => {
            let src: [u8; 4] = packet[12..16].try_into().ok()?;
            let dst: [u8; 4] = packet[16..20].try_into().ok()?;
            Some((IpAddr::from(dst), IpAddr::from(src)))
        }
        6 if packet.len() >= 40 => {
            let src: [u8; 16] = packet[8..24].try_into().ok()?;
            let dst: [u8; 16] = packet[24..40].try_into().ok()?;
            Some((IpAddr::from(dst), IpAddr::from(src)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use culvert_proto::{Device, PeerConfig, PrivateKey, PublicKey};
    use std::time::{Duration, Instant};

    fn peers(n: u8) -> Vec<PeerId> {
        let mut device = Device::new(
            Some(PrivateKey::from_bytes([9; 32])),
            Instant::now(),
            Duration::ZERO,
        );
        (1..=n)
            .map(|i| {
                device
                    .add_peer(PeerConfig::new(PublicKey::from_bytes([i; 32])))
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn longest_prefix_wins_even_when_one_range_contains_another() {
        let p = peers(3);
        let mut table = AllowedIps::default();
        table.insert("10.0.0.0/8".parse().unwrap(), p[0]);
        table.insert("10.1.0.0/16".parse().unwrap(), p[1]);
        table.insert("::/0".parse().unwrap(), p[2]);
        assert_eq!(table.lookup("10.1.2.3".parse().unwrap()), Some(p[1]));
        assert_eq!(table.lookup("10.2.2.3".parse().unwrap()), Some(p[0]));
        assert_eq!(table.lookup("11.0.0.1".parse().unwrap()), None);
        assert_eq!(table.lookup("2001:db8::1".parse().unwrap()), Some(p[2]));
        // The source check for a peer whose range sits inside another's (the bug
        // boringtun shipped): 10.1.x.x belongs to p[1] alone.
        assert_ne!(table.lookup("10.1.9.9".parse().unwrap()), Some(p[0]));
        table.remove_peer(p[1]);
        assert_eq!(table.lookup("10.1.2.3".parse().unwrap()), Some(p[0]));
        assert_eq!(
            table.of_peer(p[0]),
            vec!["10.0.0.0/8".parse::<IpNet>().unwrap()]
        );
    }

    #[test]
    fn a_prefix_moves_to_the_last_peer_given_it() {
        let p = peers(2);
        let mut table = AllowedIps::default();
        table.insert("10.0.0.0/24".parse().unwrap(), p[0]);
        table.insert("10.0.0.7/24".parse().unwrap(), p[1]);
        assert_eq!(table.lookup("10.0.0.1".parse().unwrap()), Some(p[1]));
        assert!(table.of_peer(p[0]).is_empty());
    }

    #[test]
    fn addresses_of_packets() {
        let mut v4 = [0u8; 20];
        v4[0] = 0x45;
        v4[12..16].copy_from_slice(&[10, 0, 0, 1]);
        v4[16..20].copy_from_slice(&[10, 0, 0, 2]);
        assert_eq!(
            packet_addresses(&v4),
            Some(("10.0.0.2".parse().unwrap(), "10.0.0.1".parse().unwrap()))
        );
        assert_eq!(packet_addresses(&v4[..19]), None);
        assert_eq!(packet_addresses(&[0x60; 39]), None);
        assert_eq!(packet_addresses(&[]), None);
    }
}
