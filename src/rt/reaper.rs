//! A bounded cleanup worker ("reaper") for synchronous `Drop` paths.

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

use super::runtime::{detach, Quiet};
use super::spawn::clean_up_detached;
use super::{HandOverError, Runtime, TaskPanic, WorkerError, DEFAULT_WAIT_LIMIT};
use crate::guard::Held;
use crate::outcome::{catch_cleanup, clean_up_reporting, Outcome, Payload};
use crate::wait::wait_for;
use crate::{AsyncDrop, AsyncDropGuard, LocalAsyncDrop};

/// What a cleanup worker did, returned when it stops (see [`Reaper`] for an
/// example). Every value the worker took is counted once, in one field; failures
/// and panics were reported to the [`Policy`](crate::Policy).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ReaperStats {
    /// Cleanups that returned `Ok(())`.
    pub cleaned: u64,
    /// Cleanups that returned an error.
    pub failed: u64,
    /// Cleanups that panicked (the panic was caught).
    pub panicked: u64,
}

impl ReaperStats {
    /// How many cleanups the worker ran to the end.
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

/// A guard on its way to the worker; dropped before the worker took it, it reports
/// [`ReportKind::Cancelled`](crate::ReportKind::Cancelled) like an early-dropped
/// cleanup.
pub(crate) struct Job<T: LocalAsyncDrop>(Option<AsyncDropGuard<T>>);

impl<T: LocalAsyncDrop> Job<T> {
    pub(crate) fn new(guard: AsyncDropGuard<T>) -> Self {
        Job(Some(guard))
    }

    pub(crate) fn into_guard(mut self) -> AsyncDropGuard<T> {
        self.0
            .take()
            .expect("a job holds its guard until it is taken")
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

/// The worker: runs up to `limit` cleanups from `jobs` at once until the channel is
/// closed and drained, reporting as it goes; a panic of the policy is resumed at the
/// end.
pub(crate) async fn work<T: AsyncDrop<Error: fmt::Debug> + 'static>(
    jobs: async_channel::Receiver<Job<T>>,
    limit: usize,
) -> ReaperStats {
    let mut queues = Queues {
        queued: jobs.clone(),
        running: FuturesUnordered::new(),
    };
    let running = &mut queues.running;
    let mut jobs = pin!(jobs);
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

/// What a worker holds; dropped unfinished, it drops (and so reports) every running
/// and queued value, whatever the policy does.
struct Queues<T: LocalAsyncDrop, U> {
    queued: async_channel::Receiver<Job<T>>,
    running: FuturesUnordered<U>,
}

impl<T: LocalAsyncDrop, U> Drop for Queues<T, U> {
    fn drop(&mut self) {
        let scope = crate::policy::DropScope::open(false);
        self.running.clear();
        self.queued.close();
        while let Ok(job) = self.queued.try_recv() {
            drop(job);
        }
        scope.end();
    }
}

/// `ReaperDrop`'s drop: see its "Drop behaviour".
fn drop_into_worker<T, R>(
    jobs: &Sender<Job<T>>,
    guard: AsyncDropGuard<T>,
    wait_limit: Duration,
    runtime: &R,
) where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
    R: Runtime,
{
    match jobs.try_send(Job::new(guard)) {
        Ok(()) => {}
        Err(TrySendError::Closed(job)) => clean_up_detached(runtime, job.into_guard()),
        Err(TrySendError::Full(job)) if runtime.blocking_could_deadlock() => {
            detach(runtime, overflow(send(jobs.clone(), job)));
        }
        Err(TrySendError::Full(job)) => {
            let mut sending = Box::pin(send(jobs.clone(), job));
            match wait_for(&mut sending, wait_limit) {
                Some(Ok(())) => {}
                Some(Err(job)) => clean_up_detached(runtime, job.into_guard()),
                // The worker is stuck: stop blocking, let a task wait instead.
                None => detach(runtime, overflow(sending)),
            }
        }
    }
}

/// Queues `job`, waiting for room; hands it back if the worker shut down.
async fn send<T: LocalAsyncDrop>(jobs: Sender<Job<T>>, job: Job<T>) -> Result<(), Job<T>> {
    jobs.send(job).await.map_err(|SendError(job)| job)
}

/// Waits for `sending` to queue the value; cleans it up in place if the worker shut
/// down meanwhile.
async fn overflow<T: AsyncDrop<Error: fmt::Debug> + 'static>(
    sending: impl Future<Output = Result<(), Job<T>>>,
) {
    if let Err(job) = sending.await {
        clean_up_reporting(job.into_guard()).await;
    }
}

pin_project! {
    /// The future returned by [`Reaper::hand_over`].
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct HandOver<'a, T: LocalAsyncDrop> {
        #[pin]
        send: async_channel::Send<'a, Job<T>>,
    }
}

impl<T: LocalAsyncDrop> Future for HandOver<'_, T> {
    type Output = Result<(), HandOverError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project()
            .send
            .poll(cx)
            .map_err(|SendError(job)| HandOverError::Closed(job.into_guard()))
    }
}

