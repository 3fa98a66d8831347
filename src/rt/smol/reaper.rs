//! A bounded cleanup worker ("reaper") on smol, for synchronous `Drop` paths.

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::fmt;
use core::future::Future;
use core::ops::{Deref, DerefMut};
use core::panic::AssertUnwindSafe;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;

use ::smol::Executor;
use async_channel::{SendError, TrySendError};
use futures_core::Stream;
use futures_util::FutureExt;

use super::block::DEFAULT_BLOCKING_LIMIT;
use super::error::WorkerError;
use super::spawn::{on_executor_thread, Spawner};
use crate::guard::Held;
use crate::outcome::Payload;
use crate::rt::reaper::{drop_into_worker, try_hand_over, work, Background, HandOver, Job};
use crate::rt::TaskPanic;
use crate::rt::{HandOverError, ReaperStats};
use crate::{AsyncDrop, AsyncDropGuard};

/// A handle to a cleanup worker: a task that cleans up whatever is handed to it.
///
/// The worker runs on smol's global executor ([`spawn`](Self::spawn)) or on an
/// [`Executor`] of yours ([`spawn_on`](Self::spawn_on)), and is fed through a
/// bounded queue. It runs up to `capacity` cleanups at once, concurrently, in its
/// own task; so at most `capacity` values wait in the queue and `capacity` more are
/// being cleaned up. Errors and panics of those cleanups go to the
/// [`Policy`](crate::Policy) (as [`ReportKind::Failed`](crate::ReportKind::Failed) /
/// [`ReportKind::Panicked`](crate::ReportKind::Panicked); a panic is caught and the worker
/// goes on) and are counted in the worker's [`ReaperStats`].
///
/// It is made for synchronous code that has to let go of guarded values — a `Drop`
/// impl, a callback — and is cheap to clone (all clones feed the same worker). Wrap
/// a value in a [`ReaperDrop`] to have its `Drop` hand it over.
///
/// Requires the `smol` feature (`asyncdrop = { version = "0.1", features =
/// ["smol"] }`).
///
/// # Back-pressure
///
/// When the queue is full, [`try_hand_over`](Self::try_hand_over) hands the guard
/// back, [`hand_over`](Self::hand_over) waits for room, and
/// [`hand_over_blocking`](Self::hand_over_blocking) blocks the thread for room.
///
/// # Shutdown
///
/// [`shutdown`](Self::shutdown) closes the queue: nothing more is taken, and the
/// worker cleans up everything already queued, waits for every cleanup to finish,
/// then stops; its [`ReaperWorker`] handle resolves to the [`ReaperStats`]. The
/// queue also closes when every `Reaper` clone (and every [`ReaperDrop`]) is gone.
///
/// # Drop behaviour
///
/// Dropping a `Reaper` drops one handle to the queue; when the last one (counting
/// those inside [`ReaperDrop`]s) is gone, the queue closes as if
/// [`shutdown`](Self::shutdown) had been called.
///
/// # Executor drop and process exit
///
/// A `Reaper` made with [`spawn_on`](Self::spawn_on) holds an `Arc` of its
/// executor (it spawns overflow and late cleanups there), so the executor lives at
/// least as long as the last `Reaper` clone or [`ReaperDrop`]. When the executor is
/// dropped with the worker unfinished, the worker's task is dropped: cleanups in
/// progress report [`ReportKind::Cancelled`](crate::ReportKind::Cancelled), and so do values
/// still queued, once the queue is dropped. Nothing goes unreported.
///
/// smol's global executor is never dropped: values the worker has not cleaned up
/// when the process exits are lost without a report, so shut the worker down and
/// await it before `main` returns.
///
/// # Examples
///
/// ```
/// use asyncdrop::rt::smol::{Reaper, ReaperDrop};
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
///
/// struct Conn {
///     id: u32,
/// }
/// impl AsyncDrop for Conn {
///     type Error = std::io::Error;
///     async fn async_drop_impl(self) -> std::io::Result<()> {
///         smol::future::yield_now().await; // say goodbye to peer `self.id`, shut down
///         assert!(self.id < 100);
///         Ok(())
///     }
/// }
///
/// /// A synchronous cache whose entries are cleaned up by the reaper on eviction.
/// struct Cache {
///     entries: Vec<ReaperDrop<Conn>>,
/// }
///
/// let (reaper, worker) = Reaper::spawn(16); // on smol's global executor
/// let mut cache = Cache { entries: Vec::new() };
/// for i in 0..100 {
///     cache.entries.push(ReaperDrop::new(AsyncDropGuard::new(Conn { id: i }), &reaper));
/// }
/// drop(cache); // every `Drop` hands its value to the worker (blocking for room)
///
/// reaper.shutdown(); // drain, then stop
/// let stats = smol::block_on(worker)?;
/// assert_eq!(stats.cleaned, 100);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Reaper<T>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    jobs: async_channel::Sender<Job<T>>,
    spawner: Spawner,
}

