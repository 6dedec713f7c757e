//! Per-source token buckets for handshakes under load, in a fixed table: a flood of
//! source addresses costs no allocation, and one flooding address cannot use up the
//! budget of any other (the global limiter boringtun shipped could).

use crate::constants::{RATE_LIMIT_BURST, RATE_LIMIT_PER_SECOND};
use crate::crypto::mac;
use std::net::IpAddr;
use std::time::Instant;

/// A direct-mapped table: past this many active sources, colliding ones evict each other
/// and come back with a full burst. That errs toward letting peers through, and only
/// sources that proved their address with a cookie ever reach the limiter.
const SLOTS: usize = 4096;
const NANOS_PER_PACKET: u64 = 1_000_000_000 / RATE_LIMIT_PER_SECOND;
const MAX_TOKENS: u64 = NANOS_PER_PACKET * RATE_LIMIT_BURST;

#[derive(Clone, Copy)]
struct Bucket {
    source: u64,
    tokens: u64,
    refilled: Instant,
}

pub(crate) struct RateLimiter {
    key: [u8; 16],
    slots: Box<[Option<Bucket>; SLOTS]>,
}

impl RateLimiter {
    /// `key` keys the hash that places sources, so nobody can aim collisions at a victim.
    pub(crate) fn new(key: [u8; 16]) -> Self {
        Self {
            key,
            slots: Box::new([None; SLOTS]),
        }
    }

    /// Takes a token for `source`; false when its bucket is empty. IPv6 sources are
    /// limited per /64, as the kernel does, since a host usually owns a whole /64.
    pub(crate) fn allow(&mut self, source: IpAddr, now: Instant) -> bool {
        // An IPv4 peer seen through a dual-stack socket is an IPv4 source, not one /64.
        let digest = match source.to_canonical() {
            IpAddr::V4(ip) => mac(&self.key, &[&ip.octets()]),
            IpAddr::V6(ip) => mac(&self.key, &[&ip.octets()[..8]]),
        };
        let tag = u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"));
        let slot = &mut self.slots[(tag % SLOTS as u64) as usize];
        match slot {
            Some(bucket) if bucket.source == tag => {
                let elapsed = now.saturating_duration_since(bucket.refilled).as_nanos();
                let elapsed = u64::try_from(elapsed).unwrap_or(u64::MAX);
                bucket.tokens = bucket.tokens.saturating_add(elapsed).min(MAX_TOKENS);
                bucket.refilled = now;
                if bucket.tokens < NANOS_PER_PACKET {
                    return false;
                }
                bucket.tokens -= NANOS_PER_PACKET;
                true
            }
            _ => {
                *slot = Some(Bucket {
                    source: tag,
                    tokens: MAX_TOKENS - NANOS_PER_PACKET,
                    refilled: now,
                });
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_steady_rate_per_source() {
        let mut limiter = RateLimiter::new([1; 16]);
        let now = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let allowed = (0..100).filter(|_| limiter.allow(a, now)).count();
        assert_eq!(allowed as u64, RATE_LIMIT_BURST);
        // Another source keeps its own budget.
        assert!(limiter.allow(b, now));
        // One second later, twenty more.
        let later = now + Duration::from_secs(1);
        let allowed = (0..100).filter(|_| limiter.allow(a, later)).count();
        assert_eq!(allowed as u64, RATE_LIMIT_BURST.min(RATE_LIMIT_PER_SECOND));
        let much_later = later + Duration::from_millis(50);
        assert!(limiter.allow(a, much_later));
        assert!(!limiter.allow(a, much_later));
    }

    #[test]
    fn ipv4_mapped_sources_are_ipv4_sources() {
        let mut limiter = RateLimiter::new([3; 16]);
        let now = Instant::now();
        let a: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        let b: IpAddr = "::ffff:192.0.2.2".parse().unwrap();
        while limiter.allow(a, now) {}
        assert!(
            limiter.allow(b, now),
            "another IPv4 host keeps its own budget"
        );
        assert!(
            !limiter.allow("192.0.2.1".parse().unwrap(), now),
            "the same host either way"
        );
    }

    #[test]
    fn ipv6_is_limited_per_64() {
        let mut limiter = RateLimiter::new([2; 16]);
        let now = Instant::now();
        for i in 0..RATE_LIMIT_BURST {
            let ip: IpAddr = format!("2001:db8::{i:x}").parse().unwrap();
            assert!(limiter.allow(ip, now));
        }
        assert!(!limiter.allow("2001:db8::ffff".parse().unwrap(), now));
        assert!(limiter.allow("2001:db8:0:1::1".parse().unwrap(), now));
    }
}
