//! A bounded cleanup worker ("reaper") on async-std, for synchronous `Drop` paths.

use alloc::sync::Arc;
use core::fmt;
use core::future::Future;
use core::ops::{Deref, DerefMut};
use core::panic::AssertUnwindSafe;
use core::pin::Pin;
use core::sync::atomic::{AtomicBool, Ordering};
use core::task::{Context, Poll};
use core::time::Duration;

use ::async_std::task::JoinHandle;
use async_channel::{SendError, TrySendError};
use futures_util::FutureExt;

use super::block::DEFAULT_BLOCKING_LIMIT;
use super::spawn::{in_async_std_task, Global};
use crate::guard::Held;
use crate::rt::reaper::{drop_into_worker, try_hand_over, work, HandOver, Job};
use crate::rt::TaskPanic;
use crate::rt::{HandOverError, ReaperStats};
use crate::{AsyncDrop, AsyncDropGuard};

/// A handle to a cleanup worker: a task that cleans up whatever is handed to it.
///
/// The worker runs on async-std's global executor and is fed through a bounded
/// queue. It runs up to `capacity` cleanups at once, concurrently, in its own task;
/// so at most `capacity` values wait in the queue and `capacity` more are being
/// cleaned up. Errors and panics of those cleanups go to the
/// [`Policy`](crate::Policy) (as [`ReportKind::Failed`](crate::ReportKind::Failed) /
/// [`ReportKind::Panicked`](crate::ReportKind::Panicked); a panic is caught and the
/// worker goes on) and are counted in the worker's [`ReaperStats`].
///
/// It is made for synchronous code that has to let go of guarded values — a `Drop`
/// impl, a callback — and is cheap to clone (all clones feed the same worker). Wrap
/// a value in a [`ReaperDrop`] to have its `Drop` hand it over.
///
/// Requires the `async-std` feature (**legacy**: async-std is discontinued
/// upstream): `asyncdrop = { version = "0.1", features = ["async-std"] }`. No
/// runtime needs to be set up: the worker runs on async-std's global executor.
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
/// async-std's runtime itself never shuts down: a worker still busy when the
/// process exits is cut off without a report. Shut the worker down and await its
/// [`ReaperWorker`] before `main` returns.
///
/// # Drop behaviour
///
/// Dropping a `Reaper` drops one handle to the queue; when the last one (counting
/// those inside [`ReaperDrop`]s) is gone, the queue closes as if
/// [`shutdown`](Self::shutdown) had been called.
///
/// # Examples
///
/// ```
/// use asyncdrop::rt::async_std::{Reaper, ReaperDrop};
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
///
/// struct Conn {
///     id: u32,
/// }
/// impl AsyncDrop for Conn {
///     type Error = std::io::Error;
///     async fn async_drop_impl(self) -> std::io::Result<()> {
///         async_std::task::yield_now().await; // say goodbye to peer `self.id`, shut down
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
/// let (reaper, worker) = Reaper::spawn(16);
/// let mut cache = Cache { entries: Vec::new() };
/// for i in 0..100 {
///     cache.entries.push(ReaperDrop::new(AsyncDropGuard::new(Conn { id: i }), &reaper));
/// }
/// drop(cache); // every `Drop` hands its value to the worker (blocking for room)
///
/// reaper.shutdown(); // drain, then stop
/// let stats = async_std::task::block_on(worker)?;
/// assert_eq!(stats.cleaned, 100);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Reaper<T>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    jobs: async_channel::Sender<Job<T>>,
}

