//! A WireGuard device without I/O: our identity, the peers, the index table, and the
//! routing of every incoming datagram to the peer it belongs to.
//!
//! The I/O shell (culvert-engine) reads a datagram, calls [`Device::decapsulate`], writes
//! what comes out to the TUN or back to the socket; reads a packet from the TUN, picks the
//! peer by allowed IPs and calls [`Device::encapsulate`]; and, whenever
//! [`Device::next_timeout`] passes or anything was handled, calls
//! [`Device::handle_timeout`] and drains [`Device::poll_transmit`].

use crate::constants::{HANDSHAKES_PER_SECOND_UNDER_LOAD, UNDER_LOAD_HOLD};
use crate::cookie::{CookieChecker, MacVerdict};
use crate::keys::{PrivateKey, PublicKey};
use crate::messages::{
    CookieReply, INITIATION_LEN, Initiation, MessageKind, RESPONSE_LEN, Response,
    TRANSPORT_HEADER_LEN, TransportHeader, classify,
};
use crate::noise::{self, SymmetricState};
use crate::peer::{Encapsulated, Peer, PeerConfig, PeerStats};
use crate::ratelimit::RateLimiter;
use crate::tai64n::{Tai64N, WallClock};
use crate::timers::jitter;
use crate::{CONSTRUCTION, Error, IDENTIFIER};
use rand_core::{CryptoRng, CryptoRngCore, OsRng, RngCore};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Names a peer of a device; stale after the peer is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId {
    slot: u32,
    generation: u32,
}

/// A datagram for a peer, produced by [`Device::poll_transmit`] into the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    pub peer: PeerId,
    pub dst: SocketAddr,
    pub len: usize,
}

/// What to do with a datagram after [`Device::decapsulate`].
#[derive(Debug, PartialEq, Eq)]
pub enum Decapsulated<'a> {
    /// An inner IP packet from `peer`. Check its source address against the peer's
    /// allowed IPs before writing it to the TUN.
    Packet { peer: PeerId, packet: &'a [u8] },
    /// Send this (a handshake response or cookie reply, written over the datagram) back
    /// to the datagram's source.
    Reply(&'a [u8]),
    /// Consumed; `poll_transmit` may have follow-up work.
    Done,
}

/// State every peer operation may need, kept apart from the peers so both can be
/// borrowed at once.
pub(crate) struct Shared {
    local: Option<PrivateKey>,
    /// Derived once: a fixed-base multiplication per initiation is measurable.
    local_public: Option<PublicKey>,
    pub(crate) rng: SharedRng,
    indices: HashMap<u32, PeerId, IndexHash>,
    pub(crate) mtu: Option<usize>,
    pub(crate) wall: WallClock,
}

impl Shared {
    pub(crate) fn local_key(&self) -> Option<&PrivateKey> {
        self.local.as_ref()
    }

    pub(crate) fn local_public(&self) -> Option<PublicKey> {
        self.local_public
    }

    /// A fresh random session index (whitepaper 5.4.2: random, not sequential).
    pub(crate) fn allocate_index(&mut self, peer: PeerId) -> u32 {
        loop {
            let index = self.rng.next_u32();
            if let std::collections::hash_map::Entry::Vacant(slot) = self.indices.entry(index) {
                slot.insert(peer);
                return index;
            }
        }
    }

    pub(crate) fn free_index(&mut self, index: u32) {
        self.indices.remove(&index);
    }

    pub(crate) fn jitter(&mut self) -> Duration {
        jitter(self.rng.next_u32())
    }
}

/// The index table's hash. Our indices are random and only we insert them, so flooding
/// lookups cannot build collision chains; SipHash's cost on every packet buys nothing.
type IndexHash = std::hash::BuildHasherDefault<IndexHasher>;

#[derive(Default)]
struct IndexHasher(u64);

impl std::hash::Hasher for IndexHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(byte)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u32(&mut self, index: u32) {
        // Fibonacci hashing spreads the bits hashbrown uses for its control bytes.
        self.0 = u64::from(index).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// The device's source of randomness, behind one type so every user can take it as
/// `impl RngCore + CryptoRng`.
pub(crate) struct SharedRng(Box<dyn CryptoRngCore + Send>);

impl RngCore for SharedRng {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest);
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.0.try_fill_bytes(dest)
    }
}

