//! The wake-up state of a group of futures polled by one task: one allocation that
//! holds a header (a reference count, the ready list, the task's waker) and one node
//! per future. The waker of future `i` is a pointer to node `i`; waking it pushes
//! `i` onto the ready list (once until it is taken), and the first push onto an
//! empty list wakes the task. The task takes the whole list at once and polls only
//! what is on it.
//!
//! The ready list is a stack linked through the nodes by index (`index + 1`; 0 ends
//! it). Wakers only push; the task only takes the whole stack (a `swap`), so the
//! stack has no ABA problem. A node's `state` holds its `QUEUED` bit and its link:
//! whoever sets the bit owns the link until the task clears the bit again, which it
//! does just before it polls that future, so a wake-up during the poll queues it
//! again.
//!
//! Why `unsafe`: one allocation for every wake-up state and waker, where
//! `FuturesUnordered` allocates a task per future; it is what bench cases d1, d3
//! and d4 measure (2 allocations for 10^5 cleanups, about 0.12× the time). Miri and
//! the loom model (`tests/loom/tests/collections.rs`) run over it.

use core::alloc::Layout;
use core::mem::ManuallyDrop;
use core::ptr::{self, NonNull};
use core::task::{RawWaker, RawWakerVTable, Waker};

#[cfg(not(target_has_atomic = "ptr"))]
use atomic_waker::AtomicWaker;
#[cfg(target_has_atomic = "ptr")]
use futures_util::task::AtomicWaker;

#[cfg(all(not(asyncdrop_loom), target_has_atomic = "ptr"))]
use core::sync::atomic::{fence, AtomicUsize, Ordering};
#[cfg(asyncdrop_loom)]
use loom::sync::atomic::{fence, AtomicUsize, Ordering};
// Targets without compare-and-swap (thumbv6m): the same operations, emulated.
#[cfg(all(not(asyncdrop_loom), not(target_has_atomic = "ptr")))]
use portable_atomic::{fence, AtomicUsize, Ordering};

/// The start of the allocation.
struct Header {
    /// The owner's reference plus one per waker alive.
    refs: AtomicUsize,
    /// The ready stack: `index + 1` of the last node pushed, 0 when empty.
    head: AtomicUsize,
    /// The task polling the group.
    task: AtomicWaker,
    /// How many nodes follow.
    len: usize,
}

/// One per future, after the header.
struct Node {
    /// `QUEUED` | the link to the next node of the list it is on, shifted left by one.
    state: AtomicUsize,
    /// This node's position, to find the header from a waker's pointer.
    index: usize,
}

const QUEUED: usize = 1;

/// Where the nodes start: the header's size rounded up to the nodes' alignment.
const NODES: usize = size_of::<Header>().next_multiple_of(align_of::<Node>());

/// The allocation's alignment: the stricter of the header's and the nodes'.
const ALIGN: usize = if align_of::<Header>() > align_of::<Node>() {
    align_of::<Header>()
} else {
    align_of::<Node>()
};

/// Most references: past this a clone panics instead of counting (as `Arc` aborts).
const MAX_REFS: usize = isize::MAX as usize;

fn layout(len: usize) -> Layout {
    size_of::<Node>()
        .checked_mul(len)
        .and_then(|nodes| nodes.checked_add(NODES))
        .and_then(|size| Layout::from_size_align(size, ALIGN).ok())
        .expect("capacity overflow")
}

/// The task's handle on the wake-up state of `len` futures: owns one reference.
pub(super) struct ReadyQueue {
    header: NonNull<Header>,
}

// SAFETY: everything the handle and the wakers share is atomic (`AtomicWaker` is
// `Send + Sync`), and the handle's own operations that are not (taking the list,
// clearing a node) need `&mut self` or are only done by the owner.
unsafe impl Send for ReadyQueue {}
// SAFETY: as for `Send`: `&ReadyQueue` only reaches atomics and the `AtomicWaker`.
unsafe impl Sync for ReadyQueue {}

impl ReadyQueue {
    /// The wake-up state of `len ≥ 1` futures, every one of them queued (in index
    /// order) for its first poll.
    pub(super) fn new(len: usize) -> Self {
        debug_assert!(len > 0);
        let layout = layout(len);
        // SAFETY: the layout has a non-zero size (the header is not empty).
        let raw = unsafe { alloc::alloc::alloc(layout) };
        let Some(header) = NonNull::new(raw.cast::<Header>()) else {
            alloc::alloc::handle_alloc_error(layout)
        };
        // SAFETY: the allocation is large enough and aligned for the header; the
        // nodes start at `NODES`, aligned (`NODES` is a multiple of their alignment,
        // and the allocation is aligned for both).
        unsafe {
            header.as_ptr().write(Header {
                refs: AtomicUsize::new(1),
                head: AtomicUsize::new(1),
                task: AtomicWaker::new(),
                len,
            });
            let nodes = raw.add(NODES).cast::<Node>();
            for index in 0..len {
                let next = if index + 1 < len { index + 2 } else { 0 };
                nodes.add(index).write(Node {
                    state: AtomicUsize::new(QUEUED | next << 1),
                    index,
                });
            }
        }
        ReadyQueue { header }
    }

