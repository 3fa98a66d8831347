//! Background cleanup: hand a guard's cleanup to smol's global executor or to an
//! executor of the user's.

use alloc::sync::Arc;
use core::cell::Cell;
use core::fmt;
use core::future::Future;
use core::ops::{Deref, DerefMut};
use core::pin::Pin;
use core::task::{Context, Poll};
use std::thread;

use ::smol::{Executor, Task};
use pin_project_lite::pin_project;

use crate::guard::Held;
use crate::rt::handle::detached;
use crate::rt::reaper::Background;
use crate::rt::CleanupHandle;
use crate::{AsyncDrop, AsyncDropGuard};

std::thread_local! {
    /// Set on a thread the first time it polls a task this adapter spawned: the
    /// thread runs an executor, and blocking it could stall that executor.
    static RUNS_TASKS: Cell<bool> = const { Cell::new(false) };
}

/// Whether the current thread runs an executor that blocking could deadlock: one of
/// smol's global executor threads (named `smol-N`), or a thread that has polled a
/// task of this adapter. Conservative: `true` when in doubt.
pub(super) fn on_executor_thread() -> bool {
    match RUNS_TASKS.try_with(Cell::get) {
        Ok(true) | Err(_) => true,
        Ok(false) => thread::current()
            .name()
            .is_some_and(|name| name.starts_with("smol-")),
    }
}

pin_project! {
    /// A task of this adapter: marks the thread that polls it as an executor thread.
    pub(super) struct Marked<F> {
        #[pin]
        inner: F,
    }
}

impl<F: Future> Future for Marked<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // During thread teardown there is nothing left to mark.
        let _ = RUNS_TASKS.try_with(|runs| runs.set(true));
        self.project().inner.poll(cx)
    }
}

/// Where this adapter spawns: smol's global executor, or an executor of the user's.
#[derive(Clone)]
pub(super) enum Spawner {
    Global,
    Executor(Arc<Executor<'static>>),
}

/// The worker's executor, for the shared cleanup-worker code.
impl Background for Spawner {
    fn on_runtime_thread(&self) -> bool {
        on_executor_thread()
    }

    fn detach<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.spawn(future).detach();
    }
}

impl Spawner {
    /// Spawns `future` (marked, see [`Marked`]) and returns its task. Dropping the
    /// task cancels it; detach it to let it run alone.
    pub(super) fn spawn<F>(&self, future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let future = Marked { inner: future };
        match self {
            Spawner::Global => ::smol::spawn(future),
            Spawner::Executor(executor) => executor.spawn(future),
        }
    }

    /// Spawns the cleanup of `guard`, detached; the handle waits for it.
    pub(super) fn spawn_cleanup<T>(&self, guard: AsyncDropGuard<T>) -> CleanupHandle<T>
    where
        T: AsyncDrop + 'static,
        T::Error: fmt::Debug,
    {
        let (task, handle) = detached(guard);
        self.detach(task);
        handle
    }

    pub(super) fn executor(&self) -> Option<&Arc<Executor<'static>>> {
        match self {
            Spawner::Global => None,
            Spawner::Executor(executor) => Some(executor),
        }
    }
}

impl fmt::Debug for Spawner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Spawner::Global => f.write_str("global executor"),
            Spawner::Executor(_) => f.write_str("user executor"),
        }
    }
}

/// Runs the cleanup of `guard` as a task on smol's global executor.
///
/// Returns at once with a [`CleanupHandle`]: await it to learn when the cleanup
/// finished and how; drop it to let the cleanup go on alone. Either way a failure is
/// never lost: it goes to whoever awaits the handle, or else to the
/// [`Policy`](crate::Policy) (see [`CleanupHandle`]).
///
/// smol has no ambient runtime to look up: the task goes to smol's global executor
/// ([`smol::spawn`]), which smol starts on first use on threads of
/// its own. So this works from any thread, in or out of a task, and never fails
/// (unlike tokio's, which needs a current runtime). Use [`spawn_async_drop_on`] for
/// an [`Executor`] of yours.
///
/// `T` must be [`AsyncDrop`] (its cleanup future is `Send`) and `'static`; a
/// `!Send` ([`LocalAsyncDrop`](crate::LocalAsyncDrop)-only) resource is rejected at
/// compile time — clean it up in place, on its own task.
///
/// Requires the `smol` feature (`asyncdrop = { version = "0.1", features =
/// ["smol"] }`).
///
/// # Process exit
///
/// smol's global executor is never shut down: a cleanup still running when the
/// process exits is neither finished nor reported. Await the handle before `main`
/// returns if the cleanup must finish.
///
/// # Examples
///
/// ```
/// use asyncdrop::rt::smol::spawn_async_drop;
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
///
/// struct Session {
///     id: u32,
/// }
/// impl AsyncDrop for Session {
///     type Error = std::io::Error;
///     async fn async_drop_impl(self) -> std::io::Result<()> {
///         smol::future::yield_now().await; // log session `self.id` out, close the socket, ...
///         assert!(self.id > 0);
///         Ok(())
///     }
/// }
///
/// smol::block_on(async {
///     let session = AsyncDropGuard::new(Session { id: 1 });
///     let cleanup = spawn_async_drop(session);
///     // ... carry on; later, if it matters, wait for the cleanup:
///     cleanup.await.expect("logged out");
/// });
///
/// // No task needed: from plain synchronous code too.
/// let cleanup = spawn_async_drop(AsyncDropGuard::new(Session { id: 2 }));
/// smol::block_on(cleanup).expect("logged out");
/// ```
pub fn spawn_async_drop<T>(guard: AsyncDropGuard<T>) -> CleanupHandle<T>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    Spawner::Global.spawn_cleanup(guard)
}