impl CryptoRng for SharedRng {}

struct Slot {
    generation: u32,
    peer: Option<Peer>,
}

/// Decides when the device is "under load", the condition that makes it demand cookies.
#[derive(Debug, Default)]
struct LoadMonitor {
    window_start: Option<Instant>,
    in_window: u32,
    until: Option<Instant>,
}

impl LoadMonitor {
    fn handshake_received(&mut self, now: Instant) -> bool {
        match self.window_start {
            Some(start) if now.saturating_duration_since(start) < Duration::from_secs(1) => {
                self.in_window += 1;
            }
            _ => {
                self.window_start = Some(now);
                self.in_window = 1;
            }
        }
        if self.in_window > HANDSHAKES_PER_SECOND_UNDER_LOAD {
            self.until = Some(now + UNDER_LOAD_HOLD);
        }
        self.under_load(now)
    }

    fn under_load(&self, now: Instant) -> bool {
        self.until.is_some_and(|until| now < until)
    }
}

pub struct Device {
    shared: Shared,
    slots: Vec<Slot>,
    free_slots: Vec<u32>,
    by_key: HashMap<PublicKey, PeerId>,
    checker: Option<CookieChecker>,
    responder_start: Option<SymmetricState>,
    limiter: RateLimiter,
    load: LoadMonitor,
    ready: VecDeque<PeerId>,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("peers", &self.by_key.len())
            .finish_non_exhaustive()
    }
}

impl Device {
    /// A device drawing randomness from the OS. `unix_now` is the wall-clock time at
    /// `now`, for handshake timestamps.
    pub fn new(private_key: Option<PrivateKey>, now: Instant, unix_now: Duration) -> Self {
        Self::with_rng(private_key, now, unix_now, Box::new(OsRng))
    }

    /// A device with the given source of randomness (a seeded one makes tests repeatable).
    pub fn with_rng(
        private_key: Option<PrivateKey>,
        now: Instant,
        unix_now: Duration,
        mut rng: Box<dyn CryptoRngCore + Send>,
    ) -> Self {
        let mut limiter_key = [0u8; 16];
        rng.fill_bytes(&mut limiter_key);
        let mut device = Self {
            shared: Shared {
                local: None,
                local_public: None,
                rng: SharedRng(rng),
                indices: HashMap::default(),
                mtu: None,
                wall: WallClock::new(now, unix_now),
            },
            slots: Vec::new(),
            free_slots: Vec::new(),
            by_key: HashMap::new(),
            checker: None,
            responder_start: None,
            limiter: RateLimiter::new(limiter_key),
            load: LoadMonitor::default(),
            ready: VecDeque::new(),
        };
        device.set_private_key(private_key);
        device
    }

    pub fn public_key(&self) -> Option<PublicKey> {
        self.shared.local_public
    }

    pub fn private_key(&self) -> Option<&PrivateKey> {
        self.shared.local.as_ref()
    }

    /// Changes our identity: every session ends, and a peer with our own public key is
    /// removed (it could never handshake).
    pub fn set_private_key(&mut self, private_key: Option<PrivateKey>) {
        let public = private_key.as_ref().map(PrivateKey::public_key);
        self.checker = public.as_ref().map(CookieChecker::new);
        self.responder_start = public
            .as_ref()
            .map(|p| SymmetricState::new(CONSTRUCTION, IDENTIFIER, p));
        self.shared.local = private_key;
        self.shared.local_public = public;
        if let Some(own) = public.and_then(|p| self.by_key.get(&p).copied()) {
            self.remove_peer(own);
        }
        for slot in &mut self.slots {
            if let Some(peer) = &mut slot.peer {
                for index in peer.forget_sessions() {
                    self.shared.indices.remove(&index);
                }
                peer.set_local_key(self.shared.local.as_ref());
            }
        }
    }

