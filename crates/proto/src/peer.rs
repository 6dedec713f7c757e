//! One peer's state machine: its handshake, keypairs, timers, staged packets and endpoint.
//!
//! The [`Device`](crate::Device) owns the peers and routes datagrams to them; everything
//! here runs on `now` given by the caller and writes into caller buffers.

use crate::constants::{
    CONSTRUCTION, IDENTIFIER, INITIATION_MIN_INTERVAL, KEEPALIVE_TIMEOUT, MAX_HANDSHAKE_ATTEMPTS,
    REJECT_AFTER_TIME, REKEY_AFTER_MESSAGES, REKEY_AFTER_TIME, REKEY_TIMEOUT, ZERO_KEYS_AFTER,
};
use crate::cookie::CookieGenerator;
use crate::device::Shared;
use crate::keys::{PresharedKey, PrivateKey, PublicKey};
use crate::messages::{
    CookieReply, INITIATION_LEN, Initiation, RESPONSE_LEN, Response, TRANSPORT_HEADER_LEN,
    TransportHeader,
};
use crate::noise::{self, SymmetricState};
use crate::session::{Keypair, Keypairs, Slot, max_transport_len};
use crate::staged::Staged;
use crate::tai64n::Tai64N;
use crate::{Error, PeerId};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// What a peer is configured with.
#[derive(Debug, Clone)]
pub struct PeerConfig {
    pub public_key: PublicKey,
    pub preshared_key: PresharedKey,
    pub endpoint: Option<SocketAddr>,
    /// Seconds between keepalives sent while the tunnel is otherwise idle (0 or None: off).
    pub persistent_keepalive: Option<u16>,
}

impl PeerConfig {
    pub fn new(public_key: PublicKey) -> Self {
        Self {
            public_key,
            preshared_key: PresharedKey::default(),
            endpoint: None,
            persistent_keepalive: None,
        }
    }
}

/// Counters cheap enough to read every second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerStats {
    /// Bytes of authenticated WireGuard messages received from the peer.
    pub rx_bytes: u64,
    /// Bytes of WireGuard messages sent to the peer.
    pub tx_bytes: u64,
    pub last_handshake: Option<Instant>,
    /// Initiations sent in the current attempt (0 once a handshake completes).
    pub handshake_attempts: u32,
    pub endpoint: Option<SocketAddr>,
}

/// The result of [`Device::encapsulate`](crate::Device::encapsulate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encapsulated {
    /// A transport message of `len` bytes is at the start of the output buffer.
    Datagram { dst: SocketAddr, len: usize },
    /// No session yet: the packet waits for the handshake, which `poll_transmit` sends.
    Queued,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InitiationRequest {
    None,
    /// A new attempt: the retry count starts over.
    Fresh,
    /// A retransmission within the current attempt.
    Retry,
}

/// An initiation we sent and the state to finish it with.
struct PendingInitiation {
    state: SymmetricState,
    ephemeral: PrivateKey,
    local_index: u32,
}

pub(crate) struct Peer {
    pub(crate) id: PeerId,
    pub(crate) public_key: PublicKey,
    psk: PresharedKey,
    /// DH(our static, their static), computed once per key change.
    static_static: Option<Zeroizing<[u8; 32]>>,
    /// The symmetric state every initiation to this peer starts from.
    initiator_start: SymmetricState,
    cookies: CookieGenerator,
    handshake: Option<PendingInitiation>,
    keypairs: Keypairs,
    timers: crate::timers::Timers,
    last_timestamp: Option<Tai64N>,
    last_initiation_received: Option<Instant>,
    last_initiation_sent: Option<Instant>,
    /// Timestamps sent only ever increase, even if the wall clock steps back.
    last_timestamp_sent: Option<Tai64N>,
    endpoint: Option<SocketAddr>,
    staged: Staged,
    initiation: InitiationRequest,
    want_keepalive: bool,
    stats: PeerStats,
    /// Whether the device's ready queue holds this peer.
    pub(crate) queued: bool,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("id", &self.id)
            .field("public_key", &self.public_key)
            .finish_non_exhaustive()
    }
}

impl Peer {
    pub(crate) fn new(id: PeerId, config: PeerConfig, local: Option<&PrivateKey>) -> Self {
        let mut peer = Self {
            id,
            public_key: config.public_key,
            psk: config.preshared_key,
            static_static: None,
            initiator_start: SymmetricState::new(CONSTRUCTION, IDENTIFIER, &config.public_key),
            cookies: CookieGenerator::new(&config.public_key),
            handshake: None,
            keypairs: Keypairs::default(),
            timers: Default::default(),
            last_timestamp: None,
            last_initiation_received: None,
            last_initiation_sent: None,
            last_timestamp_sent: None,
            endpoint: config.endpoint,
            staged: Staged::default(),
            initiation: InitiationRequest::None,
            want_keepalive: false,
            stats: PeerStats::default(),
            queued: false,
        };
        peer.set_local_key(local);
        peer.set_persistent_keepalive(config.persistent_keepalive);
        peer
    }

