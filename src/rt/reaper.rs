//! The runtime-neutral part of a cleanup worker ("reaper"): the job that travels
//! through the channel, the worker loop and its statistics, handing values over
//! (the [`HandOver`] future, a synchronous drop that hands over), and what the
//! adapters plug in ([`Background`]).

use alloc::boxed::Box;
use core::fmt;
use core::future::{poll_fn, Future};
use core::panic::AssertUnwindSafe;
use core::pin::{pin, Pin};
use core::task::{Context, Poll};
use core::time::Duration;
use std::panic::{catch_unwind, resume_unwind};

use async_channel::{SendError, Sender, TrySendError};
use futures_core::Stream;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use pin_project_lite::pin_project;

use super::HandOverError;
use crate::outcome::{catch_cleanup, clean_up_reporting, Outcome, Payload};
use crate::wait::wait_for;
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

/// What the shared worker code needs from a runtime: where to run work in the
/// background, and whether the current thread must not block.
pub(crate) trait Background {
    /// Whether this thread runs the runtime's tasks, so that blocking it could keep
    /// the worker from making room (a deadlock on a single-threaded executor).
    fn on_runtime_thread(&self) -> bool;

    /// Runs `future` to completion in a detached task of the worker's runtime.
    fn detach<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static;

    /// Runs `future` in a detached task, from a runtime thread; by default on the
    /// worker's runtime.
    fn detach_from_runtime_thread<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.detach(future);
    }

    /// Cleans `guard` up in a detached task that reports its own failure.
    fn clean_up_detached<T>(&self, guard: AsyncDropGuard<T>)
    where
        T: AsyncDrop + 'static,
        T::Error: fmt::Debug,
    {
        self.detach(clean_up_reporting(guard));
    }
}

/// Queues `guard` if the worker's queue has room; hands it back otherwise.
pub(crate) fn try_hand_over<T>(
    jobs: &Sender<Job<T>>,
    guard: AsyncDropGuard<T>,
) -> Result<(), HandOverError<T>>
where
    T: AsyncDrop + 'static,
{
    jobs.try_send(Job::new(guard)).map_err(|e| match e {
        TrySendError::Full(job) => HandOverError::Full(job.into_guard()),
        TrySendError::Closed(job) => HandOverError::Closed(job.into_guard()),
    })
}

/// Hands `guard` to the worker from a synchronous `Drop` (`ReaperDrop`), never
/// losing it and never deadlocking the runtime:
///
/// - room in the queue: queued;
/// - worker shut down: cleaned up by a detached task instead;
/// - queue full on a runtime thread: an overflow task waits for room;
/// - queue full elsewhere: this thread blocks for at most `wait_limit`, then an
///   overflow task waits instead.
pub(crate) fn drop_into_worker<T, B>(
    jobs: &Sender<Job<T>>,
    guard: AsyncDropGuard<T>,
    wait_limit: Duration,
    runtime: &B,
) where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
    B: Background,
{
    match jobs.try_send(Job::new(guard)) {
        Ok(()) => {}
        Err(TrySendError::Closed(job)) => runtime.clean_up_detached(job.into_guard()),
        Err(TrySendError::Full(job)) if runtime.on_runtime_thread() => {
            runtime.detach_from_runtime_thread(overflow(send(jobs.clone(), job)));
        }
        Err(TrySendError::Full(job)) => {
            let mut sending = Box::pin(send(jobs.clone(), job));
            match wait_for(&mut sending, wait_limit) {
                Some(Ok(())) => {}
                Some(Err(job)) => runtime.clean_up_detached(job.into_guard()),
                // The worker is stuck: stop blocking, let a task wait instead.
                None => runtime.detach(overflow(sending)),
            }
        }
    }
}

/// Queues `job`, waiting for room; hands it back if the worker shut down.
async fn send<T>(jobs: Sender<Job<T>>, job: Job<T>) -> Result<(), Job<T>>
where
    T: AsyncDrop + 'static,
{
    jobs.send(job).await.map_err(|SendError(job)| job)
}

/// Waits for `sending` to queue the value; cleans it up in place if the worker shut
/// down meanwhile.
async fn overflow<T>(sending: impl Future<Output = Result<(), Job<T>>>)
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    if let Err(job) = sending.await {
        clean_up_reporting(job.into_guard()).await;
    }
}

pin_project! {
    /// The future returned by the adapters' `Reaper::hand_over`: hands a guard to a
    /// cleanup worker, waiting for room in its queue.
    ///
    /// # Errors
    ///
    /// [`HandOverError::Closed`] with the guard if the worker was shut down.
    ///
    /// # Cancel safety
    ///
    /// If it is dropped before the guard was queued, the value is dropped without
    /// cleanup and [`ReportKind::Cancelled`](crate::ReportKind::Cancelled) is
    /// reported.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "tokio")] {
    /// use asyncdrop::rt::tokio::Reaper;
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    ///
    /// struct Conn;
    /// impl AsyncDrop for Conn {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// tokio::runtime::Runtime::new()?.block_on(async {
    ///     let (reaper, worker) = Reaper::spawn(1);
    ///     let handing_over = reaper.hand_over(AsyncDropGuard::new(Conn));
    ///     handing_over.await?;
    ///     drop(reaper);
    ///     assert_eq!(worker.await?.cleaned, 1);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct HandOver<'a, T>
    where
        T: AsyncDrop,
        T: 'static,
    {
        #[pin]
        send: async_channel::Send<'a, Job<T>>,
    }
}

impl<'a, T> HandOver<'a, T>
where
    T: AsyncDrop + 'static,
{
    pub(crate) fn new(jobs: &'a Sender<Job<T>>, guard: AsyncDropGuard<T>) -> Self {
        HandOver {
            send: jobs.send(Job::new(guard)),
        }
    }
}

impl<T> Future for HandOver<'_, T>
where
    T: AsyncDrop + 'static,
{
    type Output = Result<(), HandOverError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project()
            .send
            .poll(cx)
            .map_err(|SendError(job)| HandOverError::Closed(job.into_guard()))
    }
}

impl<T> fmt::Debug for HandOver<'_, T>
where
    T: AsyncDrop + 'static,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandOver")
            .field("type", &core::any::type_name::<T>())
            .finish_non_exhaustive()
    }
}
