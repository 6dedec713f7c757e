//! The Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s test vector (cacophony format), byte for byte:
//! both handshake messages, the handshake hash, and every transport message after them.

use culvert_proto::aead::{ChaChaPoly, RingChaChaPoly, RustCryptoChaChaPoly, TAG_LEN};
use culvert_proto::noise::{self, SymmetricState};
use culvert_proto::{PresharedKey, PrivateKey};

fn bytes(value: &serde_json::Value) -> Vec<u8> {
    hex::decode(value.as_str().expect("hex string")).expect("valid hex")
}

fn key(value: &serde_json::Value) -> [u8; 32] {
    bytes(value).try_into().expect("32-byte key")
}

/// Payload followed by room for the tag, as the noise functions take it.
fn with_tag_room(payload: &[u8]) -> Vec<u8> {
    let mut buf = payload.to_vec();
    buf.extend([0; TAG_LEN]);
    buf
}

#[test]
fn noise_ikpsk2_vector() {
    let file: serde_json::Value =
        serde_json::from_str(include_str!("data/noise-ikpsk2.json")).expect("vector file parses");
    let vector = &file["vectors"][0];
    let protocol = vector["protocol_name"].as_str().unwrap().as_bytes();
    assert_eq!(protocol, culvert_proto::CONSTRUCTION);
    let messages = vector["messages"].as_array().unwrap();

    let initiator_static = PrivateKey::from_bytes(key(&vector["init_static"]));
    let initiator_ephemeral = PrivateKey::from_bytes(key(&vector["init_ephemeral"]));
    let responder_static = PrivateKey::from_bytes(key(&vector["resp_static"]));
    let responder_ephemeral = PrivateKey::from_bytes(key(&vector["resp_ephemeral"]));
    let psk = PresharedKey::from_bytes(key(&vector["init_psks"][0]));
    assert_eq!(
        key(&vector["init_remote_static"]),
        *responder_static.public_key().as_bytes()
    );
    assert_eq!(
        bytes(&vector["init_psks"][0]),
        bytes(&vector["resp_psks"][0])
    );

    let responder_public = responder_static.public_key();
    let mut initiator = SymmetricState::new(
        protocol,
        &bytes(&vector["init_prologue"]),
        &responder_public,
    );
    let mut responder = SymmetricState::new(
        protocol,
        &bytes(&vector["resp_prologue"]),
        &responder_public,
    );

    // -> e, es, s, ss + payload
    let static_static = initiator_static.public_key();
    let ss_initiator = shared(&initiator_static, &responder_public);
    let mut encrypted_static = [0u8; 48];
    let mut payload = with_tag_room(&bytes(&messages[0]["payload"]));
    let e = noise::write_initiation(
        &mut initiator,
        &initiator_ephemeral,
        &static_static,
        &responder_public,
        &ss_initiator,
        &mut encrypted_static,
        &mut payload,
    )
    .unwrap();
    let message1 = [e.as_bytes().as_slice(), &encrypted_static, &payload].concat();
    assert_eq!(
        hex::encode(&message1),
        messages[0]["ciphertext"].as_str().unwrap()
    );

    let claimed =
        noise::read_initiation_static(&mut responder, &responder_static, &e, &mut encrypted_static)
            .unwrap();
    assert_eq!(claimed, initiator_static.public_key());
    let ss_responder = shared(&responder_static, &claimed);
    assert_eq!(ss_initiator, ss_responder);
    noise::read_initiation_payload(&mut responder, &ss_responder, &mut payload).unwrap();
    assert_eq!(
        payload[..payload.len() - TAG_LEN],
        bytes(&messages[0]["payload"])[..]
    );

    // <- e, ee, se, psk + payload
    let mut payload = with_tag_room(&bytes(&messages[1]["payload"]));
    let e = noise::write_response(
        &mut responder,
        &responder_ephemeral,
        &initiator_ephemeral.public_key(),
        &claimed,
        &psk,
        &mut payload,
    )
    .unwrap();
    let message2 = [e.as_bytes().as_slice(), &payload].concat();
    assert_eq!(
        hex::encode(&message2),
        messages[1]["ciphertext"].as_str().unwrap()
    );
    noise::read_response(
        &mut initiator,
        &initiator_ephemeral,
        &initiator_static,
        &e,
        &psk,
        &mut payload,
    )
    .unwrap();
    assert_eq!(
        payload[..payload.len() - TAG_LEN],
        bytes(&messages[1]["payload"])[..]
    );

    let expected_hash = vector["handshake_hash"].as_str().unwrap();
    assert_eq!(hex::encode(initiator.handshake_hash()), expected_hash);
    assert_eq!(hex::encode(responder.handshake_hash()), expected_hash);

    // Transport: messages alternate initiator, responder, ...; each direction counts
    // its nonces from 0. Sealed by ring, opened by RustCrypto (and the reverse).
    let keys = initiator.split();
    let to_responder = RingChaChaPoly::new(&keys.initiator_to_responder);
    let to_initiator = RingChaChaPoly::new(&keys.responder_to_initiator);
    let responder_keys = responder.split();
    let open_at_responder = RustCryptoChaChaPoly::new(&responder_keys.initiator_to_responder);
    let open_at_initiator = RustCryptoChaChaPoly::new(&responder_keys.responder_to_initiator);
    assert!(messages.len() >= 4, "the vector has transport messages");
    for (i, message) in messages.iter().enumerate().skip(2) {
        let counter = ((i - 2) / 2) as u64;
        let (sealer, opener) = if i % 2 == 0 {
            (&to_responder, &open_at_responder)
        } else {
            (&to_initiator, &open_at_initiator)
        };
        let plain = bytes(&message["payload"]);
        let mut buf = with_tag_room(&plain);
        sealer.seal_in_place(counter, &[], &mut buf);
        assert_eq!(
            hex::encode(&buf),
            message["ciphertext"].as_str().unwrap(),
            "transport message {i}"
        );
        let len = opener.open_in_place(counter, &[], &mut buf).unwrap();
        assert_eq!(buf[..len], plain[..]);
    }
}

/// The static-static DH the device precomputes, computed with x25519-dalek directly.
fn shared(private: &PrivateKey, public: &culvert_proto::PublicKey) -> [u8; 32] {
    let secret = x25519_dalek::StaticSecret::from(*private.to_bytes());
    secret
        .diffie_hellman(&x25519_dalek::PublicKey::from(*public.as_bytes()))
        .to_bytes()
}
