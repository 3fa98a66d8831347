//! The engines: concurrent cleanup of many values in one task, and one-by-one
//! cleanup in a given order.

use alloc::vec::Vec;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use super::ready::ReadyQueue;
use super::CleanupErrors;
use crate::LocalAsyncDrop;

/// Cleans up every value of an iterator concurrently, in the current task, and
/// returns every error.
///
/// The items are anything that implements [`LocalAsyncDrop`]: guards
/// ([`AsyncDropGuard`](crate::AsyncDropGuard)), or bare values. The iterator is
/// consumed and every cleanup future created at once; they start when the returned
/// future is first polled and all run concurrently — nothing is spawned, no runtime
/// is needed. A failing cleanup does not stop the others.
///
/// A cleanup is polled again only after it has woken its waker, so `N` cleanups
/// that each wait `k` times cost `O(N·k)` polls, not `O(N²)`.
///
/// # Errors
///
/// If any cleanup failed, a [`CleanupErrors`] with every error, in iteration order
/// (not the order in which the cleanups finished).
///
/// # Cost
///
/// Two allocations for any `N ≥ 1` items of an iterator that knows its length (the
/// cleanups, and their wake-up state), a third for the errors if some fail; none
/// for no items, none per poll or wake-up.
///
/// # Cancel safety
///
/// Dropping the future drops the cleanups still in progress, each exactly once; the
/// items that are [`AsyncDropGuard`](crate::AsyncDropGuard)s report
/// [`ReportKind::Cancelled`](crate::ReportKind::Cancelled) each, also those whose
/// cleanup had not started yet; bare values report nothing. A panic inside one
/// cleanup propagates; the other items are dropped once, when the future is dropped.
///
/// # Examples
///
/// ```
/// use asyncdrop::collections::async_drop_iter;
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
///
/// struct Conn(u16);
/// impl AsyncDrop for Conn {
///     type Error = String;
///     async fn async_drop_impl(self) -> Result<(), String> {
///         if self.0 == 2 { Err("2: reset".into()) } else { Ok(()) }
///     }
/// }
///
/// # futures_executor::block_on(async {
/// let conns: Vec<AsyncDropGuard<Conn>> = (1..=3).map(|p| AsyncDropGuard::new(Conn(p))).collect();
/// let err = async_drop_iter(conns).await.unwrap_err();
/// assert_eq!(err.to_string(), "1 of 3 cleanups failed; [1]: 2: reset");
/// # });
/// ```
pub fn async_drop_iter<I>(
    iter: I,
) -> AsyncDropIter<I::Item, impl Future<Output = Result<(), <I::Item as LocalAsyncDrop>::Error>>>
where
    I: IntoIterator,
    I::Item: LocalAsyncDrop,
{
    AsyncDropIter::new(iter.into_iter().map(LocalAsyncDrop::local_async_drop_impl))
}

/// One cleanup's place: the cleanup while it runs (pinned here), then its error if
/// it failed.
enum Slot<F, E> {
    Running(F),
    Failed(E),
    Done,
}

/// The future returned by [`async_drop_iter`]: cleans up many values of type `T`
/// (whose cleanup future is `F`) concurrently.
///
/// See [`async_drop_iter`] for errors, cost and cancel safety.
///
/// # Examples
///
/// ```
/// use asyncdrop::collections::{async_drop_iter, AsyncDropIter};
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
/// # struct Conn;
/// # impl AsyncDrop for Conn {
/// #     type Error = core::convert::Infallible;
/// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
/// # }
///
/// use std::future::Future;
/// use core::convert::Infallible;
///
/// fn close_all(
///     conns: Vec<AsyncDropGuard<Conn>>,
/// ) -> AsyncDropIter<AsyncDropGuard<Conn>, impl Future<Output = Result<(), Infallible>>> {
///     async_drop_iter(conns)
/// }
/// futures_executor::block_on(close_all(vec![AsyncDropGuard::new(Conn)])).unwrap();
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct AsyncDropIter<T: LocalAsyncDrop, F> {
    /// One per item, in iteration order. Never resized, so that the cleanups stay
    /// where they are pinned; emptied when the cleanup completes.
    slots: Vec<Slot<F, T::Error>>,
    /// The cleanups' wakers and the list of those woken; `None` when there were no
    /// items or all are done.
    ready: Option<ReadyQueue>,
    /// What is left of the ready list taken last (a link: 0 when nothing is).
    batch: usize,
    total: usize,
    running: usize,
    failed: usize,
    done: bool,
}

