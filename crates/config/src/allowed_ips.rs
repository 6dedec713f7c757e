//! AllowedIPs algebra: sets of IPv4 and IPv6 addresses given as prefixes.
//!
//! A [`PrefixSet`] stores each family as sorted, disjoint, non-adjacent inclusive ranges,
//! where union, difference and intersection are simple merges; it turns back into the
//! unique minimal list of prefixes (the largest aligned blocks) on output. That minimal
//! list is what "exclude private IPs" must produce, and the normal form of AllowedIPs.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::{BitAnd, BitOr, Sub};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// A set of IP addresses, both families.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct PrefixSet {
    v4: Ranges,
    v6: Ranges,
}

/// IPv4 ranges "exclude private IPs" leaves out of the full tunnel.
///
/// The RFC 1918 networks, CGNAT (RFC 6598), loopback, link-local, multicast, and two
/// ranges that are never reachable through a tunnel either: 0.0.0.0/8 ("this network")
/// and 240.0.0.0/4 (reserved, including the 255.255.255.255 broadcast). The WireGuard
/// Android client's list excludes 10/8, 172.16/12, 192.168/16 and 224/3 only; we also
/// keep CGNAT, loopback, link-local and 0/8 local, because carrier-grade NAT gateways,
/// DHCP and local services live there and routing them into the tunnel breaks them.
pub const PRIVATE_V4: [(Ipv4Addr, u8); 9] = [
    (Ipv4Addr::new(0, 0, 0, 0), 8),
    (Ipv4Addr::new(10, 0, 0, 0), 8),
    (Ipv4Addr::new(100, 64, 0, 0), 10),
    (Ipv4Addr::new(127, 0, 0, 0), 8),
    (Ipv4Addr::new(169, 254, 0, 0), 16),
    (Ipv4Addr::new(172, 16, 0, 0), 12),
    (Ipv4Addr::new(192, 168, 0, 0), 16),
    (Ipv4Addr::new(224, 0, 0, 0), 4),
    (Ipv4Addr::new(240, 0, 0, 0), 4),
];

/// IPv6 ranges "exclude private IPs" leaves out: unique local, link-local and multicast.
///
/// Loopback (`::1`) is not listed: every OS routes it to its loopback interface before
/// any tunnel route, so leaving it out changes nothing, while cutting a /128 out of
/// `::/0` would add 127 prefixes to the list. The IPv4 list does cut out 127.0.0.0/8,
/// which costs one prefix.
pub const PRIVATE_V6: [(Ipv6Addr, u8); 3] = [
    (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7),
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10),
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8),
];

impl PrefixSet {
    pub fn new() -> Self {
        PrefixSet::default()
    }

    /// Every address: `0.0.0.0/0` and `::/0`.
    pub fn full_tunnel() -> Self {
        PrefixSet {
            v4: Ranges::full(32),
            v6: Ranges::full(128),
        }
    }

    /// The ranges in [`PRIVATE_V4`] and [`PRIVATE_V6`].
    pub fn private() -> Self {
        let v4 = PRIVATE_V4
            .iter()
            .map(|&(a, l)| IpNet::V4(Ipv4Net::new_assert(a, l)));
        let v6 = PRIVATE_V6
            .iter()
            .map(|&(a, l)| IpNet::V6(Ipv6Net::new_assert(a, l)));
        v4.chain(v6).collect()
    }

    /// The full tunnel minus the private ranges, for "exclude private IPs".
    pub fn exclude_private() -> Self {
        PrefixSet::full_tunnel().difference(&PrefixSet::private())
    }

    /// Adds a prefix; host bits are ignored, as WireGuard ignores them.
    pub fn insert(&mut self, net: IpNet) {
        *self = self.union(&std::iter::once(net).collect());
    }

    pub fn union(&self, other: &PrefixSet) -> PrefixSet {
        PrefixSet {
            v4: self.v4.union(&other.v4),
            v6: self.v6.union(&other.v6),
        }
    }

    /// The addresses in `self` that are not in `other`.
    pub fn difference(&self, other: &PrefixSet) -> PrefixSet {
        PrefixSet {
            v4: self.v4.difference(&other.v4),
            v6: self.v6.difference(&other.v6),
        }
    }

    pub fn intersection(&self, other: &PrefixSet) -> PrefixSet {
        PrefixSet {
            v4: self.v4.intersection(&other.v4),
            v6: self.v6.intersection(&other.v6),
        }
    }

