//! The primitives of WireGuard's handshake: HASH, MAC, HMAC, KDF1..3 over BLAKE2s, and the
//! handshake AEADs (ChaCha20-Poly1305 with a counter nonce, XChaCha20-Poly1305 for cookies).

use crate::Error;
use crate::aead::{ChaChaPoly, RustCryptoChaChaPoly, TAG_LEN};
use blake2::digest::consts::U16;
use blake2::digest::{Digest, FixedOutput, Mac};
use blake2::{Blake2s256, Blake2sMac};
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::{Zeroize, Zeroizing};

pub(crate) const HASH_LEN: usize = 32;
pub(crate) const MAC_LEN: usize = 16;
const BLAKE2S_BLOCK_LEN: usize = 64;

/// HASH(a || b || ...): BLAKE2s-256.
pub(crate) fn hash(parts: &[&[u8]]) -> [u8; HASH_LEN] {
    let mut hasher = Blake2s256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// MAC(key, a || b || ...): keyed BLAKE2s with a 128-bit output.
pub(crate) fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; MAC_LEN] {
    let mut mac = <Blake2sMac<U16> as Mac>::new_from_slice(key)
        .expect("BLAKE2s takes keys of up to 32 bytes");
    for part in parts {
        Mac::update(&mut mac, part);
    }
    mac.finalize_fixed().into()
}

/// HMAC-BLAKE2s-256 (RFC 2104), written out because it is four lines over BLAKE2s.
fn hmac(key: &[u8; HASH_LEN], parts: &[&[u8]]) -> Zeroizing<[u8; HASH_LEN]> {
    let mut pad = Zeroizing::new([0u8; BLAKE2S_BLOCK_LEN]);
    pad[..HASH_LEN].copy_from_slice(key);
    pad.iter_mut().for_each(|b| *b ^= 0x36);
    let mut inner = Blake2s256::new();
    inner.update(&pad[..]);
    for part in parts {
        inner.update(part);
    }
    let inner = Zeroizing::new(<[u8; HASH_LEN]>::from(inner.finalize()));
    pad.iter_mut().for_each(|b| *b ^= 0x36 ^ 0x5c);
    Zeroizing::new(hash(&[&pad[..], &inner[..]]))
}

/// KDF_n(key, input) of the whitepaper: HKDF with HMAC-BLAKE2s, returning n outputs.
fn kdf<const N: usize>(key: &[u8; HASH_LEN], input: &[u8]) -> [[u8; HASH_LEN]; N] {
    let prk = hmac(key, &[input]);
    let mut outputs = [[0u8; HASH_LEN]; N];
    let mut previous: &[u8] = &[];
    for (i, output) in outputs.iter_mut().enumerate() {
        let counter = [i as u8 + 1];
        *output = *hmac(&prk, &[previous, &counter]);
        previous = output;
    }
    outputs
}

pub(crate) fn kdf1(key: &[u8; HASH_LEN], input: &[u8]) -> [u8; HASH_LEN] {
    let [a] = kdf::<1>(key, input);
    a
}

pub(crate) fn kdf2(key: &[u8; HASH_LEN], input: &[u8]) -> [[u8; HASH_LEN]; 2] {
    kdf::<2>(key, input)
}

pub(crate) fn kdf3(key: &[u8; HASH_LEN], input: &[u8]) -> [[u8; HASH_LEN]; 3] {
    kdf::<3>(key, input)
}

/// AEAD(key, 0, plaintext, ad) of the handshake: `buf` holds the plaintext followed by
/// room for the tag.
pub(crate) fn handshake_seal(key: &[u8; HASH_LEN], ad: &[u8], buf: &mut [u8]) {
    RustCryptoChaChaPoly::new(key).seal_in_place(0, ad, buf);
}

pub(crate) fn handshake_open(key: &[u8; HASH_LEN], ad: &[u8], buf: &mut [u8]) -> Result<(), Error> {
    RustCryptoChaChaPoly::new(key)
        .open_in_place(0, ad, buf)
        .map(|_| ())
        .map_err(|_| Error::HandshakeFailed)
}