/// Runs the cleanup of `guard` as a task on `executor`.
///
/// As [`spawn_async_drop`], on an [`Executor`] of yours. The cleanup runs when
/// something runs the executor (`executor.run(..)`, `executor.tick()`).
///
/// Requires the `smol` feature.
///
/// # Executor drop
///
/// An executor dropped before the cleanup finished drops the cleanup's task: the
/// value is dropped synchronously and the cleanup future reports
/// [`ReportKind::Cancelled`](crate::ReportKind::Cancelled); an awaiting handle returns
/// [`BackgroundError::Cancelled`](crate::rt::BackgroundError::Cancelled).
///
/// # Examples
///
/// ```
/// use asyncdrop::rt::smol::spawn_async_drop_on;
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
///
/// struct Session;
/// impl AsyncDrop for Session {
///     type Error = std::io::Error;
///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
/// }
///
/// let executor = smol::Executor::new();
/// let cleanup = spawn_async_drop_on(&executor, AsyncDropGuard::new(Session));
/// assert!(!cleanup.is_finished()); // nothing ran the executor yet
/// smol::block_on(executor.run(cleanup)).expect("cleaned up");
/// ```
pub fn spawn_async_drop_on<T>(executor: &Executor<'_>, guard: AsyncDropGuard<T>) -> CleanupHandle<T>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    let (task, handle) = detached(guard);
    executor.spawn(Marked { inner: task }).detach();
    handle
}

/// A guarded value whose `Drop` spawns its cleanup on smol, instead of reporting it
/// as forgotten.
///
/// For values whose cleanup may run after their owner is gone: connections in a
/// cache, sessions of a request handler that may be cancelled. It dereferences to
/// the value. To clean up in place after all, take the guard back with
/// [`into_guard`](Self::into_guard) and `.async_drop().await` it; to get a handle on
/// the background cleanup, use [`spawn`](Self::spawn).
///
/// Requires the `smol` feature (`asyncdrop = { version = "0.1", features =
/// ["smol"] }`). Made with [`new`](Self::new), it uses smol's global executor; with
/// [`with_executor`](Self::with_executor), an [`Executor`] of yours.
///
/// # Drop behaviour
///
/// Dropping it spawns the cleanup, detached, on its executor, from any thread; the
/// drop itself never blocks. The cleanup's error or panic is reported through the
/// [`Policy`](crate::Policy) as [`ReportKind::Failed`](crate::ReportKind::Failed) /
/// [`ReportKind::Panicked`](crate::ReportKind::Panicked). An executor of yours dropped before
/// the cleanup finished makes it report
/// [`ReportKind::Cancelled`](crate::ReportKind::Cancelled); on smol's global executor, a
/// cleanup still running when the process exits is lost (see
/// [`spawn_async_drop`]).
///
/// # Examples
///
/// ```
/// use asyncdrop::rt::smol::SpawnOnDrop;
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
///
/// struct Conn {
///     peer: &'static str,
/// }
/// impl AsyncDrop for Conn {
///     type Error = std::io::Error;
///     async fn async_drop_impl(self) -> std::io::Result<()> {
///         smol::future::yield_now().await; // say goodbye, shut down
///         Ok(())
///     }
/// }
///
/// smol::block_on(async {
///     let conn = SpawnOnDrop::new(AsyncDropGuard::new(Conn { peer: "db" }));
///     assert_eq!(conn.peer, "db");
///     drop(conn); // the cleanup runs as a task on smol's global executor
/// });
/// ```
pub struct SpawnOnDrop<T>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    /// `None` only after `into_guard`/`spawn` or inside `drop`.
    guard: Held<T>,
    spawner: Spawner,
}

