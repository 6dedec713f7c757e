//! The four WireGuard messages, parsed from and written into caller-supplied buffers.
//!
//! All fields are little-endian; the type is a u32 whose upper three bytes are zero. A
//! datagram of the wrong type or length is refused, never guessed at.

use crate::Error;
use crate::aead::TAG_LEN;

pub const INITIATION_LEN: usize = 148;
pub const RESPONSE_LEN: usize = 92;
pub const COOKIE_REPLY_LEN: usize = 64;
pub const TRANSPORT_HEADER_LEN: usize = 16;
/// An empty transport message: a keepalive.
pub const KEEPALIVE_LEN: usize = TRANSPORT_HEADER_LEN + TAG_LEN;
/// The extra bytes a transport message adds to a padded packet.
pub const TRANSPORT_OVERHEAD: usize = TRANSPORT_HEADER_LEN + TAG_LEN;

const TYPE_INITIATION: u32 = 1;
const TYPE_RESPONSE: u32 = 2;
const TYPE_COOKIE_REPLY: u32 = 3;
const TYPE_TRANSPORT: u32 = 4;

/// The length of everything a mac1 covers, and of everything a mac2 covers.
pub(crate) const fn mac_offsets(message_len: usize) -> (usize, usize) {
    (message_len - 32, message_len - 16)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    Initiation,
    Response,
    CookieReply,
    Transport,
}

/// Classifies a datagram by its type and checks that its length fits that type.
pub fn classify(datagram: &[u8]) -> Result<MessageKind, Error> {
    let invalid = Error::InvalidMessage {
        len: datagram.len(),
    };
    let Some(header) = datagram.first_chunk::<4>() else {
        return Err(invalid);
    };
    let kind = match (u32::from_le_bytes(*header), datagram.len()) {
        (TYPE_INITIATION, INITIATION_LEN) => MessageKind::Initiation,
        (TYPE_RESPONSE, RESPONSE_LEN) => MessageKind::Response,
        (TYPE_COOKIE_REPLY, COOKIE_REPLY_LEN) => MessageKind::CookieReply,
        (TYPE_TRANSPORT, len) if len >= KEEPALIVE_LEN => MessageKind::Transport,
        _ => return Err(invalid),
    };
    Ok(kind)
}

/// Handshake initiation, type 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Initiation {
    pub sender: u32,
    pub ephemeral: [u8; 32],
    pub encrypted_static: [u8; 32 + TAG_LEN],
    pub encrypted_timestamp: [u8; 12 + TAG_LEN],
    pub mac1: [u8; 16],
    pub mac2: [u8; 16],
}

/// Handshake response, type 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    pub sender: u32,
    pub receiver: u32,
    pub ephemeral: [u8; 32],
    pub encrypted_nothing: [u8; TAG_LEN],
    pub mac1: [u8; 16],
    pub mac2: [u8; 16],
}

/// Cookie reply, type 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieReply {
    pub receiver: u32,
    pub nonce: [u8; 24],
    pub encrypted_cookie: [u8; 16 + TAG_LEN],
}

/// The header of a transport data message, type 4; the encrypted packet follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportHeader {
    pub receiver: u32,
    pub counter: u64,
}

/// Reads fixed-size fields in order, after the type has been checked.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn array<const N: usize>(&mut self) -> [u8; N] {
        let (head, rest) = self
            .0
            .split_first_chunk::<N>()
            .expect("length checked by classify");
        self.0 = rest;
        *head
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.array())
    }

    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.array())
    }
}

/// Writes fields in order into a buffer whose length was checked.
struct Writer<'a>(&'a mut [u8]);

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let (head, rest) = std::mem::take(&mut self.0).split_at_mut(bytes.len());
        head.copy_from_slice(bytes);
        self.0 = rest;
    }
}

fn reader(datagram: &[u8], expected: MessageKind) -> Result<Reader<'_>, Error> {
    if classify(datagram)? != expected {
        return Err(Error::InvalidMessage {
            len: datagram.len(),
        });
    }
    Ok(Reader(&datagram[4..]))
}

