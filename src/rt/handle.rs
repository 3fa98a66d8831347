//! A cleanup running away from its owner, and the handle that waits for it.

use alloc::sync::Arc;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::error::{BackgroundError, CleanupPanic};
use crate::outcome::{catch_cleanup, Origin, Outcome};
use crate::{AsyncDropGuard, LocalAsyncDrop};

/// Waits for a cleanup that runs in the background, and gets its result.
///
/// Returned by [`spawn_async_drop_on`](super::spawn_async_drop_on) and each
/// runtime's `spawn_async_drop`. Exactly one party hears about a failure: awaiting
/// the handle returns it as a [`BackgroundError`]; once the handle is dropped
/// (awaited or not), an error or panic nobody received goes to the
/// [`Policy`](crate::Policy).
///
/// # Drop behaviour
///
/// Dropping the handle (or an `.await` on it) detaches the cleanup: it goes on in
/// the background, never cancelled by that.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "tokio")] {
/// use asyncdrop::rt::tokio::spawn_async_drop;
/// use asyncdrop::AsyncDropGuard;
///
/// # use asyncdrop::doc_fixture::Conn;
/// tokio::runtime::Runtime::new()?.block_on(async {
///     let handle = spawn_async_drop(AsyncDropGuard::new(Conn))?;
///     assert!(handle.await.is_ok()); // the cleanup finished, without error
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "dropping the handle detaches the cleanup; `.await` it to know when it finished"]
pub struct CleanupHandle<T: LocalAsyncDrop> {
    shared: Arc<Shared<T::Error>>,
    origin: Origin,
    /// Reports an outcome nobody received (made where `T::Error: Debug` is known).
    report: fn(&Outcome<T::Error>, Origin),
    /// The result was handed out.
    done: bool,
}

struct Shared<E> {
    slot: Mutex<Slot<E>>,
}

enum Slot<E> {
    /// The cleanup runs; the handle waits (with this waker, once it polled).
    Running(Option<Waker>),
    /// The cleanup finished; the outcome waits for the handle.
    Finished(Outcome<E>),
    /// The cleanup's future was dropped before it finished.
    Cancelled,
    /// The handle is gone (or took the result): the cleanup reports for itself.
    Detached,
}

impl<E> Shared<E> {
    fn lock(&self) -> MutexGuard<'_, Slot<E>> {
        // Nothing panics while the lock is held; tolerate poisoning anyway.
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The cleanup's end of a [`CleanupHandle`]: delivers the outcome, or (dropped
/// unfinished) the cancellation.
struct Completer<E: fmt::Debug> {
    shared: Arc<Shared<E>>,
    origin: Origin,
    completed: bool,
}

impl<E: fmt::Debug> Completer<E> {
    fn complete(mut self, outcome: Outcome<E>) {
        self.completed = true;
        let mut slot = self.shared.lock();
        match core::mem::replace(&mut *slot, Slot::Detached) {
            Slot::Running(waker) => {
                *slot = Slot::Finished(outcome);
                drop(slot);
                if let Some(waker) = waker {
                    waker.wake();
                }
            }
            Slot::Finished(_) | Slot::Cancelled | Slot::Detached => {
                // Nobody will read it: say it here.
                drop(slot);
                outcome.report(self.origin);
            }
        }
    }
}

impl<E: fmt::Debug> Drop for Completer<E> {
    fn drop(&mut self) {
        if self.completed {
            return;
        }
        let mut slot = self.shared.lock();
        if let Slot::Running(waker) = core::mem::replace(&mut *slot, Slot::Cancelled) {
            drop(slot);
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }
}

/// Splits the cleanup of `guard` into the future that runs it (to be spawned, or
/// driven on another thread) and the handle that waits for it.
///
/// The cleanup future is created now: dropping the returned future unpolled reports
/// the cleanup as cancelled.
pub(crate) fn detached<T: LocalAsyncDrop<Error: fmt::Debug> + 'static>(
    guard: AsyncDropGuard<T>,
) -> (impl Future<Output = ()> + 'static, CleanupHandle<T>) {
    let (origin, cleanup) = catch_cleanup(guard);
    let shared = Arc::new(Shared {
        slot: Mutex::new(Slot::Running(None)),
    });
    let completer = Completer {
        shared: Arc::clone(&shared),
        origin,
        completed: false,
    };
    let task = async move {
        let completer = completer;
        let outcome = cleanup.await;
        completer.complete(outcome);
    };
    let handle = CleanupHandle {
        shared,
        origin,
        report: Outcome::report,
        done: false,
    };
    (task, handle)
}

impl<T: LocalAsyncDrop> CleanupHandle<T> {
    /// Whether the cleanup has finished (or was cancelled): awaiting the handle then
    /// returns at once.
    pub fn is_finished(&self) -> bool {
        !matches!(*self.shared.lock(), Slot::Running(_))
    }

    /// The name of the guarded type whose cleanup this handle waits for.
    pub fn type_name(&self) -> &'static str {
        self.origin.type_name
    }
}

impl<T: LocalAsyncDrop> Future for CleanupHandle<T> {
    type Output = Result<(), BackgroundError<T::Error>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        assert!(!this.done, "`CleanupHandle` polled after completion");
        let mut slot = this.shared.lock();
        let type_name = this.origin.type_name;
        let result = match core::mem::replace(&mut *slot, Slot::Detached) {
            Slot::Running(waker) => {
                let waker = match waker {
                    Some(waker) if waker.will_wake(cx.waker()) => waker,
                    _ => cx.waker().clone(),
                };
                *slot = Slot::Running(Some(waker));
                return Poll::Pending;
            }
            Slot::Finished(Outcome::Cleaned) => Ok(()),
            Slot::Finished(Outcome::Failed(error)) => Err(BackgroundError::Failed(error)),
            Slot::Finished(Outcome::Panicked(payload)) => Err(BackgroundError::Panicked(
                CleanupPanic::new(type_name, payload),
            )),
            Slot::Cancelled => Err(BackgroundError::Cancelled { type_name }),
            Slot::Detached => unreachable!("only the handle detaches the slot"),
        };
        drop(slot);
        this.done = true;
        Poll::Ready(result)
    }
}

impl<T: LocalAsyncDrop> futures_core::FusedFuture for CleanupHandle<T> {
    fn is_terminated(&self) -> bool {
        self.done
    }
}

impl<T: LocalAsyncDrop> Drop for CleanupHandle<T> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut slot = self.shared.lock();
        let previous = core::mem::replace(&mut *slot, Slot::Detached);
        drop(slot);
        if let Slot::Finished(outcome) = previous {
            (self.report)(&outcome, self.origin);
        }
    }
}

impl<T: LocalAsyncDrop> fmt::Debug for CleanupHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CleanupHandle")
            .field("type", &self.origin.type_name)
            .field("finished", &self.is_finished())
            .field("done", &self.done)
            .finish()
    }
}