    pub(crate) fn config(&self) -> PeerConfig {
        PeerConfig {
            public_key: self.public_key,
            preshared_key: self.psk.clone(),
            endpoint: self.endpoint,
            persistent_keepalive: self
                .timers
                .persistent_keepalive_interval
                .map(|interval| u16::try_from(interval.as_secs()).unwrap_or(u16::MAX)),
        }
    }

    pub(crate) fn stats(&self) -> PeerStats {
        PeerStats {
            endpoint: self.endpoint,
            handshake_attempts: self.timers.handshake_attempts,
            ..self.stats
        }
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// Whether `poll_transmit` may have something (it finds out exactly).
    pub(crate) fn may_have_output(&self) -> bool {
        self.initiation != InitiationRequest::None || self.want_keepalive || !self.staged.is_empty()
    }

    /// Recomputes the static-static DH after our private key changed. A key that gives a
    /// non-contributory result leaves the peer unable to handshake, as it must.
    pub(crate) fn set_local_key(&mut self, local: Option<&PrivateKey>) {
        self.static_static = local
            .and_then(|key| key.diffie_hellman(&self.public_key).ok())
            .map(|shared| Zeroizing::new(*shared.as_bytes()));
    }

    pub(crate) fn static_static(&self) -> Option<Zeroizing<[u8; 32]>> {
        self.static_static.clone()
    }

    pub(crate) fn set_endpoint(&mut self, endpoint: SocketAddr) {
        self.endpoint = Some(endpoint);
    }

    /// A changed pre-shared key takes effect through a new handshake right away, so the
    /// live session does not go on under the old key.
    pub(crate) fn set_preshared_key(&mut self, psk: PresharedKey) {
        if psk != self.psk {
            self.psk = psk;
            if self.keypairs.current.is_some() || self.handshake.is_some() {
                self.initiation = InitiationRequest::Fresh;
                self.last_initiation_sent = None;
            }
        }
    }

    pub(crate) fn set_persistent_keepalive(&mut self, seconds: Option<u16>) {
        let interval = seconds
            .filter(|&s| s > 0)
            .map(|s| Duration::from_secs(s.into()));
        self.timers.persistent_keepalive_interval = interval;
        match interval {
            // Like wireguard-go, announce ourselves at once: that also brings the tunnel up.
            Some(_) => self.want_keepalive = true,
            None => self.timers.persistent_keepalive = None,
        }
    }

    /// Drops all keys and handshake state, returning the indices to free.
    pub(crate) fn forget_sessions(&mut self) -> Vec<u32> {
        // As wireguard-go's ZeroAndFlushAll: what waited for these keys is dropped too.
        self.staged.clear();
        self.want_keepalive = false;
        let mut freed: Vec<u32> = self.keypairs.clear().collect();
        freed.extend(self.handshake.take().map(|h| h.local_index));
        freed
    }

    pub(crate) fn encapsulate(
        &mut self,
        shared: &mut Shared,
        packet: &[u8],
        out: &mut [u8],
        now: Instant,
    ) -> Result<Encapsulated, Error> {
        if packet.len() > usize::from(u16::MAX) {
            return Err(Error::PacketTooLarge { len: packet.len() });
        }
        if packet.is_empty() {
            return Err(Error::EmptyPacket);
        }
        if !self.can_send(now) {
            self.staged.push(packet);
            self.request_initiation(InitiationRequest::Fresh);
            return Ok(Encapsulated::Queued);
        }
        let dst = self.endpoint.ok_or(Error::NoEndpoint)?;
        let len = self.seal_data(shared, packet, out, now)?;
        Ok(Encapsulated::Datagram { dst, len })
    }

    /// The next datagram this peer wants sent, written into `buf`.
    pub(crate) fn poll_transmit(
        &mut self,
        shared: &mut Shared,
        now: Instant,
        buf: &mut [u8],
    ) -> Option<(SocketAddr, usize)> {
        let dst = self.endpoint?;
        if self.initiation != InitiationRequest::None {
            let request = std::mem::replace(&mut self.initiation, InitiationRequest::None);
            if let Some(len) = self.write_initiation(shared, request, now, buf) {
                return Some((dst, len));
            }
        }
        if !self.can_send(now) {
            // wireguard-go's SendStagedPackets: no usable keys means a handshake.
            let waiting = self.want_keepalive || !self.staged.is_empty();
            if waiting && self.timers.retransmit_handshake.is_none() {
                let sent = self.write_initiation(shared, InitiationRequest::Fresh, now, buf);
                return sent.map(|len| (dst, len));
            }
            return None;
        }
        while let Some(packet) = self.staged.pop() {
            let sealed = self.seal_data(shared, &packet, buf, now);
            self.staged.recycle(packet);
            if let Ok(len) = sealed {
                return Some((dst, len));
            }
        }
        if self.want_keepalive {
            self.want_keepalive = false;
            if let Ok(len) = self.seal_data(shared, &[], buf, now) {
                return Some((dst, len));
            }
        }
        None
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) -> Vec<u32> {
        let expired = self.timers.expire(now);
        let mut freed = Vec::new();
        if expired.retransmit_handshake {
            if self.timers.handshake_attempts > MAX_HANDSHAKE_ATTEMPTS {
                // REKEY_ATTEMPT_TIME is over: stop trying and drop what waited.
                self.timers.send_keepalive = None;
                self.staged.clear();
                self.want_keepalive = false;
                if self.timers.zero_key_material.is_none() {
                    self.timers.zero_key_material = Some(now + ZERO_KEYS_AFTER);
                }
            } else {
                self.timers.handshake_attempts += 1;
                self.request_initiation(InitiationRequest::Retry);
            }
        }
        if expired.send_keepalive {
            self.want_keepalive = true;
            if std::mem::take(&mut self.timers.need_another_keepalive) {
                self.timers.send_keepalive = Some(now + KEEPALIVE_TIMEOUT);
            }
        }
        if expired.new_handshake {
            self.request_initiation(InitiationRequest::Fresh);
        }
        if expired.zero_key_material {
            freed = self.forget_sessions();
        }
        if expired.persistent_keepalive && self.timers.persistent_keepalive_interval.is_some() {
            self.want_keepalive = true;
        }
        freed
    }

    /// Answers an initiation whose static key named this peer and whose payload
    /// (`timestamp`) has been decrypted; writes the response into `out`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn respond(
        &mut self,
        shared: &mut Shared,
        mut state: SymmetricState,
        initiation: &Initiation,
        timestamp: Tai64N,
        src: SocketAddr,
        now: Instant,
        out: &mut [u8],
    ) -> Result<usize, Error> {
        if self.last_timestamp.is_some_and(|last| timestamp <= last) {
            return Err(Error::ReplayedInitiation);
        }
        if self
            .last_initiation_received
            .is_some_and(|at| now.saturating_duration_since(at) <= INITIATION_MIN_INTERVAL)
        {
            return Err(Error::InitiationFlood);
        }
        let ephemeral = PrivateKey::generate(&mut shared.rng);
        let mut response = Response {
            sender: 0,
            receiver: initiation.sender,
            ephemeral: [0; 32],
            encrypted_nothing: [0; 16],
            mac1: [0; 16],
            mac2: [0; 16],
        };
        let initiator_ephemeral = PublicKey::from_bytes(initiation.ephemeral);
        let ephemeral_public = noise::write_response(
            &mut state,
            &ephemeral,
            &initiator_ephemeral,
            &self.public_key,
            &self.psk,
            &mut response.encrypted_nothing,
        )?;
        response.ephemeral = *ephemeral_public.as_bytes();
        response.sender = shared.allocate_index(self.id);
        let len = response.write(out)?;
        self.cookies.stamp(&mut out[..len], now);

        self.last_timestamp = Some(timestamp);
        self.last_initiation_received = Some(now);
        // A response counts as a handshake sent (wireguard-go's lastSentHandshake): our
        // own initiation right after it would only supersede the session just made.
        self.last_initiation_sent = Some(now);
        let keypair = Keypair::new(
            &state.split(),
            false,
            response.sender,
            initiation.sender,
            now,
        );
        self.install(shared, keypair);
        // Our own initiation in flight is superseded, as in wireguard-go: if both
        // completed, each side would send on the session the other holds as previous,
        // and the next rekey would drop it while still in use.
        if let Some(superseded) = self.handshake.take() {
            shared.free_index(superseded.local_index);
        }
        self.endpoint = Some(src);
        self.timers.session_derived(now);
        self.timers.any_authenticated_packet_received();
        self.timers.any_authenticated_packet_sent();
        self.timers.any_authenticated_packet_traversal(now);
        self.stats.rx_bytes += INITIATION_LEN as u64;
        self.stats.tx_bytes += len as u64;
        Ok(len)
    }