fn writer(out: &mut [u8], len: usize, message_type: u32) -> Result<Writer<'_>, Error> {
    let have = out.len();
    let Some(out) = out.get_mut(..len) else {
        return Err(Error::BufferTooSmall { need: len, have });
    };
    let mut writer = Writer(out);
    writer.put(&message_type.to_le_bytes());
    Ok(writer)
}

impl Initiation {
    pub fn parse(datagram: &[u8]) -> Result<Self, Error> {
        let mut r = reader(datagram, MessageKind::Initiation)?;
        Ok(Self {
            sender: r.u32(),
            ephemeral: r.array(),
            encrypted_static: r.array(),
            encrypted_timestamp: r.array(),
            mac1: r.array(),
            mac2: r.array(),
        })
    }

    /// Writes the message into `out` and returns its length.
    pub fn write(&self, out: &mut [u8]) -> Result<usize, Error> {
        let mut w = writer(out, INITIATION_LEN, TYPE_INITIATION)?;
        w.put(&self.sender.to_le_bytes());
        w.put(&self.ephemeral);
        w.put(&self.encrypted_static);
        w.put(&self.encrypted_timestamp);
        w.put(&self.mac1);
        w.put(&self.mac2);
        Ok(INITIATION_LEN)
    }
}

impl Response {
    pub fn parse(datagram: &[u8]) -> Result<Self, Error> {
        let mut r = reader(datagram, MessageKind::Response)?;
        Ok(Self {
            sender: r.u32(),
            receiver: r.u32(),
            ephemeral: r.array(),
            encrypted_nothing: r.array(),
            mac1: r.array(),
            mac2: r.array(),
        })
    }

    pub fn write(&self, out: &mut [u8]) -> Result<usize, Error> {
        let mut w = writer(out, RESPONSE_LEN, TYPE_RESPONSE)?;
        w.put(&self.sender.to_le_bytes());
        w.put(&self.receiver.to_le_bytes());
        w.put(&self.ephemeral);
        w.put(&self.encrypted_nothing);
        w.put(&self.mac1);
        w.put(&self.mac2);
        Ok(RESPONSE_LEN)
    }
}

impl CookieReply {
    pub fn parse(datagram: &[u8]) -> Result<Self, Error> {
        let mut r = reader(datagram, MessageKind::CookieReply)?;
        Ok(Self {
            receiver: r.u32(),
            nonce: r.array(),
            encrypted_cookie: r.array(),
        })
    }

    pub fn write(&self, out: &mut [u8]) -> Result<usize, Error> {
        let mut w = writer(out, COOKIE_REPLY_LEN, TYPE_COOKIE_REPLY)?;
        w.put(&self.receiver.to_le_bytes());
        w.put(&self.nonce);
        w.put(&self.encrypted_cookie);
        Ok(COOKIE_REPLY_LEN)
    }
}

impl TransportHeader {
    pub fn parse(datagram: &[u8]) -> Result<Self, Error> {
        let mut r = reader(datagram, MessageKind::Transport)?;
        Ok(Self {
            receiver: r.u32(),
            counter: r.u64(),
        })
    }

