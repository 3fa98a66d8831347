//! The engines: concurrent cleanup of many values in one task, and one-by-one
//! cleanup in a given order.

use alloc::vec::Vec;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use futures_util::stream::{FuturesUnordered, StreamExt};
use pin_project_lite::pin_project;

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
/// The whole cleanup is one pass: a cleanup is polled again only when it has woken
/// its waker (the cleanups run in a
/// [`FuturesUnordered`]), so `N` cleanups that each wait
/// `k` times cost `O(N·k)` polls, not `O(N²)`.
///
/// # Errors
///
/// If any cleanup failed, a [`CleanupErrors`] with every error, in iteration order
/// (not the order in which the cleanups finished).
///
/// # Cost
///
/// An empty iterator allocates nothing. Otherwise the cleanup allocates `N + 2`
/// times for `N` items: one task node per item plus two shared nodes of the
/// [`FuturesUnordered`] that runs them (no allocation per poll or per wake-up beyond
/// what the executor's waker does when cloned). When `k ≥ 1` cleanups fail, the
/// list of errors adds the allocations of a `Vec` grown to `k` items (1 for the
/// first error, then amortised doubling: `O(log k)`).
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
    AsyncDropIter::new(iter.into_iter().map(LocalAsyncDrop::async_drop_impl))
}

pin_project! {
    /// A cleanup future tagged with its element's position.
    struct Indexed<F> {
        #[pin]
        future: F,
        index: usize,
    }
}

impl<F: Future> Future for Indexed<F> {
    type Output = (usize, F::Output);

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        this.future.poll(cx).map(|out| (*this.index, out))
    }
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
    /// The cleanups still running; `None` when there were none or all are done.
    running: Option<FuturesUnordered<Indexed<F>>>,
    /// `(position, error)` in the order the cleanups finished.
    errors: Vec<(usize, T::Error)>,
    total: usize,
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
        let mut cleanups = cleanups.enumerate();
        let running = cleanups.next().map(|(index, future)| {
            let running = FuturesUnordered::new();
            running.push(Indexed { future, index });
            for (index, future) in cleanups {
                running.push(Indexed { future, index });
            }
            running
        });
        AsyncDropIter {
            total: running.as_ref().map_or(0, FuturesUnordered::len),
            running,
            errors: Vec::new(),
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
        drop(self.running.take());
        scope.end();
    }
}

/// Nothing in it is pinned: `FuturesUnordered` pins each cleanup on the heap, and the
/// errors are plain values.
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
        if let Some(running) = &mut this.running {
            // `FuturesUnordered` polls only the cleanups that were woken, and returns
            // `Pending` (having woken us) when it yields to the executor.
            while let Some((index, result)) = core::task::ready!(running.poll_next_unpin(cx)) {
                if let Err(e) = result {
                    this.errors.push((index, e));
                }
            }
            this.running = None;
        }
        this.done = true;
        let mut errors = core::mem::take(&mut this.errors);
        // Positions are unique: an unstable sort is exact, and does not allocate.
        errors.sort_unstable_by_key(|(index, _)| *index);
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
            .field(
                "running",
                &self.running.as_ref().map_or(0, FuturesUnordered::len),
            )
            .field("failed", &self.errors.len())
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
        if let Err(e) = item.async_drop_impl().await {
            errors.push((index, e));
        }
    }
    errors.sort_unstable_by_key(|(index, _)| *index);
    match CleanupErrors::new(errors, total) {
        None => Ok(()),
        Some(e) => Err(e),
    }
}
