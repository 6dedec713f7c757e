//! Noise_IKpsk2 with the prologue and payloads as parameters.
//!
//! WireGuard's handshake is exactly this pattern with the prologue set to its identifier,
//! a 12-byte timestamp as the first payload and an empty second payload; the Noise test
//! vector (tests/noise_vector.rs) drives the same functions with other values, so the
//! byte-exact agreement with the vector covers the handshake WireGuard peers run.
//!
//! ```text
//! IKpsk2:
//!   <- s
//!   ...
//!   -> e, es, s, ss
//!   <- e, ee, se, psk
//! ```

use crate::Error;
use crate::aead::TAG_LEN;
use crate::crypto::{self, HASH_LEN, hash, kdf1, kdf2, kdf3};
use crate::keys::{PresharedKey, PrivateKey, PublicKey};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Noise's chaining key and handshake hash.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SymmetricState {
    chaining_key: [u8; HASH_LEN],
    hash: [u8; HASH_LEN],
}

impl std::fmt::Debug for SymmetricState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SymmetricState(<secret>)")
    }
}

/// A handshake key derived by MixKey, erased when dropped.
#[derive(Zeroize, ZeroizeOnDrop)]
struct CipherKey([u8; HASH_LEN]);

/// The two transport keys: the initiator sends with the first.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct TransportKeys {
    pub initiator_to_responder: [u8; HASH_LEN],
    pub responder_to_initiator: [u8; HASH_LEN],
}

impl std::fmt::Debug for TransportKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TransportKeys(<secret>)")
    }
}

impl SymmetricState {
    /// InitializeSymmetric(protocol_name), MixHash(prologue), and the `<- s` pre-message.
    pub fn new(protocol_name: &[u8], prologue: &[u8], responder_static: &PublicKey) -> Self {
        let mut initial = [0u8; HASH_LEN];
        if protocol_name.len() <= HASH_LEN {
            initial[..protocol_name.len()].copy_from_slice(protocol_name);
        } else {
            initial = hash(&[protocol_name]);
        }
        let mut state = Self {
            chaining_key: initial,
            hash: initial,
        };
        state.mix_hash(prologue);
        state.mix_hash(responder_static.as_bytes());
        state
    }

    /// The handshake hash: both sides agree on it when the handshake succeeded.
    pub fn handshake_hash(&self) -> &[u8; HASH_LEN] {
        &self.hash
    }

    fn mix_hash(&mut self, data: &[u8]) {
        self.hash = hash(&[&self.hash, data]);
    }

    /// The psk variant's extra step for the `e` token.
    fn mix_ephemeral(&mut self, ephemeral: &PublicKey) {
        self.mix_hash(ephemeral.as_bytes());
        self.chaining_key = kdf1(&self.chaining_key, ephemeral.as_bytes());
    }

    fn mix_key(&mut self, input: &[u8]) -> CipherKey {
        let [chaining_key, key] = kdf2(&self.chaining_key, input);
        self.chaining_key = chaining_key;
        CipherKey(key)
    }

    fn mix_key_and_hash(&mut self, input: &[u8]) -> CipherKey {
        let [chaining_key, mut to_hash, key] = kdf3(&self.chaining_key, input);
        self.chaining_key = chaining_key;
        self.mix_hash(&to_hash);
        crypto::wipe(std::slice::from_mut(&mut to_hash));
        CipherKey(key)
    }

    /// Seals `buf` (plaintext followed by room for the tag) with the hash as AD.
    fn encrypt_and_hash(&mut self, key: &CipherKey, buf: &mut [u8]) -> Result<(), Error> {
        check_room(buf)?;
        crypto::handshake_seal(&key.0, &self.hash, buf);
        self.mix_hash(buf);
        Ok(())
    }

    fn decrypt_and_hash(&mut self, key: &CipherKey, buf: &mut [u8]) -> Result<(), Error> {
        check_room(buf)?;
        let next_hash = hash(&[&self.hash, buf]);
        crypto::handshake_open(&key.0, &self.hash, buf)?;
        self.hash = next_hash;
        Ok(())
    }

    /// Split(): the transport keys, once both messages are done.
    pub fn split(&self) -> TransportKeys {
        let [initiator_to_responder, responder_to_initiator] = kdf2(&self.chaining_key, &[]);
        TransportKeys {
            initiator_to_responder,
            responder_to_initiator,
        }
    }
}

