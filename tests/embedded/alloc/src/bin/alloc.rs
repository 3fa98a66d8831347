//! `alloc` on bare metal, with a heap from embedded-alloc: a collection,
//! `AsyncDropArc` (and its weak handle), the mutex under contention and type-erased
//! cleanup. `ci/embedded.sh` compares the output with `expected/alloc.txt` and wants
//! exit status 0; the heap must be empty again at the end.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::vec::Vec;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicU32, Ordering};

use asyncdrop::collections::AsyncDropVec;
use asyncdrop::{
    async_drop_all, AsyncDrop, AsyncDropArc, AsyncDropGuard, AsyncDropMutex, LocalAsyncDrop,
    LocalDynAsyncDrop,
};
use asyncdrop_fw_support::{block_on, check, check_eq, exit, println, PendingOnce, Suspend};
use cortex_m_rt::entry;
use embedded_alloc::LlffHeap as Heap;
use futures_util::future::join;

#[global_allocator]
static HEAP: Heap = Heap::empty();
const HEAP_SIZE: usize = 4096;

/// Cleanups that completed. Load and store only: one thread, and thumbv6m has no
/// read-modify-write atomics of its own.
static CLOSED: AtomicU32 = AtomicU32::new(0);

fn closed() -> u32 {
    CLOSED.load(Ordering::Relaxed)
}

fn bump() {
    CLOSED.store(closed() + 1, Ordering::Relaxed);
}

#[derive(Debug, PartialEq)]
struct CloseError(u8);

/// A connection whose cleanup suspends twice, then fails if its id is odd.
struct Conn(u8);

impl AsyncDrop for Conn {
    type Error = CloseError;
    async fn async_drop_impl(self) -> Result<(), CloseError> {
        Suspend(2).await;
        bump();
        if self.0 % 2 == 1 {
            Err(CloseError(self.0))
        } else {
            Ok(())
        }
    }
}

/// A log whose cleanup checks what was written to it.
struct Log {
    lines: Vec<&'static str>,
}

impl AsyncDrop for Log {
    type Error = CloseError;
    async fn async_drop_impl(self) -> Result<(), CloseError> {
        Suspend(1).await;
        bump();
        check_eq!(self.lines, ["a: first", "a: second", "b: only"]);
        Ok(())
    }
}

/// A `!Send` resource: an `Rc` inside.
struct Journal(Rc<u8>);

impl LocalAsyncDrop for Journal {
    type Error = u8;
    async fn local_async_drop_impl(self) -> Result<(), u8> {
        Suspend(1).await;
        bump();
        Err(*self.0)
    }
}

impl From<u8> for CloseError {
    fn from(code: u8) -> Self {
        CloseError(code)
    }
}

#[entry]
fn main() -> ! {
    // `#[entry]` makes this a `&'static mut` to memory nothing else can reach.
    static mut HEAP_MEM: [MaybeUninit<u8>; HEAP_SIZE] = [MaybeUninit::uninit(); HEAP_SIZE];
    // SAFETY: called once, before anything allocates, with memory only the heap uses.
    unsafe { HEAP.init(HEAP_MEM.as_mut_ptr() as usize, HEAP_SIZE) };

    // A collection: a removed element comes back as a guard; the rest are cleaned up
    // concurrently, every error kept.
    let mut pool = AsyncDropVec::new();
    for id in [2, 3, 4, 5] {
        pool.push(AsyncDropGuard::new(Conn(id)));
    }
    let removed = pool.remove(0);
    check_eq!(block_on(removed.async_drop()).0, Ok(()));
    let err = block_on(pool.async_drop()).0.unwrap_err();
    check_eq!(err.len(), 2);
    check_eq!(err.first(), &CloseError(3));
    check_eq!(err.into_vec(), [CloseError(3), CloseError(5)]);
    check_eq!(closed(), 4);
    println!("collection: 4 cleaned up, 2 errors kept");

    // Shared ownership: only the last clone's cleanup runs the value's.
    let a = AsyncDropArc::new(AsyncDropGuard::new(Conn(6)));
    let b = AsyncDropArc::clone(&a);
    let weak = AsyncDropArc::downgrade(&a);
    check_eq!(AsyncDropArc::strong_count(&a), 2);
    check_eq!(block_on(b.async_drop()).0, Ok(()));
    check_eq!(closed(), 4);
    let upgraded = weak.upgrade().unwrap(); // a clone again, to clean up too
    check_eq!(AsyncDropArc::strong_count(&upgraded), 2);
    check_eq!(block_on(upgraded.async_drop()).0, Ok(()));
    check_eq!(closed(), 4);
    check_eq!(block_on(a.async_drop()).0, Ok(()));
    check_eq!(closed(), 5);
    check!(weak.upgrade().is_none());
    drop(weak);
    println!("AsyncDropArc: the last of 3 clones cleaned up, once; its weak handle expired");

    // The mutex, shared by two futures: `b` waits while `a` holds the lock across
    // suspension points, and is woken by `a` releasing it.
    let log = AsyncDropArc::new(AsyncDropMutex::new(AsyncDropGuard::new(Log {
        lines: Vec::new(),
    })));
    let other = AsyncDropArc::clone(&log);
    let task_a = async {
        let mut lines = AsyncDropMutex::lock(&log).await;
        lines.lines.push("a: first");
        Suspend(3).await;
        lines.lines.push("a: second");
        drop(lines);
        // Only the release's wake-up of `b` lets `block_on` poll again.
        PendingOnce(false).await;
    };
    let task_b = async {
        Suspend(1).await;
        check!(AsyncDropMutex::try_lock(&other).is_none());
        AsyncDropMutex::lock(&other).await.lines.push("b: only");
    };
    let (_, polls) = block_on(join(task_a, task_b));
    check_eq!(polls, 5);
    check_eq!(block_on(other.async_drop()).0, Ok(()));
    check_eq!(block_on(log.async_drop()).0, Ok(()));
    check_eq!(closed(), 6);
    println!("mutex: 2 lockers in order, cleaned up by the last clone");

    // Type-erased cleanup: a `Send` and a `!Send` resource in one array.
    let erased: [AsyncDropGuard<Box<dyn LocalDynAsyncDrop<CloseError>>>; 2] = [
        AsyncDropGuard::into_local_dyn(AsyncDropGuard::new(Conn(7))),
        AsyncDropGuard::into_local_dyn(AsyncDropGuard::new(Journal(Rc::new(9)))),
    ];
    let err = block_on(async_drop_all(erased)).0.unwrap_err();
    check_eq!(err.into_array(), [Some(CloseError(7)), Some(CloseError(9))]);
    check_eq!(closed(), 8);
    println!("type-erased: 2 cleaned up, 2 errors kept");

    check_eq!(HEAP.used(), 0);
    println!("alloc: all passed, heap empty");
    exit(true)
}
