//! Transport keypairs: sealing and opening data messages, and the previous / current /
//! next rotation that keeps packets in flight during a rekey decryptable.

use crate::Error;
use crate::aead::{ChaChaPoly, RingChaChaPoly, TAG_LEN};
use crate::constants::{REJECT_AFTER_MESSAGES, REJECT_AFTER_TIME};
use crate::messages::{TRANSPORT_HEADER_LEN, TRANSPORT_OVERHEAD, TransportHeader};
use crate::noise::TransportKeys;
use crate::replay::ReplayWindow;
use std::time::Instant;

const PADDING_MULTIPLE: usize = 16;

/// The keys of one session, in one direction each.
#[derive(Debug)]
pub(crate) struct Keypair {
    send: RingChaChaPoly,
    receive: RingChaChaPoly,
    send_counter: u64,
    replay: ReplayWindow,
    pub(crate) local_index: u32,
    pub(crate) remote_index: u32,
    pub(crate) created: Instant,
    pub(crate) is_initiator: bool,
}

impl Keypair {
    pub(crate) fn new(
        keys: &TransportKeys,
        is_initiator: bool,
        local_index: u32,
        remote_index: u32,
        now: Instant,
    ) -> Self {
        let (send, receive) = if is_initiator {
            (&keys.initiator_to_responder, &keys.responder_to_initiator)
        } else {
            (&keys.responder_to_initiator, &keys.initiator_to_responder)
        };
        Self {
            send: RingChaChaPoly::new(send),
            receive: RingChaChaPoly::new(receive),
            send_counter: 0,
            replay: ReplayWindow::default(),
            local_index,
            remote_index,
            created: now,
            is_initiator,
        }
    }

    pub(crate) fn sent_messages(&self) -> u64 {
        self.send_counter
    }

    pub(crate) fn age(&self, now: Instant) -> std::time::Duration {
        now.saturating_duration_since(self.created)
    }

    /// Still good for sending: young enough and below the message limit.
    pub(crate) fn can_send(&self, now: Instant) -> bool {
        self.age(now) < REJECT_AFTER_TIME && self.send_counter < REJECT_AFTER_MESSAGES
    }

    /// Seals the packet at `buf[16..16 + len]` into a transport message in `buf`,
    /// padding it to a multiple of 16 (never beyond `mtu`, when one is set), and returns
    /// the message length.
    pub(crate) fn seal(
        &mut self,
        buf: &mut [u8],
        len: usize,
        mtu: Option<usize>,
    ) -> Result<usize, Error> {
        if self.send_counter >= REJECT_AFTER_MESSAGES {
            return Err(Error::SessionExpired);
        }
        let padded = padded_len(len, mtu);
        let total = TRANSPORT_OVERHEAD + padded;
        if buf.len() < total {
            return Err(Error::BufferTooSmall {
                need: total,
                have: buf.len(),
            });
        }
        let counter = self.send_counter;
        self.send_counter += 1;
        TransportHeader {
            receiver: self.remote_index,
            counter,
        }
        .write(buf)?;
        let body = &mut buf[TRANSPORT_HEADER_LEN..total];
        body[len..padded].fill(0);
        self.send.seal_in_place(counter, &[], body);
        Ok(total)
    }

    /// Opens a transport message in place and returns the padded plaintext's length (the
    /// plaintext starts at byte 16). The counter is recorded only once authenticated.
    pub(crate) fn open(
        &mut self,
        header: &TransportHeader,
        datagram: &mut [u8],
        now: Instant,
    ) -> Result<usize, Error> {
        if self.age(now) >= REJECT_AFTER_TIME {
            return Err(Error::SessionExpired);
        }
        if !self.replay.check(header.counter) {
            return Err(Error::Replayed);
        }
        let len = self
            .receive
            .open_in_place(header.counter, &[], &mut datagram[TRANSPORT_HEADER_LEN..])
            .map_err(|_| Error::DecryptionFailed)?;
        if !self.replay.accept(header.counter) {
            return Err(Error::Replayed);
        }
        Ok(len)
    }
}