impl<T: LocalAsyncDrop> fmt::Debug for HandOver<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandOver")
            .field("type", &core::any::type_name::<T>())
            .finish_non_exhaustive()
    }
}

/// A handle to a cleanup worker: a task on a [`Runtime`] that cleans up whatever
/// is handed to it, for synchronous code that lets go of guarded values (a `Drop`
/// impl, a callback).
///
/// The worker is fed through a bounded queue and runs up to `capacity` cleanups at
/// once: at most `capacity` values wait and `capacity` more are being cleaned up.
/// Failures and (caught) panics go to the [`Policy`](crate::Policy) and are counted
/// in the [`ReaperStats`]. Clones feed the same worker; [`ReaperDrop`] hands a
/// value over from its `Drop`.
///
/// # Shutdown
///
/// [`shutdown`](Self::shutdown), or dropping every `Reaper` and [`ReaperDrop`],
/// closes the queue; the worker cleans up what is queued, then its [`ReaperWorker`]
/// resolves to the [`ReaperStats`]. If the runtime drops the worker first, every
/// running and queued value reports
/// [`ReportKind::Cancelled`](crate::ReportKind::Cancelled) and the worker resolves to
/// [`WorkerError::Cancelled`].
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "tokio")] {
/// use asyncdrop::rt::tokio::{Reaper, ReaperDrop};
/// use asyncdrop::AsyncDropGuard;
///
/// # use asyncdrop::doc_fixture::Conn;
/// let rt = tokio::runtime::Runtime::new()?;
/// let (reaper, worker) = Reaper::spawn_on(rt.handle(), 16);
/// // A synchronous cache whose entries go to the worker when evicted:
/// let cache: Vec<_> = (0..100).map(|_| ReaperDrop::new(AsyncDropGuard::new(Conn), &reaper)).collect();
/// drop(cache); // each `Drop` hands its value over (blocking while the queue is full)
/// // Or by hand: without waiting (a full queue hands the guard back) ...
/// if let Err(full) = reaper.try_hand_over(AsyncDropGuard::new(Conn)) {
///     rt.block_on(full.into_guard().async_drop())?;
/// }
/// // ... or waiting for room, in async code.
/// rt.block_on(reaper.hand_over(AsyncDropGuard::new(Conn)))?;
/// reaper.shutdown(); // drain, then stop
/// let stats = rt.block_on(worker)?;
/// assert!(stats.cleaned >= 101 && stats.total() == stats.cleaned);
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Reaper<T: LocalAsyncDrop, R> {
    jobs: Sender<Job<T>>,
    runtime: R,
}

impl<T: AsyncDrop<Error: fmt::Debug> + 'static, R: Runtime> Reaper<T, R> {
    /// Spawns a cleanup worker on the current runtime; see [`spawn_on`](Self::spawn_on).
    ///
    /// # Panics
    ///
    /// Panics, naming the type, if there is no current runtime (use
    /// [`spawn_on`](Self::spawn_on) there) or if `capacity` is zero.
    #[track_caller]
    pub fn spawn(capacity: usize) -> (Self, ReaperWorker) {
        match R::current() {
            Some(runtime) => Self::spawn_on(&runtime, capacity),
            None => panic!(
                "`Reaper::<{}>::spawn` was called outside a {} runtime; \
                 call it on a runtime thread, or use `Reaper::spawn_on` with a runtime",
                core::any::type_name::<T>(),
                R::NAME
            ),
        }
    }

    /// Spawns a cleanup worker on `runtime`, from any thread, with a queue of
    /// `capacity` values and up to `capacity` cleanups running at once.
    ///
    /// # Panics
    ///
    /// Panics if `capacity` is zero.
    #[track_caller]
    pub fn spawn_on(runtime: &R, capacity: usize) -> (Self, ReaperWorker) {
        assert!(
            capacity > 0,
            "the capacity of a `Reaper::<{}>` must not be zero",
            core::any::type_name::<T>()
        );
        let (jobs, queue) = async_channel::bounded(capacity);
        // The task is detached; its result travels through a channel whose sender
        // is dropped with the task if the runtime drops it unfinished. A panic of the
        // policy, resumed by `work` once every cleanup is done, is caught so that it
        // reaches the `ReaperWorker` too.
        let (done, result) = async_channel::bounded(1);
        runtime.spawn(Quiet::new(async move {
            let outcome = AssertUnwindSafe(work(queue, capacity)).catch_unwind().await;
            // Nobody listens if the `ReaperWorker` was dropped: nothing to tell.
            let _ = done.try_send(outcome);
        }));
        let reaper = Reaper {
            jobs,
            runtime: runtime.clone(),
        };
        let worker = ReaperWorker {
            result: Box::pin(result),
            done: false,
        };
        (reaper, worker)
    }

    /// Hands `guard` to the worker if its queue has room; never blocks.
    ///
    /// # Errors
    ///
    /// Hands the guard back in [`HandOverError::Full`] if the queue is full, or
    /// [`HandOverError::Closed`] after [`shutdown`](Self::shutdown).
    pub fn try_hand_over(&self, guard: AsyncDropGuard<T>) -> Result<(), HandOverError<T>> {
        self.jobs.try_send(Job::new(guard)).map_err(|e| match e {
            TrySendError::Full(job) => HandOverError::Full(job.into_guard()),
            TrySendError::Closed(job) => HandOverError::Closed(job.into_guard()),
        })
    }

    /// Hands `guard` to the worker, waiting for room in its queue; dropped before the
    /// guard was queued, the value reports
    /// [`ReportKind::Cancelled`](crate::ReportKind::Cancelled).
    ///
    /// # Errors
    ///
    /// [`HandOverError::Closed`] with the guard after [`shutdown`](Self::shutdown).
    pub fn hand_over(&self, guard: AsyncDropGuard<T>) -> HandOver<'_, T> {
        HandOver {
            send: self.jobs.send(Job::new(guard)),
        }
    }

    /// Hands `guard` to the worker, blocking this thread (through
    /// [`Runtime::block_on`]) while the queue is full.
    ///
    /// # Errors
    ///
    /// [`HandOverError::Closed`] with the guard after [`shutdown`](Self::shutdown);
    /// [`HandOverError::WouldBlock`] if the queue is full where blocking could
    /// deadlock ([`Runtime::blocking_could_deadlock`]).
    pub fn hand_over_blocking(&self, guard: AsyncDropGuard<T>) -> Result<(), HandOverError<T>> {
        let guard = match self.try_hand_over(guard) {
            Err(HandOverError::Full(guard)) if self.runtime.blocking_could_deadlock() => {
                return Err(HandOverError::WouldBlock(guard))
            }
            Err(HandOverError::Full(guard)) => guard,
            done => return done,
        };
        let sending = send(self.jobs.clone(), Job::new(guard));
        match self.runtime.block_on(sending, Duration::MAX) {
            Some(sent) => sent.map_err(|job| HandOverError::Closed(job.into_guard())),
            None => unreachable!("`Runtime::block_on` gives up only at its limit"),
        }
    }

    /// Closes the queue: the worker takes nothing more, cleans up what is queued,
    /// then stops. Returns `false` if it was closed already.
    pub fn shutdown(&self) -> bool {
        self.jobs.close()
    }

    /// Whether the queue was closed.
    pub fn is_shut_down(&self) -> bool {
        self.jobs.is_closed()
    }

    /// How many values wait in the queue (not counting those being cleaned up).
    pub fn queued(&self) -> usize {
        self.jobs.len()
    }

    /// How many values the queue holds at most (also how many cleanups run at once).
    pub fn capacity(&self) -> usize {
        self.jobs.capacity().unwrap_or(usize::MAX)
    }

    /// The runtime the worker runs on.
    pub fn runtime(&self) -> &R {
        &self.runtime
    }
}

