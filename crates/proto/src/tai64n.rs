//! TAI64N timestamps, whose strict increase protects responders from replayed initiations.

use std::time::{Duration, Instant};

pub const TIMESTAMP_LEN: usize = 12;
/// TAI64 labels seconds from 2^62, and TAI is 10 s ahead of the Unix epoch's UTC.
const TAI64_EPOCH: u64 = 0x4000_0000_0000_000a;
/// Nanoseconds are rounded down to 2^24 ns (about 16 ms) so the timestamp does not
/// leak the sender's fine clock (whitepaper section 5.1, wireguard-go's "whitening").
const WHITENER_MASK: u32 = (1 << 24) - 1;

/// 8-byte big-endian seconds, 4-byte big-endian nanoseconds: byte order is time order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tai64N([u8; TIMESTAMP_LEN]);

impl Tai64N {
    pub fn from_unix(since_epoch: Duration) -> Self {
        let mut bytes = [0u8; TIMESTAMP_LEN];
        bytes[..8].copy_from_slice(&(TAI64_EPOCH + since_epoch.as_secs()).to_be_bytes());
        let nanos = since_epoch.subsec_nanos() & !WHITENER_MASK;
        bytes[8..].copy_from_slice(&nanos.to_be_bytes());
        Self(bytes)
    }

    pub const fn from_bytes(bytes: [u8; TIMESTAMP_LEN]) -> Self {
        Self(bytes)
    }

    pub const fn as_bytes(&self) -> &[u8; TIMESTAMP_LEN] {
        &self.0
    }

    /// The smallest timestamp after this one that whitening can produce.
    pub fn next(&self) -> Self {
        let secs = u64::from_be_bytes(self.0[..8].try_into().expect("8 bytes"));
        let nanos = u32::from_be_bytes(self.0[8..].try_into().expect("4 bytes"));
        let (secs, nanos) = match nanos + WHITENER_MASK + 1 {
            n if n >= 1_000_000_000 => (secs + 1, 0),
            n => (secs, n),
        };
        let mut bytes = [0u8; TIMESTAMP_LEN];
        bytes[..8].copy_from_slice(&secs.to_be_bytes());
        bytes[8..].copy_from_slice(&nanos.to_be_bytes());
        Self(bytes)
    }
}

/// Maps the monotonic `now` the core is given onto wall-clock time, for timestamps and
/// for reporting handshake times. The I/O shell sets it (and re-sets it after a resume).
#[derive(Debug, Clone, Copy)]
pub struct WallClock {
    origin: Instant,
    unix_at_origin: Duration,
}

impl WallClock {
    pub fn new(now: Instant, unix_now: Duration) -> Self {
        Self {
            origin: now,
            unix_at_origin: unix_now,
        }
    }

    /// Time since the Unix epoch at `at`.
    pub fn unix(&self, at: Instant) -> Duration {
        match at.checked_duration_since(self.origin) {
            Some(later) => self.unix_at_origin + later,
            None => self.unix_at_origin.saturating_sub(self.origin - at),
        }
    }

    pub fn timestamp(&self, at: Instant) -> Tai64N {
        Tai64N::from_unix(self.unix(at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_whitening() {
        let stamp = Tai64N::from_unix(Duration::new(1_700_000_000, 123_456_789));
        let secs = u64::from_be_bytes(stamp.as_bytes()[..8].try_into().unwrap());
        let nanos = u32::from_be_bytes(stamp.as_bytes()[8..].try_into().unwrap());
        assert_eq!(secs, TAI64_EPOCH + 1_700_000_000);
        assert_eq!(nanos, 123_456_789 & !WHITENER_MASK);
        assert_eq!(nanos & WHITENER_MASK, 0);
    }

    #[test]
    fn order_follows_time_and_whitening_merges_close_instants() {
        let t = Duration::new(1_700_000_000, 0);
        assert!(Tai64N::from_unix(t + Duration::from_millis(20)) > Tai64N::from_unix(t));
        assert!(
            Tai64N::from_unix(t + Duration::from_secs(1))
                > Tai64N::from_unix(t + Duration::from_millis(999))
        );
        assert_eq!(
            Tai64N::from_unix(t + Duration::from_millis(5)),
            Tai64N::from_unix(t)
        );
    }

    #[test]
    fn next_is_strictly_greater_and_carries_into_seconds() {
        let stamp = Tai64N::from_unix(Duration::new(100, 0));
        assert!(stamp.next() > stamp);
        let late = Tai64N::from_unix(Duration::new(100, 999_999_999));
        assert!(late.next() > late);
        assert_eq!(late.next(), Tai64N::from_unix(Duration::new(101, 0)));
    }

    #[test]
    fn wall_clock_follows_now_both_ways() {
        let origin = Instant::now() + Duration::from_secs(100);
        let clock = WallClock::new(origin, Duration::from_secs(1_000));
        assert_eq!(
            clock.unix(origin + Duration::from_secs(5)),
            Duration::from_secs(1_005)
        );
        assert_eq!(
            clock.unix(origin - Duration::from_secs(5)),
            Duration::from_secs(995)
        );
    }
}