impl<T> SpawnOnDrop<T>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    /// Wraps `guard`; dropping the wrapper spawns the cleanup on smol's global
    /// executor.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::rt::smol::SpawnOnDrop;
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    ///
    /// struct Conn;
    /// impl AsyncDrop for Conn {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// let conn = SpawnOnDrop::new(AsyncDropGuard::new(Conn));
    /// assert!(SpawnOnDrop::executor(&conn).is_none()); // the global one
    /// drop(conn); // no task needed to drop it
    /// ```
    pub fn new(guard: AsyncDropGuard<T>) -> Self {
        SpawnOnDrop {
            guard: Held::new(guard),
            spawner: Spawner::Global,
        }
    }

    /// Wraps `guard`; dropping the wrapper spawns the cleanup on `executor` (whose
    /// `Arc` it keeps until then).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use asyncdrop::rt::smol::SpawnOnDrop;
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    ///
    /// struct Conn;
    /// impl AsyncDrop for Conn {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// let executor = Arc::new(smol::Executor::new());
    /// let conn = SpawnOnDrop::with_executor(AsyncDropGuard::new(Conn), executor.clone());
    /// drop(conn); // spawned; it runs when the executor runs
    /// while executor.try_tick() {}
    /// ```
    pub fn with_executor(guard: AsyncDropGuard<T>, executor: Arc<Executor<'static>>) -> Self {
        SpawnOnDrop {
            guard: Held::new(guard),
            spawner: Spawner::Executor(executor),
        }
    }

    /// The executor the cleanup will be spawned on: `None` for smol's global
    /// executor.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use asyncdrop::rt::smol::SpawnOnDrop;
    /// use asyncdrop::AsyncDropGuard;
    /// # use asyncdrop::AsyncDrop;
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = std::io::Error;
    /// #     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// # }
    ///
    /// let executor = Arc::new(smol::Executor::new());
    /// let mine = SpawnOnDrop::with_executor(AsyncDropGuard::new(Conn), executor.clone());
    /// assert!(Arc::ptr_eq(SpawnOnDrop::executor(&mine).unwrap(), &executor));
    /// let global = SpawnOnDrop::new(AsyncDropGuard::new(Conn));
    /// assert!(SpawnOnDrop::executor(&global).is_none());
    ///
    /// smol::block_on(executor.run(SpawnOnDrop::spawn(mine)))?;
    /// smol::block_on(SpawnOnDrop::spawn(global))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn executor(this: &Self) -> Option<&Arc<Executor<'static>>> {
        this.spawner.executor()
    }

    /// Takes the guard back out, **without** any cleanup: back to the explicit path,
    /// where the owner calls [`AsyncDropGuard::async_drop`].
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::rt::smol::SpawnOnDrop;
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    ///
    /// struct Conn;
    /// impl AsyncDrop for Conn {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// smol::block_on(async {
    ///     let conn = SpawnOnDrop::new(AsyncDropGuard::new(Conn));
    ///     SpawnOnDrop::into_guard(conn).async_drop().await // cleaned up right here
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_guard(mut this: Self) -> AsyncDropGuard<T> {
        this.guard.take()
    }

    /// Spawns the cleanup now, on its executor, and returns a handle to wait for it.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::rt::smol::SpawnOnDrop;
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    ///
    /// struct Conn;
    /// impl AsyncDrop for Conn {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// smol::block_on(async {
    ///     let conn = SpawnOnDrop::new(AsyncDropGuard::new(Conn));
    ///     let cleanup = SpawnOnDrop::spawn(conn);
    ///     cleanup.await.expect("cleaned up");
    /// });
    /// ```
    pub fn spawn(mut this: Self) -> CleanupHandle<T> {
        let spawner = this.spawner.clone();
        let guard = this.guard.take();
        spawner.spawn_cleanup(guard)
    }
}

impl<T> Deref for SpawnOnDrop<T>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    type Target = T;

    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for SpawnOnDrop<T>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T> fmt::Debug for SpawnOnDrop<T>
where
    T: AsyncDrop + fmt::Debug + 'static,
    T::Error: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpawnOnDrop")
            .field("value", &**self.guard)
            .field("executor", &self.spawner)
            .finish()
    }
}

impl<T> Drop for SpawnOnDrop<T>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    fn drop(&mut self) {
        if let Some(guard) = self.guard.take_for_drop() {
            self.spawner.clean_up_detached(guard);
        }
    }
}