impl<T> Reaper<T>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    /// Spawns a cleanup worker on smol's global executor, with a queue of
    /// `capacity` values and up to `capacity` cleanups running at once. Callable
    /// from any thread, in or out of a task.
    ///
    /// # Panics
    ///
    /// Panics, naming the type, if `capacity` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::rt::smol::Reaper;
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    ///
    /// struct Conn;
    /// impl AsyncDrop for Conn {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// smol::block_on(async {
    ///     let (reaper, worker) = Reaper::spawn(4);
    ///     reaper.hand_over(AsyncDropGuard::new(Conn)).await?;
    ///     reaper.shutdown();
    ///     assert_eq!(worker.await?.cleaned, 1);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn spawn(capacity: usize) -> (Self, ReaperWorker) {
        Self::spawn_with(Spawner::Global, capacity)
    }

    /// Spawns a cleanup worker on `executor`; it runs when something runs the
    /// executor. The reaper keeps a clone of the `Arc` (see
    /// [Executor drop](Reaper#executor-drop-and-process-exit)).
    ///
    /// # Panics
    ///
    /// Panics, naming the type, if `capacity` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use asyncdrop::rt::smol::Reaper;
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    ///
    /// struct Conn;
    /// impl AsyncDrop for Conn {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// let executor = Arc::new(smol::Executor::new());
    /// let (reaper, worker) = Reaper::spawn_on(&executor, 4);
    /// reaper.try_hand_over(AsyncDropGuard::new(Conn))?;
    /// reaper.shutdown();
    /// assert_eq!(smol::block_on(executor.run(worker))?.cleaned, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn spawn_on(executor: &Arc<Executor<'static>>, capacity: usize) -> (Self, ReaperWorker) {
        Self::spawn_with(Spawner::Executor(Arc::clone(executor)), capacity)
    }

    #[track_caller]
    fn spawn_with(spawner: Spawner, capacity: usize) -> (Self, ReaperWorker) {
        assert!(
            capacity > 0,
            "the capacity of a `Reaper::<{}>` must not be zero",
            core::any::type_name::<T>()
        );
        let (jobs, queue) = async_channel::bounded(capacity);
        // The task is detached (a smol `Task` dropped would cancel it); its result
        // travels through a channel instead, whose sender is dropped with the task
        // if the executor drops it unfinished. A panic of the policy, resumed by
        // `work` once every cleanup is done, is caught so that it reaches the
        // `ReaperWorker` too.
        let (done, result) = async_channel::bounded(1);
        spawner.detach(async move {
            let outcome = AssertUnwindSafe(work(queue, capacity)).catch_unwind().await;
            // Nobody listens if the `ReaperWorker` was dropped: nothing to tell.
            let _ = done.try_send(outcome);
        });
        let reaper = Reaper { jobs, spawner };
        (
            reaper,
            ReaperWorker {
                result: Box::pin(result),
                done: false,
            },
        )
    }

    /// Hands `guard` to the worker if its queue has room; never blocks.
    ///
    /// # Errors
    ///
    /// Hands the guard back in [`HandOverError::Full`] if the queue is full, or
    /// [`HandOverError::Closed`] after [`shutdown`](Self::shutdown).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use asyncdrop::rt::smol::Reaper;
    /// use asyncdrop::rt::HandOverError;
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    ///
    /// struct Conn;
    /// impl AsyncDrop for Conn {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// let executor = Arc::new(smol::Executor::new());
    /// let (reaper, worker) = Reaper::spawn_on(&executor, 1);
    /// reaper.try_hand_over(AsyncDropGuard::new(Conn))?;
    /// // The worker has not run yet (nothing runs the executor): the queue is full.
    /// match reaper.try_hand_over(AsyncDropGuard::new(Conn)) {
    ///     Err(HandOverError::Full(guard)) => smol::block_on(guard.async_drop())?,
    ///     other => panic!("{other:?}"),
    /// }
    /// reaper.shutdown();
    /// assert_eq!(smol::block_on(executor.run(worker))?.cleaned, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_hand_over(&self, guard: AsyncDropGuard<T>) -> Result<(), HandOverError<T>> {
        try_hand_over(&self.jobs, guard)
    }

    /// Hands `guard` to the worker, waiting for room in its queue.
    ///
    /// # Errors
    ///
    /// Hands the guard back in [`HandOverError::Closed`] after
    /// [`shutdown`](Self::shutdown).
    ///
    /// # Cancel safety
    ///
    /// If the future is dropped before the guard was queued, the value is dropped
    /// without cleanup and [`ReportKind::Cancelled`](crate::ReportKind::Cancelled) is reported,
    /// as for any cleanup future dropped early. Once queued, it is the worker's.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::rt::smol::Reaper;
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    ///
    /// struct Conn;
    /// impl AsyncDrop for Conn {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// smol::block_on(async {
    ///     let (reaper, worker) = Reaper::spawn(2);
    ///     for _ in 0..10 {
    ///         reaper.hand_over(AsyncDropGuard::new(Conn)).await?;
    ///     }
    ///     reaper.shutdown();
    ///     assert_eq!(worker.await?.cleaned, 10);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn hand_over(&self, guard: AsyncDropGuard<T>) -> HandOver<'_, T> {
        HandOver::new(&self.jobs, guard)
    }

    /// Hands `guard` to the worker, blocking this thread while the queue is full.
    ///
    /// For plain threads, and for code inside `smol::block_on` on a thread of its
    /// own (the worker runs elsewhere). On a thread that runs an executor, blocking
    /// could deadlock (the worker may need that very thread), so there it does not
    /// wait: a full queue gives [`HandOverError::WouldBlock`] with the guard. Such a
    /// thread is recognised as one of smol's global executor threads (named
    /// `smol-N`) or a thread that has run a task of this adapter (a worker, a
    /// background cleanup).
    ///
    /// Waiting can still deadlock if this thread alone runs the worker's executor
    /// and has not run any task of this adapter yet; use
    /// [`hand_over`](Self::hand_over) in async code.
    ///
    /// # Errors
    ///
    /// Hands the guard back in [`HandOverError::Closed`] after
    /// [`shutdown`](Self::shutdown), or [`HandOverError::WouldBlock`] as above.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::rt::smol::Reaper;
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    ///
    /// struct Conn;
    /// impl AsyncDrop for Conn {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// let (reaper, worker) = Reaper::spawn(2);
    /// let feeder = std::thread::spawn(move || {
    ///     for _ in 0..10 {
    ///         reaper.hand_over_blocking(AsyncDropGuard::new(Conn)).unwrap();
    ///     }
    ///     // the last clone of `reaper` is dropped here: the queue closes
    /// });
    /// feeder.join().unwrap();
    /// assert_eq!(smol::block_on(worker)?.cleaned, 10);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn hand_over_blocking(&self, guard: AsyncDropGuard<T>) -> Result<(), HandOverError<T>> {
        let job = match self.jobs.try_send(Job::new(guard)) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Closed(job)) => return Err(HandOverError::Closed(job.into_guard())),
            Err(TrySendError::Full(job)) => job,
        };
        if on_executor_thread() {
            return Err(HandOverError::WouldBlock(job.into_guard()));
        }
        self.jobs
            .send_blocking(job)
            .map_err(|SendError(job)| HandOverError::Closed(job.into_guard()))
    }

    /// Closes the queue: the worker takes nothing more, cleans up what is queued,
    /// then stops (await its [`ReaperWorker`]). Returns `false` if it was closed
    /// already.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::rt::smol::Reaper;
    /// use asyncdrop::AsyncDrop;
    ///
    /// struct Conn;
    /// impl AsyncDrop for Conn {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// let (reaper, worker) = Reaper::<Conn>::spawn(4);
    /// assert!(reaper.shutdown());
    /// assert!(reaper.is_shut_down());
    /// assert!(!reaper.shutdown());
    /// assert_eq!(smol::block_on(worker)?.total(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shutdown(&self) -> bool {
        self.jobs.close()
    }

    /// Whether the queue was closed ([`shutdown`](Self::shutdown), or the worker is
    /// gone).
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::rt::smol::Reaper;
    /// # use asyncdrop::AsyncDrop;
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = std::io::Error;
    /// #     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// # }
    ///
    /// let (reaper, worker) = Reaper::<Conn>::spawn(4);
    /// let other = reaper.clone();
    /// assert!(!other.is_shut_down());
    /// reaper.shutdown(); // closes the queue for every clone
    /// assert!(other.is_shut_down());
    /// assert_eq!(smol::block_on(worker)?.total(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_shut_down(&self) -> bool {
        self.jobs.is_closed()
    }

    /// How many values wait in the queue (not counting those being cleaned up).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use asyncdrop::rt::smol::Reaper;
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    ///
    /// struct Conn;
    /// impl AsyncDrop for Conn {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// let executor = Arc::new(smol::Executor::new());
    /// let (reaper, worker) = Reaper::spawn_on(&executor, 8);
    /// reaper.try_hand_over(AsyncDropGuard::new(Conn))?;
    /// assert_eq!((reaper.queued(), reaper.capacity()), (1, 8));
    /// drop(reaper);
    /// smol::block_on(executor.run(worker))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn queued(&self) -> usize {
        self.jobs.len()
    }

    /// How many values the queue holds at most (also how many cleanups run at
    /// once).
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::rt::smol::Reaper;
    /// # use asyncdrop::AsyncDrop;
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = std::io::Error;
    /// #     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// # }
    ///
    /// let (reaper, worker) = Reaper::<Conn>::spawn(16);
    /// assert_eq!(reaper.capacity(), 16);
    /// drop(reaper); // the last handle: the queue closes
    /// smol::block_on(worker)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.jobs.capacity().unwrap_or(usize::MAX)
    }

    /// The executor the worker runs on: `None` for smol's global executor.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use asyncdrop::rt::smol::Reaper;
    /// # use asyncdrop::AsyncDrop;
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = std::io::Error;
    /// #     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// # }
    ///
    /// let executor = Arc::new(smol::Executor::new());
    /// let (reaper, _worker) = Reaper::<Conn>::spawn_on(&executor, 4);
    /// assert!(Arc::ptr_eq(reaper.executor().unwrap(), &executor));
    /// let (reaper, _worker) = Reaper::<Conn>::spawn(4);
    /// assert!(reaper.executor().is_none());
    /// ```
    pub fn executor(&self) -> Option<&Arc<Executor<'static>>> {
        self.spawner.executor()
    }
}