    /// The tunnel MTU, which caps padding (None: pad to 16 without a cap).
    pub fn set_mtu(&mut self, mtu: Option<usize>) {
        self.shared.mtu = mtu;
    }

    /// Re-anchors wall-clock time, e.g. after a resume from sleep.
    pub fn set_wall_clock(&mut self, now: Instant, unix_now: Duration) {
        self.shared.wall = WallClock::new(now, unix_now);
    }

    pub fn wall_clock(&self) -> WallClock {
        self.shared.wall
    }

    /// Adds a peer, or returns the id of the one with that public key already.
    pub fn add_peer(&mut self, config: PeerConfig) -> Result<PeerId, Error> {
        if Some(config.public_key) == self.public_key() {
            return Err(Error::UnknownPeer);
        }
        if let Some(&id) = self.by_key.get(&config.public_key) {
            return Ok(id);
        }
        let slot = match self.free_slots.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    peer: None,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let entry = &mut self.slots[slot as usize];
        let id = PeerId {
            slot,
            generation: entry.generation,
        };
        entry.peer = Some(Peer::new(id, config.clone(), self.shared.local.as_ref()));
        self.by_key.insert(config.public_key, id);
        self.mark_ready(id);
        Ok(id)
    }

    pub fn remove_peer(&mut self, id: PeerId) -> bool {
        let Some(mut peer) = self.take_peer(id) else {
            return false;
        };
        for index in peer.forget_sessions() {
            self.shared.free_index(index);
        }
        self.by_key.remove(&peer.public_key);
        true
    }

    pub fn peer_id(&self, public_key: &PublicKey) -> Option<PeerId> {
        self.by_key.get(public_key).copied()
    }