    pub(crate) fn consume_response(
        &mut self,
        shared: &mut Shared,
        response: &Response,
        src: SocketAddr,
        now: Instant,
    ) -> Result<(), Error> {
        let local = shared.local_key().ok_or(Error::NoPrivateKey)?;
        let pending = self
            .handshake
            .as_ref()
            .filter(|h| h.local_index == response.receiver)
            .ok_or(Error::UnexpectedMessage)?;
        let mut state = pending.state.clone();
        let mut nothing = response.encrypted_nothing;
        noise::read_response(
            &mut state,
            &pending.ephemeral,
            local,
            &PublicKey::from_bytes(response.ephemeral),
            &self.psk,
            &mut nothing,
        )?;
        let pending = self.handshake.take().expect("checked above");
        let keypair = Keypair::new(
            &state.split(),
            true,
            pending.local_index,
            response.sender,
            now,
        );
        self.install(shared, keypair);
        self.endpoint = Some(src);
        self.timers.session_derived(now);
        self.handshake_complete(now);
        self.timers.any_authenticated_packet_received();
        self.timers.any_authenticated_packet_traversal(now);
        self.stats.rx_bytes += RESPONSE_LEN as u64;
        // The responder may not send until it hears from us on the new keys.
        if self.staged.is_empty() {
            self.want_keepalive = true;
        }
        Ok(())
    }

