//! A bounded cleanup worker ("reaper") on tokio, for synchronous `Drop` paths.

use core::fmt;
use core::future::Future;
use core::ops::{Deref, DerefMut};
use core::panic::AssertUnwindSafe;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;
use std::panic::{catch_unwind, resume_unwind};

use ::tokio::runtime::{Handle, RuntimeFlavor};
use ::tokio::task::{JoinError, JoinHandle};
use async_channel::{SendError, TrySendError};

use super::block::DEFAULT_BLOCKING_LIMIT;
use crate::guard::Held;
use crate::rt::reaper::{drop_into_worker, try_hand_over, work, Background, HandOver, Job};
use crate::rt::{HandOverError, ReaperStats};
use crate::{AsyncDrop, AsyncDropGuard};

/// A handle to a cleanup worker: a task that cleans up whatever is handed to it.
///
/// The worker runs on a tokio runtime and is fed through a bounded queue. It runs up
/// to `capacity` cleanups at once, concurrently, in its own task; so at most
/// `capacity` values wait in the queue and `capacity` more are being cleaned up.
/// Errors and panics of those cleanups go to the [`Policy`](crate::Policy) (as
/// [`ReportKind::Failed`](crate::ReportKind::Failed) / [`ReportKind::Panicked`](crate::ReportKind::Panicked); a panic is
/// caught and the worker goes on) and are counted in the worker's [`ReaperStats`].
///
/// It is made for synchronous code that has to let go of guarded values — a `Drop`
/// impl, a callback — and is cheap to clone (all clones feed the same worker). Wrap
/// a value in a [`ReaperDrop`] to have its `Drop` hand it over.
///
/// Requires the `tokio` feature (`asyncdrop = { version = "0.1", features =
/// ["tokio"] }`) and a tokio runtime.
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
/// # Runtime shutdown
///
/// If the runtime shuts down first, the worker's task is dropped: cleanups in
/// progress report [`ReportKind::Cancelled`](crate::ReportKind::Cancelled), and so do values
/// still queued, once the queue is dropped. Nothing goes unreported.
///
/// # Examples
///
/// ```
/// use asyncdrop::rt::tokio::{Reaper, ReaperDrop};
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
///
/// struct Conn {
///     id: u32,
/// }
/// impl AsyncDrop for Conn {
///     type Error = std::io::Error;
///     async fn async_drop_impl(self) -> std::io::Result<()> {
///         tokio::task::yield_now().await; // say goodbye to peer `self.id`, shut down
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
/// let rt = tokio::runtime::Runtime::new()?;
/// let (reaper, worker) = rt.block_on(async { Reaper::spawn(16) });
/// let mut cache = Cache { entries: Vec::new() };
/// for i in 0..100 {
///     cache.entries.push(ReaperDrop::new(AsyncDropGuard::new(Conn { id: i }), &reaper));
/// }
/// drop(cache); // every `Drop` hands its value to the worker (blocking for room)
///
/// reaper.shutdown(); // drain, then stop
/// let stats = rt.block_on(worker)?;
/// assert_eq!(stats.cleaned, 100);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Reaper<T>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    jobs: async_channel::Sender<Job<T>>,
    runtime: Handle,
}

