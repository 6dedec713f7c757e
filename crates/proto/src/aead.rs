//! The one seam for ChaCha20-Poly1305 (RFC 8439) with WireGuard's nonce: 4 zero bytes
//! followed by the little-endian 64-bit counter.
//!
//! Transport data goes through `ring` (about 4× faster here at full-size packets); the
//! handshake goes through RustCrypto's `chacha20poly1305`. Both implement [`ChaChaPoly`]
//! and are tested against the RFC vectors and against each other.

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};

pub const KEY_LEN: usize = 32;
pub const TAG_LEN: usize = 16;

/// The tag did not authenticate the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenError;

pub trait ChaChaPoly: Sized {
    fn new(key: &[u8; KEY_LEN]) -> Self;

    /// Encrypts `buf[..len - TAG_LEN]` in place and writes the tag into the last 16 bytes.
    fn seal_in_place(&self, counter: u64, ad: &[u8], buf: &mut [u8]);

    /// Authenticates and decrypts `buf` (ciphertext followed by the tag) in place and
    /// returns the plaintext length.
    fn open_in_place(&self, counter: u64, ad: &[u8], buf: &mut [u8]) -> Result<usize, OpenError>;
}

fn nonce_bytes(counter: u64) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&counter.to_le_bytes());
    nonce
}

/// `ring`'s implementation, for the data path.
pub struct RingChaChaPoly(LessSafeKey);

impl ChaChaPoly for RingChaChaPoly {
    fn new(key: &[u8; KEY_LEN]) -> Self {
        let key = UnboundKey::new(&CHACHA20_POLY1305, key).expect("a 32-byte key is valid");
        Self(LessSafeKey::new(key))
    }

    fn seal_in_place(&self, counter: u64, ad: &[u8], buf: &mut [u8]) {
        let (data, tag_out) = buf.split_at_mut(buf.len() - TAG_LEN);
        let nonce = Nonce::assume_unique_for_key(nonce_bytes(counter));
        let tag = self
            .0
            .seal_in_place_separate_tag(nonce, Aad::from(ad), data)
            .expect("a datagram is far below the AEAD's length limit");
        tag_out.copy_from_slice(tag.as_ref());
    }

    fn open_in_place(&self, counter: u64, ad: &[u8], buf: &mut [u8]) -> Result<usize, OpenError> {
        let nonce = Nonce::assume_unique_for_key(nonce_bytes(counter));
        self.0
            .open_in_place(nonce, Aad::from(ad), buf)
            .map(|plain| plain.len())
            .map_err(|_| OpenError)
    }
}

impl std::fmt::Debug for RingChaChaPoly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RingChaChaPoly(<key>)")
    }
}

/// RustCrypto's implementation, for the handshake.
pub struct RustCryptoChaChaPoly(chacha20poly1305::ChaCha20Poly1305);

impl ChaChaPoly for RustCryptoChaChaPoly {
    fn new(key: &[u8; KEY_LEN]) -> Self {
        Self(chacha20poly1305::ChaCha20Poly1305::new(key.into()))
    }

    fn seal_in_place(&self, counter: u64, ad: &[u8], buf: &mut [u8]) {
        let (data, tag_out) = buf.split_at_mut(buf.len() - TAG_LEN);
        let tag = self
            .0
            .encrypt_in_place_detached(&nonce_bytes(counter).into(), ad, data)
            .expect("a datagram is far below the AEAD's length limit");
        tag_out.copy_from_slice(&tag);
    }

    fn open_in_place(&self, counter: u64, ad: &[u8], buf: &mut [u8]) -> Result<usize, OpenError> {
        let Some(len) = buf.len().checked_sub(TAG_LEN) else {
            return Err(OpenError);
        };
        let (data, tag) = buf.split_at_mut(len);
        self.0
            .decrypt_in_place_detached(&nonce_bytes(counter).into(), ad, data, (&*tag).into())
            .map(|()| len)
            .map_err(|_| OpenError)
    }
}