impl<T> Reaper<T>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    /// Spawns a cleanup worker on async-std's global executor, with a queue of
    /// `capacity` values and up to `capacity` cleanups running at once. Callable
    /// from any thread.
    ///
    /// # Panics
    ///
    /// Panics if `capacity` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::rt::async_std::Reaper;
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    ///
    /// struct Conn;
    /// impl AsyncDrop for Conn {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// async_std::task::block_on(async {
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
        assert!(
            capacity > 0,
            "the capacity of a `Reaper::<{}>` must not be zero",
            core::any::type_name::<T>()
        );
        let (jobs, queue) = async_channel::bounded(capacity);
        let finished = Arc::new(AtomicBool::new(false));
        let done = Arc::clone(&finished);
        let worker = ::async_std::task::spawn(async move {
            // async-std would pass a panic of the task on by panicking in whoever
            // awaits it: catch it and hand it over as a value instead.
            let stats = AssertUnwindSafe(work(queue, capacity))
                .catch_unwind()
                .await
                .map_err(TaskPanic::new);
            done.store(true, Ordering::Release);
            stats
        });
        (Reaper { jobs }, ReaperWorker { worker, finished })
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
    /// use asyncdrop::rt::async_std::Reaper;
    /// use asyncdrop::rt::HandOverError;
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    ///
    /// struct Conn {
    ///     stuck: bool,
    /// }
    /// impl AsyncDrop for Conn {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> {
    ///         if self.stuck {
    ///             std::future::pending::<()>().await; // a peer that never answers
    ///         }
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let (reaper, _worker) = Reaper::spawn(1);
    /// // The worker takes one and is stuck with it; the queue has room for one more.
    /// reaper.try_hand_over(AsyncDropGuard::new(Conn { stuck: true }))?;
    /// # while reaper.queued() > 0 { std::thread::yield_now(); }
    /// reaper.try_hand_over(AsyncDropGuard::new(Conn { stuck: true }))?;
    /// match reaper.try_hand_over(AsyncDropGuard::new(Conn { stuck: false })) {
    ///     // Full: clean it up some other way, here in place.
    ///     Err(HandOverError::Full(guard)) => async_std::task::block_on(guard.async_drop())?,
    ///     other => panic!("{other:?}"),
    /// }
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
    /// without cleanup and [`ReportKind::Cancelled`](crate::ReportKind::Cancelled) is
    /// reported, as for any cleanup future dropped early. Once queued, it is the
    /// worker's.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::rt::async_std::Reaper;
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    ///
    /// struct Conn;
    /// impl AsyncDrop for Conn {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// async_std::task::block_on(async {
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
    /// For plain threads. Inside an async-std task — a spawned task, or inside
    /// `async_std::task::block_on` — blocking could starve the executor (with one
    /// executor thread, or all of them blocked the same way, the worker could never
    /// make room), so there a full queue gives [`HandOverError::WouldBlock`] with the
    /// guard instead of blocking. Use [`hand_over`](Self::hand_over) in async code,
    /// or a [`ReaperDrop`], which never blocks an async-std task.
    ///
    /// # Errors
    ///
    /// Hands the guard back in [`HandOverError::Closed`] after
    /// [`shutdown`](Self::shutdown), or [`HandOverError::WouldBlock`] as above.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::rt::async_std::Reaper;
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
    /// assert_eq!(async_std::task::block_on(worker)?.cleaned, 10);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn hand_over_blocking(&self, guard: AsyncDropGuard<T>) -> Result<(), HandOverError<T>> {
        match self.jobs.try_send(Job::new(guard)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Closed(job)) => Err(HandOverError::Closed(job.into_guard())),
            Err(TrySendError::Full(job)) if in_async_std_task() => {
                Err(HandOverError::WouldBlock(job.into_guard()))
            }
            Err(TrySendError::Full(job)) => self
                .jobs
                .send_blocking(job)
                .map_err(|SendError(job)| HandOverError::Closed(job.into_guard())),
        }
    }

    /// Closes the queue: the worker takes nothing more, cleans up what is queued,
    /// then stops (await its [`ReaperWorker`]). Returns `false` if it was closed
    /// already.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::rt::async_std::Reaper;
    /// use asyncdrop::AsyncDrop;
    ///
    /// struct Conn;
    /// impl AsyncDrop for Conn {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// async_std::task::block_on(async {
    ///     let (reaper, worker) = Reaper::<Conn>::spawn(4);
    ///     assert!(reaper.shutdown());
    ///     assert!(reaper.is_shut_down());
    ///     assert!(!reaper.shutdown());
    ///     assert_eq!(worker.await?.total(), 0);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
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
    /// use asyncdrop::rt::async_std::Reaper;
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
    /// assert_eq!(async_std::task::block_on(worker)?.total(), 0);
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
    /// use asyncdrop::rt::async_std::Reaper;
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    ///
    /// struct Conn;
    /// impl AsyncDrop for Conn {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// let (reaper, worker) = Reaper::spawn(8);
    /// reaper.try_hand_over(AsyncDropGuard::new(Conn))?;
    /// assert!(reaper.queued() <= 1); // the worker may have taken it already
    /// assert_eq!(reaper.capacity(), 8);
    /// drop(reaper);
    /// async_std::task::block_on(worker)?;
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
    /// use asyncdrop::rt::async_std::Reaper;
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
    /// async_std::task::block_on(worker)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.jobs.capacity().unwrap_or(usize::MAX)
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
            .finish()
    }
}