impl<T> Clone for Reaper<T>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    fn clone(&self) -> Self {
        Reaper {
            jobs: self.jobs.clone(),
            spawner: self.spawner.clone(),
        }
    }
}

impl<T> fmt::Debug for Reaper<T>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reaper")
            .field("type", &core::any::type_name::<T>())
            .field("queued", &self.queued())
            .field("capacity", &self.capacity())
            .field("shut_down", &self.is_shut_down())
            .field("executor", &self.spawner)
            .finish()
    }
}

/// The handle to a cleanup worker's task, returned with its [`Reaper`].
///
/// Await it after [`Reaper::shutdown`] (or after every `Reaper` clone is gone) to
/// wait until the worker has cleaned up everything it took; it resolves to the
/// worker's [`ReaperStats`].
///
/// Requires the `smol` feature; can be awaited on any executor, or waited for
/// from synchronous code with `smol::block_on`.
///
/// # Errors
///
/// Resolves to [`WorkerError::Cancelled`] if the worker's task was dropped (its
/// executor was dropped; see [`Reaper`]), or [`WorkerError::Panicked`] if the
/// [`Policy`](crate::Policy) panicked on a report: the worker then still finishes
/// every cleanup first, and stops at the end with the first such panic.
///
/// # Drop behaviour
///
/// Dropping it detaches the worker, which goes on until its queue is closed and
/// drained. (Unlike a smol `Task`, whose drop cancels its task.)
///
/// # Cancel safety
///
/// Cancel safe: dropping the `.await` does not affect the worker.
///
/// # Examples
///
/// ```
/// use asyncdrop::rt::smol::Reaper;
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
///
/// struct Conn;
/// impl AsyncDrop for Conn {
///     type Error = std::io::Error;
///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
/// }
///
/// smol::block_on(async {
///     let (reaper, worker) = Reaper::spawn(4);
///     reaper.hand_over(AsyncDropGuard::new(Conn)).await?;
///     reaper.shutdown();
///     let stats = worker.await?;
///     println!("{stats}"); // 1 cleaned up, 0 failed, 0 panicked
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
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
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::rt::smol::Reaper;
    /// # use asyncdrop::AsyncDrop;
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = std::io::Error;
    /// #     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// # }
    ///
    /// let (reaper, worker) = Reaper::<Conn>::spawn(4);
    /// assert!(!worker.is_finished());
    /// drop(reaper);
    /// smol::block_on(worker)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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