impl<T: LocalAsyncDrop, R: Clone> Clone for Reaper<T, R> {
    fn clone(&self) -> Self {
        Reaper {
            jobs: self.jobs.clone(),
            runtime: self.runtime.clone(),
        }
    }
}

impl<T: LocalAsyncDrop, R: fmt::Debug> fmt::Debug for Reaper<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reaper")
            .field("type", &core::any::type_name::<T>())
            .field("queued", &self.jobs.len())
            .field("capacity", &self.jobs.capacity())
            .field("shut_down", &self.jobs.is_closed())
            .field("runtime", &self.runtime)
            .finish()
    }
}

/// The handle to a cleanup worker's task, returned with its [`Reaper`]: await it
/// after [`Reaper::shutdown`] until everything taken is cleaned up. Dropping it
/// does not affect the worker.
///
/// # Errors
///
/// [`WorkerError::Cancelled`] if the runtime dropped the worker's task;
/// [`WorkerError::Panicked`] if the [`Policy`](crate::Policy) panicked on a report
/// (after every cleanup finished).
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "tokio")] {
/// use asyncdrop::rt::tokio::Reaper;
/// use asyncdrop::AsyncDropGuard;
///
/// # use asyncdrop::doc_fixture::Conn;
/// tokio::runtime::Runtime::new()?.block_on(async {
///     let (reaper, worker) = Reaper::spawn(4);
///     reaper.hand_over(AsyncDropGuard::new(Conn)).await?;
///     assert!(!worker.is_finished());
///     reaper.shutdown();
///     let stats = worker.await?;
///     println!("{stats}"); // 1 cleaned up, 0 failed, 0 panicked
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "await the worker after `shutdown` to know that every cleanup finished"]
pub struct ReaperWorker {
    /// Receives the worker's result; closed without one if the task was dropped.
    /// (Boxed: a receiver is `!Unpin`.)
    result: Pin<Box<async_channel::Receiver<Result<ReaperStats, Payload>>>>,
    /// The result was handed out.
    done: bool,
}