/// The handle to a cleanup worker's task, returned with its [`Reaper`].
///
/// Await it after [`Reaper::shutdown`] (or after every `Reaper` clone is gone) to
/// wait until the worker has cleaned up everything it took; it resolves to the
/// worker's [`ReaperStats`].
///
/// Requires the `async-std` feature (**legacy**: async-std is discontinued
/// upstream): `asyncdrop = { version = "0.1", features = ["async-std"] }`. It can be
/// awaited on any executor, or with `async_std::task::block_on` from synchronous
/// code.
///
/// # Errors
///
/// Resolves to a [`TaskPanic`] if the worker panicked — which it only does when the
/// [`Policy`](crate::Policy) panics on a report (the default policy does, on a failed
/// cleanup): the worker then still finishes every cleanup first, and ends with the
/// first such panic. (async-std's global executor never cancels a task, so there is
/// no "cancelled" case.)
///
/// # Drop behaviour
///
/// Dropping it detaches the worker, which goes on until its queue is closed and
/// drained.
///
/// # Cancel safety
///
/// Cancel safe: dropping the `.await` does not affect the worker.
///
/// # Examples
///
/// ```
/// use asyncdrop::rt::async_std::Reaper;
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
///
/// struct Conn;
/// impl AsyncDrop for Conn {
///     type Error = std::io::Error;
///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
/// }
///
/// async_std::task::block_on(async {
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
    worker: JoinHandle<Result<ReaperStats, TaskPanic>>,
    finished: Arc<AtomicBool>,
}

impl ReaperWorker {
    /// Whether the worker has stopped: it cleaned up everything and its queue is
    /// closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::rt::async_std::Reaper;
    /// # use asyncdrop::AsyncDrop;
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = std::io::Error;
    /// #     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// # }
    ///
    /// async_std::task::block_on(async {
    ///     let (reaper, worker) = Reaper::<Conn>::spawn(4);
    ///     assert!(!worker.is_finished()); // its queue is open
    ///     drop(reaper);
    ///     worker.await
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }
}

impl Future for ReaperWorker {
    type Output = Result<ReaperStats, TaskPanic>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.worker).poll(cx)
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
/// Requires the `async-std` feature (**legacy**: async-std is discontinued
/// upstream): `asyncdrop = { version = "0.1", features = ["async-std"] }`. No
/// runtime needs to be set up: async-std's is global.
///
/// # Drop behaviour
///
/// Dropping it never loses the value and never deadlocks the executor:
///
/// 1. If the worker's queue has room, the value is queued.
/// 2. If the queue is full:
///    - on a thread that does not run an async-std task, the drop **blocks** until
///      there is room (this is the back-pressure) — for at most
///      [`DEFAULT_BLOCKING_LIMIT`](super::DEFAULT_BLOCKING_LIMIT) (or the limit
///      given to [`with_wait_limit`](Self::with_wait_limit)): a stuck worker does
///      not hang the dropping thread; an *overflow* task then waits for room
///      instead;
///    - inside an async-std task (a spawned task, or inside
///      `async_std::task::block_on`), where blocking could starve the executor, an
///      overflow task is spawned at once that waits for room and queues the value;
///      the drop returns at once.
/// 3. If the worker was shut down, the value is cleaned up by a detached task of
///    its own instead (failures reported through the [`Policy`](crate::Policy)), so
///    it is not counted in the worker's [`ReaperStats`].
///
/// An overflow task that finds the worker shut down cleans the value up itself.
/// Overflow tasks count in [`background_cleanups`](super::background_cleanups).
///
/// # Examples
///
/// ```
/// use asyncdrop::rt::async_std::{Reaper, ReaperDrop};
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
///
/// struct Conn(u32);
/// impl AsyncDrop for Conn {
///     type Error = std::io::Error;
///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
/// }
///
/// async_std::task::block_on(async {
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
    /// use asyncdrop::rt::async_std::{Reaper, ReaperDrop};
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
    /// assert_eq!(async_std::task::block_on(worker)?.cleaned, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(guard: AsyncDropGuard<T>, reaper: &Reaper<T>) -> Self {
        Self::with_wait_limit(guard, reaper, DEFAULT_BLOCKING_LIMIT)
    }

    /// Wraps `guard`; dropping the wrapper hands the value to `reaper`, blocking a
    /// thread that does not run an async-std task for at most `limit` while the
    /// queue is full (see [Drop behaviour](ReaperDrop#drop-behaviour)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use asyncdrop::rt::async_std::{Reaper, ReaperDrop};
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
    /// assert_eq!(async_std::task::block_on(worker)?.cleaned, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_wait_limit(guard: AsyncDropGuard<T>, reaper: &Reaper<T>, limit: Duration) -> Self {
        ReaperDrop {
            guard: Held::new(guard),
            reaper: reaper.clone(),
            wait_limit: limit,
        }
    }

    /// How long dropping the wrapper on a thread that does not run an async-std
    /// task blocks at most while the worker's queue is full.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use asyncdrop::rt::async_std::{Reaper, ReaperDrop, DEFAULT_BLOCKING_LIMIT};
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
    /// assert_eq!(async_std::task::block_on(worker)?.cleaned, 2);
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
    /// use asyncdrop::rt::async_std::{Reaper, ReaperDrop};
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    ///
    /// struct Conn;
    /// impl AsyncDrop for Conn {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// async_std::task::block_on(async {
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
    /// use asyncdrop::rt::async_std::{Reaper, ReaperDrop};
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
            drop_into_worker(&self.reaper.jobs, guard, self.wait_limit, &Global);
        }
    }
}
