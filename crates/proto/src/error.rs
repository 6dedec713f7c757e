//! Why a datagram was dropped or an operation refused.

/// Every way handling a packet can fail. None of these is fatal to the device: the
/// packet concerned is dropped and, at most, logged at trace level and counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("datagram of {len} bytes is not a WireGuard message")]
    InvalidMessage { len: usize },
    #[error("message has an invalid mac1")]
    InvalidMac1,
    #[error("under load and the message has no valid mac2: answered with a cookie")]
    CookieRequired,
    #[error("handshake rate limit exceeded for this source address")]
    RateLimited,
    #[error("handshake message could not be authenticated")]
    HandshakeFailed,
    #[error("initiation comes from a public key that is not a configured peer")]
    UnknownPeer,
    #[error("Diffie-Hellman result is all zeros (non-contributory public key)")]
    NonContributory,
    #[error("initiation timestamp is not newer than the last one from this peer")]
    ReplayedInitiation,
    #[error("initiations from this peer arrive too fast")]
    InitiationFlood,
    #[error("no session or handshake has this receiver index")]
    UnknownIndex,
    #[error("response or cookie reply does not match a handshake in progress")]
    UnexpectedMessage,
    #[error("packet could not be decrypted")]
    DecryptionFailed,
    #[error("packet counter was already seen or is too old")]
    Replayed,
    #[error("session is expired")]
    SessionExpired,
    #[error("decrypted packet is not an IPv4 or IPv6 packet")]
    NotIpPacket,
    #[error("buffer of {have} bytes is too small, {need} are needed")]
    BufferTooSmall { need: usize, have: usize },
    #[error("packet of {len} bytes is larger than the largest datagram")]
    PacketTooLarge { len: usize },
    #[error("an empty packet is not sent (keepalives are the core's business)")]
    EmptyPacket,
    #[error("peer has no endpoint to send to")]
    NoEndpoint,
    #[error("no such peer")]
    NoSuchPeer,
    #[error("private key is not set")]
    NoPrivateKey,
}