impl ReaperWorker {
    /// Whether the worker has stopped.
    pub fn is_finished(&self) -> bool {
        self.done || !self.result.is_empty() || self.result.is_closed()
    }
}

impl Future for ReaperWorker {
    type Output = Result<ReaperStats, WorkerError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        assert!(!this.done, "`ReaperWorker` polled after completion");
        let result = match this.result.as_mut().poll_next(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Some(Ok(stats))) => Ok(stats),
            Poll::Ready(Some(Err(payload))) => Err(WorkerError::Panicked(TaskPanic::new(payload))),
            Poll::Ready(None) => Err(WorkerError::Cancelled),
        };
        this.done = true;
        Poll::Ready(result)
    }
}

impl futures_core::FusedFuture for ReaperWorker {
    fn is_terminated(&self) -> bool {
        self.done
    }
}

impl fmt::Debug for ReaperWorker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReaperWorker")
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// A guarded value whose `Drop` hands it to a [`Reaper`] for cleanup; it
/// dereferences to the value.
///
/// # Drop behaviour
///
/// Never loses the value, never deadlocks a runtime. With room in the queue, the
/// value is queued. With a full queue, the drop blocks for room (the back-pressure)
/// for at most the wait limit ([`DEFAULT_WAIT_LIMIT`](super::DEFAULT_WAIT_LIMIT)
/// unless set), then, or at once where blocking could deadlock
/// ([`Runtime::blocking_could_deadlock`]), an overflow task waits instead. After
/// shutdown, a detached task cleans the value up (not counted in the
/// [`ReaperStats`]).
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "tokio")] {
/// use std::time::Duration;
/// use asyncdrop::rt::tokio::{Reaper, ReaperDrop};
/// use asyncdrop::AsyncDropGuard;
///
/// # use asyncdrop::doc_fixture::Conn;
/// let rt = tokio::runtime::Runtime::new()?;
/// let (reaper, worker) = Reaper::spawn_on(rt.handle(), 4);
/// let limit = Duration::from_millis(100);
/// let conn = ReaperDrop::with_wait_limit(AsyncDropGuard::new(Conn), &reaper, limit);
/// assert_eq!(ReaperDrop::wait_limit(&conn), limit);
/// drop(conn); // handed to the worker
/// drop(reaper);
/// assert_eq!(rt.block_on(worker)?.cleaned, 1);
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ReaperDrop<T: AsyncDrop<Error: fmt::Debug> + 'static, R: Runtime> {
    guard: Held<T>,
    reaper: Reaper<T, R>,
    wait_limit: Duration,
}