/// Padded length of a packet of `len` bytes (wireguard-go's calculatePaddingSize).
pub(crate) fn padded_len(len: usize, mtu: Option<usize>) -> usize {
    let round_up = |n: usize| n.div_ceil(PADDING_MULTIPLE) * PADDING_MULTIPLE;
    match mtu {
        None | Some(0) => round_up(len),
        Some(mtu) => {
            let last_unit = if len > mtu { len % mtu } else { len };
            len - last_unit + round_up(last_unit).min(mtu)
        }
    }
}

/// The most TAG_LEN plus padding a packet of `len` bytes can grow by.
pub(crate) const fn max_transport_len(len: usize) -> usize {
    TRANSPORT_HEADER_LEN + len + PADDING_MULTIPLE - 1 + TAG_LEN
}

/// Which of a peer's keypairs a receiver index names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    Previous,
    Current,
    Next,
}

/// A peer's keypairs. `next` is a responder's new session, unusable for sending until the
/// initiator proves it has the keys by sending on it.
#[derive(Debug, Default)]
pub(crate) struct Keypairs {
    pub(crate) previous: Option<Keypair>,
    pub(crate) current: Option<Keypair>,
    pub(crate) next: Option<Keypair>,
}

impl Keypairs {
    /// Installs a new session and returns the local indices of the keypairs it displaced,
    /// which the caller frees.
    pub(crate) fn install(&mut self, keypair: Keypair) -> [Option<u32>; 2] {
        let index_of = |k: Option<Keypair>| k.map(|k| k.local_index);
        if keypair.is_initiator {
            // The initiator may use it at once; a pending `next` is kept as previous so
            // the packets its peer already sent on it still decrypt.
            let displaced = match self.next.take() {
                Some(next) => [
                    index_of(self.previous.replace(next)),
                    index_of(self.current.take()),
                ],
                None => [
                    index_of(std::mem::replace(&mut self.previous, self.current.take())),
                    None,
                ],
            };
            self.current = Some(keypair);
            displaced
        } else {
            [
                index_of(self.next.replace(keypair)),
                index_of(self.previous.take()),
            ]
        }
    }

    /// A packet arrived on `next`: the initiator has the keys, so it becomes current.
    /// Returns the local index of the keypair that fell off.
    pub(crate) fn confirm_next(&mut self) -> Option<u32> {
        let next = self.next.take()?;
        let old_previous = std::mem::replace(&mut self.previous, self.current.replace(next));
        old_previous.map(|k| k.local_index)
    }

    pub(crate) fn slot(&mut self, local_index: u32) -> Option<(Slot, &mut Keypair)> {
        [
            (Slot::Current, self.current.as_mut()),
            (Slot::Previous, self.previous.as_mut()),
            (Slot::Next, self.next.as_mut()),
        ]
        .into_iter()
        .find_map(|(slot, k)| {
            k.filter(|k| k.local_index == local_index)
                .map(|k| (slot, k))
        })
    }

