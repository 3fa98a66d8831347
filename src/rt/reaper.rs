//! The runtime-neutral part of a cleanup worker ("reaper"): the job that travels
//! through the channel, the worker loop, and its statistics.

use core::fmt;
use core::future::poll_fn;
use core::panic::AssertUnwindSafe;
use core::pin::pin;
use core::task::Poll;
use std::panic::{catch_unwind, resume_unwind};

use futures_core::Stream;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};

use crate::outcome::{catch_cleanup, Outcome, Payload};
use crate::{AsyncDrop, AsyncDropGuard, LocalAsyncDrop};

/// What a cleanup worker did, returned when it stops.
///
/// Every value the worker took is counted exactly once, in one of the fields.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "tokio")] {
/// use asyncdrop::rt::tokio::Reaper;
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
///
/// struct Conn(bool);
/// impl AsyncDrop for Conn {
///     type Error = &'static str;
///     async fn async_drop_impl(self) -> Result<(), &'static str> {
///         if self.0 { Ok(()) } else { Err("reset") }
///     }
/// }
///
/// asyncdrop::set_policy(asyncdrop::Policy::Ignore); // the failure is also reported
/// tokio::runtime::Runtime::new()?.block_on(async {
///     let (reaper, worker) = Reaper::spawn(8);
///     reaper.hand_over(AsyncDropGuard::new(Conn(true))).await?;
///     reaper.hand_over(AsyncDropGuard::new(Conn(false))).await?;
///     reaper.shutdown();
///     let stats = worker.await?;
///     assert_eq!((stats.cleaned, stats.failed, stats.panicked), (1, 1, 0));
///     assert_eq!(stats.total(), 2);
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # asyncdrop::set_policy(asyncdrop::Policy::Panic);
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ReaperStats {
    /// Cleanups that returned `Ok(())`.
    pub cleaned: u64,
    /// Cleanups that returned an error (each reported as
    /// [`ReportKind::Failed`](crate::ReportKind::Failed)).
    pub failed: u64,
    /// Cleanups that panicked (each caught and reported as
    /// [`ReportKind::Panicked`](crate::ReportKind::Panicked)).
    pub panicked: u64,
}

impl ReaperStats {
    /// How many cleanups the worker ran to the end.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(asyncdrop::rt::ReaperStats::default().total(), 0);
    /// ```
    pub fn total(&self) -> u64 {
        self.cleaned + self.failed + self.panicked
    }

    fn count<E>(&mut self, outcome: &Outcome<E>) {
        match outcome {
            Outcome::Cleaned => self.cleaned += 1,
            Outcome::Failed(_) => self.failed += 1,
            Outcome::Panicked(_) => self.panicked += 1,
        }
    }
}

impl fmt::Display for ReaperStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} cleaned up, {} failed, {} panicked",
            self.cleaned, self.failed, self.panicked
        )
    }
}

/// A guard on its way to the worker.
///
/// Dropped before the worker took it (a cancelled hand-over, a worker that died with
/// the runtime while jobs were queued), it does what a cleanup future dropped early
/// does: drops the value synchronously and reports
/// [`ReportKind::Cancelled`](crate::ReportKind::Cancelled).
pub(crate) struct Job<T: LocalAsyncDrop>(Option<AsyncDropGuard<T>>);

impl<T: LocalAsyncDrop> Job<T> {
    pub(crate) fn new(guard: AsyncDropGuard<T>) -> Self {
        Job(Some(guard))
    }

    pub(crate) fn into_guard(mut self) -> AsyncDropGuard<T> {
        match self.0.take() {
            Some(guard) => guard,
            None => unreachable!("a job holds its guard until it is taken"),
        }
    }
}

impl<T: LocalAsyncDrop> Drop for Job<T> {
    fn drop(&mut self) {
        if let Some(guard) = self.0.take() {
            // A cleanup future dropped unpolled: reports `Cancelled`, then drops the
            // value.
            drop(guard.async_drop());
        }
    }
}

/// How many cleanups the worker finishes in one go before it lets other tasks run.
const BUDGET: usize = 128;

/// The worker: takes jobs from `jobs` and runs up to `limit` cleanups at once, until
/// the channel is closed and empty and every cleanup has finished.
///
/// Failures and panics are reported through the policy as they happen. A policy that
/// panics does not stop the worker: the first such panic is resumed once every
/// cleanup is done.
pub(crate) async fn work<T>(jobs: async_channel::Receiver<Job<T>>, limit: usize) -> ReaperStats
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    let mut jobs = pin!(jobs);
    let mut running = FuturesUnordered::new();
    let mut open = true;
    let mut stats = ReaperStats::default();
    let mut policy_panic: Option<Payload> = None;
    poll_fn(|cx| {
        let mut budget = BUDGET;
        loop {
            while open && running.len() < limit {
                match jobs.as_mut().poll_next(cx) {
                    Poll::Ready(Some(job)) => {
                        let (origin, cleanup) = catch_cleanup(job.into_guard());
                        running.push(cleanup.map(move |outcome| (origin, outcome)));
                    }
                    Poll::Ready(None) => open = false,
                    Poll::Pending => break,
                }
            }
            match running.poll_next_unpin(cx) {
                Poll::Ready(Some((origin, outcome))) => {
                    stats.count(&outcome);
                    if let Err(payload) = catch_unwind(AssertUnwindSafe(|| outcome.report(origin)))
                    {
                        policy_panic.get_or_insert(payload);
                    }
                    budget -= 1;
                    if budget == 0 {
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                }
                Poll::Ready(None) if !open => return Poll::Ready(()),
                // Nothing running: waiting for a job (`jobs` registered the waker).
                Poll::Ready(None) | Poll::Pending => return Poll::Pending,
            }
        }
    })
    .await;
    if let Some(payload) = policy_panic {
        resume_unwind(payload);
    }
    stats
}
