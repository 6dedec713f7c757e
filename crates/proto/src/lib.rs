//! culvert-proto: the WireGuard protocol as a deterministic, sans-IO core.
//!
//! No sockets, no clock, no threads: time comes in as `now`, datagrams and packets come
//! in and go out through caller buffers, and randomness comes from an injectable RNG.
//! The I/O shell around it is culvert-engine. Start at [`Device`].
//!
//! Files by concern, in the manner of wireguard-go: `messages` (wire formats), `noise`
//! (Noise_IKpsk2), `crypto` (BLAKE2s, HMAC, KDF), `aead` (the ChaCha20-Poly1305 seam),
//! `cookie` (mac1/mac2/cookies), `ratelimit`, `replay`, `session` (keypairs), `timers`,
//! `tai64n`, `peer` (the per-peer state machine) and `device` (routing to peers).

pub mod aead;
mod constants;
mod cookie;
mod crypto;
mod device;
mod error;
mod keys;
pub mod messages;
pub mod noise;
mod peer;
mod ratelimit;
pub mod replay;
mod session;
mod staged;
mod tai64n;
mod timers;

pub use constants::*;
pub use device::{Decapsulated, Device, PeerId, Transmit};
pub use error::Error;
pub use keys::{KEY_LEN, PresharedKey, PrivateKey, PublicKey};
pub use peer::{Encapsulated, PeerConfig, PeerStats};
pub use tai64n::{TIMESTAMP_LEN, Tai64N, WallClock};
