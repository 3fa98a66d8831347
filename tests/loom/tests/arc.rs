//! Model checking of `AsyncDropArc` and `AsyncDropWeak` with loom. A loom `UnsafeCell`,
//! read by the clones and written by the cleanup and the drop, makes loom report a data
//! race if the reference counting did not order them. Loom cannot look into std's `Arc`
//! and its own has no `into_inner` or `Weak`: under `--cfg asyncdrop_loom` the crate
//! builds on a model of std's counting protocol (`src/arc/loom_model.rs`) instead.
//! Run: `RUSTFLAGS="--cfg asyncdrop_loom" cargo test --release -p asyncdrop-loom --test arc`
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

/// A resource whose state is read through the clones and written by its cleanup and drop.
struct Res {
    counters: Arc<Counters>,
    state: UnsafeCell<usize>,
}

// SAFETY: `state` is read through clones and written by the owner of the value (its
// cleanup or drop); `AsyncDropArc` must order those accesses, and loom checks it does.
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
        // SAFETY: called by the value's owner (cleanup or drop); loom checks no read races.
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

/// Uses a clone, then cleans it up (running the value's cleanup if it was the last).
fn use_and_clean_up(clone: AsyncDropGuard<AsyncDropArc<Res>>) {
    assert_eq!(clone.read(), 7);
    now(clone.async_drop()).unwrap();
}

type Shared = AsyncDropGuard<AsyncDropArc<Res>>;

/// Explores `f` (given the first clone of a fresh value) in every interleaving; then the
/// value was cleaned up `cleanups` times (`None`: at most once) and dropped once.
fn model(cleanups: Option<usize>, f: impl Fn(&Arc<Counters>, Shared) + Sync + Send + 'static) {
    // Forgotten guards are expected in some models; nothing else is reported.
    set_policy(Policy::Ignore);
    loom::model(move || {
        let counters = Arc::new(Counters::default());
        f(&counters, AsyncDropArc::new(Res::new(&counters)));
        let ran = counters.cleanups.load(Ordering::SeqCst);
        assert!(cleanups.map_or(ran <= 1, |n| ran == n), "{ran} cleanups");
        assert_eq!(counters.drops.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn clones_cleaned_up_forgotten_unwrapped_given_up_or_upgraded_on_other_threads() {
    model(Some(1), |_, a| {
        let b = AsyncDropArc::clone(&a);
        let t = thread::spawn(move || use_and_clean_up(b));
        use_and_clean_up(a);
        t.join().unwrap();
    });

    model(Some(1), |_, a| {
        let b = AsyncDropArc::clone(&a);
        let c = AsyncDropArc::clone(&a);
        let tb = thread::spawn(move || use_and_clean_up(b));
        let tc = thread::spawn(move || use_and_clean_up(c));
        use_and_clean_up(a);
        tb.join().unwrap();
        tc.join().unwrap();
    });

    model(None, |_, a| {
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
        // Dropped without cleanup if the forgotten clone was last; either way: once.
    });

    model(Some(1), |counters, a| {
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
    });

    model(Some(1), |_, a| {
        let b = AsyncDropArc::clone(&a);
        let t = thread::spawn(move || use_and_clean_up(b));
        if let Some(value) = AsyncDropArc::into_inner(a) {
            // `b`'s cleanup gave its share up first, and did not run the cleanup.
            value.write();
            now(value.async_drop()).unwrap();
        }
        t.join().unwrap();
    });

    model(Some(1), |_, a| {
        let b = AsyncDropArc::clone(&a);
        let give_up = |clone: AsyncDropGuard<AsyncDropArc<Res>>| {
            assert_eq!(clone.read(), 7);
            match AsyncDropArc::into_inner(clone) {
                Some(value) => {
                    value.write();
                    now(value.async_drop()).unwrap();
                    true
                }
                None => false,
            }
        };
        let t = thread::spawn(move || give_up(b));
        let here = give_up(a);
        let there = t.join().unwrap();
        assert!(here ^ there, "exactly one gets the value");
    });

    model(Some(1), |counters, a| {
        let weak = AsyncDropArc::downgrade(&a);
        let c = counters.clone();
        let t = thread::spawn(move || match weak.upgrade() {
            Some(clone) => {
                // While a clone exists the cleanup cannot have begun; `read`
                // races with the cleanup's write if it had.
                assert_eq!(c.cleanups.load(Ordering::SeqCst), 0);
                use_and_clean_up(clone);
            }
            // Only once the last clone gave its share up.
            None => assert_eq!(weak.strong_count(), 0),
        });
        use_and_clean_up(a);
        t.join().unwrap();
        // Whoever was last ran the cleanup, once; the weak handle delayed nothing.
    });

    model(None, |_, a| {
        let weak = AsyncDropArc::downgrade(&a);
        let other = weak.clone();
        let t = thread::spawn(move || {
            if let Some(clone) = other.upgrade() {
                use_and_clean_up(clone);
            }
        });
        drop(a); // forgotten: the value goes unless the upgrade holds it
        t.join().unwrap();
        assert!(weak.upgrade().is_none());
    });
}
