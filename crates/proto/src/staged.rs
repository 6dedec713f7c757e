//! Packets waiting for a session, per peer.

use crate::constants::MAX_STAGED_PACKETS;
use std::collections::VecDeque;

/// Buffers kept for reuse: enough for a burst, without an idle peer holding megabytes.
const MAX_SPARE_BUFFERS: usize = 16;

/// Packets waiting for a session, in buffers that are reused rather than reallocated.
#[derive(Default)]
pub(crate) struct Staged {
    queue: VecDeque<Vec<u8>>,
    spare: Vec<Vec<u8>>,
}

impl Staged {
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Keeps the newest packets: the oldest is dropped when the queue is full.
    pub(crate) fn push(&mut self, packet: &[u8]) {
        let mut buffer = if self.queue.len() >= MAX_STAGED_PACKETS {
            self.queue.pop_front().expect("full queue")
        } else {
            self.spare.pop().unwrap_or_default()
        };
        buffer.clear();
        buffer.extend_from_slice(packet);
        self.queue.push_back(buffer);
    }

    pub(crate) fn pop(&mut self) -> Option<Vec<u8>> {
        self.queue.pop_front()
    }

    pub(crate) fn recycle(&mut self, buffer: Vec<u8>) {
        if self.spare.len() < MAX_SPARE_BUFFERS {
            self.spare.push(buffer);
        }
    }

    pub(crate) fn clear(&mut self) {
        while let Some(buffer) = self.queue.pop_front() {
            self.recycle(buffer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_queue_keeps_the_newest_and_reuses_buffers() {
        let mut staged = Staged::default();
        for i in 0..(MAX_STAGED_PACKETS + 2) {
            staged.push(&[i as u8]);
        }
        assert_eq!(staged.queue.len(), MAX_STAGED_PACKETS);
        assert_eq!(staged.pop().unwrap(), vec![2]);
        staged.clear();
        assert!(staged.is_empty());
        assert_eq!(staged.spare.len(), MAX_SPARE_BUFFERS);
    }
}