    /// Drops every keypair and returns their local indices.
    pub(crate) fn clear(&mut self) -> impl Iterator<Item = u32> + use<> {
        [self.previous.take(), self.current.take(), self.next.take()]
            .into_iter()
            .flatten()
            .map(|k| k.local_index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keypair(is_initiator: bool, index: u32) -> Keypair {
        let keys = TransportKeys {
            initiator_to_responder: [1; 32],
            responder_to_initiator: [2; 32],
        };
        Keypair::new(&keys, is_initiator, index, index + 100, Instant::now())
    }

    #[test]
    fn padding_is_to_sixteen_and_capped_at_the_mtu() {
        assert_eq!(padded_len(0, None), 0);
        assert_eq!(padded_len(1, None), 16);
        assert_eq!(padded_len(16, None), 16);
        assert_eq!(padded_len(17, Some(1420)), 32);
        assert_eq!(padded_len(1419, Some(1420)), 1420);
        assert_eq!(padded_len(1420, Some(1420)), 1420);
        assert_eq!(padded_len(1415, Some(1418)), 1418);
        // A packet larger than the MTU (offloads) pads only its last unit.
        assert_eq!(padded_len(1420 + 3, Some(1420)), 1420 + 16);
    }

    #[test]
    fn sealed_messages_open_once_and_hide_length_to_sixteen() {
        let mut alice = keypair(true, 1);
        let mut bob = keypair(false, 2);
        let mut buf = [0u8; 128];
        buf[16..21].copy_from_slice(b"hello");
        let len = alice.seal(&mut buf, 5, Some(1420)).unwrap();
        assert_eq!(len, 16 + 16 + 16);
        let header = TransportHeader::parse(&buf[..len]).unwrap();
        assert_eq!((header.receiver, header.counter), (101, 0));
        let mut copy = buf;
        let plain = bob.open(&header, &mut copy[..len], Instant::now()).unwrap();
        assert_eq!(plain, 16);
        assert_eq!(&copy[16..21], b"hello");
        assert_eq!(&copy[21..32], &[0; 11]);
        let mut again = buf;
        assert_eq!(
            bob.open(&header, &mut again[..len], Instant::now()),
            Err(Error::Replayed)
        );
    }

    #[test]
    fn forged_packets_do_not_move_the_replay_window() {
        let mut alice = keypair(true, 1);
        let mut bob = keypair(false, 2);
        let mut buf = [0u8; 64];
        let len = alice.seal(&mut buf, 0, None).unwrap();
        let mut forged = buf;
        forged[8..16].copy_from_slice(&1_000_000u64.to_le_bytes());
        let header = TransportHeader::parse(&forged[..len]).unwrap();
        assert_eq!(
            bob.open(&header, &mut forged[..len], Instant::now()),
            Err(Error::DecryptionFailed)
        );
        let header = TransportHeader::parse(&buf[..len]).unwrap();
        assert_eq!(bob.open(&header, &mut buf[..len], Instant::now()), Ok(0));
    }

    #[test]
    fn reject_after_messages_is_enforced() {
        let mut alice = keypair(true, 1);
        alice.send_counter = REJECT_AFTER_MESSAGES - 1;
        let mut buf = [0u8; 64];
        assert!(alice.seal(&mut buf, 0, None).is_ok());
        assert!(!alice.can_send(Instant::now()));
        assert_eq!(alice.seal(&mut buf, 0, None), Err(Error::SessionExpired));
    }

    #[test]
    fn rotation_keeps_in_flight_keys() {
        let mut pairs = Keypairs::default();
        assert_eq!(pairs.install(keypair(true, 1)), [None, None]);
        assert_eq!(pairs.install(keypair(true, 2)), [None, None]);
        assert_eq!(pairs.previous.as_ref().unwrap().local_index, 1);
        // As responder: new keys wait in next; the previous is dropped, current kept.
        assert_eq!(pairs.install(keypair(false, 3)), [None, Some(1)]);
        assert!(pairs.slot(2).is_some() && pairs.slot(3).unwrap().0 == Slot::Next);
        assert_eq!(pairs.confirm_next(), None);
        assert_eq!(pairs.current.as_ref().unwrap().local_index, 3);
        assert_eq!(pairs.previous.as_ref().unwrap().local_index, 2);
        // An initiator's session while a next is pending keeps that next as previous.
        assert_eq!(pairs.install(keypair(false, 4)), [None, Some(2)]);
        assert_eq!(pairs.install(keypair(true, 5)), [None, Some(3)]);
        assert_eq!(pairs.previous.as_ref().unwrap().local_index, 4);
        assert_eq!(pairs.clear().collect::<Vec<_>>(), vec![4, 5]);
    }
}