impl<T> Reaper<T>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    /// Spawns a cleanup worker on the current tokio runtime, with a queue of
    /// `capacity` values and up to `capacity` cleanups running at once.
    ///
    /// # Panics
    ///
    /// Panics, naming the type, if called outside a tokio runtime (use
    /// [`spawn_on`](Self::spawn_on) there) or if `capacity` is zero.
    ///
    /// # Examples
    ///
    /// ```
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
        match Handle::try_current() {
            Ok(runtime) => Self::spawn_on(&runtime, capacity),
            Err(_) => panic!(
                "`Reaper::<{}>::spawn` was called outside a tokio runtime; \
                 call it on a runtime thread, or use `Reaper::spawn_on` with a runtime `Handle`",
                core::any::type_name::<T>()
            ),
        }
    }

    /// Spawns a cleanup worker on the runtime of `runtime`; callable from any
    /// thread.
    ///
    /// # Panics
    ///
    /// Panics if `capacity` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::rt::tokio::Reaper;
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    ///
    /// struct Conn;
    /// impl AsyncDrop for Conn {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// let rt = tokio::runtime::Runtime::new()?;
    /// let (reaper, worker) = Reaper::spawn_on(rt.handle(), 4);
    /// reaper.hand_over_blocking(AsyncDropGuard::new(Conn))?;
    /// reaper.shutdown();
    /// assert_eq!(rt.block_on(worker)?.cleaned, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn spawn_on(runtime: &Handle, capacity: usize) -> (Self, ReaperWorker) {
        assert!(
            capacity > 0,
            "the capacity of a `Reaper::<{}>` must not be zero",
            core::any::type_name::<T>()
        );
        let (jobs, queue) = async_channel::bounded(capacity);
        let worker = runtime.spawn(work(queue, capacity));
        let reaper = Reaper {
            jobs,
            runtime: runtime.clone(),
        };
        (reaper, ReaperWorker { worker })
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
    /// use asyncdrop::rt::tokio::Reaper;
    /// use asyncdrop::rt::HandOverError;
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    ///
    /// struct Conn;
    /// impl AsyncDrop for Conn {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// let rt = tokio::runtime::Builder::new_current_thread().build()?;
    /// let (reaper, worker) = Reaper::spawn_on(rt.handle(), 1);
    /// reaper.try_hand_over(AsyncDropGuard::new(Conn))?;
    /// // The worker has not run yet (the runtime is idle): the queue is full.
    /// match reaper.try_hand_over(AsyncDropGuard::new(Conn)) {
    ///     Err(HandOverError::Full(guard)) => rt.block_on(guard.async_drop())?,
    ///     other => panic!("{other:?}"),
    /// }
    /// reaper.shutdown();
    /// assert_eq!(rt.block_on(worker)?.cleaned, 1);
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
    /// For plain threads. On a runtime thread, blocking could deadlock (a
    /// current-thread runtime cannot run the worker while its only thread blocks),
    /// so this never blocks a runtime thread unsafely:
    ///
    /// - on a multi-thread runtime's thread it waits inside
    ///   `tokio::task::block_in_place`;
    /// - on a thread of a current-thread runtime (or inside a `LocalSet`) it does not
    ///   wait: a full queue gives [`HandOverError::WouldBlock`] with the guard.
    ///
    /// Waiting on a plain thread can still deadlock if the worker's runtime is a
    /// current-thread runtime whose thread waits for this one.
    ///
    /// # Errors
    ///
    /// Hands the guard back in [`HandOverError::Closed`] after
    /// [`shutdown`](Self::shutdown), or [`HandOverError::WouldBlock`] as above.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::rt::tokio::Reaper;
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    ///
    /// struct Conn;
    /// impl AsyncDrop for Conn {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// let rt = tokio::runtime::Runtime::new()?;
    /// let (reaper, worker) = Reaper::spawn_on(rt.handle(), 2);
    /// let feeder = std::thread::spawn(move || {
    ///     for _ in 0..10 {
    ///         reaper.hand_over_blocking(AsyncDropGuard::new(Conn)).unwrap();
    ///     }
    ///     // the last clone of `reaper` is dropped here: the queue closes
    /// });
    /// feeder.join().unwrap();
    /// assert_eq!(rt.block_on(worker)?.cleaned, 10);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn hand_over_blocking(&self, guard: AsyncDropGuard<T>) -> Result<(), HandOverError<T>> {
        let job = match self.jobs.try_send(Job::new(guard)) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Closed(job)) => return Err(HandOverError::Closed(job.into_guard())),
            Err(TrySendError::Full(job)) => job,
        };
        let closed = |SendError(job): SendError<Job<T>>| HandOverError::Closed(job.into_guard());
        match Handle::try_current() {
            Err(_) => self.jobs.send_blocking(job).map_err(closed),
            Ok(runtime) if runtime.runtime_flavor() == RuntimeFlavor::MultiThread => {
                let mut job = Some(job);
                let sent = catch_unwind(AssertUnwindSafe(|| {
                    ::tokio::task::block_in_place(|| match job.take() {
                        Some(job) => self.jobs.send_blocking(job),
                        None => unreachable!("the job is sent once"),
                    })
                }));
                match (sent, job) {
                    (Ok(sent), _) => sent.map_err(closed),
                    // `block_in_place` refused before running anything (a `LocalSet`).
                    (Err(_), Some(job)) => Err(HandOverError::WouldBlock(job.into_guard())),
                    (Err(payload), None) => resume_unwind(payload),
                }
            }
            Ok(_) => Err(HandOverError::WouldBlock(job.into_guard())),
        }
    }

    /// Closes the queue: the worker takes nothing more, cleans up what is queued,
    /// then stops (await its [`ReaperWorker`]). Returns `false` if it was closed
    /// already.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::rt::tokio::Reaper;
    /// use asyncdrop::AsyncDrop;
    ///
    /// struct Conn;
    /// impl AsyncDrop for Conn {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// tokio::runtime::Runtime::new()?.block_on(async {
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
    /// use asyncdrop::rt::tokio::Reaper;
    /// # use asyncdrop::AsyncDrop;
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = std::io::Error;
    /// #     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// # }
    ///
    /// let rt = tokio::runtime::Runtime::new()?;
    /// let (reaper, worker) = Reaper::<Conn>::spawn_on(rt.handle(), 4);
    /// let other = reaper.clone();
    /// assert!(!other.is_shut_down());
    /// reaper.shutdown(); // closes the queue for every clone
    /// assert!(other.is_shut_down());
    /// assert_eq!(rt.block_on(worker)?.total(), 0);
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
    /// use asyncdrop::rt::tokio::Reaper;
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    ///
    /// struct Conn;
    /// impl AsyncDrop for Conn {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// let rt = tokio::runtime::Builder::new_current_thread().build()?;
    /// let (reaper, worker) = Reaper::spawn_on(rt.handle(), 8);
    /// reaper.try_hand_over(AsyncDropGuard::new(Conn))?;
    /// assert_eq!((reaper.queued(), reaper.capacity()), (1, 8));
    /// drop(reaper);
    /// rt.block_on(worker)?;
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
    /// use asyncdrop::rt::tokio::Reaper;
    /// # use asyncdrop::AsyncDrop;
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = std::io::Error;
    /// #     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// # }
    ///
    /// let rt = tokio::runtime::Runtime::new()?;
    /// let (reaper, worker) = Reaper::<Conn>::spawn_on(rt.handle(), 16);
    /// assert_eq!(reaper.capacity(), 16);
    /// drop(reaper); // the last handle: the queue closes
    /// rt.block_on(worker)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.jobs.capacity().unwrap_or(usize::MAX)
    }

    /// The runtime the worker runs on.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::rt::tokio::Reaper;
    /// # use asyncdrop::AsyncDrop;
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = std::io::Error;
    /// #     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// # }
    ///
    /// let rt = tokio::runtime::Runtime::new()?;
    /// let (reaper, _worker) = Reaper::<Conn>::spawn_on(rt.handle(), 4);
    /// let _enter = reaper.runtime().enter();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn runtime(&self) -> &Handle {
        &self.runtime
    }
}