    pub fn peers(&self) -> impl Iterator<Item = (PeerId, PublicKey)> + '_ {
        self.slots
            .iter()
            .filter_map(|slot| slot.peer.as_ref().map(|p| (p.id, p.public_key)))
    }

    /// The peer's configuration as it stands (the endpoint is the current one).
    pub fn peer_config(&self, id: PeerId) -> Option<PeerConfig> {
        self.peer(id).map(Peer::config)
    }

    pub fn stats(&self, id: PeerId) -> Option<PeerStats> {
        self.peer(id).map(Peer::stats)
    }

    pub fn set_endpoint(&mut self, id: PeerId, endpoint: SocketAddr) -> Result<(), Error> {
        self.peer_mut(id)
            .ok_or(Error::NoSuchPeer)?
            .set_endpoint(endpoint);
        self.mark_ready(id);
        Ok(())
    }

    pub fn set_preshared_key(&mut self, id: PeerId, psk: crate::PresharedKey) -> Result<(), Error> {
        self.peer_mut(id)
            .ok_or(Error::NoSuchPeer)?
            .set_preshared_key(psk);
        self.mark_ready(id);
        Ok(())
    }

    pub fn set_persistent_keepalive(
        &mut self,
        id: PeerId,
        seconds: Option<u16>,
    ) -> Result<(), Error> {
        self.peer_mut(id)
            .ok_or(Error::NoSuchPeer)?
            .set_persistent_keepalive(seconds);
        self.mark_ready(id);
        Ok(())
    }

    /// Encrypts an IP packet for `peer` into `out`, which needs room for the packet plus
    /// 47 bytes. Without a session the packet waits and a handshake is started.
    pub fn encapsulate(
        &mut self,
        peer: PeerId,
        packet: &[u8],
        out: &mut [u8],
        now: Instant,
    ) -> Result<Encapsulated, Error> {
        let Self { shared, slots, .. } = self;
        let target = slot_peer(slots, peer).ok_or(Error::NoSuchPeer)?;
        let result = target.encapsulate(shared, packet, out, now);
        self.mark_ready(peer);
        result
    }

    /// Handles a datagram from `src`. The datagram is decrypted, or answered, in place.
    pub fn decapsulate<'a>(
        &mut self,
        src: SocketAddr,
        datagram: &'a mut [u8],
        now: Instant,
    ) -> Result<Decapsulated<'a>, Error> {
        match classify(datagram)? {
            MessageKind::Initiation => self.handle_initiation(src, datagram, now),
            MessageKind::Response => self.handle_response(src, datagram, now),
            MessageKind::CookieReply => {
                let reply = CookieReply::parse(datagram)?;
                let id = self.index_owner(reply.receiver)?;
                self.peer_mut(id)
                    .ok_or(Error::UnknownIndex)?
                    .consume_cookie_reply(&reply, now)?;
                Ok(Decapsulated::Done)
            }
            MessageKind::Transport => {
                let header = TransportHeader::parse(datagram)?;
                let id = self.index_owner(header.receiver)?;
                let Self { shared, slots, .. } = self;
                let peer = slot_peer(slots, id).ok_or(Error::UnknownIndex)?;
                let received = peer.receive(shared, &header, datagram, src, now);
                self.mark_ready(id);
                match received? {
                    Some(len) => Ok(Decapsulated::Packet {
                        peer: id,
                        packet: &datagram[TRANSPORT_HEADER_LEN..][..len],
                    }),
                    None => Ok(Decapsulated::Done),
                }
            }
        }
    }

    /// Runs every timer that is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        for slot in &mut self.slots {
            let Some(peer) = &mut slot.peer else { continue };
            if peer.next_deadline().is_some_and(|at| at <= now) {
                for index in peer.handle_timeout(now) {
                    self.shared.indices.remove(&index);
                }
                enqueue(&mut self.ready, peer);
            }
        }
    }

    /// When `handle_timeout` next has work.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.slots
            .iter()
            .filter_map(|slot| slot.peer.as_ref()?.next_deadline())
            .min()
    }

    /// The next datagram to send (handshakes, keepalives, packets that waited for a
    /// session), written into `buf`, which should hold 65,535 + 64 bytes.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        while let Some(id) = self.ready.pop_front() {
            let Self {
                shared,
                slots,
                ready,
                ..
            } = self;
            let Some(peer) = slot_peer(slots, id) else {
                continue;
            };
            match peer.poll_transmit(shared, now, buf) {
                Some((dst, len)) => {
                    // Round robin: a peer with more to send goes to the back.
                    ready.push_back(id);
                    return Some(Transmit { peer: id, dst, len });
                }
                None => peer.queued = false,
            }
        }
        None
    }

    /// The I/O shell's handshake queue: a backlog of an eighth of its capacity puts the
    /// device under load (wireguard-go's rule) for a second.
    pub fn report_handshake_backlog(&mut self, queued: usize, capacity: usize, now: Instant) {
        if capacity > 0 && queued.saturating_mul(8) >= capacity {
            self.load.until = Some(now + UNDER_LOAD_HOLD);
        }
    }

    pub fn is_under_load(&self, now: Instant) -> bool {
        self.load.under_load(now)
    }

    /// The mac checks shared by initiations and responses: nothing costlier than a hash
    /// happens before they pass. Under load, a message without a valid mac2 is answered
    /// with a cookie reply written into `out`.
    fn check_macs(
        &mut self,
        src: SocketAddr,
        message: &[u8],
        sender: u32,
        now: Instant,
        out: &mut [u8],
    ) -> Result<Option<usize>, Error> {
        let under_load = self.load.handshake_received(now);
        let checker = self.checker.as_mut().ok_or(Error::NoPrivateKey)?;
        match checker.verify(message, src, under_load, now) {
            MacVerdict::Mac1Invalid => Err(Error::InvalidMac1),
            MacVerdict::Mac1Only if under_load => {
                let len =
                    checker.write_reply(message, sender, src, now, &mut self.shared.rng, out)?;
                Ok(Some(len))
            }
            MacVerdict::Mac1AndMac2 if !self.limiter.allow(src.ip(), now) => {
                Err(Error::RateLimited)
            }
            _ => Ok(None),
        }
    }

    fn handle_initiation<'a>(
        &mut self,
        src: SocketAddr,
        datagram: &'a mut [u8],
        now: Instant,
    ) -> Result<Decapsulated<'a>, Error> {
        let message: [u8; INITIATION_LEN] = (&*datagram).try_into().expect("classified");
        let mut initiation = Initiation::parse(&message)?;
        if let Some(len) = self.check_macs(src, &message, initiation.sender, now, datagram)? {
            return Ok(Decapsulated::Reply(&datagram[..len]));
        }
        let local = self.shared.local.as_ref().ok_or(Error::NoPrivateKey)?;
        let mut state = self.responder_start.clone().ok_or(Error::NoPrivateKey)?;
        let initiator = noise::read_initiation_static(
            &mut state,
            local,
            &PublicKey::from_bytes(initiation.ephemeral),
            &mut initiation.encrypted_static,
        )?;
        let id = self
            .by_key
            .get(&initiator)
            .copied()
            .ok_or(Error::UnknownPeer)?;
        let Self { shared, slots, .. } = self;
        let peer = slot_peer(slots, id).ok_or(Error::UnknownPeer)?;
        let static_static = peer_static_static(peer)?;
        noise::read_initiation_payload(
            &mut state,
            &static_static,
            &mut initiation.encrypted_timestamp,
        )?;
        let timestamp = Tai64N::from_bytes(
            initiation.encrypted_timestamp[..12]
                .try_into()
                .expect("12 bytes"),
        );
        let len = peer.respond(shared, state, &initiation, timestamp, src, now, datagram)?;
        self.mark_ready(id);
        Ok(Decapsulated::Reply(&datagram[..len]))
    }

    fn handle_response<'a>(
        &mut self,
        src: SocketAddr,
        datagram: &'a mut [u8],
        now: Instant,
    ) -> Result<Decapsulated<'a>, Error> {
        let response = Response::parse(datagram)?;
        let message: [u8; RESPONSE_LEN] = (&*datagram).try_into().expect("classified");
        if let Some(len) = self.check_macs(src, &message, response.sender, now, datagram)? {
            return Ok(Decapsulated::Reply(&datagram[..len]));
        }
        let id = self.index_owner(response.receiver)?;
        let Self { shared, slots, .. } = self;
        let peer = slot_peer(slots, id).ok_or(Error::UnknownIndex)?;
        peer.consume_response(shared, &response, src, now)?;
        self.mark_ready(id);
        Ok(Decapsulated::Done)
    }

    fn index_owner(&self, index: u32) -> Result<PeerId, Error> {
        self.shared
            .indices
            .get(&index)
            .copied()
            .ok_or(Error::UnknownIndex)
    }

    fn peer(&self, id: PeerId) -> Option<&Peer> {
        self.slots
            .get(id.slot as usize)
            .filter(|s| s.generation == id.generation)?
            .peer
            .as_ref()
    }

    fn peer_mut(&mut self, id: PeerId) -> Option<&mut Peer> {
        slot_peer(&mut self.slots, id)
    }

    fn take_peer(&mut self, id: PeerId) -> Option<Peer> {
        let slot = self
            .slots
            .get_mut(id.slot as usize)
            .filter(|s| s.generation == id.generation)?;
        let peer = slot.peer.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        self.free_slots.push(id.slot);
        Some(peer)
    }

    fn mark_ready(&mut self, id: PeerId) {
        if let Some(peer) = slot_peer(&mut self.slots, id) {
            enqueue(&mut self.ready, peer);
        }
    }
}

/// Puts `peer` in the ready queue once, when it may have something to send.
fn enqueue(ready: &mut VecDeque<PeerId>, peer: &mut Peer) {
    if peer.may_have_output() && !peer.queued {
        peer.queued = true;
        ready.push_back(peer.id);
    }
}

fn slot_peer(slots: &mut [Slot], id: PeerId) -> Option<&mut Peer> {
    slots
        .get_mut(id.slot as usize)
        .filter(|s| s.generation == id.generation)?
        .peer
        .as_mut()
}

fn peer_static_static(peer: &Peer) -> Result<zeroize::Zeroizing<[u8; 32]>, Error> {
    peer.static_static().ok_or(Error::NonContributory)
}