impl<T: AsyncDrop<Error: fmt::Debug> + 'static, R: Runtime> ReaperDrop<T, R> {
    /// Wraps `guard`; dropping the wrapper hands the value to `reaper`.
    pub fn new(guard: AsyncDropGuard<T>, reaper: &Reaper<T, R>) -> Self {
        Self::with_wait_limit(guard, reaper, DEFAULT_WAIT_LIMIT)
    }

    /// Wraps `guard`; dropping the wrapper where it may block waits at most `limit`
    /// for room in the queue.
    pub fn with_wait_limit(
        guard: AsyncDropGuard<T>,
        reaper: &Reaper<T, R>,
        limit: Duration,
    ) -> Self {
        ReaperDrop {
            guard: Held::new(guard),
            reaper: reaper.clone(),
            wait_limit: limit,
        }
    }

    /// How long a drop blocks at most while the worker's queue is full.
    pub fn wait_limit(this: &Self) -> Duration {
        this.wait_limit
    }

    /// Takes the guard back out, **without** handing it to the worker.
    pub fn into_guard(mut this: Self) -> AsyncDropGuard<T> {
        this.guard.take()
    }

    /// The worker the value goes to when dropped.
    pub fn reaper(this: &Self) -> &Reaper<T, R> {
        &this.reaper
    }
}

deref_to_guarded!(ReaperDrop, R: Runtime);

impl<T: AsyncDrop<Error: fmt::Debug> + fmt::Debug + 'static, R: Runtime> fmt::Debug
    for ReaperDrop<T, R>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReaperDrop")
            .field("value", &**self.guard)
            .field("reaper", &self.reaper)
            .field("wait_limit", &self.wait_limit)
            .finish()
    }
}

impl<T: AsyncDrop<Error: fmt::Debug> + 'static, R: Runtime> Drop for ReaperDrop<T, R> {
    fn drop(&mut self) {
        if let Some(guard) = self.guard.take_for_drop() {
            drop_into_worker(
                &self.reaper.jobs,
                guard,
                self.wait_limit,
                &self.reaper.runtime,
            );
        }
    }
}