    fn header(&self) -> &Header {
        // SAFETY: the handle owns a reference, so the header is alive and initialised.
        unsafe { self.header.as_ref() }
    }

    /// Node `index`, as a pointer with the provenance of the whole allocation.
    fn node(&self, index: usize) -> *const Node {
        assert!(index < self.header().len);
        let header = self.header.as_ptr().cast::<u8>();
        // SAFETY: in bounds of the allocation (`index < len`), see `new`.
        unsafe { header.add(NODES).cast::<Node>().add(index) }
    }

    /// Registers the task to wake when a future is woken.
    #[inline]
    pub(super) fn register(&self, waker: &Waker) {
        self.header().task.register(waker);
    }

    /// Drops the task's waker, so that wakers kept past the group keep nothing of
    /// the task alive.
    pub(super) fn forget_task(&self) {
        drop(self.header().task.take());
    }

    /// Takes every node queued so far: the first link of the list, 0 if none.
    #[inline]
    pub(super) fn take(&mut self) -> usize {
        // Acquire: pairs with the `Release` of each push, so the nodes' links (and
        // what the wakers did before waking) are seen.
        self.header().head.swap(0, Ordering::Acquire)
    }

    /// Takes the node at `link` (non-zero, from [`take`](Self::take) or a previous
    /// `pop`) off its list: its index, and the link to the rest of the list. The
    /// node is no longer queued: a wake-up from now on queues it again.
    #[inline]
    pub(super) fn pop(&mut self, link: usize) -> (usize, usize) {
        let index = link - 1;
        // SAFETY: the node is alive while the handle is.
        let node = unsafe { &*self.node(index) };
        // AcqRel: sees what a waker that found the node already queued did before.
        let state = node.state.swap(0, Ordering::AcqRel);
        debug_assert!(state & QUEUED != 0, "a node on the list is queued");
        (index, state >> 1)
    }

    /// A waker for future `index`, borrowed from this handle's reference (so
    /// making it costs nothing; cloning it counts a reference).
    #[inline]
    pub(super) fn waker(&self, index: usize) -> ManuallyDrop<Waker> {
        let raw = RawWaker::new(self.node(index).cast(), &VTABLE);
        // SAFETY: `VTABLE`'s functions are thread-safe and expect a pointer to a
        // node; the `ManuallyDrop` never releases the reference it did not take,
        // and the handle's reference keeps the node alive while it is borrowed.
        ManuallyDrop::new(unsafe { Waker::from_raw(raw) })
    }
}

impl Drop for ReadyQueue {
    fn drop(&mut self) {
        self.forget_task();
        // SAFETY: the handle's reference is given up here, once.
        unsafe { release(self.header.as_ptr()) };
    }
}

/// The header of the allocation that holds `node`.
///
/// # Safety
///
/// `node` points to a live node, with the provenance of its whole allocation.
unsafe fn header_of(node: *const Node) -> *const Header {
    // SAFETY: the caller's; the node's index is written once, before any waker.
    unsafe {
        let index = (*node).index;
        node.sub(index).cast::<u8>().sub(NODES).cast::<Header>()
    }
}

/// Gives up one reference; the last one frees the allocation.
///
/// # Safety
///
/// The caller owns a reference and does not use it after.
unsafe fn release(header: *const Header) {
    // SAFETY: the caller's reference keeps the header alive until this decrement.
    // Release: every use of the allocation by this reference happens before the
    // free (as in `Arc::drop`).
    if unsafe { (*header).refs.fetch_sub(1, Ordering::Release) } != 1 {
        return;
    }
    fence(Ordering::Acquire);
    // SAFETY: this was the last reference: nothing else can reach the allocation.
    // It was made by `ReadyQueue::new` with `layout(len)`; the header and the
    // nodes are dropped in place (the task's waker, loom's atomics), then freed.
    unsafe {
        let len = (*header).len;
        let header = header.cast_mut();
        let nodes = header.cast::<u8>().add(NODES).cast::<Node>();
        ptr::drop_in_place(ptr::slice_from_raw_parts_mut(nodes, len));
        ptr::drop_in_place(header);
        alloc::alloc::dealloc(header.cast(), layout(len));
    }
}

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);

/// # Safety (all four)
///
/// `data` is a waker's pointer to its node; the waker owns a reference (or, for
/// `clone` and `wake_by_ref`, borrows one that is alive).
unsafe fn clone(data: *const ()) -> RawWaker {
    // SAFETY: the caller's: the node and its header are alive.
    let header = unsafe { &*header_of(data.cast()) };
    // Relaxed: a new reference is made from one that is held (as `Arc::clone`).
    if header.refs.fetch_add(1, Ordering::Relaxed) >= MAX_REFS {
        header.refs.fetch_sub(1, Ordering::Relaxed);
        panic!("too many wakers of one group of cleanups");
    }
    RawWaker::new(data, &VTABLE)
}