    pub(crate) fn consume_cookie_reply(
        &mut self,
        reply: &CookieReply,
        now: Instant,
    ) -> Result<(), Error> {
        self.cookies.consume_reply(reply, now)
    }

    /// Opens a transport message in place. Returns the inner packet's length (it starts
    /// at byte 16), or None for a keepalive.
    pub(crate) fn receive(
        &mut self,
        shared: &mut Shared,
        header: &TransportHeader,
        datagram: &mut [u8],
        src: SocketAddr,
        now: Instant,
    ) -> Result<Option<usize>, Error> {
        let (slot, keypair) = self
            .keypairs
            .slot(header.receiver)
            .ok_or(Error::UnknownIndex)?;
        let padded = keypair.open(header, datagram, now)?;
        if slot == Slot::Next {
            if let Some(index) = self.keypairs.confirm_next() {
                shared.free_index(index);
            }
            self.handshake_complete(now);
        }
        self.keep_key_fresh_receiving(now);
        self.timers.any_authenticated_packet_received();
        self.timers.any_authenticated_packet_traversal(now);
        self.endpoint = Some(src);
        self.stats.rx_bytes += datagram.len() as u64;
        if padded == 0 {
            return Ok(None);
        }
        self.timers.data_received(now);
        let plaintext = &datagram[TRANSPORT_HEADER_LEN..TRANSPORT_HEADER_LEN + padded];
        ip_packet_len(plaintext).map(Some).ok_or(Error::NotIpPacket)
    }

    fn can_send(&self, now: Instant) -> bool {
        self.keypairs
            .current
            .as_ref()
            .is_some_and(|k| k.can_send(now))
    }

    fn request_initiation(&mut self, request: InitiationRequest) {
        if self.initiation != InitiationRequest::Fresh {
            self.initiation = request;
        }
    }

    fn handshake_complete(&mut self, now: Instant) {
        self.timers.handshake_complete();
        self.stats.last_handshake = Some(now);
    }

    fn install(&mut self, shared: &mut Shared, keypair: Keypair) {
        for index in self.keypairs.install(keypair).into_iter().flatten() {
            shared.free_index(index);
        }
    }

    fn seal_data(
        &mut self,
        shared: &mut Shared,
        packet: &[u8],
        out: &mut [u8],
        now: Instant,
    ) -> Result<usize, Error> {
        let need = max_transport_len(packet.len());
        if out.len() < need {
            return Err(Error::BufferTooSmall {
                need,
                have: out.len(),
            });
        }
        let keypair = self
            .keypairs
            .current
            .as_mut()
            .ok_or(Error::SessionExpired)?;
        out[TRANSPORT_HEADER_LEN..TRANSPORT_HEADER_LEN + packet.len()].copy_from_slice(packet);
        let len = keypair.seal(out, packet.len(), shared.mtu)?;
        let rekey = keypair.sent_messages() > REKEY_AFTER_MESSAGES
            || (keypair.is_initiator && keypair.age(now) > REKEY_AFTER_TIME);
        if rekey {
            self.request_initiation(InitiationRequest::Fresh);
        }
        // The jitter is drawn only when the timer is armed: not once per packet.
        if !packet.is_empty() && self.timers.new_handshake.is_none() {
            let jitter = shared.jitter();
            self.timers.data_sent(now, jitter);
        }
        self.timers.any_authenticated_packet_sent();
        self.timers.any_authenticated_packet_traversal(now);
        self.stats.tx_bytes += len as u64;
        Ok(len)
    }

