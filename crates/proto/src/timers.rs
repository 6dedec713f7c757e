//! The per-peer timers of the whitepaper (section 6), as deadlines the peer checks when
//! the I/O shell calls `handle_timeout(now)`. The events mirror wireguard-go's timers.go.

use crate::constants::{
    KEEPALIVE_TIMEOUT, REKEY_TIMEOUT, REKEY_TIMEOUT_JITTER_MAX, ZERO_KEYS_AFTER,
};
use std::time::{Duration, Instant};

#[derive(Debug, Default, Clone)]
pub(crate) struct Timers {
    /// Resend the initiation: no response came.
    pub(crate) retransmit_handshake: Option<Instant>,
    /// Send a keepalive: data came in and nothing went out since.
    pub(crate) send_keepalive: Option<Instant>,
    pub(crate) need_another_keepalive: bool,
    /// Start a handshake: data went out and nothing came back.
    pub(crate) new_handshake: Option<Instant>,
    /// Erase the keys: no new handshake for three times REJECT_AFTER_TIME.
    pub(crate) zero_key_material: Option<Instant>,
    /// The persistent keepalive, when configured.
    pub(crate) persistent_keepalive: Option<Instant>,
    pub(crate) persistent_keepalive_interval: Option<Duration>,
    /// Retries of the current handshake attempt.
    pub(crate) handshake_attempts: u32,
    /// A last-minute rekey was started by the receive path (only once per session).
    pub(crate) sent_last_minute_handshake: bool,
}

/// Which deadlines have passed, as returned by [`Timers::expire`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Expired {
    pub(crate) retransmit_handshake: bool,
    pub(crate) send_keepalive: bool,
    pub(crate) new_handshake: bool,
    pub(crate) zero_key_material: bool,
    pub(crate) persistent_keepalive: bool,
}

impl Timers {
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        [
            self.retransmit_handshake,
            self.send_keepalive,
            self.new_handshake,
            self.zero_key_material,
            self.persistent_keepalive,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Takes every deadline that is due at `now`.
    pub(crate) fn expire(&mut self, now: Instant) -> Expired {
        let take = |deadline: &mut Option<Instant>| {
            let due = deadline.is_some_and(|at| at <= now);
            if due {
                *deadline = None;
            }
            due
        };
        Expired {
            retransmit_handshake: take(&mut self.retransmit_handshake),
            send_keepalive: take(&mut self.send_keepalive),
            new_handshake: take(&mut self.new_handshake),
            zero_key_material: take(&mut self.zero_key_material),
            persistent_keepalive: take(&mut self.persistent_keepalive),
        }
    }

    pub(crate) fn data_sent(&mut self, now: Instant, jitter: Duration) {
        if self.new_handshake.is_none() {
            self.new_handshake = Some(now + KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + jitter);
        }
    }

    pub(crate) fn data_received(&mut self, now: Instant) {
        if self.send_keepalive.is_none() {
            self.send_keepalive = Some(now + KEEPALIVE_TIMEOUT);
        } else {
            self.need_another_keepalive = true;
        }
    }

    pub(crate) fn any_authenticated_packet_sent(&mut self) {
        self.send_keepalive = None;
    }

    pub(crate) fn any_authenticated_packet_received(&mut self) {
        self.new_handshake = None;
    }

    pub(crate) fn any_authenticated_packet_traversal(&mut self, now: Instant) {
        if let Some(interval) = self.persistent_keepalive_interval {
            self.persistent_keepalive = Some(now + interval);
        }
    }

    pub(crate) fn handshake_initiated(&mut self, now: Instant, jitter: Duration) {
        self.retransmit_handshake = Some(now + REKEY_TIMEOUT + jitter);
    }

    pub(crate) fn handshake_complete(&mut self) {
        self.retransmit_handshake = None;
        self.handshake_attempts = 0;
        self.sent_last_minute_handshake = false;
    }

    pub(crate) fn session_derived(&mut self, now: Instant) {
        self.zero_key_material = Some(now + ZERO_KEYS_AFTER);
    }
}

/// Random jitter for handshake timers, so that peers do not retry in lockstep.
pub(crate) fn jitter(random: u32) -> Duration {
    let max_nanos = REKEY_TIMEOUT_JITTER_MAX.as_nanos() as u64;
    Duration::from_nanos(u64::from(random) % max_nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_fire_once_and_in_order() {
        let start = Instant::now();
        let mut timers = Timers::default();
        timers.data_received(start);
        timers.data_sent(start, Duration::ZERO);
        assert_eq!(timers.next_deadline(), Some(start + KEEPALIVE_TIMEOUT));
        assert_eq!(
            timers.expire(start + Duration::from_secs(9)),
            Expired::default()
        );
        let fired = timers.expire(start + KEEPALIVE_TIMEOUT);
        assert!(fired.send_keepalive && !fired.new_handshake);
        assert_eq!(
            timers.next_deadline(),
            Some(start + Duration::from_secs(15))
        );
        timers.any_authenticated_packet_received();
        assert_eq!(timers.next_deadline(), None);
    }

    #[test]
    fn jitter_stays_below_a_third_of_a_second() {
        assert!(jitter(u32::MAX) < REKEY_TIMEOUT_JITTER_MAX);
        assert_eq!(jitter(0), Duration::ZERO);
    }
}
