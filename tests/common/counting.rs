//! A global allocator that counts, per thread (so parallel tests do not disturb each
//! other), the allocations made and the blocks live. `tests/suite` installs it as its
//! global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

pub struct CountingAlloc;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
    /// Blocks allocated minus blocks freed on this thread, and its high-water mark.
    static LIVE: Cell<(isize, isize)> = const { Cell::new((0, 0)) };
}

// SAFETY: forwards to the system allocator; only counts calls on the current thread.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|a| a.set(a.get() + 1));
        let _ = LIVE.try_with(|l| {
            let (live, peak) = l.get();
            l.set((live + 1, peak.max(live + 1)));
        });
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let _ = LIVE.try_with(|l| {
            let (live, peak) = l.get();
            l.set((live - 1, peak));
        });
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|a| a.set(a.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Runs `f` and returns its result and how many allocations (and reallocations) it
/// made on this thread.
pub fn allocations<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = ALLOCS.with(Cell::get);
    let r = f();
    (r, ALLOCS.with(Cell::get) - before)
}

/// Runs `f` and returns its result and how many more heap blocks were live at the
/// most than before it ran (on this thread).
pub fn peak_extra_blocks<R>(f: impl FnOnce() -> R) -> (R, isize) {
    let (before, _) = LIVE.with(Cell::get);
    LIVE.with(|l| l.set((before, before)));
    let r = f();
    let (_, peak) = LIVE.with(Cell::get);
    (r, peak - before)
}
