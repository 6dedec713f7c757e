//! The anti-replay window of RFC 6479: 8192 bits in 64-bit blocks, 8128 of them usable.
//!
//! The window is consulted twice: [`ReplayWindow::check`] before decrypting, so an old
//! counter costs no AEAD work, and [`ReplayWindow::accept`] after authentication, so a
//! forged packet can never move the window.

use crate::constants::{REJECT_AFTER_MESSAGES, REPLAY_WINDOW_BITS};

const BLOCK_BITS: u64 = u64::BITS as u64;
const BLOCKS: usize = (REPLAY_WINDOW_BITS / BLOCK_BITS) as usize;
/// One block is always being recycled, so this many counters behind the newest are usable.
pub const WINDOW_SIZE: u64 = REPLAY_WINDOW_BITS - BLOCK_BITS;

#[derive(Clone)]
pub struct ReplayWindow {
    /// One more than the greatest counter accepted (0: none yet).
    next: u64,
    blocks: [u64; BLOCKS],
}

impl Default for ReplayWindow {
    fn default() -> Self {
        Self {
            next: 0,
            blocks: [0; BLOCKS],
        }
    }
}

impl std::fmt::Debug for ReplayWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayWindow")
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl ReplayWindow {
    /// Would `counter` be accepted? Changes nothing.
    pub fn check(&self, counter: u64) -> bool {
        if self.exhausted(counter) {
            return false;
        }
        let position = counter + 1;
        if position > self.next {
            return true;
        }
        if position + WINDOW_SIZE < self.next {
            return false;
        }
        let (block, bit) = Self::locate(position);
        self.blocks[block] & bit == 0
    }

    /// Records `counter` as received; false when it was seen already or is too old.
    pub fn accept(&mut self, counter: u64) -> bool {
        if self.exhausted(counter) {
            return false;
        }
        let position = counter + 1;
        if position + WINDOW_SIZE < self.next {
            return false;
        }
        if position > self.next {
            // Clear the blocks the window slides over (at most the whole ring).
            let current = self.next / BLOCK_BITS;
            let target = position / BLOCK_BITS;
            let to_clear = (target - current).min(BLOCKS as u64);
            for i in 1..=to_clear {
                self.blocks[((current + i) % BLOCKS as u64) as usize] = 0;
            }
            self.next = position;
        }
        let (block, bit) = Self::locate(position);
        let fresh = self.blocks[block] & bit == 0;
        self.blocks[block] |= bit;
        fresh
    }

    fn exhausted(&self, counter: u64) -> bool {
        self.next > REJECT_AFTER_MESSAGES || counter >= REJECT_AFTER_MESSAGES
    }

    fn locate(position: u64) -> (usize, u64) {
        (
            ((position / BLOCK_BITS) % BLOCKS as u64) as usize,
            1 << (position % BLOCK_BITS),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The Linux kernel's counter self-test (drivers/net/wireguard/selftest/counter.c),
    /// case by case, with the whitepaper's REJECT_AFTER_MESSAGES.
    #[test]
    fn kernel_counter_selftest() {
        let mut w = ReplayWindow::default();
        let mut case = 0;
        let mut t = |w: &mut ReplayWindow, n: u64, expected: bool| {
            case += 1;
            assert_eq!(w.check(n), expected, "case {case}: check({n})");
            assert_eq!(w.accept(n), expected, "case {case}: accept({n})");
        };
        const LIM: u64 = WINDOW_SIZE + 1;
        const R: u64 = REJECT_AFTER_MESSAGES;
        for (n, ok) in [
            (0, true),
            (1, true),
            (1, false),
            (9, true),
            (8, true),
            (7, true),
            (7, false),
            (LIM, true),
            (LIM - 1, true),
            (LIM - 1, false),
            (LIM - 2, true),
            (2, true),
            (2, false),
            (LIM + 16, true),
            (3, false),
            (LIM + 16, false),
            (LIM * 4, true),
            (LIM * 4 - (LIM - 1), true),
            (10, false),
            (LIM * 4 - LIM, false),
            (LIM * 4 - (LIM + 1), false),
            (LIM * 4 - (LIM - 2), true),
            (LIM * 4 + 1 - LIM, false),
            (0, false),
            (R, false),
            (R - 1, true),
            (R, false),
            (R - 1, false),
            (R - 2, true),
            (R + 1, false),
            (R + 2, false),
            (R - 2, false),
            (R - 3, true),
            (0, false),
        ] {
            t(&mut w, n, ok);
        }

        let mut w = ReplayWindow::default();
        for i in 1..=WINDOW_SIZE {
            t(&mut w, i, true);
        }
        t(&mut w, 0, true);
        t(&mut w, 0, false);

        let mut w = ReplayWindow::default();
        for i in 2..=WINDOW_SIZE + 1 {
            t(&mut w, i, true);
        }
        t(&mut w, 1, true);
        t(&mut w, 0, false);

        let mut w = ReplayWindow::default();
        for i in (0..=WINDOW_SIZE).rev() {
            t(&mut w, i, true);
        }

        let mut w = ReplayWindow::default();
        for i in (1..=WINDOW_SIZE + 1).rev() {
            t(&mut w, i, true);
        }
        t(&mut w, 0, false);

        let mut w = ReplayWindow::default();
        for i in (1..=WINDOW_SIZE).rev() {
            t(&mut w, i, true);
        }
        t(&mut w, WINDOW_SIZE + 1, true);
        t(&mut w, 0, false);

        let mut w = ReplayWindow::default();
        for i in (1..=WINDOW_SIZE).rev() {
            t(&mut w, i, true);
        }
        t(&mut w, 0, true);
        t(&mut w, WINDOW_SIZE + 1, true);
    }

    proptest! {
        /// Against a model that remembers every counter: a counter within the window is
        /// accepted exactly once; one that is too old never is.
        #[test]
        fn matches_a_model_with_perfect_memory(counters in proptest::collection::vec(0u64..20_000, 1..2_000)) {
            let mut w = ReplayWindow::default();
            let mut seen = std::collections::HashSet::new();
            let mut greatest: Option<u64> = None;
            for c in counters {
                let too_old = greatest.is_some_and(|g| c + WINDOW_SIZE < g);
                let expected = !too_old && !seen.contains(&c);
                prop_assert_eq!(w.check(c), expected);
                prop_assert_eq!(w.accept(c), expected);
                if expected {
                    seen.insert(c);
                    greatest = greatest.max(Some(c));
                }
            }
        }
    }
}