impl<T, F> AsyncDropIter<T, F>
where
    T: LocalAsyncDrop,
    F: Future<Output = Result<(), T::Error>>,
{
    /// Takes the cleanup futures at once (so that dropping this future unpolled
    /// drops them, and guards among them report cancellation, not forgetting).
    pub(crate) fn new(cleanups: impl Iterator<Item = F>) -> Self {
        let slots: Vec<_> = cleanups.map(Slot::Running).collect();
        let total = slots.len();
        AsyncDropIter {
            ready: (total > 0).then(|| ReadyQueue::new(total)),
            slots,
            batch: 0,
            total,
            running: total,
            failed: 0,
            done: false,
        }
    }
}

/// Dropping the group drops every cleanup still in it, each exactly once, also when
/// a report panics (the default policy does): the first such panic is raised once,
/// after all of them are gone.
#[cfg(feature = "std")]
impl<T: LocalAsyncDrop, F> Drop for AsyncDropIter<T, F> {
    fn drop(&mut self) {
        let scope = crate::policy::DropScope::open(false);
        drop(core::mem::take(&mut self.slots));
        scope.end();
    }
}

/// The cleanups are pinned in `slots`' heap buffer, which never moves.
impl<T: LocalAsyncDrop, F> Unpin for AsyncDropIter<T, F> {}

impl<T, F> Future for AsyncDropIter<T, F>
where
    T: LocalAsyncDrop,
    F: Future<Output = Result<(), T::Error>>,
{
    type Output = Result<(), CleanupErrors<T::Error>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        assert!(!this.done, "`AsyncDropIter` polled after completion");
        if let Some(ready) = &mut this.ready {
            ready.register(cx.waker());
            // About one poll per running cleanup, then yield to the executor: a
            // cleanup that keeps waking itself cannot hold the task forever.
            let mut budget = this.running;
            let mut taken = false;
            loop {
                if this.batch == 0 {
                    if budget == 0 {
                        if !taken {
                            // What was queued before this poll was not taken.
                            cx.waker().wake_by_ref();
                        }
                        // Otherwise whatever was queued since the last take woke
                        // the task already.
                        return Poll::Pending;
                    }
                    this.batch = ready.take();
                    taken = true;
                    if this.batch == 0 {
                        return Poll::Pending;
                    }
                }
                let (index, rest) = ready.pop(this.batch);
                this.batch = rest;
                let slot = &mut this.slots[index];
                let Slot::Running(cleanup) = slot else {
                    continue; // woken after it finished
                };
                budget = budget.saturating_sub(1);
                let waker = ready.waker(index);
                // SAFETY: `slots` is never resized or moved out of before it is
                // dropped, so the cleanup stays where it is until it is dropped in
                // place (by the assignment below, or with `slots`). Pinning in the
                // one slice instead of boxing each cleanup: bench cases d1, d3, d4.
                let cleanup = unsafe { Pin::new_unchecked(cleanup) };
                if let Poll::Ready(result) = cleanup.poll(&mut Context::from_waker(&waker)) {
                    *slot = match result {
                        Ok(()) => Slot::Done,
                        Err(e) => {
                            this.failed += 1;
                            Slot::Failed(e)
                        }
                    };
                    this.running -= 1;
                    if this.running == 0 {
                        break;
                    }
                }
            }
            this.ready = None;
        }
        this.done = true;
        let slots = core::mem::take(&mut this.slots);
        let mut errors = Vec::new();
        if this.failed > 0 {
            errors.reserve_exact(this.failed);
            let failed = slots.into_iter().enumerate();
            errors.extend(failed.filter_map(|(index, slot)| match slot {
                Slot::Failed(e) => Some((index, e)),
                _ => None,
            }));
        }
        Poll::Ready(match CleanupErrors::new(errors, this.total) {
            None => Ok(()),
            Some(e) => Err(e),
        })
    }
}

impl<T, F> futures_core::FusedFuture for AsyncDropIter<T, F>
where
    T: LocalAsyncDrop,
    F: Future<Output = Result<(), T::Error>>,
{
    fn is_terminated(&self) -> bool {
        self.done
    }
}

impl<T: LocalAsyncDrop, F> fmt::Debug for AsyncDropIter<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncDropIter")
            .field("type", &core::any::type_name::<T>())
            .field("total", &self.total)
            .field("running", &self.running)
            .field("failed", &self.failed)
            .field("done", &self.done)
            .finish()
    }
}

/// Cleans up `items` one at a time, in the order given, continuing past failures.
///
/// `items` yields each value with its position in element order; `total` is the
/// number of items. Errors come back sorted by position.
pub(crate) async fn in_order<T, I>(items: I, total: usize) -> Result<(), CleanupErrors<T::Error>>
where
    T: LocalAsyncDrop,
    I: Iterator<Item = (usize, T)>,
{
    let mut errors = Vec::new();
    for (index, item) in items {
        if let Err(e) = item.local_async_drop_impl().await {
            errors.push((index, e));
        }
    }
    errors.sort_unstable_by_key(|(index, _)| *index);
    match CleanupErrors::new(errors, total) {
        None => Ok(()),
        Some(e) => Err(e),
    }
}