/// A guarded value whose `Drop` hands it to a [`Reaper`] for cleanup.
///
/// It dereferences to the value; [`into_guard`](Self::into_guard) takes the guard
/// back out for an explicit `.async_drop().await`.
///
/// Requires the `smol` feature (`asyncdrop = { version = "0.1", features =
/// ["smol"] }`).
///
/// # Drop behaviour
///
/// Dropping it never loses the value and never deadlocks an executor:
///
/// 1. If the worker's queue has room, the value is queued.
/// 2. If the queue is full:
///    - on a thread that does not run an executor, the drop **blocks** until there
///      is room (this is the back-pressure) — for at most
///      [`DEFAULT_BLOCKING_LIMIT`](super::DEFAULT_BLOCKING_LIMIT) (or the limit
///      given to [`with_wait_limit`](Self::with_wait_limit)): a stuck worker does
///      not hang the dropping thread; an overflow task on the worker's executor
///      then waits for room instead;
///    - on a thread that runs an executor (as
///      [`Reaper::hand_over_blocking`] recognises one), where blocking could
///      deadlock, an *overflow* task is spawned on the worker's executor that waits
///      for room and queues the value; the drop returns at once. (A thread that
///      runs the worker's executor but has run no task of this adapter yet is not
///      recognised: there the drop waits out its limit, then overflows.)
/// 3. If the worker was shut down, the value is cleaned up by a detached task on
///    the worker's executor instead (failures reported through the
///    [`Policy`](crate::Policy)), so it is not counted in the worker's
///    [`ReaperStats`].
///
/// An overflow task that finds the worker shut down cleans the value up itself;
/// one that is dropped with its executor reports
/// [`ReportKind::Cancelled`](crate::ReportKind::Cancelled).
///
/// # Examples
///
/// ```
/// use asyncdrop::rt::smol::{Reaper, ReaperDrop};
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
///
/// struct Conn(u32);
/// impl AsyncDrop for Conn {
///     type Error = std::io::Error;
///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
/// }
///
/// smol::block_on(async {
///     let (reaper, worker) = Reaper::spawn(4);
///     let conn = ReaperDrop::new(AsyncDropGuard::new(Conn(7)), &reaper);
///     assert_eq!(conn.0, 7);
///     drop(conn); // handed to the worker
///     reaper.shutdown();
///     assert_eq!(worker.await?.cleaned, 1);
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ReaperDrop<T>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    /// `None` only after `into_guard` or inside `drop`.
    guard: Held<T>,
    reaper: Reaper<T>,
    wait_limit: Duration,
}

