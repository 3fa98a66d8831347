//! Blocking the current thread on a future, for a bounded time, without a runtime.
#![cfg_attr(
    not(feature = "rt"),
    allow(dead_code, reason = "`wait_for` is used by the runtime adapters")
)]

use alloc::sync::Arc;
use alloc::task::Wake;
use core::cell::Cell;
use core::future::Future;
use core::pin::Pin;
use core::sync::atomic::{AtomicBool, Ordering};
use core::task::{Context, Poll, Waker};
use core::time::Duration;
use std::thread::{self, Thread};
use std::time::Instant;

/// Wakes a parked thread, and notes that it did.
pub(crate) struct Unpark {
    thread: Thread,
    woken: AtomicBool,
}

impl Unpark {
    /// A waker of the current thread.
    pub(crate) fn current() -> Arc<Self> {
        Arc::new(Unpark {
            thread: thread::current(),
            woken: AtomicBool::new(false),
        })
    }
}

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

/// Each thread's waker for [`wait_for`], made once; `busy` while a wait uses it.
struct Parker {
    unpark: Arc<Unpark>,
    waker: Waker,
    busy: Cell<bool>,
}

std::thread_local! {
    static PARKER: Parker = {
        let unpark = Unpark::current();
        Parker { waker: Waker::from(Arc::clone(&unpark)), unpark, busy: Cell::new(false) }
    };
}

/// Frees the thread's waker when a wait ends, also by a panic.
struct Free<'a>(&'a Cell<bool>);

impl Drop for Free<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

/// Polls `future` on this thread, parking in between, until it is ready or `limit`
/// has passed (`None`; `Duration::MAX` waits for ever). Only for futures that are
/// driven elsewhere (a cleanup whose runtime has threads of its own, a handle to a
/// task on another thread): nothing here drives I/O or timers.
///
/// A future that woke itself is polled again at once: a cleanup that only yields
/// costs no clock read and no system call.
pub(crate) fn wait_for<F: Future + Unpin>(future: &mut F, limit: Duration) -> Option<F::Output> {
    let waited = PARKER.try_with(|parker| {
        if parker.busy.replace(true) {
            return None; // a wait inside a wait: the outer one keeps its waker
        }
        let _free = Free(&parker.busy);
        Some(park_until_ready(
            future,
            limit,
            &parker.unpark,
            &parker.waker,
        ))
    });
    match waited {
        Ok(Some(output)) => output,
        // Nested, or the thread's locals are gone: a waker of its own.
        Ok(None) | Err(_) => {
            let unpark = Unpark::current();
            park_until_ready(future, limit, &unpark, &Waker::from(Arc::clone(&unpark)))
        }
    }
}

fn park_until_ready<F: Future + Unpin>(
    future: &mut F,
    limit: Duration,
    unpark: &Unpark,
    waker: &Waker,
) -> Option<F::Output> {
    let mut cx = Context::from_waker(waker);
    // Read the clock only once the future has to wait, or did not finish after
    // waking itself once.
    let mut deadline: Option<Option<Instant>> = None;
    let mut polls = 0u32;
    loop {
        unpark.woken.store(false, Ordering::Relaxed);
        if let Poll::Ready(output) = Pin::new(&mut *future).poll(&mut cx) {
            return Some(output);
        }
        polls += 1;
        if polls == 1 && unpark.woken.swap(false, Ordering::Acquire) {
            continue;
        }
        // `None` inside: a limit too large for the clock, no limit.
        match *deadline.get_or_insert_with(|| Instant::now().checked_add(limit)) {
            None => thread::park(),
            Some(deadline) => {
                let now = Instant::now();
                if now >= deadline {
                    return None;
                }
                thread::park_timeout(deadline - now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::future::poll_fn;
    use std::sync::Mutex;

    /// Ready once another thread has woken it, `delay` after its first poll.
    fn woken_later(delay: Duration) -> impl Future<Output = u8> + Unpin {
        let state = Arc::new(Mutex::new((false, false))); // (started, ready)
        poll_fn(move |cx| {
            let mut guard = state.lock().unwrap();
            if guard.1 {
                return Poll::Ready(7);
            }
            if !core::mem::replace(&mut guard.0, true) {
                let (state, waker) = (Arc::clone(&state), cx.waker().clone());
                thread::spawn(move || {
                    thread::sleep(delay);
                    state.lock().unwrap().1 = true;
                    waker.wake();
                });
            }
            Poll::Pending
        })
    }

    #[test]
    fn a_future_that_woke_itself_is_polled_again_before_the_limit_counts() {
        let mut polls = 0;
        let mut yield_once = poll_fn(|cx| {
            polls += 1;
            if polls == 2 {
                return Poll::Ready("done");
            }
            cx.waker().wake_by_ref();
            Poll::Pending
        });
        assert_eq!(wait_for(&mut yield_once, Duration::ZERO), Some("done"));
        assert_eq!(polls, 2);
    }

    #[test]
    fn a_future_that_keeps_yielding_still_runs_out_of_time() {
        let mut polls = 0u32;
        let mut spinning = poll_fn(|cx| {
            polls += 1;
            cx.waker().wake_by_ref();
            Poll::<()>::Pending
        });
        assert_eq!(wait_for(&mut spinning, Duration::from_millis(5)), None);
        assert!(polls >= 2, "{polls}");
    }

    #[test]
    fn a_future_woken_from_another_thread_completes_and_no_limit_waits() {
        assert_eq!(
            wait_for(&mut woken_later(Duration::from_millis(2)), Duration::MAX),
            Some(7)
        );
        let mut never = poll_fn(|_| Poll::<()>::Pending);
        assert_eq!(wait_for(&mut never, Duration::from_millis(2)), None);
    }

    #[test]
    fn a_wait_inside_a_wait_has_a_waker_of_its_own() {
        let mut inner_done = None;
        let mut outer_wait = woken_later(Duration::from_millis(3));
        let mut outer = poll_fn(|cx| {
            if inner_done.is_none() {
                // The outer wait's waker is busy: the inner wait makes its own.
                assert!(PARKER.with(|parker| parker.busy.get()));
                inner_done = wait_for(&mut woken_later(Duration::from_millis(1)), Duration::MAX);
            }
            Pin::new(&mut outer_wait).poll(cx)
        });
        assert_eq!(wait_for(&mut outer, Duration::from_secs(60)), Some(7));
        assert_eq!(inner_done, Some(7));
        // The thread's waker is free again afterwards.
        assert!(PARKER.with(|parker| !parker.busy.get()));
    }
}