    /// The initiator rekeys shortly before its keys would expire even when it only
    /// receives, since the responder cannot start a handshake on its behalf in time.
    fn keep_key_fresh_receiving(&mut self, now: Instant) {
        let Some(current) = &self.keypairs.current else {
            return;
        };
        let deadline = REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT;
        if current.is_initiator
            && current.age(now) > deadline
            && !self.timers.sent_last_minute_handshake
        {
            self.timers.sent_last_minute_handshake = true;
            self.request_initiation(InitiationRequest::Fresh);
        }
    }

    fn write_initiation(
        &mut self,
        shared: &mut Shared,
        request: InitiationRequest,
        now: Instant,
        buf: &mut [u8],
    ) -> Option<usize> {
        if self
            .last_initiation_sent
            .is_some_and(|at| now.saturating_duration_since(at) < REKEY_TIMEOUT)
        {
            return None;
        }
        let static_static = self.static_static.as_ref()?;
        let local_public = shared.local_public()?;
        if buf.len() < INITIATION_LEN {
            return None;
        }
        if request == InitiationRequest::Fresh {
            self.timers.handshake_attempts = 0;
        }
        let ephemeral = PrivateKey::generate(&mut shared.rng);
        let mut state = self.initiator_start.clone();
        let mut initiation = Initiation {
            sender: 0,
            ephemeral: [0; 32],
            encrypted_static: [0; 48],
            encrypted_timestamp: [0; 28],
            mac1: [0; 16],
            mac2: [0; 16],
        };
        let mut timestamp = shared.wall.timestamp(now);
        if let Some(last) = self.last_timestamp_sent.filter(|last| timestamp <= *last) {
            timestamp = last.next();
        }
        initiation.encrypted_timestamp[..12].copy_from_slice(timestamp.as_bytes());
        let ephemeral_public = noise::write_initiation(
            &mut state,
            &ephemeral,
            &local_public,
            &self.public_key,
            static_static,
            &mut initiation.encrypted_static,
            &mut initiation.encrypted_timestamp,
        )
        .ok()?;
        initiation.ephemeral = *ephemeral_public.as_bytes();
        if let Some(old) = self.handshake.take() {
            shared.free_index(old.local_index);
        }
        initiation.sender = shared.allocate_index(self.id);
        let len = initiation.write(buf).ok()?;
        self.cookies.stamp(&mut buf[..len], now);
        self.handshake = Some(PendingInitiation {
            state,
            ephemeral,
            local_index: initiation.sender,
        });
        self.last_initiation_sent = Some(now);
        self.last_timestamp_sent = Some(timestamp);
        let jitter = shared.jitter();
        self.timers.handshake_initiated(now, jitter);
        self.timers.any_authenticated_packet_sent();
        self.timers.any_authenticated_packet_traversal(now);
        self.stats.tx_bytes += len as u64;
        Some(len)
    }
}

/// The length of the IPv4 or IPv6 packet at the start of `plaintext` (the rest is padding).
fn ip_packet_len(plaintext: &[u8]) -> Option<usize> {
    let (header, len) = match plaintext.first()? >> 4 {
        4 => (
            20,
            usize::from(u16::from_be_bytes([*plaintext.get(2)?, *plaintext.get(3)?])),
        ),
        6 => (
            40,
            40 + usize::from(u16::from_be_bytes([*plaintext.get(4)?, *plaintext.get(5)?])),
        ),
        _ => return None,
    };
    (header..=plaintext.len()).contains(&len).then_some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_lengths_come_from_the_header() {
        let mut v4 = [0u8; 48];
        v4[0] = 0x45;
        v4[2..4].copy_from_slice(&28u16.to_be_bytes());
        assert_eq!(ip_packet_len(&v4), Some(28));
        v4[2..4].copy_from_slice(&49u16.to_be_bytes());
        assert_eq!(ip_packet_len(&v4), None);
        let mut v6 = [0u8; 64];
        v6[0] = 0x60;
        v6[4..6].copy_from_slice(&8u16.to_be_bytes());
        assert_eq!(ip_packet_len(&v6), Some(48));
        assert_eq!(ip_packet_len(&[0x10; 32]), None);
        assert_eq!(ip_packet_len(&[]), None);
        assert_eq!(ip_packet_len(&[0x45, 0, 0]), None);
    }
}
