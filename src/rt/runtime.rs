//! What a runtime provides to the adapters, and the count of its detached cleanups.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::Cell;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::sync::atomic::{AtomicUsize, Ordering};
use core::task::{Context, Poll, Waker};
use core::time::Duration;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;

/// What an async runtime provides: detach a task, sleep, say whether blocking the
/// current thread could deadlock it, block a thread on a future, and find the
/// current runtime.
///
/// Every item of [the adapters](super) is written once over this trait; tokio's
/// `Handle`, `rt::smol::Smol` and `rt::async_std::AsyncStd` implement it. Implement
/// it for any other executor to get all of them.
///
/// # Using another runtime
///
/// A thread pool from `futures-executor` with a timer made of a sleeping thread:
///
/// ```
/// use std::future::Future;
/// use std::time::Duration;
/// use asyncdrop::rt::{block_on_async_drop_on, spawn_async_drop_on, Reaper, Runtime};
/// use asyncdrop::AsyncDropGuard;
/// use futures_executor::ThreadPool;
///
/// #[derive(Clone, Debug)]
/// struct Pool(ThreadPool);
///
/// impl Runtime for Pool {
///     type Sleep = futures_channel::oneshot::Receiver<()>;
///
///     fn current() -> Option<Self> {
///         None // no ambient pool: pass one explicitly
///     }
///     fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F) {
///         self.0.spawn_ok(future);
///     }
///     fn sleep(&self, duration: Duration) -> Self::Sleep {
///         let (wake, sleep) = futures_channel::oneshot::channel();
///         std::thread::spawn(move || {
///             std::thread::sleep(duration);
///             let _ = wake.send(());
///         });
///         sleep
///     }
///     fn blocking_could_deadlock(&self) -> bool {
///         false // the pool's threads never block on a cleanup of ours
///     }
/// }
///
/// # use asyncdrop::doc_fixture::Conn;
/// let pool = Pool(ThreadPool::new()?);
/// // Background cleanup, with a handle to wait for it:
/// let handle = spawn_async_drop_on(&pool, AsyncDropGuard::new(Conn));
/// futures_executor::block_on(handle)?;
/// // A cleanup worker:
/// let (reaper, worker) = Reaper::spawn_on(&pool, 8);
/// reaper.hand_over_blocking(AsyncDropGuard::new(Conn))?;
/// drop(reaper);
/// assert_eq!(futures_executor::block_on(worker)?.cleaned, 1);
/// // Blocking from sync code:
/// block_on_async_drop_on(&pool, AsyncDropGuard::new(Conn), Duration::from_secs(1))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Runtime: Clone + fmt::Debug + Send + Sync + 'static {
    /// The future [`sleep`](Self::sleep) returns.
    type Sleep: Future + Send + 'static;

    /// The runtime's name, for messages ("no tokio runtime on this thread ...").
    const NAME: &'static str = "async";

    /// The runtime the current thread runs in or has entered, if there is one.
    fn current() -> Option<Self>;

    /// Runs `future` to completion as a detached task.
    ///
    /// A runtime that shuts down may drop the task unfinished: the adapters'
    /// futures then report [`ReportKind::Cancelled`](crate::ReportKind::Cancelled),
    /// without panicking out of the task's destructor, whatever the policy.
    fn spawn<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static;

    /// A future that completes after `duration`; it may be polled on any thread.
    fn sleep(&self, duration: Duration) -> Self::Sleep;

    /// Whether blocking the current thread could keep this runtime from making
    /// progress: the thread runs its tasks or drives its timers and I/O, and nothing
    /// else would while it blocks. When in doubt, `true`.
    fn blocking_could_deadlock(&self) -> bool;

    /// Runs `future` on the current thread, within this runtime's context, until it
    /// completes (`Some`) or `limit` has passed (`None`; the future is dropped, so
    /// pass `&mut` to keep it). `Duration::MAX` means no limit: the output is then
    /// always `Some`. Called only where
    /// [`blocking_could_deadlock`](Self::blocking_could_deadlock) is `false`.
    ///
    /// The default parks the thread between polls, which suits a runtime whose
    /// timers and I/O run on threads of their own.
    fn block_on<F>(&self, future: F, limit: Duration) -> Option<F::Output>
    where
        F: Future + Send,
        F::Output: Send,
    {
        crate::wait::wait_for(&mut core::pin::pin!(future), limit)
    }

    /// The count of this runtime's detached cleanups (see [`CleanupTracker`]).
    ///
    /// By default one tracker shared by every runtime that does not have its own.
    fn tracker() -> &'static CleanupTracker {
        static SHARED: CleanupTracker = CleanupTracker::new();
        &SHARED
    }
}

