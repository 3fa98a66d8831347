//! Blocking the current thread on a future, for a bounded time, without a runtime.

use alloc::sync::Arc;
use alloc::task::Wake;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use core::time::Duration;
use std::thread::{self, Thread};
use std::time::Instant;

/// Wakes a parked thread.
pub(crate) struct Unpark(pub(crate) Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` on this thread, parking in between, until it is ready or `limit`
/// has passed (`None`). Only for futures that are driven elsewhere (a handle to a
/// task that runs on another thread): nothing here drives I/O or timers.
#[cfg_attr(
    not(feature = "rt"),
    allow(dead_code, reason = "used by the runtime adapters")
)]
pub(crate) fn wait_for<F: Future + Unpin>(future: &mut F, limit: Duration) -> Option<F::Output> {
    let deadline = Instant::now().checked_add(limit);
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = Pin::new(&mut *future).poll(&mut cx) {
            return Some(output);
        }
        match deadline {
            // A limit too large for the clock: no limit.
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