unsafe fn wake(data: *const ()) {
    // SAFETY: the caller's; the reference is given up after its use.
    unsafe {
        wake_by_ref(data);
        drop_waker(data);
    }
}

unsafe fn wake_by_ref(data: *const ()) {
    let node = data.cast::<Node>();
    // SAFETY: the caller's: the node and its header are alive.
    let (node, header) = unsafe { (&*node, &*header_of(node)) };
    // Release: what the waker did before is seen by the task when it clears the
    // bit (if the node was queued already) or takes the list (if this pushes it).
    if node.state.fetch_or(QUEUED, Ordering::Release) & QUEUED != 0 {
        return;
    }
    // This call owns the link now: push the node.
    let link = node.index + 1;
    let mut head = header.head.load(Ordering::Relaxed);
    loop {
        node.state.store(QUEUED | head << 1, Ordering::Relaxed);
        // Release: publishes the link (and what the waker did) to the `take`.
        match header
            .head
            .compare_exchange_weak(head, link, Ordering::Release, Ordering::Relaxed)
        {
            Ok(_) => break,
            Err(now) => head = now,
        }
    }
    if head == 0 {
        // The list was empty: the task may be waiting.
        header.task.wake();
    }
}

unsafe fn drop_waker(data: *const ()) {
    // SAFETY: the caller's: this waker's reference, given up once.
    unsafe { release(header_of(data.cast())) };
}

#[cfg(all(test, not(asyncdrop_loom)))]
mod tests {
    extern crate std;

    use alloc::sync::Arc;
    use alloc::vec::Vec;
    use core::sync::atomic::{AtomicUsize, Ordering};
    use core::task::Waker;
    use std::thread;

    use super::ReadyQueue;

    /// Counts the wake-ups of the task.
    struct Task(AtomicUsize);

    impl alloc::task::Wake for Task {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn task() -> (Arc<Task>, Waker) {
        let task = Arc::new(Task(AtomicUsize::new(0)));
        (task.clone(), Waker::from(task))
    }

    /// Every index on the list `link` starts, in order.
    fn drain(queue: &mut ReadyQueue, mut link: usize) -> Vec<usize> {
        let mut indices = Vec::new();
        while link != 0 {
            let (index, rest) = queue.pop(link);
            indices.push(index);
            link = rest;
        }
        indices
    }

    #[test]
    fn every_node_starts_queued_in_order_then_only_the_woken_ones() {
        let mut queue = ReadyQueue::new(4);
        let (task, waker) = task();
        queue.register(&waker);
        let first = queue.take();
        assert_eq!(drain(&mut queue, first), [0, 1, 2, 3]);
        assert_eq!(queue.take(), 0, "nothing woken yet");

        queue.waker(2).wake_by_ref();
        queue.waker(2).wake_by_ref(); // already queued: not twice
        queue.waker(0).wake_by_ref();
        assert_eq!(
            task.0.load(Ordering::SeqCst),
            1,
            "the first push wakes the task"
        );
        let link = queue.take();
        assert_eq!(drain(&mut queue, link), [0, 2]);

        // A clone outlives the queue; waking it then does nothing, and dropping it
        // frees the block.
        let kept = Waker::clone(&queue.waker(3));
        drop(queue);
        kept.wake_by_ref();
        kept.wake();
        assert_eq!(
            task.0.load(Ordering::SeqCst),
            1,
            "the queue forgot the task"
        );
    }

    #[test]
    fn wakers_from_other_threads_queue_each_node_once_per_wake_up() {
        const LEN: usize = if cfg!(miri) { 8 } else { 256 };
        const ROUNDS: usize = if cfg!(miri) { 3 } else { 50 };
        let mut queue = ReadyQueue::new(LEN);
        let (_task, waker) = task();
        queue.register(&waker);
        let link = queue.take();
        assert_eq!(drain(&mut queue, link).len(), LEN);
        for _ in 0..ROUNDS {
            // Two threads wake every node once (through clones, consumed or not);
            // the owner takes what is queued meanwhile.
            let wakers: Vec<Waker> = (0..LEN).map(|i| Waker::clone(&queue.waker(i))).collect();
            let (even, odd): (Vec<_>, Vec<_>) = wakers
                .into_iter()
                .enumerate()
                .partition(|(i, _)| i % 2 == 0);
            let threads = [even, odd].map(|half| {
                thread::spawn(move || {
                    for (i, waker) in half {
                        if i % 4 < 2 {
                            waker.wake();
                        } else {
                            waker.wake_by_ref();
                        }
                    }
                })
            });
            let mut seen = Vec::new();
            while seen.len() < LEN {
                let link = queue.take();
                seen.extend(drain(&mut queue, link));
                thread::yield_now();
            }
            for t in threads {
                t.join().unwrap();
            }
            seen.sort_unstable();
            assert!(seen.iter().copied().eq(0..LEN), "each woken node once");
            assert_eq!(queue.take(), 0);
        }
    }
}
