//! Packets laid end to end in one reusable buffer: what crosses between the TUN, the
//! core and the socket, a batch at a time, without an allocation per packet.

use std::ops::Range;

/// A batch of packets (or datagrams) in one buffer allocated once.
pub struct PacketBatch {
    buf: Vec<u8>,
    ranges: Vec<Range<usize>>,
    end: usize,
    // The staging and coalescing parts serve Linux's offloading TUN and UDP only.
    /// Room for a device to stage what it reads before splitting it into the batch.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) staging: Vec<u8>,
    /// Bytes in `staging` read but not yet split (they did not fit last time).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) staged: usize,
    /// Reusable bookkeeping for coalescing on write.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) coalesce: crate::offload::Coalescer,
}

impl std::fmt::Debug for PacketBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PacketBatch")
            .field("packets", &self.ranges.len())
            .field("bytes", &self.end)
            .finish_non_exhaustive()
    }
}

impl PacketBatch {
    /// A batch holding up to `bytes` bytes of packets.
    pub fn new(bytes: usize) -> Self {
        Self {
            buf: vec![0; bytes],
            ranges: Vec::with_capacity(256),
            end: 0,
            staging: Vec::new(),
            staged: 0,
            coalesce: Default::default(),
        }
    }

    pub fn clear(&mut self) {
        self.ranges.clear();
        self.end = 0;
    }

    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Bytes still free at the end.
    pub fn spare(&self) -> usize {
        self.buf.len() - self.end
    }

    pub fn packet(&self, index: usize) -> &[u8] {
        &self.buf[self.ranges[index].clone()]
    }

    pub fn packet_mut(&mut self, index: usize) -> &mut [u8] {
        &mut self.buf[self.ranges[index].clone()]
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.ranges.iter().map(|r| &self.buf[r.clone()])
    }

    /// Appends a copy of `packet`; false when it does not fit.
    pub fn push(&mut self, packet: &[u8]) -> bool {
        self.push_with(packet.len(), |buf| {
            buf.copy_from_slice(packet);
            Some(packet.len())
        })
        .is_some()
    }

    /// Lets `fill` write a packet of at most `max_len` bytes at the end and keeps the
    /// length it returns (None keeps nothing). Returns the packet's index, or None.
    pub fn push_with(
        &mut self,
        max_len: usize,
        fill: impl FnOnce(&mut [u8]) -> Option<usize>,
    ) -> Option<usize> {
        if self.spare() < max_len {
            return None;
        }
        let start = self.end;
        let len = fill(&mut self.buf[start..start + max_len])?.min(max_len);
        self.end = start + len;
        self.ranges.push(start..start + len);
        Some(self.ranges.len() - 1)
    }

    /// Narrows packet `index` to `within` (relative to where it starts), e.g. to the
    /// plaintext after decrypting in place.
    pub fn narrow(&mut self, index: usize, within: Range<usize>) {
        let range = &mut self.ranges[index];
        let start = range.start + within.start;
        let end = (range.start + within.end).min(range.end);
        *range = start..end.max(start);
    }

    /// Keeps the packets for which `keep(index)` holds, in order.
    pub fn retain(&mut self, mut keep: impl FnMut(usize) -> bool) {
        let mut index = 0;
        self.ranges.retain(|_| {
            let kept = keep(index);
            index += 1;
            kept
        });
    }

    /// The whole buffer and the packet list, for a device that fills them directly.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) fn raw_parts(&mut self) -> (&mut [u8], &mut Vec<Range<usize>>, &mut usize) {
        (&mut self.buf, &mut self.ranges, &mut self.end)
    }

    /// The packets' ranges in the buffer returned by [`PacketBatch::raw_parts`].
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) fn ranges(&self) -> &[Range<usize>] {
        &self.ranges
    }

    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) fn buffer(&self) -> &[u8] {
        &self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_lie_end_to_end_and_can_be_narrowed_and_dropped() {
        let mut batch = PacketBatch::new(16);
        assert!(batch.push(b"abcd"));
        assert_eq!(
            batch.push_with(8, |buf| {
                buf[..3].copy_from_slice(b"xyz");
                Some(3)
            }),
            Some(1)
        );
        assert_eq!(batch.push_with(8, |_| None), None);
        assert_eq!(batch.spare(), 9);
        assert!(!batch.push(&[0; 10]));
        batch.narrow(0, 1..3);
        assert_eq!(batch.packet(0), b"bc");
        batch.retain(|i| i == 1);
        assert_eq!(batch.iter().collect::<Vec<_>>(), vec![b"xyz"]);
        batch.clear();
        assert!(batch.is_empty());
        assert_eq!(batch.spare(), 16);
    }
}