/// The worker's runtime, for the shared hand-over code.
impl Background for Handle {
    fn on_runtime_thread(&self) -> bool {
        Handle::try_current().is_ok()
    }

    fn detach<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(self.spawn(future));
    }

    /// On the current runtime: the thread runs one, which may not be the worker's.
    fn detach_from_runtime_thread<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        match Handle::try_current() {
            Ok(current) => current.detach(future),
            Err(_) => self.detach(future),
        }
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
            runtime: self.runtime.clone(),
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
/// # Errors
///
/// Resolves to tokio's [`JoinError`] if the worker's task was cancelled (the runtime
/// shut down; see [`Reaper`]) or panicked — which it only does when the
/// [`Policy`](crate::Policy) panics on a report: the worker then still finishes
/// every cleanup first, and panics at the end with the first such panic.
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
    worker: JoinHandle<ReaperStats>,
}

impl ReaperWorker {
    /// Whether the worker has stopped.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::rt::tokio::Reaper;
    /// # use asyncdrop::AsyncDrop;
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = std::io::Error;
    /// #     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// # }
    ///
    /// tokio::runtime::Runtime::new()?.block_on(async {
    ///     let (reaper, worker) = Reaper::<Conn>::spawn(4);
    ///     assert!(!worker.is_finished());
    ///     drop(reaper);
    ///     worker.await
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_finished(&self) -> bool {
        self.worker.is_finished()
    }
}