    /// Whether some address is in both sets (two tunnels fighting over routes).
    pub fn overlaps(&self, other: &PrefixSet) -> bool {
        !self.intersection(other).is_empty()
    }

    pub fn contains(&self, addr: IpAddr) -> bool {
        match addr {
            IpAddr::V4(a) => self.v4.contains(u128::from(u32::from(a))),
            IpAddr::V6(a) => self.v6.contains(u128::from(a)),
        }
    }

    /// Whether every address of `net` is in the set.
    pub fn contains_net(&self, net: &IpNet) -> bool {
        let single: PrefixSet = std::iter::once(*net).collect();
        single.difference(self).is_empty()
    }

    pub fn is_empty(&self) -> bool {
        self.v4.0.is_empty() && self.v6.0.is_empty()
    }

    /// The minimal list of prefixes covering exactly this set: IPv4 first, each family
    /// in address order.
    pub fn prefixes(&self) -> Vec<IpNet> {
        let mut out = Vec::new();
        for &(lo, hi) in &self.v4.0 {
            for (start, len) in range_to_prefixes(lo, hi, 32) {
                // `start` came from a u32, so it fits.
                let addr = Ipv4Addr::from(u32::try_from(start).unwrap_or(0));
                out.push(IpNet::V4(Ipv4Net::new_assert(addr, len)));
            }
        }
        for &(lo, hi) in &self.v6.0 {
            for (start, len) in range_to_prefixes(lo, hi, 128) {
                out.push(IpNet::V6(Ipv6Net::new_assert(Ipv6Addr::from(start), len)));
            }
        }
        out
    }
}

/// The minimal, sorted list of prefixes covering the same addresses as `nets`.
pub fn normalise(nets: impl IntoIterator<Item = IpNet>) -> Vec<IpNet> {
    nets.into_iter().collect::<PrefixSet>().prefixes()
}

impl FromIterator<IpNet> for PrefixSet {
    fn from_iter<I: IntoIterator<Item = IpNet>>(iter: I) -> Self {
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        for net in iter {
            match net.trunc() {
                IpNet::V4(n) => {
                    let lo = u32::from(n.network());
                    let hi = u32::from(n.broadcast());
                    v4.push((u128::from(lo), u128::from(hi)));
                }
                IpNet::V6(n) => v6.push((u128::from(n.network()), u128::from(n.broadcast()))),
            }
        }
        PrefixSet {
            v4: Ranges::from_unsorted(v4),
            v6: Ranges::from_unsorted(v6),
        }
    }
}

impl fmt::Debug for PrefixSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.prefixes().iter().map(ToString::to_string))
            .finish()
    }
}

/// Prints the minimal prefix list as an `AllowedIPs` value: `10.0.0.0/8, ::/0`.
impl fmt::Display for PrefixSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, net) in self.prefixes().iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{net}")?;
        }
        Ok(())
    }
}

impl BitOr for &PrefixSet {
    type Output = PrefixSet;
    fn bitor(self, rhs: &PrefixSet) -> PrefixSet {
        self.union(rhs)
    }
}

impl BitAnd for &PrefixSet {
    type Output = PrefixSet;
    fn bitand(self, rhs: &PrefixSet) -> PrefixSet {
        self.intersection(rhs)
    }
}

impl Sub for &PrefixSet {
    type Output = PrefixSet;
    fn sub(self, rhs: &PrefixSet) -> PrefixSet {
        self.difference(rhs)
    }
}

/// Sorted, disjoint, non-adjacent inclusive ranges; IPv4 values stay below 2^32.
#[derive(Clone, Default, PartialEq, Eq, Hash, Debug)]
struct Ranges(Vec<(u128, u128)>);

impl Ranges {
    fn full(bits: u32) -> Ranges {
        Ranges(vec![(0, max_value(bits))])
    }

    fn from_unsorted(mut ranges: Vec<(u128, u128)>) -> Ranges {
        ranges.sort_unstable();
        let mut out: Vec<(u128, u128)> = Vec::with_capacity(ranges.len());
        for (lo, hi) in ranges {
            match out.last_mut() {
                // Overlapping or adjacent: `last.1 + 1 >= lo`, written without overflow.
                Some(last) if last.1 >= lo || last.1 + 1 == lo => last.1 = last.1.max(hi),
                _ => out.push((lo, hi)),
            }
        }
        Ranges(out)
    }