impl std::fmt::Debug for RustCryptoChaChaPoly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RustCryptoChaChaPoly(<key>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // RFC 8439 section 2.8.2. Its nonce is 07000000 || 4041424344454647, which is our
    // layout only for the first 4 bytes being zero, so the vector is checked through a
    // direct nonce below and our counter layout through the cross-check.
    const KEY: &str = "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f";
    const AD: &str = "50515253c0c1c2c3c4c5c6c7";
    const PLAINTEXT: &[u8] = b"Ladies and Gentlemen of the class of '99: If I could offer you \
only one tip for the future, sunscreen would be it.";
    const CIPHERTEXT: &str = "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6\
3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58\
fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116";
    const TAG: &str = "1ae10b594f09e26a7e902ecbd0600691";

    #[test]
    fn rfc8439_vector_through_ring_and_rustcrypto() {
        let key: [u8; 32] = hex::decode(KEY).unwrap().try_into().unwrap();
        let ad = hex::decode(AD).unwrap();
        let nonce: [u8; 12] = hex::decode("070000004041424344454647")
            .unwrap()
            .try_into()
            .unwrap();
        let mut expected = hex::decode(CIPHERTEXT).unwrap();
        expected.extend(hex::decode(TAG).unwrap());

        let mut buf = PLAINTEXT.to_vec();
        let ring_key = LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &key).unwrap());
        ring_key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&ad),
                &mut buf,
            )
            .unwrap();
        assert_eq!(buf, expected);

        let rc = chacha20poly1305::ChaCha20Poly1305::new((&key).into());
        let mut buf = PLAINTEXT.to_vec();
        let tag = rc
            .encrypt_in_place_detached(&nonce.into(), &ad, &mut buf)
            .unwrap();
        buf.extend_from_slice(&tag);
        assert_eq!(buf, expected);
    }

    #[test]
    fn counter_nonce_layout_is_four_zero_bytes_then_little_endian() {
        assert_eq!(
            nonce_bytes(0x0102_0304_0506_0708),
            [0, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1]
        );
    }

    fn seal<A: ChaChaPoly>(key: &[u8; 32], counter: u64, ad: &[u8], plain: &[u8]) -> Vec<u8> {
        let mut buf = plain.to_vec();
        buf.extend([0; TAG_LEN]);
        A::new(key).seal_in_place(counter, ad, &mut buf);
        buf
    }

    proptest! {
        #[test]
        fn ring_and_rustcrypto_agree(
            key in any::<[u8; 32]>(),
            counter in any::<u64>(),
            ad in proptest::collection::vec(any::<u8>(), 0..40),
            plain in proptest::collection::vec(any::<u8>(), 0..1500),
            flip in any::<prop::sample::Index>(),
        ) {
            let by_ring = seal::<RingChaChaPoly>(&key, counter, &ad, &plain);
            let by_rustcrypto = seal::<RustCryptoChaChaPoly>(&key, counter, &ad, &plain);
            prop_assert_eq!(&by_ring, &by_rustcrypto);

            let mut opened = by_ring.clone();
            let len = RustCryptoChaChaPoly::new(&key).open_in_place(counter, &ad, &mut opened).unwrap();
            prop_assert_eq!(&opened[..len], &plain[..]);
            let mut opened = by_rustcrypto.clone();
            let len = RingChaChaPoly::new(&key).open_in_place(counter, &ad, &mut opened).unwrap();
            prop_assert_eq!(&opened[..len], &plain[..]);

            let mut tampered = by_ring;
            let at = flip.index(tampered.len());
            tampered[at] ^= 0x80;
            prop_assert!(RingChaChaPoly::new(&key).open_in_place(counter, &ad, &mut tampered.clone()).is_err());
            prop_assert!(RustCryptoChaChaPoly::new(&key).open_in_place(counter, &ad, &mut tampered).is_err());
            let mut wrong_counter = by_rustcrypto;
            prop_assert!(RingChaChaPoly::new(&key).open_in_place(counter ^ 1, &ad, &mut wrong_counter).is_err());
        }
    }

    #[test]
    fn too_short_input_is_refused() {
        let key = [0u8; 32];
        assert!(
            RingChaChaPoly::new(&key)
                .open_in_place(0, &[], &mut [0u8; 15])
                .is_err()
        );
        assert!(
            RustCryptoChaChaPoly::new(&key)
                .open_in_place(0, &[], &mut [0u8; 15])
                .is_err()
        );
    }
}
