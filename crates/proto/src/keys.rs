//! Curve25519 keys and pre-shared keys, with secrets that never print and are erased on drop.

use crate::Error;
use rand_core::{CryptoRng, RngCore};
use std::fmt;
use zeroize::Zeroizing;

pub const KEY_LEN: usize = 32;

/// A peer's static or ephemeral public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey([u8; KEY_LEN]);

impl PublicKey {
    pub const fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    pub const fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    fn dalek(&self) -> x25519_dalek::PublicKey {
        x25519_dalek::PublicKey::from(self.0)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Enough to tell peers apart in a debug log, short enough to read.
        write!(f, "PublicKey(")?;
        for byte in &self.0[..4] {
            write!(f, "{byte:02x}")?;
        }
        write!(f, "…)")
    }
}

/// A static or ephemeral private key. Its bytes leave only through [`PrivateKey::to_bytes`].
#[derive(Clone)]
pub struct PrivateKey(x25519_dalek::StaticSecret);

impl PrivateKey {
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        let bytes = Zeroizing::new(bytes);
        Self(x25519_dalek::StaticSecret::from(*bytes))
    }

    pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> Self {
        Self(x25519_dalek::StaticSecret::random_from_rng(rng))
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(x25519_dalek::PublicKey::from(&self.0).to_bytes())
    }

    /// The secret bytes, for an explicit export only.
    pub fn to_bytes(&self) -> Zeroizing<[u8; KEY_LEN]> {
        Zeroizing::new(self.0.to_bytes())
    }

    /// X25519, refusing a non-contributory (all-zero) result as the whitepaper requires.
    pub(crate) fn diffie_hellman(&self, public: &PublicKey) -> Result<SharedSecret, Error> {
        let shared = self.0.diffie_hellman(&public.dalek());
        if !shared.was_contributory() {
            return Err(Error::NonContributory);
        }
        Ok(SharedSecret(Zeroizing::new(shared.to_bytes())))
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey(<redacted>)")
    }
}

/// The result of a Diffie-Hellman exchange.
pub(crate) struct SharedSecret(Zeroizing<[u8; KEY_LEN]>);

impl SharedSecret {
    pub(crate) fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

/// The optional symmetric key mixed into the handshake; all zeros when not configured.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PresharedKey(Zeroizing<[u8; KEY_LEN]>);

impl PresharedKey {
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> Self {
        let mut key = Self::default();
        rng.fill_bytes(&mut key.0[..]);
        key
    }

    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|&b| b == 0)
    }
}

impl fmt::Debug for PresharedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PresharedKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_appear_in_debug_output() {
        let private = PrivateKey::from_bytes([0xab; 32]);
        let psk = PresharedKey::from_bytes([0xcd; 32]);
        let printed = format!("{private:?} {psk:?}");
        assert!(
            !printed.contains("ab") && !printed.contains("cd"),
            "{printed}"
        );
        assert!(printed.contains("redacted"));
    }

    #[test]
    fn low_order_public_key_is_refused() {
        let private = PrivateKey::from_bytes([7; 32]);
        // The identity point: every scalar multiple of it is zero.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let zero = PublicKey::from_bytes([0; 32]);
        assert_eq!(
            private.diffie_hellman(&zero).err(),
            Some(Error::NonContributory)
        );
        let one = PublicKey::from_bytes(identity);
        assert_eq!(
            private.diffie_hellman(&one).err(),
            Some(Error::NonContributory)
        );
    }

    #[test]
    fn both_sides_agree() {
        let a = PrivateKey::from_bytes([1; 32]);
        let b = PrivateKey::from_bytes([2; 32]);
        let ab = a.diffie_hellman(&b.public_key()).unwrap();
        let ba = b.diffie_hellman(&a.public_key()).unwrap();
        assert_eq!(ab.as_bytes(), ba.as_bytes());
    }
}