impl Future for ReaperWorker {
    type Output = Result<ReaperStats, JoinError>;

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
/// Requires the `tokio` feature (`asyncdrop = { version = "0.1", features =
/// ["tokio"] }`) and a tokio runtime for the worker.
///
/// # Drop behaviour
///
/// Dropping it never loses the value and never deadlocks a runtime:
///
/// 1. If the worker's queue has room, the value is queued.
/// 2. If the queue is full:
///    - on a thread that is not a runtime thread, the drop **blocks** until there
///      is room (this is the back-pressure) — for at most
///      [`DEFAULT_BLOCKING_LIMIT`](super::DEFAULT_BLOCKING_LIMIT) (or the limit
///      given to [`with_wait_limit`](Self::with_wait_limit)): a stuck worker does
///      not hang the dropping thread; an overflow task on the worker's runtime
///      then waits for room instead;
///    - on a runtime thread (where blocking could deadlock), an *overflow* task is
///      spawned on the current runtime that waits for room and queues the value;
///      the drop returns at once.
/// 3. If the worker was shut down, the value is cleaned up by a detached task on
///    the worker's runtime instead (failures reported through the
///    [`Policy`](crate::Policy)), so it is not counted in the worker's
///    [`ReaperStats`].
///
/// An overflow task that finds the worker shut down cleans the value up itself;
/// one that the runtime drops reports [`ReportKind::Cancelled`](crate::ReportKind::Cancelled).
///
/// # Examples
///
/// ```
/// use asyncdrop::rt::tokio::{Reaper, ReaperDrop};
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
///
/// struct Conn(u32);
/// impl AsyncDrop for Conn {
///     type Error = std::io::Error;
///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
/// }
///
/// tokio::runtime::Runtime::new()?.block_on(async {
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
    /// use asyncdrop::rt::tokio::{Reaper, ReaperDrop};
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn(u32);
    /// # impl AsyncDrop for Conn {
    /// #     type Error = std::io::Error;
    /// #     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// # }
    ///
    /// let rt = tokio::runtime::Runtime::new()?;
    /// let (reaper, worker) = Reaper::spawn_on(rt.handle(), 4);
    /// let conn = ReaperDrop::new(AsyncDropGuard::new(Conn(7)), &reaper);
    /// assert_eq!(conn.0, 7);
    /// drop(conn); // handed to the worker
    /// drop(reaper);
    /// assert_eq!(rt.block_on(worker)?.cleaned, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(guard: AsyncDropGuard<T>, reaper: &Reaper<T>) -> Self {
        Self::with_wait_limit(guard, reaper, DEFAULT_BLOCKING_LIMIT)
    }

    /// Wraps `guard`; dropping the wrapper hands the value to `reaper`, blocking a
    /// thread that is not a runtime thread for at most `limit` while the queue is
    /// full (see [Drop behaviour](ReaperDrop#drop-behaviour)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use asyncdrop::rt::tokio::{Reaper, ReaperDrop};
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    ///
    /// struct Conn;
    /// impl AsyncDrop for Conn {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// let rt = tokio::runtime::Runtime::new()?;
    /// let (reaper, worker) = Reaper::spawn_on(rt.handle(), 4);
    /// let limit = Duration::from_millis(100);
    /// let conn = ReaperDrop::with_wait_limit(AsyncDropGuard::new(Conn), &reaper, limit);
    /// assert_eq!(ReaperDrop::wait_limit(&conn), limit);
    /// drop(conn);
    /// drop(reaper);
    /// assert_eq!(rt.block_on(worker)?.cleaned, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_wait_limit(guard: AsyncDropGuard<T>, reaper: &Reaper<T>, limit: Duration) -> Self {
        ReaperDrop {
            guard: Held::new(guard),
            reaper: reaper.clone(),
            wait_limit: limit,
        }
    }

    /// How long dropping the wrapper on a thread that is not a runtime thread
    /// blocks at most while the worker's queue is full.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use asyncdrop::rt::tokio::{Reaper, ReaperDrop, DEFAULT_BLOCKING_LIMIT};
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = std::io::Error;
    /// #     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// # }
    ///
    /// let rt = tokio::runtime::Runtime::new()?;
    /// let (reaper, worker) = Reaper::spawn_on(rt.handle(), 4);
    /// let plain = ReaperDrop::new(AsyncDropGuard::new(Conn), &reaper);
    /// assert_eq!(ReaperDrop::wait_limit(&plain), DEFAULT_BLOCKING_LIMIT);
    /// let limit = Duration::from_millis(50);
    /// let eager = ReaperDrop::with_wait_limit(AsyncDropGuard::new(Conn), &reaper, limit);
    /// assert_eq!(ReaperDrop::wait_limit(&eager), limit);
    /// drop((plain, eager));
    /// drop(reaper);
    /// assert_eq!(rt.block_on(worker)?.cleaned, 2);
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
    /// use asyncdrop::rt::tokio::{Reaper, ReaperDrop};
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    ///
    /// struct Conn;
    /// impl AsyncDrop for Conn {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// tokio::runtime::Runtime::new()?.block_on(async {
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
    /// use asyncdrop::rt::tokio::{Reaper, ReaperDrop};
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    ///
    /// struct Conn;
    /// impl AsyncDrop for Conn {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// tokio::runtime::Runtime::new()?.block_on(async {
    ///     let (reaper, _worker) = Reaper::spawn(4);
    ///     let conn = ReaperDrop::new(AsyncDropGuard::new(Conn), &reaper);
    ///     assert_eq!(ReaperDrop::reaper(&conn).capacity(), 4);
    /// });
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
                &self.reaper.runtime,
            );
        }
    }
}