    /// Writes the 16-byte header at the start of `out`.
    pub fn write(&self, out: &mut [u8]) -> Result<usize, Error> {
        let mut w = writer(out, TRANSPORT_HEADER_LEN, TYPE_TRANSPORT)?;
        w.put(&self.receiver.to_le_bytes());
        w.put(&self.counter.to_le_bytes());
        Ok(TRANSPORT_HEADER_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_initiation() -> impl Strategy<Value = Initiation> {
        (
            any::<u32>(),
            any::<[u8; 32]>(),
            any::<[u8; 48]>(),
            any::<[u8; 28]>(),
            any::<[u8; 16]>(),
            any::<[u8; 16]>(),
        )
            .prop_map(
                |(sender, ephemeral, encrypted_static, encrypted_timestamp, mac1, mac2)| {
                    Initiation {
                        sender,
                        ephemeral,
                        encrypted_static,
                        encrypted_timestamp,
                        mac1,
                        mac2,
                    }
                },
            )
    }

    fn arb_response() -> impl Strategy<Value = Response> {
        (
            any::<u32>(),
            any::<u32>(),
            any::<[u8; 32]>(),
            any::<[u8; 16]>(),
            any::<[u8; 16]>(),
            any::<[u8; 16]>(),
        )
            .prop_map(
                |(sender, receiver, ephemeral, encrypted_nothing, mac1, mac2)| Response {
                    sender,
                    receiver,
                    ephemeral,
                    encrypted_nothing,
                    mac1,
                    mac2,
                },
            )
    }

    proptest! {
        #[test]
        fn initiation_round_trips(message in arb_initiation()) {
            let mut buf = [0u8; INITIATION_LEN];
            prop_assert_eq!(message.write(&mut buf), Ok(INITIATION_LEN));
            prop_assert_eq!(&buf[..4], &[1, 0, 0, 0]);
            prop_assert_eq!(Initiation::parse(&buf), Ok(message));
            prop_assert_eq!(classify(&buf), Ok(MessageKind::Initiation));
        }

        #[test]
        fn response_round_trips(message in arb_response()) {
            let mut buf = [0u8; RESPONSE_LEN];
            prop_assert_eq!(message.write(&mut buf), Ok(RESPONSE_LEN));
            prop_assert_eq!(Response::parse(&buf), Ok(message));
        }

        #[test]
        fn cookie_reply_round_trips(receiver in any::<u32>(), nonce in any::<[u8; 24]>(), cookie in any::<[u8; 32]>()) {
            let message = CookieReply { receiver, nonce, encrypted_cookie: cookie };
            let mut buf = [0u8; COOKIE_REPLY_LEN];
            prop_assert_eq!(message.write(&mut buf), Ok(COOKIE_REPLY_LEN));
            prop_assert_eq!(CookieReply::parse(&buf), Ok(message));
        }

        #[test]
        fn transport_header_round_trips(receiver in any::<u32>(), counter in any::<u64>(), body in 16usize..100) {
            let header = TransportHeader { receiver, counter };
            let mut buf = vec![0u8; TRANSPORT_HEADER_LEN + body];
            prop_assert_eq!(header.write(&mut buf), Ok(TRANSPORT_HEADER_LEN));
            prop_assert_eq!(TransportHeader::parse(&buf), Ok(header));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let kind = classify(&bytes);
            let parsed = [
                Initiation::parse(&bytes).is_ok(),
                Response::parse(&bytes).is_ok(),
                CookieReply::parse(&bytes).is_ok(),
                TransportHeader::parse(&bytes).is_ok(),
            ];
            // At most one parser accepts a datagram, and only the one classify names.
            prop_assert!(parsed.iter().filter(|ok| **ok).count() <= 1);
            prop_assert_eq!(kind.is_ok(), parsed.iter().any(|ok| *ok));
        }

        #[test]
        fn wrong_lengths_are_refused(len in 0usize..200, kind in 1u32..=3) {
            let expected = [INITIATION_LEN, RESPONSE_LEN, COOKIE_REPLY_LEN][kind as usize - 1];
            prop_assume!(len != expected);
            let mut buf = vec![0u8; len];
            if len >= 4 {
                buf[..4].copy_from_slice(&kind.to_le_bytes());
            }
            prop_assert_eq!(classify(&buf), Err(Error::InvalidMessage { len }));
        }
    }

    #[test]
    fn nonzero_reserved_bytes_are_refused() {
        let mut buf = [0u8; INITIATION_LEN];
        buf[0] = 1;
        buf[2] = 1;
        assert!(classify(&buf).is_err());
        let mut keepalive = [0u8; KEEPALIVE_LEN];
        keepalive[0] = 4;
        assert_eq!(classify(&keepalive), Ok(MessageKind::Transport));
        assert!(classify(&keepalive[..KEEPALIVE_LEN - 1]).is_err());
    }

    #[test]
    fn small_output_buffer_is_an_error() {
        let header = TransportHeader {
            receiver: 1,
            counter: 2,
        };
        assert_eq!(
            header.write(&mut [0u8; 8]),
            Err(Error::BufferTooSmall { need: 16, have: 8 })
        );
    }
}