impl<T> ReaperDrop<T>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    /// Wraps `guard`; dropping the wrapper hands the value to `reaper`.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::rt::smol::{Reaper, ReaperDrop};
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn(u32);
    /// # impl AsyncDrop for Conn {
    /// #     type Error = std::io::Error;
    /// #     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// # }
    ///
    /// let (reaper, worker) = Reaper::spawn(4);
    /// let conn = ReaperDrop::new(AsyncDropGuard::new(Conn(7)), &reaper);
    /// assert_eq!(conn.0, 7);
    /// drop(conn); // handed to the worker
    /// drop(reaper);
    /// assert_eq!(smol::block_on(worker)?.cleaned, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(guard: AsyncDropGuard<T>, reaper: &Reaper<T>) -> Self {
        Self::with_wait_limit(guard, reaper, DEFAULT_BLOCKING_LIMIT)
    }

    /// Wraps `guard`; dropping the wrapper hands the value to `reaper`, blocking a
    /// thread that does not run an executor for at most `limit` while the queue is
    /// full (see [Drop behaviour](ReaperDrop#drop-behaviour)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use asyncdrop::rt::smol::{Reaper, ReaperDrop};
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    ///
    /// struct Conn;
    /// impl AsyncDrop for Conn {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// let (reaper, worker) = Reaper::spawn(4);
    /// let limit = Duration::from_millis(100);
    /// let conn = ReaperDrop::with_wait_limit(AsyncDropGuard::new(Conn), &reaper, limit);
    /// assert_eq!(ReaperDrop::wait_limit(&conn), limit);
    /// drop(conn);
    /// drop(reaper);
    /// assert_eq!(smol::block_on(worker)?.cleaned, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_wait_limit(guard: AsyncDropGuard<T>, reaper: &Reaper<T>, limit: Duration) -> Self {
        ReaperDrop {
            guard: Held::new(guard),
            reaper: reaper.clone(),
            wait_limit: limit,
        }
    }

    /// How long dropping the wrapper on a thread that does not run an executor
    /// blocks at most while the worker's queue is full.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use asyncdrop::rt::smol::{Reaper, ReaperDrop, DEFAULT_BLOCKING_LIMIT};
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = std::io::Error;
    /// #     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// # }
    ///
    /// let (reaper, worker) = Reaper::spawn(4);
    /// let plain = ReaperDrop::new(AsyncDropGuard::new(Conn), &reaper);
    /// assert_eq!(ReaperDrop::wait_limit(&plain), DEFAULT_BLOCKING_LIMIT);
    /// let limit = Duration::from_millis(50);
    /// let eager = ReaperDrop::with_wait_limit(AsyncDropGuard::new(Conn), &reaper, limit);
    /// assert_eq!(ReaperDrop::wait_limit(&eager), limit);
    /// drop((plain, eager));
    /// drop(reaper);
    /// assert_eq!(smol::block_on(worker)?.cleaned, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_limit(this: &Self) -> Duration {
        this.wait_limit
    }

    /// Takes the guard back out, **without** handing it to the worker.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::rt::smol::{Reaper, ReaperDrop};
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    ///
    /// struct Conn;
    /// impl AsyncDrop for Conn {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// smol::block_on(async {
    ///     let (reaper, _worker) = Reaper::spawn(4);
    ///     let conn = ReaperDrop::new(AsyncDropGuard::new(Conn), &reaper);
    ///     ReaperDrop::into_guard(conn).async_drop().await // cleaned up right here
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_guard(mut this: Self) -> AsyncDropGuard<T> {
        this.guard.take()
    }

    /// The worker the value goes to when dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::rt::smol::{Reaper, ReaperDrop};
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    ///
    /// struct Conn;
    /// impl AsyncDrop for Conn {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// let (reaper, _worker) = Reaper::spawn(4);
    /// let conn = ReaperDrop::new(AsyncDropGuard::new(Conn), &reaper);
    /// assert_eq!(ReaperDrop::reaper(&conn).capacity(), 4);
    /// smol::block_on(ReaperDrop::into_guard(conn).async_drop())?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn reaper(this: &Self) -> &Reaper<T> {
        &this.reaper
    }
}

impl<T> Deref for ReaperDrop<T>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    type Target = T;

    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for ReaperDrop<T>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T> fmt::Debug for ReaperDrop<T>
where
    T: AsyncDrop + fmt::Debug + 'static,
    T::Error: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReaperDrop")
            .field("value", &**self.guard)
            .field("reaper", &self.reaper)
            .field("wait_limit", &self.wait_limit)
            .finish()
    }
}

impl<T> Drop for ReaperDrop<T>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    fn drop(&mut self) {
        if let Some(guard) = self.guard.take_for_drop() {
            drop_into_worker(
                &self.reaper.jobs,
                guard,
                self.wait_limit,
                &self.reaper.spawner,
            );
        }
    }
}