/// A sealed field is at least its tag.
fn check_room(buf: &[u8]) -> Result<(), Error> {
    if buf.len() < TAG_LEN {
        return Err(Error::BufferTooSmall {
            need: TAG_LEN,
            have: buf.len(),
        });
    }
    Ok(())
}

/// `-> e, es, s, ss` and the payload. `encrypted_static` receives the sealed static key;
/// `payload` holds the plaintext followed by 16 bytes of room and is sealed in place.
/// `static_static` is DH(s_i, S_r), which each peer precomputes.
pub fn write_initiation(
    state: &mut SymmetricState,
    ephemeral: &PrivateKey,
    local_static: &PublicKey,
    remote_static: &PublicKey,
    static_static: &[u8; HASH_LEN],
    encrypted_static: &mut [u8; 32 + TAG_LEN],
    payload: &mut [u8],
) -> Result<PublicKey, Error> {
    let ephemeral_public = ephemeral.public_key();
    state.mix_ephemeral(&ephemeral_public);
    let key = state.mix_key(ephemeral.diffie_hellman(remote_static)?.as_bytes());
    encrypted_static[..32].copy_from_slice(local_static.as_bytes());
    state.encrypt_and_hash(&key, encrypted_static)?;
    let key = state.mix_key(static_static);
    state.encrypt_and_hash(&key, payload)?;
    Ok(ephemeral_public)
}

/// The responder's first half of reading an initiation, `e, es, s`: it reveals who the
/// initiator claims to be, so the caller can find that peer's precomputed `ss`.
pub fn read_initiation_static(
    state: &mut SymmetricState,
    local_static: &PrivateKey,
    ephemeral: &PublicKey,
    encrypted_static: &mut [u8; 32 + TAG_LEN],
) -> Result<PublicKey, Error> {
    state.mix_ephemeral(ephemeral);
    let key = state.mix_key(local_static.diffie_hellman(ephemeral)?.as_bytes());
    state.decrypt_and_hash(&key, encrypted_static)?;
    let mut initiator = [0u8; 32];
    initiator.copy_from_slice(&encrypted_static[..32]);
    Ok(PublicKey::from_bytes(initiator))
}

/// The second half, `ss` and the payload, decrypted in place.
pub fn read_initiation_payload(
    state: &mut SymmetricState,
    static_static: &[u8; HASH_LEN],
    payload: &mut [u8],
) -> Result<(), Error> {
    let key = state.mix_key(static_static);
    state.decrypt_and_hash(&key, payload)
}

/// `<- e, ee, se, psk` and the payload (sealed in place).
pub fn write_response(
    state: &mut SymmetricState,
    ephemeral: &PrivateKey,
    initiator_ephemeral: &PublicKey,
    initiator_static: &PublicKey,
    psk: &PresharedKey,
    payload: &mut [u8],
) -> Result<PublicKey, Error> {
    let ephemeral_public = ephemeral.public_key();
    state.mix_ephemeral(&ephemeral_public);
    drop(state.mix_key(ephemeral.diffie_hellman(initiator_ephemeral)?.as_bytes()));
    drop(state.mix_key(ephemeral.diffie_hellman(initiator_static)?.as_bytes()));
    let key = state.mix_key_and_hash(psk.as_bytes());
    state.encrypt_and_hash(&key, payload)?;
    Ok(ephemeral_public)
}

/// The initiator reads the response: `e, ee, se, psk` and the payload.
pub fn read_response(
    state: &mut SymmetricState,
    ephemeral: &PrivateKey,
    local_static: &PrivateKey,
    responder_ephemeral: &PublicKey,
    psk: &PresharedKey,
    payload: &mut [u8],
) -> Result<(), Error> {
    state.mix_ephemeral(responder_ephemeral);
    drop(state.mix_key(ephemeral.diffie_hellman(responder_ephemeral)?.as_bytes()));
    drop(state.mix_key(local_static.diffie_hellman(responder_ephemeral)?.as_bytes()));
    let key = state.mix_key_and_hash(psk.as_bytes());
    state.decrypt_and_hash(&key, payload)
}