/// XAEAD of the cookie reply: `buf` holds the cookie followed by room for the tag.
pub(crate) fn xaead_seal(key: &[u8; HASH_LEN], nonce: &[u8; 24], ad: &[u8], buf: &mut [u8]) {
    let (data, tag_out) = buf.split_at_mut(buf.len() - TAG_LEN);
    let cipher = XChaCha20Poly1305::new(key.into());
    let tag = cipher
        .encrypt_in_place_detached(XNonce::from_slice(nonce), ad, data)
        .expect("a cookie is far below the AEAD's length limit");
    tag_out.copy_from_slice(&tag);
}

pub(crate) fn xaead_open(
    key: &[u8; HASH_LEN],
    nonce: &[u8; 24],
    ad: &[u8],
    buf: &mut [u8],
) -> Result<(), Error> {
    let (data, tag) = buf.split_at_mut(buf.len() - TAG_LEN);
    let cipher = XChaCha20Poly1305::new(key.into());
    cipher
        .decrypt_in_place_detached(XNonce::from_slice(nonce), ad, data, (&*tag).into())
        .map_err(|_| Error::UnexpectedMessage)
}

/// Overwrites secret intermediate values that are plain arrays.
pub(crate) fn wipe(values: &mut [[u8; HASH_LEN]]) {
    values.iter_mut().for_each(Zeroize::zeroize);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn blake2s_known_answer() {
        // RFC 7693 appendix B: BLAKE2s-256("abc").
        assert_eq!(
            hash(&[b"abc"]).to_vec(),
            unhex("508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982")
        );
        assert_eq!(hash(&[b"a", b"bc"]), hash(&[b"abc"]));
    }

    #[test]
    fn hmac_matches_the_rfc_2104_construction_over_a_long_message() {
        // Cross-check against an HMAC computed from its definition with a 64-byte key block.
        let key = [0x0b_u8; 32];
        let message = [0x5a_u8; 200];
        let mut ipad = [0x36u8; 64];
        let mut opad = [0x5cu8; 64];
        for i in 0..32 {
            ipad[i] ^= key[i];
            opad[i] ^= key[i];
        }
        let inner = hash(&[&ipad, &message]);
        let expected = hash(&[&opad, &inner]);
        assert_eq!(*hmac(&key, &[&message[..100], &message[100..]]), expected);
    }

    #[test]
    fn kdf_outputs_chain_as_hkdf() {
        let key = hash(&[b"chaining key"]);
        let input = b"input key material";
        let prk = hmac(&key, &[input]);
        let t1 = hmac(&prk, &[&[1]]);
        let t2 = hmac(&prk, &[&t1[..], &[2]]);
        let t3 = hmac(&prk, &[&t2[..], &[3]]);
        assert_eq!(kdf1(&key, input), *t1);
        assert_eq!(kdf2(&key, input), [*t1, *t2]);
        assert_eq!(kdf3(&key, input), [*t1, *t2, *t3]);
    }

    #[test]
    fn kdf_known_answer_from_wireguard_initial_chaining_key() {
        // The first values of every WireGuard handshake: C = HASH(CONSTRUCTION),
        // H = HASH(C || IDENTIFIER). Published by several implementations.
        let ck = hash(&[crate::CONSTRUCTION]);
        assert_eq!(
            hex::encode(ck),
            "60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36"
        );
        let h = hash(&[&ck, crate::IDENTIFIER]);
        assert_eq!(
            hex::encode(h),
            "2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3"
        );
    }

    #[test]
    fn xaead_round_trip_and_tamper() {
        let key = [9u8; 32];
        let nonce = [3u8; 24];
        let mut buf = [0u8; 32];
        buf[..16].copy_from_slice(b"sixteen byte ck!");
        xaead_seal(&key, &nonce, b"ad", &mut buf);
        let mut opened = buf;
        xaead_open(&key, &nonce, b"ad", &mut opened).unwrap();
        assert_eq!(&opened[..16], b"sixteen byte ck!");
        let mut tampered = buf;
        tampered[0] ^= 1;
        assert!(xaead_open(&key, &nonce, b"ad", &mut tampered).is_err());
        assert!(xaead_open(&key, &nonce, b"other ad", &mut buf.clone()).is_err());
    }
}