/// `future`, or `None` once `limit` has passed on `runtime`'s timer (no timer for
/// `Duration::MAX`).
#[cfg(any(feature = "smol", feature = "async-std"))]
pub(crate) async fn within<R: Runtime, F: Future>(
    runtime: &R,
    future: F,
    limit: Duration,
) -> Option<F::Output> {
    let mut future = core::pin::pin!(future);
    if limit == Duration::MAX {
        return Some(future.await);
    }
    let mut timer = core::pin::pin!(runtime.sleep(limit));
    core::future::poll_fn(|cx| match future.as_mut().poll(cx) {
        Poll::Ready(output) => Poll::Ready(Some(output)),
        Poll::Pending => timer.as_mut().poll(cx).map(|_| None),
    })
    .await
}

/// An executor that runs `!Send` tasks on its own thread: tokio's `LocalSet`,
/// futures' `LocalSpawner`, a single-threaded or embedded executor.
///
/// [`spawn_local_async_drop_on`](super::spawn_local_async_drop_on) hands it the
/// cleanup of a [`LocalAsyncDrop`](crate::LocalAsyncDrop) value.
///
/// # Examples
///
/// ```
/// use std::future::Future;
/// use asyncdrop::rt::{spawn_local_async_drop_on, LocalRuntime};
/// use asyncdrop::AsyncDropGuard;
/// use futures_executor::{LocalPool, LocalSpawner};
/// use futures_util::task::LocalSpawnExt;
///
/// #[derive(Clone, Debug)]
/// struct Local(LocalSpawner);
///
/// impl LocalRuntime for Local {
///     fn spawn_local<F: Future<Output = ()> + 'static>(&self, future: F) {
///         self.0.spawn_local(future).expect("the pool is running");
///     }
/// }
///
/// # use asyncdrop::doc_fixture::Journal; // `!Send`
/// let mut pool = LocalPool::new();
/// let local = Local(pool.spawner());
/// let handle = spawn_local_async_drop_on(&local, AsyncDropGuard::new(Journal::default()));
/// pool.run_until(handle)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait LocalRuntime: Clone + fmt::Debug + 'static {
    /// Runs `future` to completion as a detached task on this executor's thread
    /// (dropped unfinished, as [`Runtime::spawn`] says).
    fn spawn_local<F>(&self, future: F)
    where
        F: Future<Output = ()> + 'static;
}

/// Counts the detached cleanups of a runtime, so that a program can wait for all of
/// them before it exits (graceful shutdown).
///
/// Counted is every cleanup that runs in a task of its own (background cleanups,
/// a [`ReaperDrop`](super::ReaperDrop)'s overflow, a blocking call's leftovers) until
/// it ends or the runtime drops it; a [`Reaper`](super::Reaper)'s own cleanups are
/// not: await its [`ReaperWorker`](super::ReaperWorker).
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "tokio")] {
/// use asyncdrop::rt::tokio::{background_cleanups_finished, spawn_async_drop};
/// use asyncdrop::AsyncDropGuard;
///
/// # use asyncdrop::doc_fixture::Conn;
/// tokio::runtime::Runtime::new()?.block_on(async {
///     drop(spawn_async_drop(AsyncDropGuard::new(Conn))?); // fire and forget
///     background_cleanups_finished().await; // before the runtime goes away
///     assert_eq!(asyncdrop::rt::tokio::background_cleanups(), 0);
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct CleanupTracker {
    running: AtomicUsize,
    waiters: Mutex<Vec<Waker>>,
}

impl CleanupTracker {
    /// A tracker with nothing running, for a `static` of a [`Runtime`] impl.
    pub const fn new() -> Self {
        CleanupTracker {
            running: AtomicUsize::new(0),
            waiters: Mutex::new(Vec::new()),
        }
    }

    /// How many counted cleanups have not ended.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::Acquire)
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Waker>> {
        // Nothing panics while the lock is held; tolerate poisoning anyway.
        self.waiters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Blocks this thread until no counted cleanup runs, for at most `limit`;
    /// returns how many still run (0: all ended).
    #[must_use = "the number of cleanups still running; report it if it is not zero"]
    pub fn wait_blocking(&self, limit: Duration) -> usize {
        match crate::wait::wait_for(&mut self.wait(), limit) {
            Some(()) => 0,
            None => self.running(),
        }
    }

    /// Waits until no counted cleanup runs.
    pub fn wait(&self) -> WaitForCleanups<'_> {
        WaitForCleanups { tracker: self }
    }

    /// `future`, counted until it ends or is dropped.
    pub(crate) fn track<F: Future>(&'static self, future: F) -> impl Future<Output = F::Output> {
        self.running.fetch_add(1, Ordering::AcqRel);
        let token = Tracked(self);
        async move {
            let _token = token;
            future.await
        }
    }
}

impl Default for CleanupTracker {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for CleanupTracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CleanupTracker")
            .field("running", &self.running())
            .finish()
    }
}

