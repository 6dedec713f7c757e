//! For tests that show a hot path allocates nothing: a global allocator that counts
//! the current thread's allocations. A test binary installs it with
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: culvert_testalloc::CountingAllocator = culvert_testalloc::CountingAllocator;
//! ```
//!
//! and measures with [`allocations_during`].
#![allow(unsafe_code)]
// Clippy 1.96 asks for the const initialiser below, which is there, wherever
// thread_local! expands to OS keys (Windows GNU): a false positive.
#![cfg_attr(windows, allow(clippy::missing_const_for_thread_local))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// The system allocator, counting each allocation made on the calling thread.
#[derive(Debug)]
pub struct CountingAllocator;

// SAFETY: every call is forwarded unchanged to the system allocator; the counter is a
// thread-local Cell with a const initialiser, which itself never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// How many allocations `f` made on this thread (0 unless [`CountingAllocator`] is the
/// global allocator).
pub fn allocations_during(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[cfg(test)]
mod tests {
    #[global_allocator]
    static GLOBAL: super::CountingAllocator = super::CountingAllocator;

    #[test]
    fn the_counter_sees_allocations() {
        assert_eq!(
            super::allocations_during(|| drop(std::hint::black_box(vec![1u8; 10]))),
            1
        );
    }
}
