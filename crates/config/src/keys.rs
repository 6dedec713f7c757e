//! Curve25519 keys in WireGuard's base64 form.
//!
//! Secrets (private and pre-shared keys) are zeroed when dropped and never shown by
//! `Debug`; only public keys implement `Display`.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand_core::{OsRng, RngCore};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::KeyError;

/// Length of every WireGuard key, in bytes.
pub const KEY_LEN: usize = 32;

/// An interface's private key.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct PrivateKey([u8; KEY_LEN]);

/// A peer's public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey([u8; KEY_LEN]);

/// An optional pre-shared key mixed into a peer's handshake.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct PresharedKey([u8; KEY_LEN]);

impl PrivateKey {
    /// A new key from the OS RNG, clamped as `wg genkey` does.
    ///
    /// Panics only if the operating system cannot provide randomness at all, which
    /// `getrandom` treats as unrecoverable.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        OsRng.fill_bytes(bytes.as_mut());
        // Clamping changes nothing about the resulting public key (X25519 clamps too),
        // but keys written by `wg genkey` are clamped and tools compare them byte for byte.
        bytes[0] &= 248;
        bytes[31] &= 127;
        bytes[31] |= 64;
        PrivateKey(*bytes)
    }

    /// The key as written in a config: any 32 bytes are accepted, as `wg` does.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        PrivateKey(bytes)
    }

    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        decode(text).map(|bytes| PrivateKey(*bytes))
    }

    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.0))
    }

    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    pub fn public_key(&self) -> PublicKey {
        let secret = x25519_dalek::StaticSecret::from(self.0);
        PublicKey(x25519_dalek::PublicKey::from(&secret).to_bytes())
    }
}

impl PublicKey {
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        PublicKey(bytes)
    }

    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        decode(text).map(|bytes| PublicKey(*bytes))
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl PresharedKey {
    /// A new key from the OS RNG, as `wg genpsk` does. Panics only if the OS has no RNG.
    pub fn generate() -> Self {
        let mut key = PresharedKey([0; KEY_LEN]);
        OsRng.fill_bytes(&mut key.0);
        key
    }

    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        PresharedKey(bytes)
    }

    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        decode(text).map(|bytes| PresharedKey(*bytes))
    }

    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.0))
    }

    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey(<redacted>)")
    }
}

impl fmt::Debug for PresharedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PresharedKey(<redacted>)")
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_base64())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        PublicKey::from_base64(s)
    }
}

/// Decodes exactly `wg`'s key syntax: 44 characters of padded standard base64.
/// The `base64` engine rejects non-zero trailing bits, so every key has one spelling
/// and printing a parsed key gives back the same text.
fn decode(text: &str) -> Result<Zeroizing<[u8; KEY_LEN]>, KeyError> {
    let chars = text.chars().count();
    if chars != 44 {
        return Err(KeyError::Length(chars));
    }
    let mut buf = Zeroizing::new([0u8; 48]);
    let len = STANDARD
        .decode_slice(text.as_bytes(), buf.as_mut())
        .map_err(|e| match e {
            base64::DecodeSliceError::DecodeError(e) => match e {
                base64::DecodeError::InvalidByte(p, _)
                | base64::DecodeError::InvalidLastSymbol(p, _) => {
                    KeyError::Base64 { position: p + 1 }
                }
                base64::DecodeError::InvalidLength(_) | base64::DecodeError::InvalidPadding => {
                    KeyError::Base64 { position: 44 }
                }
            },
            base64::DecodeSliceError::OutputSliceTooSmall => KeyError::Decoded(48),
        })?;
    if len != KEY_LEN {
        return Err(KeyError::Decoded(len));
    }
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    out.copy_from_slice(&buf[..KEY_LEN]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7748 section 6.1 test vector (Alice), in WireGuard's base64 form.
    const ALICE_PRIVATE: &str = "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=";
    const ALICE_PUBLIC: &str = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";

    #[test]
    fn derives_the_rfc7748_public_key() {
        let private = PrivateKey::from_base64(ALICE_PRIVATE).unwrap();
        assert_eq!(private.public_key().to_base64(), ALICE_PUBLIC);
        assert_eq!(&*private.to_base64(), ALICE_PRIVATE);
    }

    #[test]
    fn generated_keys_are_clamped_and_distinct() {
        let a = PrivateKey::generate();
        let b = PrivateKey::generate();
        assert_ne!(a, b);
        for k in [&a, &b] {
            assert_eq!(k.as_bytes()[0] & 7, 0);
            assert_eq!(k.as_bytes()[31] & 0xc0, 0x40);
        }
        assert_ne!(PresharedKey::generate(), PresharedKey::generate());
    }

    #[test]
    fn rejects_keys_that_are_not_32_bytes_of_base64() {
        assert_eq!(PublicKey::from_base64("abc"), Err(KeyError::Length(3)));
        let bad_char = format!("{}!", &ALICE_PUBLIC[..43]);
        assert!(matches!(
            PublicKey::from_base64(&bad_char),
            Err(KeyError::Base64 { .. })
        ));
        // 44 characters without padding decode to 33 bytes.
        let unpadded = "A".repeat(44);
        assert_eq!(
            PublicKey::from_base64(&unpadded),
            Err(KeyError::Decoded(33))
        );
        // Non-zero trailing bits: another spelling of a key, refused so printing is exact.
        let sloppy = format!("{}p=", &ALICE_PUBLIC[..42]);
        assert!(PublicKey::from_base64(&sloppy).is_err());
    }

    #[test]
    fn debug_never_shows_secrets() {
        let k = PrivateKey::from_base64(ALICE_PRIVATE).unwrap();
        assert_eq!(format!("{k:?}"), "PrivateKey(<redacted>)");
        let p = PresharedKey::from_base64(ALICE_PRIVATE).unwrap();
        assert!(!format!("{p:?}").contains("dwdt"));
    }
}