/// Counts one cleanup while it exists.
struct Tracked(&'static CleanupTracker);

impl Drop for Tracked {
    fn drop(&mut self) {
        if self.0.running.fetch_sub(1, Ordering::AcqRel) == 1 {
            // The last one: wake every waiter (they check the count under the lock).
            let waiters = core::mem::take(&mut *self.0.lock());
            waiters.into_iter().for_each(Waker::wake);
        }
    }
}

/// The future returned by [`CleanupTracker::wait`].
///
/// # Examples
///
/// ```
/// use asyncdrop::rt::CleanupTracker;
///
/// static TRACKER: CleanupTracker = CleanupTracker::new();
/// futures_executor::block_on(TRACKER.wait()); // nothing runs: ready at once
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct WaitForCleanups<'a> {
    tracker: &'a CleanupTracker,
}

impl Future for WaitForCleanups<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut waiters = self.tracker.lock();
        if self.tracker.running() == 0 {
            return Poll::Ready(());
        }
        if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
            waiters.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl fmt::Debug for WaitForCleanups<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitForCleanups")
            .field("running", &self.tracker.running())
            .finish()
    }
}

/// Runs `future` as a detached task of `runtime`, counted by its tracker. The
/// task's destructor (a runtime dropping it at shutdown) reports what it cut off
/// without panicking: a report's panic there is caught, and the default policy
/// prints instead (a panicking task destructor aborts some runtimes).
pub(crate) fn detach<R: Runtime>(runtime: &R, future: impl Future<Output = ()> + Send + 'static) {
    runtime.spawn(Quiet::new(R::tracker().track(future)));
}

/// A task whose drop reports quietly (see [`detach`]).
pub(crate) struct Quiet<F>(Option<Pin<Box<F>>>);

impl<F> Quiet<F> {
    pub(crate) fn new(future: F) -> Self {
        Quiet(Some(Box::pin(future)))
    }
}

std::thread_local! {
    /// Set on a thread the first time it polls an adapter task: the thread runs an
    /// executor, and blocking it could stall that executor.
    static RUNS_TASKS: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread has polled an adapter task (or its locals are gone).
#[cfg(feature = "smol")]
pub(crate) fn runs_tasks() -> bool {
    RUNS_TASKS.try_with(Cell::get).unwrap_or(true)
}

impl<F: Future<Output = ()>> Future for Quiet<F> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // During thread teardown there is nothing left to mark.
        let _ = RUNS_TASKS.try_with(|runs| runs.set(true));
        match self.0.as_mut() {
            Some(future) => future.as_mut().poll(cx),
            None => Poll::Ready(()),
        }
    }
}

impl<F> Drop for Quiet<F> {
    fn drop(&mut self) {
        let scope = crate::policy::DropScope::open(true);
        self.0 = None;
        scope.end();
    }
}

/// Runs `f` on a new thread named `asyncdrop-cleanup-helper`; if no thread can be
/// started, `f` is dropped (a cleanup inside reports its cancellation).
pub(crate) fn helper_thread(f: impl FnOnce() + Send + 'static) {
    drop(
        thread::Builder::new()
            .name(String::from("asyncdrop-cleanup-helper"))
            .spawn(f),
    );
}