    fn union(&self, other: &Ranges) -> Ranges {
        let mut all = self.0.clone();
        all.extend_from_slice(&other.0);
        Ranges::from_unsorted(all)
    }

    fn intersection(&self, other: &Ranges) -> Ranges {
        let (mut i, mut j) = (0, 0);
        let mut out = Vec::new();
        while let (Some(&(a_lo, a_hi)), Some(&(b_lo, b_hi))) = (self.0.get(i), other.0.get(j)) {
            let (lo, hi) = (a_lo.max(b_lo), a_hi.min(b_hi));
            if lo <= hi {
                out.push((lo, hi));
            }
            if a_hi < b_hi { i += 1 } else { j += 1 }
        }
        Ranges(out)
    }

    fn difference(&self, other: &Ranges) -> Ranges {
        let mut out = Vec::new();
        let mut j = 0;
        for &(lo, hi) in &self.0 {
            let mut start = lo;
            // Skip subtrahend ranges entirely below this one.
            while other.0.get(j).is_some_and(|&(_, b_hi)| b_hi < lo) {
                j += 1;
            }
            let mut k = j;
            let mut covered_to_end = false;
            while let Some(&(b_lo, b_hi)) = other.0.get(k) {
                if b_lo > hi {
                    break;
                }
                if b_lo > start {
                    out.push((start, b_lo - 1));
                }
                if b_hi >= hi {
                    covered_to_end = true;
                    break;
                }
                start = b_hi + 1;
                k += 1;
            }
            if !covered_to_end {
                out.push((start, hi));
            }
        }
        Ranges(out)
    }

    fn contains(&self, x: u128) -> bool {
        let i = self.0.partition_point(|&(lo, _)| lo <= x);
        i > 0 && self.0[i - 1].1 >= x
    }
}

fn max_value(bits: u32) -> u128 {
    if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    }
}

/// The largest aligned blocks covering `lo..=hi`, as (start, prefix length).
fn range_to_prefixes(mut lo: u128, hi: u128, bits: u32) -> Vec<(u128, u8)> {
    let mut out = Vec::new();
    loop {
        // Largest block size 2^k that starts at `lo` (alignment) and ends by `hi`.
        let align = if lo == 0 {
            bits
        } else {
            lo.trailing_zeros().min(bits)
        };
        let span = hi - lo;
        let fit = if span == u128::MAX {
            128
        } else {
            127 - (span + 1).leading_zeros()
        };
        let k = align.min(fit);
        // k <= bits <= 128, so the length fits in a u8.
        out.push((lo, u8::try_from(bits - k).unwrap_or(0)));
        let last = if k >= 128 {
            u128::MAX
        } else {
            lo + ((1u128 << k) - 1)
        };
        if last >= hi {
            return out;
        }
        lo = last + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_become_minimal_prefixes() {
        assert_eq!(range_to_prefixes(0, u128::MAX, 128), vec![(0, 0)]);
        assert_eq!(range_to_prefixes(0, u128::from(u32::MAX), 32), vec![(0, 0)]);
        assert_eq!(
            range_to_prefixes(1, 6, 32),
            vec![(1, 32), (2, 31), (4, 31), (6, 32)]
        );
    }

    #[test]
    fn difference_at_the_edges() {
        let full = Ranges::full(128);
        let top = Ranges(vec![(u128::MAX, u128::MAX)]);
        let bottom = Ranges(vec![(0, 0)]);
        assert_eq!(full.difference(&top), Ranges(vec![(0, u128::MAX - 1)]));
        assert_eq!(full.difference(&bottom), Ranges(vec![(1, u128::MAX)]));
        assert_eq!(full.difference(&full), Ranges(vec![]));
        let parts = Ranges(vec![(0, 10), (20, 30)]);
        let holes = Ranges(vec![(5, 6), (8, 25)]);
        assert_eq!(
            parts.difference(&holes),
            Ranges(vec![(0, 4), (7, 7), (26, 30)])
        );
        assert_eq!(
            parts.intersection(&holes),
            Ranges(vec![(5, 6), (8, 10), (20, 25)])
        );
        let merged = Ranges::from_unsorted(vec![(5, 9), (0, 4), (u128::MAX, u128::MAX), (11, 12)]);
        assert_eq!(
            merged,
            Ranges(vec![(0, 9), (11, 12), (u128::MAX, u128::MAX)])
        );
    }
}
