//! mac1, mac2 and cookie replies (whitepaper section 5.4.7).
//!
//! Every handshake message carries mac1, keyed by the receiver's public key, so a host that
//! does not know that key cannot make us do any work. Under load, a responder also demands
//! mac2, keyed by a cookie that proves the sender can receive at its source address; a
//! message without one is answered with an encrypted cookie instead of a handshake.

use crate::Error;
use crate::constants::{COOKIE_REFRESH_TIME, LABEL_COOKIE, LABEL_MAC1};
use crate::crypto::{HASH_LEN, MAC_LEN, hash, mac, xaead_open, xaead_seal};
use crate::keys::PublicKey;
use crate::messages::{CookieReply, mac_offsets};
use rand_core::{CryptoRng, RngCore};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The mac1 key and the cookie-encryption key both derive from one public key.
#[derive(Clone)]
pub(crate) struct MacKeys {
    mac1: [u8; HASH_LEN],
    cookie: [u8; HASH_LEN],
}

impl MacKeys {
    pub(crate) fn new(public: &PublicKey) -> Self {
        Self {
            mac1: hash(&[LABEL_MAC1, public.as_bytes()]),
            cookie: hash(&[LABEL_COOKIE, public.as_bytes()]),
        }
    }
}

/// Responder side: checks the macs of incoming handshake messages and makes cookies.
pub(crate) struct CookieChecker {
    keys: MacKeys,
    secret: Zeroizing<[u8; HASH_LEN]>,
    secret_born: Option<Instant>,
}

/// What the macs of a handshake message say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MacVerdict {
    Mac1Invalid,
    /// mac1 is valid; mac2 is missing or stale.
    Mac1Only,
    /// Both are valid: the sender has recently received a cookie at this address.
    Mac1AndMac2,
}

impl CookieChecker {
    pub(crate) fn new(local_public: &PublicKey) -> Self {
        Self {
            keys: MacKeys::new(local_public),
            secret: Zeroizing::new([0; 32]),
            secret_born: None,
        }
    }

    /// Checks mac1, and mac2 when `want_mac2`. `message` is a whole handshake message.
    pub(crate) fn verify(
        &self,
        message: &[u8],
        src: SocketAddr,
        want_mac2: bool,
        now: Instant,
    ) -> MacVerdict {
        let (mac1_at, mac2_at) = mac_offsets(message.len());
        let expected = mac(&self.keys.mac1, &[&message[..mac1_at]]);
        if !bool::from(expected.ct_eq(&message[mac1_at..mac2_at])) {
            return MacVerdict::Mac1Invalid;
        }
        if !want_mac2 {
            return MacVerdict::Mac1Only;
        }
        let Some(cookie) = self.current_cookie(src, now) else {
            return MacVerdict::Mac1Only;
        };
        let expected = mac(&cookie[..], &[&message[..mac2_at]]);
        if bool::from(expected.ct_eq(&message[mac2_at..])) {
            MacVerdict::Mac1AndMac2
        } else {
            MacVerdict::Mac1Only
        }
    }

    /// Writes a cookie reply to `message` (whose sender index is `receiver`) into `out`.
    pub(crate) fn write_reply(
        &mut self,
        message: &[u8],
        receiver: u32,
        src: SocketAddr,
        now: Instant,
        rng: &mut (impl RngCore + CryptoRng + ?Sized),
        out: &mut [u8],
    ) -> Result<usize, Error> {
        if self.current_cookie(src, now).is_none() {
            rng.fill_bytes(&mut self.secret[..]);
            self.secret_born = Some(now);
        }
        let cookie = self
            .current_cookie(src, now)
            .expect("secret was just renewed");
        let (mac1_at, mac2_at) = mac_offsets(message.len());
        let mut reply = CookieReply {
            receiver,
            nonce: [0; 24],
            encrypted_cookie: [0; 32],
        };
        rng.fill_bytes(&mut reply.nonce);
        reply.encrypted_cookie[..MAC_LEN].copy_from_slice(&cookie[..]);
        xaead_seal(
            &self.keys.cookie,
            &reply.nonce,
            &message[mac1_at..mac2_at],
            &mut reply.encrypted_cookie,
        );
        reply.write(out)
    }

    /// MAC(R, source ip || source port), while R is younger than two minutes.
    fn current_cookie(&self, src: SocketAddr, now: Instant) -> Option<Zeroizing<[u8; MAC_LEN]>> {
        let born = self.secret_born?;
        if now.saturating_duration_since(born) >= COOKIE_REFRESH_TIME {
            return None;
        }
        let port = src.port().to_be_bytes();
        let cookie = match src.ip().to_canonical() {
            IpAddr::V4(ip) => mac(&self.secret[..], &[&ip.octets(), &port]),
            IpAddr::V6(ip) => mac(&self.secret[..], &[&ip.octets(), &port]),
        };
        Some(Zeroizing::new(cookie))
    }
}

