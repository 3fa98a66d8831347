//! Model checking of `AsyncDropArc` with loom: clones cleaned up (or forgotten, or
//! unwrapped) on different threads, in every interleaving loom explores. The value's
//! cleanup or synchronous drop happens exactly once, and after every use of the
//! value through the other clones (a loom `UnsafeCell` read by the clones and
//! written by the cleanup and the drop: loom reports a data race if the share
//! counter's orderings did not order them).
//!
//! Run with:
//!
//! ```text
//! RUSTFLAGS="--cfg asyncdrop_loom" cargo test --release --test loom_arc
//! ```
#![cfg(asyncdrop_loom)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll};

use asyncdrop::{set_policy, AsyncDrop, AsyncDropArc, AsyncDropGuard, Policy};
use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

/// What happened to the resources of one model run.
#[derive(Default)]
struct Counters {
    cleanups: AtomicUsize,
    drops: AtomicUsize,
}

/// A resource whose state is read through the clones and written by its cleanup and
/// its drop.
struct Res {
    counters: Arc<Counters>,
    state: UnsafeCell<usize>,
}

// SAFETY: `state` is only read through shared references (by clones) and written
// by the cleanup and the drop, which own the value; `AsyncDropArc` must order those
// accesses, and loom checks that it does.
unsafe impl Sync for Res {}

impl Res {
    fn new(counters: &Arc<Counters>) -> AsyncDropGuard<Res> {
        AsyncDropGuard::new(Res {
            counters: counters.clone(),
            state: UnsafeCell::new(7),
        })
    }

    /// A use of the value through a shared reference.
    fn read(&self) -> usize {
        // SAFETY: read-only access; loom checks it does not race with the writes.
        self.state.with(|p| unsafe { *p })
    }

    fn write(&self) {
        // SAFETY: called by the owner of the value (cleanup or drop); loom checks
        // that no read races with it.
        self.state.with_mut(|p| unsafe { *p += 1 });
    }
}

impl AsyncDrop for Res {
    type Error = core::convert::Infallible;
    async fn async_drop_impl(self) -> Result<(), Self::Error> {
        self.write();
        self.counters.cleanups.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

impl Drop for Res {
    fn drop(&mut self) {
        self.write();
        self.counters.drops.fetch_add(1, Ordering::SeqCst);
    }
}

/// Polls `fut` once with a no-op waker; every cleanup here finishes in one poll.
fn now<F: Future>(fut: F) -> F::Output {
    let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
    match pin!(fut).poll(&mut cx) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("cleanup not ready after one poll"),
    }
}

/// Uses a clone, then cleans it up (running the value's cleanup if it was the last
/// clone).
fn use_and_clean_up(clone: AsyncDropGuard<AsyncDropArc<Res>>) {
    assert_eq!(clone.read(), 7);
    now(clone.async_drop()).unwrap();
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    // Forgotten guards are expected in some models; nothing else is reported.
    set_policy(Policy::Ignore);
    loom::model(f);
}

#[test]
fn two_clones_on_two_threads() {
    model(|| {
        let counters = Arc::new(Counters::default());
        let a = AsyncDropArc::new(Res::new(&counters));
        let b = AsyncDropArc::clone(&a);
        let t = thread::spawn(move || use_and_clean_up(b));
        use_and_clean_up(a);
        t.join().unwrap();
        assert_eq!(counters.cleanups.load(Ordering::SeqCst), 1);
        assert_eq!(counters.drops.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn three_clones_on_three_threads() {
    model(|| {
        let counters = Arc::new(Counters::default());
        let a = AsyncDropArc::new(Res::new(&counters));
        let b = AsyncDropArc::clone(&a);
        let c = AsyncDropArc::clone(&a);
        let tb = thread::spawn(move || use_and_clean_up(b));
        let tc = thread::spawn(move || use_and_clean_up(c));
        use_and_clean_up(a);
        tb.join().unwrap();
        tc.join().unwrap();
        assert_eq!(counters.cleanups.load(Ordering::SeqCst), 1);
        assert_eq!(counters.drops.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn one_clone_forgotten_while_two_are_cleaned_up() {
    model(|| {
        let counters = Arc::new(Counters::default());
        let a = AsyncDropArc::new(Res::new(&counters));
        let b = AsyncDropArc::clone(&a);
        let c = AsyncDropArc::clone(&a);
        let tb = thread::spawn(move || use_and_clean_up(b));
        let tc = thread::spawn(move || {
            assert_eq!(c.read(), 7);
            drop(c); // forgotten: gives its share up synchronously
        });
        use_and_clean_up(a);
        tb.join().unwrap();
        tc.join().unwrap();
        // If the forgotten clone was the last, the value was dropped without
        // cleanup; otherwise the last cleanup ran. Either way: once.
        assert!(counters.cleanups.load(Ordering::SeqCst) <= 1);
        assert_eq!(counters.drops.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn try_unwrap_races_a_cleanup() {
    model(|| {
        let counters = Arc::new(Counters::default());
        let a = AsyncDropArc::new(Res::new(&counters));
        let b = AsyncDropArc::clone(&a);
        let t = thread::spawn(move || use_and_clean_up(b));
        match AsyncDropArc::try_unwrap(a) {
            // `b` was already given up: the value is ours, not yet cleaned up.
            Ok(value) => {
                assert_eq!(counters.cleanups.load(Ordering::SeqCst), 0);
                value.write();
                now(value.async_drop()).unwrap();
            }
            Err(a) => use_and_clean_up(a),
        }
        t.join().unwrap();
        assert_eq!(counters.cleanups.load(Ordering::SeqCst), 1);
        assert_eq!(counters.drops.load(Ordering::SeqCst), 1);
    });
}
