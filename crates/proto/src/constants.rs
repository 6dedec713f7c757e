//! The protocol's constants, from the WireGuard whitepaper (section 6) and wireguard-go.

use std::time::Duration;

/// Noise protocol name; its hash is the initial chaining key.
pub const CONSTRUCTION: &[u8] = b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
/// WireGuard's prologue.
pub const IDENTIFIER: &[u8] = b"WireGuard v1 zx2c4 Jason@zx2c4.com";
pub(crate) const LABEL_MAC1: &[u8] = b"mac1----";
pub(crate) const LABEL_COOKIE: &[u8] = b"cookie--";

/// Initiate a new handshake once a keypair has sent this many messages.
pub const REKEY_AFTER_MESSAGES: u64 = 1 << 60;
/// Never use a keypair for more messages than this.
pub const REJECT_AFTER_MESSAGES: u64 = u64::MAX - (1 << 13);
/// The initiator of a session rekeys when sending on a keypair this old.
pub const REKEY_AFTER_TIME: Duration = Duration::from_secs(120);
/// A keypair this old is never used again.
pub const REJECT_AFTER_TIME: Duration = Duration::from_secs(180);
/// Give up handshaking after trying for this long.
pub const REKEY_ATTEMPT_TIME: Duration = Duration::from_secs(90);
/// Retry a handshake that got no response after this (plus jitter).
pub const REKEY_TIMEOUT: Duration = Duration::from_secs(5);
/// Upper bound of the random jitter added to handshake retries.
pub const REKEY_TIMEOUT_JITTER_MAX: Duration = Duration::from_millis(333);
/// Send a keepalive when data was received and nothing sent for this long.
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a received cookie stays usable, and how often the cookie secret changes.
pub const COOKIE_REFRESH_TIME: Duration = Duration::from_secs(120);
/// Handshakes retried at most this many times (REKEY_ATTEMPT_TIME / REKEY_TIMEOUT).
pub const MAX_HANDSHAKE_ATTEMPTS: u32 =
    (REKEY_ATTEMPT_TIME.as_secs() / REKEY_TIMEOUT.as_secs()) as u32;
/// Key material is erased after this long without a new handshake.
pub const ZERO_KEYS_AFTER: Duration = Duration::from_secs(REJECT_AFTER_TIME.as_secs() * 3);
/// Initiations from one peer closer together than this are dropped (wireguard-go).
pub const INITIATION_MIN_INTERVAL: Duration = Duration::from_millis(20);

/// Replay window (RFC 6479): 128 blocks of 64 bits, one block kept as slack.
pub const REPLAY_WINDOW_BITS: u64 = 8192;
/// At most this many packets wait for a handshake per peer (wireguard-go's staged queue).
pub const MAX_STAGED_PACKETS: usize = 128;

/// Token bucket of the per-source handshake rate limiter, used under load.
pub const RATE_LIMIT_PER_SECOND: u64 = 20;
pub const RATE_LIMIT_BURST: u64 = 5;
/// Without a backlog reported by the I/O shell, this many handshake messages within one
/// second put the device under load (for a single-threaded shell).
pub const HANDSHAKES_PER_SECOND_UNDER_LOAD: u32 = 256;
/// A device stays under load for this long after the condition was last seen.
pub const UNDER_LOAD_HOLD: Duration = Duration::from_secs(1);