/// Initiator side (and a responder's response): stamps outgoing messages with mac1 and,
/// when a fresh cookie is held, mac2; takes cookie replies.
pub(crate) struct CookieGenerator {
    keys: MacKeys,
    cookie: Option<(Zeroizing<[u8; MAC_LEN]>, Instant)>,
    last_mac1: Option<[u8; MAC_LEN]>,
}

impl CookieGenerator {
    pub(crate) fn new(remote_public: &PublicKey) -> Self {
        Self {
            keys: MacKeys::new(remote_public),
            cookie: None,
            last_mac1: None,
        }
    }

    /// Fills in mac1 and mac2 of a whole handshake message.
    pub(crate) fn stamp(&mut self, message: &mut [u8], now: Instant) {
        let (mac1_at, mac2_at) = mac_offsets(message.len());
        let mac1 = mac(&self.keys.mac1, &[&message[..mac1_at]]);
        message[mac1_at..mac2_at].copy_from_slice(&mac1);
        self.last_mac1 = Some(mac1);
        let mac2 = match &self.cookie {
            Some((cookie, received))
                if now.saturating_duration_since(*received) < COOKIE_REFRESH_TIME =>
            {
                mac(&cookie[..], &[&message[..mac2_at]])
            }
            _ => [0; MAC_LEN],
        };
        message[mac2_at..].copy_from_slice(&mac2);
    }

    /// Decrypts a cookie reply to the last message we stamped. A reply is unauthenticated
    /// as to who sent it, so it changes nothing but the cookie (never the endpoint).
    pub(crate) fn consume_reply(&mut self, reply: &CookieReply, now: Instant) -> Result<(), Error> {
        let last_mac1 = self.last_mac1.ok_or(Error::UnexpectedMessage)?;
        let mut sealed = reply.encrypted_cookie;
        xaead_open(&self.keys.cookie, &reply.nonce, &last_mac1, &mut sealed)?;
        let mut cookie = Zeroizing::new([0u8; MAC_LEN]);
        cookie.copy_from_slice(&sealed[..MAC_LEN]);
        self.cookie = Some((cookie, now));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{COOKIE_REPLY_LEN, INITIATION_LEN};
    use rand_core::OsRng;
    use std::time::Duration;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cookie_round_trip_makes_mac2_valid_for_that_address_and_port_only() {
        let now = Instant::now();
        let responder = PublicKey::from_bytes([5; 32]);
        let mut checker = CookieChecker::new(&responder);
        let mut generator = CookieGenerator::new(&responder);
        let src = addr("192.0.2.1:5000");

        let mut message = [7u8; INITIATION_LEN];
        generator.stamp(&mut message, now);
        assert_eq!(
            checker.verify(&message, src, false, now),
            MacVerdict::Mac1Only
        );
        assert_eq!(
            checker.verify(&message, src, true, now),
            MacVerdict::Mac1Only
        );

        let mut reply = [0u8; COOKIE_REPLY_LEN];
        checker
            .write_reply(&message, 42, src, now, &mut OsRng, &mut reply)
            .unwrap();
        let reply = CookieReply::parse(&reply).unwrap();
        assert_eq!(reply.receiver, 42);
        generator.consume_reply(&reply, now).unwrap();

        let later = now + Duration::from_secs(1);
        generator.stamp(&mut message, later);
        assert_eq!(
            checker.verify(&message, src, true, later),
            MacVerdict::Mac1AndMac2
        );
        // The cookie is bound to the port as well as the address.
        assert_eq!(
            checker.verify(&message, addr("192.0.2.1:5001"), true, later),
            MacVerdict::Mac1Only
        );
        assert_eq!(
            checker.verify(&message, addr("192.0.2.2:5000"), true, later),
            MacVerdict::Mac1Only
        );
        // The secret expires after two minutes.
        let stale = now + COOKIE_REFRESH_TIME;
        assert_eq!(
            checker.verify(&message, src, true, stale),
            MacVerdict::Mac1Only
        );
    }

    #[test]
    fn tampered_mac1_and_foreign_replies_are_refused() {
        let now = Instant::now();
        let responder = PublicKey::from_bytes([5; 32]);
        let checker = CookieChecker::new(&responder);
        let mut generator = CookieGenerator::new(&responder);
        let mut message = [7u8; INITIATION_LEN];
        generator.stamp(&mut message, now);
        message[3] ^= 1;
        assert_eq!(
            checker.verify(&message, addr("[2001:db8::1]:1"), false, now),
            MacVerdict::Mac1Invalid
        );

        // A reply sealed for a different mac1 does not open.
        let mut other_checker = CookieChecker::new(&responder);
        let mut reply = [0u8; COOKIE_REPLY_LEN];
        other_checker
            .write_reply(
                &[9u8; INITIATION_LEN],
                1,
                addr("192.0.2.1:1"),
                now,
                &mut OsRng,
                &mut reply,
            )
            .unwrap();
        let reply = CookieReply::parse(&reply).unwrap();
        assert!(generator.consume_reply(&reply, now).is_err());
        assert!(
            CookieGenerator::new(&responder)
                .consume_reply(&reply, now)
                .is_err()
        );
    }
}
